//! Arbitrary bytes as the body of every command endpoint: the endpoints' extractor
//! (`strict_json::parse`), the conversion into the domain command, the field validation and the
//! aggregate's `decide` against canned project states of every shipped programme must refuse or
//! accept, never panic. Invariants:
//! - whatever `strict_json` accepts reads back as the same JSON and passes the store's check
//!   (`store::check_storable`): every number in it is exactly representable;
//! - a parsed body re-serialises to storable JSON;
//! - an accepted command yields events (and metadata) the store accepts, which the aggregate
//!   and the deadlines projection fold without panicking.
#![no_main]

use std::sync::OnceLock;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::{CommandContext, ProjectServices};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use subsidy_fuzz::{canned_states, parse_body, Canned, BODIES};
use workflows::calendar::WorkingCalendar;

fn world() -> &'static (ProjectServices, Vec<Canned>) {
    static WORLD: OnceLock<(ProjectServices, Vec<Canned>)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let services = subsidy_fuzz::services();
        let states = canned_states(&services);
        (services, states)
    })
}

fuzz_target!(
    init: {
        let mut seeds = Vec::new();
        for programme in subsidy_fuzz::PROGRAMMES {
            let steps = subsidy_fuzz::walk(programme);
            let extra = subsidy_fuzz::termination(programme);
            for (i, step) in steps.iter().chain([&extra]).enumerate() {
                let bytes = serde_json::to_vec_pretty(&step.json).unwrap();
                seeds.push((format!("{programme}-{i:02}-{}.json", step.body), bytes));
            }
        }
        subsidy_fuzz::write_seeds(seeds);
        world();
    },
    |data: &[u8]| {
        if api::http::strict_json::check(data).is_ok() {
            let value: Value = serde_json::from_slice(data)
                .expect("strict_json accepted a body serde_json cannot read");
            if let Err(e) = store::check_storable("", &value) {
                panic!("strict_json accepted a body the store refuses: {e}");
            }
            let again: Value = serde_json::from_str(&value.to_string()).expect("reads back");
            assert_eq!(again, value, "strict JSON does not read back as it was accepted");
            // Every number keeps the exact decimal value that was sent.
            let sent = subsidy_fuzz::number_literals(data);
            let mut read = Vec::new();
            subsidy_fuzz::value_numbers(&value, &mut read);
            assert_eq!(sent.len(), read.len(), "numbers sent {sent:?}, read {read:?}");
            for (s, r) in sent.iter().zip(&read) {
                if let (Some(a), Some(b)) = (subsidy_fuzz::decimal(s), subsidy_fuzz::decimal(r)) {
                    assert_eq!(a, b, "strict JSON accepted the number {s}, which reads as {r}");
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
                actor: subsidy_fuzz::ACTOR.to_string(),
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
                subsidy_fuzz::assert_storable(&events, &context, &kind);
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
                    panic!("{}: an accepted command left an unknown programme", state.label);
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
);
