//! SCIM PATCH (RFC 7644 §3.5.2): request parsing and the engine that applies
//! operations to a stored resource document.
//!
//! The engine implements `add`, `remove` and `replace` (§3.5.2.1–3) with and
//! without `path`, value filters, sub-attributes, de-duplication of
//! multi-valued attributes, complex merges and `primary` uniqueness, plus the
//! dialects Okta and Microsoft Entra ID send:
//!
//! - operation names in any case (`"Replace"`);
//! - booleans sent as `"True"`/`"False"` strings;
//! - pathless `add`/`replace` whose value object has keys that are paths
//!   (`"name.givenName"`, URN-qualified extension attributes, even value
//!   paths) — Entra with `aadOptscim062020`;
//! - `id` repeated unchanged in a pathless value (Okta group rename);
//! - `manager` given as a bare id string (becomes `{"value": id}`);
//! - `add`/`replace` through an `eq`-only value filter that matches nothing
//!   creates the value the filter describes (`emails[type eq "work"].value`);
//! - `remove` of `members` with a value list of the members to remove.
//!
//! Group membership is not applied to the document: the store keeps members
//! as rows, so a group's document never holds `members`, and operations on
//! `members` come back as [`MemberChanges`]. `password` (writeOnly) is never
//! stored; its presence is reported through [`PatchOutcome::password_supplied`].
//!
//! Application is atomic: the engine works on a copy and writes it back only
//! when every operation succeeded.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{
    self, CompValue, CompareOp, Filter, PathSyntaxError, element_matches, validate_element_filter,
};
use super::schema::{
    AttrPath, AttrType, AttributeDef, GROUP_SCHEMA, Mutability, ResourceTypeDef, SchemaDef, urn,
};
use super::value::{
    ElementKey, check_limits, coerce, coerce_single, element_key, enforce_single_primary, entry_ci,
    get_ci, has_primary, is_unassigned, key_ci, map_get_ci, member_ids, merge_into, remove_ci,
    set_ci, sync_schemas,
};

/// PATCH failures carry the RFC 7644 §3.12 keyword the response needs.
pub type PatchError = ScimError;

/// The `op` of an operation; matched case-insensitively on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

impl PatchOp {
    pub const fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Remove => "remove",
            PatchOp::Replace => "replace",
        }
    }
}

impl fmt::Display for PatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `PATH = attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute; carries the sub-attribute when there is no filter
    /// (`name.givenName`).
    pub attr: AttrPath,
    /// The value filter of a value path (`emails[type eq "work"]`).
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[…].value`).
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// Parses a path; a malformed attribute is `invalidPath`, a malformed
    /// bracketed filter `invalidFilter`.
    pub fn parse(text: &str) -> Result<PatchPath, PatchError> {
        let text = text.trim();
        match filter::parse_patch_path(text) {
            Ok((attr, None)) => Ok(PatchPath {
                attr,
                filter: None,
                sub_attr: None,
            }),
            Ok((attr, Some(selector))) => Ok(PatchPath {
                attr,
                filter: Some(selector.filter),
                sub_attr: selector.sub_attr,
            }),
            Err(PathSyntaxError::Path(detail)) => Err(ScimError::invalid_path(detail)),
            Err(PathSyntaxError::Filter(e)) => {
                Err(ScimError::invalid_filter(format!("in path {text:?}: {e}")))
            }
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// One element of `Operations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOp,
    pub path: Option<PatchPath>,
    /// `None` when the member is absent; a JSON `null` is kept as
    /// `Some(Value::Null)` ("unassign" for `replace`).
    pub value: Option<Value>,
}

/// A parsed PatchOp message.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Reads a PatchOp body. Member names (`Operations`, `op`, `path`,
    /// `value`) and `op` values are matched case-insensitively, since IdPs
    /// vary.
    pub fn parse(body: &Value) -> Result<PatchRequest, PatchError> {
        let Some(body) = body.as_object() else {
            return Err(ScimError::invalid_syntax(
                "a PATCH body must be a JSON object",
            ));
        };
        let lists_patch_op = map_get_ci(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|schemas| {
                schemas
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.eq_ignore_ascii_case(urn::PATCH_OP))
            });
        if !lists_patch_op {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must list {}",
                urn::PATCH_OP
            )));
        }
        let operations = match map_get_ci(body, "Operations") {
            Some(Value::Array(ops)) if !ops.is_empty() => ops,
            _ => {
                return Err(ScimError::invalid_syntax(
                    "Operations must be a non-empty array",
                ));
            }
        };
        let operations = operations
            .iter()
            .enumerate()
            .map(|(index, op)| parse_operation(op).map_err(|e| at_operation(index, e)))
            .collect::<Result<_, _>>()?;
        Ok(PatchRequest { operations })
    }
}

