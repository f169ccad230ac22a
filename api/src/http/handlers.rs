//! Request handlers: health, log-in and accounts, programmes, projects and one endpoint per
//! lifecycle command. Every handler checks the role first (403), then the project's
//! jurisdiction (404, so that existence does not leak), then runs.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::{CommandContext, JurisdictionCode, ProjectCommand, Stage, SubsidyProject};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Principal, Role, SessionKind, CSRF_COOKIE, SESSION_COOKIE};
use super::errors::{ApiError, Problem};
use super::idempotency::{self, Claim};
use super::strict_json::StrictJson;
use super::wire::*;
use super::AppState;

type Result<T> = std::result::Result<T, ApiError>;

// ---------------------------------------------------------------------------------- health

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the store answers a query.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, description = "ready"), (status = 503, body = Problem)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse> {
    let position = state
        .engine
        .store
        .last_position()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the event store does not answer: {e}")))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ready",
        "backend": state.engine.store.backend_name(),
        "last_position": position,
    })))
}

// ---------------------------------------------------------------------------------- auth

/// Log in with a user name and password. Five failures per minute for one name and address
/// lead to 429.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = LoginResult), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: StrictJson<LoginBody>,
) -> Result<HttpResponse> {
    let (mut response, result) = log_in(&req, &state, body.into_inner()).await?;
    Ok(response.json(result))
}

/// The log-in of `POST /auth/login` (also the log-in page's, always with `cookie: true`):
/// rate limit, password check, session; answers a response builder carrying the session
/// cookies (for a cookie session) and the result to send.
pub(crate) async fn log_in(
    req: &HttpRequest,
    state: &AppState,
    body: LoginBody,
) -> Result<(actix_web::HttpResponseBuilder, LoginResult)> {
    let ip = req.peer_addr().map(|a| a.ip());
    if let Err(retry_after) = state.limiter.check(&body.username, ip) {
        tracing::warn!(username = ?body.username, ?ip, "log-in rate limit reached");
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let Some(user) = state
        .accounts
        .check_password(&body.username, &body.password)
        .await?
    else {
        state.limiter.record_failure(&body.username, ip);
        tracing::warn!(username = ?body.username, ?ip, "log-in failed");
        return Err(ApiError::Unauthorized(
            "wrong user name or password, or the account is disabled".into(),
        ));
    };
    state.limiter.clear(&body.username, ip);
    let kind = if body.cookie {
        SessionKind::Cookie
    } else {
        SessionKind::Bearer
    };
    let session = state
        .accounts
        .open_session(&user.username, kind, state.token_ttl)
        .await?;
    let mut response = HttpResponse::Ok();
    let result = if body.cookie {
        let max_age = actix_web::cookie::time::Duration::seconds(state.token_ttl.as_secs() as i64);
        response.cookie(
            actix_web::cookie::Cookie::build(SESSION_COOKIE, session.token.clone())
                .path("/")
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Strict)
                .secure(state.tls)
                .max_age(max_age)
                .finish(),
        );
        let csrf = session.csrf_token.clone().unwrap_or_default();
        response.cookie(
            actix_web::cookie::Cookie::build(CSRF_COOKIE, csrf)
                .path("/")
                .same_site(actix_web::cookie::SameSite::Strict)
                .secure(state.tls)
                .max_age(max_age)
                .finish(),
        );
        LoginResult {
            token: None,
            token_type: "cookie".into(),
            expires_at: session.expires_at,
            csrf_token: session.csrf_token,
            user,
        }
    } else {
        LoginResult {
            token: Some(session.token),
            token_type: "Bearer".into(),
            expires_at: session.expires_at,
            csrf_token: None,
            user,
        }
    };
    Ok((response, result))
}

/// End the current session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse> {
    state.accounts.close_session(&principal.token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = super::auth::User), (status = 401, body = Problem)))]
pub async fn me(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(principal.user)
}

/// List accounts (admin).
#[utoipa::path(get, path = "/users", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<super::auth::User>), (status = 403, body = Problem)))]
pub async fn list_users(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(users_of(&state, &principal).await?))
}

/// Every account, for an admin (the API's list and the accounts page).
pub(crate) async fn users_of(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<super::auth::User>> {
    principal.require_role(&[Role::Admin], "manage accounts")?;
    Ok(state.accounts.list_users().await?)
}

/// Create an account (admin).
#[utoipa::path(post, path = "/users", tag = "accounts", security(("bearer" = [])), request_body = CreateUserBody,
    responses((status = 201, body = super::auth::User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    state: web::Data<AppState>,
    principal: Principal,
    body: StrictJson<CreateUserBody>,
) -> Result<HttpResponse> {
    principal.require_role(&[Role::Admin], "manage accounts")?;
    let body = body.into_inner();
    let codes = body
        .jurisdictions
        .iter()
        .map(|c| JurisdictionCode::parse(c))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Unprocessable {
            code: "account.invalid",
            detail: e.to_string(),
        })?;
    let user = state
        .accounts
        .create_user(&body.username, &body.password, body.role, &codes)
        .await?;
    tracing::info!(admin = ?principal.user.username, user = ?user.username, "account created");
    Ok(HttpResponse::Created().json(user))
}

/// Disable an account and end its sessions (admin).
#[utoipa::path(post, path = "/users/{username}/disable", tag = "accounts", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn disable_user(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    principal.require_role(&[Role::Admin], "manage accounts")?;
    state.accounts.disable_user(&path).await?;
    tracing::info!(admin = ?principal.user.username, user = ?path.as_str(), "account disabled");
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------- programmes

/// One programme version with its form schemas, deadlines, checklist and funding rules.
#[utoipa::path(get, path = "/programmes/{id}/versions/{version}", tag = "programmes", security(("bearer" = [])),
    params(("id" = String, Path), ("version" = u32, Path)),
    responses((status = 200, description = "the programme definition"), (status = 404, body = Problem)))]
