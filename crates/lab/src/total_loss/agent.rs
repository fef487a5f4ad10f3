//! The backup agent of the total-loss drill: a child `lifeboat agent` process, as deployed
//! (its own runtime, its own watch, real uploads to a file:// store), so that what it ships
//! and what it loses when killed are measured, not modelled.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::Context as _;
use backup::remote::Store;
use ops::local::LocalCluster;

pub(crate) struct Agent {
    child: Child,
    pub(super) metrics: SocketAddr,
    pub(super) log: PathBuf,
}

/// A loopback port nothing listens on right now.
fn free_port() -> crate::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port for agent metrics")?;
    Ok(l.local_addr()?)
}

/// `--endpoints ... --cacert ... --cert ... --key ...` for `cluster`.
fn connection_args(cluster: &LocalCluster) -> Vec<String> {
    let tls = cluster.client_tls();
    let mut args = vec!["--endpoints".to_string(), cluster.endpoints_arg()];
    for (flag, file) in [
        ("--cacert", tls.cacert),
        ("--cert", tls.cert),
        ("--key", tls.key),
    ] {
        if let Some(f) = file {
            args.push(flag.into());
            args.push(f.display().to_string());
        }
    }
    args
}

/// Starts `lifeboat agent` (`exe`, the binary running the drill) against `cluster`, writing
/// to `store_url`.
pub(crate) fn spawn(
    exe: &Path,
    cluster: &LocalCluster,
    store_url: &str,
    dir: &Path,
) -> crate::Result<Agent> {
    let work = dir.join("agent-work");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let log = dir.join("agent.log");
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let metrics = free_port()?;
    let child = Command::new(exe)
        .args(["agent", "--store", store_url, "--work-dir"])
        .arg(&work)
        .args(["--metrics-listen", &metrics.to_string()])
        .args(connection_args(cluster))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("starting `lifeboat agent`")?;
    Ok(Agent {
        child,
        metrics,
        log,
    })
}

impl Agent {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of its log, for an error message.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until the store holds a full and a segment reaching `want`: the agent is
    /// shipping the load.
    pub(crate) async fn wait_shipping(
        &mut self,
        store: &Store,
        want: i64,
        timeout: Duration,
    ) -> crate::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "the backup agent exited ({status}) before it shipped anything:\n{}",
                    self.log_tail()
                );
            }
            let contents = store.contents().await?;
            let shipped = contents.deltas.iter().map(|(d, _)| d.last_revision).max();
            if !contents.fulls.is_empty() && shipped.is_some_and(|s| s >= want) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the backup agent shipped no full and segment up to revision {want} within {}s:\n{}",
                    timeout.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The most memory the agent ever held (VmHWM), in bytes.
    pub(crate) fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// SIGKILL, then reaped.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The agent's delta lag gauges: (revisions, seconds), from its /metrics.
pub(crate) fn scrape_lag(addr: SocketAddr) -> Option<(f64, f64)> {
    let text = scrape(addr).ok()?;
    let gauge = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((
        gauge("lifeboat_backup_delta_lag_revisions")?,
        gauge("lifeboat_backup_delta_lag_seconds")?,
    ))
}

fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: drill\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    s.take(4 << 20).read_to_string(&mut body)?;
    Ok(body)
}
