//! The deadlines projection: every deadline of every project, with its responsible officials,
//! due date and status on a given day, and the reminders owed that day.
//!
//! Deadlines are never stored: [`DeadlinesView`] keeps, per project, only the dated facts
//! folded from its events ([`workflows::deadlines::ProjectFacts`]), its officials and its
//! programme version, and derives the deadlines for the day asked with
//! [`workflows::deadlines::derive`]. [`deadlines_for`] does the same for one project's events
//! (what `GET /projects/{id}/deadlines` needs); [`plan_reminders`] lists the reminders owed on a
//! day, each with its stable [`DueReminder::key`].
//!
//! Events without a business date (the designation of the construction entity) are dated by the
//! latest business date before them in the project's log: the aggregate accepts them only in
//! the stage that date opened.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::{JurisdictionCode, Official, ProjectEvent, SubsidyProject};
use serde::Serialize;
use store::{Store, StoredEvent};
use workflows::calendar::WorkingCalendar;
use workflows::deadlines::{
    derive, reminders_due, DerivedDeadline, Extension, Milestone, ProjectFacts, ReminderKind,
    SuspensionSpan, Undecided,
};
use workflows::programme::{OfficialRole, Programme, ProgrammeRegistry};

use crate::{decode, ProjectionError};

/// An official responsible for a deadline, as the reminder addresses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponsibleOfficial {
    pub role: OfficialRole,
    pub role_label: &'static str,
    pub name: String,
    pub post: String,
    pub email: String,
    /// `zh` (default) or `en`.
    pub language: String,
}

/// One deadline of one project, with who answers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub project_id: String,
    pub project_name: String,
    pub jurisdiction: String,
    /// `id@vN`.
    pub programme: String,
    #[serde(flatten)]
    pub deadline: DerivedDeadline,
    pub status_label: &'static str,
    pub officials: Vec<ResponsibleOfficial>,
    /// Responsible roles with no official assigned yet: nobody can be reminded for them.
    pub missing_roles: Vec<OfficialRole>,
}

/// Every deadline of one project on one day, and those the calendar cannot decide yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectDeadlines {
    pub deadlines: Vec<Deadline>,
    pub undecided: Vec<Undecided>,
}

/// What one project contributes to the view.
#[derive(Debug, Clone, Default)]
pub struct ProjectDeadlineState {
    pub name: String,
    pub jurisdiction: Option<JurisdictionCode>,
    pub programme_id: String,
    pub programme_version: u32,
    pub officials: BTreeMap<OfficialRole, Official>,
    pub facts: ProjectFacts,
    /// The latest business date seen, used to date undated events.
    last_date: Option<NaiveDate>,
}

