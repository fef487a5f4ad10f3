//! A checked reader over `yaml::Node`: typed getters that record errors with their field
//! path, and unknown-field findings (how renamed CRD fields are caught).

use crate::error::ParseError;
use crate::findings::{Finding, Severity};
use crate::model::Origin;
use crate::yaml::{Node, Value};

/// Whose validation a document meets: Kubernetes' for NetworkPolicy, Cilium's CRD schema and
/// agent for CNP/CCNP. They differ on ports, protocols and label keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Kubernetes,
    Cilium,
}

pub(crate) struct Cx<'a> {
    pub origin: &'a Origin,
    pub api: Api,
    pub errors: Vec<ParseError>,
    pub findings: Vec<Finding>,
    /// Uses of fields newer than some Cilium versions (judged once the version is known).
    pub versioned: Vec<super::versions::FieldUse>,
}

impl<'a> Cx<'a> {
    pub fn new(origin: &'a Origin) -> Cx<'a> {
        Cx {
            origin,
            api: Api::Kubernetes,
            errors: Vec::new(),
            findings: Vec::new(),
            versioned: Vec::new(),
        }
    }

    pub fn error(&mut self, line: u32, field: &str, message: impl Into<String>) {
        self.errors.push(ParseError {
            file: self.origin.file.clone(),
            doc: self.origin.doc,
            line,
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn warn(&mut self, code: &'static str, line: u32, rules: &[&'static str], msg: String) {
        self.findings.push(
            Finding::new(Severity::Warning, code, msg)
                .at(format!("{}:{}", self.origin.file, line))
                .rules(rules),
        );
    }

    /// Report keys of a mapping that are not in `known` (C1: unknown fields are findings).
    pub fn check_known(&mut self, node: &Node, path: &str, known: &[&str]) {
        if let Value::Map(entries) = &node.value {
            for (k, v) in entries {
                if !known.contains(&k.as_str()) {
                    self.warn(
                        "unknown-field",
                        v.line,
                        &["C1"],
                        format!(
                            "{path}.{k}: unknown field (ignored by the API server; a renamed or \
                             misspelled field leaves the policy doing something else)"
                        ),
                    );
                }
            }
        }
    }

    /// A mapping, or `None` (with an error) when the node has another type.
    pub fn map<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n Node> {
        match &node.value {
            Value::Map(_) => Some(node),
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a mapping, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A list, or `None` (with an error) when the node has another type.
    pub fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a list, found {}", node.type_name()),
                );
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => node.scalar_text(),
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A string as the API server takes it: a number or boolean is refused there (a label
    /// value `true` fails to decode into a string), so it is an error here, with the fix.
    pub fn strict_string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                let text = node.scalar_text().unwrap_or_default();
                self.error(
                    node.line,
                    path,
                    format!(
                        "expected a string, found the {} {text}; write '{text}' in quotes",
                        node.type_name()
                    ),
                );
                None
            }
            _ => self.string(node, path),
        }
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            // YAML 1.1 spellings, as kubectl's YAML reader accepts them.
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "on" | "y" => Some(true),
                "no" | "off" | "n" => Some(false),
                _ => {
                    self.error(node.line, path, format!("expected a boolean, found {s:?}"));
                    None
                }
            },
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a boolean, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A string list; non-string items are errors.
    pub fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let items = self.list(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &format!("{path}[{i}]")) {
                out.push(s);
            }
        }
        Some(out)
    }
}

/// A present, non-null field (YAML `key:` with nothing after it is null = absent, C5.4).
pub(crate) fn field<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    node.get(key).filter(|n| !n.is_null())
}
