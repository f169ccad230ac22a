//! The `SubsidyProject` aggregate: the state rebuilt from a project's events, and the rules
//! that decide whether a command is accepted.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use workflows::calendar::SharedCalendar;
use workflows::deadlines::{notice_earliest_close, notice_last_day, notice_working_days};
use workflows::programme::{
    FundSource, Grade, NoticeCounting, OfficialRole, Programme, ProgrammeRegistry, Requirement,
};

use crate::commands::{ObjectionOutcome, ProjectCommand, ReviewDecision};
use crate::error::ProjectError;
use crate::events::{InspectedItem, ProjectEvent, RectificationItem};
use crate::stage::{self, CommandKind, Stage};
use crate::types::{ConstructionEntity, Fen, JurisdictionCode, Official};

/// How a programme counts its notice, for refusal messages.
fn counting_text(counting: NoticeCounting) -> &'static str {
    match counting {
        NoticeCounting::FromNextDay => {
            "counted from the day after the notice starts (民法典 第二百零一条)"
        }
        NoticeCounting::FromStartDay => {
            "counted from the day the notice starts, as its programme states"
        }
    }
}

/// What the aggregate needs from outside: the programme definitions (to validate forms and
/// apply funding rules) and the working-day calendar (to count the notice period).
pub struct ProjectServices {
    pub programmes: ProgrammeRegistry,
    /// The calendar in force: the embedded years plus those recorded in the store.
    pub calendar: SharedCalendar,
}

