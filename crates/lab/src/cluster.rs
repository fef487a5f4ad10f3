//! The throwaway cluster of a drill: start it, fill it with Kubernetes-shaped data, watch it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::Context as _;
use ops::local::{LocalCluster, LocalClusterSpec};
use ops::status::{ClusterStatus, DiagnoseOptions, diagnose, gather};

use crate::report::{DrillSpec, Step, Timeline};

/// Backend quota of drill members: large drills (`--size 1GiB`) must not trip etcd's default
/// 2 GiB quota, nor the DB_NEAR_QUOTA warning computed against it.
pub(crate) const DRILL_QUOTA: u64 = 8 << 30;

/// Starts the cluster a drill runs on and waits until it is healthy.
pub(crate) async fn start_cluster(
    args: &DrillSpec,
    tl: &mut Timeline,
) -> crate::Result<LocalCluster> {
    start_placed(args, tl, Vec::new()).await
}

/// [`start_cluster`] with members placed in network namespaces.
pub(crate) async fn start_placed(
    args: &DrillSpec,
    tl: &mut Timeline,
    placements: Vec<ops::local::Placement>,
) -> crate::Result<LocalCluster> {
    let t = Instant::now();
    let spec = LocalClusterSpec {
        members: args.members,
        tls: args.tls,
        token: "lifeboat-drill".into(),
        quota_bytes: Some(DRILL_QUOTA),
        placements,
        // Kept clusters outlive the drill for `lifeboat recover run --local-root`.
        detached: args.keep,
        ..LocalClusterSpec::default()
    };
    let cluster = LocalCluster::start_healthy(spec, Duration::from_secs(60))
        .await
        .context("the throwaway cluster did not become healthy")?;
    let kind = if args.tls { "TLS" } else { "plain-http" };
    tl.since(
        &format!(
            "start {}-member {kind} cluster in {}",
            args.members,
            cluster.dir().display()
        ),
        t,
    );
    Ok(cluster)
}

pub(crate) async fn observe(cluster: &LocalCluster) -> crate::Result<ClusterStatus> {
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let obs = gather(&settings, tls.as_ref(), true).await;
    Ok(diagnose(
        &obs,
        &DiagnoseOptions {
            quota_bytes: DRILL_QUOTA,
            ..DiagnoseOptions::default()
        },
    ))
}

/// Waits until every member has applied the same raft index: the steady state a real cluster is
/// in between writes, and the one the verdict is fair in (a majority loss can drop writes that
/// only the lost members held).
pub(crate) async fn wait_in_sync(cluster: &LocalCluster) -> crate::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = observe(cluster).await?;
        let applied: Vec<Option<u64>> = st.endpoints.iter().map(|e| e.raft_applied_index).collect();
        if applied.iter().all(|a| a.is_some() && *a == applied[0]) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("members did not converge on one applied index: {applied:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn read_registry(cluster: &LocalCluster) -> crate::Result<BTreeMap<String, u64>> {
    let mut client = first_member_client(cluster).await?.client;
    Ok(ops::kv::read_prefix_digests(&mut client, store::k8s::REGISTRY).await?)
}

/// A client to the first member, which every scenario keeps alive.
pub(crate) async fn first_member_client(
    cluster: &LocalCluster,
) -> crate::Result<ops::client::EndpointClient> {
    let settings = cluster.settings_for(&[0]);
    let tls = settings.validate()?;
    let ep = settings
        .endpoints
        .first()
        .context("the cluster has no member")?;
    Ok(ops::client::connect(ep, tls.as_ref(), &settings).await?)
}

/// What every scenario starts from: a healthy cluster holding known, acknowledged data, all
/// members in sync, and its status.
pub(crate) async fn prepare(
    args: &DrillSpec,
    tl: &mut Timeline,
) -> crate::Result<(LocalCluster, BTreeMap<String, u64>, ClusterStatus)> {
    let cluster = start_cluster(args, tl).await?;
    let t = Instant::now();
    let (count, pad) = args.workload();
    let acked = write_kubernetes_keys(&cluster, count, pad).await?;
    wait_in_sync(&cluster).await?;
    tl.since(
        &format!(
            "write {} Kubernetes-shaped objects under /registry/ ({} distinct keys, all acknowledged)",
            count,
            acked.len()
        ),
        t,
    );
    let t = Instant::now();
    let before = observe(&cluster).await?;
    tl.since("status before the disaster", t);
    Ok((cluster, acked, before))
}

