//! The evaluator: [`check`], [`effective_permissions`],
//! [`visible_workspaces`] and [`is_anonymized`], with the explainable
//! [`Decision`] / [`Reason`] they return.
//!
//! # Evaluation order (SPEC §2)
//!
//! 0. Input validation: an unknown permission or missing/mismatched context
//!    is a [`CheckError`], never a silent deny.
//! 1. **Status** — anything but `active` denies, whatever else holds.
//!    Then **workspace visibility** when the query names a workspace (directly
//!    or through its resource): a hidden workspace denies.
//! 2. **Individual deny at org scope** — the user's own deny of an
//!    org-level permission (catalogue scope `org`, not a module policy),
//!    scoped to the org (seed 001 "additional policies", organization-level
//!    Deny). Nothing lifts it: no override, no role, no allow. It also stops
//!    a module-policy override from lifting a module whose use-default
//!    falls through to that permission.
//! 3. **Scoped overrides** held in a scope covering the query. Seed 000's
//!    "no restrictions" (`lifts = "all"`) lifts every restriction on the
//!    permissions of its own scope, within the resource it is bound to;
//!    seed 001's "manage any incident" (`lifts = "module_policies"`) lifts
//!    module-level policies — the role's and the user's individual ones
//!    alike — and "manage an incident if invited" does so only where the
//!    caller holds the `invited` relation. An override held through a
//!    binding whose role denies the module's org-level default (or through
//!    an individual org-scope deny of it) does not lift that module: the
//!    reason is a note naming the blocking deny.
//! 4. **Other individual denies** — module-level, or scoped to a workspace
//!    or a resource — unless an override of step 3 covers them (the
//!    decision then carries a note naming the deny that yielded); then
//!    **individual allows**.
//! 5. **Role and permission-set grants** of every binding covering the query:
//!    a deny beats an allow; a module policy left at use-default falls
//!    through to the org-level answer for its `default_from`: the user's
//!    individual override of it if there is one, else the same role's grant.
//!    Derived permissions are decided by their rule at this step (its
//!    `granted` atom reads steps 5–6 of the permission itself).
//! 6. **Org defaults**, only when the user holds no binding at exactly the
//!    scope the query is evaluated in.
//! 7. Otherwise deny.
//!
//! ## Individual denies and overrides (seed 001)
//!
//! "Module level permissions do not apply to users who have a Manage any
//! incident or Manage an incident if invited permissions": that covers the
//! user's individual module-level policies as much as the role's, so an
//! individual module-level deny (or any individual deny scoped to a
//! workspace or resource) yields to an override that covers it. What an
//! admin denies a user at organisation level still wins over everything,
//! overrides included. An individual deny of the override permission itself
//! switches the override off (the override is then not held).
//!
//! ## Scopes
//!
//! Every query is evaluated *at* one scope, derived from the permission's
//! catalogue scope and the query context: `org` permissions at the org;
//! `workspace` permissions in the query's workspace; `resource:<t>`
//! permissions on the query's resource. A binding or individual override
//! applies when its scope covers that point (the org covers everything, a
//! workspace covers itself and resources that say they live in it, a
//! resource covers itself). Consequently **a workspace-scoped permission
//! asked without a workspace is evaluated at the org: only org-scoped
//! bindings and overrides count** — the answer to "may they do this
//! org-wide", not "somewhere".

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::catalogue::{Lifts, ScopeKind};
use super::ids::{
    BindingId, FieldKey, ItemTypeKey, OverrideId, PermissionKey, ResourceType, RoleKey, SetId,
    WorkspaceId,
};
use super::items::FieldAccess;
use super::policy::{APPLICATION, CompiledKind, CompiledRule, PermIdx, Policy};
use super::role::{Grant, Role, VisibilityMode};
use super::subject::{
    Binding, BindingScope, IndividualOverride, Principal, Query, ResourceRef, Subject, UserStatus,
    WorkspaceList,
};

/// The evaluation step a [`Reason`] comes from, in evaluation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Status,
    Visibility,
    IndividualDeny,
    Override,
    IndividualAllow,
    Role,
    ModulePolicy,
    PermissionSet,
    Rule,
    Default,
    NoGrant,
}

/// What a reason contributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    /// Context that did not decide by itself (e.g. an override that could
    /// not lift an org-level deny).
    Note,
}

/// One link of the explanation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub step: Step,
    pub effect: Effect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<PermissionKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<SetId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual: Option<OverrideId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceId>,
    pub message: String,
}

impl Reason {
    fn new(step: Step, effect: Effect, message: String) -> Self {
        Self {
            step,
            effect,
            permission: None,
            binding: None,
            role: None,
            set: None,
            individual: None,
            workspace: None,
            message,
        }
    }

    fn permission(mut self, key: &PermissionKey) -> Self {
        self.permission = Some(key.clone());
        self
    }
}

/// The answer of a check, with the chain of reasons that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// The reason messages joined into one line (for logs and errors).
    pub fn explain(&self) -> String {
        let verdict = if self.allowed { "allowed" } else { "denied" };
        let mut out = String::from(verdict);
        for reason in &self.reasons {
            out.push_str("; ");
            out.push_str(&reason.message);
        }
        out
    }
}

/// A check that cannot be answered because its input is wrong (a caller or
/// data bug), as opposed to a deny.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckError {
    #[error("permission {0} is not in the org's catalogue")]
    UnknownPermission(PermissionKey),
    #[error("permission {permission} is scoped to a {resource_type} and needs that resource")]
    MissingResource {
        permission: PermissionKey,
        resource_type: ResourceType,
    },
    #[error("permission {permission} applies to a {expected}, but the query names a {found}")]
    ResourceTypeMismatch {
        permission: PermissionKey,
        expected: ResourceType,
        found: ResourceType,
    },
    #[error("the query names workspace {query} but its resource lives in workspace {resource}")]
    WorkspaceMismatch {
        query: WorkspaceId,
        resource: WorkspaceId,
    },
    #[error("binding {binding} refers to role {role}, which does not exist")]
    UnknownRole {
        binding: BindingId,
        role: super::ids::RoleId,
    },
    #[error("item type {0} is not defined in this organization")]
    UnknownItemType(ItemTypeKey),
    #[error("the query assigns role {0}, which does not exist")]
    UnknownAssignedRole(RoleKey),
    #[error("the user is in permission set {0}, which does not exist")]
    UnknownSet(SetId),
    #[error("individual override {individual} names permission {permission}, which does not exist")]
    UnknownOverridePermission {
        individual: OverrideId,
        permission: PermissionKey,
    },
}

