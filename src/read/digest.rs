//! The BLAKE3 digest of the input, computed as it is read: on the reading
//! thread, on a thread of its own so that hashing overlaps reading, or
//! block by block on the threads that read the blocks.
//!
//! The hash is one pass over every byte and a large part of reading.
//! BLAKE3 hashes the 1 KiB pieces of a block side by side in SIMD lanes,
//! several times as fast as SHA-256 even with the CPU's SHA extensions.
//! On its own thread it no longer adds to the reader's: the reader only
//! copies each block it reads into a bounded queue. And because BLAKE3 is
//! a tree, a file read in fixed blocks of a power-of-two size need not be
//! hashed in order at all: each block is a subtree, hashed by whichever
//! thread read it ([`hash_block`]), and the subtrees are joined in file
//! order ([`TreeDigest`]), the same digest as one pass over the file.

use std::sync::mpsc;
use std::thread::JoinHandle;

/// Blocks queued for the hashing thread; the reader waits beyond this.
const QUEUED_BLOCKS: usize = 8;

/// A running BLAKE3 hash over the blocks given to [`StreamDigest::update`].
#[derive(Debug)]
pub(crate) enum StreamDigest {
    /// Hashed on the caller's thread.
    Inline(Box<blake3::Hasher>),
    /// Hashed on a thread of its own, fed copies of the blocks.
    Threaded {
        /// The queue to the hashing thread (`None` once closed).
        blocks: Option<mpsc::SyncSender<Vec<u8>>>,
        /// The hashing thread; it returns the hasher when the queue closes.
        thread: Option<JoinHandle<Box<blake3::Hasher>>>,
    },
}

impl Default for StreamDigest {
    fn default() -> Self {
        StreamDigest::Inline(Box::default())
    }
}

impl StreamDigest {
    /// Moves the hashing, and what was hashed so far, to a thread of its own.
    pub(crate) fn on_own_thread(&mut self) {
        let StreamDigest::Inline(hasher) = self else {
            return;
        };
        let mut hasher = std::mem::take(hasher);
        let (blocks, queue) = mpsc::sync_channel::<Vec<u8>>(QUEUED_BLOCKS);
        let thread = std::thread::spawn(move || {
            for block in queue {
                hasher.update(&block);
            }
            hasher
        });
        *self = StreamDigest::Threaded {
            blocks: Some(blocks),
            thread: Some(thread),
        };
    }

    /// Adds the next bytes of the stream.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            StreamDigest::Inline(hasher) => {
                hasher.update(bytes);
            }
            StreamDigest::Threaded { blocks, .. } => {
                // A send fails only if the thread is gone (it panicked):
                // `finish` raises that panic.
                if let Some(blocks) = blocks {
                    let _ = blocks.send(bytes.to_vec());
                }
            }
        }
    }

    /// The digest of every byte given, as lower-case hex.
    pub(crate) fn finish(mut self) -> String {
        let hasher = match &mut self {
            StreamDigest::Inline(hasher) => std::mem::take(hasher),
            StreamDigest::Threaded { blocks, thread } => {
                drop(blocks.take());
                match thread.take().map(JoinHandle::join) {
                    Some(Ok(hasher)) => hasher,
                    Some(Err(panic)) => std::panic::resume_unwind(panic),
                    None => unreachable!("the thread is joined only here or on drop"),
                }
            }
        };
        hasher.finalize().to_hex().to_string()
    }
}

