//! Calendar years as records (`subsidy calendar load|list|show`, `POST /calendar/years`,
//! `GET /calendar/years`): a year's official holidays and adjusted working days, checked field
//! by field, recorded as the one event of the stream `calendar/<year>` (who and when in its
//! metadata, the notice and the content hash in its payload), and put in force in the running
//! process at once: the shared calendar is extended and the deadlines that were undecided are
//! derived again.

use chrono::{DateTime, NaiveDate, Utc};
use domain::calendar::{
    CalendarEvent, CalendarServices, CalendarYear, CalendarYearError, RecordCalendarYear,
    CALENDAR_TYPE,
};
use domain::CommandContext;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::ExecuteError;
use workflows::calendar::{FieldError, WorkingCalendar, YearNotice};

use crate::Engine;

/// A year recorded in the store, with its provenance.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedYear {
    pub year: i32,
    pub notice: String,
    /// SHA-256 (hex) of the file's canonical JSON (RFC 8785).
    pub sha256: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    /// Global position of the event that recorded it.
    pub position: i64,
    #[serde(skip)]
    pub file: YearNotice,
}

/// One covered year, shipped or recorded (`calendar list`, `GET /calendar/years`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearItem {
    pub year: i32,
    /// `shipped` (embedded in the program) or `recorded` (loaded at run time).
    pub origin: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<DateTime<Utc>>,
    pub days_off: usize,
    pub adjusted_working_days: usize,
}

/// The calendar in force, year by year, and the warning for next year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarOverview {
    pub years: Vec<YearItem>,
    /// The last day the calendar decides (the next notice may still change later days).
    pub decided_until: NaiveDate,
    /// Set from 1 December (Asia/Shanghai) while next year's notice is not loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// What a load did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoadOutcome {
    pub year: i32,
    /// `recorded`, or `unchanged` when the same days were already in force (nothing stored).
    pub outcome: &'static str,
    pub notice: String,
    pub sha256: String,
    /// Projects whose undecided deadlines were derived again.
    pub rederived_projects: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    pub decided_until: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Refused(CalendarYearError),
    #[error("someone else recorded this year at the same time; list the calendar and try again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
}

/// SHA-256 (hex) of a JSON value's canonical form (RFC 8785): the same for the same content
/// however it is spaced or ordered, from the CLI or the API.
pub fn content_sha256(value: &serde_json::Value) -> String {
    let canonical = serde_json_canonicalizer::to_vec(value).expect("a JSON value canonicalises");
    hex::encode(Sha256::digest(&canonical))
}

/// The field errors of a file, with the pointers made relative to `prefix` (e.g. `/file`).
pub fn prefixed(errors: &[FieldError], prefix: &str) -> Vec<FieldError> {
    errors
        .iter()
        .map(|e| FieldError {
            pointer: if e.pointer.starts_with("/notice") {
                e.pointer.clone()
            } else {
                format!("{prefix}{}", e.pointer)
            },
            reason: e.reason.clone(),
        })
        .collect()
}

/// Every year recorded in the store, in year order.
pub async fn recorded_years(engine: &Engine) -> Result<Vec<RecordedYear>, store::StoreError> {
    let mut out = Vec::new();
    for id in engine.store.aggregate_ids(CALENDAR_TYPE).await? {
        for event in engine.store.read_stream(CALENDAR_TYPE, &id).await? {
            let decoded: CalendarEvent =
                serde_json::from_value(event.payload.clone()).map_err(|e| {
                    store::StoreError::CorruptEvent {
                        aggregate_type: event.aggregate_type.clone(),
                        aggregate_id: event.aggregate_id.clone(),
                        sequence: event.sequence,
                        reason: e.to_string(),
                    }
                })?;
            let CalendarEvent::CalendarYearRecorded {
                year,
                ref notice,
                ref sha256,
                ..
            } = decoded;
            out.push(RecordedYear {
                year,
                notice: notice.clone(),
                sha256: sha256.clone(),
                recorded_by: event
                    .metadata
                    .get(domain::types::metadata_keys::ACTOR)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                recorded_at: event.recorded_at,
                position: event.global_position,
                file: decoded.notice_file(),
            });
        }
    }
    out.sort_by_key(|r| r.year);
    Ok(out)
}

impl Engine {
    /// Extends the process's calendar by the years recorded in the store that it lacks.
    /// Returns whether it changed.
    pub async fn refresh_calendar(&self) -> Result<bool, store::StoreError> {
        let years: Vec<YearNotice> = recorded_years(self)
            .await?
            .into_iter()
            .map(|r| r.file)
            .collect();
        match self.services.calendar.absorb(&years) {
            Ok(changed) => Ok(changed),
            Err(e) => {
                // Only a store written by another program could hold such a year: keep serving
                // on the calendar we have, and say so.
                tracing::error!("the calendar years recorded in the store cannot be used: {e}");
                Ok(false)
            }
        }
    }

