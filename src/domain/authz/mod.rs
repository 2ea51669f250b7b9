//! The permission engine of rollcall (SPEC §2): pure, deterministic and
//! explainable. No I/O happens here — no files, no clock, no database; the
//! presets are compiled into the binary.
//!
//! What lives where:
//! - [`ids`]: identifiers and the validated [`PermissionKey`] /
//!   [`ResourceType`].
//! - [`catalogue`]: permission definitions — scope, kind
//!   (plain, module, override, derived rule) — and the fixed gateway
//!   catalogue.
//! - [`role`]: roles, permission sets, org defaults (records).
//! - [`subject`]: the per-user input ([`Subject`]) and the
//!   question ([`Query`]).
//! - [`policy`]: [`Policy`], the validated and compiled per-org
//!   data.
//! - [`engine`]: [`check`] and friends; its module docs state
//!   the evaluation order and how the spec's open points were resolved.
//! - [`grant`]: granting limits ("nobody grants what they do not
//!   hold"), permission-set editing and attaching.
//! - [`lists`]: what the admin lists show — permission sets found by name
//!   or application among those the viewer may build (seed 002), and who is
//!   on a workspace's RACI selection lists (seed 004).
//! - [`sources`]: where a user's org-level role comes from
//!   (admin, invite, SCIM groups and roles, SSO claims, default) and what an
//!   SSO-default user's own workspace pick sets.
//! - [`tree`]: the workspace tree (sub-workspaces, depth limit, no cycles).
//! - [`items`]: item types, their fields and roles' limits on them (seed 004).
//! - [`presets`]: the five built-in presets, as embedded TOML.

pub mod catalogue;
pub mod engine;
pub mod grant;
pub mod ids;
pub mod items;
pub mod lists;
pub mod policy;
pub mod presets;
pub mod role;
pub mod sources;
pub mod subject;
pub mod tree;

#[cfg(test)]
mod tests;

pub use catalogue::{
    ACCESS_READER, GATEWAY_PERMISSIONS, Lifts, ModuleAction, PermissionDef, PermissionKind, Rule,
    ScopeKind, gate, gateway_catalogue,
};
pub use engine::{
    CheckError, Decision, Effect, FieldAnswer, Reason, Step, WorkspaceVisibility, check,
    effective_permissions, field_access, is_anonymized, visible_workspaces, workspace_visible,
};
pub use grant::{
    APP_BUILD, GrantError, can_act_for, can_attach_set_to_role, can_edit_set, can_grant_permission,
    can_grant_role, can_grant_set, can_grant_workspaces,
};
pub use ids::{
    BindingId, FieldKey, GroupId, ItemTypeKey, KeyError, MappingId, OverrideId, PermissionKey,
    ResourceId, ResourceType, RoleId, RoleKey, SetId, UserId, WorkspaceId,
};
pub use items::{FieldAccess, FieldDef, ItemRestrictions, ItemType};
pub use lists::{
    SELECTION_LISTS, SelectionList, SetSearch, builds_some_application, find_sets,
    on_selection_list, puts_on_list, role_on_list, roles_on_list,
};
pub use policy::{APPLICATION, Policy, PolicyError};
pub use presets::{Preset, PresetChange, PresetError, plan_sync};
pub use role::{
    DERIVED_KEY_MAX, Grant, OrgDefaults, PermissionSet, Role, SINGLE_HOLDER, VisibilityMode,
    key_from_name,
};
pub use sources::{
    CurrentBinding, GroupMapping, MappedBinding, MappingKind, Refusal, RoleResolution,
    RoleResolutionInput, RolesManagedBy, ScimRole, WorkspaceUpdate, check_admin_role_edit,
    resolve_org_role, workspace_pick,
};
pub use subject::{
    Assignment, Binding, BindingScope, BindingSource, IndividualOverride, Principal, Query,
    ResourceRef, Subject, UserStatus, WorkspaceAccess, WorkspaceList,
};
pub use tree::{MAX_DEPTH, TreeError, WorkspaceTree};
