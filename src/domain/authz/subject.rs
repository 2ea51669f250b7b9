//! Per-user input of a check: the [`Subject`] (status, bindings, direct
//! permission sets, individual overrides, workspace access) and the
//! [`Query`] (permission, workspace, resource, relations).
//!
//! The caller (the store) assembles a `Subject` from one indexed read:
//! bindings materialised from groups are already in `bindings`, so the engine
//! never resolves group membership itself.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::{
    BindingId, GroupId, ItemTypeKey, OverrideId, PermissionKey, ResourceId, ResourceType, RoleId,
    RoleKey, SetId, UserId, WorkspaceId,
};
use super::role::Grant;

/// Lifecycle status of a user; anything but `Active` denies, first.
pub use crate::domain::user::UserStatus;

/// Who a binding was made for. Group bindings reach the engine already
/// expanded into the member's list; the principal is kept for explanations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    User(UserId),
    Group(GroupId),
}

/// Where a binding (or an individual override) applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BindingScope {
    /// The whole organisation.
    Org,
    /// One workspace and the resources in it.
    Workspace { workspace: WorkspaceId },
    /// One resource.
    Resource {
        resource_type: ResourceType,
        id: ResourceId,
    },
}

impl BindingScope {
    pub fn workspace(id: impl Into<WorkspaceId>) -> Self {
        Self::Workspace {
            workspace: id.into(),
        }
    }

    pub fn resource(resource_type: ResourceType, id: impl Into<ResourceId>) -> Self {
        Self::Resource {
            resource_type,
            id: id.into(),
        }
    }
}

impl std::fmt::Display for BindingScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Org => f.write_str("the organisation"),
            Self::Workspace { workspace } => write!(f, "workspace {workspace}"),
            Self::Resource { resource_type, id } => write!(f, "{resource_type} {id}"),
        }
    }
}

/// Where a binding came from (SPEC §2 "Where a user's role comes from").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingSource {
    /// A person in the console, API or CLI.
    Admin,
    Invite,
    /// A mapped SCIM group.
    ScimGroup,
    /// The SCIM `roles` attribute.
    ScimRoles,
    /// A mapped group claim or attribute at SSO login.
    SsoClaim,
    /// The org default role (SSO-default, or SCIM with nothing mapped).
    Default,
}

impl BindingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Invite => "invite",
            Self::ScimGroup => "scim_group",
            Self::ScimRoles => "scim_roles",
            Self::SsoClaim => "sso_claim",
            Self::Default => "default",
        }
    }
}

/// A role bound to a subject in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub id: BindingId,
    pub principal: Principal,
    pub role: RoleId,
    pub scope: BindingScope,
    pub source: BindingSource,
}

/// A per-user allow or deny on top of roles (seed 001 "additional
/// policies"), in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndividualOverride {
    pub id: OverrideId,
    pub permission: PermissionKey,
    pub grant: Grant,
    pub scope: BindingScope,
}

/// The admin-assigned workspace list of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "workspaces", rename_all = "snake_case")]
pub enum WorkspaceList {
    /// No restriction assigned. Roles with visibility `optional` see every
    /// workspace; roles with `no` see none through the list (an unrestricted
    /// list is not an assignment).
    #[default]
    All,
    /// Restricted to these workspaces.
    Only(BTreeSet<WorkspaceId>),
}

/// Workspace access of a user: the assigned list plus an optional home
/// workspace (a landing preference; it grants no visibility by itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceAccess {
    #[serde(default)]
    pub list: WorkspaceList,
    #[serde(default)]
    pub home: Option<WorkspaceId>,
}

impl WorkspaceAccess {
    /// Unrestricted.
    pub fn all() -> Self {
        Self::default()
    }

    /// Restricted to the given workspaces.
    pub fn only<I, W>(workspaces: I) -> Self
    where
        I: IntoIterator<Item = W>,
        W: Into<WorkspaceId>,
    {
        Self {
            list: WorkspaceList::Only(workspaces.into_iter().map(Into::into).collect()),
            home: None,
        }
    }

    pub fn with_home(mut self, home: impl Into<WorkspaceId>) -> Self {
        self.home = Some(home.into());
        self
    }
}

/// Everything the engine needs to know about one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub status: UserStatus,
    /// All bindings of the user, including those materialised from groups.
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Permission sets the user was added to directly.
    #[serde(default)]
    pub sets: Vec<SetId>,
    #[serde(default)]
    pub overrides: Vec<IndividualOverride>,
    #[serde(default)]
    pub workspaces: WorkspaceAccess,
}

