//! One conformance suite, run against both backends: every case is a generic async fn taking a
//! fresh `TestDb`, and the macro at the bottom instantiates each case once for SQLite and once
//! for PostgreSQL (which must be reachable: the PostgreSQL variants fail, never skip).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use common::{actor, Kind, Ledger, LedgerCommand, LedgerError, LedgerServices, TestDb};
use serde_json::{json, Value};
use store::{
    event_hash, verify_chain, ChainViolation, ExecuteError, FixedClock, Store, StoredEvent,
    GENESIS_HASH,
};

fn services() -> LedgerServices {
    LedgerServices::default()
}

async fn run(store: &Store, id: &str, command: LedgerCommand) -> usize {
    store
        .execute::<Ledger>(
            id,
            command,
            &services(),
            actor("officer-a@example.org"),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("command on {id} failed: {e}"))
        .version
}

async fn stream(db: &TestDb, id: &str) -> Vec<StoredEvent> {
    db.store
        .read_stream("Ledger", id)
        .await
        .expect("read the stream")
}

/// Opens `id` and deposits 100, 200, 300 fen: four events.
async fn four_events(db: &TestDb, id: &str) {
    run(&db.store, id, LedgerCommand::Open).await;
    for fen in [100, 200, 300] {
        run(&db.store, id, LedgerCommand::Deposit(fen)).await;
    }
}

fn clock_at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------------

async fn append_and_reload(db: TestDb) {
    let store = &db.store;
    assert_eq!(
        store.load::<Ledger>("acc-1").await.unwrap(),
        (Ledger::default(), 0)
    );
    assert_eq!(run(store, "acc-1", LedgerCommand::Open).await, 1);
    let committed = store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::DepositMany(vec![500, 250]),
            &services(),
            actor("officer-a@example.org"),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(committed.version, 3);
    assert_eq!(committed.events.len(), 2);
    assert_eq!(committed.events[1].sequence, 3);
    run(store, "acc-2", LedgerCommand::Open).await;

    let (ledger, version) = store.load::<Ledger>("acc-1").await.unwrap();
    assert_eq!(version, 3);
    assert_eq!(
        ledger,
        Ledger {
            opened: true,
            balance_fen: 750
        }
    );

    // A command that produces nothing leaves the version alone and stores nothing.
    let nothing = store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Nothing,
            &services(),
            HashMap::new(),
            Some(3),
        )
        .await
        .unwrap();
    assert_eq!((nothing.version, nothing.events.len()), (3, 0));

    // A refused command is reported as Rejected and stores nothing.
    let refused = store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Withdraw(10_000),
            &services(),
            HashMap::new(),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ExecuteError::Rejected(LedgerError::Overdraft {
                balance: 750,
                requested: 10_000
            })
        ),
        "{refused:?}"
    );
    assert_eq!(stream(&db, "acc-1").await.len(), 3);
    assert_eq!(
        store.aggregate_ids("Ledger").await.unwrap(),
        vec!["acc-1", "acc-2"]
    );
    assert!(store.aggregate_ids("Nothing").await.unwrap().is_empty());

    let events = stream(&db, "acc-1").await;
    assert_eq!(
        events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(events[1].event_type, "Deposited");
    assert_eq!(events[1].event_version, "1.0");
    assert_eq!(events[1].payload, json!({"Deposited": {"fen": 500}}));
}

