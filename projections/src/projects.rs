//! The project list: one summary per project, rebuilt by applying each project's events.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use domain::{Fen, Stage, SubsidyProject};
use serde::Serialize;
use store::{Store, StoredEvent};

use crate::{decode, ProjectionError};

/// One project as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectSummary {
    pub id: String,
    pub name: String,
    pub programme_id: String,
    pub programme_version: u32,
    pub jurisdiction: String,
    pub stage: Stage,
    pub stage_label: &'static str,
    pub suspended: bool,
    pub registered_on: Option<NaiveDate>,
    pub approved: Fen,
    pub paid: Fen,
    pub clawback_outstanding: Fen,
    pub version: i64,
    pub last_recorded_at: DateTime<Utc>,
}

/// Every project's state, caught up to `position`.
#[derive(Debug, Default, Clone)]
pub struct ProjectsView {
    projects: BTreeMap<String, (SubsidyProject, i64, DateTime<Utc>)>,
    position: i64,
}

impl ProjectsView {
    /// Builds the view from the whole store.
    pub async fn load(store: &Store) -> Result<Self, ProjectionError> {
        let mut view = Self::default();
        view.catch_up(store).await?;
        Ok(view)
    }

    /// Reads every event after the last one seen, in position order.
    pub async fn catch_up(&mut self, store: &Store) -> Result<(), ProjectionError> {
        crate::catch_up(self, store).await
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

    pub fn state(&self, id: &str) -> Option<(&SubsidyProject, i64)> {
        self.projects.get(id).map(|(p, v, _)| (p, *v))
    }

    pub fn summary(&self, id: &str) -> Option<ProjectSummary> {
        self.projects
            .get(id)
            .map(|(p, v, at)| summarize(id, p, *v, *at))
    }

    /// All projects, ordered by jurisdiction then name.
    pub fn summaries(&self) -> Vec<ProjectSummary> {
        let mut all: Vec<ProjectSummary> = self
            .projects
            .iter()
            .map(|(id, (p, v, at))| summarize(id, p, *v, *at))
            .collect();
        all.sort_by(|a, b| {
            (a.jurisdiction.as_str(), a.name.as_str(), a.id.as_str()).cmp(&(
                b.jurisdiction.as_str(),
                b.name.as_str(),
                b.id.as_str(),
            ))
        });
        all
    }
}

impl crate::Projection for ProjectsView {
    fn position(&self) -> i64 {
        self.position
    }

    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.position = self.position.max(event.global_position);
        if event.aggregate_type != SubsidyProject::TYPE {
            return Ok(());
        }
        let decoded = decode(event)?;
        let entry = self
            .projects
            .entry(event.aggregate_id.clone())
            .or_insert_with(|| (SubsidyProject::default(), 0, event.recorded_at));
        entry.0.apply(decoded);
        entry.1 = event.sequence;
        entry.2 = event.recorded_at;
        Ok(())
    }
}

fn summarize(id: &str, p: &SubsidyProject, version: i64, at: DateTime<Utc>) -> ProjectSummary {
    ProjectSummary {
        id: id.to_string(),
        name: p.name.clone(),
        programme_id: p.programme_id.clone(),
        programme_version: p.programme_version,
        jurisdiction: p
            .jurisdiction
            .as_ref()
            .map(|j| j.to_string())
            .unwrap_or_default(),
        stage: p.stage,
        stage_label: p.stage.label_zh(),
        suspended: p.suspended.is_some(),
        registered_on: p.registered_on,
        approved: p.total_approved(),
        paid: p.total_paid(),
        clawback_outstanding: p.clawback_outstanding(),
        version,
        last_recorded_at: at,
    }
}

// ------------------------------------------------------------------ the persisted read model

use async_trait::async_trait;
use domain::{JurisdictionCode, JurisdictionLevel, ProjectEvent};

use crate::runtime::SqlProjection;
use crate::sql::{Arg, Db, Tx, Val};

/// The persisted project read model (projection `projects`): one row per project in
/// `project_summaries_<slot>` (the list's columns, narrow and indexed in the orders the list
/// sorts by), the whole aggregate state as JSON in `project_states_<slot>` (read by id only, so
/// that a list query never reads it), and one row per money movement in `fund_ledger_<slot>`, each pointing at the event
/// (global position) that caused it, so that the ledger can be read as of any position.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProjectsProjection;

