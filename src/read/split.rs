//! The fast path of record parsing: one pass over a record whose quoting
//! is strict RFC 4180, splitting and unescaping its fields.
//!
//! Almost every record of a real feed is of that kind: each field is either
//! unquoted and free of quotes, or quoted with its inner quotes doubled and
//! a delimiter or line break right after its closing quote. For such a
//! record the fields csv-core would produce are fixed, and finding them
//! needs no state machine: a quoted field is a run to its closing quote
//! (one `memchr`), an unquoted one a run to the next delimiter or line
//! break. One pass also proves the record's quoting sound, which the row
//! checks would otherwise verify in a pass of their own.
//!
//! Whatever is not of that kind (a stray quote, text after a closing
//! quote, a record that runs to the end of the bytes at hand) is declined,
//! and csv-core parses it as before: the records read are always exactly
//! csv-core's.

/// Where a record split by [`split_record`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    /// Offset just after the record's line terminator (CR, LF or CR LF).
    pub after: usize,
    /// Bytes of unescaped field text written.
    pub written: usize,
    /// Fields found.
    pub fields: usize,
}

/// What a byte means outside quotes.
const PLAIN: u8 = 0;
const DELIMITER: u8 = 1;
const BREAK: u8 = 2;
const QUOTE: u8 = 3;

/// Copies `data[from..to]` to `text[at..]`. A run of up to 16 bytes, as
/// most fields are, goes as one 16-byte block where both sides have room
/// (the bytes past the run are overwritten by what follows, or are past
/// the text written), instead of a call to `memcpy` for a few bytes.
#[inline(always)]
fn copy_run(text: &mut [u8], at: usize, data: &[u8], from: usize, to: usize) {
    const BLOCK: usize = 16;
    let run = to - from;
    if run <= BLOCK && from + BLOCK <= data.len() && at + BLOCK <= text.len() {
        text[at..at + BLOCK].copy_from_slice(&data[from..from + BLOCK]);
    } else {
        text[at..at + run].copy_from_slice(&data[from..to]);
    }
}

/// Splits records for one delimiter.
#[derive(Debug, Clone)]
pub(crate) struct Splitter {
    class: [u8; 256],
}

impl Splitter {
    /// A splitter for fields separated by `delimiter`; `None` for a
    /// delimiter that is a quote or a line break (csv-core handles those).
    pub(crate) fn new(delimiter: u8) -> Option<Self> {
        if matches!(delimiter, b'"' | b'\n' | b'\r') {
            return None;
        }
        let mut class = [PLAIN; 256];
        class[usize::from(delimiter)] = DELIMITER;
        class[usize::from(b'\n')] = BREAK;
        class[usize::from(b'\r')] = BREAK;
        class[usize::from(b'"')] = QUOTE;
        Some(Splitter { class })
    }

