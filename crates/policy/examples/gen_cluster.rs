//! Generates synthetic inputs for the policy benchmarks (scripts/bench-policy.sh).
//!
//! `gen_cluster cluster OUT NODES NAMESPACES PODS POLICIES`: `OUT/cluster/` (nodes, namespaces,
//! pods, services, cilium-config as `kubectl get -o yaml` lists) and `OUT/policies/` (NetworkPolicies,
//! CiliumNetworkPolicies and a few host policies).
//! `gen_cluster connectivity OUT NAMESPACES PODS POLICIES`: one folder with namespaces, pods
//! and NetworkPolicies only, the input shape np-guard and IBM NCA read.
//! Deterministic: the same arguments give the same files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::fmt::Write as _;
use std::path::Path;

/// Small deterministic generator (xorshift); no dependency needed for benchmark data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const APPS: usize = 6;

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

fn list(kind: &str, items: &str) -> String {
    format!("apiVersion: v1\nkind: {kind}\nitems:\n{items}")
}

fn namespaces(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(
            s,
            "- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: ns{i}\n    labels:\n      team: t{}\n      kubernetes.io/metadata.name: ns{i}\n",
            i % 10
        );
    }
    s.push_str("- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: kube-system\n");
    list("NamespaceList", &s)
}

fn pods(rng: &mut Rng, n: usize, namespaces: usize, nodes: usize) -> String {
    let mut s = String::with_capacity(n * 600);
    for i in 0..n {
        let ns = i % namespaces;
        let app = rng.below(APPS);
        let node = if nodes > 3 {
            3 + rng.below(nodes - 3)
        } else {
            rng.below(nodes.max(1))
        };
        let rs = format!("app{app}-{:x}", 0x5d78c000 + ns * 16 + app);
        let _ = write!(
            s,
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {rs}-{i}\n    namespace: ns{ns}\n    labels:\n      app: app{app}\n      tier: t{}\n      pod-template-hash: {:x}\n    ownerReferences:\n    - apiVersion: apps/v1\n      kind: ReplicaSet\n      name: {rs}\n      controller: true\n  spec:\n    nodeName: node-{node}\n    containers:\n    - name: main\n      ports:\n      - name: http\n        containerPort: 8080\n        protocol: TCP\n      - name: metrics\n        containerPort: 9090\n        protocol: TCP\n  status:\n    podIP: 10.{}.{}.{}\n",
            app % 3,
            0x5d78c000 + ns * 16 + app,
            64 + (i >> 16) % 64,
            (i >> 8) & 255,
            i & 255
        );
    }
    s
}

fn system_pods(nodes: usize) -> String {
    let mut s = String::new();
    for cp in 0..nodes.min(3) {
        for (c, port) in [("etcd", 2379), ("kube-apiserver", 6443)] {
            let _ = write!(
                s,
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {c}-node-{cp}\n    namespace: kube-system\n    labels:\n      component: {c}\n      tier: control-plane\n  spec:\n    nodeName: node-{cp}\n    hostNetwork: true\n    containers:\n    - name: {c}\n      ports:\n      - containerPort: {port}\n  status:\n    podIP: 172.16.0.{cp}\n"
            );
        }
    }
    for i in 0..2 {
        let _ = write!(
            s,
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: coredns-5d78c9869d-{i}\n    namespace: kube-system\n    labels:\n      k8s-app: kube-dns\n    ownerReferences:\n    - kind: ReplicaSet\n      name: coredns-5d78c9869d\n      controller: true\n  spec:\n    nodeName: node-{}\n    containers:\n    - name: coredns\n      ports:\n      - {{name: dns, containerPort: 53, protocol: UDP}}\n      - {{name: dns-tcp, containerPort: 53, protocol: TCP}}\n  status:\n    podIP: 10.63.0.{}\n",
            3 + i,
            10 + i
        );
    }
    s
}

fn nodes(n: usize) -> String {
    let mut s = String::with_capacity(n * 400);
    for i in 0..n {
        let role = if i < 3 {
            "      node-role.kubernetes.io/control-plane: \"\"\n"
        } else {
            "      role: worker\n"
        };
        let _ = write!(
            s,
            "- apiVersion: v1\n  kind: Node\n  metadata:\n    name: node-{i}\n    labels:\n      kubernetes.io/hostname: node-{i}\n      kubernetes.io/os: linux\n      pool: p{}\n{role}  status:\n    addresses:\n    - type: InternalIP\n      address: 172.16.{}.{}\n    nodeInfo:\n      kernelVersion: 6.1.0-18-amd64\n",
            i % 8,
            i / 250,
            i % 250
        );
    }
    list("NodeList", &s)
}

