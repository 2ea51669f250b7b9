//! Owners and acting for others (SPEC §2 "Granting limits"), in one place:
//! the last active holder of an owner role can be neither demoted,
//! suspended, deprovisioned nor denied an owner permission — by an admin,
//! SCIM or the IdP alike; a write that affects an owner needs the owner's
//! own rights; acting for someone (a personal key for them, a change of
//! their userName or email) needs the right to grant all they hold.
//!
//! The rule spans rows ("at least one active owner"), so under PostgreSQL's
//! READ COMMITTED two transactions could each count two owners and each
//! remove one. Every owner-affecting write therefore takes the org row's lock
//! ([`lock_org`]) before it counts; the second writer waits, then counts
//! again and sees the first one's change. On SQLite every write transaction
//! is `BEGIN IMMEDIATE`, which already serialises writers.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::domain::UserId;
use crate::error::AppError;
use crate::service::Acting;
use crate::store::access as rows;
use crate::store::orgs::Org;
use crate::store::users::User;
use crate::store::{DbConnection, StoreError};

/// Lock the org row until the surrounding transaction ends (PostgreSQL),
/// serialising every owner-affecting write of the org.
pub fn lock_org(conn: &mut DbConnection, org: &Org) -> Result<(), AppError> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT id FROM orgs WHERE id = $1 FOR UPDATE")
            .bind::<Text, _>(org.id.as_str())
            .execute(c)
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Whether `user` is the last active holder of an owner role. For a user
/// who holds one, the org is locked first, so the answer stays true until
/// the caller's transaction ends.
pub fn is_last_owner(conn: &mut DbConnection, org: &Org, user: &UserId) -> Result<bool, AppError> {
    // Most users are not owners: answer that from their own binding first.
    if !rows::holds_owner_role(conn, user)? {
        return Ok(false);
    }
    lock_org(conn, org)?;
    let owners = rows::active_owners(conn, &org.id)?;
    Ok(owners.len() == 1 && owners[0] == *user)
}

/// Whether `user` holds an owner role at org level (active or not).
pub fn is_owner(conn: &mut DbConnection, user: &UserId) -> Result<bool, AppError> {
    Ok(rows::holds_owner_role(conn, user)?)
}

/// The refusal for the admin API (409 `last_owner`); SCIM maps the same
/// situation to `400 mutability` with [`last_owner_message`].
pub fn last_owner_error(user: &User) -> AppError {
    AppError::Conflict {
        code: "last_owner",
        message: last_owner_message(user, "change"),
    }
}

pub fn last_owner_message(user: &User, what: &str) -> String {
    format!(
        "cannot {what} `{}`: the last active owner of the organization keeps the owner role and every owner permission; make someone else owner first",
        user.user_name
    )
}

/// Refuse when `user` is the last active owner.
pub fn guard(conn: &mut DbConnection, org: &Org, user: &User) -> Result<(), AppError> {
    if is_last_owner(conn, org, &user.id)? {
        return Err(last_owner_error(user));
    }
    Ok(())
}

/// A user an admin operation is about to change, with the rule that a
/// write affecting an owner needs the owner's own rights (SPEC §2: nobody
/// gains what they could not grant; an owner's account is the owner's
/// rights).
pub fn guard_target(conn: &mut DbConnection, a: &Acting<'_>, user: &User) -> Result<(), AppError> {
    if is_owner(conn, &user.id)? && !a.authority.is_user(&user.id) {
        act_for(conn, a, user)?;
    }
    Ok(())
}

/// Require that whoever acts may act for `user` — able to grant every right
/// the user holds (personal keys for others, identity changes).
pub fn act_for(conn: &mut DbConnection, a: &Acting<'_>, user: &User) -> Result<(), AppError> {
    if matches!(a.authority, crate::service::authz::Authority::Operator)
        || a.authority.is_user(&user.id)
    {
        return Ok(());
    }
    let subject = rows::subject(conn, &a.org.id, &user.id)?;
    a.authority
        .may_act_for(&a.op.policy, &subject, user.user_name.as_str())
}
