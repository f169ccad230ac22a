//! The invented demo data set: a few counties and cities with projects of every shipped
//! programme in every stage, dated in the programme's own year (2017, 2021, 2025), so that a
//! newcomer sees a living system. Every person, company and e-mail address is invented.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use chrono::{Datelike, NaiveDate};
use cqrs_es::Aggregate;
use domain::commands::{
    ChecklistResult, ClawbackLine, IndicatorScore, ObjectionOutcome, ReviewDecision,
};
use domain::fixtures::{
    entity, official, plan_form, progress_form, LOCKERS_2017, LOCKERS_2025, VILLAGES_2021,
};
use domain::{
    CommandContext, DocumentRef, Fen, JurisdictionCode, ProjectCommand as C, Stage, SubsidyProject,
};
use workflows::programme::{FundSource, OfficialRole, Programme, Requirement};

use crate::engine::Engine;

/// One demo project: where it is, and how far it has got.
struct Spec {
    programme: &'static str,
    jurisdiction: &'static str,
    /// The unit named in the forms (a pilot city, a township).
    unit: &'static str,
    name: String,
    ending: Ending,
}

#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Follow the normal path and stop once this stage is reached.
    At(Stage),
    PlanReturned,
    OpenObjection,
    Rectification,
    Suspended,
    Terminated,
    PoorEvaluationRecovered,
}

const ENDINGS: [Ending; 13] = [
    Ending::At(Stage::Registered),
    Ending::At(Stage::PlanSubmitted),
    Ending::PlanReturned,
    Ending::At(Stage::PlanApproved),
    Ending::OpenObjection,
    Ending::At(Stage::Construction),
    Ending::At(Stage::Acceptance),
    Ending::Rectification,
    Ending::At(Stage::Evaluation),
    Ending::At(Stage::Evaluated),
    Ending::At(Stage::Closed),
    Ending::Suspended,
    Ending::Terminated,
];

/// The seven pilot cities of seed 000 with their GB/T 2260 codes (莱芜 as it was in 2017).
const PILOT_CITIES: [(&str, &str); 7] = [
    ("威海市", "371000"),
    ("东营市", "370500"),
    ("滨州市", "371600"),
    ("德州市", "371400"),
    ("枣庄市", "370400"),
    ("日照市", "371100"),
    ("莱芜市", "371200"),
];

/// Townships of Yiyuan county (370323), the county of seeds 002 and 003.
const YIYUAN_TOWNSHIPS: [&str; 12] = [
    "南麻街道",
    "历山街道",
    "南鲁山镇",
    "鲁村镇",
    "大张庄镇",
    "燕崖镇",
    "中庄镇",
    "西里镇",
    "东里镇",
    "张家坡镇",
    "石桥镇",
    "悦庄镇",
];

fn specs() -> Vec<Spec> {
    let mut all = Vec::new();
    for (i, ending) in ENDINGS.iter().enumerate() {
        let (city, code) = PILOT_CITIES[i % PILOT_CITIES.len()];
        all.push(Spec {
            programme: LOCKERS_2017,
            jurisdiction: code,
            unit: city,
            name: format!(
                "{city}智能快件箱进楼宇工程（第{}批）",
                i / PILOT_CITIES.len() + 1
            ),
            ending: *ending,
        });
        let town = YIYUAN_TOWNSHIPS[i % YIYUAN_TOWNSHIPS.len()];
        all.push(Spec {
            programme: VILLAGES_2021,
            jurisdiction: "370323",
            unit: town,
            name: format!("{town}“快递进村”三级节点建设"),
            ending: *ending,
        });
        let town = YIYUAN_TOWNSHIPS[(i + 5) % YIYUAN_TOWNSHIPS.len()];
        all.push(Spec {
            programme: LOCKERS_2025,
            jurisdiction: "370323",
            unit: town,
            name: format!("{town}小区智能快递柜布设（{}）", i + 1),
            ending: *ending,
        });
    }
    // A second, poorly performing 2021 project that had its money recovered before closing.
    all.push(Spec {
        programme: VILLAGES_2021,
        jurisdiction: "370323",
        unit: "石桥镇",
        name: "石桥镇村级快递服务网点补白".to_string(),
        ending: Ending::PoorEvaluationRecovered,
    });
    all
}

/// The dates of one programme's year, on which the demo steps happen.
struct Calendar {
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
    NaiveDate::from_ymd_opt(y, m, day).expect("valid demo date")
}

