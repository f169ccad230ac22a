//! The facts behind the annex tables the bureaus exchange (seed 000's annexes 1–4, seed 002's
//! township progress table): projection `annex`, one row per fact a table needs, so that a
//! table of any jurisdiction as of any moment is a range query, not a replay.
//!
//! Main items: [`AnnexProjection`] (table `annex_facts_<slot>`: one row per registration, plan,
//! progress report and official assignment, with its position, project, programme, province /
//! city / county, `recorded_at` and the event's data as JSON), [`facts`] (the facts of some
//! programmes inside a jurisdiction, up to a position and a recording time) and the folds that
//! turn them into table figures: [`progress_by_city`] (annex 1), [`plans_by_city`] (annex 3),
//! [`officials_by_unit`] (annex 4) and [`townships`] (seed 002).
//!
//! Rules shared by every table: a unit (a city, a township) is the one its form names; of
//! several reports of one unit for one period the latest recorded wins (the forms carry the
//! unit's whole figure, 全市合计, so they are never added up across projects); a total is the
//! sum of the units' figures, except the county distribution centres (a county has them once,
//! every township reports the same ones: the total is the largest figure).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::{JurisdictionCode, JurisdictionLevel, ProjectEvent, SubsidyProject};
use serde::Serialize;
use serde_json::{json, Value};
use store::StoredEvent;

use crate::runtime::SqlProjection;
use crate::sql::{Arg, Db, Tx};
use crate::{decode, ProjectionError};

/// The projection's name in `projection_checkpoints`.
pub const ANNEX: &str = "annex";

/// The persisted facts of the annex tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnnexProjection;

/// What a fact records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// `ProjectRegistered`: `{name, registered_on}`.
    Registration,
    /// `PlanSubmitted`: `{revision, submitted_on, form}`.
    Plan,
    /// `ProgressReportSubmitted`: `{period, reported_on, form}`.
    Report,
    /// `OfficialAssigned`: `{role, official}`.
    Official,
}

impl FactKind {
    pub fn id(self) -> &'static str {
        match self {
            FactKind::Registration => "registration",
            FactKind::Plan => "plan",
            FactKind::Report => "report",
            FactKind::Official => "official",
        }
    }

    fn parse(s: &str) -> Option<FactKind> {
        [
            FactKind::Registration,
            FactKind::Plan,
            FactKind::Report,
            FactKind::Official,
        ]
        .into_iter()
        .find(|k| k.id() == s)
    }
}

/// One fact as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub position: i64,
    pub project_id: String,
    pub kind: FactKind,
    pub programme_id: String,
    pub programme_version: i64,
    /// The project's GB/T 2260 code.
    pub jurisdiction: String,
    /// The code of its city (empty for a province-level project).
    pub city: String,
    pub recorded_at: String,
    pub data: Value,
}

