//! The official Chinese working-day calendar (工作日历): statutory holidays and adjusted
//! working weekends (调休) as published each year by the State Council (国务院办公厅关于
//! 某年部分节假日安排的通知), used to count deadlines expressed in working days.
//!
//! [`WorkingCalendar`] answers whether a civil date (Asia/Shanghai) is a working day, what kind
//! of day it is ([`DayKind`]), and does working-day arithmetic. [`WorkingCalendar::official`] is
//! the calendar built from the per-year files vendored in `workflows/data/holidays/`
//! (their provenance and the update procedure are in the README there); they are embedded in the
//! binary, so nothing is read from disk at run time.
//!
//! A date the published notices do not decide is refused with [`CalendarError::NotPublished`],
//! never guessed. Two rules make "decided" precise:
//!
//! * A year is *covered* when its notice is present. The files must cover one unbroken run of
//!   years.
//! * The notice for year Y+1 can reach back into the last days of December of year Y (the 2019
//!   notice, for example, made 2018-12-29 a working Saturday and 2018-12-30/31 holidays). So the
//!   days from [`NEXT_NOTICE_REACHES_BACK_TO`] to 31 December of the *last* covered year are not
//!   decided until the next notice is vendored, and asking about them names that next year.
//!   Files are checked against this bound: a notice that reached back further would be refused
//!   as malformed rather than silently contradict an earlier answer.
//!
//! The answers come from a table of prefix sums over every decided day, so membership is O(1),
//! counting working days between two dates is O(1) and adding n working days is O(log days).

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::{Arc, OnceLock, RwLock};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The earliest (month, day) of year Y that the notice for year Y+1 may change. Historically the
/// New Year arrangement has reached back to 29 December at most (2007-12-29 and 2018-12-29 were
/// working Saturdays); a week before 1 January bounds any bridge over the New Year weekend.
pub const NEXT_NOTICE_REACHES_BACK_TO: (u32, u32) = (12, 25);

/// Builds `&[(year, file text)]` from the year numbers of the vendored files.
macro_rules! embedded_year_files {
    ($($year:literal),* $(,)?) => {
        &[$(($year, include_str!(concat!("../data/holidays/", stringify!($year), ".json")))),*]
    };
}

/// The vendored per-year notice files, embedded at compile time. When a new year's notice is
/// vendored, add its year here (a test checks that every file in the directory is listed).
pub const EMBEDDED_YEAR_FILES: &[(i32, &str)] = embedded_year_files!(
    2007, 2008, 2009, 2010, 2011, 2012, 2013, 2014, 2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022,
    2023, 2024, 2025, 2026,
);

/// What a calendar date is under the official calendar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary Monday to Friday.
    Workday,
    /// An ordinary Saturday or Sunday that no notice lists.
    Weekend,
    /// A day off listed in a notice (statutory holiday, or a weekday given off in exchange);
    /// `name` is the festival as the notice names it, e.g. 春节 or 国庆节.
    Holiday { name: String },
    /// A Saturday or Sunday that a notice made a working day (调休上班); `name` is the festival
    /// whose holiday it pays for.
    AdjustedWorkday { name: String },
}

impl DayKind {
    /// Whether an officer is expected at work on a day of this kind.
    pub fn is_working(&self) -> bool {
        matches!(self, DayKind::Workday | DayKind::AdjustedWorkday { .. })
    }
}

/// Why the calendar could not answer, or could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CalendarError {
    #[error("calendar for {year} not yet published (the official working-day data covers {first}–{last}); record the notice with `subsidy calendar load` (README, \"Calendar years\")")]
    NotPublished { year: i32, first: i32, last: i32 },
    #[error("the holiday data file for {year} is malformed: {reason}")]
    Malformed { year: i32, reason: String },
    #[error(
        "the holiday data has two files for {year}; keep only the one transcribed from the notice"
    )]
    DuplicateYear { year: i32 },
    #[error("the holiday data has no file for {year}, between the files for {first} and {last}; every year in between must be vendored")]
    MissingYear { year: i32, first: i32, last: i32 },
    #[error("no holiday data files were given; at least one year's notice is needed")]
    NoYearFiles,
}

