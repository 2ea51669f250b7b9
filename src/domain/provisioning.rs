//! The provisioning decision after a successful SSO login (issue "8 of 11"
//! item 6; SPEC §3): given what the IdP asserted and what the org already
//! holds, which user signs in — or why nobody does. One pure function,
//! [`decide`], called after every OIDC and SAML login; the caller loads the
//! facts, applies the outcome in one transaction and audits its reason.
//!
//! Order (first match wins):
//! 1. the identity (connection, issuer, subject) is already linked → that
//!    user; suspended or deprovisioned → refused;
//! 2. a pending invite for the IdP's **trusted** email → link it, activate,
//!    role and workspaces from the invite;
//! 3. an existing user (SCIM-provisioned or admin-created) with that
//!    trusted email → link — unless they hold roles beyond what the
//!    connection's creator may grant (then refused: an owner links by hand);
//! 4. SSO-default is enabled and the email's domain is among the org's
//!    `allowed_email_domains` (a non-empty subset of its verified domains)
//!    → a new user with the org's default role, who picks their workspaces
//!    where the org lets them, else gets the org's `default_workspaces`;
//! 5. otherwise → refused, saying why and whom to ask; nothing is created.
//!
//! An email is **trusted** only when the IdP says it is verified (OIDC
//! `email_verified`, Entra's `xms_edov`; SAML asserts no such flag, so the
//! connection's trust for the domain stands for it) **and** its domain is
//! verified for the org **and** this connection is trusted for that domain.
//! Identities are keyed by subject, never by email alone: an untrusted email
//! links nothing and creates nothing.

use serde::Serialize;

use super::{Email, UserId, UserStatus};

/// What the IdP asserted about the person, after signature and protocol checks.
#[derive(Debug, Clone)]
pub struct Asserted {
    pub email: Option<Email>,
    /// The IdP vouches for the address (OIDC `email_verified` or Entra's
    /// `xms_edov`; for SAML the caller passes `true`: trust then rests on the
    /// connection being trusted for the verified domain).
    pub email_verified: bool,
}

/// The connection the login came through.
#[derive(Debug, Clone)]
pub struct Connection<'a> {
    /// Verified domains of the org this connection is trusted for.
    pub trusted_domains: &'a [String],
    /// Whether the connection may link to or sign in an owner (created or
    /// approved by an owner).
    pub owner_approved: bool,
}

/// A user the org already has, as the decision needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: UserId,
    pub status: UserStatus,
    /// Holds an owner role.
    pub owner: bool,
    /// The connection's creator may grant everything this user holds.
    pub within_creator_limits: bool,
}

/// The org's side of the decision.
#[derive(Debug, Clone)]
pub struct Org<'a> {
    pub verified_domains: &'a [String],
    pub sso_default: bool,
    pub allowed_email_domains: &'a [String],
    pub workspace_self_select: bool,
}

/// Everything [`decide`] reads.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub asserted: Asserted,
    pub connection: Connection<'a>,
    pub org: Org<'a>,
    /// The user this identity is already linked to.
    pub linked: Option<Known>,
    /// The user of a pending (unexpired, unrevoked) invite for the email,
    /// looked up only by the caller when the email is trusted.
    pub invited: Option<Known>,
    /// A non-deprovisioned user with the same email.
    pub same_email: Option<Known>,
}

/// How a new SSO-default user gets workspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceChoice {
    /// A first-login page where they pick (the pick becomes the restriction
    /// for `optional` roles, the home workspace for `yes` roles).
    SelfSelect,
    /// The org's `default_workspaces` setting.
    OrgDefault,
}

