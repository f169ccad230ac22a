use std::sync::Arc;

use api::Engine;
use cqrs_es::Aggregate;
use domain::{CommandContext, Fen, ProjectCommand, SubsidyProject};
use store::ExecuteError;
use tests::{on_both_backends, Kind, TestDb};
use workflows::programme::{FundSource, ProgrammeRegistry};

/// Ten officers pay one fen each into the same project at the same moment. Every attempt either
/// lands or gets a conflict; nothing is lost or doubled, and the chain stays intact.
async fn officers_acting_at_once_conflict_and_nothing_is_lost(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = Arc::new(Engine::with_store(
        db.store.clone(),
        ProgrammeRegistry::builtin(),
    ));
    api::demo::load(&engine).await.unwrap();
    // demo-2021-17 is in construction with city funds approved and 60 % paid.
    let id = "demo-2021-17";
    let (before, version_before) = engine.load(id).await.unwrap();
    let paid_before = before.funds[&FundSource::City].paid;

    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for n in 0..10 {
        let engine = engine.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            engine
                .execute(
                    id,
                    &CommandContext::new(format!("officer.{n}")),
                    ProjectCommand::DisburseTranche {
                        source: FundSource::City,
                        amount: Fen(1),
                        paid_on: domain::fixtures::date(2021, 7, 1),
                    },
                    None,
                )
                .await
        }));
    }
    let mut landed = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => landed += 1,
            Err(ExecuteError::Conflict) => conflicts += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(landed + conflicts, 10);
    assert!(landed >= 1);
    let (after, version_after) = engine.load(id).await.unwrap();
    assert_eq!(
        after.funds[&FundSource::City].paid,
        Fen(paid_before.0 + landed)
    );
    assert_eq!(version_after, version_before + landed as usize);
    let events = db
        .store
        .read_stream(SubsidyProject::TYPE, id)
        .await
        .unwrap();
    store::verify_chain(&events).unwrap();
}

/// An officer acting on a version someone else has already moved past is told so, and nothing
/// is stored.
async fn a_stale_expected_version_is_refused(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin());
    api::demo::load(&engine).await.unwrap();
    let id = "demo-2021-17";
    let (_, version) = engine.load(id).await.unwrap();
    let cmd = || ProjectCommand::ExtendDeadline {
        deadline_id: "village-points".to_string(),
        until: domain::fixtures::date(2021, 8, 31),
        reason: "汛期".to_string(),
    };
    let ctx = CommandContext::new("officer.a");
    let committed = engine
        .execute(id, &ctx, cmd(), Some(version))
        .await
        .unwrap();
    assert_eq!(committed.version, version + 1);
    match engine
        .execute(id, &CommandContext::new("officer.b"), cmd(), Some(version))
        .await
    {
        Err(ExecuteError::StaleVersion { expected, actual }) => {
            assert_eq!((expected, actual), (version, version + 1))
        }
        other => panic!("expected a stale version, got {other:?}"),
    }
    assert_eq!(engine.load(id).await.unwrap().1, version + 1);
}

on_both_backends!(
    officers_acting_at_once_conflict_and_nothing_is_lost,
    a_stale_expected_version_is_refused,
);
