#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
//! Property-style check of the review shortcut (shared compiled engine, reused catalogue,
//! only touched flows evaluated): for random creations, replacements and removals over a
//! generated cluster, the outcome equals the whole check of the replaced set.

use super::*;

/// xorshift64*: deterministic, so a failure names its seed and replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const NAMESPACES: [&str; 4] = ["ns-0", "ns-1", "ns-2", "ns-3"];
const APPS: [&str; 3] = ["web", "db", "api"];
const NAMES: [&str; 4] = ["p0", "p1", "p2", "p3"];

fn cluster() -> String {
    let mut y = String::new();
    for (i, (name, cp)) in [
        ("cp-1", true),
        ("cp-2", true),
        ("w-1", false),
        ("w-2", false),
    ]
    .into_iter()
    .enumerate()
    {
        let labels = if cp {
            "{node-role.kubernetes.io/control-plane: ''}"
        } else {
            "{}"
        };
        y += &format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {labels}}}\nstatus: {{addresses: [{{type: InternalIP, address: 198.18.0.{}}}]}}\n---\n",
            i + 1
        );
    }
    y += "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec: {nodeName: w-1, containers: [{name: c, image: c, ports: [{containerPort: 53, protocol: UDP}]}]}\nstatus: {podIP: 10.0.9.2}\n---\n";
    for (n, ns) in NAMESPACES.iter().enumerate() {
        y += &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n");
        for (a, app) in APPS.iter().enumerate() {
            y += &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {app}-1, namespace: {ns}, labels: {{app: {app}}}}}\nspec: {{nodeName: w-{}, containers: [{{name: c, image: c}}]}}\nstatus: {{podIP: 10.0.{n}.{}}}\n---\n",
                a % 2 + 1,
                a + 10
            );
        }
    }
    y += "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium-config, namespace: kube-system}\ndata: {enable-host-firewall: 'true'}\n";
    y
}

fn selector(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => "{}".into(),
        _ => format!("{{matchLabels: {{app: {}}}}}", rng.pick(&APPS)),
    }
}

fn knp(rng: &mut Rng, ns: &str, name: &str) -> String {
    let types = rng.pick(&["[Ingress]", "[Egress]", "[Ingress, Egress]"]);
    let peer = format!("{{podSelector: {}}}", selector(rng));
    let ingress = match rng.below(3) {
        0 => "[]".to_owned(),
        1 => "[{}]".to_owned(),
        _ => format!("[{{from: [{peer}], ports: [{{port: 80}}]}}]"),
    };
    let egress = match rng.below(3) {
        0 => "[]".to_owned(),
        1 => "[{ports: [{port: 53, protocol: UDP}]}]".to_owned(),
        _ => format!("[{{to: [{peer}]}}]"),
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{podSelector: {}, policyTypes: {types}, ingress: {ingress}, egress: {egress}}}\n",
        selector(rng)
    )
}

fn cnp(rng: &mut Rng, ns: &str, name: &str) -> String {
    let section = match rng.below(5) {
        0 => "egress: [{toEntities: [world]}]".to_owned(),
        1 => "egress: [{toEntities: [kube-apiserver, cluster]}]".to_owned(),
        2 => format!("egress: [{{toEndpoints: [{}]}}]", selector(rng)),
        3 => "ingress: [{fromEntities: [cluster]}]".to_owned(),
        _ => "egressDeny: [{toEntities: [all]}]\n  egress: [{toEntities: [all]}]".to_owned(),
    };
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  endpointSelector: {}\n  {section}\n",
        selector(rng)
    )
}

fn host_ccnp(rng: &mut Rng, name: &str) -> String {
    let section = rng.pick(&[
        "ingress: [{fromEntities: [cluster], toPorts: [{ports: [{port: '9100', protocol: TCP}]}]}]",
        "ingress: [{fromEntities: [cluster, host]}]",
        "ingress: [{fromNodes: [{}]}]",
        "egress: [{toEntities: [world]}]",
    ]);
    let subject = rng.pick(&[
        "nodeSelector: {matchLabels: {}}",
        "nodeSelector: {matchLabels: {node-role.kubernetes.io/control-plane: ''}}",
        "endpointSelector: {}",
    ]);
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  {subject}\n  {section}\n"
    )
}

