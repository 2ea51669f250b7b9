//! The SCIM filter language of RFC 7644 §3.4.2.2: parser, AST, printer,
//! schema-aware validation and an in-memory matcher.
//!
//! We parse filters ourselves rather than use a published crate. What we
//! need is an owned AST that the store translates to SQL, tolerance for what
//! Microsoft Entra ID actually sends (unquoted values such as
//! `userName eq Test_User_ab6490ee@example.com`, mixed-case operators), a
//! nesting guard and error messages with positions. The crates on crates.io
//! are built either to evaluate a filter against in-memory values
//! (`scim-filter` filters a collection of `Serialize` items) or to check RFC
//! syntax strictly, so adapting one would cost more than the few hundred
//! lines below. The grammar accepted here is RFC 7644 Figure 1:
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]" [ "." subAttr ( SP "pr" / SP compareOp SP compValue ) ]
//!             ; valFilter: FILTER without valuePath
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! compValue = false / null / true / number / string
//! ```
//!
//! with `( … )` grouping, precedence `not` > `and` > `or`, left-associative
//! `and`/`or`, case-insensitive keywords and operators, and any amount of
//! whitespace. Unquoted values that are not `true`, `false`, `null` or a JSON
//! number are read as strings (the Entra quirk). Input is limited to
//! [`MAX_FILTER_LEN`] bytes and [`MAX_DEPTH`] levels of nesting, so hostile
//! input yields an error rather than a stack overflow.
//!
//! The optional `.subAttr op value` after a value filter is not in RFC 7644's
//! ABNF for filters (only for PATCH paths) but Microsoft Entra ID sends it
//! (`emails[type eq "work"].value eq "ada@example.com"`). It means "some
//! element matches the bracket filter and that same element's sub-attribute
//! matches", so it is parsed into one value filter holding both conditions:
//! `emails[type eq "work" and value eq "ada@example.com"]`.
//!
//! Listing endpoints translate the AST to SQL in the store; [`matches()`] exists
//! for PATCH value filters and tests. [`validate`] applies the schema rules
//! that make a well-formed filter invalid (`gt` on a boolean, `co` on a complex
//! attribute…), which the server reports as `400 invalidFilter`.
//!
//! Matching semantics, which the SQL translation must mirror:
//! - an attribute with several values matches when any value matches;
//! - `ne` is the negation of `eq` over the whole attribute: it matches when no
//!   value equals (so also when the attribute is absent);
//! - `eq null` matches an absent attribute, `ne null` a present one;
//! - strings compare case-insensitively unless the attribute is `caseExact`;
//!   dateTimes compare chronologically;
//! - a complex attribute compared without a sub-attribute is compared through
//!   its `value` sub-attribute (RFC 7644 example `emails co "example.com"`).

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use super::json::{get_ci, parse_bool_text};
use super::schema::{AttrPath, AttrType, AttributeDef, ResourceTypeDef};
use crate::domain::names::canonical_lower;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting of `( … )`, `not ( … )` and `[ … ]` accepted.
pub const MAX_DEPTH: usize = 16;

/// A parsed filter. Inside [`Filter::ValuePath`], paths are relative to the
/// multi-valued attribute: `emails[type eq "work"]` holds the path `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Present(AttrPath),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// The comparison operators of RFC 7644 Table 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `compValue`: a JSON literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
}

