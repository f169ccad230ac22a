//! Events back into commands: the command whose decision recorded an event, with every field
//! of the event. The audit's rule replay (`subsidy audit verify`) hands it to `decide` in the
//! state before the event; the store scan checks its fields with the command's validation.

use crate::commands::{ChecklistResult, ReviewDecision};
use crate::events::InspectedItem;
use crate::{ProjectCommand as C, ProjectEvent as E};

/// The command that recorded `event` (a termination's clawback orders are their own
/// `ClawbackOrdered` events).
pub fn command_of(event: &E) -> C {
    match event.clone() {
        E::ProjectRegistered {
            name,
            programme_id,
            programme_version,
            jurisdiction,
            description,
            registered_on,
        } => C::RegisterProject {
            name,
            programme_id,
            programme_version,
            jurisdiction,
            description,
            registered_on,
        },
        E::PlanSubmitted {
            submitted_on, form, ..
        } => C::SubmitPlan { submitted_on, form },
        E::PlanApproved {
            reviewed_on,
            comment,
        } => C::ReviewPlan {
            reviewed_on,
            decision: ReviewDecision::Approve { comment },
        },
        E::PlanReturned {
            reviewed_on,
            reasons,
        } => C::ReviewPlan {
            reviewed_on,
            decision: ReviewDecision::Return { reasons },
        },
        E::ConstructionEntityDesignated { entity } => C::DesignateConstructionEntity { entity },
        E::NoticePublished {
            starts_on,
            ends_on,
            channel,
        } => C::PublishNotice {
            starts_on,
            ends_on,
            channel,
        },
        E::ObjectionRaised {
            objection_id,
            raised_on,
            raised_by,
            summary,
        } => C::RaiseObjection {
            objection_id,
            raised_on,
            raised_by,
            summary,
        },
        E::ObjectionResolved {
            objection_id,
            resolved_on,
            outcome,
            resolution,
        } => C::ResolveObjection {
            objection_id,
            resolved_on,
            outcome,
            resolution,
        },
        E::NoticeClosed { closed_on } => C::CloseNotice { closed_on },
        E::ProgressReportSubmitted {
            period,
            reported_on,
            form,
        } => C::SubmitProgressReport {
            period,
            reported_on,
            form,
        },
        E::AcceptanceRequested { requested_on } => C::RequestAcceptance { requested_on },
        E::AcceptancePassed {
            inspected_on,
            inspector,
            results,
        } => C::RecordInspection {
            inspected_on,
            inspector,
            results: results.iter().map(checklist_result).collect(),
            rectify_by: None,
        },
        E::AcceptanceFailed {
            inspected_on,
            inspector,
            results,
            rectify_by,
            ..
        } => C::RecordInspection {
            inspected_on,
            inspector,
            results: results.iter().map(checklist_result).collect(),
            rectify_by,
        },
        E::PerformanceEvaluated {
            evaluated_on,
            scores,
            ..
        } => C::EvaluatePerformance {
            evaluated_on,
            scores,
        },
        E::FundsApproved {
            source,
            amount,
            approved_on,
        } => C::ApproveFunds {
            source,
            amount,
            approved_on,
        },
        E::TrancheDisbursed {
            source,
            amount,
            paid_on,
            ..
        } => C::DisburseTranche {
            source,
            amount,
            paid_on,
        },
        E::FundsSettled {
            source,
            amount,
            settled_on,
        } => C::SettleFunds {
            source,
            amount,
            settled_on,
        },
        E::ClawbackOrdered {
            source,
            amount,
            ordered_on,
            reason,
        } => C::OrderClawback {
            source,
            amount,
            ordered_on,
            reason,
        },
        E::ClawbackSettled {
            source,
            amount,
            settled_on,
        } => C::SettleClawback {
            source,
            amount,
            settled_on,
        },
        E::ProjectSuspended {
            suspended_on,
            reason,
        } => C::SuspendProject {
            suspended_on,
            reason,
        },
        E::ProjectResumed { resumed_on } => C::ResumeProject { resumed_on },
        E::ProjectTerminated {
            terminated_on,
            reason,
        } => C::TerminateProject {
            terminated_on,
            reason,
            clawbacks: Vec::new(),
        },
        E::ProjectClosed { closed_on } => C::CloseProject { closed_on },
        E::OfficialAssigned { role, official } => C::AssignOfficial { role, official },
        E::DeadlineExtended {
            deadline_id,
            until,
            reason,
        } => C::ExtendDeadline {
            deadline_id,
            until,
            reason,
        },
    }
}

fn checklist_result(item: &InspectedItem) -> ChecklistResult {
    ChecklistResult {
        item_id: item.item_id.clone(),
        passed: Some(item.passed),
        measured: item.measured,
        note: item.note.clone(),
    }
}
