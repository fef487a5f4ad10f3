//! The async runtime commands run on, and the signal that ends a long-running one.

use std::time::Duration;

/// A single-threaded runtime on the main thread: lifeboat's concurrency is I/O (many endpoints
/// at once), and child processes it starts are tied to the thread that spawned them.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Resolves on Ctrl-C, SIGTERM or after `run_for`: how `agent`, `policy watch` and `webhook
/// serve` are told to stop.
pub async fn stop_signal(run_for: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    let limit = async {
        match run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = limit => {}
    }
}