/// One year's notice as vendored: the layout of NateScarlet/holiday-cn, so one of its files can
/// be dropped in unchanged (fields this crate does not use, such as `papers`, are ignored).
#[derive(Debug, Deserialize)]
struct YearFile {
    year: i32,
    days: Vec<ListedDay>,
}

#[derive(Debug, Deserialize)]
struct ListedDay {
    name: String,
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

/// A day that a notice lists, with the notice year that listed it (to report conflicts).
#[derive(Debug, Clone)]
struct Listed {
    off: bool,
    name: String,
    notice_year: i32,
}

/// The official working-day calendar over the years whose notices it holds.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    first_year: i32,
    last_year: i32,
    /// The first decided day: 1 January of `first_year`.
    start: NaiveDate,
    /// The last decided day: the day before [`NEXT_NOTICE_REACHES_BACK_TO`] in `last_year`.
    end: NaiveDate,
    listed: HashMap<NaiveDate, Listed>,
    /// `working_before[i]` is the number of working days in `[start, start + i)`, for
    /// `i` in `0..=days`; a day is working when the count steps up after it.
    working_before: Vec<u32>,
    /// The years recorded at run time (`subsidy calendar load`) beyond the embedded ones.
    recorded: BTreeMap<i32, YearNotice>,
}

