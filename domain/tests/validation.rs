//! Field validation (`domain::validate`): what the permanent log refuses, and how it says so.
//! Each test was written against a defect found when the product was tried from outside.

use chrono::NaiveDate;
use cqrs_es::test::TestFramework;
use domain::fixtures::*;
use domain::validate::{check_context, check_json_value, check_text, TextClass};
use domain::{
    CommandContext, DocumentRef, Fen, JurisdictionCode, ProjectCommand as C, ProjectError,
    ProjectEvent as E, ProjectServices, SubsidyProject,
};
use workflows::programme::{FundSource, OfficialRole, ProgrammeRegistry};

fn framework() -> TestFramework<SubsidyProject> {
    TestFramework::with(ProjectServices::new(ProgrammeRegistry::builtin()))
}

fn registered() -> Vec<E> {
    vec![E::ProjectRegistered {
        name: "示例镇快递进村".to_string(),
        programme_id: VILLAGES_2021.to_string(),
        programme_version: 1,
        jurisdiction: JurisdictionCode::parse("370323").unwrap(),
        description: String::new(),
        registered_on: date(2021, 6, 3),
    }]
}

/// A project of the 2021 village programme whose notice closed clean, with `approved` of city
/// funds approved.
fn paying(approved: Fen) -> Vec<E> {
    let mut h = registered();
    h.extend([
        E::PlanSubmitted {
            revision: 1,
            submitted_on: date(2021, 6, 8),
            form: plan_form(VILLAGES_2021, "示例镇", date(2021, 6, 8)),
        },
        E::PlanApproved {
            reviewed_on: date(2021, 6, 10),
            comment: String::new(),
        },
        E::ConstructionEntityDesignated {
            entity: entity("示例快递服务有限公司"),
        },
        E::FundsApproved {
            source: FundSource::City,
            amount: approved,
            approved_on: date(2021, 6, 10),
        },
        E::NoticePublished {
            starts_on: date(2021, 6, 11),
            ends_on: date(2021, 6, 21),
            channel: "县政府网站".to_string(),
        },
        E::NoticeClosed {
            closed_on: date(2021, 6, 22),
        },
    ]);
    h
}

fn error_of(history: Vec<E>, command: C) -> ProjectError {
    let services = ProjectServices::new(ProgrammeRegistry::builtin());
    let mut project = SubsidyProject::default();
    for e in history {
        cqrs_es::Aggregate::apply(&mut project, e);
    }
    project
        .decide(command, &services)
        .expect_err("the command must be refused")
}

#[test]
fn an_amount_above_the_global_ceiling_is_refused_and_named() {
    let err = error_of(
        registered(),
        C::ApproveFunds {
            source: FundSource::City,
            amount: Fen(i64::MAX),
            approved_on: date(2021, 6, 10),
        },
    );
    assert_eq!(err.code(), "input.amount_out_of_range");
    assert_eq!(err.pointer().as_deref(), Some("/amount_fen"));
    assert!(err.to_string().contains("¥10,000,000,000.00"), "{err}");
}

#[test]
fn tranches_at_the_ceiling_never_wrap_the_balance() {
    // The finding: approve i64::MAX, pay i64::MAX, then 1, then i64::MAX again; the project
    // showed paid −1. Now the largest approval is the ceiling, and the next fen is refused.
    let mut h = paying(Fen::MAX_AMOUNT);
    h.push(E::TrancheDisbursed {
        source: FundSource::City,
        tranche: 1,
        amount: Fen::MAX_AMOUNT,
        paid_on: date(2021, 6, 25),
    });
    let err = error_of(
        h.clone(),
        C::DisburseTranche {
            source: FundSource::City,
            amount: Fen(1),
            paid_on: date(2021, 6, 26),
        },
    );
    assert_eq!(err.code(), "finance.exceeds_approved");
    let mut project = SubsidyProject::default();
    for e in h {
        cqrs_es::Aggregate::apply(&mut project, e);
    }
    assert_eq!(project.total_paid(), Fen::MAX_AMOUNT);
    assert!(project.total_paid() > Fen::ZERO);
}

