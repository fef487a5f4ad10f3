//! Cilium identity labels (`source:key=value`), the identity label filter (C6.4) and
//! source-aware selectors (C6.1).

use std::collections::BTreeMap;

use crate::model::{LabelSelector, Op};

/// One identity label. `source` is `k8s`, `reserved`, `node`...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub source: &'static str,
    pub key: String,
    pub value: String,
}

pub type Labels = Vec<Label>;

pub fn reserved(key: &str) -> Label {
    Label {
        source: "reserved",
        key: key.to_owned(),
        value: String::new(),
    }
}

pub fn k8s(key: &str, value: &str) -> Label {
    Label {
        source: "k8s",
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// C6.4: labels kept although an exclusion below would drop them.
const INCLUDE: &[&str] = &[
    "io.kubernetes.pod.namespace",
    "io.cilium.k8s.namespace.labels",
    "app.kubernetes.io",
    "io.cilium.k8s.policy",
];

/// C6.4: prefixes dropped by the default filter (anchored at the start of the key).
const EXCLUDE: &[&str] = &[
    "io.kubernetes",
    "kubernetes.io",
    "k8s.io",
    "topology.kubernetes.io",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/",
    "pod-template-hash",
    "controller-revision-hash",
    "controller-uid",
    "pod-template-generation",
    "annotation",
    "etcd_node",
];

/// Whether a Kubernetes label becomes part of the identity (C6.4).
pub fn kept_by_filter(key: &str) -> bool {
    if INCLUDE.iter().any(|p| key.starts_with(p)) {
        return true;
    }
    // `.*beta.kubernetes.io` is a regex anchored at the start, so it matches anywhere.
    if key.contains("beta.kubernetes.io") {
        return false;
    }
    !EXCLUDE.iter().any(|p| key.starts_with(p))
}

/// Kubernetes labels after the filter, with source `k8s`.
pub fn filtered_k8s(labels: &BTreeMap<String, String>) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| kept_by_filter(k))
        .map(|(k, v)| k8s(k, v))
        .collect()
}

/// One source-aware requirement. `source: None` is `any:` (C6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CReq {
    pub source: Option<String>,
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// A selector over identity labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CSelector {
    pub reqs: Vec<CReq>,
}

const SOURCES: &[&str] = &[
    "k8s",
    "reserved",
    "any",
    "cidr",
    "fqdn",
    "node",
    "container",
    "unspec",
    "cilium-generated",
];

/// `k8s:app` → (Some(k8s), app); `app` → (None, app) (C6.1).
pub fn split_key(key: &str) -> (Option<String>, String) {
    if let Some((src, rest)) = key.split_once(':')
        && SOURCES.contains(&src)
    {
        let src = if src == "any" {
            None
        } else {
            Some(src.to_owned())
        };
        return (src, rest.to_owned());
    }
    (None, key.to_owned())
}

impl CSelector {
    pub fn from_k8s(sel: &LabelSelector) -> CSelector {
        CSelector {
            reqs: sel
                .requirements()
                .map(|r| {
                    let (source, key) = split_key(&r.key);
                    CReq {
                        source,
                        key,
                        op: r.op,
                        values: r.values,
                    }
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.reqs.iter().any(|r| r.key == key)
    }

    pub fn has_source(&self, source: &str) -> bool {
        self.reqs
            .iter()
            .any(|r| r.source.as_deref() == Some(source))
    }

    pub fn push(&mut self, source: Option<&str>, key: &str, op: Op, values: &[&str]) {
        self.reqs.push(CReq {
            source: source.map(str::to_owned),
            key: key.to_owned(),
            op,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        });
    }

    pub fn matches(&self, labels: &[Label]) -> bool {
        self.reqs.iter().all(|r| {
            let value = labels
                .iter()
                .find(|l| l.key == r.key && r.source.as_deref().is_none_or(|s| s == l.source))
                .map(|l| l.value.as_str());
            match r.op {
                Op::In => value.is_some_and(|v| r.values.iter().any(|x| x == v)),
                Op::NotIn => value.is_none_or(|v| !r.values.iter().any(|x| x == v)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
            }
        })
    }

    /// Keys that the identity filter drops: a selector on them never matches (C6.4).
    pub fn filtered_keys(&self) -> Vec<String> {
        self.reqs
            .iter()
            .filter(|r| r.source.as_deref().is_none_or(|s| s == "k8s") && !kept_by_filter(&r.key))
            .filter(|r| matches!(r.op, Op::In | Op::Exists))
            .map(|r| r.key.clone())
            .collect()
    }

    pub fn describe(&self) -> String {
        if self.reqs.is_empty() {
            return "{} (everything)".to_owned();
        }
        let parts: Vec<String> = self
            .reqs
            .iter()
            .map(|r| {
                let k = match &r.source {
                    Some(s) => format!("{s}:{}", r.key),
                    None => r.key.clone(),
                };
                match r.op {
                    Op::In if r.values.len() == 1 => format!("{k}={}", r.values[0]),
                    Op::In => format!("{k} in ({})", r.values.join(",")),
                    Op::NotIn => format!("{k} notin ({})", r.values.join(",")),
                    Op::Exists => format!("{k} exists"),
                    Op::DoesNotExist => format!("!{k}"),
                }
            })
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C6.4 table: which node/pod label keys survive the default identity filter.
    #[test]
    fn c6_4_label_filter_table() {
        let cases = [
            ("app", true),
            ("node-role.kubernetes.io/control-plane", true),
            ("app.kubernetes.io/name", true),
            ("kubernetes.io/os", false),
            ("kubernetes.io/hostname", false),
            ("beta.kubernetes.io/arch", false),
            ("topology.kubernetes.io/zone", false),
            ("pod-template-hash", false),
            ("controller-revision-hash", false),
            ("statefulset.kubernetes.io/pod-name", false),
            ("io.kubernetes.pod.namespace", true),
            ("io.cilium.k8s.namespace.labels.team", true),
            ("etcd_node", false),
        ];
        for (key, kept) in cases {
            assert_eq!(kept_by_filter(key), kept, "C6.4: {key}");
        }
    }

    #[test]
    fn c6_1_sources() {
        let sel = CSelector::from_k8s(&LabelSelector {
            match_labels: vec![
                ("k8s:app".into(), "web".into()),
                ("tier".into(), "fe".into()),
            ],
            match_expressions: vec![],
        });
        assert!(sel.matches(&[k8s("app", "web"), k8s("tier", "fe")]));
        let host = CSelector::from_k8s(&LabelSelector {
            match_labels: vec![("reserved:host".into(), String::new())],
            match_expressions: vec![],
        });
        assert!(host.matches(&[reserved("host")]));
        assert!(!host.matches(&[k8s("host", "")]));
    }
}