impl WorkingCalendar {
    /// The embedded official calendar (parsed once).
    pub fn official() -> &'static WorkingCalendar {
        static OFFICIAL: OnceLock<WorkingCalendar> = OnceLock::new();
        OFFICIAL.get_or_init(|| {
            // The embedded files are constants of this crate, checked by its tests; a failure
            // here is a build defect, not bad input, so there is nothing a caller could do.
            WorkingCalendar::from_year_files(EMBEDDED_YEAR_FILES)
                .unwrap_or_else(|e| panic!("the embedded official holiday data is invalid: {e}"))
        })
    }

    /// Build from per-year JSON texts (for tests and for loading updated data).
    ///
    /// Each entry is `(notice year, file text)`. The years must form an unbroken run; each file
    /// must name its own year, list at least one day, list only days of its year or of the last
    /// days of December before it, and list as adjusted working days only Saturdays and Sundays.
    pub fn from_year_files(files: &[(i32, &str)]) -> Result<WorkingCalendar, CalendarError> {
        let mut by_year: BTreeMap<i32, &str> = BTreeMap::new();
        for &(year, text) in files {
            if by_year.insert(year, text).is_some() {
                return Err(CalendarError::DuplicateYear { year });
            }
        }
        let (first_year, last_year) = match (by_year.keys().next(), by_year.keys().next_back()) {
            (Some(&first), Some(&last)) => (first, last),
            _ => return Err(CalendarError::NoYearFiles),
        };
        if let Some(year) = (first_year..=last_year).find(|y| !by_year.contains_key(y)) {
            return Err(CalendarError::MissingYear {
                year,
                first: first_year,
                last: last_year,
            });
        }

        let mut listed: HashMap<NaiveDate, Listed> = HashMap::new();
        for (&year, text) in &by_year {
            for (date, day) in parse_year_file(year, text)? {
                if let Some(earlier) = listed.get(&date) {
                    if earlier.off != day.off {
                        return Err(CalendarError::Malformed {
                            year,
                            reason: format!(
                                "{date} is listed as {} here but as {} in the file for {}",
                                off_word(day.off),
                                off_word(earlier.off),
                                earlier.notice_year
                            ),
                        });
                    }
                    continue;
                }
                listed.insert(date, day);
            }
        }

        let start = ymd(first_year, 1, 1, first_year)?;
        let (reach_month, reach_day) = NEXT_NOTICE_REACHES_BACK_TO;
        let end = ymd(last_year, reach_month, reach_day, last_year)?
            .pred_opt()
            .ok_or(CalendarError::Malformed {
                year: last_year,
                reason: "date out of range".into(),
            })?;

        let mut working_before = Vec::with_capacity(days_from(start, end) + 2);
        working_before.push(0u32);
        let mut count = 0u32;
        for day in start.iter_days().take_while(|d| *d <= end) {
            let working = match listed.get(&day) {
                Some(l) => !l.off,
                None => !is_weekend(day),
            };
            count += u32::from(working);
            working_before.push(count);
        }

        Ok(WorkingCalendar {
            first_year,
            last_year,
            start,
            end,
            listed,
            working_before,
            recorded: BTreeMap::new(),
        })
    }

    /// The embedded calendar extended by years recorded at run time (each a [`YearNotice`]
    /// that passed [`YearNotice::parse`]). The years must continue the embedded run without a
    /// gap; every rule of [`WorkingCalendar::from_year_files`] applies to them too.
    pub fn with_recorded(recorded: &[YearNotice]) -> Result<WorkingCalendar, CalendarError> {
        let texts: Vec<(i32, String)> = recorded.iter().map(|n| (n.year, n.to_json())).collect();
        let mut files: Vec<(i32, &str)> = EMBEDDED_YEAR_FILES.to_vec();
        files.extend(texts.iter().map(|(y, t)| (*y, t.as_str())));
        let mut calendar = WorkingCalendar::from_year_files(&files)?;
        calendar.recorded = recorded.iter().map(|n| (n.year, n.clone())).collect();
        Ok(calendar)
    }

    /// This calendar with one more recorded year (the year after the last covered one).
    pub fn extended(&self, notice: &YearNotice) -> Result<WorkingCalendar, CalendarError> {
        let mut recorded: Vec<YearNotice> = self.recorded.values().cloned().collect();
        recorded.push(notice.clone());
        WorkingCalendar::with_recorded(&recorded)
    }

    /// The years recorded at run time, in year order.
    pub fn recorded_years(&self) -> impl Iterator<Item = &YearNotice> {
        self.recorded.values()
    }

    /// The notice of a covered year in the file format: the embedded file for a shipped year,
    /// the recorded content for a year loaded at run time.
    pub fn notice(&self, year: i32) -> Option<YearNotice> {
        if let Some(n) = self.recorded.get(&year) {
            return Some(n.clone());
        }
        YearNotice::embedded(year)
    }

    /// The notice years this calendar holds.
    pub fn covered_years(&self) -> RangeInclusive<i32> {
        self.first_year..=self.last_year
    }

    /// The dates this calendar can decide: 1 January of the first covered year up to the day
    /// before the next (unpublished) notice could reach back into December of the last one.
    pub fn decided_dates(&self) -> RangeInclusive<NaiveDate> {
        self.start..=self.end
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let i = self.index(date)?;
        Ok(self.working_at(i))
    }

    /// Workday, Weekend, Holiday{name} or AdjustedWorkday{name}.
    pub fn day_kind(&self, date: NaiveDate) -> Result<DayKind, CalendarError> {
        self.index(date)?;
        Ok(match self.listed.get(&date) {
            Some(l) if l.off => DayKind::Holiday {
                name: l.name.clone(),
            },
            Some(l) => DayKind::AdjustedWorkday {
                name: l.name.clone(),
            },
            None if is_weekend(date) => DayKind::Weekend,
            None => DayKind::Workday,
        })
    }

    /// The n-th working day strictly after `date` (n >= 1). n = 0 returns `date` itself
    /// (after checking that `date` is decided, like every other question).
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let i = self.index(date)?;
        if n == 0 {
            return Ok(date);
        }
        // The answer is the day x after which the count of working days first reaches
        // working_before[i + 1] + n, i.e. x = j - 1 for the first j with that count.
        let target = u64::from(self.working_before[i + 1]) + u64::from(n);
        let j = self
            .working_before
            .partition_point(|&c| u64::from(c) < target);
        if j >= self.working_before.len() {
            return Err(self.not_decided(self.end + Days::new(1)));
        }
        Ok(self.start + Days::new((j - 1) as u64))
    }

    /// Working days in the half-open range (from, to]; 0 if to <= from.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        let i = self.index(from)?;
        let k = self.index(to)?;
        Ok(self.working_before[k + 1] - self.working_before[i + 1])
    }

    pub fn next_working_day_on_or_after(
        &self,
        date: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        if self.is_working_day(date)? {
            Ok(date)
        } else {
            self.add_working_days(date, 1)
        }
    }

    pub fn previous_working_day_on_or_before(
        &self,
        date: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        let i = self.index(date)?;
        let count = self.working_before[i + 1];
        if count == 0 {
            // Nothing decided before `date` is a working day: the answer lies in the year before
            // the first covered one.
            return Err(self.not_decided(self.start - Days::new(1)));
        }
        // The last working day on or before `date` is the one that brought the count to `count`.
        let j = self.working_before.partition_point(|&c| c < count);
        Ok(self.start + Days::new((j - 1) as u64))
    }

    fn index(&self, date: NaiveDate) -> Result<usize, CalendarError> {
        if date < self.start || date > self.end {
            return Err(self.not_decided(date));
        }
        Ok(days_from(self.start, date))
    }

    fn working_at(&self, i: usize) -> bool {
        self.working_before[i + 1] > self.working_before[i]
    }

    /// The error for a date outside the decided range, naming the notice year that would decide
    /// it: its own year, except in the last days of December of the last covered year, which
    /// wait for the next year's notice.
    fn not_decided(&self, date: NaiveDate) -> CalendarError {
        let year = if date > self.end && date.year() <= self.last_year {
            self.last_year + 1
        } else {
            date.year()
        };
        CalendarError::NotPublished {
            year,
            first: self.first_year,
            last: self.last_year,
        }
    }
}

