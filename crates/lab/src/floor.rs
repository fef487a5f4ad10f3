//! The floor of a lost-quorum recovery, measured on the recovered cluster when the recovery did
//! not pass through it: a restore-based rebuild starts every member at once, so none of its steps
//! is "etcd starts on the seed's data" or "a fresh member receives the database from the leader".
//!
//! Both are measured after the recovery, outside its time, in the same run and on the same data:
//! the seed stopped and started again until it answers; then one other member removed, its data
//! dir moved aside (never deleted), added back as a learner, started empty and timed until
//! promoted (the same pieces the rejoin path's floor sums: start on an empty dir + promote).

use std::time::{Duration, Instant};

use crate::error::Context as _;
use ops::local::LocalCluster;
use ops::recover::until_answering;

/// Generous: a 1.5 GB database on a loaded two-core machine.
const TIMEOUT: Duration = Duration::from_secs(300);

/// (seed start seconds, member receive seconds).
pub(crate) async fn measure(cluster: &mut LocalCluster, seed: &str) -> crate::Result<(f64, f64)> {
    let names: Vec<String> = cluster.members().iter().map(|m| m.name.clone()).collect();
    let s = names
        .iter()
        .position(|n| n == seed)
        .context("the seed is not a member of the drill cluster")?;

    let t = Instant::now();
    cluster.stop(s);
    cluster.start_with(s, &[])?;
    until_answering(&cluster.settings_for(&[s]), TIMEOUT, "the seed").await?;
    let seed_start = t.elapsed().as_secs_f64();

    let everyone: Vec<usize> = (0..names.len()).collect();
    let all = cluster.settings_for(&everyone);
    let tls = all.validate()?;
    let (status, mut client) = ops::member::leader_endpoint(&all, tls.as_ref()).await?;
    // Neither the seed nor the leader: stopping it must not cost an election, and the client
    // just opened to the leader must stay usable.
    let leader_peers: Vec<String> = status
        .members
        .iter()
        .filter(|m| m.is_leader || status.quorum.leader_id.as_ref() == Some(&m.id))
        .flat_map(|m| m.peer_urls.clone())
        .collect();
    let j = (0..names.len())
        .rev()
        .find(|i| *i != s && !leader_peers.contains(&cluster.peer_url(*i)))
        .context("no member besides the seed and the leader")?;
    let peer = cluster.peer_url(j);
    let id = status
        .members
        .iter()
        .find(|m| m.peer_urls.contains(&peer))
        .and_then(|m| ops::ids::parse_hex_id(&m.id))
        .with_context(|| format!("{} is not in the membership", names[j]))?;
    cluster.stop(j);
    ops::member::remove(&mut client, id).await?;
    ops::files::move_aside(&cluster.members()[j].data_dir)?;
    let (new_id, members) =
        ops::member::add(&mut client, std::slice::from_ref(&peer), true).await?;
    let initial = ops::member::initial_cluster(&members, &[peer], &names[j]);

    let t = Instant::now();
    cluster.start_joining(j, &initial)?;
    until_answering(&cluster.settings_for(&[j]), TIMEOUT, "the fresh member").await?;
    ops::member::promote_when_ready(&all, tls.as_ref(), new_id, TIMEOUT).await?;
    Ok((seed_start, t.elapsed().as_secs_f64()))
}
