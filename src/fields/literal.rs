//! The parser for multi-valued fields such as TMDB's `genres`.
//!
//! The canonical TMDB dump writes them as Python literals
//! (`[{'id': 16, 'name': 'Animation'}]`, `None`, `True`, strings in either
//! quote style with backslash escapes); the TMDB 5000 variant writes the same
//! structures as JSON. This module accepts both with one recursive-descent
//! parser over bytes. A malformed literal is an error value carrying the byte
//! offset and the reason, never a panic; nesting depth is bounded so hostile
//! input cannot exhaust the stack.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting of lists and dicts that the parser accepts.
pub const MAX_DEPTH: usize = 64;

/// A parsed literal. Strings borrow from the input unless they held escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal<'a> {
    /// `None` or `null`.
    Null,
    /// `True`/`False` or `true`/`false`.
    Bool(bool),
    /// An integer that fits in an `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A quoted string with escapes resolved.
    Str(Cow<'a, str>),
    /// `[...]` or `(...)`.
    List(Vec<Literal<'a>>),
    /// `{key: value, ...}` with keys in source order.
    Dict(Vec<(Literal<'a>, Literal<'a>)>),
}

impl<'a> Literal<'a> {
    /// A short name of the literal's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Literal::Null => "null",
            Literal::Bool(_) => "boolean",
            Literal::Int(_) => "integer",
            Literal::Float(_) => "number",
            Literal::Str(_) => "string",
            Literal::List(_) => "list",
            Literal::Dict(_) => "object",
        }
    }

    /// Looks up a string key in a dict; `None` for other kinds or a missing key.
    pub fn get(&self, key: &str) -> Option<&Literal<'a>> {
        match self {
            Literal::Dict(entries) => entries.iter().find_map(|(k, v)| match k {
                Literal::Str(s) if s == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// Why a literal did not parse, and where (a byte offset into the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct LiteralError {
    /// Byte offset into the field where the problem was found.
    pub offset: usize,
    /// What was expected or found.
    pub reason: String,
}

/// Parses one complete literal; trailing non-space input is an error.
pub fn parse(input: &str) -> Result<Literal<'_>, LiteralError> {
    let mut parser = Parser::new(input);
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error(format!(
            "unexpected {} after the end of the value",
            parser.describe_here()
        )));
    }
    Ok(value)
}

/// The number of elements of `input` when it is a list of dicts in which
/// every key of `keys` is present and its first value is one that
/// `accepts(key_index, value)` takes; `None` otherwise, or when in doubt.
///
/// This walks the list without building it (no allocation for ordinary
/// fields). It accepts only what [`parse`] followed by a check of each
/// dict would accept, so a caller can run the full parse on `None` to learn
/// the exact reason, and trust `Some`.
pub fn entity_list_len<'k>(
    input: &str,
    keys: impl Iterator<Item = &'k str> + Clone,
    accepts: impl Fn(usize, &Literal<'_>) -> bool,
) -> Option<usize> {
    walk_whole(input, |parser| parser.entity_list(keys, &accepts))
}

/// The number of entries of `input` when it is one dict in which every key
/// of `keys` is present with a value that `accepts` takes, as
/// [`entity_list_len`] does for each dict of a list; `None` otherwise, or
/// when in doubt (a caller runs the full parse then).
pub fn entity_len<'k>(
    input: &str,
    keys: impl Iterator<Item = &'k str> + Clone,
    accepts: impl Fn(usize, &Literal<'_>) -> bool,
) -> Option<usize> {
    // Depths as in `parse`: a dict at the top has its values at level 1.
    walk_whole(input, |parser| parser.entity_dict(keys, &accepts, 1))
}

