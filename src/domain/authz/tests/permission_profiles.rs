//! Preset "permission-profiles" (seed 001).

use super::*;

fn on(permission: &str, incident: &str) -> Query {
    Query::of(permission).on(rtype("incident"), incident)
}

fn profile(role: &str) -> Subject {
    Subject::active().bind("b1", role, BindingScope::Org)
}

#[test]
fn org_level_permissions_are_two_state() {
    let preset = Preset::load("permission-profiles").unwrap();
    let policy = preset.policy().unwrap();
    let org_plain: Vec<&PermissionDef> = policy
        .catalogue()
        .filter(|d| d.scope == ScopeKind::Org && d.kind == PermissionKind::Plain)
        .collect();
    // Every built-in profile states allow or deny for every org-level one.
    for role in ["member", "member_plus"] {
        let role = policy.role(role).unwrap();
        for def in &org_plain {
            assert!(
                role.grants.contains_key(&def.key),
                "{} leaves {} open",
                role.key,
                def.key
            );
        }
    }
    assert!(allowed(
        &policy,
        &profile("member_plus"),
        &Query::of("incidents.edit")
    ));
    assert!(!allowed(
        &policy,
        &profile("member"),
        &Query::of("incidents.edit")
    ));
    // Deny beats allow when two profiles meet.
    let both = profile("member_plus").bind("b2", "member", BindingScope::Org);
    assert!(!allowed(&policy, &both, &Query::of("incidents.edit")));
}

#[test]
fn module_use_default_falls_through_to_the_org_level_answer() {
    let policy = preset_policy("permission-profiles");
    // Member+: no status-board policy; org-level incidents.edit is allowed.
    let decision = decide(
        &policy,
        &profile("member_plus"),
        &on("status_board.write", "1"),
    );
    assert!(decision.allowed, "{}", decision.explain());
    let reason = decision.reasons.last().unwrap();
    assert_eq!(reason.step, Step::ModulePolicy);
    assert!(reason.message.contains("use-default"), "{}", reason.message);
    // Member+: an explicit module deny beats the org-level allow.
    assert!(!allowed(
        &policy,
        &profile("member_plus"),
        &on("situation_report.write", "1")
    ));
    assert!(allowed(
        &policy,
        &profile("member_plus"),
        &on("situation_report.read", "1")
    ));
    // Member: use-default falls to the org-level deny of incidents.edit ...
    assert!(!allowed(
        &policy,
        &profile("member"),
        &on("status_board.write", "1")
    ));
    // ... while an explicit module allow stands on its own.
    assert!(allowed(
        &policy,
        &profile("member"),
        &on("task_board.write", "1")
    ));
}

#[test]
fn manage_any_incident_lifts_module_policies_everywhere() {
    let policy = preset_policy("permission-profiles");
    let owner = profile("account_owner");
    for incident in ["1", "2"] {
        let decision = decide(
            &policy,
            &owner,
            &on("situation_report.delete_archive", incident),
        );
        assert!(decision.allowed);
        assert_eq!(decision.reasons[0].step, Step::Override);
        assert_eq!(
            decision.reasons[0].permission,
            Some(key("incidents.manage_any"))
        );
    }
    // A profile with module denies, plus manage-any: the denies are lifted.
    let mut role = policy
        .role("member_plus")
        .unwrap()
        .clone_as("mp_any", "mp_any", "Member+ any");
    role.grants
        .insert(key("incidents.manage_any"), Grant::Allow);
    let policy = preset_policy_with("permission-profiles", vec![role], vec![]);
    assert!(allowed(
        &policy,
        &profile("mp_any"),
        &on("situation_report.write", "1")
    ));
    assert!(allowed(
        &policy,
        &profile("mp_any"),
        &on("situation_report.write", "2")
    ));
}

