//! The BLAKE3 digest of the input, computed as it is read: on the reading
//! thread, or on a thread of its own so that hashing overlaps reading.
//!
//! The hash is one serial pass over every byte and a large part of the
//! reader's work. BLAKE3 hashes the 1 KiB pieces of a block side by side
//! in SIMD lanes, several times as fast as SHA-256 even with the CPU's SHA
//! extensions. On its own thread it no longer adds to the reader's: the
//! reader only copies each block it reads into a bounded queue.

use std::sync::mpsc;
use std::thread::JoinHandle;

/// Blocks queued for the hashing thread; the reader waits beyond this.
const QUEUED_BLOCKS: usize = 8;

/// A running BLAKE3 hash over the blocks given to [`StreamDigest::update`].
#[derive(Debug)]
pub enum StreamDigest {
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
    pub fn on_own_thread(&mut self) {
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
    pub fn update(&mut self, bytes: &[u8]) {
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
    pub fn finish(mut self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let want = crate::input::blake3_hex(&data);
        assert_eq!(digest_of(&blocks, None), want);
        // Moved to a thread before any byte, and halfway through.
        assert_eq!(digest_of(&blocks, Some(0)), want);
        assert_eq!(digest_of(&blocks, Some(blocks.len() / 2)), want);
        assert_eq!(digest_of(&[], Some(0)), crate::input::blake3_hex(b""));
    }

    #[test]
    fn a_digest_dropped_unfinished_stops_its_thread() {
        let mut digest = StreamDigest::default();
        digest.on_own_thread();
        digest.update(&[1; 1000]);
        drop(digest);
    }
}
