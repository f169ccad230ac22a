//! The page handlers: each loads the signed-in context, calls the API's own functions and
//! renders a template. No rule of the engine is decided here.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use domain::{JurisdictionCode, ProjectCommand, Stage};
use serde_json::Value;

use super::forms::{self, Widget};
use super::i18n::{Lang, Msgs};
use super::{lang_of, safe_next, see_other, Ctx};
use crate::http::auth::{csrf_matches, Role, CSRF_COOKIE, SESSION_COOKIE};
use crate::http::errors::{ApiError, Problem};
use crate::http::handlers::{self, ListQuery, RollupQuery};
use crate::http::wire::{self, CommandBody, CommandResult, Evidence, LoginBody, ProjectView};
use crate::http::AppState;

// ------------------------------------------------------------------------------ formatting

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Fen as yuan with thousands separators: `1234567` → `12,345.67`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

/// An instant as Beijing time, `2025-11-10 09:30`.
fn beijing(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn today() -> NaiveDate {
    crate::reminders::shanghai_today(Utc::now())
}

// ------------------------------------------------------------------------------ layout

/// What the frame of every page shows.
pub struct Layout {
    pub m: &'static Msgs,
    pub html_lang: &'static str,
    pub title: String,
    /// The active menu entry.
    pub nav: &'static str,
    pub user: Option<Head>,
    pub csrf: String,
    /// The language switch: the other language's link back to this page.
    pub switch_href: String,
}

/// Who is logged in.
pub struct Head {
    pub name: String,
    pub role: String,
    pub jurisdictions: String,
    pub reads_projects: bool,
    pub is_admin: bool,
    pub audits: bool,
}

fn layout(lang: Lang, ctx: Option<&Ctx>, title: String, nav: &'static str, here: &str) -> Layout {
    Layout {
        m: lang.msgs(),
        html_lang: lang.html(),
        title,
        nav,
        user: ctx.map(|c| Head {
            name: c.principal.user.username.clone(),
            role: lang.role(c.principal.user.role.as_str()).to_string(),
            jurisdictions: c
                .principal
                .user
                .jurisdictions
                .iter()
                .map(|j| place(j.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            reads_projects: c.principal.user.role.reads_projects(),
            is_admin: c.principal.user.role == Role::Admin,
            audits: matches!(c.principal.user.role, Role::Auditor | Role::Supervisor),
        }),
        csrf: ctx.map(|c| c.csrf.clone()).unwrap_or_default(),
        switch_href: format!("/ui/lang/{}?next={}", lang.other().code(), url_encode(here)),
    }
}

fn ctx_layout(ctx: &Ctx, title: String, nav: &'static str) -> Layout {
    layout(ctx.lang, Some(ctx), title, nav, &ctx.here)
}

fn html(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("the page could not be drawn; the error was logged")
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    heading: String,
    detail: String,
}

/// A jurisdiction as pages show it: its name and code (沂源县 370323), or the code alone when
/// the table of names (`workflows::jurisdictions`) does not know it.
fn place(code: &str) -> String {
    match workflows::jurisdictions::name(code) {
        Some(name) => format!("{name} {code}"),
        None => code.to_string(),
    }
}

/// An API error as a page, with the API's status (404 outside the user's jurisdictions).
pub fn error_page(lang: Lang, ctx: Option<&Ctx>, e: &ApiError) -> HttpResponse {
    if matches!(e, ApiError::Unauthorized(_)) {
        return see_other("/ui/login");
    }
    let m = lang.msgs();
    let status = actix_web::ResponseError::status_code(e);
    let (heading, detail) = match status {
        StatusCode::NOT_FOUND => (m.not_found, m.not_found_text.to_string()),
        StatusCode::FORBIDDEN => (m.forbidden, e.problem().detail),
        _ => (m.error, e.problem().detail),
    };
    let here = ctx.map(|c| c.here.clone()).unwrap_or_else(|| "/ui/".into());
    let page = ErrorPage {
        l: layout(lang, ctx, heading.to_string(), "", &here),
        heading: heading.to_string(),
        detail,
    };
    html(status, &page)
}

fn respond(ctx: &Ctx, r: Result<HttpResponse, ApiError>) -> HttpResponse {
    r.unwrap_or_else(|e| error_page(ctx.lang, Some(ctx), &e))
}

/// Unknown page: a 404 page.
pub async fn no_page(req: HttpRequest) -> HttpResponse {
    error_page(
        lang_of(&req),
        None,
        &ApiError::NotFound(format!("no page {}", req.path())),
    )
}

/// A query string parsed into `T` after dropping empty values (an HTML GET form sends every
/// box, filled or not), so that `T` is the API's own query type.
fn page_query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| ApiError::BadRequest {
            code: "request.bad_query",
            detail: e.to_string(),
        })?;
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let text = serde_urlencoded::to_string(&kept).unwrap_or_default();
    serde_urlencoded::from_str(&text).map_err(|e| ApiError::BadRequest {
        code: "request.bad_query",
        detail: format!("the query string is not understood: {e}"),
    })
}

// ------------------------------------------------------------------------------ log-in

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    next: String,
    username: String,
    failure: Option<String>,
    token: String,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    let lang = lang_of(&req);
    let next = q
        .next
        .clone()
        .filter(|n| safe_next(n))
        .unwrap_or_else(|| "/ui/".into());
    login_page(
        lang,
        &state,
        StatusCode::OK,
        next,
        String::new(),
        None,
        &req_here(&req),
    )
}

/// The cookie holding the log-in form's token (double submit): a form posted from another
/// site carries neither (the cookie is SameSite=Strict), so nobody can log a victim's browser
/// into an account of the attacker's choosing (log-in CSRF).
const LOGIN_COOKIE: &str = "subsidy_login";

/// The log-in page with a fresh form token, set in its cookie too.
fn login_page(
    lang: Lang,
    state: &AppState,
    status: StatusCode,
    next: String,
    username: String,
    failure: Option<String>,
    here: &str,
) -> HttpResponse {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let page = LoginPage {
        l: layout(lang, None, lang.msgs().log_in.into(), "", here),
        next,
        username,
        failure,
        token: token.clone(),
    };
    let mut response = html(status, &page);
    let cookie = actix_web::cookie::Cookie::build(LOGIN_COOKIE, token)
        .path("/ui/login")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(state.tls)
        .max_age(actix_web::cookie::time::Duration::hours(12))
        .finish();
    if let Err(e) = response.add_cookie(&cookie) {
        tracing::error!("cannot set the log-in form cookie: {e}");
    }
    response
}

fn req_here(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) if !q.is_empty() => format!("{}?{q}", req.path()),
        _ => req.path().to_string(),
    }
}

#[derive(serde::Deserialize)]
pub struct LoginFields {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
    /// The form's token, equal to the [`LOGIN_COOKIE`] of the page that drew the form.
    #[serde(default)]
    login_token: String,
}

/// The log-in form: the API's log-in with a cookie session, then back to where the user was.
pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginFields>,
) -> HttpResponse {
    let lang = lang_of(&req);
    let form = form.into_inner();
    let next = if safe_next(&form.next) {
        form.next.clone()
    } else {
        "/ui/".to_string()
    };
    let cookie = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_string());
    if form.login_token.is_empty() || !csrf_matches(cookie.as_deref(), Some(&form.login_token)) {
        let m = lang.msgs();
        return login_page(
            lang,
            &state,
            StatusCode::FORBIDDEN,
            next,
            form.username,
            Some(m.login_expired.to_string()),
            "/ui/login",
        );
    }
    let body = LoginBody {
        username: form.username.clone(),
        password: form.password,
        cookie: true,
    };
    match handlers::log_in(&req, &state, body).await {
        Ok((mut response, _)) => {
            // The form token has done its work: the session's own CSRF token takes over.
            let mut spent = actix_web::cookie::Cookie::build(LOGIN_COOKIE, "")
                .path("/ui/login")
                .finish();
            spent.make_removal();
            response
                .status(StatusCode::SEE_OTHER)
                .insert_header((header::LOCATION, next))
                .cookie(spent)
                .finish()
        }
        Err(e) => {
            let m = lang.msgs();
            let (status, failure) = match e {
                ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, m.login_failed),
                ApiError::TooManyRequests { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, m.login_limited)
                }
                other => return error_page(lang, None, &other),
            };
            login_page(
                lang,
                &state,
                status,
                next,
                form.username,
                Some(failure.to_string()),
                "/ui/login",
            )
        }
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfField {
    csrf_token: String,
}

