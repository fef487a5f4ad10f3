//! The cluster as it is, computed once per inventory: its policies in force and their check
//! report. A review evaluates that set with one object replaced, and only the flows whose
//! ends the old or new version of the object selects are evaluated again: a policy changes
//! the verdicts of its subjects only (egress of the flows they send, ingress of the flows
//! they receive). A cilium-config change touches every verdict and is evaluated in full.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use policy::check::catalogue::{self, CatalogueOptions, Flow};
use policy::check::{CheckOptions, CheckReport, FlowResult};
use policy::engine::{Detached, Endpoint, Engine};
use policy::input::Loaded;
use policy::inventory::{CiliumConfig, Inventory};
use policy::model::{Direction, ObjectKey, Peer, PolicySet};

use crate::review::{Change, Outcome};

/// A flow's identity across evaluations.
type FlowId = (String, String, String, String, u16);

fn id_of_result(f: &FlowResult) -> FlowId {
    (
        f.name.clone(),
        f.src.clone(),
        f.dst.clone(),
        f.protocol.clone(),
        f.port,
    )
}

fn id_of_flow(f: &Flow) -> FlowId {
    (
        f.name.clone(),
        f.src.clone(),
        f.dst.clone(),
        f.protocol.as_str().to_owned(),
        f.port,
    )
}

pub struct Baseline {
    pub loaded: Arc<Loaded>,
    /// Shared with the next baseline made after a watch update ([`Compiled`]).
    pub report: Arc<CheckReport>,
    by_id: Arc<HashMap<FlowId, usize>>,
    opts: CheckOptions,
    /// The policies in force compiled once: a review compiles only the changed object.
    engine: Detached,
    /// The flow catalogue of the policies in force, user flows included.
    flows: Vec<Flow>,
    /// Policies in force per namespace: the catalogue depends on the policies only through
    /// which namespaces have some (`catalogue::catalogue`, one source pod per namespace).
    per_namespace: HashMap<String, usize>,
    /// The catalogue's flow ends resolved once (they depend on the inventory only): a review
    /// looks up which of them the change selects without resolving 13,000 names again.
    ends: Arc<HashMap<String, Option<Endpoint>>>,
    /// What the flows of a namespace gaining or losing its policies come from: found by the
    /// first review that needs it (it walks every pod), then kept.
    sources: OnceLock<catalogue::NamespaceSources>,
}

impl Baseline {
    /// The check of the policies in force: the reference every review is compared with. Its
    /// report holds the check's verdicts; not its findings (lints, gaps), which no review
    /// reads.
    pub fn compute(loaded: Arc<Loaded>, opts: CheckOptions) -> Baseline {
        let inv = &loaded.inventory;
        let engine = Engine::new(inv, &loaded.policies);
        Baseline::with_engine(Arc::clone(&loaded), opts, engine, &|_, _| None)
    }

    /// What [`Baseline::compute`] gives for `loaded`, the cluster after a watch update, with
    /// what `previous` (the baseline before it) compiled and judged, when it still holds:
    /// - only pods, nodes, namespaces or services changed: the compiled rules are kept
    ///   (compiling depends only on the policies and the Cilium settings), every flow is
    ///   judged again;
    /// - only policies changed: the unchanged objects' rules are kept, and only the flows whose
    ///   ends a changed object selects (old or new version) are judged again, as a review
    ///   judges a change; the others keep their verdicts.
    ///
    /// Anything else (Cilium settings, both at once, many policies at once) is computed afresh.
    pub fn compute_after(
        loaded: Arc<Loaded>,
        opts: CheckOptions,
        previous: Option<&Compiled>,
    ) -> Baseline {
        let Some(previous) = previous else {
            return Baseline::compute(loaded, opts);
        };
        let before = &previous.from;
        let inv = &loaded.inventory;
        if before.inventory.cilium != inv.cilium {
            return Baseline::compute(loaded, opts);
        }
        if same_policies(before, &loaded) {
            let same_pods = before.inventory.same_pods(inv);
            let engine = previous.engine.with_inventory(inv, same_pods);
            // Under the same rules a verdict depends on the flow's ends, the pods behind them
            // and the services (`toServices` peers): with the services unchanged, a flow whose
            // ends resolve as before keeps its verdict.
            if before.inventory.services != inv.services {
                return Baseline::with_engine(Arc::clone(&loaded), opts, engine, &|_, _| None);
            }
            let kept = |f: &Flow, ends: &HashMap<String, Option<Endpoint>>| {
                let same = |spec: &String| match (previous.ends.get(spec), ends.get(spec)) {
                    (Some(Some(a)), Some(Some(b))) => a.same_as(&before.inventory, b, inv),
                    _ => false,
                };
                if !(same(&f.src) && same(&f.dst)) {
                    return None;
                }
                let i = previous.by_id.get(&id_of_flow(f))?;
                previous.report.flows.get(*i).cloned()
            };
            return Baseline::with_engine(Arc::clone(&loaded), opts, engine, &kept);
        }
        let base = match previous.engine.attach(inv) {
            Some(base) if before.inventory.same_objects(inv) => base,
            _ => return Baseline::compute(loaded, opts),
        };
        let (engine, changed) = base.with_policies(&before.policies, &loaded.policies);
        if changed.len() > MAX_CHANGED_POLICIES {
            return Baseline::compute(loaded, opts);
        }
        let touched = Touched::of_keys(&base, &engine, &changed);
        let kept = |f: &Flow, ends: &HashMap<String, Option<Endpoint>>| {
            if touched.flow(f, ends) {
                return None;
            }
            let i = previous.by_id.get(&id_of_flow(f))?;
            previous.report.flows.get(*i).cloned()
        };
        Baseline::with_engine(Arc::clone(&loaded), opts, engine, &kept)
    }

