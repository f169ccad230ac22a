//! The `annex` projection (the facts behind the bureaus' annex tables): its tables hold one row
//! per registration, plan, report and official assignment, in scope and as of a moment; the
//! figures it folds equal a fold of the event log done here by hand; later reports replace
//! earlier ones; and its tables equal a rebuild.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::Engine;
use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use domain::fixtures::{date, progress_form, LOCKERS_2017, VILLAGES_2021};
use domain::{CommandContext, JurisdictionCode, ProjectCommand, ProjectEvent, Stage};
use projections::annex::{self, FactKind, FactQuery, ANNEX};
use projections::ProjectsView;
use serde_json::Value;
use store::FixedClock;
use tests::{on_both_backends, Kind, TestDb};
use workflows::programme::ProgrammeRegistry;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Every event of the log with the programme of its project, decoded.
async fn log(store: &store::Store) -> Vec<(String, String, DateTime<Utc>, ProjectEvent)> {
    let mut programme_of = BTreeMap::new();
    let mut out = Vec::new();
    for e in store.read_all(0, i64::MAX).await.unwrap() {
        if e.aggregate_type != domain::SubsidyProject::TYPE {
            continue;
        }
        let event: ProjectEvent = serde_json::from_value(e.payload.clone()).unwrap();
        if let ProjectEvent::ProjectRegistered { programme_id, .. } = &event {
            programme_of.insert(e.aggregate_id.clone(), programme_id.clone());
        }
        out.push((
            e.aggregate_id.clone(),
            programme_of[&e.aggregate_id].clone(),
            e.recorded_at,
            event,
        ));
    }
    out
}

/// Annex 1 folded by hand from the log: (city, period) → 安装数量 of the last report recorded
/// at or before `until`.
fn progress_by_hand(
    log: &[(String, String, DateTime<Utc>, ProjectEvent)],
    until: DateTime<Utc>,
) -> BTreeMap<String, [Option<i64>; 4]> {
    let mut out: BTreeMap<String, [Option<i64>; 4]> = BTreeMap::new();
    for (_, programme, recorded_at, event) in log {
        if programme != LOCKERS_2017 || *recorded_at > until {
            continue;
        }
        if let ProjectEvent::ProgressReportSubmitted { form, .. } = event {
            let column = annex::PERIODS
                .iter()
                .position(|p| form["period"] == *p)
                .unwrap();
            out.entry(form["city"].as_str().unwrap().to_string())
                .or_default()[column] = form["figures"]["install_count"].as_i64();
        }
    }
    out
}

async fn facts_as_of(
    rt: &projections::Runtime,
    programme: &str,
    scope: &str,
    as_of: Option<DateTime<Utc>>,
) -> Vec<annex::Fact> {
    let (slot, position) = rt.live(ANNEX).await.unwrap().expect("built");
    annex::facts(
        rt.db(),
        &slot,
        &FactQuery {
            programmes: vec![programme.to_string()],
            kinds: Vec::new(),
            scope: JurisdictionCode::parse(scope).unwrap(),
            position,
            as_of,
        },
    )
    .await
    .unwrap()
}

