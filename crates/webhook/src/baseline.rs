//! The cluster as it is, computed once per inventory: its policies in force and their check
//! report. A review evaluates that set with one object replaced, and only the flows whose
//! ends the old or new version of the object selects are evaluated again: a policy changes
//! the verdicts of its subjects only (egress of the flows they send, ingress of the flows
//! they receive). A cilium-config change touches every verdict and is evaluated in full.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use policy::check::catalogue::{self, CatalogueOptions, Flow, PodFacts};
use policy::check::{CheckOptions, CheckReport, FlowResult};
use policy::engine::{Detached, Endpoint, Engine, PodEdits};
use policy::input::Loaded;
use policy::inventory::{CiliumConfig, Inventory};
use policy::model::{Direction, ObjectKey, Peer, PolicySet};

use crate::review::{Change, Outcome};

mod by_id;
mod ends;

use by_id::{ById, FlowId};
use ends::EndsBefore;

pub struct Baseline {
    pub loaded: Arc<Loaded>,
    /// Shared with the next baseline made after a watch update ([`Compiled`]).
    pub report: Arc<CheckReport>,
    by_id: Arc<ById>,
    opts: CheckOptions,
    /// The policies in force compiled once: a review compiles only the changed object.
    engine: Detached,
    /// The flow catalogue of the policies in force, user flows included.
    flows: Arc<Vec<Flow>>,
    /// Where the verdict of each flow of `flows` is in the report (`None`: an end did not
    /// resolve, the flow has none).
    order: Arc<Vec<Option<usize>>>,
    /// Policies in force per namespace: the catalogue depends on the policies only through
    /// which namespaces have some (`catalogue::catalogue`, one source pod per namespace).
    per_namespace: Arc<HashMap<String, usize>>,
    /// What the catalogue reads of the pods (each part a walk over every pod).
    facts: Arc<PodFacts>,
    /// The catalogue's flow ends resolved once (they depend on the inventory only): a review
    /// looks up which of them the change selects without resolving 13,000 names again.
    ends: Arc<HashMap<String, Option<Endpoint>>>,
    /// What the flows of a namespace gaining or losing its policies come from: found by the
    /// first review that needs it, then kept.
    sources: OnceLock<catalogue::NamespaceSources>,
}

/// The parts of a baseline found before its flows are judged.
struct Parts {
    facts: Arc<PodFacts>,
    per_namespace: Arc<HashMap<String, usize>>,
    flows: Arc<Vec<Flow>>,
}

/// What a baseline after a watch update may take from the one before.
struct Before<'p> {
    previous: &'p Compiled,
    ends: EndsBefore<'p>,
    /// The verdict of a flow that needs no judging again (given the flow ends resolved and
    /// which of them were taken from before), `None` to judge it.
    kept: &'p Kept<'p>,
}

impl Baseline {
    /// The check of the policies in force: the reference every review is compared with. Its
    /// report holds the check's verdicts; not its findings (lints, gaps), which no review
    /// reads.
    pub fn compute(loaded: Arc<Loaded>, opts: CheckOptions) -> Baseline {
        let inv = &loaded.inventory;
        let engine = Engine::new(inv, &loaded.policies);
        let facts = Arc::new(PodFacts::of(inv));
        let per_namespace = Arc::new(per_namespace(&loaded.policies));
        let flows = Arc::new(catalogue_of(&opts, inv, &facts, &per_namespace));
        let parts = Parts {
            facts,
            per_namespace,
            flows,
        };
        Baseline::with_engine(Arc::clone(&loaded), opts, engine, parts, None)
    }

