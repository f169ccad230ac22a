//! `subsidy audit check` and `GET /audit/findings`: the compliance report (issue 11, item 5).
//!
//! The engine refuses most breaches of finance discipline on the live path, so findings come
//! from histories that did not pass through it: an imported past, an older and more lenient
//! programme version, rows written behind the engine's back. The checker therefore never asks
//! the aggregate: [`check_project`] folds a project's *stored* events itself and judges each
//! rule on what they say. It is pure (no clock, no IO): the stored events of one project, its
//! programme version, the working-day calendar and the day to judge deadlines on.
//!
//! Every [`Finding`] has a stable [`FindingKind`] id, a [`Severity`] (finance or deadline), a
//! Chinese and an English description and detail, and the events that prove it
//! ([`ProvingEvent`]: project, sequence, position, type, `recorded_at`, hashes), so that an
//! auditor can find them in an export and recompute their hashes.
//!
//! The rules, each judged on the events in sequence order:
//! * `payment_before_notice_closed`: a tranche or a settlement of more than 0 fen recorded while
//!   the project's public notice was not *clean* (published, closed after its last day — the
//!   notice's period has fully run only then —, every objection raised before the closing
//!   resolved before it), or paid on a date before the notice's closing date.
//! * `settlement_before_acceptance`: a settlement recorded while the last inspection had not
//!   passed (or none was recorded), or dated before the passing inspection.
//! * `payment_exceeds_approval`: a tranche or settlement that takes what was paid from a source
//!   above what was approved for that source at that point (nothing approved counts as 0).
//! * `poor_evaluation_without_settled_clawback`: the latest performance evaluation is 差, money
//!   was paid, and as of the check no clawback was ordered or some of it is still outstanding
//!   (a recovery still under way is listed too: it is not settled).
//! * `notice_shorter_than_minimum`: a notice that ends before the last day of the programme's
//!   `notice.min_working_days` working days, counted as its `notice.counting` says (by default
//!   from the day after the start, 民法典 第二百零一条) by the same functions the engine uses
//!   (`workflows::deadlines::notice_last_day`, `notice_working_days`). Notices stored under the
//!   older inclusive count may show up here: that is the rule, judged on what they say.
//! * `deadline_missed`: a deadline (`workflows::deadlines::derive`, as of the check day) met
//!   late, still open past its due date, or left unmet when the project ended after it fell due;
//!   with the number of working days (official calendar) from the due date to the day it was
//!   met, the check day or the end.
//! * `report_not_filed`: a periodic report slot that no report met, past due as of the check
//!   day or when the project ended.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, SecondsFormat};
use domain::{Fen, JurisdictionCode, ProjectEvent as E};
use projections::deadlines::ProjectDeadlineState;
use serde::Serialize;
use store::{Store, StoredEvent};
use workflows::calendar::WorkingCalendar;
use workflows::deadlines::{
    derive, notice_earliest_close, notice_last_day, notice_working_days, DeadlineSource,
    DeadlineStatus, DerivedDeadline, Milestone,
};
use workflows::programme::{
    DueRule, FundSource, Grade, NoticeCounting, Programme, ProgrammeRegistry,
};

use super::digest::PROJECT_TYPE;

/// Finance findings break a finance-discipline rule; deadline findings a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Finance,
    Deadline,
}

