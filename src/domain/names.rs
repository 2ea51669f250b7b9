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

/// SCIM `userName`: unique per org, compared by its [`comparison_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    value: String,
    lower: String,
}

/// The longest `userName` accepted, in characters.
pub const USER_NAME_MAX_CHARS: usize = 256;

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new("userName", "must not be empty"));
        }
        if s.chars().count() > USER_NAME_MAX_CHARS {
            return Err(ValidationError::new(
                "userName",
                format!("must be at most {USER_NAME_MAX_CHARS} characters"),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "userName",
                "must not contain control characters",
            ));
        }
        refuse_invisible("userName", s)?;
        Ok(UserName {
            value: s.to_owned(),
            lower: comparison_key(s),
        })
    }

    /// A userName read back from the store, written under older (laxer)
    /// rules: not re-validated, but compared by today's key.
    pub fn from_stored(stored: &str) -> Self {
        UserName {
            value: stored.to_owned(),
            lower: comparison_key(stored),
        }
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
/// compared by its [`comparison_key`] (case-insensitively, as every IdP we
/// serve treats it).
///
/// Accepted: exactly one `@`; a local part of 1–64 characters without
/// whitespace, quotes or the separators `, ; < > ( ) [ ] \ :`, not starting
/// or ending with a dot nor holding two in a row; a domain of at least two
/// DNS labels (1–63 letters, digits or inner hyphens each, 253 characters in
/// all) whose last label is not numeric. Quoted local parts and address
/// literals (`a@[10.0.0.1]`) are refused: no IdP we serve sends them, and
/// they are how lists and markup get smuggled into one "address".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    value: String,
    lower: String,
}

