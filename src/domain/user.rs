//! A user's lifecycle status and where the record came from (SPEC §1, §3).

/// `invited → active ⇄ suspended → deprovisioned`. Only `active` users pass a
/// permission check; uniqueness ignores `deprovisioned` users.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Invited,
    Active,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub const ALL: [UserStatus; 4] = [
        UserStatus::Invited,
        UserStatus::Active,
        UserStatus::Suspended,
        UserStatus::Deprovisioned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
            UserStatus::Deprovisioned => "deprovisioned",
        }
    }
}

/// The source that created the user record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UserSource {
    Invite,
    Scim,
    Sso,
    Bulk,
    Admin,
}

impl UserSource {
    pub const ALL: [UserSource; 5] = [
        UserSource::Invite,
        UserSource::Scim,
        UserSource::Sso,
        UserSource::Bulk,
        UserSource::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Invite => "invite",
            UserSource::Scim => "scim",
            UserSource::Sso => "sso",
            UserSource::Bulk => "bulk",
            UserSource::Admin => "admin",
        }
    }
}

/// A stored enum value we do not know (a corrupt row or a newer binary's data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($ty:ty, $kind:literal) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::domain::user::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, $crate::domain::user::UnknownVariant> {
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::domain::user::UnknownVariant {
                        kind: $kind,
                        value: s.to_owned(),
                    })
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(UserStatus, "user status");
text_enum!(UserSource, "user source");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in UserStatus::ALL {
            assert_eq!(s.as_str().parse::<UserStatus>().unwrap(), s);
        }
        for s in UserSource::ALL {
            assert_eq!(s.to_string().parse::<UserSource>().unwrap(), s);
        }
        assert!("gone".parse::<UserStatus>().is_err());
    }
}