/// Log-out: ends the session (CSRF-checked) and clears its cookies.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfField>,
) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !csrf_matches(Some(&ctx.csrf), Some(&form.csrf_token)) {
        return error_page(ctx.lang, Some(&ctx), &csrf_refusal());
    }
    if let Err(e) = state.accounts.close_session(&ctx.principal.token).await {
        return error_page(ctx.lang, Some(&ctx), &e.into());
    }
    let mut r = see_other("/ui/login");
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let mut c = actix_web::cookie::Cookie::build(name, "")
            .path("/")
            .finish();
        c.make_removal();
        let _ = r.add_cookie(&c);
    }
    r
}

fn csrf_refusal() -> ApiError {
    ApiError::Forbidden("the form's CSRF token does not match the session; reload the page".into())
}

/// `/ui/lang/{zh|en}?next=…`: keeps the choice in a cookie and returns to the page.
pub async fn switch_language(path: web::Path<String>, q: web::Query<NextQuery>) -> HttpResponse {
    let lang = Lang::parse(&path).unwrap_or(Lang::Zh);
    let next = q
        .next
        .clone()
        .filter(|n| safe_next(n))
        .unwrap_or_else(|| "/ui/".into());
    let mut r = see_other(&next);
    let _ = r.add_cookie(
        &actix_web::cookie::Cookie::build(Lang::COOKIE, lang.code())
            .path("/")
            .same_site(actix_web::cookie::SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish(),
    );
    r
}

// ------------------------------------------------------------------------------ dashboard

/// One bar of a server-drawn SVG chart (coordinates precomputed).
pub struct Bar {
    pub label: String,
    pub value: String,
    pub y: i64,
    pub text_y: i64,
    pub width: i64,
    pub value_x: i64,
    /// A CSS class (the series).
    pub class: &'static str,
    pub href: String,
}

pub struct ChildRow {
    pub code: String,
    pub name: String,
    pub href: Option<String>,
    pub projects: i64,
    pub suspended: i64,
    pub approved: String,
    pub paid: String,
}

pub struct FundRow {
    pub source: String,
    pub approved: String,
    pub paid: String,
    pub remaining: String,
    pub ordered: String,
    pub recovered: String,
}

pub struct DeadlineRow {
    pub project_id: String,
    pub project_name: String,
    pub jurisdiction: String,
    pub name: String,
    pub due_on: String,
    pub days_late: i64,
    pub status: String,
    pub officials: String,
    pub why: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    l: Layout,
    scope: String,
    up: Option<String>,
    total_projects: i64,
    funnel: Vec<Bar>,
    funnel_height: i64,
    children: Vec<ChildRow>,
    funds: Vec<FundRow>,
    fund_bars: Vec<Bar>,
    fund_height: i64,
    overdue: Vec<DeadlineRow>,
    overdue_total: usize,
    soon: Vec<DeadlineRow>,
    soon_total: usize,
    overdue_href: String,
    exports: Vec<ExportLink>,
    position: i64,
    /// From 1 December while next year's holiday notice is not loaded.
    calendar_warning: Option<String>,
}

/// One annex table offered for download on the dashboard (`GET /exports/annex/{name}`).
struct ExportLink {
    title: String,
    xlsx: String,
    csv: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// The jurisdiction to show (default: the user's first grant).
    j: Option<String>,
    min_position: Option<i64>,
}

/// Rows of each deadline list on the dashboard (the list page has them all).
const DASHBOARD_ROWS: usize = 15;
const BAR_MAX: i64 = 200;
const BAR_X: i64 = 140;
const BAR_STEP: i64 = 26;

fn scaled(value: i64, max: i64) -> i64 {
    if max <= 0 || value <= 0 {
        0
    } else {
        ((value as f64 / max as f64) * BAR_MAX as f64)
            .round()
            .max(2.0) as i64
    }
}

fn deadline_rows(lang: Lang, list: &[projections::deadlines::Deadline]) -> Vec<DeadlineRow> {
    let today = today();
    list.iter()
        .map(|d| DeadlineRow {
            project_id: d.project_id.clone(),
            project_name: d.project_name.clone(),
            jurisdiction: place(&d.jurisdiction),
            name: d.deadline.name.clone(),
            due_on: d.deadline.due_on.map(|x| x.to_string()).unwrap_or_default(),
            days_late: d
                .deadline
                .due_on
                .map(|due| (today - due).num_days().max(0))
                .unwrap_or(0),
            status: status_label(lang, d.deadline.status),
            officials: if d.officials.is_empty() {
                lang.msgs().nobody_assigned.to_string()
            } else {
                d.officials
                    .iter()
                    .map(|o| format!("{}（{}）", o.name, o.post))
                    .collect::<Vec<_>>()
                    .join("、")
            },
            why: match lang {
                Lang::Zh => d.deadline.explanation_zh.clone(),
                Lang::En => d.deadline.explanation.clone(),
            },
        })
        .collect()
}

fn status_label(lang: Lang, s: workflows::deadlines::DeadlineStatus) -> String {
    use workflows::deadlines::DeadlineStatus as S;
    match lang {
        Lang::Zh => s.label_zh().to_string(),
        Lang::En => match s {
            S::Upcoming => "upcoming",
            S::DueToday => "due today",
            S::Overdue => "overdue",
            S::Met => "met",
            S::MetLate => "met late",
            S::Paused => "paused",
            S::Waived => "waived",
        }
        .to_string(),
    }
}

pub async fn dashboard(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if ctx.principal.user.role == Role::Admin {
        return see_other("/ui/accounts");
    }
    let r = dashboard_page(&ctx, &state, &req).await;
    respond(&ctx, r)
}

async fn dashboard_page(
    ctx: &Ctx,
    state: &AppState,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q: DashboardQuery = page_query(req)?;
    let lang = ctx.lang;
    let m = lang.msgs();
    let (view, position) = handlers::rollup_view(
        state,
        &ctx.principal,
        RollupQuery {
            jurisdiction: q.j.clone(),
            as_of_position: None,
            min_position: q.min_position,
        },
    )
    .await?;
    let scope =
        JurisdictionCode::parse(&view.scope).map_err(|e| ApiError::Internal(e.to_string()))?;
    let up = scope
        .city()
        .filter(|c| c != &scope)
        .or_else(|| (scope.province() != scope).then(|| scope.province()))
        .filter(|p| ctx.principal.user.covers(p))
        .map(|p| format!("/ui/?j={}", p.as_str()));

    // The funnel: every stage in lifecycle order (unregistered never counts).
    let counts: Vec<(Stage, i64)> = Stage::ALL
        .into_iter()
        .filter(|s| *s != Stage::Unregistered)
        .map(|s| (s, view.total.stages.get(s.id()).copied().unwrap_or(0)))
        .collect();
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let funnel: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(i, (stage, n))| {
            let width = scaled(*n, max);
            Bar {
                label: lang.stage(*stage).to_string(),
                value: n.to_string(),
                y: i as i64 * BAR_STEP,
                text_y: i as i64 * BAR_STEP + 15,
                width,
                value_x: BAR_X + width + 6,
                class: "bar-stage",
                href: format!(
                    "/ui/projects?jurisdiction={}&stage={}",
                    view.scope,
                    stage.id()
                ),
            }
        })
        .collect();
    let funnel_height = funnel.len() as i64 * BAR_STEP;

    let children = view
        .children
        .iter()
        .map(|c| {
            let sum = |f: fn(&crate::http::wire::RollupFundsView) -> i64| {
                c.funds.values().map(f).sum::<i64>()
            };
            ChildRow {
                href: (c.jurisdiction != view.scope).then(|| format!("/ui/?j={}", c.jurisdiction)),
                code: c.jurisdiction.clone(),
                name: workflows::jurisdictions::label(&c.jurisdiction),
                projects: c.projects,
                suspended: c.suspended,
                approved: yuan(sum(|f| f.approved_fen)),
                paid: yuan(sum(|f| f.paid_fen)),
            }
        })
        .collect();

    let funds: Vec<FundRow> = view
        .total
        .funds
        .iter()
        .map(|(source, f)| FundRow {
            source: lang.source(source),
            approved: yuan(f.approved_fen),
            paid: yuan(f.paid_fen),
            remaining: yuan(f.remaining_fen),
            ordered: yuan(f.clawback_ordered_fen),
            recovered: yuan(f.clawback_recovered_fen),
        })
        .collect();
    let fund_max = view
        .total
        .funds
        .values()
        .map(|f| f.approved_fen.max(f.paid_fen))
        .max()
        .unwrap_or(0);
    let mut fund_bars = Vec::new();
    for (source, f) in &view.total.funds {
        for (label, value, class) in [
            (m.approved, f.approved_fen, "bar-approved"),
            (m.paid, f.paid_fen, "bar-paid"),
            (m.remaining, f.remaining_fen, "bar-remaining"),
            (m.chart_clawback, f.clawback_ordered_fen, "bar-clawback"),
        ] {
            let i = fund_bars.len() as i64;
            let width = scaled(value, fund_max);
            fund_bars.push(Bar {
                label: format!("{} · {label}", lang.source(source)),
                value: yuan(value),
                y: i * BAR_STEP,
                text_y: i * BAR_STEP + 15,
                width,
                value_x: BAR_X + width + 6,
                class,
                href: String::new(),
            });
        }
    }
    let fund_height = fund_bars.len() as i64 * BAR_STEP;

    // Overdue and coming deadlines, from the persisted deadlines (the reminder scan's query).
    let (slot, _) = state
        .projections
        .live(projections::deadlines::DEADLINES)
        .await
        .map_err(ApiError::from)?
        .unwrap_or_else(|| ("a".to_string(), 0));
    let open = projections::deadlines::open_deadlines(
        state.projections.reader(),
        &slot,
        state.engine.programmes(),
        &state.engine.services.calendar.current(),
        today(),
        14,
        &scope,
    )
    .await?;
    let (overdue, soon): (Vec<_>, Vec<_>) = open
        .into_iter()
        .partition(|d| d.deadline.status == workflows::deadlines::DeadlineStatus::Overdue);
    let (overdue_total, soon_total) = (overdue.len(), soon.len());
    let calendar = state.engine.services.calendar.current();
    let calendar_warning = crate::calendar::next_year_warning(&calendar, today()).map(|_| {
        let next = calendar.covered_years().end() + 1;
        let from = calendar
            .decided_dates()
            .end()
            .succ_opt()
            .unwrap_or(*calendar.decided_dates().end());
        lang.calendar_warning(next, from)
    });

    let page = DashboardPage {
        l: ctx_layout(
            ctx,
            format!("{} · {}", m.dashboard, place(&view.scope)),
            "dashboard",
        ),
        scope: place(&view.scope),
        up,
        total_projects: view.total.projects,
        funnel,
        funnel_height,
        children,
        funds,
        fund_bars,
        fund_height,
        overdue: deadline_rows(lang, &overdue[..overdue.len().min(DASHBOARD_ROWS)]),
        overdue_total,
        soon: deadline_rows(lang, &soon[..soon.len().min(DASHBOARD_ROWS)]),
        soon_total,
        overdue_href: format!("/ui/projects?jurisdiction={}&overdue=true", view.scope),
        calendar_warning,
        exports: crate::annex::AnnexName::ALL
            .into_iter()
            .map(|a| {
                let href = |format: &str| {
                    format!(
                        "/exports/annex/{}?format={format}&jurisdiction={}",
                        a.id(),
                        view.scope
                    )
                };
                ExportLink {
                    title: match lang {
                        Lang::Zh => a.title_zh().to_string(),
                        Lang::En => format!("{} ({})", a.description(), a.title_zh()),
                    },
                    xlsx: href("xlsx"),
                    csv: href("csv"),
                }
            })
            .collect(),
        position,
    };
    Ok(html(StatusCode::OK, &page))
}

