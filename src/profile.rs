//! `dqgate init`: profile a sample of a CSV file and write a starting rule
//! file that passes on it. Each column gets the narrowest type that every
//! non-empty value fits, `required` when no value is empty, a lower bound
//! of 0 when no number is negative, the set of values when there are few,
//! and the first column whose values are all distinct becomes the key.
//! Observed ranges and null rates are written as comments to tighten by
//! hand.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::io::Read;

use crate::check::row::Limits;
use crate::fields::literal::{self, Literal};
use crate::read::input::{ChunkReader, HeaderRead, RecordView, read_header};
use crate::read::pipeline::{self, Item, PassOptions, PipelineError};

/// Most distinct values a text column may have to get `allowed`.
const MAX_ALLOWED: usize = 12;
/// Distinct values kept per column while profiling.
const MAX_TRACKED: usize = 64;

/// Date formats `init` recognises, most common first.
const DATE_FORMATS: [&str; 3] = ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"];

/// Scalar types `init` can propose, narrowest first.
const SCALARS: [&str; 4] = ["integer", "number", "boolean", "date"];

/// The share of non-empty values a type must fit to be proposed: the rest
/// would be quarantined, and `init` writes a 1% quarantine limit.
const MOST: f64 = 0.99;

/// How many of a column's values fit one type, and the first that did not.
#[derive(Debug, Default, Clone)]
struct Fit {
    count: u64,
    first_misfit: Option<(u64, String)>,
}

impl Fit {
    fn see(&mut self, fits: bool, line: u64, text: &str) {
        if fits {
            self.count += 1;
        } else if self.first_misfit.is_none() {
            self.first_misfit = Some((line, text.to_owned()));
        }
    }
}

/// What one column's values fit, counted as values are seen.
#[derive(Debug, Default)]
struct ColumnProfile {
    name: String,
    values: u64,
    empty: u64,
    /// Per scalar type of [`SCALARS`] (dates in their best format).
    integer: Fit,
    number: Fit,
    boolean: Fit,
    /// Per format of [`DATE_FORMATS`].
    dates: [Fit; 3],
    entity_list: bool,
    entity: bool,
    /// For entity lists and entities: keys in every object, with the kind
    /// of value each held every time.
    keys: Option<BTreeMap<String, &'static str>>,
    min: Option<f64>,
    max: Option<f64>,
    /// Per date format, the earliest and latest date.
    date_range: [Option<(chrono::NaiveDate, chrono::NaiveDate)>; 3],
    distinct: BTreeSet<String>,
    too_many: bool,
    seen: HashSet<String>,
    all_distinct: bool,
}

impl ColumnProfile {
    fn new(name: String) -> Self {
        ColumnProfile {
            name,
            entity_list: true,
            entity: true,
            all_distinct: true,
            ..ColumnProfile::default()
        }
    }

    fn add(&mut self, line: u64, text: &str) {
        self.values += 1;
        if text.is_empty() {
            self.empty += 1;
            return;
        }
        if self.all_distinct && !self.seen.insert(text.to_owned()) {
            self.all_distinct = false;
            self.seen.clear();
        }
        if !self.too_many {
            self.distinct.insert(text.to_owned());
            if self.distinct.len() > MAX_TRACKED {
                self.too_many = true;
                self.distinct.clear();
            }
        }
        self.integer.see(text.parse::<i64>().is_ok(), line, text);
        let number = text.parse::<f64>().ok().filter(|x| {
            x.is_finite()
                && !text
                    .bytes()
                    .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        });
        self.number.see(number.is_some(), line, text);
        if let Some(x) = number {
            self.min = Some(self.min.map_or(x, |m| m.min(x)));
            self.max = Some(self.max.map_or(x, |m| m.max(x)));
        }
        self.boolean.see(
            matches!(text, "true" | "True" | "TRUE" | "false" | "False" | "FALSE"),
            line,
            text,
        );
        for (i, format) in DATE_FORMATS.iter().enumerate() {
            let date = chrono::NaiveDate::parse_from_str(text, format).ok();
            self.dates[i].see(date.is_some(), line, text);
            if let Some(d) = date {
                let range = self.date_range[i].get_or_insert((d, d));
                range.0 = range.0.min(d);
                range.1 = range.1.max(d);
            }
        }
        if self.entity_list || self.entity {
            match literal::parse(text) {
                Ok(Literal::List(items)) if items.iter().all(|i| matches!(i, Literal::Dict(_))) => {
                    self.entity = false;
                    for item in &items {
                        self.narrow_keys(item);
                    }
                }
                Ok(dict @ Literal::Dict(_)) => {
                    self.entity_list = false;
                    self.narrow_keys(&dict);
                }
                _ => {
                    self.entity_list = false;
                    self.entity = false;
                }
            }
        }
    }

