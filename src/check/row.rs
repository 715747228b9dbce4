//! Checks one record against the compiled rules and says whether it is
//! accepted, with every violation found.
//!
//! The order is fixed: CSV structure first (size, field count, quoting,
//! UTF-8), because misaligned or undecodable fields make every later check
//! meaningless; then each column's type and constraints; then the
//! cross-field rules. Uniqueness depends on the rows before, so it is not
//! checked here but in file order by [`crate::check::unique`], and only for rows
//! that are otherwise accepted (a bad first occurrence does not shadow a
//! good second one).

use crate::check::header::HeaderBinding;
use crate::fields::value::Value;
use crate::read::input::RecordView;
use crate::rules::{Bound, Column, RuleId, RuleSet, Severity};

use super::quoting::quoting_problem;
use super::typed::type_failure;
pub use super::typed::{parse_value, typed_value};

/// Longest value quoted in a violation, in characters.
const SHOWN_VALUE_CHARS: usize = 60;

/// Size limits that protect memory and the report.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest field, in bytes.
    pub max_field_bytes: usize,
    /// Largest record, in bytes.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field_bytes: 1 << 20,
            max_record_bytes: 4 << 20,
        }
    }
}

/// One failed rule on one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The rule that failed.
    pub rule: RuleId,
    /// The offending value, shortened and escaped for display.
    pub value: String,
    /// Why it failed, in words.
    pub reason: String,
}

/// Checks records against a rule set bound to one file's header.
#[derive(Debug)]
pub struct RowChecker<'r> {
    rules: &'r RuleSet,
    binding: &'r HeaderBinding,
    limits: Limits,
    /// Reused storage for a row's typed values.
    scratch: Vec<Value<'static>>,
    /// Reused storage for a row's decoded fields.
    texts: Vec<&'static str>,
    /// Columns of the current row whose value failed its type.
    invalid: Vec<bool>,
    /// Each column's pattern's search cache, owned by this checker.
    pattern_caches: Vec<Option<regex_automata::meta::Cache>>,
}

impl<'r> RowChecker<'r> {
    /// A checker for records of the file whose header produced `binding`.
    pub fn new(rules: &'r RuleSet, binding: &'r HeaderBinding, limits: Limits) -> Self {
        RowChecker {
            rules,
            binding,
            limits,
            scratch: Vec::new(),
            texts: Vec::new(),
            invalid: vec![false; rules.columns.len()],
            pattern_caches: rules
                .columns
                .iter()
                .map(|c| c.pattern.as_ref().map(|(re, _)| re.create_cache()))
                .collect(),
        }
    }

    /// Checks one record, appending its violations to `out` (cleared first).
    /// Returns true when no error-severity rule failed (uniqueness aside).
    pub fn check(&mut self, record: &RecordView<'_>, out: &mut Vec<Violation>) -> bool {
        out.clear();
        // The structure checks decode every field once, into `fields`.
        let mut fields = recycle_texts(std::mem::take(&mut self.texts));
        if !self.check_structure(record, out, &mut fields) {
            self.texts = recycle_texts(fields);
            return false;
        }
        let mut values = recycle(std::mem::take(&mut self.scratch));
        for (position, column) in self.rules.columns.iter().enumerate() {
            let (value, valid) = match self.binding.field_of[position] {
                Some(index) => check_column(
                    column,
                    if self.rules.file.is_null(fields[index].as_bytes()) {
                        ""
                    } else {
                        fields[index]
                    },
                    self.pattern_caches[position].as_mut(),
                    out,
                ),
                None => (Value::Null, true),
            };
            self.invalid[position] = !valid;
            values.push(value);
        }
        for rule in &self.rules.row_rules {
            // A rule over a value that failed its type would only repeat
            // that failure; its result is unknown, so it passes.
            if rule.reads.iter().any(|&c| self.invalid[c]) {
                continue;
            }
            if rule.expr.eval(&values) == Value::Bool(false) {
                out.push(Violation {
                    rule: rule.id,
                    value: String::new(),
                    reason: format!("false for {}", self.describe_reads(&rule.reads, &values)),
                });
            }
        }
        self.scratch = recycle(values);
        self.texts = recycle_texts(fields);
        !self.has_error(out)
    }

