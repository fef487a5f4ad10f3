//! Network policy model, parser and engine: NetworkPolicy, CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy evaluated against a cluster inventory. No network.
//!
//! Rule numbers (C1.., K1..) refer to `shared/docs/policy-semantics.md`.
//!
//! # Layout
//! - [`yaml`]: YAML/JSON documents as a tree with line numbers (serde-saphyr, bounded budget).
//! - [`source`]: files, folders, multi-document streams and `kind: List` → [`source::Document`]s.
//! - [`model`]: typed policies (NetworkPolicy, CNP, CCNP), selectors, ports.
//! - [`parse`]: documents → model, with C1 validation (errors) and unknown fields (findings).
//! - [`findings`], [`error`]: findings with stable codes; typed errors.
pub mod error;
pub mod findings;
pub mod model;
pub mod parse;
pub mod source;
pub mod yaml;