#[async_trait]
impl SqlProjection for AnnexProjection {
    fn name(&self) -> &'static str {
        ANNEX
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self, slot: &str) -> Vec<String> {
        vec![format!("annex_facts_{slot}")]
    }

    fn create(&self, slot: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE annex_facts_{slot} (
                    position bigint PRIMARY KEY,
                    project_id text NOT NULL,
                    sequence bigint NOT NULL,
                    kind text NOT NULL,
                    programme_id text NOT NULL,
                    programme_version bigint NOT NULL,
                    jurisdiction text NOT NULL,
                    province text NOT NULL,
                    city text NOT NULL,
                    recorded_at text NOT NULL,
                    data text NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX annex_facts_{slot}_scope ON annex_facts_{slot} (programme_id, province, city, position)"
            ),
            format!(
                "CREATE INDEX annex_facts_{slot}_project ON annex_facts_{slot} (project_id, kind)"
            ),
        ]
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        slot: &str,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        // Each project's registration (programme and place), read once per batch.
        let mut registered: BTreeMap<String, Option<Registration>> = BTreeMap::new();
        for event in events {
            if event.aggregate_type != SubsidyProject::TYPE {
                continue;
            }
            let decoded = decode(event)?;
            let (kind, data) = match &decoded {
                ProjectEvent::ProjectRegistered {
                    name,
                    programme_id,
                    programme_version,
                    jurisdiction,
                    registered_on,
                    ..
                } => {
                    registered.insert(
                        event.aggregate_id.clone(),
                        Some(Registration {
                            programme_id: programme_id.clone(),
                            programme_version: i64::from(*programme_version),
                            jurisdiction: jurisdiction.clone(),
                        }),
                    );
                    (
                        FactKind::Registration,
                        json!({"name": name, "registered_on": registered_on}),
                    )
                }
                ProjectEvent::PlanSubmitted {
                    revision,
                    submitted_on,
                    form,
                } => (
                    FactKind::Plan,
                    json!({"revision": revision, "submitted_on": submitted_on, "form": form}),
                ),
                ProjectEvent::ProgressReportSubmitted {
                    period,
                    reported_on,
                    form,
                } => (
                    FactKind::Report,
                    json!({"period": period, "reported_on": reported_on, "form": form}),
                ),
                ProjectEvent::OfficialAssigned { role, official } => (
                    FactKind::Official,
                    json!({"role": role, "official": official}),
                ),
                _ => continue,
            };
            if !registered.contains_key(&event.aggregate_id) {
                let rows = tx
                    .fetch_all(
                        &format!(
                            "SELECT programme_id, programme_version, jurisdiction FROM annex_facts_{slot} \
                             WHERE project_id = ? AND kind = 'registration'"
                        ),
                        &[event.aggregate_id.as_str().into()],
                    )
                    .await?;
                let registration = rows.first().and_then(|r| {
                    Some(Registration {
                        programme_id: r[0].text(),
                        programme_version: r[1].i64(),
                        jurisdiction: JurisdictionCode::parse(&r[2].text()).ok()?,
                    })
                });
                registered.insert(event.aggregate_id.clone(), registration);
            }
            // The aggregate refuses every command before registration, so a project's facts
            // always follow its registration; one that did not could not be placed in a table.
            let Some(Some(r)) = registered.get(&event.aggregate_id) else {
                tracing::warn!(project = %event.aggregate_id, position = event.global_position,
                    "annex: a fact of a project without registration is left out");
                continue;
            };
            let city = r
                .jurisdiction
                .city()
                .map(|c| c.to_string())
                .unwrap_or_default();
            let data =
                serde_json::to_string(&data).map_err(|e| ProjectionError::UnreadableRow {
                    table: format!("annex_facts_{slot}"),
                    id: event.global_position.to_string(),
                    reason: e.to_string(),
                })?;
            tx.execute(
                &format!(
                    "INSERT INTO annex_facts_{slot} (position, project_id, sequence, kind, programme_id, programme_version, jurisdiction, province, city, recorded_at, data) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                &[
                    event.global_position.into(),
                    event.aggregate_id.clone().into(),
                    event.sequence.into(),
                    kind.id().into(),
                    r.programme_id.clone().into(),
                    r.programme_version.into(),
                    r.jurisdiction.to_string().into(),
                    r.jurisdiction.province().to_string().into(),
                    city.into(),
                    store::format_recorded_at(event.recorded_at).into(),
                    data.into(),
                ],
            )
            .await?;
        }
        Ok(())
    }
}

struct Registration {
    programme_id: String,
    programme_version: i64,
    jurisdiction: JurisdictionCode,
}

/// Which facts a table reads.
#[derive(Debug, Clone)]
pub struct FactQuery {
    /// Facts of projects of these programme ids (every version).
    pub programmes: Vec<String>,
    /// Only facts of these kinds (every kind when empty).
    pub kinds: Vec<FactKind>,
    /// Facts of projects inside this division.
    pub scope: JurisdictionCode,
    /// Only facts up to this global position (the live slot's position, for a consistent
    /// snapshot).
    pub position: i64,
    /// Only facts recorded at or before this instant ("as of").
    pub as_of: Option<DateTime<Utc>>,
}

/// The facts matching `q`, in position order.
pub async fn facts(db: &Db, slot: &str, q: &FactQuery) -> Result<Vec<Fact>, ProjectionError> {
    if q.programmes.is_empty() {
        return Ok(Vec::new());
    }
    let (scope_condition, scope_arg) = match q.scope.level() {
        JurisdictionLevel::Province => ("province = ?", q.scope.as_str()),
        JurisdictionLevel::City => ("city = ?", q.scope.as_str()),
        JurisdictionLevel::County => ("jurisdiction = ?", q.scope.as_str()),
    };
    let marks = vec!["?"; q.programmes.len()].join(", ");
    let mut args: Vec<Arg> = q.programmes.iter().map(|p| p.as_str().into()).collect();
    args.push(scope_arg.into());
    args.push(q.position.into());
    let mut sql = format!(
        "SELECT position, project_id, kind, programme_id, programme_version, jurisdiction, city, recorded_at, data \
         FROM annex_facts_{slot} WHERE programme_id IN ({marks}) AND {scope_condition} AND position <= ?"
    );
    if !q.kinds.is_empty() {
        sql.push_str(&format!(
            " AND kind IN ({})",
            vec!["?"; q.kinds.len()].join(", ")
        ));
        args.extend(q.kinds.iter().map(|k| Arg::from(k.id())));
    }
    if let Some(at) = q.as_of {
        sql.push_str(" AND recorded_at <= ?");
        args.push(store::format_recorded_at(at).into());
    }
    sql.push_str(" ORDER BY position");
    let rows = db.fetch_all(&sql, &args).await?;
    rows.into_iter()
        .map(|r| {
            let unreadable = |reason: String| ProjectionError::UnreadableRow {
                table: format!("annex_facts_{slot}"),
                id: r[0].text(),
                reason,
            };
            let kind = FactKind::parse(&r[2].text())
                .ok_or_else(|| unreadable(format!("unknown kind '{}'", r[2].text())))?;
            let data = serde_json::from_str(&r[8].text()).map_err(|e| unreadable(e.to_string()))?;
            Ok(Fact {
                position: r[0].i64(),
                project_id: r[1].text(),
                kind,
                programme_id: r[3].text(),
                programme_version: r[4].i64(),
                jurisdiction: r[5].text(),
                city: r[6].text(),
                recorded_at: r[7].text(),
                data,
            })
        })
        .collect()
}

