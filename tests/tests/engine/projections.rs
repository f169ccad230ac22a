//! The persisted read models (`projections::runtime`): the live tables after a mixed run equal a
//! rebuild from zero, row for row; a crash between applying and committing, and two runners
//! racing, change nothing; a rebuild under load never shows an empty or half table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use api::Engine;
use cqrs_es::Aggregate;
use domain::{CommandContext, ProjectCommand, SubsidyProject};
use projections::projects::{all_ledger_rows, all_rows};
use projections::runtime::{Fault, Step};
use projections::sql::Val;
use projections::{ProjectsView, Runtime, PROJECTS};
use tests::{on_both_backends, Kind, TestDb};
use workflows::programme::{OfficialRole, ProgrammeRegistry};

fn engine(db: &TestDb) -> Engine {
    Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin())
}

fn standard(store: &store::Store) -> Runtime {
    Runtime::standard(
        store,
        &ProgrammeRegistry::builtin(),
        workflows::calendar::WorkingCalendar::official(),
    )
}

type Rows = (Vec<Vec<Val>>, Vec<Vec<Val>>);

/// Every row of the live summaries and ledger.
async fn live_rows(rt: &Runtime) -> Rows {
    let (slot, _) = rt.live(PROJECTS).await.unwrap().expect("built");
    (
        all_rows(rt.db(), &slot).await.unwrap(),
        all_ledger_rows(rt.db(), &slot).await.unwrap(),
    )
}

/// Rebuilds from zero (in the other slot, then swaps) and returns its rows.
async fn rebuilt_rows(rt: &Runtime) -> Rows {
    let before = rt.live(PROJECTS).await.unwrap().unwrap().0;
    rt.rebuild(PROJECTS, |_, _| {}).await.unwrap();
    let after = rt.live(PROJECTS).await.unwrap().unwrap().0;
    assert_ne!(before, after, "a rebuild swaps to the other slot");
    live_rows(rt).await
}

/// An officer's command that always succeeds on a demo project: name the liaison again.
fn liaison(n: usize) -> ProjectCommand {
    ProjectCommand::AssignOfficial {
        role: OfficialRole::Liaison,
        official: domain::fixtures::official(
            &format!("联络员{n}"),
            "科员",
            &format!("liaison{n}@example.org"),
        ),
    }
}

async fn some_commands(engine: &Engine, from: usize, count: usize) {
    let ctx = CommandContext::new("officer.test");
    // Demo projects of the 2021 programme in stages that accept an official.
    const OPEN: [&str; 10] = [
        "demo-2021-02",
        "demo-2021-05",
        "demo-2021-08",
        "demo-2021-11",
        "demo-2021-14",
        "demo-2021-17",
        "demo-2021-20",
        "demo-2021-23",
        "demo-2021-26",
        "demo-2021-29",
    ];
    for n in from..from + count {
        let id = OPEN[n % OPEN.len()];
        engine.execute(id, &ctx, liaison(n), None).await.unwrap();
    }
}

