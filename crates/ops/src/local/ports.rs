//! Free TCP ports on loopback.
//!
//! Ports come from below the kernel's ephemeral range (32768+), where outgoing connections never
//! take them behind our back, and are checked by binding before use.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A port that nothing listens on right now, from 20000..32000.
pub fn free_port() -> Option<u16> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for attempt in 0..2000u32 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // A cheap hash spreads concurrent test processes over the range.
        let mixed = seed
            .wrapping_add(n.wrapping_mul(7919))
            .wrapping_add(attempt)
            .wrapping_mul(2_246_822_519)
            .rotate_left(13);
        let port = 20000 + (mixed % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Some(port);
        }
    }
    // Fall back to whatever the kernel hands out.
    TcpListener::bind(("127.0.0.1", 0))
        .ok()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
}

/// True when something accepts a TCP connection on `host:port` within a short while.
pub(crate) fn accepts(host: &str, port: u16) -> bool {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}
