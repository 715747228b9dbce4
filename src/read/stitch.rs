//! The consuming side of a pass: records a chunk began and did not finish
//! are joined with the next chunk, and a record that outgrows
//! `max_record_bytes` is spilled to a temporary file, so that every record
//! reaches the consumer exactly once, in file order.

use std::fs::File;
use std::io::{self, Seek, Write};

use super::pipeline::{Item, Oversized, PassOptions, PassSummary, PipelineError, Recycled, Source};
use crate::read::digest::TreeDigest;
use crate::read::input::{
    BlankLines, Chunk, ChunkParser, ParseBuffers, ParsedChunk, RecordView, csv_parser,
};

/// Joins incomplete records across chunks and spills oversized ones, on the
/// consuming side, so every record reaches the consumer exactly once.
pub(super) struct Stitcher<W> {
    options: PassOptions,
    /// The work, for what is parsed again on the consuming thread.
    work: W,
    parser: ChunkParser,
    /// A record that a chunk began and did not finish.
    open: Option<OpenRecord>,
    blank: BlankLines,
    /// The digest of a file read in blocks, joined as chunks come in order.
    digest: Option<TreeDigest>,
    /// Time spent in [`Stitcher::accept`].
    in_order: std::time::Duration,
}

/// A record being continued across chunks: csv-core is fed its bytes as
/// they come until it says where the record ends.
struct OpenRecord {
    core: csv_core::Reader,
    line: u64,
    bytes: Vec<u8>,
    /// Set once the record outgrew `max_record_bytes`: its bytes so far.
    spill: Option<io::BufWriter<File>>,
    len: u64,
    breaks: u64,
    after_cr: bool,
    /// The last two bytes kept, to leave the terminator out of the record.
    last: [u8; 2],
    /// The record ended with the input: it has no terminator.
    ended_with_input: bool,
}

impl OpenRecord {
    /// A record from `line` on.
    fn new(delimiter: u8, line: u64) -> Self {
        OpenRecord {
            core: csv_parser(delimiter),
            line,
            bytes: Vec::new(),
            spill: None,
            len: 0,
            breaks: 0,
            after_cr: false,
            last: [0; 2],
            ended_with_input: false,
        }
    }

    /// Feeds `data` until the record ends; returns how many bytes of
    /// `data` belong to it, or `None` when it goes on past `data`.
    fn feed(&mut self, data: &[u8], eof: bool, limit: usize) -> io::Result<Option<usize>> {
        use csv_core::ReadRecordResult as R;
        let mut scratch = [0u8; 4096];
        let mut ends = [0usize; 64];
        let mut pos = 0;
        loop {
            if pos == data.len() && !eof {
                self.keep(&data[..pos], limit)?;
                return Ok(None);
            }
            self.ended_with_input = pos == data.len();
            let (result, nin, _, _) = self.core.read_record(&data[pos..], &mut scratch, &mut ends);
            pos += nin;
            match result {
                R::Record | R::End => {
                    self.keep(&data[..pos], limit)?;
                    return Ok(Some(pos));
                }
                R::InputEmpty | R::OutputFull | R::OutputEndsFull => {}
            }
        }
    }

