//! The expression language on any text: compile against typed columns,
//! and evaluate whatever compiles on typed and all-null rows.
#![no_main]

use dqgate::rules::expr::{Columns, compile};
use dqgate::value::{Ty, Value};
use libfuzzer_sys::fuzz_target;

struct Cols;

impl Columns for Cols {
    fn resolve(&self, name: &str) -> Option<(usize, Ty)> {
        match name {
            "n" => Some((0, Ty::Int)),
            "x" => Some((1, Ty::Num)),
            "s" => Some((2, Ty::Str)),
            "d" => Some((3, Ty::Date)),
            "l" => Some((4, Ty::List)),
            "b" => Some((5, Ty::Bool)),
            _ => None,
        }
    }
}

fuzz_target!(|text: &str| {
    if let Ok(expr) = compile(text, &Cols) {
        let date = chrono_date();
        let row = [Value::Int(i64::MIN), Value::Num(-0.0), Value::Str("é"), date, Value::List(3), Value::Bool(true)];
        let _ = expr.eval(&row);
        let _ = expr.eval(&[Value::Null; 6]);
    }
});

fn chrono_date() -> Value<'static> {
    match dqgate::row::parse_value(&dqgate::rules::TypeCheck::Date { formats: vec!["%Y-%m-%d".into()] }, "2000-02-29") {
        Ok(v) => v,
        Err(_) => Value::Null,
    }
}
