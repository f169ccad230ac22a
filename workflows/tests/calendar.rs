//! The official working-day calendar: known days from the State Council notices, year
//! boundaries, working-day arithmetic, the refusal to answer beyond the published years, and the
//! refusal of malformed data files.

use chrono::{Datelike, NaiveDate, Weekday};
use workflows::calendar::{CalendarError, DayKind, WorkingCalendar, EMBEDDED_YEAR_FILES};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("test dates are valid")
}

fn cal() -> &'static WorkingCalendar {
    WorkingCalendar::official()
}

fn working(date: NaiveDate) -> bool {
    cal()
        .is_working_day(date)
        .unwrap_or_else(|e| panic!("{date}: {e}"))
}

fn kind(date: NaiveDate) -> DayKind {
    cal()
        .day_kind(date)
        .unwrap_or_else(|e| panic!("{date}: {e}"))
}

fn holiday(name: &str) -> DayKind {
    DayKind::Holiday { name: name.into() }
}

fn adjusted(name: &str) -> DayKind {
    DayKind::AdjustedWorkday { name: name.into() }
}

fn assert_off(from: NaiveDate, to: NaiveDate) {
    for day in from.iter_days().take_while(|x| *x <= to) {
        assert!(!working(day), "{day} should be a day off");
    }
}

#[test]
fn the_official_calendar_covers_the_notices_from_2007_to_2026() {
    assert_eq!(cal().covered_years(), 2007..=2026);
    assert_eq!(cal().decided_dates(), d(2007, 1, 1)..=d(2026, 12, 24));
}

#[test]
fn spring_festival_2026_has_two_working_saturdays_and_nine_days_off() {
    // 2026 notice: 春节 2月15日至23日放假调休，共9天；2月14日（星期六）、2月28日（星期六）上班。
    assert_eq!(d(2026, 2, 14).weekday(), Weekday::Sat);
    assert_eq!(kind(d(2026, 2, 14)), adjusted("春节"));
    assert_eq!(kind(d(2026, 2, 28)), adjusted("春节"));
    assert!(working(d(2026, 2, 14)));
    assert!(working(d(2026, 2, 28)));
    assert_off(d(2026, 2, 15), d(2026, 2, 23));
    assert_eq!(kind(d(2026, 2, 18)), holiday("春节"));
    assert!(working(d(2026, 2, 24)));
}

#[test]
fn national_day_and_mid_autumn_2025_run_eight_days_with_two_adjusted_weekend_days() {
    // 2025 notice: 国庆节、中秋节 10月1日至8日放假调休，共8天；9月28日（星期日）、10月11日（星期六）上班。
    assert_off(d(2025, 10, 1), d(2025, 10, 8));
    assert_eq!(d(2025, 9, 28).weekday(), Weekday::Sun);
    assert_eq!(kind(d(2025, 9, 28)), adjusted("国庆节"));
    assert_eq!(d(2025, 10, 11).weekday(), Weekday::Sat);
    assert_eq!(kind(d(2025, 10, 11)), adjusted("国庆节"));
    assert!(working(d(2025, 10, 9)));
    assert!(!working(d(2025, 10, 12)), "an ordinary Sunday stays off");
    assert_eq!(kind(d(2025, 10, 12)), DayKind::Weekend);
}

