//! Deadline derivation for each shipped programme. Every expected date below was worked out by
//! hand from the State Council holiday notices for 2017 and 2021 (the comments show the count).

use chrono::NaiveDate;
use domain::fixtures::official;
use domain::{JurisdictionCode, ProjectEvent as E};
use projections::deadlines::{deadlines_for, Deadline, ProjectDeadlines};
use workflows::calendar::WorkingCalendar;
use workflows::deadlines::{DeadlineStatus as S, ReminderKind};
use workflows::programme::{OfficialRole, ProgrammeRegistry};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn registered(programme: &str, on: NaiveDate) -> Vec<E> {
    vec![
        E::ProjectRegistered {
            name: "测试项目".into(),
            programme_id: programme.into(),
            programme_version: 1,
            jurisdiction: JurisdictionCode::parse("370323").unwrap(),
            description: String::new(),
            registered_on: on,
        },
        E::OfficialAssigned {
            role: OfficialRole::OfficialInCharge,
            official: official("王测试", "副局长", "leader@example.org"),
        },
        E::OfficialAssigned {
            role: OfficialRole::Liaison,
            official: official("赵测试", "科长", "liaison@example.org"),
        },
    ]
}

fn run(programme: &str, events: &[E], today: NaiveDate) -> ProjectDeadlines {
    let registry = ProgrammeRegistry::builtin();
    let p = registry.get(programme, 1).expect("shipped programme");
    deadlines_for("p1", events, &p, WorkingCalendar::official(), today)
}

fn get<'a>(set: &'a ProjectDeadlines, id: &str) -> &'a Deadline {
    set.deadlines
        .iter()
        .find(|x| x.deadline.id == id)
        .unwrap_or_else(|| {
            panic!(
                "no deadline {id}; have {:?}",
                set.deadlines
                    .iter()
                    .map(|x| &x.deadline.id)
                    .collect::<Vec<_>>()
            )
        })
}

fn due(set: &ProjectDeadlines, id: &str) -> Option<NaiveDate> {
    get(set, id).deadline.due_on
}

const LOCKERS_2017: &str = "shandong-smart-lockers-2017";
const VILLAGES_2021: &str = "yiyuan-express-to-villages-2021";
const LOCKERS_2025: &str = "yiyuan-smart-lockers-2025";

fn approved_2017() -> Vec<E> {
    let mut ev = registered(LOCKERS_2017, d(2017, 5, 24));
    ev.push(E::PlanSubmitted {
        revision: 1,
        submitted_on: d(2017, 5, 26),
        form: serde_json::json!({}),
    });
    ev.push(E::PlanApproved {
        reviewed_on: d(2017, 6, 5),
        comment: String::new(),
    });
    ev
}

#[test]
fn lockers_2017_fixed_relative_and_report_dates() {
    let set = run(LOCKERS_2017, &approved_2017(), d(2017, 6, 28));
    // 2017-05-31 is a Wednesday after the Dragon Boat holiday (28–30 May): stays.
    assert_eq!(due(&set, "work-plan"), Some(d(2017, 5, 31)));
    assert_eq!(get(&set, "work-plan").deadline.status, S::Met);
    assert_eq!(get(&set, "work-plan").deadline.met_on, Some(d(2017, 5, 26)));
    // 20 working days after Mon 5 June: 6–9 (4), 12–16 (9), 19–23 (14), 26–30 (19), Mon 3 July (20).
    assert_eq!(due(&set, "construction-entity"), Some(d(2017, 7, 3)));
    assert_eq!(
        get(&set, "construction-entity").deadline.status,
        S::Upcoming
    );
    // "7月1日前" is due 30 June, a Friday; the first slot after approval.
    assert_eq!(due(&set, "progress@2017-06-30"), Some(d(2017, 6, 30)));
    // 31 December 2017 is a Sunday; "earlier" moves year-end acceptance to Friday 29 December.
    assert_eq!(due(&set, "acceptance"), Some(d(2017, 12, 29)));

    // Later in the year: 30 September 2017 is a working Saturday (调休 for National Day), so the
    // "10月1日前" report stays on it; "12月31日前" is Saturday 30 December, moved to Friday 29.
    let set = run(LOCKERS_2017, &approved_2017(), d(2017, 12, 20));
    assert_eq!(due(&set, "progress@2017-09-30"), Some(d(2017, 9, 30)));
    assert_eq!(due(&set, "progress@2017-12-30"), Some(d(2017, 12, 29)));
    assert_eq!(get(&set, "progress@2017-06-30").deadline.status, S::Overdue);
}

