//! The expression language of cross-field rules.
//!
//! An expression is parsed and type-checked once, when the rule file is
//! compiled, into a tree whose column references are indexes into the row's
//! typed values. Evaluating it per row walks that tree; no text is looked at
//! again. Nulls follow SQL: comparisons and arithmetic with a null are null,
//! `and`/`or` use three-valued logic, and a rule fails only when its
//! expression is false (a null result passes, as a SQL `CHECK` does).
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | cmp
//! cmp     := sum [("=="|"!="|"<"|"<="|">"|">=") sum]
//!          | sum "is" ["not"] "null"
//!          | sum ["not"] "in" "[" literal ("," literal)* "]"
//! sum     := product (("+"|"-") product)*
//! product := unary (("*"|"/"|"%") unary)*
//! unary   := "-" unary | primary
//! primary := number | 'string' | "string" | true | false | null
//!          | column | `any column` | func "(" expr ")" | "(" expr ")"
//! func    := len | year | month | day | abs
//! ```
//!
//! Expressions are bounded so that nothing the parser accepts can exhaust a
//! thread's stack when it is parsed, evaluated or dropped: at most
//! [`MAX_TOKENS`] tokens, and a tree at most [`MAX_DEPTH`] levels deep.
//! Chains of `and` or `or` are kept flat (one node with many terms), so a
//! long list of alternatives costs no depth.

use chrono::NaiveDate;

use crate::fields::value::{Ty, Value};

mod eval;
mod lex;
mod parse;

/// The most tokens an expression may hold.
pub const MAX_TOKENS: usize = 4096;

/// The deepest an expression's tree may be: nesting of parentheses, `not`,
/// unary minus and function calls, and chains of arithmetic.
pub const MAX_DEPTH: usize = 64;

/// A parse or type error inside an expression, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// Byte offset into the expression text.
    pub offset: usize,
    /// What was expected.
    pub message: String,
}

/// A constant in a compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    /// `null`.
    Null,
    /// An integer literal.
    Int(i64),
    /// A decimal literal.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal.
    Str(Box<str>),
    /// A string literal compared with a date, converted once.
    Date(NaiveDate),
}

