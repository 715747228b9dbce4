//! Reading a file in fixed blocks at their offsets, so that every thread of
//! a pass reads, hashes and cuts blocks of its own: no stage of reading is
//! left for one thread to do for all.
//!
//! Block `k` is the bytes `[k·S, (k+1)·S)` of the file. Its *chunk*, what is
//! parsed, runs from the end of the first line break at or after `k·S` to
//! the end of the first line break at or after `(k+1)·S` (past the records'
//! start, which follows the header). The thread that reads block `k` finds
//! both cuts itself, the second by reading on into the next block until a
//! line break, and the thread of block `k+1` finds the same cut from the
//! same bytes by the same rule: neighbours agree without talking. A block
//! with no line break at all is cut at its own start (a line longer than a
//! block: the pass joins the pieces, as it joins records whose quoted
//! fields hold line breaks; see [`crate::read::pipeline`]).
//!
//! What a block cannot know alone is the line it starts on: its reader
//! counts the chunk's line breaks, and the pass adds the counts up in file
//! order. The file's digest is joined in file order from the blocks' hashes
//! ([`crate::read::digest::TreeDigest`]).

use std::fs::File;
use std::io;

use crate::read::digest::{BlockHash, block_hasher, hash_block, update_in_two};
use crate::read::input::count_breaks;

/// Bytes read first to find where a block's chunk starts: lines are far
/// shorter, so this nearly always holds the break.
const PROBE: u64 = 4096;

/// Where the records of a file begin: after its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsStart {
    /// Byte offset of the first byte after the header's line terminator.
    pub offset: u64,
    /// The line that byte lies on.
    pub line: u64,
}

/// One block as read: its chunk and what the pass needs to place it.
#[derive(Debug)]
pub struct BlockRead {
    /// The chunk's bytes (empty for a block that holds only the header or
    /// the middle of a line).
    pub data: Vec<u8>,
    /// The byte before the chunk is a CR.
    pub after_cr: bool,
    /// Line breaks in the chunk, as [`count_breaks`] counts them.
    pub breaks: u64,
    /// The block is the file's last.
    pub eof: bool,
    /// The chunk starts the file (no header came before its records): a
    /// byte order mark there is stripped.
    pub starts_file: bool,
    /// The block's hash.
    pub hash: BlockHash,
}

/// A file read in blocks of a fixed power-of-two size, from any thread.
#[derive(Debug)]
pub struct BlockReader<'a> {
    file: &'a File,
    len: u64,
    block: u64,
    start: RecordsStart,
}

impl<'a> BlockReader<'a> {
    /// A reader of the first `len` bytes of `file`, in blocks of `block`
    /// bytes (a power of two of at least 1 KiB: each block is a subtree of
    /// BLAKE3's tree), whose records begin at `start`.
    pub fn new(file: &'a File, len: u64, block: usize, start: RecordsStart) -> Self {
        assert!(
            block.is_power_of_two() && block >= blake3::CHUNK_LEN,
            "blocks are subtrees of BLAKE3's tree"
        );
        BlockReader {
            file,
            len,
            block: block as u64,
            start,
        }
    }

