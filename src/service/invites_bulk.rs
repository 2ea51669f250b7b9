//! Bulk invites for automation scripts (issue "7 of 11", SPEC §3 "bulk
//! invite"): a JSON array or CSV (`email,name,role,workspaces`), every row
//! validated first (address, name, role and workspaces within the caller's
//! granting limits, duplicates), then applied through the same
//! [`invites::invite`] as a single invite, answering per row: `created`,
//! `resent`, `replaced`, `already_active` or `error` with a code and reason.
//!
//! Non-atomic requests apply rows in chunks, each row in its own savepoint,
//! so a row's failure leaves the others applied. `atomic=true` applies
//! everything in one transaction or nothing (`not_applied` on every row
//! that would have worked). Batches above `invites.bulk_job_threshold` run
//! as a job (see [`crate::email`]'s sibling worker in `bulk_worker`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::domain::authz::gate;
use crate::domain::{Email, names};
use crate::email::Composer;
use crate::error::AppError;
use crate::service::invites::{self, NewInvite, Outcome};
use crate::service::{Acting, users};
use crate::store::{self, DbConnection, StoreError};

/// One row of a bulk request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRow {
    pub email: String,
    pub name: Option<String>,
    /// Org-level role by key or display name; default: the org's default role.
    pub role: Option<String>,
    /// Workspace ids or slugs; default: unrestricted.
    pub workspaces: Option<Vec<String>>,
}

/// The answer for one row (rows count from 1, as a spreadsheet does).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowResult {
    pub row: usize,
    pub email: String,
    /// `created`, `resent`, `replaced`, `already_active`, `error`, or
    /// `not_applied` (atomic requests that failed elsewhere).
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RowResult {
    fn error(row: usize, email: &str, code: &str, reason: impl Into<String>) -> RowResult {
        RowResult {
            row,
            email: email.to_owned(),
            result: "error".into(),
            invite_id: None,
            user_id: None,
            code: Some(code.to_owned()),
            reason: Some(reason.into()),
        }
    }

    pub fn failed(&self) -> bool {
        self.result == "error"
    }
}

/// The whole answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub atomic: bool,
    /// Whether the rows' changes were stored (atomic: all or none).
    pub applied: bool,
    pub total: usize,
    /// Rows per result.
    pub summary: BTreeMap<String, usize>,
    pub rows: Vec<RowResult>,
}

impl Report {
    pub fn new(atomic: bool, applied: bool, mut rows: Vec<RowResult>) -> Report {
        rows.sort_by_key(|r| r.row);
        let mut summary = BTreeMap::new();
        for r in &rows {
            *summary.entry(r.result.clone()).or_insert(0) += 1;
        }
        Report {
            atomic,
            applied,
            total: rows.len(),
            summary,
            rows,
        }
    }
}

/// A row as read: parsed, or the reason it could not be.
pub type Parsed = Vec<(usize, Result<BulkRow, (String, String)>)>;

/// The permission and org-setting checks, before the body is even read.
pub fn authorize(a: &Acting<'_>) -> Result<(), AppError> {
    a.require(gate::INVITES_MANAGE)?;
    let p = &a.org.settings.provisioning;
    if !p.invite || !p.bulk_invite {
        return Err(AppError::Forbidden(format!(
            "bulk invitation is turned off for this organization (org setting `{}`)",
            if p.invite {
                "provisioning.bulk_invite"
            } else {
                "provisioning.invite"
            }
        )));
    }
    Ok(())
}

/// A JSON array of rows; a row that is not a valid row object is a row error.
pub fn parse_json(body: &[u8]) -> Result<Parsed, AppError> {
    let values: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("the body is not a JSON array of rows: {e}")))?;
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let email = v
                .get("email")
                .and_then(|e| e.as_str())
                .unwrap_or_default()
                .to_owned();
            (
                i + 1,
                serde_json::from_value::<BulkRow>(v)
                    .map_err(|e| (email, format!("not a valid row: {e}"))),
            )
        })
        .collect())
}

