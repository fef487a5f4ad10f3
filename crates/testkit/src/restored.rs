//! Starting etcd on data dirs that a restore produced: fixed member names, peer URLs chosen
//! before the restore (they are part of the member IDs), TLS from an existing PKI.
//!
//! Use: [`Plan::new`] picks ports and gives `--initial-cluster`; restore into `root/<name>`;
//! [`Plan::start`] runs one etcd per member with `--initial-cluster-state new`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::collections::BTreeMap;

use etcd_client::{Client, GetOptions};
use ops::OpsError;
use ops::local::{Pki, etcd_binary, free_port};
use ops::settings::{ConnectionSettings, Endpoint, SettingsSource, TlsFiles};
use ops::status::{DiagnoseOptions, diagnose, gather};

/// Names and ports of the cluster-to-be.
#[derive(Debug, Clone)]
pub struct Plan {
    pub names: Vec<String>,
    pub peer_ports: Vec<u16>,
    pub client_ports: Vec<u16>,
    pub tls: bool,
}

pub struct Restored {
    pub plan: Plan,
    pub pki: Option<Pki>,
    pub logs: Vec<PathBuf>,
    children: Vec<Child>,
}

fn port() -> Result<u16, OpsError> {
    free_port().ok_or_else(|| OpsError::Local("no free port on 127.0.0.1".into()))
}

