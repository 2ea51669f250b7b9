//! Granting limits: nobody grants a role or permission they do not hold.

use super::*;

fn org(role: &str) -> Subject {
    Subject::active().bind("b0", role, BindingScope::Org)
}

#[test]
fn an_admin_cannot_make_anyone_owner_in_analytics() {
    let policy = preset_policy("analytics");
    let err =
        can_grant_role(&policy, &org("admin"), &"owner".into(), &BindingScope::Org).unwrap_err();
    match &err {
        GrantError::NotHeld { missing, .. } => assert_eq!(missing, &vec![key("billing.legacy")]),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("billing.legacy"));
    assert_eq!(
        can_grant_role(&policy, &org("owner"), &"owner".into(), &BindingScope::Org),
        Ok(())
    );
    assert_eq!(
        can_grant_role(&policy, &org("admin"), &"admin".into(), &BindingScope::Org),
        Ok(())
    );
    assert_eq!(
        can_grant_role(
            &policy,
            &org("admin"),
            &"view_manager".into(),
            &BindingScope::Org
        ),
        Ok(())
    );
}

#[test]
fn lesser_roles_cannot_grant_greater_ones() {
    let policy = preset_policy("analytics");
    assert!(
        can_grant_role(
            &policy,
            &org("view_manager"),
            &"data_manager".into(),
            &BindingScope::Org
        )
        .is_err()
    );
    assert!(
        can_grant_role(
            &policy,
            &org("view_manager"),
            &"read_only".into(),
            &BindingScope::Org
        )
        .is_ok()
    );
    // Anonymized holders lack the individuals report.
    assert!(
        can_grant_role(
            &policy,
            &org("read_only_anonymized"),
            &"read_only".into(),
            &BindingScope::Org
        )
        .is_err()
    );
    assert!(
        can_grant_role(
            &policy,
            &org("read_only"),
            &"read_only_anonymized".into(),
            &BindingScope::Org
        )
        .is_ok()
    );
    // Inactive granters hold nothing.
    let suspended =
        Subject::with_status(UserStatus::Suspended).bind("b0", "owner", BindingScope::Org);
    assert!(can_grant_role(&policy, &suspended, &"read_only".into(), &BindingScope::Org).is_err());
}

#[test]
fn wider_workspace_visibility_cannot_be_granted() {
    let policy = preset_policy("analytics");
    // Workspace Admin holds Admin's permissions but sees only its workspaces.
    let err = can_grant_role(
        &policy,
        &org("workspace_admin"),
        &"admin".into(),
        &BindingScope::Org,
    )
    .unwrap_err();
    assert!(matches!(err, GrantError::WiderVisibility { .. }), "{err:?}");
    assert!(
        can_grant_role(
            &policy,
            &org("workspace_admin"),
            &"workspace_admin".into(),
            &BindingScope::Org
        )
        .is_ok()
    );
}

#[test]
fn roles_are_granted_only_at_their_level() {
    let policy = preset_policy("workflow-roles");
    let err =
        can_grant_role(&policy, &org("owner"), &"scribe".into(), &BindingScope::Org).unwrap_err();
    assert!(matches!(err, GrantError::WrongScope { .. }));
    let err =
        can_grant_role(&policy, &org("owner"), &"ghost".into(), &BindingScope::Org).unwrap_err();
    assert!(matches!(err, GrantError::UnknownRole(_)));
}

#[test]
fn workflow_roles_are_granted_by_what_the_granter_holds_on_that_workflow() {
    let policy = preset_policy("workflow-roles");
    let wf = |id: &str| BindingScope::resource(rtype("workflow"), id);
    let commander = org("member").bind("b1", "incident_commander", wf("7"));
    // No restrictions on 7: the commander holds everything there.
    assert_eq!(
        can_grant_role(&policy, &commander, &"communications_lead".into(), &wf("7")),
        Ok(())
    );
    assert!(can_grant_role(&policy, &commander, &"communications_lead".into(), &wf("8")).is_err());
    // An admin holds timeline.create (gateway admins) and workflow.view
    // (defaults) anywhere, but not the status page or no-restrictions.
    assert_eq!(
        can_grant_role(&policy, &org("admin"), &"scribe".into(), &wf("7")),
        Ok(())
    );
    assert!(
        can_grant_role(
            &policy,
            &org("admin"),
            &"communications_lead".into(),
            &wf("7")
        )
        .is_err()
    );
    assert!(
        can_grant_role(
            &policy,
            &org("admin"),
            &"incident_commander".into(),
            &wf("7")
        )
        .is_err()
    );
}

#[test]
fn granting_individual_permissions() {
    let policy = preset_policy("permission-profiles");
    let admin_area = key("admin_area.access");
    assert_eq!(
        can_grant_permission(
            &policy,
            &org("account_owner"),
            &admin_area,
            &BindingScope::Org
        ),
        Ok(())
    );
    assert!(
        can_grant_permission(
            &policy,
            &org("member_plus"),
            &admin_area,
            &BindingScope::Org
        )
        .is_err()
    );
    // Module levels are judged where they would be granted.
    let incident = BindingScope::resource(rtype("incident"), "1");
    assert!(
        can_grant_permission(
            &policy,
            &org("member_plus"),
            &key("status_board.write"),
            &incident
        )
        .is_ok()
    );
    assert!(
        can_grant_permission(
            &policy,
            &org("member_plus"),
            &key("situation_report.write"),
            &incident
        )
        .is_err()
    );
    assert!(matches!(
        can_grant_permission(&policy, &org("member"), &key("ghost"), &BindingScope::Org),
        Err(GrantError::Check(CheckError::UnknownPermission(_)))
    ));
}

#[test]
fn roles_with_sets_need_the_sets_permissions() {
    let mut ops = custom_role("ops", ScopeKind::Org, &[]);
    ops.permission_sets.push(SetId::from("s1"));
    let set = PermissionSet {
        id: SetId::from("s1"),
        name: "Log incident".into(),
        description: String::new(),
        application: ResourceId::from("app1"),
        permissions: [key("steps.origin.create")].into_iter().collect(),
    };
    let policy = preset_policy_with("permission-sets", vec![ops], vec![set]);
    assert_eq!(
        can_grant_role(
            &policy,
            &org("system_admin"),
            &"ops".into(),
            &BindingScope::Org
        ),
        Ok(())
    );
    let err =
        can_grant_role(&policy, &org("member"), &"ops".into(), &BindingScope::Org).unwrap_err();
    assert!(
        matches!(err, GrantError::NotHeld { ref missing, .. } if missing == &vec![key("steps.origin.create")])
    );
}

/// The owner role of every preset sits at the top: it can grant every role
/// of its preset at that role's own level (otherwise an org's owner could not
/// hand out the preset's roles at all).
#[test]
fn every_preset_owner_can_grant_every_role() {
    for name in Preset::names() {
        let preset = Preset::load(name).unwrap();
        let policy = preset.policy().unwrap();
        let owner = preset.roles.iter().find(|r| r.owner).unwrap();
        let granter = Subject::active().bind("b-owner", owner.id.as_str(), BindingScope::Org);
        for role in &preset.roles {
            let scope = match &role.binds_at {
                ScopeKind::Org => BindingScope::Org,
                ScopeKind::Workspace => BindingScope::workspace("w1"),
                ScopeKind::Resource(t) => BindingScope::resource(t.clone(), "r1"),
            };
            if let Err(e) = can_grant_role(&policy, &granter, &role.id, &scope) {
                panic!("{name}: the owner cannot grant {}: {e}", role.key);
            }
        }
    }
}
