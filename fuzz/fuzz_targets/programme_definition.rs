//! Arbitrary bytes as a programme definition file: loading it (syntax, meta-schema, semantic
//! checks, form schemas compiled) must refuse or accept, never panic; and an accepted definition
//! must be usable by everything that reads one (registry, forms, report slots, grades,
//! deadline derivation, the date windows of the field validation) without panicking.
#![no_main]

use chrono::{Datelike, NaiveDate};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use workflows::calendar::WorkingCalendar;
use workflows::deadlines::{derive, ProjectFacts};
use workflows::programme::{EVENT_ANCHORS, LABELLED_STAGES};
use workflows::ProgrammeRegistry;

fuzz_target!(
    init: {
        subsidy_fuzz::write_seeds(ProgrammeRegistry::builtin_sources().iter().map(|(label, text)| {
            let name = label.rsplit('/').next().unwrap_or(label).to_string();
            (name, text.as_bytes().to_vec())
        }));
    },
    |data: &[u8]| {
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
            for year in [programme.year, schedule.through_year.unwrap_or(programme.year)] {
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
            facts.anchors.push((anchor, start + chrono::Days::new(15 * i as u64)));
        }
        facts.reports.push(on);
        facts.notices.push((start, start + chrono::Days::new(10)));
        let today = NaiveDate::from_ymd_opt(on.year(), 12, 31).unwrap_or(on);
        let _ = derive(&facts, &programme, WorkingCalendar::official(), today);
    }
);
