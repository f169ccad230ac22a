//! The fuzz targets' logic (`fuzz/fuzz_targets/*` call [`programme_definition`], [`form`] and
//! [`command_body`]; `tests/tests/fuzz_smoke.rs` runs the same functions over the seeds and
//! deterministic mutations of them in every test run), and what they share: the command bodies of the HTTP API by name, parsed exactly as the
//! handlers parse them; a walk of every shipped programme from registration to closing as JSON
//! bodies (the seeds of `command_body`, and the source of its canned project states); the seed
//! writer; and the store's invariant checks.

use std::path::Path;

use api::http::errors::ApiError;
use api::http::strict_json;
use api::http::wire::{self, CommandBody, Evidence};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::fixtures::{plan_form, progress_form, LOCKERS_2017, LOCKERS_2025, VILLAGES_2021};
use domain::{CommandContext, ProjectCommand, ProjectEvent, ProjectServices, SubsidyProject};
use serde_json::{json, Value};
use workflows::programme::{ProgrammeRegistry, Requirement};

/// The acting user of every fuzzed command (a demo officer's login name).
pub const ACTOR: &str = "officer.yiyuan";

/// The objection id the walk raises; `resolve_objection` bodies resolve it (the HTTP API takes
/// it from the path).
pub const OBJECTION_ID: &str = "YY-001";

/// The shipped programmes, in a fixed order.
pub const PROGRAMMES: [&str; 3] = [LOCKERS_2017, VILLAGES_2021, LOCKERS_2025];

/// A command body parsed and converted as `api::http::handlers` does it.
pub struct Parsed {
    /// The body serialised back to JSON (what the idempotency record and logs would hold).
    pub reserialised: Value,
    pub evidence: Vec<Evidence>,
    pub command: ProjectCommand,
}

fn parsed<B: CommandBody + serde::Serialize + Clone>(body: B) -> Parsed {
    let reserialised = serde_json::to_value(&body).expect("a body always serialises");
    let (evidence, command) = body.into_parts();
    Parsed {
        reserialised,
        evidence,
        command,
    }
}

macro_rules! command_bodies {
    ($($name:literal => $ty:ident),* $(,)?) => {
        /// Every command body of the HTTP API, named after its route.
        pub const BODIES: &[&str] = &[$($name,)* "resolve_objection"];

        /// Parses `bytes` as the named body with the endpoints' extractor
        /// (`strict_json::parse`) and converts it into the domain command. `None` for an
        /// unknown name.
        pub fn parse_body(name: &str, bytes: &[u8]) -> Option<Result<Parsed, ApiError>> {
            Some(match name {
                $($name => strict_json::parse::<wire::$ty>(bytes).map(parsed),)*
                "resolve_objection" => {
                    strict_json::parse::<wire::ResolveObjectionBody>(bytes).map(|body| {
                        let reserialised =
                            serde_json::to_value(&body).expect("a body always serialises");
                        let (evidence, command) = body.into_parts(OBJECTION_ID.to_string());
                        Parsed { reserialised, evidence, command }
                    })
                }
                _ => return None,
            })
        }
    };
}

command_bodies!(
    "register" => RegisterProjectBody,
    "plan" => SubmitPlanBody,
    "review" => ReviewPlanBody,
    "construction_entity" => DesignateEntityBody,
    "notice" => PublishNoticeBody,
    "objections" => RaiseObjectionBody,
    "notice_close" => CloseNoticeBody,
    "reports" => ProgressReportBody,
    "acceptance_request" => RequestAcceptanceBody,
    "acceptance_inspection" => InspectionBody,
    "evaluation" => EvaluationBody,
    "funds_approvals" => ApproveFundsBody,
    "funds_tranches" => TrancheBody,
    "funds_settlements" => SettleFundsBody,
    "clawbacks" => ClawbackBody,
    "clawbacks_settlements" => SettleClawbackBody,
    "suspension" => SuspendBody,
    "resumption" => ResumeBody,
    "termination" => TerminateBody,
    "closure" => CloseProjectBody,
    "officials" => AssignOfficialBody,
    "deadline_extensions" => ExtendDeadlineBody,
);