// ------------------------------------------------------------------------------ project list

pub struct ListRow {
    pub id: String,
    pub name: String,
    pub programme: String,
    pub jurisdiction: String,
    pub stage: String,
    pub suspended: bool,
    pub registered_on: String,
    pub approved: String,
    pub paid: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    l: Layout,
    f_jurisdiction: String,
    f_q: String,
    f_overdue: String,
    stages: Vec<(String, String, bool)>,
    programmes: Vec<(String, String, bool)>,
    sorts: Vec<(String, bool)>,
    rows: Vec<ListRow>,
    total: usize,
    shown_from: usize,
    shown_to: usize,
    prev: Option<String>,
    next: Option<String>,
    /// The user may register projects (the link to the registration form).
    may_register: bool,
}

pub async fn projects(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = projects_page(&ctx, &state, &req).await;
    respond(&ctx, r)
}

async fn projects_page(
    ctx: &Ctx,
    state: &AppState,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let lang = ctx.lang;
    let q: ListQuery = page_query(req)?;
    let keep = ListQuery {
        jurisdiction: q.jurisdiction.clone(),
        programme: q.programme.clone(),
        stage: q.stage.clone(),
        overdue: q.overdue,
        q: q.q.clone(),
        sort: q.sort.clone(),
        limit: q.limit,
        offset: q.offset,
        min_position: None,
    };
    let (page, _) = handlers::list_page(state, &ctx.principal, q).await?;
    let link = |offset: usize| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("jurisdiction", &keep.jurisdiction),
            ("programme", &keep.programme),
            ("stage", &keep.stage),
            ("q", &keep.q),
            ("sort", &keep.sort),
        ] {
            if let Some(v) = v {
                pairs.push((k, v.clone()));
            }
        }
        if let Some(o) = keep.overdue {
            pairs.push(("overdue", o.to_string()));
        }
        pairs.push(("limit", page.limit.to_string()));
        pairs.push(("offset", offset.to_string()));
        format!(
            "/ui/projects?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    let prev = (page.offset > 0).then(|| link(page.offset.saturating_sub(page.limit)));
    let next =
        (page.offset + page.items.len() < page.total).then(|| link(page.offset + page.limit));
    let stage = keep.stage.clone().unwrap_or_default();
    let programme = keep.programme.clone().unwrap_or_default();
    let sort = keep.sort.clone().unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    let programmes = state
        .engine
        .programmes()
        .all()
        .iter()
        .filter(|p| seen.insert(p.id.clone()))
        .map(|p| {
            let title = match lang {
                Lang::Zh => p.title.clone(),
                Lang::En => p.title_en.clone(),
            };
            (p.id.clone(), title, p.id == programme)
        })
        .collect();
    let rows: Vec<ListRow> = page
        .items
        .iter()
        .map(|p| ListRow {
            id: p.id.clone(),
            name: p.name.clone(),
            programme: format!("{}@v{}", p.programme_id, p.programme_version),
            jurisdiction: place(&p.jurisdiction),
            stage: Stage::from_id(&p.stage)
                .map(|s| lang.stage(s).to_string())
                .unwrap_or_else(|| p.stage.clone()),
            suspended: p.suspended,
            registered_on: p.registered_on.map(|d| d.to_string()).unwrap_or_default(),
            approved: yuan(p.approved),
            paid: yuan(p.paid),
        })
        .collect();
    let m = lang.msgs();
    let out = ProjectsPage {
        l: ctx_layout(ctx, m.nav_projects.into(), "projects"),
        f_jurisdiction: keep.jurisdiction.clone().unwrap_or_default(),
        f_q: keep.q.clone().unwrap_or_default(),
        f_overdue: keep.overdue.map(|o| o.to_string()).unwrap_or_default(),
        stages: Stage::ALL
            .into_iter()
            .filter(|s| *s != Stage::Unregistered)
            .map(|s| {
                (
                    s.id().to_string(),
                    lang.stage(s).to_string(),
                    s.id() == stage,
                )
            })
            .collect(),
        programmes,
        sorts: projections::projects::SortOrder::ALL
            .iter()
            .map(|(n, _)| (n.to_string(), *n == sort))
            .collect(),
        shown_from: if rows.is_empty() { 0 } else { page.offset + 1 },
        shown_to: page.offset + rows.len(),
        rows,
        total: page.total,
        prev,
        next,
        may_register: may_register(ctx).is_ok(),
    };
    Ok(html(StatusCode::OK, &out))
}

// ------------------------------------------------------------------------------ project page

pub struct DeadlineLine {
    pub name: String,
    pub due_on: String,
    pub status: String,
    pub status_class: &'static str,
    pub why: String,
    pub officials: String,
}

pub struct LedgerLine {
    pub date: String,
    pub source: String,
    pub movement: String,
    pub amount: String,
    pub sequence: i64,
}

pub struct OfficialLine {
    pub role: String,
    pub name: String,
    pub post: String,
    pub email: String,
}

pub struct EventLine {
    pub sequence: i64,
    pub position: i64,
    pub recorded_at: String,
    pub summary: String,
    pub event_type: String,
    pub actor: String,
    pub evidence: Vec<String>,
    pub hash: String,
    pub hash_short: String,
}

