//! A cluster of local etcd members, each a real process with its own data dir and ports.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use super::pidfile;
use super::pki::Pki;
use super::ports::free_port;
use super::process::{etcd_binary, signal, spawn};
use crate::OpsError;
use crate::settings::{ConnectionSettings, Endpoint, SettingsSource, TlsFiles};
use crate::status::{DiagnoseOptions, diagnose, gather};

/// How long a member may take to exit after SIGTERM before it gets SIGKILL. etcd 3.5 waits for
/// open client connections to drain first and was seen taking twelve minutes with an idle one.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a SIGKILLed member this process did not start may take to vanish.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// How long a dead member's listening sockets may take to close.
const PORTS_CLOSE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct LocalClusterSpec {
    pub members: usize,
    pub tls: bool,
    pub token: String,
    /// `--quota-backend-bytes` for every member; etcd's default when `None`.
    pub quota_bytes: Option<u64>,
    pub extra_args: Vec<String>,
    pub etcd_bin: PathBuf,
    /// Keep the directory (data, logs, PKI) after drop, for a post-mortem.
    pub keep_dir: bool,
    /// Where member `i` runs: a network namespace and its address (see [`super::netns`]).
    /// Members without a placement run on 127.0.0.1 with free ports; placed members listen on
    /// their address with etcd's standard ports 2379 and 2380.
    pub placements: Vec<Placement>,
    /// Members outlive this process and the directory is kept: `lifeboat drill --keep` leaves a
    /// broken cluster for `lifeboat recover run --local-root DIR` to recover.
    pub detached: bool,
}

/// A member placed in a network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub netns: String,
    pub address: String,
}

impl Default for LocalClusterSpec {
    fn default() -> Self {
        LocalClusterSpec {
            members: 3,
            tls: true,
            token: "lifeboat-local".into(),
            quota_bytes: None,
            extra_args: Vec::new(),
            etcd_bin: etcd_binary(),
            keep_dir: std::env::var_os("LIFEBOAT_KEEP_DIRS").is_some(),
            placements: Vec::new(),
            detached: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Running,
    Paused,
    Stopped,
    /// Added to the membership but never started: the stale member of a botched replacement.
    NeverStarted,
}

#[derive(Debug)]
pub struct LocalMember {
    pub name: String,
    /// The address it listens on: 127.0.0.1, or its network namespace's address.
    pub host: String,
    pub netns: Option<String>,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub state: MemberState,
    /// What `--initial-cluster` said when this member was first started.
    pub(super) initial_cluster: String,
    pub(super) initial_state: &'static str,
    /// Its own etcd binary instead of the cluster's, from [`LocalCluster::set_member_binary`].
    pub(super) etcd_bin: Option<PathBuf>,
    pub(super) child: Option<Child>,
    /// A running member this process did not start (found through its pid file).
    pub(super) adopted: Option<u32>,
}

impl LocalMember {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id).or(self.adopted)
    }
}

pub struct LocalCluster {
    pub(super) dir: Option<tempfile::TempDir>,
    pub(super) path: PathBuf,
    pub spec: LocalClusterSpec,
    pub pki: Option<Pki>,
    pub(super) members: Vec<LocalMember>,
}