/// What a finding is about; [`FindingKind::id`] is its stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    PaymentBeforeNoticeClosed,
    SettlementBeforeAcceptance,
    PaymentExceedsApproval,
    PoorEvaluationWithoutSettledClawback,
    NoticeShorterThanMinimum,
    DeadlineMissed,
    ReportNotFiled,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::PaymentBeforeNoticeClosed,
        FindingKind::SettlementBeforeAcceptance,
        FindingKind::PaymentExceedsApproval,
        FindingKind::PoorEvaluationWithoutSettledClawback,
        FindingKind::NoticeShorterThanMinimum,
        FindingKind::DeadlineMissed,
        FindingKind::ReportNotFiled,
    ];

    /// The stable id (also the JSON value).
    pub fn id(self) -> &'static str {
        match self {
            FindingKind::PaymentBeforeNoticeClosed => "payment_before_notice_closed",
            FindingKind::SettlementBeforeAcceptance => "settlement_before_acceptance",
            FindingKind::PaymentExceedsApproval => "payment_exceeds_approval",
            FindingKind::PoorEvaluationWithoutSettledClawback => {
                "poor_evaluation_without_settled_clawback"
            }
            FindingKind::NoticeShorterThanMinimum => "notice_shorter_than_minimum",
            FindingKind::DeadlineMissed => "deadline_missed",
            FindingKind::ReportNotFiled => "report_not_filed",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::DeadlineMissed | FindingKind::ReportNotFiled => Severity::Deadline,
            _ => Severity::Finance,
        }
    }

    pub fn title_zh(self) -> &'static str {
        match self {
            FindingKind::PaymentBeforeNoticeClosed => {
                "项目公示未依法结束（或异议未处理完毕）即拨付资金"
            }
            FindingKind::SettlementBeforeAcceptance => "未通过考核验收即进行资金清算",
            FindingKind::PaymentExceedsApproval => "按资金来源累计拨付超过批复金额",
            FindingKind::PoorEvaluationWithoutSettledClawback => "绩效评价为“差”，资金追回未办结",
            FindingKind::NoticeShorterThanMinimum => "项目公示期少于规定的工作日数",
            FindingKind::DeadlineMissed => "未按期完成规定事项",
            FindingKind::ReportNotFiled => "未报送定期调度报告",
        }
    }

    pub fn title_en(self) -> &'static str {
        match self {
            FindingKind::PaymentBeforeNoticeClosed => {
                "money paid before the public notice closed cleanly (closed, every objection resolved)"
            }
            FindingKind::SettlementBeforeAcceptance => "final settlement without acceptance passed",
            FindingKind::PaymentExceedsApproval => {
                "payments from a source exceed what was approved for it"
            }
            FindingKind::PoorEvaluationWithoutSettledClawback => {
                "a 差 (poor) performance evaluation without a settled clawback"
            }
            FindingKind::NoticeShorterThanMinimum => {
                "a public notice shorter than the programme's minimum of working days"
            }
            FindingKind::DeadlineMissed => "a deadline missed",
            FindingKind::ReportNotFiled => "a periodic progress report never filed",
        }
    }
}

/// One stored event that proves a finding: enough to find it in an export and recompute its
/// hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvingEvent {
    pub project_id: String,
    pub sequence: i64,
    pub global_position: i64,
    pub event_type: String,
    /// RFC 3339 UTC, microseconds, as stored.
    pub recorded_at: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&StoredEvent> for ProvingEvent {
    fn from(e: &StoredEvent) -> Self {
        ProvingEvent {
            project_id: e.aggregate_id.clone(),
            sequence: e.sequence,
            global_position: e.global_position,
            event_type: e.event_type.clone(),
            recorded_at: e.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// One finding of the compliance report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub project_id: String,
    pub project_name: String,
    pub jurisdiction: Option<String>,
    /// `id@vN`.
    pub programme: String,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub detail_zh: String,
    pub detail_en: String,
    /// The fund source of a finance finding about one source.
    pub source: Option<FundSource>,
    /// The amount the finding is about (the payment, the excess, the outstanding clawback).
    pub amount_fen: Option<i64>,
    /// Deadline findings: the deadline's id, its due date, the day it was met (if ever).
    pub deadline_id: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub met_on: Option<NaiveDate>,
    /// Deadline findings: working days from the due date (excluded) to the day it was met, the
    /// check day or the project's end (included); `None` when the calendar cannot say yet.
    pub working_days_late: Option<u32>,
    /// The events that prove it, in sequence order.
    pub events: Vec<ProvingEvent>,
}

/// Why part of a project could not be judged (an unreadable event, an unknown programme, a
/// date the calendar does not cover yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckProblem {
    pub project_id: String,
    pub sequence: Option<i64>,
    pub what: String,
}

/// What [`check_project`] found in one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectCheck {
    pub findings: Vec<Finding>,
    pub problems: Vec<CheckProblem>,
}

#[derive(Default)]
struct Notice {
    published: usize,
    /// The notice's last day: it closes cleanly only after it.
    ends_on: NaiveDate,
    /// Objection id → (raised, resolved).
    objections: BTreeMap<String, (usize, Option<usize>)>,
    /// (event, closing date, objections open when it closed).
    closed: Option<(usize, NaiveDate, Vec<usize>)>,
}

#[derive(Default)]
struct Fund {
    approved: Fen,
    approval: Option<usize>,
    paid: Fen,
    payments: Vec<usize>,
    ordered: Fen,
    recovered: Fen,
}

fn fen(amount: Fen) -> String {
    amount.to_string()
}

