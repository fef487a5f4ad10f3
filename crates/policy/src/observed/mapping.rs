//! An observed endpoint → an engine endpoint. Pods by namespace and pod name, then by IP;
//! Cilium's reserved identities by the labels Hubble puts on them (`reserved:host` is the
//! node that observed the flow, `reserved:remote-node` a node found by its address,
//! `reserved:world` an outside address). Anything else is refused with a reason: a guessed
//! endpoint would give a confident wrong verdict.

use std::collections::HashMap;
use std::net::IpAddr;

use super::line::Ep;
use crate::engine::{Endpoint, Engine};

/// Why an endpoint could not be mapped: a fixed category (what the report groups by) and
/// the endpoint it was about.
#[derive(Debug, Clone)]
pub struct Unmapped {
    pub reason: &'static str,
    pub example: String,
}

fn unmapped(reason: &'static str, example: impl Into<String>) -> Unmapped {
    Unmapped {
        reason,
        example: example.into(),
    }
}

/// Cilium's fixed numeric identities, used when a line carries no labels.
fn reserved_by_identity(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "host",
        2 | 9 | 10 => "world",
        3 => "unmanaged",
        4 => "health",
        5 => "init",
        6 => "remote-node",
        7 => "kube-apiserver",
        8 => "ingress",
        _ => return None,
    })
}

/// The reserved identity of an endpoint, if it has one. `host`/`remote-node` win over
/// `kube-apiserver`, which Cilium adds beside them on API server nodes.
pub fn reserved_of(ep: &Ep) -> Option<String> {
    let mut found: Option<&str> = None;
    for l in &ep.labels {
        if let Some(r) = l.strip_prefix("reserved:") {
            let r = r.split('=').next().unwrap_or(r);
            if found.is_none() || matches!(r, "host" | "remote-node") {
                found = Some(r);
            }
        }
    }
    match found {
        Some(r) if r.starts_with("world") => Some("world".into()),
        Some(r) => Some(r.to_owned()),
        None if ep.labels.is_empty() => ep
            .identity
            .and_then(reserved_by_identity)
            .map(str::to_owned),
        None => None,
    }
}

/// Node name as Hubble Relay writes it (`cluster/node`) → the node.
pub fn bare_node(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Finds engine endpoints for observed ones, remembering what it built: a few thousand
/// distinct endpoints stand behind millions of lines.
pub struct Mapper<'e, 'a> {
    engine: &'e Engine<'a>,
    pods_by_ip: HashMap<IpAddr, usize>,
    nodes_by_ip: HashMap<IpAddr, String>,
    cache: HashMap<String, Result<usize, Unmapped>>,
    pub endpoints: Vec<Endpoint>,
}

/// Past this many remembered endpoints the memo starts over (bounded memory).
const CACHE_LIMIT: usize = 200_000;

impl<'e, 'a> Mapper<'e, 'a> {
    pub fn new(engine: &'e Engine<'a>) -> Mapper<'e, 'a> {
        let inv = engine.inv;
        let pods_by_ip = inv
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.host_network)
            .filter_map(|(i, p)| p.ip.map(|ip| (ip, i)))
            .collect();
        let nodes_by_ip = inv
            .nodes
            .iter()
            .flat_map(|n| n.addresses.iter().map(|a| (*a, n.name.clone())))
            .collect();
        Mapper {
            engine,
            pods_by_ip,
            nodes_by_ip,
            cache: HashMap::new(),
            endpoints: Vec::new(),
        }
    }

    /// True when the memo should start over; after [`Mapper::clear`] indices handed out
    /// before are void.
    pub fn full(&self) -> bool {
        // Refusals are remembered too: count them, or unknown addresses grow the memo.
        self.cache.len() >= CACHE_LIMIT
    }

    pub fn clear(&mut self) {
        self.cache.clear();
        self.endpoints.clear();
    }

    /// Index into [`Mapper::endpoints`] of the endpoint `ep` at `ip`, seen by `node`.
    pub fn map(
        &mut self,
        ep: &Ep,
        ip: Option<IpAddr>,
        node: Option<&str>,
    ) -> Result<usize, Unmapped> {
        let reserved = reserved_of(ep);
        let key = format!(
            "{}|{}|{}|{:?}|{}",
            reserved.as_deref().unwrap_or(""),
            ep.namespace.as_deref().unwrap_or(""),
            ep.pod_name.as_deref().unwrap_or(""),
            ip,
            if reserved.as_deref() == Some("host") {
                node.unwrap_or("")
            } else {
                ""
            },
        );
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let found = self.build(reserved.as_deref(), ep, ip, node).map(|e| {
            self.endpoints.push(e);
            self.endpoints.len() - 1
        });
        self.cache.insert(key, found.clone());
        found
    }

    fn build(
        &self,
        reserved: Option<&str>,
        ep: &Ep,
        ip: Option<IpAddr>,
        node: Option<&str>,
    ) -> Result<Endpoint, Unmapped> {
        let node_by_ip = |ip: Option<IpAddr>| ip.and_then(|ip| self.nodes_by_ip.get(&ip));
        match reserved {
            Some("host") => {
                let name = node.map(bare_node).or(node_by_ip(ip).map(String::as_str));
                let Some(name) = name else {
                    return Err(unmapped(
                        "host endpoint without its node name",
                        "reserved:host",
                    ));
                };
                self.engine
                    .host(name)
                    .ok_or_else(|| unmapped("node not in the inventory", format!("node/{name}")))
            }
            Some("remote-node" | "kube-apiserver") => match node_by_ip(ip) {
                Some(name) => self
                    .engine
                    .host(name)
                    .ok_or_else(|| unmapped("node not in the inventory", format!("node/{name}"))),
                None => Err(unmapped(
                    "node address not in the inventory",
                    format!("reserved:{} {}", reserved.unwrap_or(""), show_ip(ip)),
                )),
            },
            Some("world") => match ip {
                Some(ip) => Ok(self.engine.world(ip)),
                None => Err(unmapped(
                    "world endpoint without an IP address",
                    "reserved:world",
                )),
            },
            Some(other) => Err(unmapped(
                "reserved identity not evaluated (health, init, unmanaged, ingress)",
                format!("reserved:{other}"),
            )),
            None => self.pod(ep, ip),
        }
    }

    fn pod(&self, ep: &Ep, ip: Option<IpAddr>) -> Result<Endpoint, Unmapped> {
        let ns = ep.namespace.as_deref().unwrap_or("");
        let name = ep.pod_name.as_deref().unwrap_or("");
        if !ns.is_empty()
            && !name.is_empty()
            && let Some(e) = self.engine.pod(ns, name)
        {
            return Ok(e);
        }
        // A named pod the inventory lacks is not looked up by its IP: the address may belong
        // to another pod by now, and its verdict would be that pod's.
        if !name.is_empty() {
            return Err(unmapped("pod not in the inventory", format!("{ns}/{name}")));
        }
        if let Some(&i) = ip.and_then(|ip| self.pods_by_ip.get(&ip))
            && let Some(e) = self.engine.pod_at(i)
        {
            return Ok(e);
        }
        Err(unmapped(
            "endpoint with no pod name, no reserved label and an unknown IP",
            show_ip(ip),
        ))
    }
}

fn show_ip(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "(no IP)".to_owned(), |ip| ip.to_string())
}
