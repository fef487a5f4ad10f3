//! `lifeboat webhook serve` over real TLS and HTTP, the binary started as the API server would
//! reach it: AdmissionReview v1 for every operation, kind and outcome against the field
//! incident's inventory (control-plane nodes, host firewall on), certificate reload, and the
//! inputs it must admit with a warning instead of failing closed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/tests/fixtures");

/// The incident's cluster: three control-plane nodes (etcd, API server), a worker with a
/// workload, host firewall on.
fn incident_nodes(host_firewall: bool) -> String {
    let mut s = String::new();
    for (i, name) in ["cp-1", "cp-2", "cp-3"].iter().enumerate() {
        s.push_str(&format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{node-role.kubernetes.io/control-plane: ''}}}}\nstatus: {{addresses: [{{type: InternalIP, address: 198.18.0.{}}}]}}\n---\n", i + 1));
    }
    s.push_str("apiVersion: v1\nkind: Node\nmetadata: {name: worker-1}\nstatus: {addresses: [{type: InternalIP, address: 198.18.0.10}]}\n---\n");
    s.push_str("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n");
    s.push_str("apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec: {nodeName: worker-1, containers: [{name: web, image: web}]}\nstatus: {podIP: 10.0.1.5}\n---\n");
    s.push_str(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cilium-config, namespace: kube-system}}\ndata: {{enable-host-firewall: '{host_firewall}'}}\n---\n"));
    s
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// YAML fixture → the JSON object the API server sends.
fn object(yaml: &str) -> Value {
    let docs: Vec<Value> = yaml
        .split("\n---")
        .filter(|d| d.contains("kind:"))
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    docs.into_iter().next().unwrap()
}

struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        Pki {
            dir: tempfile::tempdir().unwrap(),
            ca_pem: ca.pem(),
            issuer: Issuer::new(params, ca_key),
        }
    }

    /// A new server certificate for localhost and 127.0.0.1, written to cert.pem/key.pem
    /// (through a rename, as a Secret update swaps files); returns its DER.
    fn issue(&self) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        self.write(&cert.pem(), &key.serialize_pem());
        cert.der().to_vec()
    }

    fn write(&self, cert: &str, key: &str) {
        for (name, text) in [("cert.pem", cert), ("key.pem", key)] {
            let tmp = self.dir.path().join(format!("{name}.tmp"));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, self.dir.path().join(name)).unwrap();
        }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    fn client(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Full handshakes only: a resumed session shows the certificate of its first one.
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    pki: Pki,
    client: Arc<rustls::ClientConfig>,
    stderr: Arc<std::sync::Mutex<Vec<String>>>,
    _cluster: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(cluster_yaml: &str, extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(&cluster, cluster_yaml).unwrap();
    let mut args = vec!["--cluster".to_owned(), cluster.display().to_string()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    start_with(&args, dir)
}

fn start_with(args: &[String], dir: tempfile::TempDir) -> Server {
    let pki = Pki::new();
    pki.issue();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["webhook", "serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(pki.cert())
        .arg("--tls-key")
        .arg(pki.key())
        .args(args)
        .env_remove("LIFEBOAT_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("the webhook stopped before serving: {seen:?}");
        };
        if let Some(rest) = line.split("serving https://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            seen.push(line);
            break addr;
        }
        seen.push(line);
    };
    // Keep reading stderr (the audit lines) so the child never blocks on a full pipe.
    let stderr = Arc::new(std::sync::Mutex::new(seen));
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let client = pki.client();
    Server {
        child,
        addr,
        pki,
        client,
        stderr,
        _cluster: dir,
    }
}

/// One HTTPS request: (status, body, the certificate the server presented).
fn https(
    addr: SocketAddr,
    client: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>, Vec<u8>) {
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::clone(client), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).unwrap();
    // A server that stops reading a huge body early may reset the connection: the answer
    // it already sent is what counts.
    let _ = tls.write_all(body);
    let _ = tls.flush();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let served = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (status, out[at..].to_vec(), served)
}

impl Server {
    fn post(&self, body: &[u8]) -> (u16, Value) {
        let (status, body, _) = https(self.addr, &self.client, "POST", "/validate", body);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn review(&self, review: &Value) -> Value {
        let (status, answer) = self.post(&serde_json::to_vec(review).unwrap());
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["kind"], "AdmissionReview");
        assert_eq!(
            answer["response"]["uid"], review["request"]["uid"],
            "{answer}"
        );
        answer["response"].clone()
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, body, _) = https(self.addr, &self.client, "GET", path, b"");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Stderr once it holds `needle`: a line the server logs while it answers can reach the
    /// reader thread after the answer reached the test. Gives up after 10 s (then the caller's
    /// assertion fails with what was logged).
    fn stderr_with(&self, needle: &str) -> String {
        for _ in 0..200 {
            let text = self.stderr();
            if text.contains(needle) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stderr()
    }
}

fn group_of(kind: &str) -> &'static str {
    match kind {
        "NetworkPolicy" => "networking.k8s.io",
        "ConfigMap" => "",
        _ => "cilium.io",
    }
}

/// An AdmissionReview as the API server sends it: the new object for CREATE and UPDATE
/// (UPDATE also the old one), the old object for DELETE.
fn admission(op: &str, new: Option<&Value>, old: Option<&Value>, dry_run: bool) -> Value {
    let obj = new.or(old).unwrap();
    let kind = obj["kind"].as_str().unwrap();
    let name = obj["metadata"]["name"].as_str().unwrap();
    let ns = obj["metadata"]["namespace"].clone();
    let uid = format!("{op}-{kind}-{name}-{dry_run}");
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid,
            "kind": {"group": group_of(kind), "version": "v1", "kind": kind},
            "resource": {"group": group_of(kind), "version": "v1", "resource": "x"},
            "namespace": ns, "name": name, "operation": op,
            "userInfo": {"username": "alice"},
            "object": new, "oldObject": old, "dryRun": dry_run}})
}