    /// What [`Baseline::compute`] gives for `loaded`, the cluster after a watch update, with
    /// what `previous` (the baseline before it) compiled and judged, when it still holds:
    /// - only pods, nodes, namespaces or services changed: the compiled rules are kept
    ///   (compiling depends only on the policies and the Cilium settings), the pod index and
    ///   what the catalogue reads of the pods follow the changed pods, the catalogue and the
    ///   flow ends are kept where nothing they read changed, and a flow whose ends resolve as
    ///   before keeps its verdict (with the services unchanged);
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
        let edits = PodEdits::between(&before.inventory.pods, &inv.pods, MAX_CHANGED_PODS);
        if same_policies(before, &loaded) {
            return Baseline::after_inventory(&loaded, opts, previous, edits.as_ref());
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
        let per_namespace = Arc::new(per_namespace(&loaded.policies));
        let same_catalogue =
            same_keys(&per_namespace, &previous.per_namespace) && same_opts(&opts, &previous.opts);
        let flows = match same_catalogue {
            true => Arc::clone(&previous.flows),
            false => previous.shared(catalogue_of(&opts, inv, &previous.facts, &per_namespace)),
        };
        let parts = Parts {
            facts: Arc::clone(&previous.facts),
            per_namespace,
            flows,
        };
        let flows = Arc::clone(&parts.flows);
        let kept = |f: &Flow, i: usize, ends: &Ends, _: &Taken| {
            if touched.flow(f, ends) {
                return None;
            }
            previous.verdict_of(f, i, &flows)
        };
        // The same objects: every end resolves as before.
        let same = EndsBefore {
            ends: &previous.ends,
            edits: edits.as_ref(),
            nodes: true,
            apiservers: true,
            namespaces: true,
            changed: HashSet::new(),
            same_inventory: true,
        };
        let before = Before {
            previous,
            ends: same,
            kept: &kept,
        };
        Baseline::with_engine(Arc::clone(&loaded), opts, engine, parts, Some(before))
    }

    /// After a watch update that changed the inventory only (same policies, same Cilium
    /// settings).
    fn after_inventory(
        loaded: &Arc<Loaded>,
        opts: CheckOptions,
        previous: &Compiled,
        edits: Option<&PodEdits>,
    ) -> Baseline {
        let before = &previous.from.inventory;
        let inv = &loaded.inventory;
        let engine = previous.engine.with_inventory(inv, edits);
        let facts = match edits {
            Some(e) => previous
                .facts
                .after(before, inv, e, |ns| engine.namespace_pods(ns)),
            None => PodFacts::of(inv),
        };
        let names = |f: &PodFacts, inv: &Inventory| -> HashSet<String> {
            let nodes = f.apiserver_nodes(inv);
            nodes.iter().map(|n| n.name.clone()).collect()
        };
        let apiservers = names(&facts, inv);
        let same_apiservers = apiservers == names(&previous.facts, before);
        let engine = engine.with_apiservers(apiservers);
        let same_nodes = before.nodes == inv.nodes;
        let same_catalogue =
            same_nodes && facts == *previous.facts && same_opts(&opts, &previous.opts);
        let per_namespace = Arc::clone(&previous.per_namespace);
        let flows = match same_catalogue {
            true => Arc::clone(&previous.flows),
            false => previous.shared(catalogue_of(&opts, inv, &facts, &per_namespace)),
        };
        let parts = Parts {
            facts: Arc::new(facts),
            per_namespace,
            flows,
        };
        let ends = EndsBefore {
            ends: &previous.ends,
            edits,
            nodes: same_nodes,
            apiservers: same_apiservers,
            namespaces: before.namespaces == inv.namespaces,
            changed: edits
                .map(|e| EndsBefore::changed_pods(before, inv, e))
                .unwrap_or_default(),
            same_inventory: false,
        };
        // Under the same rules a verdict depends on the flow's ends, the pods behind them
        // and the services (`toServices` peers): with the services unchanged, a flow whose
        // ends resolve as before keeps its verdict.
        let same_services = before.services == inv.services;
        let flows = Arc::clone(&parts.flows);
        let kept = |f: &Flow, i: usize, now: &Ends, taken: &Taken| {
            if !same_services {
                return None;
            }
            let same = |spec: &String| {
                taken.contains(spec.as_str())
                    || match (previous.ends.get(spec), now.get(spec)) {
                        (Some(Some(a)), Some(Some(b))) => a.same_as(before, b, inv),
                        _ => false,
                    }
            };
            if !(same(&f.src) && same(&f.dst)) {
                return None;
            }
            previous.verdict_of(f, i, &flows)
        };
        let before = Before {
            previous,
            ends,
            kept: &kept,
        };
        Baseline::with_engine(Arc::clone(loaded), opts, engine, parts, Some(before))
    }

