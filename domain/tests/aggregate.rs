//! Given/when/then tests of the `SubsidyProject` aggregate: every transition of the table and
//! every finance-discipline refusal.

use chrono::NaiveDate;
use cqrs_es::test::TestFramework;
use domain::commands::{
    ChecklistResult, ClawbackLine, IndicatorScore, ObjectionOutcome, ReviewDecision,
};
use domain::events::{InspectedItem, RectificationItem};
use domain::fixtures::*;
use domain::{
    Fen, JurisdictionCode, ProjectCommand as C, ProjectError, ProjectEvent as E, ProjectServices,
    Stage, SubsidyProject,
};
use workflows::programme::{FundSource, Grade, OfficialRole, ProgrammeRegistry};

fn services() -> ProjectServices {
    ProjectServices::new(ProgrammeRegistry::builtin())
}

fn framework() -> TestFramework<SubsidyProject> {
    TestFramework::with(services())
}

const TOWN: &str = "示例镇";

// ------------------------------------------------------------------ canned histories

fn registered(programme: &str) -> Vec<E> {
    vec![E::ProjectRegistered {
        name: "示例镇快递进村".to_string(),
        programme_id: programme.to_string(),
        programme_version: 1,
        jurisdiction: JurisdictionCode::parse("370323").unwrap(),
        description: String::new(),
        registered_on: date(2021, 6, 3),
    }]
}

fn plan_submitted() -> Vec<E> {
    let mut h = registered(VILLAGES_2021);
    h.push(E::PlanSubmitted {
        revision: 1,
        submitted_on: date(2021, 6, 8),
        form: plan_form(VILLAGES_2021, TOWN, date(2021, 6, 8)),
    });
    h
}

fn approved() -> Vec<E> {
    let mut h = plan_submitted();
    h.push(E::PlanApproved {
        reviewed_on: date(2021, 6, 10),
        comment: String::new(),
    });
    h
}

fn with_entity() -> Vec<E> {
    let mut h = approved();
    h.push(E::ConstructionEntityDesignated {
        entity: entity("示例快递服务有限公司"),
    });
    h
}

fn in_notice() -> Vec<E> {
    let mut h = with_entity();
    h.push(E::NoticePublished {
        starts_on: date(2021, 6, 11),
        // Counted from the next day: 14 June is 端午 (off), so 15, 16, 17, 18 and 21 June.
        ends_on: date(2021, 6, 21),
        channel: "县政府网站".to_string(),
    });
    h
}

fn funds_approved(mut h: Vec<E>) -> Vec<E> {
    h.push(E::FundsApproved {
        source: FundSource::City,
        amount: Fen(50_000_000),
        approved_on: date(2021, 6, 10),
    });
    h.push(E::FundsApproved {
        source: FundSource::County,
        amount: Fen(30_000_000),
        approved_on: date(2021, 6, 10),
    });
    h
}

fn in_construction() -> Vec<E> {
    let mut h = funds_approved(in_notice());
    h.push(E::NoticeClosed {
        closed_on: date(2021, 6, 22),
    });
    h
}

fn in_acceptance() -> Vec<E> {
    let mut h = in_construction();
    h.push(E::TrancheDisbursed {
        source: FundSource::City,
        tranche: 1,
        amount: Fen(20_000_000),
        paid_on: date(2021, 6, 25),
    });
    h.push(E::AcceptanceRequested {
        requested_on: date(2021, 8, 2),
    });
    h
}

fn in_evaluation() -> Vec<E> {
    let mut h = in_acceptance();
    h.push(E::AcceptancePassed {
        inspected_on: date(2021, 8, 10),
        inspector: "县发展改革局验收组".to_string(),
        results: vec![],
    });
    h
}

fn evaluated(grade: Grade, total: u32) -> Vec<E> {
    let mut h = in_evaluation();
    h.push(E::PerformanceEvaluated {
        evaluated_on: date(2021, 12, 20),
        scores: vec![],
        total,
        grade,
    });
    h
}

fn all_pass_results(area: i64) -> Vec<ChecklistResult> {
    let p = ProgrammeRegistry::builtin().get(VILLAGES_2021, 1).unwrap();
    p.checklist()
        .iter()
        .map(|item| match &item.requirement {
            workflows::programme::Requirement::Check => ChecklistResult {
                item_id: item.id.clone(),
                passed: Some(true),
                measured: None,
                note: String::new(),
            },
            workflows::programme::Requirement::AtLeast { min, .. } => ChecklistResult {
                item_id: item.id.clone(),
                passed: None,
                measured: Some(if item.id == "tc-area" { area } else { *min }),
                note: String::new(),
            },
        })
        .collect()
}

fn full_scores(each_fraction_percent: u32) -> Vec<IndicatorScore> {
    let p = ProgrammeRegistry::builtin().get(VILLAGES_2021, 1).unwrap();
    p.evaluation
        .indicators
        .iter()
        .map(|i| IndicatorScore {
            indicator_id: i.id.clone(),
            score: i.max_score * each_fraction_percent / 100,
        })
        .collect()
}

// ------------------------------------------------------------------ registration and plan

