//! The lifecycle stages and THE transition table.
//!
//! Every command a project accepts is listed in [`TRANSITIONS`] with the stages it is accepted
//! in and the stage it leads to. The table is the single place to check the engine against
//! DOMAIN.md: 方案申报 → 审核 → 项目公示 → 建设实施 → 考核验收 (整改) → 绩效评价 → 结项.
//! Suspension is not a stage: a suspended project keeps its stage and accepts only the commands
//! marked `while_suspended`. Termination is a final stage that accepts nothing but clawback
//! settlement.

use serde::{Deserialize, Serialize};

/// Where a project stands in its lifecycle.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Not yet registered: the state of an aggregate with no events.
    #[default]
    Unregistered,
    /// 已登记: registered under a programme version, plan not yet submitted.
    Registered,
    /// 方案已申报: plan submitted, awaiting review.
    PlanSubmitted,
    /// 退回修改: plan returned for revision.
    PlanReturned,
    /// 方案已批复: plan approved; the construction entity is designated here.
    PlanApproved,
    /// 项目公示: public notice running; objections may be raised.
    Notice,
    /// 建设实施: notice closed clean; construction with periodic progress reports.
    Construction,
    /// 考核验收: acceptance requested, awaiting inspection.
    Acceptance,
    /// 整改: acceptance failed; rectification under way.
    Rectification,
    /// 绩效评价: acceptance passed, awaiting performance evaluation.
    Evaluation,
    /// 已评价: evaluated; settlement and (for 差) clawback before closing.
    Evaluated,
    /// 已结项: closed.
    Closed,
    /// 已终止: terminated; only clawback settlement is accepted.
    Terminated,
}

impl Stage {
    /// The stable identifier used in programme definitions and APIs.
    pub fn id(self) -> &'static str {
        match self {
            Stage::Unregistered => "unregistered",
            Stage::Registered => "registered",
            Stage::PlanSubmitted => "plan_submitted",
            Stage::PlanReturned => "plan_returned",
            Stage::PlanApproved => "plan_approved",
            Stage::Notice => "notice",
            Stage::Construction => "construction",
            Stage::Acceptance => "acceptance",
            Stage::Rectification => "rectification",
            Stage::Evaluation => "evaluation",
            Stage::Evaluated => "evaluated",
            Stage::Closed => "closed",
            Stage::Terminated => "terminated",
        }
    }

    /// The Chinese label shown to bureau officers.
    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::Unregistered => "未登记",
            Stage::Registered => "已登记",
            Stage::PlanSubmitted => "方案已申报",
            Stage::PlanReturned => "退回修改",
            Stage::PlanApproved => "方案已批复",
            Stage::Notice => "项目公示",
            Stage::Construction => "建设实施",
            Stage::Acceptance => "考核验收",
            Stage::Rectification => "整改",
            Stage::Evaluation => "绩效评价",
            Stage::Evaluated => "已评价",
            Stage::Closed => "已结项",
            Stage::Terminated => "已终止",
        }
    }

    pub const ALL: [Stage; 13] = [
        Stage::Unregistered,
        Stage::Registered,
        Stage::PlanSubmitted,
        Stage::PlanReturned,
        Stage::PlanApproved,
        Stage::Notice,
        Stage::Construction,
        Stage::Acceptance,
        Stage::Rectification,
        Stage::Evaluation,
        Stage::Evaluated,
        Stage::Closed,
        Stage::Terminated,
    ];

    pub fn from_id(id: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Whether the public notice has closed clean: the finance checkpoint for any payment.
    pub fn notice_closed(self) -> bool {
        matches!(
            self,
            Stage::Construction
                | Stage::Acceptance
                | Stage::Rectification
                | Stage::Evaluation
                | Stage::Evaluated
                | Stage::Closed
        )
    }

    /// Whether acceptance has passed: the finance checkpoint for settlement.
    pub fn acceptance_passed(self) -> bool {
        matches!(self, Stage::Evaluation | Stage::Evaluated | Stage::Closed)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}（{}）", self.label_zh(), self.id())
    }
}

/// The kinds of command a project accepts; one row each in [`TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    RegisterProject,
    SubmitPlan,
    ReviewPlan,
    DesignateConstructionEntity,
    PublishNotice,
    RaiseObjection,
    ResolveObjection,
    CloseNotice,
    SubmitProgressReport,
    RequestAcceptance,
    RecordInspection,
    EvaluatePerformance,
    ApproveFunds,
    DisburseTranche,
    SettleFunds,
    OrderClawback,
    SettleClawback,
    SuspendProject,
    ResumeProject,
    TerminateProject,
    CloseProject,
    AssignOfficial,
    ExtendDeadline,
}

/// Where a command leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The stage does not change.
    Same,
    /// Always this stage.
    To(Stage),
    /// One of these, decided by the command's content (approve or return, pass or fail).
    OneOf(&'static [Stage]),
}

/// One row of the transition table.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub command: CommandKind,
    /// The stages in which the command is accepted.
    pub from: &'static [Stage],
    pub target: Target,
    /// Whether a suspended project accepts it.
    pub while_suspended: bool,
}

