//! The seed 003 matrix of SPEC §2, cell by cell, through the public API.
//!
//! The table below is a literal copy of the SPEC's; the test parses it and
//! never reads the preset file's grants, so a wrong preset fails here.

use super::*;

const SPEC_MATRIX: &str = "\
| permission | Owner | Admin | Workspace Admin | Data Manager | View Manager | Read Only | Restricted Read Only | Integrations Manager |
|---|---|---|---|---|---|---|---|---|
| view dashboards | Y | Y | Y | Y | Y | Y | Y | N |
| view deliverables | Y | Y | Y | Y | Y | Y | Y | N |
| view milestones | Y | Y | Y | Y | Y | Y | Y | N |
| view goals | Y | Y | Y | Y | Y | Y | Y | N |
| view DORA metrics | Y | Y | Y | Y | Y | Y | Y | N |
| edit DORA metrics | Y | Y | Y | Y | Y | Y | N | N |
| view WIT | Y | Y | Y | Y | Y | Y | N | N |
| view metrics | Y | Y | Y | Y | Y | Y | N | N |
| edit metrics | Y | Y | Y | Y | Y | Y | N | N |
| add/remove milestones, edit dashboards | Y | Y | Y | Y | Y | N | N | N |
| view all workspaces | Y | Y | N | Y | optional | optional | optional | N |
| workspace-level: edit employees / data contributors | Y | Y | Y | Y | N | N | N | N |
| workspace-level: add/remove tools, edit resources | Y | Y | Y | N | N | N | N | N |
| org-level: edit employees / data contributors | Y | Y | Y | Y | N | N | N | N |
| org-level: add/remove tools, edit resources | Y | Y | Y | N | N | N | N | Y |
| org-wide settings (SSO settings, managing users) | Y | Y | Y | N | N | N | N | N |
| legacy billing menu | Y | N | N | N | N | N | N | N |
";

/// Column header → role key.
const ROLE_KEYS: [(&str, &str); 8] = [
    ("Owner", "owner"),
    ("Admin", "admin"),
    ("Workspace Admin", "workspace_admin"),
    ("Data Manager", "data_manager"),
    ("View Manager", "view_manager"),
    ("Read Only", "read_only"),
    ("Restricted Read Only", "restricted_read_only"),
    ("Integrations Manager", "integrations_manager"),
];

/// Row label → permission key (the row "view all workspaces" is visibility).
const PERMISSION_KEYS: [(&str, &str); 16] = [
    ("view dashboards", "dashboards.view"),
    ("view deliverables", "deliverables.view"),
    ("view milestones", "milestones.view"),
    ("view goals", "goals.view"),
    ("view DORA metrics", "dora.view"),
    ("edit DORA metrics", "dora.edit"),
    ("view WIT", "wit.view"),
    ("view metrics", "metrics.view"),
    ("edit metrics", "metrics.edit"),
    ("add/remove milestones, edit dashboards", "dashboards.edit"),
    (
        "workspace-level: edit employees / data contributors",
        "workspace.contributors.edit",
    ),
    (
        "workspace-level: add/remove tools, edit resources",
        "workspace.tools.edit",
    ),
    (
        "org-level: edit employees / data contributors",
        "org.contributors.edit",
    ),
    (
        "org-level: add/remove tools, edit resources",
        "org.tools.edit",
    ),
    (
        "org-wide settings (SSO settings, managing users)",
        "org.settings.manage",
    ),
    ("legacy billing menu", "billing.legacy"),
];

const VISIBILITY_ROW: &str = "view all workspaces";