async fn metadata_is_stamped_and_chain_verifies(db: TestDb) {
    let clock = FixedClock::new(clock_at("2025-03-01T08:00:00.123456789Z"));
    let store = db.store.clone().with_clock(Arc::new(clock.clone()));
    let mut metadata = actor("officer-b@example.org");
    // Keys the store owns are overwritten, whatever the caller sends.
    metadata.insert("hash".to_string(), "forged".to_string());
    metadata.insert("prev_hash".to_string(), "forged".to_string());
    let first = store
        .execute::<Ledger>("acc-1", LedgerCommand::Open, &services(), metadata, None)
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(90));
    let second = store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::DepositMany(vec![1, 2]),
            &services(),
            actor("officer-b@example.org"),
            Some(1),
        )
        .await
        .unwrap();

    let events = stream(&db, "acc-1").await;
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].metadata["recorded_at"],
        json!("2025-03-01T08:00:00.123456Z")
    );
    assert_eq!(
        events[0].recorded_at,
        clock_at("2025-03-01T08:00:00.123456Z")
    );
    assert_eq!(
        events[1].metadata["recorded_at"],
        json!("2025-03-01T08:01:30.123456Z")
    );
    assert_eq!(events[0].metadata["actor"], json!("officer-b@example.org"));
    assert_eq!(events[0].metadata["evidence"], json!("doc-2025-001"));
    assert_eq!(events[0].prev_hash, GENESIS_HASH);
    assert_eq!(events[1].prev_hash, events[0].hash);
    assert_eq!(events[2].prev_hash, events[1].hash);
    for event in &events {
        assert!(
            event.metadata.values().all(Value::is_string),
            "metadata values are strings"
        );
        assert_eq!(event.hash.len(), 64);
        assert!(event
            .hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let recomputed = event_hash(
            &event.aggregate_type,
            &event.aggregate_id,
            event.sequence,
            &event.event_type,
            &event.event_version,
            &event.payload,
            &event.metadata,
        );
        assert_eq!(recomputed, event.hash);
    }
    verify_chain(&events).expect("an untouched chain verifies");

    // The envelopes returned by execute carry the metadata exactly as stored.
    assert_eq!(first.events[0].metadata["hash"], events[0].hash);
    assert_eq!(second.events[1].metadata["hash"], events[2].hash);
    assert_eq!(second.events[0].metadata["prev_hash"], events[0].hash);
}

/// The hash rule, pinned to a value computed by hand from the README's description, so that an
/// accidental change of the rule fails here and not in an auditor's verifier.
#[test]
fn hash_rule_is_stable() {
    let metadata = json!({
        "actor": "officer-a@example.org",
        "recorded_at": "2025-03-01T08:00:00.000000Z",
        "prev_hash": GENESIS_HASH,
        "hash": "ignored",
    });
    let hash = event_hash(
        "Ledger",
        "acc-1",
        1,
        "Deposited",
        "1.0",
        &json!({"Deposited": {"fen": 500}}),
        metadata.as_object().unwrap(),
    );
    // sha256 of the canonical text below, computed independently with `sha256sum`.
    let canonical = r#"{"aggregate_id":"acc-1","aggregate_type":"Ledger","event_type":"Deposited","event_version":"1.0","metadata":{"actor":"officer-a@example.org","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","recorded_at":"2025-03-01T08:00:00.000000Z"},"payload":{"Deposited":{"fen":500}},"sequence":1}"#;
    use sha2::Digest;
    assert_eq!(
        hash,
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    assert_eq!(hash, HASH_RULE_VECTOR);
}

const HASH_RULE_VECTOR: &str = "9678f0c46a04be0c32de31dc16c12f8002ffc873dd87a73a383bfe3d23161036";

/// The finding: an approval of 9223372036854775807 changed in the database to
/// 9223372036854775500 still verified, because JCS hashes numbers as doubles. Now such a number
/// is never stored, so every stored number is hashed exactly; and the largest that is stored,
/// once altered by one, no longer verifies.
async fn numbers_beyond_2_53_are_never_stored(db: TestDb) {
    let store = &db.store;
    run(store, "acc-big", LedgerCommand::Open).await;
    for fen in [i64::MAX, (1 << 53), -(1 << 53)] {
        let refused = store
            .execute::<Ledger>(
                "acc-big",
                LedgerCommand::Deposit(fen),
                &services(),
                HashMap::new(),
                None,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ExecuteError::Store(store::StoreError::Unstorable(ref u)) if u.pointer.starts_with("/payload")),
            "{fen}: {refused:?}"
        );
    }
    assert_eq!(stream(&db, "acc-big").await.len(), 1, "nothing more stored");
    let largest = store::MAX_EXACT_INTEGER as i64;
    run(store, "acc-big", LedgerCommand::Deposit(largest)).await;
    verify_chain(&stream(&db, "acc-big").await).expect("untouched chain verifies");
    db.raw(&format!(
        r#"UPDATE events SET payload = '{{"Deposited":{{"fen":{}}}}}' WHERE aggregate_id = 'acc-big' AND sequence = 2"#,
        largest - 1
    ))
    .await;
    let violation = verify_chain(&stream(&db, "acc-big").await).unwrap_err();
    assert!(
        matches!(violation, ChainViolation::Altered { sequence: 2, .. }),
        "{violation:?}"
    );
}