async fn annex_facts_follow_the_log_as_of_a_moment(kind: Kind) {
    let db = TestDb::new(kind).await;
    let t0 = at("2017-06-30T02:00:00Z");
    let clock = FixedClock::new(t0);
    let store = db.store.clone().with_clock(Arc::new(clock.clone()));
    let engine = Engine::with_store(store.clone(), ProgrammeRegistry::builtin());
    api::demo::load(&engine).await.unwrap();
    let rt = engine.projections();
    rt.prepare().await.unwrap();
    rt.catch_up().await.unwrap();

    // One row per fact of the tables, and only those.
    let all = log(&store).await;
    let province = facts_as_of(&rt, LOCKERS_2017, "370000", None).await;
    let wanted = all
        .iter()
        .filter(|(_, p, _, e)| {
            p == LOCKERS_2017
                && matches!(
                    e,
                    ProjectEvent::ProjectRegistered { .. }
                        | ProjectEvent::PlanSubmitted { .. }
                        | ProjectEvent::ProgressReportSubmitted { .. }
                        | ProjectEvent::OfficialAssigned { .. }
                )
        })
        .count();
    assert_eq!(province.len(), wanted, "one fact per event the tables need");
    assert!(province.iter().any(|f| f.kind == FactKind::Report));
    assert!(province.iter().any(|f| f.kind == FactKind::Official));
    assert!(province.windows(2).all(|w| w[0].position < w[1].position));
    // A city's scope keeps its own projects only.
    let weihai = facts_as_of(&rt, LOCKERS_2017, "371000", None).await;
    assert!(!weihai.is_empty());
    assert!(weihai.iter().all(|f| f.city == "371000"));
    assert!(weihai.len() < province.len());
    assert!(facts_as_of(&rt, LOCKERS_2017, "370100", None)
        .await
        .is_empty());
    // Only the kinds asked for.
    let (slot, position) = rt.live(ANNEX).await.unwrap().unwrap();
    let reports = annex::facts(
        rt.db(),
        &slot,
        &FactQuery {
            programmes: vec![LOCKERS_2017.to_string()],
            kinds: vec![FactKind::Report],
            scope: JurisdictionCode::parse("370000").unwrap(),
            position,
            as_of: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        reports,
        province
            .iter()
            .filter(|f| f.kind == FactKind::Report)
            .cloned()
            .collect::<Vec<_>>()
    );

    // Annex 1 from the projection equals the fold done by hand.
    let table = annex::progress_by_city(&province);
    assert_eq!(table.rows, progress_by_hand(&all, t0));
    assert!(
        !table.rows.is_empty(),
        "the demo files reports in pilot cities"
    );
    let mut total = [None; 4];
    for row in table.rows.values() {
        for (t, v) in total.iter_mut().zip(row) {
            if let Some(v) = v {
                *t = Some(t.unwrap_or(0) + v);
            }
        }
    }
    assert_eq!(table.total, total);
    assert_eq!(table.total[3], None, "no 全年 report yet");

    // A 2017 project still under construction files its 全年 report, then a correction.
    let view = ProjectsView::load(&store).await.unwrap();
    let (id, city) = view
        .summaries()
        .into_iter()
        .filter(|s| {
            s.programme_id == LOCKERS_2017 && s.stage == Stage::Construction && !s.suspended
        })
        .map(|s| {
            let (state, _) = view.state(&s.id).unwrap();
            let city = state.plan.as_ref().unwrap()["city"]
                .as_str()
                .unwrap()
                .to_string();
            (s.id, city)
        })
        .next()
        .expect("a demo 2017 project under construction");
    let ctx = CommandContext::new("officer.test");
    let report = |count: i64| ProjectCommand::SubmitProgressReport {
        period: "全年".into(),
        reported_on: date(2017, 12, 25),
        form: progress_form(LOCKERS_2017, &city, "全年", date(2017, 12, 25), count),
    };
    let t1 = at("2017-12-25T02:00:00Z");
    clock.set(t1);
    engine.execute(&id, &ctx, report(150), None).await.unwrap();
    let t2 = at("2017-12-29T02:00:00Z");
    clock.set(t2);
    engine.execute(&id, &ctx, report(160), None).await.unwrap();
    rt.catch_up().await.unwrap();

    let column = |facts: &[annex::Fact]| annex::progress_by_city(facts).rows[&city][3];
    let now = facts_as_of(&rt, LOCKERS_2017, "370000", None).await;
    assert_eq!(column(&now), Some(160), "the latest report wins");
    assert_eq!(annex::progress_by_city(&now).total[3], Some(160));
    let between = facts_as_of(&rt, LOCKERS_2017, "370000", Some(t1 + Duration::seconds(1))).await;
    assert_eq!(column(&between), Some(150), "as of t1 the first report");
    let before = facts_as_of(&rt, LOCKERS_2017, "370000", Some(t1 - Duration::seconds(1))).await;
    assert_eq!(before, province, "as of before t1 nothing later shows");
    let all = log(&store).await;
    for until in [t0, t1, t2] {
        let facts = facts_as_of(&rt, LOCKERS_2017, "370000", Some(until)).await;
        assert_eq!(
            annex::progress_by_city(&facts).rows,
            progress_by_hand(&all, until)
        );
    }

    // Annex 3: each city's latest plan, and the totals.
    let plans = annex::plans_by_city(&now);
    let mut by_hand: BTreeMap<String, Value> = BTreeMap::new();
    for (_, p, _, e) in &all {
        if let (true, ProjectEvent::PlanSubmitted { form, .. }) = (p == LOCKERS_2017, e) {
            by_hand.insert(
                form["city"].as_str().unwrap().into(),
                form["annual_plan"].clone(),
            );
        }
    }
    assert_eq!(plans.rows.len(), by_hand.len());
    for (city, plan) in &by_hand {
        assert_eq!(plans.rows[city][0], plan["install_count"].as_i64());
        assert_eq!(plans.rows[city][3], plan["parcels_delivered"].as_i64());
    }
    let sum: i64 = by_hand
        .values()
        .map(|p| p["compartments"].as_i64().unwrap())
        .sum();
    assert_eq!(plans.total[2], Some(sum));

    // Annex 4: the latest official of each role per city.
    let officials = annex::officials_by_unit(&now, &|code| code.to_string());
    let o = officials[&city].liaison.as_ref().expect("a liaison");
    assert!(o.email.ends_with("@example.org"));

    // Seed 002: each township's latest report; county centres are a maximum, not a sum.
    let villages = facts_as_of(&rt, VILLAGES_2021, "370323", None).await;
    let towns = annex::townships(&villages);
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for (_, p, _, e) in &all {
        if let (true, ProjectEvent::ProgressReportSubmitted { form, .. }) = (p == VILLAGES_2021, e)
        {
            last.insert(
                form["reporting_unit"].as_str().unwrap().into(),
                form.clone(),
            );
        }
    }
    assert!(last.len() > 1, "several townships report");
    let covered: i64 = last
        .values()
        .map(|f| f["villages_covered"].as_i64().unwrap())
        .sum();
    let total: i64 = last
        .values()
        .map(|f| f["villages_total"].as_i64().unwrap())
        .sum();
    assert_eq!(towns.total.villages_covered, Some(covered));
    assert_eq!(towns.total.villages_total, Some(total));
    assert_eq!(towns.total.coverage(), Some(covered as f64 / total as f64));
    assert_eq!(
        towns.total.county_centres_built,
        last.values()
            .map(|f| f["county_centres_built"].as_i64().unwrap())
            .max()
    );
    assert_eq!(
        towns.total.township_centres_built,
        Some(
            last.values()
                .map(|f| f["township_centres_built"].as_i64().unwrap())
                .sum()
        )
    );
    for (unit, form) in &last {
        assert_eq!(
            towns.rows[unit].village_points_built,
            form["village_points_built"].as_i64()
        );
    }

    // The live tables equal a rebuild from zero.
    let live = rt.dump(ANNEX).await.unwrap();
    rt.rebuild(ANNEX, |_, _| {}).await.unwrap();
    assert_eq!(live, rt.dump(ANNEX).await.unwrap(), "live equals a rebuild");
}

on_both_backends!(annex_facts_follow_the_log_as_of_a_moment);
