//! Carrying out a recovery plan, step by step, journaled. Each step checks the world first and
//! does nothing when its effect is already there, so a rerun after a crash converges.

use std::time::{Duration, Instant};

use etcd_client::GetOptions;
use serde::Serialize;

use super::executor::{Executor, StartMode};
use super::journal::Journal;
use super::plan::{Plan, Step};
use crate::OpsError;
use crate::client::connect;
use crate::member::{add, leader_endpoint, promote_when_ready};
use crate::settings::ConnectionSettings;
use crate::status::{ClusterStatus, DiagnoseOptions, diagnose, gather};

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub name: String,
    pub seconds: f64,
    /// False when the journal said the step was already done.
    pub ran: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub steps: Vec<StepTiming>,
    pub final_status: ClusterStatus,
    pub revision: i64,
    pub hash_kv: u32,
}

const START_TIMEOUT: Duration = Duration::from_secs(90);

pub async fn run(
    plan: &Plan,
    exec: &mut dyn Executor,
    journal: &mut Journal,
    on_step: &mut dyn FnMut(&StepTiming),
) -> Result<RunReport, OpsError> {
    reconcile(plan, exec, journal).await?;
    let mut timings = Vec::new();
    let mut verified = None;
    for (i, step) in plan.steps.iter().enumerate() {
        let name = step.describe();
        if journal.is_done(i) && *step != Step::Verify {
            let t = StepTiming {
                name,
                seconds: 0.0,
                ran: false,
            };
            on_step(&t);
            timings.push(t);
            continue;
        }
        let started = Instant::now();
        if let Some(v) = execute(step, plan, exec).await? {
            verified = Some(v);
        }
        journal.mark_done(i, &name)?;
        let t = StepTiming {
            name,
            seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            ran: true,
        };
        on_step(&t);
        timings.push(t);
    }
    let (final_status, revision, hash_kv) = match verified {
        Some(v) => v,
        None => verify(exec).await?,
    };
    Ok(RunReport {
        steps: timings,
        final_status,
        revision,
        hash_kv,
    })
}

/// After a crash the processes that finished steps had started may be gone (a local etcd dies
/// with lifeboat; a node may have rebooted). Start again, on their data dirs, the members that
/// the journal says should be running, before resuming.
async fn reconcile(
    plan: &Plan,
    exec: &mut dyn Executor,
    journal: &Journal,
) -> Result<(), OpsError> {
    let members = exec.members();
    let mut should_run: Vec<&str> = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if !journal.is_done(i) {
            continue;
        }
        match step {
            Step::ForceNewCluster { member }
            | Step::RestartNormally { member }
            | Step::StartJoining { member }
                if !should_run.contains(&member.as_str()) =>
            {
                should_run.push(member);
            }
            Step::StartAll => {
                for m in &members {
                    if !should_run.contains(&m.as_str()) {
                        should_run.push(m);
                    }
                }
            }
            _ => {}
        }
    }
    let mut started = Vec::new();
    for member in should_run {
        if !exec.is_running(member) {
            exec.start(member, StartMode::Normal)?;
            started.push(member);
        }
    }
    // The next step may talk to them at once (the seed check connects once): wait until they
    // answer, as the step that first started them did.
    for member in started {
        super::wait::until_answering(&exec.settings_for(member), START_TIMEOUT, member).await?;
    }
    Ok(())
}

