//! `lifeboat webhook serve`: the validating admission webhook (docs/webhook.md). The work is
//! in the `webhook` crate; this file reads flags, loads the inventory, starts the server and
//! says where it listens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use policy::ipnet::IpNet;
use webhook::inventory::{Fixed, InventorySource};
use webhook::metrics::Metrics;
use webhook::review::Mode;
use webhook::reviewer::Reviewer;
use webhook::server::App;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};
use crate::policy_input::InputArgs;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Serve the validating admission webhook over HTTPS: /validate (AdmissionReview v1),
    /// /healthz, /metrics. Refuses policy changes that cut a critical control-plane flow
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Server certificate (PEM, chain first); re-read when the file changes
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// Its private key (PEM); re-read when the file changes
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Admit everything, with a warning for what would have been refused (a first rollout)
    #[arg(long)]
    pub warn_only: bool,
    /// Cluster inventory and the policies in force, as `policy check --cluster` takes them
    #[arg(long, value_name = "FILE|DIR", required_unless_present_any = ["from_etcd", "from_snapshot"])]
    pub cluster: Option<PathBuf>,
    /// Read the inventory and the policies in force from etcd (connection flags), once at start
    #[arg(long, conflicts_with_all = ["cluster", "from_snapshot"])]
    pub from_etcd: bool,
    /// The same from an etcd snapshot file, once at start
    #[arg(long, value_name = "FILE", conflicts_with = "cluster")]
    pub from_snapshot: Option<PathBuf>,
    /// The cilium-config ConfigMap (or a key: value file) when it is not in the inventory
    #[arg(long, value_name = "FILE")]
    pub cilium_config: Option<PathBuf>,
    /// Cilium version of the cluster (e.g. 1.16.3)
    #[arg(long, value_name = "VERSION")]
    pub cilium_version: Option<String>,
    /// Where administrators come from: adds API server 6443 and SSH 22 flows; repeatable
    #[arg(long, value_name = "CIDR")]
    pub admin_cidr: Vec<IpNet>,
    /// More flows to protect (the `policy check --flows` file)
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// Stop after this long (tests, drills); default: until SIGINT or SIGTERM
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<Duration>,
}

pub fn run(ctx: &Context, cmd: &WebhookCommand) -> anyhow::Result<Exit> {
    match cmd {
        WebhookCommand::Serve(args) => serve(ctx, args),
    }
}

#[derive(serde::Serialize)]
struct Summary {
    listen: String,
    inventory: String,
    stopped: bool,
}

fn serve(ctx: &Context, args: &ServeArgs) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let opts = policy::check::CheckOptions {
        admin_cidrs: args.admin_cidr.clone(),
        user_flows: match &args.flows {
            Some(path) => policy::check::flows_file::load_flows(path)?,
            None => Vec::new(),
        },
    };
    let metrics = Metrics::new();
    let compute = webhook::inventory::computer(opts, Arc::clone(&metrics));
    let source = if args.from_etcd {
        // Followed by a watch on the server's own runtime; each change's baseline is computed
        // in the background while reviews use the one before (docs/webhook.md).
        let settings = ctx.connection.resolve()?;
        let tls = settings.validate()?;
        let spec = policy::input::InputSpec {
            cilium_version: args.cilium_version.clone(),
            cilium_config: args.cilium_config.clone(),
            ..policy::input::InputSpec::default()
        };
        let live = rt.block_on(async {
            let view = crate::policy_live::start_view(&settings, tls.as_ref(), spec).await?;
            anyhow::Ok(webhook::inventory::Live::start(view, compute).await?)
        })?;
        Arc::new(live) as Arc<dyn InventorySource>
    } else {
        inventory(ctx, args, compute.as_ref())?
    };
    let provider = webhook::tls::provider();
    let reloader = Arc::new(webhook::tls::CertReloader::new(
        &args.tls_cert,
        &args.tls_key,
        Arc::clone(&provider),
        Arc::clone(&metrics),
    )?);
    let tls = Arc::new(webhook::tls::server_config(reloader, provider)?);
    let mode = Mode {
        warn_only: args.warn_only,
    };
    let reviewer = Reviewer::new(Arc::clone(&source), mode, Arc::clone(&metrics)).with_audit(
        Arc::new(|line: &str| {
            output::note(&format!("lifeboat webhook: {line}"));
        }),
    );
    let baseline = reviewer.status();
    let app = Arc::new(App {
        reviewer: Arc::new(reviewer),
        metrics,
        max_body: webhook::MAX_BODY_BYTES,
    });
    let listen = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| webhook::WebhookError::Listen {
                addr: args.listen.to_string(),
                source: e,
            })?;
        let addr = listener.local_addr()?;
        let (flows, critical) = (baseline.flows, baseline.critical_denied);
        output::note(&format!(
            "lifeboat webhook: serving https://{addr}/validate (and /healthz, /metrics){}; inventory: {}; {flows} flows checked in force, {critical} critical already denied",
            if args.warn_only { " in warn-only mode" } else { "" },
            source.describe()
        ));
        webhook::server::serve(listener, tls, app, crate::runtime::stop_signal(args.run_for)).await;
        anyhow::Ok(addr)
    })?;
    let summary = Summary {
        listen: listen.to_string(),
        inventory: source.describe(),
        stopped: true,
    };
    match ctx.format {
        Format::Json => output::print_json(&summary),
        Format::Table => output::print(&format!("webhook on {listen} stopped\n")),
    }
    Ok(Exit::Ok)
}

/// The inventory read once at start: files, or an etcd snapshot.
fn inventory(
    ctx: &Context,
    args: &ServeArgs,
    compute: &(dyn Fn(Arc<policy::input::Loaded>) -> webhook::baseline::Baseline + Send + Sync),
) -> anyhow::Result<Arc<dyn InventorySource>> {
    let input = InputArgs {
        files: Vec::new(),
        from_etcd: args.from_etcd,
        from_snapshot: args.from_snapshot.clone(),
        cluster: args.cluster.clone(),
        cilium_config: args.cilium_config.clone(),
        cilium_version: args.cilium_version.clone(),
    };
    let (loaded, what) = if let Some(s) = &args.from_snapshot {
        let what = format!("etcd snapshot {} (read once at start)", s.display());
        (crate::policy_input::load(ctx, &input)?, what)
    } else {
        let loaded = policy::input::on_cluster(
            Default::default(),
            args.cluster.as_deref(),
            args.cilium_config.as_deref(),
            args.cilium_version.as_deref(),
        )?;
        let what = match &args.cluster {
            Some(c) => format!("{} (read once at start)", c.display()),
            None => "?".to_owned(),
        };
        (loaded, what)
    };
    let what = format!(
        "{what}: {} nodes, {} pods, {} policies in force",
        loaded.inventory.nodes.len(),
        loaded.inventory.pods.len(),
        loaded.policies.network_policies.len() + loaded.policies.cilium.len()
    );
    Ok(Arc::new(Fixed::new(loaded, what, compute)))
}