fn parse_year_file(year: i32, text: &str) -> Result<Vec<(NaiveDate, Listed)>, CalendarError> {
    let malformed = |reason: String| CalendarError::Malformed { year, reason };
    let file: YearFile = serde_json::from_str(text)
        .map_err(|e| malformed(format!("not valid holiday JSON: {e}")))?;
    if file.year != year {
        return Err(malformed(format!(
            "the file says it is for {}, not {year}",
            file.year
        )));
    }
    if file.days.is_empty() {
        // holiday-cn creates an empty file for a year before its notice appears; vendoring one
        // must not make the year look covered.
        return Err(malformed(
            "it lists no days; the notice has not been transcribed yet".into(),
        ));
    }
    let (reach_month, reach_day) = NEXT_NOTICE_REACHES_BACK_TO;
    let earliest = ymd(year - 1, reach_month, reach_day, year)?;
    let latest = ymd(year, 12, 31, year)?;

    let mut seen: HashMap<NaiveDate, bool> = HashMap::new();
    let mut out = Vec::with_capacity(file.days.len());
    for day in file.days {
        let date = NaiveDate::parse_from_str(&day.date, "%Y-%m-%d")
            .map_err(|e| malformed(format!("\"{}\" is not a date (YYYY-MM-DD): {e}", day.date)))?;
        if date < earliest || date > latest {
            return Err(malformed(format!(
                "{date} lies outside what the notice for {year} can arrange ({earliest} to {latest})"
            )));
        }
        if day.name.trim().is_empty() {
            return Err(malformed(format!("{date} has no festival name")));
        }
        if !day.is_off_day && !is_weekend(date) {
            return Err(malformed(format!(
                "{date} is listed as an adjusted working day but is a {:?}, already a working day",
                date.weekday()
            )));
        }
        if seen.insert(date, day.is_off_day).is_some() {
            return Err(malformed(format!("{date} is listed twice")));
        }
        out.push((
            date,
            Listed {
                off: day.is_off_day,
                name: day.name,
                notice_year: year,
            },
        ));
    }
    Ok(out)
}

// ------------------------------------------------------------------ the file format

/// One year's notice in the file format of `workflows/data/holidays/` (the layout of
/// NateScarlet/holiday-cn), as `subsidy calendar load` reads it and `subsidy calendar show
/// --format json` writes it. Built only by [`YearNotice::parse`] / [`YearNotice::from_value`],
/// which check every rule, or from the embedded files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearNotice {
    pub year: i32,
    /// Free text: where the transcription came from (not the notice number, which is recorded
    /// beside the content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// In date order.
    pub days: Vec<NoticeDay>,
}

