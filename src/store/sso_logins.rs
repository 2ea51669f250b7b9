//! Logins in flight and the SAML assertion replay cache (issue "8 of 11"
//! items 2 and 4). A pre-login record is consumed by the first callback that
//! presents it — success or failure — so a state, RelayState or request id
//! works once. Assertion ids are kept until they could no longer be accepted.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{saml_assertion_ids, sso_logins};
use super::{DbConnection, StoreError};
use crate::domain::OrgId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sso_logins)]
pub struct SsoLogin {
    pub id: String,
    pub org_id: String,
    pub connection_id: String,
    pub request_id: Option<String>,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub browser_hash: Option<String>,
    pub return_to: Option<String>,
    pub purpose: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
}

pub struct NewLogin<'a> {
    /// SHA-256 (hex) of the state / RelayState value.
    pub id: &'a str,
    pub org: &'a OrgId,
    pub connection_id: &'a str,
    pub request_id: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub pkce_verifier: Option<&'a str>,
    pub browser_hash: Option<&'a str>,
    pub return_to: Option<&'a str>,
    pub purpose: &'a str,
    pub expires_at: NaiveDateTime,
}

pub fn insert(
    conn: &mut DbConnection,
    new: NewLogin<'_>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(sso_logins::table)
        .values((
            sso_logins::id.eq(new.id),
            sso_logins::org_id.eq(new.org.as_str()),
            sso_logins::connection_id.eq(new.connection_id),
            sso_logins::request_id.eq(new.request_id),
            sso_logins::nonce.eq(new.nonce),
            sso_logins::pkce_verifier.eq(new.pkce_verifier),
            sso_logins::browser_hash.eq(new.browser_hash),
            sso_logins::return_to.eq(new.return_to),
            sso_logins::purpose.eq(new.purpose),
            sso_logins::created_at.eq(now),
            sso_logins::expires_at.eq(new.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes the record (once): returns it when it existed and had not been
/// consumed; it is then consumed, whatever the caller does next. Expiry is
/// the caller's check, so an expired record is consumed too.
pub fn consume(
    conn: &mut DbConnection,
    connection_id: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<SsoLogin>, StoreError> {
    let found: Option<SsoLogin> = sso_logins::table
        .filter(sso_logins::id.eq(id))
        .select(SsoLogin::as_select())
        .first(conn)
        .optional()?;
    let Some(found) = found else { return Ok(None) };
    if found.connection_id != connection_id {
        return Ok(None);
    }
    let n = diesel::update(
        sso_logins::table
            .filter(sso_logins::id.eq(&found.id))
            .filter(sso_logins::consumed_at.is_null()),
    )
    .set(sso_logins::consumed_at.eq(Some(now)))
    .execute(conn)?;
    Ok((n == 1).then_some(found))
}

/// Records a SAML assertion id; `false` when it was already there (a replay).
pub fn first_use_of_assertion(
    conn: &mut DbConnection,
    issuer: &str,
    assertion_id: &str,
    expires_at: NaiveDateTime,
) -> Result<bool, StoreError> {
    let row = (
        saml_assertion_ids::issuer.eq(issuer),
        saml_assertion_ids::assertion_id.eq(assertion_id),
        saml_assertion_ids::expires_at.eq(expires_at),
    );
    let n = crate::on_backend!(conn, |c| diesel::insert_into(saml_assertion_ids::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Deletes expired pre-login records and replay-cache rows; returns how many.
pub fn sweep(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    let a =
        diesel::delete(sso_logins::table.filter(sso_logins::expires_at.lt(now))).execute(conn)?;
    let b =
        diesel::delete(saml_assertion_ids::table.filter(saml_assertion_ids::expires_at.lt(now)))
            .execute(conn)?;
    Ok(a + b)
}
