//! Programmes as data: one subsidy programme's labels and parameters for the engine's fixed
//! lifecycle, loaded from a JSON definition file and checked before anything runs under it.
//!
//! The main types are [`Programme`] (one versioned definition), [`ProgrammeRegistry`] (every
//! loaded definition, keyed by [`ProgrammeKey`]), [`FormError`] (a form that does not satisfy
//! its schema) and [`DefinitionError`] (a definition that is refused at load).
//!
//! A definition is checked in three steps: JSON syntax, the meta-schema
//! `schema/programme.schema.json`, then the semantic rules that JSON Schema cannot express
//! (see `registry.rs`). Whatever is refused names the file, the JSON pointer and the reason.

pub mod diff;
mod forms;
mod registry;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

pub use forms::{FieldError, FormError};
pub use registry::{DefinitionError, ProgrammeRegistry};

/// The engine stages that a programme labels, in lifecycle order. `suspended` and
/// `terminated` are engine stages too, but programmes do not label them.
pub const LABELLED_STAGES: [&str; 8] = [
    "registered",
    "plan_submitted",
    "plan_approved",
    "notice",
    "construction",
    "acceptance",
    "evaluation",
    "closed",
];

/// The engine events that a relative deadline ([`DueRule::After`]) may count from.
pub const EVENT_ANCHORS: [&str; 10] = [
    "registered",
    "plan_approved",
    "notice_published",
    "notice_closed",
    "construction_started",
    "acceptance_requested",
    "acceptance_failed",
    "acceptance_passed",
    "evaluated",
    "clawback_ordered",
];

/// The forms every programme must define, because the engine asks for them by name.
pub const REQUIRED_FORMS: [&str; 3] = ["plan", "progress_report", "officials"];

/// The level of government a fund comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundSource {
    Province,
    City,
    County,
}

impl FundSource {
    /// The Chinese label used on forms and reports.
    pub fn label_zh(self) -> &'static str {
        match self {
            FundSource::Province => "省级",
            FundSource::City => "市级",
            FundSource::County => "县级",
        }
    }
}

/// The responsible officials named on the responsible-person list (seed 000, annex 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficialRole {
    /// 分管领导: receives the escalation when a deadline is missed.
    OfficialInCharge,
    /// 联络员: the working contact who receives the ordinary reminders.
    Liaison,
}

impl OfficialRole {
    /// The Chinese label used on forms and e-mails.
    pub fn label_zh(self) -> &'static str {
        match self {
            OfficialRole::OfficialInCharge => "分管领导",
            OfficialRole::Liaison => "联络员",
        }
    }
}

/// The grade of a performance evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Excellent,
    Good,
    Fair,
    Poor,
}

impl Grade {
    /// 优 / 良 / 中 / 差.
    pub fn label_zh(self) -> &'static str {
        match self {
            Grade::Excellent => "优",
            Grade::Good => "良",
            Grade::Fair => "中",
            Grade::Poor => "差",
        }
    }
}

/// Identifies one version of one programme. A running project keeps the key it started under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProgrammeKey {
    pub id: String,
    pub version: u32,
}

impl fmt::Display for ProgrammeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@v{}", self.id, self.version)
    }
}

/// The document a programme is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub document: String,
    /// The document number (文号), when the document has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub issuer: String,
    pub date: NaiveDate,
    /// The seed file the definition follows (`000`, `002`, ...).
    pub seed: String,
}

/// The programme's Chinese label for one engine stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLabel {
    /// One of [`LABELLED_STAGES`].
    pub stage: String,
    pub label: String,
    pub description: String,
}

/// Whether a relative deadline counts working days (official calendar, with 调休) or calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayUnit {
    Working,
    Calendar,
}

/// What happens when a due date falls on a non-working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayShift {
    /// Move to the next working day, as civil law does for the last day of a period.
    #[default]
    Later,
    /// Move to the previous working day, for limits such as "X月底前" that must not spill over.
    Earlier,
    /// Keep the date as it is.
    None,
}

