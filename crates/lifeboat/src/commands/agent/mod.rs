//! `lifeboat agent --store URL`: continuous backup (docs/backup.md §6). A full snapshot now
//! and every `--full-every`, and the delta log from a watch in between, until SIGINT/SIGTERM
//! (or `--run-for`). No leader election yet: run one agent per cluster.

use std::path::PathBuf;
use std::time::Duration;

use ::backup::agent::deltas::{self, DeltaConfig, Stopped};
use ::backup::agent::full;
use ::backup::remote::Store;
use clap::Args;
use ops::settings::{ConnectionSettings, ValidatedTls};

use crate::cli::Context;
use crate::commands::backup::StoreArg;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// How often a new full snapshot is taken (the delta log runs on meanwhile)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub full_every: Duration,

    /// Where full snapshots are staged before upload (needs room for one snapshot)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub work_dir: PathBuf,

    /// Stop after this long (drills, tests); default: until SIGINT or SIGTERM
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<Duration>,
}

#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    store: String,
    fulls: Vec<i64>,
    last_revision: i64,
    /// Revisions lost to compaction between a delta log and the next full.
    unrestorable: Vec<(i64, i64)>,
}

async fn stop_signal(run_for: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    let limit = async {
        match run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = limit => {}
    }
}

async fn watch_client(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
) -> anyhow::Result<ops::client::EndpointClient> {
    let mut last = None;
    for ep in &settings.endpoints {
        match ops::client::connect(ep, tls, settings).await {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(|| anyhow::anyhow!("no --endpoints given"), Into::into))
}

async fn take_full(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    store: &Store,
    args: &AgentArgs,
    summary: &mut Summary,
) -> anyhow::Result<(i64, u64, u64)> {
    let (name, m) = full::take(settings, tls, store, &args.work_dir).await?;
    output::note(&format!(
        "agent: full snapshot at revision {} uploaded as {}",
        name.revision,
        name.object(store.prefix())
    ));
    summary.fulls.push(name.revision);
    let id = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
    Ok((name.revision, id(&m.cluster_id), id(&m.member_id)))
}

async fn run_agent(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    args: &AgentArgs,
) -> anyhow::Result<Summary> {
    let store = args.store.open()?;
    let mut summary = Summary {
        store: store.url.clone(),
        ..Summary::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let run_for = args.run_for;
    tokio::spawn(async move {
        stop_signal(run_for).await;
        let _ = stop_tx.send(true);
    });
    let (mut covered, cluster, member) =
        take_full(settings, tls, &store, args, &mut summary).await?;
    loop {
        let mut client = watch_client(settings, tls).await?.client;
        let cfg = DeltaConfig::new(cluster, member);
        let mut rx = stop_rx.clone();
        let log = deltas::run(&mut client, &store, covered, &cfg, &mut rx);
        let mut scheduled = Summary::default();
        let fulls = async {
            loop {
                tokio::time::sleep(args.full_every).await;
                if let Err(e) = take_full(settings, tls, &store, args, &mut scheduled).await {
                    output::note(&format!("agent: scheduled full snapshot failed: {e:#}"));
                }
            }
        };
        let stopped = tokio::select! {
            r = log => r?,
            () = fulls => unreachable!("the schedule loops forever"),
        };
        summary.fulls.extend(scheduled.fulls);
        match stopped {
            Stopped::Shutdown { last_revision } => {
                summary.last_revision = last_revision;
                return Ok(summary);
            }
            Stopped::Compacted {
                compact_revision,
                last_revision,
            } => {
                let (rev, _, _) = take_full(settings, tls, &store, args, &mut summary).await?;
                output::note(&format!(
                    "agent: etcd compacted at {compact_revision} past the delta log (at {last_revision}); \
                     new full at {rev}: revisions {}..={} cannot be restored",
                    last_revision + 1,
                    rev.max(last_revision + 1)
                ));
                summary.unrestorable.push((last_revision + 1, rev));
                covered = rev;
            }
        }
    }
}

pub fn run(ctx: &Context, args: &AgentArgs) -> anyhow::Result<Exit> {
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let summary = rt.block_on(run_agent(&settings, tls.as_ref(), args))?;
    match ctx.format {
        Format::Json => output::print_json(&summary),
        Format::Table => output::print(&format!(
            "agent stopped: {} full snapshots, delta log up to revision {} in {}\n",
            summary.fulls.len(),
            summary.last_revision,
            summary.store
        )),
    }
    Ok(Exit::Ok)
}