impl CompValue {
    /// The value as the JSON it denotes.
    pub fn to_json(&self) -> Value {
        match self {
            CompValue::Str(s) => Value::String(s.clone()),
            CompValue::Num(n) => Value::Number(n.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Null => Value::Null,
        }
    }

    /// The text a string attribute is compared with. Unquoted numbers and
    /// booleans compared with a string attribute stand for their spelling
    /// (`externalId eq 12345` from Entra).
    pub(crate) fn as_text(&self) -> Option<String> {
        match self {
            CompValue::Str(s) => Some(s.clone()),
            CompValue::Num(n) => Some(n.to_string()),
            CompValue::Bool(b) => Some(b.to_string()),
            CompValue::Null => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            CompValue::Bool(b) => Some(*b),
            CompValue::Str(s) => parse_bool_text(s),
            _ => None,
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => f.write_str(&Value::String(s.clone()).to_string()),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// Why a filter was refused. `offset` is the byte offset in the filter text
/// where the problem was found (absent for schema errors found by
/// [`validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FilterError {
    pub offset: Option<usize>,
    pub message: String,
}

impl FilterError {
    fn at(offset: usize, message: impl Into<String>) -> Self {
        FilterError {
            offset: Some(offset),
            message: message.into(),
        }
    }

    fn schema(message: impl Into<String>) -> Self {
        FilterError {
            offset: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} (at offset {offset})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Filter {
    /// Parses filter text. See the module documentation for the grammar.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        parse(text)
    }
}

/// Parses filter text. See the module documentation for the grammar.
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(FilterError::at(
            MAX_FILTER_LEN,
            format!(
                "filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
                text.len()
            ),
        ));
    }
    let mut p = Parser { src: text, pos: 0 };
    p.skip_ws();
    if p.at_end() {
        return Err(FilterError::at(0, "empty filter"));
    }
    let filter = p.parse_or(0, false)?;
    p.skip_ws();
    if !p.at_end() {
        let message = if p.peek() == Some(b')') {
            "unbalanced ')'".to_owned()
        } else {
            format!(
                "expected 'and', 'or' or the end of the filter, found {}",
                p.found()
            )
        };
        return Err(FilterError::at(p.pos, message));
    }
    Ok(filter)
}

/// Why a PATCH `path` (RFC 7644 §3.5.2: `attrPath` or `valuePath [subAttr]`)
/// was refused.
pub(crate) enum PathSyntaxError {
    /// The attribute part is malformed (`invalidPath`).
    Path(String),
    /// The bracketed filter is malformed (`invalidFilter`).
    Filter(FilterError),
}

/// The bracketed part of a PATCH value path and what follows it.
pub(crate) struct ValueSelector {
    pub filter: Filter,
    pub sub_attr: Option<String>,
}

/// Parses a PATCH path into the attribute path and, for a value path, the
/// bracketed filter and the optional trailing sub-attribute.
pub(crate) fn parse_patch_path(
    text: &str,
) -> Result<(AttrPath, Option<ValueSelector>), PathSyntaxError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(PathSyntaxError::Path(format!(
            "path is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
            text.len()
        )));
    }
    let Some(open) = text.find('[') else {
        return AttrPath::parse(text)
            .map(|p| (p, None))
            .map_err(|e| PathSyntaxError::Path(e.to_string()));
    };
    let attr = AttrPath::parse(&text[..open]).map_err(|e| PathSyntaxError::Path(e.to_string()))?;
    if attr.sub_attr.is_some() {
        return Err(PathSyntaxError::Path(format!(
            "a value filter applies to a multi-valued attribute, not to {:?}",
            &text[..open]
        )));
    }
    let mut p = Parser {
        src: text,
        pos: open + 1,
    };
    let filter = p.parse_or(1, true).map_err(PathSyntaxError::Filter)?;
    p.skip_ws();
    if p.peek() != Some(b']') {
        return Err(PathSyntaxError::Filter(FilterError::at(
            p.pos,
            format!(
                "expected ']' to close the value filter, found {}",
                p.found()
            ),
        )));
    }
    let rest = &text[p.pos + 1..];
    let sub_attr = if rest.is_empty() {
        None
    } else if let Some(sub) = rest.strip_prefix('.') {
        let sub_path = AttrPath::parse(sub).map_err(|e| PathSyntaxError::Path(e.to_string()))?;
        if sub_path.urn.is_some() || sub_path.sub_attr.is_some() {
            return Err(PathSyntaxError::Path(format!(
                "{sub:?} after ']' must be a single sub-attribute name"
            )));
        }
        Some(sub_path.attr)
    } else {
        return Err(PathSyntaxError::Path(format!(
            "unexpected {rest:?} after the value filter; only '.subAttribute' may follow ']'"
        )));
    };
    Ok((attr, Some(ValueSelector { filter, sub_attr })))
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.' | b'$')
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// The run of attribute-name characters at the cursor (also used for
    /// keywords and operators, which are made of the same characters).
    fn word_at(&self, at: usize) -> &'a str {
        let bytes = self.src.as_bytes();
        let end = (at..bytes.len())
            .find(|&i| !is_name_byte(bytes[i]))
            .unwrap_or(bytes.len());
        &self.src[at..end]
    }

    /// Consumes `keyword` when the next word is exactly it (any case).
    fn keyword(&mut self, keyword: &str) -> bool {
        let word = self.word_at(self.pos);
        if word.eq_ignore_ascii_case(keyword) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Describes what is at the cursor, for error messages.
    fn found(&self) -> String {
        let rest = &self.src[self.pos..];
        if rest.is_empty() {
            return "the end of the filter".to_owned();
        }
        let word = self.word_at(self.pos);
        let shown: String = if word.is_empty() {
            rest.chars().take(1).collect()
        } else {
            word.chars().take(40).collect()
        };
        format!("{shown:?}")
    }

    fn parse_or(&mut self, depth: usize, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(depth, in_value_path)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.keyword("or") {
                let right = self.parse_and(depth, in_value_path)?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    fn parse_and(&mut self, depth: usize, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(depth, in_value_path)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.keyword("and") {
                let right = self.parse_unary(depth, in_value_path)?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    fn enter(&self, depth: usize) -> Result<usize, FilterError> {
        if depth >= MAX_DEPTH {
            Err(FilterError::at(
                self.pos,
                format!("filter nests deeper than {MAX_DEPTH} levels"),
            ))
        } else {
            Ok(depth + 1)
        }
    }

    /// `( FILTER )` with the cursor on the opening parenthesis.
    fn parse_group(&mut self, depth: usize, in_value_path: bool) -> Result<Filter, FilterError> {
        let open = self.pos;
        let depth = self.enter(depth)?;
        self.pos += 1;
        let inner = self.parse_or(depth, in_value_path)?;
        self.skip_ws();
        if self.peek() != Some(b')') {
            return Err(FilterError::at(
                self.pos,
                format!(
                    "expected ')' to close the '(' at offset {open}, found {}",
                    self.found()
                ),
            ));
        }
        self.pos += 1;
        Ok(inner)
    }

    fn parse_unary(&mut self, depth: usize, in_value_path: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        if self.peek() == Some(b'(') {
            return self.parse_group(depth, in_value_path);
        }
        let start = self.pos;
        let word = self.word_at(start);
        if word.eq_ignore_ascii_case("not") {
            let after = start + word.len();
            let next = self.src[after..].trim_start();
            if next.starts_with('(') {
                self.pos = self.src.len() - next.len();
                let inner = self.parse_group(depth, in_value_path)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // Otherwise "not" is the name of an attribute.
        }
        if word.is_empty() {
            return Err(FilterError::at(
                start,
                format!(
                    "expected an attribute name, 'not' or '(', found {}",
                    self.found()
                ),
            ));
        }
        let path = AttrPath::parse(word).map_err(|e| FilterError::at(start, e.reason.clone()))?;
        self.pos += word.len();

        if self.peek() == Some(b'[') {
            if in_value_path {
                return Err(FilterError::at(
                    self.pos,
                    "value filters cannot be nested inside a value filter",
                ));
            }
            if path.sub_attr.is_some() {
                return Err(FilterError::at(
                    start,
                    format!("a value filter applies to a multi-valued attribute, not to {path}"),
                ));
            }
            let open = self.pos;
            let depth = self.enter(depth)?;
            self.pos += 1;
            let inner = self.parse_or(depth, true)?;
            self.skip_ws();
            if self.peek() != Some(b']') {
                return Err(FilterError::at(
                    self.pos,
                    format!(
                        "expected ']' to close the '[' at offset {open}, found {}",
                        self.found()
                    ),
                ));
            }
            self.pos += 1;
            let inner = if self.peek() == Some(b'.') {
                // `emails[type eq "work"].value eq "x"` (Microsoft Entra ID):
                // some element matches the bracket filter and that same
                // element's sub-attribute matches — one value filter with
                // both conditions.
                let sub = self.parse_sub_attr_condition()?;
                Filter::And(Box::new(inner), Box::new(sub))
            } else {
                inner
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }

        self.skip_ws();
        let op_at = self.pos;
        let op_word = self.word_at(op_at);
        if op_word.eq_ignore_ascii_case("pr") {
            self.pos += op_word.len();
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            let message = if word.eq_ignore_ascii_case("not") && !op_word.is_empty() {
                "expected '(' after 'not'".to_owned()
            } else {
                format!(
                    "expected an operator (pr, eq, ne, co, sw, ew, gt, ge, lt, le) after {path}, found {}",
                    self.found()
                )
            };
            return Err(FilterError::at(op_at, message));
        };
        self.pos += op_word.len();
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `.subAttr pr` or `.subAttr op value` after a value filter's `]`, with
    /// the cursor on the dot; the path is relative to the element.
    fn parse_sub_attr_condition(&mut self) -> Result<Filter, FilterError> {
        self.pos += 1;
        let start = self.pos;
        let word = self.word_at(start);
        if word.is_empty() {
            return Err(FilterError::at(
                start,
                format!(
                    "expected a sub-attribute name after '.', found {}",
                    self.found()
                ),
            ));
        }
        let path = AttrPath::parse(word).map_err(|e| FilterError::at(start, e.reason.clone()))?;
        if path.urn.is_some() || path.sub_attr.is_some() {
            return Err(FilterError::at(
                start,
                format!("{word:?} after ']' must be a single sub-attribute name"),
            ));
        }
        self.pos += word.len();
        self.skip_ws();
        let op_at = self.pos;
        let op_word = self.word_at(op_at);
        if op_word.eq_ignore_ascii_case("pr") {
            self.pos += op_word.len();
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            return Err(FilterError::at(
                op_at,
                format!(
                    "expected an operator (pr, eq, ne, co, sw, ew, gt, ge, lt, le) after {path}, found {}",
                    self.found()
                ),
            ));
        };
        self.pos += op_word.len();
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, FilterError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some(b'"') {
            return self.parse_string(start).map(CompValue::Str);
        }
        let bytes = self.src.as_bytes();
        let end = (start..bytes.len())
            .find(|&i| bytes[i].is_ascii_whitespace() || matches!(bytes[i], b')' | b']'))
            .unwrap_or(bytes.len());
        let token = &self.src[start..end];
        if token.is_empty() {
            return Err(FilterError::at(
                start,
                format!("expected a value after '{op}', found {}", self.found()),
            ));
        }
        self.pos = end;
        let value = if token.eq_ignore_ascii_case("true") {
            CompValue::Bool(true)
        } else if token.eq_ignore_ascii_case("false") {
            CompValue::Bool(false)
        } else if token.eq_ignore_ascii_case("null") {
            CompValue::Null
        } else if let Some(n) = parse_number(token) {
            CompValue::Num(n)
        } else {
            // Entra sends some values unquoted; anything else unquoted is a
            // string.
            CompValue::Str(token.to_owned())
        };
        Ok(value)
    }

    /// A JSON string literal starting at the cursor; escapes are decoded by
    /// serde_json so the rules are exactly JSON's.
    fn parse_string(&mut self, start: usize) -> Result<String, FilterError> {
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    let literal = &self.src[start..=i];
                    let decoded = serde_json::from_str::<String>(literal).map_err(|e| {
                        FilterError::at(start, format!("invalid string value: {e}"))
                    })?;
                    self.pos = i + 1;
                    return Ok(decoded);
                }
                _ => i += 1,
            }
        }
        Err(FilterError::at(start, "unterminated string value"))
    }
}

/// A JSON number (RFC 8259 §6). Fractions go through the standard library's
/// correctly rounded `f64` parser so that printed numbers read back exactly.
fn parse_number(token: &str) -> Option<Number> {
    let bytes = token.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let int_len = digits(&mut i);
    if int_len == 0 || (int_len > 1 && bytes[int_start] == b'0') {
        return None;
    }
    let mut integral = true;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
        integral = false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
        integral = false;
    }
    if i != bytes.len() {
        return None;
    }
    if integral {
        if let Ok(n) = token.parse::<i64>() {
            return Some(n.into());
        }
        if let Ok(n) = token.parse::<u64>() {
            return Some(n.into());
        }
    }
    token.parse::<f64>().ok().and_then(Number::from_f64)
}

// ---------------------------------------------------------------------------
// Printing.

impl fmt::Display for Filter {
    /// Prints the filter in a form [`parse`] reads back to the same AST:
    /// parentheses only where precedence or associativity requires them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Or(left, right) => {
                write_operand(f, left, precedence(left) < 1)?;
                f.write_str(" or ")?;
                write_operand(f, right, precedence(right) <= 1)
            }
            Filter::And(left, right) => {
                write_operand(f, left, precedence(left) < 2)?;
                f.write_str(" and ")?;
                write_operand(f, right, precedence(right) <= 2)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn precedence(filter: &Filter) -> u8 {
    match filter {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

// ---------------------------------------------------------------------------
// Validation against the schema.

/// Where a path in a filter is resolved: the resource, or the elements of a
/// multi-valued attribute inside `[ … ]`.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceTypeDef),
    Element(Option<&'static AttributeDef>),
}

/// Checks that every attribute exists and every comparison is meaningful for
/// the attribute's type (RFC 7644 §3.4.2.2: `gt`/`ge`/`lt`/`le` on boolean or
/// binary attributes are invalid). Errors map to `400 invalidFilter`.
pub fn validate(filter: &Filter, rt: &ResourceTypeDef) -> Result<(), FilterError> {
    validate_in(filter, Scope::Resource(rt))
}

/// Validates the filter of a PATCH value path (`emails[type eq "work"]`)
/// against the sub-attributes of the multi-valued attribute it selects from.
pub(crate) fn validate_element_filter(
    filter: &Filter,
    parent: &'static AttributeDef,
) -> Result<(), FilterError> {
    validate_in(filter, Scope::Element(Some(parent)))
}

fn validate_in(filter: &Filter, scope: Scope<'_>) -> Result<(), FilterError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate_in(a, scope)?;
            validate_in(b, scope)
        }
        Filter::Not(inner) => validate_in(inner, scope),
        Filter::Present(path) => validated_def(path, scope).map(|_| ()),
        Filter::Compare { path, op, value } => {
            let def = validated_def(path, scope)?;
            check_comparison(path, def, *op, value)
        }
        Filter::ValuePath { path, filter } => {
            let Scope::Resource(_) = scope else {
                return Err(FilterError::schema(
                    "value filters cannot be nested inside a value filter",
                ));
            };
            let def = validated_def(path, scope)?;
            if path.sub_attr.is_some() || !def.multi_valued {
                return Err(FilterError::schema(format!(
                    "a value filter applies to a multi-valued attribute; {path} is not one"
                )));
            }
            validate_in(filter, Scope::Element(Some(def)))
        }
    }
}

fn validated_def(path: &AttrPath, scope: Scope<'_>) -> Result<&'static AttributeDef, FilterError> {
    match scope {
        Scope::Resource(rt) => {
            let resolved = rt
                .resolve(path)
                .ok_or_else(|| FilterError::schema(format!("unknown attribute {path}")))?;
            Ok(resolved.target())
        }
        Scope::Element(parent) => {
            let parent = parent.ok_or_else(|| FilterError::schema("unknown attribute"))?;
            if path.urn.is_some() || path.sub_attr.is_some() {
                return Err(FilterError::schema(format!(
                    "inside the value filter of {}, {path} must be a plain sub-attribute name",
                    parent.name
                )));
            }
            if !parent.is_complex() {
                // The elements of a simple multi-valued attribute are
                // addressed as `value`.
                return if path.attr.eq_ignore_ascii_case("value") {
                    Ok(parent)
                } else {
                    Err(FilterError::schema(format!(
                        "{} has simple values; inside its value filter use 'value'",
                        parent.name
                    )))
                };
            }
            parent.sub_attribute(&path.attr).ok_or_else(|| {
                FilterError::schema(format!(
                    "{} is not a sub-attribute of {}",
                    path.attr, parent.name
                ))
            })
        }
    }
}

fn check_comparison(
    path: &AttrPath,
    def: &'static AttributeDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let def = if def.is_complex() {
        def.sub_attribute("value").ok_or_else(|| {
            FilterError::schema(format!(
                "{path} is complex; compare one of its sub-attributes instead"
            ))
        })?
    } else {
        def
    };
    if *value == CompValue::Null {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            Err(FilterError::schema(format!(
                "'{op}' cannot compare {path} with null"
            )))
        };
    }
    let invalid = |why: String| Err(FilterError::schema(why));
    match def.ty {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return invalid(format!(
                    "{path} is a boolean; only 'eq' and 'ne' apply, not '{op}'"
                ));
            }
            if value.as_bool().is_none() {
                return invalid(format!(
                    "{path} is a boolean; compare it with true or false"
                ));
            }
        }
        AttrType::Binary if op.is_ordering() => {
            return invalid(format!(
                "'{op}' does not apply to the binary attribute {path}"
            ));
        }
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return invalid(format!("'{op}' does not apply to the number {path}"));
            }
            if !matches!(value, CompValue::Num(_)) {
                return invalid(format!("{path} is a number; compare it with a number"));
            }
        }
        AttrType::DateTime => {
            if op.is_substring() {
                return invalid(format!("'{op}' does not apply to the dateTime {path}"));
            }
            let parsed = match value {
                CompValue::Str(s) => parse_datetime(s),
                _ => None,
            };
            if parsed.is_none() {
                return invalid(format!(
                    "{path} is a dateTime; compare it with an RFC 3339 timestamp such as \"2011-05-13T04:42:34Z\""
                ));
            }
        }
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::Complex => {}
    }
    Ok(())
}

fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

// ---------------------------------------------------------------------------
// In-memory matching.

/// Evaluates `filter` against a stored resource document (core attributes at
/// the top level, extension attributes under their URN key). Comparisons the
/// schema forbids simply do not match; call [`validate`] first to report them.
pub fn matches(filter: &Filter, resource: &Value, rt: &ResourceTypeDef) -> bool {
    eval(filter, resource, Scope::Resource(rt))
}

/// Evaluates the inner filter of a value path against one element of the
/// multi-valued attribute `parent` (`None` for attributes of no schema).
pub(crate) fn element_matches(
    filter: &Filter,
    element: &Value,
    parent: Option<&'static AttributeDef>,
) -> bool {
    eval(filter, element, Scope::Element(parent))
}

fn eval(filter: &Filter, node: &Value, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, node, scope) && eval(b, node, scope),
        Filter::Or(a, b) => eval(a, node, scope) || eval(b, node, scope),
        Filter::Not(inner) => !eval(inner, node, scope),
        Filter::Present(path) => {
            let (_, values) = lookup(node, path, scope);
            values.into_iter().any(is_present)
        }
        Filter::Compare { path, op, value } => {
            let (def, values) = lookup(node, path, scope);
            let (def, values) = compared_through_value(def, values);
            compare_attribute(def, &values, *op, value)
        }
        Filter::ValuePath { path, filter } => {
            let (def, elements) = lookup(node, path, scope);
            elements
                .into_iter()
                .any(|element| eval(filter, element, Scope::Element(def)))
        }
    }
}

