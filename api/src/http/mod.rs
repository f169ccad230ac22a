//! The HTTP API (`subsidy serve`), on actix-web 4.
//!
//! Main types: [`Application`] (binds the listener, exposes [`Application::port`], runs the
//! server and its background tasks until SIGINT/SIGTERM or [`Application::shutdown_token`] is
//! cancelled), [`HttpSettings`], [`AppState`] (engine, accounts, the projection runtime, the
//! log-in limiter), [`auth::Accounts`] / [`auth::Role`] / [`auth::Principal`],
//! [`errors::ApiError`] (RFC 9457 problem documents) and [`openapi::ApiDoc`].
//!
//! Tests and production start the server the same way:
//! `Application::build(engine, settings).await?` then `app.run_until_stopped().await`.

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod calendar;
pub mod db;
pub mod errors;
pub mod exports;
pub mod handlers;
pub mod idempotency;
pub mod openapi;
pub mod programmes;
pub mod strict_json;
pub mod wire;

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{web, App, HttpRequest, HttpServer};
pub use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::engine::Engine;
use auth::{Accounts, LoginLimiter};
use errors::ApiError;

/// The largest request body accepted (a plan form with annexes fits easily).
pub const BODY_LIMIT: usize = 256 * 1024;

/// How the server listens.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `host:port`; port 0 picks a free port (tests).
    pub listen: String,
    /// How long a log-in stays valid.
    pub token_ttl: Duration,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Served to browsers over HTTPS (usually through a TLS-terminating reverse proxy): adds
    /// `Strict-Transport-Security` to every response and the `Secure` flag to the session
    /// cookies. `subsidy serve` sets it from `SUBSIDY_TLS=on`.
    pub tls: bool,
    /// How long an idempotency claim stays "in progress" before a retry may resolve it against
    /// the store ([`idempotency::LEASE`], 30 s; `subsidy serve` reads
    /// `SUBSIDY_IDEMPOTENCY_LEASE_SECS`).
    pub idempotency_lease: Duration,
    /// A PostgreSQL streaming replica of the store for the read side (lists, roll-ups,
    /// ledgers, the reminder log); commands and the projection runner use the primary.
    pub read_database_url: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_string(),
            token_ttl: Duration::from_secs(8 * 3600),
            workers: None,
            tls: false,
            idempotency_lease: idempotency::LEASE,
            read_database_url: None,
        }
    }
}

/// Shared by every request.
pub struct AppState {
    pub engine: Engine,
    pub accounts: Accounts,
    pub db: db::Db,
    /// The persisted read models (project list, fund ledger), kept caught up by a background
    /// runner of this server; reads may wait for a position (read-your-writes).
    pub projections: std::sync::Arc<projections::Runtime>,
    pub limiter: LoginLimiter,
    pub token_ttl: Duration,
    /// [`HttpSettings::tls`]: session cookies are `Secure`.
    pub tls: bool,
    /// [`HttpSettings::idempotency_lease`].
    pub idempotency_lease: Duration,
}

/// Every route the server registers, as (method, OpenAPI path). The OpenAPI test checks each is
/// in the spec and answers (not the "no such route" 404).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/auth/login"),
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("get", "/users"),
    ("post", "/users"),
    ("post", "/users/{username}/disable"),
    ("get", "/programmes"),
    ("post", "/programmes"),
    ("get", "/programmes/{id}"),
    ("get", "/programmes/{id}/diff"),
    ("get", "/programmes/{id}/versions/{version}"),
    ("post", "/programmes/{id}/versions/{version}/withdrawal"),
    ("get", "/projects"),
    ("get", "/rollup"),
    ("get", "/exports/annex/{name}"),
    ("get", "/reminders"),
    ("get", "/calendar/years"),
    ("post", "/calendar/years"),
    ("get", "/projects/{id}/ledger"),
    ("post", "/projects"),
    ("get", "/projects/{id}"),
    ("get", "/projects/{id}/history"),
    ("get", "/projects/{id}/deadlines"),
    ("post", "/projects/{id}/plan"),
    ("post", "/projects/{id}/review"),
    ("post", "/projects/{id}/construction-entity"),
    ("post", "/projects/{id}/notice"),
    ("post", "/projects/{id}/objections"),
    (
        "post",
        "/projects/{id}/objections/{objection_id}/resolution",
    ),
    ("post", "/projects/{id}/notice/close"),
    ("post", "/projects/{id}/reports"),
    ("post", "/projects/{id}/acceptance/request"),
    ("post", "/projects/{id}/acceptance/inspection"),
    ("post", "/projects/{id}/evaluation"),
    ("post", "/projects/{id}/funds/approvals"),
    ("post", "/projects/{id}/funds/tranches"),
    ("post", "/projects/{id}/funds/settlements"),
    ("post", "/projects/{id}/clawbacks"),
    ("post", "/projects/{id}/clawbacks/settlements"),
    ("post", "/projects/{id}/suspension"),
    ("post", "/projects/{id}/resumption"),
    ("post", "/projects/{id}/termination"),
    ("post", "/projects/{id}/closure"),
    ("post", "/projects/{id}/officials"),
    ("post", "/projects/{id}/deadline-extensions"),
    ("get", "/audit/digests/{id}/inclusion/{project_id}"),
    ("get", "/audit/digests/{from}/consistency/{to}"),
    ("get", "/audit/findings"),
];