/// Why nobody signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    /// The linked user is suspended or deprovisioned.
    Inactive { user: UserId, status: UserStatus },
    /// The linked or matched user is an owner and the connection is not
    /// approved by an owner.
    OwnerNotApproved { user: UserId },
    /// A user with this email exists but holds more than the connection's
    /// creator may grant.
    BeyondCreatorLimits { user: UserId },
    /// The IdP gave no email, or one it does not vouch for, or one whose
    /// domain is not verified for the org or not trusted for this connection.
    UntrustedEmail { why: &'static str },
    /// No invite, no user, and SSO-default is off or the domain not allowed.
    NotProvisioned { why: &'static str },
}

impl Refusal {
    /// What the refusal page says, and whom to ask.
    pub fn message(&self) -> String {
        match self {
            Refusal::Inactive { status, .. } => format!(
                "Your account in this organization is {status}. Ask an administrator of the organization to reactivate it."
            ),
            Refusal::OwnerNotApproved { .. } => "This sign-in connection has not been approved by an owner of the organization, and your account is an owner's. Ask an owner to approve the connection.".to_owned(),
            Refusal::BeyondCreatorLimits { .. } => "An account with your email exists, but it can only be linked to this sign-in connection by an owner. Ask an owner of the organization to link it.".to_owned(),
            Refusal::UntrustedEmail { why } => format!(
                "Your identity provider did not give an email address this organization can trust ({why}). Ask an administrator to invite you."
            ),
            Refusal::NotProvisioned { why } => format!(
                "You do not have an account in this organization ({why}). Ask an administrator to invite you."
            ),
        }
    }
}

/// The outcome of a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Step 1: the identity is already linked to this active user.
    SignIn {
        user: UserId,
    },
    /// Step 2: link the identity, accept the invite, activate the user.
    AcceptInvite {
        user: UserId,
    },
    /// Step 3: link the identity to this existing user.
    Link {
        user: UserId,
    },
    /// Step 4: create a user with the org's default role.
    CreateDefault {
        workspaces: WorkspaceChoice,
    },
    Refused(Refusal),
}

impl Outcome {
    /// The reason, for the audit event.
    pub fn reason(&self) -> String {
        match self {
            Outcome::SignIn { .. } => "the identity is linked to this active user".to_owned(),
            Outcome::AcceptInvite { .. } => {
                "a pending invite exists for the trusted email: linked and accepted".to_owned()
            }
            Outcome::Link { .. } => {
                "an existing user has the trusted email: linked to the identity".to_owned()
            }
            Outcome::CreateDefault { .. } => {
                "SSO-default is enabled and the email's domain is allowed: created with the default role".to_owned()
            }
            Outcome::Refused(r) => r.message(),
        }
    }
}

/// The email, when it can be trusted for linking and creating (see the
/// module docs); otherwise why not.
pub fn trusted_email<'f>(facts: &'f Facts<'_>) -> Result<&'f Email, &'static str> {
    let email = facts
        .asserted
        .email
        .as_ref()
        .ok_or("the identity provider sent no email")?;
    if !facts.asserted.email_verified {
        return Err("the identity provider does not say the email is verified");
    }
    let domain = email.domain();
    if !facts.org.verified_domains.iter().any(|d| d == domain) {
        return Err("the email's domain is not verified for the organization");
    }
    if !facts.connection.trusted_domains.iter().any(|d| d == domain) {
        return Err("this connection is not trusted for the email's domain");
    }
    Ok(email)
}

fn usable(user: &Known, connection: &Connection<'_>) -> Result<(), Refusal> {
    if matches!(
        user.status,
        UserStatus::Suspended | UserStatus::Deprovisioned
    ) {
        return Err(Refusal::Inactive {
            user: user.id.clone(),
            status: user.status,
        });
    }
    if user.owner && !connection.owner_approved {
        return Err(Refusal::OwnerNotApproved {
            user: user.id.clone(),
        });
    }
    Ok(())
}