impl ProjectDeadlineState {
    /// Folds one event into the facts.
    pub fn apply(&mut self, event: &ProjectEvent) {
        use ProjectEvent as E;
        let f = &mut self.facts;
        let entered = |stage: &'static str, on: NaiveDate, f: &mut ProjectFacts| {
            if !f.stage_entries.iter().any(|(s, _)| *s == stage) {
                f.stage_entries.push((stage, on));
            }
        };
        let date = match event {
            E::ProjectRegistered {
                name,
                programme_id,
                programme_version,
                jurisdiction,
                registered_on,
                ..
            } => {
                self.name = name.clone();
                self.programme_id = programme_id.clone();
                self.programme_version = *programme_version;
                self.jurisdiction = Some(jurisdiction.clone());
                f.registered_on = Some(*registered_on);
                f.anchors.push(("registered", *registered_on));
                entered("registered", *registered_on, f);
                Some(*registered_on)
            }
            E::PlanSubmitted { submitted_on, .. } => {
                f.milestones.push((Milestone::PlanSubmitted, *submitted_on));
                entered("plan_submitted", *submitted_on, f);
                Some(*submitted_on)
            }
            E::PlanApproved { reviewed_on, .. } => {
                f.anchors.push(("plan_approved", *reviewed_on));
                entered("plan_approved", *reviewed_on, f);
                Some(*reviewed_on)
            }
            E::PlanReturned { reviewed_on, .. } => Some(*reviewed_on),
            E::ConstructionEntityDesignated { .. } => {
                if let Some(on) = self.last_date {
                    f.milestones.push((Milestone::EntityDesignated, on));
                }
                None
            }
            E::NoticePublished {
                starts_on, ends_on, ..
            } => {
                f.anchors.push(("notice_published", *starts_on));
                f.notices.push((*starts_on, *ends_on));
                entered("notice", *starts_on, f);
                Some(*starts_on)
            }
            E::ObjectionRaised { raised_on, .. } => Some(*raised_on),
            E::ObjectionResolved { resolved_on, .. } => Some(*resolved_on),
            E::NoticeClosed { closed_on } => {
                f.anchors.push(("notice_closed", *closed_on));
                // Construction starts when the notice closes.
                f.anchors.push(("construction_started", *closed_on));
                f.milestones.push((Milestone::NoticeClosed, *closed_on));
                entered("construction", *closed_on, f);
                Some(*closed_on)
            }
            E::ProgressReportSubmitted { reported_on, .. } => {
                f.reports.push(*reported_on);
                Some(*reported_on)
            }
            E::AcceptanceRequested { requested_on } => {
                f.anchors.push(("acceptance_requested", *requested_on));
                f.milestones
                    .push((Milestone::AcceptanceRequested, *requested_on));
                entered("acceptance", *requested_on, f);
                Some(*requested_on)
            }
            E::AcceptancePassed { inspected_on, .. } => {
                f.anchors.push(("acceptance_passed", *inspected_on));
                f.milestones
                    .push((Milestone::AcceptancePassed, *inspected_on));
                entered("evaluation", *inspected_on, f);
                Some(*inspected_on)
            }
            E::AcceptanceFailed { inspected_on, .. } => {
                f.anchors.push(("acceptance_failed", *inspected_on));
                f.milestones
                    .push((Milestone::AcceptanceFailed, *inspected_on));
                Some(*inspected_on)
            }
            E::PerformanceEvaluated { evaluated_on, .. } => {
                f.anchors.push(("evaluated", *evaluated_on));
                f.milestones.push((Milestone::Evaluated, *evaluated_on));
                Some(*evaluated_on)
            }
            E::ClawbackOrdered { ordered_on, .. } => {
                f.anchors.push(("clawback_ordered", *ordered_on));
                Some(*ordered_on)
            }
            E::FundsApproved { approved_on, .. } => Some(*approved_on),
            E::TrancheDisbursed { paid_on, .. } => Some(*paid_on),
            E::FundsSettled { settled_on, .. } => Some(*settled_on),
            E::ClawbackSettled { settled_on, .. } => Some(*settled_on),
            E::ProjectSuspended { suspended_on, .. } => {
                f.suspensions.push(SuspensionSpan {
                    from: *suspended_on,
                    until: None,
                });
                Some(*suspended_on)
            }
            E::ProjectResumed { resumed_on } => {
                if let Some(open) = f.suspensions.iter_mut().rev().find(|s| s.until.is_none()) {
                    open.until = Some(*resumed_on);
                }
                Some(*resumed_on)
            }
            E::ProjectTerminated { terminated_on, .. } => {
                f.ended_on = Some(*terminated_on);
                Some(*terminated_on)
            }
            E::ProjectClosed { closed_on } => {
                f.milestones.push((Milestone::Closed, *closed_on));
                entered("closed", *closed_on, f);
                f.ended_on = Some(*closed_on);
                Some(*closed_on)
            }
            E::OfficialAssigned { role, official } => {
                self.officials.insert(*role, official.clone());
                None
            }
            E::DeadlineExtended {
                deadline_id, until, ..
            } => {
                f.extensions.push(Extension {
                    deadline_id: deadline_id.clone(),
                    until: *until,
                    after_suspensions: f.suspensions.len(),
                });
                None
            }
        };
        if let Some(d) = date {
            self.last_date = Some(self.last_date.map_or(d, |l| l.max(d)));
        }
    }

    /// The officials holding `roles`, and the roles nobody holds.
    pub fn officials_for(
        &self,
        roles: &[OfficialRole],
    ) -> (Vec<ResponsibleOfficial>, Vec<OfficialRole>) {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for role in roles {
            match self.officials.get(role) {
                Some(o) => found.push(responsible(*role, o)),
                None => missing.push(*role),
            }
        }
        (found, missing)
    }

    /// This project's deadlines on `today` under `programme`.
    pub fn deadlines(
        &self,
        project_id: &str,
        programme: &Programme,
        calendar: &WorkingCalendar,
        today: NaiveDate,
    ) -> ProjectDeadlines {
        let derived = derive(&self.facts, programme, calendar, today);
        let deadlines = derived
            .deadlines
            .into_iter()
            .map(|d| {
                let (officials, missing_roles) = self.officials_for(&d.responsible);
                Deadline {
                    project_id: project_id.to_string(),
                    project_name: self.name.clone(),
                    jurisdiction: self
                        .jurisdiction
                        .as_ref()
                        .map(|j| j.to_string())
                        .unwrap_or_default(),
                    programme: programme.key().to_string(),
                    status_label: d.status.label_zh(),
                    deadline: d,
                    officials,
                    missing_roles,
                }
            })
            .collect();
        ProjectDeadlines {
            deadlines,
            undecided: derived.undecided,
        }
    }
}