pub async fn show_programme(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<(String, u32)>,
) -> Result<HttpResponse> {
    let (id, version) = path.into_inner();
    let programme = state
        .engine
        .programmes()
        .get(&id, version)
        .ok_or_else(|| ApiError::NotFound(format!("no programme {id}@v{version}")))?;
    Ok(HttpResponse::Ok().json(&*programme))
}

// ---------------------------------------------------------------------------------- projects

/// Filters and paging of the project list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A GB/T 2260 code; a city or province covers the projects below it.
    pub jurisdiction: Option<String>,
    /// A programme id.
    pub programme: Option<String>,
    /// A stage id (`registered`, `notice`, `construction`…).
    pub stage: Option<String>,
    /// `true`: only projects with a missed deadline today (Asia/Shanghai); `false`: only those
    /// without.
    pub overdue: Option<bool>,
    /// Text search in the name and id (case-insensitive).
    pub q: Option<String>,
    /// Order: `jurisdiction` (default: jurisdiction, name), `name`, `registered_on`,
    /// `-registered_on`, `-paid_fen`, `-last_recorded_at` (most recently changed first).
    pub sort: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// Projects to skip (default 0).
    pub offset: Option<i64>,
    /// Read-your-writes: wait (up to 5 s) until the list includes every event up to this
    /// global position (a command's answer carries it as `position`).
    pub min_position: Option<i64>,
}

/// How long a read waits for `min_position` before answering 503 `projection.behind`.
const READ_YOUR_WRITES_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A `request.bad_query` refusal.
pub(super) fn bad_query(detail: String) -> ApiError {
    ApiError::BadRequest {
        code: "request.bad_query",
        detail,
    }
}

/// The `jurisdiction` filter of a list, parsed.
pub(super) fn scope_param(code: Option<&str>) -> Result<Option<JurisdictionCode>> {
    code.map(JurisdictionCode::parse)
        .transpose()
        .map_err(|e| bad_query(e.to_string()))
}

/// A page's `limit` (1–500, default 50) and `offset` (default 0).
fn page_params(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64)> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(bad_query(format!(
            "limit must be between 1 and 500, got {limit}"
        )));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(bad_query("offset must be 0 or more".into()));
    }
    Ok((limit, offset))
}

/// Projects in your jurisdictions, filtered and paged, from the persisted project list. The
/// answer's `X-Projection-Position` header says up to which global position it is complete.
#[utoipa::path(get, path = "/projects", tag = "projects", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ProjectPage, headers(("X-Projection-Position" = i64, description = "the list includes every event up to this position"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_projects(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let (page, position) = list_page(&state, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Projection-Position", position.to_string()))
        .json(page))
}

/// The project list of `GET /projects` (also the pages' list): checks the role, parses the
/// filters and reads the persisted list; returns the page and the position it is complete to.
pub(crate) async fn list_page(
    state: &AppState,
    principal: &Principal,
    query: ListQuery,
) -> Result<(ProjectPage, i64)> {
    principal.require_role(
        &[Role::Officer, Role::Supervisor, Role::Auditor],
        "read projects",
    )?;
    let scope = scope_param(query.jurisdiction.as_deref())?;
    let stage = query
        .stage
        .as_deref()
        .map(|s| {
            Stage::from_id(s).ok_or_else(|| {
                bad_query(format!(
                    "unknown stage '{s}'; stages are: {}",
                    Stage::ALL.map(|s| s.id()).join(", ")
                ))
            })
        })
        .transpose()?;
    // Projects with at least one missed deadline today (Asia/Shanghai civil date), from the
    // persisted deadlines (an index range query, then an exact check of each candidate).
    let overdue_ids: Option<Vec<String>> = match query.overdue {
        None => None,
        Some(_) => {
            let (slot, _) = read_at(
                state,
                projections::deadlines::DEADLINES,
                "the deadlines",
                query.min_position,
            )
            .await?;
            let today = crate::reminders::shanghai_today(Utc::now());
            Some(
                projections::deadlines::overdue_project_ids(
                    state.projections.reader(),
                    &slot,
                    state.engine.programmes(),
                    &state.engine.services.calendar.current(),
                    today,
                )
                .await
                .map_err(projection_error)?,
            )
        }
    };
    let (limit, offset) = page_params(query.limit, query.offset)?;
    let sort = match query.sort.as_deref() {
        None => projections::projects::SortOrder::default(),
        Some(s) => projections::projects::SortOrder::parse(s).ok_or_else(|| {
            bad_query(format!(
                "unknown sort '{s}'; sorts are: {}",
                projections::projects::SortOrder::ALL
                    .map(|(n, _)| n)
                    .join(", ")
            ))
        })?,
    };
    let (slot, position) = read_at(
        state,
        projections::PROJECTS,
        "the project list",
        query.min_position,
    )
    .await?;
    let list_query = projections::projects::ListQuery {
        grants: Some(principal.user.jurisdictions.clone()),
        scope,
        programme: query.programme.clone(),
        stage,
        text: query.q.clone().filter(|q| !q.is_empty()),
        ids: overdue_ids,
        exclude_ids: query.overdue == Some(false),
        sort,
        limit,
        offset,
    };
    let (total, rows) = projections::projects::list(state.projections.reader(), &slot, &list_query)
        .await
        .map_err(projection_error)?;
    let items = rows.into_iter().map(ProjectListItem::from).collect();
    Ok((
        ProjectPage {
            total: total as usize,
            limit: limit as usize,
            offset: offset as usize,
            items,
        },
        position,
    ))
}