/// The live tables, caught up while the demo data and more commands were written, equal a
/// rebuild from zero, and every project's state equals the in-memory fold of its events.
async fn live_tables_equal_a_rebuild(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    let rt = Arc::new(standard(&db.store));
    rt.prepare().await.unwrap();
    let stop = tokio_util_like_stop();
    let runner = tokio::spawn(rt.clone().run(stop.wait()));
    api::demo::load(&engine).await.unwrap();
    some_commands(&engine, 0, 40).await;
    let head = db.store.last_position().await.unwrap();
    let (_, reached, ok) = rt
        .wait_for(PROJECTS, head, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(ok, "the runner reached {reached} of {head}");
    stop.fire();
    runner.await.unwrap();

    let live = live_rows(&rt).await;
    assert_eq!(live.0.len(), 40);
    assert!(
        live.1.len() > 40,
        "the ledger has the demo's money movements"
    );
    let view = ProjectsView::load(&db.store).await.unwrap();
    for id in db.store.aggregate_ids(SubsidyProject::TYPE).await.unwrap() {
        let (slot, _) = rt.live(PROJECTS).await.unwrap().unwrap();
        let (summary, state) = projections::projects::get(rt.db(), &slot, &id)
            .await
            .unwrap()
            .expect("every project has a row");
        let (folded, version) = view.state(&id).unwrap();
        assert_eq!(
            &state, folded,
            "{id}: the row's state is the fold of its events"
        );
        assert_eq!(summary.version, version);
        assert_eq!(summary, view.summary(&id).unwrap());
    }
    assert_eq!(live, rebuilt_rows(&rt).await, "live equals a rebuild");
}

/// A runner that dies after applying a batch but before committing it leaves nothing behind:
/// the next run applies the same events once.
async fn a_crash_between_apply_and_commit_changes_nothing(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let rt = standard(&db.store);
    rt.prepare().await.unwrap();
    let mut faults = 0;
    loop {
        rt.inject_fault(Fault::BeforeCommit);
        match rt.step(PROJECTS, "a").await {
            Err(projections::ProjectionError::Fault(_)) => faults += 1,
            other => panic!("the armed fault must fire: {other:?}"),
        }
        let position_after_fault = rt.live(PROJECTS).await.unwrap().unwrap().1;
        match rt.step(PROJECTS, "a").await.unwrap() {
            Step::Applied { position, .. } => assert!(position > position_after_fault),
            Step::Idle { .. } => break,
            Step::Gone => panic!("slot a is live"),
        }
        some_commands(&engine, faults * 3, 3).await;
        if faults > 8 {
            break;
        }
    }
    rt.catch_up().await.unwrap();
    assert!(faults >= 2, "faults fired: {faults}");
    assert_eq!(live_rows(&rt).await, rebuilt_rows(&rt).await);
}

/// Two runners (two server processes, each with its own pool) catching up the same projection
/// at once, while commands arrive, apply every event exactly once.
async fn two_runners_racing_apply_each_event_once(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let other_store = store::Store::connect(&db.url).await.unwrap();
    let first = Arc::new(standard(&db.store));
    let second = Arc::new(standard(&other_store));
    let (a, b) = tokio::join!(first.prepare(), second.prepare());
    a.unwrap();
    b.unwrap();
    let writing = async {
        some_commands(&engine, 0, 30).await;
    };
    let racing = |rt: Arc<Runtime>| async move {
        for _ in 0..20 {
            rt.catch_up().await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(writing, racing(first.clone()), racing(second.clone()));
    first.catch_up().await.unwrap();
    second.catch_up().await.unwrap();
    let live = live_rows(&first).await;
    assert_eq!(live, live_rows(&second).await);
    assert_eq!(live, rebuilt_rows(&first).await);
}

/// While commands keep arriving and a runner keeps the live slot current, a rebuild fills the
/// other slot and swaps: every read meanwhile sees a whole table (all projects, never fewer
/// than before), first from the old slot, then from the new.
async fn a_rebuild_under_load_never_shows_a_half_table(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let rt = Arc::new(standard(&db.store));
    rt.prepare().await.unwrap();
    rt.catch_up().await.unwrap();
    let stop = tokio_util_like_stop();
    let runner = tokio::spawn(rt.clone().run(stop.wait()));
    let done = Arc::new(AtomicBool::new(false));
    let slots_seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let rt = rt.clone();
        let done = done.clone();
        let slots_seen = slots_seen.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                let (slot, _) = rt.live(PROJECTS).await.unwrap().unwrap();
                let rows = all_rows(rt.db(), &slot).await.unwrap();
                assert_eq!(
                    rows.len(),
                    40,
                    "a read of slot {slot} saw {} rows",
                    rows.len()
                );
                {
                    let mut seen = slots_seen.lock().unwrap();
                    if seen.last() != Some(&slot) {
                        seen.push(slot);
                    }
                }
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    let writer = {
        let engine = engine.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                some_commands(&engine, n, 1).await;
                n += 1;
            }
            n
        })
    };
    // Let the writer and reader run, then rebuild under their feet.
    tests::poll_until(
        "commands and reads under way",
        Duration::from_secs(10),
        || async { db.store.last_position().await.unwrap() > 530 },
    )
    .await;
    rt.rebuild(PROJECTS, |_, _| {}).await.unwrap();
    let before_more = db.store.last_position().await.unwrap();
    tests::poll_until(
        "the reader on the new slot while commands keep arriving",
        Duration::from_secs(10),
        || {
            let (db, slots_seen) = (&db, &slots_seen);
            async move {
                slots_seen.lock().unwrap().last().map(String::as_str) == Some("b")
                    && db.store.last_position().await.unwrap() > before_more + 5
            }
        },
    )
    .await;
    done.store(true, Ordering::SeqCst);
    let reads = reader.await.unwrap();
    let written = writer.await.unwrap();
    assert_eq!(
        *slots_seen.lock().unwrap(),
        vec!["a".to_string(), "b".to_string()],
        "after {reads} reads"
    );
    assert!(written > 0);
    let head = db.store.last_position().await.unwrap();
    assert!(
        rt.wait_for(PROJECTS, head, Duration::from_secs(20))
            .await
            .unwrap()
            .2
    );
    stop.fire();
    runner.await.unwrap();
    assert_eq!(live_rows(&rt).await, rebuilt_rows(&rt).await);
}

