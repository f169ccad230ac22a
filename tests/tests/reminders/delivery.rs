//! Reminders through a real SMTP server process, on SQLite and PostgreSQL, with the demo data
//! and an injected clock at 2017-06-28 09:00 in Shanghai (the done-when date of the issue).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use api::reminders::config::MailArgs;
use api::reminders::{Scheduler, LEASE};
use api::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{CommandContext, Official, ProjectCommand};
use store::{Clock, FixedClock, Store};
use tests::{Kind, TestDb};
use workflows::programme::{OfficialRole, ProgrammeRegistry};

use crate::smtp::{decode_header, free_port, header, parts, SmtpServer};

/// 2017-06-28 09:00 Asia/Shanghai.
fn morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2017, 6, 28, 1, 0, 0).unwrap()
}

/// The demo data plus an English-speaking liaison on demo-2017-10, and the expected number of
/// reminders owed on 2017-06-28 (see `remind --at 2017-06-28 --dry-run`).
const OWED: usize = 10;

async fn demo_engine(db: &TestDb) -> Engine {
    let engine = Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin());
    api::demo::load(&engine).await.expect("demo data loads");
    engine
        .execute(
            "demo-2017-10",
            &CommandContext::new("officer.city"),
            ProjectCommand::AssignOfficial {
                role: OfficialRole::Liaison,
                official: Official {
                    name: "Alex Example".into(),
                    post: "Section chief".into(),
                    phone: None,
                    email: "alex.liaison@example.org".into(),
                    language: "en".into(),
                },
            },
            None,
        )
        .await
        .expect("assign an English-speaking liaison");
    engine
}

async fn engine_on(url: &str) -> Engine {
    let store = Store::connect(url)
        .await
        .expect("a second connection to the store");
    Engine::with_store(store, ProgrammeRegistry::builtin())
}

fn scheduler(engine: Engine, port: u16, clock: &FixedClock) -> Scheduler {
    Scheduler::new(
        engine,
        &MailArgs::plain_local(port),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
    )
    .expect("a scheduler")
}

/// Message-ID → how many times it arrived.
fn arrivals(server: &SmtpServer) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in server.messages() {
        let id = header(&m, "Message-ID").expect("every message has a Message-ID");
        *out.entry(id).or_insert(0) += 1;
    }
    out
}

fn assert_each_once(server: &SmtpServer, expected: usize) {
    let seen = arrivals(server);
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "sent more than once: {dupes:?}");
    assert_eq!(seen.len(), expected, "distinct messages received");
}

async fn reminders_arrive_with_recipients_subject_body_and_ics(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), dir.path()).await;
    let clock = FixedClock::new(morning());
    let s = scheduler(engine, server.port, &clock);

    let (enqueued, delivered) = s.tick().await.expect("tick");
    assert_eq!(enqueued.inserted, OWED, "{enqueued:?}");
    assert_eq!(delivered.delivered, OWED);
    let messages = server.messages();
    assert_eq!(messages.len(), OWED);

    // The English liaison of demo-2017-10 gets the report reminder in English.
    let en = messages
        .iter()
        .find(|m| header(m, "X-RcptTo").as_deref() == Some("alex.liaison@example.org"))
        .expect("the English liaison's reminder");
    let subject = decode_header(&header(en, "Subject").unwrap());
    assert!(subject.starts_with("[Reminder] "), "{subject}");
    assert!(subject.contains("due 2017-06-30"), "{subject}");
    let p = parts(en);
    let text = &p
        .iter()
        .find(|(t, _)| t.starts_with("text/plain"))
        .expect("plain part")
        .1;
    assert!(text.contains("Dear Alex Example"), "{text}");
    assert!(text.contains("https://subsidy.example.org/projects/demo-2017-10/deadlines"));
    assert!(p
        .iter()
        .any(|(t, b)| t.starts_with("text/html") && b.contains("<table>")));

    // The Chinese report reminder of demo-2017-13 to its liaison.
    let zh = messages
        .iter()
        .find(|m| {
            header(m, "X-RcptTo").as_deref() == Some("liaison.demo@example.org")
                && decode_header(&header(m, "Subject").unwrap()).contains("上报工作进展情况")
        })
        .expect("the Chinese report reminder");
    let subject = decode_header(&header(zh, "Subject").unwrap());
    assert!(subject.starts_with("【到期提醒】"), "{subject}");
    assert!(subject.contains("2017年6月30日"), "{subject}");
    let p = parts(zh);
    let text = &p
        .iter()
        .find(|(t, _)| t.starts_with("text/plain"))
        .unwrap()
        .1;
    assert!(text.contains("李示例科长：您好"), "{text}");
    assert!(text.contains("工作要求"), "{text}");
    // The basis of the date is written in Chinese too, not in the English of the dry run.
    assert!(text.contains("期限依据: 定期报送，2017-06-30 前"), "{text}");
    assert!(!text.contains("periodic report"), "{text}");
    let ics = &p
        .iter()
        .find(|(t, _)| t.starts_with("text/calendar"))
        .expect("an .ics attachment")
        .1;
    assert!(ics.contains("BEGIN:VEVENT"), "{ics}");
    assert!(ics.contains("DTSTART;VALUE=DATE:20170630"), "{ics}");
    assert!(ics.contains("DTEND;VALUE=DATE:20170701"), "{ics}");
    assert!(ics.contains("UID:deadline-"), "{ics}");

    // Overdue plan deadlines of demo-2017-01 are escalated to the official in charge.
    let escalations = messages
        .iter()
        .filter(|m| {
            header(m, "X-RcptTo").as_deref() == Some("leader.demo@example.org")
                && decode_header(&header(m, "Subject").unwrap()).starts_with("【逾期督办】")
        })
        .count();
    assert_eq!(
        escalations, 3,
        "install-plan, officials-list and notice-end escalate"
    );

    // Audit trail: every row sent, every attempt logged; a second tick sends nothing new.
    let rows = s.outbox().rows().await.unwrap();
    assert!(
        rows.iter().all(|r| r.status == "sent" && r.attempts == 1),
        "{rows:?}"
    );
    let log = s.outbox().deliveries().await.unwrap();
    assert_eq!(
        log.iter().filter(|l| l.outcome == "delivered").count(),
        OWED
    );
    let (again, delivered) = s.tick().await.unwrap();
    assert_eq!((again.inserted, again.already_recorded), (0, OWED));
    assert_eq!(delivered.delivered, 0);
    assert_each_once(&server, OWED);
}

