//! The projection runtime: read models kept as SQL tables in the database of the events, caught
//! up by global position, rebuilt blue/green.
//!
//! Main types: [`SqlProjection`] (what a read model implements: its name, code version, tables
//! and how it applies a batch of events), [`Runtime`] (prepares, catches up, swaps, reports
//! status, waits for a position) and [`ProjectionStatus`].
//!
//! # How it holds
//! * **Exactly once.** A batch is applied and the slot's `position` in `projection_checkpoints`
//!   advanced in one transaction. The transaction first locks the checkpoint row (PostgreSQL
//!   `SELECT … FOR UPDATE`; SQLite `BEGIN IMMEDIATE`, the database write lock), then reads the
//!   position: a second runner (another server process) waits for the first to commit and then
//!   continues from the position it left. A crash at any instant rolls back the batch and the
//!   position together.
//! * **No gaps.** Events are read by `Store::read_all`, in commit order.
//! * **Blue/green.** Every projection has two slots of tables (`_a`, `_b`); the checkpoint row
//!   with `live = 1` names the slot readers use. A rebuild (or a new code version) fills the
//!   other slot from position 0 while the live one keeps serving and advancing; once the shadow
//!   is caught up to at least the live position, one transaction that holds both rows flips
//!   `live`. Readers never see an empty or half-built table. The old slot's
//!   tables stay until the next rebuild replaces them.
//! * **Woken by commits.** In-process commits wake the runner through
//!   `Store::subscribe_commits`; PostgreSQL commits of other processes through
//!   `LISTEN subsidy_events` (a statement trigger on `events`); both backends also poll every
//!   half second.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use store::{Store, StoredEvent};

use crate::sql::{Arg, Db, Tx, Val};
use crate::ProjectionError;

/// How many events one transaction applies.
pub const BATCH: i64 = 500;

/// How often a runner looks for new events when nothing woke it.
pub const POLL: Duration = Duration::from_millis(500);

/// A read model kept in SQL tables.
#[async_trait]
pub trait SqlProjection: Send + Sync + 'static {
    /// Stable name, e.g. `projects`.
    fn name(&self) -> &'static str;
    /// The version of the code that fills the tables. Changing what the tables hold, or their
    /// shape, needs a new version: the runtime then rebuilds in the other slot.
    fn version(&self) -> i64;
    /// Statements that create the tables (and indexes) of `slot`.
    fn create(&self, slot: &str) -> Vec<String>;
    /// The tables of `slot`, to drop before they are created again.
    fn tables(&self, slot: &str) -> Vec<String>;
    /// Applies `events` (in position order, any aggregate type) to the tables of `slot`.
    async fn apply(
        &self,
        tx: &mut Tx,
        slot: &str,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError>;
    /// Brings `slot` up to date with outside data the projection derives with (the deadlines'
    /// calendar, extended at run time) without any new event; returns the rows rewritten.
    /// Called under the slot's checkpoint lock ([`Runtime::refresh`]).
    async fn refresh(&self, _tx: &mut Tx, _slot: &str) -> Result<usize, ProjectionError> {
        Ok(0)
    }
}

/// Where one slot of one projection stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    pub slot: String,
    pub live: bool,
    /// Version of the code that built the slot.
    pub version: i64,
    /// Version of the code running now.
    pub code_version: i64,
    pub position: i64,
    /// The last committed position of the store.
    pub head: i64,
    /// Events committed and not yet applied.
    pub lag_events: i64,
    /// Age of the oldest event not yet applied, in seconds (0 when caught up).
    pub lag_seconds: f64,
    /// Rows of the projection's main table.
    pub rows: i64,
    pub updated_at: String,
}

/// A test hook: where a runner stops as if the process had died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// After applying a batch, before committing it.
    BeforeCommit,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The slot had no row (it was swapped out or never prepared).
    Gone,
    /// Nothing new.
    Idle { position: i64 },
    /// Applied events up to `position`.
    Applied { events: usize, position: i64 },
}