#[test]
fn known_days_across_the_years() {
    // 2007: 春节 2月18日至24日放假；2月17日（星期六）、25日（星期日）上班. 五一 5月1日至7日；4月28、29日上班.
    assert_eq!(kind(d(2007, 2, 17)), adjusted("春节"));
    assert_eq!(kind(d(2007, 2, 25)), adjusted("春节"));
    assert_off(d(2007, 2, 18), d(2007, 2, 24));
    assert!(working(d(2007, 4, 28)) && working(d(2007, 4, 29)));
    assert_off(d(2007, 5, 1), d(2007, 5, 7));
    // 2015: the one-off 70th anniversary of the victory (国发明电〔2015〕1号): 9月3日至5日放假，9月6日（星期日）上班.
    assert!(
        matches!(kind(d(2015, 9, 3)), DayKind::Holiday { ref name } if name.contains("70周年"))
    );
    assert!(
        !working(d(2015, 9, 4)),
        "Friday 4 September 2015 was given off"
    );
    assert!(working(d(2015, 9, 6)), "Sunday 6 September 2015 was worked");
    assert!(
        working(d(2015, 10, 10)),
        "Saturday 10 October 2015 was worked for National Day"
    );
    // 2020: Spring Festival 1月24日至30日, extended by the State Council to 2月2日 (covid-19);
    // 1月19日（星期日）上班; the working day scheduled for 1月31日 (Friday) became a day off.
    assert!(working(d(2020, 1, 19)));
    assert_off(d(2020, 1, 24), d(2020, 2, 2));
    assert_eq!(kind(d(2020, 1, 31)), holiday("春节"));
    assert!(working(d(2020, 2, 3)));
    // 2024: 春节 2月10日至17日；2月4日（星期日）、2月18日（星期日）上班. 劳动节 5月1日至5日；4月28日（星期日）、5月11日（星期六）上班.
    assert!(working(d(2024, 2, 4)) && working(d(2024, 2, 18)));
    assert_off(d(2024, 2, 10), d(2024, 2, 17));
    assert!(working(d(2024, 4, 28)) && working(d(2024, 5, 11)));
    assert_off(d(2024, 5, 1), d(2024, 5, 5));
    assert_eq!(kind(d(2024, 5, 6)), DayKind::Workday);
}

#[test]
fn new_year_2025_is_a_single_day_after_an_ordinary_end_of_december() {
    assert_eq!(kind(d(2024, 12, 31)), DayKind::Workday);
    assert_eq!(kind(d(2025, 1, 1)), holiday("元旦"));
    assert_eq!(kind(d(2025, 1, 2)), DayKind::Workday);
    assert_eq!(
        cal().add_working_days(d(2024, 12, 31), 1),
        Ok(d(2025, 1, 2))
    );
    // (2024-12-27, 2025-01-03]: Mon 30, Tue 31, Thu 2, Fri 3 — the weekend and 1 January are off.
    assert_eq!(
        cal().working_days_between(d(2024, 12, 27), d(2025, 1, 3)),
        Ok(4)
    );
}

#[test]
fn december_days_held_in_the_next_years_notice_are_honoured() {
    // 2019 notice: 元旦 2018年12月30日至2019年1月1日放假；2018年12月29日（星期六）上班.
    assert_eq!(d(2018, 12, 29).weekday(), Weekday::Sat);
    assert_eq!(kind(d(2018, 12, 29)), adjusted("元旦"));
    assert_eq!(kind(d(2018, 12, 31)), holiday("元旦"));
    // 2008 notice: 2007年12月29日（星期六）上班，12月30日至2008年1月1日放假.
    assert!(working(d(2007, 12, 29)));
    assert_off(d(2007, 12, 30), d(2008, 1, 1));
    // 2012 notice: 2011年12月31日（星期六）上班.
    assert!(working(d(2011, 12, 31)));
    // 2023 notice: 2022年12月31日至2023年1月2日放假.
    assert_eq!(kind(d(2022, 12, 31)), holiday("元旦"));
    assert_eq!(
        cal().add_working_days(d(2018, 12, 28), 1),
        Ok(d(2018, 12, 29))
    );
    assert_eq!(
        cal().add_working_days(d(2018, 12, 29), 1),
        Ok(d(2019, 1, 2))
    );
}

#[test]
fn five_working_days_after_29_september_2025_is_13_october() {
    // Counting strictly after Monday 29 September 2025, under the 2025 notice:
    //   1. Tue 30 Sep — ordinary working day;
    //      Wed 1 Oct … Wed 8 Oct — 国庆节/中秋节 days off (8 days);
    //   2. Thu 9 Oct;  3. Fri 10 Oct;
    //   4. Sat 11 Oct — adjusted working day (10月11日（星期六）上班);
    //      Sun 12 Oct — ordinary Sunday, off;
    //   5. Mon 13 Oct.
    assert_eq!(
        cal().add_working_days(d(2025, 9, 29), 5),
        Ok(d(2025, 10, 13))
    );
    assert_eq!(
        cal().working_days_between(d(2025, 9, 29), d(2025, 10, 13)),
        Ok(5)
    );
    // Sunday 28 September was itself a working day, so it counts from the Saturday before.
    assert_eq!(
        cal().add_working_days(d(2025, 9, 27), 1),
        Ok(d(2025, 9, 28))
    );
}