    /// Keeps the keys every object has, with a kind each held every time.
    fn narrow_keys(&mut self, dict: &Literal<'_>) {
        let Literal::Dict(entries) = dict else { return };
        let here: BTreeMap<String, &'static str> = entries
            .iter()
            .filter_map(|(k, v)| match k {
                Literal::Str(k) => Some((k.to_string(), key_kind(v))),
                _ => None,
            })
            .collect();
        self.keys = Some(match self.keys.take() {
            None => here,
            Some(known) => known
                .into_iter()
                .filter_map(|(k, kind)| {
                    let other = here.get(&k)?;
                    Some((k, if *other == kind { kind } else { "any" }))
                })
                .collect(),
        });
    }

    fn non_empty(&self) -> u64 {
        self.values - self.empty
    }

    /// The date format most values fit, as an index into [`DATE_FORMATS`].
    fn date_format(&self) -> usize {
        (0..DATE_FORMATS.len())
            .max_by_key(|&i| (self.dates[i].count, std::cmp::Reverse(i)))
            .unwrap_or(0)
    }

    fn fit(&self, ty: &str) -> &Fit {
        match ty {
            "integer" => &self.integer,
            "number" => &self.number,
            "boolean" => &self.boolean,
            _ => &self.dates[self.date_format()],
        }
    }

    /// The narrowest type that at least [`MOST`] of the values fit (the
    /// rest would be quarantined), else a list type every value fits, else
    /// string.
    fn column_type(&self) -> &'static str {
        let n = self.non_empty();
        if n == 0 {
            return "string";
        }
        if let Some(ty) = SCALARS
            .into_iter()
            .find(|ty| self.fit(ty).count as f64 >= MOST * n as f64)
        {
            return ty;
        }
        if self.entity_list {
            "entity_list"
        } else if self.entity {
            "entity"
        } else {
            "string"
        }
    }

    /// For a scalar type that not every value fits: how many do, and the
    /// first that does not, in words.
    fn misfits(&self, ty: &str) -> Option<String> {
        if !SCALARS.contains(&ty) {
            return None;
        }
        let fit = self.fit(ty);
        let n = self.non_empty();
        let (line, text) = fit.first_misfit.as_ref()?;
        Some(format!(
            "{} of {} values are {ty}s; {} {} not and will be quarantined, e.g. line {line}: {}",
            fit.count,
            n,
            n - fit.count,
            if n - fit.count == 1 { "is" } else { "are" },
            toml_string(text)
        ))
    }
}

fn key_kind(value: &Literal<'_>) -> &'static str {
    match value {
        Literal::Int(_) => "integer",
        Literal::Float(_) => "number",
        Literal::Str(_) => "string",
        Literal::Bool(_) => "boolean",
        _ => "any",
    }
}

/// A TOML key: bare when it can be, quoted otherwise.
fn toml_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        toml_string(name)
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        x.to_string()
    }
}

