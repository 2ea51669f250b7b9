//! Seed 004 beyond the flags: sub-workspaces and inheritance, the
//! workspace-admin flag's permissions at workspace scope, item types and
//! field restrictions. Each test reads like the seed sentence it implements.

use super::*;

fn ws(s: &str) -> WorkspaceId {
    WorkspaceId::new(s)
}

/// `acme` > `acme_eu` > `acme_eu_ops`, and `other` beside them.
fn tree_policy(extra_roles: Vec<Role>) -> Policy {
    let pairs = [
        (ws("acme"), None),
        (ws("acme_eu"), Some(ws("acme"))),
        (ws("acme_eu_ops"), Some(ws("acme_eu"))),
        (ws("other"), None),
    ];
    preset_policy_with("workspace-roles", extra_roles, vec![])
        .with_workspaces(pairs.iter().map(|(w, p)| (w, p.as_ref())))
        .unwrap()
}

fn member_of(workspace: &str, role: &str) -> Subject {
    let mut s = Subject::active()
        .bind("b0", "user", BindingScope::Org)
        .bind("b1", role, BindingScope::workspace(workspace));
    s.workspaces = WorkspaceAccess::all();
    s
}

fn can(policy: &Policy, s: &Subject, perm: &str, workspace: &str) -> bool {
    allowed(policy, s, &Query::of(perm).in_workspace(workspace))
}

#[test]
fn a_workspace_role_bound_on_a_workspace_holds_in_its_sub_workspaces() {
    let policy = tree_policy(vec![]);
    let manager = member_of("acme", "manager");
    for w in ["acme", "acme_eu", "acme_eu_ops"] {
        assert!(can(&policy, &manager, "change_all", w), "{w}");
    }
    assert!(!can(&policy, &manager, "change_all", "other"));
    // Not upwards: a role on the child says nothing about the parent.
    let child = member_of("acme_eu", "manager");
    assert!(can(&policy, &child, "change_all", "acme_eu_ops"));
    assert!(!can(&policy, &child, "change_all", "acme"));
    // The reason names the binding made on the ancestor.
    let d = decide(
        &policy,
        &manager,
        &Query::of("change_all").in_workspace("acme_eu_ops"),
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r.binding.as_ref().map(|b| b.as_str()) == Some("b1"))
    );
    // Sub-workspaces are visible through the inherited binding.
    let vis = visible_workspaces(
        &policy,
        &manager,
        &[ws("acme"), ws("acme_eu"), ws("acme_eu_ops"), ws("other")],
    )
    .unwrap();
    assert_eq!(
        vis.workspaces,
        [ws("acme"), ws("acme_eu"), ws("acme_eu_ops")]
    );
}

#[test]
fn a_role_that_does_not_inherit_holds_only_where_it_is_bound() {
    let mut flat = custom_role("flat_manager", ScopeKind::Workspace, &["change_all"]);
    flat.inherits_to_children = false;
    let policy = tree_policy(vec![flat]);
    let s = member_of("acme", "flat_manager");
    assert!(can(&policy, &s, "change_all", "acme"));
    assert!(!can(&policy, &s, "change_all", "acme_eu"));
    // The sub-workspace is not even visible through it.
    let d = decide(
        &policy,
        &s,
        &Query::of("change_all").in_workspace("acme_eu"),
    );
    assert_eq!(d.reasons[0].step, Step::Visibility);
    assert!(!d.allowed);
}

#[test]
fn a_workspace_list_entry_makes_its_sub_workspaces_visible() {
    let policy = tree_policy(vec![]);
    let mut s = Subject::active().bind("b0", "user", BindingScope::Org);
    s.workspaces = WorkspaceAccess::only(["acme_eu"]);
    let vis = visible_workspaces(
        &policy,
        &s,
        &[ws("acme"), ws("acme_eu"), ws("acme_eu_ops"), ws("other")],
    )
    .unwrap();
    assert_eq!(vis.workspaces, [ws("acme_eu"), ws("acme_eu_ops")]);
    let (visible, reason) = workspace_visible(&policy, &s, &ws("acme_eu_ops")).unwrap();
    assert!(visible, "{}", reason.message);
    assert!(!workspace_visible(&policy, &s, &ws("acme")).unwrap().0);
}

