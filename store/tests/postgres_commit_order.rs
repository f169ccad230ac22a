//! PostgreSQL only: global positions are handed out in commit order even when a transaction that
//! inserted first commits late. (On SQLite the database lock serialises writers, which the
//! many-writers conformance case exercises.)

mod common;

use std::time::Duration;

use common::{actor, Ledger, LedgerCommand, LedgerServices, TestDb};
use store::StoredEvent;

/// Whether some session of THIS database waits for an advisory lock (the position lock).
async fn someone_waits_for_the_position_lock(pool: &sqlx::PgPool) -> bool {
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted",
    )
    .fetch_one(pool)
    .await
    .expect("read pg_locks");
    waiting > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_commit_never_gets_a_position_below_a_visible_one() {
    let db = TestDb::postgres().await;
    let store = db.store.clone();
    let pool = store.pool_postgres().expect("a PostgreSQL store").clone();

    // Writer 1: a raw transaction that inserts an event (the trigger assigns its position) and
    // stays open.
    let mut first = pool.begin().await.unwrap();
    let first_position: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('RawWriter', 'raw-1', 1, 'Raw', '1.0', '{}', '{\"recorded_at\":\"2025-03-01T08:00:00.000000Z\"}') \
         RETURNING global_position",
    )
    .fetch_one(&mut *first)
    .await
    .unwrap();

    // Writer 2: an ordinary command on another aggregate.
    let second = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .execute::<Ledger>(
                    "acc-2",
                    LedgerCommand::Open,
                    &LedgerServices::default(),
                    actor("b@example.org"),
                    None,
                )
                .await
        })
    };

    // Writer 2 reaches its INSERT and waits for writer 1's position lock.
    common::poll_until(
        "writer 2 waits for the position lock",
        Duration::from_secs(30),
        || someone_waits_for_the_position_lock(&pool),
    )
    .await;
    assert!(
        !second.is_finished(),
        "writer 2 committed while writer 1 was still open"
    );
    assert!(
        store.read_all(0, 100).await.unwrap().is_empty(),
        "nothing is visible while both are uncommitted"
    );

    first.commit().await.unwrap();

    // A tailing reader right after writer 1's commit: it sees writer 1, and writer 2 only after.
    let mut seen: Vec<StoredEvent> = store.read_all(0, 100).await.unwrap();
    assert_eq!(seen[0].aggregate_id, "raw-1");
    assert_eq!(seen[0].global_position, first_position);

    let committed = second
        .await
        .unwrap()
        .expect("writer 2 commits once writer 1 is done");
    assert_eq!(committed.version, 1);
    let after = seen.last().unwrap().global_position;
    seen.extend(store.read_all(after, 100).await.unwrap());
    let ids: Vec<&str> = seen.iter().map(|e| e.aggregate_id.as_str()).collect();
    assert_eq!(ids, vec!["raw-1", "acc-2"]);
    assert!(
        seen[1].global_position > first_position,
        "the later commit has the higher position"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_insert_leaves_only_a_gap() {
    let db = TestDb::postgres().await;
    let pool = db.store.pool_postgres().unwrap().clone();
    let mut doomed = pool.begin().await.unwrap();
    let lost: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('RawWriter', 'raw-1', 1, 'Raw', '1.0', '{}', '{}') RETURNING global_position",
    )
    .fetch_one(&mut *doomed)
    .await
    .unwrap();
    doomed.rollback().await.unwrap();
    db.store
        .execute::<Ledger>(
            "acc-1",
            LedgerCommand::Open,
            &LedgerServices::default(),
            actor("a@example.org"),
            None,
        )
        .await
        .unwrap();
    let events = db.store.read_all(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].global_position > lost);
    assert_eq!(
        db.store.last_position().await.unwrap(),
        events[0].global_position
    );
}
