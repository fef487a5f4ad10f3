#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use super::*;

fn review(op: &str, kind: &str, ns: Option<&str>, name: &str, object: Value) -> Value {
    let (obj, old) = if op == "DELETE" {
        (Value::Null, object)
    } else {
        (object, Value::Null)
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u-1", "kind": {"group": "cilium.io", "version": "v2", "kind": kind},
            "namespace": ns, "name": name, "operation": op, "object": obj, "oldObject": old,
            "dryRun": false, "userInfo": {"username": "alice"}}})
}

fn ccnp(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"nodeSelector": {"matchLabels": {}}, "ingress": [{"fromEntities": ["cluster"]}]}})
}

fn read(v: &Value) -> Result<Request, Unreadable> {
    read_review(&serde_json::to_vec(v).unwrap())
}

fn flow(name: &str, critical: bool) -> FlowResult {
    FlowResult {
        name: name.into(),
        src: "node/cp-1".into(),
        dst: "node/cp-2".into(),
        protocol: "TCP".into(),
        port: 2379,
        verdict: "deny",
        critical,
        explanation: "ingress default deny on node/cp-2".into(),
        fix: Some("ingress:\n- fromEntities: [host]".into()),
        purpose: String::new(),
        rules: vec!["C13"],
        l7_filtered: false,
        depends_on_dns: false,
        unresolved: false,
    }
}

#[test]
fn a_review_is_read_with_its_object() {
    let r = read(&review(
        "CREATE",
        "CiliumClusterwideNetworkPolicy",
        None,
        "x",
        ccnp("x", json!({})),
    ))
    .unwrap();
    assert_eq!(r.uid, "u-1");
    assert_eq!(r.operation, Operation::Create);
    assert_eq!(r.user.as_deref(), Some("alice"));
    assert!(r.object.is_some() && r.old_object.is_none());
    let Change::Policy { key, new, .. } = classify(&r).unwrap() else {
        panic!("a policy change")
    };
    assert_eq!(key.to_string(), "CiliumClusterwideNetworkPolicy x");
    assert_eq!(new.unwrap().cilium.len(), 1);
}

#[test]
fn delete_removes_the_key_without_parsing() {
    let r = read(&review(
        "DELETE",
        "CiliumClusterwideNetworkPolicy",
        None,
        "x",
        ccnp("x", json!({})),
    ))
    .unwrap();
    let Change::Policy { new, .. } = classify(&r).unwrap() else {
        panic!("a policy change")
    };
    assert!(new.is_none());
}

#[test]
fn not_json_or_no_uid_has_nobody_to_answer() {
    assert!(matches!(read_review(b"{nope"), Err(Unreadable::NoUid(_))));
    assert!(matches!(
        read(&json!({"kind": "AdmissionReview", "request": {"name": "x"}})),
        Err(Unreadable::NoUid(_))
    ));
}

#[test]
fn a_readable_uid_with_a_broken_request_is_answered() {
    let v = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-9", "operation": 7}});
    match read(&v) {
        Err(Unreadable::Malformed { uid, .. }) => assert_eq!(uid, "u-9"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_kinds_and_unparsable_objects_are_unjudged() {
    let r = read(&review(
        "CREATE",
        "Deployment",
        Some("a"),
        "d",
        json!({"metadata": {"name": "d"}}),
    ))
    .unwrap();
    assert!(classify(&r).unwrap_err().contains("does not judge"));
    let bad = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "x"}, "spec": {"nodeSelector": "not a selector"}});
    let r = read(&review(
        "CREATE",
        "CiliumClusterwideNetworkPolicy",
        None,
        "x",
        bad,
    ))
    .unwrap();
    assert!(
        classify(&r).unwrap_err().contains("does not parse"),
        "{:?}",
        classify(&r)
    );
}

