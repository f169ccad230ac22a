//! The write path: a cache of recent aggregate states and group commit.
//!
//! # State cache
//! After a command commits, the aggregate's new state, its version and the hash of its last
//! event are kept in memory ([`StateCache`], bounded, least recently used out first). The next
//! command on that aggregate starts from the cached state instead of reading and applying every
//! stored event. The cache is never trusted blindly: the events a command produces are inserted
//! with the sequences that follow the cached version, so if another process (or a clone of the
//! store that bypassed this cache) appended meanwhile, the insert meets the primary key of
//! `(aggregate_type, aggregate_id, sequence)`, nothing of the command is stored, the entry is
//! dropped and the command is decided again on a state read from the database. A stale cache can
//! therefore cost a retry, never a wrong decision. The chain's `prev_hash` comes from the cached
//! last hash, which is exactly the stored hash of the event the insert follows (same argument).
//!
//! # Group commit
//! Commands that are ready to append at the same moment share one database transaction: the
//! first to arrive becomes the leader and spawns a task that takes every queued append (up to
//! [`MAX_BATCH`]), inserts them in one transaction and commits once (one fsync, and on PostgreSQL
//! one hold of the commit-order advisory lock for the whole batch), then answers each. While it
//! commits, newer appends queue up and form the next batch. Each append keeps its own optimistic
//! concurrency: its rows are inserted with `ON CONFLICT DO NOTHING`, and an append whose first
//! row is refused is answered "conflict" while the others commit (an append of several rows runs
//! inside a savepoint, rolled back if any later row is refused). No append is answered before its
//! transaction has committed; if the commit fails, every append of the batch is answered with the
//! error (the outcome is unknown, as for any failed commit). If the batch fails for another
//! reason (say one append's value is refused by the database), each append of it is tried again
//! alone, so that one bad append cannot fail the others. The batch runs in its own task, so a
//! caller that goes away (an HTTP client closing its connection) cannot cut a transaction short.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::SerializedEvent;
use sqlx::{PgPool, SqlitePool};

use crate::error::StoreError;
use crate::repository::Backend;

/// How many appends one transaction takes at most.
pub(crate) const MAX_BATCH: usize = 256;

/// How many aggregate states the cache keeps.
pub(crate) const CACHE_CAPACITY: usize = 4096;

/// A cached state: the aggregate, its version and the hash of its last event.
pub(crate) struct CachedState<A> {
    pub aggregate: A,
    pub version: usize,
    pub last_hash: String,
}

struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    version: usize,
    used: u64,
}

/// Recent aggregate states by (aggregate type, id). See the module documentation.
#[derive(Default)]
pub(crate) struct StateCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<(&'static str, String), Entry>,
    clock: u64,
}