#[test]
fn dates_outside_the_programme_horizon_or_before_registration_are_refused() {
    for (on, why) in [
        (date(1900, 1, 1), "long before registration"),
        (date(2021, 6, 2), "the day before registration"),
        (date(9999, 12, 31), "far after the programme"),
        (date(2032, 1, 1), "after the programme's tenth year"),
    ] {
        let err = error_of(
            paying(Fen(100)),
            C::SubmitProgressReport {
                period: "7月上旬".into(),
                reported_on: on,
                form: progress_form(VILLAGES_2021, "示例镇", "7月上旬", on, 1),
            },
        );
        assert_eq!(err.code(), "input.date_out_of_range", "{why}: {err}");
        assert_eq!(err.pointer().as_deref(), Some("/reported_on"), "{why}");
    }
}

fn register_on(on: NaiveDate) -> C {
    C::RegisterProject {
        name: "示例".into(),
        programme_id: VILLAGES_2021.into(),
        programme_version: 1,
        jurisdiction: JurisdictionCode::parse("370323").unwrap(),
        description: String::new(),
        registered_on: on,
    }
}

#[test]
fn registration_falls_in_the_programme_application_window() {
    // The 2021 village programme registers from 2021-06-02 (the plan's issue) to 2021-12-31.
    for on in [
        date(2021, 6, 1),
        date(2022, 1, 1),
        date(2017, 5, 24),
        date(2026, 3, 3),
        date(1, 1, 1),
    ] {
        let err = error_of(Vec::new(), register_on(on));
        assert_eq!(
            err,
            ProjectError::OutsideApplicationWindow {
                date: on.to_string(),
                programme: format!("{VILLAGES_2021}@v1"),
                opens_on: "2021-06-02".to_string(),
                closes_on: "2021-12-31".to_string(),
            }
        );
        assert_eq!(err.code(), "registration.outside_window");
        assert_eq!(err.pointer().as_deref(), Some("/registered_on"));
        let message = err.to_string();
        assert!(
            message.contains("registered_on")
                && message.contains("2021-06-02")
                && message.contains("2021-12-31"),
            "{message}"
        );
    }
    // Both ends of the window are inside it.
    let services = ProjectServices::new(ProgrammeRegistry::builtin());
    for on in [date(2021, 6, 2), date(2021, 12, 31)] {
        let events = SubsidyProject::default()
            .decide(register_on(on), &services)
            .unwrap_or_else(|e| panic!("{on}: {e}"));
        assert_eq!(events.len(), 1);
    }
}

#[test]
fn a_deadline_extension_must_name_a_deadline_of_the_programme() {
    for id in [
        "no-such-deadline",
        "notice-end#0",
        "x@2021-07-10",
        "plan@July",
    ] {
        let err = error_of(
            registered(),
            C::ExtendDeadline {
                deadline_id: id.into(),
                until: date(2021, 8, 1),
                reason: "汛期".into(),
            },
        );
        assert!(
            matches!(err.code(), "deadline.unknown" | "input.invalid_field"),
            "{id}: {err}"
        );
    }
    let programme = ProgrammeRegistry::builtin().get(VILLAGES_2021, 1).unwrap();
    let rule = programme.deadlines[0].id.clone();
    let slot = format!("{}@2021-07-10", programme.report_schedules[0].id);
    for id in [rule, slot, "notice-end".to_string()] {
        framework()
            .given(registered())
            .when(C::ExtendDeadline {
                deadline_id: id.clone(),
                until: date(2021, 8, 1),
                reason: "汛期".into(),
            })
            .then_expect_events(vec![E::DeadlineExtended {
                deadline_id: id,
                until: date(2021, 8, 1),
                reason: "汛期".into(),
            }]);
    }
    // An extension into year 9999 is refused like any other date.
    let err = error_of(
        registered(),
        C::ExtendDeadline {
            deadline_id: "notice-end".into(),
            until: date(9999, 12, 31),
            reason: "汛期".into(),
        },
    );
    assert_eq!(err.code(), "input.date_out_of_range");
}

