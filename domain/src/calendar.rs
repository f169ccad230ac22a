//! The `CalendarYear` aggregate: one stream per notice year (`calendar` / `"2027"`) holding the
//! official holidays and adjusted working days that an admin recorded at run time
//! (`subsidy calendar load`, `POST /calendar/years`), with the notice they came from and the
//! content's hash; the actor and time are the event's metadata and `recorded_at`, like every
//! project event, so the auditor sees who put a year in force.
//!
//! **A recorded year never changes.** The stream holds at most one event: a second load of the
//! same content is answered "unchanged" and stores nothing; other content for a recorded (or
//! shipped) year is refused with both hashes. This is what lets every reader extend its
//! calendar by a year without ever revising an answer it gave from that year. A correction by
//! a later notice is out of scope for now (see ARCHITECTURE.md).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use workflows::calendar::{FieldError, NoticeDay, SharedCalendar, YearNotice};

/// The aggregate type of calendar streams in the event store.
pub const CALENDAR_TYPE: &str = "calendar";

/// Record a year's notice (checked with [`YearNotice::parse`] by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCalendarYear {
    pub file: YearNotice,
    /// The notice, e.g. 国办发明电〔2026〕7号.
    pub notice: String,
    /// SHA-256 (hex) of the file's canonical JSON (RFC 8785).
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CalendarEvent {
    CalendarYearRecorded {
        year: i32,
        notice: String,
        sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        days: Vec<NoticeDay>,
    },
}

impl CalendarEvent {
    /// The year file this event recorded.
    pub fn notice_file(&self) -> YearNotice {
        let CalendarEvent::CalendarYearRecorded {
            year, source, days, ..
        } = self;
        YearNotice {
            year: *year,
            source: source.clone(),
            days: days.clone(),
        }
    }
}

impl DomainEvent for CalendarEvent {
    fn event_type(&self) -> String {
        "CalendarYearRecorded".to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// Why a year was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarYearError {
    #[error("the year file is invalid: {}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid { errors: Vec<FieldError> },
    #[error("{year} is already in force with the same days ({origin}); nothing was stored")]
    Unchanged { year: i32, origin: String },
    #[error("{year} is already in force ({origin}, sha256 {recorded_sha256}) with other days than this file (sha256 {sha256}); a recorded year cannot be changed")]
    Conflict {
        year: i32,
        origin: String,
        recorded_sha256: String,
        sha256: String,
    },
    #[error("{year} cannot be recorded yet: the calendar covers {first}–{last}, so the next year to record is {next}")]
    NotNext {
        year: i32,
        first: i32,
        last: i32,
        next: i32,
    },
}

impl CalendarYearError {
    /// Stable machine-readable code (problem documents).
    pub fn code(&self) -> &'static str {
        match self {
            CalendarYearError::Invalid { .. } => "calendar.invalid",
            CalendarYearError::Unchanged { .. } => "calendar.unchanged",
            CalendarYearError::Conflict { .. } => "calendar.year_recorded",
            CalendarYearError::NotNext { .. } => "calendar.not_next_year",
        }
    }
}

/// What deciding needs: the calendar in force (to know the shipped and recorded years).
pub struct CalendarServices {
    pub calendar: SharedCalendar,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalendarYear {
    pub recorded: Option<CalendarEvent>,
}

impl CalendarYear {
    pub fn decide(
        &self,
        command: RecordCalendarYear,
        services: &CalendarServices,
    ) -> Result<Vec<CalendarEvent>, CalendarYearError> {
        let RecordCalendarYear {
            file,
            notice,
            sha256,
        } = command;
        let year = file.year;
        let notice = notice.trim().to_string();
        if notice.is_empty() || notice.chars().count() > 200 || notice.chars().any(char::is_control)
        {
            return Err(CalendarYearError::Invalid {
                errors: vec![FieldError {
                    pointer: "/notice".into(),
                    reason: "the notice the days come from (e.g. 国办发明电〔2026〕7号): one line of 1 to 200 characters".into(),
                }],
            });
        }
        if let Some(
            recorded @ CalendarEvent::CalendarYearRecorded {
                notice: recorded_notice,
                sha256: recorded_sha256,
                ..
            },
        ) = &self.recorded
        {
            let origin = format!("recorded from {recorded_notice}");
            return Err(if recorded.notice_file().same_days(&file) {
                CalendarYearError::Unchanged { year, origin }
            } else {
                CalendarYearError::Conflict {
                    year,
                    origin,
                    recorded_sha256: recorded_sha256.clone(),
                    sha256,
                }
            });
        }
        let calendar = services.calendar.current();
        let covered = calendar.covered_years();
        if covered.contains(&year) {
            // A shipped year (a recorded one has its stream, handled above).
            let origin = "shipped with the program".to_string();
            let shipped = calendar.notice(year);
            return Err(match shipped {
                Some(shipped) if shipped.same_days(&file) => {
                    CalendarYearError::Unchanged { year, origin }
                }
                _ => CalendarYearError::Conflict {
                    year,
                    origin,
                    recorded_sha256: "-".into(),
                    sha256,
                },
            });
        }
        if year != covered.end() + 1 {
            return Err(CalendarYearError::NotNext {
                year,
                first: *covered.start(),
                last: *covered.end(),
                next: covered.end() + 1,
            });
        }
        // Every rule the calendar checks across years (e.g. a late-December day listed by two
        // notices) must hold with this year added.
        calendar
            .extended(&file)
            .map_err(|e| CalendarYearError::Invalid {
                errors: vec![FieldError {
                    pointer: "".into(),
                    reason: e.to_string(),
                }],
            })?;
        Ok(vec![CalendarEvent::CalendarYearRecorded {
            year,
            notice,
            sha256,
            source: file.source,
            days: file.days,
        }])
    }
}

impl Aggregate for CalendarYear {
    const TYPE: &'static str = CALENDAR_TYPE;
    type Command = RecordCalendarYear;
    type Event = CalendarEvent;
    type Error = CalendarYearError;
    type Services = CalendarServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.recorded = Some(event);
    }
}
