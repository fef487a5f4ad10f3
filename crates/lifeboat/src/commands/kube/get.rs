//! `lifeboat kube get RESOURCE NAME [-n NS] [-o yaml|json]`: one object as kubectl shows it,
//! decoded from etcd's protobuf or JSON. Secret data is redacted unless `--show-secrets`.

use clap::Args;

use super::{ObjectArgs, not_found};
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, OutputArg};
use crate::source::{Source, SourceArgs};

#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub object: ObjectArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Show Secret data (it is redacted by default)
    #[arg(long)]
    pub show_secrets: bool,
    /// Every stored field, without the resourceVersion the API server would add: the form
    /// that encodes back to the stored bytes
    #[arg(long)]
    pub exact: bool,
    /// With -o json: the object inside lifeboat's envelope (key, encoding, etcd revisions,
    /// size, encryption, notes) instead of the object alone
    #[arg(long)]
    pub envelope: bool,
}

pub fn run(ctx: &Context, args: &GetArgs) -> anyhow::Result<Exit> {
    let (rt, key) = args.object.key()?;
    let source = Source::open(ctx, &args.source)?;
    let kv = source
        .get(&key)?
        .ok_or_else(|| not_found(&rt, &key, &source))?;
    let view = registry::view(
        &registry::StoredKv {
            key: &kv.key,
            value: &kv.value,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
        },
        registry::ViewOptions {
            show_secrets: args.show_secrets,
            exact: args.exact,
        },
    );
    match ctx.requested {
        OutputArg::Json if args.envelope => output::print_json(&view),
        // As kubectl prints it: the object alone, its mod revision as resourceVersion.
        OutputArg::Json => match &view.object {
            Some(o) => output::print_json(o),
            None => anyhow::bail!(
                "{key} cannot be shown as JSON: {}; --envelope shows what is known about it",
                view.note.as_deref().unwrap_or("not decoded")
            ),
        },
        OutputArg::Yaml => match &view.object {
            Some(o) => output::print(&to_yaml(o)?),
            None => anyhow::bail!(
                "{key} cannot be shown as YAML: {}; -o json --envelope shows what is known about it",
                view.note.as_deref().unwrap_or("not decoded")
            ),
        },
        _ => {
            let mut head = format!(
                "# {key}\n# encoding {}, create revision {}, mod revision {}, version {}, {} bytes, from {}\n",
                view.encoding,
                view.create_revision,
                view.mod_revision,
                view.version,
                view.size,
                source.describe()
            );
            if let Some(e) = &view.encryption {
                head.push_str(&format!("# encrypted at rest with {e}\n"));
            }
            if let Some(n) = &view.note {
                head.push_str(&format!("# note: {n}\n"));
            }
            let body = match (&view.object, &view.raw_base64) {
                (Some(o), _) => to_yaml(o)?,
                (None, Some(raw)) => format!("# raw value (base64):\n{raw}\n"),
                (None, None) => String::new(),
            };
            output::print(&format!("{head}{body}"));
        }
    }
    Ok(Exit::Ok)
}

pub fn to_yaml(v: &serde_json::Value) -> anyhow::Result<String> {
    serde_saphyr::to_string(v).map_err(|e| anyhow::anyhow!("cannot render YAML: {e}"))
}
