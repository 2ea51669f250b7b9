//! Who did something, for the audit trail (SPEC §1 "Audit event").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// An admin API key (`actor.id` is the key id).
    ApiKey,
    /// A person signed in to the console (`actor.id` is the user id).
    User,
    /// A SCIM directory pushing changes (`actor.id` is the directory id).
    ScimDirectory,
    /// A person signing in through an IdP (`actor.id` is the user id).
    IdpLogin,
    /// The command line on the server host.
    Cli,
    /// rollcall itself (workers, expiry).
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 6] = [
        ActorKind::ApiKey,
        ActorKind::User,
        ActorKind::ScimDirectory,
        ActorKind::IdpLogin,
        ActorKind::Cli,
        ActorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::ApiKey => "api_key",
            ActorKind::User => "user",
            ActorKind::ScimDirectory => "scim_directory",
            ActorKind::IdpLogin => "idp_login",
            ActorKind::Cli => "cli",
            ActorKind::System => "system",
        }
    }
}

super::user::text_enum!(ActorKind, "actor kind");

/// The actor of a change, as recorded in audit events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    /// Human-readable: key name, directory name, user name, `cli@host`.
    pub label: String,
}

impl Actor {
    /// The command line, as the user `$USER` names (tests and tools; the
    /// `rollcall` binary uses [`Actor::cli_as`] with the process's account).
    pub fn cli() -> Actor {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Actor::cli_as(&user)
    }

    /// The command line, run by the operating-system user `user`.
    pub fn cli_as(user: &str) -> Actor {
        Actor {
            kind: ActorKind::Cli,
            id: None,
            label: format!("cli:{user}"),
        }
    }

    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            id: None,
            label: "rollcall".to_owned(),
        }
    }
}
