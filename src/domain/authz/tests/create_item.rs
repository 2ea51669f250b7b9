//! Seed 004's `create item` flag: "You create items in this workspace."

use super::*;

fn in_w1(role: &str) -> Subject {
    Subject::active()
        .bind("b0", "user", BindingScope::Org)
        .bind("b1", role, BindingScope::workspace("w1"))
        .with_workspaces(WorkspaceAccess::only(["w1", "w2"]))
}

fn creates_in(policy: &Policy, subject: &Subject, workspace: &str) -> bool {
    allowed(
        policy,
        subject,
        &Query::of("create_item").in_workspace(workspace),
    )
}

#[test]
fn the_roles_with_the_create_item_flag_create_items_in_their_workspace() {
    let policy = preset_policy("workspace-roles");
    for role in ["project_admin", "manager", "editor", "contributor"] {
        let decision = decide(
            &policy,
            &in_w1(role),
            &Query::of("create_item").in_workspace("w1"),
        );
        assert!(decision.allowed, "{role}: {}", decision.explain());
        let reason = decision.reasons.last().unwrap();
        assert_eq!(reason.step, Step::Role, "{role}");
        assert_eq!(reason.role, Some(RoleKey::from(role)), "{role}");
    }
    // The Reader role has no create_item flag.
    let decision = decide(
        &policy,
        &in_w1("reader"),
        &Query::of("create_item").in_workspace("w1"),
    );
    assert!(!decision.allowed);
    assert_eq!(decision.reasons.last().unwrap().effect, Effect::Deny);
}

#[test]
fn creating_items_is_limited_to_the_workspace_the_role_is_bound_in() {
    let policy = preset_policy("workspace-roles");
    let manager = in_w1("manager");
    assert!(creates_in(&policy, &manager, "w1"));
    // w2 is visible, but the manager holds no role there.
    assert!(!creates_in(&policy, &manager, "w2"));
    // The org-level role `user` creates nowhere by itself.
    let plain = Subject::active()
        .bind("b0", "user", BindingScope::Org)
        .with_workspaces(WorkspaceAccess::only(["w1"]));
    assert!(!creates_in(&policy, &plain, "w1"));
    // The system administrator's org-level flag holds in every workspace.
    let sysadmin = Subject::active().bind("b0", "system_administrator", BindingScope::Org);
    assert!(creates_in(&policy, &sysadmin, "w1"));
    assert!(creates_in(&policy, &sysadmin, "w2"));
    // A suspended manager creates nothing.
    let mut suspended = in_w1("manager");
    suspended.status = UserStatus::Suspended;
    assert!(!creates_in(&policy, &suspended, "w1"));
}

#[test]
fn create_item_grants_neither_read_nor_change() {
    // "create item" is its own flag: a role holding only it reads and
    // changes nothing it is not related to.
    let creator = custom_role("creator", ScopeKind::Workspace, &["create_item"]);
    let policy = preset_policy_with("workspace-roles", vec![creator], vec![]);
    let subject = in_w1("creator");
    assert!(creates_in(&policy, &subject, "w1"));
    for permission in ["item.read", "item.change", "item.close"] {
        let query = Query::of(permission)
            .on_in(rtype("item"), "i1", "w1")
            .with_relation("author");
        assert!(!allowed(&policy, &subject, &query), "{permission}");
    }
}