/// Answers "may this user do this here?".
///
/// Errors are reserved for wrong input: an unknown permission, a missing or
/// mismatched resource/workspace, or a subject that refers to a role, set
/// or permission the policy does not have (a store inconsistency). When a
/// subject has several dangling references, which one is reported follows
/// the subject's list order; every *decision* is order-independent.
pub fn check(policy: &Policy, subject: &Subject, query: &Query) -> Result<Decision, CheckError> {
    let p = policy
        .index_of(query.permission.as_str())
        .ok_or_else(|| CheckError::UnknownPermission(query.permission.clone()))?;
    let (workspace, resource) = query_context(policy, p, query)?;
    let assigned = match &query.assignment {
        Some(a) => Some((
            policy
                .role_by_key(a.role.as_str())
                .or_else(|| policy.role(a.role.as_str()))
                .ok_or_else(|| CheckError::UnknownAssignedRole(a.role.clone()))?,
            a.held,
        )),
        None => None,
    };
    if let Some(t) = &query.item_type
        && policy.item_type(t.as_str()).is_none()
    {
        return Err(CheckError::UnknownItemType(t.clone()));
    }
    if subject.status != UserStatus::Active {
        return Ok(status_denial(subject.status));
    }
    let mut ctx = Ctx::resolve(policy, subject, &query.relations, workspace, resource)?;
    ctx.assigned = assigned;
    ctx.item_type = query.item_type.as_ref();
    Ok(ctx.decide(p))
}

/// Every org- and workspace-scoped permission of the catalogue, in catalogue
/// order, decided for `workspace` (or org-wide without one). Resource-scoped
/// permissions need a resource and are left out.
pub fn effective_permissions(
    policy: &Policy,
    subject: &Subject,
    workspace: Option<&WorkspaceId>,
) -> Result<Vec<(PermissionKey, Decision)>, CheckError> {
    let mut out = Vec::new();
    for def in policy.catalogue() {
        if matches!(def.scope, ScopeKind::Resource(_)) {
            continue;
        }
        let mut query = Query::new(def.key.clone());
        query.workspace = workspace.cloned();
        out.push((def.key.clone(), check(policy, subject, &query)?));
    }
    Ok(out)
}

/// Whether the user sees `workspace`, with the reason (step 1 of every
/// workspace question; inactive users see nothing).
pub fn workspace_visible(
    policy: &Policy,
    subject: &Subject,
    workspace: &WorkspaceId,
) -> Result<(bool, Reason), CheckError> {
    if subject.status != UserStatus::Active {
        return Ok((false, status_denial(subject.status).reasons.remove(0)));
    }
    let ctx = Ctx::resolve(policy, subject, &NO_RELATIONS, Some(workspace), None)?;
    Ok(ctx.workspace_visibility(workspace))
}

/// One field's answer in [`field_access`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldAnswer {
    pub field: FieldKey,
    pub access: FieldAccess,
    pub reasons: Vec<Reason>,
}

/// Seed 004 "hiding fields or making them read-only": for every field of
/// `item_type`, what the user may do with it in `workspace` (org-wide
/// without one). The roles that count are those bound in a scope covering
/// the point (sub-workspace inheritance included), applying to the item
/// type and allowing something below the org (roles that give no item
/// access say nothing about fields); among them the most permissive answer wins, as grants do (a role
/// adds access, it never takes away what another role gives). A hidden
/// workspace, an inactive user or no applicable role hides every field.
/// The product enforces the answer.
pub fn field_access(
    policy: &Policy,
    subject: &Subject,
    workspace: Option<&WorkspaceId>,
    item_type: &ItemTypeKey,
) -> Result<Vec<FieldAnswer>, CheckError> {
    let t = policy
        .item_type(item_type.as_str())
        .ok_or_else(|| CheckError::UnknownItemType(item_type.clone()))?;
    let all_hidden = |reason: Reason| {
        t.fields
            .iter()
            .map(|f| FieldAnswer {
                field: f.key.clone(),
                access: FieldAccess::Hidden,
                reasons: vec![reason.clone()],
            })
            .collect()
    };
    if subject.status != UserStatus::Active {
        let reason = status_denial(subject.status).reasons.remove(0);
        return Ok(all_hidden(reason));
    }
    let mut ctx = Ctx::resolve(policy, subject, &NO_RELATIONS, workspace, None)?;
    ctx.item_type = Some(item_type);
    let at = workspace.map_or(At::Org, At::Workspace);
    if let Some(w) = workspace {
        let (visible, reason) = ctx.workspace_visibility(w);
        if !visible {
            return Ok(all_hidden(reason));
        }
    }
    let mut roles: Vec<(u32, &Binding)> = ctx
        .bindings
        .iter()
        .filter(|(role, b)| {
            ctx.binding_covers(*role, b, at)
                && ctx.role_fits_item_type(*role)
                && ctx.role_gives_item_access(*role)
        })
        .copied()
        .collect();
    roles.sort_by(|(ra, a), (rb, b)| (&a.id, ctx.role_key(*ra)).cmp(&(&b.id, ctx.role_key(*rb))));
    if roles.is_empty() {
        let mut reasons = vec![Reason::new(
            Step::NoGrant,
            Effect::Deny,
            format!("no role of the user in {at} applies to item type {item_type}"),
        )];
        ctx.note_item_type_limits(at, &mut reasons);
        return Ok(t
            .fields
            .iter()
            .map(|f| FieldAnswer {
                field: f.key.clone(),
                access: FieldAccess::Hidden,
                reasons: reasons.clone(),
            })
            .collect());
    }
    Ok(t
        .fields
        .iter()
        .map(|f| {
            let (role, binding, access) = roles
                .iter()
                .map(|&(role, b)| {
                    let record = &policy.roles[role as usize].record;
                    (role, b, record.items.field(item_type, &f.key))
                })
                .max_by_key(|(_, _, access)| *access)
                .expect("at least one role applies");
            let record = &policy.roles[role as usize].record;
            let message = match access {
                FieldAccess::Writable => format!(
                    "role {} (binding {}) leaves field {} of {item_type} writable in {at}",
                    record.key, binding.id, f.key
                ),
                restricted => format!(
                    "role {} (binding {}) makes field {} of {item_type} {} in {at}, and no other role of the user gives more",
                    record.key,
                    binding.id,
                    f.key,
                    restricted.as_str()
                ),
            };
            let effect = if access == FieldAccess::Hidden {
                Effect::Deny
            } else {
                Effect::Allow
            };
            let mut reason = Reason::new(Step::Role, effect, message);
            reason.binding = Some(binding.id.clone());
            reason.role = Some(record.key.clone());
            reason.workspace = workspace.cloned();
            FieldAnswer {
                field: f.key.clone(),
                access,
                reasons: vec![reason],
            }
        })
        .collect())
}

/// Which workspaces a user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceVisibility {
    /// The user sees every workspace, including ones created later.
    pub all: bool,
    /// The visible workspaces among those passed in, in that order.
    pub workspaces: Vec<WorkspaceId>,
    /// The user's home workspace, when it is visible.
    pub home: Option<WorkspaceId>,
    pub reason: Reason,
}

