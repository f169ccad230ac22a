//! The web pages (`/ui/…`; `/` leads there): server-rendered askama templates over the same
//! functions as the HTTP API, in Chinese by default with English on a switch, without a
//! single script.
//!
//! Invariants:
//! - **No business logic here.** Every read goes through the API's own functions
//!   (`handlers::list_page`, `rollup_view`, `project_state`, `deadlines_of`, `history_of`,
//!   `ledger_items`, `reminder_page`, `users_of`), with their role and jurisdiction checks (a
//!   project outside the user's grants is the same 404); every change goes through
//!   `handlers::command_outcome`, the API's command path, so a form is refused exactly when the
//!   API would refuse its JSON. A page only parses fields, draws and translates.
//! - **Security headers** on every page: a Content-Security-Policy without inline scripts or
//!   styles (`default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';
//!   frame-ancestors 'none'; base-uri 'none'`), `X-Frame-Options: DENY`, `nosniff`,
//!   `Referrer-Policy: no-referrer` (the last two come from the server-wide headers).
//! - **CSRF**: every form that changes something carries the session's CSRF token in the
//!   `csrf_token` field, checked with `auth::csrf_matches` like the API's header.
//! - **Offline**: the stylesheet and icon are embedded in the binary ([`assets`]).

pub mod assets;
pub mod forms;
pub mod i18n;
pub mod pages;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::auth::{self, Principal};
use crate::http::AppState;
use i18n::Lang;

/// The Content-Security-Policy of every page.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { see_other("/ui/") }))
        .service(
            web::scope("/ui")
                .wrap(actix_web::middleware::from_fn(page_headers))
                .route("/", web::get().to(pages::dashboard))
                .route("", web::get().to(|| async { see_other("/ui/") }))
                .route("/login", web::get().to(pages::login_form))
                .route("/login", web::post().to(pages::login_submit))
                .route("/logout", web::post().to(pages::logout))
                .route("/lang/{lang}", web::get().to(pages::switch_language))
                .route("/projects", web::get().to(pages::projects))
                .route("/projects/new", web::get().to(pages::register_form))
                .route("/projects/new", web::post().to(pages::register_submit))
                .route("/projects/{id}", web::get().to(pages::project))
                .route(
                    "/projects/{id}/steps/{step}",
                    web::get().to(pages::step_form),
                )
                .route(
                    "/projects/{id}/steps/{step}",
                    web::post().to(pages::step_submit),
                )
                .route("/reminders", web::get().to(pages::reminders))
                .route("/audit/findings", web::get().to(pages::findings))
                .route("/accounts", web::get().to(pages::accounts))
                .route("/static/{file}", web::get().to(assets::serve))
                .default_service(web::to(pages::no_page)),
        );
}

/// A 303 redirect (after a form, or to the log-in page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Adds the pages' own security headers (the server adds nosniff and the referrer policy).
async fn page_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show account and project data.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// The page language: the `subsidy_lang` cookie, else Chinese.
pub fn lang_of(req: &HttpRequest) -> Lang {
    req.cookie(Lang::COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or(Lang::Zh)
}

/// Whether `next` is a page of this site to return to (never another host).
pub fn safe_next(next: &str) -> bool {
    next.starts_with("/ui/") && !next.starts_with("//") && !next.contains('\\')
}

/// What every signed-in page knows: who, in which language, the CSRF token of its forms and
/// where it is (for the language switch).
pub struct Ctx {
    pub lang: Lang,
    pub principal: Principal,
    pub csrf: String,
    pub here: String,
}

impl Ctx {
    /// The signed-in context, or the redirect to the log-in page.
    pub async fn load(req: &HttpRequest, state: &AppState) -> Result<Ctx, HttpResponse> {
        let lang = lang_of(req);
        let here = match req.uri().query() {
            Some(q) if !q.is_empty() => format!("{}?{q}", req.path()),
            _ => req.path().to_string(),
        };
        match auth::cookie_session(state, req).await {
            Ok(Some((principal, csrf))) => Ok(Ctx {
                lang,
                principal,
                csrf,
                here,
            }),
            Ok(None) => Err(see_other(&format!(
                "/ui/login?next={}",
                pages::url_encode(&here)
            ))),
            Err(e) => Err(pages::error_page(lang, None, &e)),
        }
    }
}
