//! The OpenAPI document served at `/openapi.json` (and behind the Swagger UI at `/swagger-ui/`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::auth::{Role, User};
use super::errors::{Problem, ProblemField};
use super::exports;
use super::handlers;
use super::wire::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "subsidy", description = "Event-sourced engine for government-subsidised express-delivery infrastructure projects. Errors are application/problem+json (RFC 9457) with a stable `code`."),
    paths(
        handlers::healthz, handlers::readyz,
        handlers::login, handlers::logout, handlers::me,
        handlers::list_users, handlers::create_user, handlers::disable_user,
        super::programmes::list_programmes, super::programmes::publish_programme,
        super::programmes::programme_versions, super::programmes::diff_programme,
        handlers::show_programme, super::programmes::withdraw_programme,
        super::calendar::list_years, super::calendar::load_year,
        handlers::list_projects, handlers::rollup, exports::annex_export, handlers::reminder_log, handlers::project_ledger, handlers::register_project, handlers::show_project, handlers::project_history, handlers::project_deadlines,
        handlers::submit_plan, handlers::review_plan, handlers::designate_entity, handlers::publish_notice,
        handlers::raise_objection, handlers::resolve_objection, handlers::close_notice, handlers::submit_report,
        handlers::request_acceptance, handlers::record_inspection, handlers::evaluate,
        handlers::approve_funds, handlers::disburse_tranche, handlers::settle_funds,
        handlers::order_clawback, handlers::settle_clawback,
        handlers::suspend, handlers::resume, handlers::terminate, handlers::close_project,
        handlers::assign_official, handlers::extend_deadline,
        super::audit::inclusion, super::audit::consistency, super::audit::findings,
    ),
    components(schemas(Problem, ProblemField, Role, User, Evidence, CommandResult, RecordedEvent,
        super::calendar::LoadCalendarBody, crate::calendar::LoadOutcome,
        super::programmes::PublishProgrammeBody, super::programmes::WithdrawProgrammeBody,
        crate::programmes::VersionRecord, crate::programmes::PublishOutcome,
        crate::programmes::WithdrawOutcome, crate::programmes::VersionDiff,
        crate::calendar::CalendarOverview, crate::calendar::YearItem,
        LoginBody, LoginResult, CreateUserBody, ProjectPage, ProjectListItem,
        ProjectView, crate::audit::digest::DigestRecord, crate::audit::digest::Leaf,
        crate::audit::digest::InclusionProof, crate::audit::digest::ConsistencyProof)),
    modifiers(&BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Completes every operation's error responses, so that the spec says what the server does:
/// every error is `application/problem+json`; every operation may answer 400 (a path or query
/// holding control characters, a malformed body) and, but `/healthz`, 503 (the store is
/// unreachable, with `Retry-After`); one behind authentication may answer 401; one with a body 413 and 415.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            header::HeaderBuilder, ContentBuilder, Ref, RefOr, ResponseBuilder, Type,
        };
        let retry_after_header = || {
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer),
                ))
                .description(Some("seconds to wait before retrying"))
                .build()
        };
        let problem = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build()
        };
        let response = |description: &str, retry_after: bool| {
            let mut r = ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", problem());
            if retry_after {
                r = r.header("Retry-After", retry_after_header());
            }
            RefOr::T(r.build())
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, r: RefOr<utoipa::openapi::Response>| {
                    responses.entry(status.to_string()).or_insert(r);
                };
                add("400", response("the request is malformed (`request.*`): a path or query with control characters, a body that is not strict JSON or does not fit", false));
                if path != "/healthz" {
                    add("503", response("`store.unavailable`: the data store cannot be reached just now; retry after `Retry-After` seconds (with the same `Idempotency-Key`, a retry never runs a command twice)", true));
                }
                if secured {
                    add(
                        "401",
                        response(
                            "not logged in, or the session expired (`auth.unauthenticated`)",
                            false,
                        ),
                    );
                }
                if has_body {
                    add(
                        "413",
                        response(
                            "the body is larger than 256 KiB (`request.too_large`)",
                            false,
                        ),
                    );
                    add(
                        "415",
                        response(
                            "the body is not `application/json` (`request.unsupported_media_type`)",
                            false,
                        ),
                    );
                }
                for (status, r) in responses.iter_mut() {
                    let RefOr::T(r) = r else { continue };
                    if status == "503" && !r.headers.contains_key("Retry-After") {
                        r.headers
                            .insert("Retry-After".to_string(), RefOr::T(retry_after_header()));
                    }
                    if status.as_str() >= "400" {
                        if let Some(c) = r.content.shift_remove("application/json") {
                            r.content.insert("application/problem+json".to_string(), c);
                        }
                    }
                }
            }
        }
    }
}