fn calendar(programme: &str) -> Calendar {
    match programme {
        LOCKERS_2017 => Calendar {
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
        VILLAGES_2021 => Calendar {
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
        _ => Calendar {
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
    }
}

/// Approved amounts per source, in fen.
fn approvals(programme: &Programme) -> Vec<(FundSource, Fen)> {
    programme
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
        .collect()
}

/// Inspection results: everything meets the standard, except, when `fail` is set, the first
/// "at least" item (a township centre of 480 m², 34 locker groups instead of 36…) or, in a
/// checklist without figures, the first yes/no item.
pub fn inspection(programme: &Programme, fail: bool) -> Vec<ChecklistResult> {
    let checklist = programme.checklist();
    let failing = fail
        .then(|| {
            checklist
                .iter()
                .find(|c| matches!(c.requirement, Requirement::AtLeast { .. }))
                .or(checklist.first())
                .map(|c| c.id.clone())
        })
        .flatten();
    checklist
        .iter()
        .map(|item| {
            let short = failing.as_deref() == Some(item.id.as_str());
            match &item.requirement {
                Requirement::Check => ChecklistResult {
                    item_id: item.id.clone(),
                    passed: Some(!short),
                    measured: None,
                    note: if short {
                        "未达到要求，需整改".to_string()
                    } else {
                        String::new()
                    },
                },
                Requirement::AtLeast { min, unit } => ChecklistResult {
                    item_id: item.id.clone(),
                    passed: None,
                    measured: Some(if short { min * 96 / 100 } else { *min }),
                    note: if short {
                        format!("实测不足 {min} {unit}")
                    } else {
                        String::new()
                    },
                },
            }
        })
        .collect()
}

pub fn scores(programme: &Programme, percent: u32) -> Vec<IndicatorScore> {
    programme
        .evaluation
        .indicators
        .iter()
        .map(|i| IndicatorScore {
            indicator_id: i.id.clone(),
            score: i.max_score * percent / 100,
        })
        .collect()
}

struct Runner<'a> {
    engine: &'a Engine,
    id: String,
    stage: Stage,
    events: usize,
}

impl Runner<'_> {
    async fn run(
        &mut self,
        actor: &str,
        evidence: Option<(&str, String)>,
        command: C,
    ) -> anyhow::Result<()> {
        let mut ctx = CommandContext::new(actor);
        if let Some((title, reference)) = evidence {
            ctx = ctx.with_evidence(DocumentRef {
                title: title.to_string(),
                reference,
                sha256: None,
            });
        }
        let what = format!("{:?}", command.kind());
        let committed = self
            .engine
            .execute(&self.id, &ctx, command, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("demo project {}: {what}", self.id))?;
        self.events += committed.events.len();
        let (state, _) = self.engine.load(&self.id).await?;
        self.stage = state.stage;
        Ok(())
    }
}

/// Loads the demo data into an empty store and returns a short report.
pub async fn load(engine: &Engine) -> anyhow::Result<String> {
    // The records of the programme versions and calendar years in force are not projects.
    let existing = engine
        .store
        .aggregate_ids(SubsidyProject::TYPE)
        .await?
        .len();
    if existing > 0 {
        bail!("the store already holds {existing} project(s); demo data loads only into an empty store (use a fresh --data-dir)");
    }
    load_except(engine, &[]).await
}

/// The demo projects' identifiers, in loading order.
pub fn ids(engine: &Engine) -> anyhow::Result<Vec<String>> {
    specs()
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            let programme = engine
                .programmes()
                .get(spec.programme, 1)
                .with_context(|| format!("programme {} is not loaded", spec.programme))?;
            Ok(demo_id(n, &programme))
        })
        .collect()
}

/// Loads the demo projects that have no event yet: the rest of a demo load that a crash
/// interrupted (`subsidy serve`'s first start). The project being built when it was
/// interrupted stays at the step it had reached.
pub async fn load_missing(engine: &Engine) -> anyhow::Result<String> {
    let present = engine.store.aggregate_ids(SubsidyProject::TYPE).await?;
    load_except(engine, &present).await
}

async fn load_except(engine: &Engine, present: &[String]) -> anyhow::Result<String> {
    let mut report = String::new();
    let mut total_events = 0;
    let mut loaded = 0;
    let specs = specs();
    for (n, spec) in specs.iter().enumerate() {
        let programme = engine
            .programmes()
            .get(spec.programme, 1)
            .with_context(|| format!("programme {} is not loaded", spec.programme))?;
        let id = demo_id(n, &programme);
        if present.contains(&id) {
            continue;
        }
        let mut r = Runner {
            engine,
            id: id.clone(),
            stage: Stage::Unregistered,
            events: 0,
        };
        build(&mut r, spec, &programme).await?;
        total_events += r.events;
        loaded += 1;
        let _ = writeln!(report, "{id}  {}  {}", r.stage.label_zh(), spec.name);
    }
    let earlier = if present.is_empty() {
        String::new()
    } else {
        format!(" (the other {} were loaded before)", specs.len() - loaded)
    };
    let _ = writeln!(
        report,
        "loaded {loaded} demo projects, {total_events} events{earlier}"
    );
    Ok(report)
}