/// One step of a walk: which body, and the body.
pub struct Step {
    pub body: &'static str,
    pub json: Value,
}

/// The walk of `tests/http/walk.rs`: a project of `programme_id` from registration to closing,
/// with an objection, funds from every source, two reports and a suspension, as HTTP bodies.
pub fn walk(programme_id: &str) -> Vec<Step> {
    let registry = ProgrammeRegistry::builtin();
    let programme = registry.get(programme_id, 1).expect("a shipped programme");
    let (year, unit) = match programme_id {
        LOCKERS_2017 => (2017, "威海市"),
        VILLAGES_2021 => (2021, "南麻街道"),
        _ => (2025, "南麻街道"),
    };
    let d = |m: u32, day: u32| NaiveDate::from_ymd_opt(year, m, day).expect("a walk date");
    let s = |m: u32, day: u32| d(m, day).to_string();
    // The steps of March to May: three months later when the programme's application window
    // opens after 1 March (registration on the later of that day and the window's opening).
    let shift = early_shift(&programme);
    let e = |m: u32, day: u32| s(m + shift, day);
    let registered_on = d(3 + shift, 1).max(programme.application_window.opens_on);
    let mut steps = Vec::new();
    let mut step = |body: &'static str, json: Value| steps.push(Step { body, json });
    step(
        "register",
        json!({"name": "示例项目", "programme_id": programme_id, "programme_version": 1,
               "jurisdiction": "370323", "description": "测试\n第二行", "registered_on": registered_on.to_string(),
               "evidence": [{"title": "立项文件", "reference": "示例文〔2021〕1号"}]}),
    );
    step(
        "officials",
        json!({"role": "official_in_charge", "official": {"name": "张示例", "post": "副局长", "email": "leader@example.org"}}),
    );
    step(
        "officials",
        json!({"role": "liaison", "official": {"name": "李示例", "post": "科长", "phone": "0533-0000000", "email": "liaison@example.org", "language": "en"}}),
    );
    step(
        "plan",
        json!({"submitted_on": e(3, 10), "form": plan_form(programme_id, unit, d(3 + shift, 10)),
               "evidence": [{"title": "工作推进方案", "reference": "示例文〔2021〕3号", "sha256": "ab".repeat(32)}]}),
    );
    step(
        "review",
        json!({"reviewed_on": e(3, 12), "decision": {"decision": "return", "reasons": ["补充材料"]}}),
    );
    step(
        "plan",
        json!({"submitted_on": e(3, 15), "form": plan_form(programme_id, unit, d(3 + shift, 15))}),
    );
    step(
        "review",
        json!({"reviewed_on": e(3, 20), "decision": {"decision": "approve", "comment": "同意"}}),
    );
    let sources: Vec<Value> = programme
        .funding
        .sources
        .iter()
        .map(|r| serde_json::to_value(r.source).expect("a source serialises"))
        .collect();
    let amount = 10_000_000i64;
    for source in &sources {
        step(
            "funds_approvals",
            json!({"source": source, "amount_fen": amount, "approved_on": e(3, 20)}),
        );
    }
    step(
        "construction_entity",
        json!({"entity": {"name": "示例快递末端服务有限公司", "credit_code": "91370000MA3EXAMPLE", "kind": "快递企业"}}),
    );
    step(
        "notice",
        json!({"starts_on": e(4, 6), "ends_on": e(4, 13), "channel": "县人民政府网站"}),
    );
    step(
        "objections",
        json!({"objection_id": OBJECTION_ID, "raised_on": e(4, 7), "raised_by": "居民代表", "summary": "选址过远"}),
    );
    step(
        "resolve_objection",
        json!({"resolved_on": e(4, 13), "outcome": "upheld", "resolution": "调整选址"}),
    );
    step("notice_close", json!({"closed_on": e(4, 14)}));
    for source in &sources {
        step(
            "funds_tranches",
            json!({"source": source, "amount_fen": amount * 6 / 10, "paid_on": e(4, 20)}),
        );
    }
    step(
        "suspension",
        json!({"suspended_on": e(5, 6), "reason": "暂停施工"}),
    );
    step("resumption", json!({"resumed_on": e(5, 20)}));
    step(
        "deadline_extensions",
        json!({"deadline_id": programme.deadlines[0].id, "until": s(11, 30), "reason": "顺延"}),
    );
    for (m, period) in [(6u32, "上半年"), (9, "三季度")] {
        step(
            "reports",
            json!({"period": period, "reported_on": s(m, 28), "form": progress_form(programme_id, unit, period, d(m, 28), 20)}),
        );
    }
    step("acceptance_request", json!({"requested_on": s(10, 9)}));
    let results: Vec<Value> = programme
        .checklist()
        .iter()
        .map(|item| match &item.requirement {
            Requirement::Check => json!({"item_id": item.id, "passed": true}),
            Requirement::AtLeast { min, .. } => json!({"item_id": item.id, "measured": min}),
        })
        .collect();
    step(
        "acceptance_inspection",
        json!({"inspected_on": s(10, 15), "inspector": "验收组", "results": results}),
    );
    let scores: Vec<Value> = programme
        .evaluation
        .indicators
        .iter()
        .map(|i| json!({"indicator_id": i.id, "score": i.max_score * 88 / 100}))
        .collect();
    step(
        "evaluation",
        json!({"evaluated_on": s(12, 1), "scores": scores}),
    );
    for source in &sources {
        step(
            "funds_settlements",
            json!({"source": source, "amount_fen": amount - amount * 6 / 10, "settled_on": s(12, 2)}),
        );
    }
    // A clawback ordered after settlement (e.g. an audit finding), recovered before closing.
    step(
        "clawbacks",
        json!({"source": sources[0], "amount_fen": 1_000_000, "ordered_on": s(12, 3), "reason": "绩效评价为差"}),
    );
    step(
        "clawbacks_settlements",
        json!({"source": sources[0], "amount_fen": 1_000_000, "settled_on": s(12, 10)}),
    );
    step("closure", json!({"closed_on": s(12, 28)}));
    steps
}

