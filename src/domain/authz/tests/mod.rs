//! Cross-module tests of the permission engine: the seed 003 matrix, each
//! preset's distinctive rules, role sources, granting limits and the
//! property tests of the engine's invariants. Unit tests of single modules
//! sit beside those modules.

mod analytics_matrix;
mod create_item;
mod engine_rules;
mod granting;
mod lists;
mod permission_profiles;
mod permission_sets;
mod properties;
mod role_sources;
mod workflow_roles;
mod workspace_roles;
mod workspace_tree;

use super::*;

/// The compiled policy of a built-in preset.
fn preset_policy(name: &str) -> Policy {
    Preset::load(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .policy()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A built-in preset with extra custom roles and sets.
fn preset_policy_with(name: &str, roles: Vec<Role>, sets: Vec<PermissionSet>) -> Policy {
    let mut preset = Preset::load(name).unwrap_or_else(|e| panic!("{e}"));
    preset.roles.extend(roles);
    preset.sets.extend(sets);
    preset.policy().unwrap_or_else(|e| panic!("{e}"))
}

fn key(k: &str) -> PermissionKey {
    PermissionKey::parse(k).unwrap()
}

fn rtype(t: &str) -> ResourceType {
    ResourceType::parse(t).unwrap()
}

/// The decision, panicking on a check error.
fn decide(policy: &Policy, subject: &Subject, query: &Query) -> Decision {
    check(policy, subject, query).unwrap_or_else(|e| panic!("{e}"))
}

fn allowed(policy: &Policy, subject: &Subject, query: &Query) -> bool {
    decide(policy, subject, query).allowed
}

/// A role (custom, not built-in) with the given allows at `binds_at`.
fn custom_role(key_: &str, binds_at: ScopeKind, allow: &[&str]) -> Role {
    let mut role = Role::new(key_, key_, key_);
    role.binds_at = binds_at;
    for k in allow {
        role.grants.insert(key(k), Grant::Allow);
    }
    role
}

/// Whether any reason of `decision` comes from `step`.
fn has_step(decision: &Decision, step: Step) -> bool {
    decision.reasons.iter().any(|r| r.step == step)
}
