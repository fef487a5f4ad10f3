//! The protobuf schema of every Kubernetes type, as a static table.
//!
//! `generated.rs` is written by `gen/schema.py` from k8s-pb (tags, wire types, resources) and
//! k8s-openapi (the JSON names). Messages refer to each other by index into [`MESSAGES`].

#[rustfmt::skip]
mod generated;

pub use generated::{MESSAGES, RESOURCES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    Message(u16),
    Map(MapValue),
}

/// Map keys are always strings in Kubernetes types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapValue {
    String,
    Bytes,
    Message(u16),
}

#[derive(Debug)]
pub struct FieldDef {
    pub tag: u32,
    /// The JSON name; "" for an embedded Go struct whose fields sit in the parent.
    pub json: &'static str,
    pub ty: Ty,
    pub repeated: bool,
}

#[derive(Debug)]
pub struct MessageDef {
    /// `api.core.v1.Pod`: k8s-pb's module path and the type name.
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

impl MessageDef {
    pub fn field(&self, tag: u32) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.tag == tag)
    }
}

/// A built-in resource (k8s-pb's `Resource` impls).
#[derive(Debug)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub subresource: bool,
    pub message: u16,
}

pub fn message(index: u16) -> &'static MessageDef {
    // Indices come from the generated table itself, so they are always in range.
    &MESSAGES[usize::from(index)]
}

pub fn message_by_name(name: &str) -> Option<&'static MessageDef> {
    MESSAGES.iter().find(|m| m.name == name)
}

/// The message of `kind` in `apiVersion`, as the protobuf envelope names them.
pub fn message_for(api_version: &str, kind: &str) -> Option<&'static MessageDef> {
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    if let Some(r) = RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
    {
        return Some(message(r.message));
    }
    // Kinds without a Resource impl (lists, events of old groups): the module path follows
    // the group's first label, as k8s-pb lays it out.
    let module = match group {
        "" => "api.core".to_string(),
        "apiextensions.k8s.io" => "apiextensions_apiserver.pkg.apis.apiextensions".to_string(),
        "apiregistration.k8s.io" => "kube_aggregator.pkg.apis.apiregistration".to_string(),
        "internal.apiserver.k8s.io" => "api.apiserverinternal".to_string(),
        g => format!("api.{}", g.split('.').next().unwrap_or(g)),
    };
    message_by_name(&format!("{module}.{version}.{kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_keep_kubernetes_acronyms() {
        let status = message_for("v1", "Pod")
            .and_then(|pod| pod.field(3))
            .expect("pod status");
        let Ty::Message(idx) = status.ty else {
            panic!("status is a message")
        };
        let names: Vec<_> = message(idx).fields.iter().map(|f| f.json).collect();
        for want in ["podIP", "podIPs", "hostIP", "qosClass", "startTime"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
    }

    #[test]
    fn kinds_resolve_across_groups() {
        for (v, k, want) in [
            ("apps/v1", "DaemonSet", "api.apps.v1.DaemonSet"),
            (
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "api.networking.v1.NetworkPolicy",
            ),
            (
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "api.admissionregistration.v1.ValidatingWebhookConfiguration",
            ),
            (
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            ),
            ("v1", "ConfigMap", "api.core.v1.ConfigMap"),
        ] {
            assert_eq!(message_for(v, k).map(|m| m.name), Some(want), "{v} {k}");
        }
        assert!(message_for("cilium.io/v2", "CiliumNetworkPolicy").is_none());
    }

    #[test]
    fn embedded_structs_are_marked_inline() {
        let m = message_by_name("api.core.v1.ConfigMapKeySelector").expect("message");
        assert!(m.fields.iter().any(|f| f.json.is_empty()));
    }
}
