//! `recover seed` and `recover rejoin` with the systemd executor on three "nodes" of real etcd.
//! Each node is a directory with an env file and a `systemctl` stand-in (tests only) that starts
//! etcd from that env file, the way the etcd unit of a Kubespray install does.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::lifeboat;
use ops::local::{Pki, free_port};

struct Node {
    name: String,
    dir: PathBuf,
    client: String,
    peer: String,
}

impl Node {
    fn env_file(&self) -> PathBuf {
        self.dir.join("etcd.env")
    }
    fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn systemctl(&self, verb: &str) {
        // A script just written can be "busy" for a moment when a thread of this process forks
        // while the file is still open for writing (tests share a process under `cargo test`).
        for _ in 0..100 {
            match Command::new(self.bin().join("systemctl"))
                .args([verb, "etcd"])
                .status()
            {
                Ok(s) => {
                    assert!(s.success());
                    return;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("running the systemctl stand-in: {e}"),
            }
        }
        panic!("the systemctl stand-in stayed busy");
    }
    /// lifeboat as run on this node: its own systemctl first on PATH.
    fn lifeboat(&self) -> assert_cmd::Command {
        let mut cmd = lifeboat();
        let path = format!(
            "{}:{}",
            self.bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path);
        cmd
    }
}

/// Stops every node's etcd when the test ends, even on panic.
struct Nodes(Vec<Node>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new(n.bin().join("systemctl"))
                .args(["stop", "etcd"])
                .status();
        }
    }
}

const STANDIN: &str = r#"#!/bin/bash
# systemctl stand-in for tests: runs etcd from the node's env file.
set -u
dir="$(cd "$(dirname "$0")/.." && pwd)"
pidfile="$dir/etcd.pid"
case "$1" in
  start)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then exit 0; fi
    ( set -a; . "$dir/etcd.env"; set +a; exec etcd >>"$dir/etcd.log" 2>&1 ) &
    echo $! > "$pidfile" ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"; kill "$pid" 2>/dev/null
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null; rm -f "$pidfile"
    fi ;;
  restart) "$0" stop "$2"; "$0" start "$2" ;;
  *) echo "unsupported: $*" >&2; exit 1 ;;
esac
"#;

fn setup(root: &Path, pki: &Pki) -> Nodes {
    let mut nodes = Vec::new();
    for i in 1..=3 {
        let dir = root.join(format!("node{i}"));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        nodes.push(Node {
            name: format!("m{i}"),
            dir,
            client: format!("https://127.0.0.1:{}", free_port().unwrap()),
            peer: format!("https://127.0.0.1:{}", free_port().unwrap()),
        });
    }
    let initial: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}={}", n.name, n.peer))
        .collect();
    for n in &nodes {
        let env = format!(
            "ETCD_NAME=\"{}\"\nETCD_DATA_DIR=\"{}\"\nETCD_LISTEN_CLIENT_URLS=\"{c}\"\nETCD_ADVERTISE_CLIENT_URLS=\"{c}\"\n\
             ETCD_LISTEN_PEER_URLS=\"{p}\"\nETCD_INITIAL_ADVERTISE_PEER_URLS=\"{p}\"\nETCD_INITIAL_CLUSTER=\"{}\"\n\
             ETCD_INITIAL_CLUSTER_TOKEN=\"node-test\"\nETCD_INITIAL_CLUSTER_STATE=\"new\"\n\
             ETCD_CLIENT_CERT_AUTH=\"true\"\nETCD_TRUSTED_CA_FILE=\"{ca}\"\nETCD_CERT_FILE=\"{cert}\"\nETCD_KEY_FILE=\"{key}\"\n\
             ETCD_PEER_CLIENT_CERT_AUTH=\"true\"\nETCD_PEER_TRUSTED_CA_FILE=\"{ca}\"\nETCD_PEER_CERT_FILE=\"{cert}\"\nETCD_PEER_KEY_FILE=\"{key}\"\n",
            n.name,
            n.data_dir().display(),
            initial.join(","),
            c = n.client,
            p = n.peer,
            ca = pki.ca_cert.display(),
            cert = pki.server_cert.display(),
            key = pki.server_key.display(),
        );
        std::fs::write(n.env_file(), env).unwrap();
        let script = n.bin().join("systemctl");
        std::fs::write(&script, STANDIN).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Nodes(nodes)
}

fn tls_args(pki: &Pki, endpoints: &[&str]) -> Vec<String> {
    vec![
        format!("--endpoints={}", endpoints.join(",")),
        format!("--cacert={}", pki.ca_cert.display()),
        format!("--cert={}", pki.client_cert.display()),
        format!("--key={}", pki.client_key.display()),
        "--dial-timeout=1s".into(),
        "--command-timeout=3s".into(),
    ]
}

