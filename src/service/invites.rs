//! Invitations (issue "7 of 11", SPEC §3 invite-first): invite one person
//! within the inviter's granting limits (the same checks as creating a user,
//! [`users::resolve_grants`]), list, revoke, resend, and accept through the
//! emailed link.
//!
//! Each message carries its own token (256 random bits, stored hashed),
//! minted when the message is queued; the invite, its user (status
//! `invited`, an `invite`-sourced binding) and the outbox row commit in one
//! transaction. A resend is a new message with a new token, and the earlier
//! link stops working.

use chrono::NaiveDateTime;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::domain::authz::{
    Binding, BindingId, BindingScope, BindingSource, Principal, RoleId, WorkspaceId, gate,
};
use crate::domain::names;
use crate::domain::{Email, UserId, UserName, UserSource, UserStatus};
use crate::email::Composer;
use crate::email::render::InviteMail;
use crate::error::AppError;
use crate::service::users::{self, Grants};
use crate::service::{Acting, Ctx};
use crate::store::access::AccessSnapshot;
use crate::store::invites::{self as stored, Invite, InviteQuery};
use crate::store::orgs::Org;
use crate::store::users::{User, UserFields};
use crate::store::{self, DbConnection, PageCursor, StoreError, audit, outbox};
use crate::token;

/// What inviting someone did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new invite (and, for someone new, a new user in status `invited`).
    Created,
    /// The pending invite was sent again (new token, earlier link invalid).
    Resent,
    /// The pending invite now grants the new role/workspaces, and was sent again.
    Replaced,
}

#[derive(Debug, Clone, Default)]
pub struct NewInvite {
    pub email: String,
    pub name: Option<String>,
    /// Org-level role by key or display name; default: the org's default role.
    pub role: Option<String>,
    /// Workspace ids or slugs; default: unrestricted.
    pub workspaces: Option<Vec<String>>,
    /// Re-inviting a pending invitee with other grants replaces them.
    pub replace: bool,
}

/// What audit events and API answers record of an invite.
pub fn view(i: &Invite, now: NaiveDateTime) -> Value {
    json!({
        "id": i.id,
        "userId": i.user_id,
        "email": i.email,
        "name": i.name,
        "roleId": i.role_id,
        "workspaces": i.workspace_ids(),
        "invitedBy": i.invited_by,
        "state": i.state(now),
        "sends": i.sends,
        "expiresAt": i.expires_at,
    })
}

fn require_enabled(org: &Org, bulk: bool) -> Result<(), AppError> {
    let p = &org.settings.provisioning;
    if !p.invite || (bulk && !p.bulk_invite) {
        let key = if p.invite {
            "provisioning.bulk_invite"
        } else {
            "provisioning.invite"
        };
        return Err(AppError::Forbidden(format!(
            "{} is turned off for this organization (org setting `{key}`)",
            if bulk {
                "bulk invitation"
            } else {
                "invitation"
            }
        )));
    }
    Ok(())
}

fn workspaces_json(g: &Grants) -> Option<String> {
    g.workspaces.as_ref().map(|set| {
        serde_json::to_string(&set.iter().map(|w| w.as_str()).collect::<Vec<_>>())
            .expect("strings serialise")
    })
}

/// An invite request that passed every check made before the store is
/// read: permission, org settings, address, name, granting limits.
pub struct Checked {
    pub email: Email,
    pub name: Option<String>,
    pub grants: Grants,
    /// The role the invite grants (the org default when none was named).
    pub role: Option<RoleId>,
    pub ws_json: Option<String>,
}