/// Decide who signs in (see the module docs for the order).
pub fn decide(facts: &Facts<'_>) -> Outcome {
    if let Some(user) = &facts.linked {
        return match usable(user, &facts.connection) {
            Ok(()) => Outcome::SignIn {
                user: user.id.clone(),
            },
            Err(r) => Outcome::Refused(r),
        };
    }
    let email = match trusted_email(facts) {
        Ok(e) => e,
        Err(why) => return Outcome::Refused(Refusal::UntrustedEmail { why }),
    };
    if let Some(user) = &facts.invited {
        return match usable(user, &facts.connection) {
            Ok(()) => Outcome::AcceptInvite {
                user: user.id.clone(),
            },
            Err(r) => Outcome::Refused(r),
        };
    }
    if let Some(user) = &facts.same_email {
        if let Err(r) = usable(user, &facts.connection) {
            return Outcome::Refused(r);
        }
        if !user.within_creator_limits {
            return Outcome::Refused(Refusal::BeyondCreatorLimits {
                user: user.id.clone(),
            });
        }
        return Outcome::Link {
            user: user.id.clone(),
        };
    }
    if !facts.org.sso_default {
        return Outcome::Refused(Refusal::NotProvisioned {
            why: "sign-up through single sign-on is off, and there is no invite for you",
        });
    }
    let domain = email.domain();
    let allowed = facts
        .org
        .allowed_email_domains
        .iter()
        .any(|d| d == domain && facts.org.verified_domains.contains(d));
    if !allowed {
        return Outcome::Refused(Refusal::NotProvisioned {
            why: "your email's domain is not among those allowed to sign up",
        });
    }
    Outcome::CreateDefault {
        workspaces: if facts.org.workspace_self_select {
            WorkspaceChoice::SelfSelect
        } else {
            WorkspaceChoice::OrgDefault
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIED: &[&str] = &["acme.com", "acme.io"];

    fn domains(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| (*s).to_owned()).collect()
    }

    struct World {
        verified: Vec<String>,
        trusted: Vec<String>,
        allowed: Vec<String>,
        sso_default: bool,
        self_select: bool,
        owner_approved: bool,
        email: Option<&'static str>,
        email_verified: bool,
        linked: Option<Known>,
        invited: Option<Known>,
        same_email: Option<Known>,
    }

    impl World {
        fn new() -> Self {
            World {
                verified: domains(VERIFIED),
                trusted: domains(VERIFIED),
                allowed: domains(&["acme.com"]),
                sso_default: true,
                self_select: true,
                owner_approved: true,
                email: Some("ann@acme.com"),
                email_verified: true,
                linked: None,
                invited: None,
                same_email: None,
            }
        }

        fn decide(&self) -> Outcome {
            decide(&Facts {
                asserted: Asserted {
                    email: self.email.map(|e| Email::parse(e).unwrap()),
                    email_verified: self.email_verified,
                },
                connection: Connection {
                    trusted_domains: &self.trusted,
                    owner_approved: self.owner_approved,
                },
                org: Org {
                    verified_domains: &self.verified,
                    sso_default: self.sso_default,
                    allowed_email_domains: &self.allowed,
                    workspace_self_select: self.self_select,
                },
                linked: self.linked.clone(),
                invited: self.invited.clone(),
                same_email: self.same_email.clone(),
            })
        }
    }

    fn user(id: &str, status: UserStatus) -> Known {
        Known {
            id: UserId::from_trusted(id.to_owned()),
            status,
            owner: false,
            within_creator_limits: true,
        }
    }

    fn uid(id: &str) -> UserId {
        UserId::from_trusted(id.to_owned())
    }

    #[test]
    fn a_linked_identity_signs_in_its_user_whatever_the_email_says() {
        let mut w = World::new();
        w.linked = Some(user("u1", UserStatus::Active));
        w.email = None;
        w.email_verified = false;
        w.same_email = Some(user("u2", UserStatus::Active));
        assert_eq!(w.decide(), Outcome::SignIn { user: uid("u1") });
        for status in [UserStatus::Suspended, UserStatus::Deprovisioned] {
            w.linked = Some(user("u1", status));
            assert_eq!(
                w.decide(),
                Outcome::Refused(Refusal::Inactive {
                    user: uid("u1"),
                    status
                })
            );
        }
        // An invited user already linked (e.g. by an earlier, unfinished
        // login) signs in and the caller activates.
        w.linked = Some(user("u1", UserStatus::Invited));
        assert_eq!(w.decide(), Outcome::SignIn { user: uid("u1") });
    }

    #[test]
    fn an_invite_is_accepted_only_for_a_trusted_email() {
        let mut w = World::new();
        w.invited = Some(user("inv", UserStatus::Invited));
        w.same_email = Some(user("inv", UserStatus::Invited));
        assert_eq!(w.decide(), Outcome::AcceptInvite { user: uid("inv") });
        // Each way an email fails to be trusted refuses, and links nothing.
        type Spoil = fn(&mut World);
        let untrusted: [(&str, Spoil); 4] = [
            ("no email", |w| w.email = None),
            ("unverified", |w| w.email_verified = false),
            ("domain not verified", |w| {
                w.verified = domains(&["acme.io"])
            }),
            ("connection not trusted", |w| {
                w.trusted = domains(&["acme.io"])
            }),
        ];
        for (what, spoil) in untrusted {
            let mut w = World::new();
            w.invited = Some(user("inv", UserStatus::Invited));
            spoil(&mut w);
            assert!(
                matches!(w.decide(), Outcome::Refused(Refusal::UntrustedEmail { .. })),
                "{what}: {:?}",
                w.decide()
            );
        }
    }

    #[test]
    fn an_existing_user_with_the_trusted_email_is_linked_within_the_creators_limits() {
        let mut w = World::new();
        w.same_email = Some(user("scim", UserStatus::Active));
        assert_eq!(w.decide(), Outcome::Link { user: uid("scim") });
        w.same_email.as_mut().unwrap().within_creator_limits = false;
        assert_eq!(
            w.decide(),
            Outcome::Refused(Refusal::BeyondCreatorLimits { user: uid("scim") })
        );
        // Owners only through an owner-approved connection.
        let mut owner = user("boss", UserStatus::Active);
        owner.owner = true;
        w.same_email = Some(owner);
        w.owner_approved = false;
        assert_eq!(
            w.decide(),
            Outcome::Refused(Refusal::OwnerNotApproved { user: uid("boss") })
        );
        w.owner_approved = true;
        assert_eq!(w.decide(), Outcome::Link { user: uid("boss") });
        // A suspended user with the email is not signed in by linking.
        w.same_email = Some(user("sus", UserStatus::Suspended));
        assert!(matches!(
            w.decide(),
            Outcome::Refused(Refusal::Inactive { .. })
        ));
    }

    #[test]
    fn sso_default_creates_only_for_allowed_verified_domains() {
        let mut w = World::new();
        assert_eq!(
            w.decide(),
            Outcome::CreateDefault {
                workspaces: WorkspaceChoice::SelfSelect
            }
        );
        w.self_select = false;
        assert_eq!(
            w.decide(),
            Outcome::CreateDefault {
                workspaces: WorkspaceChoice::OrgDefault
            }
        );
        // acme.io is verified and trusted but not allowed to sign up.
        w.email = Some("bob@acme.io");
        assert!(matches!(
            w.decide(),
            Outcome::Refused(Refusal::NotProvisioned { .. })
        ));
        // An empty allow list allows nobody.
        w.email = Some("ann@acme.com");
        w.allowed.clear();
        assert!(matches!(
            w.decide(),
            Outcome::Refused(Refusal::NotProvisioned { .. })
        ));
        // An allowed domain that is not (or no longer) verified allows nobody.
        w.allowed = domains(&["acme.com"]);
        w.verified = domains(&["acme.io"]);
        w.trusted = domains(&["acme.io", "acme.com"]);
        assert!(matches!(
            w.decide(),
            Outcome::Refused(Refusal::UntrustedEmail { .. })
        ));
        // SSO-default off.
        let mut w = World::new();
        w.sso_default = false;
        assert!(matches!(
            w.decide(),
            Outcome::Refused(Refusal::NotProvisioned { .. })
        ));
    }

    /// Every combination of the inputs: the outcome follows the documented
    /// order, and nothing is created or linked for an untrusted email.
    #[test]
    fn exhaustively_the_order_holds() {
        let statuses = [
            None,
            Some(UserStatus::Invited),
            Some(UserStatus::Active),
            Some(UserStatus::Suspended),
            Some(UserStatus::Deprovisioned),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for linked in statuses {
            for invited in [None, Some(UserStatus::Invited)] {
                for same in statuses {
                    for bits in 0u32..(1 << 8) {
                        let bit = |i: u32| bits & (1 << i) != 0;
                        let mut w = World::new();
                        w.linked = linked.map(|s| user("l", s));
                        w.invited = invited.map(|s| user("i", s));
                        w.same_email = same.map(|s| Known {
                            owner: bit(6),
                            within_creator_limits: bit(7),
                            ..user("s", s)
                        });
                        w.email_verified = bit(0);
                        if bit(1) {
                            w.trusted = domains(&["acme.io"]);
                        }
                        w.sso_default = bit(2);
                        if bit(3) {
                            w.allowed.clear();
                        }
                        w.self_select = bit(4);
                        w.owner_approved = bit(5);
                        let out = w.decide();
                        let trusted = w.email_verified && !bit(1);
                        let expected_kind = match (&w.linked, &w.invited, &w.same_email) {
                            (Some(l), _, _) => {
                                if matches!(
                                    l.status,
                                    UserStatus::Suspended | UserStatus::Deprovisioned
                                ) {
                                    "refused"
                                } else {
                                    "sign_in"
                                }
                            }
                            _ if !trusted => "refused",
                            (None, Some(_), _) => "accept",
                            (None, None, Some(s)) => {
                                if matches!(
                                    s.status,
                                    UserStatus::Suspended | UserStatus::Deprovisioned
                                ) || (s.owner && !w.owner_approved)
                                    || !s.within_creator_limits
                                {
                                    "refused"
                                } else {
                                    "link"
                                }
                            }
                            (None, None, None) => {
                                if w.sso_default && !w.allowed.is_empty() {
                                    "create"
                                } else {
                                    "refused"
                                }
                            }
                        };
                        let kind = match &out {
                            Outcome::SignIn { .. } => "sign_in",
                            Outcome::AcceptInvite { .. } => "accept",
                            Outcome::Link { .. } => "link",
                            Outcome::CreateDefault { .. } => "create",
                            Outcome::Refused(_) => "refused",
                        };
                        assert_eq!(kind, expected_kind, "{out:?}");
                        assert!(!out.reason().is_empty());
                        seen.insert(kind);
                    }
                }
            }
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
    }
}
