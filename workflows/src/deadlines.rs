//! Deadline derivation: the pure rules that turn a programme's deadline and report-schedule
//! definitions plus the dated facts of one project into concrete due dates, statuses and the
//! reminders owed on a given day.
//!
//! Main types: [`ProjectFacts`] (what happened to a project, as dates; built by the caller from
//! its events), [`DerivedDeadline`] (one concrete deadline with its due date and status),
//! [`DeadlineStatus`], [`ReminderKind`] and the functions [`derive`] and [`reminders_due`].
//! Nothing here knows events or storage: the `projections` crate folds events into
//! [`ProjectFacts`].
//!
//! # The rules
//!
//! * **As of today.** Every fact dated after `today` is ignored: it has not happened yet as far
//!   as deadlines are concerned. This makes `remind --at` on a past date reproduce that day.
//! * **Fixed** deadlines fall on their date, then the holiday shift applies.
//! * **Relative** deadlines count `days` working days (official calendar, with 调休) or calendar
//!   days after each occurrence of their anchor event; each occurrence is one deadline
//!   (`id`, then `id#2`, `id#3`…). The holiday shift applies to the result.
//! * **Met.** A deadline is met on the date of the first *milestone* of its stage on or after
//!   its anchor (for fixed deadlines: ever): `plan_submitted`/`registered` by a plan submission,
//!   `plan_approved` by the designation of the construction entity, `notice` by closing the
//!   notice, `construction` by the request for acceptance, `acceptance` by acceptance passing,
//!   `evaluation` by the performance evaluation, `closed` by closing. Two anchors re-open the
//!   acceptance stage and are met differently: a deadline counted from `acceptance_requested`
//!   is met by the next inspection (passed or failed), one counted from `acceptance_failed` by
//!   the next request for acceptance (rectification done).
//! * **Report slots.** A schedule is active from the day its `from_stage` is entered until its
//!   `until_stage` (or any later stage, or termination) is entered. Each anchor date of the rule
//!   gives a slot whose due date lies strictly after the start and strictly before the end. A
//!   slot is *met* by a progress report dated after the previous slot's due date (for the first
//!   slot: on or after the start) and on or before its own due date. Otherwise the first report
//!   dated after its due date meets it *late* (that report may also meet the next slot); until
//!   then it is overdue. Slots are generated up to the first one due on or after `today`.
//! * **Public notice.** A published notice is a deadline `notice-end` (stage `notice`). Its last
//!   day is the `min_working_days`-th working day counted as the programme's `notice.counting`
//!   says — by default the civil rule, from the day after the start (民法典 第二百零一条), like
//!   the relative deadlines — or the published end if that is later ([`notice_last_day`], the
//!   count the aggregate enforces). The notice may close only after its last day, so the
//!   deadline falls due on the day after it ([`notice_earliest_close`]), moved to the next
//!   working day; met by closing the notice.
//! * **Suspension pauses.** For a suspension from `s` (suspended_on) to `r` (resumed_on), every
//!   one-off deadline not met before `s` and due on or after `s` moves later by `r - s` calendar
//!   days, and the holiday shift is applied again. Suspensions are applied in order, so a moved
//!   deadline may be moved again. While a suspension is still open such a deadline is *paused*
//!   (no due date, no reminders). Report slots are not moved: a slot due while the project was
//!   suspended is *waived* (there is no progress to report), later slots keep their dates.
//! * **Extension.** `DeadlineExtended { deadline_id, until }` sets the due date to `until` (no
//!   holiday shift: an official chose that date). Suspensions recorded before the extension are
//!   taken as already considered by the official; only later ones move the extended date.
//! * **End.** When a project is terminated or closed, every deadline not yet met is *waived*.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, WorkingCalendar};
use crate::programme::{
    DayUnit, DueRule, HolidayShift, NoticeCounting, NoticeRules, OfficialRole, Programme,
};

/// The id of the deadline derived from a published notice.
pub const NOTICE_DEADLINE_ID: &str = "notice-end";

