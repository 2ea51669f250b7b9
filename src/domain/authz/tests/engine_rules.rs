//! General engine behaviour: status first, typed errors, scopes, workspace
//! visibility (both states of `optional`), defaults, explanations.

use super::*;

#[test]
fn status_is_checked_first() {
    let policy = preset_policy("analytics");
    for status in [
        UserStatus::Invited,
        UserStatus::Suspended,
        UserStatus::Deprovisioned,
    ] {
        let mut subject = Subject::with_status(status).bind("b1", "owner", BindingScope::Org);
        subject.overrides.push(IndividualOverride {
            id: "o1".into(),
            permission: key("billing.legacy"),
            grant: Grant::Allow,
            scope: BindingScope::Org,
        });
        let decision = decide(&policy, &subject, &Query::of("billing.legacy"));
        assert!(!decision.allowed);
        assert_eq!(decision.reasons.len(), 1);
        assert_eq!(decision.reasons[0].step, Step::Status);
        assert!(decision.reasons[0].message.contains(status.as_str()));
        // Also before visibility, and even with dangling references.
        subject.bindings[0].role = "no_such_role".into();
        let decision = decide(
            &policy,
            &subject,
            &Query::of("dashboards.view").in_workspace("w9"),
        );
        assert_eq!(decision.reasons[0].step, Step::Status);
    }
    let owner = Subject::active().bind("b1", "owner", BindingScope::Org);
    assert!(allowed(&policy, &owner, &Query::of("billing.legacy")));
}

#[test]
fn unknown_permission_and_missing_context_are_errors() {
    let policy = preset_policy("workflow-roles");
    let subject = Subject::active().bind("b1", "admin", BindingScope::Org);
    assert_eq!(
        check(&policy, &subject, &Query::of("no.such.permission")),
        Err(CheckError::UnknownPermission(key("no.such.permission")))
    );
    assert!(matches!(
        check(&policy, &subject, &Query::of("statuspage.interact")),
        Err(CheckError::MissingResource { .. })
    ));
    assert!(matches!(
        check(
            &policy,
            &subject,
            &Query::of("statuspage.interact").on(rtype("incident"), "7")
        ),
        Err(CheckError::ResourceTypeMismatch { .. })
    ));
    assert!(matches!(
        check(
            &policy,
            &subject,
            &Query::of("statuspage.interact")
                .on_in(rtype("workflow"), "7", "w1")
                .in_workspace("w2")
        ),
        Err(CheckError::WorkspaceMismatch { .. })
    ));
}

#[test]
fn dangling_subject_references_are_errors() {
    let policy = preset_policy("analytics");
    let subject = Subject::active().bind("b1", "ghost", BindingScope::Org);
    assert!(matches!(
        check(&policy, &subject, &Query::of("billing.legacy")),
        Err(CheckError::UnknownRole { .. })
    ));
    let subject = Subject::active().add_set("ghost");
    assert!(matches!(
        check(&policy, &subject, &Query::of("billing.legacy")),
        Err(CheckError::UnknownSet(_))
    ));
    let mut subject = Subject::active();
    subject.overrides.push(IndividualOverride {
        id: "o1".into(),
        permission: key("ghost.permission"),
        grant: Grant::Allow,
        scope: BindingScope::Org,
    });
    assert!(matches!(
        check(&policy, &subject, &Query::of("billing.legacy")),
        Err(CheckError::UnknownOverridePermission { .. })
    ));
}

#[test]
fn workspace_permission_without_workspace_uses_org_bindings_only() {
    let policy = preset_policy("workspace-roles");
    // Project admin of w1 only, through a workspace-scoped binding.
    let subject = Subject::active()
        .bind("b0", "user", BindingScope::Org)
        .bind("b1", "project_admin", BindingScope::workspace("w1"));
    assert!(allowed(
        &policy,
        &subject,
        &Query::of("read_all").in_workspace("w1")
    ));
    assert!(!allowed(&policy, &subject, &Query::of("read_all")));
    assert!(!allowed(
        &policy,
        &subject,
        &Query::of("read_all").in_workspace("w2")
    ));
    // An org-level binding answers without a workspace.
    let sysadmin = Subject::active().bind("b0", "system_administrator", BindingScope::Org);
    assert!(allowed(&policy, &sysadmin, &Query::of("read_all")));
}

#[test]
fn workspace_bindings_never_grant_org_permissions() {
    let mut role = custom_role(
        "ws_settings",
        ScopeKind::Workspace,
        &["gateway.settings.manage"],
    );
    role.grants.insert(key("read_all"), Grant::Allow);
    let policy = preset_policy_with("workspace-roles", vec![role], vec![]);
    let subject = Subject::active().bind("b1", "ws_settings", BindingScope::workspace("w1"));
    assert!(!allowed(
        &policy,
        &subject,
        &Query::of("gateway.settings.manage").in_workspace("w1")
    ));
    assert!(allowed(
        &policy,
        &subject,
        &Query::of("read_all").in_workspace("w1")
    ));
}

