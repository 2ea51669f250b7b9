//! SCIM 2.0 wire layer (RFC 7643 schemas, RFC 7644 protocol).
//!
//! Everything here is pure: JSON in, JSON or typed values out, no I/O. The
//! layering is:
//!
//! - [`schema`]: the User, Group, Enterprise User and rollcall schemas as
//!   static data, their `/Schemas` and `/ResourceTypes` representations, and
//!   attribute path resolution;
//! - [`filter`]: the filter grammar, its AST (which the store translates to
//!   SQL), validation against the schema, and an in-memory matcher;
//! - [`patch`]: PatchOp parsing and the PATCH engine, including the Okta and
//!   Microsoft Entra ID dialects; group membership comes back as a change
//!   list;
//! - [`resource`]: normalisation of POST/PUT bodies and projection with
//!   `attributes` / `excludedAttributes`;
//! - [`index`]: which column or indexed value answers each filterable
//!   attribute, and which values of a User are indexed;
//! - [`cursor`]: RFC 9865 paging cursors (signed keyset positions);
//! - [`error`]: the `scimType` keywords and the error value the others return.
//!
//! The server owns storage, the SQL translation of filters, sorting and
//! paging, ETags, `/ServiceProviderConfig`, Bulk, and HTTP (status codes and
//! the RFC 7644 §3.12 error body).

pub mod cursor;
pub mod error;
pub mod filter;
pub mod index;
mod json;
pub mod patch;
pub mod resource;
pub mod schema;
mod value;

pub use error::{ScimError, ScimType};
pub use filter::{CompValue, CompareOp, Filter, FilterError};
pub use patch::{
    MemberChanges, PatchError, PatchOp, PatchOperation, PatchOutcome, PatchPath, PatchRequest,
};
pub use resource::{Normalized, ResourceError, normalize_for_write, parse_attribute_list, project};
pub use schema::{
    AttrPath, AttrType, AttributeDef, GROUP, Mutability, PathError, Resolved, ResourceTypeDef,
    Returned, SchemaDef, SchemaExtension, USER, Uniqueness, all_resource_types, all_schemas,
    resource_type_json, schema_json, urn,
};