/// Namespaces, config maps and pods the way their keys look in a real cluster's etcd; `pad`
/// bytes of data in each config map and pod make a drill of a given size. Writes go 32 at a time,
/// as an API server's do.
pub(crate) async fn write_kubernetes_keys(
    cluster: &LocalCluster,
    count: usize,
    pad: usize,
) -> crate::Result<BTreeMap<String, u64>> {
    use futures::StreamExt;
    let client = first_member_client(cluster).await?.client;
    let filler = "x".repeat(pad);
    let writes = futures::stream::iter(0..count).map(|i| {
        let mut c = client.clone();
        let (key, value) = kubernetes_object(i, &filler);
        async move {
            c.put(key.clone(), value.clone(), None)
                .await
                .map(|_| (key, value))
        }
    });
    let mut acked = BTreeMap::new();
    let mut done = writes.buffer_unordered(32);
    while let Some(result) = done.next().await {
        let (key, value) = result.context("writing drill data")?;
        acked.insert(key, ops::kv::digest(value.as_bytes()));
    }
    Ok(acked)
}

fn kubernetes_object(i: usize, filler: &str) -> (String, String) {
    let ns = format!("team-{}", i % 10);
    match i % 3 {
        0 => (
            store::k8s::object_key("configmaps", Some(ns.as_str()), &format!("config-{i:07}")),
            format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"config-{i:07}","namespace":"{ns}"}},"data":{{"n":"{i}","blob":"{filler}"}}}}"#
            ),
        ),
        1 => (
            store::k8s::object_key("pods", Some(ns.as_str()), &format!("app-{i:07}")),
            format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"app-{i:07}","namespace":"{ns}","labels":{{"app":"a{}"}},"annotations":{{"note":"{filler}"}}}}}}"#,
                i % 7
            ),
        ),
        _ => (
            store::k8s::object_key("namespaces", None, &ns),
            format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#),
        ),
    }
}

/// Stops every member and removes the cluster's temp dir, timed as the drill's last step.
pub(crate) fn clean_up(cluster: LocalCluster, tl: &mut Timeline) {
    let t = Instant::now();
    let dir = cluster.dir().display().to_string();
    drop(cluster);
    tl.since(&format!("clean up (stop members, remove {dir})"), t);
}

/// Runs the local recovery on `cluster`, printing each step as it finishes when the timeline is
/// loud; returns the outcome and the steps (named `recover: ...`).
pub(crate) async fn recover_timed(
    cluster: &mut LocalCluster,
    tl: &Timeline,
    opts: &ops::recover::LocalRecoverOptions,
) -> (
    Result<(ops::recover::Plan, ops::recover::RunReport), ops::OpsError>,
    Vec<Step>,
) {
    let state_dir = cluster.dir().join("recover-state");
    let (progress, started) = (tl.progress.clone(), tl.started);
    let mut steps: Vec<Step> = Vec::new();
    let mut exec = ops::recover::LocalExecutor { cluster };
    let mut on_step = |s: &ops::recover::StepTiming| {
        if let Some(tell) = &progress {
            tell(&format!(
                "[{:>6.1}s] recover: {} ({:.2}s)",
                started.elapsed().as_secs_f64(),
                s.name,
                s.seconds
            ));
        }
        steps.push(Step {
            name: format!("recover: {}", s.name),
            seconds: s.seconds,
        });
    };
    let outcome = ops::recover::recover_local_with(&mut exec, &state_dir, opts, &mut on_step).await;
    (outcome, steps)
}

/// `snapshot restore` of `snapshot` into every member's (now empty) data dir, as one new
/// cluster; the outcome, and what happened to the revision for the timeline.
pub(crate) fn restore_members(
    cluster: &LocalCluster,
    snapshot: &std::path::Path,
) -> crate::Result<(store::restore::Outcome, String)> {
    let initial: Vec<String> = (0..cluster.members().len())
        .map(|i| format!("{}={}", cluster.members()[i].name, cluster.peer_url(i)))
        .collect();
    let new_cluster = store::restore::parse(&initial.join(","), "lifeboat-drill-restored")?;
    let targets: Vec<store::restore::Target> = cluster
        .members()
        .iter()
        .map(|m| store::restore::Target {
            name: m.name.clone(),
            data_dir: m.data_dir.clone(),
        })
        .collect();
    let restored = store::restore::restore(&store::restore::Request {
        snapshot,
        cluster: &new_cluster,
        targets: &targets,
        skip_hash_check: false,
        bump: store::restore::Bump::Auto,
        move_aside: None,
        identities: None,
        etcd_version: None,
    })?;
    let bump = restored
        .db
        .bump
        .as_ref()
        .map(|b| format!("revision bumped by {} and marked compacted", b.amount))
        .unwrap_or_else(|| "no revision bump".into());
    Ok((restored, bump))
}
