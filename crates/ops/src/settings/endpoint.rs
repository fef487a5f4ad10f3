//! One etcd client URL, checked when parsed so a typo fails before any dial.

use std::fmt;
use std::net::IpAddr;

use crate::OpsError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    scheme: Scheme,
    host: String,
    port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Http,
    Https,
}

impl Endpoint {
    /// Accepts `http://host:port`, `https://host:port` and etcdctl's bare `host:port` (http).
    pub fn parse(raw: &str) -> Result<Self, OpsError> {
        let bad = |reason: &str| OpsError::BadEndpoint {
            url: raw.to_string(),
            reason: reason.to_string(),
        };
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(bad(&format!("scheme '{other}' is not http or https"))),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(bad("no host")),
        };
        if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
            return Err(bad("an endpoint is scheme://host:port with no path"));
        }
        let port = url
            .port()
            .ok_or_else(|| bad("no port (etcd clients usually use :2379)"))?;
        Ok(Endpoint { scheme, host, port })
    }

    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `localhost` or a loopback address: traffic that never leaves the machine.
    pub fn is_loopback(&self) -> bool {
        if self.host == "localhost" {
            return true;
        }
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
    }

    /// `host:port`, for a raw TCP dial.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_operators_type() {
        let e = Endpoint::parse("https://127.0.0.1:2379").unwrap();
        assert!(e.is_tls() && e.is_loopback());
        assert_eq!(e.to_string(), "https://127.0.0.1:2379");
        let bare = Endpoint::parse("10.0.0.1:2379").unwrap();
        assert!(!bare.is_tls() && !bare.is_loopback());
        assert!(Endpoint::parse("http://[::1]:2379").unwrap().is_loopback());
        assert!(
            Endpoint::parse("https://localhost:2379")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn rejects_malformed_urls_with_a_reason() {
        for bad in [
            "ftp://h:1",
            "https://h",
            "https://h:2379/v3",
            "http://:2379",
            "https://h:99999",
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
