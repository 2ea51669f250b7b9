//! The admin lists: permission-set search (seed 002) and RACI selection
//! lists (seed 004).

use super::*;

fn set(id: &str, name: &str, application: &str) -> PermissionSet {
    PermissionSet {
        id: SetId::from(id),
        name: name.into(),
        description: String::new(),
        application: ResourceId::from(application),
        permissions: [key("steps.origin.create")].into(),
    }
}

fn sets_policy() -> Policy {
    preset_policy_with(
        "permission-sets",
        vec![],
        vec![
            set("s1", "Log New Incident", "incidents"),
            set("s2", "Review Incident", "incidents"),
            set("s3", "Log New Order", "orders"),
        ],
    )
}

fn names(sets: Vec<&PermissionSet>) -> Vec<&str> {
    sets.into_iter().map(|s| s.name.as_str()).collect()
}

fn builder_of(application: &str) -> Subject {
    Subject::active()
        .bind("b0", "member", BindingScope::Org)
        .bind(
            "b1",
            "app_builder",
            BindingScope::resource(rtype("application"), application),
        )
}

#[test]
fn sets_are_searched_by_name_or_application() {
    let policy = sets_policy();
    let admin = Subject::active().bind("b0", "system_admin", BindingScope::Org);
    let find = |text: Option<&str>, application: Option<&str>| {
        let search = SetSearch {
            text: text.map(str::to_owned),
            application: application.map(ResourceId::from),
        };
        names(find_sets(&policy, Some(&admin), &search).unwrap())
    };
    assert_eq!(
        find(None, None),
        ["Log New Incident", "Review Incident", "Log New Order"]
    );
    // By name, case-insensitively.
    assert_eq!(
        find(Some("log new"), None),
        ["Log New Incident", "Log New Order"]
    );
    assert_eq!(find(Some("REVIEW"), None), ["Review Incident"]);
    // By application, as text or exactly.
    assert_eq!(find(Some("orders"), None), ["Log New Order"]);
    assert_eq!(
        find(None, Some("incidents")),
        ["Log New Incident", "Review Incident"]
    );
    assert_eq!(find(Some("log"), Some("incidents")), ["Log New Incident"]);
    assert!(find(Some("nothing like it"), None).is_empty());
    // An exact application is not a substring.
    assert!(find(None, Some("incident")).is_empty());
}

#[test]
fn the_list_hides_sets_of_applications_the_viewer_cannot_build() {
    // "You may not see an Application on this list if you have not been
    // granted build access to that application."
    let policy = sets_policy();
    let all = SetSearch::default();
    assert_eq!(
        names(find_sets(&policy, Some(&builder_of("orders")), &all).unwrap()),
        ["Log New Order"]
    );
    assert_eq!(
        names(find_sets(&policy, Some(&builder_of("incidents")), &all).unwrap()),
        ["Log New Incident", "Review Incident"]
    );
    let member = Subject::active().bind("b0", "member", BindingScope::Org);
    assert!(find_sets(&policy, Some(&member), &all).unwrap().is_empty());
    // A builder's search never reaches another application's sets.
    let search = SetSearch {
        text: Some("incident".into()),
        application: None,
    };
    assert!(
        find_sets(&policy, Some(&builder_of("orders")), &search)
            .unwrap()
            .is_empty()
    );
    // A suspended builder sees nothing; the operator sees everything.
    let mut suspended = builder_of("orders");
    suspended.status = UserStatus::Suspended;
    assert!(
        find_sets(&policy, Some(&suspended), &all)
            .unwrap()
            .is_empty()
    );
    assert_eq!(find_sets(&policy, None, &all).unwrap().len(), 3);
}

#[test]
fn builders_of_any_application_may_search_sets() {
    let policy = sets_policy();
    assert!(builds_some_application(&policy, &builder_of("orders")).unwrap());
    // An application with no sets yet counts too.
    assert!(builds_some_application(&policy, &builder_of("new_app")).unwrap());
    let member = Subject::active().bind("b0", "member", BindingScope::Org);
    assert!(!builds_some_application(&policy, &member).unwrap());
    // An org-level grant builds every application, sets or not.
    let admin = Subject::active().bind("b0", "system_admin", BindingScope::Org);
    assert!(builds_some_application(&preset_policy("permission-sets"), &admin).unwrap());
    // So does an individual allow on one application.
    let mut given = member.clone();
    given.overrides.push(IndividualOverride {
        id: OverrideId::from("o1"),
        permission: key("app.build"),
        grant: Grant::Allow,
        scope: BindingScope::resource(rtype("application"), "crm"),
    });
    assert!(builds_some_application(&policy, &given).unwrap());
    // Suspended builders build nothing.
    let mut suspended = builder_of("orders");
    suspended.status = UserStatus::Suspended;
    assert!(!builds_some_application(&policy, &suspended).unwrap());
}

