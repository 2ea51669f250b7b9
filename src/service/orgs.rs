//! Organizations: creation (with the permission preset), lookup by slug or id,
//! settings.

use crate::domain::authz::Preset;
use crate::domain::{Label, OrgId, OrgSettings, Slug};
use crate::error::AppError;
use crate::service::Ctx;
use crate::store::orgs::Org;
use crate::store::{self, DbConnection, StoreError, audit};

/// Find an org by slug or id. Unknown is a 404 naming what was asked for.
pub fn resolve(conn: &mut DbConnection, key: &str) -> Result<Org, AppError> {
    let found = match key.parse::<OrgId>() {
        Ok(id) => store::orgs::by_id(conn, &id),
        Err(_) => store::orgs::by_slug(conn, key),
    };
    found.map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("organization", key),
        other => other.into(),
    })
}

/// The org a request acts in, for readers of access.
pub fn get<'a>(a: &crate::service::Acting<'a>) -> Result<&'a Org, AppError> {
    a.require(crate::domain::authz::gate::ACCESS_READ)?;
    Ok(a.org)
}

pub struct NewOrg {
    pub slug: String,
    pub name: Option<String>,
    pub preset: Option<String>,
}

pub fn create(conn: &mut DbConnection, ctx: &Ctx, input: NewOrg) -> Result<Org, AppError> {
    let slug = Slug::parse("slug", &input.slug)?;
    let name = Label::parse("name", input.name.as_deref().unwrap_or(slug.as_str()))?;
    let preset_name = input.preset.unwrap_or_else(|| Preset::DEFAULT.to_owned());
    let preset = Preset::load(&preset_name).map_err(|e| AppError::BadRequest {
        code: "unknown_preset",
        message: format!("{e} (known presets: {})", Preset::names().join(", ")),
    })?;
    let mut settings = OrgSettings {
        preset: preset_name,
        ..OrgSettings::default()
    };
    let mut org = store::orgs::insert(conn, slug.as_str(), name.as_str(), &settings, ctx.now)
        .map_err(|e| match e {
            StoreError::Unique(_) => AppError::Conflict {
                code: "already_exists",
                message: format!("an organization with slug `{slug}` already exists"),
            },
            other => other.into(),
        })?;
    store::policy::seed(conn, &org.id, &preset, ctx.now)?;
    store::preset_sync::mark_synced(conn, &org.id, &preset.name, ctx.now)?;
    settings.default_role = preset
        .roles
        .iter()
        .find(|r| r.id == preset.default_role)
        .map(|r| r.key.as_str().to_owned());
    org = store::orgs::update_settings(conn, &org.id, &settings, ctx.now)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "org.created",
            "org",
            Some(org.id.to_string()),
            None,
            Some(view(&org)),
        )],
    )?;
    Ok(org)
}

/// What audit events record of an org.
pub fn view(org: &Org) -> serde_json::Value {
    serde_json::json!({
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "settings": org.settings,
    })
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Org>, AppError> {
    Ok(store::orgs::list(conn)?)
}
