//! Events: what happened to a project, in the past tense. They are a stored schema: the
//! `event_type` names and versions below never change meaning; a changed shape gets a new
//! version and an upcaster.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use workflows::programme::{FundSource, Grade, OfficialRole};

use crate::commands::{ChecklistResult, IndicatorScore, ObjectionOutcome};
use crate::types::{ConstructionEntity, Fen, JurisdictionCode, Official};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProjectEvent {
    ProjectRegistered {
        name: String,
        programme_id: String,
        programme_version: u32,
        jurisdiction: JurisdictionCode,
        description: String,
        registered_on: NaiveDate,
    },
    PlanSubmitted {
        revision: u32,
        submitted_on: NaiveDate,
        form: serde_json::Value,
    },
    PlanApproved {
        reviewed_on: NaiveDate,
        comment: String,
    },
    PlanReturned {
        reviewed_on: NaiveDate,
        reasons: Vec<String>,
    },
    ConstructionEntityDesignated {
        entity: ConstructionEntity,
    },
    NoticePublished {
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        channel: String,
    },
    ObjectionRaised {
        objection_id: String,
        raised_on: NaiveDate,
        raised_by: String,
        summary: String,
    },
    ObjectionResolved {
        objection_id: String,
        resolved_on: NaiveDate,
        outcome: ObjectionOutcome,
        resolution: String,
    },
    NoticeClosed {
        closed_on: NaiveDate,
    },
    ProgressReportSubmitted {
        period: String,
        reported_on: NaiveDate,
        form: serde_json::Value,
    },
    AcceptanceRequested {
        requested_on: NaiveDate,
    },
    AcceptancePassed {
        inspected_on: NaiveDate,
        inspector: String,
        results: Vec<InspectedItem>,
    },
    AcceptanceFailed {
        inspected_on: NaiveDate,
        inspector: String,
        results: Vec<InspectedItem>,
        /// The items to rectify (整改事项), with the checklist text for the record.
        rectification: Vec<RectificationItem>,
        rectify_by: Option<NaiveDate>,
    },
    PerformanceEvaluated {
        evaluated_on: NaiveDate,
        scores: Vec<IndicatorScore>,
        total: u32,
        grade: Grade,
    },
    FundsApproved {
        source: FundSource,
        amount: Fen,
        approved_on: NaiveDate,
    },
    TrancheDisbursed {
        source: FundSource,
        /// 1 for the first tranche of this source, 2 for the next…
        tranche: u32,
        amount: Fen,
        paid_on: NaiveDate,
    },
    FundsSettled {
        source: FundSource,
        amount: Fen,
        settled_on: NaiveDate,
    },
    ClawbackOrdered {
        source: FundSource,
        amount: Fen,
        ordered_on: NaiveDate,
        reason: String,
    },
    ClawbackSettled {
        source: FundSource,
        amount: Fen,
        settled_on: NaiveDate,
    },
    ProjectSuspended {
        suspended_on: NaiveDate,
        reason: String,
    },
    ProjectResumed {
        resumed_on: NaiveDate,
    },
    ProjectTerminated {
        terminated_on: NaiveDate,
        reason: String,
    },
    ProjectClosed {
        closed_on: NaiveDate,
    },
    OfficialAssigned {
        role: OfficialRole,
        official: Official,
    },
    DeadlineExtended {
        deadline_id: String,
        until: NaiveDate,
        reason: String,
    },
}

/// An inspected checklist item as recorded: the verdict is always explicit here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectedItem {
    pub item_id: String,
    pub passed: bool,
    pub measured: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectificationItem {
    pub item_id: String,
    pub text: String,
    pub note: String,
}

impl From<&ChecklistResult> for InspectedItem {
    fn from(r: &ChecklistResult) -> Self {
        InspectedItem {
            item_id: r.item_id.clone(),
            passed: r.passed.unwrap_or(false),
            measured: r.measured,
            note: r.note.clone(),
        }
    }
}

impl ProjectEvent {
    /// The stable stored name of the event.
    pub fn type_name(&self) -> &'static str {
        match self {
            ProjectEvent::ProjectRegistered { .. } => "ProjectRegistered",
            ProjectEvent::PlanSubmitted { .. } => "PlanSubmitted",
            ProjectEvent::PlanApproved { .. } => "PlanApproved",
            ProjectEvent::PlanReturned { .. } => "PlanReturned",
            ProjectEvent::ConstructionEntityDesignated { .. } => "ConstructionEntityDesignated",
            ProjectEvent::NoticePublished { .. } => "NoticePublished",
            ProjectEvent::ObjectionRaised { .. } => "ObjectionRaised",
            ProjectEvent::ObjectionResolved { .. } => "ObjectionResolved",
            ProjectEvent::NoticeClosed { .. } => "NoticeClosed",
            ProjectEvent::ProgressReportSubmitted { .. } => "ProgressReportSubmitted",
            ProjectEvent::AcceptanceRequested { .. } => "AcceptanceRequested",
            ProjectEvent::AcceptancePassed { .. } => "AcceptancePassed",
            ProjectEvent::AcceptanceFailed { .. } => "AcceptanceFailed",
            ProjectEvent::PerformanceEvaluated { .. } => "PerformanceEvaluated",
            ProjectEvent::FundsApproved { .. } => "FundsApproved",
            ProjectEvent::TrancheDisbursed { .. } => "TrancheDisbursed",
            ProjectEvent::FundsSettled { .. } => "FundsSettled",
            ProjectEvent::ClawbackOrdered { .. } => "ClawbackOrdered",
            ProjectEvent::ClawbackSettled { .. } => "ClawbackSettled",
            ProjectEvent::ProjectSuspended { .. } => "ProjectSuspended",
            ProjectEvent::ProjectResumed { .. } => "ProjectResumed",
            ProjectEvent::ProjectTerminated { .. } => "ProjectTerminated",
            ProjectEvent::ProjectClosed { .. } => "ProjectClosed",
            ProjectEvent::OfficialAssigned { .. } => "OfficialAssigned",
            ProjectEvent::DeadlineExtended { .. } => "DeadlineExtended",
        }
    }
}

impl DomainEvent for ProjectEvent {
    fn event_type(&self) -> String {
        self.type_name().to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