#[test]
fn the_workspace_admin_flag_gives_its_permissions_in_that_workspace_and_below_only() {
    // "You act as workspace administrator or manager: you assign users to
    // the workspace, set all project parameters, archive and delete items,
    // retrieve them from the archive, change other users' comments and
    // their effort bookings. You create sub-workspaces".
    let policy = tree_policy(vec![]);
    let admin = member_of("acme_eu", "project_admin");
    let manager = member_of("acme_eu", "manager");
    for perm in [
        "workspace.members.manage",
        "workspace.settings.manage",
        "workspace.items.archive",
        "workspace.items.delete",
        "workspace.comments.edit_others",
        "workspaces.create_sub",
    ] {
        assert!(can(&policy, &admin, perm, "acme_eu"), "{perm}");
        assert!(can(&policy, &admin, perm, "acme_eu_ops"), "{perm} below");
        assert!(!can(&policy, &admin, perm, "acme"), "{perm} above");
        assert!(!can(&policy, &admin, perm, "other"), "{perm} elsewhere");
        assert!(!can(&policy, &manager, perm, "acme_eu"), "{perm}: manager");
    }
    // None of it is an org-level right.
    for perm in ["gateway.users.manage", "workspaces.create_top_level"] {
        assert!(!allowed(&policy, &admin, &Query::of(perm)), "{perm}");
    }
    // "top-level workspaces are created only by users with system
    // administrator rights".
    let sysadmin = Subject::active().bind("b0", "system_administrator", BindingScope::Org);
    assert!(allowed(
        &policy,
        &sysadmin,
        &Query::of("workspaces.create_top_level")
    ));
    assert!(can(&policy, &sysadmin, "workspaces.create_sub", "other"));
}

fn task_and_bug() -> Vec<ItemType> {
    let field = |k: &str| FieldDef {
        key: FieldKey::new(k),
        name: k.to_owned(),
    };
    vec![
        ItemType {
            key: ItemTypeKey::new("task"),
            name: "Task".into(),
            fields: vec![field("title"), field("due_date"), field("budget")],
        },
        ItemType {
            key: ItemTypeKey::new("bug"),
            name: "Bug".into(),
            fields: vec![field("title"), field("severity")],
        },
    ]
}

fn items_policy(roles: Vec<Role>) -> Policy {
    tree_policy(roles).with_item_types(task_and_bug()).unwrap()
}

fn limited(key_: &str, allow: &[&str], types: &[&str]) -> Role {
    let mut role = custom_role(key_, ScopeKind::Workspace, allow);
    role.items.item_types = Some(types.iter().map(|t| ItemTypeKey::new(*t)).collect());
    role
}

#[test]
fn a_role_limited_to_item_types_grants_nothing_on_other_types() {
    // Seed 004: a role defines "access to item types".
    let policy = items_policy(vec![limited(
        "task_editor",
        &["change_all", "read_all"],
        &["task"],
    )]);
    let s = member_of("acme", "task_editor");
    let on = |t: &str| Query::of("change_all").in_workspace("acme").of_item_type(t);
    assert!(allowed(&policy, &s, &on("task")));
    let d = decide(&policy, &s, &on("bug"));
    assert!(!d.allowed);
    assert!(
        d.reasons.iter().any(
            |r| r.message.contains("limited to item types [task]") && r.message.contains("bug")
        ),
        "{}",
        d.explain()
    );
    // Without an item type the role answers as before.
    assert!(can(&policy, &s, "change_all", "acme"));
    // An unknown type is an input error, never a silent deny.
    assert_eq!(
        check(&policy, &s, &on("epic")),
        Err(CheckError::UnknownItemType(ItemTypeKey::new("epic")))
    );
}