impl HolidayShift {
    /// The date a due date falling on `date` actually falls on, given the official calendar.
    pub fn apply(
        self,
        date: NaiveDate,
        calendar: &crate::calendar::WorkingCalendar,
    ) -> Result<NaiveDate, crate::calendar::CalendarError> {
        match self {
            HolidayShift::Later => calendar.next_working_day_on_or_after(date),
            HolidayShift::Earlier => calendar.previous_working_day_on_or_before(date),
            HolidayShift::None => Ok(date),
        }
    }
}

/// When a deadline falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DueRule {
    /// A calendar date fixed by the source document.
    Fixed { date: NaiveDate },
    /// A number of days after an engine event (one of [`EVENT_ANCHORS`]).
    After {
        event: String,
        days: u32,
        unit: DayUnit,
    },
}

/// One deadline of a project run under the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineRule {
    pub id: String,
    pub name: String,
    /// The engine stage whose work this deadline closes.
    pub stage: String,
    pub due: DueRule,
    #[serde(default)]
    pub shift: HolidayShift,
    pub responsible: Vec<OfficialRole>,
    /// What is required, in Chinese, for the reminder e-mail.
    pub requires: String,
}

/// The dates on which a periodic report falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleRule {
    /// The same month-days every year, as "MM-DD".
    YearlyDates { dates: Vec<String> },
    /// The same days of every month (1..=28, days that every month has).
    Monthly { days: Vec<u32> },
}

/// How a report's anchor date relates to its due date.
///
/// The seeds say "7月1日…前" and "每月10日、20日前". We read "前" strictly: the report is due
/// by the end of the day before the anchor, so "7月1日前" is due on 30 June and "10日前" on the
/// 9th. `On` means due by the end of the anchor day itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueBefore {
    Before,
    On,
}

/// A periodic report (定期调度).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSchedule {
    pub id: String,
    pub name: String,
    /// The key of the form the report is made on; it exists in [`Programme::forms`].
    pub form: String,
    pub rule: ScheduleRule,
    pub due: DueBefore,
    #[serde(default)]
    pub shift: HolidayShift,
    pub responsible: Vec<OfficialRole>,
    /// Reports are due from entering `from_stage` until entering `until_stage` (exclusive).
    pub from_stage: String,
    pub until_stage: String,
    /// The last calendar year with report slots. Without it, slots fall in the programme year
    /// only: the seeds ask for reports "this year" (今年), and a project still open years later
    /// is overdue on its stage deadlines, not on reports nobody asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_year: Option<i32>,
}

/// One form: its Chinese title and the JSON Schema (draft 2020-12) its data must satisfy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormDef {
    pub title: String,
    pub schema: serde_json::Value,
}

/// What an acceptance checklist item asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Requirement {
    /// The inspector ticks it as met or not met.
    Check,
    /// The inspector records a measured quantity that must be at least `min` (e.g. ≥ 500 m²).
    AtLeast { min: i64, unit: String },
}

/// One acceptance (考核验收) item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub id: String,
    pub text: String,
    pub requirement: Requirement,
    /// The kind of facility the item applies to (e.g. `township-centre`); `None` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<String>,
}

/// The acceptance standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceRules {
    pub checklist: Vec<ChecklistItem>,
}

/// The rule for one source of public funds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingSourceRule {
    pub source: FundSource,
    pub label: String,
    /// The most that may be approved from this source for one project, in fen; `None` when the
    /// source document leaves the amount to other documents.
    pub cap_fen: Option<i64>,
    /// Sources whose funds must have been disbursed before this source disburses anything.
    pub requires_disbursed_first: Vec<FundSource>,
    /// The wording of the source document that the rule follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// The funding sources of the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingRules {
    pub sources: Vec<FundingSourceRule>,
}

/// The public notice (项目公示).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRules {
    /// The notice runs for at least this many working days.
    pub min_working_days: u32,
    /// How those working days are counted; the civil rule unless the definition says otherwise.
    /// Every place that counts a notice goes through [`crate::deadlines::notice_last_day`] and
    /// [`crate::deadlines::notice_working_days`], which read it.
    #[serde(default)]
    pub counting: NoticeCounting,
}

