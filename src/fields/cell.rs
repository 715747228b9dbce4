//! A cell of an aggregate's output, as computed by the reference engine or
//! read back from a store. Cells are keys (hashable, totally ordered) and
//! values (compared with tolerances by the diff).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Serialize;

use crate::fields::value::Value;

/// One value of an aggregate's output.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// No value.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Num(f64),
    /// Text.
    Text(String),
}

impl Cell {
    /// Converts a typed field value; dates become ISO text, lists their length.
    pub fn from_value(value: &Value<'_>) -> Cell {
        match value {
            Value::Null => Cell::Null,
            Value::Int(i) => Cell::Int(*i),
            Value::Num(x) => Cell::Num(*x),
            Value::Bool(b) => Cell::Int(i64::from(*b)),
            Value::Str(s) => Cell::Text((*s).to_owned()),
            Value::Date(d) => Cell::Text(d.to_string()),
            Value::List(n) => Cell::Int(*n as i64),
        }
    }

    /// A scalar of a list field's element; null for nested lists and objects.
    pub fn from_literal(literal: &crate::fields::literal::Literal<'_>) -> Cell {
        use crate::fields::literal::Literal;
        match literal {
            Literal::Null | Literal::List(_) | Literal::Dict(_) => Cell::Null,
            Literal::Bool(b) => Cell::Int(i64::from(*b)),
            Literal::Int(i) => Cell::Int(*i),
            Literal::Float(x) => Cell::Num(*x),
            Literal::Str(s) => Cell::Text(s.to_string()),
        }
    }

    /// A key's cells as one text, the same for the same key on every
    /// engine: a JSON array such as `[862]` or `["AFG",1952]`.
    pub fn key_text(cells: &[Cell]) -> String {
        serde_json::to_string(cells).unwrap_or_default()
    }

    /// Reads a cell from exported text: empty is null, then integer, then
    /// number, else text.
    pub fn parse(text: &str) -> Cell {
        if text.is_empty() {
            Cell::Null
        } else if let Ok(i) = text.parse::<i64>() {
            Cell::Int(i)
        } else if let Ok(x) = text.parse::<f64>() {
            Cell::Num(x)
        } else {
            Cell::Text(text.to_owned())
        }
    }

    /// The cell as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(x) => Some(*x),
            _ => None,
        }
    }

    /// An integral float becomes an integer, so `2001.0` from one engine
    /// and `2001` from another are the same key.
    pub fn normalized(self) -> Cell {
        match self {
            Cell::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Cell::Int(x as i64),
            other => other,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Int(_) | Cell::Num(_) => 1,
            Cell::Text(_) => 2,
        }
    }
}

impl PartialEq for Cell {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cell {}

impl PartialOrd for Cell {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cell {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Cell::Int(a), Cell::Int(b)) => a.cmp(b),
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            (a, b) if a.rank() == 1 && b.rank() == 1 => {
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                x.total_cmp(&y)
            }
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl Hash for Cell {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Cell::Null => 0u8.hash(state),
            Cell::Int(i) => {
                1u8.hash(state);
                (*i as f64).to_bits().hash(state);
            }
            Cell::Num(x) => {
                1u8.hash(state);
                x.to_bits().hash(state);
            }
            Cell::Text(s) => {
                2u8.hash(state);
                s.hash(state);
            }
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Num(x) => write!(f, "{x}"),
            Cell::Text(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_integral_floats_are_the_same_key() {
        assert_eq!(Cell::Int(2001), Cell::Num(2001.0));
        assert_eq!(Cell::Num(2001.0).normalized(), Cell::Int(2001));
        let mut set = std::collections::HashSet::new();
        set.insert(Cell::Int(7));
        assert!(set.contains(&Cell::Num(7.0)));
    }

    #[test]
    fn orders_null_numbers_then_text() {
        let mut cells = vec![
            Cell::Text("a".into()),
            Cell::Num(1.5),
            Cell::Null,
            Cell::Int(1),
        ];
        cells.sort();
        assert_eq!(
            cells,
            vec![
                Cell::Null,
                Cell::Int(1),
                Cell::Num(1.5),
                Cell::Text("a".into())
            ]
        );
    }

    #[test]
    fn parses_exported_text() {
        assert_eq!(Cell::parse(""), Cell::Null);
        assert_eq!(Cell::parse("12"), Cell::Int(12));
        assert_eq!(Cell::parse("1.5"), Cell::Num(1.5));
        assert_eq!(Cell::parse("Drama"), Cell::Text("Drama".into()));
    }
}