fn at_operation(index: usize, e: ScimError) -> ScimError {
    ScimError::new(
        e.scim_type,
        format!("operation {}: {}", index + 1, e.detail),
    )
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let Some(op) = op.as_object() else {
        return Err(ScimError::invalid_syntax("an operation must be an object"));
    };
    let kind = match map_get_ci(op, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => PatchOp::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => PatchOp::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => PatchOp::Replace,
        other => {
            return Err(ScimError::invalid_syntax(format!(
                "op must be \"add\", \"remove\" or \"replace\"; got {}",
                other.map_or("nothing".to_owned(), |s| format!("{s:?}"))
            )));
        }
    };
    let path = match map_get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s)?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "path must be a string; got {other}"
            )));
        }
    };
    let value = map_get_ci(op, "value").cloned();
    match kind {
        PatchOp::Remove if path.is_none() => Err(ScimError::no_target(
            "remove requires a path naming what to remove",
        )),
        PatchOp::Add | PatchOp::Replace if value.is_none() => Err(ScimError::invalid_syntax(
            format!("{kind} requires a value"),
        )),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

/// Membership edits of a Group, for the store to apply to its rows.
///
/// When `replace_all` is set, membership becomes exactly that list and `add`
/// and `remove` are empty. Otherwise remove `remove`, then add `add` (the two
/// never share an id). Ids keep request order, without duplicates; later
/// operations override earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub replace_all: Option<Vec<String>>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        self.replace_all.is_none() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOutcome {
    /// The document differs from the one passed in. Member changes and a
    /// supplied password are reported separately and do not set this.
    pub changed: bool,
    pub members: MemberChanges,
    /// A `password` was supplied (and dropped from the document).
    pub password_supplied: bool,
}

/// Applies `req` to `resource`, the stored document of a resource of type
/// `rt` (core attributes at the top level, extension attributes under their
/// URN key, `id` included). On error the resource is left untouched.
pub fn apply(
    resource: &mut Value,
    req: &PatchRequest,
    rt: &ResourceTypeDef,
) -> Result<PatchOutcome, PatchError> {
    let Some(original) = resource.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the resource to patch is not a JSON object",
        ));
    };
    let mut doc = original.clone();
    let mut engine = Engine {
        rt,
        members: MemberLedger::default(),
        password_supplied: false,
    };
    for (index, operation) in req.operations.iter().enumerate() {
        engine
            .operation(&mut doc, operation)
            .map_err(|e| at_operation(index, e))?;
    }
    check_required(original, &doc, rt)?;
    if doc != *original {
        check_limits(&doc, rt)?;
        sync_schemas(&mut doc, rt);
    }
    let outcome = PatchOutcome {
        changed: doc != *original,
        members: engine.members.finish(),
        password_supplied: engine.password_supplied,
    };
    *resource = Value::Object(doc);
    Ok(outcome)
}