#[test]
fn a_project_is_registered_under_a_programme_version() {
    framework()
        .given_no_previous_events()
        .when(C::RegisterProject {
            name: " 示例镇快递进村 ".to_string(),
            programme_id: VILLAGES_2021.to_string(),
            programme_version: 1,
            jurisdiction: JurisdictionCode::parse("370323").unwrap(),
            description: String::new(),
            registered_on: date(2021, 6, 3),
        })
        .then_expect_events(registered(VILLAGES_2021));
}

#[test]
fn registration_under_an_unknown_programme_version_is_refused() {
    framework()
        .given_no_previous_events()
        .when(C::RegisterProject {
            name: "x".to_string(),
            programme_id: VILLAGES_2021.to_string(),
            programme_version: 99,
            jurisdiction: JurisdictionCode::parse("370323").unwrap(),
            description: String::new(),
            registered_on: date(2021, 6, 3),
        })
        .then_expect_error(ProjectError::UnknownProgramme {
            id: VILLAGES_2021.to_string(),
            version: 99,
        });
}

#[test]
fn a_project_cannot_be_registered_twice_nor_used_before_registration() {
    framework()
        .given(registered(VILLAGES_2021))
        .when(C::RegisterProject {
            name: "x".to_string(),
            programme_id: VILLAGES_2021.to_string(),
            programme_version: 1,
            jurisdiction: JurisdictionCode::parse("370323").unwrap(),
            description: String::new(),
            registered_on: date(2021, 6, 3),
        })
        .then_expect_error(ProjectError::AlreadyRegistered);
    framework()
        .given_no_previous_events()
        .when(C::RequestAcceptance {
            requested_on: date(2021, 6, 3),
        })
        .then_expect_error(ProjectError::NotRegistered);
}

#[test]
fn a_valid_plan_is_submitted_as_revision_one() {
    framework()
        .given(registered(VILLAGES_2021))
        .when(C::SubmitPlan {
            submitted_on: date(2021, 6, 8),
            form: plan_form(VILLAGES_2021, TOWN, date(2021, 6, 8)),
        })
        .then_expect_events(plan_submitted()[1..].to_vec());
}

#[test]
fn an_invalid_plan_is_refused_with_every_failing_field() {
    let mut form = plan_form(VILLAGES_2021, TOWN, date(2021, 6, 8));
    form["budget_fen"] = serde_json::json!(12.5);
    form.as_object_mut().unwrap().remove("operating_model");
    let err = framework()
        .given(registered(VILLAGES_2021))
        .when(C::SubmitPlan {
            submitted_on: date(2021, 6, 8),
            form,
        })
        .inspect_result()
        .unwrap_err();
    match err {
        ProjectError::InvalidForm { form, errors } => {
            assert_eq!(form, "plan");
            let mut pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
            pointers.sort();
            assert_eq!(pointers, ["/budget_fen", "/operating_model"], "{errors:?}");
        }
        other => panic!("expected an invalid form, got {other:?}"),
    }
}

#[test]
fn review_approves_or_returns_the_plan_and_a_returned_plan_is_resubmitted() {
    framework()
        .given(plan_submitted())
        .when(C::ReviewPlan {
            reviewed_on: date(2021, 6, 10),
            decision: ReviewDecision::Approve {
                comment: String::new(),
            },
        })
        .then_expect_events(vec![E::PlanApproved {
            reviewed_on: date(2021, 6, 10),
            comment: String::new(),
        }]);
    let returned = E::PlanReturned {
        reviewed_on: date(2021, 6, 10),
        reasons: vec!["村级网点清单不完整".to_string()],
    };
    framework()
        .given(plan_submitted())
        .when(C::ReviewPlan {
            reviewed_on: date(2021, 6, 10),
            decision: ReviewDecision::Return {
                reasons: vec!["村级网点清单不完整".to_string()],
            },
        })
        .then_expect_events(vec![returned.clone()]);
    let mut h = plan_submitted();
    h.push(returned);
    framework()
        .given(h)
        .when(C::SubmitPlan {
            submitted_on: date(2021, 6, 12),
            form: plan_form(VILLAGES_2021, TOWN, date(2021, 6, 12)),
        })
        .then_expect_events(vec![E::PlanSubmitted {
            revision: 2,
            submitted_on: date(2021, 6, 12),
            form: plan_form(VILLAGES_2021, TOWN, date(2021, 6, 12)),
        }]);
}

#[test]
fn returning_a_plan_needs_a_reason() {
    framework()
        .given(plan_submitted())
        .when(C::ReviewPlan {
            reviewed_on: date(2021, 6, 10),
            decision: ReviewDecision::Return {
                reasons: vec!["  ".to_string()],
            },
        })
        .then_expect_error(ProjectError::InvalidField {
            field: "decision/reasons/0".to_string(),
            reason: "is required and may not be blank".to_string(),
        });
    framework()
        .given(plan_submitted())
        .when(C::ReviewPlan {
            reviewed_on: date(2021, 6, 10),
            decision: ReviewDecision::Return { reasons: vec![] },
        })
        .then_expect_error(ProjectError::MissingField { field: "reasons" });
}

#[test]
fn a_command_outside_its_stages_is_refused_naming_the_allowed_stages() {
    let err = framework()
        .given(registered(VILLAGES_2021))
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 20),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "stage.command_not_allowed");
    assert!(err.to_string().contains("项目公示"), "{err}");
}

