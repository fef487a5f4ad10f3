//! `policy check --from-etcd | --from-snapshot FILE`: the cluster the policies meet, read
//! straight from etcd (or a snapshot of it) with the `kube` decoder, no API server needed.
//! Each object becomes one policy-crate document named after its etcd key, so an error points
//! at the key.

use crate::cli::Context;
use crate::commands::kube::{Source, SourceArgs};

use super::InputArgs;

/// The key prefixes the inventory and the policy set are built from.
pub const PREFIXES: &[&str] = &[
    "/registry/minions/",
    "/registry/namespaces/",
    "/registry/pods/",
    "/registry/services/specs/",
    "/registry/deployments/",
    "/registry/daemonsets/",
    "/registry/statefulsets/",
    "/registry/replicasets/",
    "/registry/jobs/",
    "/registry/cronjobs/",
    "/registry/validatingwebhookconfigurations/",
    "/registry/mutatingwebhookconfigurations/",
    "/registry/networkpolicies/",
    "/registry/cilium.io/ciliumnetworkpolicies/",
    "/registry/cilium.io/ciliumclusterwidenetworkpolicies/",
    "/registry/configmaps/kube-system/cilium-config",
];

pub fn load(ctx: &Context, args: &InputArgs) -> anyhow::Result<policy::input::Loaded> {
    let source = Source::open(
        ctx,
        &SourceArgs {
            snapshot: args.from_snapshot.clone(),
            identity: None,
        },
    )?;
    let kvs = match &source {
        // One walk of the snapshot's key bucket, filtered here.
        Source::Snapshot { db, .. } => store::objects::latest(db, b"/registry/")?
            .into_iter()
            .filter(|kv| PREFIXES.iter().any(|p| kv.key.starts_with(p.as_bytes())))
            .collect(),
        Source::Live { .. } => {
            let mut all = Vec::new();
            for p in PREFIXES {
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

/// Decodes the objects read under [`PREFIXES`] and builds the policy input from them.
pub fn loaded_from_kvs(
    kvs: &[store::objects::LatestKv],
    spec: &policy::input::InputSpec,
) -> anyhow::Result<policy::input::Loaded> {
    let mut docs = Vec::new();
    let mut undecoded = Vec::new();
    for kv in kvs {
        let key = String::from_utf8_lossy(&kv.key);
        // `cilium-config` is a prefix; the key must be that ConfigMap exactly.
        if key.starts_with("/registry/configmaps/")
            && key != "/registry/configmaps/kube-system/cilium-config"
        {
            continue;
        }
        let (object, note) =
            kube::decode_object(&kv.value, kv.mod_revision, kube::ViewOptions::default());
        let Some(object) = object else {
            undecoded.push(format!("{key} ({})", note.unwrap_or_default()));
            continue;
        };
        let bytes = serde_json::to_vec(&object)?;
        docs.extend(policy::source::load_bytes(&format!("etcd:{key}"), &bytes)?);
    }
    if !undecoded.is_empty() {
        crate::output::note(&format!(
            "lifeboat: {} object(s) could not be decoded and are left out of the inventory: {}",
            undecoded.len(),
            undecoded
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    Ok(policy::input::load_from_documents(&docs, spec)?)
}
