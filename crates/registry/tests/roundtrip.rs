//! Objects built the way the API server stores them (protobuf via k8s-pb for built-in kinds,
//! Go-style JSON for custom resources), and the fixture snapshot's objects: decoded exactly,
//! they encode back to the same bytes; the display view shows what kubectl would.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use registry::{Encoding, ViewOptions, decode_object, envelope};
use serde_json::{Value, json};

fn stored(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let u = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(u.encode_to_vec());
    out
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn object_meta(name: &str, ns: &str) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(ns),
        self_link: s(""),
        uid: s("6f1c1c8e-0b7d-4c1e-9a53-9f1d2b3c4d5e"),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time {
            seconds: Some(1_763_769_600),
            nanos: Some(0),
        }),
        labels: BTreeMap::from([
            ("app".into(), "web".into()),
            ("tier".into(), "<front&end>".into()),
        ]),
        annotations: BTreeMap::new(),
        ..Default::default()
    }
}

fn pod() -> Vec<u8> {
    let container = core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(8080),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("http"),
                    }),
                    host: s(""),
                    scheme: s("HTTP"),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(-1),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = core::Pod {
        metadata: Some(object_meta("web-0", "demo")),
        spec: Some(core::PodSpec {
            containers: vec![container],
            node_name: s("cp-1"),
            host_network: Some(false),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            pod_ip: s("198.18.1.5"),
            pod_ips: vec![core::PodIp {
                ip: s("198.18.1.5"),
            }],
            host_ip: s("198.18.0.1"),
            start_time: Some(meta::Time {
                seconds: Some(1_763_769_601),
                nanos: Some(0),
            }),
            ..Default::default()
        }),
    };
    stored("v1", "Pod", pod.encode_to_vec())
}

fn secret() -> Vec<u8> {
    let secret = core::Secret {
        metadata: Some(object_meta("db", "demo")),
        data: BTreeMap::from([("password".into(), b"hunter2\x00\xff".to_vec())]),
        r#type: s("Opaque"),
        ..Default::default()
    };
    stored("v1", "Secret", secret.encode_to_vec())
}

fn exact() -> ViewOptions {
    ViewOptions {
        show_secrets: true,
        exact: true,
    }
}

fn round_trip(value: &[u8]) {
    let (object, note) = decode_object(value, 7, exact());
    let object = object.unwrap_or_else(|| panic!("not decoded: {note:?}"));
    let again = envelope::encode(&object, Encoding::of(value)).expect("encode");
    assert_eq!(
        again,
        value,
        "re-encoded bytes differ for {}",
        Value::Object(object)
    );
}

#[test]
fn protobuf_objects_encode_back_to_the_same_bytes() {
    round_trip(&pod());
    round_trip(&secret());
    let node = core::Node {
        metadata: Some(object_meta("cp-1", "")),
        spec: Some(core::NodeSpec {
            pod_cidr: s("10.0.0.0/24"),
            pod_cid_rs: vec!["10.0.0.0/24".into()],
            taints: vec![core::Taint {
                key: s("node-role.kubernetes.io/control-plane"),
                value: s(""),
                effect: s("NoSchedule"),
                time_added: None,
            }],
            ..Default::default()
        }),
        status: Some(core::NodeStatus {
            addresses: vec![core::NodeAddress {
                r#type: s("InternalIP"),
                address: s("198.18.0.1"),
            }],
            ..Default::default()
        }),
    };
    round_trip(&stored("v1", "Node", node.encode_to_vec()));
    let cm = core::ConfigMap {
        metadata: Some(object_meta("cilium-config", "kube-system")),
        data: BTreeMap::from([("enable-host-firewall".into(), "true".into())]),
        binary_data: BTreeMap::from([("blob".into(), vec![0, 1, 2])]),
        immutable: None,
    };
    round_trip(&stored("v1", "ConfigMap", cm.encode_to_vec()));
}

#[test]
fn display_view_reads_like_kubectl() {
    let (object, note) = decode_object(&pod(), 42, ViewOptions::default());
    let o = Value::Object(object.expect("decoded"));
    assert_eq!(note, None);
    assert_eq!(o["apiVersion"], "v1");
    assert_eq!(o["kind"], "Pod");
    assert_eq!(o["metadata"]["resourceVersion"], "42");
    assert_eq!(o["metadata"]["creationTimestamp"], "2025-11-22T00:00:00Z");
    assert!(
        o["metadata"].get("selfLink").is_none(),
        "empty strings are left out"
    );
    assert_eq!(o["status"]["podIP"], "198.18.1.5");
    assert_eq!(o["status"]["podIPs"], json!([{"ip": "198.18.1.5"}]));
    let c = &o["spec"]["containers"][0];
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    // ProbeHandler is an embedded struct in Go: httpGet sits in the probe itself.
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(c["livenessProbe"]["initialDelaySeconds"], -1);
}