async fn nothing_is_lost_while_the_server_is_down(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let port = free_port();
    let clock = FixedClock::new(morning());
    let s = scheduler(engine, port, &clock);

    let (enqueued, delivered) = s
        .tick()
        .await
        .expect("a tick with the server down still records");
    assert_eq!(enqueued.inserted, OWED);
    assert_eq!((delivered.delivered, delivered.retry_later), (0, OWED));
    let rows = s.outbox().rows().await.unwrap();
    assert!(rows
        .iter()
        .all(|r| r.status == "pending" && r.last_error.is_some()));
    let log = s.outbox().deliveries().await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|l| l.outcome == "transient_failure")
            .count(),
        OWED
    );

    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(port, dir.path()).await;
    // Backoff: nothing is retried before the next attempt is due…
    let (_, delivered) = s.tick().await.unwrap();
    assert_eq!(delivered.delivered, 0);
    // …and everything goes once it is (first backoff is 30 s).
    clock.advance(Duration::seconds(31));
    let (_, delivered) = s.tick().await.unwrap();
    assert_eq!(delivered.delivered, OWED);
    assert_each_once(&server, OWED);
    let rows = s.outbox().rows().await.unwrap();
    assert!(
        rows.iter().all(|r| r.status == "sent" && r.attempts == 2),
        "{rows:?}"
    );
}

async fn no_duplicate_after_a_restart_mid_batch(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), dir.path()).await;
    let clock = FixedClock::new(morning());

    let first = scheduler(engine, server.port, &clock);
    let plan = first
        .plan(chrono::NaiveDate::from_ymd_opt(2017, 6, 28).unwrap())
        .await
        .unwrap();
    first.enqueue(&plan).await.unwrap();
    let batch = first.claim(100).await.unwrap();
    assert_eq!(batch.len(), OWED);
    for claimed in &batch[..4] {
        first.deliver_one(claimed).await.unwrap();
    }
    // The process dies here: six rows stay claimed by it.
    drop(first);

    let second = scheduler(engine_on(&db.url).await, server.port, &clock);
    assert_eq!(
        second.deliver_ready().await.unwrap().delivered,
        0,
        "leases still held"
    );
    clock.advance(LEASE + Duration::seconds(1));
    let (enqueued, delivered) = second.tick().await.unwrap();
    assert_eq!(
        enqueued.inserted, 0,
        "everything was recorded before the crash"
    );
    assert_eq!(delivered.delivered, OWED - 4);
    assert_each_once(&server, OWED);
}

async fn two_schedulers_at_once_send_each_reminder_once(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), dir.path()).await;
    let clock = FixedClock::new(morning());
    let a = scheduler(engine, server.port, &clock);
    let b = scheduler(engine_on(&db.url).await, server.port, &clock);
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        let (ea, da) = ra.expect("scheduler a");
        let (eb, db_) = rb.expect("scheduler b");
        assert!(ea.inserted + eb.inserted <= OWED);
        assert_eq!(da.failed + db_.failed, 0);
    }
    tests::poll_until(
        "every reminder delivered",
        StdDuration::from_secs(30),
        || async { server.messages().len() >= OWED },
    )
    .await;
    assert_each_once(&server, OWED);
    let rows = a.outbox().rows().await.unwrap();
    assert_eq!(rows.len(), OWED);
    assert!(
        rows.iter().all(|r| r.status == "sent" && r.attempts == 1),
        "{rows:?}"
    );
}

tests::on_both_backends!(
    reminders_arrive_with_recipients_subject_body_and_ics,
    nothing_is_lost_while_the_server_is_down,
    no_duplicate_after_a_restart_mid_batch,
    two_schedulers_at_once_send_each_reminder_once,
);