/// A random policy; namespaced ones only in `namespaces`.
fn policy(rng: &mut Rng, namespaces: &[&str]) -> String {
    let ns = rng.pick(namespaces);
    let name = rng.pick(&NAMES);
    match rng.below(3) {
        0 => knp(rng, ns, name),
        1 => cnp(rng, ns, name),
        _ => host_ccnp(rng, name),
    }
}

/// A random new version of the policy `key` names.
fn same_key(rng: &mut Rng, key: &ObjectKey) -> String {
    let ns = key.namespace.as_deref().unwrap_or_default();
    match key.kind {
        "NetworkPolicy" => knp(rng, ns, &key.name),
        "CiliumNetworkPolicy" => cnp(rng, ns, &key.name),
        _ => host_ccnp(rng, &key.name),
    }
}

fn baseline_of(rng: &mut Rng, dir: &std::path::Path) -> Baseline {
    let mut yaml = cluster();
    // ns-3 starts without policies: creating one there changes the catalogue.
    for _ in 0..8 {
        yaml += "---\n";
        yaml += &policy(rng, &NAMESPACES[..3]);
    }
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut loaded =
        policy::input::on_cluster(Default::default(), Some(path.as_path()), None, None).unwrap();
    Arc::make_mut(&mut loaded.policies).keep_last_of_each();
    Baseline::compute(Arc::new(loaded), CheckOptions::default())
}

fn parsed(yaml: &str) -> PolicySet {
    let docs = policy::source::load_bytes("test", yaml.as_bytes()).unwrap();
    let p = policy::parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}\n{yaml}", p.errors);
    p.policies
}

type Answer = (Vec<OwnedFlowId>, Vec<OwnedFlowId>);

fn answer(o: &Outcome) -> Answer {
    let mut denied: Vec<OwnedFlowId> = o.newly_denied.iter().map(id_of_result).collect();
    let mut unresolved: Vec<OwnedFlowId> = o.newly_unresolved.iter().map(id_of_result).collect();
    denied.sort();
    unresolved.sort();
    (denied, unresolved)
}

fn whole_check(b: &Baseline, key: &ObjectKey, new: Option<&PolicySet>) -> Answer {
    let mut after = PolicySet::clone(&b.loaded.policies);
    after.network_policies.retain(|p| &p.key() != key);
    after.cilium.retain(|p| &p.key() != key);
    if let Some(new) = new {
        after.extend(new.clone());
    }
    let report = policy::check::check(&b.loaded.inventory, &after, &b.opts, Vec::new());
    answer(&b.compare(report.flows))
}

fn keys_in_force(b: &Baseline) -> Vec<ObjectKey> {
    let p = &b.loaded.policies;
    let knp = p.network_policies.iter().map(|p| p.key());
    knp.chain(p.cilium.iter().map(|p| p.key())).collect()
}

#[test]
fn random_replacements_agree_with_the_whole_check() {
    let dir = tempfile::tempdir().unwrap();
    let (mut compared, mut cut) = (0, 0);
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let b = baseline_of(&mut rng, dir.path());
        let in_force = keys_in_force(&b);
        for case in 0..12 {
            let (key, new) = match rng.below(4) {
                // Removal of a policy in force.
                0 if !in_force.is_empty() => (in_force[rng.below(in_force.len())].clone(), None),
                // Replacement of a policy in force, or a creation in any namespace (ns-3
                // has none yet).
                choice => {
                    let yaml = match choice {
                        1 | 2 if !in_force.is_empty() => {
                            let k = &in_force[rng.below(in_force.len())];
                            same_key(&mut rng, k)
                        }
                        _ => policy(&mut rng, &NAMESPACES),
                    };
                    let set = parsed(&yaml);
                    let knp = set.network_policies.iter().map(|p| p.key());
                    let key = knp
                        .chain(set.cilium.iter().map(|p| p.key()))
                        .next()
                        .unwrap();
                    (key, Some(set))
                }
            };
            let change = Change::Policy {
                key: key.clone(),
                new: new.clone(),
                notes: Vec::new(),
            };
            let want = whole_check(&b, &key, new.as_ref());
            let got = answer(&b.evaluate(&change));
            assert_eq!(got, want, "seed {seed} case {case}: {key}");
            compared += 1;
            cut += usize::from(!want.0.is_empty());
        }
    }
    assert_eq!(compared, 72);
    assert!(
        cut > 5,
        "only {cut} changes cut a flow: the cases compare too little"
    );
}
