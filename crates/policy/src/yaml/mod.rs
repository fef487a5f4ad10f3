//! A YAML/JSON document tree that remembers where every node came from.
//!
//! Policies are read through this tree rather than through derived serde structs so that
//! (a) unknown fields become findings instead of hard errors (renamed CRD fields across Cilium versions),
//! (b) every error can name the file, the document and the line, and
//! (c) an explicitly empty list (`fromEndpoints: []`) stays distinguishable from an absent or
//! null one (C5.4).

pub mod fast;
pub mod json;

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, Options, Spanned};

/// One node of a parsed document with its 1-based source line (0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub value: Value,
}

/// Node payload. Mappings keep their key order so output stays reproducible.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn null(line: u32) -> Node {
        Node {
            line,
            value: Value::Null,
        }
    }

    /// Field lookup on a mapping; `None` for absent keys and for non-mappings.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Scalar as text: how Kubernetes label values and Cilium port strings are compared.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

/// The untyped payload, visited once per node; the span comes from the `Spanned` wrapper.
struct RawValue(Value);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor).map(RawValue)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            let key = match key.value {
                Value::Null => "null".to_owned(),
                Value::Seq(_) | Value::Map(_) => {
                    return Err(de::Error::custom(format!(
                        "line {}: mapping keys must be scalars",
                        key.line
                    )));
                }
                _ => key.scalar_text().unwrap_or_default(),
            };
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawValue>::deserialize(d)?;
        let line = u32::try_from(spanned.referenced.line()).unwrap_or(u32::MAX);
        Ok(Node {
            line,
            value: spanned.value.0,
        })
    }
}

/// Why a document stream could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// 1-based line, 0 when the parser did not say.
    pub line: u32,
    pub message: String,
}

/// Parser budget. Without aliases a node needs at least one input byte, so the node cap scales
/// with the input; an alias bomb expands far beyond its size and is stopped here.
fn options_for(len: usize) -> Options {
    let mut budget = Budget::default();
    budget.max_nodes = budget.max_nodes.max(len.saturating_add(1024));
    budget.max_events = budget
        .max_events
        .max(len.saturating_mul(2).saturating_add(1024));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len.saturating_add(1024));
    budget.max_documents = budget.max_documents.max(len / 8 + 16);
    // Kubernetes objects nest ~15 levels; a low cap keeps recursion within small thread
    // stacks (test threads, 2 MiB) even in debug builds.
    budget.max_depth = 64;
    budget.flow_nesting_limit = 64;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options.leading_zero_numbers_as_strings = true;
    // Label values such as `on` or `y` must stay text; typed fields accept YAML 1.1
    // spellings where we read booleans (see `parse::fields`).
    options.strict_booleans = true;
    options
}

/// Parse every document of a YAML (or JSON) stream. Empty documents are skipped.
/// kubectl-style input takes the fast path ([`fast`]); anything else goes to serde-saphyr.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let head = text.trim_start_matches([' ', '\t', '\r', '\n', '\u{feff}']);
    if head.starts_with(['{', '[']) {
        if let Ok(docs) = json::parse(text) {
            return Ok(docs);
        }
    } else if let Ok(docs) = fast::parse(text) {
        return Ok(docs);
    }
    parse_documents_saphyr(text)
}

/// The reference reader (serde-saphyr with our budget and options).
pub fn parse_documents_saphyr(text: &str) -> Result<Vec<Node>, YamlError> {
    // Deserialisation recurses once per nesting level, with large frames in debug builds; a
    // dedicated thread with a roomy stack keeps the depth budget (not the stack) the limit,
    // whatever thread the caller runs on. Untouched stack pages cost nothing.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("yaml".into())
            .stack_size(SAPHYR_STACK)
            .spawn_scoped(scope, || saphyr_on_this_thread(text))
            .map_err(|e| YamlError {
                line: 0,
                message: format!("cannot start the YAML reader: {e}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(YamlError {
                    line: 0,
                    message: "the YAML reader failed".into(),
                })
            })
    })
}

/// Stack for the serde-saphyr thread.
const SAPHYR_STACK: usize = 64 << 20;

fn saphyr_on_this_thread(text: &str) -> Result<Vec<Node>, YamlError> {
    let docs: Vec<Option<Node>> =
        serde_saphyr::from_multiple_with_options(text, options_for(text.len())).map_err(|e| {
            let line = e
                .location()
                .map(|l| u32::try_from(l.line()).unwrap_or(u32::MAX))
                .unwrap_or(0);
            let message = first_line(&e.to_string());
            YamlError { line, message }
        })?;
    Ok(docs
        .into_iter()
        .flatten()
        .filter(|n| !n.is_null())
        .collect())
}

/// serde-saphyr renders multi-line messages; the first line carries the reason.
fn first_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_empty_lists() {
        let docs = parse_documents("a: 1\nb:\n  c: []\n  d:\n---\n# only a comment\n---\nx: y\n")
            .expect("valid");
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").expect("b");
        assert_eq!(b.line, 3);
        assert_eq!(b.get("c").map(|n| &n.value), Some(&Value::Seq(vec![])));
        assert!(b.get("d").is_some_and(Node::is_null));
        assert_eq!(
            docs[1].get("x").and_then(Node::scalar_text).as_deref(),
            Some("y")
        );
    }

    #[test]
    fn json_is_read_too() {
        let docs = parse_documents("{\"kind\": \"List\", \"items\": [{\"a\": 80}]}").expect("json");
        let items = docs[0].get("items").expect("items");
        let Value::Seq(items) = &items.value else {
            panic!("items is a list")
        };
        assert_eq!(items[0].get("a").map(|n| &n.value), Some(&Value::Int(80)));
    }

    #[test]
    fn leading_zero_stays_text() {
        let docs = parse_documents("v: 0755\n").expect("valid");
        assert_eq!(
            docs[0].get("v").and_then(Node::scalar_text).as_deref(),
            Some("0755")
        );
    }

    #[test]
    fn alias_bomb_is_an_error() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_documents(&s).expect_err("bomb must be refused");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn malformed_yaml_names_a_line() {
        let err = parse_documents("a: 1\nb: [1, 2\nc: 3\n").expect_err("unclosed flow");
        assert!(err.line >= 2, "line {} message {}", err.line, err.message);
    }
}
