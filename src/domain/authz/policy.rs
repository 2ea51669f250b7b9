//! [`Policy`]: the compiled, immutable per-org permission data.
//!
//! `Policy::new` takes the catalogue, roles, permission sets and org
//! defaults as records, checks every reference between them and compiles
//! them into dense tables indexed by small integers (interned permission
//! keys), so that a check is a handful of array reads and never allocates a
//! string except for its reasons. The server builds one `Policy` per org and
//! shares it (it is `Send + Sync`); an edit to any record builds a new one.

use std::collections::{HashMap, HashSet};

use thiserror::Error;

use super::catalogue::{Lifts, PermissionDef, PermissionKind, Rule, ScopeKind};
use super::ids::{FieldKey, ItemTypeKey, PermissionKey, RoleId, RoleKey, SetId, WorkspaceId};
use super::items::ItemType;
use super::role::{Grant, OrgDefaults, PermissionSet, Role};
use super::tree::{TreeError, WorkspaceTree};

/// Resource type whose resources permission sets are bound to (seed 002).
pub const APPLICATION: &str = "application";

/// Index of an interned permission.
pub(crate) type PermIdx = u32;

/// Why records could not be compiled into a policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("permission {0} appears twice in the catalogue")]
    DuplicatePermission(PermissionKey),
    #[error("{context} names permission {key}, which is not in the catalogue")]
    UnknownPermission { context: String, key: PermissionKey },
    #[error(
        "module permission {permission} takes its default from {default_from}, which must be a plain permission"
    )]
    InvalidDefaultFrom {
        permission: PermissionKey,
        default_from: PermissionKey,
    },
    #[error("derived permission {0} depends on itself through its rule")]
    RuleCycle(PermissionKey),
    #[error(
        "derived permission {permission} (scope {scope}) reads {referenced} (scope {referenced_scope}); a rule may only read org, workspace or same-resource permissions"
    )]
    RuleScope {
        permission: PermissionKey,
        scope: ScopeKind,
        referenced: PermissionKey,
        referenced_scope: ScopeKind,
    },
    #[error("an override or rule names an empty relation on permission {0}")]
    EmptyRelation(PermissionKey),
    #[error("role id {0} appears twice")]
    DuplicateRole(RoleId),
    #[error("role key {0} appears twice")]
    DuplicateRoleKey(RoleKey),
    #[error("role key {0:?} is not a lower-case identifier [a-z0-9_]+")]
    InvalidRoleKey(RoleKey),
    #[error(
        "role {role} lists {permission} under {found}, but {permission} belongs under {expected}"
    )]
    GrantKind {
        role: RoleKey,
        permission: PermissionKey,
        found: &'static str,
        expected: &'static str,
    },
    #[error(
        "role {role} grants derived permission {permission}, whose rule never reads `granted`, so the grant would have no effect"
    )]
    IneffectiveGrant {
        role: RoleKey,
        permission: PermissionKey,
    },
    #[error("role {role}: attribute `{attribute}` must be {expected}")]
    InvalidAttribute {
        role: RoleKey,
        attribute: &'static str,
        expected: &'static str,
    },
    #[error("role {role} attaches permission set {set}, which does not exist")]
    UnknownSet { role: RoleKey, set: SetId },
    #[error("permission set id {0} appears twice")]
    DuplicateSet(SetId),
    #[error("item type {0} appears twice")]
    DuplicateItemType(ItemTypeKey),
    #[error("role {role} names item type {item_type}, which this organization does not define")]
    UnknownItemType {
        role: RoleKey,
        item_type: ItemTypeKey,
    },
    #[error(
        "role {role} restricts field {field} of item type {item_type}, which has no such field"
    )]
    UnknownField {
        role: RoleKey,
        item_type: ItemTypeKey,
        field: FieldKey,
    },
    #[error("the workspace tree is invalid: {0}")]
    Tree(#[from] TreeError),
    #[error(
        "permission set {set} lists {permission}; sets may only hold permissions scoped resource:application"
    )]
    SetPermissionScope {
        set: SetId,
        permission: PermissionKey,
    },
}

/// A compiled rule: [`Rule`] with interned keys.
#[derive(Debug, Clone)]
pub(crate) enum CompiledRule {
    Granted,
    Grant(PermIdx),
    Relation(String),
    AnyRelation(Vec<String>),
    RoleAvailable,
    All(Vec<CompiledRule>),
    Any(Vec<CompiledRule>),
}

