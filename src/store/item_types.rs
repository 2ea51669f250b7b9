//! Item types of an org and their fields (seed 004), part of the records the
//! compiled policy is built from: every write here is followed by
//! `orgs::bump_policy_version` in the same transaction (the service does it).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::item_types;
use super::{DbConnection, StoreError};
use crate::domain::OrgId;
use crate::domain::authz::{FieldDef, ItemType, ItemTypeKey};

#[derive(Queryable, Selectable)]
#[diesel(table_name = item_types)]
struct ItemTypeRow {
    key: String,
    name: String,
    fields: String,
}

impl TryFrom<ItemTypeRow> for ItemType {
    type Error = StoreError;
    fn try_from(r: ItemTypeRow) -> Result<Self, StoreError> {
        Ok(ItemType {
            key: ItemTypeKey::new(&r.key),
            name: r.name,
            fields: serde_json::from_str::<Vec<FieldDef>>(&r.fields)?,
        })
    }
}

/// The org's item types, by key.
pub fn list(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<ItemType>, StoreError> {
    item_types::table
        .filter(item_types::org_id.eq(org.as_str()))
        .order(item_types::key)
        .select(ItemTypeRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ItemType::try_from)
        .collect()
}

/// Create or replace an item type; `true` when it was created.
pub fn upsert(
    conn: &mut DbConnection,
    org: &OrgId,
    item_type: &ItemType,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let fields = serde_json::to_string(&item_type.fields)?;
    let updated = diesel::update(
        item_types::table
            .filter(item_types::org_id.eq(org.as_str()))
            .filter(item_types::key.eq(item_type.key.as_str())),
    )
    .set((
        item_types::name.eq(&item_type.name),
        item_types::fields.eq(&fields),
        item_types::updated_at.eq(now),
    ))
    .execute(conn)?;
    if updated > 0 {
        return Ok(false);
    }
    diesel::insert_into(item_types::table)
        .values((
            item_types::org_id.eq(org.as_str()),
            item_types::key.eq(item_type.key.as_str()),
            item_types::name.eq(&item_type.name),
            item_types::fields.eq(&fields),
            item_types::created_at.eq(now),
            item_types::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}
