//! Verdicts found by flow identity (name, ends, protocol, port) without building five
//! strings per flow: a sorted table of hashes of the borrowed fields, each hit confirmed by
//! comparing the fields themselves.

use std::hash::{Hash, Hasher};

use policy::fnv::Fnv;

use policy::check::FlowResult;
use policy::check::catalogue::Flow;

/// A flow's identity across evaluations, borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FlowId<'f> {
    name: &'f str,
    src: &'f str,
    dst: &'f str,
    protocol: &'f str,
    port: u16,
}

impl<'f> FlowId<'f> {
    pub(super) fn of_flow(f: &'f Flow) -> FlowId<'f> {
        FlowId {
            name: &f.name,
            src: &f.src,
            dst: &f.dst,
            protocol: f.protocol.as_str(),
            port: f.port,
        }
    }

    pub(super) fn of_result(f: &'f FlowResult) -> FlowId<'f> {
        FlowId {
            name: &f.name,
            src: &f.src,
            dst: &f.dst,
            protocol: &f.protocol,
            port: f.port,
        }
    }

    fn hash(&self) -> u64 {
        let mut h = Fnv::default();
        Hash::hash(self, &mut h);
        h.finish()
    }
}

/// Positions in a report's verdicts by flow identity; of two verdicts of one flow, the later
/// (as a map built from the list in order would keep).
#[derive(Debug, Default)]
pub(super) struct ById {
    /// (hash of the identity, position), sorted.
    table: Vec<(u64, usize)>,
}

impl ById {
    pub(super) fn of(results: &[FlowResult]) -> ById {
        let mut table: Vec<(u64, usize)> = results
            .iter()
            .enumerate()
            .map(|(i, f)| (FlowId::of_result(f).hash(), i))
            .collect();
        table.sort_unstable();
        ById { table }
    }

    /// The position in `results` (the list this was built from) of the verdict of `id`.
    pub(super) fn get(&self, results: &[FlowResult], id: FlowId<'_>) -> Option<usize> {
        let h = id.hash();
        let from = self.table.partition_point(|&(x, _)| x < h);
        self.table[from..]
            .iter()
            .take_while(|&&(x, _)| x == h)
            .map(|&(_, i)| i)
            .filter(|&i| results.get(i).is_some_and(|r| FlowId::of_result(r) == id))
            .max()
    }

    /// Distinct identities.
    #[cfg(test)]
    pub(super) fn len(&self, results: &[FlowResult]) -> usize {
        let mut ids: Vec<FlowId<'_>> = results.iter().map(FlowId::of_result).collect();
        ids.sort_unstable_by(|a, b| {
            (a.name, a.src, a.dst, a.protocol, a.port)
                .cmp(&(b.name, b.src, b.dst, b.protocol, b.port))
        });
        ids.dedup();
        ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, src: &str, port: u16, verdict: &'static str) -> FlowResult {
        FlowResult {
            name: name.into(),
            src: src.into(),
            dst: "node/cp-1".into(),
            protocol: "TCP".into(),
            port,
            verdict,
            critical: true,
            explanation: String::new(),
            fix: None,
            purpose: String::new(),
            rules: Vec::new(),
            l7_filtered: false,
            depends_on_dns: false,
            unresolved: false,
        }
    }

    /// Every identity is found where a `HashMap` built from the list in order finds it (the
    /// later of two verdicts of one flow), and a missing one is not found.
    #[test]
    fn by_id_finds_what_a_map_of_owned_identities_finds() {
        let results = vec![
            result("a", "x/1", 1, "allow"),
            result("a", "x/1", 2, "allow"),
            result("b", "x/1", 1, "deny"),
            result("a", "x/1", 1, "deny"),
            result("a", "x/2", 1, "allow"),
        ];
        let by_id = ById::of(&results);
        let map: std::collections::HashMap<(String, String, String, String, u16), usize> = results
            .iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    (
                        f.name.clone(),
                        f.src.clone(),
                        f.dst.clone(),
                        f.protocol.clone(),
                        f.port,
                    ),
                    i,
                )
            })
            .collect();
        for r in &results {
            let key = (
                r.name.clone(),
                r.src.clone(),
                r.dst.clone(),
                r.protocol.clone(),
                r.port,
            );
            assert_eq!(
                by_id.get(&results, FlowId::of_result(r)),
                map.get(&key).copied()
            );
        }
        assert_eq!(by_id.len(&results), map.len());
        let missing = result("c", "x/1", 1, "allow");
        assert_eq!(by_id.get(&results, FlowId::of_result(&missing)), None);
    }
}