fn critical_in(response: &Value) -> String {
    response["status"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// This issue's done-criterion: the incident's policy, applied through the webhook against
/// the incident's inventory, is refused with the reason, and its corrected version is
/// admitted.
#[test]
fn the_incidents_policy_is_refused_with_the_reason_and_its_corrected_version_is_admitted() {
    let server = start(&incident_nodes(true), &[]);
    let bad = object(&fixture("lockout-ccnp.yaml"));
    let r = server.review(&admission("CREATE", Some(&bad), None, false));
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["status"]["code"], 403, "{r}");
    let message = critical_in(&r);
    for needle in [
        "restrict-node-exporter-hostport-9100",
        "critical control-plane flow",
        "TCP/2379",
        "TCP/6443",
        "rules C",
        "Fix",
        "lifeboat.io/allow-lockout",
    ] {
        assert!(message.contains(needle), "{needle} not in: {message}");
    }
    let fixed = object(&fixture("lockout-ccnp-fixed.yaml"));
    let r = server.review(&admission("CREATE", Some(&fixed), None, false));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("status").is_none(), "{r}");
    let warnings = r["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        !warnings
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("CRITICAL")),
        "{r}"
    );
    assert!(
        server
            .stderr()
            .contains("refused CREATE CiliumClusterwideNetworkPolicy")
    );
}

/// With the corrected policy in force: replacing it by the incident's version is refused
/// (UPDATE replaces, it does not merge), deleting it is admitted, and a dry run is answered
/// as the real request.
#[test]
fn update_replaces_delete_removes_and_dry_run_is_answered_the_same() {
    let fixed_yaml = fixture("lockout-ccnp-fixed.yaml");
    let server = start(&format!("{}{fixed_yaml}", incident_nodes(true)), &[]);
    let fixed = object(&fixed_yaml);
    let bad = object(&fixture("lockout-ccnp.yaml"));
    for dry in [false, true] {
        let r = server.review(&admission("UPDATE", Some(&bad), Some(&fixed), dry));
        assert_eq!(r["allowed"], false, "dry run {dry}: {r}");
        assert!(critical_in(&r).contains("TCP/2380"), "{r}");
        let r = server.review(&admission("DELETE", None, Some(&fixed), dry));
        assert_eq!(r["allowed"], true, "dry run {dry}: {r}");
        let r = server.review(&admission("UPDATE", Some(&fixed), Some(&fixed), dry));
        assert_eq!(r["allowed"], true, "dry run {dry}: {r}");
        assert!(r.get("warnings").is_none(), "{r}");
    }
}

