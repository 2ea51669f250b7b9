//! Property tests of the engine's invariants over generated policies,
//! subjects and queries:
//!
//! - the user's status is checked first;
//! - an individual deny at org scope on an org-level permission beats
//!   everything (roles, sets, individual allows, overrides), and stops a
//!   module-policy override from lifting the modules defaulting to it;
//! - any other individual deny (module-level, or scoped to a workspace or
//!   resource) decides — unless an override covers the query, in which
//!   case it yields (SPEC §2 steps 2–4, seed 001 "regardless of
//!   module-level permissions");
//! - adding an allow (role grant, module allow, set, individual allow,
//!   default, binding) never removes access;
//! - an override never reaches outside the scope of what grants it;
//! - the answer (and its reasons) never depends on the order of the
//!   subject's bindings, overrides and sets;
//! - a sub-workspace inherits exactly its parent's workspace bindings and
//!   list entries (checked against subjects with those copied by hand).
//!
//! The universe is small on purpose (two workspaces, three documents, two
//! applications) so that generated bindings and queries actually meet.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// Keys a role lists under `grants`.
const GRANT_KEYS: [&str; 12] = [
    "o.p1", "o.p2", "w.p1", "w.p2", "d.p1", "d.p2", "a.s1", "a.s2", "d.all", "d.mods", "d.rule",
    "w.rule",
];
/// Keys a role lists under `module_policies`.
const MODULE_KEYS: [&str; 2] = ["d.m_read", "d.m_write"];
const SET_KEYS: [&str; 2] = ["a.s1", "a.s2"];
const SET_IDS: [&str; 3] = ["s1", "s2", "s3"];
const APPS: [&str; 2] = ["app1", "app2"];
const RELATIONS: [&str; 2] = ["invited", "owner"];
/// Generated roles r0..r3, plus "extra" (allow-only) and "lifter".
const ROLES: usize = 4;

fn all_keys() -> Vec<&'static str> {
    GRANT_KEYS.iter().chain(&MODULE_KEYS).copied().collect()
}

fn catalogue() -> Vec<PermissionDef> {
    let doc = ScopeKind::resource("doc").unwrap();
    let application = ScopeKind::resource("application").unwrap();
    let def = |k: &str, scope: &ScopeKind, kind: PermissionKind| PermissionDef {
        key: key(k),
        description: String::new(),
        scope: scope.clone(),
        kind,
    };
    let module = |default_from: &str| PermissionKind::Module {
        module: "m".into(),
        action: ModuleAction::Read,
        default_from: key(default_from),
    };
    vec![
        def("o.p1", &ScopeKind::Org, PermissionKind::Plain),
        def("o.p2", &ScopeKind::Org, PermissionKind::Plain),
        def("w.p1", &ScopeKind::Workspace, PermissionKind::Plain),
        def("w.p2", &ScopeKind::Workspace, PermissionKind::Plain),
        def("d.p1", &doc, PermissionKind::Plain),
        def("d.p2", &doc, PermissionKind::Plain),
        def("a.s1", &application, PermissionKind::Plain),
        def("a.s2", &application, PermissionKind::Plain),
        def("d.m_read", &doc, module("o.p1")),
        def("d.m_write", &doc, module("o.p2")),
        def(
            "d.all",
            &doc,
            PermissionKind::Override {
                lifts: Lifts::All,
                relation: None,
                bound_only: false,
            },
        ),
        def(
            "d.mods",
            &doc,
            PermissionKind::Override {
                lifts: Lifts::ModulePolicies,
                relation: Some("invited".into()),
                bound_only: false,
            },
        ),
        def(
            "d.rule",
            &doc,
            PermissionKind::Derived {
                rule: Rule::Any(vec![
                    Rule::Granted,
                    Rule::All(vec![
                        Rule::Grant(key("w.p1")),
                        Rule::Relation("owner".into()),
                    ]),
                ]),
            },
        ),
        def(
            "w.rule",
            &ScopeKind::Workspace,
            PermissionKind::Derived {
                rule: Rule::All(vec![Rule::Granted, Rule::Grant(key("o.p2"))]),
            },
        ),
    ]
}

#[derive(Debug, Clone)]
struct RoleSpec {
    grants: Vec<Option<Grant>>,
    modules: Vec<Option<Grant>>,
    visibility: VisibilityMode,
    sets: Vec<bool>,
}

#[derive(Debug, Clone)]
struct SetSpec {
    app: usize,
    steps: Vec<bool>,
}

