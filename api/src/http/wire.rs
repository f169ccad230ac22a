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
    /// SHA-256 of the scanned file, 64 lowercase hex digits.
    #[serde(default)]
    #[schema(pattern = "^[0-9a-f]{64}$")]
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

// The shapes of the domain values a command body carries, for the OpenAPI spec only: the
// bodies deserialise straight into the domain types (which refuse unknown fields too), and
// `tests/http` checks every body of the programme walks against these schemas.

/// A responsible official (seed 000, annex 4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OfficialSchema {
    /// Name, one line, at most 200 characters.
    name: String,
    /// 职务, e.g. `副局长`.
    post: String,
    /// 3–30 characters of digits, spaces, `+`, `-`, `(`, `)`.
    phone: Option<String>,
    email: String,
    /// Language of the reminder e-mails.
    #[schema(pattern = "^(zh|en)$", default = "zh")]
    language: Option<String>,
}

/// The construction entity (建设主体).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EntitySchema {
    name: String,
    /// 统一社会信用代码: 18 digits and capital letters (not I, O, S, V, Z).
    #[schema(pattern = "^[0-9A-HJ-NPQRTUWXY]{18}$")]
    credit_code: String,
    /// A courier company, locker operator, village committee…
    kind: String,
}

/// A plan review: approve (with an optional comment) or return (with reasons).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
#[allow(dead_code)]
pub enum DecisionSchema {
    Approve {
        #[serde(default)]
        comment: String,
    },
    Return {
        reasons: Vec<String>,
    },
}

/// The result of one acceptance checklist item: `passed` for a yes/no item, `measured` for one
/// with a minimum.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ChecklistResultSchema {
    item_id: String,
    passed: Option<bool>,
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    measured: Option<i64>,
    #[serde(default)]
    note: String,
}

/// The score of one evaluation indicator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct IndicatorScoreSchema {
    indicator_id: String,
    #[schema(minimum = 0)]
    score: u32,
}

