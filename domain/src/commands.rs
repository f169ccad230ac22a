//! Commands: what an officer asks a project to do. Imperative names; the acting user and
//! evidence travel beside them in a [`crate::CommandContext`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use workflows::programme::{FundSource, OfficialRole};

use crate::stage::CommandKind;
use crate::types::{ConstructionEntity, Fen, JurisdictionCode, Official};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProjectCommand {
    RegisterProject {
        name: String,
        programme_id: String,
        programme_version: u32,
        jurisdiction: JurisdictionCode,
        #[serde(default)]
        description: String,
        registered_on: NaiveDate,
    },
    SubmitPlan {
        submitted_on: NaiveDate,
        /// The plan form (工作推进方案), validated against the programme's `plan` schema.
        form: serde_json::Value,
    },
    ReviewPlan {
        reviewed_on: NaiveDate,
        decision: ReviewDecision,
    },
    DesignateConstructionEntity {
        entity: ConstructionEntity,
    },
    PublishNotice {
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        /// Where the notice is published (a web page, a notice board).
        channel: String,
    },
    RaiseObjection {
        objection_id: String,
        raised_on: NaiveDate,
        raised_by: String,
        summary: String,
    },
    ResolveObjection {
        objection_id: String,
        resolved_on: NaiveDate,
        outcome: ObjectionOutcome,
        resolution: String,
    },
    CloseNotice {
        closed_on: NaiveDate,
    },
    SubmitProgressReport {
        /// The reporting period, e.g. `2017-H1` or `2021-07-上旬`.
        period: String,
        reported_on: NaiveDate,
        form: serde_json::Value,
    },
    RequestAcceptance {
        requested_on: NaiveDate,
    },
    RecordInspection {
        inspected_on: NaiveDate,
        inspector: String,
        results: Vec<ChecklistResult>,
        /// Deadline for rectification when the inspection fails.
        #[serde(default)]
        rectify_by: Option<NaiveDate>,
    },
    EvaluatePerformance {
        evaluated_on: NaiveDate,
        scores: Vec<IndicatorScore>,
    },
    ApproveFunds {
        source: FundSource,
        amount: Fen,
        approved_on: NaiveDate,
    },
    DisburseTranche {
        source: FundSource,
        amount: Fen,
        paid_on: NaiveDate,
    },
    SettleFunds {
        source: FundSource,
        /// The final payment at settlement (may be zero when tranches already paid everything due).
        amount: Fen,
        settled_on: NaiveDate,
    },
    OrderClawback {
        source: FundSource,
        amount: Fen,
        ordered_on: NaiveDate,
        reason: String,
    },
    SettleClawback {
        source: FundSource,
        amount: Fen,
        settled_on: NaiveDate,
    },
    SuspendProject {
        suspended_on: NaiveDate,
        reason: String,
    },
    ResumeProject {
        resumed_on: NaiveDate,
    },
    TerminateProject {
        terminated_on: NaiveDate,
        reason: String,
        /// Money to be recovered, per source, ordered together with the termination.
        #[serde(default)]
        clawbacks: Vec<ClawbackLine>,
    },
    CloseProject {
        closed_on: NaiveDate,
    },
    AssignOfficial {
        role: OfficialRole,
        official: Official,
    },
    ExtendDeadline {
        deadline_id: String,
        until: NaiveDate,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReviewDecision {
    Approve {
        #[serde(default)]
        comment: String,
    },
    Return {
        reasons: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionOutcome {
    /// 异议不成立.
    Dismissed,
    /// 异议成立, remedied before the notice closes.
    Upheld,
}

/// The inspector's finding on one acceptance checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistResult {
    pub item_id: String,
    /// For yes/no items: whether it is met. For "at least" items it is computed from `measured`.
    #[serde(default)]
    pub passed: Option<bool>,
    /// The measured figure for "at least" items (m², number of brands…).
    #[serde(default)]
    pub measured: Option<i64>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorScore {
    pub indicator_id: String,
    pub score: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClawbackLine {
    pub source: FundSource,
    pub amount: Fen,
}

impl ProjectCommand {
    pub fn kind(&self) -> CommandKind {
        match self {
            ProjectCommand::RegisterProject { .. } => CommandKind::RegisterProject,
            ProjectCommand::SubmitPlan { .. } => CommandKind::SubmitPlan,
            ProjectCommand::ReviewPlan { .. } => CommandKind::ReviewPlan,
            ProjectCommand::DesignateConstructionEntity { .. } => {
                CommandKind::DesignateConstructionEntity
            }
            ProjectCommand::PublishNotice { .. } => CommandKind::PublishNotice,
            ProjectCommand::RaiseObjection { .. } => CommandKind::RaiseObjection,
            ProjectCommand::ResolveObjection { .. } => CommandKind::ResolveObjection,
            ProjectCommand::CloseNotice { .. } => CommandKind::CloseNotice,
            ProjectCommand::SubmitProgressReport { .. } => CommandKind::SubmitProgressReport,
            ProjectCommand::RequestAcceptance { .. } => CommandKind::RequestAcceptance,
            ProjectCommand::RecordInspection { .. } => CommandKind::RecordInspection,
            ProjectCommand::EvaluatePerformance { .. } => CommandKind::EvaluatePerformance,
            ProjectCommand::ApproveFunds { .. } => CommandKind::ApproveFunds,
            ProjectCommand::DisburseTranche { .. } => CommandKind::DisburseTranche,
            ProjectCommand::SettleFunds { .. } => CommandKind::SettleFunds,
            ProjectCommand::OrderClawback { .. } => CommandKind::OrderClawback,
            ProjectCommand::SettleClawback { .. } => CommandKind::SettleClawback,
            ProjectCommand::SuspendProject { .. } => CommandKind::SuspendProject,
            ProjectCommand::ResumeProject { .. } => CommandKind::ResumeProject,
            ProjectCommand::TerminateProject { .. } => CommandKind::TerminateProject,
            ProjectCommand::CloseProject { .. } => CommandKind::CloseProject,
            ProjectCommand::AssignOfficial { .. } => CommandKind::AssignOfficial,
            ProjectCommand::ExtendDeadline { .. } => CommandKind::ExtendDeadline,
        }
    }
}