// ------------------------------------------------------------------ notice

#[test]
fn the_notice_needs_a_designated_construction_entity() {
    framework()
        .given(approved())
        .when(C::PublishNotice {
            starts_on: date(2021, 6, 11),
            ends_on: date(2021, 6, 21),
            channel: "县政府网站".to_string(),
        })
        .then_expect_error(ProjectError::ConstructionEntityMissing);
    framework()
        .given(approved())
        .when(C::DesignateConstructionEntity {
            entity: entity("示例快递服务有限公司"),
        })
        .then_expect_events(with_entity()[3..].to_vec());
}

/// The programme `id`@v1 with its notice counted as `counting` says, as a registry of its own.
fn services_counting(id: &str, counting: &str) -> ProjectServices {
    let (_, text) = ProgrammeRegistry::builtin_sources()
        .iter()
        .find(|(label, _)| label.contains(id))
        .expect("a shipped programme");
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["notice"]["counting"] = serde_json::json!(counting);
    let p = ProgrammeRegistry::parse("counting.json", &v.to_string()).expect("a valid definition");
    let mut registry = ProgrammeRegistry::empty();
    registry.insert(p).unwrap();
    ProjectServices::new(registry)
}

fn publish(starts_on: NaiveDate, ends_on: NaiveDate) -> C {
    C::PublishNotice {
        starts_on,
        ends_on,
        channel: "县政府网站".to_string(),
    }
}

fn published(starts_on: NaiveDate, ends_on: NaiveDate) -> Vec<E> {
    vec![E::NoticePublished {
        starts_on,
        ends_on,
        channel: "县政府网站".to_string(),
    }]
}

#[test]
fn the_notice_runs_at_least_five_working_days_counted_from_the_next_day() {
    // National Day 2021: 1–7 October off, Sunday 26 September and Saturday 9 October worked.
    // Counted from the day after 29 September (民法典 第二百零一条): 30 Sep (1), 8 Oct (2),
    // Sat 9 Oct (3), 11 Oct (4), 12 Oct (5). So 29 Sep – 8 Oct holds two working days.
    framework()
        .given(with_entity())
        .when(publish(date(2021, 9, 29), date(2021, 10, 8)))
        .then_expect_error(ProjectError::NoticeTooShort {
            required: 5,
            actual: 2,
            starts_on: "2021-09-29".to_string(),
            ends_on: "2021-10-08".to_string(),
            earliest_end: "2021-10-12".to_string(),
            counting: "counted from the day after the notice starts (民法典 第二百零一条)",
        });
    // One working day too short: to Monday 11 October is four; the message has the numbers.
    let err = framework()
        .given(with_entity())
        .when(publish(date(2021, 9, 29), date(2021, 10, 11)))
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "notice.too_short");
    assert_eq!(
        err.to_string(),
        "the public notice must run at least 5 working days, counted from the day after the notice starts (民法典 第二百零一条); 2021-09-29 – 2021-10-11 has 4: it may end on 2021-10-12 at the earliest"
    );
    // To Tuesday 12 October makes five.
    framework()
        .given(with_entity())
        .when(publish(date(2021, 9, 29), date(2021, 10, 12)))
        .then_expect_events(published(date(2021, 9, 29), date(2021, 10, 12)));
}

#[test]
fn a_programme_that_counts_the_start_day_ends_the_notice_a_working_day_earlier() {
    let services = services_counting(VILLAGES_2021, "from_start_day");
    let calendar = services.calendar.current();
    let programme = services.programmes.get(VILLAGES_2021, 1).unwrap();
    // 29 Sep (1), 30 Sep (2), 8 Oct (3), Sat 9 Oct (4), 11 Oct (5).
    assert_eq!(
        workflows::deadlines::notice_last_day(&calendar, &programme.notice, date(2021, 9, 29)),
        Ok(date(2021, 10, 11))
    );
    TestFramework::<SubsidyProject>::with(services_counting(VILLAGES_2021, "from_start_day"))
        .given(with_entity())
        .when(publish(date(2021, 9, 29), date(2021, 10, 11)))
        .then_expect_events(published(date(2021, 9, 29), date(2021, 10, 11)));
    TestFramework::<SubsidyProject>::with(services_counting(VILLAGES_2021, "from_start_day"))
        .given(with_entity())
        .when(publish(date(2021, 9, 29), date(2021, 10, 9)))
        .then_expect_error(ProjectError::NoticeTooShort {
            required: 5,
            actual: 4,
            starts_on: "2021-09-29".to_string(),
            ends_on: "2021-10-09".to_string(),
            earliest_end: "2021-10-11".to_string(),
            counting: "counted from the day the notice starts, as its programme states",
        });
    // The shipped definition counts civilly: the same notice ends a working day later.
    let shipped = ProgrammeRegistry::builtin();
    assert_eq!(
        workflows::deadlines::notice_last_day(
            &calendar,
            &shipped.get(VILLAGES_2021, 1).unwrap().notice,
            date(2021, 9, 29)
        ),
        Ok(date(2021, 10, 12))
    );
}