use Stage::*;

/// Stages in which the project is alive and not yet closed (officials, deadlines, suspension).
const LIVE: &[Stage] = &[
    Registered,
    PlanSubmitted,
    PlanReturned,
    PlanApproved,
    Notice,
    Construction,
    Acceptance,
    Rectification,
    Evaluation,
    Evaluated,
];
/// Stages after plan approval and before closing: funds may be approved here.
const FUNDABLE: &[Stage] = &[
    PlanApproved,
    Notice,
    Construction,
    Acceptance,
    Rectification,
    Evaluation,
    Evaluated,
];
/// Stages after the notice closed clean: tranches may be paid here.
const PAYABLE: &[Stage] = &[
    Construction,
    Acceptance,
    Rectification,
    Evaluation,
    Evaluated,
];
/// Stages after acceptance passed: settlement (清算) happens here.
const SETTLEABLE: &[Stage] = &[Evaluation, Evaluated];
/// Money paid out can be ordered back at any point, even after closing (an audit finding).
const CLAWBACK_ORDERABLE: &[Stage] = &[
    PlanApproved,
    Notice,
    Construction,
    Acceptance,
    Rectification,
    Evaluation,
    Evaluated,
    Closed,
];
/// Clawback settlement is the one thing a terminated project still accepts.
const CLAWBACK_SETTLEABLE: &[Stage] = &[
    PlanApproved,
    Notice,
    Construction,
    Acceptance,
    Rectification,
    Evaluation,
    Evaluated,
    Closed,
    Terminated,
];

const fn row(command: CommandKind, from: &'static [Stage], target: Target) -> Transition {
    Transition {
        command,
        from,
        target,
        while_suspended: false,
    }
}

const fn row_suspended(command: CommandKind, from: &'static [Stage], target: Target) -> Transition {
    Transition {
        command,
        from,
        target,
        while_suspended: true,
    }
}

/// THE transition table. Read it against DOMAIN.md's lifecycle and finance checkpoints.
pub const TRANSITIONS: &[Transition] = &[
    row(
        CommandKind::RegisterProject,
        &[Unregistered],
        Target::To(Registered),
    ),
    row(
        CommandKind::SubmitPlan,
        &[Registered, PlanReturned],
        Target::To(PlanSubmitted),
    ),
    row(
        CommandKind::ReviewPlan,
        &[PlanSubmitted],
        Target::OneOf(&[PlanApproved, PlanReturned]),
    ),
    row(
        CommandKind::DesignateConstructionEntity,
        &[PlanApproved],
        Target::Same,
    ),
    row(
        CommandKind::PublishNotice,
        &[PlanApproved],
        Target::To(Notice),
    ),
    row(CommandKind::RaiseObjection, &[Notice], Target::Same),
    row(CommandKind::ResolveObjection, &[Notice], Target::Same),
    row(
        CommandKind::CloseNotice,
        &[Notice],
        Target::To(Construction),
    ),
    row(
        CommandKind::SubmitProgressReport,
        &[Construction, Rectification],
        Target::Same,
    ),
    row(
        CommandKind::RequestAcceptance,
        &[Construction, Rectification],
        Target::To(Acceptance),
    ),
    row(
        CommandKind::RecordInspection,
        &[Acceptance],
        Target::OneOf(&[Evaluation, Rectification]),
    ),
    row(
        CommandKind::EvaluatePerformance,
        &[Evaluation],
        Target::To(Evaluated),
    ),
    row(CommandKind::ApproveFunds, FUNDABLE, Target::Same),
    row(CommandKind::DisburseTranche, PAYABLE, Target::Same),
    row(CommandKind::SettleFunds, SETTLEABLE, Target::Same),
    row_suspended(CommandKind::OrderClawback, CLAWBACK_ORDERABLE, Target::Same),
    row_suspended(
        CommandKind::SettleClawback,
        CLAWBACK_SETTLEABLE,
        Target::Same,
    ),
    row(CommandKind::SuspendProject, LIVE, Target::Same),
    row_suspended(CommandKind::ResumeProject, LIVE, Target::Same),
    row_suspended(CommandKind::TerminateProject, LIVE, Target::To(Terminated)),
    row(CommandKind::CloseProject, &[Evaluated], Target::To(Closed)),
    row_suspended(CommandKind::AssignOfficial, LIVE, Target::Same),
    row_suspended(CommandKind::ExtendDeadline, LIVE, Target::Same),
];

/// The table row for a command kind. Every kind has exactly one (tested).
pub fn transition(kind: CommandKind) -> &'static Transition {
    TRANSITIONS
        .iter()
        .find(|t| t.command == kind)
        .expect("every command kind has a row in TRANSITIONS")
}

/// Whether the table allows moving from `from` to `to` by `kind`.
pub fn allows(kind: CommandKind, from: Stage, to: Stage) -> bool {
    let t = transition(kind);
    t.from.contains(&from)
        && match t.target {
            Target::Same => from == to,
            Target::To(s) => s == to,
            Target::OneOf(set) => set.contains(&to),
        }
}
