//! The shared test kit of the cross-crate integration tests: [`TestDb`], a fresh empty store on
//! either backend (an SQLite file in a temporary directory, or a new PostgreSQL database that is
//! dropped afterwards), and [`Kind`] to run one case against both.
//!
//! [`smtp::SmtpServer`] is a real SMTP server process (aiosmtpd) for the reminder tests.
//!
//! PostgreSQL is reached through `TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres`); when it is unreachable the test
//! fails with a clear message — it never skips.

pub mod cluster;
pub mod crafted;
pub mod fuzz;

use sqlx::Connection;
use store::Store;

pub mod smtp;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty store. The PostgreSQL database is dropped when the value is dropped.
pub struct TestDb {
    pub kind: Kind,
    /// The store URL (pass it to `--database-url` or `Settings`).
    pub url: String,
    pub store: Store,
    /// The data directory (SQLite file lives here; also handy for CLI runs on PostgreSQL).
    pub dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        Self::new(Kind::Sqlite).await
    }

    pub async fn postgres() -> TestDb {
        Self::new(Kind::Postgres).await
    }

    /// Runs one raw SQL statement (tampering, forging) on whichever backend this is and returns
    /// the number of rows it touched.
    pub async fn raw(&self, sql: &str) -> u64 {
        match (self.store.pool_sqlite(), self.store.pool_postgres()) {
            (Some(pool), _) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            (_, Some(pool)) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            _ => unreachable!("a store has one pool"),
        }
        .unwrap_or_else(|e| panic!("raw SQL failed: {sql}: {e}"))
    }

    pub async fn new(kind: Kind) -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (url, pg_database) = match kind {
            Kind::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(store::SQLITE_FILE_NAME).display()
                ),
                None,
            ),
            Kind::Postgres => {
                let name = create_postgres_database().await;
                (with_database(&admin_url(), &name), Some(name))
            }
        };
        let store = Store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("open a fresh {kind:?} store at {url}: {e}"));
        TestDb {
            kind,
            url,
            store,
            dir,
            pg_database,
        }
    }
}

/// Creates a uniquely named, empty PostgreSQL database and returns its name.
pub async fn create_postgres_database() -> String {
    let admin = admin_url();
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for these tests but {admin} is unreachable ({e}). \
             Run scripts/test.sh, which starts it, or set TEST_DATABASE_URL."
            )
        });
    let name = format!("subsidy_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    connection.close().await.ok();
    name
}

/// Drops a test database, ending its connections. Runs on its own thread and runtime so that it
/// can be called from `Drop` inside a test's runtime.
pub fn drop_postgres_database(name: String) {
    let admin = admin_url();
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            if let Ok(mut connection) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut connection)
                    .await;
            }
        });
    })
    .join();
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            drop_postgres_database(name);
        }
    }
}

/// Polls `check` until it returns true, panicking with `what` after `limit`. Tests wait for
/// conditions this way, never by sleeping for a fixed time.
pub async fn poll_until<F, Fut>(what: &str, limit: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Declares one `#[tokio::test]` per backend for each listed async case `fn(Kind)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Kind::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Kind::Postgres).await
                }
            )+
        }
    };
}