/// `GET /rollup` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RollupQuery {
    /// The GB/T 2260 code to roll up (default: your first grant). It must lie inside your
    /// jurisdictions.
    pub jurisdiction: Option<String>,
    /// The roll-up as it stood at this global position (default: now).
    pub as_of_position: Option<i64>,
    /// Read-your-writes: wait (up to 5 s) until the roll-up includes this position.
    pub min_position: Option<i64>,
}

/// Projects per stage and funds per source of a jurisdiction, one level down (a province by
/// city, a city by county), now or as of a past position.
#[utoipa::path(get, path = "/rollup", tag = "projects", security(("bearer" = [])), params(RollupQuery),
    responses((status = 200, body = RollupView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn rollup(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<RollupQuery>,
) -> Result<HttpResponse> {
    let (view, reached) = rollup_view(&state, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Projection-Position", reached.to_string()))
        .json(view))
}

/// The roll-up of `GET /rollup` (also the dashboard's): role and scope checked; returns the
/// view and the position the read model had reached.
pub(crate) async fn rollup_view(
    state: &AppState,
    principal: &Principal,
    query: RollupQuery,
) -> Result<(RollupView, i64)> {
    principal.require_role(
        &[Role::Officer, Role::Supervisor, Role::Auditor],
        "read roll-ups",
    )?;
    let scope = match scope_param(query.jurisdiction.as_deref())? {
        Some(code) => code,
        None => principal
            .user
            .jurisdictions
            .first()
            .cloned()
            .ok_or_else(|| ApiError::Forbidden("you have no jurisdiction to roll up".into()))?,
    };
    if !principal.user.covers(&scope) {
        return Err(ApiError::Forbidden(format!(
            "{scope} is outside your jurisdictions"
        )));
    }
    if query.as_of_position.is_some_and(|p| p < 0) {
        return Err(bad_query("as_of_position must be 0 or more".into()));
    }
    let (slot, reached) = read_at(
        state,
        projections::PROJECTS,
        "the roll-up",
        query.min_position,
    )
    .await?;
    let position = query.as_of_position.unwrap_or(reached).min(reached);
    let rollup = projections::projects::rollup(state.projections.reader(), &slot, &scope, position)
        .await
        .map_err(projection_error)?;
    Ok((RollupView::from(rollup), reached))
}

/// `GET /reminders` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReminderLogQuery {
    /// Only reminders of projects inside this GB/T 2260 division.
    pub jurisdiction: Option<String>,
    /// Only reminders of this project.
    pub project: Option<String>,
    /// `pending`, `sent` or `failed`.
    pub status: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// Reminders to skip (default 0).
    pub offset: Option<i64>,
}

/// The reminder log of your jurisdictions, newest first: what was sent to whom for which
/// deadline, when, and whether it was delivered.
#[utoipa::path(get, path = "/reminders", tag = "projects", security(("bearer" = [])), params(ReminderLogQuery),
    responses((status = 200, body = ReminderLogPage), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn reminder_log(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ReminderLogQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(reminder_page(&state, &principal, query.into_inner()).await?))
}

/// The reminder log of `GET /reminders` (also the pages'), role checked.
pub(crate) async fn reminder_page(
    state: &AppState,
    principal: &Principal,
    query: ReminderLogQuery,
) -> Result<ReminderLogPage> {
    principal.require_role(
        &[Role::Officer, Role::Supervisor, Role::Auditor],
        "read the reminder log",
    )?;
    let scope = scope_param(query.jurisdiction.as_deref())?;
    if let Some(status) = &query.status {
        if !["pending", "sent", "failed"].contains(&status.as_str()) {
            return Err(bad_query(format!(
                "unknown status '{status}'; statuses are pending, sent, failed"
            )));
        }
    }
    let (limit, offset) = page_params(query.limit, query.offset)?;
    let (slot, _) = state
        .projections
        .live(projections::PROJECTS)
        .await
        .map_err(projection_error)?
        .unwrap_or_else(|| ("a".to_string(), 0));
    let (total, entries) = projections::projects::reminder_log(
        state.projections.reader(),
        &slot,
        &projections::projects::ReminderLogQuery {
            grants: Some(principal.user.jurisdictions.clone()),
            scope,
            project_id: query.project.clone(),
            status: query.status.clone(),
            limit,
            offset,
        },
    )
    .await
    .map_err(projection_error)?;
    Ok(ReminderLogPage {
        total,
        limit,
        offset,
        items: entries.into_iter().map(Into::into).collect(),
    })
}

/// `GET /projects/{id}/ledger` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// The ledger as it stood at this global position (default: now).
    pub as_of_position: Option<i64>,
    /// Read-your-writes: wait (up to 5 s) until the ledger includes this position.
    pub min_position: Option<i64>,
}