/// A required attribute the resource had must survive the patch.
fn check_required(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    rt: &ResourceTypeDef,
) -> Result<(), ScimError> {
    let present = |doc: &Map<String, Value>, name: &str| {
        map_get_ci(doc, name).is_some_and(|v| !is_unassigned(v))
    };
    for attr in rt.schema.attributes.iter().filter(|a| a.required) {
        if present(before, attr.name) && !present(after, attr.name) {
            return Err(ScimError::invalid_value(format!(
                "{} is required and cannot be removed",
                attr.name
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Member bookkeeping.

#[derive(Default)]
struct IdList {
    order: Vec<String>,
    set: HashSet<String>,
}

impl IdList {
    fn insert(&mut self, id: &str) {
        if self.set.insert(id.to_owned()) {
            self.order.push(id.to_owned());
        }
    }

    fn remove(&mut self, id: &str) {
        if self.set.remove(id) {
            self.order.retain(|x| x != id);
        }
    }
}

#[derive(Default)]
struct MemberLedger {
    replace_all: Option<IdList>,
    add: IdList,
    remove: IdList,
}

impl MemberLedger {
    fn add(&mut self, id: &str) {
        match &mut self.replace_all {
            Some(all) => all.insert(id),
            None => {
                self.remove.remove(id);
                self.add.insert(id);
            }
        }
    }

    fn remove(&mut self, id: &str) {
        match &mut self.replace_all {
            Some(all) => all.remove(id),
            None => {
                self.add.remove(id);
                self.remove.insert(id);
            }
        }
    }

    fn replace_all(&mut self, ids: &[String]) {
        let mut all = IdList::default();
        for id in ids {
            all.insert(id);
        }
        self.replace_all = Some(all);
        self.add = IdList::default();
        self.remove = IdList::default();
    }

    fn finish(self) -> MemberChanges {
        MemberChanges {
            replace_all: self.replace_all.map(|all| all.order),
            add: self.add.order,
            remove: self.remove.order,
        }
    }
}

// ---------------------------------------------------------------------------
// The engine.

struct Engine<'a> {
    rt: &'a ResourceTypeDef,
    members: MemberLedger,
    password_supplied: bool,
}

/// Where an operation lands, with names in their schema spelling when known.
struct Target<'p> {
    /// The extension object holding the attribute; `None` for the top level.
    container: Option<String>,
    /// Whether `container` is a schema URN in its canonical spelling (else
    /// the client's spelling of an extension we do not model).
    container_known: bool,
    name: String,
    def: Option<&'static AttributeDef>,
    filter: Option<&'p Filter>,
    sub: Option<String>,
    sub_def: Option<&'static AttributeDef>,
    /// The path for messages.
    label: String,
}

impl<'p> Target<'p> {
    fn new(rt: &ResourceTypeDef, path: &'p PatchPath) -> Result<Target<'p>, ScimError> {
        let attr_only = AttrPath {
            urn: path.attr.urn.clone(),
            attr: path.attr.attr.clone(),
            sub_attr: None,
        };
        let resolved = rt.resolve(&attr_only);
        let (container, container_known) = match path.attr.urn.as_deref() {
            Some(u) if !rt.is_core_urn(u) => match rt.extension(u) {
                Some(schema) => (Some(schema.id.to_owned()), true),
                None => (Some(u.to_owned()), false),
            },
            _ => (None, false),
        };
        let def = resolved.map(|r| r.attribute);
        let name = def.map_or_else(|| path.attr.attr.clone(), |d| d.name.to_owned());
        let raw_sub = path.attr.sub_attr.clone().or_else(|| path.sub_attr.clone());
        let (sub, sub_def) = match (raw_sub, def) {
            (None, _) => (None, None),
            (Some(_), Some(d)) if !d.is_complex() => {
                return Err(ScimError::invalid_path(format!(
                    "{name} has no sub-attributes"
                )));
            }
            (Some(s), Some(d)) => match d.sub_attribute(&s) {
                Some(sd) => (Some(sd.name.to_owned()), Some(sd)),
                None => (Some(s), None),
            },
            (Some(s), None) => (Some(s), None),
        };
        let mut label = String::new();
        if let Some(c) = &container {
            label.push_str(c);
            label.push(':');
        }
        label.push_str(&name);
        if let Some(f) = &path.filter {
            label.push_str(&format!("[{f}]"));
        }
        if let Some(s) = &sub {
            label.push('.');
            label.push_str(s);
        }
        Ok(Target {
            container,
            container_known,
            name,
            def,
            filter: path.filter.as_ref(),
            sub,
            sub_def,
            label,
        })
    }

    /// The key under which the attribute is (or will be) stored: the schema
    /// spelling for known attributes, the stored or received one otherwise.
    fn key_in(&self, map: &Map<String, Value>) -> String {
        if self.def.is_some() {
            self.name.clone()
        } else {
            key_ci(map, &self.name).unwrap_or_else(|| self.name.clone())
        }
    }

    fn is_multi(&self, current: Option<&Value>) -> bool {
        match self.def {
            Some(d) => d.multi_valued,
            None => matches!(current, Some(Value::Array(_))),
        }
    }
}

/// What a mutability check decided.
enum Check {
    Proceed,
    /// An unchanged read-only value in a pathless operation: ignore it.
    Skip,
}

impl Engine<'_> {
    fn operation(
        &mut self,
        doc: &mut Map<String, Value>,
        operation: &PatchOperation,
    ) -> Result<(), ScimError> {
        match &operation.path {
            Some(path) => self.at_path(doc, operation.op, path, operation.value.as_ref(), false),
            None => match &operation.value {
                Some(Value::Object(fields)) => self.pathless(doc, operation.op, fields),
                _ => Err(ScimError::invalid_syntax(format!(
                    "{} without a path needs an object of attributes as its value",
                    operation.op
                ))),
            },
        }
    }

    /// RFC 7644 §3.5.2.1/§3.5.2.3 without `path`: each member of the value is
    /// an attribute to add or replace. Entra (with `aadOptscim062020`) puts
    /// paths in the keys, so every key is read as a path.
    fn pathless(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: PatchOp,
        fields: &Map<String, Value>,
    ) -> Result<(), ScimError> {
        for (key, value) in fields {
            // Maintained by the server; clients echo them back.
            if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
                continue;
            }
            if let Some(schema) = self.schema_named(key) {
                self.whole_schema(doc, kind, schema, Some(value), true)?;
                continue;
            }
            let Ok(path) = PatchPath::parse(key) else {
                // Not a path: an attribute of no schema, kept as received.
                set_ci(doc, key, value.clone());
                continue;
            };
            if self.is_unmodelled_extension(&path, value) {
                unmodelled_extension(doc, key, value);
                continue;
            }
            self.at_path(doc, kind, &path, Some(value), true)?;
        }
        Ok(())
    }

    /// The core schema or an extension of this resource type, named by URN.
    fn schema_named(&self, key: &str) -> Option<&'static SchemaDef> {
        self.rt.schemas().find(|s| s.id.eq_ignore_ascii_case(key))
    }

    /// A URN-keyed object that is no schema of ours: an extension the
    /// gateway keeps without modelling it.
    fn is_unmodelled_extension(&self, path: &PatchPath, value: &Value) -> bool {
        let Some(prefix) = path.attr.urn.as_deref() else {
            return false;
        };
        path.filter.is_none()
            && path.attr.sub_attr.is_none()
            && value.is_object()
            && !self.rt.is_core_urn(prefix)
            && self.rt.extension(prefix).is_none()
    }

    /// An operation whose path is a whole schema: the value holds that
    /// schema's attributes.
    fn whole_schema(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: PatchOp,
        schema: &'static SchemaDef,
        value: Option<&Value>,
        pathless: bool,
    ) -> Result<(), ScimError> {
        let is_core = self.rt.is_core_urn(schema.id);
        if kind == PatchOp::Remove {
            if is_core {
                return Err(ScimError::invalid_path("the core schema cannot be removed"));
            }
            remove_ci(doc, schema.id);
            return Ok(());
        }
        let Some(Value::Object(fields)) = value else {
            return Err(ScimError::invalid_value(format!(
                "{} must be given as an object of its attributes",
                schema.id
            )));
        };
        for (name, v) in fields {
            // Maintained by the server; some clients repeat them inside the
            // extension's object.
            if name.eq_ignore_ascii_case("schemas") || name.eq_ignore_ascii_case("meta") {
                continue;
            }
            let path = PatchPath::parse(&format!("{}:{name}", schema.id))?;
            self.at_path(doc, kind, &path, Some(v), pathless)?;
        }
        Ok(())
    }

    fn at_path(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: PatchOp,
        path: &PatchPath,
        value: Option<&Value>,
        pathless: bool,
    ) -> Result<(), ScimError> {
        if path.filter.is_none()
            && path.attr.sub_attr.is_none()
            && let Some(schema) = self.rt.schemas().find(|s| path.attr.is_schema_urn(s.id))
        {
            return self.whole_schema(doc, kind, schema, value, pathless);
        }
        let target = Target::new(self.rt, path)?;
        if !pathless && kind != PatchOp::Remove {
            undefined_path(doc, &target)?;
        }
        if let Some(def) = target.def {
            if target.container.is_none()
                && std::ptr::eq(self.rt.schema, &GROUP_SCHEMA)
                && def.name == "members"
            {
                return self.members(kind, &target, value);
            }
            if target.container.is_none() && def.name == "schemas" {
                // Derived from the extension objects present; see sync_schemas.
                return Ok(());
            }
            if def.mutability == Mutability::WriteOnly {
                return self.write_only(doc, kind, &target, def, value);
            }
        }
        if let Check::Skip = self.check_mutability(doc, kind, &target, value, pathless)? {
            return Ok(());
        }
        let create = kind != PatchOp::Remove;
        let Some(map) = container(doc, &target, create) else {
            return Ok(());
        };
        let result = match (target.filter, target.sub.is_some()) {
            (None, false) => whole_attribute(map, kind, &target, value),
            (None, true) => sub_attribute(map, kind, &target, value),
            (Some(filter), _) => filtered(map, kind, &target, filter, value),
        };
        if let Some(key) = &target.container {
            let empty = map_get_ci(doc, key).is_some_and(is_unassigned);
            if empty {
                remove_ci(doc, key);
            }
        }
        result
    }

    fn write_only(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: PatchOp,
        target: &Target<'_>,
        def: &AttributeDef,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if kind != PatchOp::Remove
            && let Some(v) = value.filter(|v| !is_unassigned(v))
        {
            coerce(def, v.clone(), &target.label)?;
            self.password_supplied = true;
        }
        // Never kept, whatever an older document may hold.
        if let Some(map) = container(doc, target, false) {
            remove_ci(map, &target.name);
        }
        Ok(())
    }

    /// RFC 7644 §3.5.2: operations must respect mutability. Read-only
    /// attributes cannot be changed; the one allowance is an unchanged value
    /// inside a pathless operation, which Okta sends (`id` in a group rename).
    /// Immutable attributes may be set once.
    fn check_mutability(
        &self,
        doc: &Map<String, Value>,
        kind: PatchOp,
        target: &Target<'_>,
        value: Option<&Value>,
        pathless: bool,
    ) -> Result<Check, ScimError> {
        let mutability = |d: Option<&AttributeDef>| d.map(|d| d.mutability);
        let current = current_value(doc, target);
        let unchanged = target.filter.is_none()
            && kind != PatchOp::Remove
            && value.is_some_and(|v| Some(v) == current);
        let read_only = mutability(target.def) == Some(Mutability::ReadOnly)
            || mutability(target.sub_def) == Some(Mutability::ReadOnly);
        if read_only {
            if pathless && unchanged {
                return Ok(Check::Skip);
            }
            return Err(ScimError::mutability(format!(
                "{} is readOnly and cannot be changed",
                target.label
            )));
        }
        let immutable = mutability(target.def) == Some(Mutability::Immutable)
            || mutability(target.sub_def) == Some(Mutability::Immutable);
        if immutable && current.is_some_and(|v| !is_unassigned(v)) {
            if unchanged {
                return Ok(Check::Skip);
            }
            return Err(ScimError::mutability(format!(
                "{} is immutable; it can be set once and not changed or removed",
                target.label
            )));
        }
        Ok(Check::Proceed)
    }

    fn members(
        &mut self,
        kind: PatchOp,
        target: &Target<'_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if target.sub.is_some() {
            return Err(ScimError::invalid_path(format!(
                "members are added, replaced and removed as {{\"value\": id}} objects; {} cannot be addressed",
                target.label
            )));
        }
        let value = value.filter(|v| !v.is_null());
        match (kind, target.filter) {
            (PatchOp::Add, None) => {
                for id in member_ids(value.unwrap_or(&Value::Null))? {
                    self.members.add(&id);
                }
            }
            (PatchOp::Replace, None) => {
                let ids = match value {
                    Some(v) => member_ids(v)?,
                    None => Vec::new(),
                };
                self.members.replace_all(&ids);
            }
            // Okta: remove every member.
            (PatchOp::Remove, None) if value.is_none() => self.members.replace_all(&[]),
            // Entra: remove the members listed in the value.
            (PatchOp::Remove, None) => {
                for id in member_ids(value.unwrap_or(&Value::Null))? {
                    self.members.remove(&id);
                }
            }
            (PatchOp::Remove, Some(filter)) => {
                for id in member_filter_ids(filter)? {
                    self.members.remove(&id);
                }
            }
            (PatchOp::Add | PatchOp::Replace, Some(_)) => {
                return Err(ScimError::invalid_path(
                    "members cannot be added or replaced through a value filter; add {\"value\": id} objects to members",
                ));
            }
        }
        Ok(())
    }
}

/// `members[value eq "a" or value eq "b"]`: the only member filters that make
/// sense against membership rows.
fn member_filter_ids(filter: &Filter) -> Result<Vec<String>, ScimError> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: value @ (CompValue::Str(_) | CompValue::Num(_)),
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            Ok(value.as_text().into_iter().collect())
        }
        Filter::Or(a, b) => {
            let mut ids = member_filter_ids(a)?;
            ids.extend(member_filter_ids(b)?);
            Ok(ids)
        }
        other => Err(ScimError::invalid_filter(format!(
            "members can only be selected with value eq \"id\", optionally joined with or; got [{other}]"
        ))),
    }
}

