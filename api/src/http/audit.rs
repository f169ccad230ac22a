//! Auditor-only proofs over the signed audit digests (`crate::audit::digest`): a project's chain
//! head in a digest (inclusion) and a later digest extending an earlier one (consistency).

use actix_web::{web, HttpResponse};

use super::auth::{Principal, Role};
use super::errors::{ApiError, Problem};
use super::AppState;
use crate::audit::digest::{self, ConsistencyProof, DigestError, InclusionProof};

fn digest_error(e: DigestError) -> ApiError {
    match e {
        DigestError::NoDigest(_) | DigestError::NotInDigest { .. } => {
            ApiError::NotFound(e.to_string())
        }
        DigestError::Order { .. } => ApiError::BadRequest {
            code: "request.bad_query",
            detail: e.to_string(),
        },
        DigestError::Store(e) => e.into(),
        DigestError::Db(ref db) if super::db::is_unavailable(db) => {
            ApiError::Unavailable(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// The inclusion proof of a project's chain head in a digest: the leaf (project, sequence, head
/// hash), its index, the audit path and the signed digest. Auditors only; a project outside
/// your jurisdictions is 404.
#[utoipa::path(get, path = "/audit/digests/{id}/inclusion/{project_id}", tag = "audit", security(("bearer" = [])),
    params(("id" = i64, Path, description = "digest id"), ("project_id" = String, Path, description = "project id")),
    responses((status = 200, body = InclusionProof), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn inclusion(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Auditor], "read audit proofs")?;
    let (id, project) = path.into_inner();
    let (loaded, _) = state.engine.load(&project).await?;
    let inside = loaded.is_registered()
        && loaded
            .jurisdiction
            .as_ref()
            .is_some_and(|j| principal.user.covers(j));
    if !inside {
        return Err(ApiError::NotFound(format!("no project '{project}'")));
    }
    let proof = digest::inclusion(&state.db, id, &project)
        .await
        .map_err(digest_error)?;
    Ok(HttpResponse::Ok().json(proof))
}

/// The consistency proof that digest `to` extends digest `from` (RFC 6962): nothing recorded
/// in `from` was changed, removed or reordered. Auditors only.
#[utoipa::path(get, path = "/audit/digests/{from}/consistency/{to}", tag = "audit", security(("bearer" = [])),
    params(("from" = i64, Path, description = "the earlier digest"), ("to" = i64, Path, description = "the later digest")),
    responses((status = 200, body = ConsistencyProof), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn consistency(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Auditor], "read audit proofs")?;
    let (from, to) = path.into_inner();
    let proof = digest::consistency(&state.db, from, to)
        .await
        .map_err(digest_error)?;
    Ok(HttpResponse::Ok().json(proof))
}

/// `GET /audit/findings` parameters.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindingsQuery {
    /// Only projects inside this GB/T 2260 division (default: your first jurisdiction); it must
    /// lie inside your jurisdictions.
    pub jurisdiction: Option<String>,
    /// The store as it was at the end of this Asia/Shanghai day, deadlines judged on it
    /// (default: the whole store, today there).
    pub as_of: Option<chrono::NaiveDate>,
}

/// The compliance report (`subsidy audit check`): every finance-discipline and deadline finding
/// of the projects in scope, each with a stable kind id, severity, Chinese and English text and
/// the stored events that prove it. Judged from the raw events, never from the aggregate's
/// refusals. Auditors and supervisors; a jurisdiction outside yours is 403.
#[utoipa::path(get, path = "/audit/findings", tag = "audit", security(("bearer" = [])),
    params(FindingsQuery),
    responses((status = 200, description = "the findings in scope, finance first, and what could not be judged"), (status = 403, body = Problem)))]
pub async fn findings(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<FindingsQuery>,
) -> Result<HttpResponse, ApiError> {
    let report = findings_report(&state, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The compliance report for `principal` (auditor or supervisor) over `query`'s scope: what
/// `GET /audit/findings` answers and the findings page shows.
pub async fn findings_report(
    state: &AppState,
    principal: &Principal,
    query: FindingsQuery,
) -> Result<crate::audit::check::CheckReport, ApiError> {
    principal.require_role(
        &[Role::Auditor, Role::Supervisor],
        "read compliance findings",
    )?;
    let scope = match super::handlers::scope_param(query.jurisdiction.as_deref())? {
        Some(code) => code,
        None => principal
            .user
            .jurisdictions
            .first()
            .cloned()
            .ok_or_else(|| ApiError::Forbidden("you have no jurisdiction to check".into()))?,
    };
    if !principal.user.covers(&scope) {
        return Err(ApiError::Forbidden(format!(
            "{scope} is outside your jurisdictions"
        )));
    }
    let engine = &state.engine;
    Ok(crate::audit::check::check_store(
        &engine.store,
        engine.programmes(),
        &engine.services.calendar.current(),
        &crate::audit::check::CheckScope {
            jurisdiction: Some(scope),
            as_of: query.as_of,
        },
        crate::reminders::shanghai_today(chrono::Utc::now()),
    )
    .await?)
}