pub struct StepLink {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    l: Layout,
    p: ProjectView,
    place: String,
    stage: String,
    as_of: String,
    deadlines: Vec<DeadlineLine>,
    funds: Vec<FundRow>,
    ledger: Vec<LedgerLine>,
    officials: Vec<OfficialLine>,
    events: Vec<EventLine>,
    chain_ok: bool,
    steps: Vec<StepLink>,
    reports: Vec<(String, String)>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectQuery {
    /// A day (Asia/Shanghai): the page as it stood at that day's end.
    as_of: Option<NaiveDate>,
    /// Read-your-writes after a form.
    min_position: Option<i64>,
}

/// The end of a Beijing day as an instant.
fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let next = day
        .succ_opt()
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&next)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
        - chrono::Duration::microseconds(1)
}

pub async fn project(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = project_page(&ctx, &state, &req, &path).await;
    respond(&ctx, r)
}

async fn project_page(
    ctx: &Ctx,
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let lang = ctx.lang;
    let m = lang.msgs();
    let q: ProjectQuery = page_query(req)?;
    let at = q.as_of.map(end_of_day);
    let (project, version) = handlers::project_state(state, &ctx.principal, id, at).await?;
    let view = ProjectView::new(id, version, &project);
    let (deadlines, _) = handlers::deadlines_of(state, &ctx.principal, id, q.as_of).await?;
    let (history, _) = handlers::history_of(state, &ctx.principal, id, at).await?;
    let as_of_position = at.map(|_| history.entries.last().map_or(0, |e| e.global_position));
    let (ledger, _) = handlers::ledger_items(
        state,
        &ctx.principal,
        id,
        handlers::LedgerQuery {
            as_of_position,
            min_position: q.min_position,
        },
    )
    .await?;

    let deadlines = deadlines
        .deadlines
        .iter()
        .map(|d| {
            use workflows::deadlines::DeadlineStatus as S;
            DeadlineLine {
                name: d.deadline.name.clone(),
                due_on: d.deadline.due_on.map(|x| x.to_string()).unwrap_or_default(),
                status: status_label(lang, d.deadline.status),
                status_class: match d.deadline.status {
                    S::Overdue => "st-overdue",
                    S::DueToday => "st-today",
                    S::Upcoming => "st-open",
                    _ => "st-done",
                },
                why: match lang {
                    Lang::Zh => d.deadline.explanation_zh.clone(),
                    Lang::En => d.deadline.explanation.clone(),
                },
                officials: d
                    .officials
                    .iter()
                    .map(|o| o.name.clone())
                    .collect::<Vec<_>>()
                    .join("、"),
            }
        })
        .collect();
    let funds = view
        .funds
        .iter()
        .map(|f| FundRow {
            source: lang.source(&f.source),
            approved: yuan(f.approved_fen),
            paid: yuan(f.paid_fen),
            remaining: yuan(f.approved_fen - f.paid_fen),
            ordered: yuan(f.clawback_ordered_fen),
            recovered: yuan(f.clawback_recovered_fen),
        })
        .collect();
    let ledger = ledger
        .iter()
        .map(|e| LedgerLine {
            date: e.on_date.clone(),
            source: lang.source(&e.source),
            movement: lang.movement(&e.movement),
            amount: yuan(e.amount_fen),
            sequence: e.sequence,
        })
        .collect();
    let officials = view
        .officials
        .iter()
        .map(|o| OfficialLine {
            role: match lang {
                Lang::Zh => o.role_label.clone(),
                Lang::En => o.role.replace('_', " "),
            },
            name: o.name.clone(),
            post: o.post.clone(),
            email: o.email.clone(),
        })
        .collect();
    let events = history
        .entries
        .iter()
        .rev()
        .map(|e| EventLine {
            sequence: e.sequence,
            position: e.global_position,
            recorded_at: beijing(e.recorded_at),
            summary: e.summary.clone(),
            event_type: e.event_type.clone(),
            actor: e.actor.clone(),
            evidence: e
                .evidence
                .iter()
                .map(|d| match &d.sha256 {
                    Some(h) => format!(
                        "{}（{}）sha256 {}",
                        d.title,
                        d.reference,
                        &h[..h.len().min(12)]
                    ),
                    None => format!("{}（{}）", d.title, d.reference),
                })
                .collect(),
            hash_short: e.hash.chars().take(16).collect(),
            hash: e.hash.clone(),
        })
        .collect();
    // The steps offered: the user's role may send the command (the API's table) and the
    // project's stage accepts it (the domain's transition table). Not in an "as of" view.
    let steps = if at.is_some() {
        Vec::new()
    } else {
        STEPS
            .iter()
            .filter(|s| {
                let t = domain::stage::transition(s.kind);
                handlers::roles_for(s.kind).contains(&ctx.principal.user.role)
                    && t.from.contains(&project.stage)
                    && (project.suspended.is_none() || t.while_suspended)
                    && (s.kind != domain::CommandKind::ResolveObjection
                        || !open_objections(&project).is_empty())
            })
            .map(|s| StepLink {
                href: format!("/ui/projects/{id}/steps/{}", s.slug),
                label: (s.label)(m).to_string(),
            })
            .collect()
    };
    let reports = view
        .reports
        .iter()
        .rev()
        .map(|r| (r.period.clone(), r.reported_on.to_string()))
        .collect();
    let page = ProjectPage {
        l: ctx_layout(ctx, view.name.clone(), "projects"),
        place: view.jurisdiction.as_deref().map(place).unwrap_or_default(),
        stage: lang.stage(project.stage).to_string(),
        as_of: q.as_of.map(|d| d.to_string()).unwrap_or_default(),
        deadlines,
        funds,
        ledger,
        officials,
        events,
        chain_ok: history.chain_violation.is_none(),
        steps,
        reports,
        p: view,
    };
    Ok(html(StatusCode::OK, &page))
}

// ------------------------------------------------------------------------------ step forms

/// Reads a request body's JSON with the API's wire type into its evidence and command.
type ParseBody = fn(Value) -> Result<(Vec<Evidence>, ProjectCommand), serde_json::Error>;

/// How a step's command is built from the page's fields.
pub enum StepBody {
    /// A programme form (drawn from the programme's JSON Schema) plus the command's date (and
    /// period) fields.
    Programme {
        form: &'static str,
        date_label: fn(&Msgs) -> &'static str,
        date_pointer: &'static str,
        period: bool,
    },
    /// The API's own request body (drawn from its schema in the OpenAPI document, read back
    /// with the API's own wire type).
    Api {
        schema: &'static str,
        parse: ParseBody,
    },
}

/// A step a page offers: its command kind (role and stage come from the API's and the
/// domain's tables) and how its form is drawn.
pub struct Step {
    pub slug: &'static str,
    pub kind: domain::CommandKind,
    pub label: fn(&Msgs) -> &'static str,
    pub body: StepBody,
}

fn api_body<T: serde::de::DeserializeOwned + CommandBody>(
    v: Value,
) -> Result<(Vec<Evidence>, ProjectCommand), serde_json::Error> {
    serde_json::from_value::<T>(v).map(CommandBody::into_parts)
}

macro_rules! api_step {
    ($slug:literal, $kind:ident, $body:ident, $label:ident) => {
        Step {
            slug: $slug,
            kind: domain::CommandKind::$kind,
            label: |m| m.$label,
            body: StepBody::Api {
                schema: stringify!($body),
                parse: api_body::<wire::$body>,
            },
        }
    };
}

pub const STEPS: &[Step] = &[
    Step {
        slug: "report",
        kind: domain::CommandKind::SubmitProgressReport,
        label: |m| m.step_report,
        body: StepBody::Programme {
            form: "progress_report",
            date_label: |m| m.reported_on,
            date_pointer: "/reported_on",
            period: true,
        },
    },
    Step {
        slug: "plan",
        kind: domain::CommandKind::SubmitPlan,
        label: |m| m.step_plan,
        body: StepBody::Programme {
            form: "plan",
            date_label: |m| m.submitted_on,
            date_pointer: "/submitted_on",
            period: false,
        },
    },
    api_step!("review", ReviewPlan, ReviewPlanBody, step_review),
    api_step!(
        "entity",
        DesignateConstructionEntity,
        DesignateEntityBody,
        step_entity
    ),
    api_step!("notice", PublishNotice, PublishNoticeBody, step_notice),
    api_step!(
        "objection",
        RaiseObjection,
        RaiseObjectionBody,
        step_objection
    ),
    Step {
        slug: "resolution",
        kind: domain::CommandKind::ResolveObjection,
        label: |m| m.step_resolution,
        body: StepBody::Api {
            schema: "ResolveObjectionBody",
            parse: resolve_objection_body,
        },
    },
    api_step!(
        "notice-close",
        CloseNotice,
        CloseNoticeBody,
        step_notice_close
    ),
    api_step!(
        "acceptance",
        RequestAcceptance,
        RequestAcceptanceBody,
        step_acceptance
    ),
    api_step!(
        "inspection",
        RecordInspection,
        InspectionBody,
        step_inspection
    ),
    api_step!(
        "evaluation",
        EvaluatePerformance,
        EvaluationBody,
        step_evaluation
    ),
    api_step!("approval", ApproveFunds, ApproveFundsBody, step_approval),
    api_step!("tranche", DisburseTranche, TrancheBody, step_tranche),
    api_step!("settlement", SettleFunds, SettleFundsBody, step_settlement),
    api_step!("clawback", OrderClawback, ClawbackBody, step_clawback),
    api_step!(
        "clawback-settlement",
        SettleClawback,
        SettleClawbackBody,
        step_clawback_settlement
    ),
    api_step!("suspension", SuspendProject, SuspendBody, step_suspend),
    api_step!("resumption", ResumeProject, ResumeBody, step_resume),
    api_step!(
        "termination",
        TerminateProject,
        TerminateBody,
        step_terminate
    ),
    api_step!("closure", CloseProject, CloseProjectBody, step_close),
    api_step!(
        "official",
        AssignOfficial,
        AssignOfficialBody,
        step_official
    ),
    api_step!(
        "extension",
        ExtendDeadline,
        ExtendDeadlineBody,
        step_extension
    ),
];