impl Drop for StreamDigest {
    /// Closes the queue and waits for the hashing thread, so that nothing
    /// outlives the reader (a panic there was already raised or is moot).
    fn drop(&mut self) {
        if let StreamDigest::Threaded { blocks, thread } = self {
            drop(blocks.take());
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// One block of the input hashed on its own, at its offset in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHash {
    /// The block's chaining value, to be joined with its neighbours'.
    cv: blake3::hazmat::ChainingValue,
    /// The digest of the input, when the block is all of it.
    whole: Option<blake3::Hash>,
}

/// A hasher for the block of the input that starts at `offset`: a multiple
/// of the block size, a power of two of at least [`blake3::CHUNK_LEN`].
pub(crate) fn block_hasher(offset: u64) -> blake3::Hasher {
    use blake3::hazmat::HasherExt;
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(offset);
    hasher
}

/// Feeds `hasher` a block's bytes given in two pieces, `head` then `rest`.
///
/// BLAKE3 hashes 16 of its 1 KiB chunks side by side, but only within
/// subtrees that the input's position allows: after a short first piece it
/// goes on one chunk at a time, then two, four... (a block hashed as 700
/// bytes and the rest took 20% longer than whole). So the head and the
/// start of the rest are copied together into the first 16 KiB, and the
/// rest then starts where 16-chunk subtrees can.
pub(crate) fn update_in_two(hasher: &mut blake3::Hasher, head: &[u8], rest: &[u8]) {
    const LEAD: usize = 16 * blake3::CHUNK_LEN;
    if head.is_empty() || head.len() >= LEAD {
        hasher.update(head);
        hasher.update(rest);
        return;
    }
    let mut lead = [0u8; LEAD];
    let taken = (LEAD - head.len()).min(rest.len());
    lead[..head.len()].copy_from_slice(head);
    lead[head.len()..head.len() + taken].copy_from_slice(&rest[..taken]);
    hasher.update(&lead[..head.len() + taken]);
    hasher.update(&rest[taken..]);
}

/// The hash of a block from what `hasher` ([`block_hasher`]) was fed: all
/// of the block, never nothing. `whole`: the block is the whole input.
pub(crate) fn hash_block(hasher: &blake3::Hasher, whole: bool) -> BlockHash {
    use blake3::hazmat::HasherExt;
    BlockHash {
        cv: hasher.finalize_non_root(),
        whole: whole.then(|| hasher.finalize()),
    }
}

/// Joins the hashes of equal blocks (the last may be shorter), given in
/// file order, into the digest of the whole input.
///
/// The blocks are subtrees of BLAKE3's tree, and this is BLAKE3's own
/// stack of subtrees one level up: before a block is pushed, the subtrees
/// completed by the blocks before it are merged; at the end, the stack is
/// merged from the right, the last merge being the root.
#[derive(Debug, Default)]
pub(crate) struct TreeDigest {
    stack: Vec<blake3::hazmat::ChainingValue>,
    blocks: u64,
    whole: Option<blake3::Hash>,
}

impl TreeDigest {
    /// Adds the next block.
    pub(crate) fn push(&mut self, block: BlockHash) {
        use blake3::hazmat::{Mode, merge_subtrees_non_root};
        while self.stack.len() > self.blocks.count_ones() as usize {
            let (Some(right), Some(left)) = (self.stack.pop(), self.stack.pop()) else {
                unreachable!("more entries than set bits means at least two");
            };
            self.stack
                .push(merge_subtrees_non_root(&left, &right, Mode::Hash));
        }
        self.stack.push(block.cv);
        self.blocks += 1;
        self.whole = block.whole;
    }

    /// The digest of every block pushed, as lower-case hex.
    pub(crate) fn finish(mut self) -> String {
        use blake3::hazmat::{Mode, merge_subtrees_non_root, merge_subtrees_root};
        let root = match self.blocks {
            0 => blake3::hash(b""),
            1 => self
                .whole
                .expect("a lone block is hashed as the whole input"),
            _ => {
                let mut right = self.stack.pop().expect("two blocks or more");
                while self.stack.len() > 1 {
                    let left = self.stack.pop().expect("checked");
                    right = merge_subtrees_non_root(&left, &right, Mode::Hash);
                }
                merge_subtrees_root(&self.stack[0], &right, Mode::Hash)
            }
        };
        root.to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The digest of `data` hashed in blocks of `block` bytes.
    fn by_blocks(data: &[u8], block: usize) -> String {
        let mut tree = TreeDigest::default();
        let count = data.len().div_ceil(block);
        for (i, bytes) in data.chunks(block).enumerate() {
            let mut hasher = block_hasher((i * block) as u64);
            // Fed in two pieces, as a reader that found a record's start
            // in a probe of the block's first bytes feeds it.
            let (head, rest) = bytes.split_at(bytes.len().min(100 + i * 700));
            update_in_two(&mut hasher, head, rest);
            tree.push(hash_block(&hasher, count == 1));
        }
        tree.finish()
    }

    proptest! {
        /// Blocks joined in order give BLAKE3's digest of the whole, for
        /// any length around any number of blocks.
        #[test]
        fn blocks_joined_are_the_digest_of_the_whole(
            blocks in 0usize..40,
            extra in 0usize..3000,
            size_log in 10u32..13,
        ) {
            let block = 1usize << size_log;
            let len = (blocks * block + extra).saturating_sub(1500);
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            prop_assert_eq!(by_blocks(&data, block), crate::read::input::blake3_hex(&data));
        }
    }

    #[test]
    fn two_pieces_hash_as_their_concatenation() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
        for head in [0, 1, 700, 16_383, 16_384, 16_385, 20_000] {
            for len in [head, head + 1, head + 16_000, 70_000] {
                let (bytes, cut) = (&data[..len], head);
                let mut two = blake3::Hasher::new();
                update_in_two(&mut two, &bytes[..cut], &bytes[cut..]);
                assert_eq!(two.finalize(), blake3::hash(bytes), "{head} {len}");
            }
        }
    }

    #[test]
    fn exact_multiples_of_the_block_size_join_to_the_whole() {
        for blocks in [1usize, 2, 3, 4, 5, 7, 8, 9, 16, 17] {
            let data = vec![7u8; blocks * 1024];
            assert_eq!(
                by_blocks(&data, 1024),
                crate::read::input::blake3_hex(&data),
                "{blocks}"
            );
        }
        assert_eq!(by_blocks(b"", 1024), crate::read::input::blake3_hex(b""));
    }

    fn digest_of(blocks: &[&[u8]], thread_after: Option<usize>) -> String {
        let mut digest = StreamDigest::default();
        for (i, block) in blocks.iter().enumerate() {
            if thread_after == Some(i) {
                digest.on_own_thread();
            }
            digest.update(block);
        }
        digest.finish()
    }

    #[test]
    fn inline_and_threaded_hash_the_same_stream_alike() {
        let data: Vec<u8> = (0..200_000u32).flat_map(u32::to_le_bytes).collect();
        let blocks: Vec<&[u8]> = data.chunks(65_536).collect();
        let want = crate::read::input::blake3_hex(&data);
        assert_eq!(digest_of(&blocks, None), want);
        // Moved to a thread before any byte, and halfway through.
        assert_eq!(digest_of(&blocks, Some(0)), want);
        assert_eq!(digest_of(&blocks, Some(blocks.len() / 2)), want);
        assert_eq!(digest_of(&[], Some(0)), crate::read::input::blake3_hex(b""));
    }

    #[test]
    fn a_digest_dropped_unfinished_stops_its_thread() {
        let mut digest = StreamDigest::default();
        digest.on_own_thread();
        digest.update(&[1; 1000]);
        drop(digest);
    }
}
