//! The index of integer keys that uniqueness claims: each key with the
//! line of the record that claimed it.
//!
//! An index of a million keys is far larger than the caches, and every
//! key lands in a random place of it, so each claim is a cache miss: with
//! thousands of instructions of row checks between two claims, nothing
//! overlaps them, and a miss costs the full trip to memory. This index is
//! laid out so that a claim touches one cache line: keys live in buckets of
//! four slots, one aligned cache line each, a key stored with its line in
//! its slot (std's map reads a control byte and then writes a bucket
//! elsewhere); a key goes to the first free slot from its home bucket on
//! (linear probing, a bucket at a time), so its home bucket nearly always
//! holds it. And the home buckets of the keys about to be claimed can be
//! fetched first, one after another ([`IntIndex::warm`]): those misses
//! overlap.

// The crate denies unsafe code; this module alone has two sound, documented
// uses (a prefetch hint and a zeroed allocation), each with its SAFETY note.
#![allow(unsafe_code)]

use std::hash::BuildHasher;

/// A hasher seeded per process: fast, and keys from a file cannot be
/// chosen to collide.
pub(crate) type Hasher = foldhash::fast::RandomState;

/// A key and the line that claimed it; line 0 (no record has it) marks a
/// free slot.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: i64,
    line: u64,
}

/// Slots per bucket: as many as fill a cache line.
const BUCKET_SLOTS: usize = 4;

/// One cache line of slots.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket([Slot; BUCKET_SLOTS]);

/// Integer keys, each with the line that claimed it first.
#[derive(Debug)]
pub(crate) struct IntIndex {
    buckets: Vec<Bucket>,
    len: usize,
    /// 64 minus log2 of the bucket count: a hash's top bits pick the bucket.
    shift: u32,
    hasher: Hasher,
}

impl Default for IntIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// The most slots in use before the index grows, as a fraction: probes
/// rarely leave the home bucket below it.
const MAX_LOAD: (usize, usize) = (5, 8);

