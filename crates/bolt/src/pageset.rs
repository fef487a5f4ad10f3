//! The pages a tree walk has reached, one bit per page below the high-water mark: the walk
//! and the streamed check both prove with it that every page is referenced once.

#[derive(Debug, Clone, Default)]
pub(crate) struct PageSet {
    words: Vec<u64>,
}

impl PageSet {
    /// An empty set for pages `[0, pages)`.
    pub(crate) fn new(pages: u64) -> Self {
        PageSet {
            words: vec![0; pages.div_ceil(64) as usize],
        }
    }

    /// Adds `p`; `false` when it was already there or lies outside the storage. Callers
    /// check `p` against the high-water mark first, so `false` means a second reference.
    pub(crate) fn mark(&mut self, p: u64) -> bool {
        let (i, bit) = ((p / 64) as usize, 1u64 << (p % 64));
        match self.words.get_mut(i) {
            Some(word) => {
                let was = *word & bit != 0;
                *word |= bit;
                !was
            }
            None => false,
        }
    }

    pub(crate) fn contains(&self, p: u64) -> bool {
        self.words
            .get((p / 64) as usize)
            .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::PageSet;

    #[test]
    fn marks_once_and_refuses_what_is_outside() {
        let mut s = PageSet::new(130);
        assert!(!s.contains(0) && !s.contains(129));
        for p in [0, 63, 64, 129] {
            assert!(s.mark(p), "first mark of {p}");
            assert!(!s.mark(p), "second mark of {p}");
            assert!(s.contains(p));
        }
        assert!(!s.contains(1) && !s.contains(65) && !s.contains(128));
        assert!(!s.mark(192) && !s.contains(192));
        assert!(!s.mark(u64::MAX) && !s.contains(u64::MAX));
        assert!(!PageSet::new(0).mark(0));
    }
}