    /// How many blocks the file holds.
    pub fn blocks(&self) -> u64 {
        self.len.div_ceil(self.block)
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The line on which the records begin.
    pub fn start_line(&self) -> u64 {
        self.start.line
    }

    /// Reads block `k` (below [`BlockReader::blocks`]): its chunk into
    /// `data` (a buffer to reuse: its old bytes are overwritten, and only
    /// growth is zeroed), with `scratch` for the bytes before the chunk.
    pub fn read(&self, k: u64, mut data: Vec<u8>, scratch: &mut Vec<u8>) -> io::Result<BlockRead> {
        let base = k * self.block;
        let end = (base + self.block).min(self.len);
        let eof = end == self.len;
        // The head: the bytes before the chunk, from the one before the
        // block (a CR there means a LF opening the chunk ends no line).
        let origin = base.saturating_sub(1);
        scratch.clear();
        let cut = if k == 0 {
            0
        } else {
            self.cut(base, end, scratch, origin)?
        };
        let start = cut.max(self.start.offset);
        // The chunk's bytes in this block, read in one go; the head is
        // what comes before them.
        let in_block = start.min(end);
        self.fill(scratch, origin, in_block)?;
        overwrite(self, &mut data, in_block, end)?;
        let mut hasher = block_hasher(base);
        let head = &scratch[index(base - origin)..index(in_block - origin)];
        update_in_two(&mut hasher, head, &data);
        let hash = hash_block(&hasher, self.blocks() == 1);
        // The chunk ends with the next block's first line break: read on
        // to it (its first line, usually).
        let chunk_end = if eof {
            self.len
        } else {
            self.cut(end, (end + self.block).min(self.len), &mut data, in_block)?
        };
        let (data, after_cr, breaks) = if chunk_end > start {
            // A chunk that starts past this block's end would hold no line
            // break, and one ends it (see the module's rule): it is empty.
            debug_assert_eq!(start, in_block, "a chunk with bytes starts in its block");
            data.truncate(index(chunk_end - start));
            let after_cr = start
                .checked_sub(1)
                .is_some_and(|before| scratch[index(before - origin)] == b'\r');
            let breaks = count_breaks(&data, &mut after_cr.clone());
            (data, after_cr, breaks)
        } else {
            data.clear();
            (data, false, 0)
        };
        Ok(BlockRead {
            data,
            after_cr,
            breaks,
            eof,
            starts_file: start == 0,
            hash,
        })
    }

    /// The end of the first line break that starts in `[from, limit)`, or
    /// `from` when there is none; `buf` holds the file's bytes from
    /// `origin` on, and is read on as far as the search needs.
    fn cut(&self, from: u64, limit: u64, buf: &mut Vec<u8>, origin: u64) -> io::Result<u64> {
        let mut scanned = from;
        let mut until = (from + PROBE).min(limit);
        loop {
            // One byte more: a CR's LF, if it has one.
            self.fill(buf, origin, (until + 1).min(self.len))?;
            let window = &buf[index(scanned - origin)..index(until - origin)];
            if let Some(i) = memchr::memchr2(b'\n', b'\r', window) {
                let at = scanned + i as u64;
                let crlf = buf[index(at - origin)] == b'\r'
                    && buf.get(index(at + 1 - origin)) == Some(&b'\n');
                return Ok(at + 1 + u64::from(crlf));
            }
            if until == limit {
                return Ok(from);
            }
            scanned = until;
            until = limit;
        }
    }

    /// Makes `buf`, which holds the file's bytes from `origin` on, hold
    /// them up to `to` (it may hold more).
    fn fill(&self, buf: &mut Vec<u8>, origin: u64, to: u64) -> io::Result<()> {
        let have = origin + buf.len() as u64;
        if to > have {
            self.fill_at(buf, have, to)?;
        }
        Ok(())
    }

    /// Appends the file's bytes `[from, to)` to `buf`.
    fn fill_at(&self, buf: &mut Vec<u8>, from: u64, to: u64) -> io::Result<()> {
        if to <= from {
            return Ok(());
        }
        let old = buf.len();
        buf.resize(old + index(to - from), 0);
        self.read_exact_at(&mut buf[old..], from)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_exact_at(self.file, buf, offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file shrank while it was read (it had {} bytes when opened)",
                        self.len
                    ),
                )
            } else {
                e
            }
        })
    }
}

/// Makes `buf` hold exactly the file's bytes `[from, to)`, overwriting
/// what it held: memory it already holds is not zeroed first.
fn overwrite(reader: &BlockReader<'_>, buf: &mut Vec<u8>, from: u64, to: u64) -> io::Result<()> {
    let len = index(to.saturating_sub(from));
    if buf.len() < len {
        buf.resize(len, 0);
    } else {
        buf.truncate(len);
    }
    reader.read_exact_at(buf, from)
}

