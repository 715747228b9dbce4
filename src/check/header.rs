//! Binds a rule set to one file's header: which field holds each declared
//! column, and what is missing, duplicated or unexpected.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use csv::ByteRecord;

use crate::rules::RuleSet;

/// The result of matching a header against the declared columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBinding {
    /// The header's names, decoded (invalid UTF-8 replaced).
    pub names: Vec<String>,
    /// Number of fields every record must have.
    pub width: usize,
    /// For each declared column, the index of its field, if present.
    pub field_of: Vec<Option<usize>>,
    /// Required columns absent from the header.
    pub missing: Vec<String>,
    /// Declared but optional columns absent from the header (not checked).
    pub not_checked: Vec<String>,
    /// Header columns that no rule declares.
    pub unexpected: Vec<String>,
    /// Names that appear more than once in the header.
    pub duplicates: Vec<String>,
    /// Hints such as a missing column that differs from a present one only by case.
    pub hints: Vec<String>,
    /// What the file is instead of CSV, when its first bytes say so.
    pub not_csv: Option<&'static str>,
    /// Declared columns absent from the header that look like a typo of a
    /// header column no rule declares: `(declared, header name)`.
    pub typos: Vec<(String, String)>,
}

/// Undeclared header columns beyond which misspellings are looked for only
/// by case and separators, not by edit distance.
const MAX_TYPO_CANDIDATES: usize = 1000;

/// Signatures of formats that are not CSV, by their first bytes.
const SIGNATURES: [(&[u8], &str); 8] = [
    // Compressed files are decompressed before their header is read; a
    // second layer (a .gz inside a .gz) is reported.
    (b"\x1f\x8b", "a gzip archive: decompress it first"),
    (b"\x89PNG", "a PNG image"),
    (
        b"PK\x03\x04",
        "a zip archive (or an xlsx workbook): extract or export it as CSV first",
    ),
    (b"%PDF", "a PDF document"),
    (b"BZh", "a bzip2 archive: decompress it first"),
    (b"\xfd7zXZ\x00", "an xz archive: decompress it first"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive: decompress it first"),
    (
        b"\xd0\xcf\x11\xe0",
        "an old Excel (xls) workbook: export it as CSV first",
    ),
];

/// Names what a file is when its first bytes are a known binary signature,
/// or when its header holds a NUL byte (no CSV header does).
pub fn sniff(first_bytes: &[u8]) -> Option<&'static str> {
    SIGNATURES
        .iter()
        .find(|(magic, _)| first_bytes.starts_with(magic))
        .map(|(_, what)| *what)
        .or_else(|| {
            memchr::memchr(0, first_bytes).map(|_| "binary data (its header holds a NUL byte)")
        })
}

impl HeaderBinding {
    /// Matches `header` against the declared columns of `rules`; `raw` is the
    /// header's original bytes, sniffed for formats that are not CSV.
    pub fn bind_raw(rules: &RuleSet, header: &ByteRecord, raw: &[u8]) -> HeaderBinding {
        HeaderBinding {
            not_csv: sniff(raw),
            ..Self::bind(rules, header)
        }
    }

    /// Matches `header` against the declared columns of `rules`.
    pub fn bind(rules: &RuleSet, header: &ByteRecord) -> HeaderBinding {
        let names: Vec<String> = header
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        // Every step is linear in the header's width: a header of 200,000
        // columns binds in the time it takes to read it.
        let mut first_field: HashMap<&str, usize> = HashMap::with_capacity(names.len());
        let mut duplicates = Vec::new();
        let mut reported: HashSet<&str> = HashSet::new();
        for (i, name) in names.iter().enumerate() {
            match first_field.entry(name) {
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
                Entry::Occupied(_) => {
                    if reported.insert(name) {
                        duplicates.push(name.clone());
                    }
                }
            }
        }
        let field_of: Vec<Option<usize>> = rules
            .columns
            .iter()
            .map(|c| first_field.get(c.name.as_str()).copied())
            .collect();
        let mut missing = Vec::new();
        let mut not_checked = Vec::new();
        for (column, field) in rules.columns.iter().zip(&field_of) {
            if field.is_none() {
                if rules.file.required_columns.contains(&column.name) {
                    missing.push(column.name.clone());
                } else {
                    not_checked.push(column.name.clone());
                }
            }
        }
        let unexpected: Vec<String> = names
            .iter()
            .filter(|n| rules.column_index(n).is_none())
            .cloned()
            .collect();
        let mut hints: Vec<String> = Vec::new();
        hints.extend(
            names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.trim().is_empty())
                .map(|(i, _)| format!("column {} has no name", i + 1)),
        );
        hints.extend(header.iter().enumerate().filter_map(|(i, raw)| {
            let err = std::str::from_utf8(raw).err()?;
            Some(format!(
                "the name of column {} is not valid UTF-8 at byte {}",
                i + 1,
                err.valid_up_to()
            ))
        }));
        // Names from the file are printed in reports: escape control characters.
        let printable =
            |list: Vec<String>| list.iter().map(|n| crate::text::printable(n)).collect();
        let hints = hints
            .into_iter()
            .map(|h: String| crate::text::printable(&h))
            .collect();
        // The same name but for case and separators is found by one lookup
        // per column; a misspelling by edit distance only among a few
        // undeclared names (a header of thousands is another schema, and
        // comparing each with each would not be linear).
        let mut by_letters: HashMap<String, &str> = HashMap::new();
        if !missing.is_empty() || !not_checked.is_empty() {
            for u in unexpected.iter().rev() {
                by_letters.insert(crate::text::reduced(u), u);
            }
        }
        let typos = missing
            .iter()
            .chain(&not_checked)
            .filter_map(|m| {
                let letters = crate::text::reduced(m);
                by_letters
                    .get(&letters)
                    .copied()
                    .filter(|_| !letters.is_empty())
                    .or_else(|| {
                        (unexpected.len() <= MAX_TYPO_CANDIDATES).then(|| {
                            crate::text::likely_typo(m, unexpected.iter().map(String::as_str))
                        })?
                    })
                    .map(|h| (m.clone(), crate::text::printable(h)))
            })
            .collect();
        HeaderBinding {
            typos,
            width: names.len(),
            unexpected: printable(unexpected),
            duplicates: printable(duplicates),
            hints,
            not_csv: None,
            names,
            field_of,
            missing,
            not_checked,
        }
    }

    /// True when records can be checked: every required column is present
    /// and no declared column is ambiguous.
    pub fn usable(&self) -> bool {
        self.not_csv.is_none() && self.missing.is_empty() && self.ambiguous().is_empty()
    }

    /// Declared columns that appear more than once in the header.
    pub fn ambiguous(&self) -> Vec<&str> {
        self.duplicates
            .iter()
            .filter(|d| !self.unexpected.contains(d))
            .map(String::as_str)
            .collect()
    }

    /// Name of a field by index, for messages.
    pub fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("?", String::as_str)
    }

    /// Why records cannot be checked, when [`usable`](Self::usable) is false.
    pub fn unusable_reason(&self) -> String {
        if let Some(what) = self.not_csv {
            return format!("the file is not CSV: it is {what}");
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "the header lacks required column{} {}",
                if self.missing.len() == 1 { "" } else { "s" },
                self.missing.join(", ")
            ));
        }
        let ambiguous = self.ambiguous();
        if !ambiguous.is_empty() {
            parts.push(format!(
                "the header repeats column {}",
                ambiguous.join(", ")
            ));
        }
        parts.join("; ")
    }
}
