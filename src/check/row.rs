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
use crate::fields::literal::{self, Literal};
use crate::fields::value::Value;
use crate::read::input::RecordView;
use crate::rules::{Bound, Column, KeyType, RuleId, RuleSet, Severity, TypeCheck};

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
                    fields[index],
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

/// Parses text as the column's type; the error is the reason in words.
pub fn parse_value<'a>(check: &TypeCheck, text: &'a str) -> Result<Value<'a>, String> {
    typed_value(check, text).ok_or_else(|| type_failure(check, text))
}

/// Parses text as the column's type: `None` when it is not of that type
/// ([`parse_value`] says why). Inlined into the row loop, so that the
/// value stays in registers and no reason is ever put into words for a
/// value that parses.
#[inline(always)]
pub fn typed_value<'a>(check: &TypeCheck, text: &'a str) -> Option<Value<'a>> {
    match check {
        TypeCheck::String => Some(Value::Str(text)),
        TypeCheck::Integer => text.parse::<i64>().ok().map(Value::Int),
        TypeCheck::Number => match text.parse::<f64>() {
            Ok(x)
                if x.is_finite()
                    && !text
                        .bytes()
                        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
            {
                Some(Value::Num(x))
            }
            _ => None,
        },
        TypeCheck::Boolean { truthy, falsy } => {
            if truthy.iter().any(|t| t == text) {
                Some(Value::Bool(true))
            } else if falsy.iter().any(|f| f == text) {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        TypeCheck::Date { formats } => iso_date(formats, text)
            .or_else(|| {
                formats
                    .iter()
                    .find_map(|f| chrono::NaiveDate::parse_from_str(text, f).ok())
            })
            .map(Value::Date),
        TypeCheck::EntityList { keys, layout } => {
            let names = keys.iter().map(|(name, _)| name.as_str());
            layout
                .as_ref()
                .and_then(|layout| layout.list_len(text))
                .or_else(|| literal::entity_list_len(text, names, |k, v| key_accepts(keys[k].1, v)))
                .or_else(|| entity_list(text, keys).ok())
                .map(Value::List)
        }
        TypeCheck::Entity { keys } => {
            let names = keys.iter().map(|(name, _)| name.as_str());
            literal::entity_len(text, names, |k, v| key_accepts(keys[k].1, v))
                .map(Value::List)
                .or_else(|| entity(text, keys).ok())
        }
        TypeCheck::Json => serde_json::from_str::<serde::de::IgnoredAny>(text)
            .ok()
            .map(|_| Value::Str(text)),
    }
}

/// Why text is not of the column's type, in words.
#[cold]
fn type_failure(check: &TypeCheck, text: &str) -> String {
    let found = shorten(text);
    match check {
        TypeCheck::String => String::new(),
        TypeCheck::Integer => format!("expected an integer, found {found}"),
        TypeCheck::Number => format!("expected a number, found {found}"),
        TypeCheck::Boolean { truthy, falsy } => format!(
            "expected a boolean ({} or {}), found {found}",
            truthy.join("/"),
            falsy.join("/"),
        ),
        TypeCheck::Date { formats } => {
            format!("expected a date ({}), found {found}", formats.join(" or "))
        }
        TypeCheck::EntityList { keys, .. } => entity_list(text, keys).err().unwrap_or_default(),
        TypeCheck::Entity { keys } => entity(text, keys).err().unwrap_or_default(),
        TypeCheck::Json => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => String::new(),
            Err(e) => format!("not valid JSON: {e}"),
        },
    }
}

/// A list of entities by the full parse: its length, or why it is not one.
fn entity_list(text: &str, keys: &[(String, KeyType)]) -> Result<usize, String> {
    let parsed = literal::parse(text).map_err(|e| format!("not a valid list: {e}"))?;
    let Literal::List(items) = parsed else {
        return Err(format!("expected a list, found a {}", parsed.kind()));
    };
    for (i, item) in items.iter().enumerate() {
        check_entity(item, keys).map_err(|reason| format!("element {}: {reason}", i + 1))?;
    }
    Ok(items.len())
}

/// One entity (or None) by the full parse: its value, or why it is not one.
fn entity<'a>(text: &str, keys: &[(String, KeyType)]) -> Result<Value<'a>, String> {
    let parsed = literal::parse(text).map_err(|e| format!("not a valid object: {e}"))?;
    if parsed == Literal::Null {
        return Ok(Value::Null);
    }
    check_entity(&parsed, keys)?;
    match parsed {
        Literal::Dict(entries) => Ok(Value::List(entries.len())),
        _ => Ok(Value::Null),
    }
}

