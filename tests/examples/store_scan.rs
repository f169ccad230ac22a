//! Audit tool (not a test): scans a store and re-checks every stored event against the rules
//! that guard the log today, without changing anything.
//!
//! For every project: each event's payload and metadata pass the store's own check
//! (`store::check_storable`), the hash chain verifies (`store::verify_chain`), the payload reads
//! back as a `ProjectEvent`, the actor and evidence in the metadata pass
//! `domain::validate::check_context`, and the event, turned back into the command that produced
//! it, passes `domain::validate::check_command` for the project's programme and registration
//! date; forms also validate against their programme's schemas. Prints one line per refusal and
//! a closing count; exits 1 if anything is refused. `scripts/schemathesis.sh` runs it after
//! the API has been fuzzed.
//!
//! Run: `cargo run -p tests --example store_scan -- --data-dir DIR` (or
//! `--database-url postgres://…`).

use std::process::ExitCode;

use api::{Engine, Settings};
use cqrs_es::Aggregate;
use domain::types::metadata_keys;
use domain::{CommandContext, DocumentRef, ProjectEvent as E};
use domain::{ProjectError, SubsidyProject};
use workflows::programme::Programme;

/// Forms are validated against their programme's schema: a plan against `plan`, a report
/// against the form of one of the programme's report schedules.
fn check_form(programme: &Programme, event: &E) -> Result<(), String> {
    match event {
        E::PlanSubmitted { form, .. } => programme
            .validate_form("plan", form)
            .map_err(|e| e.to_string()),
        E::ProgressReportSubmitted { form, .. } => {
            let mut last = String::from("the programme has no report schedule");
            for schedule in &programme.report_schedules {
                match programme.validate_form(&schedule.form, form) {
                    Ok(()) => return Ok(()),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(last)
        }
        _ => Ok(()),
    }
}

fn context_of(
    metadata: &serde_json::Map<String, serde_json::Value>,
) -> Result<CommandContext, String> {
    let actor = metadata
        .get(metadata_keys::ACTOR)
        .and_then(|v| v.as_str())
        .ok_or("no actor in the metadata")?
        .to_string();
    let evidence: Vec<DocumentRef> = match metadata.get(metadata_keys::EVIDENCE) {
        None => Vec::new(),
        Some(serde_json::Value::String(s)) => {
            serde_json::from_str(s).map_err(|e| format!("evidence does not read: {e}"))?
        }
        Some(other) => return Err(format!("evidence is not a JSON string: {other}")),
    };
    Ok(CommandContext { actor, evidence })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut settings = Settings {
        data_dir: "./data".into(),
        database_url: None,
        read_database_url: None,
    };
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--data-dir", Some(dir)) => settings.data_dir = dir.into(),
            ("--database-url", Some(url)) => settings.database_url = Some(url),
            _ => {
                eprintln!("usage: store_scan [--data-dir DIR] [--database-url URL]");
                return ExitCode::from(2);
            }
        }
    }
    let engine = match Engine::open(&settings).await {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cannot open the store: {e}");
            return ExitCode::from(2);
        }
    };
    let store = &engine.store;
    let ids = store
        .aggregate_ids(SubsidyProject::TYPE)
        .await
        .expect("list the projects");
    let (mut events_seen, mut refused) = (0usize, 0usize);
    let mut refuse = |id: &str, sequence: i64, what: String| {
        refused += 1;
        println!("REFUSED {id} #{sequence}: {what}");
    };
    for id in &ids {
        let stream = store
            .read_stream(SubsidyProject::TYPE, id)
            .await
            .expect("read a project's events");
        if let Err(e) = store::verify_chain(&stream) {
            refuse(id, 0, format!("hash chain: {e}"));
        }
        let mut registered_on = None;
        let mut programme = None;
        for stored in &stream {
            events_seen += 1;
            let seq = stored.sequence;
            if let Err(e) = store::check_storable("/payload", &stored.payload) {
                refuse(id, seq, format!("unstorable payload: {e}"));
            }
            let metadata = serde_json::Value::Object(stored.metadata.clone());
            if let Err(e) = store::check_storable("/metadata", &metadata) {
                refuse(id, seq, format!("unstorable metadata: {e}"));
            }
            match context_of(&stored.metadata) {
                Ok(context) => {
                    if let Err(e) = domain::validate::check_context(&context) {
                        refuse(id, seq, format!("context: {}: {e}", pointer(&e)));
                    }
                }
                Err(e) => refuse(id, seq, format!("context: {e}")),
            }
            let event: E = match serde_json::from_value(stored.payload.clone()) {
                Ok(event) => event,
                Err(e) => {
                    refuse(id, seq, format!("payload does not read as an event: {e}"));
                    continue;
                }
            };
            if let E::ProjectRegistered {
                programme_id,
                programme_version,
                ..
            } = &event
            {
                programme = engine.programmes().get(programme_id, *programme_version);
                if programme.is_none() {
                    refuse(
                        id,
                        seq,
                        format!("unknown programme {programme_id}@v{programme_version}"),
                    );
                }
            }
            if let Err(e) = domain::validate::check_command(
                &domain::replay::command_of(&event),
                programme.as_deref(),
                registered_on,
            ) {
                refuse(
                    id,
                    seq,
                    format!("{}: {}: {e}", stored.event_type, pointer(&e)),
                );
            }
            if let Some(p) = &programme {
                if let Err(e) = check_form(p, &event) {
                    refuse(id, seq, format!("{}: {e}", stored.event_type));
                }
            }
            if let E::ProjectRegistered {
                registered_on: on, ..
            } = &event
            {
                registered_on = Some(*on);
            }
        }
    }
    println!(
        "store scan: {} projects, {events_seen} events, {refused} refused",
        ids.len()
    );
    if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn pointer(e: &ProjectError) -> String {
    e.pointer().unwrap_or_default()
}