#[test]
fn objections_must_all_be_resolved_before_the_notice_closes() {
    let mut h = in_notice();
    h.push(E::ObjectionRaised {
        objection_id: "YY-1".to_string(),
        raised_on: date(2021, 6, 15),
        raised_by: "村民代表".to_string(),
        summary: "网点选址离村中心过远".to_string(),
    });
    framework()
        .given(h.clone())
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 22),
        })
        .then_expect_error(ProjectError::UnresolvedObjections {
            count: 1,
            ids: "YY-1".to_string(),
        });
    framework()
        .given(h.clone())
        .when(C::RaiseObjection {
            objection_id: "YY-1".to_string(),
            raised_on: date(2021, 6, 16),
            raised_by: "x".to_string(),
            summary: "y".to_string(),
        })
        .then_expect_error(ProjectError::DuplicateObjection {
            objection_id: "YY-1".to_string(),
        });
    let resolved = E::ObjectionResolved {
        objection_id: "YY-1".to_string(),
        resolved_on: date(2021, 6, 17),
        outcome: ObjectionOutcome::Upheld,
        resolution: "网点改设在村党群服务中心".to_string(),
    };
    framework()
        .given(h.clone())
        .when(C::ResolveObjection {
            objection_id: "YY-1".to_string(),
            resolved_on: date(2021, 6, 17),
            outcome: ObjectionOutcome::Upheld,
            resolution: "网点改设在村党群服务中心".to_string(),
        })
        .then_expect_events(vec![resolved.clone()]);
    h.push(resolved);
    framework()
        .given(h.clone())
        .when(C::ResolveObjection {
            objection_id: "YY-1".to_string(),
            resolved_on: date(2021, 6, 17),
            outcome: ObjectionOutcome::Dismissed,
            resolution: "again".to_string(),
        })
        .then_expect_error(ProjectError::ObjectionAlreadyResolved {
            objection_id: "YY-1".to_string(),
        });
    framework()
        .given(h.clone())
        .when(C::ResolveObjection {
            objection_id: "YY-9".to_string(),
            resolved_on: date(2021, 6, 17),
            outcome: ObjectionOutcome::Dismissed,
            resolution: "n/a".to_string(),
        })
        .then_expect_error(ProjectError::UnknownObjection {
            objection_id: "YY-9".to_string(),
        });
    framework()
        .given(h)
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 22),
        })
        .then_expect_events(vec![E::NoticeClosed {
            closed_on: date(2021, 6, 22),
        }]);
}

#[test]
fn the_notice_closes_only_after_its_last_day() {
    // The last day, 21 June, is still a day of the notice: objections may be raised on it.
    let err = framework()
        .given(in_notice())
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 21),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        err,
        ProjectError::NoticeStillRunning {
            ends_on: "2021-06-21".to_string(),
            closed_on: "2021-06-21".to_string(),
            earliest: "2021-06-22".to_string(),
        }
    );
    assert_eq!(err.code(), "notice.still_running");
    assert!(
        err.to_string()
            .contains("the earliest day it can close is 2021-06-22"),
        "{err}"
    );
    framework()
        .given(in_notice())
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 17),
        })
        .then_expect_error(ProjectError::NoticeStillRunning {
            ends_on: "2021-06-21".to_string(),
            closed_on: "2021-06-17".to_string(),
            earliest: "2021-06-22".to_string(),
        });
    // The next day it closes, and money may move.
    framework()
        .given(in_notice())
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 22),
        })
        .then_expect_events(vec![E::NoticeClosed {
            closed_on: date(2021, 6, 22),
        }]);
}

#[test]
fn objections_are_raised_from_the_first_to_the_last_day_of_the_notice() {
    let raise = |on: NaiveDate| C::RaiseObjection {
        objection_id: "YY-2".to_string(),
        raised_on: on,
        raised_by: "村民代表".to_string(),
        summary: "公示最后一日提出的异议".to_string(),
    };
    for on in [date(2021, 6, 11), date(2021, 6, 21)] {
        framework()
            .given(in_notice())
            .when(raise(on))
            .then_expect_events(vec![E::ObjectionRaised {
                objection_id: "YY-2".to_string(),
                raised_on: on,
                raised_by: "村民代表".to_string(),
                summary: "公示最后一日提出的异议".to_string(),
            }]);
    }
    // An objection raised on the last day keeps the notice open until it is resolved.
    let mut h = in_notice();
    h.push(E::ObjectionRaised {
        objection_id: "YY-2".to_string(),
        raised_on: date(2021, 6, 21),
        raised_by: "村民代表".to_string(),
        summary: "公示最后一日提出的异议".to_string(),
    });
    framework()
        .given(h)
        .when(C::CloseNotice {
            closed_on: date(2021, 6, 22),
        })
        .then_expect_error(ProjectError::UnresolvedObjections {
            count: 1,
            ids: "YY-2".to_string(),
        });
    // The day after the last day the period has run: too late, as before the start.
    for on in [date(2021, 6, 22), date(2021, 6, 10)] {
        let err = framework()
            .given(in_notice())
            .when(raise(on))
            .inspect_result()
            .unwrap_err();
        assert_eq!(
            err,
            ProjectError::ObjectionOutsideNotice {
                raised_on: on.to_string(),
                starts_on: "2021-06-11".to_string(),
                ends_on: "2021-06-21".to_string(),
            }
        );
        assert_eq!(
            (err.code(), err.pointer().as_deref()),
            ("objection.outside_notice", Some("/raised_on"))
        );
    }
}