/// A dated step that completes the work of a stage (see the module rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    PlanSubmitted,
    EntityDesignated,
    NoticeClosed,
    AcceptanceRequested,
    AcceptancePassed,
    AcceptanceFailed,
    Evaluated,
    Closed,
}

/// One suspension: from `from` (inclusive) until `until` (exclusive); `None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionSpan {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// An approved extension, with how many suspensions had started when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub deadline_id: String,
    pub until: NaiveDate,
    pub after_suspensions: usize,
}

/// Everything about one project that deadlines depend on, as dates, in event order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFacts {
    pub registered_on: Option<NaiveDate>,
    /// Occurrences of the [`crate::programme::EVENT_ANCHORS`], in order.
    #[serde(deserialize_with = "interned::deserialize")]
    pub anchors: Vec<(&'static str, NaiveDate)>,
    pub milestones: Vec<(Milestone, NaiveDate)>,
    /// First entry into each labelled stage ([`crate::programme::LABELLED_STAGES`]).
    #[serde(deserialize_with = "interned::deserialize")]
    pub stage_entries: Vec<(&'static str, NaiveDate)>,
    pub reports: Vec<NaiveDate>,
    /// (starts_on, ends_on) of each published notice.
    pub notices: Vec<(NaiveDate, NaiveDate)>,
    pub suspensions: Vec<SuspensionSpan>,
    pub extensions: Vec<Extension>,
    /// Termination or closing date: unmet deadlines are waived from then on.
    pub ended_on: Option<NaiveDate>,
}

/// Reads back the anchor and stage names of [`ProjectFacts`] (stored by the persisted deadlines
/// projection) as the static names the engine knows; an unknown name is an error.
mod interned {
    use chrono::NaiveDate;
    use serde::{de::Error, Deserialize, Deserializer};

    use crate::programme::{EVENT_ANCHORS, LABELLED_STAGES};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(&'static str, NaiveDate)>, D::Error> {
        let raw: Vec<(String, NaiveDate)> = Vec::deserialize(d)?;
        raw.into_iter()
            .map(|(name, on)| {
                EVENT_ANCHORS
                    .iter()
                    .chain(LABELLED_STAGES.iter())
                    .find(|known| **known == name)
                    .map(|known| (*known, on))
                    .ok_or_else(|| D::Error::custom(format!("unknown anchor or stage '{name}'")))
            })
            .collect()
    }
}

/// Where a deadline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineSource {
    Fixed,
    Relative,
    Report,
    Notice,
}

/// Where a deadline stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    Upcoming,
    DueToday,
    Overdue,
    Met,
    MetLate,
    /// An open suspension holds the deadline; it has no due date until the project resumes.
    Paused,
    /// Not owed any more: the project ended, or a report fell due while it was suspended.
    Waived,
}

impl DeadlineStatus {
    /// Whether the deadline still asks for something (and may be reminded of).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            DeadlineStatus::Upcoming | DeadlineStatus::DueToday | DeadlineStatus::Overdue
        )
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineStatus::Upcoming => "未到期",
            DeadlineStatus::DueToday => "今日到期",
            DeadlineStatus::Overdue => "已逾期",
            DeadlineStatus::Met => "已完成",
            DeadlineStatus::MetLate => "逾期完成",
            DeadlineStatus::Paused => "暂停计时",
            DeadlineStatus::Waived => "已免除",
        }
    }
}

/// One concrete deadline of one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedDeadline {
    /// Stable within the project: the rule id, `id#n` for the n-th occurrence of a relative
    /// deadline's anchor, `schedule@YYYY-MM-DD` (nominal due date) for a report slot.
    pub id: String,
    pub name: String,
    pub source: DeadlineSource,
    pub stage: String,
    pub requires: String,
    /// The due date before holiday shift, suspension and extension.
    pub nominal_due: NaiveDate,
    /// The due date that counts; `None` while paused.
    pub due_on: Option<NaiveDate>,
    pub met_on: Option<NaiveDate>,
    pub status: DeadlineStatus,
    pub responsible: Vec<OfficialRole>,
    /// How the due date was reached, in plain words, for the reminder and the dry run.
    pub explanation: String,
    /// The same in Chinese, for Chinese e-mails and pages.
    pub explanation_zh: String,
}