/// CSV with a header naming `email` and optionally `name`, `role`,
/// `workspaces` (several separated by `;`).
pub fn parse_csv(body: &[u8]) -> Result<Parsed, AppError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| AppError::bad_request(format!("the CSV header cannot be read: {e}")))?
        .clone();
    let mut columns = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        if !matches!(h.as_str(), "email" | "name" | "role" | "workspaces") {
            return Err(AppError::bad_request(format!(
                "unknown CSV column `{h}`: the columns are email, name, role, workspaces"
            )));
        }
        columns.insert(h, i);
    }
    let Some(&email_at) = columns.get("email") else {
        return Err(AppError::bad_request(
            "the CSV header has no `email` column",
        ));
    };
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.push((
                    row,
                    Err((String::new(), format!("unreadable CSV row: {e}"))),
                ));
                continue;
            }
        };
        let field = |name: &str| {
            columns
                .get(name)
                .and_then(|&at| record.get(at))
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        let email = record.get(email_at).unwrap_or_default().to_owned();
        if record.len() > headers.len() {
            out.push((
                row,
                Err((
                    email,
                    format!(
                        "{} fields, the header names {}",
                        record.len(),
                        headers.len()
                    ),
                )),
            ));
            continue;
        }
        out.push((
            row,
            Ok(BulkRow {
                email,
                name: field("name"),
                role: field("role"),
                workspaces: field("workspaces").map(|w| {
                    w.split(';')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                }),
            }),
        ));
    }
    Ok(out)
}

/// Validate every row without writing: the valid rows (with their numbers)
/// and the errors of the others.
pub fn validate(a: &Acting<'_>, parsed: Parsed) -> (Vec<(usize, BulkRow)>, Vec<RowResult>) {
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (row, parsed) in parsed {
        let r = match parsed {
            Ok(r) => r,
            Err((email, reason)) => {
                errors.push(RowResult::error(row, &email, "invalid_row", reason));
                continue;
            }
        };
        let email = match Email::parse(r.email.trim()) {
            Ok(e) => e,
            Err(e) => {
                errors.push(RowResult::error(
                    row,
                    &r.email,
                    "invalid_email",
                    e.to_string(),
                ));
                continue;
            }
        };
        if let Some(first) = seen.get(email.canonical()) {
            errors.push(RowResult::error(
                row,
                &r.email,
                "duplicate_row",
                format!("the same address as row {first}"),
            ));
            continue;
        }
        seen.insert(email.canonical().to_owned(), row);
        if let Some(n) = r.name.as_deref().map(str::trim).filter(|n| !n.is_empty())
            && let Err(e) = names::check_free_text("name", n, names::PERSON_NAME_MAX_CHARS)
        {
            errors.push(RowResult::error(
                row,
                &r.email,
                "invalid_name",
                e.to_string(),
            ));
            continue;
        }
        if let Err(e) = users::resolve_grants(a, r.role.as_deref(), r.workspaces.as_deref()) {
            errors.push(RowResult::error(row, &r.email, e.code(), e.to_string()));
            continue;
        }
        valid.push((row, r));
    }
    (valid, errors)
}

/// Whether an error is about the row (answered per row) rather than the
/// store (which aborts the request).
fn row_error(e: &AppError) -> bool {
    !matches!(e, AppError::Unavailable(_) | AppError::Internal(_))
}