/// The incident's policy in force but inert (host firewall off): turning the firewall on in
/// cilium-config puts it in force and is refused; a cilium-config change that keeps it off is
/// admitted; a ConfigMap other than cilium-config is not judged.
#[test]
fn turning_on_the_host_firewall_under_a_lockout_policy_is_refused() {
    let bad_yaml = fixture("lockout-ccnp.yaml");
    let server = start(&format!("{}{bad_yaml}", incident_nodes(false)), &[]);
    let cm = |v: &str, name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "kube-system"},
            "data": {"enable-host-firewall": v}})
    };
    let old = cm("false", "cilium-config");
    let r = server.review(&admission(
        "UPDATE",
        Some(&cm("true", "cilium-config")),
        Some(&old),
        false,
    ));
    assert_eq!(r["allowed"], false, "{r}");
    assert!(critical_in(&r).contains("TCP/6443"), "{r}");
    let r = server.review(&admission(
        "UPDATE",
        Some(&cm("false", "cilium-config")),
        Some(&old),
        false,
    ));
    assert_eq!(r["allowed"], true, "{r}");
    let r = server.review(&admission(
        "CREATE",
        Some(&cm("true", "other")),
        None,
        false,
    ));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("warnings").is_none(), "{r}");
}

/// Namespaced kinds: an egress default deny on a workload namespace cuts its pods' flows
/// (DNS, API server); a policy that allows them is admitted clean. CiliumCIDRGroup changes
/// no verdict lifeboat can compute and is admitted.
#[test]
fn namespaced_policies_and_cidr_groups_are_judged() {
    let server = start(&incident_nodes(true), &[]);
    let knp = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-egress", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"]}});
    let cnp = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "deny-egress", "namespace": "shop"},
        "spec": {"endpointSelector": {}, "egress": [{"toEndpoints": [{"matchLabels": {"app": "db"}}]}]}});
    for p in [&knp, &cnp] {
        let r = server.review(&admission("CREATE", Some(p), None, false));
        let cut = r["allowed"] == false
            || r["warnings"]
                .as_array()
                .is_some_and(|w| w.iter().any(|w| w.as_str().unwrap_or("").contains("cuts")));
        assert!(cut, "{p}: {r}");
    }
    let open = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}});
    let r = server.review(&admission("CREATE", Some(&open), None, false));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("warnings").is_none(), "{r}");
    let group = json!({"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumCIDRGroup",
        "metadata": {"name": "office"}, "spec": {"externalCIDRs": ["203.0.113.0/24"]}});
    for op in ["CREATE", "DELETE"] {
        let (new, old) = if op == "DELETE" {
            (None, Some(&group))
        } else {
            (Some(&group), None)
        };
        let r = server.review(&admission(op, new, old, false));
        assert_eq!(r["allowed"], true, "{r}");
    }
}

#[test]
fn the_annotation_and_warn_only_admit_with_a_warning() {
    let server = start(&incident_nodes(true), &[]);
    let mut bad = object(&fixture("lockout-ccnp.yaml"));
    bad["metadata"]["annotations"] =
        json!({"lifeboat.io/allow-lockout": "replacing the control plane, ticket 42"});
    let r = server.review(&admission("CREATE", Some(&bad), None, false));
    assert_eq!(r["allowed"], true, "{r}");
    let w = r["warnings"].to_string();
    assert!(w.contains("ticket 42") && w.contains("CRITICAL"), "{r}");
    let logged = server.stderr_with("OVERRIDE");
    assert!(logged.contains("OVERRIDE"), "{logged}");

    let server = start(&incident_nodes(true), &["--warn-only"]);
    let bad = object(&fixture("lockout-ccnp.yaml"));
    let r = server.review(&admission("CREATE", Some(&bad), None, false));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"].to_string().contains("would be refused"),
        "{r}"
    );
}