#[test]
fn a_five_working_day_notice_spanning_national_day_2017() {
    let mut ev = approved_2017();
    ev.push(E::ConstructionEntityDesignated {
        entity: domain::fixtures::entity("测试快递公司"),
    });
    // The event deliberately claims the shortest possible end; the deadline is computed anyway.
    ev.push(E::NoticePublished {
        starts_on: d(2017, 9, 29),
        ends_on: d(2017, 9, 29),
        channel: "政府网站".into(),
    });
    // Counted from the next day (民法典 第二百零一条): Sat 30 Sep working (1), 1–8 Oct off,
    // Mon 9 (2), Tue 10 (3), Wed 11 (4), Thu 12 Oct (5). The notice may close from Fri 13 Oct,
    // the day the deadline falls due.
    let set = run(LOCKERS_2017, &ev, d(2017, 10, 9));
    let notice = get(&set, "notice-end");
    assert_eq!(notice.deadline.due_on, Some(d(2017, 10, 13)));
    assert_eq!(notice.deadline.status, S::Upcoming);
    // The designation has no date of its own: dated by the approval before it, it meets the
    // construction-entity deadline.
    assert_eq!(get(&set, "construction-entity").deadline.status, S::Met);
    let mut on_time = ev.clone();
    on_time.push(E::NoticeClosed {
        closed_on: d(2017, 10, 13),
    });
    let set = run(LOCKERS_2017, &on_time, d(2017, 10, 13));
    assert_eq!(get(&set, "notice-end").deadline.status, S::Met);
    ev.push(E::NoticeClosed {
        closed_on: d(2017, 10, 16),
    });
    let set = run(LOCKERS_2017, &ev, d(2017, 10, 16));
    assert_eq!(get(&set, "notice-end").deadline.status, S::MetLate);
}

#[test]
fn villages_2021_relative_monthly_and_notice_over_national_day() {
    let mut ev = registered(VILLAGES_2021, d(2021, 6, 3));
    // 5 working days after Thu 3 June: 4 (1), 7 (2), 8 (3), 9 (4), Thu 10 June (5).
    let set = run(VILLAGES_2021, &ev, d(2021, 6, 4));
    assert_eq!(due(&set, "work-plan"), Some(d(2021, 6, 10)));
    // 31 July 2021 is a Saturday: "earlier" gives Friday 30 July.
    assert_eq!(due(&set, "village-points"), Some(d(2021, 7, 30)));
    ev.push(E::PlanSubmitted {
        revision: 1,
        submitted_on: d(2021, 6, 7),
        form: serde_json::json!({}),
    });
    ev.push(E::PlanApproved {
        reviewed_on: d(2021, 6, 9),
        comment: String::new(),
    });
    ev.push(E::ProgressReportSubmitted {
        period: "6月中旬".into(),
        reported_on: d(2021, 6, 18),
        form: serde_json::json!({}),
    });
    ev.push(E::ProgressReportSubmitted {
        period: "9月中旬".into(),
        reported_on: d(2021, 9, 22),
        form: serde_json::json!({}),
    });
    let set = run(VILLAGES_2021, &ev, d(2021, 10, 1));
    // "20日前" in June is Saturday 19 June, moved earlier to Friday 18 June; met that day.
    assert_eq!(due(&set, "progress@2021-06-19"), Some(d(2021, 6, 18)));
    assert_eq!(get(&set, "progress@2021-06-19").deadline.status, S::Met);
    // Slots on ordinary weekdays keep their dates and are missed.
    assert_eq!(due(&set, "progress@2021-07-09"), Some(d(2021, 7, 9)));
    // Sunday 19 September 2021 is in the Mid-Autumn holiday (19–21 Sep); the previous working
    // day is Saturday 18 September, an adjusted working day.
    assert_eq!(due(&set, "progress@2021-09-19"), Some(d(2021, 9, 18)));
    // Reported on 22 September, after the due date: met late. The reports in between were
    // missing, so the August slots are met late by the same report too.
    assert_eq!(get(&set, "progress@2021-09-19").deadline.status, S::MetLate);
    assert_eq!(get(&set, "progress@2021-08-09").deadline.status, S::MetLate);
    // 9 October 2021 is an adjusted working Saturday: the "10日前" slot stays on it.
    assert_eq!(due(&set, "progress@2021-10-09"), Some(d(2021, 10, 9)));

    ev.push(E::ConstructionEntityDesignated {
        entity: domain::fixtures::entity("测试快递公司"),
    });
    ev.push(E::NoticePublished {
        starts_on: d(2021, 9, 29),
        ends_on: d(2021, 9, 29),
        channel: "政府网站".into(),
    });
    // Counted from the next day (民法典 第二百零一条): Thu 30 Sep (1), 1–7 Oct off, Fri 8 (2),
    // Sat 9 working (3), Mon 11 (4), Tue 12 Oct (5): the last day is 12 October, and the notice
    // may close (the deadline falls due) on Wed 13 October.
    let set = run(VILLAGES_2021, &ev, d(2021, 10, 8));
    assert_eq!(due(&set, "notice-end"), Some(d(2021, 10, 13)));
    let why = &get(&set, "notice-end").deadline.explanation;
    assert!(
        why.contains("counted from the next day) end on 2021-10-12"),
        "the explanation names the count and the last day: {why}"
    );
}