/// A termination body for a project that has been paid from `source` (not part of the walk,
/// which closes normally; a seed and one more canned state).
pub fn termination(programme_id: &str) -> Step {
    let year = match programme_id {
        LOCKERS_2017 => 2017,
        VILLAGES_2021 => 2021,
        _ => 2025,
    };
    let registry = ProgrammeRegistry::builtin();
    let programme = registry.get(programme_id, 1).expect("a shipped programme");
    let source = serde_json::to_value(programme.funding.sources[0].source).expect("serialises");
    Step {
        body: "termination",
        json: json!({"terminated_on": format!("{year}-{:02}-01", 5 + early_shift(&programme)), "reason": "建设主体退出",
                     "clawbacks": [{"source": source, "amount": 6_000_000}]}),
    }
}

/// How many months the walk's March-to-May steps move later: 3 when the programme's
/// application window opens after 1 March of its year, else 0.
fn early_shift(programme: &workflows::programme::Programme) -> u32 {
    let march = NaiveDate::from_ymd_opt(programme.year, 3, 1).expect("a walk date");
    if programme.application_window.opens_on > march {
        3
    } else {
        0
    }
}

/// A project state the fuzzed commands are decided against, with the events that made it.
#[derive(Clone)]
pub struct Canned {
    pub label: String,
    pub project: SubsidyProject,
    pub events: Vec<ProjectEvent>,
}

/// The services of the running server: the shipped programmes and the official calendar.
pub fn services() -> ProjectServices {
    ProjectServices::new(ProgrammeRegistry::builtin())
}

/// Runs one body against `state` as the server would (context check, decide, apply). Panics
/// if it is refused: the walk must stay valid, or the fuzzing would start from nowhere.
fn run(services: &ProjectServices, state: &mut Canned, step: &Step) {
    let bytes = serde_json::to_vec(&step.json).expect("serialises");
    let parsed = parse_body(step.body, &bytes)
        .expect("a known body")
        .unwrap_or_else(|e| panic!("walk body {} refused: {e:?}\n{}", step.body, step.json));
    let context = CommandContext {
        actor: ACTOR.to_string(),
        evidence: parsed.evidence.into_iter().map(Into::into).collect(),
    };
    domain::validate::check_context(&context).expect("walk context");
    let events = state
        .project
        .decide(parsed.command, services)
        .unwrap_or_else(|e| panic!("{}: walk step {} refused: {e}", state.label, step.body));
    for e in events {
        state.project.apply(e.clone());
        state.events.push(e);
    }
}