/// Readable, stable demo identifiers: `demo-2021-05`.
fn demo_id(n: usize, programme: &Programme) -> String {
    format!("demo-{}-{:02}", programme.year, n + 1)
}

async fn build(r: &mut Runner<'_>, spec: &Spec, programme: &Programme) -> anyhow::Result<()> {
    let cal = calendar(spec.programme);
    let year = cal.registered.year();
    let county = spec.jurisdiction == "370323";
    let officer = if county {
        "officer.yiyuan"
    } else {
        "officer.city"
    };
    let supervisor = if county {
        "supervisor.zibo"
    } else {
        "supervisor.province"
    };
    let target = match spec.ending {
        Ending::At(stage) => stage,
        Ending::PlanReturned => Stage::PlanSubmitted,
        Ending::OpenObjection => Stage::Notice,
        Ending::Rectification => Stage::Acceptance,
        Ending::Suspended | Ending::Terminated => Stage::Construction,
        Ending::PoorEvaluationRecovered => Stage::Evaluation,
    };
    let doc = |title: &'static str, n: u32| Some((title, format!("示例文〔{year}〕{n}号")));

    r.run(
        officer,
        doc("立项通知", 1),
        C::RegisterProject {
            name: spec.name.clone(),
            programme_id: programme.id.clone(),
            programme_version: programme.version,
            jurisdiction: JurisdictionCode::parse(spec.jurisdiction)?,
            description: format!("{}（演示数据）", programme.title),
            registered_on: cal.registered,
        },
    )
    .await?;
    r.run(
        officer,
        doc("责任人名单", 2),
        C::AssignOfficial {
            role: OfficialRole::OfficialInCharge,
            official: official("张示例", "副局长", "leader.demo@example.org"),
        },
    )
    .await?;
    r.run(
        officer,
        None,
        C::AssignOfficial {
            role: OfficialRole::Liaison,
            official: official("李示例", "科长", "liaison.demo@example.org"),
        },
    )
    .await?;
    if target < Stage::PlanSubmitted {
        return Ok(());
    }
    r.run(
        officer,
        doc("工作推进方案", 3),
        C::SubmitPlan {
            submitted_on: cal.plan,
            form: plan_form(spec.programme, spec.unit, cal.plan),
        },
    )
    .await?;
    if let Ending::PlanReturned = spec.ending {
        return r
            .run(
                supervisor,
                None,
                C::ReviewPlan {
                    reviewed_on: cal.review,
                    decision: ReviewDecision::Return {
                        reasons: vec!["建设区域与年度计划不一致，请补充说明".to_string()],
                    },
                },
            )
            .await;
    }
    if target < Stage::PlanApproved {
        return Ok(());
    }
    r.run(
        supervisor,
        doc("方案批复", 4),
        C::ReviewPlan {
            reviewed_on: cal.review,
            decision: ReviewDecision::Approve {
                comment: "同意".to_string(),
            },
        },
    )
    .await?;
    let approved = approvals(programme);
    for (source, amount) in &approved {
        r.run(
            supervisor,
            doc("资金批复", 5),
            C::ApproveFunds {
                source: *source,
                amount: *amount,
                approved_on: cal.review,
            },
        )
        .await?;
    }
    r.run(
        officer,
        doc("建设主体确定函", 6),
        C::DesignateConstructionEntity {
            entity: entity("示例快递末端服务有限公司"),
        },
    )
    .await?;
    if target < Stage::Notice {
        return Ok(());
    }
    r.run(
        officer,
        doc("项目公示", 7),
        C::PublishNotice {
            starts_on: cal.notice_start,
            ends_on: cal.notice_end,
            channel: "县（市）人民政府网站".to_string(),
        },
    )
    .await?;
    r.run(
        officer,
        None,
        C::RaiseObjection {
            objection_id: "YY-001".to_string(),
            raised_on: cal.notice_start,
            raised_by: "居民代表（匿名）".to_string(),
            summary: "选址距离小区出入口过远".to_string(),
        },
    )
    .await?;
    if let Ending::OpenObjection = spec.ending {
        return Ok(());
    }
    r.run(
        officer,
        doc("异议处理意见", 8),
        C::ResolveObjection {
            objection_id: "YY-001".to_string(),
            resolved_on: cal.notice_end,
            outcome: ObjectionOutcome::Upheld,
            resolution: "调整至出入口东侧".to_string(),
        },
    )
    .await?;
    if target < Stage::Construction {
        return Ok(());
    }
    r.run(
        officer,
        None,
        C::CloseNotice {
            closed_on: cal.notice_closed,
        },
    )
    .await?;
    for (source, amount) in &approved {
        r.run(
            officer,
            doc("拨款凭证", 9),
            C::DisburseTranche {
                source: *source,
                amount: Fen(amount.0 * 6 / 10),
                paid_on: cal.first_tranche,
            },
        )
        .await?;
    }
    for (on, period) in cal.reports {
        r.run(
            officer,
            None,
            C::SubmitProgressReport {
                period: period.to_string(),
                reported_on: on,
                form: progress_form(spec.programme, spec.unit, period, on, 20),
            },
        )
        .await?;
    }
    match spec.ending {
        Ending::Suspended => {
            return r
                .run(
                    supervisor,
                    doc("暂停通知", 10),
                    C::SuspendProject {
                        suspended_on: cal.reports[1].0,
                        reason: "建设场地权属争议，待核实".to_string(),
                    },
                )
                .await
        }
        Ending::Terminated => {
            let clawbacks = approved
                .iter()
                .map(|(source, amount)| ClawbackLine {
                    source: *source,
                    amount: Fen(amount.0 * 6 / 10),
                })
                .collect();
            r.run(
                supervisor,
                doc("终止决定", 11),
                C::TerminateProject {
                    terminated_on: cal.reports[1].0,
                    reason: "建设主体退出，项目无法实施".to_string(),
                    clawbacks,
                },
            )
            .await?;
            let (source, amount) = approved[0];
            return r
                .run(
                    officer,
                    doc("缴款凭证", 12),
                    C::SettleClawback {
                        source,
                        amount: Fen(amount.0 * 3 / 10),
                        settled_on: cal.acceptance,
                    },
                )
                .await;
        }
        _ => {}
    }
    if target < Stage::Acceptance {
        return Ok(());
    }
    r.run(
        officer,
        None,
        C::RequestAcceptance {
            requested_on: cal.acceptance,
        },
    )
    .await?;
    if let Ending::Rectification = spec.ending {
        return r
            .run(
                supervisor,
                doc("验收意见", 13),
                C::RecordInspection {
                    inspected_on: cal.inspection,
                    inspector: "市商务局验收组".to_string(),
                    results: inspection(programme, true),
                    rectify_by: Some(cal.inspection + chrono::Days::new(30)),
                },
            )
            .await;
    }
    if target < Stage::Evaluation {
        return Ok(());
    }
    r.run(
        supervisor,
        doc("验收意见", 13),
        C::RecordInspection {
            inspected_on: cal.inspection,
            inspector: "市商务局验收组".to_string(),
            results: inspection(programme, false),
            rectify_by: None,
        },
    )
    .await?;
    if let Ending::PoorEvaluationRecovered = spec.ending {
        r.run(
            supervisor,
            doc("绩效评价报告", 14),
            C::EvaluatePerformance {
                evaluated_on: cal.evaluation,
                scores: scores(programme, 50),
            },
        )
        .await?;
        for (source, amount) in &approved {
            let paid = Fen(amount.0 * 6 / 10);
            r.run(
                supervisor,
                doc("追回通知", 15),
                C::OrderClawback {
                    source: *source,
                    amount: paid,
                    ordered_on: cal.evaluation,
                    reason: "绩效评价等级为差".to_string(),
                },
            )
            .await?;
            r.run(
                officer,
                doc("缴款凭证", 16),
                C::SettleClawback {
                    source: *source,
                    amount: paid,
                    settled_on: cal.close,
                },
            )
            .await?;
        }
        return r
            .run(
                supervisor,
                None,
                C::CloseProject {
                    closed_on: cal.close,
                },
            )
            .await;
    }
    if target < Stage::Evaluated {
        return Ok(());
    }
    r.run(
        supervisor,
        doc("绩效评价报告", 14),
        C::EvaluatePerformance {
            evaluated_on: cal.evaluation,
            scores: scores(programme, 88),
        },
    )
    .await?;
    for (source, amount) in &approved {
        r.run(
            officer,
            doc("清算凭证", 17),
            C::SettleFunds {
                source: *source,
                amount: Fen(amount.0 - amount.0 * 6 / 10),
                settled_on: cal.evaluation,
            },
        )
        .await?;
    }
    if target < Stage::Closed {
        return Ok(());
    }
    r.run(
        supervisor,
        None,
        C::CloseProject {
            closed_on: cal.close,
        },
    )
    .await
}
