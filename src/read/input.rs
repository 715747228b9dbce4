//! Streaming CSV input in chunks: the raw bytes of every record, its true
//! line number, its parsed fields, and the file's BLAKE3 digest, in one
//! pass and in bounded memory.
//!
//! [`ChunkReader`] reads the source in blocks of about [`CHUNK_BYTES`],
//! hashes them, and cuts each block after its last line break, so that a
//! chunk almost always holds whole records. [`parse_chunk`] splits the
//! records of one chunk (strictly quoted ones on the fast path of
//! [`crate::read::split`], the others with csv-core) and hands every record to a
//! closure while its bytes are hot. A cut can fall inside a quoted field that spans lines; the chunk
//! then ends in an incomplete record (its *tail*), which
//! [`crate::read::pipeline`] joins to the next chunk and parses again, so the
//! records seen are always exactly csv-core's, whatever the cuts.
//!
//! Line numbers are counted here, because csv-core's own lag on CRLF files
//! and never advance on files that end lines with a lone CR. Blank lines,
//! which csv-core skips, are counted so that nothing vanishes unreported.

use crate::read::split::Splitter;

pub use super::header::{Header, HeaderRead, read_header};
pub use super::stream::ChunkReader;

/// Bytes read from the source for each chunk.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How many blank-line positions are kept for the report.
pub const BLANK_EXAMPLES: usize = 5;

/// Most consumed chunk buffers a reader keeps for reuse.
pub(super) const SPARE_BUFFERS: usize = 4;

/// A run of input bytes that starts where a record starts.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// The bytes; normally whole records, possibly an incomplete one at the end.
    pub data: Vec<u8>,
    /// 1-based line on which `data[0]` lies.
    pub first_line: u64,
    /// The byte before `data[0]` was a CR (a leading LF then ends no line).
    pub after_cr: bool,
    /// Nothing follows this chunk: its last record ends at its last byte.
    pub eof: bool,
    /// This chunk starts the file: a UTF-8 byte order mark is stripped.
    pub starts_file: bool,
    /// The hash of the block it was cut from, where the file is read in
    /// blocks (see [`crate::read::blocks`]), to be joined in file order.
    pub block_hash: Option<crate::read::digest::BlockHash>,
}

/// The parsed fields of one record.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, unescaped.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }

    /// Every field in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (bytes, ends) = (self.bytes, self.ends);
        ends.iter().scan(0, move |start, &end| {
            let field = &bytes[*start..end];
            *start = end;
            Some(field)
        })
    }

    /// All fields, concatenated without separators.
    pub fn joined(&self) -> &'a [u8] {
        self.bytes
    }

    /// Where each field ends in [`Fields::joined`].
    pub fn ends(&self) -> &'a [usize] {
        self.ends
    }

    /// The fields as an owned csv record.
    pub fn to_byte_record(&self) -> csv::ByteRecord {
        self.iter().collect()
    }
}

/// One record as read: its parsed fields and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// 1-based line on which the record starts.
    pub line: u64,
    /// 1-based line on which the record ends (greater when fields hold newlines).
    pub end_line: u64,
    /// The fields as csv-core parsed them.
    pub fields: Fields<'a>,
    /// The record's bytes exactly as in the file, without its line terminator.
    pub raw: &'a [u8],
    /// The reader found every quote of the record opening a field, closing
    /// one or doubled inside one (false: not verified, not necessarily bad).
    pub quoting_verified: bool,
}

/// Where one record of a parsed chunk lies.
#[derive(Debug, Clone)]
struct RecordSpan {
    line: u64,
    end_line: u64,
    raw: (usize, usize),
    field_bytes: (usize, usize),
    ends: (usize, usize),
    /// Offset after the record's terminator.
    after: usize,
    /// The line after the record.
    next_line: u64,
    quoting_verified: bool,
}

/// Blank lines skipped: their number and the first few line numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlankLines {
    /// Blank lines seen.
    pub count: u64,
    /// Line numbers of the first [`BLANK_EXAMPLES`] of them.
    pub examples: Vec<u64>,
}

impl BlankLines {
    /// Counts `n` blank lines from `first_line` on.
    pub fn add_lines(&mut self, first_line: u64, n: u64) {
        for line in first_line..first_line + n {
            if self.examples.len() < BLANK_EXAMPLES {
                self.examples.push(line);
            }
        }
        self.count += n;
    }

