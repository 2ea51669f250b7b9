//! Bringing existing orgs to changed preset text (issue "6 of 11"): a step
//! [`Store::migrate`](super::Store::migrate) runs right after the SQL
//! migrations, so a change to a preset file reaches every org created from
//! it without a hand-written data migration.
//!
//! For each org whose `org_preset_sync` row is missing or names another
//! fingerprint than the current text of its preset
//! ([`Preset::fingerprint`]), one write transaction loads the org's
//! records, asks [`plan_sync`] what differs from the preset, applies it —
//! catalogue entries added or redefined, built-in roles added or rewritten,
//! custom roles never touched — checks that the result still compiles,
//! audits each change (actor: the system; actions `preset.*`), bumps the
//! policy version and records the fingerprint. Running it again changes
//! nothing: the plan of a synced org is empty, so it is idempotent even
//! without the fingerprint (which only spares the comparison).
//!
//! Nodes starting together do not apply a plan twice: each org's pass takes
//! the org row first and skips an org another pass has just synced.
//!
//! An org whose records would no longer compile (say a custom role grants a
//! derived permission whose new rule no longer reads `granted`) is left as
//! it was and reported (`preset.sync_failed` in its audit log and a
//! warning); it is retried at the next start. SQL migrations that edited
//! preset records by hand before this existed (`…_access_rules` added the
//! gateway permissions and the `access_reader` role) need no undoing: the
//! presets carry the same records, so the plan finds nothing to change for
//! them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Value, json};

use super::audit::{self, NewAuditEvent};
use super::schema::{org_preset_sync, permissions};
use super::{DbConnection, StoreError, orgs, policy, write_tx};
use crate::domain::OrgId;
use crate::domain::audit::Actor;
use crate::domain::authz::{Preset, PresetChange, Role, RoleId, plan_sync};

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Orgs compared with their preset (fingerprint missing or stale).
    pub compared: usize,
    /// Changes applied, over all orgs.
    pub changes: usize,
    /// Orgs left unchanged because the result would not compile (or their
    /// preset is unknown).
    pub failed: usize,
}

/// Compares every org that is not synced to its preset's current text and
/// applies the differences (see the module docs).
pub fn sync_all(conn: &mut DbConnection, now: NaiveDateTime) -> Result<SyncReport, StoreError> {
    let mut report = SyncReport::default();
    let synced: Vec<(String, String)> = org_preset_sync::table
        .select((org_preset_sync::org_id, org_preset_sync::fingerprint))
        .load(conn)?;
    for org in orgs::list(conn)? {
        let preset_name = org.settings.preset.clone();
        let Some(fingerprint) = Preset::fingerprint(&preset_name) else {
            tracing::warn!(org = %org.id, preset = %preset_name, "org names an unknown preset; not synced");
            report.failed += 1;
            continue;
        };
        if synced
            .iter()
            .any(|(id, f)| id == org.id.as_str() && *f == fingerprint)
        {
            continue;
        }
        report.compared += 1;
        let preset = Preset::load(&preset_name)
            .map_err(|e| StoreError::Corrupt(format!("built-in preset: {e}")))?;
        match write_tx(conn, |c| sync_org(c, &org.id, &preset, &fingerprint, now)) {
            Ok(n) => report.changes += n,
            Err(SyncError::Store(e)) => return Err(e),
            Err(SyncError::WouldNotCompile(message)) => {
                report.failed += 1;
                tracing::warn!(org = %org.id, preset = %preset_name, %message, "preset change not applied");
                write_tx(conn, |c| {
                    audit::insert(
                        c,
                        &[event(
                            &org.id,
                            now,
                            "preset.sync_failed",
                            "org",
                            Some(org.id.to_string()),
                            None,
                            Some(json!({"preset": preset_name, "error": message})),
                        )],
                    )
                })?;
            }
        }
    }
    Ok(report)
}

/// Records that `org` holds the current text of `preset` (a new org seeded
/// from it).
pub fn mark_synced(
    conn: &mut DbConnection,
    org: &OrgId,
    preset: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let Some(fingerprint) = Preset::fingerprint(preset) else {
        return Err(StoreError::Corrupt(format!("unknown preset {preset}")));
    };
    record(conn, org, preset, &fingerprint, now)
}

