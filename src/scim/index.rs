//! Which stored column or indexed value answers a SCIM attribute, and which
//! values of a User are indexed for filtering (RFC 7644 §3.4.2.2).
//!
//! Single-valued core attributes the gateway models are columns of `users`
//! and `groups`. Every other attribute a filter may name is answered by the
//! `scim_values` side table: one row per value of the multi-valued attributes
//! that carry a `value` (emails, phoneNumbers, ims, photos, entitlements,
//! roles, x509Certificates), plus the single-valued string attributes that
//! are not columns (title, nickName, name.middleName, …) and the enterprise
//! extension's. A filter on anything else (addresses, sub-attributes other
//! than value/type/primary) cannot be answered exactly and is refused with
//! `invalidFilter` rather than silently matching nothing.

use serde_json::Value;

use super::schema::{self, AttrPath};

/// A value indexed for filtering.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexedValue {
    /// The attribute: `emails`, `title`, `name.middleName`,
    /// `urn:…:enterprise:2.0:User:employeeNumber`, `urn:…:User:manager`.
    pub attr: String,
    pub value_type: Option<String>,
    pub value: String,
    pub primary: bool,
}

/// Multi-valued User attributes whose elements carry a `value`.
pub const MULTI_VALUED: [&str; 7] = [
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "entitlements",
    "roles",
    "x509Certificates",
];

/// Single-valued core User strings that are not columns.
const CORE_SCALARS: [&str; 7] = [
    "title",
    "nickName",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "profileUrl",
];

/// `name` sub-attributes that are not columns.
const NAME_SCALARS: [&str; 4] = [
    "formatted",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];

/// Enterprise extension strings (manager is indexed by its `value`).
const ENTERPRISE_SCALARS: [&str; 5] = [
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
];

fn enterprise_attr(name: &str) -> String {
    format!("{}:{name}", schema::urn::ENTERPRISE_USER)
}

/// The values of a (normalised) User document that filters can reach.
pub fn user_values(doc: &Value) -> Vec<IndexedValue> {
    let mut out = Vec::new();
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    for attr in MULTI_VALUED {
        if let Some(items) = doc.get(attr).and_then(Value::as_array) {
            for item in items {
                let Some(value) = item.get("value").and_then(text) else {
                    continue;
                };
                out.push(IndexedValue {
                    attr: attr.to_owned(),
                    value_type: item.get("type").and_then(Value::as_str).map(str::to_owned),
                    value,
                    primary: item
                        .get("primary")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                });
            }
        }
    }
    let scalar = |attr: String, v: Option<&Value>, out: &mut Vec<IndexedValue>| {
        if let Some(value) = v.and_then(text) {
            out.push(IndexedValue {
                attr,
                value_type: None,
                value,
                primary: false,
            });
        }
    };
    for attr in CORE_SCALARS {
        scalar(attr.to_owned(), doc.get(attr), &mut out);
    }
    if let Some(name) = doc.get("name") {
        for sub in NAME_SCALARS {
            scalar(format!("name.{sub}"), name.get(sub), &mut out);
        }
    }
    if let Some(ent) = doc.get(schema::urn::ENTERPRISE_USER) {
        for sub in ENTERPRISE_SCALARS {
            scalar(enterprise_attr(sub), ent.get(sub), &mut out);
        }
        scalar(
            enterprise_attr("manager"),
            ent.get("manager").and_then(|m| m.get("value")),
            &mut out,
        );
    }
    out.sort();
    out.dedup();
    out
}

/// A User column a filter or sort can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserColumn {
    Id,
    UserName,
    ExternalId,
    DisplayName,
    GivenName,
    FamilyName,
    /// The primary email (also a column, for org-wide uniqueness).
    Email,
    Active,
    Created,
    Modified,
}

/// Which part of an indexed value a comparison reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuePart {
    Value,
    Type,
    Primary,
}

/// Where the answer for a filter attribute lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserTarget {
    Column(UserColumn),
    Value {
        attr: String,
        part: ValuePart,
        case_exact: bool,
    },
    /// `groups` / `groups.value`: membership in a group of this directory.
    Group,
}

/// A Group column or membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupTarget {
    Id,
    DisplayName,
    ExternalId,
    Created,
    Modified,
    /// `members` / `members.value`: a member's user id.
    Member,
}

/// Why an attribute cannot be filtered on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

fn unsupported(path: &AttrPath) -> Unsupported {
    Unsupported(format!(
        "filtering on `{path}` is not supported by this server"
    ))
}