/// The objection resolution's body: the API takes the objection's id from its path
/// (`/projects/{id}/objections/{objection_id}/resolution`), the form from a choice of the
/// project's open objections; the rest is read with the API's wire type.
fn resolve_objection_body(
    mut v: Value,
) -> Result<(Vec<Evidence>, ProjectCommand), serde_json::Error> {
    let id = match v.as_object_mut().and_then(|o| o.remove("objection_id")) {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => return Err(serde::de::Error::missing_field("objection_id")),
    };
    serde_json::from_value::<wire::ResolveObjectionBody>(v).map(|b| b.into_parts(id))
}

/// The objections of a project's notice that have no resolution yet.
fn open_objections(project: &domain::SubsidyProject) -> Vec<String> {
    project
        .notice
        .as_ref()
        .map(|n| {
            n.objections
                .iter()
                .filter(|(_, o)| o.resolution.is_none())
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A step's form schema: the API's request body ([`api_schema`]); for the objection
/// resolution, with the objection (whose id the API reads from the path) as a choice of the
/// open ones and the outcome as a choice of the API's two values.
fn step_schema(
    name: &str,
    step: &Step,
    project: &domain::SubsidyProject,
) -> Result<Value, ApiError> {
    let mut schema = api_schema(name)?;
    if step.kind == domain::CommandKind::ResolveObjection {
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "objection_id".into(),
                serde_json::json!({"type": "string", "enum": open_objections(project)}),
            );
            if let Some(outcome) = props.get_mut("outcome").and_then(Value::as_object_mut) {
                outcome.insert("enum".into(), serde_json::json!(["dismissed", "upheld"]));
            }
        }
        if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
            required.insert(0, Value::String("objection_id".into()));
        }
    }
    Ok(schema)
}

/// A request body's schema from the OpenAPI document, `$ref`s inlined, without `evidence`
/// (the page has its own evidence boxes).
fn api_schema(name: &str) -> Result<Value, ApiError> {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let spec =
        SPEC.get_or_init(|| serde_json::to_value(crate::http::api_spec()).unwrap_or(Value::Null));
    let components = &spec["components"]["schemas"];
    let mut schema = forms::inline_refs(
        components.get(name).ok_or_else(|| {
            ApiError::Internal(format!("the OpenAPI document has no schema {name}"))
        })?,
        components,
        0,
    );
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.remove("evidence");
    }
    Ok(schema)
}

#[derive(Template)]
#[template(path = "step.html")]
struct StepPage {
    l: Layout,
    project_id: String,
    project_name: String,
    step_label: String,
    action: String,
    form_title: String,
    widgets: Vec<Widget>,
    has_date: bool,
    has_period: bool,
    period: String,
    period_error: Option<String>,
    date_label: String,
    date: String,
    date_error: Option<String>,
    evidence_title: String,
    evidence_reference: String,
    evidence_error: Option<String>,
    general_errors: Vec<String>,
    failed: bool,
    /// The idempotency key this drawing of the form sends (see [`Filled::key`]).
    idempotency_key: String,
}

/// The hidden form field that carries a form's idempotency key.
pub const IDEMPOTENCY_FIELD: &str = "idempotency_key";

/// How long a submit whose key another request (a double click) is still running waits for
/// that request's answer, in steps of [`IN_PROGRESS_STEP`].
const IN_PROGRESS_WAIT: u32 = 100;
const IN_PROGRESS_STEP: std::time::Duration = std::time::Duration::from_millis(100);

/// The idempotency key a form sends: drawn with the form, so a double click or a resubmitted
/// page sends it again and the command path answers the first request's outcome instead of
/// running the command twice.
fn form_key(fields: &HashMap<String, String>) -> Result<String, ApiError> {
    let k = fields
        .get(IDEMPOTENCY_FIELD)
        .ok_or_else(|| ApiError::BadRequest {
            code: "request.bad_form",
            detail: format!("the form has no {IDEMPOTENCY_FIELD} field; reload the form"),
        })?;
    handlers::checked_idempotency_key(k).map_err(|_| ApiError::BadRequest {
        code: "request.bad_form",
        detail: format!(
            "the form's {IDEMPOTENCY_FIELD} field must be 1–255 visible ASCII characters; reload the form"
        ),
    })
}

/// Sends a form's command through the API's command path under the form's idempotency key.
/// A second submit of the same form while the first still runs (a double click) waits for the
/// first one's answer, then gets it as a replay.
async fn send_keyed(
    req: &HttpRequest,
    state: &AppState,
    ctx: &Ctx,
    project_id: Option<&str>,
    key: &str,
    evidence: Vec<Evidence>,
    command: ProjectCommand,
) -> Result<handlers::Outcome, ApiError> {
    let mut waited = 0;
    loop {
        match handlers::command_outcome(
            req,
            state,
            &ctx.principal,
            project_id,
            Some(key.to_string()),
            evidence.clone(),
            command.clone(),
        )
        .await
        {
            Err(ApiError::Conflict {
                code: "idempotency.in_progress",
                ..
            }) if waited < IN_PROGRESS_WAIT => {
                waited += 1;
                tokio::time::sleep(IN_PROGRESS_STEP).await;
            }
            other => return other.map(|(outcome, _)| outcome),
        }
    }
}

fn step_of(slug: &str) -> Result<&'static Step, ApiError> {
    STEPS
        .iter()
        .find(|s| s.slug == slug)
        .ok_or_else(|| ApiError::NotFound(format!("no step '{slug}'")))
}

/// What the form held (on a refusal or an added row) and the errors by pointer.
#[derive(Default)]
struct Filled {
    form: Value,
    period: String,
    date: String,
    evidence_title: String,
    evidence_reference: String,
    errors: BTreeMap<String, String>,
    rows: HashMap<String, usize>,
    failed: bool,
    /// The form's idempotency key: drawn (UUID v4) when the form is first drawn, kept when it
    /// is drawn again without having been sent to the command path (an added row, a field the
    /// page could not read), and drawn anew after the command path answered a refusal (that
    /// answer is stored under the old key, so a corrected form needs a new one).
    key: String,
}

fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn step_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (id, slug) = path.into_inner();
    let r = async {
        let step = step_of(&slug)?;
        let filled = Filled {
            date: today().to_string(),
            key: fresh_key(),
            ..Default::default()
        };
        render_step(&ctx, &state, &id, step, filled).await
    }
    .await;
    respond(&ctx, r)
}

