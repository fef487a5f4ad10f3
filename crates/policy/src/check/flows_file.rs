//! `--flows FILE`: user flows, a YAML list (or `flows:` key) of
//! `{name, src, dst, protocol, port, critical, fqdn}`; `fqdn` names the DNS name an outside
//! `dst` address answers for, so toFQDNs rules can be judged (C12).

use super::Flow;
use crate::error::ParseError;
use crate::model::{Origin, Protocol};
use crate::parse::reader::{Cx, field};
use crate::yaml::{self, Value};

/// Why a `--flows` file gave no flows.
#[derive(Debug, thiserror::Error)]
pub enum FlowsError {
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error("{}", render(.0))]
    Invalid(Vec<ParseError>),
    #[error("{0}: holds no flows; write a list of {{name, src, dst, protocol, port}}")]
    Empty(String),
}

fn render(errors: &[ParseError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Read and parse a `--flows` file; a file with no flow in it is an error, not a check of
/// nothing.
pub fn load_flows(path: &std::path::Path) -> Result<Vec<Flow>, FlowsError> {
    let text = inputs::read_to_string(path, inputs::Kind::CONFIG)?;
    let name = path.display().to_string();
    let flows = parse_flows(&name, &text).map_err(FlowsError::Invalid)?;
    if flows.is_empty() {
        return Err(FlowsError::Empty(name));
    }
    Ok(flows)
}

pub fn parse_flows(file: &str, text: &str) -> Result<Vec<Flow>, Vec<ParseError>> {
    let docs = yaml::parse_documents(text).map_err(|e| {
        vec![ParseError {
            file: file.into(),
            doc: 1,
            line: e.line,
            field: String::new(),
            message: e.message,
        }]
    })?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (di, doc) in docs.iter().enumerate() {
        let origin = Origin {
            file: file.into(),
            doc: di + 1,
            line: doc.line,
        };
        let mut cx = Cx::new(&origin);
        let list = match &doc.value {
            Value::Seq(_) => Some(doc),
            _ => field(doc, "flows"),
        };
        let Some(list) = list else {
            cx.error(
                doc.line,
                "flows",
                "expected a list of flows or a `flows:` key",
            );
            errors.append(&mut cx.errors);
            continue;
        };
        for (i, item) in cx
            .list(list, "flows")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let p = format!("flows[{i}]");
            cx.check_known(
                item,
                &p,
                &["name", "src", "dst", "protocol", "port", "critical", "fqdn"],
            );
            let name = field(item, "name")
                .and_then(|n| cx.string(n, &format!("{p}.name")))
                .unwrap_or_else(|| format!("user-flow-{}", i + 1));
            let src = field(item, "src").and_then(|n| cx.string(n, &format!("{p}.src")));
            let dst = field(item, "dst").and_then(|n| cx.string(n, &format!("{p}.dst")));
            let protocol = field(item, "protocol")
                .and_then(|n| cx.string(n, &format!("{p}.protocol")))
                .unwrap_or_else(|| "TCP".into());
            let Some(protocol) = Protocol::parse(&protocol).filter(|p| *p != Protocol::Any) else {
                cx.error(
                    item.line,
                    &format!("{p}.protocol"),
                    format!("unknown protocol {protocol:?}"),
                );
                continue;
            };
            let port = field(item, "port").and_then(|n| match &n.value {
                Value::Int(v) => u16::try_from(*v).ok(),
                Value::Str(s) => s.parse().ok(),
                _ => None,
            });
            let fqdn = field(item, "fqdn").and_then(|n| cx.string(n, &format!("{p}.fqdn")));
            let critical = field(item, "critical")
                .and_then(|n| cx.bool(n, &format!("{p}.critical")))
                .unwrap_or(false);
            match (src, dst, port) {
                (Some(src), Some(dst), Some(port)) => out.push(Flow {
                    name,
                    src,
                    dst,
                    protocol,
                    port,
                    critical,
                    purpose: "user flow",
                    fqdn,
                }),
                _ => cx.error(item.line, &p, "a flow needs src, dst and a port in 0-65535"),
            }
        }
        errors.append(&mut cx.errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