/// The storage target of a User attribute path (a sub-attribute of a value
/// path arrives as `parent` + `sub`).
pub fn user_target(path: &AttrPath) -> Result<UserTarget, Unsupported> {
    let resolved = schema::USER
        .resolve(path)
        .ok_or_else(|| unsupported(path))?;
    let canonical = resolved.canonical_path();
    let attr = canonical.attr.as_str();
    let sub = canonical.sub_attr.as_deref();
    let case_exact = resolved.target().case_exact;
    if resolved.extension {
        if resolved.schema.id == schema::urn::ENTERPRISE_USER {
            return match (attr, sub) {
                ("manager", None | Some("value")) => Ok(UserTarget::Value {
                    attr: enterprise_attr("manager"),
                    part: ValuePart::Value,
                    case_exact,
                }),
                (a, None) if ENTERPRISE_SCALARS.contains(&a) => Ok(UserTarget::Value {
                    attr: enterprise_attr(a),
                    part: ValuePart::Value,
                    case_exact,
                }),
                _ => Err(unsupported(path)),
            };
        }
        return Err(unsupported(path));
    }
    let column = |c| Ok(UserTarget::Column(c));
    match (attr, sub) {
        ("id", None) => column(UserColumn::Id),
        ("userName", None) => column(UserColumn::UserName),
        ("externalId", None) => column(UserColumn::ExternalId),
        ("displayName", None) => column(UserColumn::DisplayName),
        ("name", Some("givenName")) => column(UserColumn::GivenName),
        ("name", Some("familyName")) => column(UserColumn::FamilyName),
        ("active", None) => column(UserColumn::Active),
        ("meta", Some("created")) => column(UserColumn::Created),
        ("meta", Some("lastModified")) => column(UserColumn::Modified),
        ("groups", None | Some("value")) => Ok(UserTarget::Group),
        ("name", Some(s)) if NAME_SCALARS.contains(&s) => Ok(UserTarget::Value {
            attr: format!("name.{s}"),
            part: ValuePart::Value,
            case_exact,
        }),
        (a, None) if CORE_SCALARS.contains(&a) => Ok(UserTarget::Value {
            attr: a.to_owned(),
            part: ValuePart::Value,
            case_exact,
        }),
        (a, sub) if MULTI_VALUED.contains(&a) => {
            let part = match sub {
                None | Some("value") => ValuePart::Value,
                Some("type") => ValuePart::Type,
                Some("primary") => ValuePart::Primary,
                Some(_) => return Err(unsupported(path)),
            };
            Ok(UserTarget::Value {
                attr: a.to_owned(),
                part,
                case_exact,
            })
        }
        _ => Err(unsupported(path)),
    }
}

/// The storage target of a Group attribute path.
pub fn group_target(path: &AttrPath) -> Result<GroupTarget, Unsupported> {
    let resolved = schema::GROUP
        .resolve(path)
        .ok_or_else(|| unsupported(path))?;
    let canonical = resolved.canonical_path();
    match (canonical.attr.as_str(), canonical.sub_attr.as_deref()) {
        ("id", None) => Ok(GroupTarget::Id),
        ("displayName", None) => Ok(GroupTarget::DisplayName),
        ("externalId", None) => Ok(GroupTarget::ExternalId),
        ("meta", Some("created")) => Ok(GroupTarget::Created),
        ("meta", Some("lastModified")) => Ok(GroupTarget::Modified),
        ("members", None | Some("value")) => Ok(GroupTarget::Member),
        _ => Err(unsupported(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indexes_multi_valued_and_extension_values() {
        let doc = json!({
            "userName": "a",
            "title": "Engineer",
            "name": {"givenName": "A", "middleName": "Q"},
            "emails": [{"value": "a@x.io", "type": "work", "primary": true}, {"value": "a@home.io", "type": "home"}],
            "addresses": [{"type": "work", "locality": "Oslo"}],
            schema::urn::ENTERPRISE_USER: {"employeeNumber": "42", "manager": {"value": "m-1"}}
        });
        let values = user_values(&doc);
        let attrs: Vec<(&str, &str)> = values
            .iter()
            .map(|v| (v.attr.as_str(), v.value.as_str()))
            .collect();
        assert!(attrs.contains(&("emails", "a@x.io")));
        assert!(attrs.contains(&("emails", "a@home.io")));
        assert!(attrs.contains(&("title", "Engineer")));
        assert!(attrs.contains(&("name.middleName", "Q")));
        assert!(attrs.contains(&(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "42"
        )));
        assert!(attrs.contains(&(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "m-1"
        )));
        assert!(
            !attrs.iter().any(|(a, _)| a.starts_with("addresses")),
            "addresses are not indexed"
        );
        let work = values.iter().find(|v| v.value == "a@x.io").unwrap();
        assert!(work.primary);
        assert_eq!(work.value_type.as_deref(), Some("work"));
    }

    #[test]
    fn targets() {
        let p = |s: &str| AttrPath::parse(s).unwrap();
        assert_eq!(
            user_target(&p("UserName")),
            Ok(UserTarget::Column(UserColumn::UserName))
        );
        assert_eq!(
            user_target(&p("urn:ietf:params:scim:schemas:core:2.0:User:userName")),
            Ok(UserTarget::Column(UserColumn::UserName))
        );
        assert!(matches!(
            user_target(&p("emails.type")),
            Ok(UserTarget::Value {
                part: ValuePart::Type,
                ..
            })
        ));
        assert!(matches!(
            user_target(&p(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            )),
            Ok(UserTarget::Value { .. })
        ));
        assert!(user_target(&p("addresses.locality")).is_err());
        assert!(user_target(&p("emails.display")).is_err());
        assert!(user_target(&p("nosuch")).is_err());
        assert_eq!(
            group_target(&p("displayName")),
            Ok(GroupTarget::DisplayName)
        );
        assert_eq!(group_target(&p("members.value")), Ok(GroupTarget::Member));
        assert!(group_target(&p("members.display")).is_err());
    }
}
