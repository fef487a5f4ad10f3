//! Mixed etcd versions in one cluster, as during a rolling upgrade: a 3.5 cluster whose members
//! are stopped and started again one at a time on 3.6, with lifeboat's status reading every
//! step and no acknowledged key lost. The binaries come from `scripts/etcd-versions.sh`
//! (`install 3.5 3.6` once); they are looked up by version, whatever `LIFEBOAT_ETCD_BIN` says.

use std::path::{Path, PathBuf};
use std::process::Command;

use ops::status::{DiagnoseOptions, diagnose, gather};
use testkit::{LocalClusterSpec, TestCluster, data};

fn etcd_of(version: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/etcd-versions.sh");
    let out = Command::new(&script)
        .args(["dir", version])
        .output()
        .expect("scripts/etcd-versions.sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let bin = dir.join("etcd");
    assert!(
        bin.is_file(),
        "no etcd {version} in {}: run scripts/etcd-versions.sh install {version}",
        dir.display()
    );
    bin
}

/// The version each member says it runs, in member order.
async fn versions(tc: &TestCluster) -> Vec<String> {
    let settings = tc.cluster.settings();
    let tls = settings.validate().unwrap();
    let st = diagnose(
        &gather(&settings, tls.as_ref(), true).await,
        &DiagnoseOptions::default(),
    );
    assert!(st.quorum.has_quorum && st.quorum.leader_agreed, "{st:#?}");
    st.endpoints
        .iter()
        .map(|e| e.version.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_35_cluster_upgraded_to_36_one_member_at_a_time() {
    let (old, new) = (etcd_of("3.5"), etcd_of("3.6"));
    let mut tc = TestCluster::start(LocalClusterSpec {
        members: 3,
        tls: true,
        etcd_bin: old,
        ..LocalClusterSpec::default()
    })
    .await;
    let mut c = tc.client(0).await.unwrap();
    let mut acked = data::put_keys(&mut c, "/registry/configmaps/a/k", 100)
        .await
        .unwrap();
    let before = versions(&tc).await;
    assert!(before.iter().all(|v| v.starts_with("3.5.")), "{before:?}");

    for i in 0..3 {
        tc.cluster.stop(i);
        tc.cluster.set_member_binary(i, &new).unwrap();
        tc.cluster.restart(i).unwrap();
        tc.wait_leader(testkit::STARTUP_TIMEOUT).await;
        let now = versions(&tc).await;
        let upgraded = now.iter().filter(|v| v.starts_with("3.6.")).count();
        assert_eq!(upgraded, i + 1, "after upgrading m{}: {now:?}", i + 1);
        // Writes keep working in the mixed cluster, through an old and a new member.
        for j in [i, (i + 1) % 3] {
            let mut c = tc.client(j).await.unwrap();
            let prefix = format!("/registry/configmaps/step{i}/via{j}/k");
            acked.extend(data::put_keys(&mut c, &prefix, 20).await.unwrap());
        }
    }
    for j in 0..3 {
        let mut c = tc.client(j).await.unwrap();
        let found = data::read_prefix(&mut c, "/registry/").await.unwrap();
        for (k, v) in &acked {
            assert_eq!(found.get(k), Some(v), "key {k} lost on member {j}");
        }
    }
}
