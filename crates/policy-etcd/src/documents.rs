//! Converted objects keyed by etcd key. Each stored object is decoded and converted once, when
//! it is read or changes (`policy::input::Converted`: its pods, nodes..., its parsed policies);
//! building the policy input assembles those conversions in key order, sharing the pods, so a
//! change costs one decode and one conversion plus an assembly of pointers, never a reading of
//! every document again.

use std::collections::BTreeMap;

use std::sync::Arc;

use policy::findings::Finding;
use policy::input::{Conversions, Converted, InputSpec, Loaded};
use policy::model::PolicySet;
use policy::source::Document;

use crate::error::Error;
use crate::prefixes::is_wanted;

/// The converted objects of the keys under [`crate::PREFIXES`], and the keys that could not be
/// decoded with why (they are left out of the model, and said).
#[derive(Debug, Default, Clone)]
pub struct Documents {
    /// In key order: the input is assembled in this order, as from a listing.
    converted: Conversions,
    undecoded: BTreeMap<String, String>,
    /// The policy half of the last input built, while no object that gives the policy set
    /// anything has changed since: most watch updates (pods, nodes) reuse it. Kept only with no
    /// proposed policy files, which are read again on every build.
    policies: Option<Policies>,
}

type Policies = (Arc<PolicySet>, Vec<Finding>);

/// What a put or a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The key is not one the model reads.
    Ignored,
    /// The key's documents were replaced, added or removed.
    Applied,
    /// The key's value could not be decoded: it is out of the model (see [`Documents::undecoded`]).
    Undecoded,
}

impl Documents {
    pub fn new() -> Documents {
        Documents::default()
    }

    /// The object stored under `key` is now `value` (written at `mod_revision`).
    pub fn put(&mut self, key: &[u8], value: &[u8], mod_revision: i64) -> Change {
        if !is_wanted(key) {
            return Change::Ignored;
        }
        let name = String::from_utf8_lossy(key).into_owned();
        match decode(&name, value, mod_revision) {
            Ok(docs) => {
                self.undecoded.remove(&name);
                let changed = self.converted.insert(name, Converted::of(&docs));
                self.forget_policies_if(changed);
                Change::Applied
            }
            Err(why) => {
                let changed = self.converted.remove(&name);
                self.forget_policies_if(changed);
                self.undecoded.insert(name, why);
                Change::Undecoded
            }
        }
    }

    /// The object under `key` was deleted.
    pub fn delete(&mut self, key: &[u8]) -> Change {
        if !is_wanted(key) {
            return Change::Ignored;
        }
        let name = String::from_utf8_lossy(key);
        self.undecoded.remove(name.as_ref());
        let changed = self.converted.remove(name.as_ref());
        self.forget_policies_if(changed);
        Change::Applied
    }

    fn forget_policies_if(&mut self, changed: bool) {
        if changed {
            self.policies = None;
        }
    }

    /// Keys whose objects are in the model, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.converted.keys()
    }

    /// Keys left out of the model, each with why.
    pub fn undecoded(&self) -> &BTreeMap<String, String> {
        &self.undecoded
    }

    /// The policy input: the policies in force and the inventory of these objects, with
    /// `spec`'s proposed policies and Cilium settings on top (as `policy::input` defines it);
    /// what `policy::input::load_from_documents` gives for their documents in key order.
    pub fn build(&mut self, spec: &InputSpec) -> Result<Loaded, Error> {
        let (policies, findings) = match &self.policies {
            Some(kept) if spec.policies.is_empty() => kept.clone(),
            _ => {
                let made = self.converted.policies(spec)?;
                if spec.policies.is_empty() {
                    self.policies = Some(made.clone());
                }
                made
            }
        };
        let inventory = self.converted.inventory(spec)?;
        Ok(Loaded {
            policies,
            inventory,
            findings,
        })
    }

    /// A short line naming the first undecoded keys, for a note; `None` when all decoded.
    pub fn undecoded_summary(&self) -> Option<String> {
        if self.undecoded.is_empty() {
            return None;
        }
        let first: Vec<String> = self
            .undecoded
            .iter()
            .take(5)
            .map(|(k, why)| format!("{k} ({why})"))
            .collect();
        Some(format!(
            "{} object(s) could not be decoded and are left out of the inventory: {}",
            self.undecoded.len(),
            first.join("; ")
        ))
    }
}

/// One stored value as documents named `etcd:KEY`, so an error points at the key.
fn decode(name: &str, value: &[u8], mod_revision: i64) -> Result<Vec<Document>, String> {
    let (object, note) =
        registry::decode_object(value, mod_revision, registry::ViewOptions::default());
    let Some(object) = object else {
        return Err(note.unwrap_or_else(|| "not a Kubernetes object".to_owned()));
    };
    policy::source::load_value(&format!("etcd:{name}"), serde_json::Value::Object(object))
        .map_err(|e| e.to_string())
}

/// The policy input from objects read under [`crate::PREFIXES`] (live or from a snapshot),
/// and the decoded documents it was built from (their [`Documents::undecoded_summary`] says
/// what was left out).
pub fn loaded_from_kvs(
    kvs: &[store::objects::LatestKv],
    spec: &InputSpec,
) -> Result<(Loaded, Documents), Error> {
    let mut docs = Documents::new();
    for kv in kvs {
        docs.put(&kv.key, &kv.value, kv.mod_revision);
    }
    let loaded = docs.build(spec)?;
    Ok((loaded, docs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node}}))
        .unwrap_or_default()
    }

    #[test]
    fn puts_and_deletes_keep_key_order() {
        let mut d = Documents::new();
        for n in ["c", "a", "b"] {
            let key = format!("/registry/pods/default/{n}");
            assert_eq!(d.put(key.as_bytes(), &pod(n, "x"), 1), Change::Applied);
        }
        assert_eq!(d.put(b"/registry/events/x", b"{}", 1), Change::Ignored);
        d.put(b"/registry/pods/default/a", &pod("a", "y"), 2);
        assert_eq!(
            d.keys().collect::<Vec<_>>(),
            ["a", "b", "c"].map(|n| format!("/registry/pods/default/{n}"))
        );
        d.delete(b"/registry/pods/default/b");
        assert_eq!(d.keys().count(), 2);
        assert_eq!(
            d.put(b"/registry/pods/default/a", b"\x00junk", 3),
            Change::Undecoded
        );
        assert_eq!(
            d.keys().count(),
            1,
            "an undecodable value takes its key out"
        );
        assert!(d.undecoded_summary().is_some());
        d.delete(b"/registry/pods/default/a");
        assert!(d.undecoded_summary().is_none());
    }
}

#[cfg(test)]
mod differential;