/// Runs a set of projections over one store.
pub struct Runtime {
    db: Db,
    /// Where readers read the live tables: the primary, or a streaming replica of it.
    read: Db,
    store: Store,
    projections: Vec<Arc<dyn SqlProjection>>,
    progress: tokio::sync::watch::Sender<u64>,
    fault: std::sync::Mutex<Option<Fault>>,
}

impl Runtime {
    pub fn new(store: &Store, projections: Vec<Arc<dyn SqlProjection>>) -> Self {
        Self {
            db: Db::of(store),
            read: Db::of(store),
            store: store.clone(),
            projections,
            progress: tokio::sync::watch::channel(0).0,
            fault: std::sync::Mutex::new(None),
        }
    }

    /// The runtime of every read model the product has: the project list and fund ledger,
    /// the deadlines (which need the programme definitions and the calendar) and the facts of
    /// the annex tables.
    pub fn standard(
        store: &Store,
        programmes: &workflows::programme::ProgrammeRegistry,
        calendar: impl Into<workflows::calendar::SharedCalendar>,
    ) -> Self {
        Self::new(
            store,
            vec![
                Arc::new(crate::projects::ProjectsProjection) as Arc<dyn SqlProjection>,
                Arc::new(crate::deadlines::DeadlinesProjection::new(
                    Arc::new(programmes.clone()),
                    calendar,
                )),
                Arc::new(crate::annex::AnnexProjection),
            ],
        )
    }

    /// The same runtime, whose readers ([`Runtime::reader`], [`Runtime::live`],
    /// [`Runtime::wait_for`]) use `read`, e.g. a PostgreSQL streaming replica of the primary.
    /// The runner still writes on the primary; the checkpoint rows replicate with the tables
    /// they describe, so a reader that waits for a position on the replica sees the tables as
    /// of at least that position there.
    pub fn with_reader(mut self, read: Db) -> Self {
        self.read = read;
        self
    }

    /// The database the runner writes (the primary).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The database readers read (the primary unless [`Runtime::with_reader`] gave a replica).
    pub fn reader(&self) -> &Db {
        &self.read
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.projections.iter().map(|p| p.name()).collect()
    }

    /// Arms a fault for the next step (tests only).
    pub fn inject_fault(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = Some(fault);
    }