#[test]
fn manage_if_invited_lifts_module_policies_only_where_invited() {
    let policy = preset_policy("permission-profiles");
    let plus = profile("member_plus");
    assert!(!allowed(&policy, &plus, &on("situation_report.write", "1")));
    let decision = decide(
        &policy,
        &plus,
        &on("situation_report.write", "1").with_relation("invited"),
    );
    assert!(decision.allowed, "{}", decision.explain());
    assert_eq!(
        decision.reasons[0].permission,
        Some(key("incidents.manage_if_invited"))
    );
    // Member: the activity-log read deny is lifted where invited.
    let member = profile("member");
    assert!(!allowed(&policy, &member, &on("activity_log.read", "1")));
    assert!(allowed(
        &policy,
        &member,
        &on("activity_log.read", "1").with_relation("invited")
    ));
}

#[test]
fn overrides_never_lift_an_org_level_deny() {
    let policy = preset_policy("permission-profiles");
    // Member denies incidents.edit at org level: being invited does not help.
    let decision = decide(
        &policy,
        &profile("member"),
        &on("status_board.write", "1").with_relation("invited"),
    );
    assert!(!decision.allowed);
    let note = &decision.reasons[0];
    assert_eq!((note.step, note.effect), (Step::Override, Effect::Note));
    assert!(note.message.contains("incidents.edit"), "{}", note.message);
    // Neither does manage-any; nor an individual org-level deny.
    let mut role = custom_role(
        "any_no_edit",
        ScopeKind::Org,
        &["incidents.view", "incidents.manage_any"],
    );
    role.grants.insert(key("incidents.edit"), Grant::Deny);
    let policy = preset_policy_with("permission-profiles", vec![role], vec![]);
    assert!(!allowed(
        &policy,
        &profile("any_no_edit"),
        &on("status_board.write", "1")
    ));
    assert!(allowed(
        &policy,
        &profile("any_no_edit"),
        &on("status_board.read", "1")
    ));
    let owner = profile("account_owner").override_with(
        "o1",
        key("incidents.archive"),
        Grant::Deny,
        BindingScope::Org,
    );
    assert!(!allowed(
        &policy,
        &owner,
        &on("task_board.delete_archive", "1")
    ));
    assert!(allowed(&policy, &owner, &on("task_board.write", "1")));
}

#[test]
fn manage_any_bound_to_one_incident_stays_there() {
    let role = custom_role(
        "incident_lead",
        ScopeKind::resource("incident").unwrap(),
        &["incidents.manage_any"],
    );
    let policy = preset_policy_with("permission-profiles", vec![role], vec![]);
    let plus = profile("member_plus").bind(
        "b2",
        "incident_lead",
        BindingScope::resource(rtype("incident"), "1"),
    );
    assert!(allowed(&policy, &plus, &on("situation_report.write", "1")));
    assert!(!allowed(&policy, &plus, &on("situation_report.write", "2")));
}

#[test]
fn individual_additional_policies() {
    let policy = preset_policy("permission-profiles");
    // Elevate a Member into the admin area (an org-level allow) ...
    let elevated = profile("member").override_with(
        "o1",
        key("admin_area.access"),
        Grant::Allow,
        BindingScope::Org,
    );
    let decision = decide(&policy, &elevated, &Query::of("admin_area.access"));
    assert!(decision.allowed);
    assert_eq!(decision.reasons[0].step, Step::IndividualAllow);
    // ... take reports away from a Member+ ...
    let reduced = profile("member_plus").override_with(
        "o2",
        key("reports.view"),
        Grant::Deny,
        BindingScope::Org,
    );
    assert!(!allowed(&policy, &reduced, &Query::of("reports.view")));
    // ... and grant a module level on one incident only.
    let board = profile("member").override_with(
        "o3",
        key("status_board.write"),
        Grant::Allow,
        BindingScope::resource(rtype("incident"), "3"),
    );
    assert!(allowed(&policy, &board, &on("status_board.write", "3")));
    assert!(!allowed(&policy, &board, &on("status_board.write", "4")));
    // Alerting's "Manage users" is the gateway permission.
    let manager = profile("member").override_with(
        "o4",
        key("gateway.users.manage"),
        Grant::Allow,
        BindingScope::Org,
    );
    assert!(allowed(
        &policy,
        &manager,
        &Query::of("gateway.users.manage")
    ));
}

