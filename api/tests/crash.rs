//! Crash consistency (issue 8, "Hardening"): `subsidy serve` runs as a child process over a
//! fresh store (an SQLite file in a temporary data directory, or a fresh PostgreSQL database),
//! with a real SMTP server (aiosmtpd) and a reminder tick every second, under a steady load of
//! four clients that send valid commands, each with its own `Idempotency-Key`, and record every
//! answer. The server is killed with SIGKILL at random moments (a seeded delay of 50–600 ms; set
//! `CRASH_SEED` to repeat a run), some of them right as a reminder reaches the SMTP server, and
//! started again. Afterwards:
//!
//! - every 2xx answer's events are in the store, under the answer's project and sequences, with
//!   the answer's event types and hashes and the request's key and user;
//! - every stream has no sequence gap and its hash chain verifies (`store::verify_chain`);
//! - every key whose answer was lost (connection reset, no answer) gets 2xx on retry — the
//!   replayed answer, or the command run now — and never 409 `idempotency.in_progress` once the
//!   lease (shortened with `SUBSIDY_IDEMPOTENCY_LEASE_SECS`) has run out; then every key sent is
//!   in exactly one event (no command ran twice, none was lost);
//! - every reminder owed is in the outbox, every outbox row is sent and its Message-ID arrived;
//!   a message that arrived twice is only the documented window (ARCHITECTURE.md, `api::reminders`:
//!   accepted by the SMTP server, killed before the row was marked sent): the same bytes and
//!   Message-ID, and an attempt whose outcome was never logged for each extra copy;
//! - [`check_projections`]: the read models folded from the store agree with the write side.
//!
//! A second test kills the first start itself (demo accounts and demo data on an empty store)
//! mid-way, twice, and checks that the next start finishes it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::http::bootstrap::{DEMO_ACCOUNTS, DEMO_PASSWORD as PASSWORD};
use api::reminders::config::MailArgs;
use api::reminders::{shanghai_today, Scheduler};
use api::Engine;
use cqrs_es::Aggregate;
use domain::SubsidyProject;
use projections::ProjectsView;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tests::smtp::{free_port, header, SmtpServer};
use tests::{Kind, TestDb};
use tokio::sync::watch;
use workflows::programme::ProgrammeRegistry;

/// Kills per backend.
const KILLS: usize = 22;
/// Every `REMINDER_KILL_EVERY`-th kill waits for a reminder to reach the SMTP server and
/// strikes right then, in the middle of a delivery batch.
const REMINDER_KILL_EVERY: usize = 3;
/// The idempotency lease and the reminder lease of the server under test (seconds).
const LEASE_SECS: u64 = 2;
/// Concurrent clients.
const CLIENTS: usize = 4;

const VILLAGES_2021: &str = domain::fixtures::VILLAGES_2021;

// ------------------------------------------------------------------------------ the server

/// How to start the server under test, again and again over the same store.
struct ServerSpec {
    data_dir: PathBuf,
    database_url: Option<String>,
    /// The SMTP server reminders go to; `None` runs without reminders.
    smtp_port: Option<u16>,
    log: PathBuf,
}