// ------------------------------------------------------------------ construction and acceptance

#[test]
fn progress_reports_are_validated_against_the_programme_form() {
    let form = progress_form(VILLAGES_2021, TOWN, "7月上旬", date(2021, 7, 9), 30);
    framework()
        .given(in_construction())
        .when(C::SubmitProgressReport {
            period: "2021-07-10".to_string(),
            reported_on: date(2021, 7, 9),
            form: form.clone(),
        })
        .then_expect_events(vec![E::ProgressReportSubmitted {
            period: "2021-07-10".to_string(),
            reported_on: date(2021, 7, 9),
            form,
        }]);
    let mut bad = progress_form(VILLAGES_2021, TOWN, "7月上旬", date(2021, 7, 9), 30);
    bad["coverage_percent"] = serde_json::json!(140);
    let err = framework()
        .given(in_construction())
        .when(C::SubmitProgressReport {
            period: "2021-07-10".to_string(),
            reported_on: date(2021, 7, 9),
            form: bad,
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "form.invalid");
    assert!(err.to_string().contains("/coverage_percent"), "{err}");
}

#[test]
fn acceptance_passes_when_every_item_meets_the_standard() {
    let results = all_pass_results(520);
    let expected: Vec<InspectedItem> = results
        .iter()
        .map(|r| InspectedItem {
            item_id: r.item_id.clone(),
            passed: true,
            measured: r.measured,
            note: String::new(),
        })
        .collect();
    framework()
        .given(in_acceptance())
        .when(C::RecordInspection {
            inspected_on: date(2021, 8, 10),
            inspector: "县发展改革局验收组".to_string(),
            results,
            rectify_by: None,
        })
        .then_expect_events(vec![E::AcceptancePassed {
            inspected_on: date(2021, 8, 10),
            inspector: "县发展改革局验收组".to_string(),
            results: expected,
        }]);
}

#[test]
fn a_township_centre_under_500_square_metres_fails_with_a_rectification_item() {
    let events = framework()
        .given(in_acceptance())
        .when(C::RecordInspection {
            inspected_on: date(2021, 8, 10),
            inspector: "县发展改革局验收组".to_string(),
            results: all_pass_results(480),
            rectify_by: Some(date(2021, 9, 10)),
        })
        .inspect_result()
        .unwrap();
    match &events[..] {
        [E::AcceptanceFailed {
            rectification,
            rectify_by,
            ..
        }] => {
            assert_eq!(*rectify_by, Some(date(2021, 9, 10)));
            assert_eq!(
                rectification
                    .iter()
                    .map(|r| r.item_id.as_str())
                    .collect::<Vec<_>>(),
                ["tc-area"]
            );
            assert!(
                rectification[0].text.contains("500"),
                "{:?}",
                rectification[0]
            );
        }
        other => panic!("expected AcceptanceFailed, got {other:?}"),
    }
}

#[test]
fn after_rectification_acceptance_is_requested_again() {
    let mut h = in_acceptance();
    h.push(E::AcceptanceFailed {
        inspected_on: date(2021, 8, 10),
        inspector: "验收组".to_string(),
        results: vec![],
        rectification: vec![RectificationItem {
            item_id: "tc-area".to_string(),
            text: "面积".to_string(),
            note: String::new(),
        }],
        rectify_by: None,
    });
    framework()
        .given(h)
        .when(C::RequestAcceptance {
            requested_on: date(2021, 9, 1),
        })
        .then_expect_events(vec![E::AcceptanceRequested {
            requested_on: date(2021, 9, 1),
        }]);
}

#[test]
fn an_inspection_must_cover_every_item_once_with_the_figures_required() {
    let mut missing = all_pass_results(520);
    missing.retain(|r| r.item_id != "tc-signage");
    framework()
        .given(in_acceptance())
        .when(C::RecordInspection {
            inspected_on: date(2021, 8, 10),
            inspector: "组".to_string(),
            results: missing,
            rectify_by: None,
        })
        .then_expect_error(ProjectError::ChecklistItemMissing {
            item_id: "tc-signage".to_string(),
        });
    let mut no_figure = all_pass_results(520);
    no_figure
        .iter_mut()
        .find(|r| r.item_id == "tc-area")
        .unwrap()
        .measured = None;
    framework()
        .given(in_acceptance())
        .when(C::RecordInspection {
            inspected_on: date(2021, 8, 10),
            inspector: "组".to_string(),
            results: no_figure,
            rectify_by: None,
        })
        .then_expect_error(ProjectError::MeasurementRequired {
            item_id: "tc-area".to_string(),
            min: 500,
            unit: "平方米".to_string(),
        });
    let mut unknown = all_pass_results(520);
    unknown[0].item_id = "no-such-item".to_string();
    let err = framework()
        .given(in_acceptance())
        .when(C::RecordInspection {
            inspected_on: date(2021, 8, 10),
            inspector: "组".to_string(),
            results: unknown,
            rectify_by: None,
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "acceptance.unknown_item");
}

#[test]
fn evaluation_scores_every_indicator_and_derives_the_grade() {
    let events = framework()
        .given(in_evaluation())
        .when(C::EvaluatePerformance {
            evaluated_on: date(2021, 12, 20),
            scores: full_scores(100),
        })
        .inspect_result()
        .unwrap();
    assert!(
        matches!(
            &events[..],
            [E::PerformanceEvaluated {
                total: 100,
                grade: Grade::Excellent,
                ..
            }]
        ),
        "{events:?}"
    );
    let events = framework()
        .given(in_evaluation())
        .when(C::EvaluatePerformance {
            evaluated_on: date(2021, 12, 20),
            scores: full_scores(50),
        })
        .inspect_result()
        .unwrap();
    assert!(
        matches!(
            &events[..],
            [E::PerformanceEvaluated {
                grade: Grade::Poor,
                ..
            }]
        ),
        "{events:?}"
    );
    let mut too_high = full_scores(100);
    too_high[0].score += 1;
    let err = framework()
        .given(in_evaluation())
        .when(C::EvaluatePerformance {
            evaluated_on: date(2021, 12, 20),
            scores: too_high,
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "evaluation.score_too_high");
    let mut short = full_scores(100);
    let dropped = short.pop().unwrap().indicator_id;
    framework()
        .given(in_evaluation())
        .when(C::EvaluatePerformance {
            evaluated_on: date(2021, 12, 20),
            scores: short,
        })
        .then_expect_error(ProjectError::IndicatorMissing {
            indicator_id: dropped,
        });
}

// ------------------------------------------------------------------ finance discipline

#[test]
fn no_money_moves_before_the_notice_has_closed() {
    for history in [funds_approved(approved()), funds_approved(in_notice())] {
        let stage = {
            let mut p = SubsidyProject::default();
            for e in history.clone() {
                cqrs_es::Aggregate::apply(&mut p, e);
            }
            p.stage
        };
        framework()
            .given(history)
            .when(C::DisburseTranche {
                source: FundSource::City,
                amount: Fen(100),
                paid_on: date(2021, 6, 15),
            })
            .then_expect_error(ProjectError::NoticeNotClosed { stage });
    }
}

#[test]
fn a_tranche_is_paid_after_a_clean_notice_and_numbered() {
    framework()
        .given(in_construction())
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(20_000_000),
            paid_on: date(2021, 6, 25),
        })
        .then_expect_events(vec![E::TrancheDisbursed {
            source: FundSource::City,
            tranche: 1,
            amount: Fen(20_000_000),
            paid_on: date(2021, 6, 25),
        }]);
}

#[test]
fn payments_never_exceed_what_was_approved_per_source() {
    let mut h = in_construction();
    h.push(E::TrancheDisbursed {
        source: FundSource::City,
        tranche: 1,
        amount: Fen(40_000_000),
        paid_on: date(2021, 6, 25),
    });
    framework()
        .given(h.clone())
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(10_000_001),
            paid_on: date(2021, 7, 25),
        })
        .then_expect_error(ProjectError::ExceedsApproved {
            fund: FundSource::City,
            approved: Fen(50_000_000),
            paid: Fen(40_000_000),
            requested: Fen(10_000_001),
            would_be: Fen(50_000_001),
        });
    // Exactly the remainder is fine.
    framework()
        .given(h)
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(10_000_000),
            paid_on: date(2021, 7, 25),
        })
        .then_expect_events(vec![E::TrancheDisbursed {
            source: FundSource::City,
            tranche: 2,
            amount: Fen(10_000_000),
            paid_on: date(2021, 7, 25),
        }]);
}

