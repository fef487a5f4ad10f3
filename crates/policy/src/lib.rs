//! Network policy model, parser and engine: NetworkPolicy, CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy evaluated against a cluster inventory. No network.
//!
//! Rule numbers (C1.., K1..) refer to `docs/policy-semantics.md`.
//!
//! # Layout
//! - [`yaml`]: YAML/JSON documents as a tree with line numbers: a fast reader for kubectl-style
//!   YAML ([`yaml::fast`], parallel for big lists) with serde-saphyr (bounded budget) as the
//!   general path and the reference.
//! - [`source`]: files, folders, multi-document streams and `kind: List` → [`source::Document`]s;
//!   every file read through the `inputs` crate (bounded, folders walked without leaving them);
//!   large lists converted item by item in parallel ([`source::load_objects`]).
//! - [`model`]: typed policies (NetworkPolicy, CNP, CCNP), selectors, ports.
//! - [`parse`]: documents → model, with C1 validation (errors) and unknown fields (findings);
//!   [`parse::versions`]: fields newer than the cluster's Cilium version.
//! - [`inventory`]: nodes (taints), namespaces, pods (workloads expanded to pods on the nodes
//!   they fit, DaemonSets one per node), services, webhooks and
//!   Cilium settings from `kubectl get -o yaml` files, or the built-in reference cluster.
//! - [`connset`]: (protocol, port-range) sets with np-guard's text form.
//! - [`connectivity`]: every allowed connection under Kubernetes NetworkPolicies (np-guard format),
//!   and under Cilium semantics for CNP/CCNP ([`connectivity::cilium`]).
//! - [`engine`]: Cilium semantics: identities (C6-C8), CIDR (C9), ports (C10), L7/FQDN
//!   (C11, C12), enforcement and default deny (C2, C3, C13, C14, K1-K9), verdicts with reasons.
//! - [`check`]: the control-plane flow catalogue, verdicts with fixes, exit codes.
//! - [`input`]: loading policies, inventory and Cilium settings for the CLI in one call; a
//!   proposed policy replaces the one in force with its key, and inputs that yield nothing are
//!   errors (policy-semantics.md A1-A3); [`input::Conversions`] keeps a cluster's objects
//!   converted per key, so a watch update assembles the input from pointers.
//! - [`lint`]: the footguns of policy-semantics.md (d) as findings.
//! - [`diff`]: flows whose verdict changes between two policy sets or inventories.
//! - [`observed`]: Hubble flow exports replayed against the proposed policies.
//! - [`findings`], [`error`]: findings with stable codes; typed errors.
pub mod check;
pub mod connectivity;
pub mod connset;
pub mod diff;
pub mod engine;
pub mod error;
pub mod findings;
pub mod fnv;
pub mod input;
pub mod inventory;
pub mod lint;
pub mod model;
pub mod observed;
pub mod parse;
pub mod source;
#[cfg(test)]
mod testing;
pub mod yaml;

/// Re-exported so the CLI parses CIDR flags with the same type.
pub use ipnet;
