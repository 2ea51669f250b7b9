//! Preset "workflow-roles" (seed 000).

use super::*;

fn on(permission: &str, workflow: &str) -> Query {
    Query::of(permission).on(rtype("workflow"), workflow)
}

fn member() -> Subject {
    Subject::active().bind("b0", "member", BindingScope::Org)
}

fn wf(id: &str) -> BindingScope {
    BindingScope::resource(rtype("workflow"), id)
}

#[test]
fn assigning_oneself_a_role_is_always_allowed() {
    let policy = preset_policy("workflow-roles");
    let scribe = member().bind("b1", "scribe", wf("7"));
    assert!(!allowed(&policy, &scribe, &on("roles.assign", "7")));
    let decision = decide(
        &policy,
        &scribe,
        &on("roles.assign", "7").with_relation("self"),
    );
    assert!(decision.allowed, "{}", decision.explain());
    assert!(has_step(&decision, Step::Rule));
    // Even without any role on the workflow.
    assert!(allowed(
        &policy,
        &member(),
        &on("roles.assign", "8").with_relation("self")
    ));
    // The incident commander assigns others.
    let commander = member().bind("b1", "incident_commander", wf("7"));
    assert!(allowed(&policy, &commander, &on("roles.assign", "7")));
}

#[test]
fn gateway_admins_add_timeline_entries_to_any_workflow_regardless_of_role() {
    // A workflow role that explicitly denies timeline entries.
    let mut muted = custom_role(
        "muted",
        ScopeKind::resource("workflow").unwrap(),
        &["workflow.view"],
    );
    muted.grants.insert(key("timeline.edit"), Grant::Deny);
    let policy = preset_policy_with("workflow-roles", vec![muted], vec![]);

    let admin = Subject::active().bind("b0", "admin", BindingScope::Org);
    let decision = decide(&policy, &admin, &on("timeline.edit", "7"));
    assert!(decision.allowed, "{}", decision.explain());
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.role == Some(RoleKey::from("admin")))
    );
    let muted_admin = admin.bind("b1", "muted", wf("7"));
    assert!(allowed(&policy, &muted_admin, &on("timeline.edit", "7")));

    let muted_member = member().bind("b1", "muted", wf("7"));
    assert!(!allowed(&policy, &muted_member, &on("timeline.edit", "7")));
    assert!(!allowed(&policy, &member(), &on("timeline.edit", "7")));
    let scribe = member().bind("b1", "scribe", wf("7"));
    assert!(allowed(&policy, &scribe, &on("timeline.edit", "7")));
    assert!(!allowed(&policy, &scribe, &on("timeline.edit", "8")));
}

#[test]
fn a_severity_can_always_be_chosen_when_declaring() {
    let policy = preset_policy("workflow-roles");
    let scribe = member().bind("b1", "scribe", wf("7"));
    assert!(!allowed(&policy, &scribe, &on("severity.modify", "7")));
    assert!(allowed(
        &policy,
        &scribe,
        &on("severity.modify", "7").with_relation("declaring")
    ));
    let responder = member().bind("b1", "responder", wf("7"));
    assert!(allowed(&policy, &responder, &on("severity.modify", "7")));
}

#[test]
fn no_restrictions_is_bounded_to_its_workflow() {
    let mut muted = custom_role("muted", ScopeKind::resource("workflow").unwrap(), &[]);
    muted.grants.insert(key("statuspage.interact"), Grant::Deny);
    let policy = preset_policy_with("workflow-roles", vec![muted], vec![]);
    let commander = member()
        .bind("b1", "incident_commander", wf("7"))
        .bind("b2", "muted", wf("7"));
    for permission in [
        "statuspage.interact",
        "roles.assign",
        "severity.modify",
        "timeline.edit",
    ] {
        let decision = decide(&policy, &commander, &on(permission, "7"));
        assert!(decision.allowed, "{permission}: {}", decision.explain());
        assert_eq!(decision.reasons[0].step, Step::Override);
        assert_eq!(decision.reasons[0].binding, Some(BindingId::from("b1")));
        assert!(
            !allowed(&policy, &commander, &on(permission, "8")),
            "{permission} on 8"
        );
    }
    // Nothing beyond the workflow: org-level permissions are untouched.
    let only_commander = Subject::active().bind("b1", "incident_commander", wf("7"));
    assert!(!allowed(
        &policy,
        &only_commander,
        &Query::of("workflows.declare")
    ));
    assert!(!allowed(
        &policy,
        &only_commander,
        &Query::of("gateway.users.manage")
    ));
    // An individual deny still wins inside the workflow.
    let denied = commander.override_with("o1", key("statuspage.interact"), Grant::Deny, wf("7"));
    let decision = decide(&policy, &denied, &on("statuspage.interact", "7"));
    assert!(!decision.allowed);
    assert_eq!(decision.reasons[0].step, Step::IndividualDeny);
    // ... and an individual deny of the override itself switches it off.
    let switched_off = member()
        .bind("b1", "incident_commander", wf("7"))
        .override_with(
            "o1",
            key("workflow.no_restrictions"),
            Grant::Deny,
            BindingScope::Org,
        );
    assert!(!allowed(
        &policy,
        &switched_off,
        &on("statuspage.interact", "7")
    ));
}

#[test]
fn users_without_a_workflow_role_get_the_default_permissions() {
    let lurker = custom_role(
        "lurker",
        ScopeKind::resource("workflow").unwrap(),
        &["statuspage.interact"],
    );
    let policy = preset_policy_with("workflow-roles", vec![lurker], vec![]);
    // An org-level role does not switch the defaults off on workflow 7.
    let decision = decide(&policy, &member(), &on("workflow.view", "7"));
    assert!(decision.allowed, "{}", decision.explain());
    assert_eq!(decision.reasons.last().unwrap().step, Step::Default);
    assert!(!allowed(
        &policy,
        &member(),
        &on("statuspage.interact", "7")
    ));
    // A workflow role on 7 replaces the defaults there, not elsewhere.
    let lurking = member().bind("b1", "lurker", wf("7"));
    let decision = decide(&policy, &lurking, &on("workflow.view", "7"));
    assert!(!decision.allowed);
    assert_eq!(
        decision.reasons.last().unwrap().binding,
        Some(BindingId::from("b1"))
    );
    assert!(allowed(&policy, &lurking, &on("workflow.view", "8")));
    // Defaults are data: an org can edit them.
    let mut preset = Preset::load("workflow-roles").unwrap();
    preset.defaults.allow.clear();
    let strict = preset.policy().unwrap();
    assert!(!allowed(&strict, &member(), &on("workflow.view", "7")));
}