/// How a due date was reached, written in English and Chinese side by side.
#[derive(Debug, Clone, Default)]
struct Why {
    en: String,
    zh: String,
}

impl Why {
    fn new(en: String, zh: String) -> Self {
        Why { en, zh }
    }

    fn push(&mut self, en: String, zh: String) {
        self.en.push_str(&en);
        self.zh.push_str(&zh);
    }
}

/// The Chinese name of an anchor event (see `programme::EVENT_ANCHORS`).
fn anchor_zh(anchor: &str) -> &'static str {
    match anchor {
        "registered" => "项目登记",
        "plan_approved" => "方案批复",
        "notice_published" => "项目公示发布",
        "notice_closed" => "公示结束",
        "construction_started" => "开工建设",
        "acceptance_requested" => "申请验收",
        "acceptance_failed" => "验收未通过",
        "acceptance_passed" => "验收通过",
        "evaluated" => "绩效评价",
        "clawback_ordered" => "责令追回",
        _ => "相关事项",
    }
}

/// A deadline whose due date the calendar cannot decide yet (its year's notice is not
/// vendored): reported, never guessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undecided {
    pub id: String,
    pub name: String,
    pub nominal_due: NaiveDate,
    pub reason: String,
}

/// The result of [`derive`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Derived {
    pub deadlines: Vec<DerivedDeadline>,
    pub undecided: Vec<Undecided>,
}

/// Which reminder of a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// `days_before` working days ahead (or later, if the scheduler did not run that day).
    Before,
    DueToday,
    Overdue,
    /// The overdue notice to the escalation role (分管领导) when not already responsible.
    Escalation,
}

impl ReminderKind {
    pub fn id(self) -> &'static str {
        match self {
            ReminderKind::Before => "before",
            ReminderKind::DueToday => "due_today",
            ReminderKind::Overdue => "overdue",
            ReminderKind::Escalation => "escalation",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [
            ReminderKind::Before,
            ReminderKind::DueToday,
            ReminderKind::Overdue,
            ReminderKind::Escalation,
        ]
        .into_iter()
        .find(|k| k.id() == id)
    }
}

/// The milestone dates (on or after `from`) that meet a deadline of `stage` counted from
/// `anchor` (`None` for fixed deadlines).
fn meets(stage: &str, anchor: Option<&str>, m: Milestone) -> bool {
    match anchor {
        Some("acceptance_requested") => {
            return matches!(m, Milestone::AcceptancePassed | Milestone::AcceptanceFailed)
        }
        Some("acceptance_failed") => return m == Milestone::AcceptanceRequested,
        _ => {}
    }
    match stage {
        "registered" | "plan_submitted" => m == Milestone::PlanSubmitted,
        "plan_approved" => m == Milestone::EntityDesignated,
        "notice" => m == Milestone::NoticeClosed,
        "construction" => m == Milestone::AcceptanceRequested,
        "acceptance" => m == Milestone::AcceptancePassed,
        "evaluation" => m == Milestone::Evaluated,
        "closed" => m == Milestone::Closed,
        _ => false,
    }
}

impl ProjectFacts {
    /// The facts dated on or before `today`.
    pub fn as_of(&self, today: NaiveDate) -> ProjectFacts {
        let keep = |d: &NaiveDate| *d <= today;
        ProjectFacts {
            registered_on: self.registered_on.filter(keep),
            anchors: self
                .anchors
                .iter()
                .filter(|a| keep(&a.1))
                .cloned()
                .collect(),
            milestones: self
                .milestones
                .iter()
                .filter(|a| keep(&a.1))
                .cloned()
                .collect(),
            stage_entries: self
                .stage_entries
                .iter()
                .filter(|a| keep(&a.1))
                .cloned()
                .collect(),
            reports: self.reports.iter().filter(|d| keep(d)).cloned().collect(),
            notices: self
                .notices
                .iter()
                .filter(|n| keep(&n.0))
                .cloned()
                .collect(),
            suspensions: self
                .suspensions
                .iter()
                .filter(|s| keep(&s.from))
                .map(|s| SuspensionSpan {
                    from: s.from,
                    until: s.until.filter(keep),
                })
                .collect(),
            extensions: self.extensions.clone(),
            ended_on: self.ended_on.filter(keep),
        }
    }