#[derive(Debug, Clone)]
struct World {
    roles: Vec<RoleSpec>,
    extra: RoleSpec,
    sets: Vec<SetSpec>,
    defaults: Vec<bool>,
}

impl World {
    fn role(&self, id: &str, spec: &RoleSpec) -> Role {
        let mut role = Role::new(id, id, id);
        role.visibility = spec.visibility;
        for (k, grant) in GRANT_KEYS.iter().zip(&spec.grants) {
            if let Some(grant) = grant {
                role.grants.insert(key(k), *grant);
            }
        }
        for (k, grant) in MODULE_KEYS.iter().zip(&spec.modules) {
            if let Some(grant) = grant {
                role.module_policies.insert(key(k), *grant);
            }
        }
        for (set, on) in SET_IDS.iter().zip(&spec.sets) {
            if *on {
                role.permission_sets.push(SetId::from(*set));
            }
        }
        role
    }

    fn policy(&self) -> Policy {
        let mut roles: Vec<Role> = self
            .roles
            .iter()
            .enumerate()
            .map(|(i, spec)| self.role(&format!("r{i}"), spec))
            .collect();
        // "extra" is allow-only and allows every default, so binding it can
        // only add access (defaults stop applying where it is bound).
        let mut extra = self.role("extra", &self.extra);
        for (k, on) in all_keys().iter().zip(&self.defaults) {
            if *on {
                if MODULE_KEYS.contains(k) {
                    extra.module_policies.insert(key(k), Grant::Allow);
                } else {
                    extra.grants.insert(key(k), Grant::Allow);
                }
            }
        }
        roles.push(extra);
        let mut lifter = Role::new("lifter", "lifter", "lifter");
        lifter.grants.insert(key("d.all"), Grant::Allow);
        lifter.grants.insert(key("d.mods"), Grant::Allow);
        roles.push(lifter);

        let sets = self
            .sets
            .iter()
            .zip(SET_IDS)
            .map(|(spec, id)| PermissionSet {
                id: SetId::from(id),
                name: id.to_owned(),
                description: String::new(),
                application: ResourceId::from(APPS[spec.app]),
                permissions: SET_KEYS
                    .iter()
                    .zip(&spec.steps)
                    .filter(|(_, on)| **on)
                    .map(|(k, _)| key(k))
                    .collect(),
            })
            .collect();
        let defaults = OrgDefaults {
            allow: all_keys()
                .iter()
                .zip(&self.defaults)
                .filter(|(_, on)| **on)
                .map(|(k, _)| key(k))
                .collect(),
        };
        Policy::new(catalogue(), roles, sets, defaults).expect("generated policy is valid")
    }
}

fn doc_type() -> ResourceType {
    rtype("doc")
}

/// The scopes bindings and individual overrides are generated in.
fn scope(choice: usize) -> BindingScope {
    match choice % 8 {
        0 => BindingScope::Org,
        1 => BindingScope::workspace("w1"),
        2 => BindingScope::workspace("w2"),
        3 => BindingScope::resource(doc_type(), "x1"),
        4 => BindingScope::resource(doc_type(), "x2"),
        5 => BindingScope::resource(doc_type(), "x3"),
        6 => BindingScope::resource(rtype("application"), "app1"),
        _ => BindingScope::resource(rtype("application"), "app2"),
    }
}

fn cell() -> impl Strategy<Value = Option<Grant>> {
    prop_oneof![
        3 => Just(None),
        3 => Just(Some(Grant::Allow)),
        1 => Just(Some(Grant::Deny)),
    ]
}

fn visibility() -> impl Strategy<Value = VisibilityMode> {
    prop_oneof![
        Just(VisibilityMode::No),
        Just(VisibilityMode::Optional),
        Just(VisibilityMode::Yes)
    ]
}

fn role_spec(allow_only: bool) -> impl Strategy<Value = RoleSpec> {
    let cell = move || {
        cell().prop_map(move |c| {
            if allow_only && c == Some(Grant::Deny) {
                None
            } else {
                c
            }
        })
    };
    (
        vec(cell(), GRANT_KEYS.len()),
        vec(cell(), MODULE_KEYS.len()),
        visibility(),
        vec(any::<bool>(), SET_IDS.len()),
    )
        .prop_map(|(grants, modules, visibility, sets)| RoleSpec {
            grants,
            modules,
            visibility,
            sets,
        })
}

