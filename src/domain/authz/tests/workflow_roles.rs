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

/// Seed 000: "This will not stop someone from assigning themselves an
/// workflow role if it is available."
#[test]
fn assigning_oneself_a_role_is_always_allowed_if_the_role_is_available() {
    let policy = preset_policy("workflow-roles");
    let scribe = member().bind("b1", "scribe", wf("7"));
    assert!(!allowed(&policy, &scribe, &on("roles.assign", "7")));
    // A role that is not single-holder is always available.
    let decision = decide(
        &policy,
        &scribe,
        &on("roles.assign", "7")
            .with_relation("self")
            .assigning("responder", true),
    );
    assert!(decision.allowed, "{}", decision.explain());
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.message.contains("is not single-holder")),
        "{}",
        decision.explain()
    );
    // The single-holder commander role: available while nobody holds it ...
    let free = on("roles.assign", "7")
        .with_relation("self")
        .assigning("incident_commander", false);
    let decision = decide(&policy, &scribe, &free);
    assert!(decision.allowed, "{}", decision.explain());
    assert!(allowed(&policy, &member(), &free), "even without a role");
    // ... and not once someone holds it.
    let taken = on("roles.assign", "7")
        .with_relation("self")
        .assigning("incident_commander", true);
    let decision = decide(&policy, &scribe, &taken);
    assert!(!decision.allowed);
    let note = decision.reasons.last().unwrap();
    assert_eq!((note.step, note.effect), (Step::Rule, Effect::Note));
    assert!(
        note.message.contains("someone holds it"),
        "{}",
        note.message
    );
    // Without naming the role, availability is unknown: denied, saying so.
    let decision = decide(
        &policy,
        &scribe,
        &on("roles.assign", "7").with_relation("self"),
    );
    assert!(!decision.allowed);
    assert!(decision.explain().contains("`assignment`"));
    // Availability never helps assigning someone else.
    assert!(!allowed(
        &policy,
        &scribe,
        &on("roles.assign", "7").assigning("responder", false)
    ));
    // The incident commander assigns others, available or not.
    let commander = member().bind("b1", "incident_commander", wf("7"));
    assert!(allowed(&policy, &commander, &on("roles.assign", "7")));
    assert!(allowed(
        &policy,
        &commander,
        &on("roles.assign", "7").assigning("incident_commander", true)
    ));
    // Only the roles.assign answer changes: the role attribute is data.
    assert!(policy.role("incident_commander").unwrap().single_holder());
    assert!(!policy.role("scribe").unwrap().single_holder());
    // An unknown role is a check error, not a deny.
    assert_eq!(
        check(
            &policy,
            &scribe,
            &on("roles.assign", "7").assigning("ghost", false)
        ),
        Err(CheckError::UnknownAssignedRole(RoleKey::from("ghost")))
    );
}

#[test]
fn single_holder_must_be_a_boolean() {
    let mut odd = custom_role("odd", ScopeKind::resource("workflow").unwrap(), &[]);
    odd.attributes
        .insert(SINGLE_HOLDER.to_owned(), serde_json::json!("yes"));
    let mut preset = Preset::load("workflow-roles").unwrap();
    preset.roles.push(odd);
    assert!(matches!(
        preset.policy(),
        Err(PolicyError::InvalidAttribute { .. })
    ));
}

/// Seed 000: "Create and edit timeline entries … Editing timeline entries
/// is … only available to Allma admin level individuals."
#[test]
fn workflow_roles_create_timeline_entries_but_only_admins_edit_them() {
    let policy = preset_policy("workflow-roles");
    for role in ["scribe", "responder", "communications_lead"] {
        let participant = member().bind("b1", role, wf("7"));
        assert!(
            allowed(&policy, &participant, &on("timeline.create", "7")),
            "{role} creates"
        );
        assert!(
            !allowed(&policy, &participant, &on("timeline.create", "8")),
            "{role} creates only on its workflow"
        );
        let decision = decide(&policy, &participant, &on("timeline.edit", "7"));
        assert!(!decision.allowed, "{role} no longer edits");
        assert!(decision.explain().contains("gateway.roles.manage"));
    }
    // Not even "no restrictions" edits: editing is not a workflow action.
    let commander = member().bind("b1", "incident_commander", wf("7"));
    assert!(allowed(&policy, &commander, &on("timeline.create", "7")));
    assert!(!allowed(&policy, &commander, &on("timeline.edit", "7")));
    // Admins edit entries of any workflow, whatever their workflow role.
    for admin in ["admin", "owner"] {
        let admin = Subject::active().bind("b0", admin, BindingScope::Org);
        assert!(allowed(&policy, &admin, &on("timeline.edit", "99")));
        assert!(allowed(&policy, &admin, &Query::of("timeline.edit")));
        let scribe_admin = admin.bind("b1", "scribe", wf("7"));
        assert!(allowed(&policy, &scribe_admin, &on("timeline.edit", "7")));
    }
    assert!(!allowed(&policy, &member(), &on("timeline.edit", "7")));
}