#[derive(Debug, Clone)]
pub(crate) enum CompiledKind {
    Plain,
    Module {
        default_from: PermIdx,
    },
    Override {
        lifts: Lifts,
        relation: Option<String>,
        bound_only: bool,
    },
    Derived {
        rule: CompiledRule,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledPermission {
    pub(crate) def: PermissionDef,
    pub(crate) kind: CompiledKind,
    /// Override permissions that may lift this one, in catalogue order.
    pub(crate) lifted_by: Vec<PermIdx>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRole {
    pub(crate) record: Role,
    /// Grants and module policies by permission index (their key spaces are
    /// disjoint, checked at compile time). `None` = absent / use-default.
    pub(crate) cells: Vec<Option<Grant>>,
    pub(crate) sets: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledSet {
    pub(crate) record: PermissionSet,
    pub(crate) allows: Vec<bool>,
}

/// The compiled, immutable permission data of one org.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) permissions: Vec<CompiledPermission>,
    pub(crate) permission_index: HashMap<PermissionKey, PermIdx>,
    pub(crate) roles: Vec<CompiledRole>,
    pub(crate) role_index: HashMap<RoleId, u32>,
    pub(crate) sets: Vec<CompiledSet>,
    pub(crate) set_index: HashMap<SetId, u32>,
    pub(crate) defaults: Vec<bool>,
    pub(crate) defaults_record: OrgDefaults,
    pub(crate) tree: WorkspaceTree,
    pub(crate) item_types: std::collections::BTreeMap<ItemTypeKey, ItemType>,
}

impl Policy {
    /// Validates the records and compiles them.
    pub fn new(
        catalogue: Vec<PermissionDef>,
        roles: Vec<Role>,
        sets: Vec<PermissionSet>,
        defaults: OrgDefaults,
    ) -> Result<Self, PolicyError> {
        let mut permission_index = HashMap::with_capacity(catalogue.len());
        for (i, def) in catalogue.iter().enumerate() {
            let idx = u32::try_from(i).expect("catalogue fits in u32");
            if permission_index.insert(def.key.clone(), idx).is_some() {
                return Err(PolicyError::DuplicatePermission(def.key.clone()));
            }
        }
        let index = Interned(&permission_index);
        let mut permissions = Vec::with_capacity(catalogue.len());
        for def in &catalogue {
            let kind = match &def.kind {
                PermissionKind::Plain => CompiledKind::Plain,
                PermissionKind::Module { default_from, .. } => {
                    let from =
                        index.lookup(|| format!("module permission {}", def.key), default_from)?;
                    if !matches!(catalogue[from as usize].kind, PermissionKind::Plain) {
                        return Err(PolicyError::InvalidDefaultFrom {
                            permission: def.key.clone(),
                            default_from: default_from.clone(),
                        });
                    }
                    CompiledKind::Module { default_from: from }
                }
                PermissionKind::Override {
                    lifts,
                    relation,
                    bound_only,
                } => {
                    if relation.as_deref() == Some("") {
                        return Err(PolicyError::EmptyRelation(def.key.clone()));
                    }
                    CompiledKind::Override {
                        lifts: *lifts,
                        relation: relation.clone(),
                        bound_only: *bound_only,
                    }
                }
                PermissionKind::Derived { rule } => CompiledKind::Derived {
                    rule: compile_rule(def, rule, &catalogue, index)?,
                },
            };
            permissions.push(CompiledPermission {
                def: def.clone(),
                kind,
                lifted_by: Vec::new(),
            });
        }
        check_rule_cycles(&permissions)?;

        // An override lifts permissions of exactly its own scope; overrides
        // are never lifted themselves (no recursion between overrides).
        for target in 0..permissions.len() {
            if matches!(permissions[target].kind, CompiledKind::Override { .. }) {
                continue;
            }
            let is_module = matches!(permissions[target].kind, CompiledKind::Module { .. });
            let lifted_by: Vec<PermIdx> = permissions
                .iter()
                .enumerate()
                .filter(|(_, candidate)| candidate.def.scope == permissions[target].def.scope)
                .filter(|(_, candidate)| match candidate.kind {
                    CompiledKind::Override { lifts, .. } => {
                        lifts == Lifts::All || (lifts == Lifts::ModulePolicies && is_module)
                    }
                    _ => false,
                })
                .map(|(i, _)| i as PermIdx)
                .collect();
            permissions[target].lifted_by = lifted_by;
        }

        let mut set_index = HashMap::with_capacity(sets.len());
        let mut compiled_sets = Vec::with_capacity(sets.len());
        for (i, set) in sets.into_iter().enumerate() {
            if set_index.insert(set.id.clone(), i as u32).is_some() {
                return Err(PolicyError::DuplicateSet(set.id));
            }
            let mut allows = vec![false; permissions.len()];
            for key in &set.permissions {
                let idx = index.lookup(|| format!("permission set {}", set.id), key)?;
                let in_scope = matches!(
                    &permissions[idx as usize].def.scope,
                    ScopeKind::Resource(kind) if kind.as_str() == APPLICATION
                );
                if !in_scope {
                    return Err(PolicyError::SetPermissionScope {
                        set: set.id.clone(),
                        permission: key.clone(),
                    });
                }
                allows[idx as usize] = true;
            }
            compiled_sets.push(CompiledSet {
                record: set,
                allows,
            });
        }

        let mut role_index = HashMap::with_capacity(roles.len());
        let mut role_keys = HashSet::with_capacity(roles.len());
        let mut compiled_roles = Vec::with_capacity(roles.len());
        for (i, role) in roles.into_iter().enumerate() {
            let key_ok = !role.key.as_str().is_empty()
                && role
                    .key
                    .as_str()
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
            if !key_ok {
                return Err(PolicyError::InvalidRoleKey(role.key));
            }
            if role_index.insert(role.id.clone(), i as u32).is_some() {
                return Err(PolicyError::DuplicateRole(role.id));
            }
            if !role_keys.insert(role.key.clone()) {
                return Err(PolicyError::DuplicateRoleKey(role.key));
            }
            if role
                .attributes
                .get(super::role::SINGLE_HOLDER)
                .is_some_and(|v| !v.is_boolean())
            {
                return Err(PolicyError::InvalidAttribute {
                    role: role.key,
                    attribute: super::role::SINGLE_HOLDER,
                    expected: "true or false",
                });
            }
            let mut cells = vec![None; permissions.len()];
            for (key, grant) in &role.grants {
                let idx = index.lookup(|| format!("role {}", role.key), key)?;
                match &permissions[idx as usize].kind {
                    CompiledKind::Module { .. } => {
                        return Err(PolicyError::GrantKind {
                            role: role.key.clone(),
                            permission: key.clone(),
                            found: "grants",
                            expected: "module_policies",
                        });
                    }
                    CompiledKind::Derived { .. } => {
                        let uses_granted = matches!(
                            &permissions[idx as usize].def.kind,
                            PermissionKind::Derived { rule } if rule.uses_granted()
                        );
                        if !uses_granted {
                            return Err(PolicyError::IneffectiveGrant {
                                role: role.key.clone(),
                                permission: key.clone(),
                            });
                        }
                    }
                    CompiledKind::Plain | CompiledKind::Override { .. } => {}
                }
                cells[idx as usize] = Some(*grant);
            }
            for (key, grant) in &role.module_policies {
                let idx = index.lookup(|| format!("role {} module policies", role.key), key)?;
                if !matches!(permissions[idx as usize].kind, CompiledKind::Module { .. }) {
                    return Err(PolicyError::GrantKind {
                        role: role.key.clone(),
                        permission: key.clone(),
                        found: "module_policies",
                        expected: "grants",
                    });
                }
                cells[idx as usize] = Some(*grant);
            }
            let mut role_sets = Vec::with_capacity(role.permission_sets.len());
            for set in &role.permission_sets {
                let idx = set_index
                    .get(set)
                    .copied()
                    .ok_or_else(|| PolicyError::UnknownSet {
                        role: role.key.clone(),
                        set: set.clone(),
                    })?;
                role_sets.push(idx);
            }
            compiled_roles.push(CompiledRole {
                record: role,
                cells,
                sets: role_sets,
            });
        }

        let mut default_cells = vec![false; permissions.len()];
        for key in &defaults.allow {
            let idx = index.lookup(|| "the org default permissions".to_owned(), key)?;
            default_cells[idx as usize] = true;
        }

        Ok(Self {
            permissions,
            permission_index,
            roles: compiled_roles,
            role_index,
            sets: compiled_sets,
            set_index,
            defaults: default_cells,
            defaults_record: defaults,
            tree: WorkspaceTree::default(),
            item_types: std::collections::BTreeMap::new(),
        })
    }

    /// This policy with the org's workspace tree (`(workspace, parent)`
    /// pairs), validated: sub-workspaces inherit bindings and list entries.
    pub fn with_workspaces<'a>(
        mut self,
        workspaces: impl IntoIterator<Item = (&'a WorkspaceId, Option<&'a WorkspaceId>)>,
    ) -> Result<Self, PolicyError> {
        self.tree = WorkspaceTree::new(workspaces)?;
        Ok(self)
    }

    /// This policy with the org's item types; every role's item-type list
    /// and field rule must name a defined type and field.
    pub fn with_item_types(mut self, types: Vec<ItemType>) -> Result<Self, PolicyError> {
        let mut map = std::collections::BTreeMap::new();
        for t in types {
            if map.contains_key(&t.key) {
                return Err(PolicyError::DuplicateItemType(t.key));
            }
            map.insert(t.key.clone(), t);
        }
        for role in self.roles() {
            let listed = role.items.item_types.iter().flatten();
            for t in listed.chain(role.items.fields.keys()) {
                if !map.contains_key(t) {
                    return Err(PolicyError::UnknownItemType {
                        role: role.key.clone(),
                        item_type: t.clone(),
                    });
                }
            }
            for (t, fields) in &role.items.fields {
                for field in fields.keys() {
                    if !map[t].has_field(field.as_str()) {
                        return Err(PolicyError::UnknownField {
                            role: role.key.clone(),
                            item_type: t.clone(),
                            field: field.clone(),
                        });
                    }
                }
            }
        }
        self.item_types = map;
        Ok(self)
    }

    /// The org's workspace tree.
    pub fn tree(&self) -> &WorkspaceTree {
        &self.tree
    }

    /// The org's item types, by key.
    pub fn item_types(&self) -> impl ExactSizeIterator<Item = &ItemType> {
        self.item_types.values()
    }

    pub fn item_type(&self, key: &str) -> Option<&ItemType> {
        self.item_types.get(key)
    }

    /// The catalogue, in its original order.
    pub fn catalogue(&self) -> impl ExactSizeIterator<Item = &PermissionDef> {
        self.permissions.iter().map(|p| &p.def)
    }

    /// One catalogue entry.
    pub fn permission(&self, key: &str) -> Option<&PermissionDef> {
        self.permission_index
            .get(key)
            .map(|&i| &self.permissions[i as usize].def)
    }

    /// All roles, in their original order.
    pub fn roles(&self) -> impl ExactSizeIterator<Item = &Role> {
        self.roles.iter().map(|r| &r.record)
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.role_index
            .get(id)
            .map(|&i| &self.roles[i as usize].record)
    }

    /// The role with this machine key.
    pub fn role_by_key(&self, key: &str) -> Option<&Role> {
        self.roles().find(|r| r.key.as_str() == key)
    }

    pub fn sets(&self) -> impl ExactSizeIterator<Item = &PermissionSet> {
        self.sets.iter().map(|s| &s.record)
    }

    pub fn set(&self, id: &str) -> Option<&PermissionSet> {
        self.set_index
            .get(id)
            .map(|&i| &self.sets[i as usize].record)
    }

    pub fn defaults(&self) -> &OrgDefaults {
        &self.defaults_record
    }

    pub(crate) fn index_of(&self, key: &str) -> Option<PermIdx> {
        self.permission_index.get(key).copied()
    }

    pub(crate) fn perm(&self, idx: PermIdx) -> &CompiledPermission {
        &self.permissions[idx as usize]
    }

    pub(crate) fn key(&self, idx: PermIdx) -> &PermissionKey {
        &self.permissions[idx as usize].def.key
    }
}

/// Permission-key lookup during compilation, naming the referrer on error.
#[derive(Clone, Copy)]
struct Interned<'a>(&'a HashMap<PermissionKey, PermIdx>);

impl Interned<'_> {
    fn lookup(
        self,
        context: impl FnOnce() -> String,
        key: &PermissionKey,
    ) -> Result<PermIdx, PolicyError> {
        self.0
            .get(key)
            .copied()
            .ok_or_else(|| PolicyError::UnknownPermission {
                context: context(),
                key: key.clone(),
            })
    }
}

