//! Newtypes and rules with no I/O: names and ids parsed at the edge, user
//! lifecycle, org settings, the SSO provisioning decision (`provisioning`),
//! and (in `authz`) the role and permission engine.

pub mod audit;
pub mod authz;
pub mod ids;
pub mod names;
pub mod org;
pub mod provisioning;
pub mod user;

pub use ids::*;
pub use names::{DomainName, Email, Label, Slug, UserName, ValidationError};
pub use org::{OrgSettings, RolesManagedBy};
pub use user::{UserSource, UserStatus};