/// What it cannot judge is admitted with a warning (400 only without a uid), never refused:
/// not JSON, a broken request, an unknown kind, an object that does not parse, a body over
/// the API server's 3 MiB.
#[test]
fn what_it_cannot_judge_is_admitted_with_a_warning() {
    let server = start(&incident_nodes(true), &[]);
    let (status, _) = server.post(b"{not json");
    assert_eq!(status, 400);
    let (status, _) = server.post(br#"{"kind":"AdmissionReview","request":{"name":"x"}}"#);
    assert_eq!(status, 400);

    let broken = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "b-1", "operation": ["?"]}});
    let r = server.review(&broken);
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("not understood"),
        "{r}"
    );

    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "shop"}});
    let r = server.review(&admission("CREATE", Some(&deploy), None, false));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("does not judge"),
        "{r}"
    );

    let junk = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "junk"}, "spec": {"nodeSelector": 7, "ingress": "everything"}});
    let r = server.review(&admission("CREATE", Some(&junk), None, false));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("does not parse"),
        "{r}"
    );

    // As the API server writes it, request.uid first; the padding makes it 4 MiB.
    let huge = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"huge-1","kind":{{"group":"cilium.io","version":"v2","kind":"CiliumClusterwideNetworkPolicy"}},"name":"x","operation":"CREATE","object":{{"metadata":{{"name":"x","annotations":{{"pad":"{}"}}}}}}}}}}"#,
        "x".repeat(4 << 20)
    );
    let (status, answer) = server.post(huge.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let r = &answer["response"];
    assert_eq!(r["uid"], "huge-1", "{answer}");
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"][0].as_str().unwrap().contains("larger than"),
        "{r}"
    );

    // Still serving, and the health and metrics endpoints answer.
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{body}");
    assert!(
        health["baseline"]["revision"].is_null(),
        "read once: {body}"
    );
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("lifeboat_webhook_reviews_total"),
        "{metrics}"
    );
    assert!(metrics.contains("verdict=\"unjudged\""), "{metrics}");
}

