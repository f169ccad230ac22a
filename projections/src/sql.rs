//! A thin layer over the two backends for the projection runtime: one SQL text (with `?`
//! placeholders, rewritten to `$n` for PostgreSQL), arguments bound dynamically, rows read as
//! loosely typed values. Projection tables use only `text` and `bigint` columns, so every value
//! is an `i64`, a `String` or NULL on both backends.

use sqlx::{PgPool, Row, SqlitePool};
use store::{Store, StoreError};

use crate::ProjectionError;

/// A pool on the database that holds the events.
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

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub async fn begin(&self) -> Result<Tx, ProjectionError> {
        Ok(match self {
            Db::Sqlite(pool) => {
                Tx::Sqlite(pool.begin().await.map_err(db("beginning a transaction"))?)
            }
            Db::Postgres(pool) => {
                Tx::Postgres(pool.begin().await.map_err(db("beginning a transaction"))?)
            }
        })
    }

    pub async fn fetch_all(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<Vec<Val>>, ProjectionError> {
        match self {
            Db::Sqlite(pool) => {
                let rows = bind_sqlite(sqlx::query(sql), args)
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading a projection"))?;
                Ok(rows.iter().map(sqlite_row).collect())
            }
            Db::Postgres(pool) => {
                let sql = pg(sql);
                let rows = bind_pg(sqlx::query(&sql), args)
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading a projection"))?;
                Ok(rows.iter().map(pg_row).collect())
            }
        }
    }

    pub async fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64, ProjectionError> {
        match self {
            Db::Sqlite(pool) => bind_sqlite(sqlx::query(sql), args)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Postgres(pool) => {
                let sql = pg(sql);
                bind_pg(sqlx::query(&sql), args)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            }
        }
        .map_err(db("writing a projection"))
    }
}

/// A transaction on either backend.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, ProjectionError> {
        match self {
            Tx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected()),
            Tx::Postgres(tx) => {
                let sql = pg(sql);
                bind_pg(sqlx::query(&sql), args)
                    .execute(&mut **tx)
                    .await
                    .map(|r| r.rows_affected())
            }
        }
        .map_err(db("writing a projection"))
    }

    pub async fn fetch_all(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<Vec<Val>>, ProjectionError> {
        match self {
            Tx::Sqlite(tx) => {
                let rows = bind_sqlite(sqlx::query(sql), args)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(db("reading a projection"))?;
                Ok(rows.iter().map(sqlite_row).collect())
            }
            Tx::Postgres(tx) => {
                let sql = pg(sql);
                let rows = bind_pg(sqlx::query(&sql), args)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(db("reading a projection"))?;
                Ok(rows.iter().map(pg_row).collect())
            }
        }
    }

    /// Up to `limit` events after `after`, in position order, read on this transaction's own
    /// connection (never a second one from the pool while a write lock is held).
    pub async fn read_events(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<store::StoredEvent>, ProjectionError> {
        let postgres = matches!(self, Tx::Postgres(_));
        let rows = self
            .fetch_all(
                &format!(
                    "SELECT {} FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?",
                    store::event_columns(postgres)
                ),
                &[after.into(), limit.into()],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                store::stored_event_from_columns(
                    Some(r[0].i64()),
                    r[1].text(),
                    r[2].text(),
                    r[3].i64(),
                    r[4].text(),
                    r[5].text(),
                    r[6].text(),
                    r[7].text(),
                )
                .map_err(ProjectionError::Store)
            })
            .collect()
    }

    /// The JSON `state` column of the row of `table` whose `key` column is `id`, read back as a
    /// `T`; `T::default()` when there is no such row (a project the projection has not seen).
    pub async fn state<T: serde::de::DeserializeOwned + Default>(
        &mut self,
        table: &str,
        key: &str,
        id: &str,
    ) -> Result<T, ProjectionError> {
        let rows = self
            .fetch_all(
                &format!("SELECT state FROM {table} WHERE {key} = ?"),
                &[id.into()],
            )
            .await?;
        match rows.first() {
            Some(row) => {
                serde_json::from_str(&row[0].text()).map_err(|e| ProjectionError::UnreadableRow {
                    table: table.to_string(),
                    id: id.to_string(),
                    reason: e.to_string(),
                })
            }
            None => Ok(T::default()),
        }
    }

    pub async fn commit(self) -> Result<(), ProjectionError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(db("committing a projection"))
    }

    pub async fn rollback(self) -> Result<(), ProjectionError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
        .map_err(db("rolling back a projection"))
    }
}

/// An argument bound to a `?`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    I64(i64),
    Text(String),
    OptText(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I64(i64),
    Text(String),
    Null,
}

impl Val {
    pub fn i64(&self) -> i64 {
        match self {
            Val::I64(v) => *v,
            Val::Text(t) => t.parse().unwrap_or_default(),
            Val::Null => 0,
        }
    }
    pub fn text(&self) -> String {
        match self {
            Val::Text(t) => t.clone(),
            Val::I64(v) => v.to_string(),
            Val::Null => String::new(),
        }
    }
    pub fn opt_text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            other => Some(other.text()),
        }
    }
}

fn bind_sqlite<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for a in args {
        q = match a {
            Arg::I64(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.as_str()),
            Arg::OptText(v) => q.bind(v.as_deref()),
        };
    }
    q
}

fn bind_pg<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for a in args {
        q = match a {
            Arg::I64(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.as_str()),
            Arg::OptText(v) => q.bind(v.as_deref()),
        };
    }
    q
}

fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Vec<Val> {
    (0..row.len())
        .map(|i| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map(Val::I64).unwrap_or(Val::Null)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map(Val::Text).unwrap_or(Val::Null)
            } else {
                Val::Null
            }
        })
        .collect()
}

fn pg_row(row: &sqlx::postgres::PgRow) -> Vec<Val> {
    (0..row.len())
        .map(|i| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map(Val::I64).unwrap_or(Val::Null)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map(Val::Text).unwrap_or(Val::Null)
            } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                v.map(|v| Val::I64(v.into())).unwrap_or(Val::Null)
            } else {
                Val::Null
            }
        })
        .collect()
}

/// Rewrites `?` placeholders into PostgreSQL's `$1, $2…` (the SQL of this crate holds no
/// literal question mark).
pub fn pg(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> ProjectionError {
    move |source| ProjectionError::Store(StoreError::Database { action, source })
}
