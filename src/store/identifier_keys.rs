//! The stored comparison keys of userName and email (`user_name_lower`,
//! `email_lower`), and the users whose identifiers collide under them.
//!
//! The key is [`crate::domain::names::comparison_key`] (NFKC, case folded,
//! invisible characters dropped), computed in Rust because neither backend
//! can. When the key's definition changes, [`KEY_VERSION`] is bumped and
//! [`recompute_if_needed`] (run right after the migrations) rewrites the
//! stored keys once.
//!
//! Rows written under an older key may now collide — `dave@acme.com` and
//! `ｄａｖｅ@acme.com` were two users and are one identifier now. The
//! upgrade does not fail on them: the partial unique indexes keep holding
//! (one user of each colliding set takes the new key, the others keep their
//! old one), every member of the set is recorded in `user_key_collisions`,
//! and an audit event `user.identifier_collision` names them. A later write
//! to any of them that keeps the shared key is refused as a uniqueness
//! conflict ([`check_write`]) until the others are renamed or deprovisioned.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::audit::{self, NewAuditEvent};
use super::schema::{identifier_key_state, user_key_collisions, users};
use super::{DbConnection, StoreError, UniqueField, write_tx};
use crate::domain::audit::Actor;
use crate::domain::names::comparison_key;
use crate::domain::{OrgId, UserStatus};

/// The version of the comparison key the stored columns hold once
/// [`recompute_if_needed`] has run. Bump it when `comparison_key` changes.
pub const KEY_VERSION: i64 = 1;

/// What a recomputation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recomputed {
    /// Stored keys rewritten.
    pub changed: usize,
    /// Sets of live users of one org sharing a key (each one audit event).
    pub collisions: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Field {
    UserName,
    Email,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::UserName => "user_name",
            Field::Email => "email",
        }
    }

    fn wire(self) -> &'static str {
        match self {
            Field::UserName => "userName",
            Field::Email => "email",
        }
    }

    fn parse(s: &str) -> Option<Field> {
        match s {
            "user_name" => Some(Field::UserName),
            "email" => Some(Field::Email),
            _ => None,
        }
    }

    fn unique(self) -> UniqueField {
        match self {
            Field::UserName => UniqueField::UserName,
            Field::Email => UniqueField::Email,
        }
    }
}

#[derive(Queryable)]
struct Row {
    id: String,
    org_id: String,
    user_name: String,
    user_name_lower: String,
    email: Option<String>,
    email_lower: Option<String>,
    status: String,
}

impl Row {
    fn stored(&self, field: Field) -> Option<(&str, &str)> {
        match field {
            Field::UserName => Some((&self.user_name, &self.user_name_lower)),
            Field::Email => self.email.as_deref().zip(self.email_lower.as_deref()),
        }
    }

    fn live(&self) -> bool {
        self.status != UserStatus::Deprovisioned.as_str()
    }
}