/// The projection's name in `projection_checkpoints`.
pub const PROJECTS: &str = "projects";

/// The columns of `project_summaries`, in the order [`summary_of_row`] reads them.
const SUMMARY_COLUMNS: &str = "id, name, programme_id, programme_version, jurisdiction, stage, \
     suspended, registered_on, approved_fen, paid_fen, clawback_outstanding_fen, version, \
     last_recorded_at, last_position";

#[async_trait]
impl SqlProjection for ProjectsProjection {
    fn name(&self) -> &'static str {
        PROJECTS
    }

    /// 2: `stage_changes` added (the stage history, for roll-ups as of a position).
    /// 3: the state moved out of the summaries into `project_states`; indexes in the list's
    /// default order per scope level (province, city, county), so that a province's first page
    /// is an index range read instead of a sort of the whole province.
    fn version(&self) -> i64 {
        3
    }

    fn tables(&self, slot: &str) -> Vec<String> {
        vec![
            format!("project_summaries_{slot}"),
            format!("project_states_{slot}"),
            format!("fund_ledger_{slot}"),
            format!("stage_changes_{slot}"),
        ]
    }

    fn create(&self, slot: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE project_summaries_{slot} (
                    id text PRIMARY KEY,
                    name text NOT NULL,
                    name_folded text NOT NULL,
                    programme_id text NOT NULL,
                    programme_version bigint NOT NULL,
                    jurisdiction text NOT NULL,
                    province text NOT NULL,
                    city text NOT NULL,
                    stage text NOT NULL,
                    suspended bigint NOT NULL,
                    registered_on text,
                    approved_fen bigint NOT NULL,
                    paid_fen bigint NOT NULL,
                    clawback_outstanding_fen bigint NOT NULL,
                    version bigint NOT NULL,
                    last_position bigint NOT NULL,
                    last_recorded_at text NOT NULL
                )"
            ),
            format!(
                "CREATE TABLE project_states_{slot} (
                    id text PRIMARY KEY,
                    state text NOT NULL
                )"
            ),
            // The list's default order (jurisdiction, name, id) under each kind of scope.
            format!("CREATE INDEX project_summaries_{slot}_province ON project_summaries_{slot} (province, jurisdiction, name, id)"),
            format!("CREATE INDEX project_summaries_{slot}_city ON project_summaries_{slot} (city, jurisdiction, name, id)"),
            format!("CREATE INDEX project_summaries_{slot}_county ON project_summaries_{slot} (jurisdiction, name, id)"),
            format!("CREATE INDEX project_summaries_{slot}_stage ON project_summaries_{slot} (stage, jurisdiction)"),
            format!("CREATE INDEX project_summaries_{slot}_programme ON project_summaries_{slot} (programme_id, jurisdiction)"),
            format!(
                "CREATE TABLE fund_ledger_{slot} (
                    position bigint PRIMARY KEY,
                    project_id text NOT NULL,
                    sequence bigint NOT NULL,
                    jurisdiction text NOT NULL,
                    province text NOT NULL,
                    city text NOT NULL,
                    source text NOT NULL,
                    movement text NOT NULL,
                    amount_fen bigint NOT NULL,
                    on_date text NOT NULL,
                    recorded_at text NOT NULL
                )"
            ),
            format!("CREATE INDEX fund_ledger_{slot}_project ON fund_ledger_{slot} (project_id, position)"),
            format!(
                "CREATE TABLE stage_changes_{slot} (
                    project_id text NOT NULL,
                    position bigint NOT NULL,
                    jurisdiction text NOT NULL,
                    province text NOT NULL,
                    city text NOT NULL,
                    stage text NOT NULL,
                    suspended bigint NOT NULL,
                    PRIMARY KEY (project_id, position)
                )"
            ),
            format!("CREATE INDEX stage_changes_{slot}_scope ON stage_changes_{slot} (province, city, position)"),
            format!("CREATE INDEX fund_ledger_{slot}_scope ON fund_ledger_{slot} (province, city, jurisdiction, position)"),
        ]
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        slot: &str,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        // Each project touched by the batch is read once, folded, and written once.
        let mut touched: BTreeMap<String, (SubsidyProject, i64, i64, DateTime<Utc>)> =
            BTreeMap::new();
        for event in events {
            if event.aggregate_type != SubsidyProject::TYPE {
                continue;
            }
            if !touched.contains_key(&event.aggregate_id) {
                let state: SubsidyProject = tx
                    .state(&format!("project_states_{slot}"), "id", &event.aggregate_id)
                    .await?;
                touched.insert(event.aggregate_id.clone(), (state, 0, 0, event.recorded_at));
            }
            let decoded = decode(event)?;
            let entry = touched
                .get_mut(&event.aggregate_id)
                .expect("inserted above");
            if let Some((source, movement, amount, on)) = movement(&decoded) {
                let jurisdiction = match &decoded {
                    ProjectEvent::ProjectRegistered { jurisdiction, .. } => {
                        Some(jurisdiction.clone())
                    }
                    _ => entry.0.jurisdiction.clone(),
                };
                let (j, province, city) = scope_columns(jurisdiction.as_ref());
                tx.execute(
                    &format!(
                        "INSERT INTO fund_ledger_{slot} (position, project_id, sequence, jurisdiction, province, city, source, movement, amount_fen, on_date, recorded_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    &[
                        event.global_position.into(),
                        event.aggregate_id.clone().into(),
                        event.sequence.into(),
                        j.into(),
                        province.into(),
                        city.into(),
                        source.into(),
                        movement.into(),
                        amount.into(),
                        on.to_string().into(),
                        store::format_recorded_at(event.recorded_at).into(),
                    ],
                )
                .await?;
            }
            let before = (entry.0.stage, entry.0.suspended.is_some());
            entry.0.apply(decoded);
            let after = (entry.0.stage, entry.0.suspended.is_some());
            if before != after {
                let (j, province, city) = scope_columns(entry.0.jurisdiction.as_ref());
                tx.execute(
                    &format!(
                        "INSERT INTO stage_changes_{slot} (project_id, position, jurisdiction, province, city, stage, suspended) \
                         VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    &[
                        event.aggregate_id.clone().into(),
                        event.global_position.into(),
                        j.into(),
                        province.into(),
                        city.into(),
                        after.0.id().into(),
                        Arg::I64(after.1 as i64),
                    ],
                )
                .await?;
            }
            entry.1 = event.sequence;
            entry.2 = event.global_position;
            entry.3 = event.recorded_at;
        }
        for (id, (project, version, position, at)) in touched {
            let s = summarize(&id, &project, version, at);
            let (j, province, city) = scope_columns(project.jurisdiction.as_ref());
            let state =
                serde_json::to_string(&project).map_err(|e| ProjectionError::UnreadableRow {
                    table: format!("project_states_{slot}"),
                    id: id.clone(),
                    reason: e.to_string(),
                })?;
            tx.execute(
                &format!(
                    "INSERT INTO project_summaries_{slot} (id, name, name_folded, programme_id, programme_version, jurisdiction, province, city, stage, suspended, registered_on, approved_fen, paid_fen, clawback_outstanding_fen, version, last_position, last_recorded_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_folded = excluded.name_folded, \
                     programme_id = excluded.programme_id, programme_version = excluded.programme_version, \
                     jurisdiction = excluded.jurisdiction, province = excluded.province, city = excluded.city, \
                     stage = excluded.stage, suspended = excluded.suspended, registered_on = excluded.registered_on, \
                     approved_fen = excluded.approved_fen, paid_fen = excluded.paid_fen, \
                     clawback_outstanding_fen = excluded.clawback_outstanding_fen, version = excluded.version, \
                     last_position = excluded.last_position, last_recorded_at = excluded.last_recorded_at"
                ),
                &[
                    id.clone().into(),
                    s.name.clone().into(),
                    s.name.to_lowercase().into(),
                    s.programme_id.clone().into(),
                    i64::from(s.programme_version).into(),
                    j.into(),
                    province.into(),
                    city.into(),
                    s.stage.id().into(),
                    Arg::I64(s.suspended as i64),
                    Arg::OptText(s.registered_on.map(|d| d.to_string())),
                    s.approved.0.into(),
                    s.paid.0.into(),
                    s.clawback_outstanding.0.into(),
                    version.into(),
                    position.into(),
                    store::format_recorded_at(at).into(),
                ],
            )
            .await?;
            tx.execute(
                &format!(
                    "INSERT INTO project_states_{slot} (id, state) VALUES (?, ?) \
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state"
                ),
                &[id.clone().into(), state.into()],
            )
            .await?;
        }
        Ok(())
    }
}

