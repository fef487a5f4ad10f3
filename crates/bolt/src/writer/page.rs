//! Encoding one leaf or branch page (with overflow) the way bbolt's `WriteInodeToPage` lays it
//! out: header, then `count` 16-byte elements, then keys and values in element order.

use crate::page::{BRANCH, ELEM, HEADER, LEAF};

/// One element waiting for its page: a leaf key/value (with flags) or a branch separator.
pub(crate) enum Elem {
    Leaf {
        flags: u32,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Branch {
        key: Vec<u8>,
        pgid: u64,
    },
}

impl Elem {
    pub fn key(&self) -> &[u8] {
        match self {
            Elem::Leaf { key, .. } | Elem::Branch { key, .. } => key,
        }
    }

    /// Bytes this element adds to a page: its 16-byte header plus its data.
    pub fn size(&self) -> usize {
        ELEM + match self {
            Elem::Leaf { key, value, .. } => key.len() + value.len(),
            Elem::Branch { key, .. } => key.len(),
        }
    }
}

/// Bytes a page holding `elems` needs (header included), before rounding to pages.
pub(crate) fn content_size(elems: &[Elem]) -> usize {
    HEADER + elems.iter().map(Elem::size).sum::<usize>()
}

/// Writes the elements into `buf` (already zeroed and sized to whole pages) as page `pgid`.
/// `overflow` is the number of extra pages; every element must be of one kind.
pub(crate) fn encode(buf: &mut [u8], pgid: u64, overflow: u32, elems: &[Elem]) {
    let is_leaf = matches!(elems.first(), Some(Elem::Leaf { .. }) | None);
    let flags = if is_leaf { LEAF } else { BRANCH };
    buf[0..8].copy_from_slice(&pgid.to_le_bytes());
    buf[8..10].copy_from_slice(&flags.to_le_bytes());
    // Callers cap a page at u16::MAX elements.
    buf[10..12].copy_from_slice(&(elems.len() as u16).to_le_bytes());
    buf[12..16].copy_from_slice(&overflow.to_le_bytes());
    encode_body(buf, elems);
}

/// Elements and data after a 16-byte header that is already in place: also used for the fake
/// page of an inline bucket.
pub(crate) fn encode_body(buf: &mut [u8], elems: &[Elem]) {
    let mut data = HEADER + elems.len() * ELEM;
    for (i, e) in elems.iter().enumerate() {
        let at = HEADER + i * ELEM;
        // `pos` counts from the element itself, not from the page start.
        let pos = (data - at) as u32;
        match e {
            Elem::Leaf { flags, key, value } => {
                buf[at..at + 4].copy_from_slice(&flags.to_le_bytes());
                buf[at + 4..at + 8].copy_from_slice(&pos.to_le_bytes());
                buf[at + 8..at + 12].copy_from_slice(&(key.len() as u32).to_le_bytes());
                buf[at + 12..at + 16].copy_from_slice(&(value.len() as u32).to_le_bytes());
                buf[data..data + key.len()].copy_from_slice(key);
                data += key.len();
                buf[data..data + value.len()].copy_from_slice(value);
                data += value.len();
            }
            Elem::Branch { key, pgid } => {
                buf[at..at + 4].copy_from_slice(&pos.to_le_bytes());
                buf[at + 4..at + 8].copy_from_slice(&(key.len() as u32).to_le_bytes());
                buf[at + 8..at + 16].copy_from_slice(&pgid.to_le_bytes());
                buf[data..data + key.len()].copy_from_slice(key);
                data += key.len();
            }
        }
    }
}
