//! The admin REST API under `/api/v1`, with its OpenAPI document generated
//! from the handlers' annotations and served at `/api/v1/openapi.json`.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod directories;
pub mod domains;
pub mod dto;
pub mod holders;
pub mod idp;
pub mod invites;
pub mod me;
pub mod orgs;
pub mod roles;
pub mod settings;
pub mod users;
pub mod workspaces;

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::service_config::ServiceConfig;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rollcall admin API",
        description = "Organizations, workspaces, users, roles and audit of the rollcall identity gateway. \
                       Authenticate with an API key: `Authorization: Bearer rk_…`."
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Mount every admin API handler (paths relative to `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(me::me)
        .service(orgs::create_org)
        .service(orgs::list_orgs)
        .service(orgs::get_org)
        .service(workspaces::create_workspace)
        .service(workspaces::list_workspaces)
        .service(workspaces::get_workspace)
        .service(workspaces::update_workspace)
        .service(workspaces::put_member)
        .service(workspaces::delete_member)
        .service(workspaces::put_item_type)
        .service(workspaces::list_item_types)
        .service(users::create_user)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::suspend_user)
        .service(users::reactivate_user)
        .service(audit::list_audit)
        .service(invites::bulk_invite)
        .service(invites::get_bulk_job)
        .service(invites::create_invite)
        .service(invites::list_invites)
        .service(invites::get_invite)
        .service(invites::revoke_invite)
        .service(invites::resend_invite)
        .service(api_keys::create_api_key)
        .service(api_keys::list_api_keys)
        .service(api_keys::revoke_api_key)
        .service(access::set_role)
        .service(access::set_workspaces)
        .service(access::add_binding)
        .service(access::remove_binding)
        .service(access::add_override)
        .service(access::remove_override)
        .service(access::attach_set)
        .service(access::detach_set)
        .service(access::get_access)
        .service(access::check)
        .service(roles::list_permissions)
        .service(roles::list_roles)
        .service(roles::get_role)
        .service(holders::list_role_users)
        .service(holders::list_selection)
        .service(roles::create_role)
        .service(roles::update_role)
        .service(roles::delete_role)
        .service(roles::list_sets)
        .service(roles::create_set)
        .service(roles::update_set)
        .service(roles::delete_set)
        .service(roles::get_defaults)
        .service(roles::set_defaults)
        .service(settings::get_settings)
        .service(settings::put_settings)
        .service(settings::list_mappings)
        .service(settings::create_mapping)
        .service(settings::delete_mapping)
        .service(directories::create_directory)
        .service(directories::list_directories)
        .service(directories::create_token)
        .service(directories::list_tokens)
        .service(directories::revoke_token)
        .service(directories::set_ceiling)
        .service(domains::claim_domain)
        .service(domains::list_domains)
        .service(domains::verify_domain)
        .service(domains::remove_domain)
        .service(idp::create_connection)
        .service(idp::list_connections)
        .service(idp::get_connection)
        .service(idp::update_connection)
        .service(idp::approve_connection)
        .service(idp::delete_connection);
}

/// The OpenAPI document of everything [`configure`] mounts.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(utoipa_actix_web::scope("/api/v1").configure(configure))
        .split_for_parts();
    doc
}
