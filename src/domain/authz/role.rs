//! Role, permission-set and org-default records: the per-org data that says
//! what each role grants.
//!
//! These are the records the store persists and the presets ship. They are
//! deliberately dumb; [`Policy::new`](super::Policy::new) validates and
//! compiles them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::catalogue::ScopeKind;
use super::ids::{PermissionKey, ResourceId, RoleId, RoleKey, SetId};
use super::items::ItemRestrictions;

/// The explicit answer of a grant. "Not granted" / "use default" is the
/// absence of an entry, so tri-state is `Option<Grant>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    Allow,
    Deny,
}

/// How much of the org's workspace list a role sees (seed 003 "view all
/// workspaces", which is a visibility mode rather than a permission).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VisibilityMode {
    /// Only the user's assigned workspaces (`only(..)` list) plus those where
    /// they hold a workspace-scoped binding.
    #[default]
    No,
    /// All workspaces until an admin restricts the user to a list.
    Optional,
    /// All workspaces, whatever the user's list says.
    Yes,
}

/// A role: a named set of grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: RoleId,
    /// Stable machine key (`[a-z0-9_]+`), unique per org; reasons name it.
    pub key: RoleKey,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Built-in roles are read-only (the store refuses edits); clone them
    /// with [`Role::clone_as`].
    #[serde(default)]
    pub builtin: bool,
    /// The level this role is meant to be bound at (`org`, `workspace`,
    /// `resource:<type>`); [`can_grant_role`](super::can_grant_role) refuses
    /// other scopes.
    #[serde(default = "org_scope")]
    pub binds_at: ScopeKind,
    /// Grants of plain, override and derived permissions: allow or deny;
    /// absent = not granted.
    #[serde(default)]
    pub grants: BTreeMap<PermissionKey, Grant>,
    /// Module-level policies (seed 001): allow or deny; absent = use the
    /// role's answer for the module permission's `default_from`.
    #[serde(default)]
    pub module_policies: BTreeMap<PermissionKey, Grant>,
    /// Workspace visibility; only org-level bindings' roles decide it.
    #[serde(default)]
    pub visibility: VisibilityMode,
    /// "Anonymized Data" variant (seed 003): the access answer carries an
    /// anonymized flag.
    #[serde(default)]
    pub anonymized: bool,
    /// This role is the preset's "Owner" for last-owner protection (the
    /// store counts active holders).
    #[serde(default)]
    pub owner: bool,
    /// Permission sets attached to the role (seed 002).
    #[serde(default)]
    pub permission_sets: Vec<SetId>,
    /// Free attributes the engine does not interpret (e.g. seed 004 RACI
    /// `selection_lists`).
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Whether a workspace-scoped binding of this role on W also covers W's
    /// sub-workspaces (seed 004; default true).
    #[serde(default = "yes")]
    pub inherits_to_children: bool,
    /// Item types the role applies to and the fields it hides or makes
    /// read-only (seed 004).
    #[serde(default, skip_serializing_if = "ItemRestrictions::is_empty")]
    pub items: ItemRestrictions,
}

fn yes() -> bool {
    true
}

/// The role attribute saying at most one user holds the role on a resource
/// at a time (seed 000 "if the role is available"); a boolean.
pub const SINGLE_HOLDER: &str = "single_holder";

fn org_scope() -> ScopeKind {
    ScopeKind::Org
}

impl Role {
    /// An empty org-level custom role.
    pub fn new(id: impl Into<RoleId>, key: &str, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: RoleKey::new(key),
            name: name.into(),
            description: String::new(),
            builtin: false,
            binds_at: ScopeKind::Org,
            grants: BTreeMap::new(),
            module_policies: BTreeMap::new(),
            visibility: VisibilityMode::No,
            anonymized: false,
            owner: false,
            permission_sets: Vec::new(),
            attributes: BTreeMap::new(),
            inherits_to_children: true,
            items: ItemRestrictions::default(),
        }
    }

    /// Whether the role is single-holder (attribute [`SINGLE_HOLDER`]).
    pub fn single_holder(&self) -> bool {
        self.attributes.get(SINGLE_HOLDER) == Some(&serde_json::Value::Bool(true))
    }

    /// A custom (editable) copy of this role under a new id, key and name.
    /// The copy is never an owner role: ownership is not cloned by accident.
    pub fn clone_as(&self, id: impl Into<RoleId>, key: &str, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: RoleKey::new(key),
            name: name.into(),
            builtin: false,
            owner: false,
            ..self.clone()
        }
    }
}

/// Longest key [`key_from_name`] derives.
pub const DERIVED_KEY_MAX: usize = 64;

/// The machine key derived from a role's display name (seed 001 "Permission
/// profile name (required)"): accents dropped (NFKD), ASCII letters
/// lower-cased, every other run of characters one `_`, at most
/// [`DERIVED_KEY_MAX`] characters. `None` when nothing usable remains (a
/// name in a non-Latin script needs an explicit key).
pub fn key_from_name(name: &str) -> Option<RoleKey> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut key = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_ascii_alphanumeric() {
            if gap && !key.is_empty() {
                key.push('_');
            }
            gap = false;
            key.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
        if key.len() >= DERIVED_KEY_MAX {
            break;
        }
    }
    key.truncate(DERIVED_KEY_MAX);
    let key = key.trim_end_matches('_');
    (!key.is_empty()).then(|| RoleKey::new(key))
}

/// A permission set (seed 002): a named bundle of allowed permissions
/// (steps) for one application. Sets only allow; they never deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSet {
    pub id: SetId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The application (a resource of type `application`) the set is for;
    /// its permissions apply only to queries on that application.
    pub application: ResourceId,
    pub permissions: BTreeSet<PermissionKey>,
}

/// The org's default permissions: granted only to users who hold no
/// binding in the scope a query is evaluated in (seed 000 "users without a
/// role"). Editable per org, hence data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDefaults {
    #[serde(default)]
    pub allow: BTreeSet<PermissionKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_derive_from_names() {
        let cases = [
            ("Incident analyst", Some("incident_analyst")),
            ("  Member++ (night shift) ", Some("member_night_shift")),
            ("Équipe réseau", Some("equipe_reseau")),
            ("ＶＩＰ Support", Some("vip_support")),
            ("Tier-2 / L2", Some("tier_2_l2")),
            ("運用", None),
            ("---", None),
        ];
        for (name, key) in cases {
            assert_eq!(
                key_from_name(name).as_ref().map(RoleKey::as_str),
                key,
                "{name:?}"
            );
        }
        let long = "a".repeat(200);
        assert_eq!(
            key_from_name(&long).unwrap().as_str().len(),
            DERIVED_KEY_MAX
        );
        let spaced = format!("{} b", "a".repeat(63));
        assert_eq!(key_from_name(&spaced).unwrap().as_str(), "a".repeat(63));
    }
}
