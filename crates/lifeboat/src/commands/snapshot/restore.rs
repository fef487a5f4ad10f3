//! `lifeboat snapshot restore FILE`: new member data dirs from one verified snapshot, natively
//! (no etcdctl or etcdutl on the node). etcdctl's flags for one member, or `--all` to write
//! every member's dir at once; then print how to start each member and, with Kubernetes data,
//! what to do around it.

mod print;

use std::path::PathBuf;

use clap::Args;
use store::restore::{self, Bump, EtcdVersion, Request, Target};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Snapshot file (`snapshot save` / `etcdctl snapshot save` output), or a raw
    /// member/snap/db with --skip-hash-check
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// This member's name (as in --initial-cluster)
    #[arg(long, default_value = "default", conflicts_with = "all")]
    pub name: String,

    /// Every member of the new cluster: name=peer-url,... (the same on every member)
    #[arg(long, default_value = "default=http://localhost:2380")]
    pub initial_cluster: String,

    /// Token of the new cluster (part of every member ID; the same on every member)
    #[arg(long, default_value = "etcd-cluster")]
    pub initial_cluster_token: String,

    /// This member's peer URLs; must equal its entry in --initial-cluster
    #[arg(
        long,
        default_value = "http://localhost:2380",
        value_delimiter = ',',
        conflicts_with = "all"
    )]
    pub initial_advertise_peer_urls: Vec<String>,

    /// Data dir to create (default: <name>.etcd); must not exist or be empty
    #[arg(long, value_name = "DIR", conflicts_with = "all")]
    pub data_dir: Option<PathBuf>,

    /// Restore every member of --initial-cluster at once, as DIR/<member name>
    #[arg(long, requires = "output_root")]
    pub all: bool,

    /// With --all: where the member dirs go
    #[arg(long, value_name = "DIR", requires = "all")]
    pub output_root: Option<PathBuf>,

    /// Raise the revision by N (needs --mark-compacted), so watchers re-list instead of
    /// seeing revisions go back in time. Default with Kubernetes data: 1000000000
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "no_bump",
        requires = "mark_compacted"
    )]
    pub bump_revision: Option<u64>,

    /// Mark every revision before the bumped one compacted (with --bump-revision)
    #[arg(long, requires = "bump_revision")]
    pub mark_compacted: bool,

    /// Keep the revision as it is, even with Kubernetes data
    #[arg(long)]
    pub no_bump: bool,

    /// Do not check the SHA-256 trailer (needed for a raw member/snap/db, which has none)
    #[arg(long)]
    pub skip_hash_check: bool,

    /// Move a non-empty data dir aside (DIR.lifeboat-<UTC time>) instead of refusing
    #[arg(long)]
    pub move_aside: bool,

    /// age identity file for an encrypted snapshot (FILE.age from `save --encrypt-to`)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// The etcd release the restored members will run (3.4 to 3.7); default: `etcd
    /// --version` of the etcd installed here, else the snapshot's version
    #[arg(long, value_name = "X.Y")]
    pub etcd_version: Option<String>,
}

fn targets(args: &RestoreArgs, cluster: &restore::NewCluster) -> anyhow::Result<Vec<Target>> {
    if args.all {
        let Some(root) = &args.output_root else {
            return Err(crate::exit::usage("--all needs --output-root DIR"));
        };
        return Ok(cluster
            .members
            .iter()
            .map(|m| Target {
                name: m.name.clone(),
                data_dir: root.join(&m.name),
            })
            .collect());
    }
    cluster.check_member(&args.name, &args.initial_advertise_peer_urls)?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", args.name)));
    Ok(vec![Target {
        name: args.name.clone(),
        data_dir,
    }])
}

pub fn run(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<Exit> {
    super::require_file(&args.file)?;
    let cluster = restore::parse(&args.initial_cluster, &args.initial_cluster_token)?;
    let targets = targets(args, &cluster)?;
    let bump = match (args.no_bump, args.bump_revision) {
        (true, _) => Bump::Off,
        (false, Some(n)) => Bump::By(n),
        (false, None) => Bump::Auto,
    };
    let etcd_version = args
        .etcd_version
        .as_deref()
        .map(EtcdVersion::from_flag)
        .transpose()?;
    let ids = super::identities(args.identity.as_deref())?;
    let aside = |p: &std::path::Path| ops::files::move_aside(p).map_err(|e| e.to_string());
    let outcome = restore::restore(&Request {
        snapshot: &args.file,
        cluster: &cluster,
        targets: &targets,
        skip_hash_check: args.skip_hash_check,
        bump,
        move_aside: args.move_aside.then_some(&aside as restore::MoveAside<'_>),
        identities: ids.as_ref(),
        etcd_version,
    })?;
    let report = print::Report::new(outcome, args.no_bump);
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => output::print(&report.text()),
    }
    Ok(Exit::Ok)
}
