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

/// Load every object under `path` (a file or a folder).
pub fn load_path(path: &Path) -> Result<Vec<Document>, LoadError> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(LoadError::Empty {
                path: path.to_owned(),
            });
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut docs = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| LoadError::Io {
            path: file.clone(),
            source,
        })?;
        docs.extend(load_bytes(&file.display().to_string(), &bytes)?);
    }
    Ok(docs)
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
    let mut docs = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let origin = Origin {
            file: name.to_owned(),
            doc: i + 1,
            line: node.line,
        };
        flatten(origin, node, &mut docs);
    }
    Ok(docs)
}

/// `kind: List`, `PodList`, `NamespaceList`...: each item becomes its own document.
fn flatten(origin: Origin, node: Node, out: &mut Vec<Document>) {
    let list_kind = str_field(&node, "kind")
        .filter(|k| k.ends_with("List"))
        .map(|k| k.trim_end_matches("List").to_owned());
    if let Some(item_kind) = list_kind {
        if let Some(Node {
            value: Value::Seq(items),
            ..
        }) = node.get("items")
        {
            for item in items {
                let origin = Origin {
                    line: item.line,
                    ..origin.clone()
                };
                let mut item = item.clone();
                // Items of a typed list (`PodList`) carry no kind of their own.
                if item.get("kind").is_none() && !item_kind.is_empty() {
                    if let Value::Map(entries) = &mut item.value {
                        entries.push((
                            "kind".to_owned(),
                            Node {
                                line: item.line,
                                value: Value::Str(item_kind.clone()),
                            },
                        ));
                    }
                }
                flatten(origin, item, out);
            }
            return;
        }
    }
    out.push(Document { origin, node });
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(path);
        }
    }
    Ok(())
}