struct Matrix {
    roles: Vec<&'static str>,
    /// (permission key, expected per role)
    permissions: Vec<(&'static str, Vec<bool>)>,
    /// "Y" | "N" | "optional" per role
    visibility: Vec<&'static str>,
}

fn cells(line: &'static str) -> Vec<&'static str> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

fn parse_matrix() -> Matrix {
    let mut lines = SPEC_MATRIX.lines();
    let header = cells(lines.next().unwrap());
    let roles = header[1..]
        .iter()
        .map(|name| {
            ROLE_KEYS
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("unknown column {name}"))
                .1
        })
        .collect();
    lines.next(); // separator
    let mut permissions = Vec::new();
    let mut visibility = Vec::new();
    for line in lines {
        let row = cells(line);
        let (label, values) = (row[0], &row[1..]);
        if label == VISIBILITY_ROW {
            visibility = values.to_vec();
            continue;
        }
        let key_ = PERMISSION_KEYS
            .iter()
            .find(|(l, _)| *l == label)
            .unwrap_or_else(|| panic!("unknown row {label}"))
            .1;
        let expected = values
            .iter()
            .map(|v| match *v {
                "Y" => true,
                "N" => false,
                other => panic!("unexpected cell {other}"),
            })
            .collect();
        permissions.push((key_, expected));
    }
    Matrix {
        roles,
        permissions,
        visibility,
    }
}

/// A user holding one org-level role, assigned to workspace w1 only.
fn holder(role: &str) -> Subject {
    Subject::active()
        .bind("b1", role, BindingScope::Org)
        .with_workspaces(WorkspaceAccess::only(["w1"]))
}

fn query_for(policy: &Policy, permission: &str) -> Query {
    let query = Query::of(permission);
    match policy.permission(permission).unwrap().scope {
        ScopeKind::Workspace => query.in_workspace("w1"),
        _ => query,
    }
}

/// Checks one permission cell; returns a description on mismatch.
fn permission_cell(
    policy: &Policy,
    role: &str,
    permission: &str,
    expected: bool,
) -> Option<String> {
    let subject = holder(role);
    let decision = decide(policy, &subject, &query_for(policy, permission));
    // The same cell asked the other way round (org permissions inside a
    // visible workspace, workspace permissions with that workspace named
    // through a resource) must agree.
    let mut other = Query::of(permission).in_workspace("w1");
    if policy.permission(permission).unwrap().scope == ScopeKind::Workspace {
        other = Query::of(permission).on_in(rtype("dashboard"), "d1", "w1");
    }
    let again = decide(policy, &subject, &other);
    if decision.allowed != expected || again.allowed != expected {
        return Some(format!(
            "{role} / {permission}: expected {expected}, got {} ({}) and {}",
            decision.allowed,
            decision.explain(),
            again.allowed
        ));
    }
    None
}

/// Checks one visibility cell; returns a description on mismatch.
fn visibility_cell(policy: &Policy, role: &str, expected: &str) -> Option<String> {
    let all: Vec<WorkspaceId> = ["w1", "w2", "w3"].map(WorkspaceId::from).to_vec();
    let sees = |access: WorkspaceAccess| {
        let subject = Subject::active()
            .bind("b1", role, BindingScope::Org)
            .with_workspaces(access);
        let answer = visible_workspaces(policy, &subject, &all).unwrap();
        // The same answer through `check`: its first reason is visibility.
        for w in &all {
            let decision = decide(
                policy,
                &subject,
                &Query::of("dashboards.view").in_workspace(w.clone()),
            );
            let first = &decision.reasons[0];
            assert_eq!(first.step, Step::Visibility);
            let visible = first.effect == Effect::Allow;
            assert_eq!(
                visible,
                answer.workspaces.contains(w),
                "{role}: {}",
                first.message
            );
        }
        (
            answer.all,
            answer
                .workspaces
                .iter()
                .map(WorkspaceId::to_string)
                .collect::<Vec<_>>(),
        )
    };
    let unrestricted = sees(WorkspaceAccess::all());
    let restricted = sees(WorkspaceAccess::only(["w1"]));
    let everything = (
        true,
        vec!["w1".to_owned(), "w2".to_owned(), "w3".to_owned()],
    );
    let (want_unrestricted, want_restricted) = match expected {
        // Sees every workspace whatever the user's list says.
        "Y" => (everything.clone(), everything),
        // Sees only assigned workspaces: none when nothing is assigned.
        "N" => ((false, vec![]), (false, vec!["w1".to_owned()])),
        // All until an admin restricts the user, then only the list.
        "optional" => (everything, (false, vec!["w1".to_owned()])),
        other => panic!("unexpected visibility cell {other}"),
    };
    if unrestricted != want_unrestricted || restricted != want_restricted {
        return Some(format!(
            "{role} / view all workspaces ({expected}): unrestricted {unrestricted:?}, restricted {restricted:?}"
        ));
    }
    None
}

#[test]
fn all_136_cells_of_the_seed_003_matrix() {
    let policy = preset_policy("analytics");
    let matrix = parse_matrix();
    assert_eq!(matrix.roles.len(), 8);
    assert_eq!(matrix.permissions.len(), 16);
    assert_eq!(matrix.visibility.len(), 8);

    let mut checked = 0;
    let mut failures = Vec::new();
    for (permission, expected) in &matrix.permissions {
        for (role, want) in matrix.roles.iter().zip(expected) {
            failures.extend(permission_cell(&policy, role, permission, *want));
            checked += 1;
        }
    }
    for (role, want) in matrix.roles.iter().zip(&matrix.visibility) {
        failures.extend(visibility_cell(&policy, role, want));
        checked += 1;
    }
    assert_eq!(checked, 136);
    assert!(
        failures.is_empty(),
        "{} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn anonymized_variants_match_their_base_role_minus_the_individuals_report() {
    let policy = preset_policy("analytics");
    let matrix = parse_matrix();
    for base in [
        "data_manager",
        "view_manager",
        "read_only",
        "restricted_read_only",
    ] {
        let variant = format!("{base}_anonymized");
        let column = matrix.roles.iter().position(|r| *r == base).unwrap();
        let mut failures = Vec::new();
        for (permission, expected) in &matrix.permissions {
            failures.extend(permission_cell(
                &policy,
                &variant,
                permission,
                expected[column],
            ));
        }
        failures.extend(visibility_cell(
            &policy,
            &variant,
            matrix.visibility[column],
        ));
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        let individuals = Query::of("reports.individuals.view").in_workspace("w1");
        assert!(allowed(&policy, &holder(base), &individuals), "{base}");
        assert!(
            !allowed(&policy, &holder(&variant), &individuals),
            "{variant}"
        );
        assert!(!is_anonymized(&policy, &holder(base)).unwrap());
        assert!(is_anonymized(&policy, &holder(&variant)).unwrap());
    }
}

#[test]
fn gateway_permissions_go_to_org_wide_settings_holders() {
    let policy = preset_policy("analytics");
    let matrix = parse_matrix();
    let settings = &matrix
        .permissions
        .iter()
        .find(|(k, _)| *k == "org.settings.manage")
        .unwrap()
        .1;
    for (role, holds_settings) in matrix.roles.iter().zip(settings) {
        for (gateway, _) in GATEWAY_PERMISSIONS {
            assert_eq!(
                allowed(&policy, &holder(role), &Query::of(gateway)),
                *holds_settings,
                "{role} / {gateway}"
            );
        }
    }
}

#[test]
fn only_the_owner_is_the_last_owner_role() {
    let policy = preset_policy("analytics");
    let owners: Vec<_> = policy
        .roles()
        .filter(|r| r.owner)
        .map(|r| r.key.to_string())
        .collect();
    assert_eq!(owners, ["owner"]);
}
