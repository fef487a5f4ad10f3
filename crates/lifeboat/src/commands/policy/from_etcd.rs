//! `policy check --from-etcd | --from-snapshot FILE`: the cluster the policies meet, read
//! straight from etcd (or a snapshot of it), no API server needed. The decoding and the model
//! are `policy_etcd`'s; this file picks the source and says what was left out.

use crate::cli::Context;
use crate::commands::kube::{Source, SourceArgs};

use super::InputArgs;

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
