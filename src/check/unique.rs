//! Uniqueness: the keys claimed by accepted rows, in file order.
//!
//! Whether a key repeats depends on every row before it, so claims run on
//! the consuming side of the pipeline, after the row checks. Only rows
//! that are otherwise accepted claim a key, so a bad first occurrence does
//! not shadow a good second one. Integer columns compare by value, every
//! other type by its text.
//!
//! The consuming side is the one step that threads cannot share, so what
//! can be done before it is: the key of the first integer column (the
//! usual primary key) is read and hashed where its record is checked
//! ([`KeyReader`]), and the consumer only looks it up.

use std::collections::HashMap;

use crate::check::header::HeaderBinding;
use crate::check::int_index::{Hasher, IntIndex};
use crate::check::row::{Violation, shorten};
use crate::read::input::RecordView;
use crate::rules::{RuleId, RuleSet, Severity, TypeCheck};

/// Most keys reserved per column before the first claim: an index of
/// 2^21 slots, 32 MiB for integer keys.
const RESERVED_KEYS_CAP: u64 = IntIndex::capacity_of(1 << 21) as u64;

/// One unique column: where its field is and the keys seen so far, each
/// with the line that claimed it.
#[derive(Debug)]
struct UniqueColumn {
    name: String,
    rule: RuleId,
    error: bool,
    field: usize,
    /// The other fields of a key of several columns (`[file] unique`).
    more_fields: Vec<usize>,
    integer: bool,
    /// The rule file's spellings of "no value", which are never keys.
    nulls: Vec<String>,
    ints: IntIndex,
    texts: HashMap<Box<str>, u64, Hasher>,
}

/// An integer key, read and hashed by a [`KeyReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadKey {
    key: i64,
    hash: u64,
}

/// Reads the key of the first integer unique column of records, on any
/// thread, for [`UniqueKeys::claim`] to look up.
#[derive(Debug, Clone)]
pub struct KeyReader {
    /// The column's field and the hasher of its index.
    primary: Option<(usize, Hasher)>,
}

impl KeyReader {
    /// The record's primary key, if the rules have one and the record
    /// holds an integer there.
    pub fn read(&self, record: &RecordView<'_>) -> Option<ReadKey> {
        let (field, hasher) = self.primary.as_ref()?;
        read_int_key(record, *field, hasher)
    }
}

/// The integer key in field `field` of `record`, hashed by `hasher`.
fn read_int_key(record: &RecordView<'_>, field: usize, hasher: &Hasher) -> Option<ReadKey> {
    use std::hash::BuildHasher;
    let key = int_key(record, field)?;
    Some(ReadKey {
        key,
        hash: hasher.hash_one(key),
    })
}

/// The text of field `field`, when it is UTF-8 and not empty.
fn key_text<'a>(record: &RecordView<'a>, field: usize) -> Option<&'a str> {
    let text = std::str::from_utf8(record.fields.get(field)?).ok()?;
    (!text.is_empty()).then_some(text)
}

fn int_key(record: &RecordView<'_>, field: usize) -> Option<i64> {
    key_text(record, field)?.parse().ok()
}

/// A key as found in a record.
enum Key<'a> {
    Int(ReadKey),
    Text(&'a str),
    /// A key of several columns, its texts joined by U+001F.
    Joined(String),
}

impl UniqueColumn {
    /// The record's key; `read` is what the [`KeyReader`] read, for the
    /// primary column.
    fn key<'a>(&self, record: &RecordView<'a>, read: Option<ReadKey>) -> Option<Key<'a>> {
        let text = |field| key_text(record, field).filter(|t| !self.nulls.iter().any(|n| n == t));
        if !self.more_fields.is_empty() {
            // Like a SQL unique constraint, a key with a null part is no key.
            let mut joined = text(self.field)?.to_owned();
            for &field in &self.more_fields {
                joined.push('\u{1f}');
                joined.push_str(text(field)?);
            }
            return Some(Key::Joined(joined));
        }
        if !self.integer {
            return text(self.field).map(Key::Text);
        }
        read.or_else(|| read_int_key(record, self.field, self.ints.hasher()))
            .map(Key::Int)
    }

    fn first_line(&self, key: &Key<'_>) -> Option<u64> {
        match key {
            Key::Int(k) => self.ints.get_hashed(k.key, k.hash),
            Key::Text(t) => self.texts.get(*t).copied(),
            Key::Joined(t) => self.texts.get(t.as_str()).copied(),
        }
    }

    /// The violation of a key first claimed on line `first`.
    fn duplicate(&self, key: &Key<'_>, first: u64) -> Violation {
        let shown = match key {
            Key::Int(k) => k.key.to_string(),
            Key::Text(t) => shorten(t),
            Key::Joined(t) => shorten(&t.replace('\u{1f}', ", ")),
        };
        Violation {
            rule: self.rule,
            reason: format!(
                "duplicate {} {shown}, first seen on line {first}",
                self.name
            ),
            value: shown,
        }
    }

    /// Claims the record's key unless an earlier record did (one lookup):
    /// returns the earlier record's line then.
    fn claim_new(&mut self, key: &Key<'_>, line: u64) -> Option<u64> {
        match key {
            Key::Int(k) => self.ints.claim_hashed(k.key, k.hash, line),
            Key::Text(t) => self.claim_text(t, line),
            Key::Joined(t) => self.claim_text(t, line),
        }
    }

    fn claim_text(&mut self, text: &str, line: u64) -> Option<u64> {
        match self.texts.get(text) {
            Some(first) => Some(*first),
            None => {
                self.texts.insert(text.into(), line);
                None
            }
        }
    }
}

