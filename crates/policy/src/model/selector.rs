//! Kubernetes label selectors (`matchLabels` + `matchExpressions`), also used by Cilium.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// A selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    pub match_labels: Vec<(String, String)>,
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Every requirement, `matchLabels` expressed as `In [v]`.
    pub fn requirements(&self) -> impl Iterator<Item = Requirement> + '_ {
        self.match_labels
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            })
            .chain(self.match_expressions.iter().cloned())
    }

    /// Plain Kubernetes matching against a label map (no sources, no filter).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .match_expressions
                .iter()
                .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
    }

    /// Short human form for explanations: `{app=web, tier in (a,b)}`.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "{} (everything)".to_owned();
        }
        let parts: Vec<String> = self.requirements().map(|r| r.describe()).collect();
        format!("{{{}}}", parts.join(", "))
    }
}

impl Requirement {
    pub fn matches(&self, value: Option<&str>) -> bool {
        match self.op {
            Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
        }
    }

    pub fn describe(&self) -> String {
        match self.op {
            Op::In if self.values.len() == 1 => format!("{}={}", self.key, self.values[0]),
            Op::In => format!("{} in ({})", self.key, self.values.join(",")),
            Op::NotIn => format!("{} notin ({})", self.key, self.values.join(",")),
            Op::Exists => format!("{} exists", self.key),
            Op::DoesNotExist => format!("!{}", self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn k8s_selector_semantics() {
        let sel = LabelSelector {
            match_labels: vec![("app".into(), "web".into())],
            match_expressions: vec![Requirement {
                key: "tier".into(),
                op: Op::NotIn,
                values: vec!["db".into()],
            }],
        };
        assert!(sel.matches(&labels(&[("app", "web")])));
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("app", "api")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }
}
