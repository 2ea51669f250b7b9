//! Write-side normalisation of POST/PUT bodies and read-side projection of
//! stored resources.
//!
//! [`normalize_for_write`] turns a client's User or Group into the document
//! the store keeps (RFC 7644 §3.3 create, §3.5.1 replace): schema URNs
//! checked, attribute names in schema spelling, values type-checked against
//! RFC 7643 (with the `"True"`/`"False"` and bare-manager-id quirks undone),
//! read-only attributes dropped as §3.3 requires, the write-only `password`
//! dropped and reported, Group `members` handed back separately (the store
//! keeps membership as rows), and attributes of no schema kept as received.
//!
//! [`project`] applies `attributes` / `excludedAttributes` (RFC 7644
//! §3.4.2.5, §3.9) and the `returned` characteristic (RFC 7643 §7) to a
//! stored document before it is sent.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{
    AttrPath, AttributeDef, GROUP_SCHEMA, Mutability, PathError, ResourceTypeDef, Returned,
    SchemaDef,
};
use super::value::{
    check_limits, coerce, dedupe_items, is_unassigned, map_get_ci, member_ids, set_ci, sync_schemas,
};

/// Normalisation failures carry the RFC 7644 §3.12 keyword the response needs.
pub type ResourceError = ScimError;

/// A resource ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The document to store: `schemas` first, core attributes at the top
    /// level, extension attributes under their URN.
    pub doc: Value,
    /// Group member ids when the body had `members` (`Some(vec![])` for an
    /// empty or null list), `None` when it did not mention them.
    pub members: Option<Vec<String>>,
    /// The body carried a non-empty `password`, which was not kept.
    pub password_supplied: bool,
}

/// Validates and canonicalises a POST or PUT body for resource type `rt`.
pub fn normalize_for_write(
    input: Value,
    rt: &ResourceTypeDef,
) -> Result<Normalized, ResourceError> {
    let Value::Object(input) = input else {
        return Err(ScimError::invalid_syntax(
            "a resource must be a JSON object",
        ));
    };
    check_schemas(&input, rt)?;
    let mut writer = Writer {
        rt,
        doc: Map::new(),
        extensions: Vec::new(),
        members: None,
        password_supplied: false,
    };
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // An object of a schema's attributes, keyed by its URN.
        if let Some(schema) = rt.schemas().find(|s| s.id.eq_ignore_ascii_case(&key)) {
            match value {
                Value::Object(fields) => {
                    for (name, v) in fields {
                        writer.attribute(schema, &name, v)?;
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(ScimError::invalid_syntax(format!(
                        "{} must be an object of its attributes",
                        schema.id
                    )));
                }
            }
            continue;
        }
        if is_urn(&key) {
            // A URN-qualified attribute of one of our schemas, or else the
            // object of an extension we keep without modelling.
            let qualified = AttrPath::parse(&key).ok().and_then(|path| {
                let schema = rt.schemas().find(|s| {
                    path.urn
                        .as_deref()
                        .is_some_and(|u| s.id.eq_ignore_ascii_case(u))
                })?;
                path.sub_attr.is_none().then_some((schema, path.attr))
            });
            match qualified {
                Some((schema, name)) => writer.attribute(schema, &name, value)?,
                None => {
                    if !value.is_null() {
                        writer.doc.insert(key, value);
                    }
                }
            }
            continue;
        }
        writer.attribute(rt.schema, &key, value)?;
    }
    let Writer {
        mut doc,
        extensions,
        members,
        password_supplied,
        ..
    } = writer;
    for (schema, fields) in extensions {
        if !fields.is_empty() {
            doc.insert(schema.id.to_owned(), Value::Object(fields));
        }
    }
    check_required(&doc, rt)?;
    check_limits(&doc, rt)?;
    sync_schemas(&mut doc, rt);
    Ok(Normalized {
        doc: Value::Object(doc),
        members,
        password_supplied,
    })
}

fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// `schemas` must list the core schema (RFC 7643 §3). Extensions present but
/// not listed are tolerated: `schemas` is rewritten from the content.
fn check_schemas(input: &Map<String, Value>, rt: &ResourceTypeDef) -> Result<(), ScimError> {
    let missing =
        || ScimError::invalid_syntax(format!("schemas must be an array listing {}", rt.schema.id));
    let Some(Value::Array(listed)) = map_get_ci(input, "schemas") else {
        return Err(missing());
    };
    let mut found = false;
    for item in listed {
        let Some(urn) = item.as_str() else {
            return Err(ScimError::invalid_syntax(
                "schemas must be an array of strings",
            ));
        };
        found |= rt.is_core_urn(urn);
    }
    if found { Ok(()) } else { Err(missing()) }
}

