//! Workspaces of an org and their tree (seed 004 sub-workspaces).
//!
//! Who creates what:
//! - a **top-level** workspace: holders of `workspaces.create_top_level`
//!   where the org's preset defines it ("top-level workspaces are created
//!   only by users with system administrator rights"), elsewhere holders of
//!   `gateway.settings.manage`;
//! - a **sub-workspace** of P: holders of `gateway.settings.manage`, or —
//!   where the preset defines it — of `workspaces.create_sub` in P (the
//!   workspace admins of P or of an ancestor whose role inherits).
//!
//! Moving a workspace (a new parent) needs the same right at both ends.
//! The tree stays acyclic and at most [`authz::MAX_DEPTH`] deep; writes to
//! it take the org lock so two concurrent moves cannot build a cycle.

use crate::domain::authz::{self, gate};
use crate::domain::{Label, Slug};
use crate::error::AppError;
use crate::service::{Acting, owners};
use crate::store::orgs::Org;
use crate::store::workspaces::Workspace;
use crate::store::{self, DbConnection, StoreError, audit};

/// The preset permission that limits who creates top-level workspaces.
pub const CREATE_TOP_LEVEL: &str = "workspaces.create_top_level";
/// The preset permission to create sub-workspaces, held in the parent.
pub const CREATE_SUB: &str = "workspaces.create_sub";

pub struct NewWorkspace {
    pub slug: String,
    pub name: Option<String>,
    /// Parent workspace (id or slug), for a sub-workspace.
    pub parent: Option<String>,
}

/// A change to a workspace; `None` keeps the field. `parent: Some(None)`
/// makes it top-level.
pub struct WorkspaceChange {
    pub name: Option<String>,
    pub parent: Option<Option<String>>,
}

fn az(id: &crate::domain::WorkspaceId) -> authz::WorkspaceId {
    authz::WorkspaceId::new(id.as_str())
}

fn tree_error(e: authz::TreeError) -> AppError {
    AppError::Conflict {
        code: "invalid_tree",
        message: e.to_string(),
    }
}

/// May the actor create (or move) a workspace under `parent`?
fn may_place(a: &Acting<'_>, parent: Option<&Workspace>) -> Result<(), AppError> {
    match parent {
        Some(p) => a.require_in_workspace(gate::SETTINGS_MANAGE, CREATE_SUB, &az(&p.id)),
        None if a.op.policy.permission(CREATE_TOP_LEVEL).is_some() => a.require(CREATE_TOP_LEVEL),
        None => a.require(gate::SETTINGS_MANAGE),
    }
}

fn view(ws: &Workspace) -> serde_json::Value {
    serde_json::json!({"id": ws.id, "slug": ws.slug, "name": ws.name, "parent": ws.parent_id})
}

pub fn create(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    input: NewWorkspace,
) -> Result<Workspace, AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let parent = match input.parent.as_deref() {
        None => None,
        Some(p) => match a.op.workspace(p) {
            Ok(w) => Some(w.clone()),
            // Nobody learns which workspaces exist without the org-level right.
            Err(not_found) => {
                a.require(gate::SETTINGS_MANAGE)?;
                return Err(not_found);
            }
        },
    };
    may_place(a, parent.as_ref())?;
    let slug = Slug::parse("slug", &input.slug)?;
    let name = Label::parse("name", input.name.as_deref().unwrap_or(slug.as_str()))?;
    if let Some(p) = &parent {
        owners::lock_org(conn, org)?;
        let tree = current_tree(conn, org)?;
        let depth = tree.depth(&az(&p.id)) + 1;
        if depth > authz::MAX_DEPTH {
            return Err(tree_error(authz::TreeError::TooDeep {
                workspace: authz::WorkspaceId::new(slug.as_str()),
                depth,
            }));
        }
    }
    let ws = store::workspaces::insert(
        conn,
        &org.id,
        slug.as_str(),
        name.as_str(),
        parent.as_ref().map(|p| &p.id),
        ctx.now,
    )
    .map_err(|e| match e {
        StoreError::Unique(_) => AppError::Conflict {
            code: "already_exists",
            message: format!("workspace `{slug}` already exists in `{}`", org.slug),
        },
        other => other.into(),
    })?;
    // The compiled policy carries the workspace list and tree.
    store::orgs::bump_policy_version(conn, &org.id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "workspace.created",
            "workspace",
            Some(ws.id.to_string()),
            None,
            Some(view(&ws)),
        )],
    )?;
    Ok(ws)
}

