//! Kubernetes objects as etcd stores them, readable and writable without the API server.
//!
//! # Layout
//! - [`resource`]: what a user types (`po`, `netpol`, `ccnp`) → the `/registry/...` key layout.
//! - [`envelope`]: a stored value: `k8s\0` + `runtime.Unknown`, JSON, or encrypted at rest.
//! - [`decode`] / [`encode`]: protobuf ↔ JSON over the generated [`schema`] table.
//! - [`special`]: types whose JSON is not their protobuf (times, quantities, int-or-string).
//! - [`wire`]: the protobuf wire format.
//! - [`object`]: one object decoded for display (`kube get`), [`redact`]: Secret data hidden.
//!
//! Nothing here talks to etcd: callers bring the bytes (online from a member, offline from a
//! snapshot) and decide what to write back.

pub mod decode;
pub mod encode;
pub mod envelope;
pub mod error;
pub mod object;
pub mod redact;
pub mod resource;
pub mod schema;
pub mod special;
pub mod wire;

pub use envelope::Encoding;
pub use error::{DecodeError, EncodeError, ResourceError};
pub use object::{ObjectView, StoredKv, ViewOptions, decode_object, view};
pub use resource::{ResourceType, resolve};