/// A project's fund ledger: every approval, tranche, settlement and clawback, each with the
/// event that recorded it, now or as of a past position.
#[utoipa::path(get, path = "/projects/{id}/ledger", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path, description = "project id"), LedgerQuery),
    responses((status = 200, body = Vec<LedgerItem>), (status = 404, body = Problem)))]
pub async fn project_ledger(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse> {
    let (items, reached) = ledger_items(&state, &principal, &path, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Projection-Position", reached.to_string()))
        .json(items))
}

/// A project's ledger as `GET /projects/{id}/ledger` gives it (also the project page's): role
/// and scope checked (404 outside); with the position the read model had reached.
pub(crate) async fn ledger_items(
    state: &AppState,
    principal: &Principal,
    path: &str,
    query: LedgerQuery,
) -> Result<(Vec<LedgerItem>, i64)> {
    principal.require_role(
        &[Role::Officer, Role::Supervisor, Role::Auditor],
        "read projects",
    )?;
    let (slot, reached) = read_at(
        state,
        projections::PROJECTS,
        "the ledger",
        query.min_position,
    )
    .await?;
    let not_found = || ApiError::NotFound(format!("no project '{}'", path));
    let (summary, _) = projections::projects::get(state.projections.reader(), &slot, path)
        .await
        .map_err(projection_error)?
        .ok_or_else(not_found)?;
    let inside =
        JurisdictionCode::parse(&summary.jurisdiction).is_ok_and(|j| principal.user.covers(&j));
    if !inside {
        tracing::warn!(user = ?principal.user.username, project = ?path, "refused: ledger outside the user's jurisdictions");
        return Err(not_found());
    }
    let position = query.as_of_position.unwrap_or(i64::MAX);
    let entries = projections::projects::ledger(state.projections.reader(), &slot, path, position)
        .await
        .map_err(projection_error)?;
    Ok((entries.into_iter().map(LedgerItem::from).collect(), reached))
}

/// Waits until the read model `name` has applied `min_position` (read-your-writes) and returns
/// its live slot and the position it has reached. A position beyond the log's head was never
/// committed (a client's mistake: 400); one not reached within 5 s is 503 `projection.behind`.
pub(super) async fn read_at(
    state: &AppState,
    name: &str,
    what: &str,
    min_position: Option<i64>,
) -> Result<(String, i64)> {
    let min = min_position.unwrap_or(0);
    if min < 0 {
        return Err(bad_query(format!(
            "min_position must be 0 or more, got {min}"
        )));
    }
    if min > 0 {
        let head = state.engine.store.last_position().await?;
        if min > head {
            return Err(bad_query(format!(
                "min_position {min} is beyond the last committed position {head}: pass the \
                 position a command's answer gave"
            )));
        }
    }
    let (slot, reached, ok) = state
        .projections
        .wait_for(name, min, READ_YOUR_WRITES_WAIT)
        .await
        .map_err(projection_error)?;
    if !ok {
        return Err(ApiError::Behind(format!(
            "{what} has reached position {reached}, not yet {min}; retry shortly"
        )));
    }
    Ok((slot, reached))
}

/// A read-model failure: the database down is 503, anything else a server error.
pub(super) fn projection_error(e: projections::ProjectionError) -> ApiError {
    match e {
        projections::ProjectionError::Store(e) => e.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

/// `?as_of=` on reads.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// An RFC 3339 instant: the state (or history) as it was recorded at that moment.
    pub as_of: Option<DateTime<Utc>>,
}

/// Loads a project the principal may read, or 404 (for absent and out-of-scope alike).
async fn load_in_scope(
    state: &AppState,
    principal: &Principal,
    id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<(SubsidyProject, usize)> {
    let (project, version) = match as_of {
        Some(at) => {
            state
                .engine
                .store
                .load_as_of::<SubsidyProject>(id, at)
                .await?
        }
        None => state.engine.load(id).await?,
    };
    let not_found = || ApiError::NotFound(format!("no project '{id}'"));
    if !project.is_registered() {
        return Err(not_found());
    }
    let inside = project
        .jurisdiction
        .as_ref()
        .is_some_and(|j| principal.user.covers(j));
    if !inside {
        tracing::warn!(user = ?principal.user.username, project = ?id, "refused: project outside the user's jurisdictions");
        return Err(not_found());
    }
    Ok((project, version))
}

/// The project's current state (or as of a moment), with its version as ETag.
#[utoipa::path(get, path = "/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path), AsOfQuery),
    responses((status = 200, description = "the project state; ETag carries the version", body = ProjectView), (status = 404, body = Problem)))]
pub async fn show_project(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse> {
    let (project, version) = project_state(&state, &principal, &path, query.as_of).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{version}\"")))
        .json(ProjectView::new(&path, version, &project)))
}

