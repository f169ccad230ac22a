//! The scale benchmarks of the persisted projections (BENCHMARKS.md, "Persisted projections at
//! scale") on a store made by the `scale_data` example.
//!
//! Run: `cargo run --release -p tests --example scale_bench -- (--database-url URL | --data-dir DIR)
//! --subsidy target/release/subsidy [--runs 5] [--seconds 10] [--clients 64] [--rebuilds 1] [--no-http]
//! [--days 2017-06-28,2021-07-07,2025-05-20]`
//!
//! Measures, each figure several times in the same run: (a) the baseline, reading every event
//! in position order (PostgreSQL `COPY … TO STDOUT`; SQLite a full `SELECT`); (b) a full rebuild
//! of every projection (`Runtime::rebuild` of each); (c) the reminder scan of a day
//! (`plan_reminders_persisted`); (d) `subsidy serve` start-up to the first 200 from `/readyz` and
//! its resident memory; (e) 64 concurrent keep-alive clients on `GET /projects?jurisdiction=<a
//! province>` and on `GET /projects/{id}` of the started server: requests/s, p50, p99.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use futures::TryStreamExt;
use projections::sql::Val;
use serde_json::{json, Value};
use workflows::programme::ProgrammeRegistry;

const PROVINCES: [&str; 5] = ["370000", "320000", "440000", "510000", "330000"];
const PASSWORD: &str = "scale-bench-password";
const USER: &str = "scale.auditor";

struct Args {
    url: String,
    data_dir: Option<String>,
    subsidy: String,
    runs: usize,
    seconds: u64,
    clients: usize,
    rebuilds: usize,
    http: bool,
    days: Vec<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        url: String::new(),
        data_dir: None,
        subsidy: "target/release/subsidy".into(),
        runs: 5,
        seconds: 10,
        clients: 64,
        rebuilds: 1,
        http: true,
        days: vec![
            "2017-06-28".into(),
            "2021-07-07".into(),
            "2025-05-20".into(),
        ],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database-url" => a.url = value()?,
            "--data-dir" => {
                let dir = value()?;
                a.url = format!("sqlite://{dir}/{}?mode=rwc", store::SQLITE_FILE_NAME);
                a.data_dir = Some(dir);
            }
            "--subsidy" => a.subsidy = value()?,
            "--runs" => a.runs = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--clients" => a.clients = value()?.parse()?,
            "--rebuilds" => a.rebuilds = value()?.parse()?,
            "--no-http" => a.http = false,
            "--days" => a.days = value()?.split(',').map(str::to_string).collect(),
            other => bail!("unknown argument {other}"),
        }
    }
    if a.url.is_empty() {
        bail!("--database-url URL or --data-dir DIR is required");
    }
    Ok(a)
}

/// min / median / max of a set of durations, in milliseconds.
fn spread(xs: &[f64]) -> String {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    format!(
        "median {:.1} ms (min {:.1}, max {:.1}, n = {})",
        v[v.len() / 2],
        v[0],
        v[v.len() - 1],
        v.len()
    )
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// (a) Every event in position order, as the database hands it out; returns (ms, bytes).
async fn baseline(store: &store::Store) -> anyhow::Result<(f64, u64)> {
    let t = Instant::now();
    let mut bytes = 0u64;
    if let Some(pool) = store.pool_postgres() {
        let mut conn = pool.acquire().await?;
        let mut stream = conn
            .copy_out_raw("COPY (SELECT * FROM events ORDER BY global_position) TO STDOUT")
            .await?;
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
        }
    } else if let Some(pool) = store.pool_sqlite() {
        let mut rows = sqlx::query_as::<_, (String, String, i64, String, String, String, String, i64)>(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position FROM events ORDER BY global_position",
        )
        .fetch(pool);
        while let Some(r) = rows.try_next().await? {
            bytes +=
                (r.0.len() + r.1.len() + r.3.len() + r.4.len() + r.5.len() + r.6.len() + 16) as u64;
        }
    }
    Ok((t.elapsed().as_secs_f64() * 1000.0, bytes))
}