/// A URN-keyed object of an extension we do not model: merged member by
/// member and otherwise kept as received.
fn unmodelled_extension(doc: &mut Map<String, Value>, key: &str, value: &Value) {
    let Some(incoming) = value.as_object() else {
        return;
    };
    let stored_key = key_ci(doc, key).unwrap_or_else(|| key.to_owned());
    let slot = doc
        .entry(stored_key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Some(map) = slot.as_object_mut() {
        merge_into(map, incoming.clone());
    }
}

fn current_value<'d>(doc: &'d Map<String, Value>, target: &Target<'_>) -> Option<&'d Value> {
    let holder = match &target.container {
        None => doc,
        Some(key) => map_get_ci(doc, key)?.as_object()?,
    };
    let value = map_get_ci(holder, &target.name)?;
    match &target.sub {
        Some(sub) if target.filter.is_none() => get_ci(value, sub),
        _ => Some(value),
    }
}

/// An explicit `path` of an `add` or `replace` must name an attribute of a
/// schema, else `invalidPath` (RFC 7644 §3.12, Table 9: the path was
/// invalid). Storing the value anyway would let any client grow a resource
/// with made-up attributes through PATCH. Attributes of no schema that a
/// POST kept can still be written by path, and so can the attributes of an
/// extension the gateway keeps without modelling.
fn undefined_path(doc: &Map<String, Value>, target: &Target<'_>) -> Result<(), ScimError> {
    let unmodelled_extension = target.container.is_some() && !target.container_known;
    if unmodelled_extension {
        return Ok(());
    }
    let undefined_sub = target.def.is_some() && target.sub.is_some() && target.sub_def.is_none();
    if target.def.is_some() && !undefined_sub {
        return Ok(());
    }
    let holder = match &target.container {
        None => Some(doc),
        Some(key) => map_get_ci(doc, key).and_then(Value::as_object),
    };
    let kept = holder
        .and_then(|h| map_get_ci(h, &target.name))
        .is_some_and(|v| match &target.sub {
            Some(sub) if undefined_sub => match v {
                Value::Array(items) => items.iter().any(|i| get_ci(i, sub).is_some()),
                other => get_ci(other, sub).is_some(),
            },
            _ => true,
        });
    if kept {
        return Ok(());
    }
    Err(ScimError::invalid_path(format!(
        "no schema of this resource defines `{}`",
        crate::domain::names::excerpt(&target.label)
    )))
}

/// The object the attribute lives in: the document, or its extension object
/// (created when `create`).
fn container<'d>(
    doc: &'d mut Map<String, Value>,
    target: &Target<'_>,
    create: bool,
) -> Option<&'d mut Map<String, Value>> {
    let Some(key) = &target.container else {
        return Some(doc);
    };
    let stored = key_ci(doc, key);
    let key = match (stored, target.container_known) {
        (Some(_), true) | (None, _) => key.clone(),
        (Some(stored), false) => stored,
    };
    if key_ci(doc, &key).is_none() {
        if !create {
            return None;
        }
        doc.insert(key.clone(), Value::Object(Map::new()));
    }
    let slot = entry_ci(doc, &key)?;
    if !slot.is_object() {
        if !create {
            return None;
        }
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Stores `value`, or removes the attribute when the value is unassigned.
fn store(map: &mut Map<String, Value>, key: &str, value: Value) {
    if is_unassigned(&value) {
        remove_ci(map, key);
    } else {
        set_ci(map, key, value);
    }
}

fn take_items(map: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match remove_ci(map, key) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn into_items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Stores the items of a multi-valued attribute back at its position.
fn put_items(map: &mut Map<String, Value>, key: &str, position: Option<usize>, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    match position {
        Some(index) => {
            map.shift_insert(index.min(map.len()), key.to_owned(), Value::Array(items));
        }
        None => {
            map.insert(key.to_owned(), Value::Array(items));
        }
    }
}

fn position_ci(map: &Map<String, Value>, key: &str) -> Option<usize> {
    map.keys().position(|k| k.eq_ignore_ascii_case(key))
}

/// Adds values to a multi-valued attribute: a value equal to one present
/// (see `same_element`) updates it; others are appended. Returns the indices
/// touched, for `primary` bookkeeping.
fn add_items(
    def: Option<&AttributeDef>,
    items: &mut Vec<Value>,
    incoming: Vec<Value>,
) -> Vec<usize> {
    let mut touched = Vec::with_capacity(incoming.len());
    // Keys of the values present, so each incoming value is placed in
    // constant time (merging keeps an element's key: value and type agree).
    let mut index: std::collections::HashMap<ElementKey, usize> =
        std::collections::HashMap::with_capacity(items.len() + incoming.len());
    for (i, item) in items.iter().enumerate() {
        index.entry(element_key(def, item)).or_insert(i);
    }
    for value in incoming {
        let key = element_key(def, &value);
        match index.get(&key).copied() {
            Some(i) => {
                // An equal complex value is updated with what was sent; an
                // equal simple value is already there.
                if let (Value::Object(existing), Value::Object(new)) = (&mut items[i], value) {
                    merge_into(existing, new);
                }
                touched.push(i);
            }
            None => {
                items.push(value);
                index.insert(key, items.len() - 1);
                touched.push(items.len() - 1);
            }
        }
    }
    touched
}

fn finish_items(def: Option<&AttributeDef>, items: &mut Vec<Value>, touched: &[usize]) {
    items.retain(|item| !is_unassigned(item));
    if def.is_some_and(has_primary) {
        enforce_single_primary(items, touched);
    }
}

/// `path` names an attribute, no filter, no sub-attribute.
fn whole_attribute(
    map: &mut Map<String, Value>,
    kind: PatchOp,
    target: &Target<'_>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let key = target.key_in(map);
    let value = value.cloned().unwrap_or(Value::Null);
    let multi = target.is_multi(map_get_ci(map, &key));
    match kind {
        PatchOp::Remove => {
            if multi && !value.is_null() {
                // Remove just the values given (Entra's shape for members,
                // honoured for every multi-valued attribute).
                let position = position_ci(map, &key);
                let doomed: HashSet<ElementKey> = into_items(value)
                    .iter()
                    .map(|d| element_key(target.def, d))
                    .collect();
                let mut items = take_items(map, &key);
                items.retain(|item| !doomed.contains(&element_key(target.def, item)));
                put_items(map, &key, position, items);
            } else {
                remove_ci(map, &key);
            }
            Ok(())
        }
        PatchOp::Add | PatchOp::Replace if value.is_null() => {
            // Nothing to add; replacing with null unassigns.
            if kind == PatchOp::Replace {
                remove_ci(map, &key);
            }
            Ok(())
        }
        PatchOp::Add | PatchOp::Replace => {
            let Some(def) = target.def else {
                if kind == PatchOp::Add && multi {
                    let position = position_ci(map, &key);
                    let mut items = take_items(map, &key);
                    add_items(None, &mut items, into_items(value));
                    put_items(map, &key, position, items);
                } else {
                    set_ci(map, &key, value);
                }
                return Ok(());
            };
            let nulls = nulled_subs(Some(def), &value);
            let value = coerce(def, value, &target.label)?;
            if def.multi_valued {
                let position = position_ci(map, &key);
                let mut items = if kind == PatchOp::Add {
                    take_items(map, &key)
                } else {
                    remove_ci(map, &key);
                    Vec::new()
                };
                let touched = add_items(Some(def), &mut items, into_items(value));
                finish_items(Some(def), &mut items, &touched);
                put_items(map, &key, position, items);
            } else if def.is_complex() {
                // Unspecified sub-attributes are left unchanged
                // (RFC 7644 §3.5.2.1 and §3.5.2.3).
                let Value::Object(incoming) = value else {
                    return Err(ScimError::invalid_value(format!(
                        "{} must be an object",
                        target.label
                    )));
                };
                let mut merged = match map_get_ci(map, &key) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                merge_into(&mut merged, incoming);
                merge_into(&mut merged, nulls);
                store(map, &key, Value::Object(merged));
            } else {
                set_ci(map, &key, value);
            }
            Ok(())
        }
    }
}

/// The value a sub-attribute operation writes, `None` to remove it.
fn sub_value(
    kind: PatchOp,
    target: &Target<'_>,
    value: Option<&Value>,
) -> Result<Option<Value>, ScimError> {
    if kind == PatchOp::Remove {
        return Ok(None);
    }
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let v = match target.sub_def {
                Some(def) => coerce(def, v.clone(), &target.label)?,
                None => v.clone(),
            };
            Ok((!is_unassigned(&v)).then_some(v))
        }
    }
}

