//! SCIM error keywords and the error value the wire layer hands to the server.
//!
//! RFC 7644 §3.12 defines the JSON error body (`schemas`, `status`, `scimType`,
//! `detail`) and a list of `scimType` keywords, which RFC 9865 §2.1 extends
//! for cursor paging. This module owns that list ([`ScimType`]) and [`ScimError`], the one error shape produced by the
//! PATCH engine and by write-side normalisation. Choosing the HTTP status and
//! rendering the body is the server's job (its `error.rs`); RFC 7644 pairs every
//! keyword here with 400, except `uniqueness`, which §3.3 and §3.5.1 pair with
//! 409.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::filter::FilterError;
use super::schema::PathError;

/// The `scimType` keywords of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    /// The filter syntax was invalid, or the attribute and comparison
    /// combination is not supported.
    InvalidFilter,
    /// The filter yields more results than the server is willing to return.
    TooMany,
    /// One or more unique attribute values are already in use.
    Uniqueness,
    /// The request tries to modify an attribute its mutability forbids.
    Mutability,
    /// The request body message structure was invalid.
    InvalidSyntax,
    /// The PATCH `path` was invalid or malformed.
    InvalidPath,
    /// The PATCH `path` did not yield an attribute or value to operate on.
    NoTarget,
    /// A required value was missing or a value was not compatible with the
    /// attribute's type.
    InvalidValue,
    /// The SCIM protocol version is not supported.
    InvalidVers,
    /// Sensitive information was passed in the request URI.
    Sensitive,
    /// RFC 9865 §2.1: the `cursor` is not one this server issued for this
    /// query.
    InvalidCursor,
    /// RFC 9865 §2.1: the `cursor` is older than `cursorTimeout`.
    ExpiredCursor,
    /// RFC 9865 §2.1: the `count` of a cursor-paged query is not positive.
    InvalidCount,
}

impl ScimType {
    /// Every keyword, in the order of RFC 7644 Table 9, then RFC 9865's.
    pub const ALL: [ScimType; 13] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
        ScimType::InvalidCursor,
        ScimType::ExpiredCursor,
        ScimType::InvalidCount,
    ];

    /// The keyword exactly as it appears in the `scimType` member.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::InvalidCount => "invalidCount",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a string is not one of the RFC 7644 keywords.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scimType keyword {0:?}")]
pub struct UnknownScimType(pub String);

impl FromStr for ScimType {
    type Err = UnknownScimType;

    /// Exact match only: the keywords are case-sensitive on the wire.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScimType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownScimType(s.to_owned()))
    }
}

/// A request the SCIM layer refuses, with the keyword and a human-readable
/// detail that is safe to send back to the client (it never contains more than
/// the client itself sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scim_type}: {detail}")]
pub struct ScimError {
    pub scim_type: ScimType,
    pub detail: String,
}

impl ScimError {
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError {
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Mutability, detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ScimType::NoTarget, detail)
    }
}

impl From<FilterError> for ScimError {
    fn from(err: FilterError) -> Self {
        ScimError::invalid_filter(err.to_string())
    }
}

impl From<PathError> for ScimError {
    fn from(err: PathError) -> Self {
        ScimError::invalid_path(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_through_their_wire_spelling() {
        for t in ScimType::ALL {
            assert_eq!(t.as_str().parse::<ScimType>(), Ok(t));
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json, serde_json::Value::String(t.as_str().to_owned()));
        }
    }

    #[test]
    fn keywords_are_case_sensitive() {
        assert!("InvalidFilter".parse::<ScimType>().is_err());
        assert_eq!("noTarget".parse::<ScimType>().unwrap(), ScimType::NoTarget);
    }

    #[test]
    fn error_display_leads_with_the_keyword() {
        let e = ScimError::mutability("id is readOnly");
        assert_eq!(e.to_string(), "mutability: id is readOnly");
    }
}
