//! `lifeboat agent --store URL`: continuous backup (docs/backup.md §6). A full snapshot now
//! and every `--full-every`, and the delta log from a watch in between, until SIGINT/SIGTERM
//! (or `--run-for`). Any number of agents may run: they elect one writer through etcd
//! (`backup::agent::leader`); a new leader resumes the delta log where the store ends.

use std::path::PathBuf;
use std::time::Duration;

use ::backup::agent::AgentError;
use ::backup::agent::deltas::{self, Followed, Stopped};
use ::backup::agent::full;
use ::backup::agent::leader::{self, Fence, Lease};
use ::backup::agent::spool::Spool;
use ::backup::agent::uploader;
use ::backup::remote::Store;
use clap::Args;
use ops::settings::{ConnectionSettings, ValidatedTls};

use std::sync::Arc;

use ::backup::agent::metrics::{Failure, Metrics};

use crate::context::Context;
use crate::exit::Exit;
use crate::flags::StoreArg;
use crate::metrics_http as serve;
use crate::output::{self, Format};

mod config;
mod upkeep;

use crate::runtime::stop_signal;

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The agent's settings as YAML, keys named as these flags (store, full-every, work-dir,
    /// lease-ttl, metrics-listen, flush-every, ...); a flag given here wins over the file
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The backup store: file:///DIR or s3://BUCKET[/PREFIX] (S3 settings from AWS_* variables:
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP)
    #[arg(long, value_name = "URL", env = "LIFEBOAT_BACKUP_STORE")]
    pub store: Option<String>,

    /// How often a new full snapshot is taken (the delta log runs on meanwhile) [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub full_every: Option<Duration>,

    /// Where full snapshots are staged before upload (needs room for one snapshot) [default: .]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Agents campaign for leadership on this lease: one writes, the others stand by and
    /// take over within this long after the leader stops keeping it alive [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lease_ttl: Option<Duration>,

    /// Serve /metrics (Prometheus text format) and /healthz on this address (plain HTTP);
    /// default: no listener
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Also follow the policies in force and the inventory as `lifeboat policy watch` does:
    /// verdict changes on stderr, `lifeboat_policy_*` gauges on /metrics
    #[arg(long)]
    pub policy_watch: bool,

    /// Seal and upload the delta log's buffer at least this often (and whenever it reaches
    /// 8 MiB): the most writes a lost node can take with it [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub flush_every: Option<Duration>,

    /// During a store outage, sealed segments wait in DIR/spool-* under --work-dir, up to this
    /// many bytes; past it the delta log stops (counted as spool_full) [default: 1073741824]
    #[arg(long, value_name = "BYTES")]
    pub spool_limit: Option<u64>,

    /// Retention after each full this agent uploads (off unless one is given; see `lifeboat
    /// backup prune`)
    #[command(flatten)]
    pub retention: crate::flags::RetentionArgs,

    /// Fetch the newest full and its deltas, rebuild and verify them under --work-dir (as
    /// `backup restore --latest` and `snapshot verify` do) this often while leading; default: off
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub restore_test_every: Option<Duration>,

    /// Encrypt full snapshots with age to this recipient (age1...) or to every recipient in
    /// this file, as `snapshot save --encrypt-to` does; `backup restore --identity` opens them.
    /// Delta segments are not encrypted
    #[arg(long, value_name = "RECIPIENT|FILE")]
    pub encrypt_to: Option<String>,

    /// Stop after this long (drills, tests); default: until SIGINT or SIGTERM
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<Duration>,
}

/// The settings in force: flags over the config file over the defaults.
#[derive(Clone)]
struct Settings {
    store: StoreArg,
    full_every: Duration,
    work_dir: PathBuf,
    lease_ttl: Duration,
    metrics_listen: Option<std::net::SocketAddr>,
    policy_watch: bool,
    run_for: Option<Duration>,
    flush_every: Duration,
    spool_limit: u64,
    retention: ::backup::retention::Policy,
    restore_test_every: Option<Duration>,
    encryption: Option<Arc<ops::snapshot::Encryption>>,
}