impl Const {
    fn value(&self) -> Value<'_> {
        match self {
            Const::Null => Value::Null,
            Const::Int(i) => Value::Int(*i),
            Const::Num(x) => Value::Num(*x),
            Const::Bool(b) => Value::Bool(*b),
            Const::Str(s) => Value::Str(s),
            Const::Date(d) => Value::Date(*d),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (always a number; division by zero is null)
    Div,
    /// `%`
    Rem,
}

/// A built-in function of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Characters of a string, or elements of a list.
    Len,
    /// Year of a date.
    Year,
    /// Month (1-12) of a date.
    Month,
    /// Day of month of a date.
    Day,
    /// Absolute value.
    Abs,
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Const(Const),
    /// The typed value of a column, by its position among declared columns.
    Column(usize),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and ...`, two terms or more.
    And(Vec<Expr>),
    /// `a or b or ...`, two terms or more.
    Or(Vec<Expr>),
    /// `a OP b`
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `a OP b`
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// `-e`
    Neg(Box<Expr>),
    /// `e is null` (false) or `e is not null` (true).
    IsNull(Box<Expr>, bool),
    /// `e in [...]` (false) or `e not in [...]` (true).
    In(Box<Expr>, Vec<Const>, bool),
    /// `f(e)`
    Call(Func, Box<Expr>),
}

/// Resolves a column name to its position among the declared columns and
/// its static type.
pub trait Columns {
    /// `None` when no column of that name is declared.
    fn resolve(&self, name: &str) -> Option<(usize, Ty)>;
}

/// Parses and type-checks a boolean rule expression.
pub fn compile(text: &str, columns: &dyn Columns) -> Result<Expr, ExprError> {
    let (expr, ty) = compile_typed(text, columns)?;
    if !matches!(ty, Ty::Bool | Ty::Null) {
        return Err(ExprError {
            offset: 0,
            message: format!(
                "a rule expression must be true or false, but this one is a {}",
                ty.name()
            ),
        });
    }
    Ok(expr)
}

/// Every column name in `text` that `columns` does not declare, with its
/// byte offset, so that all of them are reported at once; empty when the
/// text does not split into tokens (the parser reports that).
pub fn unknown_columns(text: &str, columns: &dyn Columns) -> Vec<(usize, String)> {
    let Ok(tokens) = lex::tokenize(text) else {
        return Vec::new();
    };
    tokens
        .iter()
        .enumerate()
        .filter_map(|(i, token)| {
            let lex::TokKind::Ident(name) = &token.kind else {
                return None;
            };
            if !token.quoted {
                let word = name.to_ascii_lowercase();
                let keyword = matches!(
                    word.as_str(),
                    "true" | "false" | "null" | "and" | "or" | "not" | "is" | "in"
                );
                let call = tokens
                    .get(i + 1)
                    .is_some_and(|next| next.kind == lex::TokKind::LParen);
                if keyword || call {
                    return None;
                }
            }
            columns
                .resolve(name)
                .is_none()
                .then(|| (token.offset, name.clone()))
        })
        .collect()
}

/// Parses and type-checks an expression of any type, returning its type.
pub fn compile_typed(text: &str, columns: &dyn Columns) -> Result<(Expr, Ty), ExprError> {
    parse::parse(text, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cols;
    impl Columns for Cols {
        fn resolve(&self, name: &str) -> Option<(usize, Ty)> {
            match name {
                "vote_count" => Some((0, Ty::Int)),
                "vote_average" => Some((1, Ty::Num)),
                "status" => Some((2, Ty::Str)),
                "release_date" => Some((3, Ty::Date)),
                "genres" => Some((4, Ty::List)),
                "odd name" => Some((5, Ty::Int)),
                _ => None,
            }
        }
    }

    fn date(s: &str) -> Value<'static> {
        Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    fn eval(text: &str, row: &[Value<'_>]) -> Value<'static> {
        let e = compile(text, &Cols).unwrap_or_else(|err| panic!("{text}: {err:?}"));
        // Results of these tests never borrow strings, so detach the lifetime.
        match e.eval(row) {
            Value::Bool(b) => Value::Bool(b),
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(i),
            Value::Num(x) => Value::Num(x),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn row<'a>() -> Vec<Value<'a>> {
        vec![
            Value::Int(0),
            Value::Num(0.0),
            Value::Str("Released"),
            date("1995-10-30"),
            Value::List(3),
            Value::Int(7),
        ]
    }

    #[test]
    fn evaluates_the_movie_rules() {
        let r = row();
        assert_eq!(
            eval("vote_count != 0 or vote_average == 0", &r),
            Value::Bool(true)
        );
        assert_eq!(
            eval("status != 'Released' or release_date is not null", &r),
            Value::Bool(true)
        );
        assert_eq!(eval("release_date >= '1874-01-01'", &r), Value::Bool(true));
        assert_eq!(
            eval("year(release_date) == 1995 and len(genres) == 3", &r),
            Value::Bool(true)
        );
        assert_eq!(
            eval("status in ['Rumored', 'Planned']", &r),
            Value::Bool(false)
        );
        assert_eq!(
            eval("status not in ['Rumored', 'Planned']", &r),
            Value::Bool(true)
        );
        assert_eq!(eval("`odd name` * 2 + 1 == 15", &r), Value::Bool(true));
        assert_eq!(eval("not (vote_count > 0)", &r), Value::Bool(true));
        assert_eq!(eval("-vote_count <= abs(-3)", &r), Value::Bool(true));
    }

    #[test]
    fn and_and_or_follow_the_full_truth_tables_either_side_first() {
        let mut r = row();
        r[0] = Value::Null;
        let (t, f, n) = (Value::Bool(true), Value::Bool(false), Value::Null);
        let side = |v: Value<'_>| match v {
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            _ => "vote_count > 1",
        };
        for (a, b, and, or) in [
            (t, t, t, t),
            (t, f, f, t),
            (t, n, n, t),
            (f, f, f, f),
            (f, n, f, n),
            (n, n, n, n),
        ] {
            for (x, y) in [(a, b), (b, a)] {
                assert_eq!(eval(&format!("{} and {}", side(x), side(y)), &r), and);
                assert_eq!(eval(&format!("{} or {}", side(x), side(y)), &r), or);
            }
        }
        assert_eq!(eval("status == 'Released'", &r), t);
        assert_eq!(eval("status != 'Releasee'", &r), t);
        assert_eq!(eval("vote_count == 1", &r), n);
    }

    #[test]
    fn follows_three_valued_logic_with_nulls() {
        let mut r = row();
        r[0] = Value::Null;
        assert_eq!(eval("vote_count > 1", &r), Value::Null);
        assert_eq!(eval("vote_count > 1 or true", &r), Value::Bool(true));
        assert_eq!(eval("vote_count > 1 and false", &r), Value::Bool(false));
        assert_eq!(eval("vote_count > 1 and true", &r), Value::Null);
        assert_eq!(eval("not (vote_count > 1)", &r), Value::Null);
        assert_eq!(eval("vote_count is null", &r), Value::Bool(true));
        assert_eq!(eval("vote_count + 1 is null", &r), Value::Bool(true));
        assert_eq!(eval("vote_count in [1, 2]", &r), Value::Null);
    }

    #[test]
    fn arithmetic_is_total() {
        let r = row();
        assert_eq!(eval("vote_count / 0 is null", &r), Value::Bool(true));
        assert_eq!(eval("7 / 2 == 3.5", &r), Value::Bool(true));
        assert_eq!(eval("7 % 2 == 1", &r), Value::Bool(true));
        assert_eq!(eval("9223372036854775807 + 1 > 0", &r), Value::Bool(true));
        assert_eq!(eval("vote_average + 1 == 1", &r), Value::Bool(true));
    }

    proptest::proptest! {
        #[test]
        fn compiling_any_text_never_panics(text in "[a-z_ `'\"()\\[\\],.0-9=!<>+*/%-]{0,60}|\\PC{0,40}") {
            if let Ok(e) = compile(&text, &Cols) {
                // Whatever compiles evaluates without panicking.
                let _ = e.eval(&row());
                let _ = e.eval(&[Value::Null; 6]);
            }
        }
    }

    #[test]
    fn rejects_bad_expressions_with_their_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("budget > 0", 0, "no column named 'budget'"),
            ("vote_count = 0", 11, "use '=='"),
            ("vote_count == null", 11, "use 'is null'"),
            ("status > 5", 7, "cannot compare a string with a integer"),
            ("vote_count + 1", 0, "must be true or false"),
            (
                "vote_count > 0 and status",
                19,
                "'and' needs true/false operands",
            ),
            ("(vote_count > 0", 15, "expected ')'"),
            ("vote_count > 0 vote_count", 15, "unexpected 'vote_count'"),
            ("release_date > '1995-13-01'", 13, "not a date"),
            ("status == 'open", 10, "string is not closed"),
            ("lower(status) == 'x'", 0, "unknown function 'lower'"),
            ("len(vote_count) > 1", 0, "len() does not take a integer"),
            ("status in [vote_count]", 11, "only literal values"),
            ("vote_count > 0 #", 15, "unexpected character '#'"),
        ];
        for (text, offset, needle) in cases {
            let err = compile(text, &Cols).expect_err(text);
            assert!(err.message.contains(needle), "{text}: {}", err.message);
            assert_eq!(err.offset, *offset, "{text}: {}", err.message);
        }
    }

    /// Compiles on this thread, then evaluates on a thread with a small
    /// stack (smaller than any worker's), as a check does.
    fn eval_on_small_stack(text: &str) -> Value<'static> {
        let expr = compile(text, &Cols).unwrap_or_else(|err| panic!("{err:?}"));
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || match expr.eval(&row()) {
                Value::Bool(b) => Value::Bool(b),
                Value::Null => Value::Null,
                other => panic!("not a truth value: {other:?}"),
            })
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn long_chains_of_or_and_and_are_flat() {
        let or = vec!["vote_count == 1"; 1000].join(" or ");
        assert_eq!(eval_on_small_stack(&or), Value::Bool(false));
        let and = vec!["vote_count < 1"; 1000].join(" and ");
        assert_eq!(eval_on_small_stack(&and), Value::Bool(true));
    }

    #[test]
    fn the_deepest_accepted_expression_evaluates_on_a_small_stack() {
        // vote_count is 0: `vote_count > 1` is false under an even number of `not`s.
        let nots = format!("{}vote_count > 1", "not ".repeat(MAX_DEPTH - 2));
        assert_eq!(eval_on_small_stack(&nots), Value::Bool(MAX_DEPTH % 2 == 1));
        let parens = format!(
            "{}vote_count{} < 1",
            "(".repeat(MAX_DEPTH - 2),
            ")".repeat(MAX_DEPTH - 2)
        );
        assert_eq!(eval_on_small_stack(&parens), Value::Bool(true));
    }

    #[test]
    fn nesting_and_length_beyond_the_limits_are_refused_with_their_position() {
        let nots = format!("{}vote_count > 1", "not ".repeat(1000));
        let err = compile(&nots, &Cols).unwrap_err();
        assert!(err.message.contains("nests too deeply"), "{err:?}");
        assert_eq!(err.offset, 4 * MAX_DEPTH, "{err:?}");

        let parens = format!("{}vote_count > 1", "(".repeat(1000));
        let err = compile(&parens, &Cols).unwrap_err();
        assert!(err.message.contains("nests too deeply"), "{err:?}");
        assert_eq!(err.offset, MAX_DEPTH, "{err:?}");

        let calls = format!("{}vote_count{} > 1", "abs(".repeat(1000), ")".repeat(1000));
        let err = compile(&calls, &Cols).unwrap_err();
        assert!(err.message.contains("nests too deeply"), "{err:?}");

        let sum = format!("{} > 1", vec!["vote_count"; 200].join(" + "));
        let err = compile(&sum, &Cols).unwrap_err();
        assert!(err.message.contains("nests too deeply"), "{err:?}");

        let long = vec!["vote_count == 1"; 2000].join(" or ");
        let err = compile(&long, &Cols).unwrap_err();
        assert!(err.message.contains("too long"), "{err:?}");
        // Four tokens a term ("vote_count", "==", "1", "or"), 19 bytes a term:
        // the first token past the limit starts term 1024.
        assert_eq!(
            err.offset,
            (MAX_TOKENS / 4) * "vote_count == 1 or ".len(),
            "{err:?}"
        );
    }
}
