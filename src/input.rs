//! Streaming CSV input: one reused record, the raw bytes of every record, its
//! true line number, and the file's sha256, all in one pass.
//!
//! The csv crate parses; this module wraps its byte source in a [`Recorder`]
//! that keeps the bytes of the record being read (so a quarantined record can
//! be written out exactly as it arrived) and hashes everything that passes.
//! Line numbers are counted here from those bytes, because the csv crate's
//! own positions lag by one line on CRLF files and never advance on files
//! that end lines with a lone CR. Blank lines, which the csv crate skips, are
//! counted so that nothing vanishes unreported.

use std::io::{self, Read};

use csv::ByteRecord;
use sha2::{Digest, Sha256};

/// Size of the read buffer handed to the csv crate.
const READ_BUFFER: usize = 256 * 1024;

/// A byte source that remembers what it has read since the last release
/// point and hashes every byte.
#[derive(Debug)]
pub struct Recorder<R> {
    inner: R,
    kept: Vec<u8>,
    kept_from: u64,
    total: u64,
    hasher: Sha256,
}

impl<R: Read> Recorder<R> {
    fn new(inner: R) -> Self {
        Recorder {
            inner,
            kept: Vec::with_capacity(2 * READ_BUFFER),
            kept_from: 0,
            total: 0,
            hasher: Sha256::new(),
        }
    }

    /// Bytes `start..end` of the input; both must lie in the kept window.
    fn slice(&self, start: u64, end: u64) -> &[u8] {
        let from = (start - self.kept_from) as usize;
        let to = (end - self.kept_from) as usize;
        &self.kept[from..to]
    }

    /// Forgets the bytes before `offset`. Compacts only when the dead prefix
    /// is large, so the cost stays proportional to the input.
    fn release_before(&mut self, offset: u64) {
        let dead = (offset - self.kept_from) as usize;
        if dead >= READ_BUFFER && dead * 2 >= self.kept.len() {
            self.kept.drain(..dead);
            self.kept_from = offset;
        }
    }
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.kept.extend_from_slice(&out[..n]);
        self.hasher.update(&out[..n]);
        self.total += n as u64;
        Ok(n)
    }
}

/// One record as read: its parsed fields and where it came from.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// 1-based line on which the record starts.
    pub line: u64,
    /// 1-based line on which the record ends (greater when fields hold newlines).
    pub end_line: u64,
    /// Byte offset of the record's first byte.
    pub byte: u64,
    /// The fields as the csv crate parsed them.
    pub fields: &'a ByteRecord,
    /// The record's bytes exactly as in the file, without its line terminator.
    pub raw: &'a [u8],
}

/// What the whole pass over the input saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSummary {
    /// Bytes read.
    pub bytes: u64,
    /// Hex sha256 of those bytes.
    pub sha256: String,
    /// Empty lines the CSV reader skipped.
    pub blank_lines: u64,
    /// Line numbers of the first skipped blank lines.
    pub blank_line_examples: Vec<u64>,
}

/// How many blank-line positions are kept for the report.
const BLANK_EXAMPLES: usize = 5;

/// A streaming CSV reader over any byte source.
#[derive(Debug)]
pub struct CsvInput<R: Read> {
    reader: csv::Reader<Recorder<R>>,
    record: ByteRecord,
    /// Offset up to which bytes have been assigned to records.
    consumed: u64,
    /// Line at `consumed`.
    line: u64,
    /// The byte before `consumed` was a CR (a following LF ends no new line).
    after_cr: bool,
    blank_lines: u64,
    blank_line_examples: Vec<u64>,
}

impl<R: Read> CsvInput<R> {
    /// Wraps a byte source; `delimiter` is the field separator.
    pub fn new(source: R, delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(READ_BUFFER)
            .from_reader(Recorder::new(source));
        CsvInput {
            reader,
            record: ByteRecord::new(),
            consumed: 0,
            line: 1,
            after_cr: false,
            blank_lines: 0,
            blank_line_examples: Vec::new(),
        }
    }

    /// Reads the next record; `None` at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<RawRecord<'_>>> {
        if !self.reader.read_byte_record(&mut self.record)? {
            return Ok(None);
        }
        let end = self.reader.position().byte();
        let start = self.consumed;
        let span = self.reader.get_ref().slice(start, end);

        // The csv crate hands back leftovers of the previous terminator and
        // any blank lines at the front of the span.
        let lead = span
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let lead_breaks = count_breaks(&span[..lead], &mut self.after_cr);
        for i in 0..lead_breaks {
            if self.blank_line_examples.len() < BLANK_EXAMPLES {
                self.blank_line_examples.push(self.line + i);
            }
        }
        self.blank_lines += lead_breaks;
        let line = self.line + lead_breaks;

        let body = &span[lead..];
        let terminator = if body.ends_with(b"\r\n") {
            2
        } else if body.ends_with(b"\n") || body.ends_with(b"\r") {
            1
        } else {
            0
        };
        let raw_len = body.len() - terminator;
        let inner_breaks = count_breaks(&body[..raw_len], &mut self.after_cr);
        let term_breaks = count_breaks(&body[raw_len..], &mut self.after_cr);
        self.line = line + inner_breaks + term_breaks;
        self.consumed = end;