    /// Adds the blank lines of a later part of the input.
    pub fn merge(&mut self, later: &BlankLines) {
        for &line in &later.examples {
            if self.examples.len() < BLANK_EXAMPLES {
                self.examples.push(line);
            }
        }
        self.count += later.count;
    }
}

/// An incomplete record at the end of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// Offset of its first byte in the chunk.
    pub offset: usize,
    /// The line it starts on.
    pub line: u64,
}

/// The storage a parse writes into, reused from chunk to chunk so that
/// the hot loop neither allocates nor touches fresh pages.
#[derive(Debug, Default)]
pub struct ParseBuffers {
    field_bytes: Vec<u8>,
    ends: Vec<usize>,
    spans: Vec<RecordSpan>,
}

/// A chunk after parsing: its records, each with what the closure made of it.
#[derive(Debug)]
pub struct ParsedChunk<T> {
    /// The chunk that was parsed.
    pub chunk: Chunk,
    field_bytes: Vec<u8>,
    ends: Vec<usize>,
    spans: Vec<RecordSpan>,
    results: Vec<T>,
    /// Blank lines among the records.
    pub blank: BlankLines,
    /// The incomplete record the chunk ends with, if any.
    pub tail: Option<Tail>,
    /// The line after the chunk's last complete record and blank lines.
    pub next_line: u64,
}

impl<T> ParsedChunk<T> {
    /// Number of complete records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when the chunk held no complete record.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Record `i` and its result.
    pub fn record(&self, i: usize) -> RecordView<'_> {
        let span = &self.spans[i];
        RecordView {
            line: span.line,
            end_line: span.end_line,
            fields: Fields {
                bytes: &self.field_bytes[span.field_bytes.0..span.field_bytes.1],
                ends: &self.ends[span.ends.0..span.ends.1],
            },
            raw: &self.chunk.data[span.raw.0..span.raw.1],
            quoting_verified: span.quoting_verified,
        }
    }

    /// The results of the work on the records, in order.
    pub fn results(&self) -> &[T] {
        &self.results
    }

    /// Every record with its result, in order; the results are moved out.
    pub fn drain(&mut self) -> impl Iterator<Item = (RecordView<'_>, T)> {
        let results = std::mem::take(&mut self.results);
        let this = &*self;
        results
            .into_iter()
            .enumerate()
            .map(move |(i, t)| (this.record(i), t))
    }

    /// The first record, and the bytes after it as a chunk of their own.
    pub fn first_record_and_rest(&self) -> Option<(RecordView<'_>, Chunk)> {
        let span = self.spans.first()?;
        let data = &self.chunk.data;
        let rest = Chunk {
            data: data[span.after..].to_vec(),
            first_line: span.next_line,
            after_cr: span.after > 0 && data[span.after - 1] == b'\r',
            eof: self.chunk.eof,
            starts_file: false,
            block_hash: None,
        };
        Some((self.record(0), rest))
    }

    /// The bytes of the tail, if any.
    pub fn tail_bytes(&self) -> Option<&[u8]> {
        self.tail.map(|t| &self.chunk.data[t.offset..])
    }

    /// The chunk, and the parse's buffers for reuse.
    pub fn into_buffers(self) -> (Chunk, ParseBuffers) {
        let buffers = ParseBuffers {
            field_bytes: self.field_bytes,
            ends: self.ends,
            spans: self.spans,
        };
        (self.chunk, buffers)
    }
}

/// A csv-core reader at the start of a record: `delimiter` separates fields.
pub fn csv_parser(delimiter: u8) -> csv_core::Reader {
    let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    prime(&mut core);
    core
}

/// Resets `core` to the start of a record, past the point where it would
/// strip a byte order mark (dqgate strips it itself): an empty line is
/// read first.
pub fn prime(core: &mut csv_core::Reader) {
    core.reset();
    let _ = core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
}

/// Parses chunks: strictly quoted records on the fast path
/// ([`crate::read::split`]), every other record with csv-core.
#[derive(Debug)]
pub struct ChunkParser {
    core: csv_core::Reader,
    splitter: Option<Splitter>,
}

