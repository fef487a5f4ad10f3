//! Watch events as segments record them: sub-revisions counted inside each revision, and a
//! revision that does not follow the last one reported instead of written.

use etcd_client::EventType;

use super::AgentError;
use crate::segment::{Event, EventKind};

/// Numbers events and checks that revisions follow each other.
#[derive(Debug, Clone, Copy)]
pub struct Sequencer {
    /// Revision and sub-revision of the last event (sub `None` before the first).
    last: (i64, Option<u32>),
}

impl Sequencer {
    /// Starts after `covered`: the next event must be at `covered + 1`.
    pub fn after(covered: i64) -> Sequencer {
        Sequencer {
            last: (covered, None),
        }
    }

    pub fn last_revision(&self) -> i64 {
        self.last.0
    }

    pub fn event(&mut self, e: &etcd_client::Event, observed_ms: i64) -> Result<Event, AgentError> {
        let kv = e
            .kv()
            .ok_or_else(|| AgentError::Etcd("a watch event without a key-value".into()))?;
        let revision = kv.mod_revision();
        let sub = match self.last {
            (r, Some(s)) if r == revision => s + 1,
            (r, _) if revision == r + 1 => 0,
            (r, _) => {
                return Err(AgentError::Gap {
                    last: r,
                    got: revision,
                });
            }
        };
        self.last = (revision, Some(sub));
        let delete = e.event_type() == EventType::Delete;
        Ok(Event {
            kind: if delete {
                EventKind::Delete
            } else {
                EventKind::Put
            },
            revision,
            sub,
            key: kv.key().to_vec(),
            value: if delete {
                Vec::new()
            } else {
                kv.value().to_vec()
            },
            create_revision: if delete { 0 } else { kv.create_revision() },
            version: if delete { 0 } else { kv.version() },
            lease: if delete { 0 } else { kv.lease() },
            observed_ms,
        })
    }
}