impl IntIndex {
    /// An index that holds `keys` keys before it grows.
    pub(crate) fn with_capacity(keys: usize) -> Self {
        let slots = keys
            .saturating_mul(MAX_LOAD.1)
            .div_ceil(MAX_LOAD.0)
            .next_power_of_two()
            .max(16);
        let buckets = slots / BUCKET_SLOTS;
        IntIndex {
            buckets: zeroed_buckets(buckets),
            len: 0,
            shift: 64 - buckets.trailing_zeros(),
            hasher: Hasher::default(),
        }
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Makes room for `keys` keys in all, growing once now instead of
    /// step by step.
    pub(crate) fn reserve(&mut self, keys: usize) {
        if keys > self.capacity() {
            self.rebuild(Self::with_capacity(keys));
        }
    }

    fn capacity(&self) -> usize {
        Self::capacity_of(self.buckets.len() * BUCKET_SLOTS)
    }

    /// How many keys an index of `slots` slots holds before it grows.
    pub(crate) const fn capacity_of(slots: usize) -> usize {
        slots / MAX_LOAD.1 * MAX_LOAD.0
    }

    /// The hash of `key` that this index places it by: it may be computed
    /// elsewhere (on another thread, with a clone of [`IntIndex::hasher`])
    /// and handed to the `_hashed` methods.
    pub(crate) fn hash(&self, key: i64) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The hasher of this index's keys.
    pub(crate) fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    /// The bucket and slot holding `key` (whose hash is `hash`), or the
    /// free slot where it would go.
    fn find(&self, key: i64, hash: u64) -> (usize, usize) {
        let mask = self.buckets.len() - 1;
        let mut at = self.home(hash);
        loop {
            for (i, slot) in self.buckets[at].0.iter().enumerate() {
                if slot.line == 0 || slot.key == key {
                    return (at, i);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The line that claimed `key`, if one did.
    #[cfg(test)]
    pub(crate) fn get(&self, key: i64) -> Option<u64> {
        self.get_hashed(key, self.hash(key))
    }

    /// [`IntIndex::get`] of a key whose [`IntIndex::hash`] is `hash`.
    pub(crate) fn get_hashed(&self, key: i64, hash: u64) -> Option<u64> {
        let (at, i) = self.find(key, hash);
        let line = self.buckets[at].0[i].line;
        (line != 0).then_some(line)
    }

    /// Claims `key` for `line` unless an earlier line did: returns that
    /// earlier line then, and changes nothing.
    #[cfg(test)]
    pub(crate) fn claim(&mut self, key: i64, line: u64) -> Option<u64> {
        self.claim_hashed(key, self.hash(key), line)
    }

    /// [`IntIndex::claim`] of a key whose [`IntIndex::hash`] is `hash`.
    pub(crate) fn claim_hashed(&mut self, key: i64, hash: u64, line: u64) -> Option<u64> {
        debug_assert!(line > 0, "lines start at 1");
        debug_assert_eq!(hash, self.hash(key), "the hash of this index");
        let (at, i) = self.find(key, hash);
        let slot = &mut self.buckets[at].0[i];
        if slot.line != 0 {
            return Some(slot.line);
        }
        *slot = Slot { key, line };
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
        let held = self.buckets.iter().flat_map(|b| b.0.iter());
        for slot in held.filter(|s| s.line != 0) {
            let (at, i) = bigger.find(slot.key, bigger.hash(slot.key));
            bigger.buckets[at].0[i] = *slot;
        }
        bigger.len = self.len;
        *self = bigger;
    }

    /// Fetches the home bucket of every key into the cache, so that the
    /// claims of those keys that follow find it there; the fetches do not
    /// depend on each other, so their misses overlap. On x86_64 each is a
    /// prefetch, which does not wait for its line (a load holds the
    /// processor's window until its miss is served); elsewhere a load.
    ///
    /// The keys are given by their [`IntIndex::hash`].
    pub(crate) fn warm(&self, hashes: impl Iterator<Item = u64>) {
        #[cfg(target_arch = "x86_64")]
        for hash in hashes {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let bucket: *const Bucket = &self.buckets[self.home(hash)];
            // SAFETY: SSE is part of x86_64, and a prefetch never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(bucket.cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let lines = hashes.fold(0u64, |acc, hash| {
                acc ^ self.buckets[self.home(hash)].0[0].line
            });
            std::hint::black_box(lines);
        }
    }
}

/// `buckets` free buckets, allocated zeroed: memory that large comes from
/// the system untouched, and a page is faulted in when a claim first lands
/// on it (`vec![Bucket::default(); n]` would write every bucket up front:
/// it zero-fills only arrays of primitives).
///
/// Transparent huge pages (`madvise(MADV_HUGEPAGE)`) were tried for the
/// index: with the buckets fetched ahead they measured no faster, and one
/// run in five stalled 0.7 s compacting memory to find them.
fn zeroed_buckets(buckets: usize) -> Vec<Bucket> {
    let layout = std::alloc::Layout::array::<Bucket>(buckets).expect("the index fits in memory");
    if layout.size() == 0 {
        return Vec::new();
    }
    // SAFETY: the layout is not empty; all-zero bytes are a valid (free)
    // `Bucket`; the pointer comes from the global allocator with the
    // layout of a `Vec<Bucket>` of this capacity, as `Vec::from_raw_parts`
    // requires.
    unsafe {
        let data = std::alloc::alloc_zeroed(layout).cast::<Bucket>();
        if data.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(data, buckets, buckets)
    }
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
            let slots_of = |index: IntIndex| index.buckets.len() * BUCKET_SLOTS;
            assert_eq!(slots_of(IntIndex::with_capacity(full)), slots);
            assert_eq!(slots_of(IntIndex::with_capacity(full + 1)), slots * 2);
        }
    }

    #[test]
    fn a_large_index_starts_free_in_every_slot() {
        // Allocated zeroed, not written.
        let mut index = IntIndex::with_capacity(1 << 20);
        assert!(
            index
                .buckets
                .iter()
                .all(|b| b.0.iter().all(|slot| slot.line == 0))
        );
        assert_eq!(
            index.buckets.as_ptr() as usize % 64,
            0,
            "a bucket is a cache line"
        );
        assert_eq!(index.claim(0, 1), None);
        assert_eq!(index.claim(0, 2), Some(1));
    }

    #[test]
    fn grows_and_keeps_every_key() {
        let mut index = IntIndex::default();
        for key in 0..10_000 {
            assert_eq!(index.claim(key * 1_000_003, key as u64 + 1), None);
        }
        assert!(index.capacity() >= 10_000);
        for key in 0..10_000 {
            assert_eq!(index.get(key * 1_000_003), Some(key as u64 + 1));
        }
    }

    #[test]
    fn a_reservation_is_made_once_and_keeps_what_was_claimed() {
        let mut index = IntIndex::default();
        index.claim(i64::MIN, 5);
        index.reserve(1000);
        let buckets = index.buckets.len();
        assert!(index.capacity() >= 1000);
        for key in 0..1000 {
            index.claim(key, 6);
        }
        assert_eq!(
            index.buckets.len(),
            buckets,
            "no growth within the reservation"
        );
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