/// The money movement an event records: (source, movement, amount in fen, business date).
fn movement(event: &ProjectEvent) -> Option<(String, &'static str, i64, NaiveDate)> {
    use ProjectEvent as E;
    let source = |s: &workflows::programme::FundSource| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    match event {
        E::FundsApproved {
            source: s,
            amount,
            approved_on,
        } => Some((source(s), "approved", amount.0, *approved_on)),
        E::TrancheDisbursed {
            source: s,
            amount,
            paid_on,
            ..
        } => Some((source(s), "tranche", amount.0, *paid_on)),
        E::FundsSettled {
            source: s,
            amount,
            settled_on,
        } => Some((source(s), "settlement", amount.0, *settled_on)),
        E::ClawbackOrdered {
            source: s,
            amount,
            ordered_on,
            ..
        } => Some((source(s), "clawback_ordered", amount.0, *ordered_on)),
        E::ClawbackSettled {
            source: s,
            amount,
            settled_on,
        } => Some((source(s), "clawback_settled", amount.0, *settled_on)),
        _ => None,
    }
}

/// (jurisdiction, its province, its city) as stored; a province's city column is empty.
fn scope_columns(j: Option<&JurisdictionCode>) -> (String, String, String) {
    match j {
        Some(j) => (
            j.to_string(),
            j.province().to_string(),
            j.city().map(|c| c.to_string()).unwrap_or_default(),
        ),
        None => Default::default(),
    }
}

