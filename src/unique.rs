//! Uniqueness: the keys claimed by accepted rows, in file order.
//!
//! Whether a key repeats depends on every row before it, so this runs on
//! the consuming side of the pipeline, after the row checks. Only rows
//! that are otherwise accepted claim a key, so a bad first occurrence does
//! not shadow a good second one. Integer columns compare by value, every
//! other type by its text.

use std::collections::HashMap;

use crate::header::HeaderBinding;
use crate::input::RecordView;
use crate::int_index::{Hasher, IntIndex};
use crate::row::{Violation, shorten};
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
    integer: bool,
    ints: IntIndex,
    texts: HashMap<Box<str>, u64, Hasher>,
}

/// A key as found in a record.
enum Key<'a> {
    Int(i64),
    Text(&'a str),
}

impl UniqueColumn {
    fn key<'a>(&self, record: &RecordView<'a>) -> Option<Key<'a>> {
        let text = std::str::from_utf8(record.fields.get(self.field)?).ok()?;
        if text.is_empty() {
            return None;
        }
        if self.integer {
            text.parse().ok().map(Key::Int)
        } else {
            Some(Key::Text(text))
        }
    }

    fn first_line(&self, key: &Key<'_>) -> Option<u64> {
        match key {
            Key::Int(i) => self.ints.get(*i),
            Key::Text(t) => self.texts.get(*t).copied(),
        }
    }

    /// The violation of a key first claimed on line `first`.
    fn duplicate(&self, key: &Key<'_>, first: u64) -> Violation {
        let shown = match key {
            Key::Int(i) => i.to_string(),
            Key::Text(t) => shorten(t),
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
            Key::Int(i) => self.ints.claim(*i, line),
            Key::Text(t) => match self.texts.get(*t) {
                Some(first) => Some(*first),
                None => {
                    self.texts.insert((*t).into(), line);
                    None
                }
            },
        }
    }

    fn claim(&mut self, key: &Key<'_>, line: u64) {
        match key {
            Key::Int(i) => {
                self.ints.claim(*i, line);
            }
            Key::Text(t) => {
                self.texts.insert((*t).into(), line);
            }
        }
    }
}

/// The unique columns of a rule set bound to one file's header.
#[derive(Debug)]
pub struct UniqueKeys {
    columns: Vec<UniqueColumn>,
}

impl UniqueKeys {
    /// Tracks every column with a `unique` rule that the header holds.
    pub fn new(rules: &RuleSet, binding: &HeaderBinding) -> Self {
        let columns = rules
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
                    integer: matches!(column.parse, TypeCheck::Integer),
                    ints: IntIndex::default(),
                    texts: HashMap::default(),
                })
            })
            .collect();
        UniqueKeys { columns }
    }

    /// Checks an otherwise accepted record: appends a violation for each
    /// key seen before. Returns true (and claims its keys) when no repeated
    /// key is an error.
    pub fn claim(&mut self, record: &RecordView<'_>, out: &mut Vec<Violation>) -> bool {
        // The common case, one unique column: check and claim in one lookup.
        if let [column] = &mut self.columns[..] {
            let Some(key) = column.key(record) else {
                return true;
            };
            let Some(first) = column.claim_new(&key, record.line) else {
                return true;
            };
            out.push(column.duplicate(&key, first));
            return !column.error;
        }
        let mut accepted = true;
        for column in &self.columns {
            let Some(key) = column.key(record) else {
                continue;
            };
            if let Some(first) = column.first_line(&key) {
                out.push(column.duplicate(&key, first));
                accepted &= !column.error;
            }
        }
        if accepted {
            for column in &mut self.columns {
                if let Some(key) = column.key(record) {
                    if column.first_line(&key).is_none() {
                        column.claim(&key, record.line);
                    }
                }
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

    /// Fetches the index entries of the integer keys of `records`, which
    /// come next (see [`IntIndex::warm`]).
    pub fn warm<'a>(&self, records: impl Iterator<Item = RecordView<'a>> + Clone) {
        for column in self.columns.iter().filter(|c| c.integer) {
            column.ints.warm(
                records
                    .clone()
                    .filter_map(|record| match column.key(&record) {
                        Some(Key::Int(key)) => Some(key),
                        _ => None,
                    }),
            );
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
    use crate::input::{Chunk, ParseBuffers, parse_chunk};

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
        let mut parser = crate::input::ChunkParser::new(b',');
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
                let accepted = unique.claim(&record, &mut out);
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