fn world() -> impl Strategy<Value = World> {
    (
        vec(role_spec(false), ROLES),
        role_spec(true),
        vec(
            (0..APPS.len(), vec(any::<bool>(), SET_KEYS.len()))
                .prop_map(|(app, steps)| SetSpec { app, steps }),
            SET_IDS.len(),
        ),
        vec(
            prop::bool::weighted(0.2),
            GRANT_KEYS.len() + MODULE_KEYS.len(),
        ),
    )
        .prop_map(|(roles, extra, sets, defaults)| World {
            roles,
            extra,
            sets,
            defaults,
        })
}

fn subject() -> impl Strategy<Value = Subject> {
    let status = prop_oneof![
        6 => Just(UserStatus::Active),
        1 => Just(UserStatus::Invited),
        1 => Just(UserStatus::Suspended),
        1 => Just(UserStatus::Deprovisioned),
    ];
    let access = prop_oneof![
        Just(WorkspaceAccess::all()),
        Just(WorkspaceAccess::only(Vec::<WorkspaceId>::new())),
        Just(WorkspaceAccess::only(["w1"])),
        Just(WorkspaceAccess::only(["w1", "w2"])),
    ];
    let keys = all_keys().len();
    (
        status,
        vec((0..ROLES, 0..8usize), 0..5),
        vec((0..keys, any::<bool>(), 0..8usize), 0..4),
        vec(any::<bool>(), SET_IDS.len()),
        access,
    )
        .prop_map(|(status, bindings, overrides, sets, access)| {
            let mut subject = Subject::with_status(status).with_workspaces(access);
            for (i, (role, s)) in bindings.into_iter().enumerate() {
                subject = subject.bind(&format!("b{i}"), &format!("r{role}"), scope(s));
            }
            for (i, (k, deny, s)) in overrides.into_iter().enumerate() {
                let grant = if deny { Grant::Deny } else { Grant::Allow };
                subject =
                    subject.override_with(&format!("o{i}"), key(all_keys()[k]), grant, scope(s));
            }
            for (set, on) in SET_IDS.iter().zip(sets) {
                if on {
                    subject = subject.add_set(set);
                }
            }
            subject
        })
}

/// A valid query for any catalogue key: context fitting its scope.
fn query() -> impl Strategy<Value = Query> {
    (0..all_keys().len(), 0..3usize, 0..4usize).prop_map(|(k, context, relations)| {
        let permission = all_keys()[k];
        let mut query = Query::of(permission);
        query = match permission.chars().next() {
            Some('o') | Some('w') => match context {
                0 => query,
                1 => query.in_workspace("w1"),
                _ => query.in_workspace("w2"),
            },
            Some('d') => match context {
                0 => query.on_in(doc_type(), "x1", "w1"),
                1 => query.on_in(doc_type(), "x2", "w2"),
                _ => query.on(doc_type(), "x3"),
            },
            _ => query.on(rtype("application"), APPS[context % 2]),
        };
        for (bit, relation) in RELATIONS.iter().enumerate() {
            if relations & (1 << bit) != 0 {
                query = query.with_relation(relation);
            }
        }
        query
    })
}

fn activate(mut subject: Subject) -> Subject {
    subject.status = UserStatus::Active;
    subject
}

/// Ways of adding an allow.
#[derive(Debug, Clone)]
enum Addition {
    RoleGrant { role: usize, key: usize },
    ModuleAllow { role: usize, key: usize },
    SetOnRole { role: usize, set: usize },
    SetStep { set: usize, step: usize },
    DirectSet { set: usize },
    IndividualAllow { key: usize, scope: usize },
    DefaultAllow { key: usize },
    Binding { scope: usize },
}

fn addition() -> impl Strategy<Value = Addition> {
    let keys = all_keys().len();
    prop_oneof![
        (0..ROLES, 0..GRANT_KEYS.len()).prop_map(|(role, key)| Addition::RoleGrant { role, key }),
        (0..ROLES, 0..MODULE_KEYS.len())
            .prop_map(|(role, key)| Addition::ModuleAllow { role, key }),
        (0..ROLES, 0..SET_IDS.len()).prop_map(|(role, set)| Addition::SetOnRole { role, set }),
        (0..SET_IDS.len(), 0..SET_KEYS.len())
            .prop_map(|(set, step)| Addition::SetStep { set, step }),
        (0..SET_IDS.len()).prop_map(|set| Addition::DirectSet { set }),
        (0..keys, 0..8usize).prop_map(|(key, scope)| Addition::IndividualAllow { key, scope }),
        (0..keys).prop_map(|key| Addition::DefaultAllow { key }),
        (0..8usize).prop_map(|scope| Addition::Binding { scope }),
    ]
}