/// What `walk` makes of `input` when it takes all of it but surrounding
/// whitespace.
fn walk_whole<'a, T>(input: &'a str, walk: impl FnOnce(&mut Parser<'a>) -> Option<T>) -> Option<T> {
    let mut parser = Parser::new(input);
    parser.skip_ws();
    let walked = walk(&mut parser)?;
    parser.skip_ws();
    (parser.pos == parser.bytes.len()).then_some(walked)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    /// Walks the list of dicts at the parser without building it, as
    /// [`Parser::entity_dict`] walks each: the number of its elements.
    fn entity_list<'k>(
        &mut self,
        keys: impl Iterator<Item = &'k str> + Clone,
        accepts: &impl Fn(usize, &Literal<'_>) -> bool,
    ) -> Option<usize> {
        let close = match self.peek()? {
            b'[' => b']',
            b'(' => b')',
            _ => return None,
        };
        self.pos += 1;
        let mut elements = 0;
        loop {
            self.skip_ws();
            if self.peek()? == close {
                self.pos += 1;
                return Some(elements);
            }
            // Depths as in `parse`: the list is level 1, its dicts level 2.
            self.entity_dict(keys.clone(), accepts, 2)?;
            elements += 1;
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                c if c == close => {}
                _ => return None,
            }
        }
    }

    /// Walks the dict at the parser (its values at `depth`) without
    /// building it: the number of its entries when every key of `keys` is
    /// present and its first value is one that `accepts` takes, keys are
    /// plain strings and values parse; `None` otherwise.
    fn entity_dict<'k>(
        &mut self,
        keys: impl Iterator<Item = &'k str> + Clone,
        accepts: &impl Fn(usize, &Literal<'_>) -> bool,
        depth: usize,
    ) -> Option<usize> {
        let wanted = keys.clone().count();
        if wanted > 64 || self.peek()? != b'{' {
            return None;
        }
        self.pos += 1;
        let mut seen = 0u64;
        let mut entries = 0;
        loop {
            self.skip_ws();
            if self.peek()? == b'}' {
                self.pos += 1;
                break;
            }
            // Keys are plain strings in every real list; anything else
            // (a number, an escape) takes the full parse.
            let name = self.plain_string()?;
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_ws();
            let value = match self.plain_string() {
                Some(text) => Literal::Str(Cow::Borrowed(text)),
                None => match self.plain_int() {
                    Some(i) => Literal::Int(i),
                    None => self.value(depth).ok()?,
                },
            };
            entries += 1;
            if let Some(k) = keys.clone().position(|want| want == name)
                && seen & (1 << k) == 0
            {
                seen |= 1 << k;
                if !accepts(k, &value) {
                    return None;
                }
            }
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {}
                _ => return None,
            }
        }
        let all = if wanted == 64 {
            u64::MAX
        } else {
            (1 << wanted) - 1
        };
        (seen == all).then_some(entries)
    }

    /// A decimal integer that nothing after it could make a float or an
    /// error (no fraction, exponent, underscore or sign follows), and the
    /// parser moved past it; `None` (the parser unmoved) for anything else.
    fn plain_int(&mut self) -> Option<i64> {
        let negative = self.peek() == Some(b'-');
        let start = self.pos + usize::from(negative);
        let digits = self.bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = self.bytes.get(start + digits);
        if digits == 0
            || digits > 18
            || matches!(after, Some(b'.' | b'e' | b'E' | b'_' | b'+' | b'-'))
        {
            return None;
        }
        let magnitude = self.bytes[start..start + digits]
            .iter()
            .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
        self.pos = start + digits;
        Some(if negative { -magnitude } else { magnitude })
    }

    fn error(&self, reason: impl Into<String>) -> LiteralError {
        LiteralError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn describe_here(&self) -> String {
        match self.src[self.pos..].chars().next() {
            None => "end of input".to_owned(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// A quoted string without escapes, borrowed, and the parser moved past
    /// it; `None` (the parser unmoved) for anything else.
    fn plain_string(&mut self) -> Option<&'a str> {
        let quote = match self.peek()? {
            q @ (b'\'' | b'"') => q,
            _ => return None,
        };
        let start = self.pos + 1;
        let len = memchr::memchr2(quote, b'\\', &self.bytes[start..])?;
        if self.bytes[start + len] != quote {
            return None;
        }
        // Both ends are ASCII quotes, so both are character boundaries.
        let text = self.src.get(start..start + len)?;
        self.pos = start + len + 1;
        Some(text)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal<'a>, LiteralError> {
        match self.peek() {
            None => Err(self.error("expected a value, found end of input")),
            Some(b'[') => self.sequence(b']', depth),
            Some(b'(') => self.sequence(b')', depth),
            Some(b'{') => self.dict(depth),
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Literal::Str),
            Some(b'-' | b'+' | b'0'..=b'9' | b'.') => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(_) => Err(self.error(format!("expected a value, found {}", self.describe_here()))),
        }
    }

    fn enter(&self, depth: usize) -> Result<usize, LiteralError> {
        if depth >= MAX_DEPTH {
            Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(depth + 1)
        }
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Literal<'a>, LiteralError> {
        let depth = self.enter(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Literal::List(items));
            }
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or '{}', found {}",
                        close as char,
                        self.describe_here()
                    )));
                }
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Literal<'a>, LiteralError> {
        let depth = self.enter(depth)?;
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Literal::Dict(entries));
            }
            let key = self.value(depth)?;
            if matches!(key, Literal::List(_) | Literal::Dict(_)) {
                return Err(self.error(format!("a {} cannot be a dict key", key.kind())));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected ':', found {}", self.describe_here())));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or '}}', found {}",
                        self.describe_here()
                    )));
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Cow<'a, str>, LiteralError> {
        // Fast path: no escapes, borrow the slice.
        if let Some(text) = self.plain_string() {
            return Ok(Cow::Borrowed(text));
        }
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(LiteralError {
                    offset: open,
                    reason: "string is not closed".to_owned(),
                });
            };
            if b == quote {
                self.pos += 1;
                return Ok(Cow::Owned(out));
            }
            if b != b'\\' {
                // Copy one whole UTF-8 character.
                let c = self.src[self.pos..].chars().next().unwrap_or('\u{fffd}');
                out.push(c);
                self.pos += c.len_utf8();
                continue;
            }
            let escape_at = self.pos;
            self.pos += 1;
            let Some(e) = self.peek() else {
                return Err(LiteralError {
                    offset: open,
                    reason: "string is not closed".to_owned(),
                });
            };
            self.pos += 1;
            match e {
                b'\\' => out.push('\\'),
                b'\'' => out.push('\''),
                b'"' => out.push('"'),
                b'/' => out.push('/'),
                b'n' => out.push('\n'),
                b't' => out.push('\t'),
                b'r' => out.push('\r'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'0' => out.push('\0'),
                b'\n' => {} // Python line continuation inside a string.
                b'x' => out.push(self.hex_char(2, escape_at)?),
                b'u' => out.push(self.hex_char(4, escape_at)?),
                b'U' => out.push(self.hex_char(8, escape_at)?),
                _ => {
                    // Python keeps unknown escapes verbatim.
                    out.push('\\');
                    self.pos -= 1;
                }
            }
        }
    }

    fn hex_char(&mut self, digits: usize, escape_at: usize) -> Result<char, LiteralError> {
        let end = self.pos + digits;
        let code = self
            .src
            .get(self.pos..end)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        let Some(code) = code else {
            return Err(LiteralError {
                offset: escape_at,
                reason: format!("escape needs {digits} hex digits"),
            });
        };
        self.pos = end;
        // A JSON surrogate pair arrives as two \u escapes.
        if (0xD800..0xDC00).contains(&code) && digits == 4 {
            let low = self
                .src
                .get(self.pos..self.pos + 6)
                .filter(|s| s.starts_with("\\u"))
                .and_then(|s| u32::from_str_radix(&s[2..], 16).ok())
                .filter(|low| (0xDC00..0xE000).contains(low));
            if let Some(low) = low {
                self.pos += 6;
                let combined = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                if let Some(c) = char::from_u32(combined) {
                    return Ok(c);
                }
            }
        }
        char::from_u32(code).ok_or_else(|| LiteralError {
            offset: escape_at,
            reason: format!("escape U+{code:04X} is not a valid character"),
        })
    }

    fn number(&mut self) -> Result<Literal<'a>, LiteralError> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'_')
        ) {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        let clean: Cow<'_, str> = if text.contains('_') {
            Cow::Owned(text.replace('_', ""))
        } else {
            Cow::Borrowed(text)
        };
        if let Ok(i) = clean.parse::<i64>() {
            return Ok(Literal::Int(i));
        }
        match clean.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Literal::Float(f)),
            _ => Err(LiteralError {
                offset: start,
                reason: format!("{text:?} is not a number"),
            }),
        }
    }

    fn word(&mut self) -> Result<Literal<'a>, LiteralError> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        match &self.src[start..self.pos] {
            "None" | "null" => Ok(Literal::Null),
            "True" | "true" => Ok(Literal::Bool(true)),
            "False" | "false" => Ok(Literal::Bool(false)),
            other => Err(LiteralError {
                offset: start,
                reason: format!(
                    "unknown word {other:?} (expected None, True, False, null, true or false)"
                ),
            }),
        }
    }
}

impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("None"),
            Literal::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x}"),
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Literal::Dict(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Literal<'_> {
        Literal::Str(Cow::Borrowed(v))
    }

    #[test]
    fn parses_tmdb_python_genres() {
        let v = parse("[{'id': 16, 'name': 'Animation'}, {'id': 35, 'name': 'Comedy'}]").unwrap();
        let Literal::List(items) = &v else {
            panic!("not a list")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].get("id"), Some(&Literal::Int(16)));
        assert_eq!(items[1].get("name"), Some(&s("Comedy")));
    }

    #[test]
    fn parses_the_json_variant_the_same_way() {
        let python = parse("[{'id': 28, 'name': 'Action'}]").unwrap();
        let json = parse(r#"[{"id": 28, "name": "Action"}]"#).unwrap();
        assert_eq!(python, json);
    }

    #[test]
    fn resolves_escapes_in_both_quote_styles() {
        assert_eq!(parse(r#"'l\'amour'"#).unwrap(), s("l'amour"));
        assert_eq!(parse(r#""say \"hi\"""#).unwrap(), s("say \"hi\""));
        assert_eq!(parse(r#"'caf\xe9'"#).unwrap(), s("café"));
        assert_eq!(parse(r#""\u00e9\ud83c\udfac""#).unwrap(), s("é🎬"));
        assert_eq!(parse(r#"'a\qb'"#).unwrap(), s("a\\qb"));
        assert_eq!(parse(r#""it's""#).unwrap(), s("it's"));
    }

    #[test]
    fn parses_python_constants_and_numbers() {
        assert_eq!(parse("None").unwrap(), Literal::Null);
        assert_eq!(parse("True").unwrap(), Literal::Bool(true));
        assert_eq!(parse("false").unwrap(), Literal::Bool(false));
        assert_eq!(parse("-12").unwrap(), Literal::Int(-12));
        assert_eq!(parse("8.2e-05").unwrap(), Literal::Float(8.2e-05));
        assert_eq!(
            parse("(1, 2)").unwrap(),
            Literal::List(vec![Literal::Int(1), Literal::Int(2)])
        );
        assert_eq!(
            parse("[1, 2,]").unwrap(),
            Literal::List(vec![Literal::Int(1), Literal::Int(2)])
        );
        assert_eq!(parse("  []  ").unwrap(), Literal::List(vec![]));
    }

    #[test]
    fn reports_position_and_reason_of_malformed_input() {
        let err = parse("[{'id': 16, 'name': 'Animation'").unwrap_err();
        assert_eq!(err.offset, 31);
        assert!(err.reason.contains("expected ',' or '}'"), "{err}");

        let err = parse("[{'id': 16 'name': 'x'}]").unwrap_err();
        assert_eq!(err.offset, 11);

        let err = parse("[{'name': 'unterminated}]").unwrap_err();
        assert_eq!(
            (err.offset, err.reason.as_str()),
            (10, "string is not closed")
        );

        let err = parse("[1] trailing").unwrap_err();
        assert_eq!(err.offset, 4);

        let err = parse("[nope]").unwrap_err();
        assert!(err.reason.contains("unknown word \"nope\""));

        assert!(parse("").is_err());
        assert!(parse("'\\x4'").is_err());
        assert!(parse("{[1]: 2}").is_err());
    }

    #[test]
    fn bounds_nesting_depth() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let err = parse(&deep).unwrap_err();
        assert!(err.reason.contains("nesting deeper"));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(text in "[\\[\\]{}(),:'\"\\\\ a-zA-Z0-9._+\\-éx\u{0}-\u{1f}]{0,80}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_arbitrary_unicode(text in "\\PC{0,60}") {
            let _ = parse(&text);
        }

        #[test]
        fn parses_lists_it_can_print(items in proptest::collection::vec((0i64..100_000, "[a-zA-Z '\"é]{0,12}"), 0..6)) {
            let text = format!(
                "[{}]",
                items
                    .iter()
                    .map(|(id, name)| format!("{{'id': {id}, 'name': {name:?}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let Literal::List(parsed) = parse(&text).unwrap() else { panic!("not a list: {text}") };
            proptest::prop_assert_eq!(parsed.len(), items.len());
            for (literal, (id, name)) in parsed.iter().zip(&items) {
                proptest::prop_assert_eq!(literal.get("id"), Some(&Literal::Int(*id)));
                proptest::prop_assert_eq!(literal.get("name"), Some(&Literal::Str(Cow::Borrowed(name.as_str()))));
            }
        }
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        let text = "[{'id': 16, 'name': 'Ani\\'mation', 'x': None, 'y': [True, 1.5]}]";
        let v = parse(text).unwrap();
        assert_eq!(parse(&v.to_string()).unwrap(), v);
    }
}
