//! SCIM schemas as static data, their discovery representation, and attribute
//! path resolution.
//!
//! Owns:
//! - the attribute model of RFC 7643 §2 and §7 ([`AttributeDef`], [`SchemaDef`]),
//! - the User (§4.1), Group (§4.2) and Enterprise User (§4.3) schemas, the
//!   common attributes (§3.1) and rollcall's own User extension
//!   (`urn:ietf:params:scim:schemas:extension:rollcall:2.0:User`: `role`,
//!   `workspaces`, `homeWorkspace`),
//! - the `/Schemas` (§7) and `/ResourceTypes` (§6) JSON representations,
//! - [`AttrPath`], the `attrPath` rule of RFC 7644 §3.4.2.2 / §3.10, and its
//!   resolution against a resource type. Attribute names and schema URNs are
//!   case-insensitive (RFC 7643 §2.1); resolution hands back the definitions,
//!   whose spelling is the canonical one.
//!
//! `/ServiceProviderConfig` depends on server configuration and is rendered by
//! the server.

use std::fmt;

use serde_json::{Map, Value, json};

mod definitions;

pub use definitions::{
    COMMON_ATTRIBUTES, ENTERPRISE_USER_SCHEMA, GROUP, GROUP_SCHEMA, ROLLCALL_USER_SCHEMA,
    SCHEMAS_ATTRIBUTE, USER, USER_SCHEMA,
};

/// The URNs that appear on the wire.
pub mod urn {
    /// RFC 7643 §4.1.
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    /// RFC 7643 §4.2.
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    /// RFC 7643 §4.3.
    pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    /// rollcall's role and workspace extension of the User.
    pub const ROLLCALL_USER: &str = "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User";
    /// RFC 7644 §3.4.2.
    pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    /// RFC 7644 §3.5.2.
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    /// RFC 7644 §3.12.
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    /// RFC 7644 §3.7.
    pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
    /// RFC 7644 §3.7.
    pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
    /// RFC 7644 §3.4.3.
    pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    /// RFC 7643 §5.
    pub const SERVICE_PROVIDER_CONFIG: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    /// RFC 7643 §6.
    pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    /// RFC 7643 §7.
    pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
}

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
    Binary,
}

impl AttrType {
    pub const fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
            AttrType::Binary => "binary",
        }
    }

    /// Types whose values are JSON strings compared as text.
    pub const fn is_textual(self) -> bool {
        matches!(
            self,
            AttrType::String | AttrType::Reference | AttrType::Binary
        )
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub const fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub const fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub const fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7, "attributes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
    pub description: &'static str,
    /// The longest text value accepted, in characters; 0 means the default
    /// of the type (see [`AttributeDef::max_chars`]).
    pub max_chars: usize,
    /// Whether a multi-valued attribute has no cap on its values (Group
    /// `members`, which are rows, not document content).
    pub unbounded: bool,
}

/// The most values a multi-valued attribute may hold (Group `members`
/// aside): the de-duplication, indexing and storage of a resource stay
/// cheap, and no IdP sends a person more addresses or phones than this.
pub const MAX_VALUES: usize = 100;

/// Default text limits by type, in characters.
pub const MAX_STRING_CHARS: usize = 1024;
pub const MAX_REFERENCE_CHARS: usize = 2048;
/// Base64 DER certificates (`x509Certificates`) are the longest binaries.
pub const MAX_BINARY_CHARS: usize = 16384;
/// Names people read (`displayName`, `userName`) and client identifiers
/// (`externalId`).
pub const MAX_NAME_CHARS: usize = 256;
/// What the attributes of no schema (kept as received) may take in all, in
/// bytes of JSON, per resource.
pub const MAX_UNKNOWN_BYTES: usize = 16384;

impl AttributeDef {
    /// An attribute with the RFC 7643 §7 defaults: single-valued, optional,
    /// case-insensitive, readWrite, returned by default, not unique.
    pub const fn new(name: &'static str, ty: AttrType) -> Self {
        AttributeDef {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description: "",
            max_chars: 0,
            unbounded: false,
        }
    }

