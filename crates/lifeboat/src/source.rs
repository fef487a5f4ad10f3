//! Where a command reads etcd's data from: the live cluster or a snapshot file (with the age
//! identities an encrypted one needs). Shared by `kube`, `policy --from-etcd/--from-snapshot`,
//! `snapshot` and `backup`.

use std::path::PathBuf;

use clap::Args;
use ops::client::EndpointClient;
use store::objects::LatestKv;

use crate::context::Context;

/// Where objects are read from: the live cluster (default) or a snapshot file.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Read a snapshot file instead of the live cluster (works with no quorum at all)
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// age identity file for an encrypted snapshot (FILE.age), or for `put -f` of an
    /// encrypted backup (taken from an encrypted snapshot)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
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
        /// The file was age-encrypted: what is derived from it must be too.
        encrypted: bool,
        identities: Option<Box<store::encrypted::Identities>>,
    },
}

impl Source {
    pub fn open(ctx: &Context, args: &SourceArgs) -> anyhow::Result<Source> {
        if let Some(path) = &args.snapshot {
            require_file(path)?;
            let ids = identities(args.identity.as_deref())?;
            let snap = store::snapshot::SnapshotFile::open_with(path, ids.as_ref())?;
            let db = snap.db()?;
            return Ok(Source::Snapshot {
                db,
                path: path.clone(),
                encrypted: snap.age.is_some(),
                identities: ids.map(Box::new),
            });
        }
        let settings = ctx.connection.resolve()?;
        let tls = settings.validate()?;
        let rt = crate::runtime::runtime()?;
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
                        encoding: registry::Encoding::of(&kv.value),
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

/// Refuse a missing path up front with one clear line, before any library error wording.
pub fn require_file(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => anyhow::bail!("{}: not a regular file", path.display()),
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    }
}

/// `--identity FILE` loaded, when given.
pub fn identities(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<store::encrypted::Identities>> {
    Ok(path.map(store::encrypted::Identities::load).transpose()?)
}