    /// The rules and verdicts of this baseline, to hand to the next [`Baseline::compute_after`].
    pub fn compiled(&self) -> Compiled {
        Compiled {
            from: Arc::clone(&self.loaded),
            engine: self.engine.clone(),
            report: Arc::clone(&self.report),
            by_id: Arc::clone(&self.by_id),
            ends: Arc::clone(&self.ends),
        }
    }

    /// The baseline judged with `engine` (compiled for `loaded`); `kept` gives the verdict of a
    /// flow that needs no judging again (given the flow ends resolved), `None` to judge it.
    fn with_engine(
        loaded: Arc<Loaded>,
        opts: CheckOptions,
        engine: Engine<'_>,
        kept: &Kept<'_>,
    ) -> Baseline {
        let inv = &loaded.inventory;
        let engine = engine.with_synthetic_pod(catalogue::probe_pod(inv));
        let flows = catalogue_of(&opts, inv, &loaded.policies);
        let mut ends = HashMap::new();
        for f in &flows {
            for spec in [&f.src, &f.dst] {
                if !ends.contains_key(spec) {
                    ends.insert(spec.clone(), engine.resolve(spec));
                }
            }
        }
        let mut results = Vec::with_capacity(flows.len());
        for f in &flows {
            match kept(f, &ends) {
                Some(r) => results.push(r),
                None => results.extend(policy::check::evaluate(
                    &engine,
                    std::slice::from_ref(f),
                    &mut Vec::new(),
                )),
            }
        }
        policy::check::sort_verdicts(&mut results);
        let report = CheckReport {
            assumed_inventory: inv.assumed,
            flows: results,
            findings: Vec::new(),
        };
        let by_id = report
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (id_of_result(f), i))
            .collect();
        let engine = engine.detach();
        let mut per_namespace: HashMap<String, usize> = HashMap::new();
        for ns in namespaces(&loaded.policies) {
            *per_namespace.entry(ns.to_owned()).or_default() += 1;
        }
        Baseline {
            loaded,
            report: Arc::new(report),
            by_id: Arc::new(by_id),
            opts,
            engine,
            flows,
            per_namespace,
            ends: Arc::new(ends),
            sources: OnceLock::new(),
        }
    }

    /// Critical flows the policies in force already deny (a review is judged on what it
    /// changes, so these never refuse one; `/healthz` and the metrics show them).
    pub fn critical_denied(&self) -> usize {
        self.report
            .flows
            .iter()
            .filter(|f| f.critical && !f.allowed())
            .count()
    }

    /// What `change` does, compared with the policies in force.
    pub fn evaluate(&self, change: &Change) -> Outcome {
        match change {
            Change::Policy { key, new, notes } => {
                let mut outcome = self.policy_change(key, new.as_ref());
                outcome.notes.extend(notes.iter().cloned());
                outcome
            }
            Change::CiliumConfig { new } => self.config_change(new.as_ref()),
            Change::CidrGroup { name } => self.cidr_group(name),
            Change::NotJudged => Outcome::default(),
        }
    }

    fn policy_change(&self, key: &ObjectKey, new: Option<&PolicySet>) -> Outcome {
        let inv = &self.loaded.inventory;
        let base = match self.engine.attach(inv) {
            Some(engine) => engine,
            // Unreachable (the baseline keeps the inventory it compiled against); compiling
            // again is slow but right.
            None => Engine::new(inv, &self.loaded.policies)
                .with_synthetic_pod(catalogue::probe_pod(inv)),
        };
        let touched = Touched::new(&base, key, new);
        let flows = self.catalogue_after(key, new);
        let redo: Vec<Flow> = flows
            .iter()
            .filter(|f| !self.by_id.contains_key(&id_of_flow(f)) || touched.flow(f, &self.ends))
            .cloned()
            .collect();
        let engine = base.with_replaced(key, new);
        let results = policy::check::evaluate(&engine, &redo, &mut Vec::new());
        self.compare(results)
    }

    /// The catalogue of the policies in force with `key` replaced by `new`: the baseline's,
    /// less the flows of namespaces the change takes their last policy from, plus those of
    /// namespaces it gives their first (the catalogue depends on nothing else of the
    /// policies). Gained flows come last, not in catalogue order.
    fn catalogue_after(&self, key: &ObjectKey, new: Option<&PolicySet>) -> Cow<'_, [Flow]> {
        let in_force = &self.loaded.policies;
        let removed: Vec<&str> = namespaces(in_force)
            .zip(keys(in_force))
            .filter(|(_, k)| k.0 == key.kind && k.1 == key.namespace.as_deref() && k.2 == key.name)
            .map(|(ns, _)| ns)
            .collect();
        let added: Vec<&str> = new.map(|n| namespaces(n).collect()).unwrap_or_default();
        let count = |list: &[&str], ns: &str| list.iter().filter(|&&n| n == ns).count();
        let (mut gained, mut lost) = (BTreeSet::new(), BTreeSet::new());
        for &ns in removed.iter().chain(&added) {
            let before = self.per_namespace.get(ns).copied().unwrap_or(0);
            let after = before + count(&added, ns) - count(&removed, ns).min(before);
            match (before > 0, after > 0) {
                (false, true) => gained.insert(ns),
                (true, false) => lost.insert(ns),
                _ => false,
            };
        }
        if gained.is_empty() && lost.is_empty() {
            return Cow::Borrowed(&self.flows);
        }
        let inv = &self.loaded.inventory;
        let mut flows = self.flows.clone();
        let sources = self
            .sources
            .get_or_init(|| catalogue::NamespaceSources::of(inv));
        for gone in sources.flows(&lost) {
            let id = id_of_flow(&gone);
            if let Some(i) = flows.iter().position(|f| id_of_flow(f) == id) {
                flows.remove(i);
            }
        }
        flows.extend(sources.flows(&gained));
        Cow::Owned(flows)
    }

    /// Newly denied and newly uncertain flows among `results`, critical first.
    fn compare(&self, results: Vec<FlowResult>) -> Outcome {
        let mut outcome = Outcome::default();
        for f in results {
            let before = self
                .by_id
                .get(&id_of_result(&f))
                .and_then(|&i| self.report.flows.get(i));
            let was_allowed = before.is_none_or(FlowResult::allowed);
            let was_unresolved = before.is_some_and(|b| b.unresolved);
            if was_allowed && !f.allowed() {
                outcome.newly_denied.push(f);
            } else if !was_unresolved && f.unresolved {
                outcome.newly_unresolved.push(f);
            }
        }
        outcome.newly_denied.sort_by_key(|f| !f.critical);
        outcome
    }

    /// The policies in force under new Cilium settings: every flow again.
    fn config_change(&self, data: Option<&BTreeMap<String, String>>) -> Outcome {
        let mut inv: Inventory = self.loaded.inventory.clone();
        let mut cfg = CiliumConfig {
            version: inv.cilium.version,
            ..CiliumConfig::default()
        };
        let unknown = match data {
            Some(data) => cfg.apply(data),
            None => Vec::new(),
        };
        inv.cilium = cfg;
        let policies = &self.loaded.policies;
        let flows = catalogue_of(&self.opts, &inv, policies);
        let engine = Engine::new(&inv, policies).with_synthetic_pod(catalogue::probe_pod(&inv));
        let results = policy::check::evaluate(&engine, &flows, &mut Vec::new());
        let mut outcome = self.compare(results);
        outcome.notes.extend(unknown.iter().map(|u| {
            format!("cilium-config {u}: a value the agent does not take; judged with its default")
        }));
        outcome
    }

    /// CIDR groups are not resolved offline: no verdict changes, but the policies that
    /// reference the group are named, since what they allow changes with it.
    fn cidr_group(&self, name: &str) -> Outcome {
        let what = format!("CiliumCIDRGroup {name}");
        let users: Vec<String> = self
            .loaded
            .policies
            .cilium
            .iter()
            .filter(|p| {
                p.rules.iter().any(|r| {
                    [&r.ingress, &r.ingress_deny, &r.egress, &r.egress_deny]
                        .into_iter()
                        .flatten()
                        .flat_map(|item| &item.peers)
                        .any(|peer| matches!(peer, Peer::Unresolved { what: w } if *w == what))
                })
            })
            .map(|p| p.display_name())
            .collect();
        let mut outcome = Outcome::default();
        if !users.is_empty() {
            outcome.notes.push(format!(
                "{what} is referenced by {} policy(ies) in force ({}); lifeboat does not resolve CIDR groups, so it cannot tell whether this change cuts what they allow. Check that the addresses the control plane needs stay covered",
                users.len(),
                users.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        outcome
    }
}

/// The compiled rules of a baseline and the input they were compiled from (shared with it).
#[derive(Clone)]
pub struct Compiled {
    from: Arc<Loaded>,
    engine: Detached,
    report: Arc<CheckReport>,
    by_id: Arc<HashMap<FlowId, usize>>,
    ends: Arc<HashMap<String, Option<Endpoint>>>,
}

impl Compiled {
    /// Whether compiling `loaded` would give these rules: same policies, same Cilium settings.
    #[cfg(test)]
    fn holds_for(&self, loaded: &Loaded) -> bool {
        same_policies(&self.from, loaded) && self.from.inventory.cilium == loaded.inventory.cilium
    }
}

/// Whether two inputs hold the same policies: shared (a watch update that changed none), or
/// equal.
fn same_policies(a: &Loaded, b: &Loaded) -> bool {
    Arc::ptr_eq(&a.policies, &b.policies) || a.policies == b.policies
}

/// The verdict of a flow that needs no judging again, given the flow ends resolved.
type Kept<'a> = dyn Fn(&Flow, &HashMap<String, Option<Endpoint>>) -> Option<FlowResult> + 'a;

/// More changed policies than this in one update: judging every flow again costs less than
/// finding which ones they touch.
const MAX_CHANGED_POLICIES: usize = 64;

fn catalogue_of(opts: &CheckOptions, inv: &Inventory, policies: &PolicySet) -> Vec<Flow> {
    let mut flows = catalogue::catalogue(
        inv,
        &CatalogueOptions {
            admin_cidrs: opts.admin_cidrs.clone(),
        },
        policies,
    );
    flows.extend(opts.user_flows.iter().cloned());
    flows
}

/// The namespace of every namespaced policy of `set`, NetworkPolicies first.
fn namespaces(set: &PolicySet) -> impl Iterator<Item = &str> {
    let knp = set.network_policies.iter().map(|p| p.namespace.as_str());
    knp.chain(set.cilium.iter().filter_map(|p| p.namespace.as_deref()))
}

/// (kind, namespace, name) of every namespaced policy of `set`, in the order of
/// [`namespaces`]; borrowed, since `key()` would allocate for each of thousands.
fn keys(set: &PolicySet) -> impl Iterator<Item = (&'static str, Option<&str>, &str)> {
    let knp = set
        .network_policies
        .iter()
        .map(|p| ("NetworkPolicy", Some(p.namespace.as_str()), p.name.as_str()));
    knp.chain(
        set.cilium
            .iter()
            .filter(|p| p.namespace.is_some())
            .map(|p| (p.kind(), p.namespace.as_deref(), p.name.as_str())),
    )
}

/// The subjects of the changed object (old and new versions, including rules the agent would
/// refuse): the endpoints whose verdicts it can change.
struct Touched<'a> {
    engine: Engine<'a>,
}

impl<'a> Touched<'a> {
    /// The subjects of the objects `keys` names, as `before` and `after` compiled them.
    fn of_keys(before: &Engine<'a>, after: &Engine<'a>, keys: &[ObjectKey]) -> Touched<'a> {
        let mut entries = Vec::new();
        for key in keys {
            entries.extend(before.entries_of(key));
            entries.extend(after.entries_of(key));
        }
        Touched {
            engine: before.derive(entries, Vec::new()),
        }
    }

    fn new(base: &Engine<'a>, key: &ObjectKey, new: Option<&PolicySet>) -> Touched<'a> {
        let mut entries = base.entries_of(key);
        if let Some(new) = new {
            let (mut enforced, mut refused) = base.compile_other(new);
            entries.append(&mut enforced);
            entries.append(&mut refused);
        }
        Touched {
            engine: base.derive(entries, Vec::new()),
        }
    }

    fn selects(&self, e: &Endpoint, dir: Direction) -> bool {
        self.engine
            .entries
            .iter()
            .enumerate()
            .any(|(i, entry)| entry.dir == dir && self.engine.selects(i, e))
    }

    /// Whether the changed object selects the flow's source (egress) or destination
    /// (ingress). An end that does not resolve counts as touched: evaluating it costs little
    /// and missing it would be a wrong answer.
    fn flow(&self, f: &Flow, known: &HashMap<String, Option<Endpoint>>) -> bool {
        if self.engine.entries.is_empty() {
            return false;
        }
        let resolve = |spec: &String| match known.get(spec) {
            Some(end) => end.clone(),
            None => self.engine.resolve(spec),
        };
        let (src, dst) = (resolve(&f.src), resolve(&f.dst));
        match (src, dst) {
            (Some(src), Some(dst)) => {
                self.selects(&src, Direction::Egress) || self.selects(&dst, Direction::Ingress)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod after_update;
#[cfg(test)]
mod replacements;
#[cfg(test)]
mod tests;
