//! Generates a large, deterministic store for the scale benchmarks (BENCHMARKS.md, "Persisted
//! projections at scale"): N projects of the three shipped programmes, about ten events each,
//! spread over counties and cities of five provinces.
//!
//! Run: `cargo run --release -p tests --example scale_data -- (--database-url URL | --data-dir DIR)
//! --projects N [--seed S] [--chunk C]`
//!
//! Every project's life is decided by the real aggregate (`SubsidyProject::decide`, which validates
//! each command exactly as `Engine::execute` does) and its events are written straight into the
//! `events` table in big transactions, with the metadata the store writes (`actor`, `evidence`,
//! `command`, `recorded_at`, `prev_hash`, `hash` by `store::event_hash`), so chains verify and the
//! aggregate loads. Positions are assigned by the store's own triggers, in commit order. The
//! events of C projects (default 1,000) are interleaved by `recorded_at` and committed together.
//! A sample of streams is then checked with `store::verify_chain` and `Store::load`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{Days, NaiveDate, TimeZone, Utc};
use cqrs_es::{Aggregate, DomainEvent};
use domain::commands::{ClawbackLine, ObjectionOutcome, ReviewDecision};
use domain::fixtures::{
    entity, official, plan_form, progress_form, LOCKERS_2017, LOCKERS_2025, VILLAGES_2021,
};
use domain::{
    CommandContext, DocumentRef, Fen, JurisdictionCode, ProjectCommand as C, ProjectServices,
    Stage, SubsidyProject,
};
use serde_json::{Map, Value};
use workflows::programme::{FundSource, OfficialRole, Programme, ProgrammeRegistry};

/// Counties and cities (GB/T 2260) of five provinces, with the unit named in the forms.
const PLACES: [(&str, &str); 19] = [
    ("370323", "沂源县"),
    ("370302", "淄川区"),
    ("371082", "荣成市"),
    ("370522", "利津县"),
    ("370400", "枣庄市"),
    ("371100", "日照市"),
    ("320115", "江宁区"),
    ("320581", "常熟市"),
    ("320321", "丰县"),
    ("320500", "苏州市"),
    ("440114", "花都区"),
    ("440513", "潮阳区"),
    ("440300", "深圳市"),
    ("510121", "金堂县"),
    ("511321", "南部县"),
    ("510100", "成都市"),
    ("330127", "淳安县"),
    ("330782", "义乌市"),
    ("330100", "杭州市"),
];

const PILOT_CITIES: [&str; 7] = [
    "威海市",
    "东营市",
    "滨州市",
    "德州市",
    "枣庄市",
    "日照市",
    "莱芜市",
];

const PROGRAMMES: [&str; 3] = [LOCKERS_2017, VILLAGES_2021, LOCKERS_2025];

#[derive(Clone, Copy, Debug)]
enum Ending {
    At(Stage),
    PlanReturned,
    OpenObjection,
    Rectification,
    Suspended,
    Terminated,
}

/// Where projects stop, weighted (out of 100) so that a project has about ten events.
const ENDINGS: [(Ending, u64); 14] = [
    (Ending::At(Stage::Registered), 18),
    (Ending::At(Stage::PlanSubmitted), 12),
    (Ending::PlanReturned, 5),
    (Ending::At(Stage::PlanApproved), 14),
    (Ending::OpenObjection, 8),
    (Ending::At(Stage::Notice), 4),
    (Ending::At(Stage::Construction), 14),
    (Ending::Suspended, 3),
    (Ending::Terminated, 2),
    (Ending::At(Stage::Acceptance), 4),
    (Ending::Rectification, 3),
    (Ending::At(Stage::Evaluation), 4),
    (Ending::At(Stage::Evaluated), 4),
    (Ending::At(Stage::Closed), 5),
];