#[test]
fn stepping_to_the_nearest_working_day() {
    assert_eq!(
        cal().next_working_day_on_or_after(d(2025, 10, 1)),
        Ok(d(2025, 10, 9))
    );
    assert_eq!(
        cal().next_working_day_on_or_after(d(2025, 10, 11)),
        Ok(d(2025, 10, 11))
    );
    assert_eq!(
        cal().previous_working_day_on_or_before(d(2025, 10, 8)),
        Ok(d(2025, 9, 30))
    );
    assert_eq!(
        cal().previous_working_day_on_or_before(d(2025, 9, 28)),
        Ok(d(2025, 9, 28))
    );
    assert_eq!(
        cal().previous_working_day_on_or_before(d(2026, 2, 23)),
        Ok(d(2026, 2, 14))
    );
    assert_eq!(
        cal().add_working_days(d(2026, 2, 23), 0),
        Ok(d(2026, 2, 23))
    );
}

#[test]
fn working_days_between_is_zero_for_an_empty_or_reversed_range() {
    assert_eq!(
        cal().working_days_between(d(2025, 3, 3), d(2025, 3, 3)),
        Ok(0)
    );
    assert_eq!(
        cal().working_days_between(d(2025, 3, 10), d(2025, 3, 3)),
        Ok(0)
    );
    assert_eq!(
        cal().working_days_between(d(2025, 3, 2), d(2025, 3, 3)),
        Ok(1)
    );
}

#[test]
fn arithmetic_agrees_with_itself_over_every_decided_day() {
    // For every decided day and small n: the n-th working day after it is a working day, and
    // exactly n working days lie between the two. This ties add_working_days and
    // working_days_between to is_working_day over the whole twenty years.
    let c = cal();
    let range = c.decided_dates();
    let last_start = *range.end() - chrono::Days::new(60);
    for day in range.start().iter_days().take_while(|x| *x <= last_start) {
        for n in [1u32, 2, 5, 10, 20] {
            let x = c.add_working_days(day, n).unwrap();
            assert!(
                c.is_working_day(x).unwrap(),
                "{day} + {n} = {x} is not a working day"
            );
            assert_eq!(c.working_days_between(day, x), Ok(n), "{day} + {n} = {x}");
        }
    }
}

#[test]
fn a_long_span_is_answered_without_walking_it() {
    // Twenty years of working days (about 250 a year) from the first decided day; the answer
    // must stay inside 2026 and match the count back.
    let c = cal();
    let total = c
        .working_days_between(d(2007, 1, 1), d(2026, 12, 24))
        .unwrap();
    assert!(
        (4800..5000).contains(&total),
        "total working days 2007–2026: {total}"
    );
    assert_eq!(
        c.add_working_days(d(2007, 1, 1), total),
        Ok(d(2026, 12, 24))
    );
    assert_eq!(
        c.add_working_days(d(2007, 1, 1), total + 1),
        Err(CalendarError::NotPublished {
            year: 2027,
            first: 2007,
            last: 2026
        })
    );
    assert_eq!(
        c.add_working_days(d(2007, 1, 1), u32::MAX),
        Err(CalendarError::NotPublished {
            year: 2027,
            first: 2007,
            last: 2026
        })
    );
}

#[test]
fn a_date_after_the_last_notice_is_refused_naming_the_missing_year() {
    let not_2027 = Err(CalendarError::NotPublished {
        year: 2027,
        first: 2007,
        last: 2026,
    });
    assert_eq!(cal().is_working_day(d(2027, 3, 1)), not_2027);
    assert_eq!(
        cal().day_kind(d(2027, 1, 1)),
        not_2027.clone().map(|_: bool| DayKind::Workday)
    );
    assert_eq!(
        cal().is_working_day(d(2031, 6, 2)),
        Err(CalendarError::NotPublished {
            year: 2031,
            first: 2007,
            last: 2026
        })
    );
    // The last days of December 2026 wait for the 2027 notice, which may move them.
    assert_eq!(cal().is_working_day(d(2026, 12, 28)), not_2027);
    assert_eq!(cal().is_working_day(d(2026, 12, 24)), Ok(true));
    // Twenty working days after 10 December 2026 run into those undecided days.
    assert_eq!(
        cal().add_working_days(d(2026, 12, 10), 20),
        not_2027.map(|_: bool| d(2026, 1, 1))
    );
    let message = CalendarError::NotPublished {
        year: 2027,
        first: 2007,
        last: 2026,
    }
    .to_string();
    assert_eq!(
        message,
        "calendar for 2027 not yet published (the official working-day data covers 2007–2026); \
         record the notice with `subsidy calendar load` (README, \"Calendar years\")"
    );
}