/// The compliance findings of one project, from its stored events (sequence order) as they
/// are; `programme` is the version it was registered under (`None` when unknown: deadline and
/// notice-length rules are then skipped with a problem); deadlines are judged as of `today`.
pub fn check_project(
    events: &[StoredEvent],
    programme: Option<&Programme>,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> ProjectCheck {
    let mut out = ProjectCheck::default();
    let Some(first) = events.first() else {
        return out;
    };
    let project = first.aggregate_id.clone();
    let mut decoded: Vec<(usize, E)> = Vec::with_capacity(events.len());
    for (i, stored) in events.iter().enumerate() {
        match projections::decode(stored) {
            Ok(e) => decoded.push((i, e)),
            Err(e) => out.problems.push(CheckProblem {
                project_id: project.clone(),
                sequence: Some(stored.sequence),
                what: format!("not judged: {e}"),
            }),
        }
    }
    let mut name = String::new();
    let mut jurisdiction: Option<JurisdictionCode> = None;
    let mut programme_key = String::new();
    let mut registered: Option<usize> = None;
    let mut notice: Option<Notice> = None;
    // The last inspection: (event, passed, date).
    let mut inspection: Option<(usize, bool, NaiveDate)> = None;
    let mut funds: BTreeMap<FundSource, Fund> = BTreeMap::new();
    let mut evaluation: Option<(usize, Grade)> = None;
    let mut clawbacks: Vec<usize> = Vec::new();
    let mut ended: Option<usize> = None;
    // Raw findings: (kind, detail zh, detail en, source, amount, event indices).
    let mut raw: Vec<Raw> = Vec::new();

    for (i, event) in &decoded {
        let i = *i;
        match event {
            E::ProjectRegistered {
                name: n,
                programme_id,
                programme_version,
                jurisdiction: j,
                ..
            } => {
                name = n.clone();
                jurisdiction = Some(j.clone());
                programme_key = format!("{programme_id}@v{programme_version}");
                registered = Some(i);
            }
            E::NoticePublished {
                starts_on, ends_on, ..
            } => {
                notice = Some(Notice {
                    published: i,
                    ends_on: *ends_on,
                    ..Default::default()
                });
                if let Some(p) = programme {
                    let required = p.notice.min_working_days;
                    // The one count of the notice period, as the engine enforces it.
                    let counted =
                        notice_last_day(calendar, &p.notice, *starts_on).and_then(|end| {
                            notice_working_days(calendar, &p.notice, *starts_on, *ends_on)
                                .map(|actual| (end, actual))
                        });
                    match counted {
                        Ok((earliest_end, actual)) if *ends_on < earliest_end => raw.push(Raw::new(
                            FindingKind::NoticeShorterThanMinimum,
                            format!("公示 {starts_on} 至 {ends_on} 仅含 {actual} 个工作日（{}），{} 规定不少于 {required} 个工作日，最早至 {earliest_end}", counting_zh(p.notice.counting), p.key()),
                            format!("the notice from {starts_on} to {ends_on} spans {actual} working day(s) ({}); {} requires at least {required}, to {earliest_end} at the earliest", counting_en(p.notice.counting), p.key()),
                            registered.into_iter().chain([i]).collect(),
                        )),
                        Ok(_) => {}
                        Err(e) => out.problems.push(CheckProblem {
                            project_id: project.clone(),
                            sequence: Some(events[i].sequence),
                            what: format!("the notice's length cannot be counted: {e}"),
                        }),
                    }
                }
            }
            E::ObjectionRaised { objection_id, .. } => {
                if let Some(n) = notice.as_mut() {
                    n.objections.insert(objection_id.clone(), (i, None));
                }
            }
            E::ObjectionResolved { objection_id, .. } => {
                if let Some(o) = notice
                    .as_mut()
                    .and_then(|n| n.objections.get_mut(objection_id))
                {
                    o.1 = Some(i);
                }
            }
            E::NoticeClosed { closed_on } => {
                if let Some(n) = notice.as_mut() {
                    let open = n
                        .objections
                        .values()
                        .filter(|(_, resolved)| resolved.is_none())
                        .map(|(raised, _)| *raised)
                        .collect();
                    n.closed = Some((i, *closed_on, open));
                }
            }
            E::AcceptancePassed { inspected_on, .. } => {
                inspection = Some((i, true, *inspected_on));
            }
            E::AcceptanceFailed { inspected_on, .. } => {
                inspection = Some((i, false, *inspected_on));
            }
            E::PerformanceEvaluated { grade, .. } => evaluation = Some((i, *grade)),
            E::FundsApproved { source, amount, .. } => {
                let f = funds.entry(*source).or_default();
                f.approved = *amount;
                f.approval = Some(i);
            }
            E::TrancheDisbursed {
                source,
                amount,
                paid_on,
                ..
            } => payment(
                i, *source, *amount, *paid_on, false, &notice, inspection, &mut funds, &mut raw,
            ),
            E::FundsSettled {
                source,
                amount,
                settled_on,
            } => payment(
                i,
                *source,
                *amount,
                *settled_on,
                true,
                &notice,
                inspection,
                &mut funds,
                &mut raw,
            ),
            E::ClawbackOrdered { source, amount, .. } => {
                let f = funds.entry(*source).or_default();
                f.ordered = f.ordered.add_recorded(*amount);
                clawbacks.push(i);
            }
            E::ClawbackSettled { source, amount, .. } => {
                let f = funds.entry(*source).or_default();
                f.recovered = f.recovered.add_recorded(*amount);
                clawbacks.push(i);
            }
            E::ProjectClosed { .. } | E::ProjectTerminated { .. } => ended = Some(i),
            _ => {}
        }
    }

    if let Some((evaluated, Grade::Poor)) = evaluation {
        let paid = funds
            .values()
            .fold(Fen::ZERO, |t, f| t.add_recorded(f.paid));
        let ordered = funds
            .values()
            .fold(Fen::ZERO, |t, f| t.add_recorded(f.ordered));
        let outstanding = funds.values().fold(Fen::ZERO, |t, f| {
            t.add_recorded(f.ordered.saturating_sub(f.recovered))
        });
        if paid > Fen::ZERO && (ordered == Fen::ZERO || outstanding > Fen::ZERO) {
            let mut proof: Vec<usize> = vec![evaluated];
            proof.extend(funds.values().flat_map(|f| f.payments.iter().copied()));
            proof.extend(clawbacks.iter().copied());
            proof.extend(ended);
            let (zh, en) = if ordered == Fen::ZERO {
                (
                    format!("绩效评价为差，已拨付 {}，未责令追回", fen(paid)),
                    format!(
                        "evaluated 差 (poor) after {} was paid; no clawback was ordered",
                        fen(paid)
                    ),
                )
            } else {
                (
                    format!(
                        "绩效评价为差，已拨付 {}，责令追回 {}，尚有 {} 未追回{}",
                        fen(paid),
                        fen(ordered),
                        fen(outstanding),
                        if ended.is_some() { "，项目已结束" } else { "" }
                    ),
                    format!(
                        "evaluated 差 (poor) after {} was paid; {} ordered back, {} still outstanding{}",
                        fen(paid),
                        fen(ordered),
                        fen(outstanding),
                        if ended.is_some() { ", and the project has ended" } else { "" }
                    ),
                )
            };
            raw.push(Raw {
                amount: Some(if ordered == Fen::ZERO {
                    paid
                } else {
                    outstanding
                }),
                ..Raw::new(
                    FindingKind::PoorEvaluationWithoutSettledClawback,
                    zh,
                    en,
                    proof,
                )
            });
        }
    }

    match programme {
        Some(p) => deadline_findings(
            events,
            &decoded,
            p,
            calendar,
            today,
            registered,
            ended,
            &mut raw,
            &mut out.problems,
        ),
        None if registered.is_some() => out.problems.push(CheckProblem {
            project_id: project.clone(),
            sequence: None,
            what: format!(
                "programme {programme_key} is not loaded: deadlines and the notice's length are not judged"
            ),
        }),
        None => {}
    }

    for r in raw {
        let set: BTreeSet<usize> = r.events.into_iter().collect();
        out.findings.push(Finding {
            kind: r.kind,
            severity: r.kind.severity(),
            project_id: project.clone(),
            project_name: name.clone(),
            jurisdiction: jurisdiction.as_ref().map(|j| j.to_string()),
            programme: programme_key.clone(),
            title_zh: r.kind.title_zh(),
            title_en: r.kind.title_en(),
            detail_zh: r.zh,
            detail_en: r.en,
            source: r.source,
            amount_fen: r.amount.map(|a| a.0),
            deadline_id: r.deadline_id,
            due_on: r.due_on,
            met_on: r.met_on,
            working_days_late: r.late,
            events: set
                .into_iter()
                .map(|i| ProvingEvent::from(&events[i]))
                .collect(),
        });
    }
    out.findings.sort_by(|a, b| {
        (a.events.first().map(|e| e.sequence), a.kind, &a.deadline_id).cmp(&(
            b.events.first().map(|e| e.sequence),
            b.kind,
            &b.deadline_id,
        ))
    });
    out
}

struct Raw {
    kind: FindingKind,
    zh: String,
    en: String,
    source: Option<FundSource>,
    amount: Option<Fen>,
    deadline_id: Option<String>,
    due_on: Option<NaiveDate>,
    met_on: Option<NaiveDate>,
    late: Option<u32>,
    events: Vec<usize>,
}

impl Raw {
    fn new(kind: FindingKind, zh: String, en: String, events: Vec<usize>) -> Self {
        Raw {
            kind,
            zh,
            en,
            source: None,
            amount: None,
            deadline_id: None,
            due_on: None,
            met_on: None,
            late: None,
            events,
        }
    }
}

/// The finance rules of one tranche (`settlement == false`) or settlement.
/// Whether a notice closed on `closed_on` had run its whole period: objections may be raised
/// until the end of its last day, so it closes from the day after (as the engine requires).
fn notice_ran_out(notice: &Option<Notice>, closed_on: NaiveDate) -> bool {
    notice
        .as_ref()
        .is_some_and(|n| closed_on >= notice_earliest_close(n.ends_on))
}

fn counting_zh(counting: NoticeCounting) -> &'static str {
    match counting {
        NoticeCounting::FromNextDay => "自公示次日起算",
        NoticeCounting::FromStartDay => "自公示当日起算",
    }
}

