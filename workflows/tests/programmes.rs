//! Programme definitions: the shipped ones load and say what their seeds say, forms are
//! validated field by field, and every kind of broken definition is refused with the file and
//! the JSON path.

use std::path::Path;

use chrono::NaiveDate;
use serde_json::{json, Value};
use workflows::programme::{
    DayUnit, DueBefore, DueRule, FormError, FundSource, Grade, HolidayShift, NoticeCounting,
    OfficialRole, ProgrammeRegistry, Requirement, ScheduleRule, EVENT_ANCHORS, LABELLED_STAGES,
};

const LOCKERS_2017: &str = "shandong-smart-lockers-2017";
const VILLAGES_2021: &str = "yiyuan-express-to-villages-2021";
const LOCKERS_2025: &str = "yiyuan-smart-lockers-2025";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a real date")
}

fn shipped_text(id: &str) -> &'static str {
    ProgrammeRegistry::builtin_sources()
        .iter()
        .find(|(label, _)| label.contains(id))
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no shipped definition for {id}"))
}

fn shipped_value(id: &str) -> Value {
    serde_json::from_str(shipped_text(id)).expect("shipped definitions are JSON")
}

/// Parses the 2017 definition after `change` has been applied to it, as file "broken.json".
fn parse_changed(
    change: impl FnOnce(&mut Value),
) -> Result<workflows::Programme, workflows::DefinitionError> {
    let mut value = shipped_value(LOCKERS_2017);
    change(&mut value);
    ProgrammeRegistry::parse(
        "broken.json",
        &serde_json::to_string_pretty(&value).unwrap(),
    )
}

fn refused_at(change: impl FnOnce(&mut Value)) -> workflows::DefinitionError {
    match parse_changed(change) {
        Ok(p) => panic!("the broken definition {} was accepted", p.key()),
        Err(e) => {
            assert_eq!(e.file, "broken.json", "the error names the file: {e}");
            assert!(e.to_string().starts_with("broken.json: "), "{e}");
            e
        }
    }
}

fn set(value: &mut Value, pointer: &str, new: Value) {
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} exists in the shipped definition")) = new;
}

fn invalid_pointers(result: Result<(), FormError>) -> Vec<String> {
    match result {
        Ok(()) => panic!("the invalid form was accepted"),
        Err(e @ FormError::UnknownForm { .. }) => panic!("unexpected error: {e}"),
        Err(FormError::Invalid { errors, .. }) => {
            let mut pointers: Vec<String> = errors.into_iter().map(|e| e.pointer).collect();
            pointers.sort();
            pointers
        }
    }
}

fn officials_valid() -> Value {
    json!({
        "reporting_unit": "示例市商务局",
        "officials": [
            {"role": "official_in_charge", "name": "张示例", "post": "副局长", "phone": "0531-0000000", "email": "leader@example.org"},
            {"role": "liaison", "name": "李示例", "post": "科长", "office": "流通业科", "phone": "0531-0000001", "email": "liaison@example.org"}
        ],
        "submitted_on": "2017-05-26"
    })
}

// ---------------------------------------------------------------- shipped definitions

#[test]
fn every_shipped_definition_loads_and_the_builtin_registry_holds_all_three() {
    for (label, text) in ProgrammeRegistry::builtin_sources() {
        let p = ProgrammeRegistry::parse(label, text).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            label.ends_with(&format!("{}.v{}.json", p.id, p.version)),
            "{label} is named after {}",
            p.key()
        );
        assert_eq!(p.origin(), *label);
        assert_eq!(p.max_total_score(), 100);
        for stage in LABELLED_STAGES {
            assert!(p.stage_label(stage).is_some(), "{} labels {stage}", p.key());
        }
        assert!(
            !p.notes.is_empty(),
            "{} explains its chosen values",
            p.key()
        );
    }
    let registry = ProgrammeRegistry::builtin();
    let keys: Vec<String> = registry.all().iter().map(|p| p.key().to_string()).collect();
    assert_eq!(
        keys,
        [
            "shandong-smart-lockers-2017@v1",
            "yiyuan-express-to-villages-2021@v1",
            "yiyuan-smart-lockers-2025@v1"
        ]
    );
    assert_eq!(registry.latest(VILLAGES_2021).unwrap().version, 1);
    assert!(registry.get(LOCKERS_2017, 2).is_none());
}

