//! The permission catalogue: what permissions exist, where each one is
//! meaningful ([`ScopeKind`]) and how it is decided ([`PermissionKind`]).
//!
//! Catalogues are data (shipped in presets, editable per org), so everything
//! here is a plain serde record; [`Policy::new`](super::Policy::new) checks
//! that the records fit together. The fixed gateway catalogue that every
//! preset maps onto its roles lives here too ([`gateway_catalogue`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{KeyError, PermissionKey, ResourceType};

/// Where a permission is meaningful, and at which level a role may be bound.
///
/// Text form: `org`, `workspace` or `resource:<type>` (e.g.
/// `resource:workflow`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScopeKind {
    /// Organisation-wide.
    Org,
    /// Inside one workspace.
    Workspace,
    /// On one resource of the given type.
    Resource(ResourceType),
}

impl ScopeKind {
    /// `resource:<type>` for the given type name.
    pub fn resource(resource_type: &str) -> Result<Self, KeyError> {
        ResourceType::parse(resource_type).map(Self::Resource)
    }
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Org => f.write_str("org"),
            Self::Workspace => f.write_str("workspace"),
            Self::Resource(kind) => write!(f, "resource:{kind}"),
        }
    }
}

impl FromStr for ScopeKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "org" => Ok(Self::Org),
            "workspace" => Ok(Self::Workspace),
            other => match other.strip_prefix("resource:") {
                Some(kind) => Self::resource(kind).map_err(|e| e.to_string()),
                None => Err(format!(
                    "scope {other:?} is not `org`, `workspace` or `resource:<type>`"
                )),
            },
        }
    }
}

impl Serialize for ScopeKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The three module-level access levels of seed 001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleAction {
    Read,
    Write,
    DeleteArchive,
}

/// What an override permission lifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifts {
    /// Every restriction on permissions of the same scope (seed 000 "no
    /// restrictions"): the permission is allowed.
    All,
    /// Only module-level policies (seed 001 "manage any incident"): module
    /// permissions of the same scope are allowed unless their org-level
    /// default is explicitly denied.
    ModulePolicies,
}

/// A boolean rule over grants and relations, written as data (seed 004 RACI
/// rules, seed 000 notes). Rules never negate, so granting more never makes
/// a rule false.
///
/// Text/serde form (externally tagged): `"granted"`, `{ grant = "key" }`,
/// `{ relation = "author" }`, `{ any_relation = ["a", "b"] }`,
/// `"role_available"`, `{ all = [..] }`, `{ any = [..] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// This permission's own grant: role, permission set or org default
    /// (individual allows decide before the rule is consulted).
    Granted,
    /// The full answer for another permission in the same query context.
    Grant(PermissionKey),
    /// The caller holds this relation to the resource (or context, such as
    /// `declaring` or `self`).
    Relation(String),
    /// The caller holds at least one of these relations.
    AnyRelation(Vec<String>),
    /// The role the query is about ([`Query::assignment`](super::Query))
    /// is available: it is not single-holder, or nobody holds it now (seed
    /// 000 "assigning oneself a role … if it is available"). A query that
    /// names no role does not satisfy it.
    RoleAvailable,
    /// Every sub-rule holds.
    All(Vec<Rule>),
    /// At least one sub-rule holds.
    Any(Vec<Rule>),
}

impl Rule {
    /// Calls `f` for every permission named by `grant(..)` in the rule.
    pub fn for_each_grant(&self, f: &mut impl FnMut(&PermissionKey)) {
        match self {
            Self::Grant(key) => f(key),
            Self::All(rules) | Self::Any(rules) => {
                rules.iter().for_each(|rule| rule.for_each_grant(f));
            }
            Self::Granted | Self::Relation(_) | Self::AnyRelation(_) | Self::RoleAvailable => {}
        }
    }

    /// Whether the rule reads the permission's own grant anywhere.
    pub fn uses_granted(&self) -> bool {
        match self {
            Self::Granted => true,
            Self::All(rules) | Self::Any(rules) => rules.iter().any(Rule::uses_granted),
            Self::Grant(_) | Self::Relation(_) | Self::AnyRelation(_) | Self::RoleAvailable => {
                false
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            Self::Granted => f.write_str("granted"),
            Self::RoleAvailable => f.write_str("role_available"),
            Self::Grant(key) => write!(f, "grant({key})"),
            Self::Relation(name) => write!(f, "relation({name})"),
            Self::AnyRelation(names) => {
                f.write_str("any_relation(")?;
                list(f, names)?;
                f.write_str(")")
            }
            Self::All(rules) => {
                f.write_str("all(")?;
                list(f, rules)?;
                f.write_str(")")
            }
            Self::Any(rules) => {
                f.write_str("any(")?;
                list(f, rules)?;
                f.write_str(")")
            }
        }
    }
}

/// How a permission is decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PermissionKind {
    /// Two-state grant held in a role's org-level grants (allow/deny,
    /// absent = not granted).
    Plain,
    /// A module-level policy (seed 001): tri-state per role; use-default
    /// falls through to the same role's answer for `default_from`.
    Module {
        module: String,
        action: ModuleAction,
        default_from: PermissionKey,
    },
    /// A permission that, when held, lifts restrictions on other
    /// permissions of the same scope, only within the scope of the binding
    /// (or individual grant) that gives it.
    Override {
        lifts: Lifts,
        /// When set, the override only applies where the caller holds this
        /// relation (seed 001 "manage an incident if invited": `invited`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relation: Option<String>,
        /// The override lifts only where it is held through a binding (or an
        /// individual allow) at exactly the query's resource — seed 000's
        /// "no restrictions" comes only from a workflow role bound to that
        /// workflow. Held at a wider scope (an org-level role), it lifts
        /// nothing and a check of it is denied; it then only counts for
        /// the granting limits, as the right to hand the override out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bound_only: bool,
    },
    /// Decided by a [`Rule`].
    Derived { rule: Rule },
}