/// Seed 000: "Allma admins are able to add timeline entries to any workflow
/// via Allma's web app, regardless of their incident participant role."
#[test]
fn gateway_admins_add_timeline_entries_to_any_workflow_regardless_of_role() {
    // A workflow role that explicitly denies timeline entries.
    let mut muted = custom_role(
        "muted",
        ScopeKind::resource("workflow").unwrap(),
        &["workflow.view"],
    );
    muted.grants.insert(key("timeline.create"), Grant::Deny);
    let policy = preset_policy_with("workflow-roles", vec![muted], vec![]);

    let admin = Subject::active().bind("b0", "admin", BindingScope::Org);
    let decision = decide(&policy, &admin, &on("timeline.create", "7"));
    assert!(decision.allowed, "{}", decision.explain());
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.role == Some(RoleKey::from("admin")))
    );
    let muted_admin = admin.bind("b1", "muted", wf("7"));
    assert!(allowed(&policy, &muted_admin, &on("timeline.create", "7")));

    let muted_member = member().bind("b1", "muted", wf("7"));
    assert!(!allowed(
        &policy,
        &muted_member,
        &on("timeline.create", "7")
    ));
    assert!(!allowed(&policy, &member(), &on("timeline.create", "7")));
}

/// Issue "6 of 11" item 2: the seed gives admins role editing and timeline
/// access everywhere, not every workflow action.
#[test]
fn the_owner_gets_no_restrictions_only_from_a_role_bound_to_the_workflow() {
    let policy = preset_policy("workflow-roles");
    let owner = Subject::active().bind("b0", "owner", BindingScope::Org);
    for permission in ["statuspage.interact", "severity.modify", "roles.assign"] {
        let decision = decide(&policy, &owner, &on(permission, "7"));
        assert!(!decision.allowed, "{permission}: {}", decision.explain());
        assert!(!has_step(&decision, Step::Override), "{permission}");
    }
    let decision = decide(&policy, &owner, &on("workflow.no_restrictions", "7"));
    assert!(!decision.allowed);
    assert!(decision.explain().contains("only through a binding"));
    // Bound as commander on 7, the owner has no restrictions there only.
    let commanding = owner.clone().bind("b1", "incident_commander", wf("7"));
    let decision = decide(&policy, &commanding, &on("statuspage.interact", "7"));
    assert!(decision.allowed, "{}", decision.explain());
    assert_eq!(decision.reasons[0].binding, Some(BindingId::from("b1")));
    assert!(!allowed(
        &policy,
        &commanding,
        &on("statuspage.interact", "8")
    ));
    // A custom org-level role granting the override lifts nothing either.
    let boss = custom_role("boss", ScopeKind::Org, &["workflow.no_restrictions"]);
    let policy2 = preset_policy_with("workflow-roles", vec![boss], vec![]);
    let bossy = Subject::active().bind("b0", "boss", BindingScope::Org);
    assert!(!allowed(&policy2, &bossy, &on("statuspage.interact", "7")));
    // The org-level grant is the right to hand the override out: the Owner
    // still staffs every workflow role (granting limits).
    for role in ["incident_commander", "communications_lead", "scribe"] {
        assert_eq!(
            can_grant_role(&policy, &owner, &RoleId::from(role), &wf("7")),
            Ok(()),
            "{role}"
        );
    }
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
        "timeline.create",
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
    // An individual deny of a workflow permission yields to the override
    // (SPEC §2 step 4), with a note naming it ...
    let denied =
        commander
            .clone()
            .override_with("o1", key("statuspage.interact"), Grant::Deny, wf("7"));
    let decision = decide(&policy, &denied, &on("statuspage.interact", "7"));
    assert!(decision.allowed, "{}", decision.explain());
    let note = &decision.reasons[1];
    assert_eq!(
        (note.step, note.effect),
        (Step::IndividualDeny, Effect::Note)
    );
    assert_eq!(note.individual, Some(OverrideId::from("o1")));
    // ... while an individual org-level deny is beyond its reach.
    let denied = commander.override_with(
        "o1",
        key("workflows.declare"),
        Grant::Deny,
        BindingScope::Org,
    );
    let decision = decide(&policy, &denied, &Query::of("workflows.declare"));
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