impl LocalCluster {
    /// Creates the directory, the PKI and the members, and starts them all. Returns at once;
    /// call [`LocalCluster::wait_healthy`] before use.
    pub fn start(spec: LocalClusterSpec) -> Result<LocalCluster, OpsError> {
        if spec.members == 0 {
            return Err(OpsError::Local(
                "a cluster needs at least one member".into(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-cluster-")
            .tempdir()
            .map_err(|source| OpsError::LocalIo {
                path: std::env::temp_dir(),
                source,
            })?;
        let path = dir.path().to_path_buf();
        let pki = if spec.tls {
            let hosts: Vec<String> = spec.placements.iter().map(|p| p.address.clone()).collect();
            Some(Pki::generate_for(&path.join("pki"), &hosts)?)
        } else {
            None
        };
        let mut cluster = LocalCluster {
            dir: Some(dir),
            path,
            spec,
            pki,
            members: Vec::new(),
        };
        for i in 0..cluster.spec.members {
            let m = cluster.new_member(&format!("m{}", i + 1))?;
            cluster.members.push(m);
        }
        let initial = cluster.initial_cluster(cluster.members.iter());
        for m in &mut cluster.members {
            m.initial_cluster = initial.clone();
        }
        cluster.persist()?;
        for i in 0..cluster.members.len() {
            cluster.members[i].initial_cluster = initial.clone();
            cluster.spawn_member(i)?;
        }
        if (cluster.spec.keep_dir || cluster.spec.detached)
            && let Some(d) = cluster.dir.take()
        {
            let _ = d.keep();
        }
        Ok(cluster)
    }

    /// Starts and waits until healthy. Ports are checked free before use, but another process
    /// (a parallel test's etcd) can take one in between; when a member's log says so, the
    /// whole cluster is made again on new ports, up to three times.
    pub async fn start_healthy(
        spec: LocalClusterSpec,
        timeout: Duration,
    ) -> Result<LocalCluster, OpsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let cluster = LocalCluster::start(spec.clone())?;
            match cluster.wait_healthy(timeout).await {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    let collided = (0..cluster.members.len())
                        .any(|i| cluster.log_tail(i, 50).contains("address already in use"));
                    if !collided || attempt >= 3 {
                        let logs: Vec<String> = (0..cluster.members.len())
                            .map(|i| {
                                format!(
                                    "--- {} ---\n{}",
                                    cluster.members[i].name,
                                    cluster.log_tail(i, 8)
                                )
                            })
                            .collect();
                        return Err(OpsError::Local(format!("{e}\n{}", logs.join("\n"))));
                    }
                }
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.path
    }

    pub fn members(&self) -> &[LocalMember] {
        &self.members
    }

    fn scheme(&self) -> &'static str {
        if self.spec.tls { "https" } else { "http" }
    }

    pub fn client_url(&self, i: usize) -> String {
        let m = &self.members[i];
        format!("{}://{}:{}", self.scheme(), m.host, m.client_port)
    }

    pub fn peer_url(&self, i: usize) -> String {
        let m = &self.members[i];
        format!("{}://{}:{}", self.scheme(), m.host, m.peer_port)
    }

    /// The TLS files a client needs (empty for a plain-http cluster).
    pub fn client_tls(&self) -> TlsFiles {
        match &self.pki {
            Some(p) => TlsFiles {
                cacert: Some(p.ca_cert.clone()),
                cert: Some(p.client_cert.clone()),
                key: Some(p.client_key.clone()),
            },
            None => TlsFiles::default(),
        }
    }

    /// Settings that reach the given members.
    pub fn settings_for(&self, members: &[usize]) -> ConnectionSettings {
        let endpoints = members
            .iter()
            .filter_map(|i| Endpoint::parse(&self.client_url(*i)).ok())
            .collect();
        ConnectionSettings {
            endpoints,
            tls: self.client_tls(),
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            insecure_transport: false,
            source: SettingsSource::Flags,
        }
    }

    /// Settings listing every member that was ever started.
    pub fn settings(&self) -> ConnectionSettings {
        let started: Vec<usize> = (0..self.members.len())
            .filter(|i| self.members[*i].state != MemberState::NeverStarted)
            .collect();
        self.settings_for(&started)
    }

    /// `--endpoints` for etcdctl: every member that was ever started.
    pub fn endpoints_arg(&self) -> String {
        (0..self.members.len())
            .filter(|i| self.members[*i].state != MemberState::NeverStarted)
            .map(|i| self.client_url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILL: the member vanishes as in a power cut. On return the process is gone and its
    /// ports refuse connections (see [`LocalCluster::wait_ports_closed`]).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(pid) = self.members[i].adopted.take() {
            let dir = &self.members[i].data_dir;
            pidfile::signal_and_wait(pid, dir, libc::SIGKILL, KILL_WAIT);
        }
        self.wait_ports_closed(i, PORTS_CLOSE_WAIT);
        self.members[i].state = MemberState::Stopped;
    }

    /// SIGTERM, and SIGKILL if it has not exited after [`STOP_GRACE`]: a clean shutdown when
    /// etcd manages one in time. On return the process is gone and its ports are closed.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            if self.members[i].state == MemberState::Paused {
                signal(&child, libc::SIGCONT);
            }
            signal(&child, libc::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            // Reaped: every thread has exited, so every socket it held is closed.
            let _ = child.wait();
        }
        if let Some(pid) = self.members[i].adopted.take() {
            let dir = self.members[i].data_dir.clone();
            if let Err(e) = pidfile::stop(pid, &dir, STOP_GRACE) {
                // Keep it: a member that will not die must not be reported stopped.
                self.members[i].adopted = Some(pid);
                tracing::warn!("{e}");
                return;
            }
        }
        self.wait_ports_closed(i, PORTS_CLOSE_WAIT);
        self.members[i].state = MemberState::Stopped;
    }