/// A project's state now (from the caught-up list) or as of a moment, as `GET /projects/{id}`
/// reads it (also the project page): role and scope checked, 404 outside.
pub(crate) async fn project_state(
    state: &AppState,
    principal: &Principal,
    id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<(SubsidyProject, usize)> {
    principal.require_role(
        &[Role::Officer, Role::Supervisor, Role::Auditor],
        "read projects",
    )?;
    match as_of {
        Some(_) => load_in_scope(state, principal, id, as_of).await,
        None => current_in_scope(state, principal, id).await,
    }
}

/// A project's current state from its row in the persisted project list, once the list has
/// caught up with the log's head as of this request (so a client sees its own last command),
/// or 404 (absent and out of scope alike). Falls back to replaying the project's events when
/// the list cannot catch up in time.
async fn current_in_scope(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(SubsidyProject, usize)> {
    let head = state.engine.store.last_position().await?;
    let (slot, _, ok) = state
        .projections
        .wait_for(projections::PROJECTS, head, READ_YOUR_WRITES_WAIT)
        .await
        .map_err(projection_error)?;
    if !ok {
        return load_in_scope(state, principal, id, None).await;
    }
    let not_found = || ApiError::NotFound(format!("no project '{id}'"));
    let (summary, project) = projections::projects::get(state.projections.reader(), &slot, id)
        .await
        .map_err(projection_error)?
        .ok_or_else(not_found)?;
    let inside = project
        .jurisdiction
        .as_ref()
        .is_some_and(|j| principal.user.covers(j));
    if !inside {
        tracing::warn!(user = ?principal.user.username, project = ?id, "refused: project outside the user's jurisdictions");
        return Err(not_found());
    }
    Ok((project, summary.version as usize))
}

/// The reads built on a project's stored events: the reader's role and scope are checked, then
/// the current state, its version and the events as stored are returned.
async fn read_events_in_scope(
    state: &AppState,
    principal: &Principal,
    id: &str,
    action: &str,
) -> Result<(SubsidyProject, usize, Vec<store::StoredEvent>)> {
    principal.require_role(&[Role::Officer, Role::Supervisor, Role::Auditor], action)?;
    let (project, version) = load_in_scope(state, principal, id, None).await?;
    let events = state
        .engine
        .store
        .read_stream(SubsidyProject::TYPE, id)
        .await?;
    Ok((project, version, events))
}

/// Every event of the project with actor, time, evidence and hashes, and the chain verdict.
#[utoipa::path(get, path = "/projects/{id}/history", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path), AsOfQuery),
    responses((status = 200, description = "the history"), (status = 404, body = Problem)))]
pub async fn project_history(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse> {
    let (history, version) = history_of(&state, &principal, &path, query.as_of).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{version}\"")))
        .json(history))
}

/// A project's history as `GET /projects/{id}/history` gives it (also the project page's
/// timeline), with the project's current version.
pub(crate) async fn history_of(
    state: &AppState,
    principal: &Principal,
    id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<(projections::history::History, usize)> {
    let (_, version, mut events) =
        read_events_in_scope(state, principal, id, "read histories").await?;
    if let Some(at) = as_of {
        // The same rule as the store's load_as_of: stop at the first event recorded later.
        let keep = events.iter().take_while(|e| e.recorded_at <= at).count();
        events.truncate(keep);
    }
    Ok((projections::history::history(id, &events)?, version))
}

/// `?at=` on the deadlines of a project.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeadlinesAtQuery {
    /// The Asia/Shanghai civil date to evaluate the deadlines on (default: today there).
    pub at: Option<chrono::NaiveDate>,
}

/// The project's deadlines on a day: due date, status, responsible officials and why; derived
/// from its events and programme version on the official working-day calendar, never stored.
#[utoipa::path(get, path = "/projects/{id}/deadlines", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path), DeadlinesAtQuery),
    responses((status = 200, description = "the deadlines and those the calendar cannot decide yet"), (status = 404, body = Problem)))]
pub async fn project_deadlines(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<DeadlinesAtQuery>,
) -> Result<HttpResponse> {
    let (deadlines, version) = deadlines_of(&state, &principal, &path, query.at).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{version}\"")))
        .json(deadlines))
}