impl ProjectServices {
    pub fn new(programmes: ProgrammeRegistry) -> Self {
        Self {
            programmes,
            calendar: SharedCalendar::official(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubsidyProject {
    pub stage: Stage,
    pub name: String,
    pub programme_id: String,
    pub programme_version: u32,
    pub jurisdiction: Option<JurisdictionCode>,
    pub description: String,
    pub registered_on: Option<NaiveDate>,
    pub suspended: Option<Suspension>,
    pub plan: Option<serde_json::Value>,
    pub plan_revision: u32,
    pub last_review_reasons: Vec<String>,
    pub construction_entity: Option<ConstructionEntity>,
    pub notice: Option<NoticeState>,
    pub reports: Vec<ReportRecord>,
    pub acceptance_attempts: u32,
    pub rectification: Vec<RectificationItem>,
    pub rectify_by: Option<NaiveDate>,
    pub acceptance_passed_on: Option<NaiveDate>,
    pub evaluation: Option<EvaluationRecord>,
    pub funds: BTreeMap<FundSource, FundLedger>,
    pub officials: BTreeMap<OfficialRole, Official>,
    pub deadline_extensions: BTreeMap<String, NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub terminated: Option<Termination>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub since: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termination {
    pub on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeState {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub channel: String,
    pub objections: BTreeMap<String, Objection>,
    pub closed_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    pub raised_on: NaiveDate,
    pub raised_by: String,
    pub summary: String,
    pub resolution: Option<(ObjectionOutcome, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub period: String,
    pub reported_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    pub evaluated_on: NaiveDate,
    pub total: u32,
    pub grade: Grade,
}

/// Money of one funding source, all in fen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundLedger {
    pub approved: Fen,
    /// Tranches and settlement paid out so far.
    pub paid: Fen,
    pub tranches: u32,
    pub settled: bool,
    pub clawback_ordered: Fen,
    pub clawback_recovered: Fen,
}

impl FundLedger {
    pub fn clawback_outstanding(&self) -> Fen {
        self.clawback_ordered
            .saturating_sub(self.clawback_recovered)
    }
}

impl SubsidyProject {
    pub fn is_registered(&self) -> bool {
        self.stage != Stage::Unregistered
    }

    pub fn total_paid(&self) -> Fen {
        self.funds
            .values()
            .fold(Fen::ZERO, |t, l| t.add_recorded(l.paid))
    }

    pub fn total_approved(&self) -> Fen {
        self.funds
            .values()
            .fold(Fen::ZERO, |t, l| t.add_recorded(l.approved))
    }

    pub fn clawback_outstanding(&self) -> Fen {
        self.funds
            .values()
            .fold(Fen::ZERO, |t, l| t.add_recorded(l.clawback_outstanding()))
    }

    fn programme(&self, services: &ProjectServices) -> Result<Arc<Programme>, ProjectError> {
        services
            .programmes
            .get(&self.programme_id, self.programme_version)
            .ok_or_else(|| ProjectError::UnknownProgramme {
                id: self.programme_id.clone(),
                version: self.programme_version,
            })
    }

    /// The generic guard of the transition table: registration, termination, suspension and
    /// stage. Finance commands get their specific finance-discipline refusals first, because
    /// "no money before the notice closed" is what an officer needs to read, not "wrong stage".
    fn check_transition(&self, kind: CommandKind) -> Result<(), ProjectError> {
        if kind == CommandKind::RegisterProject {
            return if self.is_registered() {
                Err(ProjectError::AlreadyRegistered)
            } else {
                Ok(())
            };
        }
        if !self.is_registered() {
            return Err(ProjectError::NotRegistered);
        }
        let row = stage::transition(kind);
        if self.stage == Stage::Terminated && !row.from.contains(&Stage::Terminated) {
            return Err(ProjectError::Terminated);
        }
        if self.suspended.is_some() && !row.while_suspended {
            return Err(ProjectError::Suspended { command: kind });
        }
        if kind == CommandKind::ResumeProject && self.suspended.is_none() {
            return Err(ProjectError::NotSuspended);
        }
        if kind == CommandKind::SuspendProject && self.suspended.is_some() {
            return Err(ProjectError::Suspended { command: kind });
        }
        if !row.from.contains(&self.stage) {
            match kind {
                CommandKind::DisburseTranche if !self.stage.notice_closed() => {
                    return Err(ProjectError::NoticeNotClosed { stage: self.stage })
                }
                CommandKind::SettleFunds if !self.stage.acceptance_passed() => {
                    return Err(ProjectError::AcceptanceNotPassed { stage: self.stage })
                }
                _ => {}
            }
            return Err(ProjectError::WrongStage {
                command: kind,
                stage: self.stage,
                allowed: row
                    .from
                    .iter()
                    .map(|s| s.label_zh())
                    .collect::<Vec<_>>()
                    .join("、"),
            });
        }
        Ok(())
    }

    /// Decides which events a command produces. Pure: reads only `self`, the command and the
    /// services; never the clock.
    pub fn decide(
        &self,
        command: ProjectCommand,
        services: &ProjectServices,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        // Every field is checked against what it means before any lifecycle rule: what the
        // log accepts, it keeps for ever, and a malformed request is malformed in any stage.
        let programme = match &command {
            ProjectCommand::RegisterProject {
                programme_id,
                programme_version,
                ..
            } => services.programmes.get(programme_id, *programme_version),
            _ => self.programme(services).ok(),
        };
        crate::validate::check_command(&command, programme.as_deref(), self.registered_on)?;
        self.check_transition(command.kind())?;
        use ProjectCommand as C;
        use ProjectEvent as E;
        let event = match command {
            C::RegisterProject {
                name,
                programme_id,
                programme_version,
                jurisdiction,
                description,
                registered_on,
            } => {
                require_text("name", &name)?;
                if services
                    .programmes
                    .get(&programme_id, programme_version)
                    .is_none()
                {
                    return Err(ProjectError::UnknownProgramme {
                        id: programme_id,
                        version: programme_version,
                    });
                }
                if let Some(reason) = services
                    .programmes
                    .withdrawal(&programme_id, programme_version)
                {
                    return Err(ProjectError::ProgrammeWithdrawn {
                        id: programme_id,
                        version: programme_version,
                        reason,
                    });
                }
                E::ProjectRegistered {
                    name: name.trim().to_string(),
                    programme_id,
                    programme_version,
                    jurisdiction,
                    description,
                    registered_on,
                }
            }
            C::SubmitPlan { submitted_on, form } => {
                let programme = self.programme(services)?;
                validate_form(&programme, "plan", &form)?;
                E::PlanSubmitted {
                    revision: self.plan_revision + 1,
                    submitted_on,
                    form,
                }
            }
            C::ReviewPlan {
                reviewed_on,
                decision,
            } => match decision {
                ReviewDecision::Approve { comment } => E::PlanApproved {
                    reviewed_on,
                    comment,
                },
                ReviewDecision::Return { reasons } => {
                    if reasons.iter().all(|r| r.trim().is_empty()) {
                        return Err(ProjectError::MissingField { field: "reasons" });
                    }
                    E::PlanReturned {
                        reviewed_on,
                        reasons,
                    }
                }
            },
            C::DesignateConstructionEntity { entity } => {
                require_text("entity.name", &entity.name)?;
                require_text("entity.credit_code", &entity.credit_code)?;
                E::ConstructionEntityDesignated { entity }
            }
            C::PublishNotice {
                starts_on,
                ends_on,
                channel,
            } => {
                if self.construction_entity.is_none() {
                    return Err(ProjectError::ConstructionEntityMissing);
                }
                require_text("channel", &channel)?;
                if ends_on < starts_on {
                    return Err(ProjectError::NoticeDatesReversed {
                        starts_on: starts_on.to_string(),
                        ends_on: ends_on.to_string(),
                    });
                }
                let programme = self.programme(services)?;
                let notice = &programme.notice;
                let calendar = services.calendar.current();
                let calendar_error =
                    |e: workflows::calendar::CalendarError| ProjectError::Calendar(e.to_string());
                // The one count of the notice period (workflows::deadlines), as the deadlines
                // and the compliance report count it.
                let earliest_end =
                    notice_last_day(&calendar, notice, starts_on).map_err(calendar_error)?;
                if ends_on < earliest_end {
                    let actual = notice_working_days(&calendar, notice, starts_on, ends_on)
                        .map_err(calendar_error)?;
                    return Err(ProjectError::NoticeTooShort {
                        required: notice.min_working_days,
                        actual,
                        starts_on: starts_on.to_string(),
                        ends_on: ends_on.to_string(),
                        earliest_end: earliest_end.to_string(),
                        counting: counting_text(notice.counting),
                    });
                }
                E::NoticePublished {
                    starts_on,
                    ends_on,
                    channel,
                }
            }
            C::RaiseObjection {
                objection_id,
                raised_on,
                raised_by,
                summary,
            } => {
                require_text("objection_id", &objection_id)?;
                require_text("summary", &summary)?;
                let notice = self.notice.as_ref().expect("stage Notice has a notice");
                if notice.objections.contains_key(&objection_id) {
                    return Err(ProjectError::DuplicateObjection { objection_id });
                }
                // An objection is raised during the notice, its first and last days included.
                if raised_on < notice.starts_on || raised_on > notice.ends_on {
                    return Err(ProjectError::ObjectionOutsideNotice {
                        raised_on: raised_on.to_string(),
                        starts_on: notice.starts_on.to_string(),
                        ends_on: notice.ends_on.to_string(),
                    });
                }
                E::ObjectionRaised {
                    objection_id,
                    raised_on,
                    raised_by,
                    summary,
                }
            }
            C::ResolveObjection {
                objection_id,
                resolved_on,
                outcome,
                resolution,
            } => {
                require_text("resolution", &resolution)?;
                let notice = self.notice.as_ref().expect("stage Notice has a notice");
                match notice.objections.get(&objection_id) {
                    None => return Err(ProjectError::UnknownObjection { objection_id }),
                    Some(o) if o.resolution.is_some() => {
                        return Err(ProjectError::ObjectionAlreadyResolved { objection_id })
                    }
                    Some(_) => {}
                }
                E::ObjectionResolved {
                    objection_id,
                    resolved_on,
                    outcome,
                    resolution,
                }
            }
            C::CloseNotice { closed_on } => {
                let notice = self.notice.as_ref().expect("stage Notice has a notice");
                let open: Vec<&str> = notice
                    .objections
                    .iter()
                    .filter(|(_, o)| o.resolution.is_none())
                    .map(|(id, _)| id.as_str())
                    .collect();
                if !open.is_empty() {
                    return Err(ProjectError::UnresolvedObjections {
                        count: open.len(),
                        ids: open.join(", "),
                    });
                }
                // Objections may be raised until the end of the last day: the notice closes
                // (and money may move) only once the whole period has run.
                let earliest = notice_earliest_close(notice.ends_on);
                if closed_on < earliest {
                    return Err(ProjectError::NoticeStillRunning {
                        ends_on: notice.ends_on.to_string(),
                        closed_on: closed_on.to_string(),
                        earliest: earliest.to_string(),
                    });
                }
                E::NoticeClosed { closed_on }
            }
            C::SubmitProgressReport {
                period,
                reported_on,
                form,
            } => {
                require_text("period", &period)?;
                let programme = self.programme(services)?;
                validate_form(&programme, "progress_report", &form)?;
                E::ProgressReportSubmitted {
                    period,
                    reported_on,
                    form,
                }
            }
            C::RequestAcceptance { requested_on } => E::AcceptanceRequested { requested_on },
            C::RecordInspection {
                inspected_on,
                inspector,
                results,
                rectify_by,
            } => {
                require_text("inspector", &inspector)?;
                let programme = self.programme(services)?;
                return inspect(&programme, inspected_on, inspector, &results, rectify_by)
                    .map(|e| vec![e]);
            }
            C::EvaluatePerformance {
                evaluated_on,
                scores,
            } => {
                let programme = self.programme(services)?;
                let mut total = 0u32;
                for (i, s) in scores.iter().enumerate() {
                    let Some(ind) = programme
                        .evaluation
                        .indicators
                        .iter()
                        .find(|ind| ind.id == s.indicator_id)
                    else {
                        return Err(ProjectError::UnknownIndicator {
                            indicator_id: s.indicator_id.clone(),
                        });
                    };
                    if scores[..i].iter().any(|p| p.indicator_id == s.indicator_id) {
                        return Err(ProjectError::DuplicateIndicator {
                            indicator_id: s.indicator_id.clone(),
                        });
                    }
                    if s.score > ind.max_score {
                        return Err(ProjectError::ScoreTooHigh {
                            indicator_id: s.indicator_id.clone(),
                            max: ind.max_score,
                            score: s.score,
                        });
                    }
                    total += s.score;
                }
                if let Some(missing) = programme
                    .evaluation
                    .indicators
                    .iter()
                    .find(|ind| !scores.iter().any(|s| s.indicator_id == ind.id))
                {
                    return Err(ProjectError::IndicatorMissing {
                        indicator_id: missing.id.clone(),
                    });
                }
                E::PerformanceEvaluated {
                    evaluated_on,
                    grade: programme.grade_for(total),
                    scores,
                    total,
                }
            }
            C::ApproveFunds {
                source,
                amount,
                approved_on,
            } => {
                require_positive(amount)?;
                let programme = self.programme(services)?;
                let rule = programme
                    .funding_rule(source)
                    .ok_or(ProjectError::SourceNotInProgramme { fund: source })?;
                if let Some(cap) = rule.cap_fen {
                    if amount.0 > cap {
                        return Err(ProjectError::ExceedsProgrammeCap {
                            fund: source,
                            cap: Fen(cap),
                            requested: amount,
                        });
                    }
                }
                if let Some(ledger) = self.funds.get(&source) {
                    if ledger.approved > Fen::ZERO {
                        return Err(ProjectError::FundsAlreadyApproved {
                            fund: source,
                            approved: ledger.approved,
                        });
                    }
                }
                E::FundsApproved {
                    source,
                    amount,
                    approved_on,
                }
            }
            C::DisburseTranche {
                source,
                amount,
                paid_on,
            } => {
                require_positive(amount)?;
                let ledger = self.payable_ledger(source, amount, services)?;
                E::TrancheDisbursed {
                    source,
                    tranche: ledger.tranches + 1,
                    amount,
                    paid_on,
                }
            }
            C::SettleFunds {
                source,
                amount,
                settled_on,
            } => {
                if amount < Fen::ZERO {
                    return Err(ProjectError::NonPositiveAmount { amount });
                }
                self.payable_ledger(source, amount, services)?;
                E::FundsSettled {
                    source,
                    amount,
                    settled_on,
                }
            }
            C::OrderClawback {
                source,
                amount,
                ordered_on,
                reason,
            } => {
                require_positive(amount)?;
                require_text("reason", &reason)?;
                self.check_clawback_order(source, amount)?;
                E::ClawbackOrdered {
                    source,
                    amount,
                    ordered_on,
                    reason,
                }
            }
            C::SettleClawback {
                source,
                amount,
                settled_on,
            } => {
                require_positive(amount)?;
                let outstanding = self
                    .funds
                    .get(&source)
                    .map(FundLedger::clawback_outstanding)
                    .unwrap_or_default();
                if amount > outstanding {
                    return Err(ProjectError::ClawbackExceedsOutstanding {
                        fund: source,
                        outstanding,
                        requested: amount,
                    });
                }
                E::ClawbackSettled {
                    source,
                    amount,
                    settled_on,
                }
            }
            C::SuspendProject {
                suspended_on,
                reason,
            } => {
                require_text("reason", &reason)?;
                E::ProjectSuspended {
                    suspended_on,
                    reason,
                }
            }
            C::ResumeProject { resumed_on } => {
                let since = self.suspended.as_ref().expect("checked suspended").since;
                if resumed_on < since {
                    return Err(ProjectError::DateBeforePrevious {
                        date: resumed_on.to_string(),
                        previous: since.to_string(),
                    });
                }
                E::ProjectResumed { resumed_on }
            }
            C::TerminateProject {
                terminated_on,
                reason,
                clawbacks,
            } => {
                require_text("reason", &reason)?;
                // Validate every clawback line against the ledger as it will be after the
                // earlier lines, so two lines on one source cannot together exceed what was paid.
                let mut scratch = self.clone();
                let mut events = Vec::with_capacity(clawbacks.len() + 1);
                for line in clawbacks {
                    require_positive(line.amount)?;
                    scratch.check_clawback_order(line.source, line.amount)?;
                    let e = E::ClawbackOrdered {
                        source: line.source,
                        amount: line.amount,
                        ordered_on: terminated_on,
                        reason: reason.clone(),
                    };
                    scratch.apply(e.clone());
                    events.push(e);
                }
                events.push(E::ProjectTerminated {
                    terminated_on,
                    reason,
                });
                return Ok(events);
            }
            C::CloseProject { closed_on } => {
                let evaluation = self.evaluation.as_ref().expect("stage Evaluated has one");
                if evaluation.grade == Grade::Poor
                    && self.funds.values().all(|l| l.clawback_ordered == Fen::ZERO)
                    && self.total_paid() > Fen::ZERO
                {
                    return Err(ProjectError::ClawbackRequired);
                }
                let outstanding = self.clawback_outstanding();
                if outstanding > Fen::ZERO {
                    return Err(ProjectError::ClawbackOutstanding { outstanding });
                }
                E::ProjectClosed { closed_on }
            }
            C::AssignOfficial { role, official } => {
                require_text("official.name", &official.name)?;
                if !plausible_email(&official.email) {
                    return Err(ProjectError::InvalidEmail {
                        role: match role {
                            OfficialRole::OfficialInCharge => "official in charge (分管领导)",
                            OfficialRole::Liaison => "liaison (联络员)",
                        },
                        email: official.email,
                    });
                }
                E::OfficialAssigned { role, official }
            }
            C::ExtendDeadline {
                deadline_id,
                until,
                reason,
            } => {
                require_text("deadline_id", &deadline_id)?;
                require_text("reason", &reason)?;
                E::DeadlineExtended {
                    deadline_id,
                    until,
                    reason,
                }
            }
        };
        Ok(vec![event])
    }

    /// The checks shared by tranche payments and settlement: finance discipline per source.
    fn payable_ledger(
        &self,
        source: FundSource,
        amount: Fen,
        services: &ProjectServices,
    ) -> Result<FundLedger, ProjectError> {
        if matches!(&self.evaluation, Some(e) if e.grade == Grade::Poor) {
            return Err(ProjectError::PaymentAfterFailedEvaluation);
        }
        let ledger = self.funds.get(&source).cloned().unwrap_or_default();
        if ledger.approved == Fen::ZERO {
            return Err(ProjectError::NoFundsApproved { fund: source });
        }
        if ledger.settled {
            return Err(ProjectError::SourceAlreadySettled { fund: source });
        }
        let programme = self.programme(services)?;
        if let Some(rule) = programme.funding_rule(source) {
            for prerequisite in &rule.requires_disbursed_first {
                let paid = self
                    .funds
                    .get(prerequisite)
                    .map(|l| l.paid)
                    .unwrap_or_default();
                if paid == Fen::ZERO {
                    return Err(ProjectError::PrerequisiteSourceNotPaid {
                        fund: source,
                        prerequisite: *prerequisite,
                    });
                }
            }
        }
        let would_be = ledger
            .paid
            .checked_add(amount)
            .ok_or(ProjectError::SumOutOfRange)?;
        if would_be > ledger.approved {
            return Err(ProjectError::ExceedsApproved {
                fund: source,
                approved: ledger.approved,
                paid: ledger.paid,
                requested: amount,
                would_be,
            });
        }
        Ok(ledger)
    }

    fn check_clawback_order(&self, source: FundSource, amount: Fen) -> Result<(), ProjectError> {
        let ledger = self.funds.get(&source).cloned().unwrap_or_default();
        let available = ledger.paid.saturating_sub(ledger.clawback_ordered);
        if amount > available {
            return Err(ProjectError::ClawbackExceedsPaid {
                fund: source,
                available,
                requested: amount,
            });
        }
        Ok(())
    }
}

fn require_text(field: &'static str, value: &str) -> Result<(), ProjectError> {
    if value.trim().is_empty() {
        Err(ProjectError::MissingField { field })
    } else {
        Ok(())
    }
}

fn require_positive(amount: Fen) -> Result<(), ProjectError> {
    if amount <= Fen::ZERO {
        Err(ProjectError::NonPositiveAmount { amount })
    } else {
        Ok(())
    }
}

/// A deliberately simple e-mail check (one `@`, a dot in the domain, no spaces); delivery
/// is the real test and the reminder outbox records failures.
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
        && !domain.contains('@')
}

fn validate_form(
    programme: &Programme,
    form: &str,
    data: &serde_json::Value,
) -> Result<(), ProjectError> {
    use workflows::programme::FormError;
    programme.validate_form(form, data).map_err(|e| match e {
        FormError::UnknownForm { form } => ProjectError::UnknownForm { form },
        FormError::Invalid { form, errors } => ProjectError::InvalidForm { form, errors },
    })
}

/// Turns an inspection into a pass or a fail with rectification items.
fn inspect(
    programme: &Programme,
    inspected_on: NaiveDate,
    inspector: String,
    results: &[crate::commands::ChecklistResult],
    rectify_by: Option<NaiveDate>,
) -> Result<ProjectEvent, ProjectError> {
    let checklist = programme.checklist();
    let mut inspected = Vec::with_capacity(results.len());
    for (i, r) in results.iter().enumerate() {
        let Some(item) = checklist.iter().find(|c| c.id == r.item_id) else {
            return Err(ProjectError::UnknownChecklistItem {
                item_id: r.item_id.clone(),
            });
        };
        if results[..i].iter().any(|p| p.item_id == r.item_id) {
            return Err(ProjectError::DuplicateChecklistItem {
                item_id: r.item_id.clone(),
            });
        }
        let passed = match &item.requirement {
            Requirement::Check => r.passed.ok_or_else(|| ProjectError::VerdictRequired {
                item_id: r.item_id.clone(),
            })?,
            Requirement::AtLeast { min, unit } => {
                let measured = r
                    .measured
                    .ok_or_else(|| ProjectError::MeasurementRequired {
                        item_id: r.item_id.clone(),
                        min: *min,
                        unit: unit.clone(),
                    })?;
                // The figure decides, not the inspector's tick: 480 m² fails a 500 m² standard.
                measured >= *min && r.passed != Some(false)
            }
        };
        inspected.push(InspectedItem {
            passed,
            ..InspectedItem::from(r)
        });
    }
    if let Some(missing) = checklist
        .iter()
        .find(|c| !results.iter().any(|r| r.item_id == c.id))
    {
        return Err(ProjectError::ChecklistItemMissing {
            item_id: missing.id.clone(),
        });
    }
    let rectification: Vec<RectificationItem> = inspected
        .iter()
        .filter(|i| !i.passed)
        .map(|i| RectificationItem {
            item_id: i.item_id.clone(),
            text: checklist
                .iter()
                .find(|c| c.id == i.item_id)
                .map(|c| c.text.clone())
                .unwrap_or_default(),
            note: i.note.clone(),
        })
        .collect();
    Ok(if rectification.is_empty() {
        ProjectEvent::AcceptancePassed {
            inspected_on,
            inspector,
            results: inspected,
        }
    } else {
        ProjectEvent::AcceptanceFailed {
            inspected_on,
            inspector,
            results: inspected,
            rectification,
            rectify_by,
        }
    })
}

impl Aggregate for SubsidyProject {
    const TYPE: &'static str = "SubsidyProject";
    type Command = ProjectCommand;
    type Event = ProjectEvent;
    type Error = ProjectError;
    type Services = ProjectServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use ProjectEvent as E;
        match event {
            E::ProjectRegistered {
                name,
                programme_id,
                programme_version,
                jurisdiction,
                description,
                registered_on,
            } => {
                self.stage = Stage::Registered;
                self.name = name;
                self.programme_id = programme_id;
                self.programme_version = programme_version;
                self.jurisdiction = Some(jurisdiction);
                self.description = description;
                self.registered_on = Some(registered_on);
            }
            E::PlanSubmitted { revision, form, .. } => {
                self.stage = Stage::PlanSubmitted;
                self.plan_revision = revision;
                self.plan = Some(form);
            }
            E::PlanApproved { .. } => {
                self.stage = Stage::PlanApproved;
                self.last_review_reasons.clear();
            }
            E::PlanReturned { reasons, .. } => {
                self.stage = Stage::PlanReturned;
                self.last_review_reasons = reasons;
            }
            E::ConstructionEntityDesignated { entity } => self.construction_entity = Some(entity),
            E::NoticePublished {
                starts_on,
                ends_on,
                channel,
            } => {
                self.stage = Stage::Notice;
                self.notice = Some(NoticeState {
                    starts_on,
                    ends_on,
                    channel,
                    objections: BTreeMap::new(),
                    closed_on: None,
                });
            }
            E::ObjectionRaised {
                objection_id,
                raised_on,
                raised_by,
                summary,
            } => {
                if let Some(n) = self.notice.as_mut() {
                    n.objections.insert(
                        objection_id,
                        Objection {
                            raised_on,
                            raised_by,
                            summary,
                            resolution: None,
                        },
                    );
                }
            }
            E::ObjectionResolved {
                objection_id,
                outcome,
                resolution,
                ..
            } => {
                if let Some(o) = self
                    .notice
                    .as_mut()
                    .and_then(|n| n.objections.get_mut(&objection_id))
                {
                    o.resolution = Some((outcome, resolution));
                }
            }
            E::NoticeClosed { closed_on } => {
                self.stage = Stage::Construction;
                if let Some(n) = self.notice.as_mut() {
                    n.closed_on = Some(closed_on);
                }
            }
            E::ProgressReportSubmitted {
                period,
                reported_on,
                ..
            } => self.reports.push(ReportRecord {
                period,
                reported_on,
            }),
            E::AcceptanceRequested { .. } => {
                self.stage = Stage::Acceptance;
                self.acceptance_attempts += 1;
            }
            E::AcceptancePassed { inspected_on, .. } => {
                self.stage = Stage::Evaluation;
                self.acceptance_passed_on = Some(inspected_on);
                self.rectification.clear();
                self.rectify_by = None;
            }
            E::AcceptanceFailed {
                rectification,
                rectify_by,
                ..
            } => {
                self.stage = Stage::Rectification;
                self.rectification = rectification;
                self.rectify_by = rectify_by;
            }
            E::PerformanceEvaluated {
                evaluated_on,
                total,
                grade,
                ..
            } => {
                self.stage = Stage::Evaluated;
                self.evaluation = Some(EvaluationRecord {
                    evaluated_on,
                    total,
                    grade,
                });
            }
            E::FundsApproved { source, amount, .. } => {
                self.funds.entry(source).or_default().approved = amount;
            }
            E::TrancheDisbursed {
                source,
                tranche,
                amount,
                ..
            } => {
                let l = self.funds.entry(source).or_default();
                l.paid = l.paid.add_recorded(amount);
                l.tranches = tranche;
            }
            E::FundsSettled { source, amount, .. } => {
                let l = self.funds.entry(source).or_default();
                l.paid = l.paid.add_recorded(amount);
                l.settled = true;
            }
            E::ClawbackOrdered { source, amount, .. } => {
                let l = self.funds.entry(source).or_default();
                l.clawback_ordered = l.clawback_ordered.add_recorded(amount);
            }
            E::ClawbackSettled { source, amount, .. } => {
                let l = self.funds.entry(source).or_default();
                l.clawback_recovered = l.clawback_recovered.add_recorded(amount);
            }
            E::ProjectSuspended {
                suspended_on,
                reason,
            } => {
                self.suspended = Some(Suspension {
                    since: suspended_on,
                    reason,
                })
            }
            E::ProjectResumed { .. } => self.suspended = None,
            E::ProjectTerminated {
                terminated_on,
                reason,
            } => {
                self.stage = Stage::Terminated;
                self.suspended = None;
                self.terminated = Some(Termination {
                    on: terminated_on,
                    reason,
                });
            }
            E::ProjectClosed { closed_on } => {
                self.stage = Stage::Closed;
                self.closed_on = Some(closed_on);
            }
            E::OfficialAssigned { role, official } => {
                self.officials.insert(role, official);
            }
            E::DeadlineExtended {
                deadline_id, until, ..
            } => {
                self.deadline_extensions.insert(deadline_id, until);
            }
        }
    }
}
