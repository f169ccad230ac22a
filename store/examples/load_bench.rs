//! Measures how long `Store::load` takes for an aggregate with 200 events, on SQLite (a file in a
//! temporary directory) and on PostgreSQL (a fresh database, dropped afterwards).
//!
//! Run: `cargo run --release -p store --example load_bench`
//! (PostgreSQL from `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use store::Store;

const EVENTS: usize = 200;
const WARM_UP: usize = 5;
const RUNS: usize = 50;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Project {
    reports: Vec<String>,
    paid_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ProjectEvent {
    ReportRecorded {
        period: String,
        lockers_installed: i64,
        parcels: i64,
        note: String,
    },
    TranchePaid {
        fen: i64,
        evidence: String,
    },
}

impl DomainEvent for ProjectEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ReportRecorded { .. } => "ReportRecorded".into(),
            Self::TranchePaid { .. } => "TranchePaid".into(),
        }
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Aggregate for Project {
    const TYPE: &'static str = "BenchProject";
    type Command = usize;
    type Event = ProjectEvent;
    type Error = Never;
    type Services = ();

    async fn handle(&mut self, n: usize, _: &(), sink: &EventSink<Self>) -> Result<(), Never> {
        let event = if n.is_multiple_of(4) {
            ProjectEvent::TranchePaid {
                fen: 1_250_000,
                evidence: format!("payment-order-{n}"),
            }
        } else {
            ProjectEvent::ReportRecorded {
                period: format!("2025-{:02}", n % 12 + 1),
                lockers_installed: n as i64,
                parcels: 1000 + n as i64,
                note: "progress report entered by the county officer".into(),
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ProjectEvent) {
        match event {
            ProjectEvent::ReportRecorded { period, .. } => self.reports.push(period),
            ProjectEvent::TranchePaid { fen, .. } => self.paid_fen += fen,
        }
    }
}

async fn measure(store: &Store) -> (Duration, Duration, Duration) {
    let metadata = HashMap::from([("actor".to_string(), "bench@example.org".to_string())]);
    for n in 0..EVENTS {
        store
            .execute::<Project>("p-1", n, &(), metadata.clone(), Some(n))
            .await
            .expect("append");
    }
    for _ in 0..WARM_UP {
        store.load::<Project>("p-1").await.expect("load");
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let (_, version) = store.load::<Project>("p-1").await.expect("load");
        times.push(started.elapsed());
        assert_eq!(version, EVENTS);
    }
    times.sort();
    (times[0], times[RUNS / 2], times[RUNS * 95 / 100])
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = Store::open_data_dir(dir.path()).await.expect("open SQLite");
    let (min, median, p95) = measure(&sqlite).await;
    println!("sqlite   load of {EVENTS} events over {RUNS} runs: min {min:?}, median {median:?}, p95 {p95:?}");

    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("subsidy_bench_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is unreachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("create");
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').expect("a database in the URL").0
    );
    let postgres = Store::connect(&url).await.expect("open PostgreSQL");
    let (min, median, p95) = measure(&postgres).await;
    println!("postgres load of {EVENTS} events over {RUNS} runs: min {min:?}, median {median:?}, p95 {p95:?}");
    drop(postgres);
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut connection)
        .await
        .expect("drop");
}