    /// Text values longer than `chars` characters are refused.
    pub const fn max_chars(self, chars: usize) -> Self {
        AttributeDef {
            max_chars: chars,
            ..self
        }
    }

    /// A multi-valued attribute without the [`MAX_VALUES`] cap.
    pub const fn unbounded(self) -> Self {
        AttributeDef {
            unbounded: true,
            ..self
        }
    }

    /// The longest text accepted for this attribute, if it is textual.
    pub const fn text_limit(&self) -> Option<usize> {
        if self.max_chars > 0 {
            return Some(self.max_chars);
        }
        match self.ty {
            AttrType::String => Some(MAX_STRING_CHARS),
            AttrType::Reference => Some(MAX_REFERENCE_CHARS),
            AttrType::Binary => Some(MAX_BINARY_CHARS),
            _ => None,
        }
    }

    /// The most values this attribute may hold, if it is multi-valued and capped.
    pub const fn value_limit(&self) -> Option<usize> {
        if self.multi_valued && !self.unbounded {
            Some(MAX_VALUES)
        } else {
            None
        }
    }

    /// The description as advertised: ours, plus the limits enforced.
    pub fn described(&self) -> String {
        let mut out = self.description.to_owned();
        if self.mutability == Mutability::ReadOnly {
            return out;
        }
        if let Some(n) = self.value_limit() {
            out.push_str(&format!(" At most {n} values."));
        }
        if let Some(n) = self.text_limit() {
            out.push_str(&format!(" At most {n} characters."));
        }
        out.trim_start().to_owned()
    }

    pub const fn multi_valued(self) -> Self {
        AttributeDef {
            multi_valued: true,
            ..self
        }
    }

    pub const fn required(self) -> Self {
        AttributeDef {
            required: true,
            ..self
        }
    }

    pub const fn case_exact(self) -> Self {
        AttributeDef {
            case_exact: true,
            ..self
        }
    }

    pub const fn mutability(self, mutability: Mutability) -> Self {
        AttributeDef { mutability, ..self }
    }

    pub const fn returned(self, returned: Returned) -> Self {
        AttributeDef { returned, ..self }
    }

    pub const fn uniqueness(self, uniqueness: Uniqueness) -> Self {
        AttributeDef { uniqueness, ..self }
    }

    pub const fn canonical_values(self, canonical_values: &'static [&'static str]) -> Self {
        AttributeDef {
            canonical_values,
            ..self
        }
    }

    pub const fn reference_types(self, reference_types: &'static [&'static str]) -> Self {
        AttributeDef {
            reference_types,
            ..self
        }
    }

    pub const fn sub_attributes(self, sub_attributes: &'static [AttributeDef]) -> Self {
        AttributeDef {
            sub_attributes,
            ..self
        }
    }

    pub const fn describe(self, description: &'static str) -> Self {
        AttributeDef {
            description,
            ..self
        }
    }

    /// Looks a sub-attribute up by name, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_attribute(self.sub_attributes, name)
    }

    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// The RFC 7643 §7 JSON representation of this attribute.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), self.name.into());
        out.insert("type".into(), self.ty.as_str().into());
        out.insert("multiValued".into(), self.multi_valued.into());
        out.insert("description".into(), self.described().into());
        out.insert("required".into(), self.required.into());
        if !self.canonical_values.is_empty() {
            out.insert("canonicalValues".into(), self.canonical_values.into());
        }
        out.insert("caseExact".into(), self.case_exact.into());
        out.insert("mutability".into(), self.mutability.as_str().into());
        out.insert("returned".into(), self.returned.as_str().into());
        out.insert("uniqueness".into(), self.uniqueness.as_str().into());
        if !self.reference_types.is_empty() {
            out.insert("referenceTypes".into(), self.reference_types.into());
        }
        if self.is_complex() {
            let subs = self.sub_attributes.iter().map(AttributeDef::to_json);
            out.insert("subAttributes".into(), Value::Array(subs.collect()));
        }
        Value::Object(out)
    }
}

fn find_attribute(list: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// One schema (RFC 7643 §7).
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Looks an attribute of this schema up by name, case-insensitively. The
    /// common attributes (`id`, `externalId`, `meta`) are not part of any
    /// schema; see [`ResourceTypeDef::resolve`].
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_attribute(self.attributes, name)
    }
}