async fn tampered_payload_is_detected(db: TestDb) {
    four_events(&db, "acc-1").await;
    verify_chain(&stream(&db, "acc-1").await).unwrap();
    let changed = db
        .raw(r#"UPDATE events SET payload = '{"Deposited":{"fen":999}}' WHERE aggregate_id = 'acc-1' AND sequence = 3"#)
        .await;
    assert_eq!(changed, 1);
    let violation = verify_chain(&stream(&db, "acc-1").await).unwrap_err();
    assert!(
        matches!(violation, ChainViolation::Altered { sequence: 3, .. }),
        "{violation:?}"
    );
    assert_eq!(violation.sequence(), 3);
    assert!(
        violation.to_string().contains("#3 was altered"),
        "{violation}"
    );
}

async fn removed_event_is_detected(db: TestDb) {
    four_events(&db, "acc-1").await;
    assert_eq!(
        db.raw("DELETE FROM events WHERE aggregate_id = 'acc-1' AND sequence = 2")
            .await,
        1
    );
    let violation = verify_chain(&stream(&db, "acc-1").await).unwrap_err();
    assert_eq!(
        violation,
        ChainViolation::SequenceGap {
            expected: 2,
            found: 3
        }
    );
}

async fn reordered_events_are_detected(db: TestDb) {
    four_events(&db, "acc-1").await;
    // Swap sequences 2 and 3 through a free number (the primary key forbids a direct swap).
    db.raw("UPDATE events SET sequence = 1000 WHERE aggregate_id = 'acc-1' AND sequence = 2")
        .await;
    db.raw("UPDATE events SET sequence = 2 WHERE aggregate_id = 'acc-1' AND sequence = 3")
        .await;
    db.raw("UPDATE events SET sequence = 3 WHERE aggregate_id = 'acc-1' AND sequence = 1000")
        .await;
    let violation = verify_chain(&stream(&db, "acc-1").await).unwrap_err();
    assert!(
        matches!(violation, ChainViolation::Altered { sequence: 2, .. }),
        "{violation:?}"
    );
}

async fn forged_events_are_detected(db: TestDb) {
    four_events(&db, "acc-1").await;
    let events = stream(&db, "acc-1").await;

    // A forger who knows the hash rule inserts a well-formed event #3, renumbering the rest.
    db.raw("UPDATE events SET sequence = sequence + 100 WHERE aggregate_id = 'acc-1' AND sequence >= 3").await;
    db.raw("UPDATE events SET sequence = sequence - 99 WHERE aggregate_id = 'acc-1' AND sequence >= 103").await;
    let mut metadata = serde_json::Map::new();
    metadata.insert("actor".into(), json!("forger@example.org"));
    metadata.insert("recorded_at".into(), json!("2025-03-01T08:00:00.000000Z"));
    metadata.insert("prev_hash".into(), json!(events[1].hash));
    let payload = json!({"Deposited": {"fen": 1_000_000}});
    let hash = event_hash(
        "Ledger",
        "acc-1",
        3,
        "Deposited",
        "1.0",
        &payload,
        &metadata,
    );
    metadata.insert("hash".into(), json!(hash));
    db.raw(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Ledger', 'acc-1', 3, 'Deposited', '1.0', '{payload}', '{}')",
        Value::Object(metadata)
    ))
    .await;
    let forged = stream(&db, "acc-1").await;
    assert_eq!(forged.len(), 5);
    let violation = verify_chain(&forged).unwrap_err();
    // The forged #3 itself is consistent; the renumbered original #3, now #4, is not.
    assert_eq!(violation.sequence(), 4, "{violation:?}");
    assert!(
        matches!(violation, ChainViolation::Altered { .. }),
        "{violation:?}"
    );

    // An event appended with a made-up hash is reported as altered.
    let other = "acc-2";
    four_events(&db, other).await;
    db.raw(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Ledger', '{other}', 5, 'Deposited', '1.0', '{{\"Deposited\":{{\"fen\":7}}}}', \
         '{{\"recorded_at\":\"2025-03-01T08:00:00.000000Z\",\"prev_hash\":\"{}\",\"hash\":\"{}\"}}')",
        stream(&db, other).await[3].hash,
        "ab".repeat(32)
    ))
    .await;
    let violation = verify_chain(&stream(&db, other).await).unwrap_err();
    assert!(
        matches!(violation, ChainViolation::Altered { sequence: 5, .. }),
        "{violation:?}"
    );
}

async fn concurrent_commits_conflict(db: TestDb) {
    let store = &db.store;
    four_events(&db, "acc-1").await;
    // Both commands load version 4, then both wait at the gate, then both commit.
    let gate = LedgerServices {
        gate: Some(Arc::new(tokio::sync::Barrier::new(2))),
    };
    let (a, b) = tokio::join!(
        store.execute::<Ledger>(
            "acc-1",
            LedgerCommand::DepositMany(vec![1, 2, 3]),
            &gate,
            actor("a@example.org"),
            Some(4)
        ),
        store.execute::<Ledger>(
            "acc-1",
            LedgerCommand::DepositMany(vec![10, 20]),
            &gate,
            actor("b@example.org"),
            Some(4)
        ),
    );
    let (winner_amounts, loser) = match (a, b) {
        (Ok(won), Err(lost)) => {
            assert_eq!(won.version, 7);
            (vec![1, 2, 3], lost)
        }
        (Err(lost), Ok(won)) => {
            assert_eq!(won.version, 6);
            (vec![10, 20], lost)
        }
        (a, b) => panic!("exactly one commit must win: {a:?} / {b:?}"),
    };
    assert!(matches!(loser, ExecuteError::Conflict), "{loser:?}");
    let events = stream(&db, "acc-1").await;
    assert_eq!(events.len(), 4 + winner_amounts.len());
    let deposited: Vec<i64> = events[4..]
        .iter()
        .map(|e| e.payload["Deposited"]["fen"].as_i64().unwrap())
        .collect();
    assert_eq!(deposited, winner_amounts);
    verify_chain(&events).expect("the chain is intact after a conflict");
    // The loser can retry against the new version and is chained after the winner.
    let version = events.len();
    let retried = store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Deposit(5),
            &services(),
            actor("b@example.org"),
            Some(version),
        )
        .await
        .unwrap();
    assert_eq!(retried.version, version + 1);
    verify_chain(&stream(&db, "acc-1").await).unwrap();
}

