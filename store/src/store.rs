//! `Store`: connecting, executing commands, loading aggregates and reading events.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, PersistedEventStore, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::chain::GENESIS_HASH;
use crate::clock::{Clock, SystemClock};
use crate::error::{ExecuteError, StoreError};
use crate::event::HASH;
use crate::event::{RawEventRow, StoredEvent, RECORDED_AT};
use crate::repository::{stamp_events, Backend, ChainedRepository};
use crate::writer::{Appended, CachedState, GroupCommit, StateCache};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The file name of the embedded database inside a data directory.
pub const SQLITE_FILE_NAME: &str = "subsidy.db";

/// How long an SQLite writer waits for the database lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a PostgreSQL query waits for a pooled connection (or a new one) before giving up.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The result of a committed command.
#[derive(Debug)]
pub struct Committed<A: Aggregate> {
    /// The aggregate's version after the command: the sequence of its last event (unchanged when
    /// the command produced no event).
    pub version: usize,
    /// The events appended, with the metadata as stored (`recorded_at`, `prev_hash`, `hash`).
    pub events: Vec<EventEnvelope<A>>,
    /// The global position of the last event appended (0 when the command produced none): a
    /// reader that has caught up to it sees the command's effect (read-your-writes).
    pub position: i64,
}

/// The event store: a SQLite file or a PostgreSQL database holding the `events` table, with a
/// clock for `recorded_at` and the upcasters applied when loading. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    clock: Arc<dyn Clock>,
    upcasters: Arc<Vec<Arc<dyn EventUpcaster>>>,
    /// The highest position this process has committed: projection runners in the same process
    /// wake on it (other processes' commits reach them by PostgreSQL NOTIFY or polling).
    commits: Arc<tokio::sync::watch::Sender<i64>>,
    /// Recent aggregate states (the write path's cache; see `writer`).
    cache: Arc<StateCache>,
    /// The group committer every `execute` appends through.
    writer: Arc<GroupCommit>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .field("clock", &self.clock)
            .field("upcasters", &self.upcasters.len())
            .finish()
    }
}

/// Lets a shared upcaster be handed to `PersistedEventStore::with_upcasters`, which wants boxes.
struct SharedUpcaster(Arc<dyn EventUpcaster>);

impl EventUpcaster for SharedUpcaster {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        self.0.can_upcast(event_type, event_version)
    }
    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        self.0.upcast(event)
    }
}