fn write_sub(element: &mut Value, sub: &str, value: &Option<Value>) {
    if !element.is_object() {
        *element = Value::Object(Map::new());
    }
    if let Some(map) = element.as_object_mut() {
        match value {
            Some(v) => set_ci(map, sub, v.clone()),
            None => {
                remove_ci(map, sub);
            }
        }
    }
}

/// `attr.sub` without a filter: `name.givenName`, `manager.value`, or — on a
/// multi-valued attribute — that sub-attribute of every value.
fn sub_attribute(
    map: &mut Map<String, Value>,
    kind: PatchOp,
    target: &Target<'_>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let key = target.key_in(map);
    let sub = target.sub.as_deref().unwrap_or_default();
    let new = sub_value(kind, target, value)?;
    if target.is_multi(map_get_ci(map, &key)) {
        let position = position_ci(map, &key);
        let mut items = take_items(map, &key);
        if items.is_empty() {
            if new.is_some() {
                let mut element = Value::Object(Map::new());
                write_sub(&mut element, sub, &new);
                items.push(element);
            }
        } else {
            for item in items.iter_mut() {
                write_sub(item, sub, &new);
            }
        }
        let touched: Vec<usize> = (0..items.len()).collect();
        finish_items(target.def, &mut items, &touched);
        put_items(map, &key, position, items);
    } else {
        let mut object = match map_get_ci(map, &key) {
            Some(v @ Value::Object(_)) => v.clone(),
            _ => Value::Object(Map::new()),
        };
        write_sub(&mut object, sub, &new);
        store(map, &key, object);
    }
    Ok(())
}

