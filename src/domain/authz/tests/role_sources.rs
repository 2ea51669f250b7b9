//! Where a user's org-level role comes from (`resolve_org_role`).

use std::collections::BTreeSet;

use super::*;

fn mapping(id: &str, role: &str, workspaces: &[&str], priority: i32) -> GroupMapping {
    GroupMapping {
        id: MappingId::from(id),
        kind: MappingKind::ScimGroup,
        group: format!("group-{id}"),
        role: RoleId::from(role),
        workspaces: workspaces.iter().map(|w| WorkspaceId::from(*w)).collect(),
        priority,
    }
}

fn current(role: &str, source: BindingSource) -> CurrentBinding {
    CurrentBinding {
        role: RoleId::from(role),
        source,
    }
}

fn resolve(
    mode: RolesManagedBy,
    current: Option<&CurrentBinding>,
    mappings: &[GroupMapping],
    scim_roles: &[ScimRole],
) -> RoleResolution {
    resolve_org_role(RoleResolutionInput {
        roles_managed_by: mode,
        current,
        mappings,
        scim_roles,
        default_role: &RoleId::from("view_manager"),
    })
}

fn set(ws: &[&str]) -> WorkspaceUpdate {
    WorkspaceUpdate::Set(
        ws.iter()
            .map(|w| WorkspaceId::from(*w))
            .collect::<BTreeSet<_>>(),
    )
}

#[test]
fn admin_mode_explicit_binding_wins_over_mappings() {
    let mappings = [mapping("m1", "admin", &["w1"], 10)];
    for source in [BindingSource::Admin, BindingSource::Invite] {
        let explicit = current("read_only", source);
        let r = resolve(RolesManagedBy::Admin, Some(&explicit), &mappings, &[]);
        assert_eq!(r.role, RoleId::from("read_only"));
        assert_eq!(r.source, source);
        assert_eq!(r.workspaces, WorkspaceUpdate::LeaveUnchanged);
        assert!(!r.changed);
        assert!(r.reason.contains("explicit"), "{}", r.reason);
    }
    // A binding that came from a mapping or the default is not explicit.
    for source in [
        BindingSource::ScimGroup,
        BindingSource::Default,
        BindingSource::ScimRoles,
    ] {
        let previous = current("read_only", source);
        let r = resolve(RolesManagedBy::Admin, Some(&previous), &mappings, &[]);
        assert_eq!(r.role, RoleId::from("admin"));
        assert_eq!(r.source, BindingSource::ScimGroup);
        assert_eq!(r.mapping, Some(MappingId::from("m1")));
        assert_eq!(r.workspaces, set(&["w1"]));
        assert!(r.changed);
    }
}

#[test]
fn idp_mode_mappings_win() {
    let mappings = [mapping("m1", "admin", &["w1"], 10)];
    let explicit = current("read_only", BindingSource::Admin);
    let r = resolve(RolesManagedBy::Idp, Some(&explicit), &mappings, &[]);
    assert_eq!(r.role, RoleId::from("admin"));
    assert_eq!(r.source, BindingSource::ScimGroup);
    assert!(r.changed);
    assert!(r.reason.contains("m1"), "{}", r.reason);
    // Without a mapping or SCIM role the explicit binding still stands.
    let r = resolve(RolesManagedBy::Idp, Some(&explicit), &[], &[]);
    assert_eq!(
        (r.role.as_str(), r.source),
        ("read_only", BindingSource::Admin)
    );
}

#[test]
fn highest_priority_gives_the_role_and_workspaces_are_the_union() {
    let mappings = [
        mapping("m1", "read_only", &["w1"], 1),
        mapping("m2", "data_manager", &["w2", "w3"], 5),
        mapping("m3", "view_manager", &[], 3),
    ];
    let r = resolve(RolesManagedBy::Admin, None, &mappings, &[]);
    assert_eq!(r.role, RoleId::from("data_manager"));
    assert_eq!(r.mapping, Some(MappingId::from("m2")));
    assert_eq!(r.workspaces, set(&["w1", "w2", "w3"]));
    // Order of the input never matters.
    let mut reversed = mappings.clone();
    reversed.reverse();
    assert_eq!(resolve(RolesManagedBy::Admin, None, &reversed, &[]), r);
}