fn counting_en(counting: NoticeCounting) -> &'static str {
    match counting {
        NoticeCounting::FromNextDay => "counted from the day after the start",
        NoticeCounting::FromStartDay => "counted from the start day",
    }
}

#[allow(clippy::too_many_arguments)]
fn payment(
    i: usize,
    source: FundSource,
    amount: Fen,
    paid_on: NaiveDate,
    settlement: bool,
    notice: &Option<Notice>,
    inspection: Option<(usize, bool, NaiveDate)>,
    funds: &mut BTreeMap<FundSource, Fund>,
    raw: &mut Vec<Raw>,
) {
    let what_zh = if settlement { "清算" } else { "拨付" };
    let what_en = if settlement { "settlement" } else { "tranche" };
    if amount > Fen::ZERO {
        let clean =
            notice
                .as_ref()
                .and_then(|n| n.closed.as_ref())
                .filter(|(_, closed_on, open)| {
                    open.is_empty() && paid_on >= *closed_on && notice_ran_out(notice, *closed_on)
                });
        if clean.is_none() {
            let mut proof = vec![i];
            let (zh, en) = match notice {
                None => (
                    "项目未发布公示".to_string(),
                    "no public notice was published".to_string(),
                ),
                Some(n) => {
                    proof.push(n.published);
                    match &n.closed {
                        None => (
                            "公示尚未结束".to_string(),
                            "the notice had not been closed".to_string(),
                        ),
                        Some((closed, closed_on, open)) => {
                            proof.push(*closed);
                            proof.extend(open.iter().copied());
                            if !open.is_empty() {
                                (
                                    format!("公示结束时仍有 {} 项异议未处理", open.len()),
                                    format!(
                                        "the notice was closed with {} objection(s) unresolved",
                                        open.len()
                                    ),
                                )
                            } else if !notice_ran_out(notice, *closed_on) {
                                (
                                    format!(
                                        "公示于 {closed_on} 结束，公示期（至 {}）尚未届满",
                                        n.ends_on
                                    ),
                                    format!(
                                        "the notice was closed on {closed_on}, before its period (to {}) had run",
                                        n.ends_on
                                    ),
                                )
                            } else {
                                (
                                    format!("支付日期 {paid_on} 早于公示结束日期 {closed_on}"),
                                    format!(
                                        "paid on {paid_on}, before the notice closed on {closed_on}"
                                    ),
                                )
                            }
                        }
                    }
                }
            };
            raw.push(Raw {
                source: Some(source),
                amount: Some(amount),
                ..Raw::new(
                    FindingKind::PaymentBeforeNoticeClosed,
                    format!(
                        "{}资金{what_zh} {}（{paid_on}）：{zh}",
                        source.label_zh(),
                        fen(amount)
                    ),
                    format!("{source:?} {what_en} of {} on {paid_on}: {en}", fen(amount)),
                    proof,
                )
            });
        }
    }
    if settlement {
        let passed = inspection.filter(|(_, passed, on)| *passed && paid_on >= *on);
        if passed.is_none() {
            let (zh, en) = match inspection {
                None => (
                    "尚无验收记录".to_string(),
                    "no inspection was recorded".to_string(),
                ),
                Some((_, false, on)) => (
                    format!("最近一次验收（{on}）未通过"),
                    format!("the last inspection ({on}) failed"),
                ),
                Some((_, true, on)) => (
                    format!("清算日期早于验收通过日期 {on}"),
                    format!("settled before acceptance passed on {on}"),
                ),
            };
            raw.push(Raw {
                source: Some(source),
                amount: Some(amount),
                ..Raw::new(
                    FindingKind::SettlementBeforeAcceptance,
                    format!(
                        "{}资金清算 {}（{paid_on}）：{zh}",
                        source.label_zh(),
                        fen(amount)
                    ),
                    format!(
                        "{source:?} settlement of {} on {paid_on}: {en}",
                        fen(amount)
                    ),
                    inspection
                        .map(|(e, _, _)| e)
                        .into_iter()
                        .chain([i])
                        .collect(),
                )
            });
        }
    }
    let f = funds.entry(source).or_default();
    let before = f.paid;
    f.paid = f.paid.add_recorded(amount);
    f.payments.push(i);
    if f.paid > f.approved {
        let excess = f.paid.saturating_sub(before.max(f.approved));
        let events = f
            .approval
            .into_iter()
            .chain(f.payments.iter().copied())
            .collect();
        raw.push(Raw {
            source: Some(source),
            amount: Some(excess),
            ..Raw::new(FindingKind::PaymentExceedsApproval, format!(
                "{}资金批复 {}，此前已付 {}，本次{what_zh} {} 后累计 {}，超出 {}",
                source.label_zh(),
                fen(f.approved),
                fen(before),
                fen(amount),
                fen(f.paid),
                fen(excess)
            ), format!(
                "{source:?}: {} approved, {} paid before, this {what_en} of {} makes {}, {} above the approval",
                fen(f.approved),
                fen(before),
                fen(amount),
                fen(f.paid),
                fen(excess)
            ), events)
        });
    }
}