impl Store {
    /// Opens the store named by `url` and brings its schema up to date:
    /// `sqlite://<path>?mode=rwc` (WAL journal, foreign keys on, 5 s busy timeout, full sync) or
    /// `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            let options =
                SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
            Self::connect_sqlite(options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // While the server is down, a request gets `PoolTimedOut` after this long
                // (callers answer "unavailable, retry") instead of hanging.
                .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
                .connect(url)
                .await
                .map_err(|source| StoreError::Connect {
                    backend: "postgres",
                    source,
                })?;
            POSTGRES_MIGRATOR
                .run(&pool)
                .await
                .map_err(|source| StoreError::Migrate {
                    backend: "postgres",
                    source,
                })?;
            Ok(Self::from_backend(Backend::Postgres(pool)))
        } else {
            Err(StoreError::InvalidUrl {
                url: url.to_string(),
                reason: "it must start with sqlite:, postgres:// or postgresql://".to_string(),
            })
        }
    }

    /// Opens (creating if needed) the embedded SQLite store `<dir>/subsidy.db`, creating `dir`.
    pub async fn open_data_dir(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join(SQLITE_FILE_NAME))
            .create_if_missing(true);
        Self::connect_sqlite(options).await
    }

    async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Store, StoreError> {
        // WAL lets readers work while one writer writes; FULL sync makes each commit durable
        // across a power cut, which an audit log needs more than write speed.
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                backend: "sqlite",
                source,
            })?;
        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: "sqlite",
                source,
            })?;
        Ok(Self::from_backend(Backend::Sqlite(pool)))
    }

    fn from_backend(backend: Backend) -> Self {
        Self {
            clock: Arc::new(SystemClock),
            upcasters: Arc::new(Vec::new()),
            commits: Arc::new(tokio::sync::watch::channel(0).0),
            cache: Arc::new(StateCache::default()),
            writer: Arc::new(GroupCommit::new(backend.clone())),
            backend,
        }
    }

    /// The same store, taking `recorded_at` from `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The same store, applying `upcasters` (in order) to stored events before they are
    /// deserialised by `load`, `load_as_of` and `execute`. Replaces any earlier list.
    pub fn with_upcasters(self, upcasters: Vec<Arc<dyn EventUpcaster>>) -> Self {
        // States cached under the old upcasters would not be what the new ones read.
        Self {
            upcasters: Arc::new(upcasters),
            cache: Arc::new(StateCache::default()),
            ..self
        }
    }

    /// "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The SQLite pool, when this store is SQLite (for crates that keep their own tables).
    pub fn pool_sqlite(&self) -> Option<&SqlitePool> {
        match &self.backend {
            Backend::Sqlite(pool) => Some(pool),
            Backend::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, when this store is PostgreSQL (for crates that keep their own tables).
    pub fn pool_postgres(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pool) => Some(pool),
        }
    }

    /// The hash-chaining cqrs-es repository over this store.
    pub fn repository(&self) -> ChainedRepository {
        ChainedRepository::new(&self.backend, self.clock.clone())
    }

    /// A cqrs-es event store (never the snapshot or aggregate store: in cqrs-es 0.5.0 those
    /// apply newly committed events twice) with this store's upcasters.
    pub fn event_store<A: Aggregate>(&self) -> PersistedEventStore<ChainedRepository, A> {
        let upcasters: Vec<Box<dyn EventUpcaster>> = self
            .upcasters
            .iter()
            .map(|u| Box::new(SharedUpcaster(u.clone())) as Box<dyn EventUpcaster>)
            .collect();
        PersistedEventStore::new_event_store(self.repository()).with_upcasters(upcasters)
    }

    /// Decides `command` on the aggregate's current state, checks `expected_version` (when
    /// given) against its version, and appends the resulting events with `metadata` (plus the
    /// store's `recorded_at`, `prev_hash` and `hash`, which overwrite keys of those names).
    /// Nothing is stored unless the result is `Ok`, and `Ok` is returned only once the events'
    /// transaction has committed.
    ///
    /// The state comes from the write path's cache when this process holds it (see
    /// `writer`'s documentation: a stale entry costs a retry on a state read from the database,
    /// never a wrong decision) and is otherwise read by applying the stored events. Concurrent
    /// commands share transactions (group commit).
    pub async fn execute<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        services: &A::Services,
        metadata: HashMap<String, String>,
        expected_version: Option<usize>,
    ) -> Result<Committed<A>, ExecuteError<A::Error>>
    where
        A: Aggregate + Clone + 'static,
        A::Command: Clone,
    {
        let mut trust_cache = true;
        loop {
            let cached = if trust_cache {
                self.cache.get::<A>(A::TYPE, aggregate_id)
            } else {
                None
            };
            let from_cache = cached.is_some();
            let state = match cached {
                Some(state) => state,
                None => self
                    .load_state::<A>(aggregate_id)
                    .await
                    .map_err(ExecuteError::Store)?,
            };
            let CachedState {
                mut aggregate,
                version,
                last_hash,
            } = state;
            // Every answer but a commit is checked against the database when it was decided on
            // a cached state: the cache may be behind another process's commits.
            macro_rules! recheck_cached {
                () => {
                    if from_cache
                        && self
                            .stored_version(A::TYPE, aggregate_id)
                            .await
                            .map_err(ExecuteError::Store)?
                            != version
                    {
                        self.cache.remove(A::TYPE, aggregate_id);
                        trust_cache = false;
                        continue;
                    }
                };
            }
            if let Some(expected) = expected_version {
                if expected != state.version {
                    recheck_cached!();
                    return Err(ExecuteError::StaleVersion {
                        expected,
                        actual: version,
                    });
                }
            }
            let sink = EventSink::<A>::default();
            // `EventSink::write` applies each event to `aggregate` as the command emits it, so
            // after `handle` the aggregate is already the new state.
            let decided = aggregate
                .handle(command.clone(), services, &sink)
                .await
                .map_err(ExecuteError::Rejected);
            if let Err(rejected) = decided {
                recheck_cached!();
                return Err(rejected);
            }
            let events = sink.collect().await;
            if events.is_empty() {
                recheck_cached!();
                return Ok(Committed {
                    version,
                    events: Vec::new(),
                    position: 0,
                });
            }
            let envelopes: Vec<EventEnvelope<A>> = events
                .into_iter()
                .enumerate()
                .map(|(i, payload)| EventEnvelope {
                    aggregate_id: aggregate_id.to_string(),
                    sequence: version + 1 + i,
                    payload,
                    metadata: metadata.clone(),
                })
                .collect();
            let serialized = envelopes
                .iter()
                .map(SerializedEvent::try_from)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ExecuteError::Store(persistence_error(e)))?;
            let stamped = stamp_events(&serialized, last_hash, self.clock.now())
                .map_err(|e| ExecuteError::Store(persistence_error(e)))?;
            let position = match self
                .writer
                .append(stamped.clone())
                .await
                .map_err(ExecuteError::Store)?
            {
                Appended::Committed(position) => position,
                Appended::Conflict => {
                    self.cache.remove(A::TYPE, aggregate_id);
                    // A cached state may have been behind another process's commit: decide
                    // again on the stored one, as an uncached command would have. A caller that
                    // pinned the version it expects hears of the conflict instead.
                    if from_cache && expected_version.is_none() {
                        trust_cache = false;
                        continue;
                    }
                    return Err(ExecuteError::Conflict);
                }
            };
            let new_version = version + envelopes.len();
            let last_hash = stamped
                .last()
                .and_then(|e| e.metadata.get(HASH))
                .and_then(|h| h.as_str())
                .unwrap_or_default()
                .to_string();
            self.cache.put(
                A::TYPE,
                aggregate_id,
                CachedState {
                    aggregate,
                    version: new_version,
                    last_hash,
                },
            );
            let envelopes = envelopes
                .into_iter()
                .zip(stamped)
                .map(|(envelope, row)| {
                    Ok(EventEnvelope {
                        metadata: serde_json::from_value(row.metadata).map_err(|e| {
                            ExecuteError::Store(StoreError::Deserialization(Box::new(e)))
                        })?,
                        ..envelope
                    })
                })
                .collect::<Result<Vec<_>, ExecuteError<A::Error>>>()?;
            self.commits.send_if_modified(|last| {
                let newer = position > *last;
                if newer {
                    *last = position;
                }
                newer
            });
            return Ok(Committed {
                version: new_version,
                events: envelopes,
                position,
            });
        }
    }

    /// The aggregate's state, version and last hash read from the database (every event
    /// applied, after the upcasters).
    async fn load_state<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<CachedState<A>, StoreError> {
        let envelopes = self
            .event_store::<A>()
            .load_events(aggregate_id)
            .await
            .map_err(aggregate_store_error)?;
        let mut aggregate = A::default();
        let mut version = 0;
        let mut last_hash = GENESIS_HASH.to_string();
        for envelope in envelopes {
            version = envelope.sequence;
            last_hash =
                envelope
                    .metadata
                    .get(HASH)
                    .cloned()
                    .ok_or_else(|| StoreError::CorruptEvent {
                        aggregate_type: A::TYPE.to_string(),
                        aggregate_id: aggregate_id.to_string(),
                        sequence: envelope.sequence as i64,
                        reason: "the metadata has no hash".to_string(),
                    })?;
            aggregate.apply(envelope.payload);
        }
        Ok(CachedState {
            aggregate,
            version,
            last_hash,
        })
    }

    /// The sequence of the aggregate's last stored event (0 when it has none): one index lookup.
    async fn stored_version(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<usize, StoreError> {
        let version: i64 = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar(
                "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = ? AND aggregate_id = ?",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await,
            Backend::Postgres(pool) => sqlx::query_scalar(
                "SELECT COALESCE(MAX(sequence), 0)::bigint FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await,
        }
        .map_err(StoreError::db("reading the version of a record"))?;
        Ok(version as usize)
    }

    /// Subscribes to this process's commits: the value is the highest position committed by
    /// this `Store` (and its clones) so far.
    pub fn subscribe_commits(&self) -> tokio::sync::watch::Receiver<i64> {
        self.commits.subscribe()
    }

    /// The current state of an aggregate and its version (0 when it has no events). A state
    /// this process holds in its write-path cache is used when the database confirms its version
    /// (one index lookup) instead of applying every event again.
    pub async fn load<A: Aggregate + Clone + 'static>(
        &self,
        aggregate_id: &str,
    ) -> Result<(A, usize), StoreError> {
        if let Some(cached) = self.cache.get::<A>(A::TYPE, aggregate_id) {
            if self.stored_version(A::TYPE, aggregate_id).await? == cached.version {
                return Ok((cached.aggregate, cached.version));
            }
        }
        let state = self.load_state::<A>(aggregate_id).await?;
        let answer = (state.aggregate.clone(), state.version);
        if state.version > 0 {
            self.cache.put(A::TYPE, aggregate_id, state);
        }
        Ok(answer)
    }

    /// State as of a moment: applies the events in sequence order while their `recorded_at` is
    /// not after `at`, and stops at the first that is. (Stopping, rather than skipping, keeps the
    /// result a state the aggregate really had even if two servers' clocks disagreed.) Returns
    /// the state and the version it corresponds to.
    pub async fn load_as_of<A: Aggregate>(
        &self,
        aggregate_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(A, usize), StoreError> {
        let envelopes = self
            .event_store::<A>()
            .load_events(aggregate_id)
            .await
            .map_err(aggregate_store_error)?;
        let mut aggregate = A::default();
        let mut version = 0;
        for envelope in envelopes {
            let recorded_at = envelope
                .metadata
                .get(RECORDED_AT)
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .ok_or_else(|| StoreError::CorruptEvent {
                    aggregate_type: A::TYPE.to_string(),
                    aggregate_id: aggregate_id.to_string(),
                    sequence: envelope.sequence as i64,
                    reason: "the metadata has no valid recorded_at".to_string(),
                })?;
            if recorded_at > at {
                break;
            }
            version = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        Ok((aggregate, version))
    }

    /// Every event of one aggregate, in sequence order, as stored.
    pub async fn read_stream(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventTuple> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_as(&format!(
                "SELECT {SQLITE_COLUMNS} FROM events WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY sequence"
            ))
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(pool)
            .await,
            Backend::Postgres(pool) => sqlx::query_as(&format!(
                "SELECT {POSTGRES_COLUMNS} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
            ))
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(pool)
            .await,
        }
        .map_err(StoreError::db("reading the events of one record"))?;
        rows.into_iter().map(|row| raw(row).into_stored()).collect()
    }

    /// Up to `limit` events with a global position greater than `after_position`, in position
    /// (= commit) order. Start with 0; continue from the last position returned. A reader that
    /// does so sees every committed event exactly once.
    pub async fn read_all(
        &self,
        after_position: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if limit < 1 {
            return Err(StoreError::InvalidArgument(format!(
                "the number of events to read must be at least 1, got {limit}"
            )));
        }
        let rows: Vec<EventTuple> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_as(&format!(
                "SELECT {SQLITE_COLUMNS} FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?"
            ))
            .bind(after_position)
            .bind(limit)
            .fetch_all(pool)
            .await,
            Backend::Postgres(pool) => sqlx::query_as(&format!(
                "SELECT {POSTGRES_COLUMNS} FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2"
            ))
            .bind(after_position)
            .bind(limit)
            .fetch_all(pool)
            .await,
        }
        .map_err(StoreError::db("reading events by position"))?;
        rows.into_iter().map(|row| raw(row).into_stored()).collect()
    }

    /// The ids of all aggregates of one type that have at least one event, sorted.
    pub async fn aggregate_ids(&self, aggregate_type: &str) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar(
                "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = ? ORDER BY aggregate_id",
            )
            .bind(aggregate_type)
            .fetch_all(pool)
            .await,
            Backend::Postgres(pool) => sqlx::query_scalar(
                "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1 ORDER BY aggregate_id",
            )
            .bind(aggregate_type)
            .fetch_all(pool)
            .await,
        }
        .map_err(StoreError::db("listing records"))
    }

    /// The highest global position of an event of `aggregate_type` (0 when it has none): a
    /// cheap way to know whether a kind of record changed since it was last read (the
    /// primary key's prefix finds the type's rows).
    pub async fn last_position_of(&self, aggregate_type: &str) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT COALESCE(MAX(global_position), 0) FROM events WHERE aggregate_type = ?",
                )
                .bind(aggregate_type)
                .fetch_one(pool)
                .await
            }
            Backend::Postgres(pool) => sqlx::query_scalar(
                "SELECT COALESCE(MAX(global_position), 0) FROM events WHERE aggregate_type = $1",
            )
            .bind(aggregate_type)
            .fetch_one(pool)
            .await,
        }
        .map_err(StoreError::db("reading the last position of a record type"))
    }

    /// The highest global position committed so far (0 for an empty store).
    pub async fn last_position(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(global_position), 0) FROM events";
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Backend::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .map_err(StoreError::db("reading the last position"))
    }
}