#[test]
fn acceptance_deadlines_follow_each_request_and_failure() {
    let mut ev = registered(VILLAGES_2021, d(2021, 6, 3));
    ev.push(E::AcceptanceRequested {
        requested_on: d(2021, 8, 2),
    });
    // 10 working days after Mon 2 Aug: 3–6 (4), 9–13 (9), Mon 16 Aug (10).
    let set = run(VILLAGES_2021, &ev, d(2021, 8, 3));
    assert_eq!(due(&set, "acceptance-inspection"), Some(d(2021, 8, 16)));
    ev.push(E::AcceptanceFailed {
        inspected_on: d(2021, 8, 10),
        inspector: "检查员".into(),
        results: vec![],
        rectification: vec![],
        rectify_by: None,
    });
    ev.push(E::AcceptanceRequested {
        requested_on: d(2021, 9, 1),
    });
    let set = run(VILLAGES_2021, &ev, d(2021, 9, 2));
    assert_eq!(get(&set, "acceptance-inspection").deadline.status, S::Met);
    // 20 working days after Tue 10 Aug: 11–13 (3), 16–20 (8), 23–27 (13), 30 Aug–3 Sep (18), 6, 7 Sep (20).
    assert_eq!(due(&set, "rectification"), Some(d(2021, 9, 7)));
    assert_eq!(get(&set, "rectification").deadline.status, S::Met);
    // The second request opens a second inspection deadline: 10 working days after Wed 1 Sep.
    assert_eq!(due(&set, "acceptance-inspection#2"), Some(d(2021, 9, 15)));
}