/// The condition "the row's jurisdiction lies inside `code`" and its argument.
fn inside(code: &JurisdictionCode) -> (&'static str, Arg) {
    match code.level() {
        JurisdictionLevel::Province => ("province = ?", code.as_str().into()),
        JurisdictionLevel::City => ("city = ?", code.as_str().into()),
        JurisdictionLevel::County => ("jurisdiction = ?", code.as_str().into()),
    }
}

/// How the project list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Jurisdiction, then name, then id (the default).
    #[default]
    Jurisdiction,
    Name,
    RegisteredOn,
    RegisteredOnDesc,
    PaidDesc,
    RecentlyChanged,
}

impl SortOrder {
    pub const ALL: [(&'static str, SortOrder); 6] = [
        ("jurisdiction", SortOrder::Jurisdiction),
        ("name", SortOrder::Name),
        ("registered_on", SortOrder::RegisteredOn),
        ("-registered_on", SortOrder::RegisteredOnDesc),
        ("-paid_fen", SortOrder::PaidDesc),
        ("-last_recorded_at", SortOrder::RecentlyChanged),
    ];

    pub fn parse(s: &str) -> Option<SortOrder> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, o)| *o)
    }

    fn sql(self) -> &'static str {
        match self {
            SortOrder::Jurisdiction => "jurisdiction, name, id",
            SortOrder::Name => "name, id",
            SortOrder::RegisteredOn => "registered_on, id",
            SortOrder::RegisteredOnDesc => "registered_on DESC, id",
            SortOrder::PaidDesc => "paid_fen DESC, id",
            SortOrder::RecentlyChanged => "last_position DESC",
        }
    }
}

/// A query of the project list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The reader's grants: a project is listed only inside one of them (an empty list gives
    /// nothing). `None`: no restriction (the CLI, run by the operator of the database).
    pub grants: Option<Vec<JurisdictionCode>>,
    /// Narrows to a subtree (province, city or county).
    pub scope: Option<JurisdictionCode>,
    pub programme: Option<String>,
    pub stage: Option<Stage>,
    /// Case-insensitive substring of the name or the id.
    pub text: Option<String>,
    /// Keep only these ids (or, with `exclude_ids`, drop them).
    pub ids: Option<Vec<String>>,
    pub exclude_ids: bool,
    pub sort: SortOrder,
    pub limit: i64,
    pub offset: i64,
}