/// A day a notice lists: a day off (`isOffDay: true`) or an adjusted working day (`false`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDay {
    pub date: NaiveDate,
    pub name: String,
    #[serde(rename = "isOffDay")]
    pub is_off_day: bool,
}

/// Why a year file was refused: the JSON pointer of the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub pointer: String,
    pub reason: String,
}

impl FieldError {
    fn new(pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(the file)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.reason)
    }
}

/// The years a file may name.
pub const LOADABLE_YEARS: RangeInclusive<i32> = 2000..=2100;

impl YearNotice {
    /// The embedded file of a shipped year.
    pub fn embedded(year: i32) -> Option<YearNotice> {
        let (_, text) = EMBEDDED_YEAR_FILES.iter().find(|(y, _)| *y == year)?;
        // The embedded files are checked by this crate's tests.
        YearNotice::parse(text).ok()
    }

    /// Parses and checks a year file; every problem is reported with its JSON pointer.
    pub fn parse(text: &str) -> Result<YearNotice, Vec<FieldError>> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            vec![FieldError::new(
                "",
                format!(
                    "not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )]
        })?;
        YearNotice::from_value(&value)
    }

    /// Checks a year file given as JSON: `year` (2000–2100), `days` (at least one; each with
    /// `date` YYYY-MM-DD in the named year or from 25 December of the year before, a `name`,
    /// `isOffDay`), an optional `source`; an adjusted working day (`isOffDay: false`) must be a
    /// Saturday or Sunday; no date may be listed twice, nor as both kinds. holiday-cn's
    /// `$schema` and `papers` are accepted and ignored; any other field is refused.
    pub fn from_value(value: &serde_json::Value) -> Result<YearNotice, Vec<FieldError>> {
        use serde_json::Value;
        let mut errors = Vec::new();
        let Value::Object(root) = value else {
            return Err(vec![FieldError::new(
                "",
                "a year file is a JSON object with \"year\" and \"days\"",
            )]);
        };
        for key in root.keys() {
            if !["year", "days", "source", "$schema", "papers"].contains(&key.as_str()) {
                errors.push(FieldError::new(
                    format!("/{}", escape_pointer(key)),
                    "unknown field: a year file has \"year\", \"days\" and optionally \"source\"",
                ));
            }
        }
        let year = match root.get("year") {
            None => {
                errors.push(FieldError::new("/year", "missing: the notice year"));
                None
            }
            Some(v) => match v.as_i64() {
                Some(y) if LOADABLE_YEARS.contains(&(y as i32)) && y == y as i32 as i64 => {
                    Some(y as i32)
                }
                _ => {
                    errors.push(FieldError::new(
                        "/year",
                        format!(
                            "{v} is not a year from {} to {}",
                            LOADABLE_YEARS.start(),
                            LOADABLE_YEARS.end()
                        ),
                    ));
                    None
                }
            },
        };
        let source = match root.get("source") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= 1000 && !has_control(s) => {
                Some(s.clone())
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "/source",
                    "must be one line of text of at most 1,000 characters",
                ));
                None
            }
        };
        let mut days = Vec::new();
        match root.get("days") {
            None => errors.push(FieldError::new(
                "/days",
                "missing: the days the notice gives off or makes working days",
            )),
            Some(Value::Array(list)) if list.is_empty() => errors.push(FieldError::new(
                "/days",
                "empty: the notice has not been transcribed yet (a file must list at least one day)",
            )),
            Some(Value::Array(list)) => {
                let bounds = year.map(|y| {
                    let (m, d) = NEXT_NOTICE_REACHES_BACK_TO;
                    (
                        NaiveDate::from_ymd_opt(y - 1, m, d).expect("a valid date"),
                        NaiveDate::from_ymd_opt(y, 12, 31).expect("a valid date"),
                    )
                });
                let mut seen: HashMap<NaiveDate, (usize, bool)> = HashMap::new();
                for (i, item) in list.iter().enumerate() {
                    if let Some(day) = check_day(i, item, bounds, &mut seen, &mut errors) {
                        days.push(day);
                    }
                }
            }
            Some(_) => errors.push(FieldError::new("/days", "must be an array of days")),
        }
        match year {
            Some(year) if errors.is_empty() => {
                days.sort_by_key(|d| d.date);
                Ok(YearNotice { year, source, days })
            }
            _ => Err(errors),
        }
    }

    /// The file text, in the vendored layout (one day per line).
    pub fn to_json(&self) -> String {
        let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
        let mut out = format!("{{\n  \"year\": {},\n", self.year);
        if let Some(source) = &self.source {
            out.push_str(&format!("  \"source\": {},\n", quote(source)));
        }
        out.push_str("  \"days\": [\n");
        let lines: Vec<String> = self
            .days
            .iter()
            .map(|d| {
                format!(
                    "    {{\"date\": \"{}\", \"name\": {}, \"isOffDay\": {}}}",
                    d.date,
                    quote(&d.name),
                    d.is_off_day
                )
            })
            .collect();
        out.push_str(&lines.join(",\n"));
        out.push_str("\n  ]\n}\n");
        out
    }

    /// Whether two files arrange the same days (the `source` text aside).
    pub fn same_days(&self, other: &YearNotice) -> bool {
        self.year == other.year && self.days == other.days
    }
}