    fn keep(&mut self, bytes: &[u8], limit: usize) -> io::Result<()> {
        self.breaks += crate::read::input::count_breaks(bytes, &mut self.after_cr);
        for &b in bytes.iter().rev().take(2).rev() {
            self.last = [self.last[1], b];
        }
        self.len += bytes.len() as u64;
        // The bytes kept include the terminator (up to 2 bytes, CR LF),
        // which does not count against the limit.
        if self.spill.is_none() && self.bytes.len() + bytes.len() > limit.saturating_add(2) {
            let mut spill = io::BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
            spill.write_all(&self.bytes)?;
            self.bytes = Vec::new();
            self.spill = Some(spill);
        }
        match &mut self.spill {
            Some(spill) => spill.write_all(bytes),
            None => {
                self.bytes.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// The line after the record and whether its last byte was a CR.
    fn next_line(&self) -> (u64, bool) {
        (self.line + self.breaks, self.after_cr)
    }

    /// The record, spilled: its terminator is left out of its length.
    fn into_oversized(self) -> io::Result<Oversized> {
        let terminator =
            crate::read::input::terminator_len(&self.last, self.ended_with_input) as u64;
        let len = self.len.saturating_sub(terminator);
        let breaks_inside = if terminator > 0 {
            self.breaks - 1
        } else {
            self.breaks
        };
        let mut spill = self
            .spill
            .expect("spilled")
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        // The spill holds the terminator too: keep exactly the record.
        spill.set_len(len)?;
        spill.rewind()?;
        Ok(Oversized {
            line: self.line,
            end_line: self.line + breaks_inside,
            len,
            spill,
        })
    }
}

impl<W> Stitcher<W> {
    pub(super) fn new<R>(options: PassOptions, work: W, source: &Source<'_, '_, R>) -> Self {
        Stitcher {
            options,
            work,
            parser: ChunkParser::new(options.delimiter),
            open: None,
            blank: BlankLines::default(),
            digest: matches!(source, Source::Blocks(_)).then(TreeDigest::default),
            in_order: std::time::Duration::ZERO,
        }
    }

    /// Parses a chunk on the consuming thread, with the stitcher's work.
    pub(super) fn parse<T>(&mut self, chunk: Chunk, buffers: ParseBuffers) -> ParsedChunk<T>
    where
        W: FnMut(&RecordView<'_>) -> T,
    {
        crate::read::input::parse_chunk(&mut self.parser, chunk, buffers, &mut self.work)
    }

    /// Takes the next chunk in file order, parsed speculatively; returns
    /// its buffers once its records are consumed.
    pub(super) fn accept<T, C, E>(
        &mut self,
        parsed: ParsedChunk<T>,
        consume: &mut C,
    ) -> Result<Recycled, PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        let started = std::time::Instant::now();
        let accepted = self.accept_timed(parsed, consume);
        self.in_order += started.elapsed();
        accepted
    }

    pub(super) fn accept_timed<T, C, E>(
        &mut self,
        mut parsed: ParsedChunk<T>,
        consume: &mut C,
    ) -> Result<Recycled, PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        if let (Some(digest), Some(hash)) = (&mut self.digest, parsed.chunk.block_hash) {
            digest.push(hash);
        }
        if self.open.is_none() {
            self.deliver(&mut parsed, consume)?;
            let (chunk, buffers) = parsed.into_buffers();
            return Ok((chunk.data, buffers));
        }
        // The chunk did not start a record: continue the open one with its
        // bytes, then parse what follows it again.
        let (chunk, buffers) = parsed.into_buffers();
        self.continue_open(&chunk, consume)?;
        Ok((chunk.data, buffers))
    }

    pub(super) fn continue_open<T, C, E>(
        &mut self,
        chunk: &Chunk,
        consume: &mut C,
    ) -> Result<(), PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let Some(used) = open.feed(&chunk.data, chunk.eof, self.options.max_record_bytes)? else {
            self.open = Some(open);
            return Ok(());
        };
        let (first_line, after_cr) = open.next_line();
        if open.spill.is_some() {
            let mut oversized = open.into_oversized()?;
            consume(Item::Oversized(&mut oversized)).map_err(PipelineError::Consumer)?;
        } else {
            let record = Chunk {
                data: std::mem::take(&mut open.bytes),
                first_line: open.line,
                after_cr: false,
                eof: chunk.eof && used == chunk.data.len(),
                starts_file: false,
                block_hash: None,
            };
            let mut parsed = self.parse(record, ParseBuffers::default());
            self.deliver(&mut parsed, consume)?;
        }
        let rest = Chunk {
            data: chunk.data[used..].to_vec(),
            first_line,
            after_cr,
            eof: chunk.eof,
            starts_file: false,
            block_hash: None,
        };
        if rest.data.is_empty() && !rest.eof {
            return Ok(());
        }
        let mut parsed = self.parse(rest, ParseBuffers::default());
        self.deliver(&mut parsed, consume)
    }

    /// Hands a correctly parsed chunk's records to the consumer and opens
    /// the record it leaves unfinished.
    pub(super) fn deliver<T, C, E>(
        &mut self,
        parsed: &mut ParsedChunk<T>,
        consume: &mut C,
    ) -> Result<(), PipelineError<E>>
    where
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        self.blank.merge(&parsed.blank);
        if !parsed.is_empty() {
            consume(Item::Upcoming(parsed)).map_err(PipelineError::Consumer)?;
        }
        for (record, result) in parsed.drain() {
            consume(Item::Record(record, result)).map_err(PipelineError::Consumer)?;
        }
        if let (Some(tail), Some(bytes)) = (parsed.tail, parsed.tail_bytes()) {
            let mut open = OpenRecord::new(self.options.delimiter, tail.line);
            let ended = open.feed(bytes, false, self.options.max_record_bytes)?;
            debug_assert!(ended.is_none(), "a tail is an unfinished record");
            self.open = Some(open);
        }
        Ok(())
    }

    /// Ends the pass: an open record ends with the input.
    pub(super) fn finish<T, C, E>(
        mut self,
        consume: &mut C,
    ) -> Result<PassSummary, PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        if self.open.is_some() {
            let end = Chunk {
                eof: true,
                ..Chunk::default()
            };
            self.continue_open(&end, consume)?;
        }
        Ok(PassSummary {
            blank: self.blank,
            digest: self.digest.map(TreeDigest::finish),
            in_order: self.in_order,
        })
    }
}
