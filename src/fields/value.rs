//! Typed field values, shared by the column checks and the expression language.

use chrono::{Datelike, NaiveDate};
use std::cmp::Ordering;

/// A field's value after its column type was applied. Strings borrow from
/// the record, so building values allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// An empty field, a value that failed its type, or an unknown result.
    Null,
    /// A whole number.
    Int(i64),
    /// A finite floating-point number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Str(&'a str),
    /// A calendar date.
    Date(NaiveDate),
    /// A parsed list or entity, by its number of elements.
    List(usize),
}

/// The static type of a value or expression, checked when rules compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `Value::Int`.
    Int,
    /// `Value::Num`.
    Num,
    /// `Value::Bool`.
    Bool,
    /// `Value::Str`.
    Str,
    /// `Value::Date`.
    Date,
    /// `Value::List`.
    List,
    /// The `null` literal, compatible with every type.
    Null,
}

impl Ty {
    /// Name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Int => "integer",
            Ty::Num => "number",
            Ty::Bool => "boolean",
            Ty::Str => "string",
            Ty::Date => "date",
            Ty::List => "list",
            Ty::Null => "null",
        }
    }

    /// Integer or number.
    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Num)
    }
}

impl<'a> Value<'a> {
    /// The value as a float, for mixed arithmetic.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(i as f64),
            Value::Num(x) => Some(x),
            _ => None,
        }
    }

    /// Compares two values of compatible types; `None` when either is null or
    /// the types differ.
    pub fn compare(self, other: Value<'_>) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(&b)),
            (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(&b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(&b)),
            (Value::List(a), Value::List(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }

    /// Whether two values of compatible types are equal, as [`Value::compare`]
    /// would find them, without ordering them (strings compare by length
    /// first); `None` when either is null or the types differ.
    pub fn equals(self, other: Value<'_>) -> Option<bool> {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => Some(a == b),
            (Value::Int(a), Value::Int(b)) => Some(a == b),
            (a, b) => a.compare(b).map(Ordering::is_eq),
        }
    }

    /// The year of a date.
    pub fn year(self) -> Option<i32> {
        match self {
            Value::Date(d) => Some(d.year()),
            _ => None,
        }
    }
}