/// An extension schema of a resource type (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaExtension {
    pub schema: &'static SchemaDef,
    pub required: bool,
}

/// One resource type (RFC 7643 §6).
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceTypeDef {
    /// "User" or "Group"; also the value of `meta.resourceType`.
    pub id: &'static str,
    pub name: &'static str,
    /// Relative endpoint, e.g. "/Users".
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    pub extensions: &'static [SchemaExtension],
}

/// What [`ResourceTypeDef::resolve`] found for an [`AttrPath`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The schema the attribute belongs to (the core schema for common
    /// attributes and `schemas`).
    pub schema: &'static SchemaDef,
    pub attribute: &'static AttributeDef,
    pub sub_attribute: Option<&'static AttributeDef>,
    /// True when the attribute lives in an extension and is therefore stored
    /// under the extension's URN key (RFC 7643 §3.3).
    pub extension: bool,
}

impl Resolved {
    /// The innermost definition: the sub-attribute when there is one.
    pub fn target(&self) -> &'static AttributeDef {
        self.sub_attribute.unwrap_or(self.attribute)
    }

    /// The path with every name in its schema spelling; core attributes come
    /// back without their URN, extension attributes with the schema URN.
    pub fn canonical_path(&self) -> AttrPath {
        AttrPath {
            urn: self.extension.then(|| self.schema.id.to_owned()),
            attr: self.attribute.name.to_owned(),
            sub_attr: self.sub_attribute.map(|s| s.name.to_owned()),
        }
    }
}

impl ResourceTypeDef {
    /// The core schema and the extensions, core first.
    pub fn schemas(&self) -> impl Iterator<Item = &'static SchemaDef> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().map(|e| e.schema))
    }

    /// The extension schema with this URN (case-insensitive), if any.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .map(|e| e.schema)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// True for the core schema URN of this resource type.
    pub fn is_core_urn(&self, urn: &str) -> bool {
        self.schema.id.eq_ignore_ascii_case(urn)
    }

    /// Looks up a top-level core attribute, a common attribute or `schemas`.
    pub fn core_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.schema
            .attribute(name)
            .or_else(|| find_attribute(COMMON_ATTRIBUTES, name))
            .or_else(|| {
                SCHEMAS_ATTRIBUTE
                    .name
                    .eq_ignore_ascii_case(name)
                    .then_some(&SCHEMAS_ATTRIBUTE)
            })
    }

    /// Resolves a path against this resource type. Unqualified names refer to
    /// the core schema and the common attributes (RFC 7644 §3.10); extension
    /// attributes must carry their URN. `None` means the path names no known
    /// attribute (which the PATCH engine and the write path treat as an
    /// attribute the gateway keeps but does not model).
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved> {
        let (schema, attribute, extension) = match path.urn.as_deref() {
            None => (self.schema, self.core_attribute(&path.attr)?, false),
            Some(urn) if self.is_core_urn(urn) => {
                (self.schema, self.core_attribute(&path.attr)?, false)
            }
            Some(urn) => {
                let schema = self.extension(urn)?;
                (schema, schema.attribute(&path.attr)?, true)
            }
        };
        let sub_attribute = match path.sub_attr.as_deref() {
            None => None,
            Some(sub) => Some(attribute.sub_attribute(sub)?),
        };
        Some(Resolved {
            schema,
            attribute,
            sub_attribute,
            extension,
        })
    }

    /// The RFC 7643 §6 representation served at `/ResourceTypes/{id}`.
    pub fn to_json(&self, base_url: &str) -> Value {
        let base = base_url.trim_end_matches('/');
        let extensions: Vec<Value> = self
            .extensions
            .iter()
            .map(|e| json!({ "schema": e.schema.id, "required": e.required }))
            .collect();
        let mut out = Map::new();
        out.insert("schemas".into(), json!([urn::RESOURCE_TYPE]));
        out.insert("id".into(), self.id.into());
        out.insert("name".into(), self.name.into());
        out.insert("endpoint".into(), self.endpoint.into());
        out.insert("description".into(), self.description.into());
        out.insert("schema".into(), self.schema.id.into());
        if !extensions.is_empty() {
            out.insert("schemaExtensions".into(), Value::Array(extensions));
        }
        out.insert(
            "meta".into(),
            json!({
                "resourceType": "ResourceType",
                "location": format!("{base}/ResourceTypes/{}", self.id),
            }),
        );
        Value::Object(out)
    }
}