/// The projects projection as a newer code version would be: same tables, version 2.
struct NextVersion;

#[async_trait::async_trait]
impl projections::SqlProjection for NextVersion {
    fn name(&self) -> &'static str {
        PROJECTS
    }
    fn version(&self) -> i64 {
        projections::ProjectsProjection.version() + 1
    }
    fn create(&self, slot: &str) -> Vec<String> {
        projections::ProjectsProjection.create(slot)
    }
    fn tables(&self, slot: &str) -> Vec<String> {
        projections::ProjectsProjection.tables(slot)
    }
    async fn apply(
        &self,
        tx: &mut projections::sql::Tx,
        slot: &str,
        events: &[store::StoredEvent],
    ) -> Result<(), projections::ProjectionError> {
        projections::ProjectsProjection
            .apply(tx, slot, events)
            .await
    }
}

/// A server started with a new code version of a projection builds it in the other slot while
/// the old version keeps serving, then swaps, without replaying anything at start-up.
async fn a_new_code_version_is_built_beside_the_old_one(kind: Kind) {
    use projections::SqlProjection;
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let old = standard(&db.store);
    old.prepare().await.unwrap();
    old.catch_up().await.unwrap();
    let served = live_rows(&old).await;

    let new = Runtime::new(&db.store, vec![Arc::new(NextVersion)]);
    let said = new.prepare().await.unwrap();
    let (v, next) = (
        projections::ProjectsProjection.version(),
        NextVersion.version(),
    );
    let expected = format!("version {v} serves while version {next} is built in slot b");
    assert!(said.iter().any(|l| l.contains(&expected)), "{said:?}");
    // Until the new version has caught up, readers get the old one, whole.
    let status = new.status().await.unwrap();
    let live: Vec<_> = status.iter().filter(|s| s.live).collect();
    assert_eq!(
        (live.len(), live[0].slot.as_str(), live[0].version),
        (1, "a", v)
    );
    assert_eq!(live_rows(&new).await, served);
    let building = status.iter().find(|s| !s.live).expect("a shadow slot");
    assert_eq!((building.version, building.position), (next, 0));

    new.catch_up().await.unwrap();
    let status = new.status().await.unwrap();
    assert_eq!(
        status.len(),
        1,
        "the old slot is no longer maintained: {status:?}"
    );
    assert_eq!(
        (status[0].slot.as_str(), status[0].version),
        ("b", NextVersion.version())
    );
    assert_eq!(live_rows(&new).await, served);
}

/// The reminders planned from the persisted deadlines equal, reminder for reminder, those the
/// in-memory fold plans, on every day sampled across the demo data's years (facts before and
/// after the day), and so do the projects overdue that day.
async fn persisted_deadlines_plan_what_the_fold_plans(kind: Kind) {
    use projections::deadlines::{
        overdue_project_ids, plan_reminders, plan_reminders_persisted, DeadlineQuery,
        DeadlinesView, DEADLINES,
    };
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    some_commands(&engine, 0, 10).await;
    let rt = standard(&db.store);
    rt.prepare().await.unwrap();
    rt.catch_up().await.unwrap();
    let (slot, _) = rt.live(DEADLINES).await.unwrap().unwrap();
    let view = DeadlinesView::load(&db.store).await.unwrap();
    let registry = ProgrammeRegistry::builtin();
    let calendar = workflows::calendar::WorkingCalendar::official();
    let mut days = Vec::new();
    for (from, to) in [
        ((2017, 5, 1), (2018, 1, 31)),
        ((2021, 5, 20), (2022, 1, 31)),
        ((2025, 2, 20), (2026, 1, 31)),
    ] {
        let mut day = domain::fixtures::date(from.0, from.1, from.2);
        let to = domain::fixtures::date(to.0, to.1, to.2);
        while day <= to {
            days.push(day);
            day = day + chrono::Days::new(5);
        }
    }
    days.push(domain::fixtures::date(2026, 12, 1));
    let mut reminders = 0;
    let mut overdue = 0;
    for day in days {
        let fold = plan_reminders(&view, &registry, calendar, day);
        let persisted = plan_reminders_persisted(rt.db(), &slot, &registry, calendar, day)
            .await
            .unwrap();
        assert_eq!(fold.reminders, persisted.reminders, "{kind:?} {day}");
        reminders += fold.reminders.len();
        let mut expected: Vec<String> = view
            .deadlines(&registry, calendar, day, &DeadlineQuery::default())
            .deadlines
            .into_iter()
            .filter(|d| d.deadline.status == workflows::deadlines::DeadlineStatus::Overdue)
            .map(|d| d.project_id)
            .collect();
        expected.sort();
        expected.dedup();
        let mut got = overdue_project_ids(rt.db(), &slot, &registry, calendar, day)
            .await
            .unwrap();
        got.sort();
        assert_eq!(expected, got, "{kind:?} {day}: overdue projects");
        overdue += got.len();
    }
    assert!(
        reminders > 100 && overdue > 100,
        "{reminders} reminders, {overdue} overdue"
    );
}

