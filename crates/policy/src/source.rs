//! Reading inputs: files, folders (recursive, sorted), multi-document streams and `kind: List`.

use std::path::{Path, PathBuf};

use crate::error::LoadError;
use crate::model::Origin;
use crate::yaml::{self, Node, Value};

/// One Kubernetes object and where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub origin: Origin,
    pub node: Node,
}

impl Document {
    pub fn kind(&self) -> &str {
        str_field(&self.node, "kind").unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        str_field(&self.node, "apiVersion").unwrap_or("")
    }
}

fn str_field<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    match node.get(key).map(|n| &n.value) {
        Some(Value::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Load every object under `path` (a file or a folder), each file read as `kind` (its size
/// limit and its name in errors).
pub fn load_path(path: &Path, kind: inputs::Kind) -> Result<Vec<Document>, LoadError> {
    let mut docs = Vec::new();
    for file in files_of(path, kind)? {
        let bytes = inputs::read(&file, kind)?;
        docs.extend(load_bytes(&file.display().to_string(), &bytes)?);
    }
    Ok(docs)
}

/// The files behind a path: itself, or the YAML/JSON files of a folder tree, sorted. A folder
/// is walked by `inputs::walk`: links stay inside it and a link loop is an error, not a
/// recursion.
pub fn files_of(path: &Path, kind: inputs::Kind) -> Result<Vec<PathBuf>, LoadError> {
    let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
    if !is_dir {
        // `inputs::read` says what is wrong with anything that is not a regular file.
        return Ok(vec![path.to_owned()]);
    }
    let files = inputs::walk(path, kind, &is_manifest)?;
    if files.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(files)
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// Files at least this large are tried as one big `List` read in parallel.
const BIG_FILE: usize = 1 << 20;

/// Apply `f` to every object under `path`, in input order. Large `List` files (the output of
/// `kubectl get pods -o yaml` on a big cluster) are parsed and converted item by item on
/// several threads, so their whole document tree is never in memory at once.
pub fn load_objects<T: Send>(
    path: &Path,
    kind: inputs::Kind,
    f: &(dyn Fn(&Document) -> T + Sync),
) -> Result<Vec<T>, LoadError> {
    let mut out = Vec::new();
    for file in files_of(path, kind)? {
        let bytes = inputs::read(&file, kind)?;
        let name = file.display().to_string();
        if bytes.len() >= BIG_FILE
            && let Ok(text) = std::str::from_utf8(&bytes)
            && let Some(items) = big_list(&name, text, f)
        {
            out.extend(items);
            continue;
        }
        out.extend(load_bytes(&name, &bytes)?.iter().map(f));
    }
    Ok(out)
}

/// The parallel path for one big `List`; `None` when the file is not one.
fn big_list<T: Send>(
    name: &str,
    text: &str,
    f: &(dyn Fn(&Document) -> T + Sync),
) -> Option<Vec<T>> {
    // The list's own kind must be known before items are converted: read it from the text.
    let kind = text
        .lines()
        .find_map(|l| l.strip_prefix("kind:"))
        .map(|k| k.trim().trim_matches(['"', '\'']).to_owned())?;
    let item_kind = kind.strip_suffix("List")?.to_owned();
    let convert = |mut node: Node| {
        if node.get("kind").is_none() && !item_kind.is_empty() {
            let line = node.line;
            if let Value::Map(e) = &mut node.value {
                e.push((
                    "kind".to_owned(),
                    Node {
                        line,
                        value: Value::Str(item_kind.clone()),
                    },
                ));
            }
        }
        let origin = Origin {
            file: name.to_owned(),
            doc: 1,
            line: node.line,
        };
        f(&Document { origin, node })
    };
    match crate::yaml::fast::parse_list_items(text, &convert) {
        Ok(Some((head, items))) if str_field(&head, "kind") == Some(kind.as_str()) => Some(items),
        _ => None,
    }
}

/// Load objects from bytes; `name` is used in errors.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Vec<Document>, LoadError> {
    let text = std::str::from_utf8(bytes).map_err(|_| LoadError::NotText {
        path: PathBuf::from(name),
    })?;
    let nodes = yaml::parse_documents(text).map_err(|e| LoadError::Syntax {
        path: PathBuf::from(name),
        line: e.line,
        message: e.message,
    })?;
    Ok(documents(name, nodes))
}

/// Load one already-parsed object (a `serde_json::Value`, as a decoder of stored objects
/// produces it) without writing it out as text and reading it back; `name` is used in errors
/// and as the origin of every document, with line 1 (the value had no lines). A `kind: List`
/// is flattened as [`load_bytes`] does; nesting deeper than text input may have is refused.
pub fn load_value(name: &str, value: serde_json::Value) -> Result<Vec<Document>, LoadError> {
    let node = node_of(value, 0).ok_or_else(|| LoadError::Syntax {
        path: PathBuf::from(name),
        line: 1,
        message: format!("nested deeper than {MAX_DEPTH} levels"),
    })?;
    Ok(if node.is_null() {
        Vec::new()
    } else {
        documents(name, vec![node])
    })
}

/// The nesting limit of the text readers (`yaml::json`, the serde-saphyr budget).
const MAX_DEPTH: usize = 64;

/// The tree the JSON reader builds for the same value (integers that fit i64 stay integers).
fn node_of(value: serde_json::Value, depth: usize) -> Option<Node> {
    use serde_json::Value as J;
    let value = match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s),
        J::Array(items) if depth < MAX_DEPTH => Value::Seq(
            items
                .into_iter()
                .map(|v| node_of(v, depth + 1))
                .collect::<Option<_>>()?,
        ),
        J::Object(map) if depth < MAX_DEPTH => Value::Map(
            map.into_iter()
                .map(|(k, v)| Some((k, node_of(v, depth + 1)?)))
                .collect::<Option<_>>()?,
        ),
        J::Array(_) | J::Object(_) => return None,
    };
    Some(Node { line: 1, value })
}

/// Numbered documents from parsed nodes, lists flattened.
fn documents(name: &str, nodes: Vec<Node>) -> Vec<Document> {
    let mut docs = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let origin = Origin {
            file: name.to_owned(),
            doc: i + 1,
            line: node.line,
        };
        flatten(origin, node, &mut docs);
    }
    docs
}

