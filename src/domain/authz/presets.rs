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
//! # override: lifts = "all" | "module_policies", relation = "invited",
//! #   bound_only = true (lifts only through a binding at the resource)
//! # derived: rule = { any = ["granted", { relation = "self" }] }; atoms
//! #   "granted", { grant = "k" }, { relation = "r" }, { any_relation = [..] },
//! #   "role_available" (the query's `assignment` names an available role)
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
//! attributes = { selection_lists = ["reader"], single_holder = true }
//!
//! [defaults]
//! allow = []
//! ```
//!
//! Every preset role is marked built-in. Sets are usually empty: they
//! belong to the org's own applications.
//!
//! # Bringing existing orgs to a changed preset
//!
//! An org holds its own copy of its preset's catalogue and roles, so editing
//! a preset file reaches existing orgs only through [`plan_sync`]: it
//! compares an org's records with the preset and lists the
//! [`PresetChange`]s that bring the **built-in** records to the preset
//! text — catalogue entries added or redefined, built-in roles added or
//! rewritten (name, description, level, visibility, anonymized flag,
//! grants, module policies, attributes). Custom roles are never touched;
//! catalogue entries the preset no longer lists stay (custom roles and
//! individual overrides may name them); a built-in role's attached
//! permission sets and its owner flag stay as they are (last-owner
//! protection counts the owner flag). The store applies the plan once per
//! preset text ([`Preset::fingerprint`]), in one transaction per org, and
//! audits each change with the system as actor (`store::preset_sync`).

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::catalogue::{ACCESS_READER, PermissionDef, ScopeKind, gate, gateway_catalogue};
use super::ids::{PermissionKey, RoleId, RoleKey, SetId};
use super::items::ItemRestrictions;
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
                inherits_to_children: role.inherits_to_children,
                items: ItemRestrictions::default(),
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
                inherits_to_children: true,
                items: ItemRestrictions::default(),
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

    /// A digest of the built-in preset's text (`None` for an unknown name):
    /// an org synced to this fingerprint needs no [`plan_sync`] pass.
    pub fn fingerprint(name: &str) -> Option<String> {
        PRESETS.iter().find(|(n, _)| *n == name).map(|(n, text)| {
            let mut h = Sha256::new();
            h.update(n.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        })
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

/// One difference between an org's built-in records and its preset.
#[derive(Debug, Clone, PartialEq)]
pub enum PresetChange {
    /// A catalogue entry the org lacks (appended after its last one).
    AddPermission(PermissionDef),
    /// A catalogue entry whose definition changed.
    UpdatePermission {
        before: PermissionDef,
        after: PermissionDef,
    },
    /// A built-in role the org lacks; its id is the preset key (the store
    /// gives it a fresh one).
    AddRole(Box<Role>),
    /// A built-in role whose text changed; `after` keeps the org's id,
    /// owner flag and attached permission sets.
    UpdateRole { before: Box<Role>, after: Box<Role> },
    /// A custom role already uses the key of a preset role: nothing is
    /// changed, the conflict is reported.
    RoleKeyTaken { key: RoleKey, custom: RoleId },
}

/// What brings an org's built-in catalogue entries and roles to `preset`
/// (see the module docs); empty when they match. Deterministic: preset
/// order, catalogue first.
pub fn plan_sync(
    preset: &Preset,
    catalogue: &[PermissionDef],
    roles: &[Role],
) -> Vec<PresetChange> {
    let mut changes = Vec::new();
    for def in &preset.catalogue {
        match catalogue.iter().find(|d| d.key == def.key) {
            None => changes.push(PresetChange::AddPermission(def.clone())),
            Some(current) if current != def => changes.push(PresetChange::UpdatePermission {
                before: current.clone(),
                after: def.clone(),
            }),
            Some(_) => {}
        }
    }
    for wanted in &preset.roles {
        match roles.iter().find(|r| r.key == wanted.key) {
            None => changes.push(PresetChange::AddRole(Box::new(wanted.clone()))),
            Some(current) if !current.builtin => changes.push(PresetChange::RoleKeyTaken {
                key: wanted.key.clone(),
                custom: current.id.clone(),
            }),
            Some(current) => {
                let after = Role {
                    id: current.id.clone(),
                    owner: current.owner,
                    permission_sets: current.permission_sets.clone(),
                    builtin: true,
                    ..wanted.clone()
                };
                if after != *current {
                    changes.push(PresetChange::UpdateRole {
                        before: Box::new(current.clone()),
                        after: Box::new(after),
                    });
                }
            }
        }
    }
    changes
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
    /// Seed 004: a workspace binding covers sub-workspaces (default true).
    #[serde(default = "yes")]
    inherits_to_children: bool,
}

fn yes() -> bool {
    true
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

    #[test]
    fn every_preset_is_in_sync_with_itself() {
        for name in Preset::names() {
            let preset = Preset::load(name).unwrap();
            assert_eq!(plan_sync(&preset, &preset.catalogue, &preset.roles), []);
            assert!(Preset::fingerprint(name).is_some());
        }
        assert_ne!(
            Preset::fingerprint("analytics"),
            Preset::fingerprint("workflow-roles")
        );
        assert_eq!(Preset::fingerprint("nope"), None);
    }

    /// The text of workflow-roles before issue "6 of 11", as orgs hold it.
    const BEFORE: &str = include_str!("../../../tests/fixtures/workflow-roles-before-6-of-11.toml");

    #[test]
    fn plan_sync_brings_built_in_records_to_the_preset_and_leaves_custom_roles() {
        let old = Preset::parse(BEFORE).unwrap();
        let new = Preset::load("workflow-roles").unwrap();
        let mut roles = old.roles.clone();
        // The org's ids are its own; a custom role keeps granting the old key;
        // another custom role took the key of a preset role.
        for role in &mut roles {
            role.id = RoleId::new(format!("id-{}", role.key));
        }
        let mut custom = Role::new("c1", "night_scribe", "Night scribe");
        custom.binds_at = ScopeKind::resource("workflow").unwrap();
        custom
            .grants
            .insert(PermissionKey::parse("timeline.edit").unwrap(), Grant::Allow);
        roles.push(custom.clone());
        roles.retain(|r| r.key.as_str() != "scribe");
        roles.push(Role::new("c2", "scribe", "Our scribe"));

        let plan = plan_sync(&new, &old.catalogue, &roles);
        let added: Vec<_> = plan
            .iter()
            .filter_map(|c| match c {
                PresetChange::AddPermission(d) => Some(d.key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(added, ["timeline.create"]);
        let redefined: Vec<_> = plan
            .iter()
            .filter_map(|c| match c {
                PresetChange::UpdatePermission { after, .. } => Some(after.key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            redefined,
            ["workflow.no_restrictions", "roles.assign", "timeline.edit"]
        );
        let rewritten: Vec<_> = plan
            .iter()
            .filter_map(|c| match c {
                PresetChange::UpdateRole { before, after } => {
                    assert_eq!(before.id, after.id, "the org's id stays");
                    assert!(after.builtin);
                    Some(after.key.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            rewritten,
            ["incident_commander", "communications_lead", "responder"]
        );
        assert!(plan.contains(&PresetChange::RoleKeyTaken {
            key: RoleKey::new("scribe"),
            custom: RoleId::new("c2"),
        }));
        // Custom roles are never the subject of a change.
        for change in &plan {
            if let PresetChange::UpdateRole { before, .. } = change {
                assert!(before.builtin);
            }
        }
        // The Responder now creates timeline entries instead of editing them.
        let responder = plan
            .iter()
            .find_map(|c| match c {
                PresetChange::UpdateRole { after, .. } if after.key.as_str() == "responder" => {
                    Some(after)
                }
                _ => None,
            })
            .unwrap();
        assert!(
            responder
                .grants
                .contains_key(&PermissionKey::parse("timeline.create").unwrap())
        );
        assert!(
            !responder
                .grants
                .contains_key(&PermissionKey::parse("timeline.edit").unwrap())
        );
    }
}