impl Subject {
    /// An active user with nothing bound and unrestricted workspace access.
    pub fn active() -> Self {
        Self::with_status(UserStatus::Active)
    }

    pub fn with_status(status: UserStatus) -> Self {
        Self {
            status,
            bindings: Vec::new(),
            sets: Vec::new(),
            overrides: Vec::new(),
            workspaces: WorkspaceAccess::all(),
        }
    }

    /// Adds a user binding made by an admin (convenience for tests and
    /// tooling; the store builds `Binding` records directly).
    pub fn bind(mut self, id: &str, role: &str, scope: BindingScope) -> Self {
        self.bindings.push(Binding {
            id: BindingId::new(id),
            principal: Principal::User(UserId::new("self")),
            role: RoleId::new(role),
            scope,
            source: BindingSource::Admin,
        });
        self
    }

    /// Adds an individual override.
    pub fn override_with(
        mut self,
        id: &str,
        permission: PermissionKey,
        grant: Grant,
        scope: BindingScope,
    ) -> Self {
        self.overrides.push(IndividualOverride {
            id: OverrideId::new(id),
            permission,
            grant,
            scope,
        });
        self
    }

    /// Adds a direct permission set.
    pub fn add_set(mut self, set: &str) -> Self {
        self.sets.push(SetId::new(set));
        self
    }

    pub fn with_workspaces(mut self, access: WorkspaceAccess) -> Self {
        self.workspaces = access;
        self
    }
}

/// A resource named in a query; it may say which workspace it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    pub resource_type: ResourceType,
    pub id: ResourceId,
    #[serde(default)]
    pub workspace: Option<WorkspaceId>,
}

/// "May this user do `permission` here?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub permission: PermissionKey,
    #[serde(default)]
    pub workspace: Option<WorkspaceId>,
    #[serde(default)]
    pub resource: Option<ResourceRef>,
    /// The caller's relations to the resource or context (`author`,
    /// `invited`, `self`, `declaring`, …).
    #[serde(default)]
    pub relations: BTreeSet<String>,
    /// The role a `roles.assign`-style question is about, and whether
    /// someone holds it now (seed 000: assigning oneself a role is allowed
    /// "if it is available"); read by the rule atom `role_available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
    /// The item type the question is about (seed 004 "access to item
    /// types"): roles limited to other types grant nothing here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<ItemTypeKey>,
}

/// The role being assigned, as the caller (the product) knows it: which
/// role, and whether it is currently held by someone on that resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Key (or id) of the role being assigned.
    pub role: RoleKey,
    /// Someone holds the role on the resource right now.
    #[serde(default)]
    pub held: bool,
}

impl Query {
    pub fn new(permission: PermissionKey) -> Self {
        Self {
            permission,
            workspace: None,
            resource: None,
            relations: BTreeSet::new(),
            assignment: None,
            item_type: None,
        }
    }

    /// Parses the key; panics on a malformed key, so only for literals in
    /// tests and tooling. Use [`Query::new`] with a parsed key otherwise.
    pub fn of(key: &str) -> Self {
        Self::new(PermissionKey::parse(key).expect("well-formed permission key literal"))
    }

    /// About items of this type.
    pub fn of_item_type(mut self, item_type: impl Into<ItemTypeKey>) -> Self {
        self.item_type = Some(item_type.into());
        self
    }

    pub fn in_workspace(mut self, workspace: impl Into<WorkspaceId>) -> Self {
        self.workspace = Some(workspace.into());
        self
    }

    pub fn on(mut self, resource_type: ResourceType, id: impl Into<ResourceId>) -> Self {
        self.resource = Some(ResourceRef {
            resource_type,
            id: id.into(),
            workspace: None,
        });
        self
    }

    /// A resource that lives in a workspace (its workspace is then subject
    /// to visibility, and workspace-scoped bindings there cover it).
    pub fn on_in(
        mut self,
        resource_type: ResourceType,
        id: impl Into<ResourceId>,
        workspace: impl Into<WorkspaceId>,
    ) -> Self {
        self.resource = Some(ResourceRef {
            resource_type,
            id: id.into(),
            workspace: Some(workspace.into()),
        });
        self
    }

    /// The question is about assigning `role`, currently held or not.
    pub fn assigning(mut self, role: &str, held: bool) -> Self {
        self.assignment = Some(Assignment {
            role: RoleKey::new(role),
            held,
        });
        self
    }

    pub fn with_relation(mut self, relation: &str) -> Self {
        self.relations.insert(relation.to_owned());
        self
    }
}