/// Two processes on one database (two `Store`s, each with its own state cache): a command decided
/// on a cached state that the other process has since extended is decided again on the stored
/// state, so the result is what an uncached store would have done, and the chain stays whole.
async fn a_stale_cached_state_is_never_trusted(db: TestDb) {
    let other = Store::connect(&db.url)
        .await
        .expect("a second store on the same database");
    four_events(&db, "acc-1").await; // balance 600, cached at version 4 in `db.store`
                                     // The other process withdraws everything behind the first one's back.
    assert_eq!(run(&other, "acc-1", LedgerCommand::Withdraw(600)).await, 5);
    // A command that the stale state (balance 600) would accept but the stored one refuses.
    let refused = db
        .store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Withdraw(500),
            &services(),
            actor("a@example.org"),
            None,
        )
        .await
        .expect_err("the stored balance is 0");
    assert!(
        matches!(
            refused,
            ExecuteError::Rejected(LedgerError::Overdraft {
                balance: 0,
                requested: 500
            })
        ),
        "{refused:?}"
    );
    // Two deposits decided on the stale state would take sequences 5 and 6: 5 is taken, 6 is
    // free. Neither is stored from the stale decision (no half of a command is ever kept); the
    // command is decided again and chained after the other process's event.
    assert_eq!(
        run(&db.store, "acc-1", LedgerCommand::DepositMany(vec![3, 4])).await,
        7
    );
    // Back in the other process (whose cached version 5 is now stale), a refusal the stale state
    // would make (balance 0) is checked against the stored state (balance 7) and accepted.
    assert_eq!(run(&other, "acc-1", LedgerCommand::Withdraw(7)).await, 8);
    // A caller that pins the version it saw (7, stale) hears so instead of a retry.
    let pinned = db
        .store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Deposit(1),
            &services(),
            actor("a@example.org"),
            Some(7),
        )
        .await
        .expect_err("version 8 is stored");
    assert!(
        matches!(
            pinned,
            ExecuteError::StaleVersion {
                expected: 7,
                actual: 8
            } | ExecuteError::Conflict
        ),
        "{pinned:?}"
    );
    let events = stream(&db, "acc-1").await;
    assert_eq!(
        events.len(),
        8,
        "nothing of a refused or stale command is stored"
    );
    let deposits: Vec<i64> = events[5..7]
        .iter()
        .map(|e| e.payload["Deposited"]["fen"].as_i64().unwrap())
        .collect();
    assert_eq!(
        deposits,
        vec![3, 4],
        "the retried command's events, in order"
    );
    verify_chain(&events).expect("the chain is whole across both processes");
    let (ledger, version) = db.store.load::<Ledger>("acc-1").await.unwrap();
    assert_eq!((ledger.balance_fen, version), (0, 8));
    let (ledger, version) = other.load::<Ledger>("acc-1").await.unwrap();
    assert_eq!((ledger.balance_fen, version), (0, 8));
}

