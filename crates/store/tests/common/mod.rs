//! Shared test support: a small aggregate of our own and fresh databases for both backends.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use store::Store;

/// A deliberately small aggregate: an account that must be opened and cannot be overdrawn.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub opened: bool,
    pub balance_fen: i64,
}

#[derive(Debug, Clone)]
pub enum LedgerCommand {
    Open,
    Deposit(i64),
    DepositMany(Vec<i64>),
    Withdraw(i64),
    /// Accepted, but produces no event.
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    Opened,
    Deposited { fen: i64 },
    Withdrawn { fen: i64 },
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened => "Opened",
            Self::Deposited { .. } => "Deposited",
            Self::Withdrawn { .. } => "Withdrawn",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger is not open")]
    NotOpen,
    #[error("the ledger is already open")]
    AlreadyOpen,
    #[error("cannot withdraw {requested} fen from a balance of {balance} fen")]
    Overdraft { balance: i64, requested: i64 },
}

/// Services of the test aggregate: an optional gate every `handle` waits at before deciding,
/// so a test can hold several commands between their load and their commit.
#[derive(Clone, Default)]
pub struct LedgerServices {
    pub gate: Option<Arc<tokio::sync::Barrier>>,
}

impl Aggregate for Ledger {
    const TYPE: &'static str = "Ledger";
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = LedgerError;
    type Services = LedgerServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(gate) = &services.gate {
            gate.wait().await;
        }
        match command {
            LedgerCommand::Open => {
                if self.opened {
                    return Err(LedgerError::AlreadyOpen);
                }
                sink.write(LedgerEvent::Opened, self).await;
            }
            LedgerCommand::Deposit(fen) => {
                if !self.opened {
                    return Err(LedgerError::NotOpen);
                }
                sink.write(LedgerEvent::Deposited { fen }, self).await;
            }
            LedgerCommand::DepositMany(amounts) => {
                if !self.opened {
                    return Err(LedgerError::NotOpen);
                }
                for fen in amounts {
                    sink.write(LedgerEvent::Deposited { fen }, self).await;
                }
            }
            LedgerCommand::Withdraw(fen) => {
                if !self.opened {
                    return Err(LedgerError::NotOpen);
                }
                if fen > self.balance_fen {
                    return Err(LedgerError::Overdraft {
                        balance: self.balance_fen,
                        requested: fen,
                    });
                }
                sink.write(LedgerEvent::Withdrawn { fen }, self).await;
            }
            LedgerCommand::Nothing => {}
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LedgerEvent::Opened => self.opened = true,
            LedgerEvent::Deposited { fen } => self.balance_fen += fen,
            LedgerEvent::Withdrawn { fen } => self.balance_fen -= fen,
        }
    }
}

pub fn actor(name: &str) -> HashMap<String, String> {
    HashMap::from([
        ("actor".to_string(), name.to_string()),
        ("evidence".to_string(), "doc-2025-001".to_string()),
    ])
}

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
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

/// A fresh, empty store: an SQLite file in a temporary directory, or a new PostgreSQL database
/// that is dropped again when this value is dropped (also when the test panicked).
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg_database: Option<String>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => Self::sqlite().await,
            Kind::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory for the SQLite file");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("events.db").display()
        );
        let store = Store::connect(&url)
            .await
            .expect("open a fresh SQLite store");
        assert_eq!(store.backend_name(), "sqlite");
        TestDb {
            kind: Kind::Sqlite,
            url,
            store,
            _dir: Some(dir),
            pg_database: None,
        }
    }

    pub async fn postgres() -> TestDb {
        let admin = admin_url();
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is required for these tests but {admin} is unreachable ({e}). \
                 Start PostgreSQL or set TEST_DATABASE_URL."
                )
            });
        let name = format!("subsidy_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        connection.close().await.ok();
        let url = with_database(&admin, &name);
        let store = Store::connect(&url)
            .await
            .expect("open a fresh PostgreSQL store");
        assert_eq!(store.backend_name(), "postgres");
        TestDb {
            kind: Kind::Postgres,
            url,
            store,
            _dir: None,
            pg_database: Some(name),
        }
    }

    /// Runs one raw SQL statement (tampering, forging) on whichever backend this is.
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
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else {
            return;
        };
        let admin = admin_url();
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived thread
        // with its own runtime removes the database. WITH (FORCE) ends the store's connections.
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
}

/// Polls `check` until it returns true, panicking with `what` after `limit`.
pub async fn poll_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
