//! Programme versions as records (`crate::programmes`): `POST /programmes` (admin: publish a
//! definition), `GET /programmes` and `GET /programmes/{id}` (the recorded versions with
//! their status, hash and provenance), `POST /programmes/{id}/versions/{version}/withdrawal`
//! (admin: no new registrations under it), `GET /programmes/{id}/diff?from=&to=`.

use actix_web::{web, HttpResponse};
use domain::programme::ProgrammeRecordError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Principal, Role};
use super::errors::{ApiError, Problem, ProblemField};
use super::strict_json::StrictJson;
use super::AppState;
use crate::programmes::{
    recorded_versions, recorded_versions_of, PublishError, PublishOutcome, VersionDiff,
    VersionRecord, WithdrawOutcome,
};

/// A definition to put in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishProgrammeBody {
    /// The definition (the format of `workflows/schema/programme.schema.json`).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// Why a version is withdrawn for new registrations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawProgrammeBody {
    pub reason: String,
}

/// The two versions to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: u32,
    pub to: u32,
}

/// Every programme version recorded in the store, with its status, hash and provenance.
#[utoipa::path(get, path = "/programmes", tag = "programmes", security(("bearer" = [])),
    responses((status = 200, body = Vec<VersionRecord>)))]
pub async fn list_programmes(
    state: web::Data<AppState>,
    _principal: Principal,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(recorded_versions(&state.engine).await?))
}

/// The recorded versions of one programme.
#[utoipa::path(get, path = "/programmes/{id}", tag = "programmes", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<VersionRecord>), (status = 404, body = Problem)))]
pub async fn programme_versions(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let versions = recorded_versions_of(&state.engine, &path).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no programme '{}'",
            path.as_str()
        )));
    }
    Ok(HttpResponse::Ok().json(versions))
}

/// Publish a programme version (admin). It is checked as a definition file is at start-up
/// (meta-schema, semantic rules, form schemas); a broken one is 422 with the JSON pointer of
/// the problem and nothing is stored. The same content again is 200 `unchanged`; other
/// content under a published (id, version) is 409.
#[utoipa::path(post, path = "/programmes", tag = "programmes", security(("bearer" = [])),
    request_body = PublishProgrammeBody,
    responses((status = 201, body = PublishOutcome), (status = 200, body = PublishOutcome),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn publish_programme(
    state: web::Data<AppState>,
    principal: Principal,
    body: StrictJson<PublishProgrammeBody>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin], "publish programme versions")?;
    let body = body.into_inner();
    let context = domain::CommandContext::new(principal.user.username.clone());
    let outcome = state
        .engine
        .publish_programme(&context, "the request body", &body.definition)
        .await
        .map_err(publish_error)?;
    Ok(if outcome.outcome == "published" {
        HttpResponse::Created().json(outcome)
    } else {
        HttpResponse::Ok().json(outcome)
    })
}

/// Withdraw a version for new registrations (admin); projects registered under it keep it.
#[utoipa::path(post, path = "/programmes/{id}/versions/{version}/withdrawal", tag = "programmes",
    security(("bearer" = [])), params(("id" = String, Path), ("version" = u32, Path)),
    request_body = WithdrawProgrammeBody,
    responses((status = 201, body = WithdrawOutcome), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn withdraw_programme(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, u32)>,
    body: StrictJson<WithdrawProgrammeBody>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin], "withdraw programme versions")?;
    let (id, version) = path.into_inner();
    let context = domain::CommandContext::new(principal.user.username.clone());
    let outcome = state
        .engine
        .withdraw_programme(&context, &id, version, &body.into_inner().reason)
        .await
        .map_err(publish_error)?;
    Ok(HttpResponse::Created().json(outcome))
}

/// What changed between two recorded versions: every JSON pointer added, removed or changed.
#[utoipa::path(get, path = "/programmes/{id}/diff", tag = "programmes", security(("bearer" = [])),
    params(("id" = String, Path), DiffQuery),
    responses((status = 200, body = VersionDiff), (status = 404, body = Problem)))]
pub async fn diff_programme(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<String>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let diff = state
        .engine
        .diff_programme(&path, query.from, query.to)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no recorded versions {} and {} of programme '{}'",
                query.from,
                query.to,
                path.as_str()
            ))
        })?;
    Ok(HttpResponse::Ok().json(diff))
}

fn publish_error(e: PublishError) -> ApiError {
    match e {
        PublishError::Invalid(d) => {
            let pointer = format!("/definition{}", d.pointer);
            ApiError::InvalidFields {
                code: "programme.invalid",
                detail: format!(
                    "the definition is refused, nothing was stored: {pointer}: {}",
                    d.reason
                ),
                errors: vec![ProblemField {
                    pointer,
                    reason: d.reason,
                }],
            }
        }
        PublishError::Refused(e @ ProgrammeRecordError::UnknownVersion { .. }) => {
            ApiError::NotFound(e.to_string())
        }
        PublishError::Refused(e @ ProgrammeRecordError::InvalidReason) => ApiError::InvalidFields {
            code: e.code(),
            detail: e.to_string(),
            errors: vec![ProblemField {
                pointer: "/reason".into(),
                reason: e.to_string(),
            }],
        },
        PublishError::Refused(e) => ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        },
        PublishError::Conflict => ApiError::Conflict {
            code: "concurrency.conflict",
            detail: e.to_string(),
        },
        PublishError::Store(e) => e.into(),
    }
}