#[test]
fn no_payment_from_a_source_without_approved_funds_or_outside_the_programme() {
    let h = in_notice();
    let mut closed = h.clone();
    closed.push(E::NoticeClosed {
        closed_on: date(2021, 6, 22),
    });
    framework()
        .given(closed.clone())
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(1),
            paid_on: date(2021, 6, 25),
        })
        .then_expect_error(ProjectError::NoFundsApproved {
            fund: FundSource::City,
        });
    framework()
        .given(closed)
        .when(C::ApproveFunds {
            source: FundSource::Province,
            amount: Fen(1),
            approved_on: date(2021, 6, 25),
        })
        .then_expect_error(ProjectError::SourceNotInProgramme {
            fund: FundSource::Province,
        });
}

#[test]
fn the_county_top_up_comes_only_after_city_award_funds_were_paid() {
    framework()
        .given(in_construction())
        .when(C::DisburseTranche {
            source: FundSource::County,
            amount: Fen(1_000),
            paid_on: date(2021, 6, 25),
        })
        .then_expect_error(ProjectError::PrerequisiteSourceNotPaid {
            fund: FundSource::County,
            prerequisite: FundSource::City,
        });
}

#[test]
fn funds_are_approved_once_per_source_and_must_be_positive() {
    framework()
        .given(funds_approved(approved()))
        .when(C::ApproveFunds {
            source: FundSource::City,
            amount: Fen(1),
            approved_on: date(2021, 6, 25),
        })
        .then_expect_error(ProjectError::FundsAlreadyApproved {
            fund: FundSource::City,
            approved: Fen(50_000_000),
        });
    framework()
        .given(approved())
        .when(C::ApproveFunds {
            source: FundSource::City,
            amount: Fen(0),
            approved_on: date(2021, 6, 25),
        })
        .then_expect_error(ProjectError::NonPositiveAmount { amount: Fen(0) });
}