fn check_day(
    i: usize,
    item: &serde_json::Value,
    bounds: Option<(NaiveDate, NaiveDate)>,
    seen: &mut HashMap<NaiveDate, (usize, bool)>,
    errors: &mut Vec<FieldError>,
) -> Option<NoticeDay> {
    use serde_json::Value;
    let at = |field: &str| format!("/days/{i}/{field}");
    let Value::Object(fields) = item else {
        errors.push(FieldError::new(
            format!("/days/{i}"),
            "must be an object with \"date\", \"name\" and \"isOffDay\"",
        ));
        return None;
    };
    let before = errors.len();
    for key in fields.keys() {
        if !["date", "name", "isOffDay"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                at(&escape_pointer(key)),
                "unknown field: a day has \"date\", \"name\" and \"isOffDay\"",
            ));
        }
    }
    let date = match fields.get("date") {
        None => {
            errors.push(FieldError::new(at("date"), "missing"));
            None
        }
        Some(Value::String(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if d.format("%Y-%m-%d").to_string() == *s => Some(d),
            _ => {
                errors.push(FieldError::new(
                    at("date"),
                    format!("{s:?} is not a date written YYYY-MM-DD"),
                ));
                None
            }
        },
        Some(v) => {
            errors.push(FieldError::new(
                at("date"),
                format!("{v} is not a date written YYYY-MM-DD"),
            ));
            None
        }
    };
    let name = match fields.get("name") {
        Some(Value::String(s))
            if !s.trim().is_empty() && s.chars().count() <= 32 && !has_control(s) =>
        {
            Some(s.clone())
        }
        Some(_) => {
            errors.push(FieldError::new(
                at("name"),
                "must be the festival's name (e.g. 春节), one line of 1 to 32 characters",
            ));
            None
        }
        None => {
            errors.push(FieldError::new(
                at("name"),
                "missing: the festival's name (e.g. 春节)",
            ));
            None
        }
    };
    let off = match fields.get("isOffDay") {
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => {
            errors.push(FieldError::new(
                at("isOffDay"),
                format!("{v} is not true (a day off) or false (an adjusted working day)"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(
                at("isOffDay"),
                "missing: true for a day off, false for an adjusted working day (调休上班)",
            ));
            None
        }
    };
    if let Some(date) = date {
        if let Some((earliest, latest)) = bounds {
            if date < earliest || date > latest {
                errors.push(FieldError::new(
                    at("date"),
                    format!(
                        "{date} is outside the year the notice arranges ({earliest} to {latest}: the named year, and the last days of December before it for the New Year holiday)"
                    ),
                ));
            }
        }
        if off == Some(false) && !is_weekend(date) {
            errors.push(FieldError::new(
                at("date"),
                format!(
                    "{date} is a {:?}, already a working day: only a Saturday or Sunday can be an adjusted working day (isOffDay false)",
                    date.weekday()
                ),
            ));
        }
        if let Some(off) = off {
            match seen.get(&date) {
                Some(&(j, other)) if other != off => errors.push(FieldError::new(
                    at("date"),
                    format!(
                        "{date} is listed both as a day off and as an adjusted working day (/days/{j} and /days/{i})"
                    ),
                )),
                Some(&(j, _)) => errors.push(FieldError::new(
                    at("date"),
                    format!("{date} is listed twice (/days/{j} and /days/{i})"),
                )),
                None => {
                    seen.insert(date, (i, off));
                }
            }
        }
    }
    match (date, name, off) {
        (Some(date), Some(name), Some(is_off_day)) if errors.len() == before => Some(NoticeDay {
            date,
            name,
            is_off_day,
        }),
        _ => None,
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

// ------------------------------------------------------------------ the running calendar

/// The calendar a running process uses: the embedded years plus those recorded in the store,
/// shared by every reader and replaced (never edited) when a year is recorded. Readers take a
/// snapshot with [`SharedCalendar::current`] and keep it for one answer.
#[derive(Debug, Clone)]
pub struct SharedCalendar(Arc<RwLock<Arc<WorkingCalendar>>>);

impl SharedCalendar {
    pub fn new(calendar: WorkingCalendar) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(calendar))))
    }

    /// The embedded official calendar, not yet extended.
    pub fn official() -> Self {
        Self::new(WorkingCalendar::official().clone())
    }

    /// The calendar now.
    pub fn current(&self) -> Arc<WorkingCalendar> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds the recorded years the calendar does not cover yet (years it covers are left as
    /// they are: a recorded year never changes). Returns whether the calendar changed.
    pub fn absorb(&self, notices: &[YearNotice]) -> Result<bool, CalendarError> {
        let mut guard = self.0.write().unwrap_or_else(|e| e.into_inner());
        let last = *guard.covered_years().end();
        let mut fresh: Vec<&YearNotice> = notices.iter().filter(|n| n.year > last).collect();
        if fresh.is_empty() {
            return Ok(false);
        }
        fresh.sort_by_key(|n| n.year);
        fresh.dedup_by_key(|n| n.year);
        let mut recorded: Vec<YearNotice> = guard.recorded.values().cloned().collect();
        recorded.extend(fresh.into_iter().cloned());
        *guard = Arc::new(WorkingCalendar::with_recorded(&recorded)?);
        Ok(true)
    }
}

impl Default for SharedCalendar {
    fn default() -> Self {
        Self::official()
    }
}

impl From<&WorkingCalendar> for SharedCalendar {
    fn from(calendar: &WorkingCalendar) -> Self {
        Self::new(calendar.clone())
    }
}

fn ymd(y: i32, m: u32, d: u32, file_year: i32) -> Result<NaiveDate, CalendarError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or(CalendarError::Malformed {
        year: file_year,
        reason: format!("the year {y} is outside the supported date range"),
    })
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn off_word(off: bool) -> &'static str {
    if off {
        "a day off"
    } else {
        "a working day"
    }
}

/// Days from `start` to `date`; callers guarantee `date >= start`.
fn days_from(start: NaiveDate, date: NaiveDate) -> usize {
    (date - start).num_days() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn prefix_table_spans_exactly_the_decided_days() {
        let cal = WorkingCalendar::official();
        assert_eq!(cal.start, d(2007, 1, 1));
        assert_eq!(cal.end, d(2026, 12, 24));
        assert_eq!(cal.working_before.len(), days_from(cal.start, cal.end) + 2);
    }

    #[test]
    fn prefix_table_agrees_with_a_day_by_day_count() {
        // The O(1)/O(log n) answers must equal the obvious loop over the listed days.
        let cal = WorkingCalendar::official();
        let mut naive = 0u32;
        for (i, day) in cal
            .start
            .iter_days()
            .take_while(|x| *x <= cal.end)
            .enumerate()
        {
            let working = match cal.listed.get(&day) {
                Some(l) => !l.off,
                None => !is_weekend(day),
            };
            naive += u32::from(working);
            assert_eq!(cal.working_before[i + 1], naive, "at {day}");
            assert_eq!(cal.working_at(i), working, "at {day}");
        }
    }
}