/// The checks of [`invite`] that need no store (the bulk path runs them
/// for a whole chunk before its one lookup).
pub fn check(a: &Acting<'_>, input: &NewInvite, bulk: bool) -> Result<Checked, AppError> {
    a.require(gate::INVITES_MANAGE)?;
    let org = a.org;
    require_enabled(org, bulk)?;
    let email = Email::parse(input.email.trim())?;
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(n) = &name {
        names::check_free_text("name", n, names::PERSON_NAME_MAX_CHARS)?;
    }
    let grants = users::resolve_grants(a, input.role.as_deref(), input.workspaces.as_deref())?;
    let role = grants
        .role
        .clone()
        .or_else(|| crate::service::role_sources::default_role(org, a.op));
    let ws_json = workspaces_json(&grants);
    Ok(Checked {
        email,
        name,
        grants,
        role,
        ws_json,
    })
}

/// Invite one person. See the module docs; answers per the issue: an active
/// user is a 409 `already_active`, a suspended or deprovisioned one a 409
/// naming the status, a pending invitee is sent the invite again (or, with
/// other grants, a 409 `invite_differs` unless `replace`).
pub fn invite(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    input: NewInvite,
    bulk: bool,
) -> Result<(Invite, Outcome), AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let Checked {
        email,
        name,
        grants,
        role,
        ws_json,
    } = check(a, &input, bulk)?;
    let mut found = stored::users_with_email(conn, &org.id, email.canonical())?;
    // A live user decides; a deprovisioned one only when no live one exists.
    found.sort_by_key(|(_, status)| status == "deprovisioned");
    if let Some((id, status)) = found.first() {
        let uid = UserId::from_trusted(id.clone());
        match status.as_str() {
            "active" => {
                return Err(AppError::Conflict {
                    code: "already_active",
                    message: format!(
                        "`{}` is already an active user of this organization",
                        email.as_str()
                    ),
                });
            }
            "suspended" | "deprovisioned" => {
                return Err(AppError::Conflict {
                    code: "user_not_invitable",
                    message: format!(
                        "`{}` is {status} in this organization; reactivating them is an administrator's explicit act, not an invite",
                        email.as_str()
                    ),
                });
            }
            _ => {}
        }
        let user = users::find(conn, org, uid.as_str())?;
        crate::service::owners::guard_target(conn, a, &user)?;
        if let Some(pending) = stored::pending_for(conn, &uid)? {
            let same = pending.role_id.as_deref() == role.as_ref().map(|r| r.as_str())
                && pending.workspaces == ws_json;
            if !same && !input.replace {
                return Err(AppError::Conflict {
                    code: "invite_differs",
                    message: format!(
                        "`{}` has a pending invite with another role or other workspaces; send replace=true to replace it",
                        email.as_str()
                    ),
                });
            }
            let outcome = if same {
                Outcome::Resent
            } else {
                stored::set_grants(
                    conn,
                    &pending.id,
                    role.as_ref().map(|r| r.as_str()),
                    ws_json.as_deref(),
                    ctx.now,
                )?;
                users::apply_grants(
                    conn,
                    org,
                    &uid,
                    role.as_ref().map(|r| (r, BindingSource::Invite)),
                    grants.workspaces.clone(),
                    ctx.now,
                )?;
                Outcome::Replaced
            };
            let before = view(&pending, ctx.now);
            let invite = send_again(conn, a, mail, &pending)?;
            audit::insert(
                conn,
                &[ctx.event(
                    Some(&org.id),
                    if same {
                        "invite.resent"
                    } else {
                        "invite.replaced"
                    },
                    "invite",
                    Some(invite.id.clone()),
                    Some(before),
                    Some(view(&invite, ctx.now)),
                )],
            )?;
            return Ok((invite, outcome));
        }
        // Invited before (revoked, or created invited elsewhere): a new invite.
        users::apply_grants(
            conn,
            org,
            &uid,
            role.as_ref().map(|r| (r, BindingSource::Invite)),
            grants.workspaces.clone(),
            ctx.now,
        )?;
        let invite = create_invite(
            conn,
            a,
            mail,
            &user,
            name,
            role.as_ref().map(|r| r.as_str()),
            ws_json,
        )?;
        return Ok((invite, Outcome::Created));
    }

    let newcomer = prepare_newcomer(
        a,
        mail,
        Checked {
            email,
            name,
            grants,
            role,
            ws_json,
        },
    )?;
    let mut invites = store_newcomers(conn, a, vec![newcomer])?;
    Ok((invites.remove(0), Outcome::Created))
}