/// Profiles up to `sample` records of CSV read from `reader` and returns a
/// commented rule file. `name` names the source in the header comment.
pub(crate) fn init_rules<R: Read + Send>(
    name: &str,
    reader: R,
    delimiter: Option<u8>,
    sample: u64,
) -> std::io::Result<String> {
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, reader);
    let delimiter = match delimiter {
        Some(d) => d,
        None => sniff_delimiter(std::io::BufRead::fill_buf(&mut reader)?),
    };
    let mut input = ChunkReader::new(reader);
    let max_record_bytes = Limits::default().max_record_bytes;
    let header = match read_header(&mut input, delimiter, max_record_bytes)? {
        HeaderRead::Header(header) => header,
        HeaderRead::NoHeader { .. } => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{name} is empty: it has no header row"),
            ));
        }
        HeaderRead::TooLarge => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the first record of {name} is longer than {max_record_bytes} bytes"),
            ));
        }
    };
    let mut columns: Vec<ColumnProfile> = header
        .fields
        .iter()
        .map(|f| {
            ColumnProfile::new(
                String::from_utf8_lossy(f)
                    .trim_start_matches('\u{feff}')
                    .to_owned(),
            )
        })
        .collect();
    let width = columns.len();
    let (mut rows, mut skipped) = (0u64, 0u64);
    /// The sample is complete: stop reading.
    struct Sampled;
    let pass = PassOptions {
        delimiter,
        threads: 1,
        max_record_bytes,
    };
    let read = pipeline::run(
        pipeline::Source::Stream(&mut input),
        pass,
        &|| |_: &RecordView<'_>| (),
        |item| {
            if rows + skipped >= sample {
                return Err(Sampled);
            }
            let record = match item {
                Item::Record(record, ()) => record,
                Item::Upcoming(_) => return Ok(()),
                Item::Oversized(_) => {
                    skipped += 1;
                    return Ok(());
                }
            };
            // Records that are not well formed teach nothing about the columns.
            let texts: Option<Vec<&str>> = record
                .fields
                .iter()
                .map(|f| std::str::from_utf8(f).ok())
                .collect();
            match texts {
                Some(texts) if texts.len() == width => {
                    for (column, text) in columns.iter_mut().zip(texts) {
                        column.add(record.line, text);
                    }
                    rows += 1;
                }
                _ => skipped += 1,
            }
            Ok(())
        },
    );
    match read {
        Ok(_) | Err(PipelineError::Consumer(Sampled)) => {}
        Err(PipelineError::Io(e)) => return Err(e),
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A starting rule file written by `dqgate init` from {rows} records of {name}."
    );
    if skipped > 0 {
        let _ = writeln!(
            out,
            "# {skipped} malformed records were left out of the profile."
        );
    }
    let _ = writeln!(
        out,
        "# Every rule below holds on that sample; tighten them from the observed"
    );
    let _ = writeln!(
        out,
        "# values in the comments. The format is documented in rules/README.md.\n"
    );
    let _ = writeln!(
        out,
        "[dataset]\nname = {}\n",
        toml_string(name.rsplit('/').next().unwrap_or(name))
    );
    let _ = writeln!(out, "[file]");
    if delimiter != b',' {
        let _ = writeln!(
            out,
            "delimiter = {}",
            toml_string(&(delimiter as char).to_string())
        );
    }
    let _ = writeln!(
        out,
        "min_rows = 1\n# The file fails when more than this fraction of its rows is quarantined."
    );
    let _ = writeln!(out, "max_quarantined_fraction = 0.01");

    let key = columns
        .iter()
        .position(|c| c.name == "id" && c.all_distinct && c.empty == 0 && c.non_empty() > 1)
        .or_else(|| {
            columns.iter().position(|c| {
                c.all_distinct
                    && c.empty == 0
                    && c.non_empty() > 1
                    && matches!(c.column_type(), "integer" | "string")
            })
        });
    for (index, c) in columns.iter().enumerate() {
        let ty = c.column_type();
        let _ = writeln!(out, "\n[columns.{}]", toml_key(&c.name));
        let _ = writeln!(
            out,
            "# {} of {} values empty ({:.2}%){}",
            c.empty,
            c.values,
            if c.values == 0 {
                0.0
            } else {
                c.empty as f64 * 100.0 / c.values as f64
            },
            if c.too_many {
                String::new()
            } else {
                format!(", {} distinct", c.distinct.len())
            }
        );
        if let (Some(lo), Some(hi)) = (c.min, c.max)
            && matches!(ty, "integer" | "number")
        {
            let _ = writeln!(out, "# observed {} .. {}", number(lo), number(hi));
        }
        if ty == "date"
            && let Some((lo, hi)) = c.date_range[c.date_format()]
        {
            let _ = writeln!(out, "# observed {lo} .. {hi}");
        }
        if let Some(misfits) = c.misfits(ty) {
            let _ = writeln!(out, "# {misfits}");
        }
        let _ = writeln!(out, "type = \"{ty}\"");
        if ty == "date" && c.date_format() != 0 {
            let _ = writeln!(
                out,
                "formats = [{}]",
                toml_string(DATE_FORMATS[c.date_format()])
            );
        }
        if c.empty == 0 && c.non_empty() > 0 {
            let _ = writeln!(out, "required = true");
        }
        if matches!(ty, "integer" | "number") && c.min.is_some_and(|m| m >= 0.0) {
            let _ = writeln!(out, "min = 0");
        }
        if ty == "boolean" {
            let truthy: Vec<&str> = ["true", "True", "TRUE"]
                .into_iter()
                .filter(|v| c.distinct.contains(*v))
                .collect();
            let falsy: Vec<&str> = ["false", "False", "FALSE"]
                .into_iter()
                .filter(|v| c.distinct.contains(*v))
                .collect();
            let list = |v: Vec<&str>| {
                v.iter()
                    .map(|s| toml_string(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !truthy.is_empty() {
                let _ = writeln!(out, "true_values = [{}]", list(truthy));
            }
            if !falsy.is_empty() {
                let _ = writeln!(out, "false_values = [{}]", list(falsy));
            }
        }
        if matches!(ty, "entity_list" | "entity")
            && let Some(keys) = c.keys.as_ref().filter(|k| !k.is_empty())
        {
            let keys: Vec<String> = keys
                .iter()
                .map(|(k, kind)| format!("{} = \"{kind}\"", toml_key(k)))
                .collect();
            let _ = writeln!(out, "keys = {{ {} }}", keys.join(", "));
        }
        let few = !c.too_many
            && (1..=MAX_ALLOWED).contains(&c.distinct.len())
            && c.non_empty() >= 2 * c.distinct.len() as u64;
        if ty == "string" && few {
            let values: Vec<String> = c.distinct.iter().map(|v| toml_string(v)).collect();
            let _ = writeln!(out, "allowed = [{}]", values.join(", "));
        }
        if Some(index) == key {
            let _ = writeln!(out, "unique = true");
        }
    }
    write_model(&mut out, name, &columns, key);
    Ok(out)
}

/// Delimiters `init` tells apart, the usual one first.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// The delimiter that splits the first complete lines of `start` into the
/// same number of fields, more than one, outside quotes; `,` when none does.
fn sniff_delimiter(start: &[u8]) -> u8 {
    let lines: Vec<&[u8]> = {
        let mut lines: Vec<&[u8]> = start.split(|&b| b == b'\n').collect();
        lines.pop(); // the last may be cut
        lines.into_iter().take(20).collect()
    };
    let count = |line: &[u8], d: u8| {
        let mut quoted = false;
        line.iter()
            .filter(|&&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b == d && !quoted
            })
            .count()
    };
    // Ties go to the usual delimiter: the first in DELIMITERS.
    DELIMITERS
        .into_iter()
        .rev()
        .filter(|&d| {
            let first = lines.first().map_or(0, |l| count(l, d));
            // Quoted fields may span lines; those lines are not judged.
            first > 0
                && lines
                    .iter()
                    .filter(|l| !l.contains(&b'"'))
                    .all(|l| count(l, d) == first)
        })
        .max_by_key(|&d| lines.first().map_or(0, |l| count(l, d)))
        .unwrap_or(b',')
}

/// The starting model: one table of records keyed like the unique column,
/// and for each list whose elements have keys, a table of its elements
/// (keyed by `id`, or by its first key) and a table linking them to the
/// records.
fn write_model(out: &mut String, name: &str, columns: &[ColumnProfile], key: Option<usize>) {
    use crate::rules::model::identifier_for;
    let Some(key) = key else {
        let _ = writeln!(
            out,
            "\n# No column is unique and never empty in the sample, so no store model is\n\
             # written: `dqgate run` needs one. Declare [[tables]] (see rules/README.md)."
        );
        return;
    };
    let stem = name
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .split('.')
        .next()
        .unwrap_or(name);
    let records = identifier_for(stem);
    let key_name = identifier_for(&columns[key].name);
    let _ = writeln!(
        out,
        "\n# The store's model: the tables `dqgate run` loads accepted records into.\n\
         # Rename and trim them to what the feed's queries need."
    );
    let _ = writeln!(out, "\n[[tables]]\nname = {}", toml_string(&records));
    let _ = writeln!(out, "key = [{}]\ncolumns = [", toml_string(&key_name));
    for c in columns {
        if matches!(c.column_type(), "entity_list" | "entity") {
            continue;
        }
        let _ = writeln!(
            out,
            "  {{ name = {}, column = {} }},",
            toml_string(&identifier_for(&c.name)),
            toml_string(&c.name)
        );
    }
    let _ = writeln!(out, "]");
    for c in columns {
        let Some(keys) = c.keys.as_ref().filter(|k| !k.is_empty()) else {
            continue;
        };
        if c.column_type() != "entity_list" {
            continue;
        }
        let list = identifier_for(&c.name);
        let element_key = keys
            .keys()
            .find(|k| k.as_str() == "id")
            .or_else(|| keys.keys().next())
            .cloned()
            .unwrap_or_default();
        // A key seen with several kinds of value (or only nulls) is kept as text.
        let fields: Vec<String> = keys
            .iter()
            .map(|(k, kind)| {
                format!(
                    "{{ name = {}, field = {}{} }}",
                    toml_string(&identifier_for(k)),
                    toml_string(k),
                    if *kind == "any" {
                        ", type = \"string\""
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\n[[tables]]\nname = {}\nexplode = {}\nkey = [{}]\ncolumns = [{}]",
            toml_string(&list),
            toml_string(&c.name),
            toml_string(&identifier_for(&element_key)),
            fields.join(", ")
        );
        let parent = format!("{records}_{key_name}");
        let child = format!("{list}_{}", identifier_for(&element_key));
        let _ = writeln!(
            out,
            "\n[[tables]]\nname = {}\nexplode = {}\nkey = [{}, {}]\ncolumns = [\n  {{ name = {}, column = {} }},\n  {{ name = {}, field = {} }},\n]",
            toml_string(&format!("{records}_{list}")),
            toml_string(&c.name),
            toml_string(&parent),
            toml_string(&child),
            toml_string(&parent),
            toml_string(&columns[key].name),
            toml_string(&child),
            toml_string(&element_key),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn infers_types_keys_and_small_value_sets() {
        let data = "id,score,ratio,flag,day,tags,status,note\n\
                    1,5,0.5,True,2020-01-02,\"[{'id': 1, 'name': 'a'}]\",open,x\n\
                    2,-3,1,False,2021-03-04,[],open,\n\
                    3,7,2.5,True,2019-12-31,\"[{'id': 2, 'name': 'b'}]\",closed,y\n\
                    4,9,3,False,2020-06-06,[],open,z\n";
        let text = init_rules("t.csv", data.as_bytes(), Some(b','), 100).unwrap();
        for expected in [
            "[columns.id]",
            "type = \"integer\"\nrequired = true\nmin = 0\nunique = true",
            "[columns.score]\n# 0 of 4 values empty (0.00%), 4 distinct\n# observed -3 .. 9\ntype = \"integer\"\nrequired = true\n\n",
            "[columns.ratio]",
            "type = \"number\"",
            "type = \"boolean\"\nrequired = true\ntrue_values = [\"True\"]\nfalse_values = [\"False\"]",
            "# observed 2019-12-31 .. 2021-03-04\ntype = \"date\"",
            "type = \"entity_list\"\nrequired = true\nkeys = { id = \"integer\", name = \"string\" }",
            "allowed = [\"closed\", \"open\"]",
            "[columns.note]\n# 1 of 4 values empty (25.00%), 3 distinct\ntype = \"string\"\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        RuleSet::from_source(Path::new("t.toml"), &text).expect("the written rules compile");
    }

    #[test]
    fn the_delimiter_is_the_one_that_splits_every_line_alike() {
        assert_eq!(sniff_delimiter(b"a\tb\tc\n1\t2,5\t3\n4\t5\t6\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a;b\n1;\"x;y\"\n2;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a,b|c\n1,2|3\n"), b',');
        assert_eq!(sniff_delimiter(b"single\nvalue\n"), b',');
    }

    #[test]
    fn quotes_keys_and_values_that_toml_needs_quoted() {
        assert_eq!(toml_key("release date"), "\"release date\"");
        assert_eq!(toml_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
    }
}
