//! The request and response bodies of the HTTP API. They are their own serde types (unknown
//! fields refused) and are converted by hand into `domain::ProjectCommand`, so the wire format
//! can stay stable while the domain evolves, and stored events are never exposed as they are.

use chrono::{DateTime, NaiveDate, Utc};
use domain::commands::{
    ChecklistResult, ClawbackLine, IndicatorScore, ObjectionOutcome, ReviewDecision,
};
use domain::{ConstructionEntity, DocumentRef, Fen, JurisdictionCode, Official, ProjectCommand};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workflows::programme::{FundSource, OfficialRole};

/// A document that justifies the step (stored with the events, never the document itself).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What the document is, e.g. `县财政局拨款通知`.
    pub title: String,
    /// Its reference (文号) or a file identifier.
    pub reference: String,
    /// SHA-256 of the scanned file, 64 hex digits.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl From<Evidence> for DocumentRef {
    fn from(e: Evidence) -> Self {
        DocumentRef {
            title: e.title,
            reference: e.reference,
            sha256: e.sha256,
        }
    }
}

/// A command body: its evidence and the domain command it stands for.
pub trait CommandBody {
    fn into_parts(self) -> (Vec<Evidence>, ProjectCommand);
}

/// Declares a command body with the given fields plus `evidence`, and its conversion into the
/// domain command of the same fields.
macro_rules! command_body {
    ($(#[$doc:meta])* $name:ident => $variant:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Documents that justify the step.
            #[serde(default)]
            pub evidence: Vec<Evidence>,
        }

        impl CommandBody for $name {
            fn into_parts(self) -> (Vec<Evidence>, ProjectCommand) {
                (self.evidence, ProjectCommand::$variant { $( $field: self.$field, )* })
            }
        }
    };
}

