//! The built-in presets (SPEC §2): one permission model per seed document,
//! shipped as TOML files embedded with `include_str!` (no file is read at
//! run time). An org starts from a preset; its records are then the org's
//! own data.
//!
//! File format (see `presets/*.toml`):
//!
//! ```toml
//! name = "analytics"
//! description = "…"
//! default_role = "view_manager"          # key of an org-level role
//!
//! [[permissions]]                        # gateway.* are added by the loader
//! key = "dashboards.view"
//! scope = "workspace"                    # org | workspace | resource:<type>
//! kind = "plain"                         # plain | module | override | derived
//! description = "View dashboards"
//!
//! [[roles]]                              # the role id is its key
//! key = "view_manager"
//! name = "View Manager"
//! visibility = "optional"                # yes | no | optional
//! binds_at = "org"                       # default org
//! allow = ["dashboards.view"]
//! deny = []
//! modules = { "status_board.write" = "deny" }   # module policies
//! sets = []                              # attached permission sets
//! attributes = { selection_lists = ["reader"] }
//!
//! [defaults]
//! allow = []
//! ```
//!
//! Every preset role is marked built-in. Sets are usually empty: they
//! belong to the org's own applications.

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

use super::catalogue::{ACCESS_READER, PermissionDef, ScopeKind, gate, gateway_catalogue};
use super::ids::{PermissionKey, RoleId, RoleKey, SetId};
use super::policy::{Policy, PolicyError};
use super::role::{Grant, OrgDefaults, PermissionSet, Role, VisibilityMode};

/// Why a preset could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PresetError {
    #[error("no preset named {0:?} (available: {available})", available = Preset::names().join(", "))]
    Unknown(String),
    #[error("preset {preset}: {message}")]
    Parse { preset: String, message: String },
    #[error("preset {preset}: {message}")]
    Invalid { preset: String, message: String },
    #[error("preset {preset}: {source}")]
    Policy {
        preset: String,
        #[source]
        source: PolicyError,
    },
}

/// A loaded preset: the records an org is seeded with.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    pub description: String,
    /// Gateway permissions first, then the preset's own, in file order.
    pub catalogue: Vec<PermissionDef>,
    pub roles: Vec<Role>,
    pub sets: Vec<PermissionSet>,
    pub defaults: OrgDefaults,
    /// The org default role (SSO-default, SCIM with nothing mapped).
    pub default_role: RoleId,
}

const NAMES: [&str; 5] = [
    "analytics",
    "workflow-roles",
    "permission-profiles",
    "permission-sets",
    "workspace-roles",
];

const PRESETS: [(&str, &str); 5] = [
    ("analytics", include_str!("presets/analytics.toml")),
    (
        "workflow-roles",
        include_str!("presets/workflow-roles.toml"),
    ),
    (
        "permission-profiles",
        include_str!("presets/permission-profiles.toml"),
    ),
    (
        "permission-sets",
        include_str!("presets/permission-sets.toml"),
    ),
    (
        "workspace-roles",
        include_str!("presets/workspace-roles.toml"),
    ),
];

impl Preset {
    /// The preset a new org gets unless told otherwise.
    pub const DEFAULT: &'static str = "analytics";