/// A project's deadlines on a day (default today, Asia/Shanghai) as
/// `GET /projects/{id}/deadlines` gives them (also the project page's), with its version.
pub(crate) async fn deadlines_of(
    state: &AppState,
    principal: &Principal,
    path: &str,
    at: Option<chrono::NaiveDate>,
) -> Result<(projections::deadlines::ProjectDeadlines, usize)> {
    let (project, version, stored) =
        read_events_in_scope(state, principal, path, "read projects").await?;
    let programme = state
        .engine
        .programmes()
        .get(&project.programme_id, project.programme_version)
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "programme {}@v{} of project {} is not loaded",
                project.programme_id, project.programme_version, path
            ))
        })?;
    let events = stored
        .iter()
        .map(projections::decode)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let today = at.unwrap_or_else(|| crate::reminders::shanghai_today(Utc::now()));
    let deadlines = projections::deadlines::deadlines_for(
        path,
        &events,
        &programme,
        &state.engine.services.calendar.current(),
        today,
    );
    Ok((deadlines, version))
}

// ---------------------------------------------------------------------------------- commands

/// Who may send a command: officers do the bureau's work, supervisors decide.
pub fn allowed_roles(command: &ProjectCommand) -> &'static [Role] {
    roles_for(command.kind())
}

/// [`allowed_roles`] by command kind (the pages offer a step's form only to these roles).
pub fn roles_for(kind: domain::stage::CommandKind) -> &'static [Role] {
    use domain::stage::CommandKind as C;
    match kind {
        C::ReviewPlan
        | C::RecordInspection
        | C::EvaluatePerformance
        | C::ApproveFunds
        | C::OrderClawback
        | C::SuspendProject
        | C::ResumeProject
        | C::TerminateProject
        | C::CloseProject
        | C::ExtendDeadline => &[Role::Supervisor],
        _ => &[Role::Officer],
    }
}

/// Parses `If-Match: "7"` (or `W/"7"`) into a version.
fn if_match(req: &HttpRequest) -> Result<Option<usize>> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.trim_matches('"')
        .parse::<usize>()
        .map(Some)
        .map_err(|_| ApiError::BadRequest {
            code: "request.bad_if_match",
            detail: format!(
                "If-Match must be a project version in quotes, like \"7\"; got {text:?}"
            ),
        })
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) => checked_idempotency_key(k).map(Some),
        Err(_) => Err(bad_idempotency_key()),
    }
}

fn bad_idempotency_key() -> ApiError {
    ApiError::BadRequest {
        code: "request.bad_idempotency_key",
        detail: "Idempotency-Key must be 1–255 visible ASCII characters".into(),
    }
}

/// An idempotency key as the API accepts it (1–255 visible ASCII characters, surrounding
/// blanks dropped), from the header or from a page form's hidden field.
pub(crate) fn checked_idempotency_key(key: &str) -> Result<String> {
    let k = key.trim();
    if k.is_empty()
        || k.len() > 255
        || !k
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
    {
        return Err(bad_idempotency_key());
    }
    Ok(k.to_string())
}

/// A finished response as it is sent and, for idempotent retries, stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Outcome {
    fn from_error(e: &ApiError) -> Outcome {
        let problem = e.problem();
        Outcome {
            status: problem.status,
            body: serde_json::to_string(&problem).expect("problem documents serialize"),
            etag: match e {
                ApiError::Stale { actual, .. } => Some(format!("\"{actual}\"")),
                _ => None,
            },
            location: None,
        }
    }

    pub fn into_response(self, replayed: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = HttpResponse::build(status);
        r.insert_header((
            header::CONTENT_TYPE,
            if status.is_success() {
                "application/json"
            } else {
                "application/problem+json"
            },
        ));
        if let Some(etag) = self.etag {
            r.insert_header((header::ETAG, etag));
        }
        if let Some(location) = self.location {
            r.insert_header((header::LOCATION, location));
        }
        if replayed {
            r.insert_header(("Idempotent-Replayed", "true"));
        }
        r.body(self.body)
    }
}

/// Runs a command with If-Match and Idempotency-Key handling. `project_id` is `None` for
/// registration (a fresh id is drawn).
async fn run_command(
    req: &HttpRequest,
    state: &AppState,
    principal: &Principal,
    project_id: Option<&str>,
    evidence: Vec<Evidence>,
    command: ProjectCommand,
) -> Result<HttpResponse> {
    let key = idempotency_key(req)?;
    command_outcome(req, state, principal, project_id, key, evidence, command)
        .await
        .map(|(outcome, replayed)| outcome.into_response(replayed))
}

