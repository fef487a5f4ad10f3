//! The built-in reference cluster, used when no inventory is given: 3 control-plane nodes
//! running etcd and the API server (hostNetwork static pods), 2 workers, CoreDNS in
//! kube-system, host firewall on, VXLAN tunnel. Output always says it was assumed.

use std::net::{IpAddr, Ipv4Addr};

use super::read::labels;
use super::{
    CiliumConfig, ContainerPort, Inventory, Namespace, Node, Owner, Pod, Service, ServicePort,
    Taint, TargetPort,
};
use crate::model::Protocol;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn node(name: &str, ip: IpAddr, control_plane: bool) -> Node {
    let mut l = labels(&[
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
    ]);
    let mut taints = Vec::new();
    if control_plane {
        // kubeadm taints control-plane nodes so that only tolerating pods run there.
        taints.push(Taint {
            key: "node-role.kubernetes.io/control-plane".to_owned(),
            value: String::new(),
            effect: "NoSchedule".to_owned(),
        });
        l.insert(
            "node-role.kubernetes.io/control-plane".to_owned(),
            String::new(),
        );
    }
    Node {
        name: name.to_owned(),
        labels: l,
        addresses: vec![ip],
        kernel: Some("6.1.0".to_owned()),
        taints,
    }
}

fn static_pod(component: &str, node: &Node, ports: &[(&str, u16)]) -> Pod {
    Pod {
        namespace: "kube-system".to_owned(),
        name: format!("{component}-{}", node.name),
        labels: labels(&[("component", component), ("tier", "control-plane")]),
        ip: node.addresses.first().copied(),
        host_network: true,
        node: Some(node.name.clone()),
        ports: ports
            .iter()
            .map(|(n, p)| ContainerPort {
                name: Some((*n).to_owned()),
                port: *p,
                protocol: Protocol::Tcp,
            })
            .collect(),
        owner: Some(Owner {
            kind: "Node".to_owned(),
            name: node.name.clone(),
        }),
        service_account: "default".to_owned(),
    }
}

pub fn reference_cluster() -> Inventory {
    let mut inv = Inventory {
        assumed: true,
        ..Inventory::default()
    };
    for i in 1..=3u8 {
        inv.nodes
            .push(node(&format!("cp-{i}"), v4(10, 0, 0, 10 + i), true).into());
    }
    for i in 1..=2u8 {
        inv.nodes
            .push(node(&format!("worker-{i}"), v4(10, 0, 0, 20 + i), false).into());
    }
    for n in inv.nodes.clone().iter().filter(|n| n.is_control_plane()) {
        inv.pods
            .push(static_pod("etcd", n, &[("client", 2379), ("peer", 2380)]).into());
        inv.pods
            .push(static_pod("kube-apiserver", n, &[("https", 6443)]).into());
    }
    for (i, node) in ["worker-1", "worker-2"].iter().enumerate() {
        let idx = u8::try_from(i).unwrap_or(0);
        inv.pods.push(std::sync::Arc::new(Pod {
            namespace: "kube-system".to_owned(),
            name: format!("coredns-5d78c9869d-{idx}"),
            labels: labels(&[("k8s-app", "kube-dns"), ("pod-template-hash", "5d78c9869d")]),
            ip: Some(v4(10, 244, 3 + idx, 10)),
            host_network: false,
            node: Some((*node).to_owned()),
            ports: vec![
                ContainerPort {
                    name: Some("dns".into()),
                    port: 53,
                    protocol: Protocol::Udp,
                },
                ContainerPort {
                    name: Some("dns-tcp".into()),
                    port: 53,
                    protocol: Protocol::Tcp,
                },
                ContainerPort {
                    name: Some("metrics".into()),
                    port: 9153,
                    protocol: Protocol::Tcp,
                },
            ],
            owner: Some(Owner {
                kind: "ReplicaSet".into(),
                name: "coredns-5d78c9869d".into(),
            }),
            service_account: "coredns".to_owned(),
        }));
    }
    inv.services.push(Service {
        namespace: "kube-system".into(),
        name: "kube-dns".into(),
        labels: labels(&[("k8s-app", "kube-dns")]),
        selector: Some(labels(&[("k8s-app", "kube-dns")])),
        cluster_ip: Some(v4(10, 96, 0, 10)),
        ports: vec![
            ServicePort {
                name: Some("dns".into()),
                port: 53,
                target: TargetPort::Named("dns".into()),
                protocol: Protocol::Udp,
            },
            ServicePort {
                name: Some("dns-tcp".into()),
                port: 53,
                target: TargetPort::Named("dns-tcp".into()),
                protocol: Protocol::Tcp,
            },
        ],
    });
    inv.services.push(Service {
        namespace: "default".into(),
        name: "kubernetes".into(),
        cluster_ip: Some(v4(10, 96, 0, 1)),
        ports: vec![ServicePort {
            name: Some("https".into()),
            port: 443,
            target: TargetPort::Number(6443),
            protocol: Protocol::Tcp,
        }],
        ..Service::default()
    });
    for ns in ["default", "kube-system", "kube-public"] {
        inv.namespaces.push(
            Namespace {
                name: ns.to_owned(),
                labels: Default::default(),
            }
            .into(),
        );
    }
    inv.cilium = CiliumConfig {
        host_firewall: true,
        ..CiliumConfig::default()
    };
    inv.normalise();
    inv
}
