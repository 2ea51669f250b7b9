//! SCIM directories and their bearer tokens (several active at once for
//! rotation, revocable; hashed at rest, shown once).

use secrecy::SecretString;

use crate::auth::token;
use crate::domain::{DirectoryId, Label};
use crate::error::AppError;
use crate::service::Acting;
use crate::store::directories::Directory;
use crate::store::orgs::Org;
use crate::store::scim::ScimToken;
use crate::store::{self, DbConnection, StoreError, audit};

pub const TOKEN_PREFIX: &str = "rs";

/// The SCIM base path of a directory.
pub fn base_path(d: &Directory) -> String {
    format!("/scim/v2/{}", d.id)
}

pub fn view(d: &Directory) -> serde_json::Value {
    serde_json::json!({"id": d.id, "name": d.name, "scim_base_path": base_path(d), "created_at": d.created_at})
}

pub fn token_view(t: &ScimToken) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "directory_id": t.directory_id,
        "name": t.name,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    })
}

/// A directory of the org by id or name; unknown is a 404 naming it.
pub fn resolve(conn: &mut DbConnection, org: &Org, key: &str) -> Result<Directory, AppError> {
    store::directories::get(conn, &org.id, key).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("SCIM directory", key),
        other => other.into(),
    })
}

/// Create a directory and its first token (returned once).
pub fn create(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    name: &str,
) -> Result<(Directory, ScimToken, SecretString), AppError> {
    let name = Label::parse("name", name)?;
    let d =
        store::directories::insert(conn, &a.org.id, name.as_str(), a.ctx.now).map_err(
            |e| match e {
                StoreError::Unique(_) => AppError::Conflict {
                    code: "already_exists",
                    message: format!("a SCIM directory named `{}` already exists", name.as_str()),
                },
                other => other.into(),
            },
        )?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "scim_directory.created",
            "scim_directory",
            Some(d.id.to_string()),
            None,
            Some(view(&d)),
        )],
    )?;
    let (t, secret) = create_token(conn, a, &d, "initial")?;
    Ok((d, t, secret))
}

pub fn create_token(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    d: &Directory,
    name: &str,
) -> Result<(ScimToken, SecretString), AppError> {
    let name = Label::parse("name", name)?;
    let issued = token::issue(TOKEN_PREFIX);
    let t = store::scim::insert_token(
        conn,
        &issued.id.hyphenated().to_string(),
        &d.id,
        name.as_str(),
        &issued.hash,
        a.ctx.now,
    )?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "scim_token.created",
            "scim_token",
            Some(t.id.clone()),
            None,
            Some(token_view(&t)),
        )],
    )?;
    Ok((t, issued.token))
}

/// Revoke a token of one of the org's directories.
pub fn revoke_token(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
) -> Result<ScimToken, AppError> {
    let not_found = || AppError::not_found("SCIM token", id);
    let before = store::scim::get_token(conn, id).map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    let dir: DirectoryId = before.directory_id.parse().map_err(|_| not_found())?;
    if store::directories::get(conn, &a.org.id, dir.as_str()).is_err() {
        return Err(not_found());
    }
    let after = store::scim::revoke_token(conn, id, a.ctx.now)?;
    if before.revoked_at.is_none() {
        audit::insert(
            conn,
            &[a.ctx.event(
                Some(&a.org.id),
                "scim_token.revoked",
                "scim_token",
                Some(after.id.clone()),
                Some(token_view(&before)),
                Some(token_view(&after)),
            )],
        )?;
    }
    Ok(after)
}