#[test]
fn the_meta_schema_enumerates_exactly_the_engine_stages_and_event_anchors() {
    let schema: Value =
        serde_json::from_str(include_str!("../schema/programme.schema.json")).unwrap();
    let strings = |pointer: &str| -> Vec<String> {
        schema
            .pointer(pointer)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(strings("/$defs/stage/enum"), LABELLED_STAGES);
    assert_eq!(strings("/$defs/event/enum"), EVENT_ANCHORS);
}

#[test]
fn a_shipped_definition_serialises_back_to_the_same_definition() {
    for p in ProgrammeRegistry::builtin().all() {
        let text = serde_json::to_string_pretty(&*p).unwrap();
        let again =
            ProgrammeRegistry::parse("round-trip.json", &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            again.same_definition(&p),
            "{} survives serialisation",
            p.key()
        );
    }
}

#[test]
fn the_2017_lockers_programme_keeps_the_dates_and_figures_of_seed_000() {
    let p = ProgrammeRegistry::builtin().get(LOCKERS_2017, 1).unwrap();
    assert_eq!(
        (p.year, p.source.date, p.source.seed.as_str()),
        (2017, date(2017, 5, 23), "000")
    );
    for id in ["work-plan", "install-plan", "officials-list"] {
        assert_eq!(
            p.deadline(id).unwrap().due,
            DueRule::Fixed {
                date: date(2017, 5, 31)
            },
            "{id}"
        );
    }
    assert_eq!(
        p.deadline("acceptance").unwrap().due,
        DueRule::Fixed {
            date: date(2017, 12, 31)
        }
    );
    assert_eq!(
        p.deadline("evaluation").unwrap().due,
        DueRule::Fixed {
            date: date(2017, 12, 31)
        }
    );
    let progress = p.report_schedule("progress").unwrap();
    assert_eq!(progress.form, "progress_report");
    assert_eq!(
        progress.rule,
        ScheduleRule::YearlyDates {
            dates: vec!["07-01".into(), "10-01".into(), "12-31".into()]
        }
    );
    // "7月1日…前" read strictly: due by the end of the day before, before any holiday shift.
    assert_eq!(progress.due, DueBefore::Before);
    assert_eq!(progress.shift, HolidayShift::Earlier);
    assert_eq!(
        progress.due_dates(2017),
        [date(2017, 6, 30), date(2017, 9, 30), date(2017, 12, 30)]
    );
    let province = p.funding_rule(FundSource::Province).unwrap();
    assert_eq!(
        (province.cap_fen, province.requires_disbursed_first.len()),
        (None, 0)
    );
    assert!(p.funding_rule(FundSource::County).is_none());
    assert_eq!(p.notice.min_working_days, 5);
    assert_eq!(p.reminders.days_before, 3);
    assert_eq!(
        p.reminders.escalate_overdue_to,
        OfficialRole::OfficialInCharge
    );
    let operators = p
        .form("progress_report")
        .unwrap()
        .schema
        .pointer("/properties/by_operator/items/properties/operator/enum")
        .unwrap()
        .clone();
    assert_eq!(
        operators,
        json!([
            "山东邮政",
            "丰巢",
            "速递易",
            "日日顺",
            "云柜",
            "近邻宝",
            "精致物联"
        ])
    );
    let periods = p
        .form("progress_report")
        .unwrap()
        .schema
        .pointer("/properties/period/enum")
        .unwrap()
        .clone();
    assert_eq!(periods, json!(["一季度", "上半年", "三季度", "全年"]));
}

#[test]
fn the_2021_villages_programme_keeps_the_dates_standards_and_funding_order_of_seed_002() {
    let p = ProgrammeRegistry::builtin().get(VILLAGES_2021, 1).unwrap();
    assert_eq!(p.source.number.as_deref(), Some("源政办字〔2021〕24号"));
    assert_eq!(
        p.deadline("county-centre").unwrap().due,
        DueRule::Fixed {
            date: date(2021, 6, 30)
        }
    );
    assert_eq!(
        p.deadline("township-centre").unwrap().due,
        DueRule::Fixed {
            date: date(2021, 6, 30)
        }
    );
    assert_eq!(
        p.deadline("village-points").unwrap().due,
        DueRule::Fixed {
            date: date(2021, 7, 31)
        }
    );
    assert_eq!(
        p.deadline("year-end-assessment").unwrap().due,
        DueRule::Fixed {
            date: date(2021, 12, 31)
        }
    );
    assert_eq!(
        p.deadline("acceptance-inspection").unwrap().due,
        DueRule::After {
            event: "acceptance_requested".into(),
            days: 10,
            unit: DayUnit::Working
        }
    );
    let progress = p.report_schedule("progress").unwrap();
    assert_eq!(progress.rule, ScheduleRule::Monthly { days: vec![10, 20] });
    let july: Vec<NaiveDate> = progress
        .due_dates(2021)
        .into_iter()
        .filter(|d| d.format("%m").to_string() == "07")
        .collect();
    assert_eq!(july, [date(2021, 7, 9), date(2021, 7, 19)]);
    let item = |id: &str| {
        p.checklist()
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    assert_eq!(
        item("tc-brands").requirement,
        Requirement::AtLeast {
            min: 5,
            unit: "家".into()
        }
    );
    assert_eq!(
        item("tc-area").requirement,
        Requirement::AtLeast {
            min: 500,
            unit: "平方米".into()
        }
    );
    assert_eq!(
        item("tc-area").applies_to.as_deref(),
        Some("township-centre")
    );
    assert_eq!(
        item("vp-signage").applies_to.as_deref(),
        Some("village-point")
    );
    assert_eq!(
        item("coverage").requirement,
        Requirement::AtLeast {
            min: 100,
            unit: "%".into()
        }
    );
    assert!(item("tc-signage")
        .text
        .contains("XXX镇（街道）快递公共服务中心"));
    assert_eq!(
        p.funding_rule(FundSource::City)
            .unwrap()
            .requires_disbursed_first,
        []
    );
    assert_eq!(
        p.funding_rule(FundSource::County)
            .unwrap()
            .requires_disbursed_first,
        [FundSource::City]
    );
}

#[test]
fn the_2025_lockers_programme_asks_for_36_groups_and_the_plan_the_proposal_requires() {
    let p = ProgrammeRegistry::builtin().get(LOCKERS_2025, 1).unwrap();
    assert_eq!((p.year, p.source.seed.as_str()), (2025, "003"));
    let groups = p.checklist().iter().find(|c| c.id == "groups").unwrap();
    assert_eq!(
        groups.requirement,
        Requirement::AtLeast {
            min: 36,
            unit: "组".into()
        }
    );
    let required = p.form("plan").unwrap().schema["required"].clone();
    for field in ["sites", "investors", "maintenance", "emergency_plan"] {
        assert!(
            required.as_array().unwrap().contains(&json!(field)),
            "the plan requires {field}"
        );
    }
    assert_eq!(p.funding.sources.len(), 1);
    assert!(p.funding_rule(FundSource::County).is_some());
}

#[test]
fn shipped_due_dates_fall_on_official_working_days_within_the_documents_limits() {
    let calendar = workflows::calendar::WorkingCalendar::official();
    let registry = ProgrammeRegistry::builtin();
    let lockers = registry.get(LOCKERS_2017, 1).unwrap();
    let progress = lockers.report_schedule("progress").unwrap();
    let shifted: Vec<NaiveDate> = progress
        .due_dates(2017)
        .into_iter()
        .map(|d| progress.shift.apply(d, calendar).unwrap())
        .collect();
    // 30 September 2017 was an adjusted working Saturday; 30 December 2017 was a holiday, so
    // the last report is due on Friday 29 December, still before 31 December.
    assert_eq!(
        shifted,
        [date(2017, 6, 30), date(2017, 9, 30), date(2017, 12, 29)]
    );
    let year_end = lockers.deadline("acceptance").unwrap();
    assert_eq!(
        year_end.shift.apply(date(2017, 12, 31), calendar).unwrap(),
        date(2017, 12, 29)
    );

    let villages = registry.get(VILLAGES_2021, 1).unwrap();
    let points = villages.deadline("village-points").unwrap();
    // 31 July 2021 was a Saturday: "7月底前" does not spill into August.
    assert_eq!(
        points.shift.apply(date(2021, 7, 31), calendar).unwrap(),
        date(2021, 7, 30)
    );
    assert_eq!(
        HolidayShift::Later
            .apply(date(2021, 7, 31), calendar)
            .unwrap(),
        date(2021, 8, 2)
    );
    assert_eq!(
        HolidayShift::None
            .apply(date(2021, 7, 31), calendar)
            .unwrap(),
        date(2021, 7, 31)
    );
}

#[test]
fn grades_follow_the_thresholds_with_the_boundaries_inclusive() {
    let p = ProgrammeRegistry::builtin().get(LOCKERS_2017, 1).unwrap();
    let grades: Vec<&str> = [100, 90, 89, 80, 79, 60, 59, 0]
        .into_iter()
        .map(|s| p.grade_for(s).label_zh())
        .collect();
    assert_eq!(grades, ["优", "优", "良", "良", "中", "中", "差", "差"]);
    assert_eq!(p.grade_for(85), Grade::Good);
    assert_eq!(FundSource::Province.label_zh(), "省级");
    assert_eq!(FundSource::City.label_zh(), "市级");
    assert_eq!(FundSource::County.label_zh(), "县级");
    assert_eq!(OfficialRole::Liaison.label_zh(), "联络员");
    assert_eq!(OfficialRole::OfficialInCharge.label_zh(), "分管领导");
}

// ---------------------------------------------------------------- forms

#[test]
fn the_2017_forms_accept_a_complete_report_and_name_every_wrong_field() {
    let p = ProgrammeRegistry::builtin().get(LOCKERS_2017, 1).unwrap();
    let figures = json!({"install_count": 120, "cumulative_groups": 860, "compartments": 51600, "parcels_delivered": 1200000});
    let report = json!({
        "city": "威海市", "period": "上半年", "figures": figures,
        "by_operator": [{"operator": "丰巢", "install_count": 40, "cumulative_groups": 300, "compartments": 18000, "parcels_delivered": 400000}],
        "reporter": "李示例", "contact": "0631-0000000", "reported_on": "2017-06-29"
    });
    p.validate_form("progress_report", &report)
        .unwrap_or_else(|e| panic!("{e}"));
    p.validate_form("officials", &officials_valid())
        .unwrap_or_else(|e| panic!("{e}"));

    let mut bad = report.clone();
    bad["period"] = json!("第二季度");
    bad["figures"]["install_count"] = json!(-1);
    bad["figures"]["compartments"] = json!(12.5);
    bad["by_operator"][0]["operator"] = json!("某公司");
    bad["reported_on"] = json!("2017-06-31");
    bad.as_object_mut().unwrap().remove("reporter");
    bad["remarks"] = json!("无");
    let pointers = invalid_pointers(p.validate_form("progress_report", &bad));
    assert_eq!(
        pointers,
        [
            "/by_operator/0/operator",
            "/figures/compartments",
            "/figures/install_count",
            "/period",
            "/remarks",
            "/reported_on",
            "/reporter"
        ]
    );
}

#[test]
fn the_officials_list_needs_both_roles_and_real_email_addresses() {
    let p = ProgrammeRegistry::builtin().get(VILLAGES_2021, 1).unwrap();
    let mut bad = officials_valid();
    bad["officials"][1]["role"] = json!("official_in_charge");
    bad["officials"][0]["email"] = json!("not-an-address");
    let pointers = invalid_pointers(p.validate_form("officials", &bad));
    assert_eq!(pointers, ["/officials", "/officials/0/email"]);
}

#[test]
fn the_2021_progress_report_checks_coverage_and_dates() {
    let p = ProgrammeRegistry::builtin().get(VILLAGES_2021, 1).unwrap();
    let report = json!({
        "reporting_unit": "示例镇", "report_date": "2021-07-09",
        "county_centres_built": 1, "township_centres_built": 1,
        "villages_total": 40, "villages_covered": 38, "village_points_built": 38,
        "coverage_percent": 95, "brands_integrated": 6,
        "progress_summary": "镇级中心已建成，村级网点剩余2个。", "reporter": "王示例", "contact": "0533-0000000"
    });
    p.validate_form("progress_report", &report)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut bad = report.clone();
    bad["coverage_percent"] = json!(101);
    bad["report_date"] = json!("9 July 2021");
    bad["villages_covered"] = json!("38");
    let pointers = invalid_pointers(p.validate_form("progress_report", &bad));
    assert_eq!(
        pointers,
        ["/coverage_percent", "/report_date", "/villages_covered"]
    );
    match p.validate_form("acceptance_minutes", &report) {
        Err(FormError::UnknownForm { form }) => assert_eq!(form, "acceptance_minutes"),
        other => panic!("expected an unknown form, got {other:?}"),
    }
}

#[test]
fn the_2025_plan_requires_sites_investors_maintenance_and_an_emergency_plan() {
    let p = ProgrammeRegistry::builtin().get(LOCKERS_2025, 1).unwrap();
    let plan = json!({
        "township": "历山街道",
        "sites": [
            {"compound": "怡康家园", "community": "示例社区", "location": "北门东侧", "groups": 1, "property_company": "示例物业"},
            {"compound": "翡翠山景", "location": "3号楼南", "groups": 1, "property_company": "示例物业"}
        ],
        "total_groups": 2,
        "investors": [
            {"company": "极兔", "share_percent": 40, "investment_fen": 4000000},
            {"company": "中通", "share_percent": 35, "investment_fen": 3500000},
            {"company": "韵达", "share_percent": 25, "investment_fen": 2500000}
        ],
        "subsidy_requested_fen": 0,
        "maintenance": {"regime": "每周检查、清洁，故障48小时内维修", "inspection_interval_days": 7, "responsible_unit": "示例物业"},
        "emergency_plan": {"equipment_failure": "临时人工派送", "network_outage": "启用离线取件码", "recovery_hours": 24, "contact": "示例物业值班室"},
        "cooperation_agreement_signed": true,
        "submitted_on": "2025-04-15"
    });
    p.validate_form("plan", &plan)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut bad = plan.clone();
    bad.as_object_mut().unwrap().remove("emergency_plan");
    bad["sites"][1]["groups"] = json!(0);
    bad["investors"][0]["investment_fen"] = json!(40000.5);
    bad["maintenance"].as_object_mut().unwrap().remove("regime");
    let pointers = invalid_pointers(p.validate_form("plan", &bad));
    assert_eq!(
        pointers,
        [
            "/emergency_plan",
            "/investors/0/investment_fen",
            "/maintenance/regime",
            "/sites/1/groups"
        ]
    );
}

// ---------------------------------------------------------------- broken definitions

#[test]
fn a_syntax_error_is_refused_with_line_and_column() {
    let e = ProgrammeRegistry::parse("broken.json", "{\n  \"id\": \"x\",\n  \"version\": 1,,\n}")
        .unwrap_err();
    assert_eq!((e.file.as_str(), e.pointer.as_str()), ("broken.json", ""));
    assert!(e.reason.contains("line 3"), "{}", e.reason);
    assert!(e.reason.contains("column"), "{}", e.reason);
}

#[test]
fn a_schema_violation_is_refused_at_its_exact_path() {
    let e = refused_at(|v| {
        set(
            v,
            "/deadlines/0/due",
            json!({"kind": "after", "event": "registered", "days": "five", "unit": "working"}),
        )
    });
    assert_eq!(e.pointer, "/deadlines/0/due/days", "{e}");

    let e = refused_at(|v| set(v, "/deadlines/3/due/event", json!("plan_rejected")));
    assert_eq!(e.pointer, "/deadlines/3/due/event", "{e}");

    let e = refused_at(|v| set(v, "/deadlines/0/due/date", json!("2017-02-30")));
    assert_eq!(e.pointer, "/deadlines/0/due/date", "{e}");

    let e = refused_at(|v| {
        v.as_object_mut()
            .unwrap()
            .remove("notice")
            .map(|_| ())
            .unwrap()
    });
    assert_eq!(e.pointer, "/notice", "{e}");

    let e = refused_at(|v| set(v, "/id", json!("Shandong Lockers")));
    assert_eq!(e.pointer, "/id", "{e}");

    let e = refused_at(|v| set(v, "/forms/plan/schema/additionalProperties", json!(true)));
    assert_eq!(e.pointer, "/forms/plan/schema/additionalProperties", "{e}");
}

#[test]
fn a_report_schedule_naming_an_unknown_form_is_refused() {
    let e = refused_at(|v| set(v, "/report_schedules/0/form", json!("quarterly_report")));
    assert_eq!(e.pointer, "/report_schedules/0/form");
    assert!(e.reason.contains("quarterly_report"), "{}", e.reason);
}

#[test]
fn a_report_schedule_may_run_on_past_the_programme_year_but_not_end_before_it() {
    let e = refused_at(|v| {
        v["report_schedules"][0]
            .as_object_mut()
            .unwrap()
            .insert("through_year".to_string(), json!(2016));
    });
    assert_eq!(e.pointer, "/report_schedules/0/through_year");
    assert!(e.reason.contains("2017"), "{}", e.reason);
    let p = parse_changed(|v| {
        v["report_schedules"][0]
            .as_object_mut()
            .unwrap()
            .insert("through_year".to_string(), json!(2018));
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.report_schedules[0].through_year, Some(2018));
}

#[test]
fn duplicate_ids_are_refused_where_the_second_one_stands() {
    let e = refused_at(|v| set(v, "/acceptance/checklist/1/id", json!("work-plan")));
    assert_eq!(e.pointer, "/acceptance/checklist/1/id");
    assert!(e.reason.contains("/acceptance/checklist/0"), "{}", e.reason);
    let e = refused_at(|v| set(v, "/deadlines/2/id", json!("work-plan")));
    assert_eq!(e.pointer, "/deadlines/2/id");
    let e = refused_at(|v| set(v, "/evaluation/indicators/3/id", json!("decision")));
    assert_eq!(e.pointer, "/evaluation/indicators/3/id");
}

#[test]
fn thresholds_out_of_order_and_indicators_not_adding_up_to_100_are_refused() {
    let e = refused_at(|v| {
        set(
            v,
            "/evaluation/thresholds",
            json!({"excellent": 80, "good": 85, "fair": 60}),
        )
    });
    assert_eq!(e.pointer, "/evaluation/thresholds/good");
    let e = refused_at(|v| {
        set(
            v,
            "/evaluation/thresholds",
            json!({"excellent": 90, "good": 60, "fair": 60}),
        )
    });
    assert_eq!(e.pointer, "/evaluation/thresholds/fair");
    let e = refused_at(|v| set(v, "/evaluation/indicators/0/max_score", json!(16)));
    assert_eq!(e.pointer, "/evaluation/indicators");
    assert!(e.reason.contains("101"), "{}", e.reason);
}

#[test]
fn form_schemas_that_do_not_compile_and_missing_engine_forms_are_refused() {
    let e = refused_at(|v| {
        set(
            v,
            "/forms/plan/schema/properties/city",
            json!({"type": "text"}),
        )
    });
    assert_eq!(e.pointer, "/forms/plan/schema");
    let e = refused_at(|v| {
        set(
            v,
            "/forms/plan/schema/properties/submitted_on/format",
            json!("chinese-date"),
        )
    });
    assert_eq!(e.pointer, "/forms/plan/schema");
    let e = refused_at(|v| {
        v["forms"]
            .as_object_mut()
            .unwrap()
            .remove("progress_report")
            .map(|_| ())
            .unwrap()
    });
    // The meta-schema requires the engine's forms before the report schedule is looked at.
    assert_eq!(e.pointer, "/forms/progress_report");
}

#[test]
fn impossible_dates_stage_windows_and_funding_orders_are_refused() {
    let e = refused_at(|v| set(v, "/report_schedules/0/rule/dates/2", json!("02-29")));
    assert_eq!(e.pointer, "/report_schedules/0/rule/dates/2");
    let e = refused_at(|v| {
        set(
            v,
            "/report_schedules/0/until_stage",
            json!("plan_submitted"),
        )
    });
    assert_eq!(e.pointer, "/report_schedules/0/until_stage");
    let e = refused_at(|v| set(v, "/stages/1/stage", json!("notice")));
    assert_eq!(e.pointer, "/stages/1/stage");
    let e = refused_at(|v| {
        set(
            v,
            "/funding/sources/0/requires_disbursed_first",
            json!(["city"]),
        )
    });
    assert_eq!(e.pointer, "/funding/sources/0/requires_disbursed_first/0");
    let e = refused_at(|v| {
        set(
            v,
            "/funding/sources/0/requires_disbursed_first",
            json!(["province"]),
        )
    });
    assert_eq!(e.pointer, "/funding/sources/0/requires_disbursed_first/0");
}

#[test]
fn every_shipped_programme_states_its_application_window_and_counts_the_notice_civilly() {
    let registry = ProgrammeRegistry::builtin();
    for (id, opens_on, closes_on) in [
        (LOCKERS_2017, date(2017, 5, 23), date(2017, 12, 31)),
        (VILLAGES_2021, date(2021, 6, 2), date(2021, 12, 31)),
        (LOCKERS_2025, date(2025, 1, 1), date(2025, 12, 31)),
    ] {
        let p = registry.get(id, 1).unwrap();
        assert_eq!(
            (
                p.application_window.opens_on,
                p.application_window.closes_on
            ),
            (opens_on, closes_on),
            "{id}"
        );
        assert!(
            p.application_window.contains(opens_on) && p.application_window.contains(closes_on)
        );
        assert!(!p.application_window.contains(opens_on.pred_opt().unwrap()));
        assert!(!p.application_window.contains(closes_on.succ_opt().unwrap()));
        // The source leaves the window open: a note says how it was chosen.
        assert!(
            p.notes.iter().any(|n| n.contains("登记期")),
            "{id}: a note explains the window"
        );
        // No definition states its counting: the civil rule applies.
        assert!(
            shipped_value(id)["notice"].get("counting").is_none(),
            "{id}"
        );
        assert_eq!(p.notice.counting, NoticeCounting::FromNextDay, "{id}");
    }
}

#[test]
fn the_notice_counting_is_read_from_the_definition_and_checked() {
    let p = parse_changed(|v| {
        set(
            v,
            "/notice",
            json!({"min_working_days": 5, "counting": "from_start_day"}),
        )
    })
    .unwrap();
    assert_eq!(p.notice.counting, NoticeCounting::FromStartDay);
    let e = refused_at(|v| {
        set(
            v,
            "/notice",
            json!({"min_working_days": 5, "counting": "inclusive"}),
        )
    });
    assert_eq!(e.pointer, "/notice/counting");
}

#[test]
fn a_definition_without_an_application_window_or_with_a_reversed_one_is_refused() {
    let e = refused_at(|v| {
        v.as_object_mut().unwrap().remove("application_window");
    });
    assert_eq!(e.pointer, "/application_window", "{e}");
    let e = refused_at(|v| set(v, "/application_window/closes_on", json!("2017-05-22")));
    assert_eq!(e.pointer, "/application_window/closes_on");
    assert!(e.reason.contains("2017-05-23"), "{e}");
    let e = refused_at(|v| set(v, "/application_window/opens_on", json!("2017-02-30")));
    assert_eq!(e.pointer, "/application_window/opens_on");
}

// ---------------------------------------------------------------- registry

#[test]
fn the_same_id_and_version_with_different_content_is_refused() {
    let mut registry = ProgrammeRegistry::builtin();
    let same = ProgrammeRegistry::parse("copy.json", shipped_text(LOCKERS_2017)).unwrap();
    registry.insert(same).expect("identical content is a no-op");
    assert_eq!(registry.len(), 3);

    let changed = parse_changed(|v| set(v, "/notice/min_working_days", json!(7))).unwrap();
    let e = registry.insert(changed).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.pointer.as_str()),
        ("broken.json", "/version")
    );
    assert!(
        e.reason.contains("shandong-smart-lockers-2017@v1"),
        "{}",
        e.reason
    );
    assert_eq!(
        registry
            .get(LOCKERS_2017, 1)
            .unwrap()
            .notice
            .min_working_days,
        5
    );
}

#[test]
fn with_dir_adds_every_definition_file_and_latest_picks_the_highest_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut v2 = shipped_value(LOCKERS_2017);
    set(&mut v2, "/version", json!(2));
    set(&mut v2, "/notice/min_working_days", json!(7));
    std::fs::write(
        dir.path().join("shandong-smart-lockers-2017.v2.json"),
        serde_json::to_string_pretty(&v2).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("copy-of-v1.json"),
        shipped_text(LOCKERS_2017),
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a definition").unwrap();

    let registry = ProgrammeRegistry::builtin()
        .with_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(registry.len(), 4);
    let latest = registry.latest(LOCKERS_2017).unwrap();
    assert_eq!((latest.version, latest.notice.min_working_days), (2, 7));
    assert_eq!(
        registry
            .get(LOCKERS_2017, 1)
            .unwrap()
            .notice
            .min_working_days,
        5
    );
    assert!(latest
        .origin()
        .ends_with("shandong-smart-lockers-2017.v2.json"));

    let versions: Vec<String> = registry.all().iter().map(|p| p.key().to_string()).collect();
    assert_eq!(
        versions[..2],
        [
            "shandong-smart-lockers-2017@v1",
            "shandong-smart-lockers-2017@v2"
        ]
    );
}

#[test]
fn with_dir_refuses_a_broken_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut broken = shipped_value(VILLAGES_2021);
    set(&mut broken, "/version", json!(3));
    set(&mut broken, "/report_schedules/0/form", json!("weekly"));
    let path = dir.path().join("villages.v3.json");
    std::fs::write(&path, serde_json::to_string(&broken).unwrap()).unwrap();

    let e = ProgrammeRegistry::builtin()
        .with_dir(dir.path())
        .unwrap_err();
    assert_eq!(e.file, path.display().to_string());
    assert_eq!(e.pointer, "/report_schedules/0/form");
    let e = ProgrammeRegistry::builtin()
        .with_dir(&dir.path().join("missing"))
        .unwrap_err();
    assert!(e.reason.contains("cannot read the directory"), "{e}");
}

#[test]
fn load_file_reads_a_definition_and_reports_an_unreadable_one() {
    let p = ProgrammeRegistry::load_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("programmes/yiyuan-smart-lockers-2025.v1.json"),
    )
    .unwrap();
    assert_eq!(p.key().to_string(), "yiyuan-smart-lockers-2025@v1");
    let e = ProgrammeRegistry::load_file(Path::new("/nonexistent/programme.json")).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.pointer.as_str()),
        ("/nonexistent/programme.json", "")
    );
}
