//! Test kit: real etcd clusters on loopback for integration tests. No mocks: every test that
//! uses this talks to `etcd` processes started here (from PATH or `LIFEBOAT_ETCD_BIN`).
//! `scripts/test-etcd-versions.sh` runs the suite once per etcd release (3.4 to 3.7), setting
//! `LIFEBOAT_ETCD_BIN`, `LIFEBOAT_ETCDCTL_BIN`, `LIFEBOAT_ETCDUTL_BIN`, `LIFEBOAT_ETCD_VERSION`
//! and `PATH` from `scripts/etcd-versions.sh env VERSION`.
//!
//! # Layout
//! - [`TestCluster`]: an [`ops::local::LocalCluster`] that is healthy before the test sees it,
//!   with clients per member and data writers.
//! - [`data`]: writes known datasets (plain keys, Kubernetes-shaped keys) and reads them back.
//! - [`restored`]: etcd started on restored data dirs (names and peer URLs fixed beforehand).
//! - [`reference`]: etcd's own tools (`etcdutl snapshot status`, `etcdctl endpoint status`,
//!   `bbolt check`) of the release under test, to check lifeboat's answers against.
//!
//! Processes die with the test: on drop, and through `PR_SET_PDEATHSIG` if the test thread dies
//! first. Tests should use `#[tokio::test]` (a current-thread runtime on the test's own thread).

pub mod data;
pub mod reference;
pub mod restored;

use std::time::Duration;

use etcd_client::Client;
use ops::OpsError;
pub use ops::local::{LocalCluster, LocalClusterSpec, MemberState};

/// How long a fresh cluster may take to elect a leader on a loaded two-core machine.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct TestCluster {
    pub cluster: LocalCluster,
}

impl TestCluster {
    /// An `n`-member cluster with mutual TLS, healthy on return.
    pub async fn tls(n: usize) -> TestCluster {
        Self::start(LocalClusterSpec {
            members: n,
            tls: true,
            ..LocalClusterSpec::default()
        })
        .await
    }

    /// An `n`-member plain-http cluster on loopback, healthy on return.
    pub async fn plain(n: usize) -> TestCluster {
        Self::start(LocalClusterSpec {
            members: n,
            tls: false,
            ..LocalClusterSpec::default()
        })
        .await
    }

    /// Starts and waits; a cluster that cannot start fails the test with the member logs.
    pub async fn start(spec: LocalClusterSpec) -> TestCluster {
        match LocalCluster::start_healthy(spec, STARTUP_TIMEOUT).await {
            Ok(cluster) => TestCluster { cluster },
            Err(e) => panic!("cannot start the etcd test cluster: {e}"),
        }
    }

    /// A client connected to member `i` only.
    pub async fn client(&self, i: usize) -> Result<Client, OpsError> {
        let mut settings = self.cluster.settings_for(&[i]);
        // Test clients are harness, not measurement: a loaded CI machine may fsync slowly.
        settings.command_timeout = std::time::Duration::from_secs(30);
        let tls = settings.validate()?;
        let ep = settings
            .endpoints
            .first()
            .ok_or_else(|| OpsError::Local(format!("no member {i}")))?;
        Ok(ops::client::connect(ep, tls.as_ref(), &settings)
            .await?
            .client)
    }

    /// A client to any running member (the first that connects).
    pub async fn any_client(&self) -> Result<Client, OpsError> {
        let mut last = OpsError::Local("no running member".into());
        for i in 0..self.cluster.members().len() {
            if self.cluster.members()[i].state != MemberState::Running {
                continue;
            }
            match self.client(i).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `--endpoints --cacert --cert --key` for running lifeboat or etcdctl against this cluster.
    pub fn cli_args(&self) -> Vec<String> {
        let mut args = vec![format!("--endpoints={}", self.cluster.endpoints_arg())];
        if let Some(p) = &self.cluster.pki {
            args.push(format!("--cacert={}", p.ca_cert.display()));
            args.push(format!("--cert={}", p.client_cert.display()));
            args.push(format!("--key={}", p.client_key.display()));
        }
        args
    }

    /// Waits until the running members agree on a leader again (after a kill or pause).
    pub async fn wait_leader(&self, timeout: Duration) {
        if let Err(e) = self.cluster.wait_healthy(timeout).await {
            panic!("{e}");
        }
    }
}
