//! Errors of the HTTP layer and their wire form: `application/problem+json` (RFC 9457) with a
//! stable `code`, and for invalid forms the failing JSON pointers.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::ProjectError;
use serde::{Deserialize, Serialize};
use store::{ExecuteError, StoreError};
use utoipa::ToSchema;

/// The problem document every error response carries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:subsidy:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, searchable code, e.g. `finance.notice_not_closed`.
    pub code: String,
    /// For invalid forms: each failing field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For a stale `If-Match`: the project's current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<usize>,
}

/// One failing field of a form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProblemField {
    /// JSON pointer into the submitted form (`""` for the whole form).
    pub pointer: String,
    pub reason: String,
}

/// Why the API refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the record has changed since it was read: expected version {expected}, current version {actual}")]
    Stale { expected: usize, actual: usize },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// Invalid input with each failing field (422).
    #[error("{detail}")]
    InvalidFields {
        code: &'static str,
        detail: String,
        errors: Vec<ProblemField>,
    },
    #[error("too many failed log-ins; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error("{detail}")]
    NotImplemented { code: &'static str, detail: String },
    #[error(transparent)]
    Refused(ProjectError),
    #[error("the data store is unavailable: {0}")]
    Unavailable(String),
    /// A read asked for a position the read model has not reached within the wait.
    #[error("{0}")]
    Behind(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if super::db::is_unavailable(&e) {
            return ApiError::Unavailable(e.to_string());
        }
        match e {
            StoreError::Unstorable(u) => ApiError::Unprocessable {
                code: "store.unstorable_value",
                detail: format!("the store keeps only what it can hash and return exactly: {u}"),
            },
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if super::db::is_unavailable(&e) {
            return ApiError::Unavailable(format!("database: {e}"));
        }
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<projections::ProjectionError> for ApiError {
    fn from(e: projections::ProjectionError) -> Self {
        if super::db::is_unavailable(&e) {
            return ApiError::Unavailable(e.to_string());
        }
        ApiError::Internal(e.to_string())
    }
}

impl From<ExecuteError<ProjectError>> for ApiError {
    fn from(e: ExecuteError<ProjectError>) -> Self {
        match e {
            ExecuteError::Rejected(e) => ApiError::Refused(e),
            ExecuteError::Conflict => ApiError::Conflict {
                code: "concurrency.conflict",
                detail:
                    "someone else changed this project at the same time; reload it and try again"
                        .to_string(),
            },
            ExecuteError::StaleVersion { expected, actual } => ApiError::Stale { expected, actual },
            ExecuteError::Store(e) => e.into(),
        }
    }
}

/// The HTTP status of a business refusal: state and stage conflicts are 409, broken finance
/// rules and invalid input 422, a project that does not exist 404.
pub fn refusal_status(e: &ProjectError) -> StatusCode {
    let code = e.code();
    if code == "project.not_registered" {
        StatusCode::NOT_FOUND
    } else if code.starts_with("stage.")
        || code == "project.already_registered"
        || code == "objection.duplicate"
        || code == "objection.already_resolved"
        || code == "notice.unresolved_objections"
        || code == "notice.still_running"
        || code == "finance.already_approved"
        || code == "finance.source_already_settled"
    {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "request.too_large",
            ApiError::UnsupportedMediaType => "request.unsupported_media_type",
            ApiError::Unauthorized(_) => "auth.unauthenticated",
            ApiError::Forbidden(_) => "auth.forbidden",
            ApiError::NotFound(_) => "resource.not_found",
            ApiError::Stale { .. } => "concurrency.stale_version",
            ApiError::Conflict { code, .. } => code,
            ApiError::Unprocessable { code, .. } => code,
            ApiError::InvalidFields { code, .. } => code,
            ApiError::TooManyRequests { .. } => "auth.rate_limited",
            ApiError::NotImplemented { code, .. } => code,
            ApiError::Refused(e) => e.code(),
            ApiError::Unavailable(_) => "store.unavailable",
            ApiError::Behind(_) => "projection.behind",
            ApiError::Internal(_) => "internal.error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "Bad request",
            ApiError::PayloadTooLarge { .. } => "Request body too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::Unauthorized(_) => "Authentication required",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::Stale { .. } => "Precondition failed",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Unprocessable { .. } | ApiError::InvalidFields { .. } => {
                "Unprocessable request"
            }
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::NotImplemented { .. } => "Not implemented",
            ApiError::Refused(e) if e.is_finance_rule() => "Refused by a finance-discipline rule",
            ApiError::Refused(_) => "Refused by a project rule",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Behind(_) => "Not caught up yet",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let errors = match self {
            ApiError::Refused(ProjectError::InvalidForm { errors, .. }) => errors
                .iter()
                .map(|e| ProblemField {
                    pointer: e.pointer.clone(),
                    reason: e.reason.clone(),
                })
                .collect(),
            ApiError::Refused(e) => e
                .pointer()
                .map(|pointer| {
                    vec![ProblemField {
                        pointer,
                        reason: e.to_string(),
                    }]
                })
                .unwrap_or_default(),
            ApiError::InvalidFields { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        let detail = match self {
            // Never show a database message to a client: it is logged instead.
            ApiError::Internal(_) => "the server failed; the error was logged".to_string(),
            ApiError::Unavailable(_) => format!(
                "the data store cannot be reached just now; retry in {} seconds (with the same \
                 Idempotency-Key, a retry never runs a command twice)",
                super::db::RETRY_AFTER_SECS
            ),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("urn:subsidy:problem:{}", self.code()),
            title: self.title().to_string(),
            status: self.status_code().as_u16(),
            detail,
            code: self.code().to_string(),
            errors,
            current_version: match self {
                ApiError::Stale { actual, .. } => Some(*actual),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Stale { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } | ApiError::InvalidFields { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            ApiError::Refused(e) => refusal_status(e),
            ApiError::Unavailable(_) | ApiError::Behind(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(reason) = self {
            tracing::error!(?reason, "request failed");
        }
        if let ApiError::Unavailable(reason) = self {
            tracing::warn!(?reason, "store unavailable");
        }
        problem_response(&self.problem(), self)
    }
}

fn problem_response(problem: &Problem, error: &ApiError) -> HttpResponse {
    let mut response = HttpResponse::build(error.status_code());
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    ));
    match error {
        ApiError::Stale { actual, .. } => {
            response.insert_header((header::ETAG, format!("\"{actual}\"")));
        }
        ApiError::TooManyRequests { retry_after } => {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        ApiError::Unavailable(_) => {
            response.insert_header((header::RETRY_AFTER, super::db::RETRY_AFTER_SECS.to_string()));
        }
        ApiError::Behind(_) => {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        ApiError::Unauthorized(_) => {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        _ => {}
    }
    response.body(serde_json::to_string(problem).expect("problem documents serialize"))
}