#[test]
fn optional_visibility_in_both_states() {
    let policy = preset_policy("analytics");
    let all: Vec<WorkspaceId> = ["w1", "w2"].map(WorkspaceId::from).to_vec();
    // Unrestricted: sees every workspace, including ones created later.
    let open = Subject::active().bind("b1", "view_manager", BindingScope::Org);
    let answer = visible_workspaces(&policy, &open, &all).unwrap();
    assert!(answer.all);
    assert_eq!(answer.workspaces, all);
    assert!(allowed(
        &policy,
        &open,
        &Query::of("dashboards.view").in_workspace("w_new")
    ));
    // Restricted by an admin: only the list.
    let restricted = open
        .clone()
        .with_workspaces(WorkspaceAccess::only(["w2"]).with_home("w2"));
    let answer = visible_workspaces(&policy, &restricted, &all).unwrap();
    assert!(!answer.all);
    assert_eq!(answer.workspaces, vec![WorkspaceId::from("w2")]);
    assert_eq!(answer.home, Some(WorkspaceId::from("w2")));
    let hidden = decide(
        &policy,
        &restricted,
        &Query::of("dashboards.view").in_workspace("w1"),
    );
    assert!(!hidden.allowed);
    assert_eq!(hidden.reasons.len(), 1);
    assert_eq!(hidden.reasons[0].step, Step::Visibility);
    assert_eq!(hidden.reasons[0].workspace, Some(WorkspaceId::from("w1")));
    assert!(allowed(
        &policy,
        &restricted,
        &Query::of("dashboards.view").in_workspace("w2")
    ));
}

#[test]
fn visibility_no_sees_only_assigned_and_bound_workspaces() {
    let policy = preset_policy("analytics");
    let all: Vec<WorkspaceId> = ["w1", "w2", "w3"].map(WorkspaceId::from).to_vec();
    let unassigned = Subject::active().bind("b1", "workspace_admin", BindingScope::Org);
    let answer = visible_workspaces(&policy, &unassigned, &all).unwrap();
    assert!(!answer.all);
    assert!(answer.workspaces.is_empty());
    assert!(!allowed(
        &policy,
        &unassigned,
        &Query::of("dashboards.view").in_workspace("w1")
    ));
    // Org-scoped permissions asked without a workspace are unaffected.
    assert!(allowed(
        &policy,
        &unassigned,
        &Query::of("org.settings.manage")
    ));

    let assigned = unassigned
        .clone()
        .with_workspaces(WorkspaceAccess::only(["w1"]).with_home("w3"));
    let answer = visible_workspaces(&policy, &assigned, &all).unwrap();
    assert_eq!(answer.workspaces, vec![WorkspaceId::from("w1")]);
    // A home workspace is a preference, not access.
    assert_eq!(answer.home, None);

    // A workspace-scoped binding makes its workspace visible.
    let bound = assigned.bind("b2", "read_only", BindingScope::workspace("w3"));
    let answer = visible_workspaces(&policy, &bound, &all).unwrap();
    assert_eq!(
        answer.workspaces,
        ["w1", "w3"].map(WorkspaceId::from).to_vec()
    );
    let decision = decide(
        &policy,
        &bound,
        &Query::of("dashboards.view").in_workspace("w3"),
    );
    assert!(decision.allowed, "{}", decision.explain());
    assert_eq!(decision.reasons[0].binding, Some(BindingId::from("b2")));
}

#[test]
fn the_most_permissive_org_role_decides_visibility() {
    let policy = preset_policy("analytics");
    let subject = Subject::active()
        .bind("b1", "integrations_manager", BindingScope::Org)
        .bind("b2", "admin", BindingScope::Org);
    let answer = visible_workspaces(&policy, &subject, &["w1".into()]).unwrap();
    assert!(answer.all);
    assert_eq!(answer.reason.role, Some(RoleKey::from("admin")));
}

#[test]
fn inactive_users_see_no_workspace() {
    let policy = preset_policy("analytics");
    let subject =
        Subject::with_status(UserStatus::Suspended).bind("b1", "owner", BindingScope::Org);
    let answer = visible_workspaces(&policy, &subject, &["w1".into()]).unwrap();
    assert!(answer.workspaces.is_empty());
    assert_eq!(answer.reason.step, Step::Status);
}

