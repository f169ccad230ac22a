//! The write path at the report deadline: appends per second and their latency, through the store
//! (`Engine::execute`) and through HTTP (`POST /projects/{id}/officials` on the real server), at
//! 1, 8 and 32 concurrent writers each on its own project, side by side in the same run with what
//! the same machine's database does on its own:
//! - PostgreSQL: `pgbench` inserting rows shaped like the events table (same columns and key, the
//!   same JSON sizes, one row per transaction) into a scratch table without triggers;
//! - SQLite: a plain insert loop of the same rows (one row per transaction, WAL, `synchronous=FULL`,
//!   as the store opens its file) from the same number of tasks.
//!
//! Every figure is a median over `--rounds` runs with the min–max spread; latencies are the
//! median and p99 of every command of the middle round. CPU per command is the process's user +
//! system time over the run divided by the commands (for HTTP it includes the in-process client).
//!
//! - the Python `eventsourcing` library on the same PostgreSQL (`--peer PYTHON`, the interpreter
//!   that has it; scripts/bench/peer.py), same writers, one event per command.
//!
//! Run: `cargo run --release -p tests --example append_bench -- [--smoke] [--seconds S]
//! [--rounds R] [--writers 1,8,32] [--backends postgres,sqlite] [--peer PYTHON]
//! [--kinds baseline,store,http]` (PostgreSQL from
//! `TEST_DATABASE_URL`; fresh databases are created and dropped). Prints a Markdown table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::http::auth::{Accounts, Role};
use api::http::{Application, HttpSettings};
use api::Engine;
use domain::{CommandContext, JurisdictionCode, ProjectCommand};
use serde_json::{json, Value};
use workflows::programme::ProgrammeRegistry;

const JURISDICTION: &str = "370323";

struct Options {
    seconds: f64,
    rounds: usize,
    writers: Vec<usize>,
    backends: Vec<String>,
    /// The Python that has the `eventsourcing` library (the peer, PostgreSQL only).
    peer: Option<String>,
    /// Which columns to measure (all by default; e.g. `http` alone under a profiler).
    kinds: Vec<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        seconds: 5.0,
        rounds: 3,
        writers: vec![1, 8, 32],
        backends: vec!["postgres".into(), "sqlite".into()],
        peer: None,
        kinds: vec!["baseline".into(), "store".into(), "http".into()],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--smoke" => {
                o.seconds = 0.3;
                o.rounds = 1;
                o.writers = vec![1, 4];
            }
            "--seconds" => o.seconds = value()?.parse()?,
            "--rounds" => o.rounds = value()?.parse()?,
            "--writers" => {
                o.writers = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--backends" => o.backends = value()?.split(',').map(String::from).collect(),
            "--peer" => o.peer = Some(value()?),
            "--kinds" => o.kinds = value()?.split(',').map(String::from).collect(),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Default, Clone)]
struct Run {
    per_second: f64,
    latencies: Vec<Duration>,
    cpu_per_op: Duration,
}