async fn stale_expected_version_stores_nothing(db: TestDb) {
    four_events(&db, "acc-1").await;
    let before = db.store.last_position().await.unwrap();
    let error = db
        .store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Deposit(1),
            &services(),
            actor("a@example.org"),
            Some(3),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ExecuteError::StaleVersion {
                expected: 3,
                actual: 4
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("expected version 3, current version 4"),
        "{error}"
    );
    assert_eq!(db.store.last_position().await.unwrap(), before);
    assert_eq!(stream(&db, "acc-1").await.len(), 4);
}

async fn read_all_returns_everything_in_order(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.last_position().await.unwrap(), 0);
    assert!(store.read_all(0, 10).await.unwrap().is_empty());
    let mut expected = Vec::new();
    for round in 0..3 {
        for id in ["a", "b", "c"] {
            let command = if round == 0 {
                LedgerCommand::Open
            } else {
                LedgerCommand::DepositMany(vec![round, round])
            };
            run(store, id, command).await;
            let count = if round == 0 { 1 } else { 2 };
            let base = expected.iter().filter(|(i, _)| *i == id).count() as i64;
            for n in 1..=count {
                expected.push((id, base + n));
            }
        }
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.read_all(after, 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        for event in page {
            assert!(event.global_position > after, "positions strictly increase");
            after = event.global_position;
            seen.push((event.aggregate_id.clone(), event.sequence));
        }
    }
    let expected: Vec<(String, i64)> = expected
        .into_iter()
        .map(|(i, s)| (i.to_string(), s))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(store.last_position().await.unwrap(), after);
    assert!(store.read_all(after, 10).await.unwrap().is_empty());
    assert!(matches!(
        store.read_all(0, 0).await,
        Err(store::StoreError::InvalidArgument(_))
    ));
}