fn check_required(doc: &Map<String, Value>, rt: &ResourceTypeDef) -> Result<(), ScimError> {
    for attr in rt.schema.attributes.iter().filter(|a| a.required) {
        if map_get_ci(doc, attr.name).is_none_or(is_unassigned) {
            return Err(ScimError::invalid_value(format!(
                "{} is required and must not be empty",
                attr.name
            )));
        }
    }
    for ext in rt.extensions {
        let container = map_get_ci(doc, ext.schema.id);
        for attr in ext.schema.attributes.iter().filter(|a| a.required) {
            let value = container.and_then(|c| c.get(attr.name));
            if container.is_some() && value.is_none_or(is_unassigned) {
                return Err(ScimError::invalid_value(format!(
                    "{}:{} is required",
                    ext.schema.id, attr.name
                )));
            }
        }
    }
    Ok(())
}

struct Writer<'a> {
    rt: &'a ResourceTypeDef,
    doc: Map<String, Value>,
    /// Attributes of each extension, stored under its URN at the end.
    extensions: Vec<(&'static SchemaDef, Map<String, Value>)>,
    members: Option<Vec<String>>,
    password_supplied: bool,
}

impl Writer<'_> {
    fn attribute(
        &mut self,
        schema: &'static SchemaDef,
        name: &str,
        value: Value,
    ) -> Result<(), ScimError> {
        let is_core = std::ptr::eq(schema, self.rt.schema);
        let def = if is_core {
            self.rt.core_attribute(name)
        } else {
            schema.attribute(name)
        };
        let Some(def) = def else {
            // An attribute of no schema: kept as received.
            if !value.is_null() {
                self.container(schema, is_core)
                    .insert(name.to_owned(), value);
            }
            return Ok(());
        };
        if is_core && std::ptr::eq(self.rt.schema, &GROUP_SCHEMA) && def.name == "members" {
            self.members = Some(match value {
                Value::Null => Vec::new(),
                v => member_ids(&v)?,
            });
            return Ok(());
        }
        if def.name == "schemas" && is_core {
            return Ok(());
        }
        let label = if is_core {
            def.name.to_owned()
        } else {
            format!("{}:{}", schema.id, def.name)
        };
        match def.mutability {
            // RFC 7644 §3.3: read-only values in a request are ignored.
            Mutability::ReadOnly => Ok(()),
            Mutability::WriteOnly => {
                let value = coerce(def, value, &label)?;
                self.password_supplied |= !is_unassigned(&value);
                Ok(())
            }
            Mutability::ReadWrite | Mutability::Immutable => {
                let value = dedupe(def, coerce(def, value, &label)?);
                if !is_unassigned(&value) {
                    set_ci(self.container(schema, is_core), def.name, value);
                }
                Ok(())
            }
        }
    }

    fn container(&mut self, schema: &'static SchemaDef, is_core: bool) -> &mut Map<String, Value> {
        if is_core {
            return &mut self.doc;
        }
        let index = match self
            .extensions
            .iter()
            .position(|(id, _)| std::ptr::eq(*id, schema))
        {
            Some(index) => index,
            None => {
                self.extensions.push((schema, Map::new()));
                self.extensions.len() - 1
            }
        };
        &mut self.extensions[index].1
    }
}

/// Drops repeated values of a multi-valued attribute (the first one wins).
fn dedupe(def: &AttributeDef, value: Value) -> Value {
    match value {
        Value::Array(items) if def.multi_valued => Value::Array(dedupe_items(Some(def), items)),
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Projection.

/// Parses the comma-separated `attributes` / `excludedAttributes` query
/// parameter (RFC 7644 §3.4.2.5). Blank entries are skipped.
pub fn parse_attribute_list(text: &str) -> Result<Vec<AttrPath>, PathError> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(AttrPath::parse)
        .collect()
}

/// Which parts of an attribute to return.
#[derive(Debug, Clone, PartialEq)]
enum Pick {
    Nothing,
    All,
    AllExcept(Vec<String>),
    Only(Vec<String>),
}

impl Pick {
    fn without(self, sub: &str) -> Pick {
        match self {
            Pick::Nothing => Pick::Nothing,
            Pick::All => Pick::AllExcept(vec![sub.to_owned()]),
            Pick::AllExcept(mut subs) => {
                subs.push(sub.to_owned());
                Pick::AllExcept(subs)
            }
            Pick::Only(subs) => Pick::Only(
                subs.into_iter()
                    .filter(|s| !s.eq_ignore_ascii_case(sub))
                    .collect(),
            ),
        }
    }

    fn keeps_sub(&self, name: &str, returned: Returned) -> bool {
        let listed = |subs: &[String]| subs.iter().any(|s| s.eq_ignore_ascii_case(name));
        match returned {
            Returned::Never => false,
            Returned::Always => true,
            Returned::Default | Returned::Request => match self {
                Pick::Nothing => false,
                Pick::All => returned == Returned::Default,
                Pick::AllExcept(subs) => returned == Returned::Default && !listed(subs),
                Pick::Only(subs) => listed(subs),
            },
        }
    }
}

/// Applies `attributes` and `excludedAttributes` to a stored resource
/// (RFC 7644 §3.4.2.5, §3.9):
/// - `returned: always` attributes (`id`, and `schemas`) are always kept and
///   `returned: never` ones (`password`) never;
/// - with `attributes`, only the listed attributes (and sub-attributes, e.g.
///   `name.givenName`, `emails.value`) are returned, plus `always` ones;
///   `returned: request` attributes only come back when listed;
/// - `excluded` removes attributes or sub-attributes, except `always` ones;
/// - names may be URN-qualified; a bare extension URN stands for the whole
///   extension.
pub fn project(
    resource: &Value,
    rt: &ResourceTypeDef,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Some(doc) = resource.as_object() else {
        return resource.clone();
    };
    let projector = Projector {
        rt,
        attributes,
        excluded,
    };
    let mut out = Map::new();
    for (key, value) in doc {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let extension = rt.extension(key);
        let is_container = extension.is_some() || (is_urn(key) && value.is_object());
        if is_container {
            let lookup = |name: &str| extension.and_then(|s| s.attribute(name));
            if let Some(projected) = projector.container(key, value, lookup) {
                out.insert(key.clone(), projected);
            }
            continue;
        }
        let def = rt.core_attribute(key);
        let pick = projector.decide(def, None, key, attributes);
        if let Some(projected) = pick_value(value, def, &pick) {
            out.insert(key.clone(), projected);
        }
    }
    Value::Object(out)
}

struct Projector<'a> {
    rt: &'a ResourceTypeDef,
    attributes: &'a [AttrPath],
    excluded: &'a [AttrPath],
}

