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