async fn render_step(
    ctx: &Ctx,
    state: &AppState,
    id: &str,
    step: &'static Step,
    filled: Filled,
) -> Result<HttpResponse, ApiError> {
    let lang = ctx.lang;
    let m = lang.msgs();
    // The same read (role, scope → 404) as the project page.
    let (project, _) = handlers::project_state(state, &ctx.principal, id, None).await?;
    if !handlers::roles_for(step.kind).contains(&ctx.principal.user.role) {
        return Err(ApiError::Forbidden(format!(
            "the {} role may not take this step",
            ctx.principal.user.role.as_str()
        )));
    }
    let label = |key: &str| field_label(lang, key);
    let render = forms::Render {
        errors: &filled.errors,
        rows: &filled.rows,
        row_label: m.row,
        label: &label,
    };
    let mut widgets = Vec::new();
    let (form_title, has_date, has_period, date_label, date_pointer) = match &step.body {
        StepBody::Programme {
            form,
            date_label,
            date_pointer,
            period,
        } => {
            let programme = state
                .engine
                .programmes()
                .get(&project.programme_id, project.programme_version)
                .ok_or_else(|| {
                    ApiError::Internal("the project's programme is not loaded".into())
                })?;
            let def = programme
                .form(form)
                .ok_or_else(|| ApiError::NotFound(format!("the programme has no form '{form}'")))?;
            forms::widgets(
                &def.schema,
                "/form",
                "",
                true,
                &filled.form,
                &render,
                &mut widgets,
            );
            (
                def.title.clone(),
                true,
                *period,
                date_label(m).to_string(),
                *date_pointer,
            )
        }
        StepBody::Api { schema, .. } => {
            let schema = step_schema(schema, step, &project)?;
            forms::widgets(&schema, "", "", true, &filled.form, &render, &mut widgets);
            (String::new(), false, false, String::new(), "")
        }
    };
    // The pointers drawn beside a box or a fieldset; every other error is listed on top.
    let known: Vec<String> = widgets
        .iter()
        .filter(|w| w.kind != "close" && w.kind != "array_end")
        .map(|w| w.name.clone())
        .collect();
    let general_errors = filled
        .errors
        .iter()
        .filter(|(p, _)| {
            !known.contains(p)
                && p.as_str() != "/period"
                && (date_pointer.is_empty() || p.as_str() != date_pointer)
                && !p.starts_with("/evidence")
        })
        .map(|(p, e)| {
            if p.is_empty() {
                e.clone()
            } else {
                format!("{p}: {e}")
            }
        })
        .collect();
    let page = StepPage {
        l: ctx_layout(ctx, (step.label)(m).to_string(), "projects"),
        project_id: id.to_string(),
        project_name: project.name.clone(),
        step_label: (step.label)(m).to_string(),
        action: format!("/ui/projects/{id}/steps/{}", step.slug),
        form_title,
        widgets,
        has_date,
        has_period,
        period: filled.period.clone(),
        period_error: filled.errors.get("/period").cloned(),
        date_label,
        date: filled.date.clone(),
        date_error: if date_pointer.is_empty() {
            None
        } else {
            filled.errors.get(date_pointer).cloned()
        },
        evidence_title: filled.evidence_title.clone(),
        evidence_reference: filled.evidence_reference.clone(),
        evidence_error: filled
            .errors
            .iter()
            .find(|(p, _)| p.starts_with("/evidence"))
            .map(|(_, e)| e.clone()),
        general_errors,
        failed: filled.failed,
        idempotency_key: filled.key.clone(),
    };
    let status = if filled.failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html(status, &page))
}

/// A step's form submitted: read into the command the API would build from its JSON, sent
/// through the API's command path; on success back to the project page with the command's
/// position (read-your-writes), on refusal the form again with each error beside its field.
pub async fn step_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (id, slug) = path.into_inner();
    let r = step_submit_inner(&ctx, &state, &req, &id, &slug, &body).await;
    respond(&ctx, r)
}

async fn step_submit_inner(
    ctx: &Ctx,
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    slug: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let step = step_of(slug)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| ApiError::BadRequest {
            code: "request.bad_form",
            detail: format!("the form could not be read: {e}"),
        })?;
    let fields: HashMap<String, String> = pairs.into_iter().collect();
    if !csrf_matches(
        Some(&ctx.csrf),
        fields.get("csrf_token").map(String::as_str),
    ) {
        tracing::warn!(user = ?ctx.principal.user.username, "refused: a page form without the session's CSRF token");
        return Err(csrf_refusal());
    }
    let key = form_key(&fields)?;
    let (project, _) = handlers::project_state(state, &ctx.principal, id, None).await?;
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let mut filled = Filled {
        key: key.clone(),
        period: get("period"),
        date: get("date"),
        evidence_title: get("evidence_title"),
        evidence_reference: get("evidence_reference"),
        ..Default::default()
    };
    let lang = ctx.lang;
    let evidence =
        if filled.evidence_title.trim().is_empty() && filled.evidence_reference.trim().is_empty() {
            Vec::new()
        } else {
            vec![Evidence {
                title: filled.evidence_title.clone(),
                reference: filled.evidence_reference.clone(),
                sha256: None,
            }]
        };
    // The fields read back into JSON (the programme form, or the API's body).
    let (schema, at) = match &step.body {
        StepBody::Programme { form, .. } => {
            let programme = state
                .engine
                .programmes()
                .get(&project.programme_id, project.programme_version)
                .ok_or_else(|| {
                    ApiError::Internal("the project's programme is not loaded".into())
                })?;
            let def = programme
                .form(form)
                .ok_or_else(|| ApiError::NotFound(format!("the programme has no form '{form}'")))?;
            (def.schema.clone(), "/form")
        }
        StepBody::Api { schema, .. } => (step_schema(schema, step, &project)?, ""),
    };
    let value = forms::read(&schema, at, &fields).unwrap_or(Value::Object(Default::default()));
    filled.form = value.clone();
    // The add-row button: draw the form again with one more row, send nothing.
    if let Some(pointer) = fields.get(forms::ADD_ROW) {
        filled.rows.insert(pointer.clone(), 1);
        return render_step(ctx, state, id, step, filled).await;
    }
    let built = match &step.body {
        StepBody::Programme {
            date_pointer,
            period,
            ..
        } => match NaiveDate::parse_from_str(filled.date.trim(), "%Y-%m-%d") {
            Err(_) => Err((date_pointer.to_string(), "is not a \"date\"".to_string())),
            Ok(date) => Ok((
                evidence,
                if *period {
                    ProjectCommand::SubmitProgressReport {
                        period: filled.period.clone(),
                        reported_on: date,
                        form: value,
                    }
                } else {
                    ProjectCommand::SubmitPlan {
                        submitted_on: date,
                        form: value,
                    }
                },
            )),
        },
        // The API's wire type reads the body, as it reads the JSON of `POST /projects/{id}/…`.
        StepBody::Api { parse, .. } => match parse(value) {
            Ok((_, command)) => Ok((evidence, command)),
            Err(e) => {
                let text = e.to_string();
                Err(match text.split('`').nth(1) {
                    Some(field) if text.starts_with("missing field") => {
                        (format!("/{field}"), "required field is missing".to_string())
                    }
                    _ => (String::new(), text),
                })
            }
        },
    };
    let (evidence, command) = match built {
        Ok(parts) => parts,
        Err((pointer, reason)) => {
            filled.errors.insert(pointer, word(lang, &reason));
            filled.failed = true;
            return render_step(ctx, state, id, step, filled).await;
        }
    };
    let outcome = send_keyed(req, state, ctx, Some(id), &key, evidence, command).await?;
    if (200..300).contains(&outcome.status) {
        let result: CommandResult = serde_json::from_str(&outcome.body)
            .map_err(|e| ApiError::Internal(format!("a command answer did not read back: {e}")))?;
        return Ok(see_other(&format!(
            "/ui/projects/{id}?min_position={}",
            result.position
        )));
    }
    let problem: Problem = serde_json::from_str(&outcome.body)
        .map_err(|e| ApiError::Internal(format!("a problem document did not read back: {e}")))?;
    let form_error = problem.code == "form.invalid";
    for field in &problem.errors {
        // A form's own pointers are inside the form; the command's are the body's.
        let pointer = if form_error {
            format!("{at}{}", field.pointer)
        } else {
            field.pointer.clone()
        };
        filled.errors.insert(pointer, word(lang, &field.reason));
    }
    if problem.errors.is_empty() {
        filled
            .errors
            .insert(String::new(), word(lang, &problem.detail));
    }
    filled.failed = true;
    // The refusal is stored under this key: the corrected form must be a new request.
    filled.key = fresh_key();
    render_step(ctx, state, id, step, filled).await
}

