//! Names parsed at the edge: slugs, SCIM `userName`, email addresses.
//!
//! Each newtype has a private field and a `parse` returning [`ValidationError`],
//! so code past the edge never re-validates. Case-insensitive names carry their
//! canonical lower-case form, which is what uniqueness is checked on
//! (RFC 7643 §4.1.1: `userName` is case-insensitive; SPEC §1: email normalised).

use std::fmt;

/// A value a client sent that we cannot accept, with the field it came in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        ValidationError {
            field,
            message: message.into(),
        }
    }
}

/// URL-safe identifier for orgs and workspaces: `a-z 0-9 -`, 2–63 characters,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(2..=63).contains(&s.len()) {
            return Err(ValidationError::new(
                field,
                "must be 2 to 63 characters long",
            ));
        }
        if !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err(ValidationError::new(
                field,
                format!("`{s}` may only use lower-case letters, digits and inner hyphens"),
            ));
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A human-readable label (org, workspace, key names): trimmed, 1–200 characters,
/// no control characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Label(String);

impl Label {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if s.chars().count() > 200 {
            return Err(ValidationError::new(
                field,
                "must be at most 200 characters",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Label(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// SCIM `userName`: unique per org, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    value: String,
    lower: String,
}

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new("userName", "must not be empty"));
        }
        if s.chars().count() > 256 {
            return Err(ValidationError::new(
                "userName",
                "must be at most 256 characters",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "userName",
                "must not contain control characters",
            ));
        }
        Ok(UserName {
            value: s.to_owned(),
            lower: canonical_lower(s),
        })
    }

    /// As the client spelt it.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The form uniqueness and lookups use.
    pub fn canonical(&self) -> &str {
        &self.lower
    }
}

/// An email address: `local@domain`, domain lower-cased. The whole address is
/// compared case-insensitively (as every IdP we serve treats it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    value: String,
    lower: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid = || ValidationError::new("email", format!("`{s}` is not an email address"));
        if s.len() > 320 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || domain.is_empty()
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || domain.contains('@')
        {
            return Err(invalid());
        }
        let value = format!("{local}@{}", domain.to_lowercase());
        Ok(Email {
            lower: canonical_lower(&value),
            value,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn canonical(&self) -> &str {
        &self.lower
    }

    pub fn domain(&self) -> &str {
        self.lower
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
    }
}

/// The one lower-casing rule for case-insensitive comparisons, used both when
/// storing canonical columns and when querying them.
pub fn canonical_lower(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("org", "acme").is_ok());
        assert!(Slug::parse("org", "acme-eu-2").is_ok());
        for bad in ["a", "Acme", "-acme", "acme-", "ac me", "acmé", ""] {
            assert!(Slug::parse("org", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_names_compare_case_insensitively() {
        let a = UserName::parse("Alice@Example.com").unwrap();
        let b = UserName::parse(" alice@example.COM ").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.as_str(), "Alice@Example.com");
        assert!(UserName::parse("  ").is_err());
    }

    #[test]
    fn emails() {
        let e = Email::parse("Jane.Doe@Example.COM").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe@example.com");
        assert_eq!(e.canonical(), "jane.doe@example.com");
        assert_eq!(e.domain(), "example.com");
        for bad in [
            "jane",
            "@x.com",
            "jane@",
            "ja ne@x.com",
            "jane@x..com",
            "jane@.x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