/// `kind: List`, `PodList`, `NamespaceList`...: each item becomes its own document. Items are
/// moved, not copied: inventories can hold 10^5 of them.
fn flatten(origin: Origin, mut node: Node, out: &mut Vec<Document>) {
    let list_kind = str_field(&node, "kind")
        .filter(|k| k.ends_with("List"))
        .map(|k| k.trim_end_matches("List").to_owned());
    if let (Some(item_kind), Value::Map(entries)) = (list_kind, &mut node.value)
        && let Some(pos) = entries
            .iter()
            .position(|(k, v)| k == "items" && matches!(v.value, Value::Seq(_)))
    {
        let (_, items) = entries.swap_remove(pos);
        let Value::Seq(items) = items.value else {
            return;
        };
        for mut item in items {
            let origin = Origin {
                line: item.line,
                ..origin.clone()
            };
            // Items of a typed list (`PodList`) carry no kind of their own.
            if item.get("kind").is_none() && !item_kind.is_empty() {
                let line = item.line;
                if let Value::Map(e) = &mut item.value {
                    e.push((
                        "kind".to_owned(),
                        Node {
                            line,
                            value: Value::Str(item_kind.clone()),
                        },
                    ));
                }
            }
            flatten(origin, item, out);
        }
        return;
    }
    out.push(Document { origin, node });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value path must give the tree the text path gives for the same object.
    #[test]
    fn load_value_matches_load_bytes() {
        let value = serde_json::json!({"kind": "List", "items": [
            {"kind": "Pod", "metadata": {"name": "a", "labels": {"x": "on"}},
             "spec": {"n": 3, "f": 1.5, "big": u64::MAX, "e": [], "z": null, "b": true}}]});
        let text = serde_json::to_vec(&value).expect("json");
        let from_text = load_bytes("etcd:/k", &text).expect("text");
        let from_value = load_value("etcd:/k", value).expect("value");
        assert_eq!(from_text.len(), 1);
        assert_eq!(from_value.len(), 1);
        assert_eq!(from_text[0].node, from_value[0].node);
        assert_eq!(from_text[0].origin, from_value[0].origin);
    }

    #[test]
    fn load_value_refuses_deep_nesting() {
        let mut v = serde_json::json!(1);
        for _ in 0..100 {
            v = serde_json::json!([v]);
        }
        assert!(matches!(
            load_value("etcd:/deep", v),
            Err(LoadError::Syntax { .. })
        ));
    }
}
