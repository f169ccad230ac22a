//! The compliance report (`api::audit::check`, issue 11 item 5) on both backends: crafted
//! histories written behind the engine's back give exactly their one finding each, naming the
//! right stored events; the demo data gives no finance finding, and its deadline findings are
//! exactly the missed deadlines the deadline derivation shows, late by the working days the
//! official calendar counts.

use std::sync::Arc;

use api::audit::check::{check_store, CheckReport, CheckScope, Severity};
use api::Engine;
use chrono::NaiveDate;
use store::FixedClock;
use tests::crafted::{write_crafted_histories, Expected};
use tests::{on_both_backends, Kind, TestDb};
use workflows::calendar::WorkingCalendar;
use workflows::deadlines::DeadlineStatus;
use workflows::programme::ProgrammeRegistry;

fn engine_at(db: &TestDb, at: &str) -> Engine {
    let clock = Arc::new(FixedClock::new(at.parse().unwrap()));
    Engine::with_store(
        db.store.clone().with_clock(clock),
        ProgrammeRegistry::builtin(),
    )
}

async fn check(engine: &Engine, scope: &CheckScope, today: NaiveDate) -> CheckReport {
    check_store(
        &engine.store,
        engine.programmes(),
        WorkingCalendar::official(),
        scope,
        today,
    )
    .await
    .expect("the check runs")
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Every proving event is the stored event at that sequence, with its hashes and time.
async fn assert_proofs_are_stored(engine: &Engine, report: &CheckReport) {
    for f in &report.findings {
        assert!(!f.events.is_empty(), "{f:?} names no event");
        let stored = engine
            .store
            .read_stream("SubsidyProject", &f.project_id)
            .await
            .unwrap();
        for e in &f.events {
            assert_eq!(e.project_id, f.project_id);
            let s = &stored[(e.sequence - 1) as usize];
            assert_eq!(
                (
                    s.sequence,
                    s.global_position,
                    &s.event_type,
                    &s.hash,
                    &s.prev_hash
                ),
                (
                    e.sequence,
                    e.global_position,
                    &e.event_type,
                    &e.hash,
                    &e.prev_hash
                ),
                "{} #{}",
                f.project_id,
                e.sequence
            );
            assert_eq!(
                e.recorded_at
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap(),
                s.recorded_at
            );
        }
    }
}

/// One violation of each kind, written behind the engine's back: exactly those findings.
async fn crafted_histories_give_exactly_their_findings(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine_at(&db, "2021-03-20T02:00:00Z");
    let expected = write_crafted_histories(&engine.store).await;
    // The chains are whole: these histories bypassed the rules, not the store.
    let key = api::audit::key::InstallationKey::from_seed([9; 32]);
    let verified = api::audit::verify_store::verify_store(&engine.store, &key.public(), |_, _| {})
        .await
        .unwrap();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);

    for today in [day("2021-03-31"), day("2026-06-01")] {
        let report = check(&engine, &CheckScope::default(), today).await;
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let mut got: Vec<Expected> = report
            .findings
            .iter()
            .map(|f| Expected {
                project: f.project_id.clone(),
                kind: f.kind.id(),
                deadline_id: f.deadline_id.clone(),
                sequences: f.events.iter().map(|e| e.sequence).collect(),
                working_days_late: f.working_days_late,
            })
            .collect();
        got.sort();
        assert_eq!(got, expected, "judged on {today}");
        assert_eq!(report.finance_findings, 5);
        assert_eq!(report.deadline_findings, 2);
        assert_eq!(report.projects, 7);
        for f in &report.findings {
            assert_eq!(f.severity, f.kind.severity());
            assert!(!f.title_zh.is_empty() && !f.title_en.is_empty());
            assert!(!f.detail_zh.is_empty() && !f.detail_en.is_empty());
            assert_eq!(f.jurisdiction.as_deref(), Some("370323"));
            assert_eq!(
                f.programme,
                format!("{}@v1", domain::fixtures::VILLAGES_2021)
            );
        }
        let above = report
            .findings
            .iter()
            .find(|f| f.kind.id() == "payment_exceeds_approval")
            .unwrap();
        assert_eq!(above.amount_fen, Some(10_000), "110,000 paid of 100,000");
        let poor = report
            .findings
            .iter()
            .find(|f| f.kind.id() == "poor_evaluation_without_settled_clawback")
            .unwrap();
        assert_eq!(poor.amount_fen, Some(30_000), "the outstanding clawback");
        assert_proofs_are_stored(&engine, &report).await;
    }

    // Scope: another county sees none of them; a city or province above Yiyuan sees them all.
    let jinan = CheckScope {
        jurisdiction: Some(domain::JurisdictionCode::parse("370100").unwrap()),
        as_of: None,
    };
    let none = check(&engine, &jinan, day("2021-03-31")).await;
    assert_eq!((none.projects, none.findings.len()), (0, 0));
    let zibo = CheckScope {
        jurisdiction: Some(domain::JurisdictionCode::parse("370300").unwrap()),
        as_of: None,
    };
    assert_eq!(
        check(&engine, &zibo, day("2021-03-31"))
            .await
            .findings
            .len(),
        7
    );
    // As of a day before anything was recorded, the store held nothing.
    let before = CheckScope {
        jurisdiction: None,
        as_of: Some(day("2021-03-19")),
    };
    let empty = check(&engine, &before, day("2026-06-01")).await;
    assert_eq!((empty.projects, empty.cut_position), (0, 0));
    assert_eq!(empty.as_of, day("2021-03-19"));
}