/// A new user's invite, prepared in memory — the user, binding and access
/// snapshot, the invite with its freshly minted token, the rendered and
/// sealed message — for [`store_newcomers`] to write.
pub struct Newcomer {
    user_id: UserId,
    fields: UserFields,
    snapshot: AccessSnapshot,
    binding: Option<Binding>,
    workspaces: Option<std::collections::BTreeSet<WorkspaceId>>,
    invite: Invite,
    message: Sealed,
}

/// Everything [`invite`] writes for someone new, computed without the store.
pub fn prepare_newcomer(a: &Acting<'_>, mail: &Composer, c: Checked) -> Result<Newcomer, AppError> {
    let Checked {
        email,
        name,
        grants,
        role,
        ws_json,
    } = c;
    let mut fields = UserFields {
        user_name: UserName::parse(email.as_str())?,
        email: Some(email.clone()),
        given_name: None,
        family_name: None,
        display_name: name.clone(),
        external_id: None,
        directory_id: None,
        status: UserStatus::Invited,
        source: UserSource::Invite,
        scim: Value::Null,
    };
    fields.scim = users::synthesized_scim(&fields);
    // A new user's access snapshot is known here: it is written with the
    // user (no refresh), as SCIM's create does.
    let user_id = UserId::generate();
    let binding = role.as_ref().map(|r| Binding {
        id: BindingId::new(uuid::Uuid::now_v7().to_string()),
        principal: Principal::User(crate::domain::authz::UserId::new(user_id.as_str())),
        role: r.clone(),
        scope: BindingScope::Org,
        source: BindingSource::Invite,
    });
    let snapshot = AccessSnapshot {
        bindings: binding.iter().cloned().collect(),
        ..AccessSnapshot::default()
    };
    let (invite, message) = mint_invite(
        a,
        mail,
        &user_id,
        email.as_str(),
        name,
        role.as_ref().map(|r| r.as_str()),
        ws_json,
    )?;
    Ok(Newcomer {
        user_id,
        fields,
        snapshot,
        binding,
        workspaces: grants.workspaces,
        invite,
        message,
    })
}

/// Write prepared newcomers set-based: multi-row INSERTs of the users, their
/// bindings, outbox rows, invites and audit events (`user.created`, then
/// `invite.created`, per person); only workspace restrictions are written
/// per user. One newcomer is exactly the single invite.
pub fn store_newcomers(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    items: Vec<Newcomer>,
) -> Result<Vec<Invite>, AppError> {
    let (ctx, org) = (a.ctx, a.org);
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let users_in: Vec<_> = items
        .iter()
        .map(|n| (&n.user_id, &n.fields, &n.snapshot))
        .collect();
    let created =
        store::users::insert_many(conn, &org.id, &users_in, ctx.now).map_err(|e| match e {
            StoreError::Unique(f) if items.len() == 1 => {
                let email = items[0].invite.email.as_str();
                users::unique_error(&f, email, Some(email))
            }
            StoreError::Unique(_) => AppError::conflict(
                "an address of this batch was taken meanwhile; its rows are applied one by one",
            ),
            other => other.into(),
        })?;
    let bindings: Vec<_> = items
        .iter()
        .filter_map(|n| n.binding.as_ref().map(|b| (&n.user_id, b)))
        .collect();
    store::access::insert_org_binding_rows(conn, &org.id, &bindings, ctx.now)?;
    for n in &items {
        if let Some(list) = n.workspaces.clone() {
            // Writes the restriction and refreshes the snapshot.
            users::apply_grants(conn, org, &n.user_id, None, Some(list), ctx.now)?;
        }
    }
    let messages: Vec<_> = items
        .iter()
        .map(|n| n.message.queued(&a.org.id, &n.invite.id))
        .collect();
    outbox::enqueue_many(conn, &messages, ctx.now)?;
    drop(messages);
    let invites: Vec<&Invite> = items.iter().map(|n| &n.invite).collect();
    stored::insert_many(conn, &invites)?;
    let mut events = Vec::with_capacity(items.len() * 2);
    for (user, n) in created.iter().zip(&items) {
        events.push(ctx.event(
            Some(&org.id),
            "user.created",
            "user",
            Some(user.id.to_string()),
            None,
            Some(users::view(user)),
        ));
        events.push(ctx.event(
            Some(&org.id),
            "invite.created",
            "invite",
            Some(n.invite.id.clone()),
            None,
            Some(view(&n.invite, ctx.now)),
        ));
    }
    audit::insert(conn, &events)?;
    Ok(items.into_iter().map(|n| n.invite).collect())
}