    fn has_error(&self, violations: &[Violation]) -> bool {
        violations
            .iter()
            .any(|v| self.rules.catalog[v.rule].severity == Severity::Error)
    }

    /// Size, field count, quoting and UTF-8. False when the record cannot be
    /// checked further.
    fn check_structure<'a>(
        &self,
        record: &RecordView<'a>,
        out: &mut Vec<Violation>,
        fields: &mut Vec<&'a str>,
    ) -> bool {
        let csv = &self.rules.csv;
        if record.raw.len() > self.limits.max_record_bytes {
            out.push(record_too_large(
                self.rules,
                record.raw.len() as u64,
                self.limits,
            ));
            return false;
        }
        let problem = (!record.quoting_verified)
            .then(|| quoting_problem(record.raw, self.rules.file.delimiter, record.line))
            .flatten();
        if let Some(problem) = problem {
            out.push(Violation {
                rule: csv.quotes,
                value: shorten_bytes(record.raw),
                reason: problem,
            });
            return false;
        }
        let width = self.binding.width;
        if record.fields.len() != width {
            let mut reason = format!("expected {width} fields, found {}", record.fields.len());
            if record.end_line > record.line {
                reason.push_str(&format!(
                    "; the record runs from line {} to line {}, so a quote is probably unbalanced",
                    record.line, record.end_line
                ));
            }
            out.push(Violation {
                rule: csv.field_count,
                value: shorten_bytes(record.raw),
                reason,
            });
            return false;
        }
        if record.fields.iter().all(<[u8]>::is_empty) {
            out.push(Violation {
                rule: csv.empty_record,
                value: String::new(),
                reason: format!("all {width} fields are empty"),
            });
            return false;
        }
        // Fast path: the fields joined are small, free of NUL and valid
        // UTF-8, and every field boundary is a character boundary, so every
        // field is valid on its own (one validation instead of one per field).
        // simdutf8 validates 32 bytes per step; where it fails, the slow
        // path below finds the field and the byte with std's validator.
        let joined = record.fields.joined();
        if joined.len() <= self.limits.max_field_bytes
            && memchr::memchr(0, joined).is_none()
            && let Ok(text) = simdutf8::basic::from_utf8(joined)
        {
            let mut start = 0;
            for &end in record.fields.ends() {
                match text.get(start..end) {
                    Some(field) => fields.push(field),
                    None => break,
                }
                start = end;
            }
            if fields.len() == record.fields.len() {
                return true;
            }
            fields.clear();
        }
        let mut ok = true;
        for (index, field) in record.fields.iter().enumerate() {
            let name = self.binding.name(index);
            if field.len() > self.limits.max_field_bytes {
                out.push(Violation {
                    rule: csv.too_large,
                    value: format!("{} bytes", field.len()),
                    reason: format!(
                        "field `{name}` is {} bytes, above --max-field-bytes {}",
                        field.len(),
                        self.limits.max_field_bytes
                    ),
                });
                ok = false;
            } else if let Some(at) = memchr::memchr(0, field) {
                out.push(Violation {
                    rule: csv.nul,
                    value: shorten_bytes(field),
                    reason: format!("field `{name}` holds a NUL byte at byte {at} of the field"),
                });
                ok = false;
            } else {
                match std::str::from_utf8(field) {
                    Ok(text) => fields.push(text),
                    Err(err) => {
                        out.push(Violation {
                            rule: csv.utf8,
                            value: shorten_bytes(field),
                            reason: format!(
                                "field `{name}` is not valid UTF-8 at byte {} of the field",
                                err.valid_up_to()
                            ),
                        });
                        ok = false;
                    }
                }
            }
        }
        ok
    }

    fn describe_reads(&self, reads: &[usize], values: &[Value<'_>]) -> String {
        reads
            .iter()
            .map(|&i| format!("{}={}", self.rules.columns[i].name, show_value(&values[i])))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The violation of a record over `--max-record-bytes`, whether it was
/// held in memory or spilled.
pub fn record_too_large(rules: &RuleSet, len: u64, limits: Limits) -> Violation {
    Violation {
        rule: rules.csv.too_large,
        value: format!("{len} bytes"),
        reason: format!(
            "record is {len} bytes, above --max-record-bytes {}",
            limits.max_record_bytes
        ),
    }
}

/// Reuses a vector's allocation for texts of another lifetime.
fn recycle_texts<'b>(mut texts: Vec<&str>) -> Vec<&'b str> {
    texts.clear();
    texts.into_iter().map(|_| "").collect()
}

/// Reuses a vector's allocation for values of another lifetime.
fn recycle<'a, 'b>(mut values: Vec<Value<'a>>) -> Vec<Value<'b>> {
    values.clear();
    values.into_iter().map(|_| Value::Null).collect()
}

/// Type and constraints of one field. Returns its typed value (null when
/// empty or of the wrong type) and whether it parsed as its type.
fn check_column<'a>(
    column: &Column,
    text: &'a str,
    pattern_cache: Option<&mut regex_automata::meta::Cache>,
    out: &mut Vec<Violation>,
) -> (Value<'a>, bool) {
    if text.is_empty() {
        if let Some(rule) = column.required {
            out.push(Violation {
                rule,
                value: String::new(),
                reason: format!("{} is empty but required", column.name),
            });
        }
        return (Value::Null, true);
    }
    let value = match typed_value(&column.parse, text) {
        Some(v) => v,
        None => {
            if let Some(rule) = column.type_rule {
                out.push(Violation {
                    rule,
                    value: shorten(text),
                    reason: type_failure(&column.parse, text),
                });
            }
            return (Value::Null, false);
        }
    };
    if let Some((bound, rule)) = &column.min
        && below(&value, bound)
    {
        out.push(Violation {
            rule: *rule,
            value: shorten(text),
            reason: format!(
                "{} is below the minimum {}",
                shorten(text),
                show_bound(bound)
            ),
        });
    }
    if let Some((bound, rule)) = &column.max
        && above(&value, bound)
    {
        out.push(Violation {
            rule: *rule,
            value: shorten(text),
            reason: format!(
                "{} is above the maximum {}",
                shorten(text),
                show_bound(bound)
            ),
        });
    }
    if let Some((lo, hi, rule)) = &column.length
        && let Some(n) = length_outside(text, *lo, *hi)
    {
        out.push(Violation {
            rule: *rule,
            value: shorten(text),
            reason: format!(
                "length {n} is outside {}..={}",
                lo.unwrap_or(0),
                hi.map_or("".into(), |h| h.to_string())
            ),
        });
    }
    if let (Some((re, rule)), Some(cache)) = (&column.pattern, pattern_cache) {
        let input = regex_automata::Input::new(text).earliest(true);
        if re.search_half_with(cache, &input).is_none() {
            out.push(Violation {
                rule: *rule,
                value: shorten(text),
                reason: format!("{} does not match the pattern", shorten(text)),
            });
        }
    }
    if let Some((set, rule)) = &column.allowed
        && !set.contains(text)
    {
        out.push(Violation {
            rule: *rule,
            value: shorten(text),
            reason: format!("{} is not an allowed value", shorten(text)),
        });
    }
    (value, true)
}

/// The length of `text` in characters when it is outside `lo..=hi`.
fn length_outside(text: &str, lo: Option<usize>, hi: Option<usize>) -> Option<usize> {
    // A text of n bytes holds between n/4 (rounded up) and n characters, so
    // most texts are inside the bounds without counting.
    let bytes = text.len();
    if lo.is_none_or(|lo| bytes.div_ceil(4) >= lo) && hi.is_none_or(|hi| bytes <= hi) {
        return None;
    }
    let n = text.chars().count();
    (lo.is_some_and(|lo| n < lo) || hi.is_some_and(|hi| n > hi)).then_some(n)
}

fn below(value: &Value<'_>, bound: &Bound) -> bool {
    match (value, bound) {
        (Value::Date(d), Bound::Date(b)) => d < b,
        (v, Bound::Num(b)) => v.as_f64().is_some_and(|x| x < *b),
        _ => false,
    }
}

fn above(value: &Value<'_>, bound: &Bound) -> bool {
    match (value, bound) {
        (Value::Date(d), Bound::Date(b)) => d > b,
        (v, Bound::Num(b)) => v.as_f64().is_some_and(|x| x > *b),
        _ => false,
    }
}

fn show_bound(bound: &Bound) -> String {
    match bound {
        Bound::Num(x) => x.to_string(),
        Bound::Date(d) => d.to_string(),
    }
}

/// A value as shown in reports: quoted text, shortened, control characters escaped.
pub fn show_value(value: &Value<'_>) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Int(i) => i.to_string(),
        Value::Num(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => shorten(s),
        Value::Date(d) => d.to_string(),
        Value::List(n) => format!("[{n} items]"),
    }
}

/// Quotes and shortens text for display; escapes control characters so that
/// no record can inject terminal escape sequences into a report.
pub fn shorten(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN_VALUE_CHARS) + 2);
    out.push('"');
    for (n, c) in text.chars().enumerate() {
        if n == SHOWN_VALUE_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || crate::text::is_invisible_format(c) || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// [`shorten`] for bytes that may not be UTF-8.
pub fn shorten_bytes(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(SHOWN_VALUE_CHARS * 4)];
    shorten(&String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::quoting::{describe_quoting_problem, quotes_are_balanced};
    use crate::check::typed::*;
    use crate::fields::literal::{self, Literal};
    use crate::rules::{KeyType, TypeCheck};

    #[test]
    fn finds_quoting_errors() {
        let problem = |raw: &[u8]| quoting_problem(raw, b',', 7);
        assert_eq!(problem(b"a,\"b,c\",d"), None);
        assert_eq!(problem(b"a,\"say \"\"hi\"\"\",d"), None);
        assert_eq!(problem(b"\"\",\"\""), None);
        assert_eq!(problem(b"a,\"x\ny\",d"), None);
        assert_eq!(
            problem(b"a,5\" floppy,d").unwrap(),
            "field 2 has a quote inside an unquoted value (line 7)"
        );
        assert_eq!(
            problem(b"a,\"b\"c,d").unwrap(),
            "field 2 has text after its closing quote (line 7)"
        );
        assert_eq!(
            problem(b"a,\"x\r\nb,c\nd,\"e").unwrap(),
            "field 2 opens a quote on line 7 that closes only on line 9, followed by text: a quote is unbalanced"
        );
        assert_eq!(
            problem(b"a,\"never\nclosed").unwrap(),
            "field 2 opens a quote on line 7 that is never closed (the rest of the file was read into it)"
        );
    }

    #[test]
    fn parses_typed_values() {
        assert_eq!(parse_value(&TypeCheck::Integer, "862"), Ok(Value::Int(862)));
        assert!(
            parse_value(&TypeCheck::Integer, "1.0")
                .unwrap_err()
                .contains("expected an integer")
        );
        assert_eq!(
            parse_value(&TypeCheck::Number, "8.2e-05"),
            Ok(Value::Num(8.2e-05))
        );
        assert!(parse_value(&TypeCheck::Number, "inf").is_err());
        assert!(parse_value(&TypeCheck::Number, "NaN").is_err());
        let date = TypeCheck::Date {
            formats: vec!["%Y-%m-%d".into()],
        };
        assert!(matches!(
            parse_value(&date, "1995-10-30"),
            Ok(Value::Date(_))
        ));
        assert!(
            parse_value(&date, "10/30/1995")
                .unwrap_err()
                .contains("expected a date (%Y-%m-%d)")
        );
        assert!(parse_value(&date, "1995-02-30").is_err());
        let list = TypeCheck::EntityList {
            keys: vec![
                ("id".into(), KeyType::Integer),
                ("name".into(), KeyType::String),
            ],
            layout: None,
        };
        assert_eq!(
            parse_value(&list, "[{'id': 16, 'name': 'Animation'}]"),
            Ok(Value::List(1))
        );
        assert_eq!(parse_value(&list, "[]"), Ok(Value::List(0)));
        assert_eq!(
            parse_value(&list, "[{'id': '16', 'name': 'Animation'}]"),
            Err("element 1: key 'id' holds a string, expected an integer".into())
        );
        assert_eq!(
            parse_value(&list, "[{'name': 'Animation'}]"),
            Err("element 1: object has no key 'id'".into())
        );
        assert!(
            parse_value(&list, "[{'id': 16,")
                .unwrap_err()
                .starts_with("not a valid list: at byte 11")
        );
        let entity = TypeCheck::Entity {
            keys: vec![("id".into(), KeyType::Integer)],
        };
        assert_eq!(
            parse_value(&entity, "{'id': 1, 'name': 'x'}"),
            Ok(Value::List(2))
        );
        assert_eq!(parse_value(&entity, "None"), Ok(Value::Null));
        assert!(parse_value(&entity, "[1]").is_err());
        assert!(parse_value(&TypeCheck::Json, "{\"a\": [1]}").is_ok());
        assert!(parse_value(&TypeCheck::Json, "{'a': 1}").is_err());
    }

    #[test]
    fn lengths_are_counted_in_characters_only_when_bytes_cannot_decide() {
        let cases = [
            ("", Some(1), None, Some(0)),
            ("abc", Some(3), Some(3), None),
            ("abcd", None, Some(3), Some(4)),
            ("ééé", None, Some(3), None),
            ("ééé", Some(4), None, Some(3)),
            ("日本", Some(2), Some(2), None),
            ("日本語", None, Some(2), Some(3)),
            ("😀", Some(1), Some(1), None),
            ("😀😀", Some(3), None, Some(2)),
        ];
        for (text, lo, hi, outside) in cases {
            assert_eq!(
                length_outside(text, lo, hi),
                outside,
                "{text:?} {lo:?}..={hi:?}"
            );
        }
    }

    #[test]
    fn shortens_and_escapes_values_for_display() {
        assert_eq!(shorten("plain"), "\"plain\"");
        assert_eq!(shorten("\u{1b}[31mred"), "\"\\u{1b}[31mred\"");
        assert_eq!(
            shorten(&"x".repeat(100)).chars().count(),
            SHOWN_VALUE_CHARS + 3
        );
    }

    mod fast_paths {
        use proptest::prelude::*;

        use super::*;

        fn slow_entity(text: &str, keys: &[(String, KeyType)]) -> Option<usize> {
            let dict = literal::parse(text).ok()?;
            let Literal::Dict(entries) = &dict else {
                return None;
            };
            check_entity(&dict, keys).is_ok().then_some(entries.len())
        }

        fn slow_entity_list(text: &str, keys: &[(String, KeyType)]) -> Option<usize> {
            let Ok(Literal::List(items)) = literal::parse(text) else {
                return None;
            };
            items
                .iter()
                .all(|item| check_entity(item, keys).is_ok())
                .then_some(items.len())
        }

        /// Text built from the pieces of TMDB list fields, shuffled.
        fn literal_text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("["),
                Just("]"),
                Just("{"),
                Just("}"),
                Just("("),
                Just(")"),
                Just(", "),
                Just(": "),
                Just("'id'"),
                Just("'name'"),
                Just("\"id\""),
                Just("'i\\x64'"),
                Just("16"),
                Just("1.5"),
                Just("-"),
                Just("e3"),
                Just("_0"),
                Just("'Animation'"),
                Just("None"),
                Just("True"),
                Just(" "),
                Just("'"),
                Just("[]"),
                Just("{'id': 16, 'name': 'Animation'}"),
                Just("x"),
            ];
            prop::collection::vec(piece, 0..14).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            #[test]
            fn the_entity_fast_paths_agree_with_the_full_parse(text in literal_text()) {
                let keys = vec![("id".to_owned(), KeyType::Integer), ("name".to_owned(), KeyType::String)];
                let names = keys.iter().map(|(n, _)| n.as_str());
                let fast = literal::entity_list_len(&text, names, |k, v| key_accepts(keys[k].1, v));
                if let Some(n) = fast {
                    prop_assert_eq!(Some(n), slow_entity_list(&text, &keys), "{}", text);
                }
                let names = keys.iter().map(|(n, _)| n.as_str());
                let fast = literal::entity_len(&text, names, |k, v| key_accepts(keys[k].1, v));
                if let Some(n) = fast {
                    prop_assert_eq!(Some(n), slow_entity(&text, &keys), "{}", text);
                }
            }

            #[test]
            fn the_iso_date_fast_path_agrees_with_chrono(
                y in 0u32..10000, m in 0u32..14, d in 0u32..33, sep in prop_oneof![Just('-'), Just('/')]
            ) {
                let text = format!("{y:04}{sep}{m:02}{sep}{d:02}");
                let formats = vec!["%Y-%m-%d".to_owned()];
                if let Some(date) = iso_date(&formats, &text) {
                    prop_assert_eq!(Some(date), chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok());
                }
                prop_assert_eq!(
                    parse_value(&TypeCheck::Date { formats }, &text).ok(),
                    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok().map(Value::Date)
                );
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]

            #[test]
            fn the_quote_check_agrees_with_the_field_walk(
                raw in prop::collection::vec(
                    prop_oneof![Just(b'"'), Just(b','), Just(b';'), Just(b'a'), Just(b'\n'), Just(b' ')],
                    0..16,
                ),
                delimiter in prop_oneof![Just(b','), Just(b';')],
            ) {
                prop_assert_eq!(
                    quotes_are_balanced(&raw, delimiter),
                    describe_quoting_problem(&raw, delimiter, 1).is_none(),
                    "{:?}", String::from_utf8_lossy(&raw)
                );
            }

            #[test]
            fn the_length_check_agrees_with_counting_characters(
                text in "[aé日😀]{0,12}",
                lo in prop::option::of(0usize..14),
                hi in prop::option::of(0usize..14),
            ) {
                let n = text.chars().count();
                let outside = lo.is_some_and(|lo| n < lo) || hi.is_some_and(|hi| n > hi);
                prop_assert_eq!(length_outside(&text, lo, hi), outside.then_some(n));
            }
        }

        #[test]
        fn the_fast_path_takes_real_collections_and_declines_the_rest() {
            let keys = [
                ("id".to_owned(), KeyType::Integer),
                ("name".to_owned(), KeyType::String),
            ];
            let fast = |text: &str| {
                let names = keys.iter().map(|(n, _)| n.as_str());
                literal::entity_len(text, names, |k, v| key_accepts(keys[k].1, v))
            };
            let collection = "{'id': 10194, 'name': 'Toy Story Collection', \
                 'poster_path': '/7G9915LfUQ2lVfwMEEhDsn3kT4B.jpg', 'backdrop_path': None}";
            assert_eq!(fast(collection), Some(4));
            assert_eq!(fast(" {'name': 'x', 'id': -3} "), Some(2));
            // Left to the full parse, which names the problem.
            for declined in [
                "{'id': 1.5, 'name': 'x'}",
                "{'id': 1e3, 'name': 'x'}",
                "{'id': '1', 'name': 'x'}",
                "{'name': 'x'}",
                "{'id': 1, 'name': 'x'} trailing",
                "[{'id': 1, 'name': 'x'}]",
                "None",
            ] {
                assert_eq!(fast(declined), None, "{declined}");
            }
        }

        #[test]
        fn the_fast_path_takes_real_lists() {
            let keys = [
                ("id".to_owned(), KeyType::Integer),
                ("name".to_owned(), KeyType::String),
            ];
            let names = keys.iter().map(|(n, _)| n.as_str());
            let text =
                "[{'id': 16, 'name': 'Animation'}, {'id': 35, 'name': 'Comedy', 'extra': [1, {}]}]";
            assert_eq!(
                literal::entity_list_len(text, names, |k, v| key_accepts(keys[k].1, v)),
                Some(2)
            );
        }
    }
}