impl StateCache {
    /// The cached state of one aggregate, cloned.
    pub fn get<A: Clone + Send + Sync + 'static>(
        &self,
        aggregate_type: &'static str,
        id: &str,
    ) -> Option<CachedState<A>> {
        let mut inner = self.inner.lock().expect("state cache lock");
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(&(aggregate_type, id.to_string()))?;
        entry.used = now;
        let state = entry.value.downcast_ref::<CachedState<A>>()?;
        Some(CachedState {
            aggregate: state.aggregate.clone(),
            version: state.version,
            last_hash: state.last_hash.clone(),
        })
    }

    /// Keeps `state` unless a state of a higher version is already cached.
    pub fn put<A: Send + Sync + 'static>(
        &self,
        aggregate_type: &'static str,
        id: &str,
        state: CachedState<A>,
    ) {
        let mut inner = self.inner.lock().expect("state cache lock");
        inner.clock += 1;
        let now = inner.clock;
        let key = (aggregate_type, id.to_string());
        if inner
            .entries
            .get(&key)
            .is_some_and(|e| e.version > state.version)
        {
            return;
        }
        let version = state.version;
        inner.entries.insert(
            key,
            Entry {
                value: Arc::new(state),
                version,
                used: now,
            },
        );
        if inner.entries.len() > CACHE_CAPACITY {
            // Drop the least recently used quarter in one pass (amortised O(1) per insert).
            let mut ages: Vec<u64> = inner.entries.values().map(|e| e.used).collect();
            let cut = ages.len() / 4;
            let (_, threshold, _) = ages.select_nth_unstable(cut);
            let threshold = *threshold;
            inner.entries.retain(|_, e| e.used > threshold);
        }
    }

    /// Forgets one aggregate's state.
    pub fn remove(&self, aggregate_type: &'static str, id: &str) {
        let mut inner = self.inner.lock().expect("state cache lock");
        inner.entries.remove(&(aggregate_type, id.to_string()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().entries.len()
    }
}

/// How an append ended.
#[derive(Debug)]
pub(crate) enum Appended {
    /// Committed; the global position of its last row.
    Committed(i64),
    /// Another append took the first sequence first; nothing of this one is stored.
    Conflict,
}

struct Job {
    rows: Vec<SerializedEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Appended, StoreError>>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    leader: bool,
}

/// The group committer of one store. See the module documentation.
pub(crate) struct GroupCommit {
    backend: Backend,
    queue: Mutex<Queue>,
}

impl GroupCommit {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            queue: Mutex::new(Queue::default()),
        }
    }

    /// Appends `rows` (the events of one command, consecutive sequences of one aggregate, already
    /// stamped) in the next shared transaction; answers once that transaction has committed.
    pub async fn append(
        self: &Arc<Self>,
        rows: Vec<SerializedEvent>,
    ) -> Result<Appended, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let lead = {
            let mut queue = self.queue.lock().expect("group commit queue lock");
            queue.jobs.push(Job { rows, reply });
            !std::mem::replace(&mut queue.leader, true)
        };
        if lead {
            let this = self.clone();
            tokio::spawn(async move { this.drain().await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Repository(
                "the commit task stopped before answering (the runtime is shutting down?); the append may or may not have been committed".into(),
            ))
        })
    }

    /// Commits batches until the queue is empty, then gives up leadership.
    async fn drain(self: Arc<Self>) {
        let mut guard = LeaderGuard {
            commit: self.clone(),
            released: false,
        };
        loop {
            let batch = {
                let mut queue = self.queue.lock().expect("group commit queue lock");
                if queue.jobs.is_empty() {
                    queue.leader = false;
                    guard.released = true;
                    return;
                }
                take_batch(&mut queue.jobs)
            };
            self.commit(batch).await;
        }
    }

    async fn commit(&self, batch: Vec<Job>) {
        debug_assert!(!batch.is_empty());
        let rows: Vec<&[SerializedEvent]> = batch.iter().map(|j| j.rows.as_slice()).collect();
        match self.insert(&rows).await {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(error) if batch.len() == 1 => {
                let job = batch.into_iter().next().expect("one job");
                let _ = job.reply.send(Err(error));
            }
            Err(error) => {
                tracing::debug!(%error, appends = batch.len(), "a shared commit failed; trying each append alone");
                for job in batch {
                    let result = self
                        .insert(&[job.rows.as_slice()])
                        .await
                        .map(|mut r| r.pop().expect("one result"));
                    let _ = job.reply.send(result);
                }
            }
        }
    }

    /// One transaction inserting every append of `jobs`; the result of each.
    async fn insert(&self, jobs: &[&[SerializedEvent]]) -> Result<Vec<Appended>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => insert_postgres(pool, jobs).await,
            Backend::Sqlite(pool) => insert_sqlite(pool, jobs).await,
        }
    }
}

/// The next batch: up to [`MAX_BATCH`] queued appends in arrival order, at most one per aggregate
/// (a later append to an aggregate already in the batch waits for the next one, so that within a
/// batch a row's key names its append).
fn take_batch(jobs: &mut Vec<Job>) -> Vec<Job> {
    let mut seen = std::collections::HashSet::new();
    let mut batch = Vec::new();
    let mut rest = Vec::new();
    for job in jobs.drain(..) {
        let key = job
            .rows
            .first()
            .map(|r| (r.aggregate_type.clone(), r.aggregate_id.clone()));
        if batch.len() < MAX_BATCH && seen.insert(key) {
            batch.push(job);
        } else {
            rest.push(job);
        }
    }
    *jobs = rest;
    batch
}

