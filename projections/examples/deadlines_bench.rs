//! Benchmark (not a test): the time to compute the reminders owed on one day for 100,000
//! projects. Run with `cargo run --release -p projections --example deadlines_bench [N]`.
//!
//! The projects are spread over the three shipped programmes and over their lifecycle stages
//! (registered, approved, notice, construction with reports, acceptance, suspended), with two
//! officials each; the view is built in memory (no database), so the figure is the cost of
//! deriving every deadline and planning the reminders, which is what a scheduler tick adds to
//! reading the new events.

use std::time::Instant;

use chrono::{Days, NaiveDate};
use domain::fixtures::{entity, official};
use domain::{JurisdictionCode, ProjectEvent as E};
use projections::deadlines::{plan_reminders, DeadlinesView};
use workflows::calendar::WorkingCalendar;
use workflows::programme::{OfficialRole, ProgrammeRegistry};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let registry = ProgrammeRegistry::builtin();
    let programmes = [
        ("shandong-smart-lockers-2017", 2017),
        ("yiyuan-express-to-villages-2021", 2021),
        ("yiyuan-smart-lockers-2025", 2025),
    ];
    let started = Instant::now();
    let mut view = DeadlinesView::default();
    let mut events = 0usize;
    for i in 0..n {
        let (programme, year) = programmes[i % 3];
        let base = NaiveDate::from_ymd_opt(year, 3, 1).unwrap() + Days::new((i % 60) as u64);
        let day = |k: u64| base + Days::new(k);
        let id = format!("p{i}");
        let mut ev = vec![
            E::ProjectRegistered {
                name: format!("项目{i}"),
                programme_id: programme.into(),
                programme_version: 1,
                jurisdiction: JurisdictionCode::parse("370323").unwrap(),
                description: String::new(),
                registered_on: base,
            },
            E::OfficialAssigned {
                role: OfficialRole::OfficialInCharge,
                official: official("张示例", "副局长", "leader@example.org"),
            },
            E::OfficialAssigned {
                role: OfficialRole::Liaison,
                official: official("李示例", "科长", "liaison@example.org"),
            },
        ];
        let stage = i % 6;
        if stage >= 1 {
            ev.push(E::PlanSubmitted {
                revision: 1,
                submitted_on: day(3),
                form: serde_json::Value::Null,
            });
            ev.push(E::PlanApproved {
                reviewed_on: day(10),
                comment: String::new(),
            });
        }
        if stage >= 2 {
            ev.push(E::ConstructionEntityDesignated {
                entity: entity("示例快递公司"),
            });
            ev.push(E::NoticePublished {
                starts_on: day(12),
                ends_on: day(20),
                channel: "网站".into(),
            });
        }
        if stage >= 3 {
            ev.push(E::NoticeClosed { closed_on: day(21) });
            ev.push(E::ProgressReportSubmitted {
                period: "1".into(),
                reported_on: day(40),
                form: serde_json::Value::Null,
            });
        }
        if stage == 4 {
            ev.push(E::AcceptanceRequested {
                requested_on: day(120),
            });
        }
        if stage == 5 {
            ev.push(E::ProjectSuspended {
                suspended_on: day(50),
                reason: "暂停".into(),
            });
        }
        events += ev.len();
        for e in &ev {
            view.apply_event(&id, e);
        }
    }
    let built = started.elapsed();
    let calendar = WorkingCalendar::official();
    for today in [
        NaiveDate::from_ymd_opt(2017, 6, 28).unwrap(),
        NaiveDate::from_ymd_opt(2021, 7, 7).unwrap(),
        NaiveDate::from_ymd_opt(2025, 9, 26).unwrap(),
    ] {
        let t = Instant::now();
        let plan = plan_reminders(&view, &registry, calendar, today);
        let took = t.elapsed();
        println!(
            "{today}: {} projects, {} reminders owed, {} problems, planned in {:.3} s ({:.2} µs/project)",
            view.len(),
            plan.reminders.len(),
            plan.problems.len(),
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / view.len() as f64
        );
    }
    println!(
        "view of {n} projects ({events} events) folded in {:.3} s",
        built.as_secs_f64()
    );
}