impl ChunkParser {
    /// A parser for fields separated by `delimiter`.
    pub fn new(delimiter: u8) -> Self {
        ChunkParser {
            core: csv_parser(delimiter),
            splitter: Splitter::new(delimiter),
        }
    }
}

/// Parses the records of `chunk` with `parser` into `buffers` (kept by the
/// result: [`ParsedChunk::into_buffers`] gives them back), calling `work`
/// on each record.
pub fn parse_chunk<T>(
    parser: &mut ChunkParser,
    chunk: Chunk,
    buffers: ParseBuffers,
    work: &mut impl FnMut(&RecordView<'_>) -> T,
) -> ParsedChunk<T> {
    use csv_core::ReadRecordResult as R;
    let ChunkParser { core, splitter } = parser;
    prime(core);
    let data = &chunk.data[..];
    // A byte order mark opening the file is skipped here: csv-core would
    // strip it only when it sees all three bytes, and takes input that is
    // empty once stripped for the end of the file.
    let bom = if chunk.starts_file && data.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    // csv-core writes into initialized slices: a reused buffer keeps its
    // old bytes (overwritten before they are read); only growth is zeroed.
    let ParseBuffers {
        mut field_bytes,
        mut ends,
        mut spans,
    } = buffers;
    field_bytes.resize(data.len() + 1, 0);
    ends.resize(data.len() / 16 + 16, 0);
    spans.clear();
    let mut results = Vec::new();
    let mut blank = BlankLines::default();
    let (mut pos, mut out, mut nends) = (bom, 0, 0);
    let (mut record_start, mut record_out, mut record_ends) = (bom, 0, 0);
    let mut line = chunk.first_line;
    let mut after_cr = chunk.after_cr;
    loop {
        if pos == data.len() && !chunk.eof {
            break;
        }
        // At a record's start, the fast path first; csv-core, which is
        // between records too, takes over where it declines.
        let mut fast = false;
        if let Some(splitter) = splitter.as_ref().filter(|_| pos == record_start) {
            let lead = leading_breaks(&data[pos..]);
            if let Some(split) =
                splitter.split_record(data, pos + lead, &mut field_bytes[out..], &mut ends, nends)
            {
                pos = split.after;
                out += split.written;
                nends += split.fields;
                fast = true;
            }
        }
        // A record that ends on this call's empty input ended with the
        // file: it has no terminator, whatever its last byte.
        let at_end = !fast && pos == data.len();
        if !fast {
            let (result, nin, nout, nend) =
                core.read_record(&data[pos..], &mut field_bytes[out..], &mut ends[nends..]);
            pos += nin;
            out += nout;
            nends += nend;
            match result {
                R::InputEmpty => continue,
                R::OutputFull => {
                    field_bytes.resize(field_bytes.len() * 2, 0);
                    continue;
                }
                R::OutputEndsFull => {
                    ends.resize(ends.len() * 2, 0);
                    continue;
                }
                R::End => break,
                R::Record => {}
            }
        }
        let span = &data[record_start..pos];
        let lead = skip_blank_lines(span, &mut line, &mut after_cr, &mut blank);
        let body = &span[lead..];
        let terminator = terminator_len(body, at_end);
        let raw_len = body.len() - terminator;
        let inner = count_breaks(&body[..raw_len], &mut after_cr);
        let term = count_breaks(&body[raw_len..], &mut after_cr);
        let raw_start = record_start + lead;
        let record = RecordSpan {
            line,
            end_line: line + inner,
            raw: (raw_start, raw_start + raw_len),
            field_bytes: (record_out, out),
            ends: (record_ends, nends),
            after: pos,
            next_line: line + inner + term,
            quoting_verified: fast,
        };
        line += inner + term;
        let view = RecordView {
            line: record.line,
            end_line: record.end_line,
            fields: Fields {
                bytes: &field_bytes[record_out..out],
                ends: &ends[record_ends..nends],
            },
            raw: &data[record.raw.0..record.raw.1],
            quoting_verified: fast,
        };
        results.push(work(&view));
        spans.push(record);
        (record_start, record_out, record_ends) = (pos, out, nends);
    }
    // What follows the last record: line breaks (blank lines), then either
    // nothing or the start of a record that the chunk does not finish.
    let rest = &data[record_start.min(data.len())..];
    let lead = skip_blank_lines(rest, &mut line, &mut after_cr, &mut blank);
    let tail = (lead < rest.len()).then(|| Tail {
        offset: record_start + lead,
        line,
    });
    // The buffers keep their length (the spans say what was written), so
    // that the next chunk's parse does not zero them again.
    ParsedChunk {
        chunk,
        field_bytes,
        ends,
        spans,
        results,
        blank,
        tail,
        next_line: line,
    }
}

/// The length of the terminator that ends a record's bytes: none when the
/// record ended with the input (a line break there is inside an unclosed
/// quote), else the CR, LF or CR LF it ends with.
pub fn terminator_len(record: &[u8], ended_with_input: bool) -> usize {
    if ended_with_input {
        0
    } else if record.ends_with(b"\r\n") {
        2
    } else if record.ends_with(b"\n") || record.ends_with(b"\r") {
        1
    } else {
        0
    }
}

/// Counts the line breaks that open `bytes` (what csv-core skips before a
/// record: the rest of a terminator, then blank lines) into `blank`, moves
/// `line` past them, and returns how many bytes they take.
fn skip_blank_lines(
    bytes: &[u8],
    line: &mut u64,
    after_cr: &mut bool,
    blank: &mut BlankLines,
) -> usize {
    let lead = leading_breaks(bytes);
    let breaks = count_breaks(&bytes[..lead], after_cr);
    blank.add_lines(*line, breaks);
    *line += breaks;
    lead
}

/// How many bytes of line breaks (CR or LF) open `bytes`.
fn leading_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Counts line breaks: LF, CR LF (once) and a lone CR. `after_cr` carries
/// whether the byte before `bytes` was a CR, across calls.
pub fn count_breaks(bytes: &[u8], after_cr: &mut bool) -> u64 {
    let Some(&last) = bytes.last() else {
        return 0;
    };
    if memchr::memchr(b'\r', bytes).is_none() {
        // LF only, the usual file: a SIMD count, less the LF that ends a
        // CR LF split across calls.
        let split_crlf = *after_cr && bytes[0] == b'\n';
        *after_cr = false;
        return bytecount::count(bytes, b'\n') as u64 - u64::from(split_crlf);
    }
    let mut n = 0;
    for at in memchr::memchr2_iter(b'\r', b'\n', bytes) {
        let follows_cr = if at == 0 {
            *after_cr
        } else {
            bytes[at - 1] == b'\r'
        };
        if bytes[at] == b'\r' || !follows_cr {
            n += 1;
        }
    }
    *after_cr = last == b'\r';
    n
}

/// Lower-case hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Hex BLAKE3 digest of a byte string.
pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::*;
    use crate::read::pipeline::{self, Item, PassOptions};

    #[derive(Debug, Clone, PartialEq)]
    struct Seen {
        line: u64,
        end_line: u64,
        raw: Vec<u8>,
        fields: Vec<Vec<u8>>,
    }

    /// Every record from `source` through the whole reading path (a
    /// spilled record with its bytes and no fields), and the pass's summary.
    fn seen_in(
        source: pipeline::Source<'_, '_, &[u8]>,
        threads: usize,
        max_record_bytes: usize,
    ) -> (Vec<Seen>, pipeline::PassSummary) {
        let options = PassOptions {
            delimiter: b',',
            threads,
            max_record_bytes,
        };
        let mut seen = Vec::new();
        let summary = pipeline::run(source, options, &|| |_: &RecordView<'_>| (), |item| {
            seen.push(match item {
                Item::Record(r, ()) => Seen {
                    line: r.line,
                    end_line: r.end_line,
                    raw: r.raw.to_vec(),
                    fields: r.fields.iter().map(<[u8]>::to_vec).collect(),
                },
                Item::Upcoming(_) => return Ok(()),
                Item::Oversized(o) => {
                    let mut raw = Vec::new();
                    std::io::Read::read_to_end(&mut o.spill, &mut raw).unwrap();
                    assert_eq!(raw.len() as u64, o.len);
                    Seen {
                        line: o.line,
                        end_line: o.end_line,
                        raw,
                        fields: Vec::new(),
                    }
                }
            });
            Ok::<(), ()>(())
        })
        .unwrap();
        (seen, summary)
    }

    /// Every record of `data` read as a stream in chunks of `chunk_bytes`,
    /// with the blank lines, size and hash.
    fn read_with(
        data: &[u8],
        chunk_bytes: usize,
        threads: usize,
        max_record_bytes: usize,
    ) -> (Vec<Seen>, BlankLines, u64, String) {
        let mut reader = ChunkReader::with_chunk_bytes(data, chunk_bytes);
        let (seen, summary) = seen_in(
            pipeline::Source::Stream(&mut reader),
            threads,
            max_record_bytes,
        );
        let (bytes, digest) = reader.finish();
        (seen, summary.blank, bytes, digest)
    }

    /// The same as [`read_with`], the input read as a file in blocks of
    /// `block_bytes` (a power of two of at least 1 KiB).
    fn read_blocks_with(
        data: &[u8],
        block_bytes: usize,
        threads: usize,
        max_record_bytes: usize,
    ) -> (Vec<Seen>, BlankLines, u64, String) {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(data).unwrap();
        let start = crate::read::blocks::RecordsStart { offset: 0, line: 1 };
        let reader =
            crate::read::blocks::BlockReader::new(&file, data.len() as u64, block_bytes, start);
        let (seen, summary) = seen_in(pipeline::Source::Blocks(&reader), threads, max_record_bytes);
        let digest = summary.digest.expect("a file read in blocks is digested");
        (seen, summary.blank, data.len() as u64, digest)
    }

    fn read_all(data: &[u8]) -> (Vec<Seen>, BlankLines) {
        let (seen, blank, ..) = read_with(data, CHUNK_BYTES, 1, usize::MAX);
        (seen, blank)
    }

    fn lines_and_raw(seen: &[Seen]) -> Vec<(u64, &str)> {
        seen.iter()
            .map(|s| (s.line, std::str::from_utf8(&s.raw).unwrap()))
            .collect()
    }

    #[test]
    fn numbers_lines_for_every_line_ending() {
        for data in [
            &b"h\n1\n2\n3"[..],
            b"h\r\n1\r\n2\r\n3\r\n",
            b"h\r1\r2\r3\r",
            b"h\r\n1\n2\r3",
        ] {
            let (seen, blank) = read_all(data);
            assert_eq!(
                lines_and_raw(&seen),
                vec![(1, "h"), (2, "1"), (3, "2"), (4, "3")],
                "{data:?}"
            );
            assert_eq!(blank.count, 0, "{data:?}");
        }
    }

    #[test]
    fn keeps_raw_text_of_multiline_records() {
        let (seen, _) = read_all(b"a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n");
        assert_eq!(seen[1].raw, b"1,\"x\r\ny\"");
        assert_eq!((seen[1].line, seen[1].end_line), (2, 3));
        assert_eq!(seen[1].fields, vec![b"1".to_vec(), b"x\r\ny".to_vec()]);
        assert_eq!(seen[2].line, 4);
    }

    #[test]
    fn counts_skipped_blank_lines() {
        let (seen, blank) = read_all(b"a\n1\n\n\n2\r\n\r\n3\n\n");
        assert_eq!(
            lines_and_raw(&seen),
            vec![(1, "a"), (2, "1"), (5, "2"), (7, "3")]
        );
        assert_eq!(blank.count, 4);
        assert_eq!(blank.examples, vec![3, 4, 6, 8]);
    }

    #[test]
    fn strips_a_bom_from_the_first_record_only_but_hashes_it() {
        let data = b"\xef\xbb\xbfid,name\n\xef\xbb\xbf1,x\n";
        for chunk_bytes in [1, 2, 5, 64] {
            let (seen, _, bytes, sha) = read_with(data, chunk_bytes, 1, usize::MAX);
            assert_eq!(seen[0].fields, vec![b"id".to_vec(), b"name".to_vec()]);
            assert_eq!(seen[1].fields[0], b"\xef\xbb\xbf1");
            assert_eq!(sha, blake3_hex(data));
            assert_eq!(bytes, data.len() as u64);
        }
    }

    #[test]
    fn the_rows_hint_scales_the_lines_after_the_header_to_the_size() {
        let data = b"id,name\n1,aa\n2,bb\n3,cc\n";
        let mut reader = ChunkReader::new(&data[..]);
        let HeaderRead::Header(_) = read_header(&mut reader, b',', 1 << 20).unwrap() else {
            panic!("a header");
        };
        // 3 lines in the 15 bytes after the header: 20 in 100 bytes.
        assert_eq!(reader.rows_hint(100), Some(20));
        assert_eq!(ChunkReader::new(&data[..]).rows_hint(100), None);
    }

    #[test]
    fn empty_input_has_no_records() {
        let (seen, blank, bytes, _) = read_with(b"", 4, 1, usize::MAX);
        assert!(seen.is_empty());
        assert_eq!((bytes, blank.count), (0, 0));
    }

    #[test]
    fn a_record_past_the_limit_is_spilled_whole_and_reading_goes_on() {
        let mut data = b"id,text\n1,short\n2,\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend_from_slice(b"\n\"\"\"\r\n3,after\n");
        let long_raw = data[16..data.len() - 10].to_vec();
        for threads in [1, 3] {
            let (seen, ..) = read_with(&data, 64, threads, 1000);
            assert_eq!(seen.len(), 4);
            assert_eq!(seen[2].raw, long_raw);
            assert_eq!((seen[2].line, seen[2].end_line), (3, 4));
            assert!(seen[2].fields.is_empty(), "spilled, not parsed");
            assert_eq!(seen[3].line, 5);
            assert_eq!(seen[3].fields, vec![b"3".to_vec(), b"after".to_vec()]);
        }
    }

    #[test]
    fn a_record_exactly_at_the_limit_is_not_spilled_wherever_the_cuts_fall() {
        // Found by fuzzing: the terminator was counted against the limit.
        let record = format!("1,\"{}\"", "x".repeat(60));
        for terminator in ["\n", "\r\n", "\r"] {
            let data = format!("id,text{terminator}{record}{terminator}2,y{terminator}");
            for chunk_bytes in 1..20 {
                let (seen, ..) = read_with(data.as_bytes(), chunk_bytes, 2, record.len());
                assert_eq!(
                    seen[1].raw,
                    record.as_bytes(),
                    "{chunk_bytes} {terminator:?}"
                );
                assert!(
                    !seen[1].fields.is_empty(),
                    "not spilled: {chunk_bytes} {terminator:?}"
                );
            }
        }
    }

    /// A source that hands out at most 7 bytes per read and is interrupted
    /// before every third one, as pipes and slow devices can be.
    struct Trickle<'a> {
        data: &'a [u8],
        reads: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(7).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn short_and_interrupted_reads_lose_no_byte() {
        let data: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("{i},\"x{i}\"\n").into_bytes())
            .collect();
        let source = Trickle {
            data: &data,
            reads: 0,
        };
        let mut reader = ChunkReader::with_chunk_bytes(source, 1000);
        let mut read = Vec::new();
        while let Some(chunk) = reader.next_chunk().unwrap() {
            read.extend_from_slice(&chunk.data);
        }
        assert_eq!(read, data);
        assert_eq!(reader.finish(), (data.len() as u64, blake3_hex(&data)));
    }

    #[test]
    fn memory_holds_chunks_not_the_input() {
        let mut data = b"id,text\n".to_vec();
        for i in 0..50_000 {
            data.extend_from_slice(format!("{i},{}\n", "x".repeat(40)).as_bytes());
        }
        let mut reader = ChunkReader::with_chunk_bytes(&data[..], 4096);
        let mut largest = 0;
        while let Some(chunk) = reader.next_chunk().unwrap() {
            largest = largest.max(chunk.data.len());
        }
        assert!(largest <= 2 * 4096, "{largest}");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Bytes biased towards what breaks CSV readers and chunk cuts.
        fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
            let byte = prop_oneof![
                4 => Just(b'a'),
                3 => Just(b','),
                3 => Just(b'"'),
                3 => Just(b'\n'),
                2 => Just(b'\r'),
                1 => Just(0xef),
                1 => Just(0xbb),
                1 => Just(0xbf),
                1 => any::<u8>(),
            ];
            prop::collection::vec(byte, 0..400)
        }

        /// Line breaks counted one byte at a time, the definition.
        fn breaks_by_byte(bytes: &[u8], mut after_cr: bool) -> (u64, bool) {
            let mut n = 0;
            for &b in bytes {
                if b == b'\r' || (b == b'\n' && !after_cr) {
                    n += 1;
                }
                after_cr = b == b'\r';
            }
            (n, after_cr)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// The SIMD path (no CR) and the CR-aware loop both count as
            /// the definition does, however the bytes are split into calls.
            #[test]
            fn breaks_are_counted_as_defined(data in csv_bytes(), cut in 0usize..400, crs in any::<bool>()) {
                let data: Vec<u8> = if crs { data } else { data.into_iter().filter(|&b| b != b'\r').collect() };
                let cut = cut.min(data.len());
                let (expected, expected_cr) = breaks_by_byte(&data, false);
                let mut after_cr = false;
                let n = count_breaks(&data[..cut], &mut after_cr) + count_breaks(&data[cut..], &mut after_cr);
                prop_assert_eq!(n, expected);
                prop_assert_eq!(after_cr, expected_cr);
            }

            /// However the input is cut and however many threads parse it,
            /// the records are the csv crate's, with the same lines.
            #[test]
            fn records_do_not_depend_on_cuts_or_threads(
                data in csv_bytes(),
                chunk_bytes in 1usize..40,
                threads in 1usize..4,
            ) {
                let (whole, whole_blank, ..) = read_with(&data, 1 << 20, 1, usize::MAX);
                let (cut, cut_blank, bytes, sha) = read_with(&data, chunk_bytes, threads, usize::MAX);
                prop_assert_eq!(&cut, &whole);
                prop_assert_eq!(cut_blank, whole_blank);
                prop_assert_eq!(bytes, data.len() as u64);
                prop_assert_eq!(sha, blake3_hex(&data));
                let expected: Vec<Vec<Vec<u8>>> = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&data[..])
                    .byte_records()
                    .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
                    .collect();
                let fields: Vec<Vec<Vec<u8>>> = whole.iter().map(|s| s.fields.clone()).collect();
                prop_assert_eq!(fields, expected);
                // Raw texts appear in the input, in order.
                let mut from = 0;
                for s in &whole {
                    let at = data[from..]
                        .windows(s.raw.len().max(1))
                        .position(|w| s.raw.is_empty() || w == &s.raw[..]);
                    prop_assert!(at.is_some(), "{:?} after {}", s.raw, from);
                    from += at.unwrap_or(0) + s.raw.len();
                }
            }

            /// A file read in blocks by any number of threads gives the
            /// records, lines, blank lines and digest of the same bytes
            /// read as one stream. With a record limit, a long record
            /// that crosses a block's end is spilled (and one within a
            /// chunk is left to the row checks), as with a stream's cuts.
            #[test]
            fn blocks_read_as_a_stream_reads(
                pieces in prop::collection::vec(csv_bytes(), 1..16),
                threads in 1usize..4,
                limit in prop::option::of(0usize..600),
            ) {
                let data = pieces.concat();
                let streamed = read_with(&data, 1 << 20, 1, usize::MAX);
                let blocks = read_blocks_with(&data, 1024, threads, usize::MAX);
                prop_assert_eq!(&blocks, &streamed);
                let Some(limit) = limit else { return Ok(()) };
                let (limited, ..) = read_blocks_with(&data, 1024, threads, limit);
                prop_assert_eq!(limited.len(), streamed.0.len());
                for (l, w) in limited.iter().zip(&streamed.0) {
                    prop_assert_eq!((l.line, l.end_line, &l.raw), (w.line, w.end_line, &w.raw));
                    prop_assert!(l.fields.is_empty() || l.fields == w.fields);
                }
            }

            /// With a small record limit, long records are spilled and the
            /// rest is read exactly as without the limit.
            #[test]
            fn spilling_loses_and_moves_nothing(
                data in csv_bytes(),
                chunk_bytes in 1usize..40,
                threads in 1usize..4,
                limit in 0usize..30,
            ) {
                let (whole, ..) = read_with(&data, 1 << 20, 1, usize::MAX);
                let (limited, ..) = read_with(&data, chunk_bytes, threads, limit);
                prop_assert_eq!(limited.len(), whole.len());
                for (l, w) in limited.iter().zip(&whole) {
                    prop_assert_eq!((l.line, l.end_line, &l.raw), (w.line, w.end_line, &w.raw));
                    prop_assert!(l.fields.is_empty() || l.fields == w.fields);
                }
            }
        }
    }
}
