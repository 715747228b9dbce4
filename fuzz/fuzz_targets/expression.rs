//! The expression language on any text: compile against typed columns,
//! and evaluate whatever compiles on typed and all-null rows, on a thread
//! whose stack is smaller than a check's worker threads'.
//!
//! The input is `[mode, count_lo, count_hi, fragment_len, fragment..., text...]`:
//! with mode 1 the fragment is repeated `count` times before the text (deep
//! nesting: `(`, `not `, `-`, `abs(`), with mode 2 the text is joined
//! `count` times with the fragment (long chains: ` or `, ` + `); other modes
//! take the bytes as the text. So the fuzzer reaches expressions far past
//! the parser's depth and length limits, which random text rarely does.
#![no_main]

use dqgate::rules::expr::{Columns, compile};
use dqgate::fields::value::{Ty, Value};
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

/// The expression text the input describes.
fn text_of(data: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    if mode > 2 || rest.len() < 3 {
        return std::str::from_utf8(data).ok().map(str::to_owned);
    }
    let count = usize::from(u16::from_le_bytes([rest[0], rest[1]]) % 20_000);
    let fragment_len = usize::from(rest[2]);
    let rest = &rest[3..];
    let fragment = std::str::from_utf8(rest.get(..fragment_len)?).ok()?;
    let text = std::str::from_utf8(&rest[fragment_len.min(rest.len())..]).ok()?;
    Some(match mode {
        1 => format!("{}{text}", fragment.repeat(count)),
        _ => vec![text; count.max(1)].join(fragment),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = text_of(data) else { return };
    if let Ok(expr) = compile(&text, &Cols) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let date = chrono_date();
                let row = [
                    Value::Int(i64::MIN),
                    Value::Num(-0.0),
                    Value::Str("é"),
                    date,
                    Value::List(3),
                    Value::Bool(true),
                ];
                let _ = expr.eval(&row);
                let _ = expr.eval(&[Value::Null; 6]);
            })
            .expect("a thread")
            .join()
            .expect("evaluation on a small stack");
    }
});

fn chrono_date() -> Value<'static> {
    match dqgate::check::row::parse_value(
        &dqgate::rules::TypeCheck::Date {
            formats: vec!["%Y-%m-%d".into()],
        },
        "2000-02-29",
    ) {
        Ok(v) => v,
        Err(_) => Value::Null,
    }
}