/// The unique columns of a rule set bound to one file's header.
#[derive(Debug)]
pub struct UniqueKeys {
    columns: Vec<UniqueColumn>,
    /// The first integer column, whose keys a [`KeyReader`] reads.
    primary: Option<usize>,
}

impl UniqueKeys {
    /// Tracks every column with a `unique` rule that the header holds.
    pub fn new(rules: &RuleSet, binding: &HeaderBinding) -> Self {
        let columns: Vec<UniqueColumn> = rules
            .columns
            .iter()
            .zip(&binding.field_of)
            .filter_map(|(column, field)| {
                let rule = column.unique?;
                Some(UniqueColumn {
                    name: column.name.clone(),
                    rule,
                    error: rules.catalog[rule].severity == Severity::Error,
                    field: (*field)?,
                    more_fields: Vec::new(),
                    integer: matches!(column.parse, TypeCheck::Integer),
                    nulls: rules.file.null_values.clone(),
                    ints: IntIndex::default(),
                    texts: HashMap::default(),
                })
            })
            .chain(rules.unique_keys.iter().filter_map(|key| {
                let fields: Option<Vec<usize>> =
                    key.columns.iter().map(|&c| binding.field_of[c]).collect();
                let fields = fields?;
                let names: Vec<&str> = key
                    .columns
                    .iter()
                    .map(|&c| rules.columns[c].name.as_str())
                    .collect();
                Some(UniqueColumn {
                    name: format!("({})", names.join(", ")),
                    rule: key.rule,
                    error: true,
                    field: fields[0],
                    more_fields: fields[1..].to_vec(),
                    integer: false,
                    nulls: rules.file.null_values.clone(),
                    ints: IntIndex::default(),
                    texts: HashMap::default(),
                })
            }))
            .collect();
        let primary = columns.iter().position(|c| c.integer);
        UniqueKeys { columns, primary }
    }

    /// A reader of the primary keys, for the threads that check records.
    pub fn key_reader(&self) -> KeyReader {
        KeyReader {
            primary: self
                .primary
                .map(|c| (self.columns[c].field, self.columns[c].ints.hasher().clone())),
        }
    }

