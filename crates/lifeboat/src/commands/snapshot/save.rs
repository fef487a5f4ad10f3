//! `lifeboat snapshot save`: a backup that is proven sound before it gets its name.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ops::snapshot::{Encryption, SaveRequest, SaveTarget, save_with};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct SaveArgs {
    /// Where to write the snapshot (a manifest FILE.json is written beside it)
    #[arg(
        value_name = "FILE",
        required_unless_present = "dir",
        conflicts_with = "dir"
    )]
    pub file: Option<PathBuf>,

    /// Write into DIR as etcd-<cluster-id>-<UTC time>-rev<revision>.db instead of FILE
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// With --dir: keep only the newest N such files of this cluster (others are never touched)
    #[arg(long, value_name = "N", requires = "dir")]
    pub retain: Option<usize>,

    /// Member to save from, by name, ID or client URL (default: the leader)
    #[arg(long, value_name = "NAME|URL")]
    pub from: Option<String>,

    /// Move an existing FILE aside (FILE.lifeboat-<UTC time>) instead of refusing
    #[arg(long)]
    pub force: bool,

    /// Abort when no byte arrives for this long
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub stall_timeout: Duration,

    /// Encrypt to this age X25519 recipient (age1...) or to every recipient in this file,
    /// streaming: writes FILE.age and never a plaintext byte
    #[arg(long, value_name = "RECIPIENT|FILE")]
    pub encrypt_to: Option<String>,
}

pub fn run(ctx: &Context, args: &SaveArgs) -> anyhow::Result<Exit> {
    let encryption = args
        .encrypt_to
        .as_deref()
        .map(Encryption::parse)
        .transpose()?;
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let target = match (&args.file, &args.dir) {
        (Some(f), _) => SaveTarget::File(f.clone()),
        (None, Some(d)) => SaveTarget::Dir {
            dir: d.clone(),
            retain: args.retain,
        },
        (None, None) => return Err(crate::exit::usage("give a FILE or --dir DIR")),
    };
    let bar = (ctx.format == Format::Table && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {wide_bar}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        b.set_style(style);
        b
    });
    let mut progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let request = SaveRequest {
        settings: &settings,
        tls: tls.as_ref(),
        from: args.from.clone(),
        target,
        force: args.force,
        stall_timeout: args.stall_timeout,
    };
    let result = stream_runtime()?.block_on(save_with(request, encryption.as_ref(), &mut progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let outcome = result?;
    match ctx.format {
        Format::Json => output::print_json(&outcome),
        Format::Table => {
            let m = &outcome.manifest;
            let mut text = format!(
                "Saved {} ({}, revision {}, {} keys) from member {} ({}) of cluster {}\n\
                 SHA-256 {} verified; bbolt structure and etcd schema checked\n\
                 Manifest {}\n",
                outcome.path.display(),
                super::human_bytes(m.size),
                m.revision,
                m.total_key,
                m.source_member_name,
                m.source_endpoint,
                m.cluster_id,
                m.sha256,
                outcome.manifest_path.display(),
            );
            if !m.encrypted_to.is_empty() {
                text.push_str(&format!(
                    "Encrypted (age) to {}; open it with --identity\n",
                    m.encrypted_to.join(", ")
                ));
            }
            if let Some(p) = &outcome.moved_aside {
                text.push_str(&format!(
                    "The previous file was moved aside to {}\n",
                    p.display()
                ));
            }
            if let Some(p) = &outcome.moved_aside_manifest {
                text.push_str(&format!(
                    "Its manifest was moved with it to {}\n",
                    p.display()
                ));
            }
            for p in &outcome.removed_stale_parts {
                text.push_str(&format!(
                    "Removed {} left by an interrupted save (its process is gone)\n",
                    p.display()
                ));
            }
            for p in &outcome.pruned {
                text.push_str(&format!("Retention removed {}\n", p.display()));
            }
            output::print(&text);
        }
    }
    Ok(Exit::Ok)
}

/// The save's runtime: the gRPC connection runs on its own worker thread, so it keeps reading
/// the stream from the socket while this thread writes the previous chunk to disk (as etcdctl's
/// Go runtime does). Only the save needs this; other commands stay on one thread.
fn stream_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?)
}