async fn execute(
    step: &Step,
    plan: &Plan,
    exec: &mut dyn Executor,
) -> Result<Option<(ClusterStatus, i64, u32)>, OpsError> {
    match step {
        Step::Fence { member } => exec.stop(member)?,
        Step::Backup { member } => {
            exec.backup(member)?;
        }
        Step::ForceNewCluster { member } => {
            exec.stop(member)?;
            exec.start(member, StartMode::ForceNewCluster)?;
            super::wait::until_leading(
                &exec.settings_for(member),
                Some(1),
                START_TIMEOUT,
                "the seed",
            )
            .await?;
        }
        Step::CheckSeed {
            member,
            min_revision,
        } => {
            let rev = revision(&exec.settings_for(member)).await?;
            if rev < *min_revision {
                return Err(OpsError::Local(format!(
                    "the seed {member} is at revision {rev}, below the {min_revision} a survivor \
                     had: stop here, nothing else was changed after the seed; pick another seed"
                )));
            }
        }
        Step::RestartNormally { member } => {
            exec.stop(member)?;
            exec.start(member, StartMode::Normal)?;
            super::wait::until_leading(
                &exec.settings_for(member),
                Some(1),
                START_TIMEOUT,
                "the seed",
            )
            .await?;
        }
        Step::AddLearner { peer_urls, .. } => {
            let settings = exec.settings_all();
            let tls = settings.validate()?;
            let (status, mut client) = leader_with_retry(&settings, tls.as_ref()).await?;
            let present = status
                .members
                .iter()
                .any(|m| m.peer_urls.iter().any(|u| peer_urls.contains(u)));
            if !present {
                add(&mut client, peer_urls, true).await?;
            }
        }
        Step::StartJoining { member } => {
            if !exec.is_running(member) {
                exec.clear_data(member)?;
                let initial = initial_cluster(exec, plan, member).await?;
                exec.start(
                    member,
                    StartMode::Join {
                        initial_cluster: initial,
                    },
                )?;
            }
            super::wait::until_answering(
                &exec.settings_for(member),
                START_TIMEOUT,
                "the joining member",
            )
            .await?;
        }
        Step::Promote { member } => {
            let settings = exec.settings_all();
            let tls = settings.validate()?;
            let (status, _) = leader_with_retry(&settings, tls.as_ref()).await?;
            let peers = exec.peer_urls(member);
            let row = status
                .members
                .iter()
                .find(|m| m.peer_urls.iter().any(|u| peers.contains(u)))
                .ok_or_else(|| OpsError::Local(format!("{member} is not in the membership")))?;
            if row.is_learner {
                let id = crate::ids::parse_hex_id(&row.id).unwrap_or(0);
                promote_when_ready(&settings, tls.as_ref(), id, START_TIMEOUT).await?;
            }
        }
        Step::RestoreAll { seed, token } => super::rebuild::restore_all(exec, seed, token)?,
        Step::StartAll => super::rebuild::start_all(exec, START_TIMEOUT).await?,
        Step::Verify => return verify(exec).await.map(Some),
    }
    Ok(None)
}

/// `name=peer` for every member in the membership now, with the joining member's own name.
async fn initial_cluster(
    exec: &dyn Executor,
    _plan: &Plan,
    joining: &str,
) -> Result<String, OpsError> {
    let settings = exec.settings_all();
    let tls = settings.validate()?;
    let (status, _) = leader_with_retry(&settings, tls.as_ref()).await?;
    Ok(crate::member::initial_cluster(
        &status.members,
        &exec.peer_urls(joining),
        joining,
    ))
}

