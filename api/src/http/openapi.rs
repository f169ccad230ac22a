//! The OpenAPI document served at `/openapi.json` (and behind the Swagger UI at `/swagger-ui/`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::auth::{Role, User};
use super::errors::{Problem, ProblemField};
use super::handlers;
use super::wire::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "subsidy", description = "Event-sourced engine for government-subsidised express-delivery infrastructure projects. Errors are application/problem+json (RFC 9457) with a stable `code`."),
    paths(
        handlers::healthz, handlers::readyz,
        handlers::login, handlers::logout, handlers::me,
        handlers::list_users, handlers::create_user, handlers::disable_user,
        handlers::list_programmes, handlers::show_programme,
        handlers::list_projects, handlers::register_project, handlers::show_project, handlers::project_history, handlers::project_deadlines,
        handlers::submit_plan, handlers::review_plan, handlers::designate_entity, handlers::publish_notice,
        handlers::raise_objection, handlers::resolve_objection, handlers::close_notice, handlers::submit_report,
        handlers::request_acceptance, handlers::record_inspection, handlers::evaluate,
        handlers::approve_funds, handlers::disburse_tranche, handlers::settle_funds,
        handlers::order_clawback, handlers::settle_clawback,
        handlers::suspend, handlers::resume, handlers::terminate, handlers::close_project,
        handlers::assign_official, handlers::extend_deadline,
    ),
    components(schemas(Problem, ProblemField, Role, User, Evidence, CommandResult, RecordedEvent,
        LoginBody, LoginResult, CreateUserBody, ProjectPage, ProjectListItem, ProgrammeItem,
        ProjectView)),
    modifiers(&BearerAuth)
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
