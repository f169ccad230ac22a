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
use workflows::calendar::{SharedCalendar, WorkingCalendar, YearNotice};
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
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, Serialize)]
pub struct ProjectDeadlineState {
    pub name: String,
    pub jurisdiction: Option<JurisdictionCode>,
    pub programme_id: String,
    pub programme_version: u32,
    pub officials: BTreeMap<OfficialRole, Official>,
    pub facts: ProjectFacts,
    /// The latest business date seen, used to date undated events.
    #[serde(default)]
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
        plan_project(&mut plan, id, state, programmes, calendar, today);
    }
    sort_plan(&mut plan);
    plan
}

/// The reminders one project owes on `today` (its deadlines derived exactly as of that day),
/// added to `plan`, with what stops others (undecided dates, a programme not loaded).
fn plan_project(
    plan: &mut ReminderPlan,
    id: &str,
    state: &ProjectDeadlineState,
    programmes: &ProgrammeRegistry,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) {
    let Some(programme) = programme_of(programmes, id, state, &mut plan.problems) else {
        return;
    };
    let set = state.deadlines(id, &programme, calendar, today);
    for u in &set.undecided {
        plan.problems.push(format!(
            "project {id}, deadline {} ({}): {}",
            u.id, u.nominal_due, u.reason
        ));
    }
    for d in set
        .deadlines
        .into_iter()
        .filter(|d| d.deadline.status.is_open())
    {
        push_reminders(plan, id, state, &programme, calendar, today, d);
    }
}

/// The reminders one open deadline owes on `today`, added to `plan` (problems too).
fn push_reminders(
    plan: &mut ReminderPlan,
    id: &str,
    state: &ProjectDeadlineState,
    programme: &Programme,
    calendar: &WorkingCalendar,
    today: NaiveDate,
    d: Deadline,
) {
    let rules = &programme.reminders;
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
            return;
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

fn sort_plan(plan: &mut ReminderPlan) {
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
}

// ------------------------------------------------------------------ the persisted read model

/// The date the persisted deadlines are derived as of: every recorded fact counts, and report
/// slots are generated to the end of their schedule. The day's status is computed when read.
const HORIZON: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 30) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// The persisted deadlines (projection `deadlines`): per project its deadline facts and
/// officials (`deadline_projects_<slot>`), and every deadline of every project with its due
/// date, the date it was met and the date the project ended (`project_deadlines_<slot>`,
/// indexed by due date), derived again only when the project's events change. Whether a
/// deadline is upcoming, due or overdue is decided from the date when it is read, so that the
/// reminder scan and `?overdue=true` are index range queries.
///
/// The derivation counts every recorded fact as having happened: a deadline met by a fact dated
/// after the day asked is still open that day (its `met_on` lies ahead), but a suspension or an
/// anchor recorded ahead of its date already moves or creates deadlines. The in-memory fold
/// ([`DeadlinesView`]) applies the strict "as of the day" rule and stays the reference.
///
/// The calendar is the process's [`SharedCalendar`]. A project whose derivation met a day the
/// calendar does not decide yet is flagged (`deadline_projects_<slot>.undecided`); when a year
/// is recorded (a `calendar` event reaches the projection, or [`SqlProjection::refresh`] after
/// the process's calendar was extended from the store), exactly the flagged projects are
/// derived again. A recorded year never changes, so nothing derived from a decided day ever
/// needs to be revisited.
pub struct DeadlinesProjection {
    programmes: Arc<ProgrammeRegistry>,
    calendar: SharedCalendar,
}

/// The projection's name in `projection_checkpoints`.
pub const DEADLINES: &str = "deadlines";

impl DeadlinesProjection {
    pub fn new(programmes: Arc<ProgrammeRegistry>, calendar: impl Into<SharedCalendar>) -> Self {
        Self {
            programmes,
            calendar: calendar.into(),
        }
    }