/// The province roll-up as of a position (from the stage history and the fund ledger) equals
/// the roll-up of the projects folded from the events up to that position, at every 20th
/// position of the demo data and at the end.
async fn the_rollup_as_of_a_position_equals_the_fold_up_to_it(kind: Kind) {
    use projections::projects::{rollup, FundsRow, RollupRow};
    use projections::Projection;
    let db = TestDb::new(kind).await;
    let engine = engine(&db);
    api::demo::load(&engine).await.unwrap();
    let rt = standard(&db.store);
    rt.prepare().await.unwrap();
    rt.catch_up().await.unwrap();
    let (slot, _) = rt.live(PROJECTS).await.unwrap().unwrap();
    let events = db.store.read_all(0, 100_000).await.unwrap();
    let province = domain::JurisdictionCode::parse("370000").unwrap();
    let head = events.last().unwrap().global_position;
    let mut positions: Vec<i64> = events
        .iter()
        .map(|e| e.global_position)
        .step_by(20)
        .collect();
    positions.push(head);
    for position in positions {
        let mut view = ProjectsView::default();
        for e in events.iter().filter(|e| e.global_position <= position) {
            view.apply(e).unwrap();
        }
        let mut children: std::collections::BTreeMap<String, RollupRow> = Default::default();
        let mut total = RollupRow {
            jurisdiction: "370000".into(),
            ..Default::default()
        };
        for summary in view.summaries() {
            let (project, _) = view.state(&summary.id).unwrap();
            let city = project
                .jurisdiction
                .as_ref()
                .unwrap()
                .city()
                .unwrap()
                .to_string();
            let child = children.entry(city.clone()).or_insert_with(|| RollupRow {
                jurisdiction: city.clone(),
                ..Default::default()
            });
            for row in [child, &mut total] {
                row.projects += 1;
                *row.stages
                    .entry(project.stage.id().to_string())
                    .or_default() += 1;
                row.suspended += project.suspended.is_some() as i64;
                for (source, ledger) in &project.funds {
                    let source = serde_json::to_value(source)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string();
                    let f: &mut FundsRow = row.funds.entry(source).or_default();
                    f.approved_fen += ledger.approved.0;
                    f.paid_fen += ledger.paid.0;
                    f.remaining_fen += ledger.approved.0 - ledger.paid.0;
                    f.clawback_ordered_fen += ledger.clawback_ordered.0;
                    f.clawback_recovered_fen += ledger.clawback_recovered.0;
                }
            }
        }
        let got = rollup(rt.db(), &slot, &province, position).await.unwrap();
        assert_eq!(got.total, total, "{kind:?} at {position}");
        assert_eq!(
            got.children,
            children.into_values().collect::<Vec<_>>(),
            "{kind:?} at {position}"
        );
    }
}

/// A one-shot stop signal for the runner.
#[derive(Clone)]
struct Stop(Arc<tokio::sync::Notify>, Arc<AtomicBool>);

fn tokio_util_like_stop() -> Stop {
    Stop(
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(AtomicBool::new(false)),
    )
}

impl Stop {
    fn fire(&self) {
        self.1.store(true, Ordering::SeqCst);
        self.0.notify_waiters();
    }
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move {
            loop {
                let notified = this.0.notified();
                if this.1.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        }
    }
}

on_both_backends!(
    live_tables_equal_a_rebuild,
    a_crash_between_apply_and_commit_changes_nothing,
    two_runners_racing_apply_each_event_once,
    a_rebuild_under_load_never_shows_a_half_table,
    a_new_code_version_is_built_beside_the_old_one,
    persisted_deadlines_plan_what_the_fold_plans,
    the_rollup_as_of_a_position_equals_the_fold_up_to_it,
);