/// [`run_command`]'s work, answering the [`Outcome`] (and whether it is an idempotent replay)
/// instead of the HTTP response: the pages' forms send their commands through it, so they get
/// exactly the API's checks, refusals and effects. Role refusals, scope (404) and server
/// failures are `Err`; a refused command is an `Ok` outcome with its problem document.
/// `key` is the request's idempotency key (the `Idempotency-Key` header, or a page form's
/// hidden field), already checked with [`checked_idempotency_key`]; `If-Match` is read from
/// `req`.
pub(crate) async fn command_outcome(
    req: &HttpRequest,
    state: &AppState,
    principal: &Principal,
    project_id: Option<&str>,
    key: Option<String>,
    evidence: Vec<Evidence>,
    command: ProjectCommand,
) -> Result<(Outcome, bool)> {
    let action = format!("send {:?}", command.kind());
    principal.require_role(allowed_roles(&command), &action)?;
    // The project acted on and its version now (a registration draws its id here, so that an
    // idempotent retry after a crash acts on the same id).
    let (id, version) = match (project_id, &command) {
        (Some(id), _) => (
            id.to_string(),
            load_in_scope(state, principal, id, None).await?.1,
        ),
        (None, ProjectCommand::RegisterProject { jurisdiction, .. }) => {
            if !principal.user.covers(jurisdiction) {
                tracing::warn!(user = ?principal.user.username, %jurisdiction, "refused: registration outside the user's jurisdictions");
                return Err(ApiError::Forbidden(format!(
                    "you may not register projects in {jurisdiction}: it is outside your jurisdictions"
                )));
            }
            (uuid::Uuid::now_v7().to_string(), 0)
        }
        (None, _) => return Err(ApiError::Internal("a command without a project".into())),
    };
    let created = project_id.is_none();
    let expected = if_match(req)?;
    let route = format!("{} {}", req.method(), req.path());
    let request_hash = {
        let canonical = serde_json::to_string(&(&command, &evidence, expected))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        hex::encode(Sha256::digest(canonical.as_bytes()))
    };
    let claim = match &key {
        Some(key) => {
            let request = idempotency::Request {
                username: &principal.user.username,
                route: &route,
                key,
                request_hash: &request_hash,
                project_id: &id,
                project_version: version,
            };
            match idempotency::claim(
                &state.db,
                &state.engine.store,
                &request,
                state.idempotency_lease,
            )
            .await?
            {
                Claim::Claimed(lease) => Some((request, lease)),
                Claim::Replay(outcome) => return Ok((outcome, true)),
            }
        }
        None => None,
    };
    let target = claim
        .as_ref()
        .map_or_else(|| id.clone(), |(_, lease)| lease.project_id.clone());
    let outcome = execute(
        state,
        principal,
        (&target, created),
        key.as_deref(),
        evidence,
        command,
        expected,
    )
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            if matches!(e, ApiError::Internal(_) | ApiError::Unavailable(_)) {
                // A server failure is not an answer to remember: end the claim's lease so that
                // a retry resolves it against the store (and runs the command if it did not land).
                if let Some((request, lease)) = &claim {
                    if let Err(release) = idempotency::release(&state.db, request, lease).await {
                        tracing::warn!(error = ?release.to_string(), "could not end an idempotency lease; it expires by itself");
                    }
                }
                return Err(e);
            }
            Outcome::from_error(&e)
        }
    };
    if let Some((request, lease)) = &claim {
        idempotency::complete(&state.db, request, lease, &outcome).await?;
    }
    Ok((outcome, false))
}

async fn execute(
    state: &AppState,
    principal: &Principal,
    (id, created): (&str, bool),
    idempotency_key: Option<&str>,
    evidence: Vec<Evidence>,
    command: ProjectCommand,
    expected: Option<usize>,
) -> Result<Outcome> {
    let context = CommandContext {
        actor: principal.user.username.clone(),
        evidence: evidence.into_iter().map(Into::into).collect(),
    };
    let kind = command.kind();
    // Registration must not land on an existing id: expect version 0.
    let expected = if created { Some(0) } else { expected };
    // The key goes into every event's metadata, so a retry after a crash can find the commit.
    let extra = idempotency_key
        .map(|k| (idempotency::METADATA_KEY, k.to_string()))
        .into_iter()
        .collect::<Vec<_>>();
    let committed = state
        .engine
        .execute_with_metadata(id, &context, command, expected, &extra)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(user = ?principal.user.username, project = ?id, command = ?kind, version = committed.version, "command committed");
    let events = committed
        .events
        .iter()
        .map(|e| RecordedEvent {
            sequence: e.sequence,
            event_type: cqrs_es::DomainEvent::event_type(&e.payload),
            recorded_at: e
                .metadata
                .get(store::RECORDED_AT)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            hash: e.metadata.get(store::HASH).cloned(),
        })
        .collect();
    idempotency::command_outcome(id, committed.version, committed.position, created, events)
}

