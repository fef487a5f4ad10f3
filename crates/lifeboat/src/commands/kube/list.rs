//! `lifeboat kube list [RESOURCE] [-n NS | -A]`: what etcd holds, per resource type or per
//! object. Metadata only (size, encoding, revisions): values are shown by `kube get`. As with
//! kubectl, namespaced objects are those of namespace `default` unless `-n` or `-A` says
//! otherwise; cluster-scoped objects are always listed.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format, human_bytes};
use crate::source::{Source, SourceArgs};

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Resource type (po, cm, netpol, ccnp, ...); without it, a count per type
    pub resource: Option<String>,
    /// Only this namespace [default: default, as kubectl]
    #[arg(short = 'n', long, conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Serialize)]
struct ObjectRow {
    namespace: Option<String>,
    name: String,
    key: String,
    encoding: &'static str,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    size: u64,
}

#[derive(Serialize)]
struct ObjectList {
    source: String,
    resource: String,
    /// The namespace namespaced objects were listed from; null: all (`-A`).
    namespace: Option<String>,
    /// The revision the list was read at (live only; 0 for a snapshot).
    revision: i64,
    count: usize,
    objects: Vec<ObjectRow>,
}

#[derive(Serialize, Default)]
struct TypeRow {
    resource: String,
    objects: u64,
    bytes: u64,
    encodings: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct TypeList {
    source: String,
    /// The namespace namespaced objects were counted in; null: all (`-A`).
    namespace: Option<String>,
    revision: i64,
    types: Vec<TypeRow>,
}

impl ListArgs {
    /// The namespace namespaced objects are listed from; `None` for all.
    fn namespace_in_force(&self) -> Option<&str> {
        match (&self.namespace, self.all_namespaces) {
            (Some(ns), _) => Some(ns),
            (None, true) => None,
            (None, false) => Some("default"),
        }
    }

    /// Where the table says the listing came from.
    fn scope(&self) -> String {
        match self.namespace_in_force() {
            Some(ns) if self.namespace.is_none() => {
                format!(" (namespace {ns}; -n NS or -A for others)")
            }
            Some(ns) => format!(" (namespace {ns})"),
            None => " (all namespaces)".to_owned(),
        }
    }
}

pub fn run(ctx: &Context, args: &ListArgs) -> anyhow::Result<Exit> {
    let source = Source::open(ctx, &args.source)?;
    match &args.resource {
        Some(r) => list_objects(ctx, args, &source, r),
        None => list_types(ctx, args, &source),
    }
}

fn list_objects(
    ctx: &Context,
    args: &ListArgs,
    source: &Source,
    resource: &str,
) -> anyhow::Result<Exit> {
    let rt = registry::resolve(resource).map_err(|e| crate::exit::usage(e.to_string()))?;
    if rt.namespaced == Some(false) && args.namespace.is_some() {
        return Err(crate::exit::usage(format!(
            "{} are cluster-scoped: drop -n",
            rt.plural
        )));
    }
    let wanted = args.namespace_in_force();
    // A type this lifeboat does not know may be namespaced or not: list it whole and keep the
    // objects of the namespace in force plus those without one.
    let prefix_ns = match rt.namespaced {
        Some(true) => wanted,
        _ => None,
    };
    let (kvs, revision) = source.list_meta(rt.list_prefix(prefix_ns).as_bytes())?;
    let objects: Vec<ObjectRow> = kvs
        .iter()
        .filter_map(|kv| {
            let parts = store::k8s::parse_key(&kv.key)?;
            let in_scope = rt.namespaced == Some(false)
                || wanted.is_none()
                || parts.namespace.is_none()
                || parts.namespace == wanted;
            // `services/specs` must not list `services/endpoints`: the prefix has to match whole.
            (in_scope && parts.resource == rt.prefix).then(|| ObjectRow {
                namespace: parts.namespace.map(str::to_owned),
                name: parts.name.to_owned(),
                key: String::from_utf8_lossy(&kv.key).into_owned(),
                encoding: kv.encoding.as_str(),
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                size: kv.size,
            })
        })
        .collect();
    let list = ObjectList {
        source: source.describe(),
        resource: rt.api_group_label(),
        namespace: (rt.namespaced != Some(false))
            .then(|| wanted.map(str::to_owned))
            .flatten(),
        revision,
        count: objects.len(),
        objects,
    };
    match ctx.format {
        Format::Json => output::print_json(&list),
        Format::Table => {
            let mut t = output::table(&[
                "NAMESPACE",
                "NAME",
                "ENCODING",
                "MOD REV",
                "VERSION",
                "SIZE",
            ]);
            for o in &list.objects {
                t.add_row(vec![
                    o.namespace.clone().unwrap_or_default(),
                    o.name.clone(),
                    o.encoding.to_string(),
                    o.mod_revision.to_string(),
                    o.version.to_string(),
                    human_bytes(o.size),
                ]);
            }
            let scope = if rt.namespaced == Some(false) {
                String::new()
            } else {
                args.scope()
            };
            output::print(&format!(
                "{t}\n{} {} in {}{scope}\n",
                list.count, list.resource, list.source
            ));
        }
    }
    Ok(Exit::Ok)
}

fn list_types(ctx: &Context, args: &ListArgs, source: &Source) -> anyhow::Result<Exit> {
    let (kvs, revision) = source.list_meta(registry::resource::REGISTRY.as_bytes())?;
    let mut types: BTreeMap<String, TypeRow> = BTreeMap::new();
    for kv in &kvs {
        let Some(parts) = store::k8s::parse_key(&kv.key) else {
            continue;
        };
        // Cluster-scoped objects belong to no namespace and are always counted.
        let wanted = args.namespace_in_force();
        if wanted.is_some() && parts.namespace.is_some() && parts.namespace != wanted {
            continue;
        }
        let label = registry::resource::for_prefix(parts.resource).api_group_label();
        let row = types.entry(label.clone()).or_insert_with(|| TypeRow {
            resource: label,
            ..TypeRow::default()
        });
        row.objects += 1;
        row.bytes += kv.size;
        *row.encodings.entry(kv.encoding.as_str()).or_default() += 1;
    }
    let list = TypeList {
        source: source.describe(),
        namespace: args.namespace_in_force().map(str::to_owned),
        revision,
        types: types.into_values().collect(),
    };
    match ctx.format {
        Format::Json => output::print_json(&list),
        Format::Table => {
            let mut t = output::table(&["RESOURCE", "OBJECTS", "SIZE", "ENCODINGS"]);
            for r in &list.types {
                let enc: Vec<String> = r
                    .encodings
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                t.add_row(vec![
                    r.resource.clone(),
                    r.objects.to_string(),
                    human_bytes(r.bytes),
                    enc.join(", "),
                ]);
            }
            output::print(&format!(
                "{t}\n{} resource types in {}{}\n",
                list.types.len(),
                list.source,
                args.scope()
            ));
        }
    }
    Ok(Exit::Ok)
}