/// `attr[filter]` and `attr[filter].sub`.
fn filtered(
    map: &mut Map<String, Value>,
    kind: PatchOp,
    target: &Target<'_>,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if let Some(def) = target.def {
        if !def.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "{} is not multi-valued; value filters select values of multi-valued attributes",
                target.name
            )));
        }
        validate_element_filter(filter, def)
            .map_err(|e| ScimError::invalid_filter(format!("in path {}: {e}", target.label)))?;
        if !def.is_complex() && kind != PatchOp::Remove {
            return Err(ScimError::invalid_path(format!(
                "the values of {} are not complex: add or replace {} itself",
                target.name, target.name
            )));
        }
    }
    let key = target.key_in(map);
    let position = position_ci(map, &key);
    let mut items = take_items(map, &key);
    let matched: Vec<usize> = (0..items.len())
        .filter(|&i| element_matches(filter, &items[i], target.def))
        .collect();
    // On error the whole working copy is discarded, so nothing to restore.
    let touched = apply_filtered(&mut items, &matched, kind, target, filter, value)?;
    finish_items(target.def, &mut items, &touched);
    put_items(map, &key, position, items);
    Ok(())
}

fn apply_filtered(
    items: &mut Vec<Value>,
    matched: &[usize],
    kind: PatchOp,
    target: &Target<'_>,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<Vec<usize>, ScimError> {
    let sub = target.sub.as_deref();
    if kind == PatchOp::Remove {
        match sub {
            None => {
                let mut index = 0;
                items.retain(|_| {
                    let keep = !matched.contains(&index);
                    index += 1;
                    keep
                });
            }
            Some(sub) => {
                for &i in matched {
                    write_sub(&mut items[i], sub, &None);
                }
            }
        }
        return Ok(Vec::new());
    }

    // add / replace
    let incoming = match sub {
        Some(_) => Incoming::Sub(sub_value(kind, target, value)?),
        None => match value {
            None | Some(Value::Null) => Incoming::Remove,
            Some(v) => Incoming::Element(element_object(target, v.clone())?),
        },
    };
    if matched.is_empty() {
        if matches!(incoming, Incoming::Remove | Incoming::Sub(None)) {
            // Unassigning something that is not there.
            return Ok(Vec::new());
        }
        // Entra adds and replaces through `[type eq "work"]` whether or not
        // such a value exists yet; an `eq`-only filter describes the value to
        // create.
        let Some(seed) = eq_seed(filter, target.def) else {
            return Err(ScimError::no_target(format!(
                "no value of {} matches the filter in {}",
                target.name, target.label
            )));
        };
        let mut element = Value::Object(seed);
        match (&incoming, sub) {
            (Incoming::Sub(v), Some(sub)) => write_sub(&mut element, sub, v),
            (Incoming::Element(new), _) => {
                if let Some(map) = element.as_object_mut() {
                    merge_into(map, new.clone());
                }
            }
            (Incoming::Sub(_), None) | (Incoming::Remove, _) => return Ok(Vec::new()),
        }
        let element = match target.def {
            Some(def) => coerce_single(def, element, &target.label)?,
            None => element,
        };
        items.push(element);
        return Ok(vec![items.len() - 1]);
    }
    for &i in matched {
        match (&incoming, sub) {
            (Incoming::Sub(v), Some(sub)) => write_sub(&mut items[i], sub, v),
            (Incoming::Element(new), _) => {
                if let Some(map) = items[i].as_object_mut() {
                    merge_into(map, new.clone());
                }
            }
            (Incoming::Sub(_), None) | (Incoming::Remove, _) => items[i] = Value::Null,
        }
    }
    Ok(matched.to_vec())
}

