//! In-process throughput of the permission engine on one thread.
//!
//! A plain `Instant` loop (no harness): it builds three realistic
//! scenarios from the built-in presets, runs a mix of checks for a fixed
//! time per scenario and prints checks per second. Run with
//! `cargo bench --bench authz`. The target is ≥ 1,000,000 checks/s per core.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rollcall::domain::authz::{
    BindingScope, Grant, PermissionKey, Policy, Preset, Query, ResourceType, Subject,
    WorkspaceAccess, check,
};

struct Scenario {
    name: &'static str,
    policy: Policy,
    subject: Subject,
    queries: Vec<Query>,
}

fn policy(name: &str) -> Policy {
    Preset::load(name)
        .and_then(|p| p.policy().map_err(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn key(k: &str) -> PermissionKey {
    PermissionKey::parse(k).expect("valid key")
}

fn resource_type(t: &str) -> ResourceType {
    ResourceType::parse(t).expect("valid resource type")
}

/// Analytics: one org-level binding, restricted workspace list, workspace
/// queries (visibility + role grant) and one org query.
fn analytics() -> Scenario {
    let subject = Subject::active()
        .bind("b-org", "view_manager", BindingScope::Org)
        .with_workspaces(WorkspaceAccess::only(["w1", "w2", "w3", "w4", "w5"]).with_home("w1"));
    let queries = vec![
        Query::of("dashboards.view").in_workspace("w3"),
        Query::of("metrics.edit").in_workspace("w1"),
        Query::of("reports.individuals.view").in_workspace("w2"),
        Query::of("workspace.tools.edit").in_workspace("w4"),
        Query::of("dashboards.view").in_workspace("w9"),
        Query::of("org.settings.manage"),
    ];
    Scenario {
        name: "analytics (org binding, workspace queries)",
        policy: policy("analytics"),
        subject,
        queries,
    }
}

/// Workflow roles: an org role plus resource-scoped bindings on several
/// workflows; overrides, derived rules and defaults.
fn workflow() -> Scenario {
    let wf = |id: &str| BindingScope::resource(resource_type("workflow"), id);
    let subject = Subject::active()
        .bind("b-org", "member", BindingScope::Org)
        .bind("b1", "scribe", wf("101"))
        .bind("b2", "incident_commander", wf("102"))
        .bind("b3", "responder", wf("103"));
    let on = |permission: &str, id: &str| Query::of(permission).on(resource_type("workflow"), id);
    let queries = vec![
        on("statuspage.interact", "102"),
        on("timeline.create", "101"),
        on("severity.modify", "104").with_relation("declaring"),
        on("workflow.view", "109"),
        on("roles.assign", "101"),
        on("statuspage.interact", "103"),
    ];
    Scenario {
        name: "workflow-roles (resource bindings, overrides, rules)",
        policy: policy("workflow-roles"),
        subject,
        queries,
    }
}

/// Permission profiles: a profile plus individual additional policies;
/// module fall-through and the invited override.
fn profiles() -> Scenario {
    let subject = Subject::active()
        .bind("b-org", "member_plus", BindingScope::Org)
        .override_with(
            "o1",
            key("admin_area.access"),
            Grant::Allow,
            BindingScope::Org,
        )
        .override_with("o2", key("reports.view"), Grant::Deny, BindingScope::Org);
    let on = |permission: &str, id: &str| Query::of(permission).on(resource_type("incident"), id);
    let queries = vec![
        on("status_board.write", "1"),
        on("situation_report.write", "1").with_relation("invited"),
        on("situation_report.write", "2"),
        Query::of("admin_area.access"),
        Query::of("reports.view"),
        on("task_board.delete_archive", "3"),
    ];
    Scenario {
        name: "permission-profiles (overrides, individual policies)",
        policy: policy("permission-profiles"),
        subject,
        queries,
    }
}

/// Runs the scenario's queries round-robin for about `budget`; returns
/// (checks, elapsed, allowed count).
fn run(scenario: &Scenario, budget: Duration) -> (u64, Duration, u64) {
    let mut checks = 0u64;
    let mut allowed = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        // Check the clock once per batch so timing stays out of the loop.
        for _ in 0..1_000 {
            for query in &scenario.queries {
                let decision = check(
                    black_box(&scenario.policy),
                    black_box(&scenario.subject),
                    black_box(query),
                )
                .expect("valid query");
                allowed += u64::from(decision.allowed);
                black_box(&decision);
                checks += 1;
            }
        }
    }
    (checks, start.elapsed(), allowed)
}

fn main() {
    let scenarios = [analytics(), workflow(), profiles()];
    let budget = Duration::from_millis(1_500);
    let mut total_checks = 0u64;
    let mut total_time = Duration::ZERO;
    println!(
        "authz engine, one thread, {} ms per scenario",
        budget.as_millis()
    );
    for scenario in &scenarios {
        run(scenario, Duration::from_millis(200)); // warm-up
        let (checks, elapsed, allowed) = run(scenario, budget);
        total_checks += checks;
        total_time += elapsed;
        let rate = checks as f64 / elapsed.as_secs_f64();
        println!(
            "{:<56} {:>12.0} checks/s  {:>7.1} ns/check  ({} of {} allowed)",
            scenario.name,
            rate,
            1e9 / rate,
            allowed,
            checks
        );
    }
    let rate = total_checks as f64 / total_time.as_secs_f64();
    println!(
        "{:<56} {:>12.0} checks/s  {:>7.1} ns/check",
        "mix",
        rate,
        1e9 / rate
    );
}