impl Plan {
    pub fn new(names: &[&str], tls: bool) -> Result<Plan, OpsError> {
        let mut used = Vec::new();
        let mut next = || -> Result<u16, OpsError> {
            loop {
                let p = port()?;
                if !used.contains(&p) {
                    used.push(p);
                    return Ok(p);
                }
            }
        };
        let mut peer_ports = Vec::new();
        let mut client_ports = Vec::new();
        for _ in names {
            peer_ports.push(next()?);
            client_ports.push(next()?);
        }
        Ok(Plan {
            names: names.iter().map(|n| n.to_string()).collect(),
            peer_ports,
            client_ports,
            tls,
        })
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    pub fn peer_url(&self, i: usize) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.peer_ports[i])
    }

    pub fn client_url(&self, i: usize) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.client_ports[i])
    }

    /// `--initial-cluster` for the restore and for etcd.
    pub fn initial_cluster(&self) -> String {
        (0..self.names.len())
            .map(|i| format!("{}={}", self.names[i], self.peer_url(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts etcd on `root/<name>` for every member; logs go to `root/<name>.log`.
    pub fn start(&self, root: &Path, token: &str, pki: Option<&Pki>) -> Result<Restored, OpsError> {
        let mut r = Restored {
            plan: self.clone(),
            pki: pki.cloned(),
            logs: Vec::new(),
            children: Vec::new(),
        };
        for (i, name) in self.names.iter().enumerate() {
            let log = root.join(format!("{name}.log"));
            let mut args = vec![
                format!("--name={name}"),
                format!("--data-dir={}", root.join(name).display()),
                format!("--listen-client-urls={}", self.client_url(i)),
                format!("--advertise-client-urls={}", self.client_url(i)),
                format!("--listen-peer-urls={}", self.peer_url(i)),
                format!("--initial-advertise-peer-urls={}", self.peer_url(i)),
                format!("--initial-cluster={}", self.initial_cluster()),
                format!("--initial-cluster-token={token}"),
                "--initial-cluster-state=new".into(),
            ];
            if let Some(p) = pki {
                let (ca, cert, key) = (
                    p.ca_cert.display(),
                    p.server_cert.display(),
                    p.server_key.display(),
                );
                args.extend([
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
            r.children.push(spawn(&args, &log)?);
            r.logs.push(log);
        }
        Ok(r)
    }
}

fn spawn(args: &[String], log: &Path) -> Result<Child, OpsError> {
    let io = |source| OpsError::LocalIo {
        path: log.to_path_buf(),
        source,
    };
    let out = File::create(log).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    let mut cmd = Command::new(etcd_binary());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            // The member dies with the test thread that started it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| OpsError::Local(format!("cannot start etcd: {e}")))
}

impl Restored {
    pub fn settings(&self) -> ConnectionSettings {
        let endpoints = (0..self.plan.names.len())
            .filter_map(|i| Endpoint::parse(&self.plan.client_url(i)).ok())
            .collect();
        let tls = match &self.pki {
            Some(p) => TlsFiles {
                cacert: Some(p.ca_cert.clone()),
                cert: Some(p.client_cert.clone()),
                key: Some(p.client_key.clone()),
            },
            None => TlsFiles::default(),
        };
        ConnectionSettings {
            endpoints,
            tls,
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            insecure_transport: false,
            source: SettingsSource::Flags,
        }
    }

    /// `--endpoints --cacert --cert --key` for lifeboat or etcdctl.
    pub fn cli_args(&self) -> Vec<String> {
        let eps: Vec<String> = (0..self.plan.names.len())
            .map(|i| self.plan.client_url(i))
            .collect();
        let mut args = vec![format!("--endpoints={}", eps.join(","))];
        if let Some(p) = &self.pki {
            args.push(format!("--cacert={}", p.ca_cert.display()));
            args.push(format!("--cert={}", p.client_cert.display()));
            args.push(format!("--key={}", p.client_key.display()));
        }
        args
    }

    /// Every member answers and they agree on a leader; on timeout, the logs' tails.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<(), OpsError> {
        let settings = self.settings();
        let tls = settings.validate()?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            let obs = gather(&settings, tls.as_ref(), true).await;
            match diagnose(&obs, &DiagnoseOptions::default()).settled() {
                Ok(()) => return Ok(()),
                Err(findings) => last = findings,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let tails: Vec<String> = self
            .logs
            .iter()
            .map(|l| {
                let text = std::fs::read_to_string(l).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- {} ---\n{}",
                    l.display(),
                    lines[lines.len().saturating_sub(10)..].join("\n")
                )
            })
            .collect();
        Err(OpsError::Local(format!(
            "restored cluster not healthy within {timeout:?}: {last}\n{}",
            tails.join("\n")
        )))
    }

    /// A client to member `i` only.
    pub async fn client(&self, i: usize) -> Result<Client, OpsError> {
        let settings = self.settings();
        let tls = settings.validate()?;
        let ep = settings
            .endpoints
            .get(i)
            .ok_or_else(|| OpsError::Local(format!("no member {i}")))?;
        Ok(ops::client::connect(ep, tls.as_ref(), &settings)
            .await?
            .client)
    }
}

impl Drop for Restored {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// key -> (value, create_revision, mod_revision, version, has a lease).
pub type KvState = BTreeMap<Vec<u8>, (Vec<u8>, i64, i64, i64, bool)>;

/// Every key with its metadata (read in pages of 1000), and the store revision: what must be
/// equal before and after a restore.
pub async fn all_kvs(c: &mut Client) -> Result<(KvState, i64), etcd_client::Error> {
    let mut out = KvState::new();
    let mut pager = ops::kv::Pager::prefix(b"", 1000);
    let mut revision = 0;
    while let Some((key, opts)) = pager.next_request() {
        let resp = c.get(key, Some(opts)).await?;
        revision = resp.header().map_or(revision, |h| h.revision());
        for kv in resp.kvs() {
            out.insert(
                kv.key().to_vec(),
                (
                    kv.value().to_vec(),
                    kv.create_revision(),
                    kv.mod_revision(),
                    kv.version(),
                    kv.lease() != 0,
                ),
            );
        }
        pager.advance(&resp);
    }
    Ok((out, revision))
}

/// Number of keys under `prefix` as of revision `rev` (fails once `rev` is compacted).
pub async fn count_at(c: &mut Client, prefix: &str, rev: i64) -> Result<i64, etcd_client::Error> {
    let opts = GetOptions::new()
        .with_prefix()
        .with_revision(rev)
        .with_count_only();
    Ok(c.get(prefix, Some(opts)).await?.count())
}