/// The unit a form names: its `city` (seed 000's forms), `reporting_unit` (seed 002's) or
/// `township` field, whichever it has.
pub fn form_unit(form: &Value) -> Option<String> {
    ["city", "reporting_unit", "township"]
        .iter()
        .find_map(|k| form.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn form_of(fact: &Fact) -> &Value {
    &fact.data["form"]
}

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// Every project's unit: the unit its latest plan or report names, else what `name_of`
/// calls its city's code (its own code, for a province-level project).
pub fn project_units(facts: &[Fact], name_of: &dyn Fn(&str) -> String) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in facts {
        if f.kind == FactKind::Registration {
            let code = if f.city.is_empty() {
                &f.jurisdiction
            } else {
                &f.city
            };
            out.entry(f.project_id.clone()).or_insert(name_of(code));
        }
    }
    for f in facts {
        if matches!(f.kind, FactKind::Plan | FactKind::Report) {
            if let Some(unit) = form_unit(form_of(f)) {
                out.insert(f.project_id.clone(), unit);
            }
        }
    }
    out
}

/// Seed 000's four reporting periods, in the order of annex 1's columns.
pub const PERIODS: [&str; 4] = ["一季度", "上半年", "三季度", "全年"];

/// Annex 1: per unit, the 安装数量 (`figures.install_count`) of its latest report for each of
/// [`PERIODS`] (`None` where none was filed), and the totals over units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressTable {
    pub rows: BTreeMap<String, [Option<i64>; 4]>,
    pub total: [Option<i64>; 4],
}

/// Folds annex 1 from report facts (their form's `period`, or the report's own period when the
/// form has none).
pub fn progress_by_city(facts: &[Fact]) -> ProgressTable {
    let mut table = ProgressTable::default();
    for f in facts.iter().filter(|f| f.kind == FactKind::Report) {
        let form = form_of(f);
        let Some(unit) = form_unit(form) else {
            continue;
        };
        let period = form
            .get("period")
            .and_then(Value::as_str)
            .or_else(|| f.data["period"].as_str())
            .unwrap_or_default();
        let Some(column) = PERIODS.iter().position(|p| *p == period) else {
            continue;
        };
        let Some(count) = int(form, "/figures/install_count") else {
            continue;
        };
        // Facts are in position order: a later report of the unit and period replaces it.
        table.rows.entry(unit).or_default()[column] = Some(count);
    }
    for row in table.rows.values() {
        for (total, value) in table.total.iter_mut().zip(row) {
            if let Some(v) = value {
                *total = Some(total.unwrap_or(0) + v);
            }
        }
    }
    table
}

/// The four figures of seed 000's plans and reports, in the order of annex 3's columns.
pub const FIGURES: [&str; 4] = [
    "install_count",
    "cumulative_groups",
    "compartments",
    "parcels_delivered",
];

/// Annex 3: per unit, the 本年计划 figures of its latest plan (`annual_plan`), and the totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanTable {
    pub rows: BTreeMap<String, [Option<i64>; 4]>,
    pub total: [Option<i64>; 4],
}

/// Folds annex 3's 本年计划 from plan facts: the latest plan of each unit.
pub fn plans_by_city(facts: &[Fact]) -> PlanTable {
    let mut table = PlanTable::default();
    for f in facts.iter().filter(|f| f.kind == FactKind::Plan) {
        let form = form_of(f);
        let Some(unit) = form_unit(form) else {
            continue;
        };
        let Some(plan) = form.get("annual_plan") else {
            continue;
        };
        let figures = FIGURES.map(|k| plan.get(k).and_then(Value::as_i64));
        table.rows.insert(unit, figures);
    }
    for row in table.rows.values() {
        for (total, value) in table.total.iter_mut().zip(row) {
            if let Some(v) = value {
                *total = Some(total.unwrap_or(0) + v);
            }
        }
    }
    table
}