/// A clawback ordered from one source when a project is terminated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClawbackLineSchema {
    #[schema(value_type = String, example = "province")]
    source: String,
    /// Amount in fen, 1 … 1,000,000,000,000.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    amount: i64,
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
    /// Register a project (登记). The jurisdiction must be inside one of your grants;
    /// `registered_on` inside the programme's application window (422
    /// `registration.outside_window` otherwise).
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
    ReviewPlanBody => ReviewPlan { reviewed_on: NaiveDate, #[schema(value_type = DecisionSchema)] decision: ReviewDecision }
);
command_body!(
    /// Designate the construction entity (建设主体): `{name, credit_code, kind}`.
    DesignateEntityBody => DesignateConstructionEntity { #[schema(value_type = EntitySchema)] entity: ConstructionEntity }
);
command_body!(
    /// Publish the public notice (公示): at least the programme's `notice.min_working_days`
    /// working days up to `ends_on`, counted from the day after `starts_on` (民法典 第二百零一条)
    /// unless the programme's `notice.counting` says otherwise.
    PublishNoticeBody => PublishNotice { starts_on: NaiveDate, ends_on: NaiveDate, channel: String }
);
command_body!(
    /// Record an objection raised during the notice, from its first to its last day.
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
    /// Close the public notice: only after its last day (`ends_on`), with every objection
    /// resolved.
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
        #[schema(value_type = Vec<ChecklistResultSchema>)]
        results: Vec<ChecklistResult>,
        #[serde(default)]
        rectify_by: Option<NaiveDate>,
    }
);
command_body!(
    /// Record the performance evaluation: one score per indicator.
    EvaluationBody => EvaluatePerformance { evaluated_on: NaiveDate, #[schema(value_type = Vec<IndicatorScoreSchema>)] scores: Vec<IndicatorScore> }
);
command_body!(
    /// Approve funds from one source (amount in fen).
    ApproveFundsBody => ApproveFunds {
        #[schema(value_type = String, example = "province")]
        source: FundSource,
        #[schema(value_type = i64, minimum = 1, maximum = 1_000_000_000_000_i64)]
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
        #[schema(value_type = i64, minimum = 1, maximum = 1_000_000_000_000_i64)]
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
        #[schema(value_type = i64, minimum = 0, maximum = 1_000_000_000_000_i64)]
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
        #[schema(value_type = i64, minimum = 1, maximum = 1_000_000_000_000_i64)]
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
        #[schema(value_type = i64, minimum = 1, maximum = 1_000_000_000_000_i64)]
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
        #[schema(value_type = Vec<ClawbackLineSchema>)]
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
        #[schema(value_type = OfficialSchema)]
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
    /// The global position of the last event recorded (0 when the command recorded none):
    /// pass it as `min_position` to a read to see the command's effect there.
    pub position: i64,
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

/// A project's state as the API shows it: converted by hand from the aggregate, so that the
/// aggregate can change without changing the wire, and every amount says it is in fen.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    /// The project's version (its last event's sequence); also the ETag.
    pub version: usize,
    pub name: String,
    pub programme_id: String,
    pub programme_version: u32,
    pub jurisdiction: Option<String>,
    pub description: String,
    pub registered_on: Option<NaiveDate>,
    /// Stage id, e.g. `construction`.
    pub stage: String,
    /// Chinese label of the stage, e.g. `建设实施`.
    pub stage_label: String,
    pub suspended: Option<DatedReason>,
    pub terminated: Option<DatedReason>,
    pub closed_on: Option<NaiveDate>,
    /// The submitted plan form, as validated against the programme's schema.
    #[schema(value_type = Option<Object>)]
    pub plan: Option<serde_json::Value>,
    pub plan_revision: u32,
    pub last_review_reasons: Vec<String>,
    pub construction_entity: Option<EntityView>,
    pub notice: Option<NoticeView>,
    pub reports: Vec<ReportView>,
    pub acceptance_attempts: u32,
    pub rectification: Vec<RectificationView>,
    pub rectify_by: Option<NaiveDate>,
    pub acceptance_passed_on: Option<NaiveDate>,
    pub evaluation: Option<EvaluationView>,
    pub funds: Vec<FundView>,
    pub officials: Vec<OfficialView>,
    /// Deadline id → extended due date.
    pub deadline_extensions: std::collections::BTreeMap<String, NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatedReason {
    pub on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntityView {
    pub name: String,
    pub credit_code: String,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NoticeView {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub channel: String,
    pub closed_on: Option<NaiveDate>,
    pub objections: Vec<ObjectionView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectionView {
    pub id: String,
    pub raised_on: NaiveDate,
    pub raised_by: String,
    pub summary: String,
    /// `dismissed` or `upheld`; absent while unresolved.
    pub outcome: Option<String>,
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportView {
    pub period: String,
    pub reported_on: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RectificationView {
    pub item_id: String,
    pub text: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvaluationView {
    pub evaluated_on: NaiveDate,
    pub total: u32,
    /// `excellent`, `good`, `fair` or `poor`.
    pub grade: String,
    /// 优 / 良 / 中 / 差.
    pub grade_label: String,
}

/// Money of one funding source, all in fen.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FundView {
    /// `province`, `city` or `county`.
    pub source: String,
    pub source_label: String,
    pub approved_fen: i64,
    pub paid_fen: i64,
    pub tranches: u32,
    pub settled: bool,
    pub clawback_ordered_fen: i64,
    pub clawback_recovered_fen: i64,
    pub clawback_outstanding_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfficialView {
    /// `official_in_charge` (分管领导) or `liaison` (联络员).
    pub role: String,
    pub role_label: String,
    pub name: String,
    pub post: String,
    pub phone: Option<String>,
    pub email: String,
    pub language: String,
}

/// The snake_case name serde gives a unit enum variant (`FundSource::County` → `county`).
fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl ProjectView {
    pub fn new(id: &str, version: usize, p: &domain::SubsidyProject) -> Self {
        ProjectView {
            id: id.to_string(),
            version,
            name: p.name.clone(),
            programme_id: p.programme_id.clone(),
            programme_version: p.programme_version,
            jurisdiction: p.jurisdiction.as_ref().map(|j| j.to_string()),
            description: p.description.clone(),
            registered_on: p.registered_on,
            stage: p.stage.id().to_string(),
            stage_label: p.stage.label_zh().to_string(),
            suspended: p.suspended.as_ref().map(|s| DatedReason {
                on: s.since,
                reason: s.reason.clone(),
            }),
            terminated: p.terminated.as_ref().map(|t| DatedReason {
                on: t.on,
                reason: t.reason.clone(),
            }),
            closed_on: p.closed_on,
            plan: p.plan.clone(),
            plan_revision: p.plan_revision,
            last_review_reasons: p.last_review_reasons.clone(),
            construction_entity: p.construction_entity.as_ref().map(|e| EntityView {
                name: e.name.clone(),
                credit_code: e.credit_code.clone(),
                kind: e.kind.clone(),
            }),
            notice: p.notice.as_ref().map(|n| NoticeView {
                starts_on: n.starts_on,
                ends_on: n.ends_on,
                channel: n.channel.clone(),
                closed_on: n.closed_on,
                objections: n
                    .objections
                    .iter()
                    .map(|(id, o)| ObjectionView {
                        id: id.clone(),
                        raised_on: o.raised_on,
                        raised_by: o.raised_by.clone(),
                        summary: o.summary.clone(),
                        outcome: o.resolution.as_ref().map(|(outcome, _)| wire_name(outcome)),
                        resolution: o.resolution.as_ref().map(|(_, text)| text.clone()),
                    })
                    .collect(),
            }),
            reports: p
                .reports
                .iter()
                .map(|r| ReportView {
                    period: r.period.clone(),
                    reported_on: r.reported_on,
                })
                .collect(),
            acceptance_attempts: p.acceptance_attempts,
            rectification: p
                .rectification
                .iter()
                .map(|r| RectificationView {
                    item_id: r.item_id.clone(),
                    text: r.text.clone(),
                    note: r.note.clone(),
                })
                .collect(),
            rectify_by: p.rectify_by,
            acceptance_passed_on: p.acceptance_passed_on,
            evaluation: p.evaluation.as_ref().map(|e| EvaluationView {
                evaluated_on: e.evaluated_on,
                total: e.total,
                grade: wire_name(&e.grade),
                grade_label: e.grade.label_zh().to_string(),
            }),
            funds: p
                .funds
                .iter()
                .map(|(source, l)| FundView {
                    source: wire_name(source),
                    source_label: source.label_zh().to_string(),
                    approved_fen: l.approved.0,
                    paid_fen: l.paid.0,
                    tranches: l.tranches,
                    settled: l.settled,
                    clawback_ordered_fen: l.clawback_ordered.0,
                    clawback_recovered_fen: l.clawback_recovered.0,
                    clawback_outstanding_fen: l.clawback_outstanding().0,
                })
                .collect(),
            officials: p
                .officials
                .iter()
                .map(|(role, o)| OfficialView {
                    role: wire_name(role),
                    role_label: role.label_zh().to_string(),
                    name: o.name.clone(),
                    post: o.post.clone(),
                    phone: o.phone.clone(),
                    email: o.email.clone(),
                    language: o.language.clone(),
                })
                .collect(),
            deadline_extensions: p.deadline_extensions.clone(),
        }
    }
}

/// A jurisdiction roll-up: the scope's total and one row per jurisdiction one level down.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RollupView {
    /// The GB/T 2260 code rolled up.
    pub scope: String,
    /// The roll-up includes every event up to this global position.
    pub position: i64,
    pub total: RollupRowView,
    /// A province by city, a city by county (projects registered at the scope's own level are
    /// listed under the scope's code).
    pub children: Vec<RollupRowView>,
}

/// One jurisdiction of a roll-up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RollupRowView {
    pub jurisdiction: String,
    pub projects: i64,
    /// Projects per stage id.
    pub stages: std::collections::BTreeMap<String, i64>,
    pub suspended: i64,
    /// Money per funding source (`province`, `city`, `county`…), in fen.
    pub funds: std::collections::BTreeMap<String, RollupFundsView>,
}

/// Money of one source in a roll-up, in fen.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RollupFundsView {
    pub approved_fen: i64,
    pub paid_fen: i64,
    pub remaining_fen: i64,
    pub clawback_ordered_fen: i64,
    pub clawback_recovered_fen: i64,
}

impl From<projections::projects::RollupRow> for RollupRowView {
    fn from(r: projections::projects::RollupRow) -> Self {
        RollupRowView {
            jurisdiction: r.jurisdiction,
            projects: r.projects,
            stages: r.stages,
            suspended: r.suspended,
            funds: r
                .funds
                .into_iter()
                .map(|(source, f)| {
                    (
                        source,
                        RollupFundsView {
                            approved_fen: f.approved_fen,
                            paid_fen: f.paid_fen,
                            remaining_fen: f.remaining_fen,
                            clawback_ordered_fen: f.clawback_ordered_fen,
                            clawback_recovered_fen: f.clawback_recovered_fen,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl From<projections::projects::Rollup> for RollupView {
    fn from(r: projections::projects::Rollup) -> Self {
        RollupView {
            scope: r.scope,
            position: r.position,
            total: r.total.into(),
            children: r.children.into_iter().map(Into::into).collect(),
        }
    }
}

/// A page of the reminder log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReminderLogPage {
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub items: Vec<ReminderLogItem>,
}

/// One reminder e-mail: for which deadline, to whom, when recorded, and how delivery stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReminderLogItem {
    pub id: i64,
    pub project_id: String,
    pub project_name: String,
    pub jurisdiction: String,
    pub deadline_id: String,
    pub due_on: String,
    /// `before`, `due_today`, `overdue` or `escalation`.
    pub kind: String,
    pub recipient_name: String,
    pub recipient_email: String,
    pub recipient_role: String,
    pub subject: String,
    pub reason: String,
    pub created_at: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}

impl From<projections::projects::ReminderLogEntry> for ReminderLogItem {
    fn from(e: projections::projects::ReminderLogEntry) -> Self {
        ReminderLogItem {
            id: e.id,
            project_id: e.project_id,
            project_name: e.project_name,
            jurisdiction: e.jurisdiction,
            deadline_id: e.deadline_id,
            due_on: e.due_on,
            kind: e.kind,
            recipient_name: e.recipient_name,
            recipient_email: e.recipient_email,
            recipient_role: e.recipient_role,
            subject: e.subject,
            reason: e.reason,
            created_at: e.created_at,
            status: e.status,
            attempts: e.attempts,
            sent_at: e.sent_at,
            last_error: e.last_error,
        }
    }
}

/// One money movement of a project's fund ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerItem {
    /// The global position of the event that recorded it.
    pub position: i64,
    /// The event's sequence in the project's history.
    pub sequence: i64,
    /// `province`, `city` or `county`.
    pub source: String,
    /// `approved`, `tranche`, `settlement`, `clawback_ordered` or `clawback_settled`.
    pub movement: String,
    pub amount_fen: i64,
    /// The business date of the movement.
    pub on_date: String,
    pub recorded_at: String,
}

impl From<projections::projects::LedgerEntry> for LedgerItem {
    fn from(e: projections::projects::LedgerEntry) -> Self {
        LedgerItem {
            position: e.position,
            sequence: e.sequence,
            source: e.source,
            movement: e.movement,
            amount_fen: e.amount_fen,
            on_date: e.on_date,
            recorded_at: e.recorded_at,
        }
    }
}