        let byte = start + lead as u64;
        Ok(Some(RawRecord {
            line,
            end_line: line + inner_breaks,
            byte,
            fields: &self.record,
            raw: self.reader.get_ref().slice(byte, byte + raw_len as u64),
        }))
    }

    /// Releases the bytes of records already handed out. Call after each
    /// record is fully processed, so memory stays bounded by one record.
    pub fn release(&mut self) {
        let consumed = self.consumed;
        self.reader.get_mut().release_before(consumed);
    }

    /// Finishes the pass: counts trailing blank lines and returns the totals.
    pub fn finish(mut self) -> io::Result<InputSummary> {
        // Only line terminators can remain once the reader reported the end.
        while self.reader.read_byte_record(&mut self.record)? {}
        let recorder = self.reader.into_inner();
        let rest = recorder.slice(self.consumed, recorder.total);
        let trailing_blank = count_breaks(rest, &mut self.after_cr);
        for i in 0..trailing_blank {
            if self.blank_line_examples.len() < BLANK_EXAMPLES {
                self.blank_line_examples.push(self.line + i);
            }
        }
        Ok(InputSummary {
            bytes: recorder.total,
            sha256: hex(&recorder.hasher.finalize()),
            blank_lines: self.blank_lines + trailing_blank,
            blank_line_examples: self.blank_line_examples,
        })
    }
}

/// Counts line breaks: LF, CR LF (once) and a lone CR. `after_cr` carries
/// whether the byte before `bytes` was a CR, across calls.
fn count_breaks(bytes: &[u8], after_cr: &mut bool) -> u64 {
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
    if let Some(&last) = bytes.last() {
        *after_cr = last == b'\r';
    }
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

/// Hex sha256 of a byte string.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Seen {
        line: u64,
        end_line: u64,
        raw: String,
        fields: Vec<String>,
    }

    fn read_all(data: &[u8]) -> (Vec<Seen>, InputSummary) {
        let mut input = CsvInput::new(data, b',');
        let mut seen = Vec::new();
        while let Some(r) = input.next_record().unwrap() {
            seen.push(Seen {
                line: r.line,
                end_line: r.end_line,
                raw: String::from_utf8_lossy(r.raw).into_owned(),
                fields: r
                    .fields
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            });
            input.release();
        }
        (seen, input.finish().unwrap())
    }

    fn lines_and_raw(seen: &[Seen]) -> Vec<(u64, &str)> {
        seen.iter().map(|s| (s.line, s.raw.as_str())).collect()
    }

    #[test]
    fn numbers_lines_for_every_line_ending() {
        for data in [
            &b"h\n1\n2\n3"[..],
            b"h\r\n1\r\n2\r\n3\r\n",
            b"h\r1\r2\r3\r",
            b"h\r\n1\n2\r3",
        ] {
            let (seen, summary) = read_all(data);
            assert_eq!(
                lines_and_raw(&seen),
                vec![(1, "h"), (2, "1"), (3, "2"), (4, "3")],
                "{data:?}"
            );
            assert_eq!(summary.blank_lines, 0, "{data:?}");
        }
    }

    #[test]
    fn keeps_raw_text_of_multiline_records() {
        let (seen, _) = read_all(b"a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n");
        assert_eq!(seen[1].raw, "1,\"x\r\ny\"");
        assert_eq!((seen[1].line, seen[1].end_line), (2, 3));
        assert_eq!(seen[1].fields, vec!["1", "x\r\ny"]);
        assert_eq!(seen[2].line, 4);
    }

    #[test]
    fn counts_skipped_blank_lines() {
        let (seen, summary) = read_all(b"a\n1\n\n\n2\r\n\r\n3\n\n");
        assert_eq!(
            lines_and_raw(&seen),
            vec![(1, "a"), (2, "1"), (5, "2"), (7, "3")]
        );
        assert_eq!(summary.blank_lines, 4);
        assert_eq!(summary.blank_line_examples, vec![3, 4, 6, 8]);
    }

    #[test]
    fn strips_a_bom_from_the_header_but_keeps_it_in_the_hash() {
        let data = b"\xef\xbb\xbfid,name\n1,x\n";
        let (seen, summary) = read_all(data);
        assert_eq!(seen[0].fields, vec!["id", "name"]);
        assert_eq!(summary.sha256, sha256_hex(data));
        assert_eq!(summary.bytes, data.len() as u64);
    }

    #[test]
    fn empty_input_has_no_records() {
        let (seen, summary) = read_all(b"");
        assert!(seen.is_empty());
        assert_eq!((summary.bytes, summary.blank_lines), (0, 0));
    }

    #[test]
    fn releases_memory_on_long_inputs() {
        let mut data = b"id,text\n".to_vec();
        for i in 0..50_000 {
            data.extend_from_slice(format!("{i},{}\n", "x".repeat(40)).as_bytes());
        }
        let mut input = CsvInput::new(&data[..], b',');
        let mut n = 0;
        while let Some(r) = input.next_record().unwrap() {
            n += 1;
            assert_eq!(r.line, n);
            input.release();
        }
        assert!(input.reader.get_ref().kept.len() < 4 * READ_BUFFER);
        assert_eq!(n, 50_001);
    }
}