/// Every schema served at `/Schemas`, in a stable order.
pub fn all_schemas() -> &'static [&'static SchemaDef] {
    &definitions::ALL_SCHEMAS
}

/// Every resource type served at `/ResourceTypes`.
pub fn all_resource_types() -> &'static [&'static ResourceTypeDef] {
    &definitions::ALL_RESOURCE_TYPES
}

/// A known schema by URN, case-insensitively.
pub fn schema_by_urn(urn: &str) -> Option<&'static SchemaDef> {
    all_schemas()
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// The RFC 7643 §7 representation served at `/Schemas/{urn}`.
pub fn schema_json(schema: &SchemaDef, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let attributes = schema.attributes.iter().map(AttributeDef::to_json);
    json!({
        "schemas": [urn::SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": Value::Array(attributes.collect()),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{}", schema.id),
        },
    })
}

/// The RFC 7643 §6 representation of a resource type.
pub fn resource_type_json(rt: &ResourceTypeDef, base_url: &str) -> Value {
    rt.to_json(base_url)
}

// ---------------------------------------------------------------------------
// Attribute paths.

/// A malformed attribute path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid attribute path {path:?}: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

impl PathError {
    fn new(path: &str, reason: impl Into<String>) -> Self {
        PathError {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// `attrPath = [URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.10), as written:
/// names keep the client's spelling until [`ResourceTypeDef::resolve`] maps
/// them onto the schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, if the client wrote one.
    pub urn: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// An unqualified path to a top-level attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }

    /// The same path with a sub-attribute.
    pub fn with_sub(mut self, sub_attr: impl Into<String>) -> Self {
        self.sub_attr = Some(sub_attr.into());
        self
    }

    /// The same path qualified by a schema URN.
    pub fn with_urn(mut self, urn: impl Into<String>) -> Self {
        self.urn = Some(urn.into());
        self
    }

    /// Parses `userName`, `name.givenName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
    ///
    /// A URN prefix is split at a known schema URN when it starts with one
    /// (case-insensitively); an unknown `urn:` prefix is split at the last `:`,
    /// since attribute names cannot contain one.
    pub fn parse(text: &str) -> Result<AttrPath, PathError> {
        if text.is_empty() {
            return Err(PathError::new(text, "empty path"));
        }
        let (urn, rest) = split_urn(text)?;
        let (attr, sub_attr) = match rest.split_once('.') {
            None => (rest, None),
            Some((attr, sub)) => (attr, Some(sub)),
        };
        check_name(text, attr)?;
        if let Some(sub) = sub_attr {
            if sub.contains('.') {
                return Err(PathError::new(
                    text,
                    "only one level of sub-attribute is allowed",
                ));
            }
            check_name(text, sub)?;
        }
        Ok(AttrPath {
            urn: urn.map(str::to_owned),
            attr: attr.to_owned(),
            sub_attr: sub_attr.map(str::to_owned),
        })
    }

    /// True when this path, read as a whole, is exactly `urn` (a bare schema
    /// URN parses as an unknown URN plus its last segment).
    pub fn is_schema_urn(&self, urn: &str) -> bool {
        self.sub_attr.is_none()
            && self.urn.as_deref().is_some_and(|prefix| {
                urn.len() == prefix.len() + 1 + self.attr.len()
                    && urn[..prefix.len()].eq_ignore_ascii_case(prefix)
                    && urn[prefix.len() + 1..].eq_ignore_ascii_case(&self.attr)
            })
    }
}

fn split_urn(text: &str) -> Result<(Option<&str>, &str), PathError> {
    let starts_with_urn = text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !starts_with_urn {
        return Ok((None, text));
    }
    for schema in all_schemas() {
        let n = schema.id.len();
        let prefix_matches = text
            .get(..n)
            .is_some_and(|p| p.eq_ignore_ascii_case(schema.id));
        if prefix_matches && text.as_bytes().get(n) == Some(&b':') {
            return Ok((Some(&text[..n]), &text[n + 1..]));
        }
    }
    match text.rfind(':') {
        Some(i) if i > 4 => Ok((Some(&text[..i]), &text[i + 1..])),
        _ => Err(PathError::new(
            text,
            "a URN prefix must be followed by ':' and an attribute name",
        )),
    }
}

/// `ATTRNAME = ALPHA *(nameChar)` (RFC 7643 §2.1), plus `$ref`, which RFC 7643
/// uses as a sub-attribute name.
fn check_name(path: &str, name: &str) -> Result<(), PathError> {
    if name == "$ref" {
        return Ok(());
    }
    let mut chars = name.chars();
    match chars.next() {
        None => Err(PathError::new(path, "missing attribute name")),
        Some(c) if !c.is_ascii_alphabetic() => Err(PathError::new(
            path,
            format!("attribute name {name:?} must start with a letter"),
        )),
        Some(_) => match chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            Some(bad) => Err(PathError::new(
                path,
                format!("attribute name {name:?} contains {bad:?}"),
            )),
            None => Ok(()),
        },
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_attr(name: &str) -> &'static AttributeDef {
        USER_SCHEMA.attribute(name).expect(name)
    }

    #[test]
    fn user_schema_has_every_rfc_7643_attribute() {
        let names: Vec<&str> = USER_SCHEMA.attributes.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates",
            ]
        );
    }

    #[test]
    fn user_name_is_required_case_insensitive_and_server_unique() {
        let a = user_attr("userName");
        assert!(a.required);
        assert!(!a.case_exact);
        assert_eq!(a.uniqueness, Uniqueness::Server);
        assert_eq!(a.mutability, Mutability::ReadWrite);
    }

    #[test]
    fn password_is_write_only_and_never_returned() {
        let a = user_attr("password");
        assert_eq!(a.mutability, Mutability::WriteOnly);
        assert_eq!(a.returned, Returned::Never);
    }

    #[test]
    fn groups_are_read_only_down_to_their_sub_attributes() {
        let a = user_attr("groups");
        assert!(a.multi_valued);
        assert_eq!(a.mutability, Mutability::ReadOnly);
        assert!(
            a.sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
    }

    #[test]
    fn multi_valued_user_attributes_carry_type_and_primary() {
        for name in ["emails", "phoneNumbers", "ims", "photos", "addresses"] {
            let a = user_attr(name);
            assert!(a.multi_valued, "{name}");
            assert_eq!(a.sub_attribute("type").unwrap().name, "type");
            assert_eq!(
                a.sub_attribute("primary").unwrap().ty,
                AttrType::Boolean,
                "{name}"
            );
        }
        assert_eq!(
            user_attr("emails")
                .sub_attribute("type")
                .unwrap()
                .canonical_values,
            ["work", "home", "other"]
        );
    }

    #[test]
    fn common_attributes_have_their_rfc_characteristics() {
        let id = USER.core_attribute("ID").unwrap();
        assert_eq!(id.name, "id");
        assert!(id.case_exact);
        assert_eq!(id.returned, Returned::Always);
        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert!(USER.core_attribute("externalId").unwrap().case_exact);
        let meta = USER.core_attribute("meta").unwrap();
        assert_eq!(meta.mutability, Mutability::ReadOnly);
        assert_eq!(
            meta.sub_attribute("lastmodified").unwrap().ty,
            AttrType::DateTime
        );
    }

    #[test]
    fn group_members_have_value_ref_and_type_as_rfc_7643_section_8_7_1() {
        // No `display`: the server could only invent it, and clients compare
        // members with what they wrote.
        let members = GROUP_SCHEMA.attribute("members").unwrap();
        let subs: Vec<&str> = members.sub_attributes.iter().map(|a| a.name).collect();
        assert_eq!(subs, ["value", "$ref", "type"]);
        assert!(GROUP_SCHEMA.attribute("displayName").unwrap().required);
    }

    #[test]
    fn enterprise_manager_is_complex_with_read_only_display_name() {
        let m = ENTERPRISE_USER_SCHEMA.attribute("manager").unwrap();
        assert!(m.is_complex());
        assert_eq!(
            m.sub_attribute("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(m.sub_attribute("$ref").unwrap().reference_types, ["User"]);
    }

    #[test]
    fn rollcall_extension_declares_role_and_workspaces() {
        let s = &ROLLCALL_USER_SCHEMA;
        assert_eq!(s.id, urn::ROLLCALL_USER);
        assert!(!s.attribute("role").unwrap().multi_valued);
        assert!(s.attribute("workspaces").unwrap().multi_valued);
        assert_eq!(s.attribute("homeworkspace").unwrap().name, "homeWorkspace");
    }

    #[test]
    fn parses_plain_dotted_and_urn_qualified_paths() {
        assert_eq!(
            AttrPath::parse("userName").unwrap(),
            AttrPath::new("userName")
        );
        assert_eq!(
            AttrPath::parse("name.givenName").unwrap(),
            AttrPath::new("name").with_sub("givenName")
        );
        assert_eq!(
            AttrPath::parse(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            )
            .unwrap(),
            AttrPath::new("employeeNumber").with_urn(urn::ENTERPRISE_USER)
        );
        assert_eq!(
            AttrPath::parse(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            )
            .unwrap(),
            AttrPath::new("manager")
                .with_sub("value")
                .with_urn(urn::ENTERPRISE_USER)
        );
        assert_eq!(
            AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap(),
            AttrPath::new("userName").with_urn(urn::USER)
        );
        assert_eq!(
            AttrPath::parse("members.$ref").unwrap(),
            AttrPath::new("members").with_sub("$ref")
        );
    }

    #[test]
    fn known_urn_prefixes_split_case_insensitively() {
        let p = AttrPath::parse(
            "URN:IETF:params:scim:schemas:extension:Enterprise:2.0:User:department",
        )
        .unwrap();
        assert_eq!(
            p.urn.as_deref(),
            Some("URN:IETF:params:scim:schemas:extension:Enterprise:2.0:User")
        );
        assert_eq!(p.attr, "department");
        let r = USER.resolve(&p).unwrap();
        assert_eq!(
            r.canonical_path().to_string(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        );
    }

    #[test]
    fn unknown_urn_prefixes_split_at_the_last_colon() {
        let p = AttrPath::parse("urn:example:custom:1.0:Thing:badge.color").unwrap();
        assert_eq!(p.urn.as_deref(), Some("urn:example:custom:1.0:Thing"));
        assert_eq!(p.attr, "badge");
        assert_eq!(p.sub_attr.as_deref(), Some("color"));
        assert_eq!(USER.resolve(&p), None);
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        for (text, reason) in [
            ("", "empty path"),
            ("1abc", "must start with a letter"),
            ("name.given.x", "only one level"),
            ("name.", "missing attribute name"),
            ("user name", "contains ' '"),
            ("urn:", "URN prefix"),
            ("emails[type eq \"work\"]", "contains '['"),
        ] {
            let err = AttrPath::parse(text).unwrap_err();
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "userName",
            "name.familyName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:example:x:attr",
        ] {
            assert_eq!(AttrPath::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn resolution_is_case_insensitive_and_canonicalises() {
        let r = USER
            .resolve(&AttrPath::parse("NAME.GIVENNAME").unwrap())
            .unwrap();
        assert_eq!(r.attribute.name, "name");
        assert_eq!(r.target().name, "givenName");
        assert!(!r.extension);
        assert_eq!(
            r.canonical_path(),
            AttrPath::new("name").with_sub("givenName")
        );

        let r = USER
            .resolve(
                &AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:UserName").unwrap(),
            )
            .unwrap();
        assert_eq!(r.canonical_path(), AttrPath::new("userName"));
    }

    #[test]
    fn extension_attributes_need_their_urn() {
        assert!(USER.resolve(&AttrPath::new("employeeNumber")).is_none());
        let r = USER
            .resolve(&AttrPath::new("employeeNumber").with_urn(urn::ENTERPRISE_USER))
            .unwrap();
        assert!(r.extension);
        assert_eq!(r.schema.id, urn::ENTERPRISE_USER);
        // Groups have no extensions.
        assert!(
            GROUP
                .resolve(&AttrPath::new("employeeNumber").with_urn(urn::ENTERPRISE_USER))
                .is_none()
        );
    }

    #[test]
    fn unknown_sub_attributes_and_sub_attributes_of_simple_attributes_do_not_resolve() {
        assert!(
            USER.resolve(&AttrPath::parse("name.nickname").unwrap())
                .is_none()
        );
        assert!(
            USER.resolve(&AttrPath::parse("userName.value").unwrap())
                .is_none()
        );
        assert!(USER.resolve(&AttrPath::new("schemas")).is_some());
    }

    #[test]
    fn bare_schema_urns_are_recognised() {
        let p = AttrPath::parse(urn::ENTERPRISE_USER).unwrap();
        assert!(p.is_schema_urn(urn::ENTERPRISE_USER));
        assert!(!AttrPath::new("User").is_schema_urn(urn::ENTERPRISE_USER));
    }

    #[test]
    fn schema_json_follows_rfc_7643_section_7() {
        let v = schema_json(&ENTERPRISE_USER_SCHEMA, "https://rc.example/scim/v2/");
        assert_eq!(v["schemas"], json!([urn::SCHEMA]));
        assert_eq!(v["id"], urn::ENTERPRISE_USER);
        assert_eq!(v["meta"]["resourceType"], "Schema");
        assert_eq!(
            v["meta"]["location"],
            format!(
                "https://rc.example/scim/v2/Schemas/{}",
                urn::ENTERPRISE_USER
            )
        );
        let manager = v["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "manager")
            .unwrap();
        assert_eq!(manager["type"], "complex");
        assert_eq!(manager["subAttributes"][1]["name"], "$ref");
        assert_eq!(
            manager["subAttributes"][1]["referenceTypes"],
            json!(["User"])
        );
        assert_eq!(manager["subAttributes"][2]["mutability"], "readOnly");
    }

    #[test]
    fn schema_json_carries_canonical_values_and_never_returned_password() {
        let v = schema_json(&USER_SCHEMA, "https://rc.example/scim/v2");
        let attrs = v["attributes"].as_array().unwrap();
        let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
        assert_eq!(password["returned"], "never");
        assert_eq!(password["mutability"], "writeOnly");
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(
            emails["subAttributes"][2]["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert!(
            attrs
                .iter()
                .all(|a| a.get("subAttributes").is_none() || a["type"] == "complex")
        );
    }

    #[test]
    fn resource_type_json_follows_rfc_7643_section_6() {
        let v = resource_type_json(&USER, "https://rc.example/scim/v2");
        assert_eq!(
            v,
            json!({
                "schemas": [urn::RESOURCE_TYPE],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": urn::USER,
                "schemaExtensions": [
                    {"schema": urn::ENTERPRISE_USER, "required": false},
                    {"schema": urn::ROLLCALL_USER, "required": false},
                ],
                "meta": {
                    "resourceType": "ResourceType",
                    "location": "https://rc.example/scim/v2/ResourceTypes/User",
                },
            })
        );
        let g = resource_type_json(&GROUP, "https://rc.example/scim/v2");
        assert_eq!(g["endpoint"], "/Groups");
        assert!(g.get("schemaExtensions").is_none());
    }

    #[test]
    fn accessors_list_everything_once() {
        let ids: Vec<&str> = all_schemas().iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                urn::USER,
                urn::GROUP,
                urn::ENTERPRISE_USER,
                urn::ROLLCALL_USER
            ]
        );
        let rts: Vec<&str> = all_resource_types().iter().map(|r| r.id).collect();
        assert_eq!(rts, ["User", "Group"]);
        assert_eq!(
            schema_by_urn("URN:ietf:params:scim:schemas:core:2.0:group")
                .unwrap()
                .name,
            "Group"
        );
    }
}