fn expiry(org: &Org, now: NaiveDateTime) -> NaiveDateTime {
    now + chrono::Duration::days(i64::from(org.settings.invite_expiry_days))
}

/// A new pending invite for the user with a freshly minted token, and its
/// message rendered and sealed (nothing written yet).
fn mint_invite(
    a: &Acting<'_>,
    mail: &Composer,
    user_id: &UserId,
    email: &str,
    name: Option<String>,
    role_id: Option<&str>,
    workspaces: Option<String>,
) -> Result<(Invite, Sealed), AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let issued = token::issue(token::INVITE_PREFIX);
    let outbox_id = uuid::Uuid::now_v7().to_string();
    let invite = Invite {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org.id.as_str().to_owned(),
        user_id: user_id.as_str().to_owned(),
        email: email.to_owned(),
        name,
        role_id: role_id.map(str::to_owned),
        workspaces,
        invited_by: ctx.actor.label.clone(),
        status: stored::PENDING.to_owned(),
        token_id: issued.id.simple().to_string(),
        token_hash: issued.hash.clone(),
        message_id: Some(outbox_id.clone()),
        sends: 1,
        expires_at: expiry(org, ctx.now),
        created_at: ctx.now,
        updated_at: ctx.now,
        closed_at: None,
    };
    let message = render_message(a, mail, &invite, outbox_id, issued.token.expose_secret())?;
    Ok((invite, message))
}

fn create_invite(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    user: &User,
    name: Option<String>,
    role_id: Option<&str>,
    workspaces: Option<String>,
) -> Result<Invite, AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let (invite, message) = mint_invite(
        a,
        mail,
        &user.id,
        user.email.as_deref().unwrap_or(&user.user_name),
        name,
        role_id,
        workspaces,
    )?;
    outbox::enqueue(conn, message.queued(&org.id, &invite.id), ctx.now)?;
    stored::insert(conn, &invite)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "invite.created",
            "invite",
            Some(invite.id.clone()),
            None,
            Some(view(&invite, ctx.now)),
        )],
    )?;
    Ok(invite)
}

/// A new message with a new token for a pending invite; the earlier message,
/// if still queued, is dropped and its link stops working.
fn send_again(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    pending: &Invite,
) -> Result<Invite, AppError> {
    let ctx = a.ctx;
    let issued = token::issue(token::INVITE_PREFIX);
    let outbox_id = uuid::Uuid::now_v7().to_string();
    let fresh = stored::get(conn, &a.org.id, &pending.id)?;
    cancel_message(conn, &fresh, "a newer invite message replaced it", ctx.now)?;
    let mut next = fresh.clone();
    next.token_id = issued.id.simple().to_string();
    next.token_hash = issued.hash.clone();
    next.expires_at = expiry(a.org, ctx.now);
    queue_message(
        conn,
        a,
        mail,
        &next,
        &outbox_id,
        issued.token.expose_secret(),
    )?;
    stored::resend(
        conn,
        &next.id,
        &next.token_id,
        &next.token_hash,
        &outbox_id,
        next.expires_at,
        ctx.now,
    )
    .map_err(|e| match e {
        StoreError::VersionConflict => AppError::conflict("the invite was closed meanwhile"),
        other => other.into(),
    })?;
    Ok(stored::get(conn, &a.org.id, &pending.id)?)
}