/// A request-body field's label (the API's schemas have no titles).
fn field_label(lang: Lang, key: &str) -> String {
    let zh = match key {
        "name" => "名称/姓名",
        "credit_code" => "统一社会信用代码",
        "kind" => "类型",
        "entity" => "建设主体",
        "starts_on" => "开始日期",
        "ends_on" => "结束日期",
        "channel" => "公示渠道",
        "objection_id" => "异议编号",
        "resolved_on" => "处理日期",
        "outcome" => "处理结果（dismissed 异议不成立 / upheld 异议成立）",
        "resolution" => "处理意见",
        "raised_on" => "提出日期",
        "raised_by" => "提出人",
        "summary" => "内容摘要",
        "closed_on" => "结束日期",
        "requested_on" => "申请日期",
        "inspected_on" => "验收日期",
        "inspector" => "验收人",
        "results" => "验收结果（逐项）",
        "item_id" => "检查项编号",
        "passed" => "合格",
        "measured" => "实测值",
        "note" => "说明",
        "rectify_by" => "整改期限",
        "evaluated_on" => "评价日期",
        "scores" => "评分（逐项）",
        "indicator_id" => "指标编号",
        "score" => "得分",
        "source" => "资金来源（province / city / county）",
        "amount_fen" | "amount" => "金额（分）",
        "approved_on" => "批复日期",
        "paid_on" => "拨付日期",
        "settled_on" => "清算日期",
        "ordered_on" => "责令日期",
        "reason" => "原因",
        "suspended_on" => "暂停日期",
        "resumed_on" => "恢复日期",
        "terminated_on" => "终止日期",
        "clawbacks" => "追回（按来源）",
        "role" => "类别（official_in_charge / liaison）",
        "official" => "责任人",
        "post" => "职务",
        "phone" => "电话",
        "email" => "邮箱",
        "language" => "提醒语言（zh / en）",
        "deadline_id" => "节点编号",
        "until" => "延至",
        "reviewed_on" => "审核日期",
        "decision" => "审核意见（approve 同意 / return 退回）",
        "comment" => "意见",
        "reasons" => "退回理由",
        other => return other.replace('_', " "),
    };
    match lang {
        Lang::Zh => zh.to_string(),
        Lang::En => key.replace('_', " "),
    }
}

fn word(lang: Lang, reason: &str) -> String {
    match lang {
        Lang::Zh => forms::reason_zh(reason),
        Lang::En => reason.to_string(),
    }
}

// ------------------------------------------------------------------------------ registration

/// One box of the registration form.
pub struct RegisterField {
    pub kind: &'static str,
    pub name: &'static str,
    pub id: &'static str,
    pub label: String,
    pub required: bool,
    pub value: String,
    pub options: Vec<(String, String, bool)>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    l: Layout,
    fields: Vec<RegisterField>,
    grants: Vec<String>,
    evidence_title: String,
    evidence_reference: String,
    general_errors: Vec<String>,
    failed: bool,
    idempotency_key: String,
}

/// What the registration form holds: its fields by name, the errors by the body's pointer.
#[derive(Default)]
struct RegisterFilled {
    fields: HashMap<String, String>,
    errors: BTreeMap<String, String>,
    failed: bool,
    key: String,
}

/// The programme choice's value: `id@version`.
fn programme_choice(id: &str, version: u32) -> String {
    format!("{id}@{version}")
}

fn render_register(ctx: &Ctx, state: &AppState, filled: RegisterFilled) -> HttpResponse {
    let lang = ctx.lang;
    let m = lang.msgs();
    let get = |k: &str| filled.fields.get(k).cloned().unwrap_or_default();
    let err = |pointers: &[&str]| pointers.iter().find_map(|p| filled.errors.get(*p)).cloned();
    let chosen = get("programme");
    let registry = state.engine.programmes();
    let mut programmes = registry.all();
    // A withdrawn version takes no new registrations: it is not offered.
    programmes.retain(|p| registry.withdrawal(&p.id, p.version).is_none());
    programmes.sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
    let mut options = vec![(String::new(), "—".to_string(), chosen.is_empty())];
    options.extend(programmes.iter().map(|p| {
        let value = programme_choice(&p.id, p.version);
        let title = match lang {
            Lang::Zh => &p.title,
            Lang::En => &p.title_en,
        };
        let selected = value == chosen;
        // The application window, so that the date box is filled with a day it accepts.
        let window = match lang {
            Lang::Zh => format!(
                "登记期 {} 至 {}",
                p.application_window.opens_on, p.application_window.closes_on
            ),
            Lang::En => format!(
                "registers {} – {}",
                p.application_window.opens_on, p.application_window.closes_on
            ),
        };
        (
            value,
            format!("{title}（{} v{}，{window}）", p.id, p.version),
            selected,
        )
    }));
    let field = |kind, name, id, label: &str, required, pointers: &[&str]| RegisterField {
        kind,
        name,
        id,
        label: label.to_string(),
        required,
        value: get(name),
        options: Vec::new(),
        error: err(pointers),
    };
    let mut programme = field(
        "select",
        "programme",
        "f-programme",
        m.programme,
        true,
        &["/programme_id", "/programme_version"],
    );
    programme.options = options;
    let fields = vec![
        field("text", "name", "f-name", m.project_name, true, &["/name"]),
        programme,
        field(
            "jurisdiction",
            "jurisdiction",
            "f-jurisdiction",
            m.jurisdiction,
            true,
            &["/jurisdiction"],
        ),
        field(
            "date",
            "registered_on",
            "f-registered-on",
            m.registered_on,
            true,
            &["/registered_on"],
        ),
        field(
            "text",
            "description",
            "f-description",
            m.description,
            false,
            &["/description"],
        ),
    ];
    let known = [
        "/name",
        "/programme_id",
        "/programme_version",
        "/jurisdiction",
        "/registered_on",
        "/description",
    ];
    let general_errors = filled
        .errors
        .iter()
        .filter(|(p, _)| !known.contains(&p.as_str()))
        .map(|(p, e)| {
            if p.is_empty() {
                e.clone()
            } else {
                format!("{p}: {e}")
            }
        })
        .collect();
    let page = RegisterPage {
        l: ctx_layout(ctx, m.new_project.into(), "projects"),
        fields,
        grants: ctx
            .principal
            .user
            .jurisdictions
            .iter()
            .map(|j| j.as_str().to_string())
            .collect(),
        evidence_title: get("evidence_title"),
        evidence_reference: get("evidence_reference"),
        general_errors,
        failed: filled.failed,
        idempotency_key: filled.key.clone(),
    };
    html(
        if filled.failed {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &page,
    )
}

fn may_register(ctx: &Ctx) -> Result<(), ApiError> {
    if handlers::roles_for(domain::CommandKind::RegisterProject).contains(&ctx.principal.user.role)
    {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the {} role may not register projects",
            ctx.principal.user.role.as_str()
        )))
    }
}

/// `/ui/projects/new`: the registration form (officers), the jurisdiction preset to the
/// user's first grant and the date to today.
pub async fn register_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = may_register(&ctx) {
        return error_page(ctx.lang, Some(&ctx), &e);
    }
    let mut fields = HashMap::new();
    fields.insert("registered_on".to_string(), today().to_string());
    if let Some(j) = ctx.principal.user.jurisdictions.first() {
        fields.insert("jurisdiction".to_string(), j.as_str().to_string());
    }
    render_register(
        &ctx,
        &state,
        RegisterFilled {
            fields,
            key: fresh_key(),
            ..Default::default()
        },
    )
}

/// The registration form submitted: the API's `POST /projects` body built from the boxes, sent
/// through the API's command path; on success to the new project's page, on refusal the form
/// again with each error beside its box.
pub async fn register_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = register_submit_inner(&ctx, &state, &req, &body).await;
    respond(&ctx, r)
}

