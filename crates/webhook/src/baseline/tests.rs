#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use super::*;

const CLUSTER: &str = "
apiVersion: v1
kind: Node
metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 198.18.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: cp-2, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 198.18.0.2}]}
---
apiVersion: v1
kind: Node
metadata: {name: worker-1}
status: {addresses: [{type: InternalIP, address: 198.18.0.10}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: worker-1, containers: [{name: web, image: web}]}
status: {podIP: 10.0.1.5}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config, namespace: kube-system}
data: {enable-host-firewall: 'true'}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress], ingress: [{}]}
";

const INCIDENT: &str = "
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: lockout}
spec:
  nodeSelector: {matchLabels: {}}
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: '9100', protocol: TCP}]}]
";

const FIXED: &str = "
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: lockout}
spec:
  nodeSelector: {matchLabels: {}}
  ingress:
  - fromEntities: [cluster, host]
";

const DENY_EGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: shop}
spec: {podSelector: {}, policyTypes: [Egress]}
";

const CNP: &str = "
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress: [{toEndpoints: [{matchLabels: {app: db}}]}]
";

fn baseline() -> Baseline {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, CLUSTER).unwrap();
    let loaded =
        policy::input::on_cluster(Default::default(), Some(path.as_path()), None, None).unwrap();
    Baseline::compute(Arc::new(loaded), CheckOptions::default())
}

fn parsed(yaml: &str) -> PolicySet {
    let docs = policy::source::load_bytes("test", yaml.as_bytes()).unwrap();
    let p = policy::parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p.policies
}

fn key_of(set: &PolicySet) -> ObjectKey {
    set.network_policies
        .iter()
        .map(|p| p.key())
        .chain(set.cilium.iter().map(|p| p.key()))
        .next()
        .unwrap()
}

/// The answer without the shortcut: the whole check of the set with the object replaced.
fn full(b: &Baseline, key: &ObjectKey, new: Option<&PolicySet>) -> Vec<OwnedFlowId> {
    let mut after = PolicySet::clone(&b.loaded.policies);
    after.network_policies.retain(|p| &p.key() != key);
    after.cilium.retain(|p| &p.key() != key);
    if let Some(new) = new {
        after.extend(new.clone());
    }
    let report = policy::check::check(
        &b.loaded.inventory,
        &after,
        &CheckOptions::default(),
        Vec::new(),
    );
    let mut ids: Vec<OwnedFlowId> = b
        .compare(report.flows)
        .newly_denied
        .iter()
        .map(id_of_result)
        .collect();
    ids.sort();
    ids
}

fn incremental(b: &Baseline, key: &ObjectKey, new: Option<&PolicySet>) -> Vec<OwnedFlowId> {
    let change = Change::Policy {
        key: key.clone(),
        new: new.cloned(),
        notes: Vec::new(),
    };
    let mut ids: Vec<OwnedFlowId> = b
        .evaluate(&change)
        .newly_denied
        .iter()
        .map(id_of_result)
        .collect();
    ids.sort();
    ids
}

/// Re-evaluating only the flows the changed object selects gives the answer of the whole
/// check, for creations, replacements and removals of every policy kind.
#[test]
fn the_shortcut_agrees_with_the_whole_check() {
    let b = baseline();
    let mut cut_something = false;
    for yaml in [INCIDENT, FIXED, DENY_EGRESS, CNP] {
        let set = parsed(yaml);
        let key = key_of(&set);
        let want = full(&b, &key, Some(&set));
        assert_eq!(incremental(&b, &key, Some(&set)), want, "{yaml}");
        cut_something |= !want.is_empty();
    }
    assert!(cut_something, "the cases must cut something to compare");
    let in_force = ObjectKey {
        kind: "NetworkPolicy",
        namespace: Some("shop".into()),
        name: "allow-web".into(),
    };
    assert_eq!(incremental(&b, &in_force, None), full(&b, &in_force, None));
}

#[test]
fn the_incident_cuts_critical_flows_and_the_fix_none() {
    let b = baseline();
    assert_eq!(b.critical_denied(), 0);
    let set = parsed(INCIDENT);
    let o = b.evaluate(&Change::Policy {
        key: key_of(&set),
        new: Some(set),
        notes: Vec::new(),
    });
    let ports: Vec<u16> = o
        .newly_denied
        .iter()
        .filter(|f| f.critical)
        .map(|f| f.port)
        .collect();
    for port in [2379, 2380, 6443, 10250] {
        assert!(ports.contains(&port), "{port} not in {ports:?}");
    }
    let set = parsed(FIXED);
    let o = b.evaluate(&Change::Policy {
        key: key_of(&set),
        new: Some(set),
        notes: Vec::new(),
    });
    assert!(o.newly_denied.is_empty(), "{:?}", o.newly_denied);
}

#[test]
fn host_firewall_off_makes_host_policies_inert_and_on_puts_them_in_force() {
    let b = baseline();
    let off: BTreeMap<String, String> =
        [("enable-host-firewall".to_owned(), "false".to_owned())].into();
    assert!(
        b.evaluate(&Change::CiliumConfig { new: Some(off) })
            .newly_denied
            .is_empty()
    );
    let typo: BTreeMap<String, String> =
        [("enable-host-firewall".to_owned(), "maybe".to_owned())].into();
    let o = b.evaluate(&Change::CiliumConfig { new: Some(typo) });
    assert!(o.notes.iter().any(|n| n.contains("maybe")), "{:?}", o.notes);
}