#[test]
fn concurrent_reviews_each_get_their_own_answer() {
    let server = Arc::new(start(&incident_nodes(true), &[]));
    let bad = object(&fixture("lockout-ccnp.yaml"));
    let fixed = object(&fixture("lockout-ccnp-fixed.yaml"));
    let workers: Vec<_> = (0..16)
        .map(|i| {
            let server = Arc::clone(&server);
            let (p, refused) = if i % 2 == 0 {
                (bad.clone(), true)
            } else {
                (fixed.clone(), false)
            };
            std::thread::spawn(move || {
                for j in 0..4 {
                    let mut review = admission("CREATE", Some(&p), None, j % 2 == 0);
                    let uid = format!("c-{i}-{j}");
                    review["request"]["uid"] = json!(uid);
                    let r = server.review(&review);
                    assert_eq!(r["uid"], uid.as_str());
                    assert_eq!(r["allowed"], !refused, "{r}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

/// New certificate files are served to new handshakes without a restart; files that do not
/// make a pair keep the previous certificate (and count as a failed reload).
#[test]
fn a_replaced_certificate_is_served_and_a_bad_one_keeps_the_old() {
    let server = start(&incident_nodes(true), &[]);
    let served = |s: &Server| https(s.addr, &s.client, "GET", "/healthz", b"").2;
    let first = served(&server);
    let second = server.pki.issue();
    assert_ne!(first, second);
    let mut seen = first.clone();
    for _ in 0..100 {
        seen = served(&server);
        if seen == second {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, second, "the new certificate was never served");

    // A key that is not the certificate's: refused, the second pair stays.
    let other = KeyPair::generate().unwrap().serialize_pem();
    let cert = std::fs::read_to_string(server.pki.cert()).unwrap();
    server.pki.write(&cert, &other);
    let mut failed = false;
    for _ in 0..100 {
        assert_eq!(served(&server), second);
        let (_, metrics) = server.get("/metrics");
        if metrics.contains("result=\"failed\"") {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(failed, "the bad pair was never looked at");
    assert_eq!(served(&server), second);
}

/// deploy/webhook/: valid YAML of the expected kinds; the webhook configuration never fails
/// closed, answers within 5 s, has no side effects, speaks v1, never sends the webhook's own
/// namespace, and covers every kind the webhook judges; the flags the Deployment passes exist.
#[test]
fn the_deploy_manifests_are_valid_and_never_fail_closed() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/webhook/webhook.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "Deployment",
            "Service",
            "ValidatingWebhookConfiguration"
        ]
    );
    let own = docs[0]["metadata"]["name"].as_str().unwrap();
    let mut resources = Vec::new();
    for hook in docs[3]["webhooks"].as_array().unwrap() {
        assert_eq!(hook["failurePolicy"], "Ignore", "{hook}");
        assert!(hook["timeoutSeconds"].as_u64().unwrap() <= 5, "{hook}");
        assert_eq!(hook["sideEffects"], "None", "{hook}");
        assert_eq!(hook["admissionReviewVersions"], json!(["v1"]), "{hook}");
        assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
        assert_eq!(hook["clientConfig"]["service"]["namespace"], own);
        let sel = &hook["namespaceSelector"]["matchExpressions"][0];
        assert_eq!(sel["key"], "kubernetes.io/metadata.name");
        let values: Vec<&str> = sel["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        match sel["operator"].as_str().unwrap() {
            "NotIn" => assert!(values.contains(&own), "{hook}"),
            "In" => assert!(!values.contains(&own), "{hook}"),
            other => panic!("{other}"),
        }
        for rule in hook["rules"].as_array().unwrap() {
            assert_eq!(rule["operations"], json!(["CREATE", "UPDATE", "DELETE"]));
            for r in rule["resources"].as_array().unwrap() {
                resources.push(r.as_str().unwrap().to_owned());
            }
        }
    }
    for r in [
        "networkpolicies",
        "ciliumnetworkpolicies",
        "ciliumclusterwidenetworkpolicies",
        "ciliumcidrgroups",
        "configmaps",
    ] {
        assert!(resources.iter().any(|x| x == r), "{r} not in {resources:?}");
    }
    let args = docs[1]["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(args[..2], [json!("webhook"), json!("serve")]);
    let help = common::lifeboat()
        .args(["webhook", "serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    for arg in &args[2..] {
        let flag = arg.as_str().unwrap().split('=').next().unwrap();
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "the Deployment passes {flag}, which `lifeboat webhook serve` does not take"
        );
    }
}

/// The inventory and the policies in force read from etcd (the field incident's control plane
/// as the API server stores it, with the corrected policy in force): replacing it by the
/// incident's version is refused, as with files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_from_etcd_judges_the_same() {
    let tc = testkit::TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    let ips: Vec<String> = (1..=3).map(|i| format!("198.18.0.{i}")).collect();
    for (k, v) in ops::kube::sample::control_plane(&ips).unwrap() {
        c.put(k, v, None).await.unwrap();
    }
    let mut args = vec!["--from-etcd".to_owned()];
    args.extend(tc.cli_args());
    let server = tokio::task::spawn_blocking(move || {
        let server = start_with(&args, tempfile::tempdir().unwrap());
        let bad = object(&fixture("lockout-ccnp.yaml"));
        let r = server.review(&admission("CREATE", Some(&bad), None, false));
        (r, server.stderr())
    })
    .await
    .unwrap();
    let (r, stderr) = server;
    assert_eq!(r["allowed"], false, "{r} {stderr}");
    assert!(critical_in(&r).contains("TCP/2379"), "{r}");
    assert!(
        stderr.contains("inventory: etcd, followed by a watch"),
        "{stderr}"
    );
}

/// The incident's control plane in etcd with the host firewall off or on: the only
/// difference is the stored cilium-config, so the lockout CCNP's verdict follows it.
fn cilium_config(host_firewall: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cilium-config", "namespace": "kube-system", "uid": "c0nf16"},
        "data": {"enable-host-firewall": host_firewall.to_string(), "tunnel-protocol": "vxlan"}}))
    .unwrap()
}

const CILIUM_CONFIG_KEY: &str = "/registry/configmaps/kube-system/cilium-config";

async fn control_plane_in_etcd(c: &mut etcd_client::Client, host_firewall: bool) {
    let ips: Vec<String> = (1..=3).map(|i| format!("198.18.0.{i}")).collect();
    for (k, v) in ops::kube::sample::control_plane(&ips).unwrap() {
        c.put(k, v, None).await.unwrap();
    }
    c.put(CILIUM_CONFIG_KEY, cilium_config(host_firewall), None)
        .await
        .unwrap();
}

/// Writes the cilium-config and returns the revision of the write.
async fn set_host_firewall(c: &mut etcd_client::Client, on: bool) -> i64 {
    let put = c
        .put(CILIUM_CONFIG_KEY, cilium_config(on), None)
        .await
        .unwrap();
    put.header().unwrap().revision()
}

/// `/healthz`'s baseline: (published revision, newest revision seen, computations).
fn baseline_of(health: &str) -> (i64, i64, u64) {
    let v: Value = serde_json::from_str(health).unwrap_or_else(|e| panic!("{e}: {health}"));
    assert_eq!(v["status"], "ok", "{health}");
    let b = &v["baseline"];
    (
        b["revision"].as_i64().unwrap_or(0),
        b["newest_revision"].as_i64().unwrap_or(0),
        b["computations"].as_u64().unwrap(),
    )
}

/// Polls `/healthz` (bounded) until `done` holds for its baseline; returns that baseline.
fn wait_for_baseline(
    get: impl Fn() -> String,
    done: impl Fn((i64, i64, u64)) -> bool,
) -> (i64, i64, u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let health = get();
        let b = baseline_of(&health);
        if done(b) {
            return b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the baseline never got there: {health}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An etcd write that changes the inventory (the host firewall turned on, so the host
/// policies are in force) changes the verdict once `/healthz` shows the published baseline at
/// the write's revision: the lockout CCNP is admitted before and refused after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_change_in_etcd_is_judged_once_the_baseline_reaches_its_revision() {
    let tc = testkit::TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    control_plane_in_etcd(&mut c, false).await;
    let mut args = vec!["--from-etcd".to_owned()];
    args.extend(tc.cli_args());
    let server = Arc::new(
        tokio::task::spawn_blocking(move || start_with(&args, tempfile::tempdir().unwrap()))
            .await
            .unwrap(),
    );
    let bad = object(&fixture("lockout-ccnp.yaml"));
    let review = admission("CREATE", Some(&bad), None, false);
    let s = Arc::clone(&server);
    let (before, health) =
        tokio::task::spawn_blocking(move || (s.review(&review), s.get("/healthz").1))
            .await
            .unwrap();
    assert_eq!(before["allowed"], true, "host firewall off: {before}");
    let (at_start, _, _) = baseline_of(&health);
    assert!(at_start > 0, "{health}");

    let written = set_host_firewall(&mut c, true).await;
    let s = Arc::clone(&server);
    let (after, reached) = tokio::task::spawn_blocking(move || {
        let reached = wait_for_baseline(|| s.get("/healthz").1, |(rev, _, _)| rev >= written);
        let review = admission("CREATE", Some(&bad), None, false);
        (s.review(&review), reached)
    })
    .await
    .unwrap();
    assert_eq!(
        after["allowed"], false,
        "host firewall on at {reached:?}: {after}"
    );
    assert!(critical_in(&after).contains("TCP/2379"), "{after}");
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains(&format!("lifeboat_webhook_baseline_revision {}", reached.0)),
        "{metrics}"
    );
    assert!(
        metrics.contains("lifeboat_webhook_baseline_age_seconds"),
        "{metrics}"
    );
}

/// While a baseline is being computed, reviews are answered at once from the one published
/// before (and say which revision they were judged at); a burst of writes during that
/// computation costs one more computation, not one per write. The computation is held by a
/// gate around the real one, so "during" is certain, not a matter of timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviews_during_a_rebuild_are_answered_from_the_published_baseline() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    let tc = testkit::TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    control_plane_in_etcd(&mut c, false).await;
    let view = policy_etcd::LiveView::start(
        tc.any_client().await.unwrap(),
        policy::input::InputSpec::default(),
    )
    .await
    .unwrap();
    let metrics = webhook::metrics::Metrics::new();
    let real = webhook::inventory::computer(Default::default(), Arc::clone(&metrics));
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let gate = Mutex::new((entered_tx, go_rx));
    let calls = AtomicUsize::new(0);
    let gated: Arc<
        dyn Fn(Arc<policy::input::Loaded>) -> webhook::baseline::Baseline + Send + Sync,
    > = Arc::new(move |loaded| {
        // The second computation (the first after start) waits for the test.
        if calls.fetch_add(1, Ordering::SeqCst) == 1 {
            let gate = gate.lock().unwrap();
            gate.0.send(()).unwrap();
            gate.1.recv().unwrap();
        }
        real(loaded)
    });
    let live = webhook::inventory::Live::start(view, gated).await.unwrap();
    let reviewer = webhook::reviewer::Reviewer::new(
        Arc::new(live),
        webhook::review::Mode::default(),
        Arc::clone(&metrics),
    );
    let pki = Pki::new();
    pki.issue();
    let provider = webhook::tls::provider();
    let reloader = Arc::new(
        webhook::tls::CertReloader::new(
            &pki.cert(),
            &pki.key(),
            Arc::clone(&provider),
            Arc::clone(&metrics),
        )
        .unwrap(),
    );
    let tls = Arc::new(webhook::tls::server_config(reloader, provider).unwrap());
    let app = Arc::new(webhook::server::App {
        reviewer: Arc::new(reviewer),
        metrics,
        max_body: webhook::MAX_BODY_BYTES,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(webhook::server::serve(listener, tls, app, async {
        let _ = stop_rx.await;
    }));
    let client = pki.client();
    let health = {
        let client = Arc::clone(&client);
        move || String::from_utf8(https(addr, &client, "GET", "/healthz", b"").1).unwrap()
    };
    let bad = object(&fixture("lockout-ccnp.yaml"));
    let ask = {
        let client = Arc::clone(&client);
        move |uid: String| {
            let mut review = admission("CREATE", Some(&bad), None, false);
            review["request"]["uid"] = json!(uid);
            let (status, body, _) = https(
                addr,
                &client,
                "POST",
                "/validate",
                &serde_json::to_vec(&review).unwrap(),
            );
            assert_eq!(status, 200);
            let answer: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(answer["response"]["uid"], uid.as_str(), "{answer}");
            answer["response"].clone()
        }
    };

    let (old, _, _) = baseline_of(&health());
    let written = set_host_firewall(&mut c, true).await;
    // The computation of the write's inventory has started and is held.
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(120)).unwrap())
        .await
        .unwrap();
    let (ask2, health2) = (ask.clone(), health.clone());
    let during = tokio::task::spawn_blocking(move || {
        let answers: Vec<Value> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|i| {
                    let ask = ask2.clone();
                    scope.spawn(move || ask(format!("during-{i}")))
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        (answers, health2())
    });
    let (answers, health_during) = during.await.unwrap();
    let (rev, newest, computations) = baseline_of(&health_during);
    assert_eq!(
        rev, old,
        "the old baseline stays published while the new one is computed: {health_during}"
    );
    assert!(newest >= written, "{health_during}");
    assert_eq!(computations, 1, "{health_during}");
    for a in &answers {
        assert_eq!(
            a["allowed"], true,
            "judged by the old baseline (host firewall off): {a}"
        );
        let warnings = a["warnings"].to_string();
        assert!(
            warnings.contains(&format!("etcd revision {old}"))
                && warnings.contains("still computing"),
            "a review against an older baseline says so: {a}"
        );
    }

    // A burst while the computation is held: three more writes.
    let mut last = written;
    for on in [false, true, true] {
        last = set_host_firewall(&mut c, on).await;
    }
    let h = health.clone();
    tokio::task::spawn_blocking(move || wait_for_baseline(h, |(_, newest, _)| newest >= last))
        .await
        .unwrap();
    go_tx.send(()).unwrap();
    let h = health.clone();
    let reached =
        tokio::task::spawn_blocking(move || wait_for_baseline(h, |(rev, _, _)| rev >= last))
            .await
            .unwrap();
    assert_eq!(
        reached.2, 3,
        "the held computation and one more for the burst: {reached:?}"
    );
    let after = tokio::task::spawn_blocking(move || ask("after".to_owned()))
        .await
        .unwrap();
    assert_eq!(after["allowed"], false, "{after}");
    assert!(
        !after["warnings"].to_string().contains("still computing"),
        "{after}"
    );
    let _ = stop_tx.send(());
    served.await.unwrap();
}
