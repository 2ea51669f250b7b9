//! Invitations (issue "7 of 11"). One row per invitation; the current
//! message's token is kept as (token id, SHA-256 of the secret), so a resend
//! — a new message with a new token — invalidates the earlier link. At most
//! one pending invite per user (a partial unique index).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invites, users};
use super::{DbConnection, PageCursor, StoreError};
use crate::domain::{OrgId, UserId};

pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const REVOKED: &str = "revoked";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invites)]
pub struct Invite {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    /// Role id; `None`: the org default applies.
    pub role_id: Option<String>,
    /// JSON array of workspace ids; `None`: unrestricted.
    pub workspaces: Option<String>,
    pub invited_by: String,
    pub status: String,
    pub token_id: String,
    pub token_hash: String,
    /// The outbox row of the current message.
    pub message_id: Option<String>,
    pub sends: i64,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

impl Invite {
    /// `pending`, `accepted`, `revoked`, or `expired` (pending past its time).
    pub fn state(&self, now: NaiveDateTime) -> &str {
        if self.status == PENDING && self.expires_at <= now {
            "expired"
        } else {
            &self.status
        }
    }

    pub fn workspace_ids(&self) -> Option<Vec<String>> {
        self.workspaces
            .as_deref()
            .and_then(|w| serde_json::from_str(w).ok())
    }

    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.created_at,
            id: self.id.clone(),
        }
    }
}

pub fn insert(conn: &mut DbConnection, invite: &Invite) -> Result<(), StoreError> {
    diesel::insert_into(invites::table)
        .values(invite)
        .execute(conn)?;
    Ok(())
}

/// Several invites in multi-row INSERTs.
pub fn insert_many(conn: &mut DbConnection, items: &[&Invite]) -> Result<(), StoreError> {
    let rows: Vec<Invite> = items.iter().map(|i| (*i).clone()).collect();
    // 17 columns: 500 rows stay below SQLite's bound-parameter cap.
    for chunk in rows.chunks(500) {
        crate::on_backend!(conn, |c| diesel::insert_into(invites::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

pub fn get(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<Invite, StoreError> {
    Ok(invites::table
        .filter(invites::org_id.eq(org.as_str()))
        .filter(invites::id.eq(id))
        .select(Invite::as_select())
        .first(conn)?)
}

pub fn by_token_id(conn: &mut DbConnection, token_id: &str) -> Result<Option<Invite>, StoreError> {
    Ok(invites::table
        .filter(invites::token_id.eq(token_id))
        .select(Invite::as_select())
        .first(conn)
        .optional()?)
}

/// The user's pending invite, if any.
pub fn pending_for(conn: &mut DbConnection, user: &UserId) -> Result<Option<Invite>, StoreError> {
    Ok(invites::table
        .filter(invites::user_id.eq(user.as_str()))
        .filter(invites::status.eq(PENDING))
        .select(Invite::as_select())
        .first(conn)
        .optional()?)
}

/// Whether the user ever accepted an invite.
pub fn accepted_any(conn: &mut DbConnection, user: &UserId) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        invites::table
            .filter(invites::user_id.eq(user.as_str()))
            .filter(invites::status.eq(ACCEPTED)),
    ))
    .get_result(conn)?)
}

/// Whether the user was ever invited.
pub fn invited_ever(conn: &mut DbConnection, user: &UserId) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        invites::table.filter(invites::user_id.eq(user.as_str())),
    ))
    .get_result(conn)?)
}

/// A new message for the invite: its token replaces the earlier one.
pub fn resend(
    conn: &mut DbConnection,
    id: &str,
    token_id: &str,
    token_hash: &str,
    message_id: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let n = diesel::update(invites::table.find(id).filter(invites::status.eq(PENDING)))
        .set((
            invites::token_id.eq(token_id),
            invites::token_hash.eq(token_hash),
            invites::message_id.eq(Some(message_id)),
            invites::sends.eq(invites::sends + 1),
            invites::expires_at.eq(expires_at),
            invites::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

/// Replace what a pending invite grants.
pub fn set_grants(
    conn: &mut DbConnection,
    id: &str,
    role_id: Option<&str>,
    workspaces: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(invites::table.find(id))
        .set((
            invites::role_id.eq(role_id),
            invites::workspaces.eq(workspaces),
            invites::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Close a pending invite (`accepted` or `revoked`); `false` if it was not
/// pending any more (someone else closed it first).
pub fn close(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let n = diesel::update(invites::table.find(id).filter(invites::status.eq(PENDING)))
        .set((
            invites::status.eq(status),
            invites::closed_at.eq(Some(now)),
            invites::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Listing filter: `state` is pending / accepted / expired / revoked.
pub struct InviteQuery {
    pub state: Option<String>,
    pub after: Option<PageCursor>,
    pub limit: i64,
    pub now: NaiveDateTime,
}

pub fn list(
    conn: &mut DbConnection,
    org: &OrgId,
    q: &InviteQuery,
) -> Result<Vec<Invite>, StoreError> {
    let mut query = invites::table
        .filter(invites::org_id.eq(org.as_str()))
        .select(Invite::as_select())
        .order((invites::created_at.asc(), invites::id.asc()))
        .limit(q.limit)
        .into_boxed();
    match q.state.as_deref() {
        Some("pending") => {
            query = query
                .filter(invites::status.eq(PENDING))
                .filter(invites::expires_at.gt(q.now))
        }
        Some("expired") => {
            query = query
                .filter(invites::status.eq(PENDING))
                .filter(invites::expires_at.le(q.now))
        }
        Some(other) => query = query.filter(invites::status.eq(other.to_owned())),
        None => {}
    }
    if let Some(c) = &q.after {
        query = query.filter(
            invites::created_at.gt(c.created_at).or(invites::created_at
                .eq(c.created_at)
                .and(invites::id.gt(c.id.clone()))),
        );
    }
    Ok(query.load(conn)?)
}

/// Users of the org whose email (or userName) matches, deprovisioned ones
/// included (inviting a deprovisioned user is refused, naming the status):
/// (id, status). Live users through the partial unique indexes, deprovisioned
/// ones through their own partial index — an `OR` over both columns would
/// scan the org's users on every invite.
pub fn users_with_email(
    conn: &mut DbConnection,
    org: &OrgId,
    email_lower: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out: Vec<(String, String)> =
        super::users::find_by_name_or_email(conn, org, email_lower, Some(email_lower))?
            .into_iter()
            .map(|u| (u.id.as_str().to_owned(), u.status.as_str().to_owned()))
            .collect();
    out.extend(
        users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "users.status = 'deprovisioned'",
            ))
            .filter(users::email_lower.eq(email_lower))
            .select((users::id, users::status))
            .load::<(String, String)>(conn)?,
    );
    Ok(out)
}
