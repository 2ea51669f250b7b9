//! Wire shapes of the admin API (`/api/v1`), documented in the OpenAPI
//! document. Conversions from store records live here so handlers stay short.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::audit::Actor;
use crate::domain::{OrgSettings, UserSource, UserStatus};
use crate::store::api_keys::ApiKey;
use crate::store::audit::AuditEvent;
use crate::store::orgs::Org;
use crate::store::users::User;
use crate::store::workspaces::Workspace;

fn utc(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Serialize, ToSchema)]
pub struct OrgDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub settings: OrgSettings,
    pub created_at: String,
}

impl From<Org> for OrgDto {
    fn from(o: Org) -> Self {
        OrgDto {
            id: o.id.into_string(),
            slug: o.slug,
            name: o.name,
            settings: o.settings,
            created_at: utc(o.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// URL-safe identifier: lower-case letters, digits, inner hyphens.
    pub slug: String,
    pub name: Option<String>,
    /// Permission preset: analytics (default), workflow-roles,
    /// permission-profiles, permission-sets, workspace-roles.
    pub preset: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Id of the parent workspace, for a sub-workspace.
    pub parent: Option<String>,
    pub created_at: String,
}

impl From<Workspace> for WorkspaceDto {
    fn from(w: Workspace) -> Self {
        WorkspaceDto {
            id: w.id.into_string(),
            slug: w.slug,
            name: w.name,
            parent: w.parent_id.map(|p| p.into_string()),
            created_at: utc(w.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    pub slug: String,
    pub name: Option<String>,
    /// Parent workspace (slug or id): creates a sub-workspace (at most 8
    /// levels). Needs gateway.settings.manage, or workspaces.create_sub in
    /// the parent where the preset defines it; a top-level workspace needs
    /// workspaces.create_top_level where the preset defines it.
    pub parent: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// New parent (slug or id); `null` makes the workspace top-level; absent
    /// keeps it. A move that would make a cycle or exceed 8 levels is a 409.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub parent: Option<Option<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMember {
    /// A workspace role (key or name) the user holds in this workspace,
    /// replacing their other own roles there; absent: only access.
    pub role: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemTypeBody {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// The type's fields; replaces them all. A field a role restricts cannot
    /// be removed while the role names it (409).
    #[serde(default)]
    pub fields: Vec<ItemFieldBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemFieldBody {
    /// `[a-z0-9_]+`, unique within the type.
    pub key: String,
    #[schema(max_length = 200)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    pub id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub status: UserStatus,
    pub source: UserSource,
    /// The SCIM directory that owns the user, if any.
    pub directory_id: Option<String>,
    /// Increases on every change; send it back in `If-Match` to update safely.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto {
            id: u.id.into_string(),
            user_name: u.user_name,
            email: u.email,
            given_name: u.given_name,
            family_name: u.family_name,
            display_name: u.display_name,
            external_id: u.external_id,
            status: u.status,
            source: u.source,
            directory_id: u.directory_id.map(|d| d.into_string()),
            version: u.version,
            created_at: utc(u.created_at),
            updated_at: utc(u.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Defaults to the email address. Unique per org, compared after Unicode
    /// NFKC and case folding; invisible and bidi-control characters are refused.
    #[schema(max_length = 256)]
    pub user_name: Option<String>,
    /// `local@domain.tld`: one `@`, no separators or whitespace.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 256)]
    pub given_name: Option<String>,
    #[schema(max_length = 256)]
    pub family_name: Option<String>,
    #[schema(max_length = 256)]
    pub display_name: Option<String>,
    #[schema(max_length = 256)]
    pub external_id: Option<String>,
    /// Org-level role key (default: the org's default role). Limited to roles
    /// the caller could hold themselves.
    pub role: Option<String>,
    /// Workspace slugs or ids the user is restricted to (default: unrestricted).
    pub workspaces: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[schema(max_length = 256)]
    pub user_name: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 256)]
    pub given_name: Option<String>,
    #[schema(max_length = 256)]
    pub family_name: Option<String>,
    #[schema(max_length = 256)]
    pub display_name: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Case-insensitive substring of userName, email or display name.
    pub q: Option<String>,
    pub status: Option<UserStatus>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventDto {
    pub id: String,
    pub occurred_at: String,
    pub actor: Actor,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

impl From<AuditEvent> for AuditEventDto {
    fn from(e: AuditEvent) -> Self {
        AuditEventDto {
            id: e.id.into_string(),
            occurred_at: utc(e.occurred_at),
            actor: e.actor,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            before: e.before,
            after: e.after,
            request_id: e.request_id,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Actor id (API key id, directory id, user id).
    pub actor: Option<String>,
    /// Target id (user id, group id, …).
    pub target: Option<String>,
    /// Exact action, e.g. `user.created`.
    pub action: Option<String>,
    /// RFC 3339 time; events at or after it.
    pub since: Option<String>,
    /// RFC 3339 time; events before it.
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventDto>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyDto {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub user_id: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        ApiKeyDto {
            id: k.id.into_string(),
            name: k.name,
            role: k.role_key,
            user_id: k.user_id.map(|u| u.into_string()),
            created_at: utc(k.created_at),
            last_used_at: k.last_used_at.map(utc),
            revoked_at: k.revoked_at.map(utc),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// Role the key acts with (default: the preset's owner role).
    pub role: Option<String>,
    /// A personal key: acts as this user (id or userName), with their access.
    pub user: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyDto,
    /// The bearer token. Shown once; only its hash is stored.
    pub token: String,
}

/// Parse an RFC 3339 time from a query parameter.
pub fn parse_time(field: &'static str, s: &str) -> Result<NaiveDateTime, crate::error::AppError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.naive_utc())
        .map_err(|_| {
            crate::error::AppError::bad_request(format!(
                "{field}: `{s}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z"
            ))
        })
}

/// `If-Match` as a user version: `"3"`, `W/"3"` or `3`.
pub fn if_match_version(
    req: &actix_web::HttpRequest,
) -> Result<Option<i64>, crate::error::AppError> {
    let Some(v) = req.headers().get(actix_web::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or_default().trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse().map(Some).map_err(|_| {
        crate::error::AppError::bad_request("If-Match must carry a version such as \"3\"")
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    /// Key of an org-level role.
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWorkspaces {
    /// Workspace slugs or ids; `null` = unrestricted ("all", as the role allows).
    pub workspaces: Option<Vec<String>>,
    /// Home workspace (slug or id): a landing preference, no visibility by itself.
    pub home: Option<String>,
}

/// A scope: nothing (the org), a `workspace`, or a `resource_type` with a `resource_id`.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    pub workspace: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

impl From<ScopeBody> for crate::service::access::ScopeInput {
    fn from(s: ScopeBody) -> Self {
        crate::service::access::ScopeInput {
            workspace: s.workspace,
            resource_type: s.resource_type,
            resource_id: s.resource_id,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBinding {
    /// A workspace- or resource-scoped role.
    pub role: String,
    #[serde(flatten)]
    pub scope: ScopeBody,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

impl From<Effect> for crate::domain::authz::Grant {
    fn from(e: Effect) -> Self {
        match e {
            Effect::Allow => crate::domain::authz::Grant::Allow,
            Effect::Deny => crate::domain::authz::Grant::Deny,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddOverride {
    pub permission: String,
    pub effect: Effect,
    #[serde(flatten)]
    pub scope: ScopeBody,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `[a-z0-9_]+`, unique in the org (create only). Optional: derived
    /// from `name` when absent (accents dropped, lower case, other runs of
    /// characters `_`); a taken key is a 409 naming the existing role.
    pub key: Option<String>,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Copy grants and settings from this role (create only).
    pub clone_from: Option<String>,
    /// `org`, `workspace` or `resource:<type>`.
    pub binds_at: Option<String>,
    /// `yes`, `no` or `optional`.
    #[schema(value_type = Option<String>)]
    pub visibility: Option<crate::domain::authz::VisibilityMode>,
    pub anonymized: Option<bool>,
    /// Permission key → `allow` | `deny`; a missing key is "not granted"
    /// (org-level) or "use default" (module-level). Replaces all grants.
    #[schema(value_type = Option<Object>)]
    pub grants: Option<std::collections::BTreeMap<String, crate::domain::authz::Grant>>,
    /// Permission set ids or names (needs gateway.roles.manage).
    pub permission_sets: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Seed 004: whether a workspace binding of this role also covers the
    /// workspace's sub-workspaces (default true).
    pub inherits_to_children: Option<bool>,
    /// Seed 004: `{"item_types": ["task", …] | null, "fields": {"task":
    /// {"due_date": "hidden" | "read_only" | "writable"}}}` — the item
    /// types the role applies to (null or absent: all) and the fields it
    /// hides or makes read-only. Types and fields must be defined
    /// (PUT …/item-types/{type}). Replaces the role's item limits.
    #[schema(value_type = Option<Object>)]
    pub items: Option<crate::domain::authz::ItemRestrictions>,
}

impl From<RoleBody> for crate::service::roles::RoleInput {
    fn from(b: RoleBody) -> Self {
        crate::service::roles::RoleInput {
            key: b.key,
            name: b.name,
            description: b.description,
            clone_from: b.clone_from,
            binds_at: b.binds_at,
            visibility: b.visibility,
            anonymized: b.anonymized,
            grants: b.grants,
            permission_sets: b.permission_sets,
            attributes: b.attributes,
            inherits_to_children: b.inherits_to_children,
            items: b.items,
        }
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// The application (resource of type `application`) the set is for.
    pub application: Option<String>,
    /// Allowed permissions (steps); replaces the list.
    pub permissions: Option<Vec<String>>,
}

impl From<SetBody> for crate::service::roles::SetInput {
    fn from(b: SetBody) -> Self {
        crate::service::roles::SetInput {
            name: b.name,
            description: b.description,
            application: b.application,
            permissions: b.permissions,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsBody {
    /// Permissions granted to users without a binding in the scope asked about.
    pub allow: Vec<String>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum MappingKindBody {
    ScimGroup,
    SsoClaim,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingBody {
    pub kind: MappingKindBody,
    /// SCIM directory id (scim_group) or SSO connection id (sso_claim).
    pub source: String,
    /// SCIM group id or displayName, or the claim value.
    pub group: String,
    pub role: String,
    #[serde(default)]
    pub workspaces: Vec<String>,
    /// Highest wins when several mappings match.
    #[serde(default)]
    pub priority: i32,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    pub workspace: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CheckItem {
    /// User id or userName.
    pub user: String,
    pub permission: String,
    /// Workspace slug or id.
    pub workspace: Option<String>,
    pub resource: Option<ResourceBody>,
    /// The user's relations to the item: author, manager, responsible,
    /// editor, reader, invited, self, declaring, …
    #[serde(default)]
    pub relations: Vec<String>,
    /// For `roles.assign`-style checks: the role being assigned and whether
    /// someone holds it now (a single-holder role is available only while
    /// nobody does).
    pub assignment: Option<AssignmentBody>,
    /// The item type the check is about (seed 004): roles limited to other
    /// item types grant nothing. Unknown types are a 400.
    pub item_type: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    /// Key (or id) of the role being assigned.
    pub role: String,
    /// Whether someone holds the role on the resource now.
    #[serde(default)]
    pub held: bool,
}

impl From<CheckItem> for crate::service::access::CheckInput {
    fn from(c: CheckItem) -> Self {
        crate::service::access::CheckInput {
            user: c.user,
            permission: c.permission,
            workspace: c.workspace,
            resource: c.resource.map(|r| (r.resource_type, r.id, r.workspace)),
            relations: c.relations,
            assignment: c.assignment.map(|a| (a.role, a.held)),
            item_type: c.item_type,
        }
    }
}

/// One check, or `{"checks": [...]}` for a batch (up to 1000).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CheckBody {
    Batch { checks: Vec<CheckItem> },
    Single(CheckItem),
}

#[derive(Serialize, ToSchema)]
pub struct CheckAnswer {
    pub allowed: bool,
    /// The chain of reasons: which binding, role, set, override, policy or
    /// deny decided.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<crate::domain::authz::Reason>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchAnswer {
    /// In request order; a check that could not be answered carries `error`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<serde_json::Value>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessParams {
    /// Evaluate workspace-scoped permissions in this workspace (slug or id).
    pub workspace: Option<String>,
    /// Answer, per field of this item type, `hidden | read_only | writable`
    /// (seed 004 field restrictions) in `workspace`.
    pub item_type: Option<String>,
}
