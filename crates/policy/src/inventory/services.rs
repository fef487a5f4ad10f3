//! Services and admission webhook configurations from `kubectl get -o yaml` objects.

use super::{Service, ServicePort, TargetPort, Webhook};
use crate::model::Protocol;
use crate::parse::meta::{meta, string_map};
use crate::parse::reader::{Cx, field};
use crate::yaml::{self, Value};

pub(super) fn service(cx: &mut Cx, doc: &yaml::Node) -> Service {
    let m = meta(cx, doc);
    let mut s = Service {
        namespace: m.namespace.unwrap_or_else(|| "default".to_owned()),
        name: m.name,
        labels: m.labels,
        ..Service::default()
    };
    let Some(spec) = field(doc, "spec") else {
        return s;
    };
    if field(spec, "selector").is_some() {
        s.selector = Some(string_map(cx, spec, "selector", "spec.selector"));
    }
    s.cluster_ip = field(spec, "clusterIP").and_then(|n| super::read::ip(cx, n, "spec.clusterIP"));
    if let Some(ports) = field(spec, "ports") {
        for (i, p) in cx
            .list(ports, "spec.ports")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let pp = format!("spec.ports[{i}]");
            let port = field(p, "port").and_then(|n| match &n.value {
                Value::Int(v) => u16::try_from(*v).ok(),
                Value::Str(s) => s.parse().ok(),
                _ => None,
            });
            let Some(port) = port else {
                cx.error(
                    p.line,
                    &format!("{pp}.port"),
                    "service port must be a number in 1-65535",
                );
                continue;
            };
            let target = match field(p, "targetPort").map(|n| &n.value) {
                Some(Value::Int(v)) => TargetPort::Number(u16::try_from(*v).unwrap_or(port)),
                Some(Value::Str(t)) => match t.parse::<u16>() {
                    Ok(v) => TargetPort::Number(v),
                    Err(_) => TargetPort::Named(t.clone()),
                },
                _ => TargetPort::Number(port),
            };
            let protocol = field(p, "protocol")
                .and_then(|n| n.scalar_text())
                .and_then(|s| Protocol::parse(&s))
                .unwrap_or(Protocol::Tcp);
            let name = field(p, "name").and_then(|n| n.scalar_text());
            s.ports.push(ServicePort {
                name,
                port,
                target,
                protocol,
            });
        }
    }
    s
}

pub(super) fn webhooks(cx: &mut Cx, doc: &yaml::Node, mutating: bool) -> Vec<Webhook> {
    let m = meta(cx, doc);
    let mut out = Vec::new();
    let Some(list) = field(doc, "webhooks") else {
        return out;
    };
    for (i, w) in cx
        .list(list, "webhooks")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = field(w, "name")
            .and_then(|n| n.scalar_text())
            .unwrap_or_else(|| format!("webhook-{i}"));
        let cc = field(w, "clientConfig");
        let service = cc.and_then(|c| field(c, "service")).map(|s| {
            let port = field(s, "port")
                .and_then(|p| match &p.value {
                    Value::Int(v) => u16::try_from(*v).ok(),
                    _ => None,
                })
                .unwrap_or(443);
            (
                field(s, "namespace")
                    .and_then(|n| n.scalar_text())
                    .unwrap_or_else(|| "default".to_owned()),
                field(s, "name")
                    .and_then(|n| n.scalar_text())
                    .unwrap_or_default(),
                port,
            )
        });
        let url = cc
            .and_then(|c| field(c, "url"))
            .and_then(|u| u.scalar_text());
        let fail_closed = field(w, "failurePolicy")
            .and_then(|f| f.scalar_text())
            .is_none_or(|f| f == "Fail");
        out.push(Webhook {
            configuration: m.name.clone(),
            name,
            mutating,
            service,
            url,
            fail_closed,
        });
    }
    out
}
