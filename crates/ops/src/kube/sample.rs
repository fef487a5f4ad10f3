//! A small control plane as the API server would have stored it in etcd: nodes, namespaces,
//! hostNetwork static pods for etcd and the API server, CoreDNS, the `kube-dns` service, the
//! `cilium-config` ConfigMap (host firewall on), and the field report's lockout policy. Used by
//! `drill --scenario policy-lockout` and by tests; every value is encoded by the `registry` crate
//! exactly as kube-apiserver stores it (protobuf for built-in kinds, JSON for the CCNP).

use serde_json::{Value, json};

use crate::OpsError;

/// The field report's policy: every node (`nodeSelector: {matchLabels: {}}`) goes into ingress
/// default-deny, with port 9100 the only thing allowed in.
pub const LOCKOUT_POLICY: &str = "restrict-node-exporter-hostport-9100";
pub const LOCKOUT_KEY: &str =
    "/registry/cilium.io/ciliumclusterwidenetworkpolicies/restrict-node-exporter-hostport-9100";

fn encode(object: Value, encoding: registry::Encoding) -> Result<Vec<u8>, OpsError> {
    let Value::Object(m) = object else {
        return Err(OpsError::Config(
            "sample object is not a JSON object".into(),
        ));
    };
    registry::envelope::encode(&m, encoding)
        .map_err(|e| OpsError::Config(format!("encoding a sample object: {e}")))
}

fn meta(name: &str, namespace: Option<&str>, labels: Value) -> Value {
    let mut m = json!({"name": name, "uid": format!("00000000-0000-4000-8000-{:012x}", name.len() * 7919 + namespace.map_or(0, str::len)), "creationTimestamp": "2026-11-22T00:00:00Z", "labels": labels});
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn static_pod(component: &str, node: &str, ip: &str, ports: &[(&str, u16)]) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(n, p)| json!({"name": n, "containerPort": p, "protocol": "TCP"}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": meta(&format!("{component}-{node}"), Some("kube-system"), json!({"component": component, "tier": "control-plane"})),
           "spec": {"nodeName": node, "hostNetwork": true, "containers": [{"name": component, "image": format!("registry.k8s.io/{component}:v1.33.0"), "ports": ports}]},
           "status": {"phase": "Running", "hostIP": ip, "podIP": ip, "podIPs": [{"ip": ip}]}})
}

/// `(key, value)` pairs for a control plane on `node_ips` (one control-plane node each),
/// without the lockout policy.
pub fn control_plane(node_ips: &[String]) -> Result<Vec<(String, Vec<u8>)>, OpsError> {
    use registry::Encoding::Protobuf;
    let mut out = Vec::new();
    for ns in ["default", "kube-system", "demo"] {
        out.push((
            store::k8s::object_key("namespaces", None, ns),
            encode(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, None, json!({"kubernetes.io/metadata.name": ns})), "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}), Protobuf)?,
        ));
    }
    for (i, ip) in node_ips.iter().enumerate() {
        let name = format!("cp-{}", i + 1);
        let labels = json!({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""});
        out.push((
            store::k8s::object_key("minions", None, &name),
            encode(json!({"apiVersion": "v1", "kind": "Node", "metadata": meta(&name, None, labels),
                          "spec": {"podCIDR": format!("10.244.{i}.0/24"), "podCIDRs": [format!("10.244.{i}.0/24")],
                                   "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
                          "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                                     "nodeInfo": {"kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12", "containerRuntimeVersion": "containerd://1.7", "kubeletVersion": "v1.33.0",
                                                  "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": "", "operatingSystem": "linux", "architecture": "amd64"}}}), Protobuf)?,
        ));
        out.push((
            store::k8s::object_key("pods", Some("kube-system"), &format!("etcd-{name}")),
            encode(
                static_pod("etcd", &name, ip, &[("client", 2379), ("peer", 2380)]),
                Protobuf,
            )?,
        ));
        out.push((
            store::k8s::object_key(
                "pods",
                Some("kube-system"),
                &format!("kube-apiserver-{name}"),
            ),
            encode(
                static_pod("kube-apiserver", &name, ip, &[("https", 6443)]),
                Protobuf,
            )?,
        ));
    }
    for i in 0..2usize {
        let node = format!("cp-{}", i % node_ips.len().max(1) + 1);
        let ip = format!("10.244.{}.10", i % node_ips.len().max(1));
        out.push((
            store::k8s::object_key("pods", Some("kube-system"), &format!("coredns-5d78c9869d-{i}")),
            encode(json!({"apiVersion": "v1", "kind": "Pod",
                          "metadata": meta(&format!("coredns-5d78c9869d-{i}"), Some("kube-system"), json!({"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"})),
                          "spec": {"nodeName": node, "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                                   "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}, {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]}]},
                          "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}), Protobuf)?,
        ));
    }
    out.push((
        store::k8s::object_key("services/specs", Some("kube-system"), "kube-dns"),
        encode(json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("kube-dns", Some("kube-system"), json!({"k8s-app": "kube-dns"})),
                      "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "type": "ClusterIP",
                               "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": "dns-tcp"}]}}), Protobuf)?,
    ));
    out.push((
        store::k8s::object_key("configmaps", Some("kube-system"), "cilium-config"),
        encode(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cilium-config", Some("kube-system"), json!({})),
                      "data": {"enable-host-firewall": "true", "policy-enforcement-mode": "default", "tunnel-protocol": "vxlan", "cluster-name": "default", "kube-proxy-replacement": "true"}}), Protobuf)?,
    ));
    Ok(out)
}

/// The lockout CCNP as the API server stores a custom resource (Go JSON).
pub fn lockout_policy() -> Result<(String, Vec<u8>), OpsError> {
    let port = json!([{"ports": [{"port": "9100", "protocol": "TCP"}]}]);
    let value = encode(
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
               "metadata": {"name": LOCKOUT_POLICY, "uid": "00000000-0000-4000-8000-000000009100", "generation": 1, "creationTimestamp": "2026-11-22T00:00:00Z"},
               "spec": {"nodeSelector": {"matchLabels": {}},
                        "ingress": [{"fromCIDR": ["103.10.20.30/32"], "toPorts": port}, {"fromEntities": ["cluster"], "toPorts": port}]}}),
        registry::Encoding::Json,
    )?;
    Ok((LOCKOUT_KEY.to_string(), value))
}
