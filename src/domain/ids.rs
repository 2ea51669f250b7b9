//! Typed identifiers. Every record id is a UUIDv7 (time-ordered, so new rows land
//! at the end of indexes) stored as its hyphenated text form.

use std::fmt;
use std::str::FromStr;

/// Why a text is not an id of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid id")]
pub struct InvalidId(pub String);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().hyphenated().to_string())
            }
            /// Wrap a value read back from our own store (already canonical).
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            /// Accepts any UUID spelling; normalises to lower-case hyphenated.
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                uuid::Uuid::parse_str(s)
                    .map(|u| $name(u.hyphenated().to_string()))
                    .map_err(|_| InvalidId(s.chars().take(64).collect()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(/// An organization (tenant).
    OrgId);
id_type!(/// A workspace inside an organization.
    WorkspaceId);
id_type!(/// A user of an organization.
    UserId);
id_type!(/// A group of users.
    GroupId);
id_type!(/// A SCIM directory: one IdP provisioning connection of an org.
    DirectoryId);
id_type!(/// An API key (the public half of its token).
    ApiKeyId);
id_type!(/// A link from a user to an IdP subject.
    IdentityId);
id_type!(/// An audit event.
    AuditEventId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_normalise() {
        let id: UserId = "0190F5A2-0000-7000-8000-000000000001".parse().unwrap();
        assert_eq!(id.as_str(), "0190f5a2-0000-7000-8000-000000000001");
        assert!("not-an-id".parse::<UserId>().is_err());
    }

    #[test]
    fn generated_ids_are_time_ordered() {
        let a = OrgId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = OrgId::generate();
        assert!(a < b);
    }
}
