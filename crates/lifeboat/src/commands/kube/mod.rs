//! `lifeboat kube ...`: Kubernetes objects read and changed through etcd, for when the API
//! server is down. Online against a cluster with a leader, or offline on a snapshot file.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ops::client::EndpointClient;
use store::objects::LatestKv;

use crate::cli::Context;
use crate::exit::Exit;

pub mod delete;
pub mod get;
pub mod list;
pub mod put;

#[derive(Debug, Subcommand)]
pub enum KubeCommand {
    /// Objects per resource type, or the objects of one type (metadata, never values)
    List(list::ListArgs),
    /// One object as kubectl would show it (-o yaml, -o json); Secret data redacted
    Get(get::GetArgs),
    /// Delete one object: backup first, then a delete that aborts if the object changed
    Delete(delete::DeleteArgs),
    /// Put an object back from a `kube delete` backup (refuses to overwrite newer data)
    Put(put::PutArgs),
}

pub fn run(ctx: &Context, cmd: &KubeCommand) -> anyhow::Result<Exit> {
    match cmd {
        KubeCommand::List(a) => list::run(ctx, a),
        KubeCommand::Get(a) => get::run(ctx, a),
        KubeCommand::Delete(a) => delete::run(ctx, a),
        KubeCommand::Put(a) => put::run(ctx, a),
    }
}

/// Where objects are read from: the live cluster (default) or a snapshot file.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Read a snapshot file instead of the live cluster (works with no quorum at all)
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// age identity file for an encrypted snapshot (FILE.age)
    #[arg(long, value_name = "FILE", requires = "snapshot")]
    pub identity: Option<PathBuf>,
}

/// Which object: a resource type and a namespace, as kubectl takes them.
#[derive(Debug, Clone, Args)]
pub struct ObjectArgs {
    /// Resource type: plural, singular, kind or short name (po, cm, netpol, ccnp, cnp, ...),
    /// or GROUP/PLURAL for any custom resource
    pub resource: String,
    /// Object name
    pub name: String,
    /// Namespace (namespaced types only)
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

impl ObjectArgs {
    pub fn key(&self) -> anyhow::Result<(kube::ResourceType, String)> {
        let rt = kube::resolve(&self.resource)?;
        let key = rt
            .key(self.namespace.as_deref(), &self.name)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((rt, key))
    }
}

/// An opened source.
pub enum Source {
    Live {
        client: Box<EndpointClient>,
        rt: tokio::runtime::Runtime,
    },
    Snapshot {
        db: bolt::Db,
        path: PathBuf,
    },
}

impl Source {
    pub fn open(ctx: &Context, args: &SourceArgs) -> anyhow::Result<Source> {
        if let Some(path) = &args.snapshot {
            crate::commands::snapshot::require_file(path)?;
            let ids = crate::commands::snapshot::identities(args.identity.as_deref())?;
            let snap = store::snapshot::SnapshotFile::open_with(path, ids.as_ref())?;
            let db = snap.db()?;
            return Ok(Source::Snapshot {
                db,
                path: path.clone(),
            });
        }
        let settings = ctx.connection.resolve()?;
        let tls = settings.validate()?;
        let rt = crate::commands::runtime()?;
        let client = rt.block_on(ops::kube::connect_any(&settings, tls.as_ref()))?;
        Ok(Source::Live {
            client: Box::new(client),
            rt,
        })
    }

    /// `etcd https://...` or `snapshot FILE`: recorded in backups.
    pub fn describe(&self) -> String {
        match self {
            Source::Live { client, .. } => format!("etcd {}", client.endpoint),
            Source::Snapshot { path, .. } => format!("snapshot {}", path.display()),
        }
    }

    /// Every object under `prefix` and the revision of the read (0 when unknown).
    pub fn list(&self, prefix: &[u8]) -> anyhow::Result<(Vec<LatestKv>, i64)> {
        match self {
            Source::Live { client, rt } => Ok(rt.block_on(ops::kube::list(client, prefix))?),
            Source::Snapshot { db, .. } => Ok((store::objects::latest(db, prefix)?, 0)),
        }
    }

    /// Like [`Source::list`] without the values: what listings need, and much cheaper on a
    /// snapshot (no value is copied).
    pub fn list_meta(&self, prefix: &[u8]) -> anyhow::Result<(Vec<store::objects::KeyMeta>, i64)> {
        match self {
            Source::Live { .. } => {
                let (kvs, rev) = self.list(prefix)?;
                let metas = kvs
                    .into_iter()
                    .map(|kv| store::objects::KeyMeta {
                        encoding: kube::Encoding::of(&kv.value),
                        size: kv.value.len() as u64,
                        key: kv.key,
                        create_revision: kv.create_revision,
                        mod_revision: kv.mod_revision,
                        version: kv.version,
                    })
                    .collect();
                Ok((metas, rev))
            }
            Source::Snapshot { db, .. } => Ok((store::objects::latest_meta(db, prefix)?, 0)),
        }
    }

    pub fn get(&self, key: &str) -> anyhow::Result<Option<LatestKv>> {
        match self {
            Source::Live { client, rt } => Ok(rt.block_on(ops::kube::get(client, key.as_bytes()))?),
            Source::Snapshot { db, .. } => {
                let wanted = std::collections::BTreeSet::from([key.as_bytes()]);
                Ok(store::objects::latest_of(db, &wanted)?.into_values().next())
            }
        }
    }
}

pub fn not_found(rt: &kube::ResourceType, key: &str, source: &Source) -> anyhow::Error {
    anyhow::anyhow!(
        "{} not found at {key} in {}; `lifeboat kube list {}` shows what is there",
        rt.plural,
        source.describe(),
        rt.api_group_label()
    )
}