#[test]
fn reasons_name_the_binding_and_role_that_decided() {
    let policy = preset_policy("analytics");
    let mut subject = Subject::active().bind("b7", "view_manager", BindingScope::Org);
    subject.bindings[0].principal = Principal::Group(GroupId::from("eng"));
    let decision = decide(
        &policy,
        &subject,
        &Query::of("metrics.edit").in_workspace("w1"),
    );
    assert!(decision.allowed);
    assert_eq!(decision.reasons.len(), 2);
    let role = &decision.reasons[1];
    assert_eq!(role.step, Step::Role);
    assert_eq!(role.effect, Effect::Allow);
    assert_eq!(role.binding, Some(BindingId::from("b7")));
    assert_eq!(role.role, Some(RoleKey::from("view_manager")));
    assert_eq!(role.permission, Some(key("metrics.edit")));
    assert!(
        role.message.contains("through group eng"),
        "{}",
        role.message
    );

    let denied = decide(&policy, &subject, &Query::of("billing.legacy"));
    assert!(!denied.allowed);
    assert_eq!(denied.reasons.last().unwrap().step, Step::NoGrant);
    assert!(denied.explain().starts_with("denied; "));
}

#[test]
fn deny_beats_allow_across_bindings() {
    let mut denier = custom_role("denier", ScopeKind::Org, &[]);
    denier.grants.insert(key("metrics.edit"), Grant::Deny);
    let policy = preset_policy_with("analytics", vec![denier], vec![]);
    let subject = Subject::active()
        .bind("b1", "admin", BindingScope::Org)
        .bind("b2", "denier", BindingScope::Org);
    let decision = decide(
        &policy,
        &subject,
        &Query::of("metrics.edit").in_workspace("w1"),
    );
    assert!(!decision.allowed);
    assert_eq!(
        decision.reasons.last().unwrap().binding,
        Some(BindingId::from("b2"))
    );
}

#[test]
fn individual_deny_beats_role_allow_and_individual_allow_beats_role_deny() {
    let policy = preset_policy("analytics");
    let subject = Subject::active()
        .bind("b1", "owner", BindingScope::Org)
        .override_with("o1", key("billing.legacy"), Grant::Deny, BindingScope::Org);
    let decision = decide(&policy, &subject, &Query::of("billing.legacy"));
    assert!(!decision.allowed);
    assert_eq!(decision.reasons[0].step, Step::IndividualDeny);
    assert_eq!(decision.reasons[0].individual, Some(OverrideId::from("o1")));

    let subject = Subject::active()
        .bind("b1", "read_only", BindingScope::Org)
        .override_with(
            "o2",
            key("dashboards.edit"),
            Grant::Allow,
            BindingScope::workspace("w1"),
        );
    assert!(allowed(
        &policy,
        &subject,
        &Query::of("dashboards.edit").in_workspace("w1")
    ));
    // The individual allow is scoped to w1.
    assert!(!allowed(
        &policy,
        &subject,
        &Query::of("dashboards.edit").in_workspace("w2")
    ));
}

#[test]
fn effective_permissions_lists_org_and_workspace_permissions() {
    let policy = preset_policy("analytics");
    let subject = Subject::active().bind("b1", "restricted_read_only", BindingScope::Org);
    let w1 = WorkspaceId::from("w1");
    let effective = effective_permissions(&policy, &subject, Some(&w1)).unwrap();
    assert_eq!(effective.len(), policy.catalogue().len());
    let granted: Vec<_> = effective
        .iter()
        .filter(|(_, d)| d.allowed)
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(
        granted,
        [
            "dashboards.view",
            "deliverables.view",
            "milestones.view",
            "goals.view",
            "dora.view",
            "reports.individuals.view"
        ]
    );
    // Resource-scoped permissions need a resource and are left out.
    let workflow = preset_policy("workflow-roles");
    let member = Subject::active().bind("b1", "member", BindingScope::Org);
    let listed: Vec<_> = effective_permissions(&workflow, &member, None)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert!(listed.contains(&"workflows.declare".to_owned()));
    assert!(!listed.contains(&"workflow.view".to_owned()));
}

#[test]
fn decisions_serialise_for_the_access_api() {
    let policy = preset_policy("analytics");
    let subject = Subject::active().bind("b1", "admin", BindingScope::Org);
    let decision = decide(&policy, &subject, &Query::of("org.settings.manage"));
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(json["allowed"], true);
    assert_eq!(json["reasons"][0]["step"], "role");
    assert_eq!(json["reasons"][0]["binding"], "b1");
    assert!(json["reasons"][0].get("set").is_none());
    let back: Decision = serde_json::from_value(json).unwrap();
    assert_eq!(back, decision);
}

#[test]
fn subjects_and_queries_deserialise_from_json() {
    let subject: Subject = serde_json::from_str(
        r#"{"status":"active",
            "bindings":[{"id":"b1","principal":{"kind":"group","id":"g1"},"role":"admin",
                         "scope":{"kind":"workspace","workspace":"w1"},"source":"scim_group"}],
            "workspaces":{"list":{"kind":"only","workspaces":["w1"]},"home":"w1"}}"#,
    )
    .unwrap();
    assert_eq!(subject.bindings[0].source, BindingSource::ScimGroup);
    let query: Query = serde_json::from_str(
        r#"{"permission":"timeline.edit","resource":{"resource_type":"workflow","id":"7"},"relations":["self"]}"#,
    )
    .unwrap();
    assert!(query.relations.contains("self"));
}