#[test]
fn roles_may_only_name_defined_item_types_and_fields() {
    let mut role = limited("r", &["read_all"], &["epic"]);
    let err = tree_policy(vec![role.clone()]).with_item_types(task_and_bug());
    assert!(matches!(err, Err(PolicyError::UnknownItemType { .. })));
    role.items.item_types = None;
    role.items.fields.insert(
        ItemTypeKey::new("task"),
        [(FieldKey::new("colour"), FieldAccess::Hidden)].into(),
    );
    let err = tree_policy(vec![role]).with_item_types(task_and_bug());
    assert!(matches!(err, Err(PolicyError::UnknownField { .. })));
}

#[test]
fn a_role_hides_fields_or_makes_them_read_only_and_the_most_generous_role_wins() {
    // Seed 004: "hiding fields or making them read-only".
    let mut restricted = custom_role("restricted", ScopeKind::Workspace, &["read_all"]);
    restricted.items.fields.insert(
        ItemTypeKey::new("task"),
        [
            (FieldKey::new("budget"), FieldAccess::Hidden),
            (FieldKey::new("due_date"), FieldAccess::ReadOnly),
        ]
        .into(),
    );
    let mut open_budget = custom_role("budget_reader", ScopeKind::Workspace, &["read_all"]);
    open_budget.items.fields.insert(
        ItemTypeKey::new("task"),
        [(FieldKey::new("budget"), FieldAccess::ReadOnly)].into(),
    );
    let policy = items_policy(vec![restricted, open_budget]);
    let answer = |s: &Subject, w: &str| -> Vec<(String, FieldAccess)> {
        field_access(&policy, s, Some(&ws(w)), &ItemTypeKey::new("task"))
            .unwrap()
            .into_iter()
            .map(|f| (f.field.to_string(), f.access))
            .collect()
    };
    let s = member_of("acme", "restricted");
    assert_eq!(
        answer(&s, "acme_eu"),
        [
            ("title".to_owned(), FieldAccess::Writable),
            ("due_date".to_owned(), FieldAccess::ReadOnly),
            ("budget".to_owned(), FieldAccess::Hidden),
        ]
    );
    // A second role that shows the budget read-only lifts the hiding.
    let both = s
        .clone()
        .bind("b2", "budget_reader", BindingScope::workspace("acme"));
    assert_eq!(
        answer(&both, "acme")[2],
        ("budget".to_owned(), FieldAccess::ReadOnly)
    );
    // Where the user has no role, every field is hidden, with a reason.
    let fields = field_access(&policy, &s, Some(&ws("other")), &ItemTypeKey::new("task")).unwrap();
    assert!(fields.iter().all(|f| f.access == FieldAccess::Hidden));
    assert_eq!(fields[0].reasons[0].step, Step::Visibility);
    // Reasons name the role.
    let fields = field_access(&policy, &s, Some(&ws("acme")), &ItemTypeKey::new("task")).unwrap();
    assert!(
        fields[1].reasons[0].message.contains("role restricted"),
        "{}",
        fields[1].reasons[0].message
    );
}

#[test]
fn fields_of_item_types_outside_a_roles_list_are_hidden() {
    let policy = items_policy(vec![limited("task_only", &["read_all"], &["task"])]);
    let s = member_of("acme", "task_only");
    let bug = field_access(&policy, &s, Some(&ws("acme")), &ItemTypeKey::new("bug")).unwrap();
    assert!(bug.iter().all(|f| f.access == FieldAccess::Hidden));
    assert!(
        bug[0]
            .reasons
            .iter()
            .any(|r| r.message.contains("limited to item types"))
    );
    let task = field_access(&policy, &s, Some(&ws("acme")), &ItemTypeKey::new("task")).unwrap();
    assert!(task.iter().all(|f| f.access == FieldAccess::Writable));
}

#[test]
fn the_tree_refuses_cycles_and_depth_beyond_eight() {
    let pairs: Vec<(WorkspaceId, Option<WorkspaceId>)> = (0..9)
        .map(|i| {
            (
                ws(&format!("w{i}")),
                (i > 0).then(|| ws(&format!("w{}", i - 1))),
            )
        })
        .collect();
    let err = preset_policy("workspace-roles")
        .with_workspaces(pairs.iter().map(|(w, p)| (w, p.as_ref())));
    assert!(matches!(
        err,
        Err(PolicyError::Tree(TreeError::TooDeep { .. }))
    ));
}