fn responsible(role: OfficialRole, o: &Official) -> ResponsibleOfficial {
    ResponsibleOfficial {
        role,
        role_label: role.label_zh(),
        name: o.name.clone(),
        post: o.post.clone(),
        email: o.email.clone(),
        language: o.language.clone(),
    }
}

/// The deadlines of one project from its events (in sequence order), on `today`.
pub fn deadlines_for(
    project_id: &str,
    events: &[ProjectEvent],
    programme: &Programme,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> ProjectDeadlines {
    let mut state = ProjectDeadlineState::default();
    for e in events {
        state.apply(e);
    }
    state.deadlines(project_id, programme, calendar, today)
}

/// Which deadlines a listing shows.
#[derive(Debug, Clone, Default)]
pub struct DeadlineQuery {
    /// Only projects inside this division (a city covers its counties).
    pub jurisdiction: Option<JurisdictionCode>,
    /// Only deadlines due on or after this date.
    pub from: Option<NaiveDate>,
    /// Only deadlines due on or before this date.
    pub to: Option<NaiveDate>,
    /// Only upcoming, due-today and overdue deadlines.
    pub open_only: bool,
}

/// A listing of many projects' deadlines.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeadlineListing {
    pub today: Option<NaiveDate>,
    pub deadlines: Vec<Deadline>,
    /// `(project id, deadline)` the calendar cannot decide yet.
    pub undecided: Vec<(String, Undecided)>,
    /// Projects whose programme version is not loaded.
    pub problems: Vec<String>,
}

/// Every project's deadline facts, caught up to `position`.
#[derive(Debug, Default, Clone)]
pub struct DeadlinesView {
    projects: BTreeMap<String, ProjectDeadlineState>,
    position: i64,
}

impl DeadlinesView {
    pub async fn load(store: &Store) -> Result<Self, ProjectionError> {
        let mut view = Self::default();
        view.catch_up(store).await?;
        Ok(view)
    }

    /// Reads every event after the last one seen, in position order.
    pub async fn catch_up(&mut self, store: &Store) -> Result<(), ProjectionError> {
        crate::catch_up(self, store).await
    }

    /// Applies one decoded event of project `id` (for building the view without a store).
    pub fn apply_event(&mut self, id: &str, event: &ProjectEvent) {
        self.projects
            .entry(id.to_string())
            .or_default()
            .apply(event);
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    pub fn len(&self) -> usize {
        self.projects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }

    pub fn project(&self, id: &str) -> Option<&ProjectDeadlineState> {
        self.projects.get(id)
    }

    /// The deadlines of every project matching `query`, on `today`, ordered by due date
    /// (paused ones last), then jurisdiction and project.
    pub fn deadlines(
        &self,
        programmes: &ProgrammeRegistry,
        calendar: &WorkingCalendar,
        today: NaiveDate,
        query: &DeadlineQuery,
    ) -> DeadlineListing {
        let mut out = DeadlineListing {
            today: Some(today),
            ..Default::default()
        };
        for (id, state) in &self.projects {
            if let Some(scope) = &query.jurisdiction {
                if !state.jurisdiction.as_ref().is_some_and(|j| scope.covers(j)) {
                    continue;
                }
            }
            let Some(programme) = programme_of(programmes, id, state, &mut out.problems) else {
                continue;
            };
            let set = state.deadlines(id, &programme, calendar, today);
            out.undecided
                .extend(set.undecided.into_iter().map(|u| (id.clone(), u)));
            out.deadlines.extend(set.deadlines.into_iter().filter(|d| {
                let due = d.deadline.due_on;
                (!query.open_only || d.deadline.status.is_open())
                    && query.from.is_none_or(|f| due.is_some_and(|x| x >= f))
                    && query.to.is_none_or(|t| due.is_some_and(|x| x <= t))
            }));
        }
        out.deadlines.sort_by(|a, b| {
            let key = |d: &Deadline| {
                (
                    d.deadline.due_on.unwrap_or(NaiveDate::MAX),
                    d.jurisdiction.clone(),
                    d.project_id.clone(),
                    d.deadline.id.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        out
    }
}

impl crate::Projection for DeadlinesView {
    fn position(&self) -> i64 {
        self.position
    }

    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.position = self.position.max(event.global_position);
        if event.aggregate_type != SubsidyProject::TYPE {
            return Ok(());
        }
        let decoded = decode(event)?;
        self.apply_event(&event.aggregate_id, &decoded);
        Ok(())
    }
}

fn programme_of(
    programmes: &ProgrammeRegistry,
    id: &str,
    state: &ProjectDeadlineState,
    problems: &mut Vec<String>,
) -> Option<Arc<Programme>> {
    if state.programme_id.is_empty() {
        return None;
    }
    let found = programmes.get(&state.programme_id, state.programme_version);
    if found.is_none() {
        problems.push(format!(
            "project {id}: programme {}@v{} is not loaded, its deadlines cannot be computed",
            state.programme_id, state.programme_version
        ));
    }
    found
}

/// One reminder owed on a day: which deadline, to whom, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueReminder {
    pub kind: ReminderKind,
    pub recipient: ResponsibleOfficial,
    pub deadline: Deadline,
    /// Why it is owed today, in plain words.
    pub reason: String,
}

impl DueReminder {
    /// The identity of a reminder: project, deadline, due date, kind and recipient address.
    /// The due date is part of it, so that a deadline moved by an extension or a suspension is
    /// reminded of again for its new date; a resend of the same reminder is refused.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.deadline.project_id,
            self.deadline.deadline.id,
            self.deadline
                .deadline
                .due_on
                .map(|d| d.to_string())
                .unwrap_or_default(),
            self.kind.id(),
            self.recipient.email.to_lowercase()
        )
    }
}

/// The reminders owed on `today` and what stopped others from being planned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReminderPlan {
    pub today: Option<NaiveDate>,
    pub reminders: Vec<DueReminder>,
    /// Reminders that cannot be sent (no official for a role, calendar not published…).
    pub problems: Vec<String>,
}

