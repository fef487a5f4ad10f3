//! Pid files of local members (`<root>/<name>.pid`): how a process that did not start a member
//! finds it, to stop it or to know it runs.
//!
//! A pid alone can be reused by an unrelated process after the member died, so a pid counts
//! only while `/proc/<pid>/cmdline` still names the member's data dir. A zombie (dead, not yet
//! reaped by the process that started it) counts as gone. When the pid file is missing or stale
//! (the starter was killed between spawning etcd and writing the file), the process table is
//! searched for the etcd on the member's data dir, so no member is ever left running unseen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::OpsError;
use crate::files::write_atomic;

pub fn path(root: &Path, member: &str) -> PathBuf {
    root.join(format!("{member}.pid"))
}

pub fn write(root: &Path, member: &str, pid: u32) -> Result<(), OpsError> {
    write_atomic(&path(root, member), format!("{pid}\n").as_bytes(), 0o644)
}

/// The pid of the live etcd serving `data_dir`: the one its pid file names, else one found in
/// the process table.
pub fn live(root: &Path, member: &str, data_dir: &Path) -> Option<u32> {
    let named = std::fs::read_to_string(path(root, member))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .filter(|pid| is_member_process(*pid, data_dir));
    named.or_else(|| search(data_dir))
}

fn search(data_dir: &Path) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .find(|pid| is_member_process(*pid, data_dir))
}

/// True while `pid` is a running (not zombie) process started with `--data-dir=<data_dir>`.
pub fn is_member_process(pid: u32, data_dir: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the command name in parentheses, which may itself hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z") | Some("X") | None) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = format!("--data-dir={}", data_dir.display());
    cmdline.split(|b| *b == 0).any(|arg| arg == want.as_bytes())
}

/// Sends `sig`, and waits up to `grace` for the process to be gone. True when it is gone.
pub fn signal_and_wait(pid: u32, data_dir: &Path, sig: libc::c_int, grace: Duration) -> bool {
    if let Ok(p) = libc::pid_t::try_from(pid) {
        // SAFETY: plain syscall; the pid was just checked to be the member's etcd.
        unsafe {
            libc::kill(p, libc::SIGCONT);
            libc::kill(p, sig);
        }
    }
    let step = Duration::from_millis(25);
    let mut waited = Duration::ZERO;
    while waited < grace {
        if !is_member_process(pid, data_dir) {
            return true;
        }
        std::thread::sleep(step);
        waited += step;
    }
    !is_member_process(pid, data_dir)
}

/// SIGTERM, then SIGKILL after `grace`: the member is gone on return (or could not be killed).
pub fn stop(pid: u32, data_dir: &Path, grace: Duration) -> Result<(), OpsError> {
    if signal_and_wait(pid, data_dir, libc::SIGTERM, grace)
        || signal_and_wait(pid, data_dir, libc::SIGKILL, Duration::from_secs(10))
    {
        Ok(())
    } else {
        Err(OpsError::Local(format!(
            "etcd (pid {pid}, data dir {}) did not exit after SIGKILL",
            data_dir.display()
        )))
    }
}