fn compile_rule(
    owner: &PermissionDef,
    rule: &Rule,
    catalogue: &[PermissionDef],
    index: Interned<'_>,
) -> Result<CompiledRule, PolicyError> {
    let empty = |name: &str| {
        if name.is_empty() {
            Err(PolicyError::EmptyRelation(owner.key.clone()))
        } else {
            Ok(())
        }
    };
    Ok(match rule {
        Rule::Granted => CompiledRule::Granted,
        Rule::RoleAvailable => CompiledRule::RoleAvailable,
        Rule::Grant(key) => {
            let idx = index.lookup(|| format!("the rule of {}", owner.key), key)?;
            let referenced = &catalogue[idx as usize];
            // A rule is evaluated in the query's context; a resource-scoped
            // permission of another type has no resource there.
            let compatible = match &referenced.scope {
                ScopeKind::Org | ScopeKind::Workspace => true,
                resource @ ScopeKind::Resource(_) => *resource == owner.scope,
            };
            if !compatible {
                return Err(PolicyError::RuleScope {
                    permission: owner.key.clone(),
                    scope: owner.scope.clone(),
                    referenced: referenced.key.clone(),
                    referenced_scope: referenced.scope.clone(),
                });
            }
            CompiledRule::Grant(idx)
        }
        Rule::Relation(name) => {
            empty(name)?;
            CompiledRule::Relation(name.clone())
        }
        Rule::AnyRelation(names) => {
            for name in names {
                empty(name)?;
            }
            CompiledRule::AnyRelation(names.clone())
        }
        Rule::All(rules) => CompiledRule::All(
            rules
                .iter()
                .map(|r| compile_rule(owner, r, catalogue, index))
                .collect::<Result<_, _>>()?,
        ),
        Rule::Any(rules) => CompiledRule::Any(
            rules
                .iter()
                .map(|r| compile_rule(owner, r, catalogue, index))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Rejects rules that (transitively) read their own permission, which would
/// make evaluation recurse forever.
fn check_rule_cycles(permissions: &[CompiledPermission]) -> Result<(), PolicyError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn edges(rule: &CompiledRule, out: &mut Vec<PermIdx>) {
        match rule {
            CompiledRule::Grant(idx) => out.push(*idx),
            CompiledRule::All(rules) | CompiledRule::Any(rules) => {
                rules.iter().for_each(|r| edges(r, out));
            }
            _ => {}
        }
    }
    fn visit(
        node: usize,
        permissions: &[CompiledPermission],
        marks: &mut [Mark],
    ) -> Result<(), PolicyError> {
        match marks[node] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                return Err(PolicyError::RuleCycle(permissions[node].def.key.clone()));
            }
            Mark::New => {}
        }
        marks[node] = Mark::Visiting;
        if let CompiledKind::Derived { rule } = &permissions[node].kind {
            let mut next = Vec::new();
            edges(rule, &mut next);
            for n in next {
                visit(n as usize, permissions, marks)?;
            }
        }
        marks[node] = Mark::Done;
        Ok(())
    }
    let mut marks = vec![Mark::New; permissions.len()];
    for node in 0..permissions.len() {
        visit(node, permissions, &mut marks)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authz::catalogue::ModuleAction;

    fn key(k: &str) -> PermissionKey {
        PermissionKey::parse(k).unwrap()
    }

    fn plain(k: &str) -> PermissionDef {
        PermissionDef::plain(key(k), ScopeKind::Org, "")
    }

    fn derived(k: &str, rule: Rule) -> PermissionDef {
        PermissionDef {
            key: key(k),
            description: String::new(),
            scope: ScopeKind::Org,
            kind: PermissionKind::Derived { rule },
        }
    }

    fn build(catalogue: Vec<PermissionDef>, roles: Vec<Role>) -> Result<Policy, PolicyError> {
        Policy::new(catalogue, roles, Vec::new(), OrgDefaults::default())
    }

    #[test]
    fn rejects_duplicate_permission() {
        let err = build(vec![plain("a"), plain("a")], vec![]).unwrap_err();
        assert_eq!(err, PolicyError::DuplicatePermission(key("a")));
    }

    #[test]
    fn rejects_unknown_role_grant() {
        let mut role = Role::new("r", "r", "R");
        role.grants.insert(key("missing"), Grant::Allow);
        let err = build(vec![plain("a")], vec![role]).unwrap_err();
        assert!(
            matches!(err, PolicyError::UnknownPermission { .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_rule_cycles() {
        let err = build(
            vec![
                derived("a", Rule::Grant(key("b"))),
                derived("b", Rule::Any(vec![Rule::Granted, Rule::Grant(key("a"))])),
            ],
            vec![],
        )
        .unwrap_err();
        assert!(matches!(err, PolicyError::RuleCycle(_)), "{err}");
    }

    #[test]
    fn rejects_module_key_in_grants_and_plain_key_in_module_policies() {
        let module = PermissionDef {
            key: key("board.write"),
            description: String::new(),
            scope: ScopeKind::Org,
            kind: PermissionKind::Module {
                module: "board".into(),
                action: ModuleAction::Write,
                default_from: key("edit"),
            },
        };
        let mut role = Role::new("r", "r", "R");
        role.grants.insert(key("board.write"), Grant::Allow);
        let err = build(vec![plain("edit"), module.clone()], vec![role]).unwrap_err();
        assert!(matches!(err, PolicyError::GrantKind { .. }), "{err}");

        let mut role = Role::new("r", "r", "R");
        role.module_policies.insert(key("edit"), Grant::Allow);
        let err = build(vec![plain("edit"), module], vec![role]).unwrap_err();
        assert!(matches!(err, PolicyError::GrantKind { .. }), "{err}");
    }

    #[test]
    fn rejects_ineffective_derived_grant() {
        let mut role = Role::new("r", "r", "R");
        role.grants.insert(key("d"), Grant::Allow);
        let err = build(
            vec![plain("a"), derived("d", Rule::Grant(key("a")))],
            vec![role],
        )
        .unwrap_err();
        assert!(matches!(err, PolicyError::IneffectiveGrant { .. }), "{err}");
    }

    #[test]
    fn rejects_bad_role_keys_and_duplicates() {
        let err = build(vec![], vec![Role::new("r", "View Manager", "x")]).unwrap_err();
        assert!(matches!(err, PolicyError::InvalidRoleKey(_)));
        let err = build(
            vec![],
            vec![Role::new("r", "a", "x"), Role::new("r", "b", "y")],
        )
        .unwrap_err();
        assert!(matches!(err, PolicyError::DuplicateRole(_)));
        let err = build(
            vec![],
            vec![Role::new("r1", "a", "x"), Role::new("r2", "a", "y")],
        )
        .unwrap_err();
        assert!(matches!(err, PolicyError::DuplicateRoleKey(_)));
    }

    #[test]
    fn rejects_sets_outside_applications() {
        let set = PermissionSet {
            id: SetId::new("s"),
            name: "S".into(),
            description: String::new(),
            application: "app1".into(),
            permissions: [key("a")].into_iter().collect(),
        };
        let err =
            Policy::new(vec![plain("a")], vec![], vec![set], OrgDefaults::default()).unwrap_err();
        assert!(
            matches!(err, PolicyError::SetPermissionScope { .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_unknown_set_on_role() {
        let mut role = Role::new("r", "r", "R");
        role.permission_sets.push(SetId::new("nope"));
        let err = build(vec![], vec![role]).unwrap_err();
        assert!(matches!(err, PolicyError::UnknownSet { .. }));
    }

    #[test]
    fn rejects_rule_reading_other_resource_type() {
        let wf = ScopeKind::resource("workflow").unwrap();
        let other = PermissionDef::plain(key("app.use"), ScopeKind::resource("app").unwrap(), "");
        let mut rule_owner = derived("wf.x", Rule::Grant(key("app.use")));
        rule_owner.scope = wf;
        let err = build(vec![other, rule_owner], vec![]).unwrap_err();
        assert!(matches!(err, PolicyError::RuleScope { .. }), "{err}");
    }
}
