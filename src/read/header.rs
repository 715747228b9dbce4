//! The header record: read from the first chunks of the input, with the
//! blank lines before it, and where the records after it begin.

use std::io::Read;

use crate::read::input::{
    BlankLines, Chunk, ChunkParser, ChunkReader, ParseBuffers, RecordView, parse_chunk,
};

/// The header record, and the chunk that follows it.
#[derive(Debug)]
pub struct Header {
    /// The header's fields.
    pub fields: csv::ByteRecord,
    /// Its original bytes.
    pub raw: Vec<u8>,
    /// The blank lines before it.
    pub blank_before: BlankLines,
    /// Where the records after it begin in the input.
    pub records: crate::read::blocks::RecordsStart,
}

/// What the start of the input holds.
#[derive(Debug)]
pub enum HeaderRead {
    /// A header record.
    Header(Header),
    /// No record at all: the input is empty or blank.
    NoHeader {
        /// Its blank lines.
        blank: BlankLines,
    },
    /// A first record longer than the record limit, which was not read on.
    TooLarge,
}

/// Reads chunks until the first record (the header) is complete; what
/// follows it is given back to `input`.
pub fn read_header<R: Read>(
    input: &mut ChunkReader<R>,
    delimiter: u8,
    max_record_bytes: usize,
) -> std::io::Result<HeaderRead> {
    let mut parser = ChunkParser::new(delimiter);
    let mut pending: Option<Chunk> = None;
    loop {
        let Some(next) = input.next_chunk()? else {
            return Ok(HeaderRead::NoHeader {
                blank: BlankLines::default(),
            });
        };
        let chunk = match pending.take() {
            None => next,
            Some(mut so_far) => {
                so_far.data.extend_from_slice(&next.data);
                so_far.eof = next.eof;
                so_far
            }
        };
        let eof = chunk.eof;
        let parsed = parse_chunk(
            &mut parser,
            chunk,
            ParseBuffers::default(),
            &mut |_: &RecordView<'_>| (),
        );
        if let Some((record, rest)) = parsed.first_record_and_rest() {
            let mut blank_before = BlankLines::default();
            blank_before.add_lines(1, record.line - 1);
            // The chunks read so far start the input: the rest begins at
            // what the header and the lines before it leave.
            let records = crate::read::blocks::RecordsStart {
                offset: (parsed.chunk.data.len() - rest.data.len()) as u64,
                line: rest.first_line,
            };
            let header = Header {
                fields: record.fields.to_byte_record(),
                raw: record.raw.to_vec(),
                blank_before,
                records,
            };
            input.unread(rest);
            return Ok(HeaderRead::Header(header));
        }
        if eof {
            return Ok(HeaderRead::NoHeader {
                blank: parsed.blank,
            });
        }
        let chunk = parsed.chunk;
        if chunk.data.len() > max_record_bytes {
            return Ok(HeaderRead::TooLarge);
        }
        pending = Some(chunk);
    }
}
