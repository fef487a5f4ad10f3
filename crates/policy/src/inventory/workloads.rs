//! Workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob) expanded to one
//! representative pod from their template when no pod of theirs was given.

use super::{Inventory, Owner, Pod};
use crate::error::ParseError;
use crate::parse::meta::{meta, string_map};
use crate::parse::reader::{Cx, field};
use crate::source::Document;

pub(super) fn expand_workloads(
    inv: &mut Inventory,
    docs: &[&Document],
    errors: &mut Vec<ParseError>,
) {
    for doc in docs {
        let mut cx = Cx::new(&doc.origin);
        let kind = doc.kind().to_owned();
        let m = meta(&mut cx, &doc.node);
        let namespace = m.namespace.unwrap_or_else(|| "default".to_owned());
        let owned = inv.pods.iter().any(|p| {
            p.namespace == namespace
                && p.owner.as_ref().is_some_and(|o| {
                    o.name == m.name
                        || (kind == "Deployment"
                            && o.kind == "ReplicaSet"
                            && o.name.starts_with(&format!("{}-", m.name)))
                })
        });
        if owned {
            errors.append(&mut cx.errors);
            continue;
        }
        // CronJob: spec.jobTemplate.spec.template; the others: spec.template.
        let spec = field(&doc.node, "spec");
        let (template, tpath) = if kind == "CronJob" {
            (
                spec.and_then(|s| field(s, "jobTemplate"))
                    .and_then(|j| field(j, "spec"))
                    .and_then(|s| field(s, "template")),
                "spec.jobTemplate.spec.template",
            )
        } else {
            (spec.and_then(|s| field(s, "template")), "spec.template")
        };
        let Some(template) = template else {
            cx.error(doc.node.line, tpath, format!("{kind} has no pod template"));
            errors.append(&mut cx.errors);
            continue;
        };
        let mut pod = Pod {
            namespace,
            name: m.name.clone(),
            owner: Some(Owner {
                kind: kind.clone(),
                name: m.name,
            }),
            ..Pod::default()
        };
        if let Some(md) = field(template, "metadata") {
            pod.labels = string_map(&mut cx, md, "labels", &format!("{tpath}.metadata.labels"));
        }
        if let Some(ps) = field(template, "spec") {
            super::read::pod_spec(&mut cx, ps, &format!("{tpath}.spec"), &mut pod);
        }
        errors.append(&mut cx.errors);
        // A template pod runs somewhere: on the first worker, so that node-relative
        // semantics (`host` entity C8, allow-localhost C14) have a node to refer to.
        if pod.node.is_none() {
            pod.node = inv
                .nodes
                .iter()
                .find(|n| !n.is_control_plane())
                .or_else(|| inv.nodes.first())
                .map(|n| n.name.clone());
        }
        inv.pods.push(pod);
    }
}
