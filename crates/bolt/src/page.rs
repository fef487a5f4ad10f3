//! Bounds-checked views of one page (or an inline bucket's fake page) held in memory.

pub(crate) const HEADER: usize = 16;
pub(crate) const ELEM: usize = 16;
pub const BRANCH: u16 = 0x01;
pub const LEAF: u16 = 0x02;
pub const FREELIST: u16 = 0x10;
/// Leaf element flag: the value is a nested bucket header.
pub(crate) const BUCKET_LEAF: u32 = 0x01;

pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// A page's bytes (first page plus overflow) and where they start in the file.
#[derive(Clone, Copy)]
pub(crate) struct PageView<'a> {
    pub bytes: &'a [u8],
    pub base: u64,
}

pub(crate) struct Header {
    pub id: u64,
    pub flags: u16,
    pub count: u16,
    pub overflow: u32,
}

pub(crate) fn header(bytes: &[u8]) -> Option<Header> {
    Some(Header {
        id: u64_at(bytes, 0)?,
        flags: u16_at(bytes, 8)?,
        count: u16_at(bytes, 10)?,
        overflow: u32_at(bytes, 12)?,
    })
}

pub(crate) struct LeafElem<'a> {
    pub flags: u32,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Offset of the value within the page bytes (for error offsets of inline buckets).
    pub value_off: usize,
}

pub(crate) struct BranchElem<'a> {
    pub key: &'a [u8],
    pub pgid: u64,
}

/// Element `i`: its offset, or why it cannot be read.
fn elem_off(bytes: &[u8], i: usize) -> Result<usize, String> {
    let off = HEADER + i * ELEM;
    if off + ELEM > bytes.len() {
        return Err(format!(
            "element header at {off} runs past the page end ({})",
            bytes.len()
        ));
    }
    Ok(off)
}

/// Slice `[start, start+len)` of the page, with every addition checked.
fn span(bytes: &[u8], start: u64, len: u64, what: &str) -> Result<(usize, usize), String> {
    let end = start
        .checked_add(len)
        .ok_or_else(|| format!("{what} range overflows"))?;
    if end > bytes.len() as u64 {
        return Err(format!(
            "{what} [{start}, {end}) runs past the page end ({})",
            bytes.len()
        ));
    }
    // Both fit in the page length, which is a usize.
    Ok((start as usize, end as usize))
}

impl<'a> PageView<'a> {
    pub fn leaf(&self, i: usize) -> Result<LeafElem<'a>, String> {
        let b = self.bytes;
        let off = elem_off(b, i)?;
        let field = |o| u32_at(b, off + o).map(u64::from).ok_or("short element");
        let flags = field(0)? as u32;
        let pos = field(4)?;
        let ksize = field(8)?;
        let vsize = field(12)?;
        let (ks, ke) = span(b, off as u64 + pos, ksize, "key")?;
        let (vs, ve) = span(b, ke as u64, vsize, "value")?;
        Ok(LeafElem {
            flags,
            key: &b[ks..ke],
            value: &b[vs..ve],
            value_off: vs,
        })
    }

    pub fn branch(&self, i: usize) -> Result<BranchElem<'a>, String> {
        let b = self.bytes;
        let off = elem_off(b, i)?;
        let pos = u32_at(b, off).ok_or("short element")?;
        let ksize = u32_at(b, off + 4).ok_or("short element")?;
        let pgid = u64_at(b, off + 8).ok_or("short element")?;
        let (ks, ke) = span(b, off as u64 + u64::from(pos), u64::from(ksize), "key")?;
        Ok(BranchElem {
            key: &b[ks..ke],
            pgid,
        })
    }
}
