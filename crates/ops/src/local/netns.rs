//! A throwaway network of "nodes" on this machine: one network namespace per node with an
//! address from 198.18.0.0/15 (RFC 2544 benchmarking space, never routed), all on a bridge in a
//! hub namespace, and one veth from this namespace to the hub so lifeboat can reach them.
//! Host firewall rules (nftables) are applied inside a node's namespace only. Everything is
//! deleted on drop; names carry our pid, so parallel runs do not meet.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::OpsError;

pub struct NetLab {
    prefix: String,
    /// `198.18.N` for this lab.
    subnet: String,
    pub nodes: Vec<LabNode>,
    created: Vec<String>,
    root_link: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LabNode {
    pub netns: String,
    pub address: String,
}

/// One inbound flow to drop at a node: `saddr` to `port`/`protocol`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropRule {
    pub saddr: String,
    pub protocol: String,
    pub port: u16,
}

fn run(args: &[&str]) -> Result<(), OpsError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            OpsError::Local(format!(
                "cannot run {}: {e} (install iproute2 and nftables)",
                args[0]
            ))
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(OpsError::Local(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl NetLab {
    /// `n` nodes at `198.18.N.1..n`, this namespace at `198.18.N.254`.
    pub fn create(n: usize) -> Result<NetLab, OpsError> {
        let pid = std::process::id();
        let third = pid % 250 + 1;
        let mut lab = NetLab {
            prefix: format!("lb{pid}"),
            subnet: format!("198.18.{third}"),
            nodes: Vec::new(),
            created: Vec::new(),
            root_link: None,
        };
        lab.build(n)?;
        Ok(lab)
    }

    fn build(&mut self, n: usize) -> Result<(), OpsError> {
        let hub = format!("{}-hub", self.prefix);
        run(&["ip", "netns", "add", &hub])?;
        self.created.push(hub.clone());
        run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"])?;
        for i in 1..=n {
            let ns = format!("{}-n{i}", self.prefix);
            run(&["ip", "netns", "add", &ns])?;
            self.created.push(ns.clone());
            let (a, b) = (
                format!("{}a{i}", self.prefix),
                format!("{}b{i}", self.prefix),
            );
            run(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b])?;
            run(&["ip", "link", "set", &a, "netns", &ns])?;
            run(&["ip", "link", "set", &b, "netns", &hub])?;
            let address = format!("{}.{i}", self.subnet);
            run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                &a,
            ])?;
            run(&["ip", "-n", &ns, "link", "set", &a, "up"])?;
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            run(&["ip", "-n", &hub, "link", "set", &b, "master", "br0"])?;
            run(&["ip", "-n", &hub, "link", "set", &b, "up"])?;
            self.nodes.push(LabNode { netns: ns, address });
        }
        let (r, p) = (format!("{}r", self.prefix), format!("{}p", self.prefix));
        run(&["ip", "link", "add", &r, "type", "veth", "peer", "name", &p])?;
        self.root_link = Some(r.clone());
        run(&["ip", "link", "set", &p, "netns", &hub])?;
        run(&["ip", "-n", &hub, "link", "set", &p, "master", "br0"])?;
        run(&["ip", "-n", &hub, "link", "set", &p, "up"])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{}.254/24", self.subnet),
            "dev",
            &r,
        ])?;
        run(&["ip", "link", "set", &r, "up"])?;
        Ok(())
    }

    /// The address lifeboat itself has on the lab network.
    pub fn admin_address(&self) -> String {
        format!("{}.254", self.subnet)
    }

    /// Replaces node `i`'s host firewall with drops of these inbound flows.
    pub fn enforce(&self, i: usize, rules: &[DropRule]) -> Result<(), OpsError> {
        let node = self
            .nodes
            .get(i)
            .ok_or_else(|| OpsError::Local(format!("no lab node {i}")))?;
        let mut text = String::from(
            "table inet lifeboat {\n  chain input {\n    type filter hook input priority 0; policy accept;\n",
        );
        for r in rules {
            let proto = if r.protocol.eq_ignore_ascii_case("udp") {
                "udp"
            } else {
                "tcp"
            };
            text.push_str(&format!(
                "    ip saddr {} {proto} dport {} drop\n",
                r.saddr, r.port
            ));
        }
        text.push_str("  }\n}\n");
        let _ = self.lift(i);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &node.netns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| OpsError::Local(format!("cannot run nft: {e} (install nftables)")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| OpsError::Local(format!("nft: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| OpsError::Local(format!("nft: {e}")))?;
        if !out.status.success() {
            return Err(OpsError::Local(format!(
                "nft in {} refused the rules: {}",
                node.netns,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Removes node `i`'s host firewall (standing in for stopping the Cilium agent).
    pub fn lift(&self, i: usize) -> Result<(), OpsError> {
        let node = self
            .nodes
            .get(i)
            .ok_or_else(|| OpsError::Local(format!("no lab node {i}")))?;
        run(&[
            "ip",
            "netns",
            "exec",
            &node.netns,
            "nft",
            "delete",
            "table",
            "inet",
            "lifeboat",
        ])
    }

    /// Whether this machine lets us build a lab (root, iproute2, nftables), unless
    /// `LIFEBOAT_NO_NETNS` asks for the loopback variant.
    pub fn available() -> Result<(), String> {
        if std::env::var_os("LIFEBOAT_NO_NETNS").is_some() {
            return Err("LIFEBOAT_NO_NETNS is set".into());
        }
        // SAFETY: plain syscall without arguments.
        if unsafe { libc::geteuid() } != 0 {
            return Err("network namespaces need root".into());
        }
        for tool in ["ip", "nft"] {
            let ok = Command::new(tool)
                .arg("-V")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("`{tool}` is not installed"));
            }
        }
        Ok(())
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        if let Some(r) = &self.root_link {
            let _ = run(&["ip", "link", "del", r]);
        }
        for ns in self.created.iter().rev() {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}
