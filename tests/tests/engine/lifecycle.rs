use api::Engine;
use cqrs_es::Aggregate;
use domain::{Stage, SubsidyProject};
use projections::ProjectsView;
use tests::{on_both_backends, Kind, TestDb};
use workflows::programme::ProgrammeRegistry;

fn engine(db: &TestDb) -> Engine {
    Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin())
}

/// The demo data walks projects of every shipped programme through every stage: the same
/// commands must give the same stages, money and chains on both backends.
async fn the_demo_data_loads_every_programme_in_every_stage(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.expect("demo data loads");

    let view = ProjectsView::load(&db.store).await.unwrap();
    assert_eq!(view.len(), 40);
    for programme in [
        "shandong-smart-lockers-2017",
        "yiyuan-express-to-villages-2021",
        "yiyuan-smart-lockers-2025",
    ] {
        let stages: std::collections::BTreeSet<Stage> = view
            .summaries()
            .into_iter()
            .filter(|s| s.programme_id == programme)
            .map(|s| s.stage)
            .collect();
        for stage in Stage::ALL.into_iter().filter(|s| *s != Stage::Unregistered) {
            assert!(
                stages.contains(&stage),
                "{programme} has no demo project in {stage}"
            );
        }
    }
    // A second load is refused rather than duplicating projects.
    let err = api::demo::load(&engine).await.unwrap_err().to_string();
    assert!(err.contains("empty store"), "{err}");
}

/// Replaying the whole store gives exactly the state that loading each project gives, and every
/// project's hash chain verifies.
async fn projections_equal_a_replay_of_each_project(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let view = ProjectsView::load(&db.store).await.unwrap();
    let ids = db.store.aggregate_ids(SubsidyProject::TYPE).await.unwrap();
    assert_eq!(ids.len(), view.len());
    for id in ids {
        let (loaded, version) = engine.load(&id).await.unwrap();
        let (projected, projected_version) = view.state(&id).expect("projected");
        assert_eq!(
            &loaded, projected,
            "{id}: projection differs from the aggregate"
        );
        assert_eq!(version as i64, projected_version);
        let events = db
            .store
            .read_stream(SubsidyProject::TYPE, &id)
            .await
            .unwrap();
        store::verify_chain(&events).unwrap_or_else(|v| panic!("{id}: {v}"));
        for e in &events {
            assert!(
                !e.metadata["actor"].as_str().unwrap().is_empty(),
                "{id}#{} has no actor",
                e.sequence
            );
        }
    }
    // Catching up incrementally after new events gives the same as a fresh load.
    let mut incremental = ProjectsView::load(&db.store).await.unwrap();
    let ctx = domain::CommandContext::new("officer.test");
    engine
        .execute(
            "demo-2021-17",
            &ctx,
            domain::ProjectCommand::SuspendProject {
                suspended_on: domain::fixtures::date(2021, 7, 30),
                reason: "台风".to_string(),
            },
            None,
        )
        .await
        .unwrap();
    incremental.catch_up(&db.store).await.unwrap();
    let fresh = ProjectsView::load(&db.store).await.unwrap();
    assert_eq!(incremental.summaries(), fresh.summaries());
    assert!(fresh.summary("demo-2021-17").unwrap().suspended);
}

/// A refused command stores nothing and says why.
async fn a_refused_command_stores_nothing(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let before = db.store.last_position().await.unwrap();
    // demo-2021-14 is in public notice: no money may move yet.
    let err = engine
        .execute(
            "demo-2021-14",
            &domain::CommandContext::new("officer.test"),
            domain::ProjectCommand::DisburseTranche {
                source: workflows::programme::FundSource::City,
                amount: domain::Fen(100),
                paid_on: domain::fixtures::date(2021, 6, 12),
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("public notice"), "{err}");
    assert_eq!(db.store.last_position().await.unwrap(), before);
}

on_both_backends!(
    the_demo_data_loads_every_programme_in_every_stage,
    projections_equal_a_replay_of_each_project,
    a_refused_command_stores_nothing,
);