    /// Waits until nothing accepts connections on member `i`'s client and peer ports. A member
    /// this process did not start cannot be reaped here, and the last threads of a killed Go
    /// process hold its sockets a moment after the process already looks dead; a recovery that
    /// checked the ports in that moment would see a live etcd. Something else listening there
    /// still after `timeout` is left to the caller's own check (the split-brain guard).
    pub fn wait_ports_closed(&self, i: usize, timeout: Duration) -> bool {
        let m = &self.members[i];
        let addrs = [
            (m.host.as_str(), m.client_port),
            (m.host.as_str(), m.peer_port),
        ];
        let deadline = Instant::now() + timeout;
        loop {
            if !addrs.iter().any(|(h, p)| super::ports::accepts(h, *p)) {
                return true;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "member {}: something still accepts on port {} or {} after it was stopped",
                    m.name,
                    m.client_port,
                    m.peer_port
                );
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGSTOP: the process holds its sockets open but answers nothing, like a hung node.
    pub fn pause(&mut self, i: usize) {
        if let Some(child) = &self.members[i].child {
            signal(child, libc::SIGSTOP);
            self.members[i].state = MemberState::Paused;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if let Some(child) = &self.members[i].child {
            signal(child, libc::SIGCONT);
            self.members[i].state = MemberState::Running;
        }
    }

    /// Starts a stopped or never-started member again on its data dir.
    pub fn restart(&mut self, i: usize) -> Result<(), OpsError> {
        if self.members[i].pid().is_some() {
            return Ok(());
        }
        self.spawn_member(i)
    }

    /// Adds a member to the running cluster's membership (as a learner if asked) without
    /// starting it, the way `lifeboat member add` does. Returns its index and its member ID.
    pub async fn add_member(
        &mut self,
        name: &str,
        learner: bool,
    ) -> Result<(usize, u64), OpsError> {
        let mut member = self.new_member(name)?;
        let peers = [format!(
            "{}://{}:{}",
            self.scheme(),
            member.host,
            member.peer_port
        )];
        let settings = self.settings();
        let tls = settings.validate()?;
        let (_, mut client) = crate::member::leader_endpoint(&settings, tls.as_ref()).await?;
        let (id, members) = crate::member::add(&mut client, &peers, learner).await?;
        member.initial_cluster = crate::member::initial_cluster(&members, &peers, name);
        member.initial_state = "existing";
        member.state = MemberState::NeverStarted;
        self.members.push(member);
        self.persist()?;
        Ok((self.members.len() - 1, id))
    }

    /// Reserves ports and a data dir for a member that something else (lifeboat itself, in
    /// tests) will add to the membership. Returns its index; start it with
    /// [`LocalCluster::start_joining`].
    pub fn reserve_member(&mut self, name: &str) -> Result<usize, OpsError> {
        let mut m = self.new_member(name)?;
        m.state = MemberState::NeverStarted;
        self.members.push(m);
        self.persist()?;
        Ok(self.members.len() - 1)
    }

    /// Starts a reserved member joining the running cluster with the given `--initial-cluster`.
    pub fn start_joining(&mut self, i: usize, initial_cluster: &str) -> Result<(), OpsError> {
        self.members[i].initial_cluster = initial_cluster.to_string();
        self.members[i].initial_state = "existing";
        self.persist()?;
        self.spawn_member(i)
    }

    /// Waits until every running member answers, all agree on one leader, and quorum holds.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<(), OpsError> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|i| self.members[*i].state == MemberState::Running)
            .collect();
        let settings = self.settings_for(&running);
        let tls = settings.validate()?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            let obs = gather(&settings, tls.as_ref(), true).await;
            match diagnose(&obs, &DiagnoseOptions::default()).settled() {
                Ok(()) => return Ok(()),
                Err(findings) => last = findings,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(OpsError::Local(format!(
            "cluster not healthy within {timeout:?}: {last}. Member logs are in {}",
            self.path.display()
        )))
    }

    /// The last lines of a member's log, for error messages.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn new_member(&self, name: &str) -> Result<LocalMember, OpsError> {
        if let Some(p) = self.spec.placements.get(self.members.len()) {
            // Its own network stack: etcd's standard ports, as on a real node.
            return Ok(LocalMember {
                name: name.to_string(),
                host: p.address.clone(),
                netns: Some(p.netns.clone()),
                client_port: 2379,
                peer_port: 2380,
                data_dir: self.path.join(name),
                log: self.path.join(format!("{name}.log")),
                state: MemberState::Stopped,
                initial_cluster: String::new(),
                initial_state: "new",
                etcd_bin: None,
                child: None,
                adopted: None,
            });
        }
        let no_port = || OpsError::Local("no free port on 127.0.0.1".into());
        let client_port = free_port().ok_or_else(no_port)?;
        let mut peer_port = free_port().ok_or_else(no_port)?;
        while peer_port == client_port {
            peer_port = free_port().ok_or_else(no_port)?;
        }
        Ok(LocalMember {
            name: name.to_string(),
            host: "127.0.0.1".into(),
            netns: None,
            client_port,
            peer_port,
            data_dir: self.path.join(name),
            log: self.path.join(format!("{name}.log")),
            state: MemberState::Stopped,
            initial_cluster: String::new(),
            initial_state: "new",
            etcd_bin: None,
            child: None,
            adopted: None,
        })
    }

    fn initial_cluster<'a>(&self, members: impl Iterator<Item = &'a LocalMember>) -> String {
        members
            .map(|m| format!("{}={}://{}:{}", m.name, self.scheme(), m.host, m.peer_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts a stopped member on its data dir with one-off extra flags (for example
    /// `--force-new-cluster`); the flags are not kept for later restarts.
    pub fn start_with(&mut self, i: usize, extra: &[String]) -> Result<(), OpsError> {
        if self.members[i].pid().is_some() {
            return Ok(());
        }
        let mut args = self.member_args(i);
        args.extend(extra.iter().cloned());
        self.spawn_args(i, &args)
    }

    /// Runs member `i` on another etcd binary from its next start on, as a rolling upgrade
    /// (or downgrade) does: stop it, swap the binary, start it on the same data dir.
    pub fn set_member_binary(&mut self, i: usize, bin: &Path) -> Result<(), OpsError> {
        self.members[i].etcd_bin = Some(bin.to_path_buf());
        self.persist()
    }

    /// The etcd binary member `i` starts with.
    pub fn member_binary(&self, i: usize) -> &Path {
        self.members[i]
            .etcd_bin
            .as_deref()
            .unwrap_or(&self.spec.etcd_bin)
    }

    /// etcd itself, or `ip netns exec NS etcd ...` for a placed member (ip execs etcd, so the
    /// child is etcd and dies with us just the same).
    fn spawn_etcd(&self, i: usize, args: &[String]) -> Result<Child, OpsError> {
        let m = &self.members[i];
        let bin = self.member_binary(i);
        match &m.netns {
            None => spawn(bin, args, &m.log, self.spec.detached),
            Some(ns) => {
                let mut full = vec![
                    "netns".to_string(),
                    "exec".to_string(),
                    ns.clone(),
                    bin.display().to_string(),
                ];
                full.extend(args.iter().cloned());
                spawn(Path::new("ip"), &full, &m.log, self.spec.detached)
            }
        }
    }

    fn spawn_member(&mut self, i: usize) -> Result<(), OpsError> {
        let args = self.member_args(i);
        self.spawn_args(i, &args)
    }

    /// Spawns and records the pid file at once, so another lifeboat finds the member.
    fn spawn_args(&mut self, i: usize, args: &[String]) -> Result<(), OpsError> {
        let m = &self.members[i];
        let child = self.spawn_etcd(i, args)?;
        let written = pidfile::write(&self.path, &m.name, child.id());
        self.members[i].child = Some(child);
        self.members[i].state = MemberState::Running;
        written
    }

    fn member_args(&self, i: usize) -> Vec<String> {
        let m = &self.members[i];
        let client = self.client_url(i);
        let peer = self.peer_url(i);
        let mut a = vec![
            format!("--name={}", m.name),
            format!("--data-dir={}", m.data_dir.display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={}", m.initial_cluster),
            format!("--initial-cluster-token={}", self.spec.token),
            format!("--initial-cluster-state={}", m.initial_state),
            "--logger=zap".into(),
            "--log-outputs=stderr".into(),
        ];
        if let Some(q) = self.spec.quota_bytes {
            a.push(format!("--quota-backend-bytes={q}"));
        }
        if let Some(p) = &self.pki {
            let ca = p.ca_cert.display();
            let cert = p.server_cert.display();
            let key = p.server_key.display();
            a.extend([
                "--client-cert-auth".to_string(),
                format!("--trusted-ca-file={ca}"),
                format!("--cert-file={cert}"),
                format!("--key-file={key}"),
                "--peer-client-cert-auth".to_string(),
                format!("--peer-trusted-ca-file={ca}"),
                format!("--peer-cert-file={cert}"),
                format!("--peer-key-file={key}"),
            ]);
        }
        a.extend(self.spec.extra_args.iter().cloned());
        a
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.spec.detached {
            // Meant to outlive us; the child handles are simply forgotten.
            return;
        }
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                // A stopped process cannot act on SIGKILL until continued on some kernels' views
                // of wait; continue it first so the reap below is prompt.
                signal(&child, libc::SIGCONT);
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Members another process started in this cluster's dir (`lifeboat recover run` in a
        // test) outlive it by design; a cluster that owns its dir takes them down with it.
        if self.dir.is_some() {
            for m in &self.members {
                if let Some(pid) = pidfile::live(&self.path, &m.name, &m.data_dir) {
                    pidfile::signal_and_wait(
                        pid,
                        &m.data_dir,
                        libc::SIGKILL,
                        Duration::from_secs(5),
                    );
                }
            }
        }
    }
}
