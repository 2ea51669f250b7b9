//! Item types of an org and their fields (seed 004 "access to item types",
//! "hiding fields or making them read-only"). Roles name them in their item
//! limits; `authz/check` takes an `item_type`; the access answer gives, per
//! field, `hidden | read_only | writable`. Defining them is org
//! configuration (`gateway.settings.manage`).

use serde::Serialize;

use crate::domain::Label;
use crate::domain::authz::{self, FieldDef, FieldKey, ItemType, ItemTypeKey, PolicyError, gate};
use crate::error::AppError;
use crate::service::Acting;
use crate::store::{self, DbConnection, audit};

/// Longest item-type or field key.
pub const KEY_MAX: usize = 64;

/// What a client sends for one item type.
#[derive(Debug, Clone)]
pub struct ItemTypeInput {
    pub name: Option<String>,
    pub fields: Vec<(String, Option<String>)>,
}

/// Whether the write created the type.
#[derive(Debug, Serialize)]
pub struct Written {
    pub created: bool,
    pub item_type: ItemType,
}

fn key(what: &str, raw: &str) -> Result<String, AppError> {
    let ok = !raw.is_empty()
        && raw.len() <= KEY_MAX
        && raw
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppError::bad_request(format!(
            "{what} `{raw}` must be 1–{KEY_MAX} characters of [a-z0-9_]"
        )))
    }
}

/// Create or replace item type `type_key` with its fields.
pub fn put(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    type_key: &str,
    input: ItemTypeInput,
) -> Result<Written, AppError> {
    a.require(gate::SETTINGS_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let type_key = ItemTypeKey::new(key("item type", type_key)?);
    let name = Label::parse("name", input.name.as_deref().unwrap_or(type_key.as_str()))?;
    let mut fields: Vec<FieldDef> = Vec::with_capacity(input.fields.len());
    for (k, n) in &input.fields {
        let k = FieldKey::new(key("field", k)?);
        if fields.iter().any(|f| f.key == k) {
            return Err(AppError::bad_request(format!(
                "field `{k}` appears twice in item type `{type_key}`"
            )));
        }
        let n = Label::parse("fields[].name", n.as_deref().unwrap_or(k.as_str()))?;
        fields.push(FieldDef {
            key: k,
            name: n.into_string(),
        });
    }
    let item_type = ItemType {
        key: type_key.clone(),
        name: name.into_string(),
        fields,
    };
    let mut records = store::policy::load(conn, &org.id)?;
    let before = records
        .item_types
        .iter()
        .find(|t| t.key == type_key)
        .cloned();
    records.item_types.retain(|t| t.key != type_key);
    records.item_types.push(item_type.clone());
    // A role that restricts a field this change removes keeps it from going.
    records.build().map_err(|e| match e {
        e @ PolicyError::UnknownField { .. } => AppError::Conflict {
            code: "field_in_use",
            message: format!("{e}; change the role's item limits first"),
        },
        other => AppError::bad_request(other.to_string()),
    })?;
    let created = store::item_types::upsert(conn, &org.id, &item_type, ctx.now)?;
    store::orgs::bump_policy_version(conn, &org.id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            if created {
                "item_type.created"
            } else {
                "item_type.updated"
            },
            "item_type",
            Some(type_key.to_string()),
            before.map(|b| serde_json::json!(b)),
            Some(serde_json::json!(item_type)),
        )],
    )?;
    Ok(Written { created, item_type })
}

/// The org's item types (from the compiled policy).
pub fn list<'a>(a: &Acting<'a>) -> Result<Vec<&'a ItemType>, AppError> {
    a.require(gate::ACCESS_READ)?;
    Ok(a.op.policy.item_types().collect())
}

/// An item type named by a client; unknown is a 400 (it is a question's
/// parameter, not a resource being fetched).
pub fn known(a: &Acting<'_>, raw: &str) -> Result<ItemTypeKey, AppError> {
    a.op.policy
        .item_type(raw)
        .map(|t| t.key.clone())
        .ok_or_else(|| {
            crate::service::authz::check_error(authz::CheckError::UnknownItemType(
                ItemTypeKey::new(raw),
            ))
        })
}