command_body!(
    /// Register a project (登记). The jurisdiction must be inside one of your grants.
    RegisterProjectBody => RegisterProject {
        name: String,
        programme_id: String,
        programme_version: u32,
        #[schema(value_type = String, example = "370323")]
        jurisdiction: JurisdictionCode,
        #[serde(default)]
        description: String,
        registered_on: NaiveDate,
    }
);
command_body!(
    /// Submit the plan (工作推进方案); `form` is validated against the programme's `plan` schema.
    SubmitPlanBody => SubmitPlan { submitted_on: NaiveDate, #[schema(value_type = Object)] form: serde_json::Value }
);
command_body!(
    /// Review the plan: `{"decision": "approve", "comment": …}` or `{"decision": "return", "reasons": […]}`.
    ReviewPlanBody => ReviewPlan { reviewed_on: NaiveDate, #[schema(value_type = Object)] decision: ReviewDecision }
);
command_body!(
    /// Designate the construction entity (建设主体): `{name, credit_code, kind}`.
    DesignateEntityBody => DesignateConstructionEntity { #[schema(value_type = Object)] entity: ConstructionEntity }
);
command_body!(
    /// Publish the public notice (公示).
    PublishNoticeBody => PublishNotice { starts_on: NaiveDate, ends_on: NaiveDate, channel: String }
);
command_body!(
    /// Record an objection raised during the notice.
    RaiseObjectionBody => RaiseObjection { objection_id: String, raised_on: NaiveDate, raised_by: String, summary: String }
);
/// Resolve an objection (the objection id is in the path).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveObjectionBody {
    pub resolved_on: NaiveDate,
    /// `dismissed` (异议不成立) or `upheld` (异议成立).
    #[schema(value_type = String, example = "dismissed")]
    pub outcome: ObjectionOutcome,
    pub resolution: String,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}
impl ResolveObjectionBody {
    pub fn into_parts(self, objection_id: String) -> (Vec<Evidence>, ProjectCommand) {
        (
            self.evidence,
            ProjectCommand::ResolveObjection {
                objection_id,
                resolved_on: self.resolved_on,
                outcome: self.outcome,
                resolution: self.resolution,
            },
        )
    }
}
command_body!(
    /// Close the public notice (every objection must be resolved).
    CloseNoticeBody => CloseNotice { closed_on: NaiveDate }
);
command_body!(
    /// Submit a progress report; `form` is validated against the programme's report schema.
    ProgressReportBody => SubmitProgressReport { period: String, reported_on: NaiveDate, #[schema(value_type = Object)] form: serde_json::Value }
);
command_body!(
    /// Request acceptance (验收申请).
    RequestAcceptanceBody => RequestAcceptance { requested_on: NaiveDate }
);
command_body!(
    /// Record the acceptance inspection: one result per checklist item.
    InspectionBody => RecordInspection {
        inspected_on: NaiveDate,
        inspector: String,
        #[schema(value_type = Vec<Object>)]
        results: Vec<ChecklistResult>,
        #[serde(default)]
        rectify_by: Option<NaiveDate>,
    }
);
command_body!(
    /// Record the performance evaluation: one score per indicator.
    EvaluationBody => EvaluatePerformance { evaluated_on: NaiveDate, #[schema(value_type = Vec<Object>)] scores: Vec<IndicatorScore> }
);
command_body!(
    /// Approve funds from one source (amount in fen).
    ApproveFundsBody => ApproveFunds {
        #[schema(value_type = String, example = "province")]
        source: FundSource,
        #[schema(value_type = i64)]
        #[serde(rename = "amount_fen")]
        amount: Fen,
        approved_on: NaiveDate,
    }
);
command_body!(
    /// Pay a tranche (拨付) from one source (amount in fen).
    TrancheBody => DisburseTranche {
        #[schema(value_type = String, example = "province")]
        source: FundSource,
        #[schema(value_type = i64)]
        #[serde(rename = "amount_fen")]
        amount: Fen,
        paid_on: NaiveDate,
    }
);
command_body!(
    /// Settle (清算) one source after acceptance (the final payment, may be zero).
    SettleFundsBody => SettleFunds {
        #[schema(value_type = String, example = "province")]
        source: FundSource,
        #[schema(value_type = i64)]
        #[serde(rename = "amount_fen")]
        amount: Fen,
        settled_on: NaiveDate,
    }
);
command_body!(
    /// Order a clawback (追回) from one source.
    ClawbackBody => OrderClawback {
        #[schema(value_type = String, example = "province")]
        source: FundSource,
        #[schema(value_type = i64)]
        #[serde(rename = "amount_fen")]
        amount: Fen,
        ordered_on: NaiveDate,
        reason: String,
    }
);
command_body!(
    /// Record money recovered under a clawback order.
    SettleClawbackBody => SettleClawback {
        #[schema(value_type = String, example = "province")]
        source: FundSource,
        #[schema(value_type = i64)]
        #[serde(rename = "amount_fen")]
        amount: Fen,
        settled_on: NaiveDate,
    }
);
command_body!(
    /// Suspend the project.
    SuspendBody => SuspendProject { suspended_on: NaiveDate, reason: String }
);
command_body!(
    /// Resume a suspended project.
    ResumeBody => ResumeProject { resumed_on: NaiveDate }
);
command_body!(
    /// Terminate the project, ordering clawbacks per source.
    TerminateBody => TerminateProject {
        terminated_on: NaiveDate,
        reason: String,
        #[serde(default)]
        #[schema(value_type = Vec<Object>)]
        clawbacks: Vec<ClawbackLine>,
    }
);
command_body!(
    /// Close the project.
    CloseProjectBody => CloseProject { closed_on: NaiveDate }
);
command_body!(
    /// Name a responsible official (`official_in_charge` or `liaison`).
    AssignOfficialBody => AssignOfficial {
        #[schema(value_type = String, example = "liaison")]
        role: OfficialRole,
        #[schema(value_type = Object)]
        official: Official,
    }
);
command_body!(
    /// Extend a deadline.
    ExtendDeadlineBody => ExtendDeadline { deadline_id: String, until: NaiveDate, reason: String }
);

/// The answer to a command: the project's new version and the events recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandResult {
    pub project_id: String,
    pub version: usize,
    pub events: Vec<RecordedEvent>,
}

/// One event as recorded (its type, sequence, time and hash; the full entry is in the history).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordedEvent {
    pub sequence: usize,
    pub event_type: String,
    pub recorded_at: Option<DateTime<Utc>>,
    pub hash: Option<String>,
}

/// Log-in request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// `true` to open a browser session (cookie + CSRF token) instead of returning a bearer token.
    #[serde(default)]
    pub cookie: bool,
}

/// Log-in answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResult {
    /// The bearer token (absent for a cookie session, whose token is in the HttpOnly cookie).
    pub token: Option<String>,
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    /// For cookie sessions: send this in `X-CSRF-Token` with every unsafe request.
    pub csrf_token: Option<String>,
    pub user: super::auth::User,
}

/// Create an account (admin only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    pub username: String,
    pub password: String,
    pub role: super::auth::Role,
    #[serde(default)]
    pub jurisdictions: Vec<String>,
}

/// A page of the project list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectPage {
    /// How many projects match the filters (before paging).
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub items: Vec<ProjectListItem>,
}

/// One project in the list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectListItem {
    pub id: String,
    pub name: String,
    pub programme_id: String,
    pub programme_version: u32,
    pub jurisdiction: String,
    pub stage: String,
    pub stage_label: String,
    pub suspended: bool,
    pub registered_on: Option<NaiveDate>,
    #[serde(rename = "approved_fen")]
    pub approved: i64,
    #[serde(rename = "paid_fen")]
    pub paid: i64,
    #[serde(rename = "clawback_outstanding_fen")]
    pub clawback_outstanding: i64,
    pub version: i64,
    pub last_recorded_at: DateTime<Utc>,
}

impl From<projections::ProjectSummary> for ProjectListItem {
    fn from(s: projections::ProjectSummary) -> Self {
        ProjectListItem {
            id: s.id,
            name: s.name,
            programme_id: s.programme_id,
            programme_version: s.programme_version,
            jurisdiction: s.jurisdiction,
            stage: s.stage.id().to_string(),
            stage_label: s.stage_label.to_string(),
            suspended: s.suspended,
            registered_on: s.registered_on,
            approved: s.approved.0,
            paid: s.paid.0,
            clawback_outstanding: s.clawback_outstanding.0,
            version: s.version,
            last_recorded_at: s.last_recorded_at,
        }
    }
}

/// A programme in the list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgrammeItem {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub title_en: String,
    pub year: i32,
}