/// One catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionDef {
    pub key: PermissionKey,
    #[serde(default)]
    pub description: String,
    pub scope: ScopeKind,
    #[serde(flatten)]
    pub kind: PermissionKind,
}

impl PermissionDef {
    /// A plain two-state permission.
    pub fn plain(key: PermissionKey, scope: ScopeKind, description: impl Into<String>) -> Self {
        Self {
            key,
            description: description.into(),
            scope,
            kind: PermissionKind::Plain,
        }
    }
}

/// The gateway's own admin permissions, in catalogue order.
pub const GATEWAY_PERMISSIONS: [(&str, &str); 9] = [
    (
        "gateway.users.manage",
        "Manage users: invite, suspend, change roles and workspace access",
    ),
    (
        "gateway.roles.manage",
        "Manage roles and permission sets, attach sets to roles",
    ),
    ("gateway.invites.manage", "Send, resend and revoke invites"),
    (
        "gateway.sso.manage",
        "Configure SSO connections (OIDC, SAML)",
    ),
    (
        "gateway.scim.manage",
        "Configure SCIM directories, tokens and group mappings",
    ),
    ("gateway.settings.manage", "Change organisation settings"),
    ("gateway.audit.read", "Read the audit log"),
    ("gateway.keys.manage", "Create, list and revoke API keys"),
    (
        "gateway.access.read",
        "Read roles, workspaces and users' access; ask authorization checks",
    ),
];

/// The key of the built-in role every preset carries for API keys that
/// only read access and ask checks (holds just `gateway.access.read`).
pub const ACCESS_READER: &str = "access_reader";

/// Names of the gateway permissions, so callers never spell them twice.
pub mod gate {
    pub const USERS_MANAGE: &str = "gateway.users.manage";
    pub const ROLES_MANAGE: &str = "gateway.roles.manage";
    pub const INVITES_MANAGE: &str = "gateway.invites.manage";
    pub const SSO_MANAGE: &str = "gateway.sso.manage";
    pub const SCIM_MANAGE: &str = "gateway.scim.manage";
    pub const SETTINGS_MANAGE: &str = "gateway.settings.manage";
    pub const AUDIT_READ: &str = "gateway.audit.read";
    pub const KEYS_MANAGE: &str = "gateway.keys.manage";
    pub const ACCESS_READ: &str = "gateway.access.read";
}

/// The fixed gateway catalogue (org-scoped, plain) that every preset maps
/// onto its roles. Preset loading prepends it to the preset's own entries.
pub fn gateway_catalogue() -> Vec<PermissionDef> {
    GATEWAY_PERMISSIONS
        .iter()
        .map(|(key, description)| {
            PermissionDef::plain(
                PermissionKey::parse(key).expect("gateway keys are well formed"),
                ScopeKind::Org,
                *description,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_text_round_trips() {
        for text in ["org", "workspace", "resource:workflow"] {
            let scope: ScopeKind = text.parse().unwrap();
            assert_eq!(scope.to_string(), text);
        }
        assert!("resource:".parse::<ScopeKind>().is_err());
        assert!("team".parse::<ScopeKind>().is_err());
    }

    #[test]
    fn rule_serde_and_display() {
        let rule: Rule = serde_json::from_str(
            r#"{"any":["granted",{"all":[{"grant":"read_change_own"},{"any_relation":["author","editor"]}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            rule.to_string(),
            "any(granted, all(grant(read_change_own), any_relation(author, editor)))"
        );
        assert!(rule.uses_granted());
        let mut keys = Vec::new();
        rule.for_each_grant(&mut |k| keys.push(k.to_string()));
        assert_eq!(keys, ["read_change_own"]);
    }

    #[test]
    fn permission_def_json_shape() {
        let def: PermissionDef = serde_json::from_str(
            r#"{"key":"status_board.write","scope":"resource:incident","kind":"module",
                "module":"status_board","action":"write","default_from":"incidents.edit"}"#,
        )
        .unwrap();
        assert!(matches!(
            def.kind,
            PermissionKind::Module {
                action: ModuleAction::Write,
                ..
            }
        ));
    }

    #[test]
    fn gateway_catalogue_is_complete() {
        let keys: Vec<_> = gateway_catalogue()
            .into_iter()
            .map(|d| d.key.to_string())
            .collect();
        assert_eq!(keys.len(), 9);
        for k in [
            gate::USERS_MANAGE,
            gate::ROLES_MANAGE,
            gate::INVITES_MANAGE,
            gate::SSO_MANAGE,
            gate::SCIM_MANAGE,
            gate::SETTINGS_MANAGE,
            gate::AUDIT_READ,
            gate::KEYS_MANAGE,
            gate::ACCESS_READ,
        ] {
            assert!(keys.contains(&k.to_owned()), "{k} missing");
        }
    }
}
