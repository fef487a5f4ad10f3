//! Objects → typed policies. Invalid policies (C1) are errors naming file, document and field;
//! unknown fields and other oddities are findings.

pub(crate) mod cilium;
pub(crate) mod common;
pub(crate) mod knp;
pub(crate) mod meta;
pub(crate) mod reader;
pub mod versions;

use crate::error::ParseError;
use crate::findings::Finding;
use crate::model::PolicySet;
use crate::source::Document;

/// Result of reading the policy objects of a document set.
#[derive(Debug, Default)]
pub struct Parsed {
    pub policies: PolicySet,
    pub findings: Vec<Finding>,
    pub errors: Vec<ParseError>,
}

/// True for the kinds this module reads.
pub fn is_policy_kind(kind: &str) -> bool {
    matches!(
        kind,
        "NetworkPolicy" | "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy"
    )
}

/// What a document that is not a policy is, for errors and findings: `Pod shop/web`,
/// `a string ("hello")`, `a mapping without kind`.
pub fn describe_other(doc: &Document) -> String {
    use crate::yaml::Value;
    let name = |key: &str| {
        reader::field(&doc.node, "metadata")
            .and_then(|m| reader::field(m, key))
            .and_then(|n| n.scalar_text())
    };
    match &doc.node.value {
        Value::Map(_) if doc.kind().is_empty() => "a mapping without kind".to_owned(),
        Value::Map(_) => {
            let id = match (name("namespace"), name("name")) {
                (Some(ns), Some(n)) => format!(" {ns}/{n}"),
                (None, Some(n)) => format!(" {n}"),
                _ => String::new(),
            };
            format!("{}{id}", doc.kind())
        }
        Value::Null => "an empty document".to_owned(),
        Value::Str(s) => {
            let short: String = s.chars().take(40).collect();
            format!("a string ({short:?})")
        }
        _ => format!("a {}", doc.node.type_name()),
    }
}

/// Kinds a policy kind is easily mistyped as: such an object is almost surely a policy that
/// the API server would refuse, not a resource meant to be ignored.
pub fn looks_like_policy_kind(kind: &str) -> bool {
    let k = kind.to_ascii_lowercase();
    !is_policy_kind(kind) && k.contains("networkpolic")
}

/// Parse every policy object among `docs`; other kinds are left to the inventory.
pub fn policies(docs: &[Document]) -> Parsed {
    let mut out = Parsed::default();
    for doc in docs {
        let kind = doc.kind();
        if !is_policy_kind(kind) {
            continue;
        }
        let mut cx = reader::Cx::new(&doc.origin);
        let md = meta::meta(&mut cx, &doc.node);
        match kind {
            "NetworkPolicy" => {
                if let Some(p) = knp::network_policy(&mut cx, &doc.node, md)
                    && cx.errors.is_empty()
                {
                    out.policies.network_policies.push(p);
                }
            }
            "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy" => {
                let cw = kind == "CiliumClusterwideNetworkPolicy";
                if let Some(p) = cilium::cilium_policy(&mut cx, &doc.node, md, cw)
                    && cx.errors.is_empty()
                {
                    out.policies.cilium.push(p);
                }
            }
            _ => {}
        }
        out.errors.append(&mut cx.errors);
        out.findings.append(&mut cx.findings);
    }
    out
}
