//! Organization settings (SPEC §3 "Org settings"): which provisioning paths are
//! enabled, the default role, allowed email domains for SSO-default, workspace
//! self-selection, invite expiry, and who manages roles (`roles_managed_by`).
//! Stored as JSON on the org row; unknown keys are refused so typos surface.

use serde::{Deserialize, Serialize};

/// Who wins when an admin-set role and an IdP mapping disagree (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolesManagedBy {
    /// An explicit admin/invite binding wins; mappings apply to users without one.
    #[default]
    Admin,
    /// Mappings win; admin edits of a mapped user's role are refused.
    Idp,
}

/// The provisioning paths of SPEC §3, each switchable per org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningPaths {
    pub invite: bool,
    pub sso_default: bool,
    pub scim: bool,
    pub bulk_invite: bool,
}

impl Default for ProvisioningPaths {
    fn default() -> Self {
        ProvisioningPaths {
            invite: true,
            // Off until an admin allows email domains (issue "8 of 11").
            sso_default: false,
            scim: true,
            bulk_invite: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OrgSettings {
    /// The permission preset the org was created from.
    pub preset: String,
    pub provisioning: ProvisioningPaths,
    /// Role key given to users with nothing else (SSO-default, SCIM unmapped).
    pub default_role: Option<String>,
    /// Email domains allowed to sign up through SSO-default: a subset of the
    /// org's verified domains. Empty: nobody signs up through SSO-default.
    pub allowed_email_domains: Vec<String>,
    /// Whether SSO-default users pick their own workspace(s) on first login.
    pub workspace_self_select: bool,
    /// Workspaces (slugs) SSO-default users get when they do not pick.
    pub default_workspaces: Vec<String>,
    /// Days before an invite expires.
    pub invite_expiry_days: u32,
    pub roles_managed_by: RolesManagedBy,
    /// Where a login may send the browser afterwards (`return_to`): each an
    /// absolute http(s) URL whose scheme, host and port must match exactly
    /// and whose path is a prefix (at a `/` boundary) of the target's.
    /// Paths on the gateway itself (`/account`) are always allowed.
    pub allowed_return_urls: Vec<String>,
    /// Members sign in through the org's IdP only: emailed sign-in links
    /// are refused and their sessions end.
    pub require_sso: bool,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            preset: "analytics".to_owned(),
            provisioning: ProvisioningPaths::default(),
            default_role: None,
            allowed_email_domains: Vec::new(),
            workspace_self_select: true,
            default_workspaces: Vec::new(),
            invite_expiry_days: 7,
            roles_managed_by: RolesManagedBy::Admin,
            allowed_return_urls: Vec::new(),
            require_sso: false,
        }
    }
}

impl OrgSettings {
    /// Check values a client may have set. Domains are normalised to lower case.
    pub fn validate(mut self) -> Result<Self, super::names::ValidationError> {
        use super::names::ValidationError;
        if !(1..=90).contains(&self.invite_expiry_days) {
            return Err(ValidationError::new(
                "invite_expiry_days",
                "must be between 1 and 90",
            ));
        }
        for d in &mut self.allowed_email_domains {
            let lower = d.trim().to_lowercase();
            if lower.is_empty() || lower.contains('@') || !lower.contains('.') {
                return Err(ValidationError::new(
                    "allowed_email_domains",
                    format!("`{d}` is not a domain name"),
                ));
            }
            *d = lower;
        }
        self.allowed_email_domains.sort();
        self.allowed_email_domains.dedup();
        for u in &mut self.allowed_return_urls {
            let parsed = ReturnUrl::parse(u).ok_or_else(|| {
                ValidationError::new(
                    "allowed_return_urls",
                    format!("`{u}` is not an absolute http(s) URL without query or fragment"),
                )
            })?;
            *u = parsed.to_string();
        }
        self.allowed_return_urls.sort();
        self.allowed_return_urls.dedup();
        Ok(self)
    }

    /// Whether a login may end at `target`: a path on the gateway (`/…`, not
    /// `//…`), or a URL under one of [`OrgSettings::allowed_return_urls`].
    pub fn return_allowed(&self, target: &str) -> bool {
        if target.starts_with('/') {
            return !target.starts_with("//") && !target.starts_with("/\\");
        }
        let Ok(url) = url::Url::parse(target) else {
            return false;
        };
        self.allowed_return_urls
            .iter()
            .filter_map(|a| ReturnUrl::parse(a))
            .any(|allowed| allowed.covers(&url))
    }
}

/// An allowed return URL: scheme, host, port and a path prefix.
struct ReturnUrl(url::Url);

impl ReturnUrl {
    fn parse(raw: &str) -> Option<ReturnUrl> {
        let url = url::Url::parse(raw.trim()).ok()?;
        let ok = matches!(url.scheme(), "https" | "http")
            && url.host_str().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        ok.then_some(ReturnUrl(url))
    }

    fn covers(&self, target: &url::Url) -> bool {
        let a = &self.0;
        if a.scheme() != target.scheme()
            || a.host_str() != target.host_str()
            || a.port_or_known_default() != target.port_or_known_default()
            || !target.username().is_empty()
            || target.password().is_some()
        {
            return false;
        }
        let prefix = a.path();
        let path = target.path();
        path == prefix
            || (path.starts_with(prefix)
                && (prefix.ends_with('/') || path[prefix.len()..].starts_with('/')))
    }
}

impl std::fmt::Display for ReturnUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_unknown_keys_fail() {
        let s = OrgSettings::default();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<OrgSettings>(&json).unwrap(), s);
        assert!(serde_json::from_str::<OrgSettings>(r#"{"invite_expiry": 3}"#).is_err());
    }

    #[test]
    fn return_urls_match_scheme_host_port_and_a_path_prefix() {
        let s = OrgSettings {
            allowed_return_urls: vec!["https://app.example.com/done".into()],
            ..OrgSettings::default()
        }
        .validate()
        .unwrap();
        assert!(s.return_allowed("https://app.example.com/done"));
        assert!(s.return_allowed("https://app.example.com/done/x?y=1"));
        assert!(s.return_allowed("https://app.example.com:443/done"));
        assert!(s.return_allowed("/account"));
        for bad in [
            "https://app.example.com/donex",
            "https://app.example.com/",
            "http://app.example.com/done",
            "https://app.example.com:8443/done",
            "https://evil.example.com/done",
            "https://app.example.com.evil.io/done",
            "https://user@app.example.com/done",
            "//evil.example.com/done",
            "/\\evil.example.com",
            "javascript:alert(1)",
        ] {
            assert!(!s.return_allowed(bad), "{bad}");
        }
        let bad = OrgSettings {
            allowed_return_urls: vec!["https://a.example/x?q=1".into()],
            ..OrgSettings::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn validation() {
        let s = OrgSettings {
            allowed_email_domains: vec![" Example.COM".into(), "example.com".into()],
            ..OrgSettings::default()
        };
        assert_eq!(
            s.validate().unwrap().allowed_email_domains,
            vec!["example.com"]
        );
        let bad = OrgSettings {
            invite_expiry_days: 0,
            ..OrgSettings::default()
        };
        assert!(bad.validate().is_err());
    }
}
