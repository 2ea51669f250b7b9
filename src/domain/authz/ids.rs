//! Identifier and key types of the permission engine.
//!
//! Owns the opaque string identifiers (roles, sets, bindings, workspaces,
//! resources, …) and the two *validated* keys: [`PermissionKey`] and
//! [`ResourceType`]. All of them are backed by `Arc<str>` so that the engine
//! can copy them into a [`Reason`](super::Reason) with a reference-count bump
//! instead of a string allocation; that keeps a check cheap while still
//! letting every reason name what decided.
//!
//! Identifiers are opaque on purpose: the store may use UUIDs, integers or
//! slugs; the engine only compares them.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Declares an opaque, cheaply clonable string identifier.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps any string as this identifier.
            pub fn new(value: impl AsRef<str>) -> Self {
                Self(Arc::from(value.as_ref()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(Arc::from(value))
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }
    };
}

string_id!(
    /// Identifier of a [`Role`](super::Role) record.
    RoleId
);
string_id!(
    /// Machine key of a role (`[a-z0-9_]+`, unique per org), e.g.
    /// `view_manager`; validated by [`Policy::new`](super::Policy::new).
    RoleKey
);
string_id!(
    /// Identifier of a [`PermissionSet`](super::PermissionSet) record.
    SetId
);
string_id!(
    /// Identifier of a [`Binding`](super::Binding) record.
    BindingId
);
string_id!(
    /// Identifier of an [`IndividualOverride`](super::IndividualOverride) record.
    OverrideId
);
string_id!(
    /// Identifier of a workspace of the organisation.
    WorkspaceId
);
string_id!(
    /// Identifier of a resource (a workflow, an application, an item …);
    /// unique together with its [`ResourceType`].
    ResourceId
);
string_id!(
    /// Identifier of a user.
    UserId
);
string_id!(
    /// Identifier of a group (SCIM group or IdP group claim value).
    GroupId
);
string_id!(
    /// Key of an item type of the organisation (seed 004), e.g. `task`;
    /// validated by the service (a [`Slug`](crate::domain::Slug)).
    ItemTypeKey
);
string_id!(
    /// Key of a field of an item type, e.g. `due_date`.
    FieldKey
);
string_id!(
    /// Identifier of a group-mapping record (see [`resolve_org_role`](super::resolve_org_role)).
    MappingId
);

/// Longest accepted permission key, in bytes.
pub const MAX_PERMISSION_KEY_LEN: usize = 128;

/// Why a permission key or resource type was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("permission key is empty")]
    Empty,
    #[error("permission key {0:?} is longer than {MAX_PERMISSION_KEY_LEN} characters")]
    TooLong(String),
    #[error(
        "permission key {0:?} is not lower-case dot-separated segments of [a-z0-9_] (e.g. `dashboards.view`)"
    )]
    Malformed(String),
    #[error("resource type {0:?} is not a single lower-case segment of [a-z0-9_]")]
    MalformedResourceType(String),
}

fn is_segment_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'
}

/// A permission key from a catalogue, e.g. `dashboards.view`.
///
/// Grammar: `[a-z0-9_]+(\.[a-z0-9_]+)*`, at most
/// [`MAX_PERMISSION_KEY_LEN`] characters. Parsing is the only way to build
/// one, so every key the engine sees is well formed.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PermissionKey(Arc<str>);

impl PermissionKey {
    /// Parses and validates a key.
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        if value.is_empty() {
            return Err(KeyError::Empty);
        }
        if value.len() > MAX_PERMISSION_KEY_LEN {
            return Err(KeyError::TooLong(value.to_owned()));
        }
        let well_formed = value
            .split('.')
            .all(|segment| !segment.is_empty() && segment.bytes().all(is_segment_char));
        if !well_formed {
            return Err(KeyError::Malformed(value.to_owned()));
        }
        Ok(Self(Arc::from(value)))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PermissionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PermissionKey({:?})", &*self.0)
    }
}

impl fmt::Display for PermissionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PermissionKey {
    type Err = KeyError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl TryFrom<&str> for PermissionKey {
    type Error = KeyError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl Borrow<str> for PermissionKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PermissionKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PermissionKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PermissionKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The type of a resource that permissions and bindings can be scoped to,
/// e.g. `workflow`, `application`, `incident`, `item`: one lower-case
/// `[a-z0-9_]+` segment.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceType(Arc<str>);

impl ResourceType {
    /// Parses and validates a resource type.
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        if value.is_empty()
            || value.len() > MAX_PERMISSION_KEY_LEN
            || !value.bytes().all(is_segment_char)
        {
            return Err(KeyError::MalformedResourceType(value.to_owned()));
        }
        Ok(Self(Arc::from(value)))
    }

    /// The type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceType({:?})", &*self.0)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ResourceType {
    type Err = KeyError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl Serialize for ResourceType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_keys() {
        for key in [
            "dashboards.view",
            "read_all",
            "gateway.users.manage",
            "a1.b_2.c",
        ] {
            assert_eq!(PermissionKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn rejects_malformed_keys() {
        for key in [
            "Dashboards.view",
            "dashboards..view",
            ".view",
            "view.",
            "dash-boards",
            "dash boards",
            "ü.view",
        ] {
            assert!(
                matches!(PermissionKey::parse(key), Err(KeyError::Malformed(_))),
                "{key} should be rejected"
            );
        }
        assert_eq!(PermissionKey::parse(""), Err(KeyError::Empty));
    }

    #[test]
    fn enforces_length_limit() {
        let exactly = "a".repeat(MAX_PERMISSION_KEY_LEN);
        assert!(PermissionKey::parse(&exactly).is_ok());
        let over = "a".repeat(MAX_PERMISSION_KEY_LEN + 1);
        assert!(matches!(
            PermissionKey::parse(&over),
            Err(KeyError::TooLong(_))
        ));
    }

    #[test]
    fn resource_type_is_one_segment() {
        assert!(ResourceType::parse("workflow").is_ok());
        assert!(ResourceType::parse("work.flow").is_err());
        assert!(ResourceType::parse("").is_err());
    }

    #[test]
    fn keys_round_trip_through_serde() {
        let key: PermissionKey = serde_json::from_str("\"dora.edit\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"dora.edit\"");
        assert!(serde_json::from_str::<PermissionKey>("\"Dora\"").is_err());
        let id: RoleId = serde_json::from_str("\"owner\"").unwrap();
        assert_eq!(id.as_str(), "owner");
    }
}