/// Every reminder owed on `today` across the view (see
/// [`workflows::deadlines::reminders_due`] for when each kind is owed).
pub fn plan_reminders(
    view: &DeadlinesView,
    programmes: &ProgrammeRegistry,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> ReminderPlan {
    let mut plan = ReminderPlan {
        today: Some(today),
        ..Default::default()
    };
    for (id, state) in &view.projects {
        let Some(programme) = programme_of(programmes, id, state, &mut plan.problems) else {
            continue;
        };
        let set = state.deadlines(id, &programme, calendar, today);
        for u in &set.undecided {
            plan.problems.push(format!(
                "project {id}, deadline {} ({}): {}",
                u.id, u.nominal_due, u.reason
            ));
        }
        let rules = programme.reminders;
        for d in set
            .deadlines
            .into_iter()
            .filter(|d| d.deadline.status.is_open())
        {
            let owed = match reminders_due(
                &d.deadline,
                rules.days_before,
                rules.escalate_overdue_to,
                calendar,
                today,
            ) {
                Ok(owed) => owed,
                Err(e) => {
                    plan.problems
                        .push(format!("project {id}, deadline {}: {e}", d.deadline.id));
                    continue;
                }
            };
            for (kind, roles) in owed {
                let (officials, missing) = state.officials_for(&roles);
                for role in missing {
                    plan.problems.push(format!(
                        "project {id}, deadline {}: no {} ({role:?}) assigned, the {} reminder cannot be sent",
                        d.deadline.id,
                        role.label_zh(),
                        kind.id()
                    ));
                }
                let due = d.deadline.due_on.unwrap_or(today);
                let reason = match kind {
                    ReminderKind::Before => format!(
                        "due {due}, reminded from {} working day(s) before",
                        rules.days_before
                    ),
                    ReminderKind::DueToday => format!("due today ({due})"),
                    ReminderKind::Overdue => format!("overdue since {due}"),
                    ReminderKind::Escalation => {
                        format!("overdue since {due}, escalated to the official in charge")
                    }
                };
                let mut seen: Vec<String> = Vec::new();
                for recipient in officials {
                    // One reminder per address, even if one person holds two roles.
                    let address = recipient.email.to_lowercase();
                    if seen.contains(&address) {
                        continue;
                    }
                    seen.push(address);
                    plan.reminders.push(DueReminder {
                        kind,
                        recipient,
                        deadline: d.clone(),
                        reason: format!("{}: {}", d.deadline.explanation, reason),
                    });
                }
            }
        }
    }
    plan.reminders.sort_by(|a, b| {
        (
            a.deadline.deadline.due_on,
            &a.deadline.project_id,
            &a.deadline.deadline.id,
            a.kind,
            &a.recipient.email,
        )
            .cmp(&(
                b.deadline.deadline.due_on,
                &b.deadline.project_id,
                &b.deadline.deadline.id,
                b.kind,
                &b.recipient.email,
            ))
    });
    plan
}