/// Reads the live project list: (total matching, the page).
pub async fn list(
    db: &Db,
    slot: &str,
    q: &ListQuery,
) -> Result<(i64, Vec<ProjectSummary>), ProjectionError> {
    let mut conditions: Vec<String> = vec!["1 = 1".to_string()];
    let mut args: Vec<Arg> = Vec::new();
    if let Some(grants) = &q.grants {
        if grants.is_empty() {
            return Ok((0, Vec::new()));
        }
        let mut grant_terms = Vec::new();
        for g in grants {
            let (cond, arg) = inside(g);
            grant_terms.push(cond.to_string());
            args.push(arg);
        }
        conditions.push(format!("({})", grant_terms.join(" OR ")));
    }
    if let Some(scope) = &q.scope {
        let (cond, arg) = inside(scope);
        conditions.push(cond.to_string());
        args.push(arg);
    }
    if let Some(p) = &q.programme {
        conditions.push("programme_id = ?".into());
        args.push(p.as_str().into());
    }
    if let Some(stage) = q.stage {
        conditions.push("stage = ?".into());
        args.push(stage.id().into());
    }
    if let Some(text) = &q.text {
        let pattern = format!(
            "%{}%",
            text.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        conditions.push("(name_folded LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')".into());
        args.push(pattern.clone().into());
        args.push(pattern.into());
    }
    if let Some(ids) = &q.ids {
        if ids.is_empty() {
            if !q.exclude_ids {
                return Ok((0, Vec::new()));
            }
        } else {
            let marks = vec!["?"; ids.len()].join(", ");
            conditions.push(format!(
                "id {}IN ({marks})",
                if q.exclude_ids { "NOT " } else { "" }
            ));
            args.extend(ids.iter().map(|i| Arg::from(i.as_str())));
        }
    }
    let filter = conditions.join(" AND ");
    let total = db
        .fetch_all(
            &format!("SELECT COUNT(*) FROM project_summaries_{slot} WHERE {filter}"),
            &args,
        )
        .await?
        .first()
        .map(|r| r[0].i64())
        .unwrap_or(0);
    let mut page_args = args.clone();
    page_args.push(q.limit.into());
    page_args.push(q.offset.into());
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM project_summaries_{slot} WHERE {filter} ORDER BY {} LIMIT ? OFFSET ?",
                q.sort.sql()
            ),
            &page_args,
        )
        .await?;
    Ok((total, rows.iter().map(|r| summary_of_row(r)).collect()))
}

/// One project's summary and aggregate state from the live table.
pub async fn get(
    db: &Db,
    slot: &str,
    id: &str,
) -> Result<Option<(ProjectSummary, SubsidyProject)>, ProjectionError> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {SUMMARY_COLUMNS}, state FROM project_summaries_{slot} \
                 JOIN project_states_{slot} USING (id) WHERE id = ?"
            ),
            &[id.into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let state =
        serde_json::from_str(&row[14].text()).map_err(|e| ProjectionError::UnreadableRow {
            table: format!("project_states_{slot}"),
            id: id.to_string(),
            reason: e.to_string(),
        })?;
    Ok(Some((summary_of_row(row), state)))
}

/// Every row of the live summaries table, ordered by id (for comparisons with a rebuild).
pub async fn all_rows(db: &Db, slot: &str) -> Result<Vec<Vec<Val>>, ProjectionError> {
    db.fetch_all(
        &format!(
            "SELECT {SUMMARY_COLUMNS}, state FROM project_summaries_{slot} \
             JOIN project_states_{slot} USING (id) ORDER BY id"
        ),
        &[],
    )
    .await
}

/// Every row of the live ledger table, in position order.
pub async fn all_ledger_rows(db: &Db, slot: &str) -> Result<Vec<Vec<Val>>, ProjectionError> {
    db.fetch_all(
        &format!(
            "SELECT position, project_id, sequence, jurisdiction, province, city, source, movement, amount_fen, on_date, recorded_at FROM fund_ledger_{slot} ORDER BY position"
        ),
        &[],
    )
    .await
}

/// One money movement of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub position: i64,
    pub project_id: String,
    pub sequence: i64,
    pub source: String,
    pub movement: String,
    pub amount_fen: i64,
    pub on_date: String,
    pub recorded_at: String,
}

/// A project's ledger, as of `position` (all of it with `i64::MAX`).
pub async fn ledger(
    db: &Db,
    slot: &str,
    project_id: &str,
    position: i64,
) -> Result<Vec<LedgerEntry>, ProjectionError> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT position, project_id, sequence, source, movement, amount_fen, on_date, recorded_at FROM fund_ledger_{slot} \
                 WHERE project_id = ? AND position <= ? ORDER BY position"
            ),
            &[project_id.into(), position.into()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LedgerEntry {
            position: r[0].i64(),
            project_id: r[1].text(),
            sequence: r[2].i64(),
            source: r[3].text(),
            movement: r[4].text(),
            amount_fen: r[5].i64(),
            on_date: r[6].text(),
            recorded_at: r[7].text(),
        })
        .collect())
}