/// Filters the org's workspaces (`all`) down to those the user sees.
pub fn visible_workspaces(
    policy: &Policy,
    subject: &Subject,
    all: &[WorkspaceId],
) -> Result<WorkspaceVisibility, CheckError> {
    if subject.status != UserStatus::Active {
        let mut denial = status_denial(subject.status);
        return Ok(WorkspaceVisibility {
            all: false,
            workspaces: Vec::new(),
            home: None,
            reason: denial.reasons.remove(0),
        });
    }
    let ctx = Ctx::resolve(policy, subject, &NO_RELATIONS, None, None)?;
    let org = ctx.org_visibility();
    let mode = org.map_or(VisibilityMode::No, |o| o.mode);
    let unrestricted = match mode {
        VisibilityMode::Yes => true,
        VisibilityMode::Optional => subject.workspaces.list == WorkspaceList::All,
        VisibilityMode::No => false,
    };
    let workspaces: Vec<WorkspaceId> = if unrestricted {
        all.to_vec()
    } else {
        all.iter()
            .filter(|w| ctx.assigned(w) || ctx.workspace_binding(w).is_some())
            .cloned()
            .collect()
    };
    let home = subject
        .workspaces
        .home
        .as_ref()
        .filter(|h| unrestricted || workspaces.contains(h))
        .cloned();
    let holder = match org {
        Some(o) => format!(
            "role {} (binding {}, visibility {})",
            ctx.role_key(o.role),
            o.binding.id,
            mode_name(mode)
        ),
        None => "no org-level role".to_owned(),
    };
    let message = if unrestricted {
        format!("{holder}: sees all workspaces")
    } else {
        format!(
            "{holder}: sees only assigned workspaces and those with a workspace binding ({} of {})",
            workspaces.len(),
            all.len()
        )
    };
    let mut reason = Reason::new(Step::Visibility, Effect::Note, message);
    if let Some(o) = org {
        reason.binding = Some(o.binding.id.clone());
        reason.role = Some(ctx.role_key(o.role).clone());
    }
    Ok(WorkspaceVisibility {
        all: unrestricted,
        workspaces,
        home,
        reason,
    })
}

/// Whether the user's access answer carries the "anonymized" flag (seed
/// 003): they hold at least one org-level role and every org-level role they
/// hold is an "Anonymized Data" variant. (Grants union across roles, so one
/// non-anonymized role lifts it, as it would lift a missing grant.)
pub fn is_anonymized(policy: &Policy, subject: &Subject) -> Result<bool, CheckError> {
    let ctx = Ctx::resolve(policy, subject, &NO_RELATIONS, None, None)?;
    let mut org_roles = ctx
        .bindings
        .iter()
        .filter(|(_, b)| b.scope == BindingScope::Org)
        .peekable();
    if org_roles.peek().is_none() {
        return Ok(false);
    }
    Ok(org_roles.all(|(role, _)| policy.roles[*role as usize].record.anonymized))
}

/// Decides `p` as if asked at `scope` with no relations: the basis of the
/// granting limits ("does the granter hold this there?").
pub(crate) fn holds_at(
    policy: &Policy,
    subject: &Subject,
    p: &PermissionKey,
    scope: &BindingScope,
) -> Result<Decision, CheckError> {
    let idx = policy
        .index_of(p.as_str())
        .ok_or_else(|| CheckError::UnknownPermission(p.clone()))?;
    if subject.status != UserStatus::Active {
        return Ok(status_denial(subject.status));
    }
    let resource;
    let (workspace, resource) = match scope {
        BindingScope::Org => (None, None),
        BindingScope::Workspace { workspace } => (Some(workspace), None),
        BindingScope::Resource { resource_type, id } => {
            resource = ResourceRef {
                resource_type: resource_type.clone(),
                id: id.clone(),
                workspace: None,
            };
            (None, Some(&resource))
        }
    };
    let mut ctx = Ctx::resolve(policy, subject, &NO_RELATIONS, workspace, resource)?;
    ctx.granting = true;
    Ok(ctx.decide(idx))
}

/// The most permissive workspace visibility among the user's org-level
/// roles (`no` for inactive users and users without one).
pub(crate) fn org_visibility_mode(
    policy: &Policy,
    subject: &Subject,
) -> Result<VisibilityMode, CheckError> {
    if subject.status != UserStatus::Active {
        return Ok(VisibilityMode::No);
    }
    let ctx = Ctx::resolve(policy, subject, &NO_RELATIONS, None, None)?;
    Ok(ctx.org_visibility().map_or(VisibilityMode::No, |o| o.mode))
}

static NO_RELATIONS: BTreeSet<String> = BTreeSet::new();

fn status_denial(status: UserStatus) -> Decision {
    Decision {
        allowed: false,
        reasons: vec![Reason::new(
            Step::Status,
            Effect::Deny,
            format!(
                "the user is {}; only active users are authorised",
                status.as_str()
            ),
        )],
    }
}

fn mode_name(mode: VisibilityMode) -> &'static str {
    match mode {
        VisibilityMode::Yes => "yes",
        VisibilityMode::No => "no",
        VisibilityMode::Optional => "optional",
    }
}

fn query_context<'q>(
    policy: &Policy,
    p: PermIdx,
    query: &'q Query,
) -> Result<(Option<&'q WorkspaceId>, Option<&'q ResourceRef>), CheckError> {
    let def = &policy.perm(p).def;
    if let ScopeKind::Resource(expected) = &def.scope {
        match &query.resource {
            None => {
                return Err(CheckError::MissingResource {
                    permission: def.key.clone(),
                    resource_type: expected.clone(),
                });
            }
            Some(r) if r.resource_type != *expected => {
                return Err(CheckError::ResourceTypeMismatch {
                    permission: def.key.clone(),
                    expected: expected.clone(),
                    found: r.resource_type.clone(),
                });
            }
            Some(_) => {}
        }
    }
    let resource_workspace = query.resource.as_ref().and_then(|r| r.workspace.as_ref());
    let workspace = match (query.workspace.as_ref(), resource_workspace) {
        (Some(q), Some(r)) if q != r => {
            return Err(CheckError::WorkspaceMismatch {
                query: q.clone(),
                resource: r.clone(),
            });
        }
        (Some(q), _) => Some(q),
        (None, r) => r,
    };
    Ok((workspace, query.resource.as_ref()))
}

/// The point a permission is evaluated at.
#[derive(Debug, Clone, Copy)]
enum At<'a> {
    Org,
    Workspace(&'a WorkspaceId),
    Resource(&'a ResourceRef),
}

impl<'a> At<'a> {
    /// Whether an individual override with `scope` applies here (bindings go
    /// through [`Ctx::binding_covers`], which adds sub-workspace inheritance).
    fn covered_by(self, scope: &BindingScope) -> bool {
        match (scope, self) {
            (BindingScope::Org, _) => true,
            (BindingScope::Workspace { workspace }, At::Workspace(w)) => workspace == w,
            (BindingScope::Workspace { workspace }, At::Resource(r)) => {
                r.workspace.as_ref() == Some(workspace)
            }
            (BindingScope::Resource { resource_type, id }, At::Resource(r)) => {
                r.resource_type == *resource_type && r.id == *id
            }
            _ => false,
        }
    }

    /// The workspace this point lies in, if any.
    fn workspace(self) -> Option<&'a WorkspaceId> {
        match self {
            At::Org => None,
            At::Workspace(w) => Some(w),
            At::Resource(r) => r.workspace.as_ref(),
        }
    }

    /// Whether `scope` is exactly this point (org defaults step).
    fn is_exactly(self, scope: &BindingScope) -> bool {
        match (scope, self) {
            (BindingScope::Org, At::Org) => true,
            (BindingScope::Workspace { workspace }, At::Workspace(w)) => workspace == w,
            (BindingScope::Resource { resource_type, id }, At::Resource(r)) => {
                r.resource_type == *resource_type && r.id == *id
            }
            _ => false,
        }
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Org => f.write_str("the organisation"),
            At::Workspace(w) => write!(f, "workspace {w}"),
            At::Resource(r) => write!(f, "{} {}", r.resource_type, r.id),
        }
    }
}