#[test]
fn a_date_before_the_first_notice_is_refused() {
    let not_2006 = Err(CalendarError::NotPublished {
        year: 2006,
        first: 2007,
        last: 2026,
    });
    assert_eq!(cal().is_working_day(d(2006, 12, 29)), not_2006);
    assert_eq!(
        cal().working_days_between(d(2006, 12, 29), d(2007, 1, 5)),
        not_2006.map(|_: bool| 0)
    );
    // 1 January 2007 is a holiday and nothing decided precedes it.
    assert_eq!(
        cal().previous_working_day_on_or_before(d(2007, 1, 3)),
        Err(CalendarError::NotPublished {
            year: 2006,
            first: 2007,
            last: 2026
        })
    );
}

#[test]
fn every_vendored_file_is_embedded() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/holidays");
    let mut on_disk: Vec<i32> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    on_disk.sort();
    let embedded: Vec<i32> = EMBEDDED_YEAR_FILES.iter().map(|(y, _)| *y).collect();
    assert_eq!(
        on_disk, embedded,
        "add new year files to EMBEDDED_YEAR_FILES in calendar.rs"
    );
}

#[test]
fn every_covered_year_has_new_year_spring_festival_and_national_day() {
    for year in cal().covered_years() {
        assert_eq!(kind(d(year, 1, 1)), holiday("元旦"), "{year}");
        assert_eq!(kind(d(year, 10, 1)), holiday("国庆节"), "{year}");
        let spring = d(year, 1, 15)
            .iter_days()
            .take(45)
            .filter(|x| kind(*x) == holiday("春节"))
            .count();
        assert!(spring >= 3, "{year}: only {spring} 春节 days off");
    }
}

const Y2024: &str = r#"{"year": 2024, "days": [
    {"date": "2024-01-01", "name": "元旦", "isOffDay": true}]}"#;
const Y2025: &str = r#"{"year": 2025, "papers": ["ignored"], "days": [
    {"date": "2024-12-28", "name": "元旦", "isOffDay": false},
    {"date": "2025-01-01", "name": "元旦", "isOffDay": true}]}"#;

fn malformed_year(files: &[(i32, &str)]) -> Option<i32> {
    match WorkingCalendar::from_year_files(files) {
        Err(CalendarError::Malformed { year, .. }) => Some(year),
        Err(other) => panic!("expected Malformed, got {other}"),
        Ok(_) => None,
    }
}

#[test]
fn a_small_calendar_built_from_files_reads_the_previous_december_from_the_next_file() {
    let c = WorkingCalendar::from_year_files(&[(2025, Y2025), (2024, Y2024)]).unwrap();
    assert_eq!(c.covered_years(), 2024..=2025);
    assert_eq!(c.day_kind(d(2024, 12, 28)), Ok(adjusted("元旦")));
    assert_eq!(c.day_kind(d(2024, 12, 29)), Ok(DayKind::Weekend));
    assert_eq!(c.add_working_days(d(2024, 12, 27), 1), Ok(d(2024, 12, 28)));
    assert_eq!(
        c.is_working_day(d(2025, 12, 29)),
        Err(CalendarError::NotPublished {
            year: 2026,
            first: 2024,
            last: 2025
        })
    );
}