impl Settings {
    fn resolve(args: &AgentArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => config::load(path)?,
            None => config::AgentConfig::default(),
        };
        let store = args.store.clone().or(file.store).ok_or_else(|| {
            crate::exit::usage("no backup store: give --store URL (or `store:` in --config FILE)")
        })?;
        let lease_ttl = args
            .lease_ttl
            .or(file.lease_ttl.map(|d| d.0))
            .unwrap_or(Duration::from_secs(10));
        if lease_ttl < Duration::from_secs(2) {
            return Err(crate::exit::usage(format!(
                "--lease-ttl {} is too short: etcd leases are whole seconds and the leader stops \
                 writing at half of it; give 2s or more",
                humantime::format_duration(lease_ttl)
            )));
        }
        let flush_every = args
            .flush_every
            .or(file.flush_every.map(|d| d.0))
            .unwrap_or(Duration::from_secs(1));
        if flush_every < Duration::from_millis(10) {
            return Err(crate::exit::usage(format!(
                "--flush-every {} is too short: give 10ms or more (1s is the default)",
                humantime::format_duration(flush_every)
            )));
        }
        let restore_test_every = args
            .restore_test_every
            .or(file.restore_test_every.map(|d| d.0));
        if restore_test_every.is_some_and(|d| d < Duration::from_secs(1)) {
            return Err(crate::exit::usage(
                "--restore-test-every is too short: give 1s or more (each test downloads the newest full)",
            ));
        }
        let encrypt_to = args.encrypt_to.clone().or(file.encrypt_to);
        if encrypt_to.is_some() && restore_test_every.is_some() {
            // A restore test must decrypt the full, and an agent holds only recipients: the
            // test could only ever fail, and its alert would cry wolf.
            return Err(crate::exit::usage(
                "--restore-test-every cannot test encrypted fulls (--encrypt-to): the agent holds \
                 no identity. Drop one of them, and test restores where the identity is kept: \
                 `lifeboat backup restore --store URL --latest --identity FILE --out FILE`",
            ));
        }
        Ok(Settings {
            retention: file
                .retention
                .unwrap_or_default()
                .policy_under(&args.retention),
            restore_test_every,
            store: StoreArg { store },
            flush_every,
            spool_limit: args.spool_limit.or(file.spool_limit).unwrap_or(1 << 30),
            full_every: args
                .full_every
                .or(file.full_every.map(|d| d.0))
                .unwrap_or(Duration::from_secs(3600)),
            work_dir: args
                .work_dir
                .clone()
                .or(file.work_dir)
                .unwrap_or_else(|| PathBuf::from(".")),
            lease_ttl,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            policy_watch: args.policy_watch || file.policy_watch.unwrap_or(false),
            run_for: args.run_for,
            encryption: encrypt_to
                .map(|r| ops::snapshot::Encryption::parse(&r).map(Arc::new))
                .transpose()?,
        })
    }
}

#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    store: String,
    /// How many times this agent became the writer (0: it only stood by).
    terms_led: u32,
    fulls: Vec<i64>,
    last_revision: i64,
    /// Revisions lost to compaction between a delta log and the next full.
    unrestorable: Vec<(i64, i64)>,
    /// Terms that ended in an error (the agent handed the lead over and went on), and the
    /// last such error.
    failed_terms: u32,
    last_error: Option<String>,
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
    args: &Settings,
    summary: &mut Summary,
    metrics: &Metrics,
) -> anyhow::Result<i64> {
    let (name, manifest) = full::take(
        settings,
        tls,
        store,
        &args.work_dir,
        args.encryption.as_deref(),
    )
    .await
    .inspect_err(|_| metrics.failed(Failure::Full))?;
    metrics.uploaded("full", manifest.object_size);
    metrics.full(name.revision, name.taken_ms);
    output::note(&format!(
        "agent: full snapshot at revision {} uploaded as {}",
        name.revision,
        name.object(store.prefix())
    ));
    summary.fulls.push(name.revision);
    upkeep::after_full(store, args.retention, &name, &args.work_dir, metrics).await;
    Ok(name.revision)
}