enum Incoming {
    /// The new value of the sub-attribute (`None` removes it).
    Sub(Option<Value>),
    /// Sub-attributes to merge into each selected value.
    Element(Map<String, Value>),
    /// A null value: unassign the selected values.
    Remove,
}

/// The sub-attributes to merge into selected values; those sent as null
/// stay null so that the merge removes them.
fn element_object(target: &Target<'_>, value: Value) -> Result<Map<String, Value>, ScimError> {
    let nulls = nulled_subs(target.def, &value);
    let value = match target.def {
        Some(def) => coerce_single(def, value, &target.label)?,
        None => value,
    };
    match value {
        Value::Object(mut map) => {
            map.extend(nulls);
            Ok(map)
        }
        other => Err(ScimError::invalid_value(format!(
            "{} selects complex values; the value must be an object, got {other}",
            target.label
        ))),
    }
}

/// The sub-attributes a complex value sets to null, named in schema
/// spelling. Coercion drops nulls; a merge must instead remove what they name
/// (RFC 7643 §2.5: null means unassigned).
fn nulled_subs(def: Option<&AttributeDef>, raw: &Value) -> Map<String, Value> {
    let Some(object) = raw.as_object() else {
        return Map::new();
    };
    object
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| {
            let name = def
                .and_then(|d| d.sub_attribute(k))
                .map_or_else(|| k.clone(), |s| s.name.to_owned());
            (name, Value::Null)
        })
        .collect()
}

/// The value an `eq`-only filter (`type eq "work" and primary eq true`)
/// describes, or `None` when the filter is anything else.
fn eq_seed(filter: &Filter, parent: Option<&'static AttributeDef>) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() && *value != CompValue::Null => {
            let sub_def = match parent {
                Some(p) => Some(p.sub_attribute(&path.attr)?),
                None => None,
            };
            let name = sub_def.map_or_else(|| path.attr.clone(), |d| d.name.to_owned());
            let json = match sub_def {
                Some(def) if def.ty.is_textual() => Value::String(value.as_text()?),
                Some(def) if def.ty == AttrType::Boolean => {
                    coerce_single(def, value.to_json(), "").ok()?
                }
                _ => value.to_json(),
            };
            let mut seed = Map::new();
            seed.insert(name, json);
            Some(seed)
        }
        Filter::And(a, b) => {
            let mut seed = eq_seed(a, parent)?;
            for (k, v) in eq_seed(b, parent)? {
                if seed.get(&k).is_some_and(|existing| *existing != v) {
                    return None;
                }
                seed.insert(k, v);
            }
            Some(seed)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
