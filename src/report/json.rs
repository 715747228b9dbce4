//! JSON as dqgate writes it: pretty-printed, with every invisible formatting
//! character (bidirectional controls, zero-width characters) written as a
//! `\uXXXX` escape. The value read back is the same; a person viewing the
//! file sees the escape instead of text reordered or hidden by it. Control
//! characters are escaped by JSON itself.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::text::is_invisible_format;

/// `value` as pretty-printed JSON, followed by a newline.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, Escaping::default());
    value.serialize(&mut serializer)?;
    out.push(b'\n');
    Ok(out)
}

/// [`to_json`] as text.
pub(crate) fn to_json_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    // The serializer writes only UTF-8, so the bytes become the string
    // without a copy (the lossy arm never runs).
    to_json(value).map(|bytes| {
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    })
}

/// serde_json's pretty printer, escaping invisible formatting characters.
#[derive(Default)]
struct Escaping {
    pretty: PrettyFormatter<'static>,
}

impl Formatter for Escaping {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if is_invisible_format(c) {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_are_escaped_and_read_back_the_same() {
        let value = serde_json::json!({"file": "a\u{202e}txt.exe\u{2066}", "n": [1, 2]});
        let text = to_json_string(&value).unwrap();
        assert!(text.contains(r#""a\u202etxt.exe\u2066""#), "{text}");
        assert!(!text.contains('\u{202e}'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        assert_eq!(
            text,
            serde_json::to_string_pretty(&serde_json::json!({"file": "x", "n": [1, 2]}))
                .unwrap()
                .replace("\"x\"", r#""a\u202etxt.exe\u2066""#)
                + "\n"
        );
    }
}