/// Apply rows inside the caller's transaction. Rows whose address nobody
/// in the org holds (one lookup for the whole chunk) are the common case:
/// they are checked in memory and written set-based, together
/// ([`invites::store_newcomers`]). The others — an existing user, or a
/// newcomer batch that lost a race for an address — go through the single
/// [`invites::invite`], each in its own savepoint, with its per-row answer.
pub fn apply(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    rows: &[(usize, BulkRow)],
    replace: bool,
) -> Result<Vec<RowResult>, AppError> {
    let mut out = Vec::with_capacity(rows.len());
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|(_, r)| Email::parse(r.email.trim()).ok())
        .map(|e| e.canonical().to_owned())
        .collect();
    let taken = store::users::taken_addresses(conn, &a.org.id, &keys)?;
    let mut one_by_one: Vec<&(usize, BulkRow)> = Vec::new();
    let mut fresh: Vec<&(usize, BulkRow)> = Vec::new();
    let mut prepared = Vec::new();
    for item in rows {
        let (row, r) = item;
        let input = new_invite(r, replace);
        match invites::check(a, &input, true) {
            Ok(c) if !taken.contains(c.email.canonical()) => {
                match invites::prepare_newcomer(a, mail, c) {
                    Ok(n) => {
                        fresh.push(item);
                        prepared.push(n);
                    }
                    Err(e) if row_error(&e) => {
                        out.push(RowResult::error(*row, &r.email, e.code(), e.to_string()))
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(_) => one_by_one.push(item),
            Err(e) if row_error(&e) => {
                out.push(RowResult::error(*row, &r.email, e.code(), e.to_string()))
            }
            Err(e) => return Err(e),
        }
    }
    if !prepared.is_empty() {
        match store::write_tx(conn, |c| invites::store_newcomers(c, a, prepared)) {
            Ok(created) => {
                for ((row, r), invite) in fresh.into_iter().zip(created) {
                    out.push(RowResult {
                        row: *row,
                        email: r.email.clone(),
                        result: "created".into(),
                        invite_id: Some(invite.id),
                        user_id: Some(invite.user_id),
                        code: None,
                        reason: None,
                    });
                }
            }
            // Someone took one of the addresses meanwhile: row by row.
            Err(e) if row_error(&e) => one_by_one.extend(fresh),
            Err(e) => return Err(e),
        }
    }
    for (row, r) in one_by_one {
        match store::write_tx(conn, |c| {
            invites::invite(c, a, mail, new_invite(r, replace), true)
        }) {
            Ok((invite, outcome)) => out.push(RowResult {
                row: *row,
                email: r.email.clone(),
                result: match outcome {
                    Outcome::Created => "created",
                    Outcome::Resent => "resent",
                    Outcome::Replaced => "replaced",
                }
                .into(),
                invite_id: Some(invite.id),
                user_id: Some(invite.user_id),
                code: None,
                reason: None,
            }),
            Err(AppError::Conflict {
                code: "already_active",
                message,
            }) => out.push(RowResult {
                result: "already_active".into(),
                code: None,
                ..RowResult::error(*row, &r.email, "already_active", message)
            }),
            Err(e) if row_error(&e) => {
                out.push(RowResult::error(*row, &r.email, e.code(), e.to_string()))
            }
            Err(e) => return Err(e),
        }
    }
    out.sort_by_key(|r| r.row);
    Ok(out)
}

fn new_invite(r: &BulkRow, replace: bool) -> NewInvite {
    NewInvite {
        email: r.email.clone(),
        name: r.name.clone(),
        role: r.role.clone(),
        workspaces: r.workspaces.clone(),
        replace,
    }
}

/// An atomic request that did not go through: the report, and the
/// transaction rolls back. (The store needs the error type to carry both.)
#[derive(Debug)]
pub enum AtomicError {
    Rejected(Report),
    App(AppError),
}

impl From<AppError> for AtomicError {
    fn from(e: AppError) -> Self {
        AtomicError::App(e)
    }
}

impl From<StoreError> for AtomicError {
    fn from(e: StoreError) -> Self {
        AtomicError::App(e.into())
    }
}

impl From<diesel::result::Error> for AtomicError {
    fn from(e: diesel::result::Error) -> Self {
        AtomicError::App(StoreError::from(e).into())
    }
}

/// Every row or none, inside the caller's transaction: an error (an
/// already-active user is not one) fails the whole request.
pub fn apply_atomic(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    rows: &[(usize, BulkRow)],
    replace: bool,
) -> Result<Report, AtomicError> {
    let results = apply(conn, a, mail, rows, replace)?;
    if results.iter().any(RowResult::failed) {
        return Err(AtomicError::Rejected(not_applied(results)));
    }
    Ok(Report::new(true, true, results))
}

/// The report of an atomic request that stored nothing.
pub fn not_applied(results: Vec<RowResult>) -> Report {
    let rows = results
        .into_iter()
        .map(|r| {
            if r.failed() {
                r
            } else {
                RowResult {
                    result: "not_applied".into(),
                    invite_id: None,
                    user_id: None,
                    ..r
                }
            }
        })
        .collect();
    Report::new(true, false, rows)
}