/// A running `subsidy serve` child process; killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl ServerSpec {
    /// Starts the server process; the receiver gets the URL it prints on stdout.
    fn spawn(&self) -> (Child, tokio::sync::oneshot::Receiver<String>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the server log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_subsidy"));
        command.arg("--data-dir").arg(&self.data_dir);
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("SUBSIDY_DATABASE_URL")
            .env_remove("SUBSIDY_DATA_DIR")
            .env_remove("SUBSIDY_REMINDERS")
            .env_remove("SUBSIDY_TLS")
            .env("SUBSIDY_IDEMPOTENCY_LEASE_SECS", LEASE_SECS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.try_clone().unwrap()));
        match self.smtp_port {
            Some(port) => command
                .env("SUBSIDY_SMTP_HOST", "127.0.0.1")
                .env("SUBSIDY_SMTP_PORT", port.to_string())
                .env("SUBSIDY_SMTP_TLS", "none")
                .env("SUBSIDY_BASE_URL", "https://subsidy.example.org")
                .env("SUBSIDY_REMIND_EVERY_SECS", "1")
                .env("SUBSIDY_REMINDER_LEASE_SECS", LEASE_SECS.to_string()),
            None => command.env("SUBSIDY_REMINDERS", "off"),
        };
        let mut child = command.spawn().expect("start subsidy serve");
        // The URL line on stdout; everything the server prints goes to the log as well.
        let stdout = child.stdout.take().unwrap();
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut log = log;
            let mut url_tx = Some(url_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(tx) = url_tx.take() {
                        let _ = tx.send(url);
                    }
                }
            }
        });
        (child, url_rx)
    }

    /// Starts the server, reads the URL it prints on stdout and waits (bounded) for `/readyz`.
    async fn start(&self, http: &reqwest::Client) -> Server {
        let (child, url_rx) = self.spawn();
        // Killed when dropped, also if this panics.
        let mut server = Server {
            child,
            base: String::new(),
        };
        let base = match tokio::time::timeout(Duration::from_secs(60), url_rx).await {
            Ok(Ok(url)) => url,
            _ => {
                panic!(
                    "subsidy serve printed no URL; its log:\n{}",
                    log_tail(&self.log)
                );
            }
        };
        tests::poll_until(
            "the restarted server to answer /readyz",
            Duration::from_secs(30),
            || async {
                http.get(format!("{base}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            },
        )
        .await;
        server.base = base;
        server
    }
}

impl Server {
    /// SIGKILL, then reaps the process. Returns its pid (a scheduler's worker name holds it).
    fn kill(mut self) -> u32 {
        let pid = self.child.id();
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
        pid
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

// ------------------------------------------------------------------------------ the clients

/// One command as sent (and, for a lost answer, sent again).
#[derive(Debug, Clone)]
struct Request {
    user: &'static str,
    path: String,
    body: Value,
    key: String,
}

#[derive(Debug, Clone)]
enum Answer {
    Reply {
        status: u16,
        body: Value,
        replayed: bool,
    },
    /// No answer: connection refused or reset, or the body cut off.
    Lost(String),
}

async fn send(http: &reqwest::Client, base: &str, token: &str, request: &Request) -> Answer {
    let sent = http
        .post(format!("{base}{}", request.path))
        .bearer_auth(token)
        .header("Idempotency-Key", &request.key)
        .json(&request.body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return Answer::Lost(format!("{e:?}")),
    };
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    match response.text().await {
        Ok(text) => Answer::Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            replayed,
        },
        Err(e) => Answer::Lost(format!("{e:?}")),
    }
}

/// What the clients share with the test: the server's URL (None while it is down), the bearer
/// tokens (sessions are stored, so they outlive restarts) and the stop flag.
struct Shared {
    base: watch::Receiver<Option<String>>,
    tokens: BTreeMap<&'static str, String>,
    stop: AtomicBool,
    http: reqwest::Client,
}

fn official(client: usize, n: usize) -> Value {
    let role = if n.is_multiple_of(2) {
        "liaison"
    } else {
        "official_in_charge"
    };
    json!({"role": role, "official": {"name": format!("联络员{client}-{n}"), "post": "科长",
        "email": format!("official.c{client}.n{n}@example.org")}})
}

/// A date between the 2021 programme's registration and today's overdue range, so that the
/// extended deadline is overdue again and owes new reminders.
fn extension_until(rng: &mut StdRng) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2021, 7, 1).unwrap();
    (start + chrono::Duration::days(rng.gen_range(0..1900))).to_string()
}

/// Each client has its own projects, so that no two clients conflict on one version:
/// 0 and 1 assign officials (each new address is owed the project's open reminders) on a demo
/// project of Yiyuan county and of a pilot city; 2 registers projects and extends their
/// deadlines; 3 extends the deadlines of a demo project (each new due date owes new reminders).
fn next_request(
    client: usize,
    n: usize,
    rng: &mut StdRng,
    own: &mut Option<String>,
    deadlines: &[String],
) -> Request {
    let key = format!("crash-c{client}-{n}-{}", uuid::Uuid::new_v4().simple());
    let extend = |rng: &mut StdRng, project: &str| Request {
        user: "supervisor.zibo",
        path: format!("/projects/{project}/deadline-extensions"),
        body: json!({"deadline_id": deadlines[rng.gen_range(0..deadlines.len())],
            "until": extension_until(rng), "reason": format!("汛期顺延 {client}-{n}")}),
        key: key.clone(),
    };
    match client {
        0 => Request {
            user: "officer.yiyuan",
            path: "/projects/demo-2021-29/officials".into(),
            body: official(client, n),
            key,
        },
        1 => Request {
            user: "officer.city",
            path: "/projects/demo-2017-25/officials".into(),
            body: official(client, n),
            key,
        },
        2 => match own {
            Some(project) if !n.is_multiple_of(4) => extend(rng, project),
            _ => Request {
                user: "officer.yiyuan",
                path: "/projects".into(),
                body: json!({"name": format!("崩溃测试项目 {n}"), "programme_id": VILLAGES_2021,
                    "programme_version": 1, "jurisdiction": "370323", "registered_on": "2021-06-03"}),
                key,
            },
        },
        _ => extend(rng, "demo-2021-26"),
    }
}

/// One client: sends commands while the server is up until told to stop; returns every
/// request with its answer.
async fn client(shared: Arc<Shared>, client: usize, seed: u64) -> Vec<(Request, Answer)> {
    let mut rng = StdRng::seed_from_u64(seed ^ (client as u64 + 1).wrapping_mul(0x9e37_79b9));
    let deadlines: Vec<String> = ProgrammeRegistry::builtin()
        .get(VILLAGES_2021, 1)
        .expect("the 2021 programme")
        .deadlines
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let mut base = shared.base.clone();
    let mut own: Option<String> = None;
    let mut sent = Vec::new();
    // A steady pace rather than as fast as possible: the machine is shared.
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    for n in 0.. {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        pace.tick().await;
        let url = tokio::time::timeout(Duration::from_secs(120), base.wait_for(|u| u.is_some()))
            .await
            .expect("the server comes back")
            .expect("the test still runs")
            .clone()
            .unwrap();
        let request = next_request(client, n, &mut rng, &mut own, &deadlines);
        let answer = send(&shared.http, &url, &shared.tokens[request.user], &request).await;
        if let Answer::Reply {
            status: 201, body, ..
        } = &answer
        {
            own = body["project_id"].as_str().map(String::from);
        }
        sent.push((request, answer));
    }
    sent
}

async fn log_in(http: &reqwest::Client, base: &str, user: &str) -> String {
    let response = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .expect("log in");
    assert_eq!(response.status(), 200, "log-in of {user}");
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

// ------------------------------------------------------------------------------ the checks

/// The read models folded from the store agree with the write side. Today: `ProjectsView`
/// (the project list) equals each project's `load` (state and version). Persisted projections
/// are to be checked here too. Returns the number of projects compared.
async fn check_projections(db: &TestDb) -> usize {
    let engine = Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin());
    let view = ProjectsView::load(&db.store)
        .await
        .expect("the project list folds from the store");
    let ids = db
        .store
        .aggregate_ids(SubsidyProject::TYPE)
        .await
        .expect("list the projects");
    assert_eq!(view.len(), ids.len(), "the list holds every project");
    // The persisted read models, as the killed servers left them and then caught up, equal a
    // rebuild from zero, table by table, row by row.
    let runtime = engine.projections();
    runtime.prepare().await.expect("prepare the read models");
    runtime.catch_up().await.expect("catch up the read models");
    for name in runtime.names() {
        let live = runtime.dump(name).await.expect("read the live tables");
        runtime
            .rebuild(name, |_, _| {})
            .await
            .expect("rebuild from zero");
        let rebuilt = runtime.dump(name).await.expect("read the rebuilt tables");
        assert_eq!(
            live, rebuilt,
            "projection {name}: live tables differ from a rebuild"
        );
    }
    for id in &ids {
        let (state, version) = engine.load(id).await.expect("load a project");
        let (listed, listed_version) = view.state(id).expect("the project is listed");
        assert_eq!(listed, &state, "project {id}: the list's state");
        assert_eq!(
            listed_version as usize, version,
            "project {id}: the list's version"
        );
    }
    ids.len()
}

/// Every 2xx answer's events are in the store: (events checked).
fn check_acknowledged(
    acknowledged: &[(Request, Value)],
    streams: &BTreeMap<String, Vec<store::StoredEvent>>,
) -> usize {
    let mut checked = 0;
    for (request, body) in acknowledged {
        let id = body["project_id"].as_str().expect("a project id");
        let stream = streams
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged project {id} is not in the store: {body}"));
        let events = body["events"].as_array().expect("the answer's events");
        assert!(!events.is_empty(), "{body}");
        for e in events {
            let sequence = e["sequence"].as_i64().unwrap();
            let stored = stream
                .iter()
                .find(|s| s.sequence == sequence)
                .unwrap_or_else(|| panic!("{id}#{sequence}, acknowledged, is not stored"));
            assert_eq!(stored.event_type, e["event_type"], "{id}#{sequence}");
            assert_eq!(
                stored.hash, e["hash"],
                "{id}#{sequence}: the acknowledged hash"
            );
            assert_eq!(
                stored.metadata.get("idempotency_key"),
                Some(&Value::String(request.key.clone())),
                "{id}#{sequence} was appended under the request's key"
            );
            assert_eq!(
                stored.metadata.get("actor"),
                Some(&Value::String(request.user.to_string())),
                "{id}#{sequence}"
            );
            checked += 1;
        }
        assert_eq!(
            body["version"].as_i64(),
            events.last().unwrap()["sequence"].as_i64(),
            "{body}"
        );
    }
    checked
}

/// A stored message without the headers aiosmtpd adds (`X-Peer` names the client's port).
fn as_sent(message: &str) -> String {
    message
        .replace("\r\n", "\n")
        .lines()
        .filter(|l| !l.starts_with("X-Peer:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Summary of one backend's run, for the report.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    kills_in_batch: usize,
    requests: usize,
    acknowledged: usize,
    events_checked: usize,
    lost: usize,
    retried_replayed: usize,
    retried_ran: usize,
    streams: usize,
    reminders: usize,
    duplicates: usize,
}

// ------------------------------------------------------------------------------ the test

async fn crash_consistency(kind: Kind) {
    let started = Instant::now();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(rand::random);
    println!("{kind:?}: CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let db = TestDb::new(kind).await;
    let smtp_dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), smtp_dir.path()).await;
    let spec = ServerSpec {
        data_dir: db.dir.path().to_path_buf(),
        database_url: (kind == Kind::Postgres).then(|| db.url.clone()),
        smtp_port: Some(smtp.port),
        log: db.dir.path().join("serve.log"),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut server = spec.start(&http).await;
    let first_start = started.elapsed();
    let mut tokens = BTreeMap::new();
    for user in ["officer.yiyuan", "officer.city", "supervisor.zibo"] {
        tokens.insert(user, log_in(&http, &server.base, user).await);
    }
    let (base_tx, base_rx) = watch::channel(Some(server.base.clone()));
    let shared = Arc::new(Shared {
        base: base_rx,
        tokens,
        stop: AtomicBool::new(false),
        http: http.clone(),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(client(shared.clone(), c, seed)))
        .collect();

    let mut tally = Tally::default();
    let mut last_kill = Instant::now();
    for k in 0..KILLS {
        if k % REMINDER_KILL_EVERY == REMINDER_KILL_EVERY - 1 {
            // Strike as a reminder arrives: the batch it belongs to is being delivered.
            let before = smtp.count();
            // 30 s: on two shared cores under the whole suite's load, the scheduler's first tick
            // after a restart and the delivery can take more than 10 s (seen once in CI-like load).
            let arrived = tokio::time::timeout(Duration::from_secs(30), async {
                while smtp.count() == before {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
            .await;
            if arrived.is_err() {
                let pending: i64 = count(
                    &db,
                    "SELECT COUNT(*) FROM reminder_outbox WHERE status = 'pending'",
                )
                .await;
                let sent: i64 = count(
                    &db,
                    "SELECT COUNT(*) FROM reminder_outbox WHERE status = 'sent'",
                )
                .await;
                panic!(
                    "{kind:?}: no reminder reached the SMTP server in 30 s \
                     (outbox: {pending} pending, {sent} sent)\nserver log:\n{}",
                    log_tail(&spec.log)
                );
            }
        } else {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(50..=600))).await;
        }
        base_tx.send_replace(None);
        let pid = server.kill();
        last_kill = Instant::now();
        tally.kills += 1;
        // Rows still leased by the dead scheduler: it was killed mid-batch.
        let held: i64 = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM reminder_outbox WHERE status = 'pending' AND claimed_by LIKE '%-{pid}-%'"
            ),
        )
        .await;
        if held > 0 {
            tally.kills_in_batch += 1;
        }
        server = spec.start(&http).await;
        base_tx.send_replace(Some(server.base.clone()));
    }
    shared.stop.store(true, Ordering::SeqCst);
    let mut records = Vec::new();
    for c in clients {
        records.extend(c.await.expect("a client"));
    }
    tally.requests = records.len();
    let load_done = started.elapsed();

    // Every answer that came is a success; a lost one is retried with its key.
    let mut acknowledged: Vec<(Request, Value)> = Vec::new();
    let mut lost: Vec<(Request, String)> = Vec::new();
    for (request, answer) in records {
        match answer {
            Answer::Reply {
                status: 200 | 201,
                body,
                ..
            } => acknowledged.push((request, body)),
            Answer::Reply { status, body, .. } => panic!(
                "{kind:?}: {} {} answered {status}: {body}\nserver log:\n{}",
                request.user,
                request.path,
                log_tail(&spec.log)
            ),
            Answer::Lost(error) => lost.push((request, error)),
        }
    }
    tally.acknowledged = acknowledged.len();
    tally.lost = lost.len();
    let retries_started = Instant::now();
    // Every claim a killed server left behind has run out by then.
    let lease_over = last_kill + Duration::from_secs(LEASE_SECS) + Duration::from_secs(1);
    for (request, first_error) in &lost {
        loop {
            tally.requests += 1;
            match send(&http, &server.base, &shared.tokens[request.user], request).await {
                Answer::Reply {
                    status: 200 | 201,
                    body,
                    replayed,
                } => {
                    if replayed {
                        tally.retried_replayed += 1;
                    } else {
                        tally.retried_ran += 1;
                    }
                    acknowledged.push((request.clone(), body));
                    break;
                }
                Answer::Reply { status: 409, body, .. }
                    if body["code"] == "idempotency.in_progress" && Instant::now() < lease_over =>
                {
                    // The dead claimant's lease has not run out yet: poll.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Answer::Reply { status, body, .. } => panic!(
                    "{kind:?}: retrying key {} ({} {}, first lost: {first_error}) answered {status}: {body}",
                    request.key, request.user, request.path
                ),
                Answer::Lost(e) => panic!("{kind:?}: the retry of {} got no answer: {e}", request.key),
            }
        }
    }

    let retries = retries_started.elapsed();

    // The store: every stream gap-free and chained; every acknowledged event there; every key
    // sent in exactly one event.
    let mut streams = BTreeMap::new();
    for id in db.store.aggregate_ids(SubsidyProject::TYPE).await.unwrap() {
        let events = db
            .store
            .read_stream(SubsidyProject::TYPE, &id)
            .await
            .unwrap();
        if let Err(violation) = store::verify_chain(&events) {
            panic!("{kind:?}: the chain of {id} does not verify: {violation:?}");
        }
        streams.insert(id, events);
    }
    tally.streams = streams.len();
    tally.events_checked = check_acknowledged(&acknowledged, &streams);
    let mut by_key: BTreeMap<&str, usize> = BTreeMap::new();
    for event in streams.values().flatten() {
        if let Some(key) = event
            .metadata
            .get("idempotency_key")
            .and_then(|k| k.as_str())
        {
            *by_key.entry(key).or_default() += 1;
        }
    }
    let keys: BTreeSet<&str> = acknowledged.iter().map(|(r, _)| r.key.as_str()).collect();
    assert_eq!(
        keys.len(),
        acknowledged.len(),
        "{kind:?}: one answer per key"
    );
    for key in &keys {
        assert_eq!(
            by_key.get(key),
            Some(&1),
            "{kind:?}: key {key} in exactly one event"
        );
    }
    assert_eq!(
        by_key.len(),
        keys.len(),
        "{kind:?}: no event under a key never sent"
    );
    check_projections(&db).await;

    // Reminders: let the server settle (every reminder owed recorded, every row sent, nothing
    // received that is not in the outbox), then compare the outbox with the mailbox.
    let planner = Scheduler::new(
        Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin()),
        &MailArgs::plain_local(smtp.port),
        Arc::new(store::SystemClock),
    )
    .unwrap();
    let plan = planner
        .plan(shanghai_today(chrono::Utc::now()))
        .await
        .unwrap();
    assert!(!plan.reminders.is_empty(), "{kind:?}: reminders are owed");
    let owed: BTreeSet<String> = plan.reminders.iter().map(|r| r.key()).collect();
    let outbox = planner.outbox().clone();
    let settle_started = Instant::now();
    // A row is marked sent only after the SMTP server accepted it (and aiosmtpd stores a message
    // before it answers), so this waits for the deliveries, including the rows a killed
    // scheduler held until their lease ran out; what arrived is compared below.
    tests::poll_until(
        "every reminder owed recorded and every outbox row sent",
        Duration::from_secs(60),
        || async {
            let rows = outbox.rows().await.unwrap();
            let recorded: BTreeSet<&str> = rows.iter().map(|r| r.reminder_key.as_str()).collect();
            rows.iter().all(|r| r.status == "sent")
                && owed.iter().all(|k| recorded.contains(k.as_str()))
        },
    )
    .await;
    let settle = settle_started.elapsed();
    let mut arrivals: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in smtp.messages() {
        let id = header(&m, "Message-ID").expect("every message has a Message-ID");
        arrivals.entry(id).or_default().push(as_sent(&m));
    }
    // Read after the mailbox: every message that arrived has its row.
    let rows = outbox.rows().await.unwrap();
    let deliveries = outbox.deliveries().await.unwrap();
    let recorded: BTreeSet<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    for id in arrivals.keys() {
        assert!(
            recorded.contains(id.as_str()),
            "{kind:?}: {id} arrived but is in no outbox row"
        );
    }
    for row in &rows {
        assert_eq!(row.status, "sent", "{kind:?}: {row:?}");
        let copies = arrivals
            .get(&row.message_id)
            .unwrap_or_else(|| panic!("{kind:?}: reminder {} never arrived", row.reminder_key));
        let extra = copies.len() - 1;
        if extra > 0 {
            // Only the window: each extra copy is an attempt killed before its outcome was
            // recorded, and it is the very same message.
            let logged = deliveries.iter().filter(|d| d.outbox_id == row.id).count() as i64;
            assert!(
                extra as i64 <= row.attempts - logged,
                "{kind:?}: {} arrived {} times, but only {} of its {} attempts went unrecorded",
                row.message_id,
                copies.len(),
                row.attempts - logged,
                row.attempts
            );
            assert!(
                copies.iter().all(|c| c == &copies[0]),
                "{kind:?}: the copies of {} differ",
                row.message_id
            );
            tally.duplicates += extra;
        }
    }
    tally.reminders = rows.len();
    drop(server);

    println!(
        "{kind:?}: {} kills ({} mid reminder batch), {} requests, {} acknowledged with {} events \
         checked, {} answers lost and retried ({} replayed, {} ran now), {} streams verified, \
         {} reminders checked, {} duplicate(s) in the documented window; first start {:.1?}, \
         load {:.1?}, retries {:.1?}, settling {:.1?}, total {:.1?}",
        tally.kills,
        tally.kills_in_batch,
        tally.requests,
        tally.acknowledged,
        tally.events_checked,
        tally.lost,
        tally.retried_replayed,
        tally.retried_ran,
        tally.streams,
        tally.reminders,
        tally.duplicates,
        first_start,
        load_done - first_start,
        retries,
        settle,
        started.elapsed()
    );
    assert_eq!(tally.kills, KILLS);
    assert!(
        tally.kills_in_batch > 0,
        "{kind:?}: no kill landed in a reminder batch: {tally:?}"
    );
    assert!(tally.lost > 0, "{kind:?}: no answer was lost: {tally:?}");
}

/// The first column of the first row of `sql`, an integer.
async fn count(db: &TestDb, sql: &str) -> i64 {
    match (db.store.pool_sqlite(), db.store.pool_postgres()) {
        (Some(pool), _) => sqlx::query_scalar(sql).fetch_one(pool).await,
        (_, Some(pool)) => sqlx::query_scalar(sql).fetch_one(pool).await,
        _ => unreachable!("a store has one pool"),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_load() {
    crash_consistency(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_load() {
    crash_consistency(Kind::Postgres).await
}

/// How many projects the demo data set holds (`api/tests/cli.rs` checks the same number).
const DEMO_PROJECTS: usize = 40;

/// Starts the server and kills it once `ready` holds (polled), or once it has started (it
/// printed its URL: the first start is over); returns the state it left: (accounts, projects,
/// last position).
async fn kill_when<F, Fut>(
    spec: &ServerSpec,
    db: &TestDb,
    what: &str,
    mut ready: F,
) -> (i64, usize, i64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (child, mut url) = spec.spawn();
    // Killed when dropped, also if this panics.
    let server = Server {
        child,
        base: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready().await && url.try_recv().is_err() {
        assert!(
            Instant::now() < deadline,
            "timed out after 60 s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    let accounts = count(db, "SELECT COUNT(*) FROM http_users").await;
    let projects = db
        .store
        .aggregate_ids(SubsidyProject::TYPE)
        .await
        .unwrap()
        .len();
    (accounts, projects, db.store.last_position().await.unwrap())
}

/// A first start killed mid-way: `serve` on an empty store creates the demo accounts and loads
/// the demo data set. Killed once while it is at one of them, and once more at a random number
/// of demo events, the next start must finish the job: every demo account logs in, every demo
/// project exists, every chain verifies.
async fn a_first_start_killed_mid_way_is_finished_by_the_next(kind: Kind) {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(rand::random);
    println!("{kind:?}: CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let db = TestDb::new(kind).await;
    let spec = ServerSpec {
        data_dir: db.dir.path().to_path_buf(),
        database_url: (kind == Kind::Postgres).then(|| db.url.clone()),
        smtp_port: None,
        log: db.dir.path().join("serve.log"),
    };
    let accounts = rng.gen_range(1..DEMO_ACCOUNTS.len() as i64);
    let events = rng.gen_range(1..400);
    let first = kill_when(&spec, &db, "some accounts or demo events", || async {
        count(&db, "SELECT COUNT(*) FROM http_users").await >= accounts
            || db.store.last_position().await.unwrap() >= events
    })
    .await;
    let before = first.2;
    let events = before + rng.gen_range(1..200);
    let second = kill_when(&spec, &db, "more demo events", || async {
        db.store.last_position().await.unwrap() >= events
    })
    .await;

    let http = reqwest::Client::new();
    let server = spec.start(&http).await;
    for (user, _, _) in DEMO_ACCOUNTS {
        let response = http
            .post(format!("{}/auth/login", server.base))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{kind:?}: demo account {user} after first starts killed at {first:?} and {second:?} \
             (accounts, projects, position)"
        );
    }
    let ids = db.store.aggregate_ids(SubsidyProject::TYPE).await.unwrap();
    assert_eq!(
        ids.len(),
        DEMO_PROJECTS,
        "{kind:?}: the demo projects after first starts killed at {first:?} and {second:?}: {ids:?}"
    );
    for id in &ids {
        let events = db
            .store
            .read_stream(SubsidyProject::TYPE, id)
            .await
            .unwrap();
        if let Err(violation) = store::verify_chain(&events) {
            panic!("{kind:?}: the chain of {id} does not verify: {violation:?}");
        }
    }
    let last = db.store.last_position().await.unwrap();
    for (n, state) in [first, second].iter().enumerate() {
        assert!(
            state.0 < DEMO_ACCOUNTS.len() as i64 || state.2 < last,
            "{kind:?}: kill {n} did not land in the first start: {state:?}"
        );
    }
    println!("{kind:?}: first start killed at {first:?} and {second:?} (accounts, projects, position), finished by the next");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_first_start_killed_mid_way_is_finished_by_the_next() {
    a_first_start_killed_mid_way_is_finished_by_the_next(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_first_start_killed_mid_way_is_finished_by_the_next() {
    a_first_start_killed_mid_way_is_finished_by_the_next(Kind::Postgres).await
}