    fn projection(&self, name: &str) -> Result<&Arc<dyn SqlProjection>, ProjectionError> {
        self.projections
            .iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProjectionError::UnknownProjection {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    async fn begin_write(&self) -> Result<Tx, ProjectionError> {
        match &self.db {
            // BEGIN IMMEDIATE takes the database write lock now, so that two runners never both
            // read the same checkpoint position.
            Db::Sqlite(pool) => Ok(Tx::Sqlite(
                pool.begin_with("BEGIN IMMEDIATE").await.map_err(|source| {
                    ProjectionError::Store(store::StoreError::Database {
                        action: "beginning a projection transaction",
                        source,
                    })
                })?,
            )),
            Db::Postgres(_) => self.db.begin().await,
        }
    }

    fn for_update(&self) -> &'static str {
        if self.db.is_postgres() {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    /// Creates what is missing: the live slot of a projection seen for the first time, a
    /// shadow slot for a projection whose code version changed. Returns what it did, one line
    /// each, for the log.
    pub async fn prepare(&self) -> Result<Vec<String>, ProjectionError> {
        let mut done = Vec::new();
        for p in &self.projections {
            let mut tx = self.begin_write().await?;
            if self.db.is_postgres() {
                // Two processes starting at once must not both create the tables.
                tx.execute("SELECT pg_advisory_xact_lock(7301960470210518)", &[])
                    .await?;
            }
            let rows = slots(&mut tx, p.name(), self.for_update()).await?;
            let live = rows.iter().find(|r| r.live);
            let shadow = rows.iter().find(|r| !r.live);
            match (live, shadow) {
                (None, _) => {
                    for slot in ["a", "b"] {
                        drop_tables(&mut tx, p.as_ref(), slot).await?;
                    }
                    tx.execute(
                        "DELETE FROM projection_checkpoints WHERE name = ?",
                        &[p.name().into()],
                    )
                    .await?;
                    create_slot(&mut tx, p.as_ref(), "a", true).await?;
                    done.push(format!("{}: created (version {})", p.name(), p.version()));
                }
                (Some(live), shadow)
                    if live.version != p.version()
                        && shadow.is_none_or(|s| s.version != p.version()) =>
                {
                    let other = other_slot(&live.slot);
                    tx.execute(
                        "DELETE FROM projection_checkpoints WHERE name = ? AND slot = ?",
                        &[p.name().into(), other.into()],
                    )
                    .await?;
                    drop_tables(&mut tx, p.as_ref(), other).await?;
                    create_slot(&mut tx, p.as_ref(), other, false).await?;
                    done.push(format!(
                        "{}: version {} serves while version {} is built in slot {other}",
                        p.name(),
                        live.version,
                        p.version()
                    ));
                }
                _ => {}
            }
            tx.commit().await?;
        }
        Ok(done)
    }

    /// Applies the next batch of events to one slot, in one transaction.
    ///
    /// The events are read before the checkpoint row is locked: a runner must never wait for a
    /// second pool connection while it holds the SQLite write lock, because the commands
    /// waiting for that lock may hold every connection of the pool. Under the lock it checks
    /// the position again and applies only what no other runner has applied meanwhile.
    pub async fn step(&self, name: &str, slot: &str) -> Result<Step, ProjectionError> {
        let p = self.projection(name)?.clone();
        let Some(seen) = self.position(name, slot).await? else {
            return Ok(Step::Gone);
        };
        let events = self.store.read_all(seen, BATCH).await?;
        if events.is_empty() {
            return Ok(Step::Idle { position: seen });
        }
        let mut tx = self.begin_write().await?;
        let rows = tx
            .fetch_all(
                &format!(
                    "SELECT position FROM projection_checkpoints WHERE name = ? AND slot = ?{}",
                    self.for_update()
                ),
                &[name.into(), slot.into()],
            )
            .await?;
        let Some(position) = rows.first().map(|r| r[0].i64()) else {
            tx.rollback().await?;
            return Ok(Step::Gone);
        };
        // Events are contiguous in position order from `seen`: what is left after `position`
        // is exactly the continuation.
        let fresh: Vec<StoredEvent> = events
            .into_iter()
            .filter(|e| e.global_position > position)
            .collect();
        let Some(last) = fresh.last().map(|e| e.global_position) else {
            tx.rollback().await?;
            // Another runner got further than this batch: go round again.
            return Ok(Step::Applied {
                events: 0,
                position,
            });
        };
        p.apply(&mut tx, slot, &fresh).await?;
        tx.execute(
            "UPDATE projection_checkpoints SET position = ?, updated_at = ? WHERE name = ? AND slot = ?",
            &[last.into(), now().into(), name.into(), slot.into()],
        )
        .await?;
        if let Some(fault) = self.fault.lock().expect("fault lock").take() {
            // As if the process died here: the transaction is dropped, never committed.
            drop(tx);
            return Err(ProjectionError::Fault(fault));
        }
        tx.commit().await?;
        self.progress.send_modify(|n| *n += 1);
        Ok(Step::Applied {
            events: fresh.len(),
            position: last,
        })
    }

    /// The position of one slot, if it has a row.
    async fn position(&self, name: &str, slot: &str) -> Result<Option<i64>, ProjectionError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT position FROM projection_checkpoints WHERE name = ? AND slot = ?",
                &[name.into(), slot.into()],
            )
            .await?;
        Ok(rows.first().map(|r| r[0].i64()))
    }

    /// Runs every projection's [`SqlProjection::refresh`] on each of its slots, each in one
    /// transaction holding the slot's checkpoint lock (so that it never interleaves with a
    /// batch being applied). Returns the rows rewritten.
    pub async fn refresh(&self) -> Result<usize, ProjectionError> {
        let mut rewritten = 0;
        for p in self.projections.clone() {
            let rows = {
                let mut tx = self.db.begin().await?;
                let rows = slots(&mut tx, p.name(), "").await?;
                tx.rollback().await?;
                rows
            };
            for row in rows {
                let mut tx = self.begin_write().await?;
                let locked = tx
                    .fetch_all(
                        &format!(
                            "SELECT position FROM projection_checkpoints WHERE name = ? AND slot = ?{}",
                            self.for_update()
                        ),
                        &[p.name().into(), row.slot.clone().into()],
                    )
                    .await?;
                if locked.is_empty() {
                    tx.rollback().await?;
                    continue;
                }
                rewritten += p.refresh(&mut tx, &row.slot).await?;
                tx.commit().await?;
            }
        }
        if rewritten > 0 {
            self.progress.send_modify(|n| *n += 1);
        }
        Ok(rewritten)
    }

    /// Catches up every slot of every projection and swaps in shadows that are caught up.
    /// Returns the number of events applied.
    pub async fn catch_up(&self) -> Result<usize, ProjectionError> {
        let mut applied = 0;
        for p in self.projections.clone() {
            let rows = {
                let mut tx = self.db.begin().await?;
                let rows = slots(&mut tx, p.name(), "").await?;
                tx.rollback().await?;
                rows
            };
            for row in &rows {
                while let Step::Applied { events, .. } = self.step(p.name(), &row.slot).await? {
                    applied += events;
                }
            }
            if rows.iter().any(|r| !r.live && r.version == p.version()) {
                self.swap(p.name()).await?;
            }
        }
        Ok(applied)
    }

    /// Makes a caught-up shadow slot live, in one transaction holding both checkpoint rows.
    /// The shadow is caught up first (outside the lock), then, under the lock, brought to at
    /// least the live slot's position, so that readers never go back in time. Returns whether
    /// it swapped.
    pub async fn swap(&self, name: &str) -> Result<bool, ProjectionError> {
        let p = self.projection(name)?.clone();
        for _ in 0..10 {
            let rows = {
                let mut tx = self.db.begin().await?;
                let rows = slots(&mut tx, name, "").await?;
                tx.rollback().await?;
                rows
            };
            let Some(shadow) = rows.iter().find(|r| !r.live && r.version == p.version()) else {
                return Ok(false);
            };
            while let Step::Applied { .. } = self.step(name, &shadow.slot).await? {}
            // A rebuilt slot has no statistics yet (PostgreSQL's autovacuum comes later, SQLite
            // never): without them the planner guesses a handful of rows per province and picks
            // plans for that. On PostgreSQL the rebuild's upserts also leave dead row versions
            // and no visibility map, so a count cannot be an index-only scan: VACUUM as well.
            // Both before readers arrive (BENCHMARKS.md, "The project list at a province's scale").
            for table in p.tables(&shadow.slot) {
                let sql = if self.db.is_postgres() {
                    format!("VACUUM (ANALYZE) {table}")
                } else {
                    format!("ANALYZE {table}")
                };
                self.db.execute(&sql, &[]).await?;
            }
            let mut tx = self.begin_write().await?;
            let rows = slots(&mut tx, name, self.for_update()).await?;
            let (Some(live), Some(shadow)) = (
                rows.iter().find(|r| r.live).cloned(),
                rows.iter().find(|r| !r.live).cloned(),
            ) else {
                tx.rollback().await?;
                return Ok(false);
            };
            if shadow.version != p.version() {
                tx.rollback().await?;
                return Ok(false);
            }
            // The live slot cannot move while we hold its row: bring the shadow to at least its
            // position, reading on this transaction's connection (never a second one while the
            // SQLite write lock is held).
            let mut position = shadow.position;
            while position < live.position {
                let events = tx.read_events(position, BATCH).await?;
                let Some(last) = events.last().map(|e| e.global_position) else {
                    break;
                };
                p.apply(&mut tx, &shadow.slot, &events).await?;
                position = last;
            }
            if position < live.position {
                tx.rollback().await?;
                continue;
            }
            tx.execute(
                "UPDATE projection_checkpoints SET live = 1, position = ?, updated_at = ? WHERE name = ? AND slot = ?",
                &[position.into(), now().into(), name.into(), shadow.slot.clone().into()],
            )
            .await?;
            // The old slot stops being maintained; its tables stay until the next rebuild, so
            // that a reader that has just looked up the live slot can still finish its query.
            tx.execute(
                "DELETE FROM projection_checkpoints WHERE name = ? AND slot = ?",
                &[name.into(), live.slot.clone().into()],
            )
            .await?;
            tx.commit().await?;
            self.progress.send_modify(|n| *n += 1);
            tracing::info!(
                projection = name,
                from = %live.slot,
                to = %shadow.slot,
                version = shadow.version,
                position,
                "projection swapped to its rebuilt slot"
            );
            return Ok(true);
        }
        Ok(false)
    }

    /// Starts a rebuild of `name` from position 0 in the slot that is not live, with the
    /// current code version. The live slot keeps serving until [`Runtime::swap`].
    pub async fn start_rebuild(&self, name: &str) -> Result<String, ProjectionError> {
        let p = self.projection(name)?.clone();
        let mut tx = self.begin_write().await?;
        let rows = slots(&mut tx, name, self.for_update()).await?;
        let Some(live) = rows.iter().find(|r| r.live) else {
            // Never built: build it live.
            for slot in ["a", "b"] {
                drop_tables(&mut tx, p.as_ref(), slot).await?;
            }
            tx.execute(
                "DELETE FROM projection_checkpoints WHERE name = ?",
                &[name.into()],
            )
            .await?;
            create_slot(&mut tx, p.as_ref(), "a", true).await?;
            tx.commit().await?;
            return Ok("a".to_string());
        };
        let other = other_slot(&live.slot);
        tx.execute(
            "DELETE FROM projection_checkpoints WHERE name = ? AND slot = ?",
            &[name.into(), other.into()],
        )
        .await?;
        drop_tables(&mut tx, p.as_ref(), other).await?;
        create_slot(&mut tx, p.as_ref(), other, false).await?;
        tx.commit().await?;
        Ok(other.to_string())
    }

    /// Rebuilds `name` from zero while the live slot keeps serving, then swaps. `progress` is
    /// called after each batch with (position reached, head).
    pub async fn rebuild(
        &self,
        name: &str,
        mut progress: impl FnMut(i64, i64),
    ) -> Result<(), ProjectionError> {
        let slot = self.start_rebuild(name).await?;
        loop {
            let head = self.store.last_position().await?;
            match self.step(name, &slot).await? {
                Step::Applied { position, .. } => progress(position, head),
                Step::Idle { position } => {
                    progress(position, head);
                    break;
                }
                Step::Gone => break,
            }
        }
        self.swap(name).await?;
        Ok(())
    }

    /// The live slot of `name` and its position, if the projection was ever built.
    pub async fn live(&self, name: &str) -> Result<Option<(String, i64)>, ProjectionError> {
        let rows = self
            .read
            .fetch_all(
                "SELECT slot, position FROM projection_checkpoints WHERE name = ? AND live = 1",
                &[name.into()],
            )
            .await?;
        Ok(rows.first().map(|r| (r[0].text(), r[1].i64())))
    }

    /// Waits until the live slot of `name` has applied `position` (read-your-writes), at most
    /// `timeout`. Returns the live slot and position reached, and whether it got there.
    pub async fn wait_for(
        &self,
        name: &str,
        position: i64,
        timeout: Duration,
    ) -> Result<(String, i64, bool), ProjectionError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut progress = self.progress.subscribe();
        loop {
            let (slot, reached) = self.live(name).await?.unwrap_or(("a".to_string(), 0));
            if reached >= position {
                return Ok((slot, reached, true));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok((slot, reached, false));
            }
            // Woken by this process's runner; another process's runner is seen by polling.
            let _ = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(25)),
                progress.changed(),
            )
            .await;
        }
    }

    /// Every row of every table of the live slot of `name`, table by table, ordered by the
    /// first two columns (which hold each table's key): for comparing a live projection with a
    /// rebuild.
    pub async fn dump(&self, name: &str) -> Result<Vec<Vec<Vec<Val>>>, ProjectionError> {
        let p = self.projection(name)?.clone();
        let Some((slot, _)) = self.live(name).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for table in p.tables(&slot) {
            out.push(
                self.db
                    .fetch_all(&format!("SELECT * FROM {table} ORDER BY 1, 2"), &[])
                    .await?,
            );
        }
        Ok(out)
    }

    /// Every slot of every projection: version, position, lag, rows.
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>, ProjectionError> {
        let head = self.store.last_position().await?;
        let mut out = Vec::new();
        for p in &self.projections {
            let rows = {
                let mut tx = self.db.begin().await?;
                let rows = slots(&mut tx, p.name(), "").await?;
                tx.rollback().await?;
                rows
            };
            for r in rows {
                let lag_events = self
                    .db
                    .fetch_all(
                        "SELECT COUNT(*) FROM events WHERE global_position > ?",
                        &[r.position.into()],
                    )
                    .await?
                    .first()
                    .map(|row| row[0].i64())
                    .unwrap_or(0);
                let lag_seconds = match self.store.read_all(r.position, 1).await?.first() {
                    Some(e) => {
                        ((Utc::now() - e.recorded_at).num_milliseconds().max(0) as f64) / 1000.0
                    }
                    None => 0.0,
                };
                let table = p.tables(&r.slot).into_iter().next().unwrap_or_default();
                let count = self
                    .db
                    .fetch_all(&format!("SELECT COUNT(*) FROM {table}"), &[])
                    .await?
                    .first()
                    .map(|row| row[0].i64())
                    .unwrap_or(0);
                out.push(ProjectionStatus {
                    name: p.name().to_string(),
                    slot: r.slot.clone(),
                    live: r.live,
                    version: r.version,
                    code_version: p.version(),
                    position: r.position,
                    head,
                    lag_events,
                    lag_seconds,
                    rows: count,
                    updated_at: r.updated_at.clone(),
                });
            }
        }
        Ok(out)
    }

    /// Keeps every projection caught up until `shutdown` resolves: woken by this process's
    /// commits, by PostgreSQL notifications of other processes' commits, and every [`POLL`].
    /// Errors (the database down) are logged and retried on the next wake.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut commits = self.store.subscribe_commits();
        let mut listener = match &self.db {
            Db::Postgres(pool) => match sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(mut l) => match l.listen("subsidy_events").await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!("projections: LISTEN failed, polling only: {e}");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!("projections: LISTEN failed, polling only: {e}");
                    None
                }
            },
            Db::Sqlite(_) => None,
        };
        let mut failing = false;
        loop {
            match self.catch_up().await {
                Ok(n) => {
                    if failing {
                        tracing::info!("projections: caught up again");
                        failing = false;
                    }
                    if n > 0 {
                        tracing::debug!(events = n, "projections caught up");
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!("projections: catch-up failed, retrying: {e}");
                    }
                    failing = true;
                }
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = l.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = commits.changed() => {}
                _ = notified => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

#[derive(Debug, Clone)]
struct SlotRow {
    slot: String,
    version: i64,
    position: i64,
    live: bool,
    updated_at: String,
}

async fn slots(tx: &mut Tx, name: &str, lock: &str) -> Result<Vec<SlotRow>, ProjectionError> {
    let rows = tx
        .fetch_all(
            &format!(
                "SELECT slot, version, position, live, updated_at FROM projection_checkpoints WHERE name = ? ORDER BY slot{lock}"
            ),
            &[name.into()],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| SlotRow {
            slot: r[0].text(),
            version: r[1].i64(),
            position: r[2].i64(),
            live: r[3].i64() == 1,
            updated_at: r[4].text(),
        })
        .collect())
}

async fn drop_tables(
    tx: &mut Tx,
    p: &dyn SqlProjection,
    slot: &str,
) -> Result<(), ProjectionError> {
    for table in p.tables(slot) {
        tx.execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
            .await?;
    }
    Ok(())
}

async fn create_slot(
    tx: &mut Tx,
    p: &dyn SqlProjection,
    slot: &str,
    live: bool,
) -> Result<(), ProjectionError> {
    for statement in p.create(slot) {
        tx.execute(&statement, &[]).await?;
    }
    tx.execute(
        "INSERT INTO projection_checkpoints (name, slot, version, position, live, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
        &[
            p.name().into(),
            slot.into(),
            p.version().into(),
            Arg::I64(live as i64),
            now().into(),
        ],
    )
    .await?;
    Ok(())
}

fn other_slot(slot: &str) -> &'static str {
    if slot == "a" {
        "b"
    } else {
        "a"
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
