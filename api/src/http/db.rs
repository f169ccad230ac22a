//! The HTTP layer's own tables (`http_users`, `http_sessions`, `http_idempotency`, created by the
//! store's migrations numbered 0200 and up) on whichever backend the event store uses.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{PgPool, SqlitePool};
use store::Store;

/// A pool on the same database as the event store.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    pub fn of(store: &Store) -> Db {
        match (store.pool_sqlite(), store.pool_postgres()) {
            (Some(pool), _) => Db::Sqlite(pool.clone()),
            (None, Some(pool)) => Db::Postgres(pool.clone()),
            (None, None) => unreachable!("a store is either SQLite or PostgreSQL"),
        }
    }
}

/// Rewrites `?` placeholders into PostgreSQL's `$1, $2…` (the same rule as the projections'
/// SQL layer; the queries of this module contain no literal question marks).
pub fn pg(sql: &str) -> String {
    projections::sql::pg(sql)
}

/// A timestamp in the one text format stored in these tables; text order is time order.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Runs a statement on either backend and returns the number of rows affected.
macro_rules! db_execute {
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            $crate::http::db::Db::Sqlite(pool) => sqlx::query($sql)$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()),
            $crate::http::db::Db::Postgres(pool) => sqlx::query(&$crate::http::db::pg($sql))$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()),
        }
    };
}

/// Fetches at most one row as a tuple `$t` on either backend.
macro_rules! db_fetch_optional {
    ($db:expr, $t:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            $crate::http::db::Db::Sqlite(pool) => sqlx::query_as::<_, $t>($sql)$(.bind($arg))*.fetch_optional(pool).await,
            $crate::http::db::Db::Postgres(pool) => sqlx::query_as::<_, $t>(&$crate::http::db::pg($sql))$(.bind($arg))*.fetch_optional(pool).await,
        }
    };
}

/// Fetches every row as tuples `$t` on either backend.
macro_rules! db_fetch_all {
    ($db:expr, $t:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            $crate::http::db::Db::Sqlite(pool) => sqlx::query_as::<_, $t>($sql)$(.bind($arg))*.fetch_all(pool).await,
            $crate::http::db::Db::Postgres(pool) => sqlx::query_as::<_, $t>(&$crate::http::db::pg($sql))$(.bind($arg))*.fetch_all(pool).await,
        }
    };
}

pub(crate) use {db_execute, db_fetch_all, db_fetch_optional};

/// Whether a database error is a unique/primary-key violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// How long a client should wait before retrying when the database cannot be reached
/// (`Retry-After` of a 503 `store.unavailable`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// Whether an error (or one of its sources) means the database cannot be reached just now: the
/// server is down or restarting, the connection broke, or no connection could be had within the
/// pool's acquire timeout. Such failures are answered 503 `store.unavailable` with
/// `Retry-After`, not 500: nothing was stored and a retry may well succeed.
pub fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(e) = e.downcast_ref::<sqlx::Error>() {
            match e {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed => return true,
                sqlx::Error::Database(d) => {
                    // PostgreSQL: class 08 (connection exception), 57P01–57P03 (shutting down,
                    // crash recovery, cannot connect now), 53300 (too many connections).
                    if let Some(code) = d.code() {
                        if code.starts_with("08")
                            || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                        {
                            return true;
                        }
                    }
                }
                _ => {}
            }
        }
        if e.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}