fn wait_status(pki: &Pki, endpoints: &[&str], code: i32) -> serde_json::Value {
    for _ in 0..300 {
        let out = lifeboat()
            .args(["status", "-o", "json"])
            .args(tls_args(pki, endpoints))
            .output()
            .unwrap();
        if out.status.code() == Some(code) {
            return serde_json::from_slice(&out.stdout).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("status never exited {code}");
}

#[tokio::test]
async fn systemd_seed_and_rejoin_rebuild_the_cluster_with_nothing_lost() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::generate(&root.path().join("pki")).unwrap();
    let nodes = setup(root.path(), &pki);
    for n in &nodes.0 {
        n.systemctl("start");
    }
    let all: Vec<&str> = nodes.0.iter().map(|n| n.client.as_str()).collect();
    wait_status(&pki, &all, 0);

    // Known data, then the disaster: node3 is lost for good.
    let settings = ops::ConnectionSettings {
        endpoints: vec![ops::settings::Endpoint::parse(&nodes.0[0].client).unwrap()],
        tls: ops::TlsFiles {
            cacert: Some(pki.ca_cert.clone()),
            cert: Some(pki.client_cert.clone()),
            key: Some(pki.client_key.clone()),
        },
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(5),
        insecure_transport: false,
        source: ops::SettingsSource::Flags,
    };
    let tls = settings.validate().unwrap();
    let mut client = ops::client::connect(&settings.endpoints[0], tls.as_ref(), &settings)
        .await
        .unwrap()
        .client;
    let acked = testkit::data::put_keys(&mut client, "/registry/secrets/x/", 200)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lose = |n: &Node| {
        n.systemctl("stop");
        std::fs::rename(n.data_dir(), n.dir.join("data.lost")).unwrap();
    };
    lose(&nodes.0[2]);

    // The split-brain guard: node2 still runs, so seeding node1 is refused.
    let n1 = &nodes.0[0];
    let state1 = root.path().join("state1");
    let seed_args = |state: &Path| {
        vec![
            "recover".to_string(),
            "seed".into(),
            "--executor".into(),
            "systemd".into(),
            "--yes".into(),
            "--env-file".into(),
            n1.env_file().display().to_string(),
            "--state-dir".into(),
            state.display().to_string(),
            "--cert".into(),
            pki.client_cert.display().to_string(),
            "--key".into(),
            pki.client_key.display().to_string(),
        ]
    };
    let out = n1.lifeboat().args(seed_args(&state1)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("refusing") && stderr.contains("m2"),
        "{stderr}"
    );

    // node2 goes too; now node1 seeds.
    lose(&nodes.0[1]);
    let out = n1.lifeboat().args(seed_args(&state1)).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env1 = std::fs::read_to_string(n1.env_file()).unwrap();
    assert!(
        !env1.contains("ETCD_FORCE_NEW_CLUSTER"),
        "the flag is removed again: {env1}"
    );
    let kept: Vec<String> = std::fs::read_dir(&n1.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.iter().any(|n| n.starts_with("data.lifeboat-")),
        "data dir backed up: {kept:?}"
    );
    assert!(
        kept.iter().any(|n| n.starts_with("etcd.env.lifeboat-")),
        "env file saved: {kept:?}"
    );
    let st = wait_status(&pki, &[&n1.client], 0);
    assert_eq!(st["members"].as_array().map(Vec::len), Some(1));
    assert!(
        !state1.join("seed").exists(),
        "a finished seed closes its journal"
    );

    // Every other node rejoins.
    for (i, n) in nodes.0.iter().enumerate().skip(1) {
        let state = root.path().join(format!("state{}", i + 1));
        let out = n
            .lifeboat()
            .args([
                "recover",
                "rejoin",
                "--executor",
                "systemd",
                "--yes",
                "--promote-timeout=60s",
            ])
            .arg("--env-file")
            .arg(n.env_file())
            .arg("--state-dir")
            .arg(&state)
            .arg(format!("--cluster={}", n1.client))
            .arg("--cert")
            .arg(&pki.client_cert)
            .arg("--key")
            .arg(&pki.client_key)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} {}",
            n.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(n.env_file()).unwrap();
        assert!(
            env.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""),
            "{env}"
        );
    }

    let st = wait_status(&pki, &all, 0);
    assert_eq!(st["members"].as_array().map(Vec::len), Some(3));
    assert!(
        st["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["is_learner"] == false)
    );
    let mut client = ops::client::connect(&settings.endpoints[0], tls.as_ref(), &settings)
        .await
        .unwrap()
        .client;
    let found = testkit::data::read_prefix(&mut client, "/registry/")
        .await
        .unwrap();
    for (k, v) in &acked {
        assert_eq!(found.get(k), Some(v), "acknowledged key {k} lost");
    }
}

