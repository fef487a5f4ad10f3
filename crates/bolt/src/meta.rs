use crate::error::MetaProblem;

pub(crate) const MAGIC: u32 = 0xED0C_DAED;
pub(crate) const VERSION: u32 = 2;
/// `meta.freelist` when the freelist is not persisted (etcd on Linux: NoFreelistSync).
pub const NO_FREELIST: u64 = u64::MAX;
/// Header (16) + meta struct (64).
pub(crate) const META_END: usize = 80;

/// One decoded meta page (pages 0 and 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: u32,
    pub flags: u32,
    /// Page of the root bucket's tree.
    pub root: u64,
    pub root_sequence: u64,
    /// Freelist page, or [`NO_FREELIST`].
    pub freelist: u64,
    /// High-water mark: pages `[0, pgid)` are in use.
    pub pgid: u64,
    pub txid: u64,
    pub checksum: u64,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a 64, the checksum bbolt stores in each meta page.
pub(crate) fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Meta {
    /// Decode and validate a meta page the way bbolt's `Meta.Validate` does
    /// (magic, version, checksum), recognising big-endian files by their magic.
    pub fn parse(page: &[u8]) -> Result<Meta, MetaProblem> {
        if page.len() < META_END {
            return Err(MetaProblem::Short);
        }
        let magic = u32_at(page, 16);
        if magic != MAGIC {
            if magic.swap_bytes() == MAGIC {
                return Err(MetaProblem::BigEndian);
            }
            return Err(MetaProblem::Magic(magic));
        }
        let version = u32_at(page, 20);
        if version != VERSION {
            return Err(MetaProblem::Version(version));
        }
        let meta = Meta {
            page_size: u32_at(page, 24),
            flags: u32_at(page, 28),
            root: u64_at(page, 32),
            root_sequence: u64_at(page, 40),
            freelist: u64_at(page, 48),
            pgid: u64_at(page, 56),
            txid: u64_at(page, 64),
            checksum: u64_at(page, 72),
        };
        let computed = fnv1a64(&page[16..72]);
        if computed != meta.checksum {
            return Err(MetaProblem::Checksum {
                stored: meta.checksum,
                computed,
            });
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn short_and_foreign_pages_are_rejected() {
        assert_eq!(Meta::parse(&[0u8; 10]), Err(MetaProblem::Short));
        assert_eq!(Meta::parse(&[0u8; 4096]), Err(MetaProblem::Magic(0)));
        let mut be = vec![0u8; 4096];
        be[16..20].copy_from_slice(&MAGIC.to_be_bytes());
        assert_eq!(Meta::parse(&be), Err(MetaProblem::BigEndian));
    }
}
