//! Objects → typed policies. Invalid policies (C1) are errors naming file, document and field;
//! unknown fields and other oddities are findings.

pub(crate) mod cilium;
pub(crate) mod common;
pub(crate) mod knp;
pub(crate) mod meta;
pub(crate) mod reader;
pub(crate) mod valid;
pub mod versions;

use crate::error::ParseError;
use crate::findings::Finding;
use crate::model::PolicySet;
use crate::source::Document;

/// Result of reading the policy objects of a document set.
#[derive(Debug, Clone, Default)]
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

/// The API group and version that serve the kind: another one is refused by the API server.
fn api_version(cx: &mut reader::Cx, doc: &Document) {
    let want = match cx.api {
        reader::Api::Kubernetes => "networking.k8s.io/v1",
        reader::Api::Cilium => "cilium.io/v2",
    };
    let got = doc.api_version();
    if got != want {
        cx.error(
            doc.node.line,
            "apiVersion",
            format!(
                "{} is served as apiVersion {want}, not {got:?}; write `apiVersion: {want}`",
                doc.kind()
            ),
        );
    }
}

/// How names the API server would refuse are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// An error: the policy is about to be applied (check, lint, diff).
    Checked,
    /// A finding: the folder is analysed as np-guard does, names play no part.
    Lenient,
}

/// `metadata.name` (a DNS subdomain) and `metadata.namespace` (a DNS label).
fn names(cx: &mut reader::Cx, doc: &Document, md: &meta::Meta, mode: Names) {
    let line = doc.node.line;
    let mut problems = Vec::new();
    if !md.name.is_empty()
        && let Err(e) = valid::dns_subdomain(&md.name)
    {
        problems.push(("metadata.name", e));
    }
    if let Some(ns) = &md.namespace
        && let Err(e) = valid::dns_label(ns)
    {
        problems.push(("metadata.namespace", e));
    }
    for (field, e) in problems {
        match mode {
            Names::Checked => cx.error(line, field, e),
            Names::Lenient => cx.warn(
                "invalid-name",
                line,
                &["C1"],
                format!("{field}: {e}; the API server would refuse it"),
            ),
        }
    }
}

/// Parse every policy object among `docs`; other kinds are left to the inventory.
pub fn policies(docs: &[Document]) -> Parsed {
    policies_with(docs, Names::Checked)
}

/// [`policies`], with names the API server would refuse taken as `mode` says.
pub fn policies_with(docs: &[Document], mode: Names) -> Parsed {
    let mut out = Parsed::default();
    for doc in docs {
        let kind = doc.kind();
        if !is_policy_kind(kind) {
            continue;
        }
        let mut cx = reader::Cx::new(&doc.origin);
        if kind != "NetworkPolicy" {
            cx.api = reader::Api::Cilium;
        }
        api_version(&mut cx, doc);
        let md = meta::meta(&mut cx, &doc.node);
        names(&mut cx, doc, &md, mode);
        match kind {
            "NetworkPolicy" => {
                if let Some(p) = knp::network_policy(&mut cx, &doc.node, md)
                    && cx.errors.is_empty()
                {
                    out.policies.network_policies.push(p.into());
                }
            }
            "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy" => {
                let cw = kind == "CiliumClusterwideNetworkPolicy";
                if let Some(p) = cilium::cilium_policy(&mut cx, &doc.node, md, cw)
                    && cx.errors.is_empty()
                {
                    out.policies.cilium.push(p.into());
                }
            }
            _ => {}
        }
        out.errors.append(&mut cx.errors);
        out.findings.append(&mut cx.findings);
    }
    out
}
