//! Exact `sum()` and `avg()` for the SQLite store, replacing SQLite's own
//! on dqgate's connection, so that both engines compute what PostgreSQL
//! computes and the reference expects:
//!
//! - a sum of integers is exact however large: it is an integer while it
//!   fits in 64 bits and its exact decimal text beyond (SQLite's own `sum`
//!   fails with "integer overflow"; PostgreSQL's returns an exact numeric,
//!   which the PostgreSQL driver reads the same way);
//! - a sum with floats is compensated (Neumaier's summation: exact but for
//!   the last bit in all but pathological cases, and free of the
//!   cancellation that loses `1.5` in `1.5 + 1e308 - 1e308`), and a result
//!   beyond the range of a double is an error, as in PostgreSQL (SQLite's
//!   own returns infinity);
//! - `avg` is that sum divided by the count, with the same range error.

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Error};

/// The start of the message of a sum or mean beyond a double's range: the
/// driver reports such a query as failing on its data, not as broken.
pub(super) const OUT_OF_RANGE: &str = "value out of range: the sum or mean exceeds a double";

/// A running sum of one group.
#[derive(Debug, Default)]
struct Running {
    /// Sum of the integer inputs.
    ints: i128,
    /// Compensated sum of the float inputs, when there are any.
    floats: Option<Compensated>,
    /// Non-null inputs.
    count: u64,
}

impl Running {
    fn add(&mut self, value: ValueRef<'_>) {
        let real = match value {
            ValueRef::Null => return,
            ValueRef::Integer(i) => {
                self.ints += i128::from(i);
                None
            }
            ValueRef::Real(x) => Some(x),
            // As SQLite's own sum: text and blobs count by their numeric value.
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                let text = String::from_utf8_lossy(t);
                match text.trim().parse::<i64>() {
                    Ok(i) => {
                        self.ints += i128::from(i);
                        None
                    }
                    Err(_) => Some(text.trim().parse::<f64>().unwrap_or(0.0)),
                }
            }
        };
        if let Some(x) = real {
            self.floats.get_or_insert_with(Compensated::default).add(x);
        }
        self.count += 1;
    }

    /// The sum as a double, or the range error.
    fn as_double(&self) -> rusqlite::Result<f64> {
        let mut total = self.floats.clone().unwrap_or_default();
        // The integer part in pieces of 52 bits, each exact as a double.
        let mut magnitude = self.ints.unsigned_abs();
        let mut scale = 1.0_f64;
        while magnitude != 0 {
            let piece = (magnitude & ((1 << 52) - 1)) as f64 * scale;
            total.add(if self.ints < 0 { -piece } else { piece });
            magnitude >>= 52;
            scale *= (1_u64 << 52) as f64;
        }
        let value = total.value();
        if value.is_finite() && !total.overflowed {
            Ok(value)
        } else {
            Err(Error::UserFunctionError(OUT_OF_RANGE.into()))
        }
    }
}

/// Neumaier's compensated sum.
#[derive(Debug, Default, Clone)]
struct Compensated {
    sum: f64,
    compensation: f64,
    /// A partial sum went beyond a double.
    overflowed: bool,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if !t.is_finite() {
            self.overflowed = true;
            return;
        }
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// `sum()` or, with `mean`, `avg()`.
struct Exact {
    mean: bool,
}

impl Aggregate<Running, Value> for Exact {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Running> {
        Ok(Running::default())
    }

    fn step(&self, ctx: &mut Context<'_>, running: &mut Running) -> rusqlite::Result<()> {
        running.add(ctx.get_raw(0));
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, running: Option<Running>) -> rusqlite::Result<Value> {
        let Some(running) = running.filter(|r| r.count > 0) else {
            return Ok(Value::Null);
        };
        let count = running.count as f64;
        match (self.mean, running.floats.is_some()) {
            (false, false) => Ok(i64::try_from(running.ints)
                .map_or_else(|_| Value::Text(running.ints.to_string()), Value::Integer)),
            (false, true) => running.as_double().map(Value::Real),
            // An integer mean is within the range of its inputs.
            (true, false) => Ok(Value::Real(running.ints as f64 / count)),
            (true, true) => Ok(Value::Real(running.as_double()? / count)),
        }
    }
}

/// Replaces `sum` and `avg` on `conn`.
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_aggregate_function("sum", 1, flags, Exact { mean: false })?;
    conn.create_aggregate_function("avg", 1, flags, Exact { mean: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(conn: &Connection, sql: &str) -> rusqlite::Result<Value> {
        conn.query_row(sql, [], |r| r.get(0))
    }

    #[test]
    fn sums_are_exact_beyond_64_bits_and_refuse_to_overflow_a_double() {
        let conn = Connection::open_in_memory().unwrap();
        install(&conn).unwrap();
        let max = i64::MAX;
        assert_eq!(
            one(
                &conn,
                &format!("SELECT sum(x) FROM (SELECT {max} AS x UNION ALL SELECT {max})")
            )
            .unwrap(),
            Value::Text((2 * i128::from(max)).to_string())
        );
        assert_eq!(
            one(
                &conn,
                "SELECT sum(x) FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT NULL)"
            )
            .unwrap(),
            Value::Integer(3)
        );
        assert_eq!(
            one(&conn, "SELECT sum(x) FROM (SELECT NULL AS x)").unwrap(),
            Value::Null
        );
        assert_eq!(
            one(
                &conn,
                "SELECT sum(x) FROM (SELECT 0.1 AS x UNION ALL SELECT 0.2)"
            )
            .unwrap(),
            Value::Real(0.30000000000000004)
        );
        let err = one(
            &conn,
            "SELECT sum(x) FROM (SELECT 1.7e308 AS x UNION ALL SELECT 1.7e308)",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(OUT_OF_RANGE), "{err}");
        assert_eq!(
            one(
                &conn,
                "SELECT avg(x) FROM (SELECT 1 AS x UNION ALL SELECT 2)"
            )
            .unwrap(),
            Value::Real(1.5)
        );
        assert!(
            one(
                &conn,
                "SELECT avg(x) FROM (SELECT 1.7e308 AS x UNION ALL SELECT 1.7e308)"
            )
            .is_err()
        );
    }
}