#[test]
fn presets_without_applications_build_nothing() {
    // No `app.build` in the catalogue: nobody builds, nothing is listed,
    // and neither question is an error.
    let policy = preset_policy("analytics");
    let owner = Subject::active().bind("b0", "owner", BindingScope::Org);
    assert!(!builds_some_application(&policy, &owner).unwrap());
    assert!(
        find_sets(&policy, Some(&owner), &SetSearch::default())
            .unwrap()
            .is_empty()
    );
}

fn in_workspace(role: &str, workspace: &str) -> Subject {
    Subject::active()
        .bind("b0", "user", BindingScope::Org)
        .bind("b1", role, BindingScope::workspace(workspace))
}

fn lists_of(policy: &Policy, subject: &Subject, workspace: &str) -> Vec<&'static str> {
    SelectionList::ALL
        .into_iter()
        .filter(|l| on_selection_list(policy, subject, &WorkspaceId::from(workspace), *l))
        .map(SelectionList::as_str)
        .collect()
}

#[test]
fn a_workspace_role_puts_its_holders_on_its_selection_lists() {
    // "It indicates that your name appears in the Manager selection list
    // when you create or change items" — per role, in the workspace the
    // role is held in.
    let policy = preset_policy("workspace-roles");
    let expected = [
        (
            "project_admin",
            vec!["manager", "responsible", "editor", "reader"],
        ),
        ("manager", vec!["manager", "responsible"]),
        ("editor", vec!["responsible", "editor"]),
        ("contributor", vec!["responsible", "editor", "reader"]),
        ("reader", vec!["reader"]),
    ];
    for (role, lists) in expected {
        assert_eq!(
            lists_of(&policy, &in_workspace(role, "w1"), "w1"),
            lists,
            "{role}"
        );
        // Nothing in a workspace the role is not held in.
        assert!(
            lists_of(&policy, &in_workspace(role, "w1"), "w2").is_empty(),
            "{role}"
        );
    }
    assert_eq!(
        roles_on_list(&policy, SelectionList::Manager),
        [RoleId::from("project_admin"), RoleId::from("manager")]
    );
}

#[test]
fn selection_lists_need_a_workspace_binding_and_an_active_user() {
    let policy = preset_policy("workspace-roles");
    // Org-level roles carry no selection lists: the system administrator,
    // who holds every flag everywhere, is on none.
    let sysadmin = Subject::active().bind("b0", "system_administrator", BindingScope::Org);
    assert!(lists_of(&policy, &sysadmin, "w1").is_empty());
    // A suspended manager is on no list.
    let mut suspended = in_workspace("manager", "w1");
    suspended.status = UserStatus::Suspended;
    assert!(lists_of(&policy, &suspended, "w1").is_empty());
    // A binding on w1 puts its holder on w1's lists even when an admin
    // restricted their workspace list elsewhere: the binding itself makes
    // w1 visible (SPEC §2).
    let mut reviewer = custom_role("reviewer", ScopeKind::Org, &[]);
    reviewer.visibility = VisibilityMode::Optional;
    let policy = preset_policy_with("workspace-roles", vec![reviewer], vec![]);
    let restricted = Subject::active()
        .bind("b0", "reviewer", BindingScope::Org)
        .bind("b1", "manager", BindingScope::workspace("w1"))
        .with_workspaces(WorkspaceAccess::only(["w2"]));
    assert_eq!(
        lists_of(&policy, &restricted, "w1"),
        ["manager", "responsible"]
    );
    assert!(lists_of(&policy, &restricted, "w2").is_empty());
}

#[test]
fn custom_roles_choose_their_lists_and_unknown_lists_are_refused() {
    let mut approver = custom_role("approver", ScopeKind::Workspace, &["read_all"]);
    approver
        .attributes
        .insert(SELECTION_LISTS.into(), serde_json::json!(["manager"]));
    let policy = preset_policy_with("workspace-roles", vec![approver], vec![]);
    assert_eq!(
        lists_of(&policy, &in_workspace("approver", "w1"), "w1"),
        ["manager"]
    );
    assert_eq!("editor".parse(), Ok(SelectionList::Editor));
    let err = "accountable".parse::<SelectionList>().unwrap_err();
    assert!(
        err.contains("manager, responsible, editor, reader"),
        "{err}"
    );
}
