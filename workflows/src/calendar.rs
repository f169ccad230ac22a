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
use std::sync::OnceLock;

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
    #[error("calendar for {year} not yet published (the official working-day data covers {first}–{last}); update workflows/data/holidays, see its README")]
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
        })
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