    fn stage_entered(&self, stage: &str) -> Option<NaiveDate> {
        self.stage_entries
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, d)| *d)
    }

    /// The first entry into `stage` or any later labelled stage, or the end of the project.
    fn left_before(&self, until_stage: &str) -> Option<NaiveDate> {
        let order = crate::programme::LABELLED_STAGES;
        let from = order.iter().position(|s| *s == until_stage);
        let mut out = self.ended_on;
        for (s, d) in &self.stage_entries {
            let later = match (from, order.iter().position(|x| x == s)) {
                (Some(f), Some(i)) => i >= f,
                _ => false,
            };
            if later {
                out = Some(out.map_or(*d, |o| o.min(*d)));
            }
        }
        out
    }
}

fn shift(
    rule: HolidayShift,
    date: NaiveDate,
    calendar: &WorkingCalendar,
) -> Result<NaiveDate, CalendarError> {
    rule.apply(date, calendar)
}

/// The n-th working day before `date` (n = 0: `date` itself).
pub fn working_days_before(
    calendar: &WorkingCalendar,
    date: NaiveDate,
    n: u32,
) -> Result<NaiveDate, CalendarError> {
    let mut d = date;
    for _ in 0..n {
        let prev = d.pred_opt().unwrap_or(d);
        d = calendar.previous_working_day_on_or_before(prev)?;
    }
    Ok(d)
}

/// The day after which a notice's working days are counted: the start day itself under the
/// civil rule ([`NoticeCounting::FromNextDay`], 民法典 第二百零一条), the day before it when the
/// programme counts the start day ([`NoticeCounting::FromStartDay`]).
fn notice_count_base(notice: &NoticeRules, starts_on: NaiveDate) -> NaiveDate {
    match notice.counting {
        NoticeCounting::FromNextDay => starts_on,
        NoticeCounting::FromStartDay => starts_on.pred_opt().unwrap_or(starts_on),
    }
}

/// The last day of a public notice starting on `starts_on` under the programme's notice rules:
/// the `min_working_days`-th working day counted as [`NoticeRules::counting`] says (by
/// default from the day after `starts_on`). The one count of the notice period: the
/// aggregate's `PublishNotice` check, the `notice-end` deadline and the compliance report all
/// use it (with [`notice_working_days`], which counts the same way).
pub fn notice_last_day(
    calendar: &WorkingCalendar,
    notice: &NoticeRules,
    starts_on: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    calendar.add_working_days(
        notice_count_base(notice, starts_on),
        notice.min_working_days.max(1),
    )
}

/// The working days a notice from `starts_on` to `ends_on` (its published last day) runs,
/// counted as [`notice_last_day`] counts them: `ends_on >= notice_last_day(..)` exactly when
/// this is at least `min_working_days`.
pub fn notice_working_days(
    calendar: &WorkingCalendar,
    notice: &NoticeRules,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
) -> Result<u32, CalendarError> {
    calendar.working_days_between(notice_count_base(notice, starts_on), ends_on)
}

/// The first day a notice whose last day is `ends_on` may be closed (and so the first day money
/// may move): objections may be raised until the end of the last day, so the day after it.
pub fn notice_earliest_close(ends_on: NaiveDate) -> NaiveDate {
    ends_on.succ_opt().unwrap_or(ends_on)
}