    /// Builds what reviews look pods up with on a thread of its own (about 50 ms at 150,000
    /// pods after a pod change): neither the watch update nor a review waits for it, and
    /// reviews meanwhile search the pod index as before.
    pub fn prepare_for_reviews(&self) {
        let Some(build) = self.engine.pod_lookups() else {
            return;
        };
        let loaded = Arc::clone(&self.loaded);
        let spawned = std::thread::Builder::new()
            .name("lifeboat-lookups".into())
            .spawn(move || build(&loaded.inventory));
        if let Err(e) = spawned {
            tracing::debug!(
                "webhook: no thread for the pod lookups ({e}); reviews search the index"
            );
        }
    }

    /// The rules and verdicts of this baseline, to hand to the next [`Baseline::compute_after`].
    pub fn compiled(&self) -> Compiled {
        Compiled {
            from: Arc::clone(&self.loaded),
            engine: self.engine.clone(),
            report: Arc::clone(&self.report),
            by_id: Arc::clone(&self.by_id),
            ends: Arc::clone(&self.ends),
            flows: Arc::clone(&self.flows),
            order: Arc::clone(&self.order),
            per_namespace: Arc::clone(&self.per_namespace),
            facts: Arc::clone(&self.facts),
            opts: self.opts.clone(),
        }
    }

    /// The baseline judged with `engine` (compiled for `loaded`) on the catalogue of `parts`;
    /// `before`: what the baseline before this one lets it keep.
    fn with_engine(
        loaded: Arc<Loaded>,
        opts: CheckOptions,
        engine: Engine<'_>,
        parts: Parts,
        before: Option<Before<'_>>,
    ) -> Baseline {
        let inv = &loaded.inventory;
        let engine = engine.with_synthetic_pod(catalogue::probe_pod(inv));
        let flows = &parts.flows;
        // The same inventory and catalogue (a policy changed): the ends are the ones before.
        let shared = before
            .as_ref()
            .filter(|b| b.ends.same_inventory && Arc::ptr_eq(flows, &b.previous.flows))
            .map(|b| Arc::clone(&b.previous.ends));
        let (ends, taken) = match shared {
            Some(ends) => (ends, HashSet::new()),
            None => {
                let (ends, taken) = ends::resolve(&engine, flows, before.as_ref().map(|b| &b.ends));
                (Arc::new(ends), taken)
            }
        };
        let mut judged: Vec<Judged> = Vec::with_capacity(flows.len());
        for (i, f) in flows.iter().enumerate() {
            let kept = before.as_ref().and_then(|b| (b.kept)(f, i, &ends, &taken));
            judged.push(match kept {
                Some(k) => Judged::Kept(k),
                None => {
                    let one = std::slice::from_ref(f);
                    let mut r = policy::check::evaluate(&engine, one, &mut Vec::new());
                    r.pop()
                        .map_or(Judged::Unresolved, |r| Judged::Fresh(Box::new(r)))
                }
            });
        }
        let previous = before.as_ref().map(|b| b.previous);
        let (report, by_id, order) =
            match previous.filter(|p| p.same_verdicts(flows, &judged, inv.assumed)) {
                Some(p) => (
                    Arc::clone(&p.report),
                    Arc::clone(&p.by_id),
                    Arc::clone(&p.order),
                ),
                None => report_of(inv, previous, judged),
            };
        drop(taken);
        Baseline {
            loaded: Arc::clone(&loaded),
            report,
            by_id,
            opts,
            engine: engine.detach(),
            flows: parts.flows,
            order,
            per_namespace: parts.per_namespace,
            facts: parts.facts,
            ends,
            sources: OnceLock::new(),
        }
    }

