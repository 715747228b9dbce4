//! A field's text read as its column's type: the typed value the checks,
//! the expressions and the store use, or the reason in words it is not one.

use crate::check::row::shorten;
use crate::fields::literal::{self, Literal};
use crate::fields::value::Value;
use crate::rules::{KeyType, TypeCheck};

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
        // An escape may spell a NUL, which only the full parse finds.
        TypeCheck::EntityList { keys, .. } if text.contains('\\') => {
            entity_list(text, keys).ok().map(Value::List)
        }
        TypeCheck::Entity { keys } if text.contains('\\') => entity(text, keys).ok(),
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
pub(super) fn type_failure(check: &TypeCheck, text: &str) -> String {
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
pub(super) fn entity_list(text: &str, keys: &[(String, KeyType)]) -> Result<usize, String> {
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
pub(super) fn entity<'a>(text: &str, keys: &[(String, KeyType)]) -> Result<Value<'a>, String> {
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
pub(super) fn iso_date(formats: &[String], text: &str) -> Option<chrono::NaiveDate> {
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

pub(super) fn check_entity(item: &Literal<'_>, keys: &[(String, KeyType)]) -> Result<(), String> {
    if !matches!(item, Literal::Dict(_)) {
        return Err(format!("expected an object, found a {}", item.kind()));
    }
    if holds_nul(item) {
        return Err(
            "a string holds a NUL character (written as an escape), which no store's text can hold"
                .into(),
        );
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

/// Whether any string in a literal, its keys included, holds a NUL.
fn holds_nul(literal: &Literal<'_>) -> bool {
    match literal {
        Literal::Str(s) => s.contains('\0'),
        Literal::List(items) => items.iter().any(holds_nul),
        Literal::Dict(entries) => entries.iter().any(|(k, v)| holds_nul(k) || holds_nul(v)),
        _ => false,
    }
}

/// Whether a dict value is of the type a key declares.
pub(super) fn key_accepts(ty: KeyType, v: &Literal<'_>) -> bool {
    match ty {
        KeyType::Any => true,
        KeyType::Integer => matches!(v, Literal::Int(_)),
        KeyType::Number => match v {
            Literal::Int(_) => true,
            Literal::Float(x) => x.is_finite(),
            _ => false,
        },
        KeyType::String => matches!(v, Literal::Str(_)),
        KeyType::Boolean => matches!(v, Literal::Bool(_)),
    }
}

pub(super) fn key_type_name(ty: KeyType) -> &'static str {
    match ty {
        KeyType::Integer => "an integer",
        KeyType::Number => "a number",
        KeyType::String => "a string",
        KeyType::Boolean => "a boolean",
        KeyType::Any => "any value",
    }
}