/// Applies an addition; absent entries become allows, existing denies are
/// left alone (replacing a deny is a different change).
fn add(world: &World, subject: &Subject, addition: &Addition) -> (World, Subject) {
    let mut world = world.clone();
    let mut subject = subject.clone();
    match *addition {
        Addition::RoleGrant { role, key } => {
            let cell = &mut world.roles[role].grants[key];
            if cell.is_none() {
                *cell = Some(Grant::Allow);
            }
        }
        Addition::ModuleAllow { role, key } => {
            let cell = &mut world.roles[role].modules[key];
            if cell.is_none() {
                *cell = Some(Grant::Allow);
            }
        }
        Addition::SetOnRole { role, set } => world.roles[role].sets[set] = true,
        Addition::SetStep { set, step } => world.sets[set].steps[step] = true,
        Addition::DirectSet { set } => {
            if !subject.sets.contains(&SetId::from(SET_IDS[set])) {
                subject = subject.add_set(SET_IDS[set]);
            }
        }
        Addition::IndividualAllow { key: k, scope: s } => {
            subject = subject.override_with("added", key(all_keys()[k]), Grant::Allow, scope(s));
        }
        Addition::DefaultAllow { key } => world.defaults[key] = true,
        Addition::Binding { scope: s } => subject = subject.bind("added", "extra", scope(s)),
    }
    (world, subject)
}

/// The scope a query is evaluated at, as a binding scope (for a covering
/// individual deny).
fn exact_scope(policy: &Policy, query: &Query) -> BindingScope {
    match (
        &policy.permission(query.permission.as_str()).unwrap().scope,
        &query.resource,
        &query.workspace,
    ) {
        (ScopeKind::Resource(_), Some(r), _) => {
            BindingScope::resource(r.resource_type.clone(), r.id.clone())
        }
        (ScopeKind::Workspace, _, Some(w)) => BindingScope::workspace(w.clone()),
        _ => BindingScope::Org,
    }
}

/// `items` in the order `order` gives (indices past the end are skipped).
fn permute<T: Clone>(items: &[T], order: &[usize]) -> Vec<T> {
    order
        .iter()
        .filter_map(|&i| items.get(i).cloned())
        .collect()
}

