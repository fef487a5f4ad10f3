//! L4 protocol and port as written in a policy (C10, K7).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
    #[serde(rename = "ICMP")]
    Icmp,
    #[serde(rename = "ICMPv6")]
    IcmpV6,
    /// Cilium `ANY` or empty: TCP, UDP and SCTP, not ICMP (C10).
    #[serde(rename = "ANY")]
    Any,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
            Protocol::Icmp => "ICMP",
            Protocol::IcmpV6 => "ICMPv6",
            Protocol::Any => "ANY",
        }
    }

    /// Case-insensitive, without allocating (runs for every container port of an inventory).
    pub fn parse(s: &str) -> Option<Protocol> {
        [
            ("TCP", Protocol::Tcp),
            ("UDP", Protocol::Udp),
            ("SCTP", Protocol::Sctp),
            ("ICMP", Protocol::Icmp),
            ("ICMPV6", Protocol::IcmpV6),
            ("ANY", Protocol::Any),
            ("", Protocol::Any),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, p)| p)
    }

    /// The concrete protocols this one stands for (C10: ANY = TCP+UDP+SCTP).
    pub fn expand(self) -> &'static [Protocol] {
        match self {
            Protocol::Any => &[Protocol::Tcp, Protocol::Udp, Protocol::Sctp],
            Protocol::Tcp => &[Protocol::Tcp],
            Protocol::Udp => &[Protocol::Udp],
            Protocol::Sctp => &[Protocol::Sctp],
            Protocol::Icmp => &[Protocol::Icmp],
            Protocol::IcmpV6 => &[Protocol::IcmpV6],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// Every port (K8s: port absent; Cilium: port "0" or absent).
    All,
    Number(u16),
    /// A named port, resolved per destination pod (C10, K7).
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortProtocol {
    pub port: PortSpec,
    /// Inclusive range end; ignored for named ports.
    pub end_port: Option<u16>,
    pub protocol: Protocol,
}

impl PortProtocol {
    pub fn describe(&self) -> String {
        let port = match &self.port {
            PortSpec::All => "all ports".to_owned(),
            PortSpec::Number(p) => match self.end_port {
                Some(e) if e > *p => format!("{p}-{e}"),
                _ => p.to_string(),
            },
            PortSpec::Named(n) => format!("named port {n}"),
        };
        format!("{} {}", self.protocol.as_str(), port)
    }
}