/// Finds the definition and the values (arrays flattened) a path denotes.
fn lookup<'v>(
    node: &'v Value,
    path: &AttrPath,
    scope: Scope<'_>,
) -> (Option<&'static AttributeDef>, Vec<&'v Value>) {
    let mut out = Vec::new();
    let (def, attr_value) = match scope {
        Scope::Resource(rt) => {
            let resolved = rt.resolve(path);
            let container = match path.urn.as_deref() {
                Some(urn) if !rt.is_core_urn(urn) => {
                    let key = resolved.map_or(urn, |r| r.schema.id);
                    get_ci(node, key)
                }
                _ => Some(node),
            };
            let name = resolved.map_or(path.attr.as_str(), |r| r.attribute.name);
            let value = container.and_then(|c| get_ci(c, name));
            match path.sub_attr.as_deref() {
                None => (resolved.map(|r| r.attribute), value),
                Some(sub) => {
                    let sub_def = resolved.and_then(|r| r.sub_attribute);
                    let sub_name = sub_def.map_or(sub, |d| d.name);
                    if let Some(v) = value {
                        for item in flatten(v) {
                            match get_ci(item, sub_name) {
                                Some(s) => out.extend(flatten(s)),
                                None if item.is_object() => out.extend(unstated(sub_def)),
                                None => {}
                            }
                        }
                    }
                    return (sub_def, out);
                }
            }
        }
        Scope::Element(parent) => {
            if !node.is_object() && path.attr.eq_ignore_ascii_case("value") {
                // A simple multi-valued attribute: the element is the value.
                out.push(node);
                return (parent, out);
            }
            let def = parent.and_then(|p| p.sub_attribute(&path.attr));
            let name = def.map_or(path.attr.as_str(), |d| d.name);
            let value = get_ci(node, name);
            if value.is_none() && node.is_object() {
                out.extend(unstated(def));
            }
            (def, value)
        }
    };
    if let Some(v) = attr_value {
        out.extend(flatten(v));
    }
    (def, out)
}

/// The value an element's sub-attribute has when the element does not state
/// it: RFC 7643 §2.4 — "If not specified, the value of `primary` SHALL be
/// assumed to be `false`" (which is also what the store indexes).
fn unstated(def: Option<&'static AttributeDef>) -> Option<&'static Value> {
    static FALSE: Value = Value::Bool(false);
    def.filter(|d| d.name == "primary" && d.ty == AttrType::Boolean)
        .map(|_| &FALSE)
}

fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// `emails co "example.com"` compares the `value` sub-attribute.
fn compared_through_value<'v>(
    def: Option<&'static AttributeDef>,
    values: Vec<&'v Value>,
) -> (Option<&'static AttributeDef>, Vec<&'v Value>) {
    let complex_def = def.is_some_and(AttributeDef::is_complex);
    let any_object = values.iter().any(|v| v.is_object());
    if !(complex_def || any_object) {
        return (def, values);
    }
    let value_def = def.and_then(|d| d.sub_attribute("value"));
    if complex_def && value_def.is_none() {
        return (def, Vec::new());
    }
    let inner = values
        .into_iter()
        .filter_map(|v| {
            if v.is_object() {
                get_ci(v, "value")
            } else {
                Some(v)
            }
        })
        .flat_map(flatten)
        .collect();
    (value_def, inner)
}