fn index(n: u64) -> usize {
    usize::try_from(n).expect("offsets within a buffer fit in memory")
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;
    use crate::read::digest::TreeDigest;

    /// Reads every block of `bytes` (records from `start` on) in order:
    /// the chunks, each with the line it starts on and whether a CR
    /// precedes it, and the file's digest.
    fn read_all(
        bytes: &[u8],
        block: usize,
        start: RecordsStart,
    ) -> (Vec<(u64, bool, Vec<u8>)>, String) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        let reader = BlockReader::new(&file, bytes.len() as u64, block, start);
        let (mut scratch, mut data) = (Vec::new(), vec![b'x'; 3 * block]);
        let (mut chunks, mut tree, mut line) = (Vec::new(), TreeDigest::default(), start.line);
        for k in 0..reader.blocks() {
            let read = reader.read(k, data, &mut scratch).unwrap();
            assert_eq!(read.eof, k + 1 == reader.blocks());
            tree.push(read.hash);
            chunks.push((line, read.after_cr, read.data.clone()));
            line += read.breaks;
            data = read.data;
        }
        (chunks, tree.finish())
    }

    fn start_after(bytes: &[u8], offset: usize) -> RecordsStart {
        RecordsStart {
            offset: offset as u64,
            line: 1 + count_breaks(&bytes[..offset], &mut false),
        }
    }

    #[test]
    fn a_long_line_is_cut_at_block_starts_and_nothing_is_lost() {
        let mut bytes = b"h\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 5000));
        bytes.extend_from_slice(b"\nb\n");
        let (chunks, digest) = read_all(&bytes, 1024, start_after(&bytes, 2));
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.2.clone()).collect();
        assert_eq!(joined, &bytes[2..]);
        assert_eq!(digest, crate::read::input::blake3_hex(&bytes));
        // Blocks 1 to 3 hold no line break: cut at their starts; block 4's
        // first break ends the chunk of block 3.
        assert_eq!(chunks[0].2.len(), 1022);
        assert!(chunks[1..3].iter().all(|c| c.2.len() == 1024 && c.0 == 2));
        assert_eq!(chunks[3].2.len(), 5003 - 3072);
        assert_eq!((chunks[4].0, &chunks[4].2[..]), (3, &b"b\n"[..]));
    }

    proptest! {
        /// Whatever the bytes, the block size and where the records start:
        /// the chunks in order are the records' bytes, each chunk starts
        /// after a line break (or at a block's start, within a line), on
        /// the line and after the CR that the bytes before it say, and the
        /// blocks' hashes join into the file's digest.
        #[test]
        fn chunks_tile_the_records_and_know_their_lines(
            lines in prop::collection::vec(("[a-c\"]{0,700}", prop::sample::select(vec!["\n", "\r\n", "\r"])), 1..40),
            header in 0usize..40,
            size_log in 10u32..12,
        ) {
            let bytes: Vec<u8> = lines.iter().flat_map(|(l, t)| [l.as_bytes(), t.as_bytes()].concat()).collect();
            // The records start after the header's line break.
            let offset: usize = lines[..=header.min(lines.len() - 1)]
                .iter()
                .map(|(l, t)| l.len() + t.len())
                .sum();
            let start = start_after(&bytes, offset);
            let (chunks, digest) = read_all(&bytes, 1 << size_log, start);
            prop_assert_eq!(digest, crate::read::input::blake3_hex(&bytes));
            let mut at = offset;
            for (line, after_cr, data) in &chunks {
                if data.is_empty() {
                    continue;
                }
                prop_assert_eq!(*line, start_after(&bytes, at).line);
                prop_assert_eq!(*after_cr, at > 0 && bytes[at - 1] == b'\r');
                prop_assert_eq!(&bytes[at..at + data.len()], &data[..]);
                at += data.len();
            }
            prop_assert_eq!(at, bytes.len());
        }
    }
}
