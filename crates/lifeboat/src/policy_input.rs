//! Where policies and the cluster they meet come from (`-f`, `--cluster`, `--from-etcd`,
//! `--from-snapshot FILE`), shared by `policy *` and `webhook serve`. From etcd or a snapshot
//! of it no API server is needed: the decoding and the model are `policy_etcd`'s; this file
//! picks the source and says what was left out.

use std::path::PathBuf;

use clap::Args;

use crate::context::Context;
use crate::source::{Source, SourceArgs};

/// Where policies and the cluster they meet come from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Policy file or folder (YAML/JSON, multi-document, `kind: List`); repeatable
    #[arg(
        short = 'f',
        long = "file",
        value_name = "POLICIES",
        required_unless_present_any = ["from_etcd", "from_snapshot"]
    )]
    pub files: Vec<PathBuf>,
    /// Read the cluster from etcd: inventory (nodes, namespaces, pods, workloads, services,
    /// webhooks, cilium-config) and the policies in force; -f files are checked on top of them,
    /// each replacing the policy in force with its kind, namespace and name
    #[arg(long, conflicts_with_all = ["cluster", "from_snapshot"])]
    pub from_etcd: bool,
    /// The same from an etcd snapshot file (works when the cluster is down)
    #[arg(long, value_name = "FILE", conflicts_with = "cluster")]
    pub from_snapshot: Option<PathBuf>,
    /// Cluster inventory: `kubectl get nodes,ns,pods,deploy,svc,... -o yaml` output (file or folder).
    /// Policies in it are the ones in force; a -f policy with the same kind, namespace and name
    /// replaces its version. Without it a built-in reference cluster is assumed and the output
    /// says so
    #[arg(long, value_name = "FILE|DIR")]
    pub cluster: Option<PathBuf>,
    /// The cilium-config ConfigMap (or a key: value file) when it is not in --cluster
    #[arg(long, value_name = "FILE")]
    pub cilium_config: Option<PathBuf>,
    /// Cilium version of the cluster (e.g. 1.16.3): gates version-dependent advice
    #[arg(long, value_name = "VERSION")]
    pub cilium_version: Option<String>,
}

impl InputArgs {
    /// Policies and inventory from files, or from etcd / a snapshot of it.
    pub fn load(&self, ctx: &Context) -> anyhow::Result<policy::input::Loaded> {
        if self.from_etcd || self.from_snapshot.is_some() {
            return load(ctx, self);
        }
        Ok(policy::input::load(&self.spec())?)
    }

    pub fn spec(&self) -> policy::input::InputSpec {
        policy::input::InputSpec {
            policies: self.files.clone(),
            cluster: self.cluster.clone(),
            cilium_config: self.cilium_config.clone(),
            cilium_version: self.cilium_version.clone(),
        }
    }
}

pub fn load(ctx: &Context, args: &InputArgs) -> anyhow::Result<policy::input::Loaded> {
    let source = Source::open(
        ctx,
        &SourceArgs {
            snapshot: args.from_snapshot.clone(),
            identity: None,
        },
    )?;
    let kvs = match &source {
        // One walk of the snapshot's key bucket, filtered by the library on the way in.
        Source::Snapshot { db, .. } => store::objects::latest(db, store::k8s::REGISTRY.as_bytes())?,
        Source::Live { .. } => {
            let mut all = Vec::new();
            for p in policy_etcd::PREFIXES {
                all.extend(source.list(p.as_bytes())?.0);
            }
            all
        }
    };
    crate::output::note(&format!(
        "lifeboat: reading the inventory and the policies in force from {}",
        source.describe()
    ));
    loaded_from_kvs(&kvs, &args.spec())
}

/// The policy input from objects read under [`policy_etcd::PREFIXES`]; what could not be
/// decoded is said on stderr.
pub fn loaded_from_kvs(
    kvs: &[store::objects::LatestKv],
    spec: &policy::input::InputSpec,
) -> anyhow::Result<policy::input::Loaded> {
    let (loaded, docs) = policy_etcd::loaded_from_kvs(kvs, spec)?;
    if let Some(note) = docs.undecoded_summary() {
        crate::output::note(&format!("lifeboat: {note}"));
    }
    Ok(loaded)
}
