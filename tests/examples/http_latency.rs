//! Measures the HTTP API's latency on each backend: the median and p99 of a command
//! (`POST /projects/{id}/officials`, one event appended) and of a project read
//! (`GET /projects/{id}`), sent one after another by one client over keep-alive.
//!
//! Run: `cargo run -p tests --example http_latency [-- N]` (PostgreSQL from `TEST_DATABASE_URL`,
//! default `postgres://postgres:postgres@127.0.0.1:5432/postgres`; a fresh database is created).

use std::time::{Duration, Instant};

use api::http::auth::{Accounts, Role};
use api::http::{Application, HttpSettings};
use api::Engine;
use domain::JurisdictionCode;
use serde_json::{json, Value};
use workflows::programme::ProgrammeRegistry;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn store_url(backend: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    use sqlx::Connection;
    if backend == "sqlite" {
        return Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join("subsidy.db").display()
        ));
    }
    let base = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_string());
    let mut conn = sqlx::PgConnection::connect(&base).await?;
    let name = format!("http_latency_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    let (prefix, _) = base.rsplit_once('/').expect("a database URL with a path");
    Ok(format!("{prefix}/{name}"))
}

async fn measure(backend: &str, n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = store::Store::connect(&store_url(backend, dir.path()).await?).await?;
    let engine = Engine::with_store(store, ProgrammeRegistry::builtin());
    Accounts::new(&engine.store)
        .create_user(
            "officer.bench",
            "bench-password",
            Role::Officer,
            &[JurisdictionCode::parse("370323")?],
        )
        .await?;
    let settings = HttpSettings {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let app = Application::build(engine, &settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "officer.bench", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    let registered: Value = client
        .post(format!("{base}/projects"))
        .bearer_auth(&token)
        .json(
            &json!({"name": "测速项目", "programme_id": domain::fixtures::VILLAGES_2021,
            "programme_version": 1, "jurisdiction": "370323", "registered_on": "2021-06-03"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let id = registered["project_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut commands = Vec::with_capacity(n);
    let mut reads = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let response = client
            .post(format!("{base}/projects/{id}/officials"))
            .bearer_auth(&token)
            .json(&json!({"role": "liaison", "official": {"name": format!("联络员{i}"), "post": "科长", "email": format!("l{i}@example.org")}}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "command failed: {}",
            response.status()
        );
        response.bytes().await?;
        commands.push(started.elapsed());
        let started = Instant::now();
        let response = client
            .get(format!("{base}/projects/{id}"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "read failed: {}",
            response.status()
        );
        response.bytes().await?;
        reads.push(started.elapsed());
    }
    commands.sort();
    reads.sort();
    println!(
        "{backend:<8} command  median {:>7.2} ms  p99 {:>7.2} ms   read  median {:>7.2} ms  p99 {:>7.2} ms   (n={n}, project grows to {} events)",
        percentile(&commands, 0.5).as_secs_f64() * 1000.0,
        percentile(&commands, 0.99).as_secs_f64() * 1000.0,
        percentile(&reads, 0.5).as_secs_f64() * 1000.0,
        percentile(&reads, 0.99).as_secs_f64() * 1000.0,
        n + 1,
    );
    stop.cancel();
    server.await??;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for backend in ["sqlite", "postgres"] {
        measure(backend, n).await?;
    }
    Ok(())
}