/// Registers every route of [`ROUTES`].
pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    cfg.route("/healthz", web::get().to(h::healthz))
        .route("/readyz", web::get().to(h::readyz))
        .route("/auth/login", web::post().to(h::login))
        .route("/auth/logout", web::post().to(h::logout))
        .route("/auth/me", web::get().to(h::me))
        .route("/users", web::get().to(h::list_users))
        .route("/users", web::post().to(h::create_user))
        .route("/users/{username}/disable", web::post().to(h::disable_user))
        .route("/programmes", web::get().to(programmes::list_programmes))
        .route("/programmes", web::post().to(programmes::publish_programme))
        .route(
            "/programmes/{id}",
            web::get().to(programmes::programme_versions),
        )
        .route(
            "/programmes/{id}/diff",
            web::get().to(programmes::diff_programme),
        )
        .route(
            "/programmes/{id}/versions/{version}",
            web::get().to(h::show_programme),
        )
        .route(
            "/programmes/{id}/versions/{version}/withdrawal",
            web::post().to(programmes::withdraw_programme),
        )
        .route("/projects", web::get().to(h::list_projects))
        .route("/rollup", web::get().to(h::rollup))
        .route(
            "/exports/annex/{name}",
            web::get().to(exports::annex_export),
        )
        .route("/reminders", web::get().to(h::reminder_log))
        .route("/calendar/years", web::get().to(calendar::list_years))
        .route("/calendar/years", web::post().to(calendar::load_year))
        .route("/projects/{id}/ledger", web::get().to(h::project_ledger))
        .route("/projects", web::post().to(h::register_project))
        .route("/projects/{id}", web::get().to(h::show_project))
        .route("/projects/{id}/history", web::get().to(h::project_history))
        .route(
            "/projects/{id}/deadlines",
            web::get().to(h::project_deadlines),
        )
        .route("/projects/{id}/plan", web::post().to(h::submit_plan))
        .route("/projects/{id}/review", web::post().to(h::review_plan))
        .route(
            "/projects/{id}/construction-entity",
            web::post().to(h::designate_entity),
        )
        .route("/projects/{id}/notice", web::post().to(h::publish_notice))
        .route(
            "/projects/{id}/objections",
            web::post().to(h::raise_objection),
        )
        .route(
            "/projects/{id}/objections/{objection_id}/resolution",
            web::post().to(h::resolve_objection),
        )
        .route(
            "/projects/{id}/notice/close",
            web::post().to(h::close_notice),
        )
        .route("/projects/{id}/reports", web::post().to(h::submit_report))
        .route(
            "/projects/{id}/acceptance/request",
            web::post().to(h::request_acceptance),
        )
        .route(
            "/projects/{id}/acceptance/inspection",
            web::post().to(h::record_inspection),
        )
        .route("/projects/{id}/evaluation", web::post().to(h::evaluate))
        .route(
            "/projects/{id}/funds/approvals",
            web::post().to(h::approve_funds),
        )
        .route(
            "/projects/{id}/funds/tranches",
            web::post().to(h::disburse_tranche),
        )
        .route(
            "/projects/{id}/funds/settlements",
            web::post().to(h::settle_funds),
        )
        .route(
            "/projects/{id}/clawbacks",
            web::post().to(h::order_clawback),
        )
        .route(
            "/projects/{id}/clawbacks/settlements",
            web::post().to(h::settle_clawback),
        )
        .route("/projects/{id}/suspension", web::post().to(h::suspend))
        .route("/projects/{id}/resumption", web::post().to(h::resume))
        .route("/projects/{id}/termination", web::post().to(h::terminate))
        .route("/projects/{id}/closure", web::post().to(h::close_project))
        .route(
            "/projects/{id}/officials",
            web::post().to(h::assign_official),
        )
        .route(
            "/projects/{id}/deadline-extensions",
            web::post().to(h::extend_deadline),
        )
        .route(
            "/audit/digests/{id}/inclusion/{project_id}",
            web::get().to(audit::inclusion),
        )
        .route(
            "/audit/digests/{from}/consistency/{to}",
            web::get().to(audit::consistency),
        )
        .route("/audit/findings", web::get().to(audit::findings));
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge { limit: *limit },
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::BadRequest {
            code: "request.invalid_body",
            detail: format!("the request body does not fit this endpoint: {e}"),
        },
        JsonPayloadError::Deserialize(e) => ApiError::BadRequest {
            code: "request.malformed_json",
            detail: format!("the request body is not valid JSON: {e}"),
        },
        other => ApiError::BadRequest {
            code: "request.unreadable_body",
            detail: format!("the request body could not be read: {other}"),
        },
    };
    actix_web::error::InternalError::from_response(
        err,
        actix_web::ResponseError::error_response(&api),
    )
    .into()
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = ApiError::BadRequest {
        code: "request.bad_query",
        detail: format!("the query string is not understood: {err}"),
    };
    actix_web::error::InternalError::from_response(
        err,
        actix_web::ResponseError::error_response(&api),
    )
    .into()
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let api = ApiError::NotFound(format!("no such resource: {err}"));
    actix_web::error::InternalError::from_response(
        err,
        actix_web::ResponseError::error_response(&api),
    )
    .into()
}

