use std::sync::Arc;

use api::Engine;
use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use domain::fixtures::{date, plan_form, VILLAGES_2021};
use domain::{
    CommandContext, DocumentRef, JurisdictionCode, ProjectCommand, Stage, SubsidyProject,
};
use store::FixedClock;
use tests::{on_both_backends, Kind, TestDb};
use workflows::programme::ProgrammeRegistry;

/// Every event records who, when and on what evidence; an auditor sees the state as of any
/// past moment; altering a stored event is detected.
async fn history_records_actor_time_evidence_and_detects_tampering(kind: Kind) {
    let db = TestDb::new(kind).await;
    let t0: DateTime<Utc> = "2021-06-03T01:00:00Z".parse().unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let store = db.store.clone().with_clock(clock.clone());
    let engine = Engine::with_store(store.clone(), ProgrammeRegistry::builtin());
    let ctx = CommandContext::new("officer.yiyuan").with_evidence(DocumentRef {
        title: "立项通知".to_string(),
        reference: "示例文〔2021〕1号".to_string(),
        sha256: None,
    });
    let id = engine
        .register(
            &ctx,
            ProjectCommand::RegisterProject {
                name: "示例镇快递进村".to_string(),
                programme_id: VILLAGES_2021.to_string(),
                programme_version: 1,
                jurisdiction: JurisdictionCode::parse("370323").unwrap(),
                description: String::new(),
                registered_on: date(2021, 6, 3),
            },
        )
        .await
        .unwrap();
    clock.advance(Duration::days(4));
    engine
        .execute(
            &id,
            &CommandContext::new("officer.other"),
            ProjectCommand::SubmitPlan {
                submitted_on: date(2021, 6, 7),
                form: plan_form(VILLAGES_2021, "示例镇", date(2021, 6, 7)),
            },
            None,
        )
        .await
        .unwrap();

    let events = store.read_stream(SubsidyProject::TYPE, &id).await.unwrap();
    let history = projections::history::history(&id, &events).unwrap();
    assert_eq!(history.chain_violation, None);
    let first = &history.entries[0];
    assert_eq!(first.actor, "officer.yiyuan");
    assert_eq!(first.recorded_at, t0);
    assert_eq!(first.evidence[0].reference, "示例文〔2021〕1号");
    assert_eq!(first.prev_hash, store::GENESIS_HASH);
    assert_eq!(history.entries[1].prev_hash, first.hash);
    assert_eq!(history.entries[1].actor, "officer.other");

    // As of a moment between the two commands, the plan was not yet submitted.
    let (then, version) = store
        .load_as_of::<SubsidyProject>(&id, t0 + Duration::days(1))
        .await
        .unwrap();
    assert_eq!((then.stage, version), (Stage::Registered, 1));
    let (now, _) = store.load::<SubsidyProject>(&id).await.unwrap();
    assert_eq!(now.stage, Stage::PlanSubmitted);

    // Someone edits the stored plan behind the engine's back: the chain names the event.
    let sql = format!(
        "UPDATE events SET payload = REPLACE(payload{cast}, '示例镇', '某镇'){back} WHERE aggregate_id = '{id}' AND sequence = 2",
        cast = if kind == Kind::Postgres { "::text" } else { "" },
        back = if kind == Kind::Postgres { "::json" } else { "" },
    );
    match (store.pool_sqlite(), store.pool_postgres()) {
        (Some(p), _) => sqlx_exec_sqlite(p, &sql).await,
        (_, Some(p)) => sqlx_exec_postgres(p, &sql).await,
        _ => unreachable!(),
    }
    let events = store.read_stream(SubsidyProject::TYPE, &id).await.unwrap();
    let history = projections::history::history(&id, &events).unwrap();
    let violation = history.chain_violation.expect("tampering is detected");
    assert!(violation.contains('2'), "{violation}");
}

async fn sqlx_exec_sqlite(pool: &sqlx::SqlitePool, sql: &str) {
    assert_eq!(
        sqlx::query(sql)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected(),
        1
    );
}

async fn sqlx_exec_postgres(pool: &sqlx::PgPool, sql: &str) {
    assert_eq!(
        sqlx::query(sql)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected(),
        1
    );
}

on_both_backends!(history_records_actor_time_evidence_and_detects_tampering);