#[test]
fn equal_priorities_are_broken_by_mapping_id() {
    let a = mapping("m-a", "read_only", &[], 5);
    let b = mapping("m-b", "admin", &[], 5);
    for mappings in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
        let r = resolve(RolesManagedBy::Idp, None, &mappings, &[]);
        assert_eq!(r.mapping, Some(MappingId::from("m-a")));
        assert_eq!(r.role, RoleId::from("read_only"));
        // No mapping lists workspaces: leave the user's list alone.
        assert_eq!(r.workspaces, WorkspaceUpdate::LeaveUnchanged);
    }
}

#[test]
fn sso_claim_mappings_materialise_as_sso_claim() {
    let mut m = mapping("m1", "admin", &[], 0);
    m.kind = MappingKind::SsoClaim;
    let r = resolve(RolesManagedBy::Admin, None, &[m], &[]);
    assert_eq!(r.source, BindingSource::SsoClaim);
}

#[test]
fn scim_roles_then_default() {
    let roles = [
        ScimRole {
            role: RoleId::from("read_only"),
            primary: false,
        },
        ScimRole {
            role: RoleId::from("data_manager"),
            primary: true,
        },
    ];
    let r = resolve(RolesManagedBy::Admin, None, &[], &roles);
    assert_eq!(
        (r.role.as_str(), r.source),
        ("data_manager", BindingSource::ScimRoles)
    );
    // Without a primary: the lowest role id, whatever the order.
    let plain = [
        ScimRole {
            role: RoleId::from("read_only"),
            primary: false,
        },
        ScimRole {
            role: RoleId::from("admin"),
            primary: false,
        },
    ];
    assert_eq!(
        resolve(RolesManagedBy::Admin, None, &[], &plain).role,
        RoleId::from("admin")
    );
    // Mappings beat SCIM roles.
    let r = resolve(
        RolesManagedBy::Admin,
        None,
        &[mapping("m1", "owner", &[], 0)],
        &roles,
    );
    assert_eq!(r.source, BindingSource::ScimGroup);
    // Nothing at all: the org default.
    let r = resolve(RolesManagedBy::Admin, None, &[], &[]);
    assert_eq!(
        (r.role.as_str(), r.source),
        ("view_manager", BindingSource::Default)
    );
    assert!(r.changed);
    let already = current("view_manager", BindingSource::Default);
    assert!(!resolve(RolesManagedBy::Admin, Some(&already), &[], &[]).changed);
}

#[test]
fn idp_mode_refuses_admin_edits_of_mapped_users_naming_the_mapping() {
    let mapped = MappedBinding {
        mapping: MappingId::from("map-42"),
        group: "Engineering".to_owned(),
        kind: MappingKind::ScimGroup,
    };
    let refusal = check_admin_role_edit(RolesManagedBy::Idp, Some(&mapped)).unwrap_err();
    assert_eq!(refusal.mapping, MappingId::from("map-42"));
    assert!(refusal.to_string().contains("map-42"));
    assert!(refusal.to_string().contains("Engineering"));
    assert_eq!(check_admin_role_edit(RolesManagedBy::Idp, None), Ok(()));
    assert_eq!(
        check_admin_role_edit(RolesManagedBy::Admin, Some(&mapped)),
        Ok(())
    );
}

#[test]
fn sso_default_workspace_pick_restricts_optional_roles_and_homes_yes_roles() {
    let picked: BTreeSet<WorkspaceId> = ["w2", "w1"].map(WorkspaceId::from).into_iter().collect();
    let optional = workspace_pick(VisibilityMode::Optional, &picked);
    assert_eq!(optional.list, WorkspaceList::Only(picked.clone()));
    assert_eq!(optional.home, Some(WorkspaceId::from("w1")));
    let yes = workspace_pick(VisibilityMode::Yes, &picked);
    assert_eq!(yes.list, WorkspaceList::All);
    assert_eq!(yes.home, Some(WorkspaceId::from("w1")));
    // The default role of the analytics preset is View Manager (optional):
    // after the pick it sees only the picked workspaces.
    let policy = preset_policy("analytics");
    let role = policy.role("view_manager").unwrap();
    let user = Subject::active()
        .bind("b1", "view_manager", BindingScope::Org)
        .with_workspaces(workspace_pick(role.visibility, &picked));
    let all = ["w1", "w2", "w3"].map(WorkspaceId::from);
    let answer = visible_workspaces(&policy, &user, &all).unwrap();
    assert_eq!(
        answer.workspaces,
        ["w1", "w2"].map(WorkspaceId::from).to_vec()
    );
}
