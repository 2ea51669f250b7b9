//! Item types and their fields (seed 004 "access to item types" and
//! "hiding fields or making them read-only"): org data the engine reads
//! when a check names an `item_type`, and the per-role restrictions on them.
//!
//! A role limited to a list of item types grants nothing on items of other
//! types; a role's field rules hide a field or make it read-only. The
//! product enforces field access; rollcall answers it (see
//! [`field_access`](super::engine::field_access)).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ids::{FieldKey, ItemTypeKey};

/// One field of an item type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    pub key: FieldKey,
    #[serde(default)]
    pub name: String,
}

/// An item type of the org (e.g. `task`, `bug`) with its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemType {
    pub key: ItemTypeKey,
    pub name: String,
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

impl ItemType {
    pub fn has_field(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.key.as_str() == field)
    }
}

/// How a user may use one field of an item, ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccess {
    Hidden,
    ReadOnly,
    Writable,
}

impl FieldAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldAccess::Hidden => "hidden",
            FieldAccess::ReadOnly => "read_only",
            FieldAccess::Writable => "writable",
        }
    }
}

/// A role's limits on items: which item types it applies to (`None` = all)
/// and, per item type, the fields it hides or makes read-only (a field not
/// named is writable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRestrictions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_types: Option<BTreeSet<ItemTypeKey>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<ItemTypeKey, BTreeMap<FieldKey, FieldAccess>>,
}

impl ItemRestrictions {
    pub fn is_empty(&self) -> bool {
        self.item_types.is_none() && self.fields.is_empty()
    }

    /// Whether the role applies to items of type `t`.
    pub fn allows_type(&self, t: &ItemTypeKey) -> bool {
        self.item_types.as_ref().is_none_or(|list| list.contains(t))
    }

    /// What the role lets its holder do with `field` of type `t`.
    pub fn field(&self, t: &ItemTypeKey, field: &FieldKey) -> FieldAccess {
        if !self.allows_type(t) {
            return FieldAccess::Hidden;
        }
        self.fields
            .get(t)
            .and_then(|f| f.get(field))
            .copied()
            .unwrap_or(FieldAccess::Writable)
    }
}