#[test]
fn malformed_files_are_refused_with_their_year() {
    assert_eq!(
        malformed_year(&[(2024, Y2024), (2025, "{\"year\": 2025, \"days\": [")]),
        Some(2025)
    );
    assert_eq!(malformed_year(&[(2024, Y2024), (2025, "[]")]), Some(2025));
    // The file's own year disagrees with the name it was given.
    assert_eq!(
        malformed_year(&[(2024, Y2024), (2025, &Y2025.replace("2025,", "2026,"))]),
        Some(2025)
    );
    // An empty file (as holiday-cn creates before a notice appears) must not look covered.
    assert_eq!(
        malformed_year(&[(2027, r#"{"year": 2027, "papers": [], "days": []}"#)]),
        Some(2027)
    );
    // A date that is not a date.
    assert_eq!(
        malformed_year(&[(2024, &Y2024.replace("2024-01-01", "2024-13-01"))]),
        Some(2024)
    );
    // A day outside what the notice can arrange.
    assert_eq!(
        malformed_year(&[(2024, &Y2024.replace("2024-01-01", "2023-06-01"))]),
        Some(2024)
    );
    // A weekday cannot be an adjusted working day (Wednesday 3 January 2024).
    let weekday_work =
        r#"{"year": 2024, "days": [{"date": "2024-01-03", "name": "元旦", "isOffDay": false}]}"#;
    assert_eq!(malformed_year(&[(2024, weekday_work)]), Some(2024));
    // The same day listed twice, and a missing field.
    let twice = r#"{"year": 2024, "days": [{"date": "2024-01-01", "name": "元旦", "isOffDay": true},
        {"date": "2024-01-01", "name": "元旦", "isOffDay": true}]}"#;
    assert_eq!(malformed_year(&[(2024, twice)]), Some(2024));
    assert_eq!(
        malformed_year(&[(
            2024,
            r#"{"year": 2024, "days": [{"date": "2024-01-01", "name": "元旦"}]}"#
        )]),
        Some(2024)
    );
    // Two files disagreeing about one day: the later file is named.
    let clash =
        r#"{"year": 2025, "days": [{"date": "2024-12-28", "name": "元旦", "isOffDay": false}]}"#;
    let y2024_with_dec = r#"{"year": 2024, "days": [{"date": "2024-01-01", "name": "元旦", "isOffDay": true},
        {"date": "2024-12-28", "name": "元旦", "isOffDay": true}]}"#;
    assert_eq!(
        malformed_year(&[(2024, y2024_with_dec), (2025, clash)]),
        Some(2025)
    );
    // The message names the file's year.
    let err = WorkingCalendar::from_year_files(&[(2025, "not json")]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the holiday data file for 2025 is malformed"),
        "{err}"
    );
}

#[test]
fn gaps_duplicates_and_no_files_are_refused() {
    let y2026 =
        r#"{"year": 2026, "days": [{"date": "2026-01-01", "name": "元旦", "isOffDay": true}]}"#;
    assert_eq!(
        WorkingCalendar::from_year_files(&[(2024, Y2024), (2026, y2026)]).unwrap_err(),
        CalendarError::MissingYear {
            year: 2025,
            first: 2024,
            last: 2026
        }
    );
    assert_eq!(
        WorkingCalendar::from_year_files(&[(2024, Y2024), (2024, Y2024)]).unwrap_err(),
        CalendarError::DuplicateYear { year: 2024 }
    );
    assert_eq!(
        WorkingCalendar::from_year_files(&[]).unwrap_err(),
        CalendarError::NoYearFiles
    );
}

#[test]
fn every_shipped_year_round_trips_through_the_file_format() {
    use workflows::calendar::{YearNotice, EMBEDDED_YEAR_FILES};
    for (year, text) in EMBEDDED_YEAR_FILES {
        let notice = YearNotice::parse(text).unwrap_or_else(|e| panic!("{year}: {e:?}"));
        let again = YearNotice::parse(&notice.to_json()).unwrap();
        assert_eq!(notice, again, "{year}");
        assert_eq!(YearNotice::embedded(*year), Some(notice));
    }
}

#[test]
fn a_recorded_year_extends_the_calendar_and_a_gap_is_refused() {
    use workflows::calendar::{SharedCalendar, YearNotice};
    let next = YearNotice::parse(
        r#"{"year": 2027, "days": [{"date": "2027-01-01", "name": "元旦", "isOffDay": true}]}"#,
    )
    .unwrap();
    let shared = SharedCalendar::official();
    let before = shared.current();
    assert!(shared.absorb(std::slice::from_ref(&next)).unwrap());
    assert!(
        !shared.absorb(std::slice::from_ref(&next)).unwrap(),
        "once only"
    );
    let cal = shared.current();
    assert_eq!(cal.covered_years(), 2007..=2027);
    assert_eq!(
        cal.add_working_days(d(2026, 12, 31), 1).unwrap(),
        d(2027, 1, 4)
    );
    // The snapshot taken before is unchanged.
    assert!(before.is_working_day(d(2027, 1, 4)).is_err());
    let gap = YearNotice::parse(
        r#"{"year": 2029, "days": [{"date": "2029-01-01", "name": "元旦", "isOffDay": true}]}"#,
    )
    .unwrap();
    assert!(cal.extended(&gap).is_err());
}