/// The demo data (every project through the engine): no finance finding; every deadline
/// finding is a deadline the derivation shows as overdue or met late (or left unmet at the
/// project's end), late by the working days between its due date and then.
async fn the_demo_data_has_no_finance_finding_and_consistent_deadline_findings(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = engine_at(&db, "2021-03-01T01:00:00Z");
    api::demo::load(&engine).await.expect("the demo data loads");
    let calendar = WorkingCalendar::official();
    for today in [day("2021-09-15"), day("2026-06-01")] {
        let report = check(&engine, &CheckScope::default(), today).await;
        let finance: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Finance)
            .collect();
        assert!(finance.is_empty(), "{finance:#?}");
        assert_eq!(report.finance_findings, 0);
        assert_eq!(report.deadline_findings, report.findings.len());
        assert_eq!(
            report.projects as usize,
            api::demo::ids(&engine).unwrap().len()
        );
        assert_proofs_are_stored(&engine, &report).await;

        // Every overdue or late deadline of the derivation is a finding, with the same days.
        let mut derived_missed = Vec::new();
        for id in api::demo::ids(&engine).unwrap() {
            let stored = engine
                .store
                .read_stream("SubsidyProject", &id)
                .await
                .unwrap();
            let events: Vec<domain::ProjectEvent> = stored
                .iter()
                .map(|e| projections::decode(e).unwrap())
                .collect();
            let (project, _) = engine
                .store
                .load::<domain::SubsidyProject>(&id)
                .await
                .unwrap();
            let programme = engine
                .programmes()
                .get(&project.programme_id, project.programme_version)
                .unwrap();
            let set =
                projections::deadlines::deadlines_for(&id, &events, &programme, calendar, today);
            for d in set.deadlines {
                let d = d.deadline;
                let until = match d.status {
                    DeadlineStatus::Overdue => today,
                    DeadlineStatus::MetLate => d.met_on.unwrap(),
                    _ => continue,
                };
                let due = d.due_on.unwrap();
                derived_missed.push((
                    id.clone(),
                    d.id.clone(),
                    calendar.working_days_between(due, until).ok(),
                ));
            }
        }
        let found: Vec<_> = report
            .findings
            .iter()
            .map(|f| {
                (
                    f.project_id.clone(),
                    f.deadline_id.clone().unwrap(),
                    f.working_days_late,
                )
            })
            .collect();
        for missed in &derived_missed {
            assert!(found.contains(missed), "{missed:?} is not a finding");
        }
        // The other findings are deadlines left unmet when their project ended after them.
        for f in &report.findings {
            let key = (
                f.project_id.clone(),
                f.deadline_id.clone().unwrap(),
                f.working_days_late,
            );
            if !derived_missed.contains(&key) {
                let last = f.events.last().unwrap();
                assert!(
                    ["ProjectTerminated", "ProjectClosed"].contains(&last.event_type.as_str()),
                    "{f:#?}"
                );
                assert!(f.met_on.is_none());
            }
            assert!(f.due_on.is_some() && f.due_on.unwrap() <= today);
        }
        if today == day("2026-06-01") {
            assert!(
                !report.findings.is_empty(),
                "the demo projects left in progress have overdue deadlines"
            );
        }
    }
}

on_both_backends!(
    crafted_histories_give_exactly_their_findings,
    the_demo_data_has_no_finance_finding_and_consistent_deadline_findings,
);