    /// The key of column `c` of `record`, with `read` from the [`KeyReader`].
    fn key_of<'a>(
        &self,
        c: usize,
        record: &RecordView<'a>,
        read: Option<ReadKey>,
    ) -> Option<Key<'a>> {
        let read = read.filter(|_| self.primary == Some(c));
        self.columns[c].key(record, read)
    }

    /// Checks an otherwise accepted record, whose primary key the
    /// [`KeyReader`] read as `read`: appends a violation for each key seen
    /// before. Returns true (and claims its keys) when no repeated key is
    /// an error.
    pub fn claim(
        &mut self,
        record: &RecordView<'_>,
        read: Option<ReadKey>,
        out: &mut Vec<Violation>,
    ) -> bool {
        // The common case, one unique column: check and claim in one lookup.
        if self.columns.len() == 1 {
            let Some(key) = self.key_of(0, record, read) else {
                return true;
            };
            let column = &mut self.columns[0];
            let Some(first) = column.claim_new(&key, record.line) else {
                return true;
            };
            out.push(column.duplicate(&key, first));
            return !column.error;
        }
        let mut accepted = true;
        let mut fresh = Vec::new();
        for (c, column) in self.columns.iter().enumerate() {
            let Some(key) = self.key_of(c, record, read) else {
                continue;
            };
            match column.first_line(&key) {
                Some(first) => {
                    out.push(column.duplicate(&key, first));
                    accepted &= !column.error;
                }
                None => fresh.push((c, key)),
            }
        }
        if accepted {
            for (c, key) in fresh {
                let claimed = self.columns[c].claim_new(&key, record.line);
                debug_assert!(claimed.is_none(), "a key not seen is new");
            }
        }
        accepted
    }

    /// Makes room for `keys` keys in every column up front, so that the
    /// index is not rebuilt as it grows: a rebuild holds the old index and
    /// the new one at once, the peak of a check's memory. At most
    /// [`RESERVED_KEYS_CAP`] are reserved, which bounds what a wrong guess
    /// costs.
    pub fn reserve(&mut self, keys: u64) {
        let keys = usize::try_from(keys.min(RESERVED_KEYS_CAP)).unwrap_or(0);
        for column in &mut self.columns {
            if column.integer {
                column.ints.reserve(keys);
            } else {
                column.texts.reserve(keys);
            }
        }
    }

    /// Fetches the index entries of primary keys that come next, as the
    /// [`KeyReader`] read them (see [`IntIndex::warm`]).
    pub fn warm(&self, keys: impl Iterator<Item = ReadKey>) {
        if let Some(primary) = self.primary {
            self.columns[primary].ints.warm(keys.map(|k| k.hash));
        }
    }

    /// Distinct keys claimed so far, over all unique columns.
    pub fn distinct(&self) -> usize {
        self.columns
            .iter()
            .map(|c| c.ints.len() + c.texts.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::read::input::{Chunk, ParseBuffers, parse_chunk};

    /// Claims every record of `csv` (header first) in order: for each, its
    /// line, whether it was accepted and the reasons of its violations.
    fn claims(rules: &str, csv: &str) -> Vec<(u64, bool, Vec<String>)> {
        let rules = RuleSet::from_source(Path::new("r.toml"), rules).unwrap();
        let mut lines = csv.lines();
        let header: csv::ByteRecord = lines.next().unwrap().split(',').collect();
        let binding = HeaderBinding::bind(&rules, &header);
        let mut unique = UniqueKeys::new(&rules, &binding);
        let body = lines.map(|l| format!("{l}\n")).collect::<String>();
        let chunk = Chunk {
            data: body.into_bytes(),
            first_line: 2,
            eof: true,
            ..Chunk::default()
        };
        let mut parser = crate::read::input::ChunkParser::new(b',');
        let mut parsed = parse_chunk(
            &mut parser,
            chunk,
            ParseBuffers::default(),
            &mut |_: &RecordView<'_>| (),
        );
        parsed
            .drain()
            .map(|(record, ())| {
                let mut out = Vec::new();
                let accepted = unique.claim(&record, None, &mut out);
                (
                    record.line,
                    accepted,
                    out.into_iter().map(|v| v.reason).collect(),
                )
            })
            .collect()
    }

    type Claim = (u64, bool, Vec<String>);

    fn taken(line: u64) -> Claim {
        (line, true, Vec::new())
    }

    fn repeat(line: u64, accepted: bool, reason: &str) -> Claim {
        (line, accepted, vec![reason.to_owned()])
    }

    #[test]
    fn one_column_claims_first_and_names_the_first_line_of_a_repeat() {
        let rules = "[columns.id]\ntype = \"integer\"\nunique = true\n";
        // Integers compare by value: 07 is 7. Line 5 is blank.
        let got = claims(rules, "id\n7\n8\n07\n\n9\n8\n");
        let want = [
            taken(2),
            taken(3),
            repeat(4, false, "duplicate id 7, first seen on line 2"),
            taken(6),
            repeat(7, false, "duplicate id 8, first seen on line 3"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_key_of_several_columns_is_unique_as_a_whole_and_a_null_part_is_no_key() {
        let rules = "[file]\nnull_values = [\"NA\"]\nunique = [[\"country\", \"year\"]]\n\
                     [columns.country]\n[columns.year]\ntype = \"integer\"\n";
        let got = claims(
            rules,
            "country,year\nAT,2020\nAT,2021\nBE,2020\nAT,2020\nAT,NA\nAT,NA\n",
        );
        let want = [
            taken(2),
            taken(3),
            taken(4),
            repeat(
                5,
                false,
                "duplicate (country, year) \"AT, 2020\", first seen on line 2",
            ),
            taken(6),
            taken(7),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_warning_repeat_is_accepted_and_does_not_move_the_first_line() {
        let rules = "[columns.code]\ntype = \"string\"\nunique = true\nseverity = \"warn\"\n";
        let got = claims(rules, "code\na\nb\na\na\n");
        let reason = "duplicate code \"a\", first seen on line 2";
        let want = [
            taken(2),
            taken(3),
            repeat(4, true, reason),
            repeat(5, true, reason),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn with_two_columns_a_rejected_record_claims_neither_key() {
        let rules = "[columns.id]\ntype = \"integer\"\nunique = true\n\
                     [columns.code]\ntype = \"string\"\nunique = true\n";
        let got = claims(rules, "id,code\n1,a\n1,b\n2,b\n3,a\n");
        // Line 3 was rejected, so its code b is still free on line 4.
        let want = [
            taken(2),
            repeat(3, false, "duplicate id 1, first seen on line 2"),
            taken(4),
            repeat(5, false, "duplicate code \"a\", first seen on line 2"),
        ];
        assert_eq!(got, want);
    }
}
