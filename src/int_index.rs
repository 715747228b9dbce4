//! The index of integer keys that uniqueness claims: each key with the
//! line of the record that claimed it.
//!
//! An index of a million keys is far larger than the caches, and every
//! key lands in a random place of it, so each claim is a cache miss: with
//! thousands of instructions of row checks between two claims, nothing
//! overlaps them, and a miss costs the full trip to memory. This index is
//! laid out so that a claim touches one cache line (open addressing with
//! linear probing, each key stored with its line in its slot; std's map
//! reads a control byte and then writes a bucket elsewhere), and so that
//! the slots of the keys about to be claimed can be fetched first, one
//! after another ([`IntIndex::warm`]): those misses overlap.

use std::hash::BuildHasher;

/// A hasher seeded per process: fast, and keys from a file cannot be
/// chosen to collide.
pub type Hasher = foldhash::fast::RandomState;

/// A key and the line that claimed it; line 0 (no record has it) marks a
/// free slot.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: i64,
    line: u64,
}

/// Integer keys, each with the line that claimed it first.
#[derive(Debug)]
pub struct IntIndex {
    slots: Vec<Slot>,
    len: usize,
    /// 64 minus log2 of the slot count: a hash's top bits pick the slot.
    shift: u32,
    hasher: Hasher,
}

impl Default for IntIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// The most slots in use before the index grows, as a fraction: linear
/// probing stays short below it.
const MAX_LOAD: (usize, usize) = (5, 8);

