//! `lifeboat webhook serve`: a validating admission webhook (AdmissionReview v1) that refuses
//! a network-policy change cutting a critical control-plane flow before the API server stores
//! it, and warns about lesser cuts. It never fails closed on its own error: what it cannot
//! judge is admitted with a warning.
//!
//! # Layout
//! - [`review`]: AdmissionReview types, reading a review into a [`review::Change`] and the
//!   decision from an [`baseline::Outcome`] (pure, unit-tested).
//! - [`baseline`]: the cluster as it is (inventory, policies in force, their check report),
//!   computed once per inventory; a change is evaluated as that set with one object replaced,
//!   re-evaluating only the flows the changed object can touch.
//! - [`inventory`]: [`inventory::InventorySource`], where the cluster comes from (files loaded
//!   once, etcd; a live watch plugs in behind the same trait).
//! - [`reviewer`]: one review from body to answer against the current baseline; its own
//!   trouble (unreadable body, panic, too large) becomes an admission with a warning.
//! - [`tls`]: the server certificate from files, reloaded on change per handshake; a bad new
//!   certificate keeps the old one.
//! - [`server`]: HTTPS (hyper 1 + tokio-rustls): `/validate`, `/healthz`, `/metrics`; bounded
//!   bodies and timeouts.
//! - [`metrics`]: Prometheus text format.
//! - [`error`]: typed errors.

pub mod baseline;
pub mod error;
pub mod inventory;
pub mod metrics;
pub mod review;
pub mod reviewer;
pub mod server;
pub mod tls;

pub use error::WebhookError;
pub use inventory::InventorySource;

/// The annotation that lets a deliberate lockout through (with a warning and a log line). Its
/// value is the reason, and must not be empty.
pub const OVERRIDE_ANNOTATION: &str = "lifeboat.io/allow-lockout";

/// The API server's own request limit: a larger review is answered without being read.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
