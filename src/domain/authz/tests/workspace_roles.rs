//! Preset "workspace-roles" (seed 004).

use super::*;

/// A user with `role` in workspace w1.
fn in_w1(role: &str) -> Subject {
    Subject::active()
        .bind("b0", "user", BindingScope::Org)
        .bind("b1", role, BindingScope::workspace("w1"))
}

/// Read, change, close of item i1 in w1 with the given relations.
fn abilities(policy: &Policy, subject: &Subject, relations: &[&str]) -> [bool; 3] {
    ["item.read", "item.change", "item.close"].map(|permission| {
        let mut query = Query::of(permission).on_in(rtype("item"), "i1", "w1");
        for relation in relations {
            query = query.with_relation(relation);
        }
        allowed(policy, subject, &query)
    })
}

#[test]
fn reader_relation_reads_only() {
    let policy = preset_policy("workspace-roles");
    let reader = in_w1("reader");
    assert_eq!(abilities(&policy, &reader, &[]), [false, false, false]);
    assert_eq!(
        abilities(&policy, &reader, &["reader"]),
        [true, false, false]
    );
    for relation in ["author", "manager", "responsible", "editor"] {
        assert_eq!(
            abilities(&policy, &reader, &[relation]),
            [true, true, false],
            "{relation}"
        );
    }
}

#[test]
fn read_all_and_change_all_need_no_relation() {
    let policy = preset_policy("workspace-roles");
    // Editor: reads everything, changes own items, closes as responsible.
    let editor = in_w1("editor");
    assert_eq!(abilities(&policy, &editor, &[]), [true, false, false]);
    assert_eq!(
        abilities(&policy, &editor, &["editor"]),
        [true, true, false]
    );
    assert_eq!(
        abilities(&policy, &editor, &["responsible"]),
        [true, true, true]
    );
    // Manager: everything.
    assert_eq!(
        abilities(&policy, &in_w1("manager"), &[]),
        [true, true, true]
    );
}

#[test]
fn close_needs_change_and_a_matching_close_flag() {
    let policy = preset_policy("workspace-roles");
    let contributor = in_w1("contributor");
    assert_eq!(
        abilities(&policy, &contributor, &["author"]),
        [true, true, true]
    );
    assert_eq!(
        abilities(&policy, &contributor, &["manager"]),
        [true, true, true]
    );
    assert_eq!(
        abilities(&policy, &contributor, &["responsible"]),
        [true, true, false]
    );
    // close_all does not imply change.
    let closer = custom_role("closer", ScopeKind::Workspace, &["read_all", "close_all"]);
    let policy = preset_policy_with("workspace-roles", vec![closer], vec![]);
    assert_eq!(
        abilities(&policy, &in_w1("closer"), &["author"]),
        [true, false, false]
    );
}

#[test]
fn derived_decisions_explain_their_rule() {
    let policy = preset_policy("workspace-roles");
    let query = Query::of("item.change")
        .on_in(rtype("item"), "i1", "w1")
        .with_relation("editor");
    let decision = decide(&policy, &in_w1("reader"), &query);
    assert!(decision.allowed);
    let steps: Vec<Step> = decision.reasons.iter().map(|r| r.step).collect();
    assert_eq!(
        steps,
        [Step::Visibility, Step::Rule, Step::Role, Step::Rule]
    );
    assert!(decision.reasons[1].message.contains("read_change_own"));
    assert_eq!(decision.reasons[2].role, Some(RoleKey::from("reader")));
    assert!(decision.reasons[3].message.contains("editor"));
    let denied = decide(
        &policy,
        &in_w1("reader"),
        &Query::of("item.change").on_in(rtype("item"), "i1", "w1"),
    );
    assert!(!denied.allowed);
    assert_eq!(denied.reasons.last().unwrap().effect, Effect::Deny);
}

#[test]
fn workspace_roles_stay_in_their_workspace() {
    let policy = preset_policy("workspace-roles");
    let manager = in_w1("manager");
    // w2 is not visible (org role `user` has visibility `no`).
    let decision = decide(
        &policy,
        &manager,
        &Query::of("item.read").on_in(rtype("item"), "i2", "w2"),
    );
    assert!(!decision.allowed);
    assert_eq!(decision.reasons[0].step, Step::Visibility);
    // Visible but not bound: no grant.
    let visible = manager
        .clone()
        .with_workspaces(WorkspaceAccess::only(["w2"]));
    assert!(!allowed(
        &policy,
        &visible,
        &Query::of("item.read").on_in(rtype("item"), "i2", "w2")
    ));
    // An item that does not say where it lives is judged org-wide.
    assert!(!allowed(
        &policy,
        &manager,
        &Query::of("item.read").on(rtype("item"), "i3")
    ));
    // The system administrator's org-level flags hold in every workspace.
    let sysadmin = Subject::active().bind("b0", "system_administrator", BindingScope::Org);
    assert!(allowed(
        &policy,
        &sysadmin,
        &Query::of("item.close").on_in(rtype("item"), "i2", "w2")
    ));
}

#[test]
fn raci_selection_lists_are_role_attributes() {
    let policy = preset_policy("workspace-roles");
    let lists = &policy.role("editor").unwrap().attributes["selection_lists"];
    assert_eq!(lists, &serde_json::json!(["responsible", "editor"]));
}