/// Where the new leader's delta log starts, and when the next full is due: the store's newest
/// revision (a leader before us may have written it) or the end of what this agent spooled and
/// did not upload yet, else a new full now.
#[allow(clippy::too_many_arguments)] // one call site; the term's pieces, each needed
async fn resume_point(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    store: &Store,
    args: &Settings,
    summary: &mut Summary,
    metrics: &Metrics,
    cluster_id: u64,
    spool: &Spool,
) -> anyhow::Result<(i64, Duration)> {
    let contents = store.contents().await?;
    let Some((newest, _)) = contents.fulls.iter().max_by_key(|(f, _)| f.revision) else {
        // An empty store: nothing spooled can continue it (all moved aside).
        spool.catch_up(&contents, 0, cluster_id)?;
        let rev = take_full(settings, tls, store, args, summary, metrics).await?;
        return Ok((rev, args.full_every));
    };
    let manifest = ::backup::check::manifest(store, newest)
        .await
        .map_err(|e| anyhow::anyhow!("reading the newest full's manifest: {e}"))?;
    let here = format!("{cluster_id:016x}");
    if manifest.cluster_id != here {
        anyhow::bail!(
            "the store {} holds backups of etcd cluster {}, but this etcd is cluster {here}: \
             give each cluster its own --store",
            store.url,
            manifest.cluster_id
        );
    }
    metrics.full(newest.revision, newest.taken_ms);
    let newest_delta = contents.deltas.iter().max_by_key(|(d, _)| d.last_revision);
    if let Some((d, entry)) = newest_delta {
        metrics.delta(d.last_revision, entry.uploaded_ms);
    }
    let delta_end = newest_delta.map_or(0, |(d, _)| d.last_revision);
    let stored = newest.revision.max(delta_end);
    // Segments this agent spooled and never uploaded (a store outage, a kill) go first.
    let (spooled, covered) = spool.catch_up(&contents, stored, cluster_id)?;
    if !spooled.is_empty() {
        output::note(&format!(
            "agent: {} spooled segments (revisions {}..={covered}) from {} are uploaded first",
            spooled.len(),
            stored + 1,
            spool.dir().display()
        ));
    }
    let age = u64::try_from(::backup::time::now_ms() - newest.taken_ms).unwrap_or(0);
    let due = args.full_every.saturating_sub(Duration::from_millis(age));
    output::note(&format!(
        "agent: resuming the delta log after revision {covered} (newest full at {})",
        newest.revision
    ));
    Ok((covered, due))
}

/// What a leader's writers answer to: the stop request, and the election lease's fence.
struct Mandate {
    stop_rx: tokio::sync::watch::Receiver<bool>,
    fence: Fence,
}