type EventTuple = (
    Option<i64>,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
);

const SQLITE_COLUMNS: &str =
    "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";
// PostgreSQL keeps `json` columns as the text that was written; reading them as text gives the
// same parsing path as SQLite.
const POSTGRES_COLUMNS: &str = "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload::text, metadata::text";

/// The columns of `events` to select, in the order [`stored_event_from_columns`] takes them, for
/// callers that read events on a connection of their own (e.g. inside a projection's
/// transaction): `global_position, aggregate_type, aggregate_id, sequence, event_type,
/// event_version, payload, metadata`, JSON as text.
pub fn event_columns(postgres: bool) -> &'static str {
    if postgres {
        POSTGRES_COLUMNS
    } else {
        SQLITE_COLUMNS
    }
}

/// A stored event from the columns of [`event_columns`], parsed and checked as `read_all` does.
#[allow(clippy::too_many_arguments)]
pub fn stored_event_from_columns(
    global_position: Option<i64>,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
) -> Result<StoredEvent, StoreError> {
    raw((
        global_position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
    ))
    .into_stored()
}

fn raw(row: EventTuple) -> RawEventRow {
    let (
        global_position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
    ) = row;
    RawEventRow {
        global_position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
    }
}

fn persistence_error(error: PersistenceError) -> StoreError {
    match error {
        PersistenceError::DeserializationError(e) => StoreError::Deserialization(e),
        PersistenceError::OptimisticLockError => {
            StoreError::Repository("optimistic lock error while reading".into())
        }
        PersistenceError::ConnectionError(e) | PersistenceError::UnknownError(e) => {
            repository_error(e)
        }
    }
}

/// A repository failure, or the store's own refusal of a value it cannot keep exactly.
fn repository_error(e: Box<dyn std::error::Error + Send + Sync + 'static>) -> StoreError {
    match e.downcast::<crate::chain::Unstorable>() {
        Ok(unstorable) => StoreError::Unstorable(*unstorable),
        Err(e) => StoreError::Repository(e),
    }
}

fn aggregate_store_error<E: std::error::Error>(error: AggregateError<E>) -> StoreError {
    match error {
        AggregateError::DeserializationError(e) => StoreError::Deserialization(e),
        AggregateError::DatabaseConnectionError(e) | AggregateError::UnexpectedError(e) => {
            repository_error(e)
        }
        AggregateError::AggregateConflict => {
            StoreError::Repository("unexpected optimistic lock error while loading".into())
        }
        AggregateError::UserError(e) => StoreError::Repository(e.to_string().into()),
    }
}