async fn load_as_of_replays_the_past(db: TestDb) {
    let t0 = clock_at("2025-03-01T08:00:00Z");
    let clock = FixedClock::new(t0);
    let store = db.store.clone().with_clock(Arc::new(clock.clone()));
    run(&store, "acc-1", LedgerCommand::Open).await;
    clock.set(t0 + chrono::Duration::hours(1));
    run(&store, "acc-1", LedgerCommand::Deposit(100)).await;
    clock.set(t0 + chrono::Duration::hours(2));
    run(&store, "acc-1", LedgerCommand::Deposit(50)).await;

    let before = store
        .load_as_of::<Ledger>("acc-1", t0 - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(before, (Ledger::default(), 0));
    let at_open = store.load_as_of::<Ledger>("acc-1", t0).await.unwrap();
    assert_eq!(
        at_open,
        (
            Ledger {
                opened: true,
                balance_fen: 0
            },
            1
        )
    );
    let between = store
        .load_as_of::<Ledger>("acc-1", t0 + chrono::Duration::minutes(90))
        .await
        .unwrap();
    assert_eq!(
        between,
        (
            Ledger {
                opened: true,
                balance_fen: 100
            },
            2
        )
    );
    let now = store
        .load_as_of::<Ledger>("acc-1", Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(now, store.load::<Ledger>("acc-1").await.unwrap());
    assert_eq!(now.1, 3);
}

async fn migrations_are_idempotent(db: TestDb) {
    four_events(&db, "acc-1").await;
    let again = Store::connect(&db.url)
        .await
        .expect("connecting a second time migrates nothing");
    let third = Store::connect(&db.url).await.expect("and a third time");
    assert_eq!(again.load::<Ledger>("acc-1").await.unwrap().1, 4);
    assert_eq!(
        third.last_position().await.unwrap(),
        db.store.last_position().await.unwrap()
    );
    run(&again, "acc-1", LedgerCommand::Deposit(1)).await;
    verify_chain(&stream(&db, "acc-1").await).unwrap();
}

/// 8 writers × 50 commands on distinct aggregates while a reader tails by position: the reader's
/// positions strictly increase and it sees every event exactly once.
async fn many_writers_and_a_tailing_reader(db: TestDb) {
    const WRITERS: usize = 8;
    const COMMANDS: usize = 50;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = db.store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut after = 0;
            let mut seen: Vec<(String, i64)> = Vec::new();
            loop {
                // Read the flag BEFORE reading: an empty page read after all writers finished
                // means everything committed has been seen.
                let finished = done.load(Ordering::SeqCst);
                let page = store.read_all(after, 64).await.expect("tail the store");
                for event in &page {
                    assert!(
                        event.global_position > after,
                        "position {} after {after}",
                        event.global_position
                    );
                    after = event.global_position;
                    seen.push((event.aggregate_id.clone(), event.sequence));
                }
                if page.is_empty() {
                    if finished {
                        return seen;
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(180),
                        "the reader timed out"
                    );
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let id = format!("writer-{w}");
                run(&store, &id, LedgerCommand::Open).await;
                for n in 1..COMMANDS {
                    run(&store, &id, LedgerCommand::Deposit(n as i64)).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer panicked");
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("the reader panicked");
    assert_eq!(seen.len(), WRITERS * COMMANDS, "every event once");
    let distinct: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), WRITERS * COMMANDS, "no event twice");
    for w in 0..WRITERS {
        let id = format!("writer-{w}");
        let sequences: Vec<i64> = seen
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            sequences,
            (1..=COMMANDS as i64).collect::<Vec<_>>(),
            "{id} in sequence order"
        );
        verify_chain(&stream(&db, &id).await).unwrap();
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::TestDb::new(super::Kind::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::TestDb::new(super::Kind::Postgres).await).await;
                }
            )*
        }
    };
}

conformance!(
    append_and_reload,
    numbers_beyond_2_53_are_never_stored,
    metadata_is_stamped_and_chain_verifies,
    tampered_payload_is_detected,
    removed_event_is_detected,
    reordered_events_are_detected,
    forged_events_are_detected,
    concurrent_commits_conflict,
    stale_expected_version_stores_nothing,
    read_all_returns_everything_in_order,
    load_as_of_replays_the_past,
    migrations_are_idempotent,
    many_writers_and_a_tailing_reader,
    a_stale_cached_state_is_never_trusted,
);