    /// Splits the record that starts at `data[start]`, a byte that is not
    /// a line break. The unescaped text of its fields is written from
    /// `text[0]` on (`text` must be at least `data.len() - start` long: text
    /// never outgrows its input), and where each field ends in that text is
    /// written from `ends[first_end]` on (`ends` grows as needed).
    ///
    /// `None` when the record's quoting is not strict RFC 4180 or when it
    /// does not end with a line break inside `data`; nothing written then
    /// counts.
    pub(crate) fn split_record(
        &self,
        data: &[u8],
        start: usize,
        text: &mut [u8],
        ends: &mut Vec<usize>,
        first_end: usize,
    ) -> Option<Split> {
        let mut pos = start;
        let mut written = 0;
        let mut nends = first_end;
        loop {
            if *data.get(pos)? == b'"' {
                pos += 1;
                loop {
                    let quote = pos + memchr::memchr(b'"', &data[pos..])?;
                    copy_run(text, written, data, pos, quote);
                    written += quote - pos;
                    if data.get(quote + 1) == Some(&b'"') {
                        text[written] = b'"';
                        written += 1;
                        pos = quote + 2;
                    } else {
                        pos = quote + 1;
                        break;
                    }
                }
                // Only a delimiter or a line break may follow the closing quote.
                let next = self.class[usize::from(*data.get(pos)?)];
                if next != DELIMITER && next != BREAK {
                    return None;
                }
            } else {
                let from = pos;
                loop {
                    match self.class[usize::from(*data.get(pos)?)] {
                        PLAIN => pos += 1,
                        QUOTE => return None,
                        _ => break,
                    }
                }
                copy_run(text, written, data, from, pos);
                written += pos - from;
            }
            if nends == ends.len() {
                ends.resize((ends.len() * 2).max(16), 0);
            }
            ends[nends] = written;
            nends += 1;
            // `data[pos]` is a delimiter or a line break.
            match data[pos] {
                b'\n' => {
                    pos += 1;
                    break;
                }
                b'\r' => {
                    pos += if data.get(pos + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                    break;
                }
                _ => pos += 1,
            }
        }
        Some(Split {
            after: pos,
            written,
            fields: nends - first_end,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The fields of the record at the start of `data` as split, or `None`.
    fn split(data: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
        let splitter = Splitter::new(b',').expect("comma");
        let mut text = vec![0; data.len()];
        let mut ends = Vec::new();
        let split = splitter.split_record(data, 0, &mut text, &mut ends, 0)?;
        let mut start = 0;
        let fields = ends[..split.fields]
            .iter()
            .map(|&end| {
                let field = text[start..end].to_vec();
                start = end;
                field
            })
            .collect();
        Some((fields, split.after))
    }

    fn strings(fields: &[&str]) -> Vec<Vec<u8>> {
        fields.iter().map(|f| f.as_bytes().to_vec()).collect()
    }

    #[test]
    fn splits_strictly_quoted_records_and_unescapes_them() {
        assert_eq!(split(b"a,b\nc"), Some((strings(&["a", "b"]), 4)));
        assert_eq!(split(b"a,,\r\nc"), Some((strings(&["a", "", ""]), 5)));
        assert_eq!(split(b"1,\"x,y\"\rz"), Some((strings(&["1", "x,y"]), 8)));
        assert_eq!(
            split(b"\"say \"\"hi\"\"\",\"a\nb\"\n"),
            Some((strings(&["say \"hi\"", "a\nb"]), 19))
        );
        assert_eq!(split(b"\"\"\n"), Some((strings(&[""]), 3)));
    }

    #[test]
    fn finds_field_ends_at_every_offset_of_a_word() {
        for at in 0..20 {
            let long = "x".repeat(at);
            let record = format!("{long},{long}\r\n");
            assert_eq!(
                split(record.as_bytes()),
                Some((strings(&[&long, &long]), record.len())),
                "{at}"
            );
            let stray = format!("{long}\"{long}\n");
            assert_eq!(split(stray.as_bytes()), None, "{at}");
        }
    }

    #[test]
    fn declines_what_only_csv_core_can_decide() {
        // No line break: the record may go on in the next chunk, or end
        // with the file.
        assert_eq!(split(b"a,b"), None);
        assert_eq!(split(b"a,\"b\n"), None);
        // Quotes that RFC 4180 does not allow.
        assert_eq!(split(b"a,5\" floppy\n"), None);
        assert_eq!(split(b"a,\"b\"c\n"), None);
        assert_eq!(split(b"\"a\"\"\n"), None);
    }

    #[test]
    fn refuses_delimiters_that_are_quotes_or_line_breaks() {
        for delimiter in [b'"', b'\n', b'\r'] {
            assert!(Splitter::new(delimiter).is_none());
        }
        assert!(Splitter::new(b';').is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// Whatever the fast path splits, csv-core splits the same way,
        /// and the row checks would find its quoting sound.
        #[test]
        fn agrees_with_csv_core_and_the_quoting_check(
            first in prop_oneof![Just(b'a'), Just(b','), Just(b'"')],
            rest in prop::collection::vec(
                prop_oneof![
                    4 => Just(b'a'), 3 => Just(b','), 3 => Just(b'"'),
                    2 => Just(b'\n'), 2 => Just(b'\r'), 1 => any::<u8>(),
                ],
                0..80,
            ),
        ) {
            // A record starts with anything but a line break.
            let data = [&[first][..], &rest].concat();
            if let Some((fields, after)) = split(&data) {
                let expected = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&data[..])
                    .byte_records()
                    .next()
                    .expect("a record")
                    .expect("readable");
                let expected: Vec<Vec<u8>> = expected.iter().map(<[u8]>::to_vec).collect();
                prop_assert_eq!(&fields, &expected);
                let raw = &data[..after];
                let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                prop_assert!(crate::check::quoting::quotes_are_balanced(raw, b','), "{:?}", raw);
            }
        }
    }
}
