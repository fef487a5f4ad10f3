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

/// True while any thread of `pid` has not exited. The kernel shows a process whose main thread
/// exited as a zombie while its other threads still run and hold its sockets open; a killed Go
/// program (etcd) is in that state for a few milliseconds.
fn any_thread_alive(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(|t| t.ok()).any(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        !matches!(state, Some("Z") | Some("X") | None)
    })
}

/// Gone for good: no such process, another program under that pid, or a zombie none of whose
/// threads still runs. A zombie's command line reads empty, so it cannot be matched to the
/// member; its pid cannot be reused before it is reaped, so the zombie is still the member.
fn is_gone(pid: u32, data_dir: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    match state {
        Some("Z") | Some("X") => !any_thread_alive(pid),
        _ => !is_member_process(pid, data_dir),
    }
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
        if is_gone(pid, data_dir) {
            return true;
        }
        std::thread::sleep(step);
        waited += step;
    }
    is_gone(pid, data_dir)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    /// A process on `--data-dir=DIR` whose main thread exits while another thread keeps its
    /// listening socket open: what a SIGKILLed etcd looks like for a few milliseconds. Perl
    /// (in every Debian base system) exits only its main thread with the raw exit syscall.
    fn leader_exits_socket_stays(dir: &Path) -> (std::process::Child, u16) {
        let script = "use threads; use IO::Socket::INET; \
            my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5) \
              or die; $| = 1; print $s->sockport, \"\\n\"; \
            threads->create(sub { sleep 600 }); select(undef, undef, undef, 0.2); syscall(60, 0);";
        let mut child = Command::new("perl")
            .args(["-e", script, "--"])
            .arg(format!("--data-dir={}", dir.display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("perl runs (Debian's perl-base)");
        let mut line = String::new();
        let out = child.stdout.take().expect("piped stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("perl prints its port");
        let port = line.trim().parse().expect("a port number");
        (child, port)
    }

    #[test]
    fn a_zombie_leader_whose_threads_hold_its_ports_is_not_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, port) = leader_exits_socket_stays(dir.path());
        let pid = child.id();
        // Wait until the main thread has exited (the process reads as a zombie).
        let zombie = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !is_member_process(pid, dir.path())
        });
        assert!(zombie, "the main thread never exited");
        assert!(super::super::ports::accepts("127.0.0.1", port));
        assert!(
            !is_gone(pid, dir.path()),
            "counted gone while its socket accepts"
        );

        assert!(signal_and_wait(
            pid,
            dir.path(),
            libc::SIGKILL,
            Duration::from_secs(10)
        ));
        assert!(!super::super::ports::accepts("127.0.0.1", port));
        let _ = child.wait();
    }
}