fn summary_of_row(r: &[Val]) -> ProjectSummary {
    let stage = Stage::from_id(&r[5].text()).unwrap_or_default();
    ProjectSummary {
        id: r[0].text(),
        name: r[1].text(),
        programme_id: r[2].text(),
        programme_version: u32::try_from(r[3].i64()).unwrap_or_default(),
        jurisdiction: r[4].text(),
        stage,
        stage_label: stage.label_zh(),
        suspended: r[6].i64() != 0,
        registered_on: r[7].opt_text().and_then(|d| d.parse().ok()),
        approved: Fen(r[8].i64()),
        paid: Fen(r[9].i64()),
        clawback_outstanding: Fen(r[10].i64()),
        version: r[11].i64(),
        last_recorded_at: DateTime::parse_from_rfc3339(&r[12].text())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    }
}

/// One row of a jurisdiction roll-up: a county, a city, or the whole scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RollupRow {
    /// The GB/T 2260 code of the row.
    pub jurisdiction: String,
    pub projects: i64,
    /// Projects per stage id (suspended ones are counted in their stage and in `suspended`).
    pub stages: BTreeMap<String, i64>,
    pub suspended: i64,
    /// Money per funding source.
    pub funds: BTreeMap<String, FundsRow>,
}

/// Money of one source in a roll-up, all in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FundsRow {
    pub approved_fen: i64,
    pub paid_fen: i64,
    /// Approved and not (yet) paid.
    pub remaining_fen: i64,
    pub clawback_ordered_fen: i64,
    pub clawback_recovered_fen: i64,
}

/// A roll-up of `scope` one level down (a province by city, a city by county, a county alone),
/// with the total, as of `position` (the whole log with `i64::MAX`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rollup {
    pub scope: String,
    pub position: i64,
    pub total: RollupRow,
    pub children: Vec<RollupRow>,
}

/// The roll-up of `scope` as of `position`, from the stage history and the fund ledger (both
/// keyed by position, so a past position is a range query, not a replay).
pub async fn rollup(
    db: &Db,
    slot: &str,
    scope: &JurisdictionCode,
    position: i64,
) -> Result<Rollup, ProjectionError> {
    let (condition, arg) = inside(scope);
    let child = match scope.level() {
        JurisdictionLevel::Province => "city",
        JurisdictionLevel::City | JurisdictionLevel::County => "jurisdiction",
    };
    // The latest stage change of each project at or before the position.
    let stages = db
        .fetch_all(
            &format!(
                "SELECT s.{child}, s.stage, s.suspended, COUNT(*) FROM stage_changes_{slot} s \
                 JOIN (SELECT project_id, MAX(position) AS last FROM stage_changes_{slot} \
                       WHERE {condition} AND position <= ? GROUP BY project_id) m \
                   ON m.project_id = s.project_id AND m.last = s.position \
                 GROUP BY s.{child}, s.stage, s.suspended"
            ),
            &[arg.clone(), position.into()],
        )
        .await?;
    let money = db
        .fetch_all(
            &format!(
                "SELECT {child}, source, movement, CAST(SUM(amount_fen) AS BIGINT) FROM fund_ledger_{slot} \
                 WHERE {condition} AND position <= ? GROUP BY {child}, source, movement"
            ),
            &[arg, position.into()],
        )
        .await?;
    let mut rows: BTreeMap<String, RollupRow> = BTreeMap::new();
    let mut total = RollupRow {
        jurisdiction: scope.to_string(),
        ..Default::default()
    };
    for r in &stages {
        let (code, stage, suspended, count) = (r[0].text(), r[1].text(), r[2].i64(), r[3].i64());
        // A project registered at the scope's own level (a province-level project in a
        // province roll-up) has no child: it is listed under the scope's code.
        let code = if code.is_empty() {
            scope.to_string()
        } else {
            code
        };
        if stage == Stage::Unregistered.id() {
            continue;
        }
        for row in [rows.entry(code.clone()).or_default(), &mut total] {
            row.projects += count;
            *row.stages.entry(stage.clone()).or_default() += count;
            if suspended != 0 {
                row.suspended += count;
            }
        }
    }
    for r in &money {
        let (code, source, movement, amount) = (r[0].text(), r[1].text(), r[2].text(), r[3].i64());
        let code = if code.is_empty() {
            scope.to_string()
        } else {
            code
        };
        for row in [rows.entry(code.clone()).or_default(), &mut total] {
            let f = row.funds.entry(source.clone()).or_default();
            match movement.as_str() {
                "approved" => f.approved_fen += amount,
                "tranche" | "settlement" => f.paid_fen += amount,
                "clawback_ordered" => f.clawback_ordered_fen += amount,
                "clawback_settled" => f.clawback_recovered_fen += amount,
                _ => {}
            }
        }
    }
    let finish = |row: &mut RollupRow| {
        for f in row.funds.values_mut() {
            f.remaining_fen = f.approved_fen - f.paid_fen;
        }
    };
    finish(&mut total);
    let children = rows
        .into_iter()
        .map(|(code, mut row)| {
            row.jurisdiction = code;
            finish(&mut row);
            row
        })
        .collect();
    Ok(Rollup {
        scope: scope.to_string(),
        position,
        total,
        children,
    })
}