/// The leader, waiting for an election to finish (members were just started or restarted).
async fn leader_with_retry(
    settings: &ConnectionSettings,
    tls: Option<&crate::settings::ValidatedTls>,
) -> Result<(ClusterStatus, crate::client::EndpointClient), OpsError> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        match leader_endpoint(settings, tls).await {
            Ok(found) => return Ok(found),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn revision(settings: &ConnectionSettings) -> Result<i64, OpsError> {
    let tls = settings.validate()?;
    let ep = settings
        .endpoints
        .first()
        .ok_or_else(|| OpsError::Local("no endpoint".into()))?;
    let c = connect(ep, tls.as_ref(), settings).await?;
    let resp = c
        .call(|mut cl| async move {
            cl.get("\0", Some(GetOptions::new().with_count_only()))
                .await
        })
        .await?;
    Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
}

/// Every member answers, lists the same membership, and returns the same `hash_kv` at one
/// revision (followers get a few seconds to apply it).
async fn verify(exec: &dyn Executor) -> Result<(ClusterStatus, i64, u32), OpsError> {
    let settings = exec.settings_all();
    let tls = settings.validate()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = diagnose(
            &gather(&settings, tls.as_ref(), true).await,
            &DiagnoseOptions::default(),
        );
        let problem = if !status.endpoints.iter().all(|e| e.reachable) {
            Some("not every member answers".to_string())
        } else if !status.quorum.leader_agreed {
            Some("members do not agree on a leader".to_string())
        } else if status.members.iter().any(|m| m.is_learner) {
            Some("a learner is left".to_string())
        } else if status
            .findings
            .iter()
            .any(|f| f.code == "MEMBERSHIP_DISAGREES")
        {
            Some("membership differs between members".to_string())
        } else {
            match hashes_agree(&settings, tls.as_ref()).await {
                Ok((rev, hash)) => return Ok((status, rev, hash)),
                Err(e) => Some(e.to_string()),
            }
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(OpsError::Local(format!(
                "verification failed: {}",
                problem.unwrap_or_default()
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn hashes_agree(
    settings: &ConnectionSettings,
    tls: Option<&crate::settings::ValidatedTls>,
) -> Result<(i64, u32), OpsError> {
    let rev = revision(settings).await?;
    let mut seen: Vec<(String, u32)> = Vec::new();
    for ep in &settings.endpoints {
        let c = connect(ep, tls, settings).await?;
        let h = c
            .call(|mut cl| async move { cl.hash_kv(rev).await })
            .await?;
        seen.push((ep.to_string(), h.hash()));
    }
    let first = seen.first().map(|s| s.1).unwrap_or(0);
    if seen.iter().all(|s| s.1 == first) {
        Ok((rev, first))
    } else {
        Err(OpsError::Local(format!(
            "hash_kv at revision {rev} differs: {seen:?}"
        )))
    }
}

/// What a local recovery may be told from outside.
#[derive(Debug, Clone, Default)]
pub struct LocalRecoverOptions {
    /// A plan decided elsewhere (`lifeboat recover plan -o json`), instead of one made here from
    /// the fenced data dirs.
    pub plan: Option<Plan>,
    /// Skip the split-brain guard (only when what answers on a member's ports is not etcd).
    pub i_have_fenced: bool,
    /// How a plan made here rebuilds the cluster (a given or saved plan says so itself).
    pub strategy: Strategy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Force a new cluster on the seed, re-add the others one learner at a time.
    #[default]
    Rejoin,
    /// Restore every member from the seed's db and start them together, when the seed's db
    /// holds every committed entry; else as `Rejoin`.
    Rebuild,
}

/// The whole local recovery: resume a saved plan, or fence every member, read their data dirs,
/// plan, save the plan, and run it.
pub async fn recover_local(
    exec: &mut dyn Executor,
    state_dir: &std::path::Path,
    on_step: &mut dyn FnMut(&StepTiming),
) -> Result<(Plan, RunReport), OpsError> {
    recover_local_with(exec, state_dir, &LocalRecoverOptions::default(), on_step).await
}

/// [`recover_local`] with a given plan and the guard's override.
pub async fn recover_local_with(
    exec: &mut dyn Executor,
    state_dir: &std::path::Path,
    opts: &LocalRecoverOptions,
    on_step: &mut dyn FnMut(&StepTiming),
) -> Result<(Plan, RunReport), OpsError> {
    let mut journal = Journal::open(state_dir)?;
    let plan = match journal.saved_plan()? {
        Some(saved) => {
            if let Some(given) = &opts.plan
                && given.steps != saved.steps
            {
                return Err(OpsError::Config(format!(
                    "{} holds an interrupted recovery with another plan: finish it (rerun without                      --plan) or move that state dir aside to start over",
                    state_dir.display()
                )));
            }
            check_plan_fits(&saved, exec, state_dir)?;
            saved
        }
        None => {
            // A given plan is checked before anything is fenced.
            if let Some(given) = &opts.plan {
                check_plan_fits(given, exec, state_dir)?;
                check_seed_has_data(given, exec)?;
            }
            for m in exec.members() {
                exec.stop(&m)?;
            }
            if !opts.i_have_fenced {
                super::fence::nothing_answers(exec)?;
            }
            let plan = match &opts.plan {
                Some(p) => p.clone(),
                None => plan_local(exec, opts.strategy)?,
            };
            journal.save_plan(&plan)?;
            plan
        }
    };
    let report = run(&plan, exec, &mut journal, on_step).await?;
    journal.finish()?;
    Ok((plan, report))
}

/// A plan from the members' data dirs as they are now (stopped members give final evidence;
/// a running member's may still move, which is why the runner fences first).
pub fn plan_local(exec: &dyn Executor, strategy: Strategy) -> Result<Plan, OpsError> {
    let (evidence, problems) = super::evidence::from_data_dirs(exec);
    let members: Vec<super::plan::MemberSpec> = exec
        .members()
        .into_iter()
        .map(|name| super::plan::MemberSpec {
            peer_urls: exec.peer_urls(&name),
            name,
        })
        .collect();
    let mut plan = match strategy {
        Strategy::Rejoin => without_restart(super::plan::plan(&members, &evidence)?),
        Strategy::Rebuild => {
            let token = format!("lifeboat-rebuilt-{}", crate::utc::compact_now());
            super::rebuild::plan_rebuild(&members, &evidence, &token)?
        }
    };
    plan.warnings.extend(problems);
    Ok(plan)
}

/// A local plan skips restarting the seed without `--force-new-cluster`: that restart exists
/// because a node's etcd keeps its flags (env file, manifest) and would force again on its next
/// restart. A local member gets the flag for that one start only, and lifeboat starts it again
/// only without it, so the second start of the largest data dir (as long as the first) buys
/// nothing here.
fn without_restart(mut plan: Plan) -> Plan {
    plan.steps
        .retain(|s| !matches!(s, Step::RestartNormally { .. }));
    plan
}

/// A plan (saved, or given) must name only members this cluster has, and its seed must hold a
/// data dir here: forcing a new cluster on an empty dir would start an empty cluster.
fn check_plan_fits(
    plan: &Plan,
    exec: &dyn Executor,
    state_dir: &std::path::Path,
) -> Result<(), OpsError> {
    // A state dir left from another cluster must not steer this one.
    let known = exec.members();
    let strangers: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(step_member)
        .filter(|m| !known.iter().any(|k| k == m))
        .collect();
    if !strangers.is_empty() {
        return Err(OpsError::Config(format!(
            "the plan for {} names members this cluster does not have ({}); it belongs to \
             another recovery. Move that state dir aside (or give the right --plan) to plan anew",
            state_dir.display(),
            strangers.join(", ")
        )));
    }
    Ok(())
}

/// Checked only for a plan that has not started: once the seed was forced, its data dir is
/// the new cluster's and the check is moot.
pub fn check_seed_has_data(plan: &Plan, exec: &dyn Executor) -> Result<(), OpsError> {
    if exec.data_dir(&plan.seed).is_none() {
        return Err(OpsError::Config(format!(
            "the plan's seed {} has no data dir here: forcing a new cluster on it would start an \
             empty cluster. Plan again from the data dirs that exist",
            plan.seed
        )));
    }
    Ok(())
}

fn step_member(step: &Step) -> Option<&str> {
    match step {
        Step::Fence { member }
        | Step::Backup { member }
        | Step::ForceNewCluster { member }
        | Step::CheckSeed { member, .. }
        | Step::RestartNormally { member }
        | Step::AddLearner { member, .. }
        | Step::StartJoining { member }
        | Step::Promote { member }
        | Step::RestoreAll { seed: member, .. } => Some(member),
        Step::StartAll | Step::Verify => None,
    }
}
