//! `metadata` of an object: name, namespace, labels.

use std::collections::BTreeMap;

use super::reader::{Cx, field};
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
}

pub(crate) fn meta(cx: &mut Cx, doc: &Node) -> Meta {
    let mut m = Meta::default();
    let Some(md) = field(doc, "metadata").and_then(|n| cx.map(n, "metadata")) else {
        cx.error(doc.line, "metadata", "object has no metadata");
        return m;
    };
    match field(md, "name").and_then(|n| cx.string(n, "metadata.name")) {
        Some(n) => m.name = n,
        None => cx.error(md.line, "metadata.name", "object has no name"),
    }
    m.namespace = field(md, "namespace")
        .and_then(|n| cx.string(n, "metadata.namespace"))
        .filter(|s| !s.is_empty());
    m.labels = string_map(cx, md, "labels", "metadata.labels");
    m
}

/// The namespace of a namespaced policy; without one, `default` is assumed and said: `kubectl
/// apply` puts it in the namespace of the current context, which may be another.
pub(crate) fn namespace_or_default(cx: &mut Cx, doc: &Node, meta: &Meta, kind: &str) -> String {
    if let Some(ns) = &meta.namespace {
        return ns.clone();
    }
    cx.findings.push(
        crate::findings::Finding::new(
            crate::findings::Severity::Info,
            "namespace-assumed",
            format!(
                "{kind} {} has no metadata.namespace: checked in `default`; `kubectl apply` puts it in your context's namespace (or the one -n names). Write the namespace to be sure",
                meta.name
            ),
        )
        .at(format!("{}:{}", cx.origin.file, doc.line)),
    );
    "default".to_owned()
}

pub(crate) fn string_map(
    cx: &mut Cx,
    node: &Node,
    key: &str,
    path: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(Node {
        value: Value::Map(entries),
        ..
    }) = field(node, key)
    {
        for (k, v) in entries {
            // Paths are only built on error: inventories hold 10^5 objects.
            let value = match &v.value {
                Value::Null => Some(String::new()),
                Value::Str(s) => Some(s.clone()),
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => v.scalar_text(),
                _ => cx.string(v, &format!("{path}.{k}")),
            };
            if let Some(value) = value {
                out.insert(k.clone(), value);
            }
        }
    }
    out
}
