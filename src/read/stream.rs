//! A byte source read in chunks cut after line breaks, every byte hashed:
//! the serial reader, for standard input and other streams (a regular file
//! is read in blocks by every thread, see [`crate::read::blocks`]).

use std::io::{self, Read};

use crate::read::digest::StreamDigest;
use crate::read::input::{CHUNK_BYTES, Chunk, SPARE_BUFFERS, count_breaks};

/// Reads a byte source in chunks cut after line breaks, hashing every byte.
#[derive(Debug)]
pub struct ChunkReader<R> {
    source: R,
    digest: StreamDigest,
    bytes: u64,
    /// Read but not yet handed out; starts where the next chunk starts.
    pending: Vec<u8>,
    line: u64,
    after_cr: bool,
    starts_file: bool,
    eof: bool,
    /// The last chunk (marked `eof`) was handed out.
    done: bool,
    chunk_bytes: usize,
    /// A chunk given back, handed out again before anything new.
    unread: Option<Chunk>,
    /// Buffers of consumed chunks, reused for the next ones: memory that
    /// is already mapped (fresh pages cost a fault each).
    spare: Vec<Vec<u8>>,
}

impl<R: Read> ChunkReader<R> {
    /// A reader at the start of `source`.
    pub fn new(source: R) -> Self {
        Self::with_chunk_bytes(source, CHUNK_BYTES)
    }

    /// A reader that reads `chunk_bytes` at a time (tests cut small chunks
    /// to put cuts everywhere).
    pub fn with_chunk_bytes(source: R, chunk_bytes: usize) -> Self {
        ChunkReader {
            chunk_bytes: chunk_bytes.max(1),
            unread: None,
            source,
            digest: StreamDigest::default(),
            bytes: 0,
            pending: Vec::new(),
            line: 1,
            after_cr: false,
            starts_file: true,
            eof: false,
            done: false,
            spare: Vec::new(),
        }
    }

    /// Takes back the buffer of a chunk that was consumed, for reuse.
    pub fn recycle(&mut self, mut data: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && data.capacity() > 0 {
            data.clear();
            self.spare.push(data);
        }
    }

    /// Hashes on a thread of its own from now on, so that hashing overlaps
    /// reading (worth it when workers, not this reader, are many).
    pub fn hash_on_own_thread(&mut self) {
        self.digest.on_own_thread();
    }

    /// Gives a chunk back: the next call of [`ChunkReader::next_chunk`]
    /// returns it (what follows the header goes back this way).
    pub fn unread(&mut self, chunk: Chunk) {
        self.unread = Some(chunk);
    }

    /// About how many records an input of `size` bytes holds, judged by
    /// the lines of the chunk given back (none: `None`).
    pub fn rows_hint(&self, size: u64) -> Option<u64> {
        let sample = &self.unread.as_ref()?.data;
        let lines = memchr::memchr_iter(b'\n', sample).count() as u64;
        (lines > 0).then(|| size.saturating_mul(lines) / sample.len() as u64)
    }

    /// The next chunk; `None` once the input is exhausted.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(chunk) = self.unread.take() {
            return Ok(Some(chunk));
        }
        loop {
            // csv-core strips a byte order mark only when it sees it whole.
            let wanted = if self.starts_file { 3 } else { 1 };
            if !self.eof && self.pending.len() < self.chunk_bytes.max(wanted) {
                self.fill()?;
                continue;
            }
            if self.eof {
                // The last chunk is always marked, even when empty, so that
                // a record left open by the one before it ends here.
                if self.done {
                    return Ok(None);
                }
                self.done = true;
                let data = std::mem::take(&mut self.pending);
                return Ok(Some(self.emit(data, true)));
            }
            // Cut after the last line break whose meaning is settled: a CR
            // at the very end may still be the first half of a CR LF.
            let searched = match self.pending.last() {
                Some(b'\r') => &self.pending[..self.pending.len() - 1],
                _ => &self.pending[..],
            };
            let cut = memchr::memrchr2(b'\n', b'\r', searched).map(|at| at + 1);
            match cut {
                Some(cut) => {
                    let mut rest = self.spare.pop().unwrap_or_default();
                    rest.extend_from_slice(&self.pending[cut..]);
                    let mut data = std::mem::replace(&mut self.pending, rest);
                    data.truncate(cut);
                    return Ok(Some(self.emit(data, false)));
                }
                // A line longer than two chunks: hand it out uncut; the
                // pipeline joins the pieces (or spills an oversized record).
                None if self.pending.len() >= 2 * self.chunk_bytes => {
                    let data = std::mem::take(&mut self.pending);
                    return Ok(Some(self.emit(data, false)));
                }
                None => self.fill()?,
            }
        }
    }

    /// Reads up to one chunk's worth of bytes into `pending`.
    fn fill(&mut self) -> io::Result<()> {
        let start = self.pending.len();
        self.pending.reserve(self.chunk_bytes);
        // `read_to_end` reads into the spare capacity without zeroing it
        // first (where the source can, as a file can) and retries on
        // interruption; short of a chunk, the source is exhausted.
        let wanted = self.chunk_bytes as u64;
        let read = (&mut self.source)
            .take(wanted)
            .read_to_end(&mut self.pending)?;
        self.eof = (read as u64) < wanted;
        self.digest.update(&self.pending[start..]);
        self.bytes += read as u64;
        Ok(())
    }

    fn emit(&mut self, data: Vec<u8>, eof: bool) -> Chunk {
        let chunk = Chunk {
            first_line: self.line,
            after_cr: self.after_cr,
            eof,
            starts_file: self.starts_file,
            data,
            block_hash: None,
        };
        let mut after_cr = self.after_cr;
        self.line += count_breaks(&chunk.data, &mut after_cr);
        self.after_cr = after_cr;
        self.starts_file = false;
        chunk
    }

    /// Bytes read and their hex BLAKE3 digest; call once the chunks are exhausted.
    pub fn finish(self) -> (u64, String) {
        (self.bytes, self.digest.finish())
    }
}