/// Drop a message that has not gone out yet.
fn cancel_message(
    conn: &mut DbConnection,
    invite: &Invite,
    why: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    if let Some(id) = &invite.message_id {
        outbox::cancel_pending(conn, id, why, now)?;
    }
    Ok(())
}

/// A rendered invite message, sealed for its outbox row.
struct Sealed {
    outbox_id: String,
    sender: String,
    recipient: String,
    message_id: String,
    body: Vec<u8>,
}

impl Sealed {
    fn queued<'a>(
        &'a self,
        org: &'a crate::domain::OrgId,
        invite_id: &'a str,
    ) -> outbox::NewMessage<'a> {
        outbox::NewMessage {
            id: &self.outbox_id,
            org: Some(org),
            kind: "invite",
            ref_id: Some(invite_id),
            sender: &self.sender,
            recipient: &self.recipient,
            message_id: &self.message_id,
            body: &self.body,
        }
    }
}

fn render_message(
    a: &Acting<'_>,
    mail: &Composer,
    invite: &Invite,
    outbox_id: String,
    token: &str,
) -> Result<Sealed, AppError> {
    let op = a.op;
    let role_name = invite
        .role_id
        .as_deref()
        .and_then(|r| op.policy.role(r))
        .map(|r| r.name.clone());
    let workspaces: Vec<String> = invite
        .workspace_ids()
        .unwrap_or_default()
        .iter()
        .filter_map(|w| op.workspace(w).ok().map(|x| x.name.clone()))
        .collect();
    let rendered = mail.invite(
        invite.name.as_deref(),
        &invite.email,
        &InviteMail {
            org_name: &a.org.name,
            inviter: &invite.invited_by,
            invitee_name: invite.name.as_deref(),
            role: role_name.as_deref(),
            workspaces,
            link: mail.link(&format!("/invite/{token}")),
            expires: invite.expires_at.format("%Y-%m-%d %H:%M").to_string(),
        },
    )?;
    let body = crate::email::seal::seal(mail.key(), &outbox_id, &rendered.bytes);
    Ok(Sealed {
        outbox_id,
        sender: rendered.sender,
        recipient: rendered.recipient,
        message_id: rendered.message_id,
        body,
    })
}

fn queue_message(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    invite: &Invite,
    outbox_id: &str,
    token: &str,
) -> Result<(), AppError> {
    let message = render_message(a, mail, invite, outbox_id.to_owned(), token)?;
    outbox::enqueue(conn, message.queued(&a.org.id, &invite.id), a.ctx.now)?;
    Ok(())
}

fn find(conn: &mut DbConnection, org: &Org, id: &str) -> Result<Invite, AppError> {
    stored::get(conn, &org.id, id).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("invite", id),
        other => other.into(),
    })
}

pub fn get(conn: &mut DbConnection, a: &Acting<'_>, id: &str) -> Result<Invite, AppError> {
    a.require(gate::INVITES_MANAGE)?;
    find(conn, a.org, id)
}

/// Send a pending (or expired) invite again: a new token, a new expiry.
pub fn resend(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    mail: &Composer,
    id: &str,
) -> Result<Invite, AppError> {
    a.require(gate::INVITES_MANAGE)?;
    require_enabled(a.org, false)?;
    let invite = find(conn, a.org, id)?;
    if invite.status != stored::PENDING {
        return Err(AppError::Conflict {
            code: "invite_closed",
            message: format!(
                "invite `{id}` is {}; invite the person again instead",
                invite.status
            ),
        });
    }
    let user = users::find(conn, a.org, &invite.user_id)?;
    crate::service::owners::guard_target(conn, a, &user)?;
    let after = send_again(conn, a, mail, &invite)?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "invite.resent",
            "invite",
            Some(after.id.clone()),
            Some(view(&invite, a.ctx.now)),
            Some(view(&after, a.ctx.now)),
        )],
    )?;
    Ok(after)
}