/// RFC 7644 `pr`: present with a non-empty value.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_attribute(
    def: Option<&'static AttributeDef>,
    values: &[&Value],
    op: CompareOp,
    operand: &CompValue,
) -> bool {
    if *operand == CompValue::Null {
        let present = values.iter().any(|v| is_present(v));
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    match op {
        CompareOp::Ne => !values
            .iter()
            .any(|v| compare_one(def, v, CompareOp::Eq, operand)),
        _ => values.iter().any(|v| compare_one(def, v, op, operand)),
    }
}

fn compare_one(
    def: Option<&'static AttributeDef>,
    candidate: &Value,
    op: CompareOp,
    operand: &CompValue,
) -> bool {
    let ty = match def {
        Some(d) => d.ty,
        None => match candidate {
            Value::String(_) => AttrType::String,
            Value::Bool(_) => AttrType::Boolean,
            Value::Number(_) => AttrType::Decimal,
            _ => return false,
        },
    };
    match ty {
        AttrType::Boolean => {
            let candidate = match candidate {
                Value::Bool(b) => Some(*b),
                Value::String(s) => parse_bool_text(s),
                _ => None,
            };
            op == CompareOp::Eq && candidate.is_some() && candidate == operand.as_bool()
        }
        AttrType::Integer | AttrType::Decimal => {
            let (Value::Number(a), CompValue::Num(b)) = (candidate, operand) else {
                return false;
            };
            compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord))
        }
        AttrType::DateTime => {
            let (Value::String(a), CompValue::Str(b)) = (candidate, operand) else {
                return false;
            };
            match (parse_datetime(a), parse_datetime(b)) {
                (Some(a), Some(b)) if !op.is_substring() => ordering_matches(op, a.cmp(&b)),
                _ => compare_text(a, b, op, true),
            }
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let (Value::String(a), Some(b)) = (candidate, operand.as_text()) else {
                return false;
            };
            let case_exact = def.is_some_and(|d| d.case_exact);
            compare_text(a, &b, op, case_exact)
        }
        AttrType::Complex => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_text(a: &str, b: &str, op: CompareOp, case_exact: bool) -> bool {
    let (a, b) = if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        // The folding the store keeps in its `*_lower` columns.
        (canonical_lower(a), canonical_lower(b))
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordering_matches(op, a.cmp(&b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER, urn};
    use serde_json::json;

    fn p(text: &str) -> Filter {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn attr(text: &str) -> AttrPath {
        AttrPath::parse(text).unwrap()
    }

    fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare {
            path: attr(path),
            op,
            value,
        }
    }

    fn s(text: &str) -> CompValue {
        CompValue::Str(text.to_owned())
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn err(text: &str) -> FilterError {
        match parse(text) {
            Ok(f) => panic!("{text} parsed as {f:?}"),
            Err(e) => e,
        }
    }

    /// Every example filter of RFC 7644 §3.4.2.2, in order.
    const RFC_7644_EXAMPLES: &[&str] = &[
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"title pr"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ];

    #[test]
    fn every_rfc_example_parses_validates_and_round_trips() {
        for text in RFC_7644_EXAMPLES {
            let f = p(text);
            validate(&f, &USER).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p(&f.to_string()), f, "{text}");
        }
    }

    #[test]
    fn rfc_examples_have_the_expected_shape() {
        assert_eq!(
            p(r#"userName eq "bjensen""#),
            cmp("userName", CompareOp::Eq, s("bjensen"))
        );
        assert_eq!(p("title pr"), Filter::Present(attr("title")));
        assert_eq!(
            p(
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
            ),
            and(
                cmp("userType", CompareOp::Ne, s("Employee")),
                not(or(
                    cmp("emails", CompareOp::Co, s("example.com")),
                    cmp("emails.value", CompareOp::Co, s("example.org")),
                )),
            )
        );
        assert_eq!(
            p(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
            and(
                cmp("userType", CompareOp::Eq, s("Employee")),
                Filter::ValuePath {
                    path: attr("emails"),
                    filter: Box::new(and(
                        cmp("type", CompareOp::Eq, s("work")),
                        cmp("value", CompareOp::Co, s("@example.com")),
                    )),
                },
            )
        );
        let qualified = p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#);
        let Filter::Compare { path, .. } = qualified else {
            panic!("not a comparison")
        };
        assert_eq!(path.urn.as_deref(), Some(urn::USER));
        assert_eq!(path.attr, "userName");
    }

    #[test]
    fn and_binds_tighter_than_or_and_both_associate_left() {
        let a = || Filter::Present(attr("a"));
        let b = || Filter::Present(attr("b"));
        let c = || Filter::Present(attr("c"));
        assert_eq!(p("a pr or b pr and c pr"), or(a(), and(b(), c())));
        assert_eq!(p("a pr and b pr or c pr"), or(and(a(), b()), c()));
        assert_eq!(p("a pr or b pr or c pr"), or(or(a(), b()), c()));
        assert_eq!(p("a pr and b pr and c pr"), and(and(a(), b()), c()));
        assert_eq!(p("a pr and (b pr or c pr)"), and(a(), or(b(), c())));
        assert_eq!(p("not (a pr) and b pr"), and(not(a()), b()));
    }

    #[test]
    fn keywords_and_operators_are_case_insensitive() {
        assert_eq!(
            p(r#"userName EQ "x" And title Pr OR NOT (active eq TRUE)"#),
            or(
                and(
                    cmp("userName", CompareOp::Eq, s("x")),
                    Filter::Present(attr("title"))
                ),
                not(cmp("active", CompareOp::Eq, CompValue::Bool(true))),
            )
        );
    }

    #[test]
    fn extra_whitespace_is_tolerated() {
        assert_eq!(
            p("  userName   eq \t \"x\"   and  ( title  pr )  "),
            and(
                cmp("userName", CompareOp::Eq, s("x")),
                Filter::Present(attr("title"))
            )
        );
        assert_eq!(p("not(title pr)"), not(Filter::Present(attr("title"))));
    }

    #[test]
    fn values_are_json_literals() {
        assert_eq!(
            p(r#"displayName eq "a \"quoted\" \\ \u00e9 name""#),
            cmp("displayName", CompareOp::Eq, s("a \"quoted\" \\ é name"))
        );
        assert_eq!(
            p("meta.version eq 12"),
            cmp("meta.version", CompareOp::Eq, CompValue::Num(12.into()))
        );
        assert_eq!(
            p("x gt -1.5e3"),
            cmp(
                "x",
                CompareOp::Gt,
                CompValue::Num(Number::from_f64(-1500.0).unwrap())
            )
        );
        assert_eq!(
            p("active eq false"),
            cmp("active", CompareOp::Eq, CompValue::Bool(false))
        );
        assert_eq!(
            p("title eq null"),
            cmp("title", CompareOp::Eq, CompValue::Null)
        );
    }

    #[test]
    fn numbers_follow_json_grammar_and_anything_else_unquoted_is_a_string() {
        for (token, expected) in [
            ("0", CompValue::Num(0.into())),
            ("-7", CompValue::Num((-7).into())),
            ("18446744073709551615", CompValue::Num(u64::MAX.into())),
            ("2.5E-3", CompValue::Num(Number::from_f64(0.0025).unwrap())),
            ("01", s("01")),
            ("1.", s("1.")),
            (".5", s(".5")),
            ("1e", s("1e")),
            ("+1", s("+1")),
            ("1e400", s("1e400")),
            ("0x1F", s("0x1F")),
        ] {
            assert_eq!(
                p(&format!("x eq {token}")),
                cmp("x", CompareOp::Eq, expected),
                "{token}"
            );
        }
    }

    #[test]
    fn value_filters_hold_nested_logic() {
        let f =
            p(r#"emails[type eq "work" and (value co "@example.com" or not (primary eq false))]"#);
        assert_eq!(
            f,
            Filter::ValuePath {
                path: attr("emails"),
                filter: Box::new(and(
                    cmp("type", CompareOp::Eq, s("work")),
                    or(
                        cmp("value", CompareOp::Co, s("@example.com")),
                        not(cmp("primary", CompareOp::Eq, CompValue::Bool(false))),
                    ),
                )),
            }
        );
        validate(&f, &USER).unwrap();
        assert!(matches(&f, &babs(), &USER));
    }

    #[test]
    fn unquoted_values_from_entra_are_strings() {
        assert_eq!(
            p("externalId eq jyoung"),
            cmp("externalId", CompareOp::Eq, s("jyoung"))
        );
        assert_eq!(
            p("userName eq Test_User_ab6490ee@example.com"),
            cmp(
                "userName",
                CompareOp::Eq,
                s("Test_User_ab6490ee@example.com")
            )
        );
        assert_eq!(
            p("(externalId eq 1a2b) and active eq True"),
            and(
                cmp("externalId", CompareOp::Eq, s("1a2b")),
                cmp("active", CompareOp::Eq, CompValue::Bool(true))
            )
        );
        assert_eq!(
            p("members[value eq 2819c223]"),
            Filter::ValuePath {
                path: attr("members"),
                filter: Box::new(cmp("value", CompareOp::Eq, s("2819c223"))),
            }
        );
    }

    #[test]
    fn entra_value_path_with_a_sub_attribute_comparison() {
        let f = p(r#"emails[type eq "work"].value eq "ada@example.com""#);
        assert_eq!(
            f,
            Filter::ValuePath {
                path: attr("emails"),
                filter: Box::new(and(
                    cmp("type", CompareOp::Eq, s("work")),
                    cmp("value", CompareOp::Eq, s("ada@example.com")),
                )),
            }
        );
        validate(&f, &USER).unwrap();
        assert_eq!(
            p(r#"emails[type eq "work"].value pr and userName pr"#),
            and(
                Filter::ValuePath {
                    path: attr("emails"),
                    filter: Box::new(and(
                        cmp("type", CompareOp::Eq, s("work")),
                        Filter::Present(attr("value")),
                    )),
                },
                Filter::Present(attr("userName")),
            )
        );
        // The same element must satisfy both conditions.
        assert!(m(
            r#"emails[type eq "work"].value eq "BJensen@example.com""#
        ));
        assert!(!m(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(m(r#"emails[type eq "home"].value ew "jensen.org""#));
        assert!(!m(r#"not (emails[type eq "work"].value co "jensen")"#));
        for (text, offset, message) in [
            (r#"emails[type eq "work"]."#, 23, "sub-attribute name"),
            (
                r#"emails[type eq "work"].value"#,
                28,
                "expected an operator",
            ),
            (
                r#"emails[type eq "work"].value.x eq "y""#,
                23,
                "single sub-attribute",
            ),
            (r#"emails[type eq "work"].value eq"#, 31, "expected a value"),
        ] {
            let e = err(text);
            assert_eq!(e.offset, Some(offset), "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
    }

    #[test]
    fn case_insensitive_comparison_folds_unicode() {
        let doc = json!({"userName": "x", "displayName": "Émile Zola", "externalId": "Ärger"});
        assert!(matches(&p(r#"displayName eq "émile zola""#), &doc, &USER));
        assert!(matches(&p(r#"displayName sw "ÉMILE""#), &doc, &USER));
        assert!(!matches(&p(r#"externalId eq "ärger""#), &doc, &USER));
        assert!(matches(&p(r#"externalId sw "Ä""#), &doc, &USER));
    }

    #[test]
    fn an_attribute_may_be_called_not() {
        assert_eq!(p("not pr"), Filter::Present(attr("not")));
        assert_eq!(p(r#"notes eq "x""#), cmp("notes", CompareOp::Eq, s("x")));
    }

    #[test]
    fn urn_qualified_extension_paths_parse() {
        let f = p(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
        );
        let Filter::Compare { path, .. } = &f else {
            panic!("not a comparison")
        };
        assert_eq!(path.urn.as_deref(), Some(urn::ENTERPRISE_USER));
        assert_eq!(path.attr, "manager");
        assert_eq!(path.sub_attr.as_deref(), Some("value"));
        validate(&f, &USER).unwrap();
    }

    #[test]
    fn syntax_errors_say_where_and_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty filter"),
            ("   ", 0, "empty filter"),
            (
                "userName",
                8,
                "expected an operator (pr, eq, ne, co, sw, ew, gt, ge, lt, le) after userName, found the end of the filter",
            ),
            (
                r#"userName equals "x""#,
                9,
                r#"expected an operator (pr, eq, ne, co, sw, ew, gt, ge, lt, le) after userName, found "equals""#,
            ),
            (
                "userName eq",
                11,
                "expected a value after 'eq', found the end of the filter",
            ),
            (r#"userName eq "bjensen"#, 12, "unterminated string value"),
            (
                r#"userName eq "x" nand title pr"#,
                16,
                r#"expected 'and', 'or' or the end of the filter, found "nand""#,
            ),
            (
                r#"(userName eq "x""#,
                16,
                "expected ')' to close the '(' at offset 0, found the end of the filter",
            ),
            (r#"userName eq "x")"#, 15, "unbalanced ')'"),
            (
                r#"emails[type eq "work""#,
                21,
                "expected ']' to close the '[' at offset 6, found the end of the filter",
            ),
            (
                r#"emails[type eq "work"] and"#,
                26,
                "expected an attribute name, 'not' or '(', found the end of the filter",
            ),
            (r#"not userName eq "x""#, 4, "expected '(' after 'not'"),
            (
                r#"emails[addresses[type eq "work"]]"#,
                16,
                "value filters cannot be nested inside a value filter",
            ),
            (
                r#"1userName eq "x""#,
                0,
                "attribute name \"1userName\" must start with a letter",
            ),
            (r#"userName eq "\x""#, 12, "invalid string value"),
        ];
        for (text, offset, message) in cases {
            let e = err(text);
            assert_eq!(e.offset, Some(*offset), "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
        assert_eq!(
            err("userName eq").to_string(),
            "expected a value after 'eq', found the end of the filter (at offset 11)"
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
        let ok = format!("{}title pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(p(&ok), Filter::Present(attr("title")));
        let deep = format!(
            "{}title pr{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(err(&deep).message.contains("deeper than 16"));
        let nots = format!(
            "{}title pr{}",
            "not (".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(err(&nots).message.contains("deeper than 16"));
        // Far past the limit: still an error, and the length cap comes first.
        let huge = format!("{}title pr", "(".repeat(100_000));
        assert!(err(&huge).message.contains("at most 4096"));
    }

    #[test]
    fn long_flat_chains_are_fine_up_to_the_length_limit() {
        let chain = vec![r#"a eq "b""#; 300].join(" and ");
        assert!(chain.len() <= MAX_FILTER_LEN);
        let f = p(&chain);
        assert_eq!(p(&f.to_string()), f);
        let too_long = format!(r#"userName eq "{}""#, "x".repeat(MAX_FILTER_LEN));
        assert_eq!(err(&too_long).offset, Some(MAX_FILTER_LEN));
    }

    #[test]
    fn display_adds_parentheses_only_where_needed() {
        let a = || Filter::Present(attr("a"));
        let b = || Filter::Present(attr("b"));
        let c = || Filter::Present(attr("c"));
        assert_eq!(or(a(), and(b(), c())).to_string(), "a pr or b pr and c pr");
        assert_eq!(
            and(a(), or(b(), c())).to_string(),
            "a pr and (b pr or c pr)"
        );
        assert_eq!(or(a(), or(b(), c())).to_string(), "a pr or (b pr or c pr)");
        assert_eq!(
            and(or(a(), b()), c()).to_string(),
            "(a pr or b pr) and c pr"
        );
        assert_eq!(
            cmp("displayName", CompareOp::Eq, s("say \"hi\"")).to_string(),
            r#"displayName eq "say \"hi\"""#
        );
    }

    // --- validation -------------------------------------------------------

    fn invalid(text: &str) -> String {
        let f = p(text);
        match validate(&f, &USER) {
            Ok(()) => panic!("{text} validated"),
            Err(e) => {
                assert_eq!(e.offset, None);
                e.message
            }
        }
    }

    #[test]
    fn validation_rejects_comparisons_the_rfc_forbids() {
        assert!(invalid("active gt true").contains("only 'eq' and 'ne'"));
        assert!(invalid(r#"active eq "yes""#).contains("true or false"));
        assert!(invalid(r#"x509Certificates.value gt "AAAA""#).contains("binary"));
        assert!(invalid(r#"name co "Jensen""#).contains("name is complex"));
        assert!(invalid(r#"meta eq "x""#).contains("meta is complex"));
        assert!(invalid(r#"meta.lastModified gt "yesterday""#).contains("RFC 3339"));
        assert!(invalid(r#"meta.created co "2011""#).contains("does not apply"));
        assert!(invalid(r#"title gt null"#).contains("null"));
        assert!(invalid(r#"nickname.first eq "x""#).contains("unknown attribute nickname.first"));
        assert!(invalid(r#"employeeNumber eq "1""#).contains("unknown attribute"));
        assert!(
            invalid(r#"emails[kind eq "work"]"#).contains("kind is not a sub-attribute of emails")
        );
        assert!(invalid(r#"userName[value eq "x"]"#).contains("not one"));
    }

    #[test]
    fn validation_accepts_what_idps_send() {
        for text in [
            r#"userName eq "Test_User_ab6490ee@example.com""#,
            "externalId eq 1234",
            r#"active eq "True""#,
            r#"emails[type eq "work" and primary eq true]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            r#"urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces eq "ops""#,
            r#"urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces[value sw "o"]"#,
            "title eq null",
        ] {
            validate(&p(text), &USER).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        validate(&p(r#"displayName eq "Admins""#), &GROUP).unwrap();
        validate(&p(r#"members[value eq "u1"]"#), &GROUP).unwrap();
        assert!(validate(&p(r#"userName eq "x""#), &GROUP).is_err());
    }

    // --- matching ---------------------------------------------------------

    fn babs() -> Value {
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "bjensen",
            "userName": "bjensen@example.com",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "someaimhandle", "type": "aim"}],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"a330bc54f0671c9\""
            },
            urn::ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            },
            urn::ROLLCALL_USER: {"workspaces": ["ops", "Billing"]}
        })
    }

    fn m(text: &str) -> bool {
        matches(&p(text), &babs(), &USER)
    }

    #[test]
    fn case_insensitive_attributes_compare_without_case() {
        assert!(m(r#"userName eq "BJensen@Example.com""#));
        assert!(m(r#"USERNAME sw "bjen""#));
        assert!(m(r#"name.familyName co "o'malley""#));
        assert!(m(r#"userName ew "EXAMPLE.COM""#));
    }

    #[test]
    fn case_exact_attributes_compare_with_case() {
        assert!(m(r#"externalId eq "bjensen""#));
        assert!(!m(r#"externalId eq "BJensen""#));
        assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    }

    #[test]
    fn multi_valued_attributes_match_when_any_value_matches() {
        assert!(m(r#"emails co "jensen.org""#));
        assert!(m(r#"emails.value co "jensen.org""#));
        assert!(m(r#"emails.type eq "home""#));
        assert!(!m(r#"emails.type eq "other""#));
        assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(m(
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        ));
        assert!(m(r#"emails[not (primary eq true)]"#));
        // RFC 7643 §2.4: an unstated `primary` is false.
        assert!(m(r#"emails[type eq "home" and primary eq false]"#));
        assert!(m(r#"emails.primary eq false"#));
        assert!(!m(r#"ims[primary eq true]"#));
        assert!(m(r#"ims[primary eq false]"#));
    }

    #[test]
    fn ne_is_the_negation_of_eq() {
        assert!(m(r#"userType ne "Intern""#));
        assert!(!m(r#"userType ne "employee""#));
        assert!(!m(r#"emails.type ne "home""#));
        assert!(m(r#"nickName ne "Babs""#));
    }

    #[test]
    fn presence_requires_a_non_empty_value() {
        assert!(m("title pr"));
        assert!(!m("nickName pr"));
        assert!(m("emails pr"));
        assert!(m("name pr"));
        let empty =
            json!({"userName": "x", "title": "", "emails": [], "name": {"givenName": null}});
        for text in ["title pr", "emails pr", "name pr"] {
            assert!(!matches(&p(text), &empty, &USER), "{text}");
        }
        assert!(m("title ne null"));
        assert!(m("nickName eq null"));
    }

    #[test]
    fn datetimes_compare_chronologically() {
        assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(m(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
        assert!(!m(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        // Same instant written in another offset.
        assert!(m(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#));
        assert!(m(r#"meta.lastModified lt "2011-05-13T06:42:35+02:00""#));
        assert!(m(r#"meta.created le "2010-01-23T04:56:22Z""#));
    }

    #[test]
    fn strings_order_lexicographically() {
        assert!(m(r#"title gt "tour""#));
        assert!(m(r#"title lt "U""#));
        assert!(!m(r#"title lt "Tour""#));
    }

    #[test]
    fn booleans_match_eq_only() {
        assert!(m("active eq true"));
        assert!(m(r#"active eq "True""#));
        assert!(!m("active eq false"));
        assert!(!m("active gt false"));
        assert!(m("active ne false"));
    }

    #[test]
    fn extension_attributes_are_found_under_their_urn() {
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces eq "billing""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces[value eq "OPS"]"#
        ));
        assert!(!m(
            r#"urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces eq "hr""#
        ));
        assert!(m(
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
        ));
    }

    #[test]
    fn rfc_logical_examples_match_as_expected() {
        assert!(m(r#"title pr and userType eq "Employee""#));
        assert!(m(r#"title pr or userType eq "Intern""#));
        assert!(m(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(!m(
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(m(r#"userType eq "Employee" and (emails.type eq "work")"#));
    }

    #[test]
    fn numbers_compare_numerically_on_unknown_attributes() {
        let doc = json!({"userName": "x", "level": 7, "ratio": 0.5});
        assert!(matches(&p("level gt 6"), &doc, &USER));
        assert!(matches(&p("level eq 7.0"), &doc, &USER));
        assert!(matches(&p("ratio lt 1"), &doc, &USER));
        assert!(!matches(&p("level co 7"), &doc, &USER));
    }

    #[test]
    fn unquoted_numbers_compare_as_text_with_string_attributes() {
        let doc = json!({"userName": "x", "externalId": "12345"});
        assert!(matches(&p("externalId eq 12345"), &doc, &USER));
    }

    // --- property tests -----------------------------------------------------

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z][a-zA-Z0-9_-]{0,7}",
                Just("not".to_owned()),
                Just("and".to_owned()),
                Just("or".to_owned()),
                Just("pr".to_owned()),
                Just("$ref".to_owned()),
            ]
            .prop_filter("$ref is a sub-attribute only", |n| n != "$ref")
        }

        fn sub_name() -> impl Strategy<Value = String> {
            prop_oneof!["[a-zA-Z][a-zA-Z0-9_-]{0,7}", Just("$ref".to_owned())]
        }

        fn path() -> impl Strategy<Value = AttrPath> {
            let urn = prop_oneof![
                Just(None),
                Just(Some(urn::USER.to_owned())),
                Just(Some(urn::ENTERPRISE_USER.to_owned())),
                Just(Some("urn:example:custom:1.0:Thing".to_owned())),
            ];
            (urn, name(), proptest::option::of(sub_name())).prop_map(|(urn, attr, sub_attr)| {
                AttrPath {
                    urn,
                    attr,
                    sub_attr,
                }
            })
        }

        fn relative_path() -> impl Strategy<Value = AttrPath> {
            sub_name().prop_map(AttrPath::new)
        }

        fn value() -> impl Strategy<Value = CompValue> {
            prop_oneof![
                any::<String>().prop_map(CompValue::Str),
                any::<i64>().prop_map(|n| CompValue::Num(n.into())),
                any::<f64>()
                    .prop_filter_map("finite", Number::from_f64)
                    .prop_map(CompValue::Num),
                any::<bool>().prop_map(CompValue::Bool),
                Just(CompValue::Null),
            ]
        }

        fn op() -> impl Strategy<Value = CompareOp> {
            proptest::sample::select(CompareOp::ALL.to_vec())
        }

        fn leaf(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
            prop_oneof![
                path.clone().prop_map(Filter::Present),
                (path, op(), value()).prop_map(|(path, op, value)| Filter::Compare {
                    path,
                    op,
                    value
                }),
            ]
            .boxed()
        }

        fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
            leaf.prop_recursive(4, 24, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    inner.prop_map(|a| Filter::Not(Box::new(a))),
                ]
            })
            .boxed()
        }

        fn filter() -> BoxedStrategy<Filter> {
            let inner = logic(leaf(relative_path().boxed()));
            let value_path = (
                path().prop_map(|mut p| {
                    p.sub_attr = None;
                    p
                }),
                inner,
            )
                .prop_map(|(path, filter)| Filter::ValuePath {
                    path,
                    filter: Box::new(filter),
                });
            let atom = prop_oneof![3 => leaf(path().boxed()), 1 => value_path].boxed();
            logic(atom)
        }

        proptest! {
            #[test]
            fn display_then_parse_is_the_identity(f in filter()) {
                let text = f.to_string();
                let back = parse(&text);
                prop_assert_eq!(back.as_ref(), Ok(&f), "{}", text);
            }

            #[test]
            fn the_parser_never_panics(text in any::<String>()) {
                let _ = parse(&text);
            }

            #[test]
            fn the_parser_never_panics_on_filter_like_text(
                text in r#"[a-z(). \[\]"\\:$-]{0,64}( (eq|and|or|not|pr) [a-z"()\[\]]{0,8}){0,6}"#
            ) {
                let _ = parse(&text);
                let _ = parse_patch_path(&text);
            }

            #[test]
            fn matching_never_panics(f in filter()) {
                let _ = matches(&f, &babs(), &USER);
                let _ = validate(&f, &USER);
            }
        }
    }
}