/// One official as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficialRow {
    pub name: String,
    pub post: String,
    pub phone: Option<String>,
    pub email: String,
}

/// Annex 4's two officials of one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitOfficials {
    /// 分管领导.
    pub official_in_charge: Option<OfficialRow>,
    /// 联络员.
    pub liaison: Option<OfficialRow>,
}

/// Annex 4: per unit (see [`project_units`]), the latest official assigned in each role on any
/// of its projects. Every unit with a project is listed, with or without officials.
pub fn officials_by_unit(
    facts: &[Fact],
    name_of: &dyn Fn(&str) -> String,
) -> BTreeMap<String, UnitOfficials> {
    let units = project_units(facts, name_of);
    let mut out: BTreeMap<String, UnitOfficials> = units
        .values()
        .map(|u| (u.clone(), UnitOfficials::default()))
        .collect();
    for f in facts.iter().filter(|f| f.kind == FactKind::Official) {
        let Some(unit) = units.get(&f.project_id) else {
            continue;
        };
        let o = &f.data["official"];
        let row = OfficialRow {
            name: o["name"].as_str().unwrap_or_default().to_string(),
            post: o["post"].as_str().unwrap_or_default().to_string(),
            phone: o["phone"].as_str().map(str::to_string),
            email: o["email"].as_str().unwrap_or_default().to_string(),
        };
        let entry = out.entry(unit.clone()).or_default();
        match f.data["role"].as_str() {
            Some("official_in_charge") => entry.official_in_charge = Some(row),
            Some("liaison") => entry.liaison = Some(row),
            _ => {}
        }
    }
    out
}

/// Seed 002's progress of one township (or of the whole table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TownshipRow {
    /// 县级快递共同配送中心 built, from the latest report.
    pub county_centres_built: Option<i64>,
    /// 镇级快递公共服务中心 built, from the latest report.
    pub township_centres_built: Option<i64>,
    /// 村级快递服务网点 built, from the latest report.
    pub village_points_built: Option<i64>,
    /// 村级快递服务网点 planned: the points listed in the latest plan.
    pub village_points_planned: Option<i64>,
    /// 行政村 in the township, from the latest report.
    pub villages_total: Option<i64>,
    /// 行政村 covered, from the latest report.
    pub villages_covered: Option<i64>,
}

impl TownshipRow {
    /// Coverage: villages covered / villages in total, when both are known and the total is
    /// not zero.
    pub fn coverage(&self) -> Option<f64> {
        match (self.villages_covered, self.villages_total) {
            (Some(c), Some(t)) if t > 0 => Some(c as f64 / t as f64),
            _ => None,
        }
    }
}

/// The township table: per unit, and the total row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TownshipTable {
    pub rows: BTreeMap<String, TownshipRow>,
    pub total: TownshipRow,
}

/// Folds seed 002's township table: the latest report and the latest plan of each unit. The
/// total adds the units up, but the county centres: a county has them once, and each township
/// reports the same ones, so their total is the largest figure reported.
pub fn townships(facts: &[Fact]) -> TownshipTable {
    let mut table = TownshipTable::default();
    for f in facts {
        let form = form_of(f);
        let Some(unit) = form_unit(form) else {
            continue;
        };
        match f.kind {
            FactKind::Report => {
                let row = table.rows.entry(unit).or_default();
                row.county_centres_built = int(form, "/county_centres_built");
                row.township_centres_built = int(form, "/township_centres_built");
                row.village_points_built = int(form, "/village_points_built");
                row.villages_total = int(form, "/villages_total");
                row.villages_covered = int(form, "/villages_covered");
            }
            FactKind::Plan => {
                let planned = form
                    .get("village_points")
                    .and_then(Value::as_array)
                    .map(|a| a.len() as i64);
                table.rows.entry(unit).or_default().village_points_planned = planned;
            }
            _ => {}
        }
    }
    let add = |total: &mut Option<i64>, v: Option<i64>| {
        if let Some(v) = v {
            *total = Some(total.unwrap_or(0) + v);
        }
    };
    let mut total = TownshipRow::default();
    for row in table.rows.values() {
        if let Some(v) = row.county_centres_built {
            total.county_centres_built = Some(total.county_centres_built.unwrap_or(0).max(v));
        }
        add(
            &mut total.township_centres_built,
            row.township_centres_built,
        );
        add(&mut total.village_points_built, row.village_points_built);
        add(
            &mut total.village_points_planned,
            row.village_points_planned,
        );
        // Coverage adds only townships that report both figures, so that the total rate is
        // covered / total over the same townships.
        if let (Some(c), Some(t)) = (row.villages_covered, row.villages_total) {
            add(&mut total.villages_covered, Some(c));
            add(&mut total.villages_total, Some(t));
        }
    }
    table.total = total;
    table
}
