//! The cqrs-es repositories: `AnyRepository` picks sqlite-es or postgres-es, `ChainedRepository`
//! stamps `recorded_at`, `prev_hash` and `hash` on every event before it is persisted.

use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use sqlx::{PgPool, SqlitePool};

use crate::chain::{check_storable, event_hash, GENESIS_HASH};
use crate::clock::{format_recorded_at, Clock};
use crate::event::{HASH, PREV_HASH, RECORDED_AT};

/// The connection pool of the chosen backend. Pools are reference-counted, so clones are cheap.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The sqlite-es or postgres-es repository, chosen at run time.
pub enum AnyRepository {
    /// sqlite-es.
    Sqlite(SqliteEventRepository),
    /// postgres-es.
    Postgres(PostgresEventRepository),
}

impl AnyRepository {
    pub(crate) fn for_backend(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite(pool) => Self::Sqlite(SqliteEventRepository::new(pool.clone())),
            Backend::Postgres(pool) => Self::Postgres(PostgresEventRepository::new(pool.clone())),
        }
    }
}

impl PersistedEventRepository for AnyRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Sqlite(repo) => repo.get_events::<A>(aggregate_id).await,
            Self::Postgres(repo) => repo.get_events::<A>(aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Sqlite(repo) => repo.get_last_events::<A>(aggregate_id, last_sequence).await,
            Self::Postgres(repo) => repo.get_last_events::<A>(aggregate_id, last_sequence).await,
        }
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        match self {
            Self::Sqlite(repo) => repo.get_snapshot::<A>(aggregate_id).await,
            Self::Postgres(repo) => repo.get_snapshot::<A>(aggregate_id).await,
        }
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        match self {
            Self::Sqlite(repo) => repo.persist::<A>(events, snapshot_update).await,
            Self::Postgres(repo) => repo.persist::<A>(events, snapshot_update).await,
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        match self {
            Self::Sqlite(repo) => repo.stream_events::<A>(aggregate_id).await,
            Self::Postgres(repo) => repo.stream_events::<A>(aggregate_id).await,
        }
    }

    /// Delegated for completeness only. Do not use it: postgres-es's version panics on a
    /// database error and both order by sequence rather than by commit; use
    /// `Store::read_all` instead.
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match self {
            Self::Sqlite(repo) => repo.stream_all_events::<A>().await,
            Self::Postgres(repo) => repo.stream_all_events::<A>().await,
        }
    }
}

/// Wraps `AnyRepository`; in `persist` it stamps each event's metadata with `recorded_at` (from
/// the clock), `prev_hash` and `hash` (see `chain`), then delegates. Everything else is delegated
/// unchanged.
///
/// Why the chain stays consistent under concurrency: the `prev_hash` of sequence n is read from
/// the stored event n-1, which is never changed once written. If another writer appended event n
/// first, the inner insert of our event n violates the primary key and the whole batch is rolled
/// back as an optimistic-lock conflict; if our insert succeeds, event n-1 is exactly the event we
/// linked to.
pub struct ChainedRepository {
    inner: AnyRepository,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

impl ChainedRepository {
    pub(crate) fn new(backend: &Backend, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: AnyRepository::for_backend(backend),
            backend: backend.clone(),
            clock,
        }
    }

    /// The stored `hash` of one event, `Ok(None)` when the event does not exist.
    async fn stored_hash(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: i64,
    ) -> Result<Option<String>, PersistenceError> {
        let metadata: Option<String> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar(
                "SELECT metadata FROM events WHERE aggregate_type = ? AND aggregate_id = ? AND sequence = ?",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await,
            Backend::Postgres(pool) => sqlx::query_scalar(
                "SELECT metadata::text FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await,
        }
        .map_err(|e| PersistenceError::ConnectionError(Box::new(e)))?;
        let Some(metadata) = metadata else {
            return Ok(None);
        };
        let metadata: Value = serde_json::from_str(&metadata)?;
        match metadata.get(HASH) {
            Some(Value::String(hash)) => Ok(Some(hash.clone())),
            _ => Err(PersistenceError::UnknownError(
                format!(
                    "event {aggregate_type}/{aggregate_id} #{sequence} has no hash, so the next event cannot be chained to it"
                )
                .into(),
            )),
        }
    }

    /// Adds `recorded_at`, `prev_hash` and `hash` to every event of one batch.
    async fn stamp(
        &self,
        events: &[SerializedEvent],
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let first_sequence = first.sequence as i64;
        let previous = if first_sequence <= 1 {
            GENESIS_HASH.to_string()
        } else {
            match self
                .stored_hash(
                    &first.aggregate_type,
                    &first.aggregate_id,
                    first_sequence - 1,
                )
                .await?
            {
                Some(hash) => hash,
                None => {
                    return Err(PersistenceError::UnknownError(
                        format!(
                            "event {}/{} #{} is missing, so event #{} cannot be chained to it",
                            first.aggregate_type,
                            first.aggregate_id,
                            first_sequence - 1,
                            first_sequence
                        )
                        .into(),
                    ))
                }
            }
        };
        stamp_events(events, previous, self.clock.now())
    }
}

impl PersistedEventRepository for ChainedRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.inner.get_events::<A>(aggregate_id).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.inner
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.inner.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let stamped = self.stamp(events).await?;
        self.inner.persist::<A>(&stamped, snapshot_update).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_events::<A>(aggregate_id).await
    }

    /// See `AnyRepository::stream_all_events`: prefer `Store::read_all`.
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_all_events::<A>().await
    }
}

/// Adds `recorded_at` (`now`), `prev_hash` and `hash` to every event of one command's batch, the
/// first linked to `previous` (the stored hash of the event before it, or [`GENESIS_HASH`]).
/// Refuses (as [`crate::chain::Unstorable`]) a payload or metadata that would not hash, or read
/// back, exactly as it is. One reading of the clock per batch: the events of one command share
/// their instant.
pub(crate) fn stamp_events(
    events: &[SerializedEvent],
    mut previous: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<SerializedEvent>, PersistenceError> {
    let recorded_at = format_recorded_at(now);
    let mut stamped = Vec::with_capacity(events.len());
    for event in events {
        // The last line of defence of the hash rule: nothing enters the log that would not
        // hash, or read back, exactly as it is.
        check_storable("/payload", &event.payload)
            .and_then(|()| check_storable("/metadata", &event.metadata))
            .map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
        let mut metadata = match &event.metadata {
            Value::Object(map) => map.clone(),
            Value::Null => serde_json::Map::new(),
            other => {
                return Err(PersistenceError::UnknownError(
                    format!("event metadata must be a JSON object, got {other}").into(),
                ))
            }
        };
        metadata.insert(RECORDED_AT.to_string(), Value::String(recorded_at.clone()));
        metadata.insert(PREV_HASH.to_string(), Value::String(previous.clone()));
        metadata.remove(HASH);
        let hash = event_hash(
            &event.aggregate_type,
            &event.aggregate_id,
            event.sequence as i64,
            &event.event_type,
            &event.event_version,
            &event.payload,
            &metadata,
        );
        metadata.insert(HASH.to_string(), Value::String(hash.clone()));
        previous = hash;
        stamped.push(SerializedEvent {
            metadata: Value::Object(metadata),
            ..event.clone()
        });
    }
    Ok(stamped)
}
