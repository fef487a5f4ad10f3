//! Where the cluster a change is judged against comes from.

use std::sync::Arc;

use policy::input::Loaded;

/// The inventory and the policies in force. `current` is called once per review and must be
/// cheap (an `Arc` clone); a source that follows the cluster returns a new `Arc` when it
/// changed, and the webhook recomputes its baseline then.
pub trait InventorySource: Send + Sync {
    fn current(&self) -> Arc<Loaded>;
    /// Where it comes from, for logs and `/healthz`.
    fn describe(&self) -> String;
}

/// An inventory read once at start (files, or etcd read once): it never changes.
pub struct Fixed {
    loaded: Arc<Loaded>,
    what: String,
}

impl Fixed {
    pub fn new(loaded: Loaded, what: impl Into<String>) -> Fixed {
        Fixed {
            loaded: Arc::new(loaded),
            what: what.into(),
        }
    }
}

impl InventorySource for Fixed {
    fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded)
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}

/// The cluster as etcd has it, followed by a watch: each change published by the view is a
/// new `Arc`, so the reviewer recomputes its baseline once per change, not per review.
pub struct Live {
    view: policy_etcd::LiveView,
}

impl Live {
    pub fn new(view: policy_etcd::LiveView) -> Live {
        Live { view }
    }
}

impl InventorySource for Live {
    fn current(&self) -> Arc<Loaded> {
        self.view.current()
    }

    fn describe(&self) -> String {
        let loaded = self.view.current();
        format!(
            "etcd, followed by a watch (revision {}): {} nodes, {} pods, {} policies in force",
            self.view.revision(),
            loaded.inventory.nodes.len(),
            loaded.inventory.pods.len(),
            loaded.policies.network_policies.len() + loaded.policies.cilium.len()
        )
    }
}