#[test]
fn settlement_only_after_acceptance_passed() {
    for history in [in_construction(), in_acceptance()] {
        let err = framework()
            .given(history)
            .when(C::SettleFunds {
                source: FundSource::City,
                amount: Fen(1),
                settled_on: date(2021, 8, 5),
            })
            .inspect_result()
            .unwrap_err();
        assert_eq!(err.code(), "finance.acceptance_not_passed", "{err}");
    }
    framework()
        .given(in_evaluation())
        .when(C::SettleFunds {
            source: FundSource::City,
            amount: Fen(30_000_000),
            settled_on: date(2021, 8, 20),
        })
        .then_expect_events(vec![E::FundsSettled {
            source: FundSource::City,
            amount: Fen(30_000_000),
            settled_on: date(2021, 8, 20),
        }]);
    let mut settled = in_evaluation();
    settled.push(E::FundsSettled {
        source: FundSource::City,
        amount: Fen(0),
        settled_on: date(2021, 8, 20),
    });
    framework()
        .given(settled)
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(1),
            paid_on: date(2021, 8, 21),
        })
        .then_expect_error(ProjectError::SourceAlreadySettled {
            fund: FundSource::City,
        });
}

#[test]
fn a_poor_evaluation_requires_a_clawback_before_closing_and_stops_payments() {
    let poor = evaluated(Grade::Poor, 50);
    framework()
        .given(poor.clone())
        .when(C::CloseProject {
            closed_on: date(2021, 12, 31),
        })
        .then_expect_error(ProjectError::ClawbackRequired);
    framework()
        .given(poor.clone())
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(1),
            paid_on: date(2021, 12, 21),
        })
        .then_expect_error(ProjectError::PaymentAfterFailedEvaluation);
    let ordered = E::ClawbackOrdered {
        source: FundSource::City,
        amount: Fen(20_000_000),
        ordered_on: date(2021, 12, 22),
        reason: "绩效评价为差".to_string(),
    };
    framework()
        .given(poor.clone())
        .when(C::OrderClawback {
            source: FundSource::City,
            amount: Fen(20_000_000),
            ordered_on: date(2021, 12, 22),
            reason: "绩效评价为差".to_string(),
        })
        .then_expect_events(vec![ordered.clone()]);
    let mut h = poor;
    h.push(ordered);
    framework()
        .given(h.clone())
        .when(C::CloseProject {
            closed_on: date(2021, 12, 31),
        })
        .then_expect_error(ProjectError::ClawbackOutstanding {
            outstanding: Fen(20_000_000),
        });
    framework()
        .given(h.clone())
        .when(C::SettleClawback {
            source: FundSource::City,
            amount: Fen(20_000_001),
            settled_on: date(2021, 12, 28),
        })
        .then_expect_error(ProjectError::ClawbackExceedsOutstanding {
            fund: FundSource::City,
            outstanding: Fen(20_000_000),
            requested: Fen(20_000_001),
        });
    h.push(E::ClawbackSettled {
        source: FundSource::City,
        amount: Fen(20_000_000),
        settled_on: date(2021, 12, 28),
    });
    framework()
        .given(h)
        .when(C::CloseProject {
            closed_on: date(2021, 12, 31),
        })
        .then_expect_events(vec![E::ProjectClosed {
            closed_on: date(2021, 12, 31),
        }]);
}

#[test]
fn a_clawback_cannot_exceed_what_was_paid() {
    framework()
        .given(in_acceptance())
        .when(C::OrderClawback {
            source: FundSource::City,
            amount: Fen(20_000_001),
            ordered_on: date(2021, 8, 3),
            reason: "x".to_string(),
        })
        .then_expect_error(ProjectError::ClawbackExceedsPaid {
            fund: FundSource::City,
            available: Fen(20_000_000),
            requested: Fen(20_000_001),
        });
}

#[test]
fn a_good_project_closes_after_evaluation() {
    framework()
        .given(evaluated(Grade::Good, 85))
        .when(C::CloseProject {
            closed_on: date(2021, 12, 31),
        })
        .then_expect_events(vec![E::ProjectClosed {
            closed_on: date(2021, 12, 31),
        }]);
}

// ------------------------------------------------------------------ suspension, termination, officials

#[test]
fn a_suspended_project_accepts_only_resumption_termination_clawback_and_officials() {
    let mut h = in_construction();
    h.push(E::ProjectSuspended {
        suspended_on: date(2021, 7, 1),
        reason: "用地手续待补".to_string(),
    });
    framework()
        .given(h.clone())
        .when(C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(1),
            paid_on: date(2021, 7, 2),
        })
        .then_expect_error(ProjectError::Suspended {
            command: domain::CommandKind::DisburseTranche,
        });
    framework()
        .given(h.clone())
        .when(C::AssignOfficial {
            role: OfficialRole::Liaison,
            official: official("李示例", "科长", "liaison@example.org"),
        })
        .then_expect_events(vec![E::OfficialAssigned {
            role: OfficialRole::Liaison,
            official: official("李示例", "科长", "liaison@example.org"),
        }]);
    framework()
        .given(h.clone())
        .when(C::ResumeProject {
            resumed_on: date(2021, 6, 30),
        })
        .then_expect_error(ProjectError::DateBeforePrevious {
            date: "2021-06-30".to_string(),
            previous: "2021-07-01".to_string(),
        });
    framework()
        .given(h)
        .when(C::ResumeProject {
            resumed_on: date(2021, 7, 20),
        })
        .then_expect_events(vec![E::ProjectResumed {
            resumed_on: date(2021, 7, 20),
        }]);
    framework()
        .given(in_construction())
        .when(C::ResumeProject {
            resumed_on: date(2021, 7, 20),
        })
        .then_expect_error(ProjectError::NotSuspended);
}

