//! `lifeboat policy connectivity`: np-guard style listing.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, OutputArg};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConnFormat {
    Txt,
    Json,
    Dot,
}

#[derive(Debug, Args)]
pub struct ConnectivityArgs {
    /// Folder (or file) with NetworkPolicies, CiliumNetworkPolicies,
    /// CiliumClusterwideNetworkPolicies and pods/workloads/namespaces
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Listing format (the same as `-o txt|json|dot`)
    #[arg(long = "format", value_enum)]
    pub format: Option<ConnFormat>,
}

pub fn run(ctx: &Context, args: &ConnectivityArgs) -> anyhow::Result<Exit> {
    let loaded = policy::input::load_folder(&args.dir)?;
    let (inv, policies) = (&loaded.inventory, &loaded.policies);
    // NetworkPolicies alone: Kubernetes semantics, as np-guard computes them. With Cilium
    // policies: Cilium's semantics for all of them (NetworkPolicies as Cilium translates
    // them, K9), entities and CIDR ranges as external peers.
    let cilium = !policies.cilium.is_empty();
    let conns = if cilium {
        policy::connectivity::cilium::connectivity(inv, policies)
    } else {
        policy::connectivity::connectivity(inv, &policies.network_policies)
    };
    let format = args.format.unwrap_or(match ctx.requested {
        OutputArg::Json => ConnFormat::Json,
        OutputArg::Dot => ConnFormat::Dot,
        OutputArg::Table | OutputArg::Txt | OutputArg::Yaml => ConnFormat::Txt,
    });
    match format {
        ConnFormat::Txt => output::print(&policy::connectivity::render_txt(&conns)),
        ConnFormat::Json => output::print_json(&conns),
        ConnFormat::Dot => output::print(&policy::connectivity::render_dot(&conns)),
    }
    if cilium {
        output::note(&format!(
            "note: {} Cilium policies in {}: listed under Cilium semantics (NetworkPolicies as Cilium translates them); `host[Entity]` is each pod's own node",
            policies.cilium.len(),
            args.dir.display()
        ));
    }
    for f in &loaded.findings {
        output::note(&format!(
            "warning: {}{}",
            f.location
                .as_deref()
                .map(|l| format!("{l}: "))
                .unwrap_or_default(),
            f.message
        ));
    }
    Ok(Exit::Ok)
}