/// One reminder of the log: what was (or is to be) sent to whom for which deadline, and how
/// its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReminderLogEntry {
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

/// A query of the reminder log.
#[derive(Debug, Clone, Default)]
pub struct ReminderLogQuery {
    /// The reader's grants (`None`: no restriction).
    pub grants: Option<Vec<JurisdictionCode>>,
    pub scope: Option<JurisdictionCode>,
    pub project_id: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The reminder log (the outbox joined with the live project list for the jurisdiction), newest
/// first: (total matching, the page).
pub async fn reminder_log(
    db: &Db,
    slot: &str,
    q: &ReminderLogQuery,
) -> Result<(i64, Vec<ReminderLogEntry>), ProjectionError> {
    let mut conditions = vec!["1 = 1".to_string()];
    let mut args: Vec<Arg> = Vec::new();
    if let Some(grants) = &q.grants {
        if grants.is_empty() {
            return Ok((0, Vec::new()));
        }
        let mut terms = Vec::new();
        for g in grants {
            let (cond, arg) = inside(g);
            terms.push(format!("p.{cond}"));
            args.push(arg);
        }
        conditions.push(format!("({})", terms.join(" OR ")));
    }
    if let Some(scope) = &q.scope {
        let (cond, arg) = inside(scope);
        conditions.push(format!("p.{cond}"));
        args.push(arg);
    }
    if let Some(id) = &q.project_id {
        conditions.push("o.project_id = ?".into());
        args.push(id.as_str().into());
    }
    if let Some(status) = &q.status {
        conditions.push("o.status = ?".into());
        args.push(status.as_str().into());
    }
    let from = format!(
        "FROM reminder_outbox o JOIN project_summaries_{slot} p ON p.id = o.project_id WHERE {}",
        conditions.join(" AND ")
    );
    let total = db
        .fetch_all(&format!("SELECT COUNT(*) {from}"), &args)
        .await?
        .first()
        .map(|r| r[0].i64())
        .unwrap_or(0);
    let mut page_args = args;
    page_args.push(q.limit.into());
    page_args.push(q.offset.into());
    let rows = db
        .fetch_all(
            &format!(
                "SELECT o.id, o.project_id, p.name, p.jurisdiction, o.deadline_id, o.due_on, o.kind, \
                 o.recipient_name, o.recipient_email, o.recipient_role, o.subject, o.reason, o.created_at, \
                 o.status, o.attempts, o.sent_at, o.last_error {from} ORDER BY o.id DESC LIMIT ? OFFSET ?"
            ),
            &page_args,
        )
        .await?;
    Ok((
        total,
        rows.iter()
            .map(|r| ReminderLogEntry {
                id: r[0].i64(),
                project_id: r[1].text(),
                project_name: r[2].text(),
                jurisdiction: r[3].text(),
                deadline_id: r[4].text(),
                due_on: r[5].text(),
                kind: r[6].text(),
                recipient_name: r[7].text(),
                recipient_email: r[8].text(),
                recipient_role: r[9].text(),
                subject: r[10].text(),
                reason: r[11].text(),
                created_at: r[12].text(),
                status: r[13].text(),
                attempts: r[14].i64(),
                sent_at: r[15].opt_text(),
                last_error: r[16].opt_text(),
            })
            .collect(),
    ))
}
