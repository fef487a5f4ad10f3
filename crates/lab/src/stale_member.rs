//! Scenario `stale-member`: a control-plane node replaced in the wrong order. The new member was
//! added as a voter before the old one was removed, and never started; then one more original
//! member goes down and quorum is lost. `status` names the stale member; the way out is the one
//! its fix prints: bring the downed member back, then remove the stale one behind the quorum
//! guard.

use std::time::{Duration, Instant};

use crate::bail;
use crate::error::Context as _;
use ops::member::{Change, MemberRef, find_member, leader_endpoint, remove};
use ops::status::Verdict;

use crate::cluster::{clean_up, observe, prepare, read_registry};
use crate::report::{DrillReport, DrillSpec, Timeline};

pub(crate) async fn rehearse(args: &DrillSpec) -> crate::Result<DrillReport> {
    let mut tl = Timeline::new(args);
    let (mut cluster, acked, before) = prepare(args, &mut tl).await?;

    // The botched replacement: add the new node as a voter first; it never comes up.
    let t = Instant::now();
    let (_, stale_id) = cluster
        .add_member("replacement", false)
        .await
        .context("adding the replacement member")?;
    let stale_hex = ops::ids::hex_id(stale_id);
    tl.since(
        &format!("replace a node add-first: voter {stale_hex} added, never started"),
        t,
    );

    // One more failure is now enough to lose quorum.
    let voters = args.members + 1;
    let quorum = voters / 2 + 1;
    let down = args.members + 1 - quorum;
    let t = Instant::now();
    let mut lost_members = vec![format!("replacement ({stale_hex}, never started)")];
    let downed: Vec<usize> = ((args.members - down)..args.members).collect();
    for &i in &downed {
        lost_members.push(format!("{} (down)", cluster.members()[i].name));
        cluster.kill(i);
    }
    tl.since(
        &format!(
            "disaster: {down} original member(s) down: {} of {voters} voters answer",
            voters - down - 1
        ),
        t,
    );

    let t = Instant::now();
    let after = observe(&cluster).await?;
    tl.since("detect: status", t);
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();
    let fix_names_stale = after.findings.iter().any(|f| {
        f.code == "MEMBER_UNSTARTED"
            && f.fix
                .as_deref()
                .is_some_and(|x| x.contains(&format!("lifeboat member remove {stale_hex}")))
    });

    // The way out status printed: bring the downed members back, then remove the stale one.
    let t = Instant::now();
    for &i in &downed {
        cluster.restart(i)?;
    }
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (status, mut client) = loop {
        match leader_endpoint(&settings, tls.as_ref()).await {
            Ok(found) => break found,
            Err(e) if Instant::now() > deadline => bail!("quorum did not return: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    tl.since("recover: restart the downed member(s); quorum returns", t);

    let t = Instant::now();
    let target = find_member(&status, &MemberRef(stale_hex.clone()))?;
    let change = Change::remove(&status, &target.id);
    if !change.allowed {
        bail!(
            "the quorum guard refused to remove the stale member: {:?}",
            change.refusal
        );
    }
    remove(&mut client, stale_id).await?;
    tl.since(
        &format!(
            "recover: lifeboat member remove {stale_hex} (guard: {})",
            change.after.describe()
        ),
        t,
    );

    let t = Instant::now();
    cluster.wait_healthy(Duration::from_secs(60)).await?;
    let final_status = observe(&cluster).await?;
    let found = read_registry(&cluster).await?;
    let lost = acked
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(*v))
        .count();
    tl.since("verify: healthy, keys counted", t);

    let (verdict, reason) = if before.verdict() != Verdict::Healthy {
        (
            "fail",
            "the cluster was not healthy before the replacement".to_string(),
        )
    } else if !(codes.contains(&"QUORUM_LOST") && fix_names_stale) {
        (
            "fail",
            format!("status did not name the stale member and the lost quorum: {codes:?}"),
        )
    } else if lost > 0 {
        (
            "fail",
            format!("{lost} acknowledged keys missing or changed"),
        )
    } else if final_status.verdict() != Verdict::Healthy
        || final_status.members.len() != args.members
    {
        (
            "fail",
            "the cluster is not healthy with its original members".to_string(),
        )
    } else {
        (
            "pass",
            format!(
                "diagnosed {codes:?} naming {stale_hex}; quorum restored, stale member removed, nothing lost"
            ),
        )
    };

    clean_up(cluster, &mut tl);

    Ok(DrillReport {
        lost_members,
        keys_before: acked.len(),
        keys_after: found.len(),
        lost,
        status_final: Some(final_status),
        ..DrillReport::new(args, tl, (before, after), codes, (verdict, reason))
    })
}
