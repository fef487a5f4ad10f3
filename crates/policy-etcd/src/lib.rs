//! The policy model fed from etcd: the objects the API server stored (protobuf or JSON) decoded
//! with the `registry` crate and handed to the `policy` crate as already-parsed values, with no
//! detour through JSON text. Used once (`policy check --from-etcd`, the lockout drill) and live
//! (`policy watch`, the agent, the webhook).
//!
//! # Layout
//! - [`prefixes`]: the key prefixes the inventory and the policy set are built from, and which
//!   keys under them count.
//! - [`documents`]: [`documents::Documents`], the converted objects keyed by etcd key in key
//!   order; a put or a delete converts one key, and [`documents::Documents::build`] assembles the
//!   `policy::input::Loaded` from the conversions (pods and the policy set shared, not copied).
//! - [`live`]: [`live::LiveView`], a listing at one revision followed by a watch from the next,
//!   publishing a new `Loaded` after every change; a compacted or cut watch re-lists, and says so.
//! - [`derived`]: [`derived::Derived`], a value (the webhook's baseline, `policy watch`'s
//!   check) computed from the newest view in the background and published with the view it
//!   came from; bursts coalesce into one more computation.
//! - `retire`: old values (a replaced input and baseline, 10^5 allocations) freed on a
//!   low-priority thread, off the path that publishes the next one.
//! - [`metrics`]: the `lifeboat_policy_*` gauges a watch keeps (verdict, cuts, revision...).
//! - [`error`]: typed failures.

pub mod derived;
pub mod documents;
pub mod error;
pub mod live;
pub mod metrics;
pub mod prefixes;
mod retire;

pub use derived::{Derived, Stamped};
pub use documents::{Documents, loaded_from_kvs};
pub use error::Error;
pub use live::{LiveView, View};
pub use prefixes::PREFIXES;