#[test]
fn suspension_pauses_and_moves_and_an_extension_overrides() {
    let mut ev = approved_2017();
    ev.push(E::ProjectSuspended {
        suspended_on: d(2017, 6, 20),
        reason: "场地争议".into(),
    });
    let set = run(LOCKERS_2017, &ev, d(2017, 6, 28));
    let c = get(&set, "construction-entity");
    assert_eq!((c.deadline.status, c.deadline.due_on), (S::Paused, None));
    assert_eq!(get(&set, "progress@2017-06-30").deadline.status, S::Waived);

    ev.push(E::ProjectResumed {
        resumed_on: d(2017, 7, 1),
    });
    // Suspended 20 June to 1 July: 11 days. 3 July + 11 = Friday 14 July, a working day.
    let set = run(LOCKERS_2017, &ev, d(2017, 7, 3));
    assert_eq!(due(&set, "construction-entity"), Some(d(2017, 7, 14)));
    // The 30 June report fell due while suspended: waived, not moved.
    assert_eq!(get(&set, "progress@2017-06-30").deadline.status, S::Waived);
    // The work-plan was met before the suspension: untouched.
    assert_eq!(due(&set, "work-plan"), Some(d(2017, 5, 31)));

    ev.push(E::DeadlineExtended {
        deadline_id: "construction-entity".into(),
        until: d(2017, 7, 21),
        reason: "批准延期".into(),
    });
    let set = run(LOCKERS_2017, &ev, d(2017, 7, 3));
    assert_eq!(due(&set, "construction-entity"), Some(d(2017, 7, 21)));
}

#[test]
fn reminders_before_on_the_day_and_overdue_with_escalation() {
    use projections::deadlines::{plan_reminders, DeadlinesView};
    let registry = ProgrammeRegistry::builtin();
    let mut view = DeadlinesView::default();
    for e in &approved_2017() {
        view.apply_event("p1", e);
    }
    let cal = WorkingCalendar::official();
    let kinds = |today| {
        plan_reminders(&view, &registry, cal, today)
            .reminders
            .into_iter()
            .filter(|r| r.deadline.deadline.id == "progress@2017-06-30")
            .map(|r| (r.kind, r.recipient.email))
            .collect::<Vec<_>>()
    };
    // Three working days before Friday 30 June is Tuesday 27 June.
    assert_eq!(kinds(d(2017, 6, 26)), vec![]);
    assert_eq!(
        kinds(d(2017, 6, 27)),
        vec![(ReminderKind::Before, "liaison@example.org".to_string())]
    );
    assert_eq!(
        kinds(d(2017, 6, 30)),
        vec![(ReminderKind::DueToday, "liaison@example.org".to_string())]
    );
    assert_eq!(
        kinds(d(2017, 7, 3)),
        vec![
            (ReminderKind::Overdue, "liaison@example.org".to_string()),
            (ReminderKind::Escalation, "leader@example.org".to_string())
        ]
    );
}

#[test]
fn the_2025_programme_and_an_unpublished_year_is_reported_not_guessed() {
    let mut ev = registered(LOCKERS_2025, d(2025, 3, 3));
    ev.push(E::PlanSubmitted {
        revision: 1,
        submitted_on: d(2025, 3, 20),
        form: serde_json::json!({}),
    });
    ev.push(E::PlanApproved {
        reviewed_on: d(2025, 4, 1),
        comment: String::new(),
    });
    // 30 April 2025 is a Wednesday before the May Day holiday: the site plan is due that day.
    let set = run(LOCKERS_2025, &ev, d(2025, 4, 2));
    assert_eq!(due(&set, "site-plan"), Some(d(2025, 4, 30)));
    // "10日前" in April 2025: Wednesday 9 April.
    assert_eq!(due(&set, "progress@2025-04-09"), Some(d(2025, 4, 9)));
    // Reports are due in the programme year only: nothing is asked for in 2026.
    let set = run(LOCKERS_2025, &ev, d(2026, 6, 20));
    assert!(
        set.deadlines
            .iter()
            .all(|x| !x.deadline.id.starts_with("progress@2026")),
        "no report slots outside the programme year"
    );
    // An acceptance requested on Friday 18 December 2026 is inspected 10 working days later,
    // in January 2027, which needs the unpublished 2027 notice.
    ev.push(E::AcceptanceRequested {
        requested_on: d(2026, 12, 18),
    });
    let set = run(LOCKERS_2025, &ev, d(2026, 12, 20));
    let u = set
        .undecided
        .iter()
        .find(|u| u.id == "acceptance-inspection")
        .unwrap_or_else(|| {
            panic!(
                "the inspection deadline is reported as undecided: {:?}",
                set.undecided
            )
        });
    assert!(
        u.reason.contains("calendar for 2027 not yet published"),
        "{}",
        u.reason
    );
}
