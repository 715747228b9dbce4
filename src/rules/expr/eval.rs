//! Evaluating a compiled expression against one row's typed values.

use chrono::Datelike;

use super::{ArithOp, CmpOp, Expr, Func};
use crate::fields::value::Value;

impl Expr {
    /// Evaluates against one row's typed values (indexed like the declared columns).
    pub fn eval<'a>(&'a self, row: &[Value<'a>]) -> Value<'a> {
        match self {
            Expr::Const(c) => c.value(),
            Expr::Column(i) => row.get(*i).copied().unwrap_or(Value::Null),
            Expr::Not(e) => match e.eval(row) {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            },
            // Three-valued logic: a false term decides `and`, a true term
            // `or`, whatever the others are (expressions have no effects,
            // so the terms after it need not be evaluated).
            Expr::And(terms) => decide(terms, row, false),
            Expr::Or(terms) => decide(terms, row, true),
            Expr::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), a, b) => {
                let Some(equal) = a.operand(row).equals(b.operand(row)) else {
                    return Value::Null;
                };
                Value::Bool(equal == (*op == CmpOp::Eq))
            }
            Expr::Cmp(op, a, b) => {
                let Some(ord) = a.operand(row).compare(b.operand(row)) else {
                    return Value::Null;
                };
                Value::Bool(match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                })
            }
            Expr::Arith(op, a, b) => arith(*op, a.operand(row), b.operand(row)),
            Expr::Neg(e) => match e.eval(row) {
                Value::Int(i) => i.checked_neg().map_or(Value::Null, Value::Int),
                Value::Num(x) => Value::Num(-x),
                _ => Value::Null,
            },
            Expr::IsNull(e, negated) => Value::Bool((e.operand(row) == Value::Null) != *negated),
            Expr::In(e, set, negated) => {
                let v = e.eval(row);
                if v == Value::Null {
                    return Value::Null;
                }
                let found = set
                    .iter()
                    .any(|c| v.compare(c.value()).is_some_and(|o| o.is_eq()));
                Value::Bool(found != *negated)
            }
            Expr::Call(f, e) => call(*f, e.eval(row)),
        }
    }

    /// [`Expr::eval`] with columns and constants, the usual operands,
    /// read in place instead of through a call.
    #[inline(always)]
    fn operand<'a>(&'a self, row: &[Value<'a>]) -> Value<'a> {
        match self {
            Expr::Column(i) => row.get(*i).copied().unwrap_or(Value::Null),
            Expr::Const(c) => c.value(),
            other => other.eval(row),
        }
    }

    /// Column positions this expression reads, for reports.
    pub fn columns(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Const(_) => {}
            Expr::Column(i) => {
                if !out.contains(i) {
                    out.push(*i);
                }
            }
            Expr::Not(e)
            | Expr::Neg(e)
            | Expr::IsNull(e, _)
            | Expr::In(e, _, _)
            | Expr::Call(_, e) => e.columns(out),
            Expr::And(terms) | Expr::Or(terms) => {
                for term in terms {
                    term.columns(out);
                }
            }
            Expr::Cmp(_, a, b) | Expr::Arith(_, a, b) => {
                a.columns(out);
                b.columns(out);
            }
        }
    }
}

/// `and` (`decisive` false) or `or` (`decisive` true) over `terms` in
/// three-valued logic: the decisive value wins, else null if any term is
/// null, else the other value.
fn decide<'a>(terms: &'a [Expr], row: &[Value<'a>], decisive: bool) -> Value<'a> {
    let mut unknown = false;
    for term in terms {
        match term.eval(row) {
            Value::Bool(b) if b == decisive => return Value::Bool(decisive),
            Value::Bool(_) => {}
            _ => unknown = true,
        }
    }
    if unknown {
        Value::Null
    } else {
        Value::Bool(!decisive)
    }
}

/// The depth of a tree, walked without recursion (a tree the limits
/// refuse may be deeper than a stack allows).
fn arith<'a>(op: ArithOp, a: Value<'a>, b: Value<'a>) -> Value<'a> {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let r = match op {
            ArithOp::Add => x.checked_add(y),
            ArithOp::Sub => x.checked_sub(y),
            ArithOp::Mul => x.checked_mul(y),
            ArithOp::Rem => x.checked_rem(y),
            ArithOp::Div => {
                return if y == 0 {
                    Value::Null
                } else {
                    Value::Num(x as f64 / y as f64)
                };
            }
        };
        // Overflow falls back to floating point rather than failing the row.
        return r.map_or_else(|| arith_f64(op, x as f64, y as f64), Value::Int);
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => arith_f64(op, x, y),
        _ => Value::Null,
    }
}

fn arith_f64<'a>(op: ArithOp, x: f64, y: f64) -> Value<'a> {
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Rem => x % y,
    };
    if r.is_finite() {
        Value::Num(r)
    } else {
        Value::Null
    }
}

fn call(f: Func, v: Value<'_>) -> Value<'_> {
    match (f, v) {
        (Func::Len, Value::Str(s)) => Value::Int(s.chars().count() as i64),
        (Func::Len, Value::List(n)) => Value::Int(n as i64),
        (Func::Year, Value::Date(d)) => Value::Int(i64::from(d.year())),
        (Func::Month, Value::Date(d)) => Value::Int(i64::from(d.month())),
        (Func::Day, Value::Date(d)) => Value::Int(i64::from(d.day())),
        (Func::Abs, Value::Int(i)) => i.checked_abs().map_or(Value::Null, Value::Int),
        (Func::Abs, Value::Num(x)) => Value::Num(x.abs()),
        _ => Value::Null,
    }
}