struct Pending {
    id: String,
    name: String,
    source: DeadlineSource,
    stage: String,
    requires: String,
    nominal: NaiveDate,
    shift: HolidayShift,
    responsible: Vec<OfficialRole>,
    anchor: Option<(&'static str, NaiveDate)>,
    why: Why,
}

/// All deadlines of one project under `programme`, as of `today` (see the module rules).
pub fn derive(
    facts: &ProjectFacts,
    programme: &Programme,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Derived {
    let facts = facts.as_of(today);
    let mut out = Derived::default();
    if facts.registered_on.is_none() {
        return out;
    }
    let mut pending: Vec<Pending> = Vec::new();

    for rule in &programme.deadlines {
        match &rule.due {
            DueRule::Fixed { date } => pending.push(Pending {
                id: rule.id.clone(),
                name: rule.name.clone(),
                source: DeadlineSource::Fixed,
                stage: rule.stage.clone(),
                requires: rule.requires.clone(),
                nominal: *date,
                shift: rule.shift,
                responsible: rule.responsible.clone(),
                anchor: None,
                why: Why::new(format!("fixed date {date}"), format!("规定日期 {date}")),
            }),
            DueRule::After { event, days, unit } => {
                let occurrences = facts.anchors.iter().filter(|(a, _)| a == event);
                for (n, (anchor, at)) in occurrences.enumerate() {
                    let id = if n == 0 {
                        rule.id.clone()
                    } else {
                        format!("{}#{}", rule.id, n + 1)
                    };
                    let nominal = match unit {
                        DayUnit::Working => calendar.add_working_days(*at, *days),
                        DayUnit::Calendar => Ok(*at + Days::new(u64::from(*days))),
                    };
                    let unit_word = match unit {
                        DayUnit::Working => "working",
                        DayUnit::Calendar => "calendar",
                    };
                    match nominal {
                        Ok(nominal) => pending.push(Pending {
                            id,
                            name: rule.name.clone(),
                            source: DeadlineSource::Relative,
                            stage: rule.stage.clone(),
                            requires: rule.requires.clone(),
                            nominal,
                            shift: rule.shift,
                            responsible: rule.responsible.clone(),
                            anchor: Some((anchor, *at)),
                            why: Why::new(
                                format!("{days} {unit_word} days after {anchor} on {at}"),
                                format!(
                                    "{}（{at}）后 {days} 个{}",
                                    anchor_zh(anchor),
                                    if *unit == DayUnit::Working {
                                        "工作日"
                                    } else {
                                        "自然日"
                                    }
                                ),
                            ),
                        }),
                        Err(e) => out.undecided.push(Undecided {
                            id,
                            name: rule.name.clone(),
                            nominal_due: *at,
                            reason: e.to_string(),
                        }),
                    }
                }
            }
        }
    }

    for (starts_on, ends_on) in &facts.notices {
        let days = programme.notice.min_working_days;
        let counted = match programme.notice.counting {
            NoticeCounting::FromNextDay => ("counted from the next day", "次日起算"),
            NoticeCounting::FromStartDay => ("counted from the start day", "当日起算"),
        };
        match notice_last_day(calendar, &programme.notice, *starts_on) {
            Ok(min_end) => {
                let last = min_end.max(*ends_on);
                let close = notice_earliest_close(last);
                pending.push(Pending {
                    id: NOTICE_DEADLINE_ID.to_string(),
                    name: "项目公示期满".to_string(),
                    source: DeadlineSource::Notice,
                    stage: "notice".to_string(),
                    requires: format!(
                        "公示期（不少于{days}个工作日）满后处理异议并结束公示"
                    ),
                    nominal: close,
                    shift: HolidayShift::Later,
                    responsible: vec![OfficialRole::Liaison],
                    anchor: Some(("notice_published", *starts_on)),
                    why: Why::new(
                        format!(
                            "notice from {starts_on}: {days} working days ({}) end on {min_end}, published end {ends_on}; it closes from {close}",
                            counted.0
                        ),
                        format!(
                            "公示自 {starts_on} 起，{days} 个工作日（{}）至 {min_end}，公告截止 {ends_on}，{close} 起可结束公示",
                            counted.1
                        ),
                    ),
                })
            }
            Err(e) => out.undecided.push(Undecided {
                id: NOTICE_DEADLINE_ID.to_string(),
                name: "项目公示期满".to_string(),
                nominal_due: *ends_on,
                reason: e.to_string(),
            }),
        }
    }

    for p in pending {
        match one_off(&p, &facts, calendar, today) {
            Ok(d) => out.deadlines.push(d),
            Err(e) => out.undecided.push(Undecided {
                id: p.id,
                name: p.name,
                nominal_due: p.nominal,
                reason: e.to_string(),
            }),
        }
    }

    for schedule in &programme.report_schedules {
        let form_title = programme
            .form(&schedule.form)
            .map(|f| f.title.clone())
            .unwrap_or_else(|| schedule.form.clone());
        let last_year = schedule.through_year.unwrap_or(programme.year);
        report_slots(
            schedule,
            &form_title,
            &facts,
            calendar,
            today,
            last_year,
            &mut out,
        );
    }
    out
}

fn one_off(
    p: &Pending,
    facts: &ProjectFacts,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Result<DerivedDeadline, CalendarError> {
    let anchor_name = p.anchor.map(|(a, _)| a);
    let from = p.anchor.map(|(_, d)| d);
    let met_on = facts
        .milestones
        .iter()
        .filter(|(m, d)| meets(&p.stage, anchor_name, *m) && from.is_none_or(|f| *d >= f))
        .map(|(_, d)| *d)
        .next();
    let mut why = p.why.clone();
    let mut due = shift(p.shift, p.nominal, calendar)?;
    if due != p.nominal {
        why.push(
            format!(", moved to working day {due}"),
            format!("，遇节假日调整至工作日 {due}"),
        );
    }
    let extension = facts
        .extensions
        .iter()
        .rev()
        .find(|e| e.deadline_id == p.id);
    let skip = match extension {
        Some(e) => {
            due = e.until;
            why.push(
                format!(", extended to {}", e.until),
                format!("，经批准延期至 {}", e.until),
            );
            e.after_suspensions
        }
        None => 0,
    };
    let mut paused_since = None;
    for s in facts.suspensions.iter().skip(skip) {
        let met_before = met_on.is_some_and(|m| m < s.from);
        if met_before || due < s.from {
            continue;
        }
        match s.until {
            Some(until) => {
                let days = (until - s.from).num_days().max(0) as u64;
                due = shift(p.shift, due + Days::new(days), calendar)?;
                why.push(
                    format!(", suspended {} to {until} ({days} days), now {due}", s.from),
                    format!(
                        "，项目于 {} 至 {until} 暂停（{days} 天），顺延至 {due}",
                        s.from
                    ),
                );
            }
            None => {
                paused_since = Some(s.from);
                break;
            }
        }
    }
    let (due_on, status) = if let Some(since) = paused_since {
        why.push(
            format!(", paused: suspended since {since}"),
            format!("，项目自 {since} 暂停，期限中止计算"),
        );
        (None, DeadlineStatus::Paused)
    } else {
        (Some(due), status_of(due, met_on, facts.ended_on, today))
    };
    Ok(DerivedDeadline {
        id: p.id.clone(),
        name: p.name.clone(),
        source: p.source,
        stage: p.stage.clone(),
        requires: p.requires.clone(),
        nominal_due: p.nominal,
        due_on,
        met_on,
        status,
        responsible: p.responsible.clone(),
        explanation: why.en,
        explanation_zh: why.zh,
    })
}

fn status_of(
    due: NaiveDate,
    met_on: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
    today: NaiveDate,
) -> DeadlineStatus {
    match met_on {
        Some(m) if m <= due => DeadlineStatus::Met,
        Some(_) => DeadlineStatus::MetLate,
        None if ended_on.is_some() => DeadlineStatus::Waived,
        None if due > today => DeadlineStatus::Upcoming,
        None if due == today => DeadlineStatus::DueToday,
        None => DeadlineStatus::Overdue,
    }
}

fn report_slots(
    schedule: &crate::programme::ReportSchedule,
    form_title: &str,
    facts: &ProjectFacts,
    calendar: &WorkingCalendar,
    today: NaiveDate,
    last_year: i32,
    out: &mut Derived,
) {
    let Some(start) = facts.stage_entered(&schedule.from_stage) else {
        return;
    };
    let end = facts.left_before(&schedule.until_stage);
    // Slot due dates after shift, in order, with their nominal dates.
    let mut slots: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let through = (today.year().max(start.year()) + 1).min(last_year);
    'years: for year in start.year()..=through {
        for nominal in schedule.due_dates(year) {
            let due = match shift(schedule.shift, nominal, calendar) {
                Ok(d) => d,
                Err(e) => {
                    if nominal > start && end.is_none_or(|e| nominal < e) {
                        out.undecided.push(Undecided {
                            id: format!("{}@{nominal}", schedule.id),
                            name: schedule.name.clone(),
                            nominal_due: nominal,
                            reason: e.to_string(),
                        });
                    }
                    break 'years;
                }
            };
            if due <= start {
                continue;
            }
            if end.is_some_and(|e| due >= e) {
                break 'years;
            }
            slots.push((nominal, due));
            if due >= today {
                break 'years;
            }
        }
    }
    let mut previous: Option<NaiveDate> = None;
    for (nominal, due) in slots {
        let in_window = |r: &&NaiveDate| match previous {
            Some(p) => **r > p && **r <= due,
            None => **r >= start && **r <= due,
        };
        let on_time = facts.reports.iter().find(in_window).copied();
        let met_on = on_time.or_else(|| facts.reports.iter().find(|r| **r > due).copied());
        let suspended = facts
            .suspensions
            .iter()
            .find(|s| due >= s.from && s.until.is_none_or(|u| due < u));
        let id = format!("{}@{nominal}", schedule.id);
        let mut why = Why::new(
            format!("periodic report due {nominal}"),
            format!("定期报送，{nominal} 前"),
        );
        if due != nominal {
            why.push(
                format!(", moved to working day {due}"),
                format!("，遇节假日调整至工作日 {due}"),
            );
        }
        let status = match (on_time, suspended) {
            (Some(_), _) => DeadlineStatus::Met,
            (None, Some(s)) => {
                why.push(
                    format!(", waived: suspended since {}", s.from),
                    format!("，项目自 {} 暂停，本期免报", s.from),
                );
                DeadlineStatus::Waived
            }
            (None, None) => status_of(due, met_on, facts.ended_on, today),
        };
        let extension = facts.extensions.iter().rev().find(|e| e.deadline_id == id);
        let (due, status) = match extension {
            Some(e) if status.is_open() => {
                why.push(
                    format!(", extended to {}", e.until),
                    format!("，经批准延期至 {}", e.until),
                );
                (e.until, status_of(e.until, met_on, facts.ended_on, today))
            }
            _ => (due, status),
        };
        out.deadlines.push(DerivedDeadline {
            id,
            name: schedule.name.clone(),
            source: DeadlineSource::Report,
            stage: schedule.from_stage.clone(),
            requires: format!("{}：填报并报送《{form_title}》", schedule.name),
            nominal_due: nominal,
            due_on: Some(due),
            met_on,
            status,
            responsible: schedule.responsible.clone(),
            explanation: why.en,
            explanation_zh: why.zh,
        });
        previous = Some(due);
    }
}

/// The reminders a deadline owes on `today`: `(kind, roles)`. `Before` from the
/// `days_before`-th working day before the due date until the day before it; `DueToday` on the
/// due date; once overdue, `Overdue` to the responsible roles and `Escalation` to the
/// escalation role when it is not among them.
pub fn reminders_due(
    deadline: &DerivedDeadline,
    days_before: u32,
    escalate_to: OfficialRole,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Result<Vec<(ReminderKind, Vec<OfficialRole>)>, CalendarError> {
    let Some(due) = deadline.due_on else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    match deadline.status {
        DeadlineStatus::Upcoming => {
            let from = working_days_before(calendar, due, days_before)?;
            if today >= from {
                out.push((ReminderKind::Before, deadline.responsible.clone()));
            }
        }
        DeadlineStatus::DueToday => {
            out.push((ReminderKind::DueToday, deadline.responsible.clone()))
        }
        DeadlineStatus::Overdue => {
            out.push((ReminderKind::Overdue, deadline.responsible.clone()));
            if !deadline.responsible.contains(&escalate_to) {
                out.push((ReminderKind::Escalation, vec![escalate_to]));
            }
        }
        _ => {}
    }
    Ok(out)
}
