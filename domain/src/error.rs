//! Why a project refuses a command. Each refusal is its own variant with a stable code
//! (`ProjectError::code`) that users can search for, and a message a bureau officer understands.

use workflows::programme::{FieldError, FundSource};

use crate::stage::{CommandKind, Stage};
use crate::types::Fen;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error("project is not registered")]
    NotRegistered,
    #[error("project is already registered")]
    AlreadyRegistered,
    #[error("programme {id}@v{version} is not known to this system")]
    UnknownProgramme { id: String, version: u32 },
    #[error("programme {id}@v{version} is withdrawn for new registrations ({reason}); register under a version in force")]
    ProgrammeWithdrawn {
        id: String,
        version: u32,
        reason: String,
    },
    #[error("'{command:?}' is not allowed while the project is in stage {stage}; it is allowed in: {allowed}")]
    WrongStage {
        command: CommandKind,
        stage: Stage,
        allowed: String,
    },
    #[error("the project is suspended; resume it before '{command:?}'")]
    Suspended { command: CommandKind },
    #[error("the project is not suspended")]
    NotSuspended,
    #[error("the project was terminated; it accepts nothing but clawback settlement")]
    Terminated,
    #[error("field '{field}' is required")]
    MissingField { field: &'static str },
    #[error("form '{form}' is invalid: {}", errors.iter().map(|e| format!("{} {}", if e.pointer.is_empty() { "(root)" } else { e.pointer.as_str() }, e.reason)).collect::<Vec<_>>().join("; "))]
    InvalidForm {
        form: String,
        errors: Vec<FieldError>,
    },
    #[error("programme has no form '{form}'")]
    UnknownForm { form: String },
    #[error("the construction entity must be designated before the public notice")]
    ConstructionEntityMissing,
    #[error("the notice must end on or after it starts ({starts_on} – {ends_on})")]
    NoticeDatesReversed { starts_on: String, ends_on: String },
    #[error("the public notice must run at least {required} working days, {counting}; {starts_on} – {ends_on} has {actual}: it may end on {earliest_end} at the earliest")]
    NoticeTooShort {
        required: u32,
        actual: u32,
        starts_on: String,
        ends_on: String,
        earliest_end: String,
        counting: &'static str,
    },
    #[error("working-day calendar: {0}")]
    Calendar(String),
    #[error("the public notice runs until the end of {ends_on} (objections may be raised that day); it cannot close on {closed_on}: the earliest day it can close is {earliest}")]
    NoticeStillRunning {
        ends_on: String,
        closed_on: String,
        earliest: String,
    },
    #[error("an objection is raised during the public notice ({starts_on} – {ends_on}, both days included); {raised_on} is outside it")]
    ObjectionOutsideNotice {
        raised_on: String,
        starts_on: String,
        ends_on: String,
    },
    #[error("field 'registered_on': {date} is outside the application window of programme {programme}: it registers projects from {opens_on} to {closes_on}")]
    OutsideApplicationWindow {
        date: String,
        programme: String,
        opens_on: String,
        closes_on: String,
    },
    #[error("objection '{objection_id}' already exists")]
    DuplicateObjection { objection_id: String },
    #[error("there is no objection '{objection_id}'")]
    UnknownObjection { objection_id: String },
    #[error("objection '{objection_id}' is already resolved")]
    ObjectionAlreadyResolved { objection_id: String },
    #[error("the notice cannot close: {count} objection(s) unresolved ({ids})")]
    UnresolvedObjections { count: usize, ids: String },
    #[error("checklist item '{item_id}' is not in this programme's acceptance checklist")]
    UnknownChecklistItem { item_id: String },
    #[error("checklist item '{item_id}' appears more than once")]
    DuplicateChecklistItem { item_id: String },
    #[error("checklist item '{item_id}' was not inspected; every item must be")]
    ChecklistItemMissing { item_id: String },
    #[error("checklist item '{item_id}' requires a measured figure (at least {min} {unit})")]
    MeasurementRequired {
        item_id: String,
        min: i64,
        unit: String,
    },
    #[error("checklist item '{item_id}' is a yes/no item: give 'passed'")]
    VerdictRequired { item_id: String },
    #[error("indicator '{indicator_id}' is not in this programme's evaluation")]
    UnknownIndicator { indicator_id: String },
    #[error("indicator '{indicator_id}' is scored more than once")]
    DuplicateIndicator { indicator_id: String },
    #[error("indicator '{indicator_id}' was not scored; every indicator must be")]
    IndicatorMissing { indicator_id: String },
    #[error("indicator '{indicator_id}' scores at most {max}, got {score}")]
    ScoreTooHigh {
        indicator_id: String,
        max: u32,
        score: u32,
    },
    #[error("amount must be positive, got {amount}")]
    NonPositiveAmount { amount: Fen },
    #[error("funding source {} is not part of this programme", fund.label_zh())]
    SourceNotInProgramme { fund: FundSource },
    #[error("{} funds were already approved ({approved}); an approval is made once per source", fund.label_zh())]
    FundsAlreadyApproved { fund: FundSource, approved: Fen },
    #[error("{requested} exceeds the programme's cap of {cap} for {} funds", fund.label_zh())]
    ExceedsProgrammeCap {
        fund: FundSource,
        cap: Fen,
        requested: Fen,
    },
    #[error("no money may be paid before the public notice has closed with every objection resolved (project is in stage {stage})")]
    NoticeNotClosed { stage: Stage },
    #[error("no {} funds have been approved for this project", fund.label_zh())]
    NoFundsApproved { fund: FundSource },
    #[error("paying {requested} would bring {} payments to {would_be}, above the approved {approved}", fund.label_zh())]
    ExceedsApproved {
        fund: FundSource,
        approved: Fen,
        paid: Fen,
        requested: Fen,
        would_be: Fen,
    },
    #[error("{} funds may be paid only after {} funds have been paid", fund.label_zh(), prerequisite.label_zh())]
    PrerequisiteSourceNotPaid {
        fund: FundSource,
        prerequisite: FundSource,
    },
    #[error("settlement (清算) is allowed only after acceptance has passed (project is in stage {stage})")]
    AcceptanceNotPassed { stage: Stage },
    #[error("{} funds are already settled; no further payment from this source", fund.label_zh())]
    SourceAlreadySettled { fund: FundSource },
    #[error(
        "the performance evaluation was 差 (poor): no further payment; order a clawback instead"
    )]
    PaymentAfterFailedEvaluation,
    #[error("a clawback of {requested} exceeds what was paid from {} and not yet ordered back ({available})", fund.label_zh())]
    ClawbackExceedsPaid {
        fund: FundSource,
        available: Fen,
        requested: Fen,
    },
    #[error("recovering {requested} exceeds the outstanding {} clawback of {outstanding}", fund.label_zh())]
    ClawbackExceedsOutstanding {
        fund: FundSource,
        outstanding: Fen,
        requested: Fen,
    },
    #[error("the performance evaluation was 差 (poor): a clawback (追回) must be ordered before the project closes")]
    ClawbackRequired,
    #[error("{outstanding} of ordered clawback is still outstanding; it must be recovered before the project closes")]
    ClawbackOutstanding { outstanding: Fen },
    #[error("the {role} must be assigned with a valid e-mail address, got '{email}'")]
    InvalidEmail { role: &'static str, email: String },
    #[error("the date {date} is before the previous step's date {previous}")]
    DateBeforePrevious { date: String, previous: String },
    #[error("field '{field}' {reason}")]
    InvalidField { field: String, reason: String },
    #[error("field '{field}': {date} is outside {earliest} – {latest}: {why}")]
    DateOutOfRange {
        field: String,
        date: String,
        earliest: String,
        latest: String,
        why: String,
    },
    #[error(
        "field '{field}': {amount} is above the largest amount one step may carry, {}",
        Fen::MAX_AMOUNT
    )]
    AmountOutOfRange { field: String, amount: Fen },
    #[error(
        "the sum would leave the range of exact amounts ({}) — refused",
        Fen::MAX_AMOUNT
    )]
    SumOutOfRange,
    #[error("this programme has no deadline '{deadline_id}'; its deadlines are: {known}")]
    UnknownDeadline { deadline_id: String, known: String },
}

