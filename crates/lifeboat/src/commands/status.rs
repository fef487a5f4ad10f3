//! `lifeboat status`: ask every member at once, then say what is wrong and what to run next.

use clap::Args;
use ops::status::{ClusterStatus, DiagnoseOptions, Verdict, diagnose, gather};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};
use crate::render::status::render;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Backend quota the members run with (--quota-backend-bytes), for DB_NEAR_QUOTA
    #[arg(long, default_value_t = 2 * 1024 * 1024 * 1024, value_name = "BYTES")]
    pub quota_bytes: u64,

    /// Raft entries a member may trail the most advanced one before RAFT_LAG is reported
    #[arg(long, default_value_t = 1000, value_name = "ENTRIES")]
    pub max_raft_lag: u64,

    /// Ask only the given endpoints, not also the client URLs the members list
    #[arg(long)]
    pub only_given: bool,
}

pub fn run(ctx: &Context, args: &StatusArgs) -> anyhow::Result<Exit> {
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let obs = crate::runtime::runtime()?.block_on(gather(&settings, tls.as_ref(), args.only_given));
    let status = diagnose(
        &obs,
        &DiagnoseOptions {
            quota_bytes: args.quota_bytes,
            max_raft_lag: args.max_raft_lag,
        },
    );
    match ctx.format {
        Format::Json => output::print_json(&status),
        Format::Table => output::print(&render(&status, Some(&settings.source))),
    }
    Ok(exit_for(&status))
}

pub fn exit_for(status: &ClusterStatus) -> Exit {
    match status.verdict() {
        Verdict::Healthy => Exit::Ok,
        Verdict::Warning => Exit::Warning,
        Verdict::Critical => Exit::Critical,
        Verdict::Unknown => Exit::Unknown,
    }
}
