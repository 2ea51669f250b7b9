//! Verified domains of an org (issue "8 of 11" item 1). An admin claims a
//! domain and gets a challenge; publishing it as a TXT record at
//! `_rollcall-challenge.<domain>` and asking for verification proves the
//! domain. A verified domain belongs to one org. Home-realm discovery, email
//! trust for linking and SSO-default's `allowed_email_domains` (a subset of
//! the verified domains) rest on this. Managing domains needs
//! `gateway.sso.manage`.

use serde::Serialize;

use crate::domain::DomainName;
use crate::domain::authz::gate;
use crate::error::AppError;
use crate::service::{Acting, owners};
use crate::store::domains::OrgDomain;
use crate::store::{self, DbConnection, StoreError, audit};

/// The DNS name that must carry the challenge.
pub fn record_name(domain: &str) -> String {
    format!("_rollcall-challenge.{domain}")
}

/// A domain as the API shows it, with what to publish.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DomainView {
    pub domain: String,
    pub verified: bool,
    /// When it was verified (UTC, RFC 3339).
    pub verified_at: Option<String>,
    /// The TXT record to publish: its name and value.
    pub record_name: String,
    pub record_value: String,
}

impl From<&OrgDomain> for DomainView {
    fn from(d: &OrgDomain) -> Self {
        DomainView {
            domain: d.domain.clone(),
            verified: d.verified_at.is_some(),
            verified_at: d.verified_at.map(|t| {
                t.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            record_name: record_name(&d.domain),
            record_value: d.challenge.clone(),
        }
    }
}

fn taken(domain: &str) -> AppError {
    AppError::Conflict {
        code: "domain_taken",
        message: format!("`{domain}` is verified by another organization"),
    }
}

/// Claim a domain: answers the TXT record to publish. Claiming it again
/// answers the same challenge.
pub fn claim(conn: &mut DbConnection, a: &Acting<'_>, raw: &str) -> Result<DomainView, AppError> {
    a.require(gate::SSO_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let domain = DomainName::parse(raw)?;
    match store::domains::get(conn, &org.id, domain.as_str()) {
        Ok(existing) => return Ok(DomainView::from(&existing)),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    if store::domains::verified_owner(conn, domain.as_str())?.is_some() {
        return Err(taken(domain.as_str()));
    }
    let challenge = format!(
        "rollcall-verification={}",
        hex::encode(rand::random::<[u8; 20]>())
    );
    let claimed = store::domains::insert(conn, &org.id, domain.as_str(), &challenge, ctx.now)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "domain.claimed",
            "domain",
            Some(domain.to_string()),
            None,
            Some(
                serde_json::json!({"domain": domain, "record_name": record_name(domain.as_str())}),
            ),
        )],
    )?;
    Ok(DomainView::from(&claimed))
}

pub fn list(conn: &mut DbConnection, a: &Acting<'_>) -> Result<Vec<DomainView>, AppError> {
    a.require(gate::SSO_MANAGE)?;
    Ok(store::domains::list(conn, &a.org.id)?
        .iter()
        .map(DomainView::from)
        .collect())
}

/// The names of the org's verified domains.
pub fn verified(
    conn: &mut DbConnection,
    org: &crate::domain::OrgId,
) -> Result<Vec<String>, AppError> {
    Ok(store::domains::list(conn, org)?
        .into_iter()
        .filter(|d| d.verified_at.is_some())
        .map(|d| d.domain)
        .collect())
}

/// The challenge of a claimed domain (what the caller looks up in DNS).
pub fn challenge(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    raw: &str,
) -> Result<OrgDomain, AppError> {
    a.require(gate::SSO_MANAGE)?;
    let domain = DomainName::parse(raw)?;
    store::domains::get(conn, &a.org.id, domain.as_str()).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("domain", raw),
        other => other.into(),
    })
}

/// Mark the domain verified if `published` (the TXT strings found at its
/// record name) holds its challenge; otherwise a 409 saying what was found.
pub fn verify(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    raw: &str,
    published: &[String],
) -> Result<DomainView, AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let claimed = challenge(conn, a, raw)?;
    if claimed.verified_at.is_some() {
        return Ok(DomainView::from(&claimed));
    }
    let name = record_name(&claimed.domain);
    if !published.iter().any(|v| v.trim() == claimed.challenge) {
        return Err(AppError::Conflict {
            code: "challenge_not_found",
            message: format!(
                "no TXT record at {name} holds `{}` ({} found); publish it and try again (DNS changes can take a while to appear)",
                claimed.challenge,
                published.len()
            ),
        });
    }
    // One org per verified domain: the partial unique index settles a race.
    owners::lock_org(conn, org)?;
    store::domains::mark_verified(conn, &org.id, &claimed.domain, ctx.now).map_err(
        |e| match e {
            StoreError::Unique(_) => taken(&claimed.domain),
            other => other.into(),
        },
    )?;
    let after = store::domains::get(conn, &org.id, &claimed.domain)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "domain.verified",
            "domain",
            Some(claimed.domain.clone()),
            None,
            Some(serde_json::json!({"domain": claimed.domain, "record_name": name})),
        )],
    )?;
    Ok(DomainView::from(&after))
}

/// Remove a domain; refused while SSO-default lists it in
/// `allowed_email_domains`.
pub fn remove(conn: &mut DbConnection, a: &Acting<'_>, raw: &str) -> Result<(), AppError> {
    a.require(gate::SSO_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let domain = DomainName::parse(raw)?;
    if org
        .settings
        .allowed_email_domains
        .iter()
        .any(|d| d == domain.as_str())
    {
        return Err(AppError::Conflict {
            code: "domain_in_use",
            message: format!(
                "`{domain}` is listed in the org setting allowed_email_domains; remove it there first"
            ),
        });
    }
    if !store::domains::delete(conn, &org.id, domain.as_str())? {
        return Err(AppError::not_found("domain", raw));
    }
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "domain.removed",
            "domain",
            Some(domain.to_string()),
            Some(serde_json::json!({"domain": domain})),
            None,
        )],
    )?;
    Ok(())
}