impl ProjectError {
    /// A stable, searchable code (e.g. `finance.notice_not_closed`), used by the API's
    /// problem documents and the CLI.
    pub fn code(&self) -> &'static str {
        use ProjectError::*;
        match self {
            NotRegistered => "project.not_registered",
            AlreadyRegistered => "project.already_registered",
            UnknownProgramme { .. } => "programme.unknown",
            ProgrammeWithdrawn { .. } => "programme.withdrawn",
            WrongStage { .. } => "stage.command_not_allowed",
            Suspended { .. } => "stage.suspended",
            NotSuspended => "stage.not_suspended",
            Terminated => "stage.terminated",
            MissingField { .. } => "input.missing_field",
            InvalidForm { .. } => "form.invalid",
            UnknownForm { .. } => "form.unknown",
            ConstructionEntityMissing => "notice.construction_entity_missing",
            NoticeDatesReversed { .. } => "notice.dates_reversed",
            NoticeTooShort { .. } => "notice.too_short",
            Calendar(_) => "calendar.unavailable",
            NoticeStillRunning { .. } => "notice.still_running",
            ObjectionOutsideNotice { .. } => "objection.outside_notice",
            OutsideApplicationWindow { .. } => "registration.outside_window",
            DuplicateObjection { .. } => "objection.duplicate",
            UnknownObjection { .. } => "objection.unknown",
            ObjectionAlreadyResolved { .. } => "objection.already_resolved",
            UnresolvedObjections { .. } => "notice.unresolved_objections",
            UnknownChecklistItem { .. } => "acceptance.unknown_item",
            DuplicateChecklistItem { .. } => "acceptance.duplicate_item",
            ChecklistItemMissing { .. } => "acceptance.item_missing",
            MeasurementRequired { .. } => "acceptance.measurement_required",
            VerdictRequired { .. } => "acceptance.verdict_required",
            UnknownIndicator { .. } => "evaluation.unknown_indicator",
            DuplicateIndicator { .. } => "evaluation.duplicate_indicator",
            IndicatorMissing { .. } => "evaluation.indicator_missing",
            ScoreTooHigh { .. } => "evaluation.score_too_high",
            NonPositiveAmount { .. } => "finance.non_positive_amount",
            SourceNotInProgramme { .. } => "finance.source_not_in_programme",
            FundsAlreadyApproved { .. } => "finance.already_approved",
            ExceedsProgrammeCap { .. } => "finance.exceeds_programme_cap",
            NoticeNotClosed { .. } => "finance.notice_not_closed",
            NoFundsApproved { .. } => "finance.no_funds_approved",
            ExceedsApproved { .. } => "finance.exceeds_approved",
            PrerequisiteSourceNotPaid { .. } => "finance.prerequisite_source_not_paid",
            AcceptanceNotPassed { .. } => "finance.acceptance_not_passed",
            SourceAlreadySettled { .. } => "finance.source_already_settled",
            PaymentAfterFailedEvaluation => "finance.payment_after_failed_evaluation",
            ClawbackExceedsPaid { .. } => "finance.clawback_exceeds_paid",
            ClawbackExceedsOutstanding { .. } => "finance.clawback_exceeds_outstanding",
            ClawbackRequired => "finance.clawback_required",
            ClawbackOutstanding { .. } => "finance.clawback_outstanding",
            InvalidEmail { .. } => "official.invalid_email",
            DateBeforePrevious { .. } => "input.date_before_previous",
            InvalidField { .. } => "input.invalid_field",
            DateOutOfRange { .. } => "input.date_out_of_range",
            AmountOutOfRange { .. } => "input.amount_out_of_range",
            SumOutOfRange => "finance.sum_out_of_range",
            UnknownDeadline { .. } => "deadline.unknown",
        }
    }

    /// Whether this is a finance-discipline refusal (财经纪律).
    /// The JSON pointer (into the request body) of the field an input refusal concerns.
    pub fn pointer(&self) -> Option<String> {
        use ProjectError::*;
        let field = match self {
            InvalidField { field, .. }
            | DateOutOfRange { field, .. }
            | AmountOutOfRange { field, .. } => field.clone(),
            MissingField { field } => field.replace('.', "/"),
            UnknownDeadline { .. } => "deadline_id".to_string(),
            OutsideApplicationWindow { .. } => "registered_on".to_string(),
            ObjectionOutsideNotice { .. } => "raised_on".to_string(),
            _ => return None,
        };
        Some(if field.starts_with('/') {
            field
        } else {
            format!("/{field}")
        })
    }

    pub fn is_finance_rule(&self) -> bool {
        self.code().starts_with("finance.")
    }
}