/// Rewrites the stored keys if they predate [`KEY_VERSION`], in one write
/// transaction. `None` when they were current already.
pub fn recompute_if_needed(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Option<Recomputed>, StoreError> {
    write_tx(conn, |c| {
        let version: i64 = identifier_key_state::table
            .filter(identifier_key_state::id.eq(1))
            .select(identifier_key_state::version)
            .first(c)?;
        if version >= KEY_VERSION {
            return Ok(None);
        }
        let done = recompute(c, now)?;
        diesel::update(identifier_key_state::table.filter(identifier_key_state::id.eq(1)))
            .set(identifier_key_state::version.eq(KEY_VERSION))
            .execute(c)?;
        Ok(Some(done))
    })
}

fn recompute(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Recomputed, StoreError> {
    let rows: Vec<Row> = users::table
        .select((
            users::id,
            users::org_id,
            users::user_name,
            users::user_name_lower,
            users::email,
            users::email_lower,
            users::status,
        ))
        .order((users::created_at, users::id))
        .load(conn)?;
    let mut done = Recomputed::default();
    for field in [Field::UserName, Field::Email] {
        // (row index, new key) of every row whose stored key must change.
        let mut updates: Vec<(usize, String)> = Vec::new();
        // Live rows by (org, new key); rows are in creation order.
        let mut live: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
        for (i, row) in rows.iter().enumerate() {
            let Some((value, old)) = row.stored(field) else {
                continue;
            };
            let key = comparison_key(value);
            if row.live() {
                live.entry((&row.org_id, key.clone())).or_default().push(i);
            }
            if key != old {
                updates.push((i, key));
            }
        }
        let mut losers: Vec<usize> = Vec::new();
        let mut events: Vec<NewAuditEvent> = Vec::new();
        for ((org, key), members) in live.iter().filter(|(_, m)| m.len() > 1) {
            // The user that already holds the key keeps it, else the oldest.
            let winner = members
                .iter()
                .copied()
                .find(|&i| rows[i].stored(field).is_some_and(|(_, old)| old == key))
                .unwrap_or(members[0]);
            losers.extend(members.iter().copied().filter(|&i| i != winner));
            for &i in members {
                diesel::insert_into(user_key_collisions::table)
                    .values((
                        user_key_collisions::user_id.eq(&rows[i].id),
                        user_key_collisions::org_id.eq(*org),
                        user_key_collisions::field.eq(field.as_str()),
                        user_key_collisions::comparison_key.eq(key),
                    ))
                    .execute(conn)?;
            }
            let users: Vec<_> = members
                .iter()
                .map(|&i| json!({"id": rows[i].id, field.wire(): rows[i].stored(field).map(|(v, _)| v)}))
                .collect();
            events.push(NewAuditEvent {
                org_id: Some(OrgId::from_trusted(org.to_string())),
                actor: Actor::system(),
                action: "user.identifier_collision",
                target_kind: "user",
                target_id: Some(rows[winner].id.clone()),
                before: None,
                after: Some(json!({
                    "field": field.wire(),
                    "comparison_key": key,
                    "users": users,
                    "resolution": "writes to these users that keep this identifier are refused (409) \
                                   until all but one are renamed or deprovisioned",
                })),
                request_id: None,
                occurred_at: now,
            });
        }
        done.collisions += events.len();
        audit::insert(conn, &events)?;
        updates.retain(|(i, _)| !losers.contains(i));
        // Two steps, so that no intermediate state breaks a unique index
        // when one user's new key is another user's old one.
        for (i, _) in &updates {
            set_key(conn, field, &rows[*i].id, &format!("\u{1}{}", rows[*i].id))?;
        }
        for (i, key) in &updates {
            set_key(conn, field, &rows[*i].id, key)?;
        }
        done.changed += updates.len();
    }
    Ok(done)
}

fn set_key(conn: &mut DbConnection, field: Field, id: &str, key: &str) -> Result<(), StoreError> {
    let target = users::table.filter(users::id.eq(id));
    match field {
        Field::UserName => diesel::update(target)
            .set(users::user_name_lower.eq(key))
            .execute(conn)?,
        Field::Email => diesel::update(target)
            .set(users::email_lower.eq(key))
            .execute(conn)?,
    };
    Ok(())
}

/// Before a write that gives user `user_id` these keys (`None` for a user
/// being deprovisioned): refuses it as a uniqueness conflict while the user
/// keeps a key it shares with another live user from the upgrade, and
/// forgets collisions the write resolves. One indexed read when the user
/// has no recorded collision (the common case).
pub fn check_write(
    conn: &mut DbConnection,
    user_id: &str,
    keys: Option<(&str, Option<&str>)>,
) -> Result<(), StoreError> {
    let recorded: Vec<(String, String, String)> = user_key_collisions::table
        .filter(user_key_collisions::user_id.eq(user_id))
        .select((
            user_key_collisions::field,
            user_key_collisions::org_id,
            user_key_collisions::comparison_key,
        ))
        .load(conn)?;
    for (field_text, org, key) in recorded {
        let Some(field) = Field::parse(&field_text) else {
            continue;
        };
        let new_key = keys.and_then(|(name, email)| match field {
            Field::UserName => Some(name),
            Field::Email => email,
        });
        if new_key == Some(key.as_str()) {
            let others: Vec<String> = user_key_collisions::table
                .filter(user_key_collisions::org_id.eq(&org))
                .filter(user_key_collisions::field.eq(field.as_str()))
                .filter(user_key_collisions::comparison_key.eq(&key))
                .filter(user_key_collisions::user_id.ne(user_id))
                .select(user_key_collisions::user_id)
                .load(conn)?;
            let live_others: i64 = users::table
                .filter(users::id.eq_any(&others))
                .filter(super::users::live())
                .count()
                .get_result(conn)?;
            if live_others > 0 {
                return Err(StoreError::Unique(field.unique()));
            }
        }
        diesel::delete(
            user_key_collisions::table
                .filter(user_key_collisions::user_id.eq(user_id))
                .filter(user_key_collisions::field.eq(field.as_str())),
        )
        .execute(conn)?;
    }
    Ok(())
}
