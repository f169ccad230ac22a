//! The three fuzz targets as plain functions: each refuses or accepts its input and panics only
//! when an invariant is broken.

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use cqrs_es::Aggregate;
use domain::CommandContext;
use serde_json::{json, Value};
use workflows::calendar::WorkingCalendar;
use workflows::deadlines::{derive, ProjectFacts};
use workflows::programme::{EVENT_ANCHORS, LABELLED_STAGES};
use workflows::ProgrammeRegistry;

use super::{canned_states, parse_body, Canned, BODIES};

fn world() -> &'static (domain::ProjectServices, Vec<Canned>) {
    static WORLD: OnceLock<(domain::ProjectServices, Vec<Canned>)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let services = super::services();
        let states = canned_states(&services);
        (services, states)
    })
}

/// Arbitrary bytes as a programme definition file: loading it (syntax, meta-schema, semantic
/// checks, form schemas compiled) must refuse or accept, never panic; and an accepted definition
/// must be usable by everything that reads one (registry, forms, report slots, grades,
/// deadline derivation, the date windows of the field validation) without panicking.
pub fn programme_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(programme) = ProgrammeRegistry::parse("fuzz.json", text) else {
        return;
    };
    // What the server does with an accepted definition.
    let mut registry = ProgrammeRegistry::builtin();
    let _ = registry.insert(programme.clone());
    let _ = programme.key().to_string();
    for form in programme.forms.keys() {
        let _ = programme.validate_form(form, &json!({}));
    }
    for score in [0, 59, 60, 75, 90, 100, u32::MAX] {
        let _ = programme.grade_for(score);
    }
    let _ = domain::validate::registration_window(&programme);
    for schedule in &programme.report_schedules {
        for year in [
            programme.year,
            schedule.through_year.unwrap_or(programme.year),
        ] {
            let _ = schedule.due_dates(year);
            let _ = schedule.rule.anchors_in_year(year);
        }
    }
    // Deadlines of a project registered at the start of the programme year that entered
    // every stage a month apart, on the last day of the year.
    let Some(start) = NaiveDate::from_ymd_opt(programme.year, 1, 2) else {
        return;
    };
    let mut facts = ProjectFacts {
        registered_on: Some(start),
        ..ProjectFacts::default()
    };
    let mut on = start;
    for stage in LABELLED_STAGES {
        on = on + chrono::Days::new(30);
        facts.stage_entries.push((stage, on));
    }
    for (i, anchor) in EVENT_ANCHORS.into_iter().enumerate() {
        facts
            .anchors
            .push((anchor, start + chrono::Days::new(15 * i as u64)));
    }
    facts.reports.push(on);
    facts.notices.push((start, start + chrono::Days::new(10)));
    let today = NaiveDate::from_ymd_opt(on.year(), 12, 31).unwrap_or(on);
    let _ = derive(&facts, &programme, WorkingCalendar::official(), today);
}

/// The seeds of [`programme_definition`]: (file name, bytes).
pub fn seeds_programme_definition() -> Vec<(String, Vec<u8>)> {
    ProgrammeRegistry::builtin_sources()
        .iter()
        .map(|(label, text)| {
            let name = label.rsplit('/').next().unwrap_or(label).to_string();
            (name, text.as_bytes().to_vec())
        })
        .collect()
}

/// Arbitrary bytes as a form: any JSON value is validated against every form of every shipped
/// programme (and an unknown form name) without panicking, then through the domain's check of
/// form values; a value that check accepts must be storable as it is (`store::check_storable`),
/// since the aggregate records forms verbatim in its events.
pub fn form(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for programme in ProgrammeRegistry::builtin().all() {
        for form in programme.forms.keys() {
            if let Err(e) = programme.validate_form(form, &value) {
                let _ = e.to_string();
                let _ = e.pointers();
            }
        }
        assert!(programme.validate_form("no-such-form", &value).is_err());
    }
    if domain::validate::check_json_value("/form", &value).is_ok() {
        if let Err(e) = store::check_storable("/payload/form", &value) {
            panic!("a form the domain accepts is refused by the store: {e}");
        }
    }
}

