//! Network policy model, parser and engine: NetworkPolicy, CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy evaluated against a cluster inventory. No network.
//!
//! # Layout
//! (filled in as the engine lands)