/// (c) The reminder scan of one day from the live deadlines slot; returns (ms, reminders).
async fn scan(
    runtime: &projections::Runtime,
    registry: &ProgrammeRegistry,
    day: NaiveDate,
) -> anyhow::Result<(f64, usize, usize)> {
    let (slot, _) = runtime
        .live(projections::deadlines::DEADLINES)
        .await?
        .context("the deadlines projection is not built")?;
    let t = Instant::now();
    let plan = projections::deadlines::plan_reminders_persisted(
        runtime.db(),
        &slot,
        registry,
        workflows::calendar::WorkingCalendar::official(),
        day,
    )
    .await?;
    Ok((
        t.elapsed().as_secs_f64() * 1000.0,
        plan.reminders.len(),
        plan.problems.len(),
    ))
}

fn subsidy(args: &Args) -> Command {
    let mut c = Command::new(&args.subsidy);
    match &args.data_dir {
        Some(dir) => c.args(["--data-dir", dir]),
        None => c.args(["--database-url", &args.url]),
    };
    c
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// (d) Spawns `subsidy serve` and waits for the first 200 from /readyz; returns the child and
/// the milliseconds it took.
async fn start_server(
    args: &Args,
    port: u16,
    client: &reqwest::Client,
) -> anyhow::Result<(Child, f64)> {
    let log = std::fs::File::create(format!("/tmp/scale_bench_serve_{port}.log"))?;
    let t = Instant::now();
    let child = subsidy(args)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SUBSIDY_REMINDERS", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if let Ok(r) = client.get(&url).send().await {
            if r.status() == 200 {
                break;
            }
        }
        if t.elapsed() > Duration::from_secs(120) {
            bail!("subsidy serve not ready after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((child, t.elapsed().as_secs_f64() * 1000.0))
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

struct Load {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

/// (e) `clients` keep-alive clients, each sending the next URL as soon as its last answer is read,
/// for `seconds`. Latency is from send to the last body byte.
async fn load(
    clients: usize,
    seconds: u64,
    token: &str,
    urls: Arc<Vec<String>>,
) -> anyhow::Result<Load> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let urls = urls.clone();
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("a client");
            let mut times = Vec::new();
            let mut errors = 0;
            let mut i = c * 7919;
            while Instant::now() < deadline {
                let url = &urls[i % urls.len()];
                i += 1;
                let t = Instant::now();
                match client.get(url).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        times.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (times, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (times, e) = t.await?;
        all.extend(times);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    if all.is_empty() {
        bail!("no request succeeded ({errors} errors)");
    }
    Ok(Load {
        requests: all.len(),
        errors,
        per_second: all.len() as f64 / elapsed,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        max: all[all.len() - 1],
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let store = store::Store::connect(&args.url).await?;
    let backend = store.backend_name();
    let registry = ProgrammeRegistry::builtin();
    let calendar = workflows::calendar::WorkingCalendar::official();
    let runtime = projections::Runtime::standard(&store, &registry, calendar);
    let head = store.last_position().await?;
    println!("== {backend}: {head} events");

    // (a) + (b): baselines before and after each rebuild, side by side.
    let mut baselines = Vec::new();
    let mut rebuilds = Vec::new();
    let rebuild_runs = args.rebuilds;
    for run in 0..=rebuild_runs {
        let (ms, bytes) = baseline(&store).await?;
        println!("baseline run {run}: {ms:.0} ms, {} MB", bytes / 1_000_000);
        baselines.push(ms);
        if run == rebuild_runs {
            break;
        }
        runtime.prepare().await?;
        let t = Instant::now();
        for name in runtime.names() {
            let tn = Instant::now();
            runtime.rebuild(name, |_, _| {}).await?;
            println!(
                "rebuild run {run}: {name} {:.1} s",
                tn.elapsed().as_secs_f64()
            );
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "rebuild run {run}: all {:.1} s, {:.0} events/s",
            ms / 1000.0,
            head as f64 / (ms / 1000.0)
        );
        rebuilds.push(ms);
    }
    println!(
        "baseline (read every event in order): {}",
        spread(&baselines)
    );
    if !rebuilds.is_empty() {
        println!(
            "full rebuild of every projection: {}; ratio to the baseline median {:.1}x",
            spread(&rebuilds),
            median(&rebuilds) / median(&baselines)
        );
    }
    for s in runtime.status().await? {
        println!(
            "projection {} slot {} live {} position {} rows {}",
            s.name, s.slot, s.live, s.position, s.rows
        );
    }

    // (c) The reminder scan, one day of each programme year.
    for day in &args.days {
        let day: NaiveDate = day.parse()?;
        let mut times = Vec::new();
        let mut owed = (0, 0);
        for _ in 0..args.runs {
            let (ms, n, problems) = scan(&runtime, &registry, day).await?;
            times.push(ms);
            owed = (n, problems);
        }
        println!(
            "reminder scan {day}: {} reminders, {} problems: {}",
            owed.0,
            owed.1,
            spread(&times)
        );
    }

    if !args.http {
        return Ok(());
    }

    // (d) Start-up of `subsidy serve` and its memory.
    let status = subsidy(&args)
        .args([
            "users",
            "add",
            USER,
            "--role",
            "auditor",
            "--password",
            PASSWORD,
        ])
        .args(PROVINCES.iter().flat_map(|p| ["--jurisdiction", p]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    println!("users add: {status} (fails harmlessly when the account exists)");
    let probe = reqwest::Client::new();
    let port = 18_080 + (std::process::id() % 1000) as u16;
    let mut startups = Vec::new();
    let mut rss_start = Vec::new();
    let mut server = None;
    for run in 0..args.runs.min(5) {
        if let Some(child) = server.take() {
            stop(child)?;
        }
        let (child, ms) = start_server(&args, port, &probe).await?;
        let rss = rss_kib(child.id());
        println!(
            "serve start-up run {run}: ready in {ms:.0} ms, VmRSS {} MiB",
            rss / 1024
        );
        startups.push(ms);
        rss_start.push(rss as f64 / 1024.0);
        server = Some(child);
    }
    let child = server.context("a server")?;
    println!("serve start-up: {}", spread(&startups));
    println!(
        "serve VmRSS after start: median {:.0} MiB",
        median(&rss_start)
    );

    // (e) 64 concurrent clients.
    let base = format!("http://127.0.0.1:{port}");
    let login: Value = probe
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"]
        .as_str()
        .with_context(|| format!("log-in failed: {login}"))?
        .to_string();
    let (slot, _) = runtime
        .live(projections::projects::PROJECTS)
        .await?
        .context("projects projection")?;
    let ids: Vec<String> = runtime
        .db()
        .fetch_all(
            &format!("SELECT id FROM project_summaries_{slot} ORDER BY id"),
            &[],
        )
        .await?
        .iter()
        .map(|r: &Vec<Val>| r[0].text())
        .collect();
    let step = (ids.len() / 5000).max(1);
    let by_id: Vec<String> = ids
        .iter()
        .step_by(step)
        .map(|id| format!("{base}/projects/{id}"))
        .collect();
    let lists: Vec<String> = PROVINCES
        .iter()
        .map(|p| format!("{base}/projects?jurisdiction={p}"))
        .collect();
    let first: Value = probe
        .get(&lists[0])
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "GET {} → total {}",
        lists[0],
        first.get("total").cloned().unwrap_or(Value::Null)
    );
    for (what, urls) in [
        ("GET /projects?jurisdiction=<province>", lists),
        ("GET /projects/{id}", by_id),
    ] {
        let urls = Arc::new(urls);
        let mut p99s = Vec::new();
        let mut p50s = Vec::new();
        let mut rates = Vec::new();
        for run in 0..3 {
            let l = load(args.clients, args.seconds, &token, urls.clone()).await?;
            println!(
                "{what} run {run}: {} clients, {} requests ({} errors), {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                args.clients, l.requests, l.errors, l.per_second, l.p50, l.p99, l.max
            );
            p99s.push(l.p99);
            p50s.push(l.p50);
            rates.push(l.per_second);
        }
        println!(
            "{what}: req/s median {:.0} (min {:.0}, max {:.0}); p50 {}; p99 {}",
            median(&rates),
            rates.iter().cloned().fold(f64::MAX, f64::min),
            rates.iter().cloned().fold(0.0, f64::max),
            spread(&p50s),
            spread(&p99s)
        );
    }
    println!(
        "serve VmRSS after the load: {} MiB",
        rss_kib(child.id()) / 1024
    );
    stop(child)?;
    Ok(())
}