/// The common case without chrono's format interpreter: the first format
/// is `%Y-%m-%d` and the text is exactly `dddd-dd-dd`, which chrono parses
/// to the same date. `None` sends every other case to chrono.
fn iso_date(formats: &[String], text: &str) -> Option<chrono::NaiveDate> {
    if formats.first().map(String::as_str) != Some("%Y-%m-%d") {
        return None;
    }
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

fn check_entity(item: &Literal<'_>, keys: &[(String, KeyType)]) -> Result<(), String> {
    if !matches!(item, Literal::Dict(_)) {
        return Err(format!("expected an object, found a {}", item.kind()));
    }
    for (key, ty) in keys {
        let Some(v) = item.get(key) else {
            return Err(format!("object has no key '{key}'"));
        };
        if !key_accepts(*ty, v) {
            return Err(format!(
                "key '{key}' holds a {}, expected {}",
                v.kind(),
                key_type_name(*ty)
            ));
        }
    }
    Ok(())
}

/// Whether a dict value is of the type a key declares.
fn key_accepts(ty: KeyType, v: &Literal<'_>) -> bool {
    match ty {
        KeyType::Any => true,
        KeyType::Integer => matches!(v, Literal::Int(_)),
        KeyType::Number => matches!(v, Literal::Int(_) | Literal::Float(_)),
        KeyType::String => matches!(v, Literal::Str(_)),
        KeyType::Boolean => matches!(v, Literal::Bool(_)),
    }
}

fn key_type_name(ty: KeyType) -> &'static str {
    match ty {
        KeyType::Integer => "an integer",
        KeyType::Number => "a number",
        KeyType::String => "a string",
        KeyType::Boolean => "a boolean",
        KeyType::Any => "any value",
    }
}

/// Finds the first quoting error in a raw record, RFC 4180 style: a quote
/// may open a field, close it, or be doubled inside it, nothing else.
/// `line` is the record's first line, so the message can name lines.
fn quoting_problem(raw: &[u8], delimiter: u8, line: u64) -> Option<String> {
    if delimiter != b'"' && quotes_are_balanced(raw, delimiter) {
        return None;
    }
    describe_quoting_problem(raw, delimiter, line)
}

/// Whether every quote of a raw record opens a field, closes one or is
/// doubled inside one: the verdict of [`describe_quoting_problem`] without
/// its message, from the quotes alone (one search per quote instead of a
/// look at every field).
pub(crate) fn quotes_are_balanced(raw: &[u8], delimiter: u8) -> bool {
    let mut inside = false;
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'"', &raw[from..]) {
        let at = from + k;
        let next = raw.get(at + 1).copied();
        if inside {
            match next {
                // Doubled: a quote inside the value.
                Some(b'"') => from = at + 2,
                // Closing: only a delimiter or the end may follow.
                Some(b) if b != delimiter => return false,
                _ => {
                    inside = false;
                    from = at + 1;
                }
            }
        } else {
            // Opening: only at the start of a field.
            if at > 0 && raw[at - 1] != delimiter {
                return false;
            }
            inside = true;
            from = at + 1;
        }
    }
    !inside
}

/// The message of the first quoting error in a raw record, found by
/// walking its fields.
fn describe_quoting_problem(raw: &[u8], delimiter: u8, line: u64) -> Option<String> {
    memchr::memchr(b'"', raw)?;
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let line_at = |offset: usize| {
        let mut after_cr = false;
        line + raw[..offset]
            .iter()
            .filter(|&&b| {
                let breaks = b == b'\r' || (b == b'\n' && !after_cr);
                after_cr = b == b'\r';
                breaks
            })
            .count() as u64
    };
    let mut state = State::FieldStart;
    let mut field = 1;
    let mut opened_at = 0;
    let mut i = 0;
    while i < raw.len() {
        // Jump over the bytes that cannot change the state: inside quotes
        // only a quote matters, in an unquoted value a quote or delimiter.
        match state {
            State::Quoted => match memchr::memchr(b'"', &raw[i..]) {
                Some(k) => i += k,
                None => break,
            },
            State::Unquoted => match memchr::memchr2(b'"', delimiter, &raw[i..]) {
                Some(k) => i += k,
                None => break,
            },
            State::FieldStart | State::QuoteInQuoted => {}
        }
        let b = raw[i];
        state = match (state, b) {
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, d) if d == delimiter => {
                field += 1;
                State::FieldStart
            }
            (State::FieldStart, b'"') => {
                opened_at = i;
                State::Quoted
            }
            (State::Unquoted, b'"') => {
                return Some(format!(
                    "field {field} has a quote inside an unquoted value (line {})",
                    line_at(i)
                ));
            }
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, _) => State::QuoteInQuoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, _) => {
                let (opened, closed) = (line_at(opened_at), line_at(i));
                return Some(if opened == closed {
                    format!("field {field} has text after its closing quote (line {closed})")
                } else {
                    format!(
                        "field {field} opens a quote on line {opened} that closes only on line {closed}, \
                         followed by text: a quote is unbalanced"
                    )
                });
            }
        };
        i += 1;
    }
    (state == State::Quoted).then(|| {
        format!(
            "field {field} opens a quote on line {} that is never closed (the rest of the file was read into it)",
            line_at(opened_at)
        )
    })
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
