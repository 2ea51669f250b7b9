//! Preset "permission-sets" (seed 002).

use super::*;

fn set(id: &str, application: &str, steps: &[&str]) -> PermissionSet {
    PermissionSet {
        id: SetId::from(id),
        name: format!("set {id}"),
        description: String::new(),
        application: ResourceId::from(application),
        permissions: steps.iter().map(|s| key(s)).collect(),
    }
}

fn on(permission: &str, application: &str) -> Query {
    Query::of(permission).on(rtype("application"), application)
}

fn app(id: &str) -> BindingScope {
    BindingScope::resource(rtype("application"), id)
}

/// Sets: log-incident and review for app1, log-incident for app2; role
/// it_ops carries the app1 review set.
fn policy() -> Policy {
    let mut it_ops = custom_role("it_ops", ScopeKind::Org, &[]);
    it_ops.permission_sets.push(SetId::from("review_app1"));
    preset_policy_with(
        "permission-sets",
        vec![it_ops],
        vec![
            set(
                "log_app1",
                "app1",
                &["steps.origin.create", "steps.records.view"],
            ),
            set(
                "review_app1",
                "app1",
                &["steps.triage.review", "steps.records.view"],
            ),
            set("log_app2", "app2", &["steps.origin.create"]),
        ],
    )
}

fn member() -> Subject {
    Subject::active().bind("b0", "member", BindingScope::Org)
}

#[test]
fn sets_reach_users_directly() {
    let policy = policy();
    let tester = member().add_set("log_app1");
    let decision = decide(&policy, &tester, &on("steps.origin.create", "app1"));
    assert!(decision.allowed, "{}", decision.explain());
    let reason = decision.reasons.last().unwrap();
    assert_eq!(reason.step, Step::PermissionSet);
    assert_eq!(reason.set, Some(SetId::from("log_app1")));
    assert!(reason.message.contains("directly"), "{}", reason.message);
    assert!(!allowed(
        &policy,
        &tester,
        &on("steps.triage.review", "app1")
    ));
}

#[test]
fn sets_reach_users_through_roles() {
    let policy = policy();
    let ops = member().bind("b1", "it_ops", BindingScope::Org);
    let decision = decide(&policy, &ops, &on("steps.triage.review", "app1"));
    assert!(decision.allowed, "{}", decision.explain());
    let reason = decision.reasons.last().unwrap();
    assert_eq!(reason.set, Some(SetId::from("review_app1")));
    assert_eq!(reason.role, Some(RoleKey::from("it_ops")));
    assert_eq!(reason.binding, Some(BindingId::from("b1")));
    assert!(!allowed(
        &policy,
        &member(),
        &on("steps.triage.review", "app1")
    ));
}

#[test]
fn a_set_for_another_application_does_not_apply() {
    let policy = policy();
    let tester = member().add_set("log_app2");
    assert!(allowed(
        &policy,
        &tester,
        &on("steps.origin.create", "app2")
    ));
    assert!(!allowed(
        &policy,
        &tester,
        &on("steps.origin.create", "app1")
    ));
    let ops = member().bind("b1", "it_ops", BindingScope::Org);
    assert!(!allowed(&policy, &ops, &on("steps.triage.review", "app2")));
}

#[test]
fn editing_a_set_needs_build_access_to_its_application() {
    let policy = policy();
    let app1_set = policy.set("log_app1").unwrap().clone();
    let app2_set = policy.set("log_app2").unwrap().clone();
    let admin = Subject::active().bind("b0", "system_admin", BindingScope::Org);
    assert_eq!(can_edit_set(&policy, &admin, &app1_set), Ok(()));
    assert_eq!(can_edit_set(&policy, &admin, &app2_set), Ok(()));

    let builder = member().bind("b1", "app_builder", app("app1"));
    assert_eq!(can_edit_set(&policy, &builder, &app1_set), Ok(()));
    assert!(matches!(
        can_edit_set(&policy, &builder, &app2_set),
        Err(GrantError::NoBuildAccess { .. })
    ));
    // A new, not yet stored set is judged by its application too.
    let fresh = set("new", "app1", &["steps.records.edit"]);
    assert_eq!(can_edit_set(&policy, &builder, &fresh), Ok(()));
    assert!(can_edit_set(&policy, &member(), &fresh).is_err());
}

#[test]
fn attaching_a_set_to_a_role_needs_role_administration() {
    let policy = policy();
    let admin = Subject::active().bind("b0", "system_admin", BindingScope::Org);
    assert_eq!(can_attach_set_to_role(&policy, &admin), Ok(()));
    let builder = member().bind("b1", "app_builder", app("app1"));
    let err = can_attach_set_to_role(&policy, &builder).unwrap_err();
    assert!(matches!(err, GrantError::NotRoleAdmin { .. }));
    assert!(err.to_string().contains("gateway.roles.manage"));
}