impl Projector<'_> {
    /// Whether `path` names attribute `name` of the schema `scope` (`None`
    /// for the core schema).
    fn targets(&self, path: &AttrPath, scope: Option<&str>, name: &str) -> bool {
        let urn_matches = match (path.urn.as_deref(), scope) {
            (None, None) => true,
            (Some(u), None) => self.rt.is_core_urn(u),
            (Some(u), Some(s)) => u.eq_ignore_ascii_case(s),
            (None, Some(_)) => false,
        };
        urn_matches && path.attr.eq_ignore_ascii_case(name)
    }

    fn decide(
        &self,
        def: Option<&AttributeDef>,
        scope: Option<&str>,
        name: &str,
        attributes: &[AttrPath],
    ) -> Pick {
        let returned = def.map_or(Returned::Default, |d| d.returned);
        match returned {
            Returned::Never => return Pick::Nothing,
            Returned::Always => return Pick::All,
            Returned::Default | Returned::Request => {}
        }
        let mut pick = if attributes.is_empty() {
            if returned == Returned::Request {
                Pick::Nothing
            } else {
                Pick::All
            }
        } else {
            let mut whole = false;
            let mut subs = Vec::new();
            for path in attributes.iter().filter(|p| self.targets(p, scope, name)) {
                match &path.sub_attr {
                    None => whole = true,
                    Some(sub) => subs.push(sub.clone()),
                }
            }
            if whole {
                Pick::All
            } else if subs.is_empty() {
                Pick::Nothing
            } else {
                Pick::Only(subs)
            }
        };
        for path in self
            .excluded
            .iter()
            .filter(|p| self.targets(p, scope, name))
        {
            match &path.sub_attr {
                None => return Pick::Nothing,
                Some(sub) => pick = pick.without(sub),
            }
        }
        pick
    }

    /// An extension object, projected attribute by attribute.
    fn container(
        &self,
        urn: &str,
        value: &Value,
        lookup: impl Fn(&str) -> Option<&'static AttributeDef>,
    ) -> Option<Value> {
        if self.excluded.iter().any(|p| p.is_schema_urn(urn)) {
            return None;
        }
        let whole = self.attributes.iter().any(|p| p.is_schema_urn(urn));
        let attributes: &[AttrPath] = if whole { &[] } else { self.attributes };
        let fields = value.as_object()?;
        let mut out = Map::new();
        for (name, v) in fields {
            let def = lookup(name);
            let pick = self.decide(def, Some(urn), name, attributes);
            if let Some(projected) = pick_value(v, def, &pick) {
                out.insert(name.clone(), projected);
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

/// The part of `value` that `pick` keeps, `None` for nothing.
fn pick_value(value: &Value, def: Option<&AttributeDef>, pick: &Pick) -> Option<Value> {
    if *pick == Pick::Nothing {
        return None;
    }
    let keep_object = |object: &Map<String, Value>| -> Map<String, Value> {
        object
            .iter()
            .filter(|(k, _)| {
                let returned = def
                    .and_then(|d| d.sub_attribute(k))
                    .map_or(Returned::Default, |s| s.returned);
                pick.keeps_sub(k, returned)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    match value {
        Value::Object(object) => {
            let kept = keep_object(object);
            (!kept.is_empty() || object.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(object) => {
                        let kept = keep_object(object);
                        (!kept.is_empty()).then_some(Value::Object(kept))
                    }
                    // The values of a simple multi-valued attribute are its
                    // `value` sub-attribute.
                    simple => pick
                        .keeps_sub("value", Returned::Default)
                        .then(|| simple.clone()),
                })
                .collect();
            (!kept.is_empty() || items.is_empty()).then_some(Value::Array(kept))
        }
        simple => match pick {
            Pick::Only(_) => None,
            _ => Some(simple.clone()),
        },
    }
}

#[cfg(test)]
mod tests;
