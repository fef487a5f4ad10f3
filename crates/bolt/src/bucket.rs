//! Bucket handles: a bucket's tree starts at a page, or is an inline fake page in its
//! parent's value.

use crate::db::Db;
use crate::error::Result;
use crate::page::{HEADER, u64_at};

/// Size of the `InBucket` header (root pgid, sequence) at the start of a bucket value.
pub(crate) const BUCKET_HEADER: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketRef {
    /// Tree rooted at this page.
    Page(u64),
    /// Inline bucket: the fake leaf page bytes and their absolute file offset.
    Inline { page: Vec<u8>, base: u64 },
}

impl BucketRef {
    /// Decode a nested-bucket value found at file offset `value_base`.
    pub fn from_value(value: &[u8], value_base: u64) -> Result<BucketRef, String> {
        let root = u64_at(value, 0).ok_or_else(|| {
            format!(
                "bucket value is {} bytes, shorter than its 16-byte header",
                value.len()
            )
        })?;
        if value.len() < BUCKET_HEADER {
            return Err(format!(
                "bucket value is {} bytes, shorter than its 16-byte header",
                value.len()
            ));
        }
        if root != 0 {
            return Ok(BucketRef::Page(root));
        }
        let page = &value[BUCKET_HEADER..];
        if page.len() < HEADER {
            return Err(format!(
                "inline bucket page is {} bytes, shorter than a page header",
                page.len()
            ));
        }
        Ok(BucketRef::Inline {
            page: page.to_vec(),
            base: value_base + BUCKET_HEADER as u64,
        })
    }

    pub fn is_inline(&self) -> bool {
        matches!(self, BucketRef::Inline { .. })
    }

    /// A nested bucket by name (None if absent or if the key holds a plain value).
    pub fn child(&self, db: &Db, name: &[u8]) -> Result<Option<BucketRef>> {
        match db.get(self, name)? {
            Some((value, true)) => BucketRef::from_value(&value, 0).map(Some).map_err(|what| {
                crate::Error::BucketHeader {
                    at: crate::Where {
                        bucket: String::new(),
                        page: 0,
                        inline: false,
                        offset: 0,
                    },
                    key: crate::walk::show_key(name),
                    what,
                }
            }),
            _ => Ok(None),
        }
    }

    /// Point lookup of a plain value.
    pub fn get(&self, db: &Db, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(match db.get(self, key)? {
            Some((v, false)) => Some(v),
            _ => None,
        })
    }
}