const SERVICES: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: kube-dns\n  namespace: kube-system\nspec:\n  selector:\n    k8s-app: kube-dns\n  clusterIP: 10.96.0.10\n  ports:\n  - {name: dns, port: 53, targetPort: dns, protocol: UDP}\n  - {name: dns-tcp, port: 53, targetPort: dns-tcp, protocol: TCP}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-config\n  namespace: kube-system\ndata:\n  enable-host-firewall: \"true\"\n  tunnel-protocol: vxlan\n  cluster-name: bench\n";

/// One NetworkPolicy; the shape rotates so every rule kind is exercised.
fn knp(rng: &mut Rng, i: usize, namespaces: usize) -> String {
    let ns = i % namespaces;
    let app = rng.below(APPS);
    let other = rng.below(APPS);
    let head = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np-{i}\n  namespace: ns{ns}\nspec:\n"
    );
    match i % 5 {
        0 => format!(
            "{head}  podSelector:\n    matchLabels:\n      app: app{app}\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          app: app{other}\n    ports:\n    - port: 8080\n---\n"
        ),
        1 => format!(
            "{head}  podSelector:\n    matchLabels:\n      app: app{app}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: t{}\n    ports:\n    - port: 9090\n      endPort: 9095\n    - port: http\n---\n",
            rng.below(10)
        ),
        2 => format!(
            "{head}  podSelector:\n    matchExpressions:\n    - {{key: tier, operator: In, values: [t{}]}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.0/8\n        except: [10.{}.0.0/16]\n    ports:\n    - port: 53\n      protocol: UDP\n  - to:\n    - podSelector: {{}}\n---\n",
            app % 3,
            rng.below(250)
        ),
        3 => format!(
            "{head}  podSelector:\n    matchLabels:\n      app: app{app}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: t{}\n      podSelector:\n        matchLabels:\n          app: app{other}\n  egress:\n  - {{}}\n---\n",
            rng.below(10)
        ),
        _ => format!(
            "{head}  podSelector: {{}}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except: [{}.0.0.0/8]\n    ports:\n    - port: 443\n---\n",
            1 + rng.below(200)
        ),
    }
}

fn cnp(rng: &mut Rng, i: usize, namespaces: usize) -> String {
    let ns = i % namespaces;
    let app = rng.below(APPS);
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: cnp-{i}\n  namespace: ns{ns}\nspec:\n  endpointSelector:\n    matchLabels:\n      app: app{app}\n  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        app: app{}\n    toPorts:\n    - ports:\n      - port: \"8080\"\n        protocol: TCP\n  egress:\n  - toEndpoints:\n    - matchLabels:\n        k8s:io.kubernetes.pod.namespace: kube-system\n        k8s-app: kube-dns\n    toPorts:\n    - ports:\n      - port: \"53\"\n        protocol: ANY\n  - toEntities: [kube-apiserver]\n---\n",
        rng.below(APPS)
    )
}

const HOST_POLICY: &str = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: host-baseline\nspec:\n  nodeSelector: {}\n  ingress:\n  - fromEntities: [cluster, host]\n  - fromCIDR: [203.0.113.0/24]\n    toPorts:\n    - ports:\n      - {port: \"22\", protocol: TCP}\n      - {port: \"6443\", protocol: TCP}\n---\n";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args.get(i).ok_or("missing argument")?.parse()?)
    };
    let mode = args.first().map(String::as_str).unwrap_or("");
    let out = Path::new(
        args.get(1)
            .ok_or("usage: gen_cluster cluster|connectivity OUT ...")?,
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    match mode {
        "cluster" => {
            let (n, ns, p, pol) = (num(2)?, num(3)?, num(4)?, num(5)?);
            write(&out.join("cluster/nodes.yaml"), &nodes(n))?;
            write(&out.join("cluster/namespaces.yaml"), &namespaces(ns))?;
            let mut items = pods(&mut rng, p, ns, n);
            items.push_str(&system_pods(n));
            write(&out.join("cluster/pods.yaml"), &list("PodList", &items))?;
            write(&out.join("cluster/services.yaml"), SERVICES)?;
            let mut s = String::from(HOST_POLICY);
            for i in 0..pol.saturating_sub(1) {
                if i % 4 == 3 {
                    s.push_str(&cnp(&mut rng, i, ns));
                } else {
                    s.push_str(&knp(&mut rng, i, ns));
                }
            }
            write(&out.join("policies/policies.yaml"), &s)?;
        }
        "connectivity" => {
            let (ns, p, pol) = (num(2)?, num(3)?, num(4)?);
            write(&out.join("ns.yaml"), &namespaces(ns))?;
            write(&out.join("pods.yaml"), &list("PodList", &pods(&mut rng, p, ns, 8)))?;
            let mut s = String::new();
            for i in 0..pol {
                s.push_str(&knp(&mut rng, i, ns));
            }
            write(&out.join("netpols.yaml"), &s)?;
        }
        _ => return Err("usage: gen_cluster cluster OUT NODES NAMESPACES PODS POLICIES | connectivity OUT NAMESPACES PODS POLICIES".into()),
    }
    Ok(())
}