fn workspace_of(query: &Query) -> Option<&WorkspaceId> {
    query
        .workspace
        .as_ref()
        .or_else(|| query.resource.as_ref().and_then(|r| r.workspace.as_ref()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn status_is_checked_first(
        world in world(), subject in subject(), query in query(), status in 0..3usize
    ) {
        let policy = world.policy();
        let mut subject = subject;
        subject.status =
            [UserStatus::Invited, UserStatus::Suspended, UserStatus::Deprovisioned][status];
        let decision = check(&policy, &subject, &query).unwrap();
        prop_assert!(!decision.allowed);
        prop_assert_eq!(decision.reasons.len(), 1);
        prop_assert_eq!(decision.reasons[0].step, Step::Status);
    }

    #[test]
    fn an_org_scope_individual_deny_beats_everything(
        world in world(),
        subject in subject(),
        which in 0..2usize,
        context in 0..3usize,
        lifter_scope in 0..8usize,
        also_allowed in any::<bool>(),
    ) {
        let policy = world.policy();
        let denied = ["o.p1", "o.p2"][which];
        let mut subject = activate(subject)
            .bind("lift", "lifter", scope(lifter_scope))
            .override_with("deny", key(denied), Grant::Deny, BindingScope::Org);
        if also_allowed {
            subject = subject.override_with("allow", key(denied), Grant::Allow, BindingScope::Org);
        }
        let query = match context {
            0 => Query::of(denied),
            1 => Query::of(denied).in_workspace("w1"),
            _ => Query::of(denied).in_workspace("w2"),
        };
        let decision = check(&policy, &subject, &query).unwrap();
        prop_assert!(!decision.allowed, "{}", decision.explain());
        let decided_by = decision.reasons.last().unwrap().step;
        prop_assert!(decided_by == Step::IndividualDeny || decided_by == Step::Visibility);
        // No module-policy override lifts a module whose use-default reads
        // the denied permission: d.m_read defaults to o.p1, d.m_write to o.p2.
        let module = ["d.m_read", "d.m_write"][which];
        let on_doc = match context {
            0 => Query::of(module).on_in(doc_type(), "x1", "w1"),
            1 => Query::of(module).on_in(doc_type(), "x2", "w2"),
            _ => Query::of(module).on(doc_type(), "x3"),
        }
        .with_relation("invited");
        let decision = check(&policy, &subject, &on_doc).unwrap();
        prop_assert!(
            !decision.reasons.iter().any(|r| r.step == Step::Override
                && r.effect == Effect::Allow
                && r.permission == Some(key("d.mods"))),
            "{}", decision.explain()
        );
    }

    #[test]
    fn other_individual_denies_yield_only_to_a_covering_override(
        world in world(),
        subject in subject(),
        query in query(),
        deny_scope in 0..3usize,
        with_lifter in any::<bool>(),
    ) {
        let policy = world.policy();
        let def = policy.permission(query.permission.as_str()).unwrap();
        let exact = exact_scope(&policy, &query);
        let scope = match (deny_scope, workspace_of(&query)) {
            (0, _) => exact.clone(),
            (1, Some(w)) => BindingScope::workspace(w.clone()),
            _ => BindingScope::Org,
        };
        // An org-scope deny of an org-level permission is the case above.
        let org_level = def.scope == ScopeKind::Org
            && !matches!(def.kind, PermissionKind::Module { .. });
        prop_assume!(!(org_level && scope == BindingScope::Org));
        let mut subject = activate(subject);
        if with_lifter {
            subject = subject.bind("lift", "lifter", exact_scope(&policy, &query));
        }
        let without = check(&policy, &subject, &query).unwrap();
        // A workspace-scoped deny does not reach a permission evaluated at
        // the org (an org-level permission asked in a workspace).
        let covers = match &scope {
            BindingScope::Workspace { .. } => exact != BindingScope::Org,
            _ => true,
        };
        let denied = subject.override_with("deny", query.permission.clone(), Grant::Deny, scope);
        let with = check(&policy, &denied, &query).unwrap();
        if !covers {
            prop_assert_eq!(with, without);
            return Ok(());
        }
        let lifted = without.allowed
            && without.reasons.iter().any(|r| r.step == Step::Override && r.effect == Effect::Allow);
        prop_assert_eq!(
            with.allowed, lifted,
            "before: {} / after: {}", without.explain(), with.explain()
        );
        if with.allowed {
            // The yielded deny is named.
            prop_assert!(with.reasons.iter().any(|r| r.step == Step::IndividualDeny
                && r.effect == Effect::Note));
        } else {
            let decided_by = with.reasons.last().unwrap().step;
            prop_assert!(
                decided_by == Step::IndividualDeny || decided_by == Step::Visibility,
                "{}", with.explain()
            );
        }
    }

    #[test]
    fn adding_an_allow_never_removes_access(
        world in world(), subject in subject(), queries in vec(query(), 8), addition in addition()
    ) {
        let subject = activate(subject);
        let (world2, subject2) = add(&world, &subject, &addition);
        let (policy, policy2) = (world.policy(), world2.policy());
        for query in &queries {
            let before = check(&policy, &subject, query).unwrap();
            let after = check(&policy2, &subject2, query).unwrap();
            prop_assert!(
                !before.allowed || after.allowed,
                "{:?} removed access: before {} / after {}",
                addition, before.explain(), after.explain()
            );
        }
        // Visibility only widens too.
        let all: Vec<WorkspaceId> = ["w1", "w2"].map(WorkspaceId::from).to_vec();
        let seen = visible_workspaces(&policy, &subject, &all).unwrap().workspaces;
        let seen2 = visible_workspaces(&policy2, &subject2, &all).unwrap().workspaces;
        prop_assert!(seen.iter().all(|w| seen2.contains(w)));
    }

    #[test]
    fn an_override_bound_to_a_resource_never_reaches_beyond_it(
        world in world(),
        subject in subject(),
        queries in vec(query(), 8),
        individually in any::<bool>(),
    ) {
        let policy = world.policy();
        let subject = activate(subject);
        let x1 = BindingScope::resource(doc_type(), "x1");
        let lifted = if individually {
            subject.clone()
                .override_with("lift1", key("d.all"), Grant::Allow, x1.clone())
                .override_with("lift2", key("d.mods"), Grant::Allow, x1)
        } else {
            subject.clone().bind("lift", "lifter", x1)
        };
        for query in &queries {
            let on_x1 = exact_scope(&policy, query) == BindingScope::resource(doc_type(), "x1");
            if !on_x1 {
                prop_assert_eq!(
                    check(&policy, &subject, query).unwrap(),
                    check(&policy, &lifted, query).unwrap()
                );
            }
        }
    }

    #[test]
    fn an_override_bound_to_a_workspace_never_reaches_beyond_it(
        world in world(), subject in subject(), queries in vec(query(), 8)
    ) {
        let policy = world.policy();
        let subject = activate(subject);
        let lifted = subject.clone().bind("lift", "lifter", BindingScope::workspace("w1"));
        for query in &queries {
            if workspace_of(query).map(WorkspaceId::as_str) != Some("w1") {
                prop_assert_eq!(
                    check(&policy, &subject, query).unwrap(),
                    check(&policy, &lifted, query).unwrap()
                );
            }
        }
    }

    #[test]
    fn the_answer_never_depends_on_list_order(
        world in world(),
        subject in subject(),
        queries in vec(query(), 8),
        order in (
            Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
            Just((0..4).collect::<Vec<usize>>()).prop_shuffle(),
            Just((0..3).collect::<Vec<usize>>()).prop_shuffle(),
        ),
    ) {
        let policy = world.policy();
        let subject = activate(subject);
        let mut shuffled = subject.clone();
        shuffled.bindings = permute(&subject.bindings, &order.0);
        shuffled.overrides = permute(&subject.overrides, &order.1);
        shuffled.sets = permute(&subject.sets, &order.2);
        prop_assert_eq!(shuffled.bindings.len(), subject.bindings.len());
        for query in &queries {
            prop_assert_eq!(
                check(&policy, &subject, query).unwrap(),
                check(&policy, &shuffled, query).unwrap()
            );
        }
        let all: Vec<WorkspaceId> = ["w1", "w2"].map(WorkspaceId::from).to_vec();
        prop_assert_eq!(
            visible_workspaces(&policy, &subject, &all).unwrap(),
            visible_workspaces(&policy, &shuffled, &all).unwrap()
        );
        prop_assert_eq!(
            is_anonymized(&policy, &subject).unwrap(),
            is_anonymized(&policy, &shuffled).unwrap()
        );
    }
}

/// The sub-workspace `w1c` of `w1` in queries that named `w1`.
fn into_child(mut query: Query) -> Query {
    let child = WorkspaceId::new("w1c");
    if query.workspace.as_ref().is_some_and(|w| w.as_str() == "w1") {
        query.workspace = Some(child.clone());
    }
    if let Some(r) = &mut query.resource
        && r.workspace.as_ref().is_some_and(|w| w.as_str() == "w1")
    {
        r.workspace = Some(child);
    }
    query
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Seed 004 inheritance, two formulations, one answer: with `w1c` a
    /// sub-workspace of `w1`, a query in `w1c` is decided exactly as if
    /// every workspace binding on `w1` (roles inherit by default) had also
    /// been made on `w1c` and every list entry `w1` also named `w1c`.
    #[test]
    fn a_sub_workspace_inherits_exactly_its_parents_bindings_and_list_entries(
        world in world(), subject in subject(), query in query()
    ) {
        let (w1, w2, w1c) = (WorkspaceId::new("w1"), WorkspaceId::new("w2"), WorkspaceId::new("w1c"));
        let tree = [(&w1, None), (&w2, None), (&w1c, Some(&w1))];
        let with_tree = world.policy().with_workspaces(tree).unwrap();
        let flat = world.policy();
        let query = into_child(query);
        let mut expanded = subject.clone();
        for b in &subject.bindings {
            if b.scope == BindingScope::workspace("w1") {
                let mut copy = b.clone();
                copy.scope = BindingScope::workspace("w1c");
                expanded.bindings.push(copy);
            }
        }
        if let WorkspaceList::Only(list) = &mut expanded.workspaces.list
            && list.contains(&w1)
        {
            list.insert(w1c.clone());
        }
        let inherited = check(&with_tree, &subject, &query).unwrap();
        let oracle = check(&flat, &expanded, &query).unwrap();
        prop_assert_eq!(
            inherited.allowed,
            oracle.allowed,
            "tree: {}\nexpanded: {}",
            inherited.explain(),
            oracle.explain()
        );
    }
}
