//! Workspaces of an org.

use crate::domain::authz::gate;
use crate::domain::{Label, Slug};
use crate::error::AppError;
use crate::service::Acting;
use crate::store::orgs::Org;
use crate::store::workspaces::Workspace;
use crate::store::{self, DbConnection, StoreError, audit};

pub struct NewWorkspace {
    pub slug: String,
    pub name: Option<String>,
}

pub fn create(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    input: NewWorkspace,
) -> Result<Workspace, AppError> {
    a.require(gate::SETTINGS_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let slug = Slug::parse("slug", &input.slug)?;
    let name = Label::parse("name", input.name.as_deref().unwrap_or(slug.as_str()))?;
    let ws = store::workspaces::insert(conn, &org.id, slug.as_str(), name.as_str(), ctx.now)
        .map_err(|e| match e {
            StoreError::Unique(_) => AppError::Conflict {
                code: "already_exists",
                message: format!("workspace `{slug}` already exists in `{}`", org.slug),
            },
            other => other.into(),
        })?;
    // The compiled policy carries the workspace list.
    store::orgs::bump_policy_version(conn, &org.id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "workspace.created",
            "workspace",
            Some(ws.id.to_string()),
            None,
            Some(serde_json::json!({"id": ws.id, "slug": ws.slug, "name": ws.name})),
        )],
    )?;
    Ok(ws)
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