    /// Checks and records a year file (`file` as JSON) with its notice, as `context.actor`;
    /// then extends the process's calendar and derives again the deadlines that were
    /// undecided. Nothing is stored on any refusal.
    pub async fn load_calendar_year(
        &self,
        context: &CommandContext,
        file: &serde_json::Value,
        notice: &str,
        runtime: &projections::Runtime,
    ) -> Result<LoadOutcome, LoadError> {
        // Another process may have recorded years since this one started.
        self.refresh_calendar().await?;
        let mut errors = Vec::new();
        if notice.trim().is_empty() {
            errors.push(FieldError {
                pointer: "/notice".into(),
                reason: "missing: the notice the days come from, e.g. 国办发明电〔2026〕7号".into(),
            });
        }
        let parsed = YearNotice::from_value(file);
        let file_notice = match parsed {
            Ok(n) if errors.is_empty() => n,
            Ok(_) => return Err(LoadError::Refused(CalendarYearError::Invalid { errors })),
            Err(mut e) => {
                errors.append(&mut e);
                return Err(LoadError::Refused(CalendarYearError::Invalid { errors }));
            }
        };
        let sha256 = content_sha256(file);
        let year = file_notice.year;
        let services = CalendarServices {
            calendar: self.services.calendar.clone(),
        };
        let metadata = context.to_metadata("RecordCalendarYear");
        let command = RecordCalendarYear {
            file: file_notice.clone(),
            notice: notice.to_string(),
            sha256: sha256.clone(),
        };
        let committed = match self
            .store
            .execute::<CalendarYear>(&year.to_string(), command, &services, metadata, None)
            .await
        {
            Ok(c) => c,
            Err(ExecuteError::Rejected(CalendarYearError::Unchanged { .. })) => {
                return Ok(LoadOutcome {
                    year,
                    outcome: "unchanged",
                    notice: notice.trim().to_string(),
                    sha256,
                    rederived_projects: 0,
                    position: None,
                    decided_until: *self.services.calendar.current().decided_dates().end(),
                })
            }
            Err(ExecuteError::Rejected(e)) => return Err(LoadError::Refused(e)),
            Err(ExecuteError::Conflict) | Err(ExecuteError::StaleVersion { .. }) => {
                return Err(LoadError::Conflict)
            }
            Err(ExecuteError::Store(e)) => return Err(LoadError::Store(e)),
        };
        tracing::info!(year, notice = ?notice, sha256 = %sha256, actor = ?context.actor, "calendar year recorded");
        if let Err(e) = self.services.calendar.absorb(&[file_notice]) {
            tracing::error!("the recorded year {year} cannot extend the calendar: {e}");
        }
        runtime.prepare().await?;
        let rederived = runtime.refresh().await?;
        Ok(LoadOutcome {
            year,
            outcome: "recorded",
            notice: notice.trim().to_string(),
            sha256,
            rederived_projects: rederived,
            position: Some(committed.position),
            decided_until: *self.services.calendar.current().decided_dates().end(),
        })
    }

    /// The calendar in force, year by year, as of `today` (for the warning).
    pub async fn calendar_overview(
        &self,
        today: NaiveDate,
    ) -> Result<CalendarOverview, store::StoreError> {
        let recorded = recorded_years(self).await?;
        let calendar = self.services.calendar.current();
        let mut years = Vec::new();
        for year in calendar.covered_years() {
            let Some(file) = calendar.notice(year) else {
                continue;
            };
            let off = file.days.iter().filter(|d| d.is_off_day).count();
            let mut item = YearItem {
                year,
                origin: "shipped",
                notice: None,
                sha256: None,
                recorded_by: None,
                recorded_at: None,
                days_off: off,
                adjusted_working_days: file.days.len() - off,
            };
            if let Some(r) = recorded.iter().find(|r| r.year == year) {
                item.origin = "recorded";
                item.notice = Some(r.notice.clone());
                item.sha256 = Some(r.sha256.clone());
                item.recorded_by = Some(r.recorded_by.clone());
                item.recorded_at = Some(r.recorded_at);
            }
            years.push(item);
        }
        Ok(CalendarOverview {
            years,
            decided_until: *calendar.decided_dates().end(),
            warning: next_year_warning(&calendar, today),
        })
    }
}

/// From 1 December (of the last covered year, or any day after it) while next year's notice
/// is not loaded: what to tell the people who run the server.
pub fn next_year_warning(calendar: &WorkingCalendar, today: NaiveDate) -> Option<String> {
    let last = *calendar.covered_years().end();
    let first_warning = NaiveDate::from_ymd_opt(last, 12, 1)?;
    if today < first_warning {
        return None;
    }
    let next = last + 1;
    Some(format!(
        "the {next} holiday calendar is not loaded: working-day deadlines from {} on are undecided; \
         record the State Council notice with `subsidy calendar load FILE --notice …` or POST /calendar/years",
        calendar.decided_dates().end().succ_opt().unwrap_or(first_warning)
    ))
}

/// Re-checks the calendar every `every` and logs the warning once a day; picks up years
/// recorded by another process (`subsidy calendar load` beside a running server) and derives
/// the undecided deadlines again.
pub async fn watch(
    engine: Engine,
    runtime: std::sync::Arc<projections::Runtime>,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut warned_on: Option<NaiveDate> = None;
    loop {
        match engine.refresh_calendar().await {
            Ok(true) => {
                tracing::info!(
                    decided_until = %engine.services.calendar.current().decided_dates().end(),
                    "calendar: a year recorded elsewhere is now in force"
                );
                if let Err(e) = runtime.refresh().await {
                    tracing::warn!("calendar: deriving the undecided deadlines again failed: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("calendar: cannot read the recorded years: {e}"),
        }
        let today = crate::reminders::shanghai_today(Utc::now());
        if warned_on != Some(today) {
            if let Some(w) = next_year_warning(&engine.services.calendar.current(), today) {
                tracing::warn!("calendar: {w}");
            }
            warned_on = Some(today);
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_starts_on_the_first_of_december() {
        let cal = WorkingCalendar::official();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(next_year_warning(cal, d(2026, 11, 30)), None);
        let w = next_year_warning(cal, d(2026, 12, 1)).expect("a warning");
        assert!(w.contains("2027") && w.contains("2026-12-25"), "{w}");
        assert!(next_year_warning(cal, d(2027, 3, 1)).is_some());
    }

    #[test]
    fn the_content_hash_ignores_spacing_and_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"year": 2027, "days": []}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"days":[],"year":2027}"#).unwrap();
        assert_eq!(content_sha256(&a), content_sha256(&b));
    }
}