#[test]
fn only_kube_system_cilium_config_is_judged() {
    let cm = json!({"metadata": {"name": "other"}, "data": {"enable-host-firewall": "true"}});
    let r = read(&review(
        "UPDATE",
        "ConfigMap",
        Some("kube-system"),
        "other",
        cm,
    ))
    .unwrap();
    assert!(matches!(classify(&r), Ok(Change::NotJudged)));
    let cm =
        json!({"metadata": {"name": "cilium-config"}, "data": {"enable-host-firewall": "true"}});
    let r = read(&review(
        "UPDATE",
        "ConfigMap",
        Some("kube-system"),
        "cilium-config",
        cm,
    ))
    .unwrap();
    let Ok(Change::CiliumConfig { new: Some(data) }) = classify(&r) else {
        panic!("cilium-config")
    };
    assert_eq!(
        data.get("enable-host-firewall").map(String::as_str),
        Some("true")
    );
}

fn request(annotations: Value) -> Request {
    read(&review(
        "UPDATE",
        "CiliumClusterwideNetworkPolicy",
        None,
        "x",
        ccnp("x", annotations),
    ))
    .unwrap()
}

#[test]
fn a_critical_cut_is_refused_with_flow_rule_and_fix() {
    let outcome = Outcome {
        newly_denied: vec![flow("etcd-client", true), flow("metrics", false)],
        ..Outcome::default()
    };
    let d = decide(&request(json!({})), &outcome, Mode::default());
    assert_eq!(d.verdict, Verdict::Denied);
    assert!(!d.allowed);
    let m = d.message.clone().unwrap();
    assert!(
        m.contains("etcd-client node/cp-1 -> node/cp-2 TCP/2379"),
        "{m}"
    );
    assert!(m.contains("rules C13"), "{m}");
    assert!(m.contains("fromEntities: [host]"), "{m}");
    assert!(m.contains(OVERRIDE_ANNOTATION), "{m}");
    // The lesser cut still warns.
    assert_eq!(d.warnings.len(), 1);
    assert!(d.warnings[0].contains("metrics"));
    let body = response("admission.k8s.io/v1", "u-1", &d);
    assert_eq!(body["response"]["status"]["code"], 403);
    assert_eq!(body["response"]["allowed"], false);
}

#[test]
fn the_annotation_and_warn_only_let_it_through_with_a_warning() {
    let outcome = Outcome {
        newly_denied: vec![flow("etcd-client", true)],
        ..Outcome::default()
    };
    let d = decide(
        &request(json!({"lifeboat.io/allow-lockout": "maintenance window 42"})),
        &outcome,
        Mode::default(),
    );
    assert_eq!(d.verdict, Verdict::Overridden);
    assert!(d.allowed && d.message.is_none());
    assert!(d.warnings[0].contains("maintenance window 42"));
    // An empty reason is no override.
    let d = decide(
        &request(json!({"lifeboat.io/allow-lockout": " "})),
        &outcome,
        Mode::default(),
    );
    assert_eq!(d.verdict, Verdict::Denied);
    let d = decide(&request(json!({})), &outcome, Mode { warn_only: true });
    assert_eq!(d.verdict, Verdict::WarnOnly);
    assert!(d.allowed);
    assert!(d.warnings.iter().any(|w| w.contains("etcd-client")));
}

#[test]
fn lesser_cuts_warn_and_nothing_allows_silently() {
    let outcome = Outcome {
        newly_denied: vec![flow("metrics", false)],
        ..Outcome::default()
    };
    let d = decide(&request(json!({})), &outcome, Mode::default());
    assert_eq!((d.verdict, d.allowed), (Verdict::Warned, true));
    let d = decide(&request(json!({})), &Outcome::default(), Mode::default());
    assert_eq!(d, Decision::allowed());
    let body = response("admission.k8s.io/v1", "u-1", &d);
    assert!(body["response"].get("warnings").is_none());
}

#[test]
fn warnings_are_few_short_single_lines() {
    let outcome = Outcome {
        newly_denied: (0..40)
            .map(|i| flow(&format!("f{i}\nx{}", "y".repeat(900)), false))
            .collect(),
        ..Outcome::default()
    };
    let d = decide(&request(json!({})), &outcome, Mode::default());
    assert_eq!(d.warnings.len(), MAX_WARNINGS);
    assert!(
        d.warnings
            .iter()
            .all(|w| !w.contains('\n') && w.chars().count() <= MAX_WARNING_CHARS + 3)
    );
    assert!(d.warnings.last().unwrap().contains("31 more"));
}