/// Every state of the walks of the shipped programmes (after each step), plus a terminated
/// project per programme, plus the unregistered project.
pub fn canned_states(services: &ProjectServices) -> Vec<Canned> {
    let empty = Canned {
        label: "unregistered".to_string(),
        project: SubsidyProject::default(),
        events: Vec::new(),
    };
    let mut states = vec![empty.clone()];
    for programme in PROGRAMMES {
        let mut state = Canned {
            label: programme.to_string(),
            ..empty.clone()
        };
        let steps = walk(programme);
        for (i, step) in steps.iter().enumerate() {
            run(services, &mut state, step);
            states.push(Canned {
                label: format!("{programme} after {} ({i})", step.body),
                ..state.clone()
            });
            if step.body == "funds_tranches" && steps[i + 1].body != "funds_tranches" {
                let mut ended = state.clone();
                run(services, &mut ended, &termination(programme));
                ended.label = format!("{programme} terminated");
                states.push(ended);
            }
        }
    }
    states
}

/// The store's own last check (`store::check_storable`) on what a command would append: the
/// serialised event and its metadata. A failure here is a 500 for a request the validation let
/// through, so the fuzz targets treat it as a crash.
pub fn assert_storable(events: &[ProjectEvent], context: &CommandContext, kind: &str) {
    let metadata =
        serde_json::to_value(context.to_metadata(kind)).expect("metadata always serialises");
    store::check_storable("/metadata", &metadata)
        .unwrap_or_else(|e| panic!("accepted command has unstorable metadata: {e}"));
    for event in events {
        let payload = serde_json::to_value(event).expect("an event always serialises");
        store::check_storable("/payload", &payload)
            .unwrap_or_else(|e| panic!("accepted command gives an unstorable event: {e}"));
    }
}

/// Writes `seeds` into `dir` (as `seed-NAME`) when the fuzz script asks for it through the
/// environment variable `SUBSIDY_FUZZ_SEEDS`, so that the corpora start from the shipped
/// definitions and the fixtures as they are now.
pub fn write_seeds(seeds: impl IntoIterator<Item = (String, Vec<u8>)>) {
    let Some(dir) = std::env::var_os("SUBSIDY_FUZZ_SEEDS") else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create the seed directory");
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
    }
}

/// The number literals of a well-formed JSON text, in document order.
pub fn number_literals(json: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < json.len()
                    && matches!(json[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push(String::from_utf8_lossy(&json[start..i]).into_owned());
            }
            _ => i += 1,
        }
    }
    out
}

/// The numbers of a JSON value, in document order, as text (integers as such, other numbers
/// in Rust's shortest round-trip form).
pub fn value_numbers(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Number(n) => out.push(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => format!("{f:e}"),
            _ => n.to_string(),
        }),
        Value::Array(items) => items.iter().for_each(|v| value_numbers(v, out)),
        Value::Object(map) => map.values().for_each(|v| value_numbers(v, out)),
        _ => {}
    }
}

/// The exact decimal value of a number literal: (negative, significant digits, exponent of the
/// last digit); zero is `(false, "", 0)`. `None` if the exponent does not fit an i64.
pub fn decimal(literal: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal.strip_prefix('+').unwrap_or(literal)),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = format!("{int}{frac}");
    let mut exp = exponent.checked_sub(frac.len() as i64)?;
    digits = digits.trim_start_matches('0').to_string();
    while digits.ends_with('0') {
        digits.pop();
        exp = exp.checked_add(1)?;
    }
    if digits.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, digits, exp))
}

mod targets;

pub use targets::{
    command_body, form, programme_definition, seeds_command_body, seeds_form,
    seeds_programme_definition,
};