#[test]
fn secret_data_is_redacted_unless_asked() {
    let (object, note) = decode_object(&secret(), 3, ViewOptions::default());
    let o = Value::Object(object.expect("decoded"));
    assert!(
        o["data"]["password"]
            .as_str()
            .is_some_and(|v| v.starts_with("<redacted"))
    );
    assert!(note.is_some_and(|n| n.contains("--show-secrets")));
    let (object, _) = decode_object(&secret(), 3, exact());
    let o = Value::Object(object.expect("decoded"));
    assert_eq!(o["data"]["password"], "aHVudGVyMgD/");
}

#[test]
fn custom_resources_are_go_json_and_round_trip() {
    let ccnp = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "lockout", "uid": "u", "creationTimestamp": "2025-11-22T00:00:00Z", "generation": 1},
        "spec": {"nodeSelector": {"matchLabels": {}}, "ingress": [{"fromCIDR": ["198.18.9.9/32"], "toPorts": [{"ports": [{"port": "9100", "protocol": "TCP"}]}]}],
                 "description": "a <b> & c"}
    });
    let Value::Object(m) = ccnp else { panic!() };
    let bytes = envelope::go_json(&m);
    assert!(bytes.ends_with(b"}\n"));
    assert!(String::from_utf8_lossy(&bytes).contains("a \\u003cb\\u003e \\u0026 c"));
    round_trip(&bytes);
}

#[test]
fn corrupt_values_and_unknown_kinds_become_notes() {
    let mut truncated = pod();
    truncated.truncate(truncated.len() - 9);
    let (object, note) = decode_object(&truncated, 1, ViewOptions::default());
    assert!(object.is_none());
    assert!(note.is_some_and(|n| n.contains("not decoded")));
    let (object, note) = decode_object(
        &stored("example.com/v1", "Widget", vec![8, 1]),
        1,
        ViewOptions::default(),
    );
    assert!(object.is_none());
    assert!(note.is_some_and(|n| n.contains("Widget")));
    let (object, note) = decode_object(
        b"k8s:enc:aescbc:v1:key1:\x01\x02",
        1,
        ViewOptions::default(),
    );
    assert!(object.is_none());
    assert!(note.is_some_and(|n| n.contains("encrypted")));
    assert!(envelope::encode(&serde_json::Map::new(), Encoding::Encrypted).is_err());
}

#[test]
fn fixture_snapshot_objects_round_trip() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/etcd-3.4.23/snapshot.db");
    let snap = store::snapshot::SnapshotFile::open(&path).expect("fixture snapshot");
    let db = snap.db().expect("bbolt");
    let kvs = store::objects::latest(&db, b"/registry/").expect("walk");
    let mut seen = Vec::new();
    for kv in &kvs {
        let (object, note) = decode_object(&kv.value, kv.mod_revision, exact());
        let Some(object) = object else {
            // Plain test keys under /registry/ are not objects: they must say so.
            assert_eq!(
                Encoding::of(&kv.value),
                Encoding::Other,
                "{}: {note:?}",
                String::from_utf8_lossy(&kv.key)
            );
            assert!(note.is_some());
            continue;
        };
        seen.push(
            object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        );
        let again = envelope::encode(&object, Encoding::of(&kv.value)).expect("encode");
        if Encoding::of(&kv.value) == Encoding::Json && !is_go_canonical(&kv.value) {
            // The fixture's JSON was written by hand, keys unsorted; the API server writes
            // custom resources from Go maps, keys sorted. The object must still be the same.
            let (back, _) = decode_object(&again, kv.mod_revision, exact());
            assert_eq!(
                back.as_ref(),
                Some(&object),
                "{}",
                String::from_utf8_lossy(&kv.key)
            );
            continue;
        }
        assert_eq!(again, kv.value, "{}", String::from_utf8_lossy(&kv.key));
    }
    for kind in [
        "Namespace",
        "CiliumNetworkPolicy",
        "CiliumClusterwideNetworkPolicy",
    ] {
        assert!(
            seen.iter().any(|k| k == kind),
            "{kind} not in fixture: {seen:?}"
        );
    }
}

/// Whether `value` is what Go's encoder writes for a map: parse and re-serialise compare equal.
fn is_go_canonical(value: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Map<String, Value>>(value) {
        Ok(m) => envelope::go_json(&m) == value,
        Err(_) => false,
    }
}