/// The longest email address accepted (RFC 5321 §4.5.3.1: a path of 256
/// octets including the angle brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid = |why: &str| {
            ValidationError::new(
                "email",
                format!("`{}` is not an email address: {why}", excerpt(s)),
            )
        };
        if s.chars().count() > EMAIL_MAX_CHARS {
            return Err(invalid("longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace or control characters"));
        }
        refuse_invisible("email", s)?;
        let Some((local, domain)) = s.split_once('@') else {
            return Err(invalid("it has no `@`"));
        };
        if domain.contains('@') {
            return Err(invalid("it has more than one `@`"));
        }
        if local.is_empty() || local.chars().count() > 64 {
            return Err(invalid("the part before `@` must be 1 to 64 characters"));
        }
        if let Some(c) = local.chars().find(|c| LOCAL_SEPARATORS.contains(c)) {
            return Err(invalid(&format!(
                "the part before `@` must not contain `{c}`"
            )));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid("the part before `@` has a misplaced dot"));
        }
        let domain = domain.to_lowercase();
        check_domain(&domain).map_err(invalid)?;
        let value = format!("{local}@{domain}");
        Ok(Email {
            lower: comparison_key(&value),
            value,
        })
    }

    /// An address read back from the store, written under older (laxer)
    /// rules: not re-validated, but compared by today's key.
    pub fn from_stored(stored: &str) -> Self {
        Email {
            value: stored.to_owned(),
            lower: comparison_key(stored),
        }
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

/// Characters that separate or quote addresses in headers and markup.
const LOCAL_SEPARATORS: &[char] = &[',', ';', '<', '>', '(', ')', '[', ']', '\\', ':', '"'];

/// A DNS domain name as an org claims it (lower case, at least one dot,
/// labels of letters, digits and hyphens), e.g. `acme.com`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let lower = raw.trim().trim_end_matches('.').to_lowercase();
        check_domain(&lower).map_err(|why| {
            let why = why.replace("the part after `@`", "the domain");
            ValidationError::new(
                "domain",
                format!("`{}` is not a domain name: {why}", excerpt(raw)),
            )
        })?;
        Ok(DomainName(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.is_empty() {
        return Err("the part after `@` is empty");
    }
    if domain.chars().count() > 253 {
        return Err("the domain is longer than 253 characters");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain needs at least one dot");
    }
    for label in &labels {
        if label.is_empty() || label.chars().count() > 63 {
            return Err("each domain label must be 1 to 63 characters");
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err("domain labels may only hold letters, digits and hyphens");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a domain label must not start or end with a hyphen");
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("the last domain label must not be numeric");
    }
    Ok(())
}

/// Characters that render as nothing (zero-width spaces and joiners, the
/// byte-order mark, soft hyphen, variation selectors, tags, fillers) or
/// reorder text (bidi marks, embeddings, overrides and isolates): two names
/// that differ only by them look identical, so they are refused in
/// identifiers and ignored by [`comparison_key`].
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

fn refuse_invisible(field: &'static str, s: &str) -> Result<(), ValidationError> {
    match s.chars().find(|&c| is_invisible(c)) {
        Some(c) => Err(ValidationError::new(
            field,
            format!(
                "must not contain invisible or bidirectional-control characters (found U+{:04X})",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

/// The form under which userNames and email addresses are compared and
/// stored for uniqueness: invisible characters dropped, Unicode NFKC
/// (fullwidth and compatibility forms become their plain letters, combining
/// sequences compose), lower-cased, and NFKC again so the result is stable.
/// Look-alikes such as `ｄａｖｅ@acme.com` and `dave@acme.com` share one key.
pub fn comparison_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let visible: String = s.chars().filter(|&c| !is_invisible(c)).collect();
    let folded = visible.nfkc().collect::<String>().to_lowercase();
    folded.nfkc().collect()
}

/// The one lower-casing rule for case-insensitive comparisons, used both when
/// storing canonical columns and when querying them.
pub fn canonical_lower(s: &str) -> String {
    s.to_lowercase()
}

/// Names of people (given, family, display) and client identifiers
/// (`externalId`) set through the admin API.
pub const PERSON_NAME_MAX_CHARS: usize = 256;
/// Descriptions of roles and permission sets.
pub const DESCRIPTION_MAX_CHARS: usize = 1000;

/// Free text a person reads: at most `max` characters, and no control
/// characters other than line breaks and tabs.
pub fn check_free_text(field: &'static str, raw: &str, max: usize) -> Result<(), ValidationError> {
    if raw.len() > max && raw.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// At most the first 64 characters of client input, for error messages:
/// an error never echoes a whole hostile payload.
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
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
            "a@b.com,c@d.com",
            "<script>@x.com",
            "a@-x.com",
            "a@x-.com",
            "a@b",
            "a;b@x.com",
            "\"a b\"@x.com",
            ".a@x.com",
            "a..b@x.com",
            "a@x.123",
            "a@[10.0.0.1]",
            "dave@acme.com\u{200B}",
            "\u{FEFF}dave@acme.com",
            "da\u{202E}ve@acme.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "o'neil@x-y.io",
            "ü@bücher.de",
        ] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn look_alikes_share_a_comparison_key() {
        let plain = UserName::parse("dave@acme.com").unwrap();
        for alike in [
            "ＤＡＶＥ@acme.com",
            "Dave@ACME.com",
            "ｄａｖｅ＠ａｃｍｅ．ｃｏｍ",
        ] {
            assert_eq!(
                UserName::parse(alike).unwrap().canonical(),
                plain.canonical(),
                "{alike}"
            );
        }
        // A combining acute accent composes with its letter.
        assert_eq!(
            UserName::parse("Jose\u{301}").unwrap().canonical(),
            UserName::parse("josé").unwrap().canonical()
        );
        // Legacy rows holding invisible characters collide with the plain name.
        assert_eq!(
            UserName::from_stored("dave@acme.com\u{200B}").canonical(),
            plain.canonical()
        );
        assert_eq!(
            Email::from_stored("DAVE@acme.com").canonical(),
            plain.canonical()
        );
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_with_their_code_point() {
        for (bad, cp) in [
            ("dave\u{200B}", "U+200B"),
            ("\u{FEFF}dave", "U+FEFF"),
            ("da\u{202E}ve", "U+202E"),
            ("da\u{2066}ve", "U+2066"),
            ("da\u{00AD}ve", "U+00AD"),
        ] {
            let e = UserName::parse(bad).unwrap_err();
            assert!(e.message.contains(cp), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn free_text_is_limited() {
        assert!(check_free_text("description", &"é".repeat(1000), 1000).is_ok());
        let e = check_free_text("description", &"é".repeat(1001), 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "description: must be at most 1000 characters"
        );
        assert!(check_free_text("description", "two\nlines", 1000).is_ok());
        assert!(check_free_text("description", "bell\u{7}", 1000).is_err());
    }

    #[test]
    fn errors_echo_only_an_excerpt() {
        let long = format!("{}@x.com", "a".repeat(100_000));
        let e = Email::parse(&long).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message.len());
        assert_eq!(excerpt("short"), "short");
    }
}