fn median(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh database: its URL and how to drop it.
async fn fresh_database(
    backend: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(String, Option<String>)> {
    use sqlx::Connection;
    if backend == "sqlite" {
        let file = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        return Ok((format!("sqlite://{}?mode=rwc", file.display()), None));
    }
    let base = base_url();
    let mut conn = sqlx::PgConnection::connect(&base).await?;
    let name = format!("append_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    let (prefix, _) = base.rsplit_once('/').expect("a database URL with a path");
    Ok((format!("{prefix}/{name}"), Some(name)))
}

async fn drop_database(name: Option<String>) -> anyhow::Result<()> {
    use sqlx::Connection;
    if let Some(name) = name {
        let mut conn = sqlx::PgConnection::connect(&base_url()).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// An event row's payload and metadata as the product writes them for `AssignOfficial`.
fn sample_row() -> (String, String) {
    let payload = json!({"OfficialAssigned": {"role": "liaison", "official": {"name": "联络员甲", "post": "科长", "email": "liaison@example.org", "phone": null}}});
    let metadata = json!({"actor": "officer.bench", "command": "AssignOfficial", "evidence": "[]",
        "recorded_at": "2026-12-01T00:00:00.000000Z",
        "prev_hash": "6c3e0f4b1b1a2f8c9d7e5a4b3c2d1e0f6c3e0f4b1b1a2f8c9d7e5a4b3c2d1e0f",
        "hash": "0f1e2d3c4b5a6978877665544332211000f1e2d3c4b5a69788776655443322110"});
    (payload.to_string(), metadata.to_string())
}

/// pgbench inserting event-shaped rows, one per transaction, `writers` clients.
async fn pgbench(writers: usize, seconds: f64) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let (url, name) = fresh_database("postgres", dir.path()).await?;
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::query(
            "CREATE TABLE rows (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
             sequence bigint NOT NULL, event_type text NOT NULL, event_version text NOT NULL, \
             payload json NOT NULL, metadata json NOT NULL, \
             global_position bigserial NOT NULL UNIQUE, \
             PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
        )
        .execute(&mut conn)
        .await?;
    }
    let (payload, metadata) = sample_row();
    let script = dir.path().join("insert.sql");
    std::fs::write(
        &script,
        format!(
            "INSERT INTO rows (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ('SubsidyProject', 'p' || :client_id, nextval('rows_global_position_seq'), 'OfficialAssigned', '1', '{}', '{}');\n",
            payload.replace('\'', "''"),
            metadata.replace('\'', "''")
        ),
    )?;
    let db = url.rsplit_once('/').map(|(_, d)| d).unwrap_or_default();
    let mut command = std::process::Command::new("pgbench");
    command
        .args([
            "-n",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-c",
            &writers.to_string(),
            "-j",
            &writers.min(2).to_string(),
            "-T",
            &(seconds.ceil() as u64).max(1).to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(db);
    let out = tokio::task::spawn_blocking(move || command.output()).await??;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {text}"))?;
    let latency = text
        .lines()
        .find(|l| l.starts_with("latency average = "))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    drop_database(name).await?;
    Ok(Run {
        per_second: tps,
        latencies: vec![Duration::from_secs_f64(latency / 1000.0)],
        cpu_per_op: Duration::ZERO,
    })
}

/// The Python peer (scripts/bench/peer.py) on a fresh PostgreSQL database.
async fn peer(python: &str, writers: usize, seconds: f64) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let (url, name) = fresh_database("postgres", dir.path()).await?;
    let db = url
        .rsplit_once('/')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/bench/peer.py");
    let mut command = std::process::Command::new(python);
    command.args([script, &db, &writers.to_string(), &seconds.to_string()]);
    let out = tokio::task::spawn_blocking(move || command.output()).await??;
    drop_database(name).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "the peer failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_str(text.trim())?;
    let number = |k: &str| {
        line[k]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("no {k} in {line}"))
    };
    Ok(Run {
        per_second: number("per_second")?,
        latencies: vec![
            Duration::from_secs_f64(number("p50_ms")? / 1000.0),
            Duration::from_secs_f64(number("p99_ms")? / 1000.0),
        ],
        cpu_per_op: Duration::ZERO,
    })
}

/// A plain SQLite insert loop: `writers` tasks, one event-shaped row per transaction.
async fn sqlite_loop(writers: usize, seconds: f64) -> anyhow::Result<Run> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let dir = tempfile::tempdir()?;
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("plain.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(writers.min(8) as u32)
        .connect_with(options)
        .await?;
    sqlx::query(
        "CREATE TABLE rows (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
         sequence integer NOT NULL, event_type text NOT NULL, event_version text NOT NULL, \
         payload text NOT NULL, metadata text NOT NULL, \
         PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    )
    .execute(&pool)
    .await?;
    let (payload, metadata) = sample_row();
    let payload = Arc::new(payload);
    let metadata = Arc::new(metadata);
    timed(writers, seconds, move |writer, i| {
        let pool = pool.clone();
        let payload = payload.clone();
        let metadata = metadata.clone();
        async move {
            sqlx::query(
                "INSERT INTO rows VALUES ('SubsidyProject', ?, ?, 'OfficialAssigned', '1', ?, ?)",
            )
            .bind(format!("p{writer}"))
            .bind(i as i64)
            .bind(payload.as_str())
            .bind(metadata.as_str())
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await
}

/// Runs `op(writer, i)` in `writers` concurrent loops for `seconds`; throughput and latencies.
async fn timed<F, Fut>(writers: usize, seconds: f64, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let op = op.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op(writer, i).await?;
                latencies.push(t.elapsed());
                i += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    latencies.sort();
    let n = latencies.len().max(1);
    Ok(Run {
        per_second: latencies.len() as f64 / elapsed,
        cpu_per_op: Duration::from_secs_f64(cpu / n as f64),
        latencies,
    })
}

fn context() -> CommandContext {
    CommandContext::new("officer.bench")
}

fn assign(i: usize) -> ProjectCommand {
    ProjectCommand::AssignOfficial {
        role: serde_json::from_value(json!("liaison")).expect("a role"),
        official: domain::fixtures::official(
            &format!("联络员{i}"),
            "科长",
            &format!("liaison{i}@example.org"),
        ),
    }
}

fn register(i: usize) -> ProjectCommand {
    ProjectCommand::RegisterProject {
        name: format!("测速项目{i}"),
        programme_id: domain::fixtures::VILLAGES_2021.into(),
        programme_version: 1,
        jurisdiction: JurisdictionCode::parse(JURISDICTION).expect("a code"),
        description: String::new(),
        registered_on: domain::fixtures::date(2021, 6, 3),
    }
}

/// `writers` loops of `Engine::execute` (one event each), each on its own project.
async fn through_store(backend: &str, writers: usize, seconds: f64) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let (url, name) = fresh_database(backend, dir.path()).await?;
    let run = {
        let engine = Arc::new(Engine::with_store(
            store::Store::connect(&url).await?,
            ProgrammeRegistry::builtin(),
        ));
        let mut ids = Vec::new();
        for i in 0..writers {
            ids.push(engine.register(&context(), register(i)).await?);
        }
        let ids = Arc::new(ids);
        timed(writers, seconds, move |writer, i| {
            let engine = engine.clone();
            let ids = ids.clone();
            async move {
                engine
                    .execute(&ids[writer], &context(), assign(i), None)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                Ok(())
            }
        })
        .await?
    };
    drop_database(name).await?;
    Ok(run)
}

/// `writers` HTTP clients posting `AssignOfficial`, each on its own project.
async fn through_http(backend: &str, writers: usize, seconds: f64) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let (url, name) = fresh_database(backend, dir.path()).await?;
    let engine = Engine::with_store(
        store::Store::connect(&url).await?,
        ProgrammeRegistry::builtin(),
    );
    Accounts::new(&engine.store)
        .create_user(
            "officer.bench",
            "bench-password",
            Role::Officer,
            &[JurisdictionCode::parse(JURISDICTION)?],
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
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(writers)
        .build()?;
    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "officer.bench", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    let mut ids = Vec::new();
    for i in 0..writers {
        let registered: Value = client
            .post(format!("{base}/projects"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("测速项目{i}"), "programme_id": domain::fixtures::VILLAGES_2021,
                "programme_version": 1, "jurisdiction": JURISDICTION, "registered_on": "2021-06-03"}))
            .send()
            .await?
            .json()
            .await?;
        ids.push(
            registered["project_id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no project_id in {registered}"))?
                .to_string(),
        );
    }
    let ids = Arc::new(ids);
    let token = Arc::new(token);
    let base = Arc::new(base);
    let run = timed(writers, seconds, move |writer, i| {
        let client = client.clone();
        let ids = ids.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            let response = client
                .post(format!("{base}/projects/{}/officials", ids[writer]))
                .bearer_auth(token.as_str())
                .json(&json!({"role": "liaison", "official": {"name": format!("联络员{i}"), "post": "科长", "email": format!("l{i}@example.org")}}))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "command failed: {}", response.status());
            response.bytes().await?;
            Ok(())
        }
    })
    .await?;
    stop.cancel();
    server.await??;
    drop_database(name).await?;
    Ok(run)
}

struct Summary {
    rate: (f64, f64, f64),
    p50: Duration,
    p99: Duration,
    cpu: Duration,
}

async fn repeat<F, Fut>(rounds: usize, mut f: F) -> anyhow::Result<Summary>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Run>>,
{
    let mut runs = Vec::new();
    for _ in 0..rounds {
        runs.push(f().await?);
    }
    let rate = median(runs.iter().map(|r| r.per_second).collect());
    runs.sort_by(|a, b| a.per_second.partial_cmp(&b.per_second).unwrap());
    let middle = runs[runs.len() / 2].clone();
    Ok(Summary {
        rate,
        p50: percentile(&middle.latencies, 0.5),
        p99: percentile(&middle.latencies, 0.99),
        cpu: middle.cpu_per_op,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn rate(s: &Summary) -> String {
    format!("{:.0} ({:.0}–{:.0})", s.rate.1, s.rate.0, s.rate.2)
}

fn cell(s: &Option<Summary>, f: impl Fn(&Summary) -> String) -> String {
    s.as_ref().map(f).unwrap_or_else(|| "—".into())
}

fn ratio(a: &Option<Summary>, b: &Option<Summary>, percent: bool) -> String {
    match (a, b) {
        (Some(a), Some(b)) if percent => format!("{:.0} %", 100.0 * a.rate.1 / b.rate.1),
        (Some(a), Some(b)) => format!("{:.1}×", a.rate.1 / b.rate.1),
        _ => "—".into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let wants = |kind: &str| o.kinds.iter().any(|k| k == kind);
    println!(
        "| backend | writers | baseline rows/s | peer events/s | store cmds/s | store p50 / p99 | store CPU/cmd | store ÷ baseline | store ÷ peer | HTTP cmds/s | HTTP p50 / p99 | HTTP CPU/cmd | HTTP ÷ baseline | HTTP ÷ peer |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|");
    for backend in &o.backends {
        for &writers in &o.writers {
            let baseline = if wants("baseline") {
                Some(
                    repeat(o.rounds, || async {
                        if backend == "postgres" {
                            pgbench(writers, o.seconds).await
                        } else {
                            sqlite_loop(writers, o.seconds).await
                        }
                    })
                    .await?,
                )
            } else {
                None
            };
            let peer = match (&o.peer, backend.as_str()) {
                (Some(python), "postgres") => {
                    Some(repeat(o.rounds, || peer(python, writers, o.seconds)).await?)
                }
                _ => None,
            };
            let store = if wants("store") {
                Some(repeat(o.rounds, || through_store(backend, writers, o.seconds)).await?)
            } else {
                None
            };
            let http = if wants("http") {
                Some(repeat(o.rounds, || through_http(backend, writers, o.seconds)).await?)
            } else {
                None
            };
            println!(
                "| {backend} | {writers} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&baseline, rate),
                cell(&peer, rate),
                cell(&store, rate),
                cell(&store, |s| format!("{} / {}", ms(s.p50), ms(s.p99))),
                cell(&store, |s| ms(s.cpu)),
                ratio(&store, &baseline, true),
                ratio(&store, &peer, false),
                cell(&http, rate),
                cell(&http, |s| format!("{} / {}", ms(s.p50), ms(s.p99))),
                cell(&http, |s| ms(s.cpu)),
                ratio(&http, &baseline, true),
                ratio(&http, &peer, false),
            );
        }
    }
    Ok(())
}