async fn register_submit_inner(
    ctx: &Ctx,
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    may_register(ctx)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| ApiError::BadRequest {
            code: "request.bad_form",
            detail: format!("the form could not be read: {e}"),
        })?;
    let fields: HashMap<String, String> = pairs.into_iter().collect();
    if !csrf_matches(
        Some(&ctx.csrf),
        fields.get("csrf_token").map(String::as_str),
    ) {
        tracing::warn!(user = ?ctx.principal.user.username, "refused: a page form without the session's CSRF token");
        return Err(csrf_refusal());
    }
    let key = form_key(&fields)?;
    let lang = ctx.lang;
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let mut filled = RegisterFilled {
        fields: fields.clone(),
        key: key.clone(),
        ..Default::default()
    };
    // The boxes read into the body's types; what does not read is named beside its box.
    let (programme_id, programme_version) = match get("programme").rsplit_once('@') {
        Some((id, v)) if !id.is_empty() => match v.parse::<u32>() {
            Ok(v) => (id.to_string(), Some(v)),
            Err(_) => (String::new(), None),
        },
        _ => (String::new(), None),
    };
    if programme_version.is_none() {
        filled.errors.insert(
            "/programme_id".into(),
            word(lang, "required field is missing"),
        );
    }
    let jurisdiction = match JurisdictionCode::parse(get("jurisdiction").trim()) {
        Ok(j) => Some(j),
        Err(e) => {
            filled
                .errors
                .insert("/jurisdiction".into(), word(lang, &e.to_string()));
            None
        }
    };
    let registered_on = match NaiveDate::parse_from_str(get("registered_on").trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            filled
                .errors
                .insert("/registered_on".into(), word(lang, "is not a \"date\""));
            None
        }
    };
    let (Some(programme_version), Some(jurisdiction), Some(registered_on)) =
        (programme_version, jurisdiction, registered_on)
    else {
        filled.failed = true;
        return Ok(render_register(ctx, state, filled));
    };
    let evidence =
        if get("evidence_title").trim().is_empty() && get("evidence_reference").trim().is_empty() {
            Vec::new()
        } else {
            vec![Evidence {
                title: get("evidence_title"),
                reference: get("evidence_reference"),
                sha256: None,
            }]
        };
    let (evidence, command) = CommandBody::into_parts(wire::RegisterProjectBody {
        name: get("name"),
        programme_id,
        programme_version,
        jurisdiction,
        description: get("description"),
        registered_on,
        evidence,
    });
    let outcome = match send_keyed(req, state, ctx, None, &key, evidence, command).await {
        Ok(outcome) => outcome,
        // Outside the user's grants: said beside the jurisdiction box.
        Err(ApiError::Forbidden(detail)) => {
            filled
                .errors
                .insert("/jurisdiction".into(), word(lang, &detail));
            filled.failed = true;
            filled.key = fresh_key();
            return Ok(render_register(ctx, state, filled));
        }
        Err(e) => return Err(e),
    };
    if (200..300).contains(&outcome.status) {
        let result: CommandResult = serde_json::from_str(&outcome.body)
            .map_err(|e| ApiError::Internal(format!("a command answer did not read back: {e}")))?;
        return Ok(see_other(&format!(
            "/ui/projects/{}?min_position={}",
            result.project_id, result.position
        )));
    }
    let problem: Problem = serde_json::from_str(&outcome.body)
        .map_err(|e| ApiError::Internal(format!("a problem document did not read back: {e}")))?;
    for field in &problem.errors {
        filled
            .errors
            .insert(field.pointer.clone(), word(lang, &field.reason));
    }
    if problem.errors.is_empty() {
        filled
            .errors
            .insert(String::new(), word(lang, &problem.detail));
    }
    filled.failed = true;
    filled.key = fresh_key();
    Ok(render_register(ctx, state, filled))
}

// ------------------------------------------------------------------------------ reminders

pub struct ReminderLine {
    pub created_at: String,
    pub project_id: String,
    pub project_name: String,
    pub deadline: String,
    pub due_on: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub status_class: &'static str,
    pub attempts: i64,
    pub sent_at: String,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "reminders.html")]
struct RemindersPage {
    l: Layout,
    rows: Vec<ReminderLine>,
    total: i64,
    prev: Option<String>,
    next: Option<String>,
}

pub async fn reminders(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = async {
        let q: handlers::ReminderLogQuery = page_query(&req)?;
        let status = q.status.clone();
        let page = handlers::reminder_page(&state, &ctx.principal, q).await?;
        let lang = ctx.lang;
        let link = |offset: i64| {
            let mut s = format!("/ui/reminders?limit={}&offset={offset}", page.limit);
            if let Some(st) = &status {
                s.push_str(&format!("&status={}", url_encode(st)));
            }
            s
        };
        let rows = page
            .items
            .iter()
            .map(|r| ReminderLine {
                created_at: r.created_at.clone(),
                project_id: r.project_id.clone(),
                project_name: r.project_name.clone(),
                deadline: r.deadline_id.clone(),
                due_on: r.due_on.clone(),
                recipient: format!("{} <{}>", r.recipient_name, r.recipient_email),
                subject: r.subject.clone(),
                status: lang.delivery(&r.status),
                status_class: match r.status.as_str() {
                    "sent" => "st-done",
                    "failed" => "st-overdue",
                    _ => "st-open",
                },
                attempts: r.attempts,
                sent_at: r.sent_at.clone().unwrap_or_default(),
                last_error: r.last_error.clone().unwrap_or_default(),
            })
            .collect();
        let out = RemindersPage {
            l: ctx_layout(&ctx, lang.msgs().reminders.into(), "reminders"),
            rows,
            total: page.total,
            prev: (page.offset > 0).then(|| link((page.offset - page.limit).max(0))),
            next: (page.offset + page.limit < page.total).then(|| link(page.offset + page.limit)),
        };
        Ok(html(StatusCode::OK, &out))
    }
    .await;
    respond(&ctx, r)
}

// ------------------------------------------------------------------------------ findings

pub struct FindingLine {
    pub finance: bool,
    pub title: String,
    pub project_id: String,
    pub project_name: String,
    pub place: String,
    pub detail: String,
    pub amount: String,
    pub late: String,
    pub events: Vec<String>,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    l: Layout,
    scope: String,
    j: String,
    as_of: String,
    day: String,
    projects: u64,
    events: u64,
    finance: usize,
    deadline: usize,
    rows: Vec<FindingLine>,
    shown: usize,
    problems: Vec<String>,
}

/// At most this many findings on the page (finance first); the API and the CLI give all.
const FINDINGS_SHOWN: usize = 300;

/// `/ui/audit/findings`: the compliance report (`GET /audit/findings`) for auditors and
/// supervisors, as of a day, with the events proving each finding.
pub async fn findings(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = async {
        let q: crate::http::audit::FindingsQuery = page_query(&req)?;
        let j = q.jurisdiction.clone().unwrap_or_default();
        let as_of = q.as_of.map(|d| d.to_string()).unwrap_or_default();
        let report = crate::http::audit::findings_report(&state, &ctx.principal, q).await?;
        let lang = ctx.lang;
        let en = lang == Lang::En;
        let rows = report
            .findings
            .iter()
            .take(FINDINGS_SHOWN)
            .map(|f| FindingLine {
                finance: f.severity == crate::audit::check::Severity::Finance,
                title: if en { f.title_en } else { f.title_zh }.to_string(),
                project_id: f.project_id.clone(),
                project_name: f.project_name.clone(),
                place: f.jurisdiction.as_deref().map(place).unwrap_or_default(),
                detail: if en { &f.detail_en } else { &f.detail_zh }.clone(),
                amount: f.amount_fen.map(yuan).unwrap_or_default(),
                late: f
                    .working_days_late
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                events: f
                    .events
                    .iter()
                    .map(|e| {
                        format!(
                            "#{} {} {} {}",
                            e.sequence, e.event_type, e.recorded_at, e.hash
                        )
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let out = FindingsPage {
            l: ctx_layout(&ctx, lang.msgs().nav_findings.into(), "findings"),
            scope: report
                .jurisdiction
                .as_deref()
                .map(place)
                .unwrap_or_default(),
            j,
            as_of,
            day: report.as_of.to_string(),
            projects: report.projects,
            events: report.events,
            finance: report.finance_findings,
            deadline: report.deadline_findings,
            shown: rows.len(),
            rows,
            problems: report
                .problems
                .iter()
                .map(|p| match p.sequence {
                    Some(n) => format!("{} #{n}: {}", p.project_id, p.what),
                    None => format!("{}: {}", p.project_id, p.what),
                })
                .collect(),
        };
        Ok(html(StatusCode::OK, &out))
    }
    .await;
    respond(&ctx, r)
}

// ------------------------------------------------------------------------------ accounts

pub struct AccountLine {
    pub username: String,
    pub role: String,
    pub jurisdictions: String,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    l: Layout,
    rows: Vec<AccountLine>,
}

pub async fn accounts(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = match Ctx::load(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = async {
        let users = handlers::users_of(&state, &ctx.principal).await?;
        let lang = ctx.lang;
        let rows = users
            .iter()
            .map(|u| AccountLine {
                username: u.username.clone(),
                role: lang.role(u.role.as_str()).to_string(),
                jurisdictions: u
                    .jurisdictions
                    .iter()
                    .map(|j| j.as_str().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                disabled: u.disabled,
            })
            .collect();
        let out = AccountsPage {
            l: ctx_layout(&ctx, lang.msgs().accounts.into(), "accounts"),
            rows,
        };
        Ok(html(StatusCode::OK, &out))
    }
    .await;
    respond(&ctx, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_and_links() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(123_456_789), "1,234,567.89");
        assert_eq!(yuan(-5), "-0.05");
        assert_eq!(
            url_encode("/ui/?j=370323&x=沂"),
            "/ui/%3Fj%3D370323%26x%3D%E6%B2%82"
        );
        assert!(safe_next("/ui/projects"));
        assert!(!safe_next("//evil.example.org/"));
        assert!(!safe_next("https://evil.example.org/"));
    }
}