/// Register a project (officer, inside your jurisdictions). Answers 201 with `Location`.
#[utoipa::path(post, path = "/projects", tag = "projects", security(("bearer" = [])), request_body = RegisterProjectBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely: the same key returns the first answer")),
    responses((status = 201, body = CommandResult), (status = 400, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn register_project(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: StrictJson<RegisterProjectBody>,
) -> Result<HttpResponse> {
    let (evidence, command) = body.into_inner().into_parts();
    run_command(&req, &state, &principal, None, evidence, command).await
}

/// Declares one POST endpoint per lifecycle command.
macro_rules! command_endpoint {
    ($name:ident, $path:tt, $body:ty, $doc:tt) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "commands", security(("bearer" = [])), request_body = $body,
            params(("id" = String, Path, description = "project id"),
                   ("If-Match" = Option<String>, Header, description = "the version you saw, e.g. \"7\"; stale → 412"),
                   ("Idempotency-Key" = Option<String>, Header, description = "retry safely: the same key returns the first answer")),
            responses((status = 200, body = CommandResult), (status = 400, body = Problem), (status = 403, body = Problem),
                      (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
                      (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
        pub async fn $name(
            req: HttpRequest,
            state: web::Data<AppState>,
            principal: Principal,
            path: web::Path<String>,
            body: StrictJson<$body>,
        ) -> Result<HttpResponse> {
            let (evidence, command) = body.into_inner().into_parts();
            run_command(&req, &state, &principal, Some(path.as_str()), evidence, command).await
        }
    };
}

command_endpoint!(
    submit_plan,
    "/projects/{id}/plan",
    SubmitPlanBody,
    "Submit the plan (officer)."
);
command_endpoint!(
    review_plan,
    "/projects/{id}/review",
    ReviewPlanBody,
    "Approve or return the plan (supervisor)."
);
command_endpoint!(
    designate_entity,
    "/projects/{id}/construction-entity",
    DesignateEntityBody,
    "Designate the construction entity (officer)."
);
command_endpoint!(
    publish_notice,
    "/projects/{id}/notice",
    PublishNoticeBody,
    "Publish the public notice (officer)."
);
command_endpoint!(
    raise_objection,
    "/projects/{id}/objections",
    RaiseObjectionBody,
    "Record an objection (officer)."
);
command_endpoint!(
    close_notice,
    "/projects/{id}/notice/close",
    CloseNoticeBody,
    "Close the public notice (officer)."
);
command_endpoint!(
    submit_report,
    "/projects/{id}/reports",
    ProgressReportBody,
    "Submit a progress report (officer)."
);
command_endpoint!(
    request_acceptance,
    "/projects/{id}/acceptance/request",
    RequestAcceptanceBody,
    "Request acceptance (officer)."
);
command_endpoint!(
    record_inspection,
    "/projects/{id}/acceptance/inspection",
    InspectionBody,
    "Record the acceptance inspection (supervisor)."
);
command_endpoint!(
    evaluate,
    "/projects/{id}/evaluation",
    EvaluationBody,
    "Record the performance evaluation (supervisor)."
);
command_endpoint!(
    approve_funds,
    "/projects/{id}/funds/approvals",
    ApproveFundsBody,
    "Approve funds from one source (supervisor)."
);
command_endpoint!(
    disburse_tranche,
    "/projects/{id}/funds/tranches",
    TrancheBody,
    "Pay a tranche (officer)."
);
command_endpoint!(
    settle_funds,
    "/projects/{id}/funds/settlements",
    SettleFundsBody,
    "Settle one source after acceptance (officer)."
);
command_endpoint!(
    order_clawback,
    "/projects/{id}/clawbacks",
    ClawbackBody,
    "Order a clawback (supervisor)."
);
command_endpoint!(
    settle_clawback,
    "/projects/{id}/clawbacks/settlements",
    SettleClawbackBody,
    "Record recovered clawback money (officer)."
);
command_endpoint!(
    suspend,
    "/projects/{id}/suspension",
    SuspendBody,
    "Suspend the project (supervisor)."
);
command_endpoint!(
    resume,
    "/projects/{id}/resumption",
    ResumeBody,
    "Resume the project (supervisor)."
);
command_endpoint!(
    terminate,
    "/projects/{id}/termination",
    TerminateBody,
    "Terminate the project (supervisor)."
);
command_endpoint!(
    close_project,
    "/projects/{id}/closure",
    CloseProjectBody,
    "Close the project (supervisor)."
);
command_endpoint!(
    assign_official,
    "/projects/{id}/officials",
    AssignOfficialBody,
    "Name a responsible official (officer)."
);
command_endpoint!(
    extend_deadline,
    "/projects/{id}/deadline-extensions",
    ExtendDeadlineBody,
    "Extend a deadline (supervisor)."
);

/// Resolve an objection (officer).
#[utoipa::path(post, path = "/projects/{id}/objections/{objection_id}/resolution", tag = "commands", security(("bearer" = [])),
    request_body = ResolveObjectionBody,
    params(("id" = String, Path, description = "project id"), ("objection_id" = String, Path),
           ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = CommandResult), (status = 400, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn resolve_objection(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: StrictJson<ResolveObjectionBody>,
) -> Result<HttpResponse> {
    let (id, objection_id) = path.into_inner();
    let (evidence, command) = body.into_inner().into_parts(objection_id);
    run_command(&req, &state, &principal, Some(&id), evidence, command).await
}

#[cfg(test)]
mod tests {
    use super::checked_idempotency_key;

    #[test]
    fn idempotency_keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(
            checked_idempotency_key(" 0b7c2f9e-4d1a-4c1e-9a53-1f2e3d4c5b6a ").unwrap(),
            "0b7c2f9e-4d1a-4c1e-9a53-1f2e3d4c5b6a",
            "surrounding blanks dropped"
        );
        assert!(checked_idempotency_key(&"k".repeat(255)).is_ok());
        for bad in ["", "   ", &"k".repeat(256), "键", "a\nb", "a\u{7f}b"] {
            let e = checked_idempotency_key(bad).expect_err(bad);
            assert_eq!(e.problem().code, "request.bad_idempotency_key", "{bad:?}");
        }
    }
}