impl IntIndex {
    /// An index that holds `keys` keys before it grows.
    pub fn with_capacity(keys: usize) -> Self {
        let slots = keys
            .saturating_mul(MAX_LOAD.1)
            .div_ceil(MAX_LOAD.0)
            .next_power_of_two()
            .max(16);
        IntIndex {
            slots: huge_zeroed_slots(slots),
            len: 0,
            shift: 64 - slots.trailing_zeros(),
            hasher: Hasher::default(),
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `keys` keys in all, growing once now instead of
    /// step by step.
    pub fn reserve(&mut self, keys: usize) {
        if keys > self.capacity() {
            self.rebuild(Self::with_capacity(keys));
        }
    }

    fn capacity(&self) -> usize {
        Self::capacity_of(self.slots.len())
    }

    /// How many keys an index of `slots` slots holds before it grows.
    pub const fn capacity_of(slots: usize) -> usize {
        slots / MAX_LOAD.1 * MAX_LOAD.0
    }

    fn home(&self, key: i64) -> usize {
        (self.hasher.hash_one(key) >> self.shift) as usize
    }

    /// The slot holding `key`, or the free slot where it would go.
    fn find(&self, key: i64) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        loop {
            let slot = self.slots[at];
            if slot.line == 0 || slot.key == key {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    /// The line that claimed `key`, if one did.
    pub fn get(&self, key: i64) -> Option<u64> {
        let slot = self.slots[self.find(key)];
        (slot.line != 0).then_some(slot.line)
    }

    /// Claims `key` for `line` unless an earlier line did: returns that
    /// earlier line then, and changes nothing.
    pub fn claim(&mut self, key: i64, line: u64) -> Option<u64> {
        debug_assert!(line > 0, "lines start at 1");
        let at = self.find(key);
        if self.slots[at].line != 0 {
            return Some(self.slots[at].line);
        }
        self.slots[at] = Slot { key, line };
        self.len += 1;
        if self.len > self.capacity() {
            let grown = Self::with_capacity(self.len * 2);
            self.rebuild(grown);
        }
        None
    }

    /// Moves every key into `bigger`, which becomes this index.
    fn rebuild(&mut self, mut bigger: IntIndex) {
        bigger.hasher = self.hasher.clone();
        for slot in self.slots.iter().filter(|s| s.line != 0) {
            let at = bigger.find(slot.key);
            bigger.slots[at] = *slot;
        }
        bigger.len = self.len;
        *self = bigger;
    }

    /// Fetches the home slot of every key into the cache, so that the
    /// claims of those keys that follow find it there; the fetches do not
    /// depend on each other, so their misses overlap. On x86_64 each is a
    /// prefetch, which does not wait for its line (a load holds the
    /// processor's window until its miss is served); elsewhere a load.
    pub fn warm(&self, keys: impl Iterator<Item = i64>) {
        #[cfg(target_arch = "x86_64")]
        for key in keys {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let slot: *const Slot = &self.slots[self.home(key)];
            // SAFETY: SSE is part of x86_64, and a prefetch never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot.cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let lines = keys.fold(0u64, |acc, key| acc ^ self.slots[self.home(key)].line);
            std::hint::black_box(lines);
        }
    }
}

/// Bytes of a transparent huge page on x86_64 Linux.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// `slots` free slots; on Linux, a large array asks for transparent huge
/// pages. Claims land at random across the whole array: with 4 KiB pages
/// nearly every claim also misses the TLB and walks the page tables, and a
/// prefetch that must walk them waits for it, so the fetches of
/// [`IntIndex::warm`] barely overlap. With 2 MiB pages a 32 MiB index
/// needs 16 TLB entries.
fn huge_zeroed_slots(slots: usize) -> Vec<Slot> {
    // `vec![Slot::default(); n]` would write every slot (it zero-fills
    // only arrays of primitives); memory allocated zeroed comes from mmap
    // untouched, so the advice is given before any page is faulted in.
    let layout = std::alloc::Layout::array::<Slot>(slots).expect("the index fits in memory");
    let slots = if layout.size() == 0 {
        Vec::new()
    } else {
        // SAFETY: the layout is not empty; all-zero bytes are a valid
        // (free) `Slot`; the pointer comes from the global allocator with
        // the layout of a `Vec<Slot>` of this capacity, as
        // `Vec::from_raw_parts` requires.
        unsafe {
            let data = std::alloc::alloc_zeroed(layout).cast::<Slot>();
            if data.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Vec::from_raw_parts(data, slots, slots)
        }
    };
    #[cfg(target_os = "linux")]
    {
        let start = slots.as_ptr() as usize;
        let end = start + std::mem::size_of_val(slots.as_slice());
        let aligned_start = start.next_multiple_of(HUGE_PAGE);
        let aligned_end = end / HUGE_PAGE * HUGE_PAGE;
        if aligned_end > aligned_start {
            // SAFETY: the range lies inside the vector's allocation, which
            // outlives the call; the advice changes how its pages are
            // backed, never their contents. Failure (THP disabled) is
            // harmless: the pages stay small.
            unsafe {
                libc::madvise(
                    aligned_start as *mut libc::c_void,
                    aligned_end - aligned_start,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    slots
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn claims_a_key_once_and_names_its_first_line() {
        let mut index = IntIndex::default();
        assert_eq!(index.claim(7, 2), None);
        assert_eq!(index.claim(-7, 3), None);
        assert_eq!(index.claim(7, 9), Some(2));
        assert_eq!(index.get(7), Some(2));
        assert_eq!(index.get(8), None);
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn sizes_itself_to_the_smallest_power_of_two_that_holds_the_keys() {
        for slots in [16, 1 << 10, 1 << 21] {
            let full = slots / MAX_LOAD.1 * MAX_LOAD.0;
            assert_eq!(IntIndex::with_capacity(full).slots.len(), slots);
            assert_eq!(IntIndex::with_capacity(full + 1).slots.len(), slots * 2);
        }
    }

    #[test]
    fn a_large_index_starts_free_in_every_slot() {
        // Large enough for huge pages: allocated zeroed, not written.
        let mut index = IntIndex::with_capacity(1 << 20);
        assert!(index.slots.iter().all(|slot| slot.line == 0));
        assert_eq!(index.claim(0, 1), None);
        assert_eq!(index.claim(0, 2), Some(1));
    }

    #[test]
    fn grows_and_keeps_every_key() {
        let mut index = IntIndex::default();
        for key in 0..10_000 {
            assert_eq!(index.claim(key * 1_000_003, key as u64 + 1), None);
        }
        assert!(index.slots.len() * MAX_LOAD.0 / MAX_LOAD.1 >= 10_000);
        for key in 0..10_000 {
            assert_eq!(index.get(key * 1_000_003), Some(key as u64 + 1));
        }
    }

    #[test]
    fn a_reservation_is_made_once_and_keeps_what_was_claimed() {
        let mut index = IntIndex::default();
        index.claim(i64::MIN, 5);
        index.reserve(1000);
        let slots = index.slots.len();
        assert!(index.capacity() >= 1000);
        for key in 0..1000 {
            index.claim(key, 6);
        }
        assert_eq!(index.slots.len(), slots, "no growth within the reservation");
        assert_eq!(index.get(i64::MIN), Some(5));
    }

    proptest! {
        /// The index answers as a map would, for any keys in any order.
        #[test]
        fn agrees_with_a_map(keys in prop::collection::vec(-50i64..50, 0..300)) {
            let mut index = IntIndex::default();
            let mut map = std::collections::HashMap::new();
            for (i, key) in keys.iter().enumerate() {
                let line = i as u64 + 1;
                let expected = map.get(key).copied();
                map.entry(*key).or_insert(line);
                prop_assert_eq!(index.claim(*key, line), expected);
            }
            prop_assert_eq!(index.len(), map.len());
        }
    }
}