#[test]
fn custom_profiles_clone_built_ins() {
    let policy = preset_policy("permission-profiles");
    let builtin = policy.role("member_plus").unwrap();
    assert!(builtin.builtin);
    let copy = builtin.clone_as("custom1", "incident_analyst", "Incident analyst");
    assert!(!copy.builtin);
    assert_eq!(copy.grants, builtin.grants);
    assert_eq!(copy.module_policies, builtin.module_policies);
    let owner_copy = policy
        .role("account_owner")
        .unwrap()
        .clone_as("c2", "owner_copy", "Copy");
    assert!(!owner_copy.owner);
}

/// Seed 001: "Module level permissions do not apply to users who have a
/// Manage any incident or Manage an incident if invited permissions" — the
/// user's individual module-level policies included; an individual
/// organization-level Deny still wins. The four combinations.
#[test]
fn individual_module_denies_yield_to_manage_any_but_org_level_denies_do_not() {
    let policy = preset_policy("permission-profiles");
    let module_deny = |subject: Subject, scope: BindingScope| {
        subject.override_with("o1", key("status_board.write"), Grant::Deny, scope)
    };

    // 1. Individual org-level deny + manage any incident: the deny wins, on
    //    the org-level permission and on the modules that default to it.
    let owner = profile("account_owner").override_with(
        "o1",
        key("incidents.edit"),
        Grant::Deny,
        BindingScope::Org,
    );
    let decision = decide(&policy, &owner, &Query::of("incidents.edit"));
    assert!(!decision.allowed);
    assert_eq!(decision.reasons[0].step, Step::IndividualDeny);
    assert!(decision.reasons[0].message.contains("no override lifts it"));
    let decision = decide(&policy, &owner, &on("status_board.write", "1"));
    assert!(!decision.allowed, "{}", decision.explain());
    assert_eq!(
        (decision.reasons[0].step, decision.reasons[0].effect),
        (Step::Override, Effect::Note)
    );

    // 2. Individual module-level deny + manage any incident: lifted, on every
    //    incident, whether the deny is org-wide or scoped to the incident.
    for scope in [
        BindingScope::Org,
        BindingScope::resource(rtype("incident"), "1"),
    ] {
        let owner = module_deny(profile("account_owner"), scope);
        let decision = decide(&policy, &owner, &on("status_board.write", "1"));
        assert!(decision.allowed, "{}", decision.explain());
        assert_eq!(decision.reasons[0].step, Step::Override);
        assert_eq!(
            decision.reasons[0].permission,
            Some(key("incidents.manage_any"))
        );
        let note = &decision.reasons[1];
        assert_eq!(
            (note.step, note.effect),
            (Step::IndividualDeny, Effect::Note)
        );
        assert_eq!(note.individual, Some(OverrideId::from("o1")));
    }

    // 3. Individual module-level deny + manage an incident if invited, on an
    //    incident the user is invited to: lifted.
    let plus = module_deny(profile("member_plus"), BindingScope::Org);
    let decision = decide(
        &policy,
        &plus,
        &on("status_board.write", "1").with_relation("invited"),
    );
    assert!(decision.allowed, "{}", decision.explain());
    assert_eq!(
        decision.reasons[0].permission,
        Some(key("incidents.manage_if_invited"))
    );

    // 4. The same where not invited: the individual deny decides.
    let decision = decide(&policy, &plus, &on("status_board.write", "1"));
    assert!(!decision.allowed);
    assert_eq!(decision.reasons[0].step, Step::IndividualDeny);
    // (Without the deny, Member+ would write the status board there.)
    assert!(allowed(
        &policy,
        &profile("member_plus"),
        &on("status_board.write", "1")
    ));
}
