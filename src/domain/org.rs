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
        Ok(self)
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