/// The events (indices into `events`) each fact of the deadline fold came from.
#[derive(Default)]
struct FactEvents {
    anchors: Vec<(&'static str, NaiveDate, usize)>,
    milestones: Vec<(Milestone, NaiveDate, usize)>,
    reports: Vec<(NaiveDate, usize)>,
    stage_entries: Vec<(&'static str, usize)>,
    notices: Vec<(NaiveDate, usize)>,
    extensions: Vec<(String, usize)>,
}

#[allow(clippy::too_many_arguments)]
fn deadline_findings(
    events: &[StoredEvent],
    decoded: &[(usize, E)],
    programme: &Programme,
    calendar: &WorkingCalendar,
    today: NaiveDate,
    registered: Option<usize>,
    ended: Option<usize>,
    raw: &mut Vec<Raw>,
    problems: &mut Vec<CheckProblem>,
) {
    // The same fold as the deadlines projection; what each event added is remembered, so that
    // a deadline can name the events it was derived from.
    let mut state = ProjectDeadlineState::default();
    let mut from = FactEvents::default();
    for (i, event) in decoded {
        let f = &state.facts;
        let (a, m, r, s) = (
            f.anchors.len(),
            f.milestones.len(),
            f.reports.len(),
            f.stage_entries.len(),
        );
        state.apply(event);
        let f = &state.facts;
        from.anchors
            .extend(f.anchors[a..].iter().map(|(n, d)| (*n, *d, *i)));
        from.milestones
            .extend(f.milestones[m..].iter().map(|(n, d)| (*n, *d, *i)));
        from.reports.extend(f.reports[r..].iter().map(|d| (*d, *i)));
        from.stage_entries
            .extend(f.stage_entries[s..].iter().map(|(n, _)| (*n, *i)));
        match event {
            E::NoticePublished { starts_on, .. } => from.notices.push((*starts_on, *i)),
            E::DeadlineExtended { deadline_id, .. } => {
                from.extensions.push((deadline_id.clone(), *i))
            }
            _ => {}
        }
    }
    let facts = state.facts.clone();
    let derived = derive(&facts, programme, calendar, today);
    let project = events[0].aggregate_id.clone();
    for u in derived.undecided {
        problems.push(CheckProblem {
            project_id: project.clone(),
            sequence: None,
            what: format!(
                "deadline {} ({}) not judged: {}",
                u.id, u.nominal_due, u.reason
            ),
        });
    }
    let ended_on = facts.ended_on.filter(|d| *d <= today);
    let suspended_at = |due: NaiveDate| {
        facts
            .suspensions
            .iter()
            .any(|s| due >= s.from && s.until.is_none_or(|u| due < u))
    };
    for d in derived.deadlines {
        let Some(due) = d.due_on else { continue };
        let report = d.source == DeadlineSource::Report;
        // (until when it counts late, why, whether it was met late)
        let (until, state_zh, state_en) = match d.status {
            DeadlineStatus::Overdue => (
                today,
                format!("截至 {today} 仍未完成"),
                format!("still open on {today}"),
            ),
            DeadlineStatus::MetLate => {
                let met = d.met_on.expect("met late has a date");
                (met, format!("{met} 才完成"), format!("met only on {met}"))
            }
            DeadlineStatus::Waived if d.met_on.is_none() && !suspended_at(due) => {
                match ended_on.filter(|e| due < *e) {
                    Some(e) => (
                        e,
                        format!("项目于 {e} 结束时仍未完成"),
                        format!("still unmet when the project ended on {e}"),
                    ),
                    None => continue,
                }
            }
            _ => continue,
        };
        let kind = if report && d.met_on.is_none() {
            FindingKind::ReportNotFiled
        } else {
            FindingKind::DeadlineMissed
        };
        let late = match calendar.working_days_between(due, until) {
            Ok(n) => Some(n),
            Err(e) => {
                problems.push(CheckProblem {
                    project_id: project.clone(),
                    sequence: None,
                    what: format!("deadline {}: working days late not counted: {e}", d.id),
                });
                None
            }
        };
        let mut proof = proof_of(&d, programme, &from, registered, today);
        if d.status == DeadlineStatus::Waived {
            proof.extend(ended);
        }
        let late_zh = late.map_or("（工作日数待日历发布）".to_string(), |n| {
            format!("，逾期 {n} 个工作日")
        });
        let late_en = late.map_or(" (working days not yet countable)".to_string(), |n| {
            format!(", {n} working day(s) late")
        });
        raw.push(Raw {
            deadline_id: Some(d.id.clone()),
            due_on: Some(due),
            met_on: d.met_on,
            late,
            ..Raw::new(
                kind,
                format!(
                    "{}（{}）应于 {due} 前完成：{state_zh}{late_zh}；{}",
                    d.name, d.id, d.explanation_zh
                ),
                format!(
                    "{} ({}) was due on {due}: {state_en}{late_en}; {}",
                    d.name, d.id, d.explanation
                ),
                proof,
            )
        });
    }
}

/// The events a deadline was derived from (its anchor, the registration for a fixed date, the
/// stage entry that opened a report schedule), the event that met it late, and its extensions.
fn proof_of(
    d: &DerivedDeadline,
    programme: &Programme,
    from: &FactEvents,
    registered: Option<usize>,
    today: NaiveDate,
) -> Vec<usize> {
    let mut proof = Vec::new();
    let mut anchor_at: Option<usize> = None;
    match d.source {
        DeadlineSource::Fixed => proof.extend(registered),
        DeadlineSource::Relative => {
            let (rule_id, n) = match d.id.split_once('#') {
                Some((rule, n)) => (rule, n.parse::<usize>().unwrap_or(1)),
                None => (d.id.as_str(), 1),
            };
            let anchor = programme
                .deadlines
                .iter()
                .find(|r| r.id == rule_id)
                .and_then(|r| match &r.due {
                    DueRule::After { event, .. } => Some(event.as_str()),
                    _ => None,
                });
            if let Some(anchor) = anchor {
                anchor_at = from
                    .anchors
                    .iter()
                    .filter(|(a, on, _)| *a == anchor && *on <= today)
                    .nth(n.saturating_sub(1))
                    .map(|(_, _, i)| *i);
                proof.extend(anchor_at);
            }
        }
        DeadlineSource::Notice => {
            anchor_at = from
                .notices
                .iter()
                .rev()
                .find(|(starts, _)| *starts <= d.nominal_due)
                .map(|(_, i)| *i);
            proof.extend(anchor_at);
        }
        DeadlineSource::Report => {
            proof.extend(
                from.stage_entries
                    .iter()
                    .find(|(s, _)| *s == d.stage)
                    .map(|(_, i)| *i),
            );
        }
    }
    if let Some(met) = d.met_on {
        let by = if d.source == DeadlineSource::Report {
            from.reports
                .iter()
                .find(|(on, _)| *on == met)
                .map(|(_, i)| *i)
        } else {
            from.milestones
                .iter()
                .find(|(_, on, i)| *on == met && anchor_at.is_none_or(|a| *i >= a))
                .map(|(_, _, i)| *i)
        };
        proof.extend(by);
    }
    proof.extend(
        from.extensions
            .iter()
            .filter(|(id, _)| *id == d.id)
            .map(|(_, i)| *i),
    );
    proof
}

/// What to check: the projects inside `jurisdiction` (all when `None`), the store as it was at
/// the end of `as_of` (Asia/Shanghai; the whole store when `None`).
#[derive(Debug, Clone, Default)]
pub struct CheckScope {
    pub jurisdiction: Option<JurisdictionCode>,
    pub as_of: Option<NaiveDate>,
}

/// The compliance report of a scope.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The day deadlines were judged on.
    pub as_of: NaiveDate,
    pub jurisdiction: Option<String>,
    /// The last position read (events recorded later are not judged).
    pub cut_position: i64,
    pub projects: u64,
    pub events: u64,
    pub finance_findings: usize,
    pub deadline_findings: usize,
    /// Per kind id, how many findings.
    pub counts: BTreeMap<&'static str, usize>,
    pub findings: Vec<Finding>,
    pub problems: Vec<CheckProblem>,
}

/// Reads the store up to the scope's cut (`today` is the check day when the scope has no
/// `as_of`), and checks every project in scope with [`check_project`].
pub async fn check_store(
    store: &Store,
    programmes: &ProgrammeRegistry,
    calendar: &WorkingCalendar,
    scope: &CheckScope,
    today: NaiveDate,
) -> Result<CheckReport, store::StoreError> {
    let day = scope.as_of.unwrap_or(today);
    let cut_at = scope.as_of.map(super::export::end_of_day_utc);
    let head = store.last_position().await?;
    let mut by_project: BTreeMap<String, Vec<StoredEvent>> = BTreeMap::new();
    let mut cut = 0i64;
    let mut after = 0i64;
    'read: loop {
        let page = store.read_all(after, 2000).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in page {
            if event.global_position > head || cut_at.is_some_and(|c| event.recorded_at > c) {
                break 'read;
            }
            cut = event.global_position;
            if event.aggregate_type == PROJECT_TYPE {
                by_project
                    .entry(event.aggregate_id.clone())
                    .or_default()
                    .push(event);
            }
        }
    }
    let mut report = CheckReport {
        as_of: day,
        jurisdiction: scope.jurisdiction.as_ref().map(|j| j.to_string()),
        cut_position: cut,
        projects: 0,
        events: 0,
        finance_findings: 0,
        deadline_findings: 0,
        counts: FindingKind::ALL.iter().map(|k| (k.id(), 0)).collect(),
        findings: Vec::new(),
        problems: Vec::new(),
    };
    for (id, mut events) in by_project {
        events.sort_by_key(|e| e.sequence);
        let registration = events
            .first()
            .filter(|e| e.sequence == 1)
            .and_then(|e| projections::decode(e).ok());
        let (jurisdiction, programme) = match registration {
            Some(E::ProjectRegistered {
                jurisdiction,
                programme_id,
                programme_version,
                ..
            }) => (
                Some(jurisdiction),
                programmes.get(&programme_id, programme_version),
            ),
            _ => (None, None),
        };
        if let Some(scope) = &scope.jurisdiction {
            if !jurisdiction.as_ref().is_some_and(|j| scope.covers(j)) {
                continue;
            }
        }
        if jurisdiction.is_none() {
            report.problems.push(CheckProblem {
                project_id: id.clone(),
                sequence: events.first().map(|e| e.sequence),
                what: "its first event is not a readable registration".to_string(),
            });
        }
        report.projects += 1;
        report.events += events.len() as u64;
        let checked = check_project(&events, programme.as_deref(), calendar, day);
        report.findings.extend(checked.findings);
        report.problems.extend(checked.problems);
    }
    for f in &report.findings {
        *report.counts.entry(f.kind.id()).or_default() += 1;
        match f.severity {
            Severity::Finance => report.finance_findings += 1,
            Severity::Deadline => report.deadline_findings += 1,
        }
    }
    // Finance first, then by project and the first proving event.
    report.findings.sort_by(|a, b| {
        (
            a.severity,
            &a.project_id,
            a.events.first().map(|e| e.sequence),
            a.kind,
        )
            .cmp(&(
                b.severity,
                &b.project_id,
                b.events.first().map(|e| e.sequence),
                b.kind,
            ))
    });
    Ok(report)
}