/// Refuses a request whose path or query, once percent-decoded, holds a control character
/// (`/projects/x%00`): such a string is never a valid identifier or filter, PostgreSQL cannot
/// even store NUL, and it must not reach a log line raw.
async fn refuse_control_characters(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let uri = req.uri();
    let decoded = |s: &str| -> Vec<u8> { percent_decode(s.as_bytes()) };
    let path = decoded(uri.path());
    let query = uri.query().map(decoded).unwrap_or_default();
    let bad = |bytes: &[u8]| bytes.iter().any(|b| *b < 0x20 || *b == 0x7f);
    if bad(&path) || bad(&query) {
        let api = ApiError::BadRequest {
            code: "request.control_characters",
            detail: format!(
                "the {} holds a control character, which no identifier or filter may contain",
                if bad(&path) { "path" } else { "query string" }
            ),
        };
        let response = actix_web::ResponseError::error_response(&api);
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Percent-decodes bytes (`%41` → `A`); a malformed escape stays as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

async fn no_route(req: HttpRequest) -> actix_web::HttpResponse {
    let api = ApiError::BadRequest {
        code: "http.route_not_found",
        detail: String::new(),
    };
    let mut problem = api.problem();
    problem.status = 404;
    problem.title = "Not found".into();
    problem.detail = format!(
        "there is no endpoint {} {}; see /openapi.json",
        req.method(),
        req.path()
    );
    actix_web::HttpResponse::NotFound()
        .content_type("application/problem+json")
        .json(problem)
}

/// The OpenAPI document served at `/openapi.json`: [`openapi::ApiDoc`], whose modifiers add
/// the error answers of every operation (among them 503 `store.unavailable` with `Retry-After`
/// on every operation that reads or writes the store, that is all but `/healthz`).
pub fn api_spec() -> utoipa::openapi::OpenApi {
    openapi::ApiDoc::openapi()
}

/// The headers every response carries: `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`, `Cache-Control: no-store` on JSON answers (they carry tokens,
/// account and project data; unless the handler chose a policy itself), and with `tls`
/// `Strict-Transport-Security` (one year).
pub fn security_headers(headers: &mut HeaderMap, tls: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("application/json") || t.starts_with("application/problem+json")
        });
    if json && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

/// A pool on a read replica (PostgreSQL only; no migrations are run there: they replicate).
async fn read_replica(url: &str) -> std::io::Result<projections::sql::Db> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(std::io::Error::other(
            "the read database must be a postgres:// URL of a streaming replica of the store",
        ));
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(url)
        .map_err(|e| std::io::Error::other(format!("the read database URL: {e}")))?;
    Ok(projections::sql::Db::Postgres(pool))
}