#[test]
fn termination_orders_the_clawback_and_then_only_clawback_settlement_is_accepted() {
    framework()
        .given(in_acceptance())
        .when(C::TerminateProject {
            terminated_on: date(2021, 8, 5),
            reason: "建设主体退出".to_string(),
            clawbacks: vec![ClawbackLine {
                source: FundSource::City,
                amount: Fen(20_000_000),
            }],
        })
        .then_expect_events(vec![
            E::ClawbackOrdered {
                source: FundSource::City,
                amount: Fen(20_000_000),
                ordered_on: date(2021, 8, 5),
                reason: "建设主体退出".to_string(),
            },
            E::ProjectTerminated {
                terminated_on: date(2021, 8, 5),
                reason: "建设主体退出".to_string(),
            },
        ]);
    let mut h = in_acceptance();
    h.push(E::ClawbackOrdered {
        source: FundSource::City,
        amount: Fen(20_000_000),
        ordered_on: date(2021, 8, 5),
        reason: "建设主体退出".to_string(),
    });
    h.push(E::ProjectTerminated {
        terminated_on: date(2021, 8, 5),
        reason: "建设主体退出".to_string(),
    });
    framework()
        .given(h.clone())
        .when(C::AssignOfficial {
            role: OfficialRole::Liaison,
            official: official("李示例", "科长", "liaison@example.org"),
        })
        .then_expect_error(ProjectError::Terminated);
    framework()
        .given(h.clone())
        .when(C::OrderClawback {
            source: FundSource::City,
            amount: Fen(1),
            ordered_on: date(2021, 8, 6),
            reason: "x".to_string(),
        })
        .then_expect_error(ProjectError::Terminated);
    framework()
        .given(h)
        .when(C::SettleClawback {
            source: FundSource::City,
            amount: Fen(5_000_000),
            settled_on: date(2021, 9, 1),
        })
        .then_expect_events(vec![E::ClawbackSettled {
            source: FundSource::City,
            amount: Fen(5_000_000),
            settled_on: date(2021, 9, 1),
        }]);
}

#[test]
fn termination_clawback_lines_together_cannot_exceed_what_was_paid() {
    let err = framework()
        .given(in_acceptance())
        .when(C::TerminateProject {
            terminated_on: date(2021, 8, 5),
            reason: "x".to_string(),
            clawbacks: vec![
                ClawbackLine {
                    source: FundSource::City,
                    amount: Fen(15_000_000),
                },
                ClawbackLine {
                    source: FundSource::City,
                    amount: Fen(15_000_000),
                },
            ],
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "finance.clawback_exceeds_paid");
}

#[test]
fn officials_need_a_plausible_email_address() {
    let err = framework()
        .given(registered(VILLAGES_2021))
        .when(C::AssignOfficial {
            role: OfficialRole::OfficialInCharge,
            official: official("张示例", "副局长", "zhang.example.org"),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "official.invalid_email");
    assert!(err.to_string().contains("分管领导"), "{err}");
}

#[test]
fn deadlines_can_be_extended_while_the_project_is_live() {
    framework()
        .given(in_construction())
        .when(C::ExtendDeadline {
            deadline_id: "village-points".to_string(),
            until: date(2021, 8, 31),
            reason: "汛期停工".to_string(),
        })
        .then_expect_events(vec![E::DeadlineExtended {
            deadline_id: "village-points".to_string(),
            until: date(2021, 8, 31),
            reason: "汛期停工".to_string(),
        }]);
}

#[test]
fn closed_projects_refuse_further_work() {
    let mut h = evaluated(Grade::Good, 85);
    h.push(E::ProjectClosed {
        closed_on: date(2021, 12, 31),
    });
    let err = framework()
        .given(h)
        .when(C::SuspendProject {
            suspended_on: date(2022, 1, 5),
            reason: "x".to_string(),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "stage.command_not_allowed");
}

#[test]
fn every_command_kind_has_exactly_one_row_in_the_transition_table() {
    use domain::stage::TRANSITIONS;
    let kinds: Vec<_> = TRANSITIONS.iter().map(|t| t.command).collect();
    for (i, k) in kinds.iter().enumerate() {
        assert!(!kinds[i + 1..].contains(k), "{k:?} appears twice");
    }
    assert_eq!(kinds.len(), 23);
    assert!(!TRANSITIONS
        .iter()
        .any(|t| t.from.contains(&Stage::Unregistered)
            && t.command != domain::CommandKind::RegisterProject));
}