    /// Where the verdict of the flow `id` is in the report.
    fn verdict(&self, id: FlowId<'_>) -> Option<usize> {
        self.by_id.get(&self.report.flows, id)
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
            .filter(|f| self.verdict(FlowId::of_flow(f)).is_none() || touched.flow(f, &self.ends))
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
            return Cow::Borrowed(&self.flows[..]);
        }
        let inv = &self.loaded.inventory;
        let mut flows = (*self.flows).clone();
        let sources = self
            .sources
            .get_or_init(|| self.facts.namespace_sources(inv));
        for gone in sources.flows(&lost) {
            let id = FlowId::of_flow(&gone);
            if let Some(i) = flows.iter().position(|f| FlowId::of_flow(f) == id) {
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
                .verdict(FlowId::of_result(&f))
                .and_then(|i| self.report.flows.get(i));
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
        let flows = catalogue_of(&self.opts, &inv, &self.facts, &self.per_namespace);
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

/// The compiled rules of a baseline and the input they were compiled from (shared with it),
/// with what it found and judged.
#[derive(Clone)]
pub struct Compiled {
    from: Arc<Loaded>,
    engine: Detached,
    report: Arc<CheckReport>,
    by_id: Arc<ById>,
    ends: Arc<Ends>,
    flows: Arc<Vec<Flow>>,
    order: Arc<Vec<Option<usize>>>,
    per_namespace: Arc<HashMap<String, usize>>,
    facts: Arc<PodFacts>,
    opts: CheckOptions,
}

impl Compiled {
    /// Whether compiling `loaded` would give these rules: same policies, same Cilium settings.
    #[cfg(test)]
    fn holds_for(&self, loaded: &Loaded) -> bool {
        same_policies(&self.from, loaded) && self.from.inventory.cilium == loaded.inventory.cilium
    }

    /// `flows`, as this catalogue if it is equal to it (a node of a class that had two
    /// members already, say): verdicts are then found by position, and the report may be
    /// shared.
    fn shared(&self, flows: Vec<Flow>) -> Arc<Vec<Flow>> {
        match flows == *self.flows {
            true => Arc::clone(&self.flows),
            false => Arc::new(flows),
        }
    }

    /// Where the verdict of `f`, the `i`-th flow of `flows`, is in this report: by position
    /// when `flows` is this catalogue, else by identity.
    fn verdict_of(&self, f: &Flow, i: usize, flows: &Arc<Vec<Flow>>) -> Option<usize> {
        let at = match Arc::ptr_eq(flows, &self.flows) {
            true => self.order.get(i).copied().flatten(),
            false => self.by_id.get(&self.report.flows, FlowId::of_flow(f)),
        };
        at.filter(|&k| k < self.report.flows.len())
    }

    /// Whether `judged` (the verdicts of `flows` in catalogue order) are this report's.
    fn same_verdicts(&self, flows: &Arc<Vec<Flow>>, judged: &[Judged], assumed: bool) -> bool {
        Arc::ptr_eq(flows, &self.flows)
            && self.report.assumed_inventory == assumed
            && self.report.findings.is_empty()
            && judged.len() == self.order.len()
            && judged
                .iter()
                .zip(self.order.iter())
                .all(|(j, &at)| match (j, at) {
                    (Judged::Kept(k), Some(at)) => *k == at,
                    (Judged::Fresh(r), Some(at)) => self.report.flows.get(at) == Some(&**r),
                    (Judged::Unresolved, None) => true,
                    _ => false,
                })
    }
}

/// Whether two inputs hold the same policies: shared (a watch update that changed none), or
/// equal.
fn same_policies(a: &Loaded, b: &Loaded) -> bool {
    Arc::ptr_eq(&a.policies, &b.policies) || a.policies == b.policies
}

fn same_opts(a: &CheckOptions, b: &CheckOptions) -> bool {
    a.admin_cidrs == b.admin_cidrs && a.user_flows == b.user_flows
}

fn same_keys(a: &HashMap<String, usize>, b: &HashMap<String, usize>) -> bool {
    a.len() == b.len() && a.keys().all(|k| b.contains_key(k))
}

type Ends = HashMap<String, Option<Endpoint>>;

/// The catalogue's flow ends taken from the baseline before, unchanged.
type Taken<'f> = HashSet<&'f str>;

/// Where the verdict of a flow that needs no judging again is in the report before (given
/// the flow, its position in the catalogue and the flow ends), `None` to judge it.
type Kept<'a> = dyn Fn(&Flow, usize, &Ends, &Taken) -> Option<usize> + 'a;

/// A flow's verdict in a baseline being made.
enum Judged {
    /// The one at this position of the report before.
    Kept(usize),
    Fresh(Box<FlowResult>),
    /// An end does not resolve: no verdict.
    Unresolved,
}

/// The report of `judged` (in catalogue order), in the check's order, with its lookups.
fn report_of(
    inv: &Inventory,
    previous: Option<&Compiled>,
    judged: Vec<Judged>,
) -> (Arc<CheckReport>, Arc<ById>, Arc<Vec<Option<usize>>>) {
    let mut order = vec![None; judged.len()];
    let mut results: Vec<(usize, FlowResult)> = Vec::with_capacity(judged.len());
    for (i, j) in judged.into_iter().enumerate() {
        let r = match j {
            Judged::Kept(k) => previous.and_then(|p| p.report.flows.get(k)).cloned(),
            Judged::Fresh(r) => Some(*r),
            Judged::Unresolved => None,
        };
        results.extend(r.map(|r| (i, r)));
    }
    results.sort_by_key(|(_, r)| policy::check::verdict_rank(r));
    let mut flows = Vec::with_capacity(results.len());
    for (at, (i, r)) in results.into_iter().enumerate() {
        if let Some(o) = order.get_mut(i) {
            *o = Some(at);
        }
        flows.push(r);
    }
    let report = CheckReport {
        assumed_inventory: inv.assumed,
        flows,
        findings: Vec::new(),
    };
    let by_id = ById::of(&report.flows);
    (Arc::new(report), Arc::new(by_id), Arc::new(order))
}

fn per_namespace(policies: &PolicySet) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    // Policies come in runs of one namespace (key order): one lookup per run.
    let mut run: Option<(&str, usize)> = None;
    for ns in namespaces(policies).map(Some).chain([None]) {
        match (run, ns) {
            (Some((r, n)), Some(ns)) if r == ns => run = Some((r, n + 1)),
            _ => {
                if let Some((r, n)) = run {
                    match out.get_mut(r) {
                        Some(count) => *count += n,
                        None => {
                            out.insert(r.to_owned(), n);
                        }
                    }
                }
                run = ns.map(|ns| (ns, 1));
            }
        }
    }
    out
}

/// More changed policies than this in one update: judging every flow again costs less than
/// finding which ones they touch.
const MAX_CHANGED_POLICIES: usize = 64;

/// More changed pods than this in one update: the pod index, the catalogue and the flow
/// ends are found afresh.
const MAX_CHANGED_PODS: usize = 256;

fn catalogue_of(
    opts: &CheckOptions,
    inv: &Inventory,
    facts: &PodFacts,
    per_namespace: &HashMap<String, usize>,
) -> Vec<Flow> {
    let wanted: BTreeSet<&str> = per_namespace.keys().map(String::as_str).collect();
    let copts = CatalogueOptions {
        admin_cidrs: opts.admin_cidrs.clone(),
    };
    let mut flows = catalogue::assemble(inv, facts, &copts, &wanted);
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
            Some(end) => end.as_ref().map(Cow::Borrowed),
            None => self.engine.resolve(spec).map(Cow::Owned),
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

/// A flow's identity, owned: what tests compare answers by.
#[cfg(test)]
type OwnedFlowId = (String, String, String, String, u16);

#[cfg(test)]
fn id_of_result(f: &FlowResult) -> OwnedFlowId {
    (
        f.name.clone(),
        f.src.clone(),
        f.dst.clone(),
        f.protocol.clone(),
        f.port,
    )
}

#[cfg(test)]
mod after_update;
#[cfg(test)]
mod replacements;
#[cfg(test)]
mod tests;