/// Hands leadership on if the draining task ends without releasing it (a panic, or its runtime
/// shutting down): the queued appends get a new leader, or their answers are dropped (the
/// callers then see an error) when no runtime is left to run one.
struct LeaderGuard {
    commit: Arc<GroupCommit>,
    released: bool,
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let Ok(mut queue) = self.commit.queue.lock() else {
            return;
        };
        if queue.jobs.is_empty() {
            queue.leader = false;
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let commit = self.commit.clone();
                drop(queue);
                handle.spawn(async move { commit.drain().await });
            }
            Err(_) => {
                queue.jobs.clear();
                queue.leader = false;
            }
        }
    }
}

const INSERT_POSTGRES: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (aggregate_type, aggregate_id, sequence) DO NOTHING RETURNING global_position";

/// Every row of a batch in one statement, in the batch's order (`WITH ORDINALITY … ORDER BY`, so
/// positions follow sequences within an append). JSON travels as `jsonb`, as the one-row insert
/// binds it. The rows refused by the key are simply not returned.
const INSERT_MANY_POSTGRES: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
     SELECT t.aggregate_type, t.aggregate_id, t.sequence, t.event_type, t.event_version, t.payload, t.metadata \
     FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[]) \
       WITH ORDINALITY AS t(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, ord) \
     ORDER BY t.ord \
     ON CONFLICT (aggregate_type, aggregate_id, sequence) DO NOTHING \
     RETURNING aggregate_type, aggregate_id, sequence, global_position";

