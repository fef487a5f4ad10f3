//! One line of `hubble observe -o json`: a `GetFlowsResponse` as protojson writes it with the
//! proto field names (`flow.IP`, `flow.l4.TCP.destination_port`, `traffic_direction`,
//! `is_reply`). The lowerCamel JSON names are accepted too, for exports written without
//! `UseProtoNames`. Unknown fields are ignored: newer Hubble versions add fields.

use std::borrow::Cow;
use std::io::{BufRead, ErrorKind};

use serde::Deserialize;

/// Longest line read; a longer line is reported as malformed and skipped, so one bad line
/// cannot take the memory.
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(borrow)]
    pub flow: Option<Flow<'a>>,
    #[serde(borrow, default, alias = "nodeName")]
    pub node_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub time: Option<Cow<'a, str>>,
    /// Only a bare flow has it at the top (`compat.legacy-json-output`).
    #[serde(borrow, default)]
    verdict: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Flow<'a> {
    #[serde(borrow, default)]
    pub time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub verdict: Option<Cow<'a, str>>,
    #[serde(default, alias = "dropReason")]
    pub drop_reason: Option<u32>,
    #[serde(borrow, default, alias = "dropReasonDesc")]
    pub drop_reason_desc: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "IP")]
    pub ip: Option<Ip<'a>>,
    #[serde(default)]
    pub l4: Option<L4>,
    #[serde(borrow, default)]
    pub source: Option<Ep<'a>>,
    #[serde(borrow, default)]
    pub destination: Option<Ep<'a>>,
    #[serde(borrow, default, alias = "nodeName")]
    pub node_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "trafficDirection")]
    pub traffic_direction: Option<Cow<'a, str>>,
    /// A `google.protobuf.BoolValue`: plain `true`/`false`, absent when unknown.
    #[serde(default, alias = "isReply")]
    pub is_reply: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Ip<'a> {
    #[serde(borrow, default)]
    pub source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub destination: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct L4 {
    #[serde(default, rename = "TCP")]
    pub tcp: Option<Ports>,
    #[serde(default, rename = "UDP")]
    pub udp: Option<Ports>,
    #[serde(default, rename = "SCTP")]
    pub sctp: Option<Ports>,
    #[serde(default, rename = "ICMPv4")]
    pub icmpv4: Option<Icmp>,
    #[serde(default, rename = "ICMPv6")]
    pub icmpv6: Option<Icmp>,
}

#[derive(Debug, Deserialize)]
pub struct Ports {
    #[serde(default, alias = "destinationPort")]
    pub destination_port: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct Icmp {
    #[serde(default, rename = "type")]
    pub icmp_type: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct Ep<'a> {
    #[serde(default)]
    pub identity: Option<u32>,
    #[serde(borrow, default)]
    pub namespace: Option<Cow<'a, str>>,
    /// `source:key=value`, e.g. `k8s:app=etcd`, `reserved:host`.
    #[serde(borrow, default)]
    pub labels: Vec<Cow<'a, str>>,
    #[serde(borrow, default, alias = "podName")]
    pub pod_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub workloads: Vec<Workload<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Workload<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
}

/// Parse one line; the error is what a user needs to find the problem. `hubble observe -o
/// json` writes the whole response; with `compat.legacy-json-output` it writes the bare flow,
/// which is read as well.
pub fn parse_line(bytes: &[u8]) -> Result<Line<'_>, String> {
    let fail = |e: serde_json::Error| format!("not a Hubble JSON line: {e}");
    let mut line: Line = serde_json::from_slice(bytes).map_err(fail)?;
    if line.flow.is_none() && line.verdict.is_some() {
        line.flow = Some(serde_json::from_slice(bytes).map_err(fail)?);
    }
    Ok(line)
}

/// A line as read: its bytes, or the reason it was not kept.
pub enum Read<'b> {
    Line(&'b [u8]),
    TooLong,
}

/// Reads lines of at most [`MAX_LINE`] bytes; longer lines are skipped to their end without
/// being held.
pub struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    pub number: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(inner: R) -> Lines<R> {
        Lines {
            inner,
            buf: Vec::new(),
            number: 0,
        }
    }

    /// The next line (without its `\n`), or `None` at the end.
    pub fn next_line(&mut self) -> std::io::Result<Option<Read<'_>>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (part, used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            if !too_long && self.buf.len() + part.len() > MAX_LINE {
                too_long = true;
                self.buf.clear();
            }
            if !too_long {
                self.buf.extend_from_slice(part);
            }
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if too_long {
            return Ok(Some(Read::TooLong));
        }
        let line = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        Ok(Some(Read::Line(line)))
    }
}