/// Rename a workspace or move it under another parent (or to the top).
pub fn update(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    key: &str,
    change: WorkspaceChange,
) -> Result<Workspace, AppError> {
    let (ctx, org, op) = (a.ctx, a.org, a.op);
    let ws = op.workspace(key)?.clone();
    // Renaming is setting the workspace's parameters: its admins may.
    a.require_in_workspace(
        gate::SETTINGS_MANAGE,
        "workspace.settings.manage",
        &az(&ws.id),
    )?;
    let name = match &change.name {
        Some(n) => Label::parse("name", n)?.into_string(),
        None => ws.name.clone(),
    };
    let parent = match &change.parent {
        None => ws
            .parent_id
            .as_ref()
            .map(|p| op.workspace(p.as_str()).cloned())
            .transpose()?,
        Some(None) => None,
        Some(Some(p)) => Some(op.workspace(p)?.clone()),
    };
    let moved = parent.as_ref().map(|p| &p.id) != ws.parent_id.as_ref();
    if moved {
        // Taking it out of its old place and putting it in the new one.
        let old_parent = ws
            .parent_id
            .as_ref()
            .map(|p| op.workspace(p.as_str()).cloned())
            .transpose()?;
        may_place(a, old_parent.as_ref())?;
        may_place(a, parent.as_ref())?;
        owners::lock_org(conn, org)?;
        current_tree(conn, org)?
            .check_move(&az(&ws.id), parent.as_ref().map(|p| az(&p.id)).as_ref())
            .map_err(tree_error)?;
    }
    store::workspaces::update(conn, &org.id, &ws.id, &name, parent.as_ref().map(|p| &p.id))
        .map_err(|e| match e {
            StoreError::NotFound => AppError::not_found("workspace", key),
            other => other.into(),
        })?;
    let after = Workspace {
        name,
        parent_id: parent.map(|p| p.id),
        ..ws.clone()
    };
    store::orgs::bump_policy_version(conn, &org.id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            if moved {
                "workspace.moved"
            } else {
                "workspace.updated"
            },
            "workspace",
            Some(ws.id.to_string()),
            Some(view(&ws)),
            Some(view(&after)),
        )],
    )?;
    Ok(after)
}

/// The tree as stored now (read under the org lock by writers).
fn current_tree(conn: &mut DbConnection, org: &Org) -> Result<authz::WorkspaceTree, AppError> {
    let all = store::workspaces::list(conn, &org.id)?;
    let pairs: Vec<(authz::WorkspaceId, Option<authz::WorkspaceId>)> = all
        .iter()
        .map(|w| (az(&w.id), w.parent_id.as_ref().map(az)))
        .collect();
    authz::WorkspaceTree::new(pairs.iter().map(|(w, p)| (w, p.as_ref())))
        .map_err(|e| AppError::Internal(format!("stored workspace tree is invalid: {e}")))
}

/// The org's workspaces, for readers of access (from the compiled policy).
pub fn listed<'a>(a: &Acting<'a>) -> Result<&'a [Workspace], AppError> {
    a.require(gate::ACCESS_READ)?;
    Ok(&a.op.workspaces)
}

pub fn list(conn: &mut DbConnection, org: &Org) -> Result<Vec<Workspace>, AppError> {
    Ok(store::workspaces::list(conn, &org.id)?)
}

/// A workspace of the org by id or slug; unknown is a 404 naming it.
pub fn resolve(conn: &mut DbConnection, org: &Org, key: &str) -> Result<Workspace, AppError> {
    store::workspaces::by_ref(conn, &org.id, key).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("workspace", key),
        other => other.into(),
    })
}