/// Where the count of a notice's working days begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeCounting {
    /// The civil rule (民法典 第二百零一条: 按照年、月、日计算期间的，开始的当日不计入，自下一日开始
    /// 计算): the day the notice starts is not counted; the first counted day is the day after.
    /// The relative deadlines count the same way. The default.
    #[default]
    FromNextDay,
    /// The start day counts as the first day (when it is a working day), for a programme whose
    /// document says so (e.g. "自发布之日起").
    FromStartDay,
}

/// The dates between which projects register under a programme (申报期): a project's
/// `registered_on` must fall inside, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationWindow {
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
}

impl ApplicationWindow {
    /// Whether `date` lies in the window (both ends included).
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.opens_on <= date && date <= self.closes_on
    }
}

/// One scored indicator of the performance evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub id: String,
    pub name: String,
    pub max_score: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The lowest total score of each grade; below `fair` is 差.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeThresholds {
    pub excellent: u32,
    pub good: u32,
    pub fair: u32,
}

/// The performance evaluation (绩效评价).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRules {
    /// Their `max_score`s add up to 100.
    pub indicators: Vec<Indicator>,
    pub thresholds: GradeThresholds,
}

/// Who is reminded when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRules {
    /// Working days before a due date when the responsible officials are first e-mailed.
    #[serde(default = "default_days_before")]
    pub days_before: u32,
    /// Who is e-mailed as well once a deadline is missed.
    #[serde(default = "default_escalation")]
    pub escalate_overdue_to: OfficialRole,
}

fn default_days_before() -> u32 {
    3
}

fn default_escalation() -> OfficialRole {
    OfficialRole::OfficialInCharge
}

impl Default for ReminderRules {
    fn default() -> Self {
        ReminderRules {
            days_before: default_days_before(),
            escalate_overdue_to: default_escalation(),
        }
    }
}

/// One version of one programme definition.
///
/// Build it with [`ProgrammeRegistry::parse`] or [`ProgrammeRegistry::load_file`], which check
/// it and compile its form schemas once. A `Programme` deserialised directly with serde is
/// unchecked; its forms are then compiled on first use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Programme {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub title_en: String,
    pub year: i32,
    pub source: Source,
    /// When projects may register under this programme (`registered_on`).
    pub application_window: ApplicationWindow,
    /// Where the definition departs from, or fills gaps in, its source document, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub stages: Vec<StageLabel>,
    pub deadlines: Vec<DeadlineRule>,
    pub report_schedules: Vec<ReportSchedule>,
    pub forms: BTreeMap<String, FormDef>,
    pub acceptance: AcceptanceRules,
    pub funding: FundingRules,
    pub notice: NoticeRules,
    pub evaluation: EvaluationRules,
    #[serde(default)]
    pub reminders: ReminderRules,
    #[serde(skip)]
    compiled: forms::CompiledForms,
    /// The file (or label) the definition was loaded from, for error messages.
    #[serde(skip)]
    origin: String,
}

impl Programme {
    /// The registry key, displayed as `id@v1`.
    pub fn key(&self) -> ProgrammeKey {
        ProgrammeKey {
            id: self.id.clone(),
            version: self.version,
        }
    }