/// A kubelet stand-in for one node: runs etcd from the command list of its static pod manifest
/// while the manifest is in the manifests dir, and restarts it when the manifest changes.
struct Kubelet {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Kubelet {
    fn watch(manifest: PathBuf, log: PathBuf) -> Kubelet {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut running: Option<(std::process::Child, String)> = None;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let wanted = std::fs::read_to_string(&manifest).ok();
                let changed = match (&wanted, &running) {
                    (Some(w), Some((_, have))) => w != have,
                    (None, None) => false,
                    _ => true,
                };
                if changed {
                    if let Some((mut child, _)) = running.take() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    if let Some(text) = wanted {
                        let argv = command_of(&text);
                        let out = std::fs::File::options()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap();
                        let err = out.try_clone().unwrap();
                        let child = Command::new(&argv[0])
                            .args(&argv[1..])
                            .stdout(out)
                            .stderr(err)
                            .spawn()
                            .unwrap();
                        running = Some((child, text));
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Some((mut child, _)) = running {
                let _ = child.kill();
                let _ = child.wait();
            }
        });
        Kubelet {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The items of the `command:` list, as the kubelet would run them.
fn command_of(manifest: &str) -> Vec<String> {
    let mut argv = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.ends_with("command:") {
            inside = true;
            continue;
        }
        if inside {
            match t.strip_prefix("- ") {
                Some(item) => argv.push(item.trim_matches('"').to_string()),
                None => break,
            }
        }
    }
    argv
}

#[tokio::test]
async fn static_pod_seed_edits_the_manifest_and_the_kubelet_runs_it() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::generate(&root.path().join("pki")).unwrap();
    let nodes = setup(root.path(), &pki);
    let initial: Vec<String> = nodes
        .0
        .iter()
        .map(|n| format!("{}={}", n.name, n.peer))
        .collect();
    let mut kubelets = Vec::new();
    for n in &nodes.0 {
        let manifest = n.dir.join("manifests/etcd.yaml");
        std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
        let text = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n    - etcd\n    - --advertise-client-urls={c}\n    - --cert-file={cert}\n    - --client-cert-auth=true\n    - --data-dir={data}\n    - --initial-advertise-peer-urls={p}\n    - --initial-cluster={ic}\n    - --initial-cluster-token=static-pod-test\n    - --key-file={key}\n    - --listen-client-urls={c}\n    - --listen-peer-urls={p}\n    - --name={name}\n    - --peer-cert-file={cert}\n    - --peer-client-cert-auth=true\n    - --peer-key-file={key}\n    - --peer-trusted-ca-file={ca}\n    - --trusted-ca-file={ca}\n    image: registry.k8s.io/etcd:3.4.23-0\n    name: etcd\n",
            c = n.client,
            p = n.peer,
            ic = initial.join(","),
            name = n.name,
            data = n.data_dir().display(),
            ca = pki.ca_cert.display(),
            cert = pki.server_cert.display(),
            key = pki.server_key.display(),
        );
        std::fs::write(&manifest, text).unwrap();
        kubelets.push(Kubelet::watch(manifest, n.dir.join("etcd.log")));
    }
    let all: Vec<&str> = nodes.0.iter().map(|n| n.client.as_str()).collect();
    wait_status(&pki, &all, 0);

    // Two nodes lost for good: their manifests and disks are gone.
    for n in &nodes.0[1..] {
        std::fs::remove_file(n.dir.join("manifests/etcd.yaml")).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let n1 = &nodes.0[0];
    let manifest = n1.dir.join("manifests/etcd.yaml");
    let before = std::fs::read_to_string(&manifest).unwrap();
    let out = lifeboat()
        .args(["recover", "seed", "--executor", "static-pod", "--yes"])
        .arg("--manifest")
        .arg(&manifest)
        .arg("--state-dir")
        .arg(root.path().join("state-sp"))
        .arg("--cert")
        .arg(&pki.client_cert)
        .arg("--key")
        .arg(&pki.client_key)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Back in place, exactly as kubeadm wrote it: the flag was added for one start, then removed.
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), before);
    let saved = std::fs::read_dir(&n1.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .any(|n| n.starts_with("etcd.yaml.lifeboat-2"));
    assert!(
        saved,
        "the original manifest was saved outside the manifests dir"
    );
    assert!(
        !std::fs::read_dir(n1.dir.join("manifests"))
            .unwrap()
            .any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("lifeboat")
            }),
        "no copy left where the kubelet would run it"
    );
    let st = wait_status(&pki, &[&n1.client], 0);
    assert_eq!(st["members"].as_array().map(Vec::len), Some(1));
    drop(kubelets);
}