/// Writes the backup while this agent leads: until stopped (everything uploaded) or an error.
async fn lead(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    store: &Store,
    args: &Settings,
    summary: &mut Summary,
    mandate: Mandate,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<()> {
    let mut client = watch_client(settings, tls).await?.client;
    let cluster_id = deltas::config_for(&mut client).await?.cluster_id;
    let spool = Spool::open(&args.work_dir, &store.url, args.spool_limit)?;
    let (mut covered, mut due) = resume_point(
        settings, tls, store, args, summary, metrics, cluster_id, &spool,
    )
    .await?;
    // Read after the resume point (which may be a full just taken), and linearizable.
    let etcd_revision = deltas::current_revision(&mut client).await?;
    // A store ahead of etcd means etcd was restored to an older state under the same cluster
    // ID: its next revisions are other writes than the store's, so resuming would mix them.
    if covered > etcd_revision {
        anyhow::bail!(
            "the store {} is backed up to revision {covered}, but etcd is at {etcd_revision} \
             (restored from an older state?): give the restored cluster a new --store",
            store.url
        );
    }
    let mut next_test = tokio::time::Instant::now();
    // One uploader for the whole term: a cut watch is followed again from where it ended
    // while the segments it sealed go on uploading, so nothing waits on the store.
    let mut cfg = deltas::config_for(&mut client).await?;
    cfg.fence = Some(mandate.fence.clone());
    cfg.flush_every = args.flush_every;
    cfg.spool = Some(spool.clone());
    cfg.metrics = Some(metrics.clone());
    let mut uploader = uploader::start(store.clone(), spool.clone(), covered, &cfg)?;
    loop {
        let mut rx = mandate.stop_rx.clone();
        let Some(mut client) = rewatch(settings, tls, &mut cfg, &mut rx).await? else {
            uploader.finish().await?;
            return Ok(());
        };
        let log = deltas::follow(&mut client, covered, &cfg, &spool, &mut uploader, &mut rx);
        let mut scheduled = Summary::default();
        let fulls = async {
            loop {
                tokio::time::sleep(due).await;
                due = args.full_every;
                if let Err(e) = take_full(settings, tls, store, args, &mut scheduled, metrics).await
                {
                    output::note(&format!("agent: scheduled full snapshot failed: {e:#}"));
                }
            }
        };
        let followed = tokio::select! {
            r = log => r.inspect_err(|_| metrics.failed(Failure::DeltaLog))?,
            () = fulls => unreachable!("the schedule loops forever"),
            () = upkeep::restore_tests(store, args.restore_test_every, &args.work_dir, metrics, &mut next_test) => {
                unreachable!("the restore tests loop forever")
            }
        };
        summary.fulls.extend(scheduled.fulls);
        match followed {
            Followed::Stopped(Stopped::Shutdown { last_revision }) => {
                uploader.finish().await?;
                summary.last_revision = last_revision;
                return Ok(());
            }
            Followed::Stopped(Stopped::Compacted {
                compact_revision,
                last_revision,
            }) => {
                let rev = take_full(settings, tls, store, args, summary, metrics).await?;
                output::note(&format!(
                    "agent: etcd compacted at {compact_revision} past the delta log (at {last_revision}); \
                     new full at {rev}: revisions {}..={} cannot be restored",
                    last_revision + 1,
                    rev.max(last_revision + 1)
                ));
                summary.unrestorable.push((last_revision + 1, rev));
                covered = rev;
                due = args.full_every;
            }
            Followed::Cut { last_revision, why } => {
                metrics.failed(Failure::DeltaLog);
                output::note(&format!(
                    "agent: the watch on etcd was cut ({why}); {} bytes of segments wait in the \
                     spool for the store; watching again from revision {}",
                    uploader.spooled_bytes(),
                    last_revision + 1
                ));
                covered = last_revision;
            }
        }
    }
}

/// A client for the next watch, with the delta configuration of the member it talks to:
/// retried (every 500 ms) until etcd answers, or `None` once asked to stop. While etcd is
/// away the term goes on only as long as its lease (the caller gives up on a lost lease).
async fn rewatch(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    cfg: &mut deltas::DeltaConfig,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<etcd_client::Client>> {
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        let attempt = async {
            let mut client = watch_client(settings, tls).await?.client;
            let fresh = deltas::config_for(&mut client).await?;
            anyhow::Ok((client, fresh))
        };
        match attempt.await {
            Ok((_, fresh)) if fresh.cluster_id != cfg.cluster_id => anyhow::bail!(
                "etcd answers as cluster {:016x}, but this term backs up cluster {:016x}: \
                 the endpoints now reach another cluster; check --endpoints",
                fresh.cluster_id,
                cfg.cluster_id
            ),
            Ok((client, fresh)) => {
                // Segments name the member they were read from.
                cfg.member_id = fresh.member_id;
                return Ok(Some(client));
            }
            Err(e) => tracing::warn!("watching etcd again failed ({e:#}); retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.wait_for(|s| *s) => return Ok(None),
        }
    }
}

/// Names this agent in the election key: host and process.
fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{host}/{}", std::process::id())
}

async fn run_agent(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    args: &Settings,
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
    let metrics = Metrics::new();
    metrics.restore_test_every(args.restore_test_every);
    let policy_metrics = args
        .policy_watch
        .then(policy_etcd::metrics::PolicyMetrics::new);
    if let Some(pm) = &policy_metrics {
        tokio::spawn(crate::policy_live::in_agent(
            settings.clone(),
            tls.cloned(),
            pm.clone(),
        ));
    }
    if let Some(addr) = args.metrics_listen {
        let listener = serve::bind(addr).await?;
        output::note(&format!("agent: metrics on http://{addr}/metrics"));
        let (m, pm) = (metrics.clone(), policy_metrics.clone());
        let body = move || match &pm {
            Some(p) => crate::metrics_http::join_exposition(&[m.encode(), p.encode()]),
            None => m.encode(),
        };
        tokio::spawn(serve::serve(listener, Arc::new(body)));
        tokio::spawn(serve::watch_cluster(
            settings.clone(),
            tls.cloned(),
            metrics.clone(),
            Duration::from_secs(10),
        ));
    }
    let me = identity();
    let mut ep = watch_client(settings, tls).await?;
    loop {
        let mut stop = stop_rx.clone();
        if *stop.borrow() {
            return Ok(summary);
        }
        let lease = match Lease::grant(&mut ep.client, args.lease_ttl).await {
            Ok(l) => l,
            Err(e) => {
                metrics.failed(Failure::Election);
                output::note(&format!(
                    "agent: cannot take an election lease ({e}); retrying"
                ));
                reconnect(settings, tls, &mut ep, &mut stop).await;
                continue;
            }
        };
        let mut campaigner = ep.client.clone();
        let won = tokio::select! {
            r = leader::campaign(&mut campaigner, &lease, &me) => r,
            () = lease.lost() => continue,
            _ = stop.wait_for(|s| *s) => {
                lease.revoke(&mut ep.client).await;
                return Ok(summary);
            }
        };
        if let Err(e) = won {
            metrics.failed(Failure::Election);
            output::note(&format!("agent: campaign failed ({e}); retrying"));
            reconnect(settings, tls, &mut ep, &mut stop).await;
            continue;
        }
        output::note(&format!(
            "agent: {me} leads (election key {}); writing the backup",
            leader::ELECTION
        ));
        metrics.leading(true);
        summary.terms_led += 1;
        let led = tokio::select! {
            r = lead(settings, tls, &store, args, &mut summary, Mandate { stop_rx: stop_rx.clone(), fence: lease.fence() }, &metrics) => r,
            () = lease.lost() => Err(AgentError::NotLeader.into()),
        };
        metrics.leading(false);
        match led {
            Err(e) if matches!(e.downcast_ref(), Some(AgentError::NotLeader)) => {
                metrics.failed(Failure::Election);
                output::note(&format!("agent: {e}; standing by"));
            }
            Err(e) => {
                metrics.failed(Failure::Term);
                summary.failed_terms += 1;
                summary.last_error = Some(format!("{e:#}"));
                if *stop.borrow() {
                    // Stopping: what could not be uploaded is said, not hidden behind exit 0.
                    lease.revoke(&mut ep.client).await;
                    return Err(e);
                }
                // A daemon keeps going: hand the lead over (another agent may fare better),
                // then campaign again. The failure counters say it is happening.
                output::note(&format!(
                    "agent: writing the backup failed: {e:#}; handing the lead over and campaigning again"
                ));
                lease.revoke(&mut ep.client).await;
                reconnect(settings, tls, &mut ep, &mut stop).await;
            }
            Ok(()) => {
                // Revoked only after everything is uploaded, so the next leader resumes after it.
                lease.revoke(&mut ep.client).await;
                return Ok(summary);
            }
        }
    }
}

/// Waits a little (less if asked to stop), then connects anew: the member the agent talked
/// to may be the one that failed.
async fn reconnect(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    ep: &mut ops::client::EndpointClient,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(2)) => {}
        _ = stop.wait_for(|s| *s) => return,
    }
    match watch_client(settings, tls).await {
        Ok(c) => *ep = c,
        Err(e) => output::note(&format!("agent: cannot reach etcd ({e:#}); retrying")),
    }
}

pub fn run(ctx: &Context, args: &AgentArgs) -> anyhow::Result<Exit> {
    let agent = Settings::resolve(args)?;
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let summary = rt.block_on(run_agent(&settings, tls.as_ref(), &agent))?;
    match ctx.format {
        Format::Json => output::print_json(&summary),
        Format::Table if summary.failed_terms > 0 => output::print(&format!(
            "agent stopped: {} of its {} terms as leader failed, the last with: {}\n",
            summary.failed_terms,
            summary.terms_led,
            summary.last_error.as_deref().unwrap_or("?")
        )),
        Format::Table if summary.terms_led == 0 => output::print(&format!(
            "agent stopped: it stood by the whole time (another agent wrote {})\n",
            summary.store
        )),
        Format::Table => output::print(&format!(
            "agent stopped: {} full snapshots, delta log up to revision {} in {}\n",
            summary.fulls.len(),
            summary.last_revision,
            summary.store
        )),
    }
    // A term that failed needs attention even though the agent went on.
    Ok(if summary.failed_terms > 0 {
        Exit::Warning
    } else {
        Exit::Ok
    })
}