    /// Writes one project's rows (its state and every deadline derived under `calendar`).
    async fn write_project(
        &self,
        tx: &mut crate::sql::Tx,
        slot: &str,
        id: &str,
        state: &ProjectDeadlineState,
        calendar: &WorkingCalendar,
    ) -> Result<(), ProjectionError> {
        let json = serde_json::to_string(state).map_err(|e| ProjectionError::UnreadableRow {
            table: format!("deadline_projects_{slot}"),
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        let programme = self
            .programmes
            .get(&state.programme_id, state.programme_version);
        let derived = programme
            .as_ref()
            .map(|programme| derive(&state.facts, programme, calendar, HORIZON));
        let undecided = derived.as_ref().is_some_and(|d| !d.undecided.is_empty());
        tx.execute(
            &format!(
                "INSERT INTO deadline_projects_{slot} (project_id, latest_fact_on, state, undecided) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (project_id) DO UPDATE SET latest_fact_on = excluded.latest_fact_on, state = excluded.state, undecided = excluded.undecided"
            ),
            &[
                id.to_string().into(),
                state.last_date.map(|d| d.to_string()).into(),
                json.into(),
                (undecided as i64).into(),
            ],
        )
        .await?;
        tx.execute(
            &format!("DELETE FROM project_deadlines_{slot} WHERE project_id = ?"),
            &[id.to_string().into()],
        )
        .await?;
        let Some(derived) = derived else {
            return Ok(());
        };
        let (jurisdiction, province, city) = match &state.jurisdiction {
            Some(j) => (
                j.to_string(),
                j.province().to_string(),
                j.city().map(|c| c.to_string()).unwrap_or_default(),
            ),
            None => Default::default(),
        };
        for d in derived.deadlines {
            let waived = d.status == workflows::deadlines::DeadlineStatus::Waived
                && state.facts.ended_on.is_none();
            let json = serde_json::to_string(&d).map_err(|e| ProjectionError::UnreadableRow {
                table: format!("project_deadlines_{slot}"),
                id: format!("{id}/{}", d.id),
                reason: e.to_string(),
            })?;
            tx.execute(
                &format!(
                    "INSERT INTO project_deadlines_{slot} (project_id, deadline_id, jurisdiction, province, city, due_on, met_on, ended_on, waived, deadline) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                &[
                    id.to_string().into(),
                    d.id.clone().into(),
                    jurisdiction.clone().into(),
                    province.clone().into(),
                    city.clone().into(),
                    d.due_on.map(|x| x.to_string()).into(),
                    d.met_on.map(|x| x.to_string()).into(),
                    state.facts.ended_on.map(|x| x.to_string()).into(),
                    (waived as i64).into(),
                    json.into(),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// Derives again every project flagged undecided in `slot`, under `calendar`.
    async fn rederive_undecided(
        &self,
        tx: &mut crate::sql::Tx,
        slot: &str,
        calendar: &WorkingCalendar,
    ) -> Result<usize, ProjectionError> {
        let rows = tx
            .fetch_all(
                &format!(
                    "SELECT project_id, state FROM deadline_projects_{slot} WHERE undecided = 1 ORDER BY project_id"
                ),
                &[],
            )
            .await?;
        let mut n = 0;
        for r in rows {
            let id = r[0].text();
            let state: ProjectDeadlineState =
                serde_json::from_str(&r[1].text()).map_err(|e| ProjectionError::UnreadableRow {
                    table: format!("deadline_projects_{slot}"),
                    id: id.clone(),
                    reason: e.to_string(),
                })?;
            self.write_project(tx, slot, &id, &state, calendar).await?;
            n += 1;
        }
        Ok(n)
    }
}

/// The year file a stored `calendar` event recorded.
pub fn recorded_year(event: &StoredEvent) -> Result<YearNotice, ProjectionError> {
    let decoded: domain::calendar::CalendarEvent = serde_json::from_value(event.payload.clone())
        .map_err(|e| ProjectionError::UnreadableEvent {
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            event_type: event.event_type.clone(),
            reason: e.to_string(),
        })?;
    Ok(decoded.notice_file())
}

#[async_trait::async_trait]
impl crate::runtime::SqlProjection for DeadlinesProjection {
    fn name(&self) -> &'static str {
        DEADLINES
    }

    fn version(&self) -> i64 {
        // 2: `deadline_projects.undecided` (calendar years recorded at run time).
        // 3: the notice counted from the day after its start, `notice-end` due the day after
        //    its last day (issue 12 item 5): persisted due dates are derived again.
        3
    }

    fn tables(&self, slot: &str) -> Vec<String> {
        vec![
            format!("project_deadlines_{slot}"),
            format!("deadline_projects_{slot}"),
        ]
    }

    fn create(&self, slot: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE deadline_projects_{slot} (
                    project_id text PRIMARY KEY,
                    latest_fact_on text,
                    state text NOT NULL,
                    undecided bigint NOT NULL DEFAULT 0
                )"
            ),
            format!(
                "CREATE TABLE project_deadlines_{slot} (
                    project_id text NOT NULL,
                    deadline_id text NOT NULL,
                    jurisdiction text NOT NULL,
                    province text NOT NULL,
                    city text NOT NULL,
                    due_on text,
                    met_on text,
                    ended_on text,
                    waived bigint NOT NULL,
                    deadline text NOT NULL,
                    PRIMARY KEY (project_id, deadline_id)
                )"
            ),
            format!("CREATE INDEX project_deadlines_{slot}_due ON project_deadlines_{slot} (due_on)"),
            format!("CREATE INDEX deadline_projects_{slot}_latest ON deadline_projects_{slot} (latest_fact_on)"),
            format!("CREATE INDEX deadline_projects_{slot}_undecided ON deadline_projects_{slot} (undecided)"),
            format!("CREATE INDEX project_deadlines_{slot}_scope ON project_deadlines_{slot} (province, city, jurisdiction, due_on)"),
        ]
    }

    async fn apply(
        &self,
        tx: &mut crate::sql::Tx,
        slot: &str,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        // Years recorded in this batch extend the process's calendar first (a recorded year
        // never changes, so deriving the batch's earlier events under it gives the same rows).
        let years = events
            .iter()
            .filter(|e| e.aggregate_type == domain::calendar::CALENDAR_TYPE)
            .map(recorded_year)
            .collect::<Result<Vec<_>, _>>()?;
        if !years.is_empty() {
            if let Err(e) = self.calendar.absorb(&years) {
                tracing::error!(
                    "deadlines: a recorded calendar year cannot extend the calendar: {e}"
                );
            }
        }
        // Taken under the checkpoint lock: a calendar extended before it is seen here.
        let calendar = self.calendar.current();
        let mut touched: BTreeMap<String, ProjectDeadlineState> = BTreeMap::new();
        for event in events {
            if event.aggregate_type != SubsidyProject::TYPE {
                continue;
            }
            if !touched.contains_key(&event.aggregate_id) {
                let state: ProjectDeadlineState = tx
                    .state(
                        &format!("deadline_projects_{slot}"),
                        "project_id",
                        &event.aggregate_id,
                    )
                    .await?;
                touched.insert(event.aggregate_id.clone(), state);
            }
            let decoded = decode(event)?;
            touched
                .get_mut(&event.aggregate_id)
                .expect("inserted above")
                .apply(&decoded);
        }
        for (id, state) in &touched {
            self.write_project(tx, slot, id, state, &calendar).await?;
        }
        if !years.is_empty() {
            self.rederive_undecided(tx, slot, &calendar).await?;
        }
        Ok(())
    }

    async fn refresh(&self, tx: &mut crate::sql::Tx, slot: &str) -> Result<usize, ProjectionError> {
        let calendar = self.calendar.current();
        self.rederive_undecided(tx, slot, &calendar).await
    }
}

/// The projects that may owe something on `day`: those with a stored deadline due by
/// `day + horizon_days` that was neither met nor ended by `day` (an index range query), and those
/// with a fact dated after `day` (for which the stored derivation, which counts every fact, may
/// differ from the day's). Each comes with its deadline state, so that the caller derives its
/// deadlines exactly as of `day` ([`ProjectDeadlineState::deadlines`]).
async fn candidates(
    db: &crate::sql::Db,
    slot: &str,
    day: NaiveDate,
    horizon_days: u64,
) -> Result<Vec<(String, ProjectDeadlineState)>, ProjectionError> {
    let until = (day + chrono::Days::new(horizon_days)).to_string();
    let day = day.to_string();
    let rows = db
        .fetch_all(
            &format!(
                "SELECT p.project_id, p.state FROM deadline_projects_{slot} p \
                 WHERE p.latest_fact_on > ? OR p.project_id IN ( \
                   SELECT d.project_id FROM project_deadlines_{slot} d \
                   WHERE d.due_on IS NOT NULL AND d.due_on <= ? AND d.waived = 0 \
                   AND (d.met_on IS NULL OR d.met_on > ?) AND (d.ended_on IS NULL OR d.ended_on > ?)) \
                 ORDER BY p.project_id"
            ),
            &[
                day.clone().into(),
                until.into(),
                day.clone().into(),
                day.into(),
            ],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let id = r[0].text();
            let state =
                serde_json::from_str(&r[1].text()).map_err(|e| ProjectionError::UnreadableRow {
                    table: format!("deadline_projects_{slot}"),
                    id: id.clone(),
                    reason: e.to_string(),
                })?;
            Ok((id, state))
        })
        .collect()
}

/// The ids of projects with at least one deadline overdue on `today`: an index range query on
/// the live deadlines table for the candidates, each checked exactly as of `today`.
pub async fn overdue_project_ids(
    db: &crate::sql::Db,
    slot: &str,
    programmes: &ProgrammeRegistry,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Result<Vec<String>, ProjectionError> {
    let mut ids = Vec::new();
    let mut problems = Vec::new();
    for (id, state) in candidates(db, slot, today.pred_opt().unwrap_or(today), 0).await? {
        let Some(programme) = programme_of(programmes, &id, &state, &mut problems) else {
            continue;
        };
        let set = state.deadlines(&id, &programme, calendar, today);
        if set
            .deadlines
            .iter()
            .any(|d| d.deadline.status == workflows::deadlines::DeadlineStatus::Overdue)
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The open deadlines on `today` (Asia/Shanghai civil date) of the projects inside `scope`:
/// every overdue one and every one due within `days` calendar days (due today included),
/// most overdue first, then by due date. The candidates come from the same index range query
/// as [`overdue_project_ids`], each derived exactly as of `today` (the dashboard's lists).
pub async fn open_deadlines(
    db: &crate::sql::Db,
    slot: &str,
    programmes: &ProgrammeRegistry,
    calendar: &WorkingCalendar,
    today: NaiveDate,
    days: u64,
    scope: &JurisdictionCode,
) -> Result<Vec<Deadline>, ProjectionError> {
    use workflows::deadlines::DeadlineStatus as S;
    let until = today + chrono::Days::new(days);
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (id, state) in candidates(db, slot, today.pred_opt().unwrap_or(today), days + 1).await? {
        let inside = state.jurisdiction.as_ref().is_some_and(|j| scope.covers(j));
        if !inside {
            continue;
        }
        let Some(programme) = programme_of(programmes, &id, &state, &mut problems) else {
            continue;
        };
        let set = state.deadlines(&id, &programme, calendar, today);
        out.extend(set.deadlines.into_iter().filter(|d| {
            matches!(d.deadline.status, S::Overdue | S::DueToday | S::Upcoming)
                && d.deadline.due_on.is_some_and(|due| due <= until)
        }));
    }
    out.sort_by(|a, b| {
        (a.deadline.due_on, &a.project_id, &a.deadline.id).cmp(&(
            b.deadline.due_on,
            &b.project_id,
            &b.deadline.id,
        ))
    });
    Ok(out)
}

/// [`plan_reminders`] from the persisted deadlines: only the deadlines due within the reminder
/// window (the programmes' largest `days_before`, counted generously in calendar days) or
/// overdue are read.
pub async fn plan_reminders_persisted(
    db: &crate::sql::Db,
    slot: &str,
    programmes: &ProgrammeRegistry,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Result<ReminderPlan, ProjectionError> {
    let most_days_before = programmes
        .all()
        .iter()
        .map(|p| p.reminders.days_before)
        .max()
        .unwrap_or(0) as u64;
    // N working days never span more than 2N + 14 calendar days (weekends and the longest
    // holiday, Spring Festival or National Day, with their adjusted days).
    let horizon = 2 * most_days_before + 14;
    let mut plan = ReminderPlan {
        today: Some(today),
        ..Default::default()
    };
    for (id, state) in candidates(db, slot, today, horizon).await? {
        plan_project(&mut plan, &id, &state, programmes, calendar, today);
    }
    sort_plan(&mut plan);
    Ok(plan)
}