/// Revoke a pending invite: its link stops working, a queued message is dropped.
pub fn revoke(conn: &mut DbConnection, a: &Acting<'_>, id: &str) -> Result<Invite, AppError> {
    a.require(gate::INVITES_MANAGE)?;
    let invite = find(conn, a.org, id)?;
    if invite.status != stored::PENDING
        || !stored::close(conn, &invite.id, stored::REVOKED, a.ctx.now)?
    {
        return Err(AppError::Conflict {
            code: "invite_closed",
            message: format!("invite `{id}` is {} already", invite.state(a.ctx.now)),
        });
    }
    cancel_message(conn, &invite, "the invite was revoked", a.ctx.now)?;
    let after = find(conn, a.org, id)?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "invite.revoked",
            "invite",
            Some(after.id.clone()),
            Some(view(&invite, a.ctx.now)),
            Some(view(&after, a.ctx.now)),
        )],
    )?;
    Ok(after)
}

pub struct Page {
    pub items: Vec<(Invite, Option<outbox::Delivery>)>,
    pub next_cursor: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    state: Option<String>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page, AppError> {
    a.require(gate::INVITES_MANAGE)?;
    if let Some(s) = &state
        && !matches!(s.as_str(), "pending" | "accepted" | "expired" | "revoked")
    {
        return Err(AppError::bad_request(format!(
            "state `{s}` is not one of pending, accepted, expired, revoked"
        )));
    }
    let after = cursor
        .map(|c| PageCursor::decode(c).ok_or_else(|| AppError::bad_request("invalid cursor")))
        .transpose()?;
    let mut items = stored::list(
        conn,
        &a.org.id,
        &InviteQuery {
            state,
            after,
            limit: limit + 1,
            now: a.ctx.now,
        },
    )?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|i| i.cursor().encode())
    } else {
        None
    };
    let ids: Vec<String> = items.iter().filter_map(|i| i.message_id.clone()).collect();
    let deliveries = outbox::deliveries(conn, &ids)?;
    let items = items
        .into_iter()
        .map(|i| {
            let d = deliveries
                .iter()
                .find(|d| Some(&d.id) == i.message_id.as_ref())
                .cloned();
            (i, d)
        })
        .collect();
    Ok(Page { items, next_cursor })
}

pub fn delivery(
    conn: &mut DbConnection,
    invite: &Invite,
) -> Result<Option<outbox::Delivery>, AppError> {
    let ids: Vec<String> = invite.message_id.iter().cloned().collect();
    Ok(outbox::deliveries(conn, &ids)?.into_iter().next())
}

// ------------------------------------------------------------ acceptance

/// What an invite link leads to.
pub enum Landing {
    /// Pending and in time: the page offers to accept.
    Open {
        invite: Box<Invite>,
        org: Box<Org>,
        user: Box<User>,
    },
    Expired {
        org: Org,
    },
    Used {
        org: Org,
    },
    Revoked {
        org: Org,
    },
    /// Not a token of ours, or superseded by a newer message.
    Unknown,
}