/// The error `subsidy audit check` ends with when there are finance findings: the binary
/// exits with [`FinanceFindings::EXIT_CODE`] (3), distinct from 1 (the check itself failed).
#[derive(Debug, thiserror::Error)]
#[error("{0} finance finding(s)")]
pub struct FinanceFindings(pub usize);

impl FinanceFindings {
    pub const EXIT_CODE: u8 = 3;
}

/// The plain-text form of a report (`--format text`).
pub fn render_text(report: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "compliance check as of {} ({}), up to position {}: {} projects, {} events",
        report.as_of,
        report
            .jurisdiction
            .as_deref()
            .unwrap_or("all jurisdictions"),
        report.cut_position,
        report.projects,
        report.events
    );
    for f in &report.findings {
        let _ = writeln!(
            s,
            "\n[{}] {} {} ({})\n  {}\n  {}\n  {}\n  {}",
            match f.severity {
                Severity::Finance => "FINANCE",
                Severity::Deadline => "DEADLINE",
            },
            f.kind.id(),
            f.project_id,
            f.programme,
            f.title_zh,
            f.detail_zh,
            f.title_en,
            f.detail_en
        );
        for e in &f.events {
            let _ = writeln!(
                s,
                "    #{:<3} pos {:<6} {:<28} {} {}",
                e.sequence, e.global_position, e.event_type, e.recorded_at, e.hash
            );
        }
    }
    for p in &report.problems {
        let _ = writeln!(
            s,
            "\nNOT JUDGED {}{}: {}",
            p.project_id,
            p.sequence.map(|q| format!(" #{q}")).unwrap_or_default(),
            p.what
        );
    }
    let _ = writeln!(
        s,
        "\n{} finance finding(s), {} deadline finding(s)",
        report.finance_findings, report.deadline_findings
    );
    for (kind, n) in &report.counts {
        if *n > 0 {
            let _ = writeln!(s, "  {kind}: {n}");
        }
    }
    s
}
