//! The errors of the store layer.

use std::path::PathBuf;

/// Why the event store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database address is neither `sqlite:` nor `postgres://`/`postgresql://`.
    #[error("the database address {url:?} is not understood: {reason}")]
    InvalidUrl {
        /// The address as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The data directory could not be created.
    #[error("the data directory {path} could not be created: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("the {backend} database could not be opened: {source}")]
    Connect {
        /// "sqlite" or "postgres".
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations failed.
    #[error("the {backend} database schema could not be brought up to date: {source}")]
    Migrate {
        /// "sqlite" or "postgres".
        backend: &'static str,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("the database failed while {action}: {source}")]
    Database {
        /// What the store was doing, e.g. "reading events by position".
        action: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored event row cannot be read back (bad JSON, missing `recorded_at`, …).
    #[error("stored event {aggregate_type}/{aggregate_id} #{sequence} cannot be read: {reason}")]
    CorruptEvent {
        /// The aggregate type of the row.
        aggregate_type: String,
        /// The aggregate id of the row.
        aggregate_id: String,
        /// The sequence number of the row.
        sequence: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored event could not be turned into the aggregate's current event type.
    #[error("a stored event could not be read as the current event type (an upcaster may be missing): {0}")]
    Deserialization(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The cqrs-es repository reported a failure.
    #[error("the event repository failed: {0}")]
    Repository(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An event holds a value the store cannot keep exactly (an integer beyond ±(2^53 − 1),
    /// NUL in a string); nothing was stored.
    #[error("the event cannot be stored exactly: {0}")]
    Unstorable(crate::chain::Unstorable),
    /// A caller passed an argument the store cannot honour.
    #[error("invalid request to the event store: {0}")]
    InvalidArgument(String),
}

impl StoreError {
    pub(crate) fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { action, source }
    }
}

/// Why a command was not committed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    /// The aggregate refused the command (a business rule); nothing was stored.
    #[error("the command was refused: {0}")]
    Rejected(E),
    /// Someone else appended to this aggregate between our load and our commit; nothing was
    /// stored. Reload and try again.
    #[error("someone else changed this record at the same time; reload it and try again")]
    Conflict,
    /// The caller's expected version (e.g. from `If-Match`) is not the stored version; nothing
    /// was stored.
    #[error("the record has changed since it was read: expected version {expected}, current version {actual}")]
    StaleVersion {
        /// The version the caller saw.
        expected: usize,
        /// The version in the store.
        actual: usize,
    },
    /// The store itself failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