/// A batch on PostgreSQL: one INSERT of every row (one round trip whatever the batch's size),
/// then one commit. An append is committed when all its rows came back, refused when none did;
/// an append with only some (another process appended fewer events at the same sequences) makes
/// the batch start again append by append, each in a savepoint.
async fn insert_postgres(
    pool: &PgPool,
    jobs: &[&[SerializedEvent]],
) -> Result<Vec<Appended>, StoreError> {
    let what = "appending events";
    let rows = || jobs.iter().flat_map(|rows| rows.iter());
    let mut tx = pool.begin().await.map_err(StoreError::db(what))?;
    let returned: Vec<(String, String, i64, i64)> = sqlx::query_as(INSERT_MANY_POSTGRES)
        .bind(
            rows()
                .map(|r| r.aggregate_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows().map(|r| r.aggregate_id.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.sequence as i64).collect::<Vec<_>>())
        .bind(rows().map(|r| r.event_type.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.event_version.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| &r.payload).collect::<Vec<_>>())
        .bind(rows().map(|r| &r.metadata).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db(what))?;
    let inserted: HashMap<(&str, &str, i64), i64> = returned
        .iter()
        .map(|(t, id, seq, pos)| ((t.as_str(), id.as_str(), *seq), *pos))
        .collect();
    let mut results = Vec::with_capacity(jobs.len());
    for rows in jobs {
        let positions: Vec<i64> = rows
            .iter()
            .filter_map(|r| {
                inserted
                    .get(&(
                        r.aggregate_type.as_str(),
                        r.aggregate_id.as_str(),
                        r.sequence as i64,
                    ))
                    .copied()
            })
            .collect();
        if positions.is_empty() {
            results.push(Appended::Conflict);
        } else if positions.len() == rows.len() {
            results.push(Appended::Committed(
                positions.into_iter().max().expect("one position"),
            ));
        } else {
            tx.rollback().await.map_err(StoreError::db(what))?;
            return insert_postgres_each(pool, jobs).await;
        }
    }
    tx.commit().await.map_err(StoreError::db(what))?;
    Ok(results)
}

/// A batch on PostgreSQL append by append, each append of several rows in a savepoint.
async fn insert_postgres_each(
    pool: &PgPool,
    jobs: &[&[SerializedEvent]],
) -> Result<Vec<Appended>, StoreError> {
    let what = "appending events";
    let mut tx = pool.begin().await.map_err(StoreError::db(what))?;
    let mut results = Vec::with_capacity(jobs.len());
    for rows in jobs {
        if rows.len() == 1 {
            let position = insert_row_postgres(&mut tx, &rows[0]).await?;
            results.push(position.map_or(Appended::Conflict, Appended::Committed));
            continue;
        }
        let mut savepoint = sqlx::Acquire::begin(&mut *tx)
            .await
            .map_err(StoreError::db(what))?;
        let mut last = None;
        for row in rows.iter() {
            last = insert_row_postgres(&mut savepoint, row).await?;
            if last.is_none() {
                break;
            }
        }
        match last {
            Some(position) => {
                savepoint.commit().await.map_err(StoreError::db(what))?;
                results.push(Appended::Committed(position));
            }
            None => {
                savepoint.rollback().await.map_err(StoreError::db(what))?;
                results.push(Appended::Conflict);
            }
        }
    }
    tx.commit().await.map_err(StoreError::db(what))?;
    Ok(results)
}

async fn insert_row_postgres(
    conn: &mut sqlx::PgConnection,
    row: &SerializedEvent,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(INSERT_POSTGRES)
        .bind(&row.aggregate_type)
        .bind(&row.aggregate_id)
        .bind(row.sequence as i64)
        .bind(&row.event_type)
        .bind(&row.event_version)
        .bind(&row.payload)
        .bind(&row.metadata)
        .fetch_optional(conn)
        .await
        .map_err(StoreError::db("appending events"))
}

const INSERT_SQLITE: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
     VALUES (?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (aggregate_type, aggregate_id, sequence) DO NOTHING RETURNING rowid";

async fn insert_sqlite(
    pool: &SqlitePool,
    jobs: &[&[SerializedEvent]],
) -> Result<Vec<Appended>, StoreError> {
    let what = "appending events";
    // BEGIN IMMEDIATE takes the write lock at once (a deferred transaction that reads first can
    // fail to upgrade under concurrency instead of waiting for the busy timeout).
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::db(what))?;
    let mut results = Vec::with_capacity(jobs.len());
    for rows in jobs {
        let mut savepoint = sqlx::Acquire::begin(&mut *tx)
            .await
            .map_err(StoreError::db(what))?;
        let mut conflict = false;
        for row in rows.iter() {
            let rowid: Option<i64> = sqlx::query_scalar(INSERT_SQLITE)
                .bind(&row.aggregate_type)
                .bind(&row.aggregate_id)
                .bind(row.sequence as i64)
                .bind(&row.event_type)
                .bind(&row.event_version)
                .bind(row.payload.to_string())
                .bind(row.metadata.to_string())
                .fetch_optional(&mut *savepoint)
                .await
                .map_err(StoreError::db(what))?;
            if rowid.is_none() {
                conflict = true;
                break;
            }
        }
        if conflict {
            savepoint.rollback().await.map_err(StoreError::db(what))?;
            results.push(Appended::Conflict);
            continue;
        }
        // The AFTER INSERT trigger numbered the rows from the counter: its value is the
        // position of this append's last row.
        let position: i64 =
            sqlx::query_scalar("SELECT last_position FROM event_position_counter WHERE id = 1")
                .fetch_one(&mut *savepoint)
                .await
                .map_err(StoreError::db(what))?;
        savepoint.commit().await.map_err(StoreError::db(what))?;
        results.push(Appended::Committed(position));
    }
    tx.commit().await.map_err(StoreError::db(what))?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_newest_version_and_stays_bounded() {
        let cache = StateCache::default();
        let state = |v: usize| CachedState {
            aggregate: v as u64,
            version: v,
            last_hash: format!("h{v}"),
        };
        cache.put("t", "a", state(3));
        cache.put("t", "a", state(2));
        let got = cache.get::<u64>("t", "a").unwrap();
        assert_eq!(
            (got.aggregate, got.version, got.last_hash.as_str()),
            (3, 3, "h3")
        );
        // A wrong type is a miss, not a panic.
        assert!(cache.get::<String>("t", "a").is_none());
        cache.remove("t", "a");
        assert!(cache.get::<u64>("t", "a").is_none());
        for i in 0..(CACHE_CAPACITY * 3) {
            cache.put("t", &i.to_string(), state(1));
        }
        assert!(cache.len() <= CACHE_CAPACITY, "{} entries", cache.len());
        // The most recent ones survive.
        assert!(cache
            .get::<u64>("t", &(CACHE_CAPACITY * 3 - 1).to_string())
            .is_some());
    }
}
