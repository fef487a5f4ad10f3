//! `--metrics-listen ADDR`: `/metrics` (Prometheus text format) and `/healthz` over plain
//! HTTP/1.x, one request per connection. The body of /metrics comes from a closure, so the
//! agent and `policy watch` share this server. Requests are read with a size and time bound: a
//! scraper that sends junk gets an error status, never the agent's memory or a stuck task.

use std::sync::Arc;
use std::time::Duration;

use ::backup::agent::metrics::{ClusterHealth, Failure, Metrics};
use ops::settings::{ConnectionSettings, ValidatedTls};
use ops::status::{DiagnoseOptions, diagnose, gather};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_REQUEST: usize = 8 * 1024;

pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {addr} for metrics ({e}): pick a free address with --metrics-listen"
        )
    })
}

/// Renders the /metrics body on each scrape.
pub type Exposition = Arc<dyn Fn() -> String + Send + Sync>;

pub async fn serve(listener: TcpListener, metrics: Exposition) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let m = metrics.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(conn, &m)).await;
        });
    }
}

/// The request's path, once its head has arrived (`None`: too large or not HTTP).
async fn read_path(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) => Some(path.to_string()),
        _ => None,
    }
}

async fn answer(mut conn: TcpStream, metrics: &Exposition) -> std::io::Result<()> {
    let (status, kind, body) = match read_path(&mut conn).await.as_deref() {
        Some("/metrics") => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics(),
        ),
        Some("/healthz") => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_string()),
        Some(_) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: try /metrics or /healthz\n".to_string(),
        ),
        None => (
            "400 Bad Request",
            "text/plain; charset=utf-8",
            "bad request: send GET /metrics or GET /healthz\n".to_string(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body.as_bytes()).await?;
    conn.shutdown().await
}

/// Gathers the cluster's status every `every` (as `lifeboat status` does) into the metrics.
pub async fn watch_cluster(
    settings: ConnectionSettings,
    tls: Option<ValidatedTls>,
    metrics: Arc<Metrics>,
    every: Duration,
) {
    let opts = DiagnoseOptions {
        quota_bytes: 2 * 1024 * 1024 * 1024,
        max_raft_lag: 1000,
    };
    loop {
        let obs = gather(&settings, tls.as_ref(), false).await;
        let status = diagnose(&obs, &opts);
        if !status.endpoints.iter().any(|e| e.reachable) {
            metrics.failed(Failure::ClusterStatus);
        }
        let q = &status.quorum;
        metrics.cluster(ClusterHealth {
            members: i64::try_from(status.members.len()).unwrap_or(i64::MAX),
            voting_members: i64::try_from(q.voting_members).unwrap_or(i64::MAX),
            reachable_voters: i64::try_from(q.reachable_voters).unwrap_or(i64::MAX),
            quorum_size: i64::try_from(q.quorum_size).unwrap_or(i64::MAX),
            leader_present: q.leader_id.is_some() && q.leader_agreed,
            alarms: i64::try_from(status.alarms.len()).unwrap_or(i64::MAX),
            db_size_bytes: status
                .endpoints
                .iter()
                .filter_map(|e| e.db_size)
                .max()
                .and_then(|s| i64::try_from(s).ok())
                .unwrap_or(0),
        });
        tokio::time::sleep(every).await;
    }
}

/// Several registries' exposition as one: OpenMetrics allows a single `# EOF`, at the end.
pub fn join_exposition(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        out.push_str(p.strip_suffix("# EOF\n").unwrap_or(p));
    }
    out.push_str("# EOF\n");
    out
}