    /// Names of the built-in presets.
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// Loads and validates a built-in preset.
    pub fn load(name: &str) -> Result<Self, PresetError> {
        let (_, text) = PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| PresetError::Unknown(name.to_owned()))?;
        let preset = Self::parse(text)?;
        if preset.name != name {
            return Err(PresetError::Invalid {
                preset: name.to_owned(),
                message: format!("the file calls itself {:?}", preset.name),
            });
        }
        Ok(preset)
    }

    /// Parses and validates a preset in the TOML format above (also usable
    /// for an org's exported policy).
    pub fn parse(text: &str) -> Result<Self, PresetError> {
        let file: PresetFile = toml::from_str(text).map_err(|e| PresetError::Parse {
            preset: "(unparsed)".to_owned(),
            message: e.to_string(),
        })?;
        let name = file.name.clone();
        let invalid = |message: String| PresetError::Invalid {
            preset: name.clone(),
            message,
        };

        let mut catalogue = gateway_catalogue();
        catalogue.extend(file.permissions);

        let mut roles = Vec::with_capacity(file.roles.len());
        for role in file.roles {
            let mut grants = BTreeMap::new();
            for key in role.allow {
                grants.insert(key, Grant::Allow);
            }
            for key in role.deny {
                if grants.insert(key.clone(), Grant::Deny).is_some() {
                    return Err(invalid(format!(
                        "role {} both allows and denies {key}",
                        role.key
                    )));
                }
            }
            roles.push(Role {
                id: RoleId::new(&role.key),
                key: RoleKey::new(&role.key),
                name: role.name,
                description: role.description,
                builtin: true,
                binds_at: role.binds_at,
                grants,
                module_policies: role.modules,
                visibility: role.visibility,
                anonymized: role.anonymized,
                owner: role.owner,
                permission_sets: role.sets,
                attributes: role.attributes,
            });
        }

        // Every preset has the least role an API key of the product needs:
        // it reads access and asks checks, nothing else (SPEC §2 "Gateway
        // permissions"). Added here like the gateway catalogue, so presets
        // cannot forget it.
        if !roles.iter().any(|r| r.key.as_str() == ACCESS_READER) {
            let mut grants = BTreeMap::new();
            grants.insert(
                PermissionKey::parse(gate::ACCESS_READ).expect("gateway keys are well formed"),
                Grant::Allow,
            );
            roles.push(Role {
                id: RoleId::new(ACCESS_READER),
                key: RoleKey::new(ACCESS_READER),
                name: "Access Reader".to_owned(),
                description: "Reads roles, workspaces and users' access and asks authorization checks (the default role of API keys)".to_owned(),
                builtin: true,
                binds_at: ScopeKind::Org,
                grants,
                module_policies: BTreeMap::new(),
                visibility: VisibilityMode::Yes,
                anonymized: false,
                owner: false,
                permission_sets: Vec::new(),
                attributes: BTreeMap::new(),
            });
        }

        let default_role = RoleId::new(&file.default_role);
        match roles.iter().find(|r| r.id == default_role) {
            None => {
                return Err(invalid(format!(
                    "default role {default_role} is not among its roles"
                )));
            }
            Some(role) if role.binds_at != ScopeKind::Org => {
                return Err(invalid(format!(
                    "default role {default_role} is not an org-level role"
                )));
            }
            Some(_) => {}
        }
        if !roles.iter().any(|r| r.owner) {
            return Err(invalid(
                "no role is marked owner (needed for last-owner protection)".to_owned(),
            ));
        }

        let preset = Self {
            name: file.name,
            description: file.description,
            catalogue,
            roles,
            sets: file.sets,
            defaults: file.defaults,
            default_role,
        };
        // Compile once so a broken preset fails here, not at first use.
        preset.policy().map_err(|source| PresetError::Policy {
            preset: preset.name.clone(),
            source,
        })?;
        Ok(preset)
    }

    /// Compiles the preset's records into a policy.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        Policy::new(
            self.catalogue.clone(),
            self.roles.clone(),
            self.sets.clone(),
            self.defaults.clone(),
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    name: String,
    #[serde(default)]
    description: String,
    default_role: String,
    #[serde(default)]
    permissions: Vec<PermissionDef>,
    #[serde(default)]
    roles: Vec<RoleFile>,
    #[serde(default)]
    sets: Vec<PermissionSet>,
    #[serde(default)]
    defaults: OrgDefaults,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    key: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "org_scope")]
    binds_at: ScopeKind,
    #[serde(default)]
    visibility: VisibilityMode,
    #[serde(default)]
    anonymized: bool,
    #[serde(default)]
    owner: bool,
    #[serde(default)]
    allow: Vec<PermissionKey>,
    #[serde(default)]
    deny: Vec<PermissionKey>,
    #[serde(default)]
    modules: BTreeMap<PermissionKey, Grant>,
    #[serde(default)]
    sets: Vec<SetId>,
    #[serde(default)]
    attributes: BTreeMap<String, serde_json::Value>,
}

fn org_scope() -> ScopeKind {
    ScopeKind::Org
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authz::catalogue::GATEWAY_PERMISSIONS;

    #[test]
    fn every_preset_loads_and_maps_the_gateway_catalogue() {
        assert_eq!(Preset::names(), PRESETS.map(|(name, _)| name));
        for name in Preset::names() {
            let preset = Preset::load(name).unwrap_or_else(|e| panic!("{e}"));
            let policy = preset.policy().unwrap();
            for (key, _) in GATEWAY_PERMISSIONS {
                assert!(policy.permission(key).is_some(), "{name} lacks {key}");
                assert!(
                    preset
                        .roles
                        .iter()
                        .any(|r| r.grants.get(key) == Some(&Grant::Allow)),
                    "{name}: no role holds {key}"
                );
            }
            assert!(preset.roles.iter().all(|r| r.builtin));
        }
    }

    #[test]
    fn analytics_is_the_default_preset() {
        assert_eq!(Preset::DEFAULT, "analytics");
        let preset = Preset::load(Preset::DEFAULT).unwrap();
        assert_eq!(preset.default_role.as_str(), "view_manager");
    }

    #[test]
    fn unknown_preset_is_an_error() {
        assert!(matches!(Preset::load("nope"), Err(PresetError::Unknown(_))));
    }

    #[test]
    fn rejects_contradictory_role_and_missing_default_role() {
        let text = r#"
            name = "x"
            default_role = "a"
            [[permissions]]
            key = "p"
            scope = "org"
            kind = "plain"
            [[roles]]
            key = "a"
            name = "A"
            owner = true
            allow = ["p"]
            deny = ["p"]
        "#;
        assert!(matches!(
            Preset::parse(text),
            Err(PresetError::Invalid { .. })
        ));
        let text = r#"
            name = "x"
            default_role = "missing"
            [[roles]]
            key = "a"
            name = "A"
            owner = true
        "#;
        assert!(matches!(
            Preset::parse(text),
            Err(PresetError::Invalid { .. })
        ));
    }

    #[test]
    fn rejects_unknown_fields_and_bad_references() {
        let text = r#"
            name = "x"
            default_role = "a"
            [[roles]]
            key = "a"
            name = "A"
            owner = true
            allows = ["p"]
        "#;
        assert!(matches!(
            Preset::parse(text),
            Err(PresetError::Parse { .. })
        ));
        let text = r#"
            name = "x"
            default_role = "a"
            [[roles]]
            key = "a"
            name = "A"
            owner = true
            allow = ["not.in.catalogue"]
        "#;
        assert!(matches!(
            Preset::parse(text),
            Err(PresetError::Policy { .. })
        ));
    }
}
