//! `POST /calendar/years` (admin: record a year's holidays and adjusted working days) and
//! `GET /calendar/years` (every covered year with its source, and next year's warning).

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Principal, Role};
use super::errors::{ApiError, Problem, ProblemField};
use super::strict_json::StrictJson;
use super::AppState;
use crate::calendar::{CalendarOverview, LoadError, LoadOutcome};
use domain::calendar::CalendarYearError;

/// A year file and the notice it transcribes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadCalendarBody {
    /// The notice, e.g. 国办发明电〔2026〕7号.
    pub notice: String,
    /// The year file (README: "Calendar years"): `{"year", "source"?, "days": [{"date",
    /// "name", "isOffDay"}]}`.
    #[schema(value_type = Object)]
    pub file: serde_json::Value,
}

/// Every covered year and where it comes from.
#[utoipa::path(get, path = "/calendar/years", tag = "calendar", security(("bearer" = [])),
    responses((status = 200, body = CalendarOverview)))]
pub async fn list_years(
    state: web::Data<AppState>,
    _principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let today = crate::reminders::shanghai_today(Utc::now());
    Ok(HttpResponse::Ok().json(state.engine.calendar_overview(today).await?))
}

/// Record a year's official holidays and adjusted working days (admin). The same days again
/// are 200 `unchanged` (nothing stored); other days for a year in force are 409.
#[utoipa::path(post, path = "/calendar/years", tag = "calendar", security(("bearer" = [])),
    request_body = LoadCalendarBody,
    responses((status = 201, body = LoadOutcome), (status = 200, body = LoadOutcome),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn load_year(
    state: web::Data<AppState>,
    principal: Principal,
    body: StrictJson<LoadCalendarBody>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin], "record calendar years")?;
    let body = body.into_inner();
    let context = domain::CommandContext::new(principal.user.username.clone());
    let outcome = state
        .engine
        .load_calendar_year(&context, &body.file, &body.notice, &state.projections)
        .await
        .map_err(load_error)?;
    Ok(if outcome.outcome == "recorded" {
        HttpResponse::Created().json(outcome)
    } else {
        HttpResponse::Ok().json(outcome)
    })
}

fn load_error(e: LoadError) -> ApiError {
    match e {
        LoadError::Refused(CalendarYearError::Invalid { errors }) => ApiError::InvalidFields {
            code: "calendar.invalid",
            detail: format!(
                "the year file is invalid: {}",
                errors
                    .iter()
                    .map(|e| format!("{} {}", prefixed_pointer(&e.pointer), e.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            errors: errors
                .into_iter()
                .map(|e| ProblemField {
                    pointer: prefixed_pointer(&e.pointer),
                    reason: e.reason,
                })
                .collect(),
        },
        LoadError::Refused(e @ CalendarYearError::NotNext { .. }) => ApiError::Unprocessable {
            code: e.code(),
            detail: e.to_string(),
        },
        LoadError::Refused(e) => ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        },
        LoadError::Conflict => ApiError::Conflict {
            code: "concurrency.conflict",
            detail: e.to_string(),
        },
        LoadError::Store(e) => e.into(),
        LoadError::Projection(e) => e.into(),
    }
}

/// A file's pointers are relative to the body's `file`.
fn prefixed_pointer(pointer: &str) -> String {
    if pointer.starts_with("/notice") {
        pointer.to_string()
    } else {
        format!("/file{pointer}")
    }
}