/// SplitMix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The demo's dates of one programme's year (api/src/demo.rs), which every shipped rule accepts.
struct Dates {
    registered: NaiveDate,
    plan: NaiveDate,
    review: NaiveDate,
    notice_start: NaiveDate,
    notice_end: NaiveDate,
    /// The first working day after the notice's last day: it closes only after it.
    notice_closed: NaiveDate,
    first_tranche: NaiveDate,
    reports: [(NaiveDate, &'static str); 2],
    acceptance: NaiveDate,
    inspection: NaiveDate,
    evaluation: NaiveDate,
    close: NaiveDate,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

fn dates(programme: &str, shift_weeks: u64) -> Dates {
    let base = match programme {
        LOCKERS_2017 => Dates {
            registered: d(2017, 5, 24),
            plan: d(2017, 5, 26),
            review: d(2017, 6, 5),
            notice_start: d(2017, 6, 7),
            notice_end: d(2017, 6, 14),
            notice_closed: d(2017, 6, 15),
            first_tranche: d(2017, 6, 20),
            reports: [(d(2017, 6, 28), "上半年"), (d(2017, 9, 28), "三季度")],
            acceptance: d(2017, 12, 1),
            inspection: d(2017, 12, 8),
            evaluation: d(2017, 12, 20),
            close: d(2017, 12, 28),
        },
        VILLAGES_2021 => Dates {
            registered: d(2021, 6, 3),
            plan: d(2021, 6, 7),
            review: d(2021, 6, 9),
            notice_start: d(2021, 6, 10),
            notice_end: d(2021, 6, 18),
            notice_closed: d(2021, 6, 21),
            first_tranche: d(2021, 6, 25),
            reports: [(d(2021, 7, 9), "7月上旬"), (d(2021, 7, 19), "7月中旬")],
            acceptance: d(2021, 8, 2),
            inspection: d(2021, 8, 10),
            evaluation: d(2021, 12, 20),
            close: d(2021, 12, 28),
        },
        _ => Dates {
            registered: d(2025, 3, 3),
            plan: d(2025, 3, 20),
            review: d(2025, 4, 1),
            notice_start: d(2025, 4, 2),
            notice_end: d(2025, 4, 10),
            notice_closed: d(2025, 4, 11),
            first_tranche: d(2025, 4, 20),
            reports: [(d(2025, 5, 9), "5月"), (d(2025, 6, 9), "6月")],
            acceptance: d(2025, 10, 9),
            inspection: d(2025, 10, 15),
            evaluation: d(2025, 12, 15),
            close: d(2025, 12, 26),
        },
    };
    // Whole weeks earlier: the weekday pattern stays, every date stays in the programme year
    // (the earliest, 3 March 2025, moves at most to 10 February) and their order is kept.
    let s = |x: NaiveDate| x - Days::new(7 * shift_weeks);
    Dates {
        registered: s(base.registered),
        plan: s(base.plan),
        review: s(base.review),
        notice_start: s(base.notice_start),
        notice_end: s(base.notice_end),
        notice_closed: s(base.notice_closed),
        first_tranche: s(base.first_tranche),
        reports: [
            (s(base.reports[0].0), base.reports[0].1),
            (s(base.reports[1].0), base.reports[1].1),
        ],
        acceptance: s(base.acceptance),
        inspection: s(base.inspection),
        evaluation: s(base.evaluation),
        close: s(base.close),
    }
}

/// One command of a project's life: who, on what evidence, on which day, what.
struct Step {
    actor: String,
    evidence: Option<(&'static str, u32)>,
    on: NaiveDate,
    command: C,
}

/// The commands of one project's life up to its ending (the demo's path, api/src/demo.rs).
fn lifecycle(
    n: u64,
    programme: &Programme,
    place: (&str, &str),
    ending: Ending,
    cal: &Dates,
) -> anyhow::Result<Vec<Step>> {
    let (code, unit) = place;
    // Seed 000's plan form names one of its seven pilot cities.
    let unit = if programme.id == LOCKERS_2017 {
        PILOT_CITIES[(n % 7) as usize]
    } else {
        unit
    };
    let officer = format!("officer.{code}");
    let supervisor = format!("supervisor.{}", &code[..4]);
    let target = match ending {
        Ending::At(stage) => stage,
        Ending::PlanReturned => Stage::PlanSubmitted,
        Ending::OpenObjection => Stage::Notice,
        Ending::Rectification => Stage::Acceptance,
        Ending::Suspended | Ending::Terminated => Stage::Construction,
    };
    let mut steps = Vec::new();
    let mut step = |actor: &str, evidence: Option<(&'static str, u32)>, on, command| {
        steps.push(Step {
            actor: actor.to_string(),
            evidence,
            on,
            command,
        })
    };
    step(
        &officer,
        Some(("立项通知", 1)),
        cal.registered,
        C::RegisterProject {
            name: format!("{unit}{}（规模测试 {n}）", programme.title),
            programme_id: programme.id.clone(),
            programme_version: programme.version,
            jurisdiction: JurisdictionCode::parse(code)?,
            description: format!("{}（规模测试数据）", programme.title),
            registered_on: cal.registered,
        },
    );
    step(
        &officer,
        Some(("责任人名单", 2)),
        cal.registered,
        C::AssignOfficial {
            role: OfficialRole::OfficialInCharge,
            official: official(
                &format!("张示例{}", n % 97),
                "副局长",
                &format!("leader{}@example.org", n % 1000),
            ),
        },
    );
    step(
        &officer,
        None,
        cal.registered,
        C::AssignOfficial {
            role: OfficialRole::Liaison,
            official: official(
                &format!("李示例{}", n % 89),
                "科长",
                &format!("liaison{}@example.org", n % 1000),
            ),
        },
    );
    if target < Stage::PlanSubmitted {
        return Ok(steps);
    }
    step(
        &officer,
        Some(("工作推进方案", 3)),
        cal.plan,
        C::SubmitPlan {
            submitted_on: cal.plan,
            form: plan_form(&programme.id, unit, cal.plan),
        },
    );
    if let Ending::PlanReturned = ending {
        step(
            &supervisor,
            None,
            cal.review,
            C::ReviewPlan {
                reviewed_on: cal.review,
                decision: ReviewDecision::Return {
                    reasons: vec!["建设区域与年度计划不一致，请补充说明".to_string()],
                },
            },
        );
        return Ok(steps);
    }
    if target < Stage::PlanApproved {
        return Ok(steps);
    }
    step(
        &supervisor,
        Some(("方案批复", 4)),
        cal.review,
        C::ReviewPlan {
            reviewed_on: cal.review,
            decision: ReviewDecision::Approve {
                comment: "同意".to_string(),
            },
        },
    );
    let approved: Vec<(FundSource, Fen)> = programme
        .funding
        .sources
        .iter()
        .map(|rule| {
            let amount = match rule.source {
                FundSource::Province => Fen(300_000_000),
                FundSource::City => Fen(50_000_000),
                FundSource::County => Fen(30_000_000),
            };
            (rule.source, amount)
        })
        .collect();
    for (source, amount) in &approved {
        step(
            &supervisor,
            Some(("资金批复", 5)),
            cal.review,
            C::ApproveFunds {
                source: *source,
                amount: *amount,
                approved_on: cal.review,
            },
        );
    }
    step(
        &officer,
        Some(("建设主体确定函", 6)),
        cal.review,
        C::DesignateConstructionEntity {
            entity: entity("示例快递末端服务有限公司"),
        },
    );
    if target < Stage::Notice {
        return Ok(steps);
    }
    step(
        &officer,
        Some(("项目公示", 7)),
        cal.notice_start,
        C::PublishNotice {
            starts_on: cal.notice_start,
            ends_on: cal.notice_end,
            channel: "县（市）人民政府网站".to_string(),
        },
    );
    step(
        &officer,
        None,
        cal.notice_start,
        C::RaiseObjection {
            objection_id: "YY-001".to_string(),
            raised_on: cal.notice_start,
            raised_by: "居民代表（匿名）".to_string(),
            summary: "选址距离小区出入口过远".to_string(),
        },
    );
    if let Ending::OpenObjection = ending {
        return Ok(steps);
    }
    step(
        &officer,
        Some(("异议处理意见", 8)),
        cal.notice_end,
        C::ResolveObjection {
            objection_id: "YY-001".to_string(),
            resolved_on: cal.notice_end,
            outcome: ObjectionOutcome::Upheld,
            resolution: "调整至出入口东侧".to_string(),
        },
    );
    if target < Stage::Construction {
        return Ok(steps);
    }
    step(
        &officer,
        None,
        cal.notice_closed,
        C::CloseNotice {
            closed_on: cal.notice_closed,
        },
    );
    for (source, amount) in &approved {
        step(
            &officer,
            Some(("拨款凭证", 9)),
            cal.first_tranche,
            C::DisburseTranche {
                source: *source,
                amount: Fen(amount.0 * 6 / 10),
                paid_on: cal.first_tranche,
            },
        );
    }
    for (on, period) in cal.reports {
        step(
            &officer,
            None,
            on,
            C::SubmitProgressReport {
                period: period.to_string(),
                reported_on: on,
                form: progress_form(&programme.id, unit, period, on, 20),
            },
        );
    }
    match ending {
        Ending::Suspended => {
            step(
                &supervisor,
                Some(("暂停通知", 10)),
                cal.reports[1].0,
                C::SuspendProject {
                    suspended_on: cal.reports[1].0,
                    reason: "建设场地权属争议，待核实".to_string(),
                },
            );
            return Ok(steps);
        }
        Ending::Terminated => {
            let clawbacks = approved
                .iter()
                .map(|(source, amount)| ClawbackLine {
                    source: *source,
                    amount: Fen(amount.0 * 6 / 10),
                })
                .collect();
            step(
                &supervisor,
                Some(("终止决定", 11)),
                cal.reports[1].0,
                C::TerminateProject {
                    terminated_on: cal.reports[1].0,
                    reason: "建设主体退出，项目无法实施".to_string(),
                    clawbacks,
                },
            );
            let (source, amount) = approved[0];
            step(
                &officer,
                Some(("缴款凭证", 12)),
                cal.acceptance,
                C::SettleClawback {
                    source,
                    amount: Fen(amount.0 * 3 / 10),
                    settled_on: cal.acceptance,
                },
            );
            return Ok(steps);
        }
        _ => {}
    }
    if target < Stage::Acceptance {
        return Ok(steps);
    }
    step(
        &officer,
        None,
        cal.acceptance,
        C::RequestAcceptance {
            requested_on: cal.acceptance,
        },
    );
    if let Ending::Rectification = ending {
        step(
            &supervisor,
            Some(("验收意见", 13)),
            cal.inspection,
            C::RecordInspection {
                inspected_on: cal.inspection,
                inspector: "市商务局验收组".to_string(),
                results: api::demo::inspection(programme, true),
                rectify_by: Some(cal.inspection + Days::new(30)),
            },
        );
        return Ok(steps);
    }
    if target < Stage::Evaluation {
        return Ok(steps);
    }
    step(
        &supervisor,
        Some(("验收意见", 13)),
        cal.inspection,
        C::RecordInspection {
            inspected_on: cal.inspection,
            inspector: "市商务局验收组".to_string(),
            results: api::demo::inspection(programme, false),
            rectify_by: None,
        },
    );
    if target < Stage::Evaluated {
        return Ok(steps);
    }
    step(
        &supervisor,
        Some(("绩效评价报告", 14)),
        cal.evaluation,
        C::EvaluatePerformance {
            evaluated_on: cal.evaluation,
            scores: api::demo::scores(programme, 88),
        },
    );
    for (source, amount) in &approved {
        step(
            &officer,
            Some(("清算凭证", 17)),
            cal.evaluation,
            C::SettleFunds {
                source: *source,
                amount: Fen(amount.0 - amount.0 * 6 / 10),
                settled_on: cal.evaluation,
            },
        );
    }
    if target < Stage::Closed {
        return Ok(steps);
    }
    step(
        &supervisor,
        None,
        cal.close,
        C::CloseProject {
            closed_on: cal.close,
        },
    );
    Ok(steps)
}

/// One row of the events table, ready to insert.
struct Row {
    recorded_at: String,
    project: u64,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: String,
    metadata: String,
}

/// Runs one project's commands through the aggregate and stamps its events like the store.
fn project_rows(
    n: u64,
    steps: Vec<Step>,
    services: &ProjectServices,
    year: i32,
) -> anyhow::Result<Vec<Row>> {
    let id = format!("scale-{year}-{n:06}");
    let mut state = SubsidyProject::default();
    let mut rows = Vec::new();
    let mut previous = store::GENESIS_HASH.to_string();
    for (i, step) in steps.into_iter().enumerate() {
        let mut ctx = CommandContext::new(step.actor);
        if let Some((title, k)) = step.evidence {
            ctx = ctx.with_evidence(DocumentRef {
                title: title.to_string(),
                reference: format!("示例文〔{year}〕{k}号"),
                sha256: None,
            });
        }
        domain::validate::check_context(&ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
        let kind = format!("{:?}", step.command.kind());
        let events = state
            .decide(step.command, services)
            .map_err(|e| anyhow::anyhow!("project {id}, {kind}: {e}"))?;
        // 09:30 Shanghai on the day of the step, a minute per step, a microsecond per project:
        // one instant per command, as the store's clock gives.
        let at = Utc.from_utc_datetime(&step.on.and_hms_opt(1, 30, 0).expect("valid time"))
            + chrono::Duration::minutes(i as i64)
            + chrono::Duration::microseconds((n % 1_000_000) as i64);
        let recorded_at = store::format_recorded_at(at);
        let caller: BTreeMap<String, String> = ctx.to_metadata(&kind).into_iter().collect();
        for event in events {
            state.apply(event.clone());
            let sequence = rows.len() as i64 + 1;
            let payload = serde_json::to_value(&event)?;
            let mut metadata: Map<String, Value> = caller
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            metadata.insert(store::RECORDED_AT.into(), recorded_at.clone().into());
            metadata.insert(store::PREV_HASH.into(), previous.clone().into());
            let event_type = event.event_type();
            let hash = store::event_hash(
                SubsidyProject::TYPE,
                &id,
                sequence,
                &event_type,
                &event.event_version(),
                &payload,
                &metadata,
            );
            metadata.insert(store::HASH.into(), hash.clone().into());
            previous = hash;
            rows.push(Row {
                recorded_at: recorded_at.clone(),
                project: n,
                aggregate_id: id.clone(),
                sequence,
                event_type,
                payload: serde_json::to_string(&payload)?,
                metadata: serde_json::to_string(&metadata)?,
            });
        }
    }
    Ok(rows)
}

struct Generated {
    rows: Vec<Row>,
    shifted_back: u64,
}

/// Projects `from..to`: their events, interleaved by `recorded_at` like concurrent officers.
fn chunk(
    seed: u64,
    from: u64,
    to: u64,
    registry: &ProgrammeRegistry,
    services: &ProjectServices,
) -> anyhow::Result<Generated> {
    let mut out = Generated {
        rows: Vec::new(),
        shifted_back: 0,
    };
    for n in from..to {
        // One generator per project: the data does not depend on the chunk size.
        let mut rng = Rng(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
        let programme_id = PROGRAMMES[rng.below(3) as usize];
        let place = PLACES[rng.below(PLACES.len() as u64) as usize];
        let mut pick = rng.below(100);
        let mut ending = ENDINGS[0].0;
        for (e, w) in ENDINGS {
            if pick < w {
                ending = e;
                break;
            }
            pick -= w;
        }
        let shift = rng.below(4);
        let programme = registry
            .get(programme_id, 1)
            .with_context(|| format!("programme {programme_id} is not shipped"))?;
        let steps = lifecycle(n, &programme, place, ending, &dates(programme_id, shift))?;
        let rows = match project_rows(n, steps, services, programme.year) {
            Ok(rows) => rows,
            // A shifted date that a holiday rule refuses: the demo's own dates.
            Err(_) if shift > 0 => {
                out.shifted_back += 1;
                let steps = lifecycle(n, &programme, place, ending, &dates(programme_id, 0))?;
                project_rows(n, steps, services, programme.year)?
            }
            Err(e) => return Err(e),
        };
        out.rows.extend(rows);
    }
    out.rows.sort_by(|a, b| {
        (&a.recorded_at, a.project, a.sequence).cmp(&(&b.recorded_at, b.project, b.sequence))
    });
    Ok(out)
}

async fn insert(store: &store::Store, rows: &[Row]) -> anyhow::Result<()> {
    if let Some(pool) = store.pool_sqlite() {
        let mut tx = pool.begin().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES (?, ?, ?, ?, '1.0', ?, ?)",
            )
            .bind(SubsidyProject::TYPE)
            .bind(&r.aggregate_id)
            .bind(r.sequence)
            .bind(&r.event_type)
            .bind(&r.payload)
            .bind(&r.metadata)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    } else if let Some(pool) = store.pool_postgres() {
        // One statement per chunk; the BEFORE INSERT trigger numbers the rows in this order.
        let ids: Vec<&str> = rows.iter().map(|r| r.aggregate_id.as_str()).collect();
        let seqs: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
        let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
        let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
        let metadata: Vec<&str> = rows.iter().map(|r| r.metadata.as_str()).collect();
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT $1, t.id, t.seq, t.et, '1.0', t.p::json, t.m::json
               FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
                    WITH ORDINALITY AS t(id, seq, et, p, m, ord)
              ORDER BY t.ord",
        )
        .bind(SubsidyProject::TYPE)
        .bind(&ids)
        .bind(&seqs)
        .bind(&types)
        .bind(&payloads)
        .bind(&metadata)
        .execute(pool)
        .await?;
    } else {
        bail!("unknown backend");
    }
    Ok(())
}

struct Args {
    url: String,
    projects: u64,
    seed: u64,
    chunk: u64,
}

fn args() -> anyhow::Result<Args> {
    let mut url = None;
    let mut projects = 100_000;
    let mut seed = 20_260_901;
    let mut chunk = 1_000;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database-url" => url = Some(value()?),
            "--data-dir" => {
                let dir = PathBuf::from(value()?);
                std::fs::create_dir_all(&dir)?;
                url = Some(format!(
                    "sqlite://{}?mode=rwc",
                    dir.join(store::SQLITE_FILE_NAME).display()
                ));
            }
            "--projects" => projects = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            "--chunk" => chunk = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(Args {
        url: url.context("--database-url URL or --data-dir DIR is required")?,
        projects,
        seed,
        chunk,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let store = store::Store::connect(&args.url).await?;
    let existing = store.last_position().await?;
    if existing > 0 {
        bail!("the store already holds {existing} events; generate into an empty store");
    }
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Generated>>(2);
    let (projects, seed, size) = (args.projects, args.seed, args.chunk);
    // Deciding and hashing on one core, inserting on the other.
    let producer = std::thread::spawn(move || {
        let registry = ProgrammeRegistry::builtin();
        let services = ProjectServices::new(registry.clone());
        let mut from = 0;
        while from < projects {
            let to = (from + size).min(projects);
            if tx
                .blocking_send(chunk(seed, from, to, &registry, &services))
                .is_err()
            {
                return;
            }
            from = to;
        }
    });
    let (mut events, mut shifted_back, mut done, mut inserting) = (0u64, 0u64, 0u64, 0f64);
    while let Some(generated) = rx.recv().await {
        let generated = generated?;
        let t = Instant::now();
        insert(&store, &generated.rows).await?;
        inserting += t.elapsed().as_secs_f64();
        events += generated.rows.len() as u64;
        shifted_back += generated.shifted_back;
        done += 1;
        if done % 10 == 0 {
            eprintln!(
                "{} projects, {events} events, {:.1} s",
                (done * size).min(projects),
                started.elapsed().as_secs_f64()
            );
        }
    }
    producer.join().expect("the generator thread");
    let written = started.elapsed();
    if let Some(pool) = store.pool_postgres() {
        sqlx::query("ANALYZE events").execute(pool).await?;
    }
    println!(
        "generated {projects} projects, {events} events ({:.2} per project) in {:.1} s ({:.0} events/s; {:.1} s in INSERT); {shifted_back} projects kept the unshifted dates; seed {seed}",
        events as f64 / projects as f64,
        written.as_secs_f64(),
        events as f64 / written.as_secs_f64(),
        inserting,
    );
    let head = store.last_position().await?;
    if head != events as i64 {
        bail!("the last position is {head}, expected {events}");
    }
    // A sample of streams: chains verify, the aggregate loads with every event.
    let t = Instant::now();
    let sample = 200.min(projects);
    let registry = ProgrammeRegistry::builtin();
    for k in 0..sample {
        let n = k * projects / sample;
        let mut rng = Rng(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
        let programme_id = PROGRAMMES[rng.below(3) as usize];
        let year = registry.get(programme_id, 1).expect("shipped").year;
        let id = format!("scale-{year}-{n:06}");
        let stream = store.read_stream(SubsidyProject::TYPE, &id).await?;
        if stream.is_empty() {
            bail!("project {id} has no events");
        }
        store::verify_chain(&stream).map_err(|e| anyhow::anyhow!("project {id}: {e}"))?;
        let (state, version) = store.load::<SubsidyProject>(&id).await?;
        if version != stream.len() || state.stage == Stage::Unregistered {
            bail!(
                "project {id} loads at version {version} of {}",
                stream.len()
            );
        }
    }
    println!(
        "verified {sample} chains and loaded their projects in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