    /// The file or label the definition was loaded from (empty if it was built otherwise).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn form(&self, key: &str) -> Option<&FormDef> {
        self.forms.get(key)
    }

    /// Validates `data` against the form's JSON Schema with formats (`date`, `email`) asserted.
    ///
    /// Every failure is reported, not just the first. A missing required field or an
    /// unexpected field is reported at the pointer of that field itself (e.g.
    /// `/officials/0/email`), not at its parent object, so an officer sees which box is wrong.
    pub fn validate_form(&self, form: &str, data: &serde_json::Value) -> Result<(), FormError> {
        let def = self.forms.get(form).ok_or_else(|| FormError::UnknownForm {
            form: form.to_string(),
        })?;
        let errors = match self.compiled.get(form) {
            Some(validator) => forms::field_errors(validator, data),
            None => match forms::compile(&def.schema) {
                Ok(validator) => forms::field_errors(&validator, data),
                Err(reason) => vec![FieldError {
                    pointer: String::new(),
                    reason: format!("the form's schema does not compile: {reason}"),
                }],
            },
        };
        if errors.is_empty() {
            Ok(())
        } else {
            Err(FormError::Invalid {
                form: form.to_string(),
                errors,
            })
        }
    }

    pub fn funding_rule(&self, source: FundSource) -> Option<&FundingSourceRule> {
        self.funding.sources.iter().find(|r| r.source == source)
    }

    pub fn checklist(&self) -> &[ChecklistItem] {
        &self.acceptance.checklist
    }

    /// The grade for a total evaluation score: at least `excellent` is 优, at least `good` is
    /// 良, at least `fair` is 中, anything lower is 差.
    pub fn grade_for(&self, total_score: u32) -> Grade {
        let t = self.evaluation.thresholds;
        if total_score >= t.excellent {
            Grade::Excellent
        } else if total_score >= t.good {
            Grade::Good
        } else if total_score >= t.fair {
            Grade::Fair
        } else {
            Grade::Poor
        }
    }

    /// The programme's label for an engine stage, if it labels it.
    pub fn stage_label(&self, stage: &str) -> Option<&StageLabel> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    pub fn deadline(&self, id: &str) -> Option<&DeadlineRule> {
        self.deadlines.iter().find(|d| d.id == id)
    }

    pub fn report_schedule(&self, id: &str) -> Option<&ReportSchedule> {
        self.report_schedules.iter().find(|r| r.id == id)
    }

    /// The sum of the indicators' maximum scores (100 for a checked definition).
    pub fn max_total_score(&self) -> u32 {
        self.evaluation.indicators.iter().map(|i| i.max_score).sum()
    }

    /// Compares the definitions themselves, ignoring where they were loaded from.
    pub fn same_definition(&self, other: &Programme) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

impl ScheduleRule {
    /// The anchor dates of the rule within one calendar year, in order.
    ///
    /// The anchor is the date the document names ("7月1日", "10日"); [`ReportSchedule::due_dates`]
    /// turns it into the due date.
    pub fn anchors_in_year(&self, year: i32) -> Vec<NaiveDate> {
        let mut out: Vec<NaiveDate> = match self {
            ScheduleRule::YearlyDates { dates } => dates
                .iter()
                .filter_map(|md| parse_month_day(md))
                .filter_map(|(m, d)| NaiveDate::from_ymd_opt(year, m, d))
                .collect(),
            ScheduleRule::Monthly { days } => (1..=12)
                .flat_map(|m| {
                    days.iter()
                        .filter_map(move |&d| NaiveDate::from_ymd_opt(year, m, d))
                })
                .collect(),
        };
        out.sort();
        out.dedup();
        out
    }
}

impl ReportSchedule {
    /// The nominal due dates within one calendar year, before any holiday shift (which needs
    /// the official calendar). With [`DueBefore::Before`] each is the day before its anchor.
    pub fn due_dates(&self, year: i32) -> Vec<NaiveDate> {
        self.rule
            .anchors_in_year(year)
            .into_iter()
            .map(|anchor| match self.due {
                DueBefore::Before => anchor - Duration::days(1),
                DueBefore::On => anchor,
            })
            .collect()
    }
}

/// Parses "MM-DD" into (month, day), accepting only days that exist in every year, so that a
/// yearly schedule never silently skips a year (29 February is refused).
pub(crate) fn parse_month_day(md: &str) -> Option<(u32, u32)> {
    let (m, d) = md.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2023 is not a leap year: a month-day valid in it is valid in every year.
    let date = NaiveDate::from_ymd_opt(2023, m, d)?;
    Some((date.month(), date.day()))
}