fn record(
    conn: &mut DbConnection,
    org: &OrgId,
    preset: &str,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::delete(org_preset_sync::table.filter(org_preset_sync::org_id.eq(org.as_str())))
        .execute(conn)?;
    diesel::insert_into(org_preset_sync::table)
        .values((
            org_preset_sync::org_id.eq(org.as_str()),
            org_preset_sync::preset.eq(preset),
            org_preset_sync::fingerprint.eq(fingerprint),
            org_preset_sync::synced_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

enum SyncError {
    Store(StoreError),
    WouldNotCompile(String),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<diesel::result::Error> for SyncError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<serde_json::Error> for SyncError {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(e.into())
    }
}

/// One org, inside the caller's transaction; returns the changes applied.
fn sync_org(
    conn: &mut DbConnection,
    org: &OrgId,
    preset: &Preset,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<usize, SyncError> {
    // Another node starting at the same time may be syncing this org: take
    // the org row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
    // writers) and look again.
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT id FROM orgs WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(org.as_str())
            .execute(c)?;
    }
    let done: Option<String> = org_preset_sync::table
        .filter(org_preset_sync::org_id.eq(org.as_str()))
        .select(org_preset_sync::fingerprint)
        .first(conn)
        .optional()?;
    if done.as_deref() == Some(fingerprint) {
        return Ok(0);
    }
    let mut records = policy::load(conn, org)?;
    let plan = plan_sync(preset, &records.catalogue, &records.roles);
    let mut events = Vec::with_capacity(plan.len());
    let mut applied = 0;
    let mut next_position: i32 = permissions::table
        .filter(permissions::org_id.eq(org.as_str()))
        .select(diesel::dsl::max(permissions::position))
        .first::<Option<i32>>(conn)?
        .map_or(0, |p| p + 1);
    for change in plan {
        applied += 1;
        match change {
            PresetChange::AddPermission(def) => {
                diesel::insert_into(permissions::table)
                    .values((
                        permissions::org_id.eq(org.as_str()),
                        permissions::key.eq(def.key.as_str()),
                        permissions::position.eq(next_position),
                        permissions::definition.eq(serde_json::to_string(&def)?),
                    ))
                    .execute(conn)?;
                next_position += 1;
                events.push(event(
                    org,
                    now,
                    "preset.permission_added",
                    "permission",
                    Some(def.key.to_string()),
                    None,
                    Some(with_preset(preset, serde_json::to_value(&def)?)),
                ));
                records.catalogue.push(def);
            }
            PresetChange::UpdatePermission { before, after } => {
                diesel::update(
                    permissions::table
                        .filter(permissions::org_id.eq(org.as_str()))
                        .filter(permissions::key.eq(after.key.as_str())),
                )
                .set(permissions::definition.eq(serde_json::to_string(&after)?))
                .execute(conn)?;
                events.push(event(
                    org,
                    now,
                    "preset.permission_updated",
                    "permission",
                    Some(after.key.to_string()),
                    Some(serde_json::to_value(&before)?),
                    Some(with_preset(preset, serde_json::to_value(&after)?)),
                ));
                if let Some(slot) = records.catalogue.iter_mut().find(|d| d.key == after.key) {
                    *slot = after;
                }
            }
            PresetChange::AddRole(role) => {
                let stored = Role {
                    id: RoleId::new(uuid::Uuid::now_v7().to_string()),
                    // Presets ship no permission sets (sets belong to the
                    // org's applications), so there is nothing to map.
                    permission_sets: Vec::new(),
                    ..*role
                };
                policy::insert_role(conn, org, &stored, now)?;
                events.push(event(
                    org,
                    now,
                    "preset.role_added",
                    "role",
                    Some(stored.id.to_string()),
                    None,
                    Some(with_preset(preset, serde_json::to_value(&stored)?)),
                ));
                records.roles.push(stored);
            }
            PresetChange::UpdateRole { before, after } => {
                policy::update_role(conn, org, &after, now)?;
                events.push(event(
                    org,
                    now,
                    "preset.role_updated",
                    "role",
                    Some(after.id.to_string()),
                    Some(serde_json::to_value(&before)?),
                    Some(with_preset(preset, serde_json::to_value(&after)?)),
                ));
                if let Some(slot) = records.roles.iter_mut().find(|r| r.id == after.id) {
                    *slot = *after;
                }
            }
            PresetChange::RoleKeyTaken { key, custom } => {
                applied -= 1;
                events.push(event(
                    org,
                    now,
                    "preset.role_key_taken",
                    "role",
                    Some(custom.to_string()),
                    None,
                    Some(json!({
                        "preset": preset.name,
                        "key": key,
                        "message": format!("preset role `{key}` is not added: custom role {custom} uses its key"),
                    })),
                ));
            }
        }
    }
    records
        .build()
        .map_err(|e| SyncError::WouldNotCompile(e.to_string()))?;
    if applied > 0 {
        orgs::bump_policy_version(conn, org)?;
    }
    audit::insert(conn, &events)?;
    record(conn, org, &preset.name, fingerprint, now)?;
    Ok(applied)
}

fn with_preset(preset: &Preset, record: Value) -> Value {
    json!({"preset": preset.name, "record": record})
}

fn event(
    org: &OrgId,
    now: NaiveDateTime,
    action: &'static str,
    target_kind: &'static str,
    target_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(org.clone()),
        actor: Actor::system(),
        action,
        target_kind,
        target_id,
        before,
        after,
        request_id: None,
        occurred_at: now,
    }
}