/// How a role cell answered for a permission.
#[derive(Debug, Clone, Copy)]
enum Via<'a> {
    Grant,
    ModulePolicy,
    /// Use-default, answered by the role's grant of `default_from`.
    DefaultFrom(PermIdx),
    /// Use-default, answered by the user's individual override of
    /// `default_from` (it takes precedence over the role's grant, as
    /// individual policies do everywhere).
    DefaultFromIndividual(PermIdx, &'a IndividualOverride),
}

/// Something that allowed or denied; ordered deterministically so that the
/// answer and its reasons never depend on the order of the subject's lists.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Role {
        binding: &'a Binding,
        role: u32,
        via: Via<'a>,
    },
    RoleSet {
        binding: &'a Binding,
        role: u32,
        set: u32,
    },
    DirectSet {
        set: u32,
    },
    Individual(&'a IndividualOverride),
    Default,
}

#[derive(Default)]
struct Answer<'a> {
    allow: Option<Source<'a>>,
    deny: Option<Source<'a>>,
}

#[derive(Clone, Copy)]
struct OrgVisibility<'a> {
    mode: VisibilityMode,
    binding: &'a Binding,
    role: u32,
}

/// A subject resolved against a policy for one query.
struct Ctx<'a> {
    policy: &'a Policy,
    subject: &'a Subject,
    bindings: Vec<(u32, &'a Binding)>,
    overrides: Vec<(PermIdx, &'a IndividualOverride)>,
    sets: Vec<u32>,
    relations: &'a BTreeSet<String>,
    /// Evaluating for the granting limits ("may they hand this out?").
    granting: bool,
    /// The role the query assigns and whether it is held now.
    assigned: Option<(&'a Role, bool)>,
    /// The item type the query is about.
    item_type: Option<&'a ItemTypeKey>,
    workspace: Option<&'a WorkspaceId>,
    resource: Option<&'a ResourceRef>,
}

impl<'a> Ctx<'a> {
    fn resolve(
        policy: &'a Policy,
        subject: &'a Subject,
        relations: &'a BTreeSet<String>,
        workspace: Option<&'a WorkspaceId>,
        resource: Option<&'a ResourceRef>,
    ) -> Result<Self, CheckError> {
        let mut bindings = Vec::with_capacity(subject.bindings.len());
        for binding in &subject.bindings {
            let role = policy
                .role_index
                .get(binding.role.as_str())
                .ok_or_else(|| CheckError::UnknownRole {
                    binding: binding.id.clone(),
                    role: binding.role.clone(),
                })?;
            bindings.push((*role, binding));
        }
        let mut overrides = Vec::with_capacity(subject.overrides.len());
        for individual in &subject.overrides {
            let p = policy
                .index_of(individual.permission.as_str())
                .ok_or_else(|| CheckError::UnknownOverridePermission {
                    individual: individual.id.clone(),
                    permission: individual.permission.clone(),
                })?;
            overrides.push((p, individual));
        }
        let mut sets = Vec::with_capacity(subject.sets.len());
        for set in &subject.sets {
            let idx = policy
                .set_index
                .get(set.as_str())
                .ok_or_else(|| CheckError::UnknownSet(set.clone()))?;
            sets.push(*idx);
        }
        Ok(Self {
            policy,
            subject,
            bindings,
            overrides,
            sets,
            relations,
            granting: false,
            assigned: None,
            item_type: None,
            workspace,
            resource,
        })
    }

    fn role_key(&self, role: u32) -> &'a RoleKey {
        &self.policy.roles[role as usize].record.key
    }

    fn key(&self, p: PermIdx) -> &'a PermissionKey {
        self.policy.key(p)
    }

    /// Visibility, then the permission.
    fn decide(&self, p: PermIdx) -> Decision {
        let mut reasons = Vec::with_capacity(2);
        if let Some(workspace) = self.workspace {
            let (visible, reason) = self.workspace_visibility(workspace);
            reasons.push(reason);
            if !visible {
                return Decision {
                    allowed: false,
                    reasons,
                };
            }
        }
        let at = self.at_for(p);
        let allowed = self.eval(p, at, &mut reasons);
        if !allowed {
            self.note_item_type_limits(at, &mut reasons);
        }
        Decision { allowed, reasons }
    }

    /// Why roles covering `at` did not count for the query's item type.
    fn note_item_type_limits(&self, at: At<'a>, out: &mut Vec<Reason>) {
        let Some(t) = self.item_type else { return };
        for &(role, binding) in &self.bindings {
            let record = &self.policy.roles[role as usize].record;
            if self.binding_covers(role, binding, at) && !record.items.allows_type(t) {
                let allowed: Vec<&str> = record
                    .items
                    .item_types
                    .iter()
                    .flatten()
                    .map(ItemTypeKey::as_str)
                    .collect();
                let mut reason = Reason::new(
                    Step::Role,
                    Effect::Note,
                    format!(
                        "role {} (binding {}) is limited to item types [{}]; {t} is not among them, so it grants nothing on this item",
                        record.key,
                        binding.id,
                        allowed.join(", ")
                    ),
                );
                reason.binding = Some(binding.id.clone());
                reason.role = Some(record.key.clone());
                out.push(reason);
            }
        }
    }

    // ---- bindings and the workspace tree --------------------------------

    /// Whether `binding` (of role `role`) applies at `at`: its scope covers
    /// the point, or — for a workspace binding whose role inherits to
    /// children — the point lies in a sub-workspace of the bound one.
    fn binding_covers(&self, role: u32, binding: &Binding, at: At<'a>) -> bool {
        if at.covered_by(&binding.scope) {
            return true;
        }
        match (&binding.scope, at.workspace()) {
            (BindingScope::Workspace { workspace }, Some(w)) => {
                self.policy.roles[role as usize].record.inherits_to_children
                    && self.policy.tree.is_below(w, workspace)
            }
            _ => false,
        }
    }

    /// Whether `binding` is the user's binding exactly at `at` (an inherited
    /// workspace binding counts in the sub-workspace it reaches).
    fn binding_exactly(&self, role: u32, binding: &Binding, at: At<'a>) -> bool {
        at.is_exactly(&binding.scope)
            || (matches!(at, At::Workspace(_)) && self.binding_covers(role, binding, at))
    }

    /// Whether a role allows anything below the org (a workspace- or
    /// resource-scoped permission): only such roles give access to items,
    /// so only they answer for fields. An org role like "User" that grants
    /// nothing in workspaces leaves the fields to the workspace roles.
    fn role_gives_item_access(&self, role: u32) -> bool {
        let compiled = &self.policy.roles[role as usize];
        compiled.cells.iter().enumerate().any(|(p, cell)| {
            *cell == Some(Grant::Allow)
                && self.policy.perm(p as PermIdx).def.scope != ScopeKind::Org
        })
    }

    /// Whether a role counts for the query's item type.
    fn role_fits_item_type(&self, role: u32) -> bool {
        self.item_type
            .is_none_or(|t| self.policy.roles[role as usize].record.items.allows_type(t))
    }

    fn at_for(&self, p: PermIdx) -> At<'a> {
        match &self.policy.perm(p).def.scope {
            ScopeKind::Org => At::Org,
            ScopeKind::Workspace => self.workspace.map_or(At::Org, At::Workspace),
            ScopeKind::Resource(kind) => match self.resource {
                Some(r) if r.resource_type == *kind => At::Resource(r),
                // Only reachable from the granting limits, where an
                // org-level role is checked org-wide.
                _ => At::Org,
            },
        }
    }

    // ---- workspace visibility -------------------------------------------

    /// The most permissive visibility among org-level roles (ties: lowest
    /// binding id, then role key).
    fn org_visibility(&self) -> Option<OrgVisibility<'a>> {
        let mut best: Option<OrgVisibility<'a>> = None;
        for &(role, binding) in &self.bindings {
            if binding.scope != BindingScope::Org {
                continue;
            }
            let mode = self.policy.roles[role as usize].record.visibility;
            let better = match &best {
                None => true,
                Some(current) => {
                    (std::cmp::Reverse(mode), &binding.id, self.role_key(role))
                        < (
                            std::cmp::Reverse(current.mode),
                            &current.binding.id,
                            self.role_key(current.role),
                        )
                }
            };
            if better {
                best = Some(OrgVisibility {
                    mode,
                    binding,
                    role,
                });
            }
        }
        best
    }

    /// Whether the user's workspace list names `workspace` or one of its
    /// ancestors (a list entry makes the sub-workspaces visible too).
    fn assigned(&self, workspace: &WorkspaceId) -> bool {
        match &self.subject.workspaces.list {
            WorkspaceList::Only(list) => {
                list.contains(workspace)
                    || self
                        .policy
                        .tree
                        .ancestors(workspace)
                        .any(|a| list.contains(a))
            }
            WorkspaceList::All => false,
        }
    }

    /// The user's workspace binding that reaches `workspace` (bound there, or
    /// inherited from an ancestor), lowest binding id first.
    fn workspace_binding(&self, workspace: &WorkspaceId) -> Option<(u32, &'a Binding)> {
        self.bindings
            .iter()
            .filter(|(role, b)| {
                matches!(b.scope, BindingScope::Workspace { .. })
                    && self.binding_covers(*role, b, At::Workspace(workspace))
            })
            .min_by(|(ra, a), (rb, b)| {
                (&a.id, self.role_key(*ra)).cmp(&(&b.id, self.role_key(*rb)))
            })
            .copied()
    }

    fn workspace_visibility(&self, workspace: &WorkspaceId) -> (bool, Reason) {
        let org = self.org_visibility();
        let mode = org.as_ref().map_or(VisibilityMode::No, |o| o.mode);
        let unrestricted_list = self.subject.workspaces.list == WorkspaceList::All;
        let sees_all = org.filter(|o| {
            o.mode == VisibilityMode::Yes
                || (o.mode == VisibilityMode::Optional && unrestricted_list)
        });
        let (visible, binding, role, message) = if let Some(o) = sees_all {
            let message = if mode == VisibilityMode::Yes {
                format!(
                    "workspace {workspace} is visible: role {} (binding {}) sees all workspaces",
                    self.role_key(o.role),
                    o.binding.id
                )
            } else {
                format!(
                    "workspace {workspace} is visible: role {} (binding {}) sees all workspaces until an admin restricts the user, and no restriction is set",
                    self.role_key(o.role),
                    o.binding.id
                )
            };
            (true, Some(o.binding), Some(o.role), message)
        } else if self.assigned(workspace) {
            let message = format!("workspace {workspace} is among the user's assigned workspaces");
            (
                true,
                org.as_ref().map(|o| o.binding),
                org.as_ref().map(|o| o.role),
                message,
            )
        } else if let Some((role, binding)) = self.workspace_binding(workspace) {
            let message = format!(
                "workspace {workspace} is visible: the user holds binding {} (role {}) in it",
                binding.id,
                self.role_key(role)
            );
            (true, Some(binding), Some(role), message)
        } else {
            let holder = match &org {
                Some(o) => format!(
                    "role {} (binding {}) has visibility {}",
                    self.role_key(o.role),
                    o.binding.id,
                    mode_name(mode)
                ),
                None => "the user holds no org-level role".to_owned(),
            };
            let message = format!(
                "workspace {workspace} is hidden: {holder}, and the workspace is neither assigned to the user nor bound"
            );
            (
                false,
                org.as_ref().map(|o| o.binding),
                org.as_ref().map(|o| o.role),
                message,
            )
        };
        let effect = if visible { Effect::Allow } else { Effect::Deny };
        let mut reason = Reason::new(Step::Visibility, effect, message);
        reason.workspace = Some(workspace.clone());
        reason.binding = binding.map(|b| b.id.clone());
        reason.role = role.map(|r| self.role_key(r).clone());
        (visible, reason)
    }

    // ---- permission evaluation ------------------------------------------

    /// Steps 2–7 for permission `p` at `at`; appends the deciding reasons.
    fn eval(&self, p: PermIdx, at: At<'a>, out: &mut Vec<Reason>) -> bool {
        // Step 2: an individual deny at org scope on an org-level permission.
        if let Some(individual) = self.org_scope_deny(p) {
            let mut reason = self.reason(p, at, Source::Individual(individual), Grant::Deny);
            reason.message.push_str(
                " (an individual deny at org scope on an org-level permission: no override lifts it)",
            );
            out.push(reason);
            return false;
        }
        // Step 3: an override covering `p` here.
        if self.lifted_by_override(p, at, out) {
            // Step 4 yields: name the individual deny the override set aside.
            if let Some(individual) = self.individual(p, Grant::Deny, at) {
                let mut reason = Reason::new(
                    Step::IndividualDeny,
                    Effect::Note,
                    format!(
                        "individual override {} denies {} in {}, but it is module-level or scoped to a workspace or resource, and the override above covers it",
                        individual.id,
                        self.key(p),
                        individual.scope
                    ),
                )
                .permission(self.key(p));
                reason.individual = Some(individual.id.clone());
                out.push(reason);
            }
            return true;
        }
        // Step 4: the other individual denies, then individual allows.
        if let Some(individual) = self.individual(p, Grant::Deny, at) {
            out.push(self.reason(p, at, Source::Individual(individual), Grant::Deny));
            return false;
        }
        if self.bound_only(p) {
            return match self.holds(p, at) {
                Some(source) => {
                    out.push(self.reason(p, at, source, Grant::Allow));
                    true
                }
                None => {
                    out.push(
                        Reason::new(
                            Step::NoGrant,
                            Effect::Deny,
                            format!(
                                "{} applies only through a binding on {at} itself, and none grants it (a grant at a wider scope only allows handing it out)",
                                self.key(p)
                            ),
                        )
                        .permission(self.key(p)),
                    );
                    false
                }
            };
        }
        if let Some(individual) = self.individual(p, Grant::Allow, at) {
            out.push(self.reason(p, at, Source::Individual(individual), Grant::Allow));
            return true;
        }
        match &self.policy.perm(p).kind {
            CompiledKind::Derived { rule } => self.eval_derived(p, rule, at, out),
            _ => self.base(p, at, out),
        }
    }

    /// The individual override of the given effect on `p` covering `at`
    /// (lowest id when several do).
    fn individual(&self, p: PermIdx, grant: Grant, at: At<'a>) -> Option<&'a IndividualOverride> {
        self.overrides
            .iter()
            .filter(|(q, o)| *q == p && o.grant == grant && at.covered_by(&o.scope))
            .map(|(_, o)| *o)
            .min_by(|a, b| (&a.id, &a.scope).cmp(&(&b.id, &b.scope)))
    }

    /// Step 2: the user's individual deny of `p` that no override lifts —
    /// `p` is an org-level permission (catalogue scope `org`, not a module
    /// policy) and the deny is scoped to the org (lowest id when several).
    fn org_scope_deny(&self, p: PermIdx) -> Option<&'a IndividualOverride> {
        let perm = self.policy.perm(p);
        if perm.def.scope != ScopeKind::Org || matches!(perm.kind, CompiledKind::Module { .. }) {
            return None;
        }
        self.overrides
            .iter()
            .filter(|(q, o)| *q == p && o.grant == Grant::Deny && o.scope == BindingScope::Org)
            .map(|(_, o)| *o)
            .min_by(|a, b| a.id.cmp(&b.id))
    }

    /// Step 3: is `p` lifted by an override held at `at`?
    fn lifted_by_override(&self, p: PermIdx, at: At<'a>, out: &mut Vec<Reason>) -> bool {
        let perm = self.policy.perm(p);
        for &o in &perm.lifted_by {
            let CompiledKind::Override {
                lifts, relation, ..
            } = &self.policy.perm(o).kind
            else {
                continue;
            };
            if let Some(relation) = relation
                && !self.relations.contains(relation)
            {
                continue;
            }
            let Some(holder) = self.holds(o, at) else {
                continue;
            };
            if *lifts == Lifts::ModulePolicies
                && let CompiledKind::Module { default_from } = perm.kind
                && let Some(blocker) = self.org_level_deny(default_from, at)
            {
                let mut reason = Reason::new(
                    Step::Override,
                    Effect::Note,
                    format!(
                        "override {} ({}) would lift module-level policies for {}, but not the org-level deny of {} ({})",
                        self.key(o),
                        SourceText(self, holder),
                        self.key(p),
                        self.key(default_from),
                        SourceText(self, blocker)
                    ),
                )
                .permission(self.key(o));
                self.tag(&mut reason, blocker);
                out.push(reason);
                continue;
            }
            let what = match lifts {
                Lifts::All => "every restriction",
                Lifts::ModulePolicies => "module-level policies",
            };
            let mut reason = Reason::new(
                Step::Override,
                Effect::Allow,
                format!(
                    "override {} ({}) lifts {what} on {} in {at}",
                    self.key(o),
                    SourceText(self, holder),
                    self.key(p)
                ),
            )
            .permission(self.key(o));
            self.tag(&mut reason, holder);
            out.push(reason);
            return true;
        }
        false
    }

    /// Whether override permission `o` is held at `at`: individual grants,
    /// then roles/sets (deny beats allow), then defaults. Overrides are not
    /// lifted by overrides.
    fn holds(&self, o: PermIdx, at: At<'a>) -> Option<Source<'a>> {
        if self.individual(o, Grant::Deny, at).is_some() {
            return None;
        }
        if self.bound_only(o) {
            // Only a binding or individual allow at exactly `at` gives it.
            if let Some(individual) = self
                .overrides
                .iter()
                .filter(|(q, i)| *q == o && i.grant == Grant::Allow && at.is_exactly(&i.scope))
                .map(|(_, i)| *i)
                .min_by(|a, b| a.id.cmp(&b.id))
            {
                return Some(Source::Individual(individual));
            }
            let answer = self.role_answer_where(o, at, |role, b| self.binding_exactly(role, b, at));
            return if answer.deny.is_some() {
                None
            } else {
                answer.allow
            };
        }
        if let Some(individual) = self.individual(o, Grant::Allow, at) {
            return Some(Source::Individual(individual));
        }
        let answer = self.role_answer(o, at);
        if answer.deny.is_some() {
            return None;
        }
        if answer.allow.is_some() {
            return answer.allow;
        }
        if self.policy.defaults[o as usize] && self.binding_exactly_at(at).is_none() {
            return Some(Source::Default);
        }
        None
    }

    /// An org-level deny of `d` that a module-policy override cannot lift:
    /// an individual deny of `d`, or a deny of `d` in the org-level grants
    /// of a role bound in a scope covering `at`.
    fn org_level_deny(&self, d: PermIdx, at: At<'a>) -> Option<Source<'a>> {
        if let Some(individual) = self.individual(d, Grant::Deny, self.at_for(d)) {
            return Some(Source::Individual(individual));
        }
        let mut found: Option<Source<'a>> = None;
        for &(role, binding) in &self.bindings {
            if self.binding_covers(role, binding, at)
                && self.policy.roles[role as usize].cells[d as usize] == Some(Grant::Deny)
            {
                let candidate = Source::Role {
                    binding,
                    role,
                    via: Via::Grant,
                };
                found = Some(self.min_source(found, candidate));
            }
        }
        found
    }

    /// Whether `o` is a bound-only override evaluated for a check (for the
    /// granting limits it counts wherever it is held).
    fn bound_only(&self, o: PermIdx) -> bool {
        !self.granting
            && matches!(
                self.policy.perm(o).kind,
                CompiledKind::Override {
                    bound_only: true,
                    ..
                }
            )
    }

    /// Step 5 for one permission: what roles and sets say.
    fn role_answer(&self, p: PermIdx, at: At<'a>) -> Answer<'a> {
        self.role_answer_where(p, at, |_, _| true)
    }

    /// [`Self::role_answer`] over the bindings `keep` accepts.
    fn role_answer_where(
        &self,
        p: PermIdx,
        at: At<'a>,
        keep: impl Fn(u32, &Binding) -> bool,
    ) -> Answer<'a> {
        let perm = self.policy.perm(p);
        let set_eligible = matches!(at, At::Resource(r) if r.resource_type.as_str() == APPLICATION)
            && matches!(&perm.def.scope, ScopeKind::Resource(kind) if kind.as_str() == APPLICATION);
        // The user's own org-level answer for a module's default, when an
        // individual override gives one, replaces the role's at use-default.
        let individual_default = match perm.kind {
            CompiledKind::Module { default_from } => {
                let at_d = self.at_for(default_from);
                self.individual(default_from, Grant::Deny, at_d)
                    .or_else(|| self.individual(default_from, Grant::Allow, at_d))
            }
            _ => None,
        };
        let mut answer = Answer::default();
        for &(role_idx, binding) in &self.bindings {
            if !self.binding_covers(role_idx, binding, at)
                || !keep(role_idx, binding)
                || !self.role_fits_item_type(role_idx)
            {
                continue;
            }
            let role = &self.policy.roles[role_idx as usize];
            let (cell, via) = match perm.kind {
                CompiledKind::Module { default_from } => {
                    match (role.cells[p as usize], individual_default) {
                        (Some(grant), _) => (Some(grant), Via::ModulePolicy),
                        (None, Some(individual)) => (
                            Some(individual.grant),
                            Via::DefaultFromIndividual(default_from, individual),
                        ),
                        (None, None) => (
                            role.cells[default_from as usize],
                            Via::DefaultFrom(default_from),
                        ),
                    }
                }
                _ => (role.cells[p as usize], Via::Grant),
            };
            if let Some(grant) = cell {
                let source = Source::Role {
                    binding,
                    role: role_idx,
                    via,
                };
                self.offer(&mut answer, grant, source);
            }
            if set_eligible {
                for &set in &role.sets {
                    if self.set_allows(set, p, at) {
                        let source = Source::RoleSet {
                            binding,
                            role: role_idx,
                            set,
                        };
                        self.offer(&mut answer, Grant::Allow, source);
                    }
                }
            }
        }
        if set_eligible {
            for &set in &self.sets {
                if self.set_allows(set, p, at) {
                    self.offer(&mut answer, Grant::Allow, Source::DirectSet { set });
                }
            }
        }
        answer
    }

    fn set_allows(&self, set: u32, p: PermIdx, at: At<'a>) -> bool {
        let set = &self.policy.sets[set as usize];
        set.allows[p as usize] && matches!(at, At::Resource(r) if r.id == set.record.application)
    }

    fn offer(&self, answer: &mut Answer<'a>, grant: Grant, source: Source<'a>) {
        let slot = match grant {
            Grant::Allow => &mut answer.allow,
            Grant::Deny => &mut answer.deny,
        };
        *slot = Some(self.min_source(*slot, source));
    }

    fn source_rank(&self, source: &Source<'a>) -> (u8, &'a str, &'a str, &'a str) {
        match *source {
            Source::Role { binding, role, .. } => {
                (0, binding.id.as_str(), self.role_key(role).as_str(), "")
            }
            Source::RoleSet { binding, role, set } => (
                1,
                binding.id.as_str(),
                self.role_key(role).as_str(),
                self.policy.sets[set as usize].record.id.as_str(),
            ),
            Source::DirectSet { set } => {
                (2, "", "", self.policy.sets[set as usize].record.id.as_str())
            }
            Source::Individual(o) => (3, o.id.as_str(), "", ""),
            Source::Default => (4, "", "", ""),
        }
    }

    fn min_source(&self, current: Option<Source<'a>>, candidate: Source<'a>) -> Source<'a> {
        match current {
            Some(current) if self.source_rank(&current) <= self.source_rank(&candidate) => current,
            _ => candidate,
        }
    }

    /// A binding whose scope is exactly `at` (lowest id), which switches the
    /// org defaults off there.
    fn binding_exactly_at(&self, at: At<'a>) -> Option<&'a Binding> {
        self.bindings
            .iter()
            .filter(|(role, b)| self.binding_exactly(*role, b, at))
            .map(|(_, b)| *b)
            .min_by(|a, b| a.id.cmp(&b.id))
    }

    /// Steps 5–7 of a permission's own grant.
    fn base(&self, p: PermIdx, at: At<'a>, out: &mut Vec<Reason>) -> bool {
        let answer = self.role_answer(p, at);
        if let Some(deny) = answer.deny {
            out.push(self.reason(p, at, deny, Grant::Deny));
            return false;
        }
        if let Some(allow) = answer.allow {
            out.push(self.reason(p, at, allow, Grant::Allow));
            return true;
        }
        if self.policy.defaults[p as usize] {
            match self.binding_exactly_at(at) {
                None => {
                    out.push(self.reason(p, at, Source::Default, Grant::Allow));
                    return true;
                }
                Some(binding) => {
                    let mut reason = Reason::new(
                        Step::NoGrant,
                        Effect::Deny,
                        format!(
                            "no role grants {}; the org default permissions would, but they apply only to users without a binding in {at}, and the user holds binding {}",
                            self.key(p),
                            binding.id
                        ),
                    )
                    .permission(self.key(p));
                    reason.binding = Some(binding.id.clone());
                    out.push(reason);
                    return false;
                }
            }
        }
        out.push(
            Reason::new(
                Step::NoGrant,
                Effect::Deny,
                format!(
                    "nothing grants {} in {at}: no role, permission set, individual override or default",
                    self.key(p)
                ),
            )
            .permission(self.key(p)),
        );
        false
    }

    fn eval_derived(
        &self,
        p: PermIdx,
        rule: &CompiledRule,
        at: At<'a>,
        out: &mut Vec<Reason>,
    ) -> bool {
        let mut trail = Vec::new();
        let holds = self.rule(p, rule, at, &mut trail);
        let text = match &self.policy.perm(p).def.kind {
            super::catalogue::PermissionKind::Derived { rule } => rule.to_string(),
            _ => String::new(),
        };
        let (effect, message) = if holds {
            (
                Effect::Allow,
                format!("{} is allowed by its rule {text}", self.key(p)),
            )
        } else {
            (
                Effect::Deny,
                format!("{} is denied: its rule {text} does not hold", self.key(p)),
            )
        };
        out.push(Reason::new(Step::Rule, effect, message).permission(self.key(p)));
        if holds {
            out.append(&mut trail);
        } else if rule_reads_availability(rule) {
            let message = match self.assigned {
                None => "the check names no role being assigned (`assignment`), so the role's availability is unknown".to_owned(),
                Some((role, held)) => availability(role, held).1,
            };
            out.push(Reason::new(Step::Rule, Effect::Note, message).permission(self.key(p)));
        }
        holds
    }

    /// Evaluates a rule; on success appends the reasons of the branch that
    /// made it hold (failed branches leave nothing behind).
    fn rule(&self, p: PermIdx, rule: &CompiledRule, at: At<'a>, out: &mut Vec<Reason>) -> bool {
        match rule {
            CompiledRule::Granted => self.keep_if(out, |tmp| self.base(p, at, tmp)),
            CompiledRule::Grant(k) => self.keep_if(out, |tmp| self.eval(*k, self.at_for(*k), tmp)),
            CompiledRule::Relation(name) => self.relation(p, std::slice::from_ref(name), out),
            CompiledRule::AnyRelation(names) => self.relation(p, names, out),
            CompiledRule::RoleAvailable => match self.assigned {
                Some((role, held)) => {
                    let (available, message) = availability(role, held);
                    if available {
                        out.push(
                            Reason::new(Step::Rule, Effect::Allow, message).permission(self.key(p)),
                        );
                    }
                    available
                }
                None => false,
            },
            CompiledRule::All(rules) => {
                self.keep_if(out, |tmp| rules.iter().all(|r| self.rule(p, r, at, tmp)))
            }
            CompiledRule::Any(rules) => rules
                .iter()
                .any(|r| self.keep_if(out, |tmp| self.rule(p, r, at, tmp))),
        }
    }

    fn keep_if(&self, out: &mut Vec<Reason>, f: impl FnOnce(&mut Vec<Reason>) -> bool) -> bool {
        let mut tmp = Vec::new();
        let holds = f(&mut tmp);
        if holds {
            out.append(&mut tmp);
        }
        holds
    }

    fn relation(&self, p: PermIdx, names: &[String], out: &mut Vec<Reason>) -> bool {
        match names.iter().find(|n| self.relations.contains(n.as_str())) {
            Some(name) => {
                out.push(
                    Reason::new(
                        Step::Rule,
                        Effect::Allow,
                        format!("the caller holds the relation `{name}`"),
                    )
                    .permission(self.key(p)),
                );
                true
            }
            None => false,
        }
    }

    // ---- reasons --------------------------------------------------------

    fn tag(&self, reason: &mut Reason, source: Source<'a>) {
        match source {
            Source::Role {
                binding, role, via, ..
            } => {
                reason.binding = Some(binding.id.clone());
                reason.role = Some(self.role_key(role).clone());
                if let Via::DefaultFromIndividual(_, individual) = via {
                    reason.individual = Some(individual.id.clone());
                }
            }
            Source::RoleSet { binding, role, set } => {
                reason.binding = Some(binding.id.clone());
                reason.role = Some(self.role_key(role).clone());
                reason.set = Some(self.policy.sets[set as usize].record.id.clone());
            }
            Source::DirectSet { set } => {
                reason.set = Some(self.policy.sets[set as usize].record.id.clone());
            }
            Source::Individual(o) => reason.individual = Some(o.id.clone()),
            Source::Default => {}
        }
    }

    fn reason(&self, p: PermIdx, at: At<'a>, source: Source<'a>, grant: Grant) -> Reason {
        let (verb, effect) = match grant {
            Grant::Allow => ("allows", Effect::Allow),
            Grant::Deny => ("denies", Effect::Deny),
        };
        let key = self.key(p);
        let (step, message) = match source {
            Source::Role {
                via: Via::Grant, ..
            } => (
                Step::Role,
                format!("{} {verb} {key}", SourceText(self, source)),
            ),
            Source::Role {
                via: Via::ModulePolicy,
                ..
            } => (
                Step::ModulePolicy,
                format!(
                    "{}: module-level policy {verb} {key}",
                    SourceText(self, source)
                ),
            ),
            Source::Role {
                via: Via::DefaultFrom(d),
                ..
            } => (
                Step::ModulePolicy,
                format!(
                    "{}: module-level policy for {key} is use-default, and the role's org-level answer for {} {verb} it",
                    SourceText(self, source),
                    self.key(d)
                ),
            ),
            Source::Role {
                via: Via::DefaultFromIndividual(d, individual),
                ..
            } => (
                Step::ModulePolicy,
                format!(
                    "{}: module-level policy for {key} is use-default, and the user's individual override {} of {} {verb} it",
                    SourceText(self, source),
                    individual.id,
                    self.key(d)
                ),
            ),
            Source::RoleSet { .. } | Source::DirectSet { .. } => (
                Step::PermissionSet,
                format!(
                    "{} {verb} {key} on this application",
                    SourceText(self, source)
                ),
            ),
            Source::Individual(o) => (
                match grant {
                    Grant::Allow => Step::IndividualAllow,
                    Grant::Deny => Step::IndividualDeny,
                },
                format!("individual override {} {verb} {key} in {}", o.id, o.scope),
            ),
            Source::Default => (
                Step::Default,
                format!(
                    "the org default permissions allow {key}, and the user holds no binding in {at}"
                ),
            ),
        };
        let mut reason = Reason::new(step, effect, message).permission(key);
        self.tag(&mut reason, source);
        reason
    }
}

/// Whether `role` is available to be taken, and why (seed 000).
fn availability(role: &Role, held: bool) -> (bool, String) {
    match (role.single_holder(), held) {
        (false, _) => (
            true,
            format!("role {} is available: it is not single-holder", role.key),
        ),
        (true, false) => (
            true,
            format!(
                "role {} is available: it is single-holder and nobody holds it now",
                role.key
            ),
        ),
        (true, true) => (
            false,
            format!(
                "role {} is not available: it is single-holder and someone holds it now",
                role.key
            ),
        ),
    }
}

fn rule_reads_availability(rule: &CompiledRule) -> bool {
    match rule {
        CompiledRule::RoleAvailable => true,
        CompiledRule::All(rules) | CompiledRule::Any(rules) => {
            rules.iter().any(rule_reads_availability)
        }
        _ => false,
    }
}

/// Human description of a [`Source`], written straight into a message.
struct SourceText<'c, 'a>(&'c Ctx<'a>, Source<'a>);

impl fmt::Display for SourceText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = self.0;
        let through = |f: &mut fmt::Formatter<'_>, binding: &Binding| match &binding.principal {
            Principal::Group(group) => write!(f, " through group {group}"),
            Principal::User(_) => Ok(()),
        };
        match self.1 {
            Source::Role { binding, role, .. } => {
                write!(
                    f,
                    "binding {} (role {} in {}",
                    binding.id,
                    ctx.role_key(role),
                    binding.scope
                )?;
                through(f, binding)?;
                f.write_str(")")
            }
            Source::RoleSet { binding, role, set } => {
                let set = &ctx.policy.sets[set as usize].record;
                write!(
                    f,
                    "permission set {} ({}) of application {}, attached to role {} (binding {} in {}",
                    set.name,
                    set.id,
                    set.application,
                    ctx.role_key(role),
                    binding.id,
                    binding.scope
                )?;
                through(f, binding)?;
                f.write_str(")")
            }
            Source::DirectSet { set } => {
                let set = &ctx.policy.sets[set as usize].record;
                write!(
                    f,
                    "permission set {} ({}) of application {}, which the user was added to directly",
                    set.name, set.id, set.application
                )
            }
            Source::Individual(o) => write!(f, "individual override {} in {}", o.id, o.scope),
            Source::Default => f.write_str("the org default permissions"),
        }
    }
}