/// How often a server looks for calendar years (and programme versions) recorded by another
/// process.
pub const CALENDAR_CHECK_EVERY: Duration = Duration::from_secs(30);

/// A task that runs beside the server and stops with it (it gets the shutdown token).
pub type BackgroundTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The built server: bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    engine: Engine,
    shutdown: CancellationToken,
    background: Vec<BackgroundTask>,
}

impl Application {
    /// Binds `settings.listen` and builds the server over `engine`.
    pub async fn build(engine: Engine, settings: &HttpSettings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&settings.listen)?;
        let port = listener.local_addr()?.port();
        // The read models: created on the first start (built from the log once), rebuilt in
        // the other slot when their code version changed (the old one serves meanwhile), and
        // otherwise only caught up from their checkpoints, in the background.
        // The calendar years recorded in the store, before any deadline is derived.
        engine
            .refresh_calendar()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // Every definition in force recorded in the store (the shipped ones at its first start).
        engine
            .publish_in_force()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut runtime = engine.projections();
        if let Some(url) = &settings.read_database_url {
            runtime = runtime.with_reader(read_replica(url).await?);
        }
        let runtime = std::sync::Arc::new(runtime);
        for line in runtime
            .prepare()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
        {
            tracing::info!("projections: {line}");
        }
        let state = web::Data::new(AppState {
            accounts: Accounts::new(&engine.store),
            db: db::Db::of(&engine.store),
            engine: engine.clone(),
            projections: runtime.clone(),
            limiter: LoginLimiter::default(),
            token_ttl: settings.token_ttl,
            tls: settings.tls,
            idempotency_lease: settings.idempotency_lease,
        });
        let tls = settings.tls;
        let spec = api_spec();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(refuse_control_characters))
                .app_data(
                    web::JsonConfig::default()
                        .limit(BODY_LIMIT)
                        .content_type_required(true)
                        .error_handler(json_error),
                )
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .wrap_fn(move |req, service| {
                    let response = service.call(req);
                    async move {
                        let mut response = response.await?;
                        security_headers(response.headers_mut(), tls);
                        Ok(response)
                    }
                })
                .configure(routes)
                .configure(crate::web::routes)
                .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/openapi.json", spec.clone()))
                .default_service(web::to(no_route))
        })
        // In-flight requests get this long to finish after SIGINT/SIGTERM.
        .shutdown_timeout(30);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener)?.run();
        let mut app = Self {
            port,
            server,
            engine,
            shutdown: CancellationToken::new(),
            background: Vec::new(),
        };
        let watched = (app.engine.clone(), runtime.clone());
        let programmes_watched = app.engine.clone();
        app.spawn_background(move |token| async move {
            runtime.run(token.cancelled_owned()).await;
        });
        // Years recorded by another process; next year's warning from 1 December.
        app.spawn_background(move |token| async move {
            let (engine, runtime) = watched;
            crate::calendar::watch(
                engine,
                runtime,
                CALENDAR_CHECK_EVERY,
                token.cancelled_owned(),
            )
            .await;
        });
        // Programme versions published or withdrawn by another process.
        app.spawn_background(move |token| async move {
            crate::programmes::watch(
                programmes_watched,
                CALENDAR_CHECK_EVERY,
                token.cancelled_owned(),
            )
            .await;
        });
        Ok(app)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops the server gracefully (in-flight requests finish) when cancelled; background tasks
    /// receive it too and must return once it is cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The actix handle (stop, pause) for callers that drive the server directly.
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Adds a task (e.g. a reminder scheduler) that starts with the server and is told to stop,
    /// through the token it is given, when the server stops.
    pub fn spawn_background<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.push(Box::pin(task(self.shutdown.clone())));
    }

    /// Runs until SIGINT/SIGTERM (actix's signal handling: stop accepting, let in-flight
    /// requests finish, up to 30 s) or until the shutdown token is cancelled; then cancels the
    /// token and waits for the background tasks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let token = self.shutdown.clone();
        let stopper = tokio::spawn(async move {
            token.cancelled().await;
            handle.stop(true).await;
        });
        let tasks: Vec<_> = self.background.into_iter().map(tokio::spawn).collect();
        let result = self.server.await;
        self.shutdown.cancel();
        for task in tasks {
            let _ = task.await;
        }
        let _ = stopper.await;
        result
    }
}
