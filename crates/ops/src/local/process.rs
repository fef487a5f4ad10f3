//! Spawning one etcd process, tied to our lifetime.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::OpsError;

/// The etcd binary: `LIFEBOAT_ETCD_BIN` if set, else `etcd` from PATH.
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("LIFEBOAT_ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("etcd"))
}

/// `detached`: the member outlives lifeboat (a recovered cluster keeps running after `recover
/// run` exits, a kept drill cluster waits for the operator): its own session, so a Ctrl-C at the
/// terminal does not reach it, and no death signal. Otherwise it dies with the spawning thread.
pub(crate) fn spawn(
    bin: &Path,
    args: &[String],
    log: &Path,
    detached: bool,
) -> Result<Child, OpsError> {
    let io = |source| OpsError::LocalIo {
        path: log.to_path_buf(),
        source,
    };
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH);
    // SAFETY: prctl and setsid are async-signal-safe and touch no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            if detached {
                libc::setsid();
            } else {
                // If the thread that spawned us dies (a test panics, a drill is killed), so do we.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| {
        OpsError::Local(format!(
            "cannot start {}: {e}. Install etcd (Debian: apt-get install etcd-server; other \
             versions: scripts/etcd-versions.sh install) or set LIFEBOAT_ETCD_BIN",
            bin.display()
        ))
    })
}

pub(crate) fn signal(child: &Child, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: plain syscall on a pid we own.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}