#[test]
fn text_fields_refuse_control_bidi_and_oversized_values() {
    let line = |v: &str| check_text("name", v, TextClass::Line, true);
    assert!(line("沂源县示例项目").is_ok());
    for bad in [
        "",
        "   ",
        "a\nb",
        "a\u{0}b",
        "\u{1b}[31mred",
        "abc\u{202e}def",
        "\u{2066}x",
        &"长".repeat(201),
    ] {
        let err = line(bad).expect_err(bad);
        assert_eq!(err.code(), "input.invalid_field", "{bad:?}");
        assert_eq!(err.pointer().as_deref(), Some("/name"));
    }
    // A paragraph may hold line breaks and tabs, not other controls.
    assert!(check_text("summary", "一\n二\t三", TextClass::Paragraph, true).is_ok());
    assert!(check_text("summary", "一\u{7}", TextClass::Paragraph, true).is_err());
    // An identifier is printable ASCII without spaces.
    assert!(check_text("objection_id", "YY-001", TextClass::Identifier, true).is_ok());
    assert!(check_text("objection_id", "YY 001", TextClass::Identifier, true).is_err());
    assert!(check_text("objection_id", "异议1", TextClass::Identifier, true).is_err());
}

#[test]
fn commands_refuse_bad_text_with_the_field_named() {
    let err = error_of(
        Vec::new(),
        C::RegisterProject {
            name: "x".repeat(100 * 1024),
            programme_id: VILLAGES_2021.into(),
            programme_version: 1,
            jurisdiction: JurisdictionCode::parse("370323").unwrap(),
            description: String::new(),
            registered_on: date(2021, 6, 3),
        },
    );
    assert_eq!(err.pointer().as_deref(), Some("/name"), "{err}");
    let mut bad_language = official("李示例", "科长", "l@example.org");
    bad_language.language = "xx".into();
    let err = error_of(
        registered(),
        C::AssignOfficial {
            role: OfficialRole::Liaison,
            official: bad_language,
        },
    );
    assert_eq!(
        err.pointer().as_deref(),
        Some("/official/language"),
        "{err}"
    );
    let mut bad_entity = entity("示例公司");
    bad_entity.credit_code = "12345".into();
    let err = error_of(
        registered(),
        C::DesignateConstructionEntity { entity: bad_entity },
    );
    assert_eq!(
        err.pointer().as_deref(),
        Some("/entity/credit_code"),
        "{err}"
    );
}

#[test]
fn evidence_needs_a_title_a_reference_and_a_real_sha256() {
    let ok = CommandContext::new("officer.yiyuan").with_evidence(DocumentRef {
        title: "拨款通知".into(),
        reference: "示例财字〔2021〕12号".into(),
        sha256: Some("ab".repeat(32)),
    });
    assert!(check_context(&ok).is_ok());
    for (title, reference, sha, pointer) in [
        ("", "x", None, "/evidence/0/title"),
        ("t", " ", None, "/evidence/0/reference"),
        ("t", "r", Some("xyz".to_string()), "/evidence/0/sha256"),
        ("t", "r", Some("AB".repeat(32)), "/evidence/0/sha256"),
        ("t\u{1b}", "r", None, "/evidence/0/title"),
    ] {
        let ctx = CommandContext::new("officer.yiyuan").with_evidence(DocumentRef {
            title: title.into(),
            reference: reference.into(),
            sha256: sha,
        });
        let err = check_context(&ctx).expect_err(pointer);
        assert_eq!(err.pointer().as_deref(), Some(pointer), "{err}");
    }
}

#[test]
fn form_numbers_beyond_2_53_are_refused_where_they_are() {
    let form = serde_json::json!({"a": [1, 2.5, {"invested_fen": 9007199254740992_i64}]});
    let err = check_json_value("/form", &form).unwrap_err();
    assert_eq!(err.pointer().as_deref(), Some("/form/a/2/invested_fen"));
    let form = serde_json::json!({"big": 18446744073709551615_u64});
    assert!(check_json_value("/form", &form).is_err());
    let form = serde_json::json!({"ok": 9007199254740991_i64, "neg": -9007199254740991_i64});
    assert!(check_json_value("/form", &form).is_ok());
}