/// The seeds of [`form`]: (file name, bytes).
pub fn seeds_form() -> Vec<(String, Vec<u8>)> {
    use domain::fixtures::{date, plan_form, progress_form};
    let mut seeds = Vec::new();
    for programme in super::PROGRAMMES {
        let on = date(2021, 6, 8);
        let plan = plan_form(programme, "示例镇", on);
        let report = progress_form(programme, "示例镇", "上半年", on, 20);
        seeds.push((
            format!("{programme}-plan.json"),
            serde_json::to_vec(&plan).unwrap(),
        ));
        seeds.push((
            format!("{programme}-report.json"),
            serde_json::to_vec(&report).unwrap(),
        ));
    }
    seeds
}

/// Arbitrary bytes as the body of every command endpoint: the endpoints' extractor
/// (`strict_json::parse`), the conversion into the domain command, the field validation and the
/// aggregate's `decide` against canned project states of every shipped programme must refuse or
/// accept, never panic. Invariants:
/// - whatever `strict_json` accepts reads back as the same JSON and passes the store's check
///   (`store::check_storable`): every number in it is exactly representable;
/// - a parsed body re-serialises to storable JSON;
/// - an accepted command yields events (and metadata) the store accepts, which the aggregate
///   and the deadlines projection fold without panicking.
pub fn command_body(data: &[u8]) {
    if api::http::strict_json::check(data).is_ok() {
        let value: Value = serde_json::from_slice(data)
            .expect("strict_json accepted a body serde_json cannot read");
        if let Err(e) = store::check_storable("", &value) {
            panic!("strict_json accepted a body the store refuses: {e}");
        }
        let again: Value = serde_json::from_str(&value.to_string()).expect("reads back");
        assert_eq!(
            again, value,
            "strict JSON does not read back as it was accepted"
        );
        // Every number keeps the exact decimal value that was sent.
        let sent = super::number_literals(data);
        let mut read = Vec::new();
        super::value_numbers(&value, &mut read);
        assert_eq!(
            sent.len(),
            read.len(),
            "numbers sent {sent:?}, read {read:?}"
        );
        for (s, r) in sent.iter().zip(&read) {
            if let (Some(a), Some(b)) = (super::decimal(s), super::decimal(r)) {
                assert_eq!(
                    a, b,
                    "strict JSON accepted the number {s}, which reads as {r}"
                );
            }
        }
    }
    let (services, states) = world();
    for name in BODIES {
        let Some(Ok(parsed)) = parse_body(name, data) else {
            continue;
        };
        if let Err(e) = store::check_storable("", &parsed.reserialised) {
            panic!("the {name} body re-serialises to unstorable JSON: {e}");
        }
        let context = CommandContext {
            actor: super::ACTOR.to_string(),
            evidence: parsed.evidence.into_iter().map(Into::into).collect(),
        };
        if domain::validate::check_context(&context).is_err() {
            continue;
        }
        let kind = format!("{:?}", parsed.command.kind());
        for state in states {
            let Ok(events) = state.project.decide(parsed.command.clone(), services) else {
                continue;
            };
            super::assert_storable(&events, &context, &kind);
            let mut project = state.project.clone();
            let mut history = state.events.clone();
            for event in events {
                project.apply(event.clone());
                history.push(event);
            }
            let Some(programme) = services
                .programmes
                .get(&project.programme_id, project.programme_version)
            else {
                panic!(
                    "{}: an accepted command left an unknown programme",
                    state.label
                );
            };
            let today = NaiveDate::from_ymd_opt(programme.year, 12, 31).expect("a year");
            let _ = projections::deadlines::deadlines_for(
                "fuzz",
                &history,
                &programme,
                WorkingCalendar::official(),
                today,
            );
        }
    }
}

/// The seeds of [`command_body`]: (file name, bytes).
pub fn seeds_command_body() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for programme in super::PROGRAMMES {
        let steps = super::walk(programme);
        let extra = super::termination(programme);
        for (i, step) in steps.iter().chain([&extra]).enumerate() {
            let bytes = serde_json::to_vec_pretty(&step.json).unwrap();
            seeds.push((format!("{programme}-{i:02}-{}.json", step.body), bytes));
        }
    }
    seeds
}