/// Look a link's token up (reads only: `GET /invite/{token}` changes nothing).
pub fn landing(
    conn: &mut DbConnection,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Landing, AppError> {
    let Some((id, secret)) = token::parse(token::INVITE_PREFIX, presented) else {
        return Ok(Landing::Unknown);
    };
    let Some(invite) = stored::by_token_id(conn, &id.simple().to_string())? else {
        return Ok(Landing::Unknown);
    };
    if !token::verify(secret, &invite.token_hash) {
        return Ok(Landing::Unknown);
    }
    let org = store::orgs::by_id(
        conn,
        &crate::domain::OrgId::from_trusted(invite.org_id.clone()),
    )?;
    Ok(match invite.state(now) {
        "pending" => {
            let user = users::find(conn, &org, &invite.user_id)?;
            if user.status != UserStatus::Invited {
                // Suspended (or otherwise changed) since the invite was sent.
                Landing::Revoked { org }
            } else {
                Landing::Open {
                    invite: Box::new(invite),
                    org: Box::new(org),
                    user: Box::new(user),
                }
            }
        }
        "expired" => Landing::Expired { org },
        "accepted" => Landing::Used { org },
        _ => Landing::Revoked { org },
    })
}

/// Accept: the link proves the address (orgs without an IdP). The user
/// becomes `active` with the invited role and workspaces (already bound),
/// the invite closes, and the caller opens a session.
pub fn accept(
    conn: &mut DbConnection,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Result<(Org, User), Landing>, AppError> {
    let landing = landing(conn, presented, now)?;
    let Landing::Open { invite, org, user } = landing else {
        return Ok(Err(landing));
    };
    // Where the org signs its people in through an IdP trusted for the
    // invitee's domain (or requires SSO), the link alone does not accept:
    // the IdP login does (`service::sso_login`).
    let via_idp = crate::service::sso_login::trusted_for(conn, &org, &invite.email)?.is_some();
    if via_idp || org.settings.require_sso {
        return Err(AppError::Conflict {
            code: "sso_required",
            message: "this organization accepts invitations through its identity provider: use the single sign-on link on the invitation page".into(),
        });
    }
    if !stored::close(conn, &invite.id, stored::ACCEPTED, now)? {
        return Ok(Err(Landing::Used { org: *org }));
    }
    let ctx = Ctx {
        actor: crate::domain::audit::Actor {
            kind: crate::domain::audit::ActorKind::User,
            id: Some(user.id.to_string()),
            label: user.user_name.clone(),
        },
        request_id: None,
        now,
    };
    let user = activate(conn, &ctx, &org, &user.id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "invite.accepted",
            "invite",
            Some(invite.id.clone()),
            Some(view(&invite, now)),
            Some(json!({"state": "accepted", "via": "email_link"})),
        )],
    )?;
    Ok(Ok((*org, user)))
}

/// An invited user accepts: `invited` → `active` (audited `user.activated`);
/// their role and workspaces were bound when they were invited.
pub fn activate(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    user: &UserId,
) -> Result<User, AppError> {
    users::modify(
        conn,
        ctx,
        org,
        user.as_str(),
        None,
        "user.activated",
        |u, f| {
            if u.status != UserStatus::Invited {
                return Err(AppError::Conflict {
                    code: "invalid_transition",
                    message: format!("a {} user cannot accept an invite", u.status),
                });
            }
            f.status = UserStatus::Active;
            Ok(())
        },
    )
}

/// SCIM adoption or an SSO login activated an invited user: close their
/// pending invite as accepted (audited).
pub fn close_on_activation(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user: &User,
    via: &str,
) -> Result<(), StoreError> {
    if user.status != UserStatus::Active {
        return Ok(());
    }
    if let Some(invite) = stored::pending_for(conn, &user.id)?
        && stored::close(conn, &invite.id, stored::ACCEPTED, ctx.now)?
    {
        if let Some(m) = &invite.message_id {
            outbox::cancel_pending(
                conn,
                m,
                "the user was activated before the invite went out",
                ctx.now,
            )?;
        }
        audit::insert(
            conn,
            &[ctx.event(
                Some(&user.org_id),
                "invite.accepted",
                "invite",
                Some(invite.id.clone()),
                Some(view(&invite, ctx.now)),
                Some(json!({"state": "accepted", "via": via})),
            )],
        )?;
    }
    Ok(())
}
