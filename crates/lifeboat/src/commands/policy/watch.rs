//! `lifeboat policy watch`: `policy check` kept running against the live cluster. A
//! `policy_etcd::LiveView` follows the inventory and the policies in force; after every change
//! the check runs again, and each change of verdict (or of the critical flows cut) is said once:
//! a log event, a line on stdout (`-o json`: one JSON object a line) and, with
//! `--metrics-listen`, the `lifeboat_policy_*` gauges. The loop is `crate::policy_live`, which
//! `lifeboat agent --policy-watch` runs too.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use policy::check::CheckOptions;
use policy::ipnet::IpNet;
use policy_etcd::metrics::PolicyMetrics;

use crate::context::Context;
use crate::exit::Exit;
use crate::metrics_http as serve;
use crate::output::{self, Format};
use crate::policy_live::{VerdictChange, follow, start_view};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Where administrators come from: adds API server 6443 and SSH 22 flows; repeatable
    #[arg(long, value_name = "CIDR")]
    pub admin_cidr: Vec<IpNet>,
    /// More flows to check (the `policy check --flows` file)
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// Cilium version of the cluster (e.g. 1.16.3): gates version-dependent advice
    #[arg(long, value_name = "VERSION")]
    pub cilium_version: Option<String>,
    /// Serve /metrics (Prometheus text format) and /healthz on this address (plain HTTP)
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Stop after this long (drills, tests); default: until SIGINT or SIGTERM
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<Duration>,
}

pub fn run(ctx: &Context, args: &WatchArgs) -> anyhow::Result<Exit> {
    let user_flows = match &args.flows {
        Some(path) => policy::check::flows_file::load_flows(path)?,
        None => Vec::new(),
    };
    let opts = CheckOptions {
        admin_cidrs: args.admin_cidr.clone(),
        user_flows,
    };
    let spec = policy::input::InputSpec {
        cilium_version: args.cilium_version.clone(),
        ..policy::input::InputSpec::default()
    };
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let format = ctx.format;
    rt.block_on(async {
        let metrics = PolicyMetrics::new();
        if let Some(addr) = args.metrics_listen {
            let listener = serve::bind(addr).await?;
            output::note(&format!(
                "lifeboat: policy watch metrics on http://{addr}/metrics"
            ));
            let m = metrics.clone();
            tokio::spawn(serve::serve(listener, Arc::new(move || m.encode())));
        }
        let view = start_view(&settings, tls.as_ref(), spec).await?;
        output::note(&format!(
            "lifeboat: watching the policies in force and the inventory from revision {}",
            view.revision()
        ));
        let mut tell = |c: &VerdictChange| match format {
            Format::Json => match serde_json::to_string(c) {
                Ok(line) => output::print(&format!("{line}\n")),
                Err(e) => output::note(&format!("lifeboat: cannot encode JSON: {e}")),
            },
            Format::Table => output::print(&format!("{}\n", c.line())),
        };
        follow(
            &view,
            opts,
            &metrics,
            &mut tell,
            crate::runtime::stop_signal(args.run_for),
        )
        .await
    })?;
    Ok(Exit::Ok)
}
