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

use chrono::{Datelike, NaiveDate};

use crate::fields::value::{Ty, Value};

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

/// Parses and type-checks an expression of any type, returning its type.
pub fn compile_typed(text: &str, columns: &dyn Columns) -> Result<(Expr, Ty), ExprError> {
    let tokens = tokenize(text)?;
    if let Some(extra) = tokens.get(MAX_TOKENS) {
        return Err(ExprError {
            offset: extra.offset,
            message: format!(
                "the expression is too long: at most {MAX_TOKENS} tokens (names, values, operators); split it into several rules"
            ),
        });
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        columns,
        end: text.len(),
        nesting: 0,
    };
    let (expr, ty) = parser.or()?;
    if tree_depth(&expr) > MAX_DEPTH {
        return Err(ExprError {
            offset: 0,
            message: format!(
                "the expression nests too deeply: at most {MAX_DEPTH} levels of operators; split it into several rules"
            ),
        });
    }
    if let Some(tok) = parser.tokens.get(parser.pos) {
        return Err(ExprError {
            offset: tok.offset,
            message: format!(
                "unexpected {} after a complete expression",
                tok.kind.describe()
            ),
        });
    }
    Ok((expr, ty))
}

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
fn tree_depth(root: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1)];
    while let Some((expr, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match expr {
            Expr::Const(_) | Expr::Column(_) => {}
            Expr::Not(e)
            | Expr::Neg(e)
            | Expr::IsNull(e, _)
            | Expr::In(e, _, _)
            | Expr::Call(_, e) => stack.push((e, depth + 1)),
            Expr::And(terms) | Expr::Or(terms) => {
                stack.extend(terms.iter().map(|t| (t, depth + 1)));
            }
            Expr::Cmp(_, a, b) | Expr::Arith(_, a, b) => {
                stack.push((a, depth + 1));
                stack.push((b, depth + 1));
            }
        }
    }
    deepest
}

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

#[derive(Debug, Clone, PartialEq)]
enum TokKind {
    Int(i64),
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

impl TokKind {
    fn describe(&self) -> String {
        match self {
            TokKind::Int(i) => format!("number {i}"),
            TokKind::Num(x) => format!("number {x}"),
            TokKind::Str(s) => format!("string {s:?}"),
            TokKind::Ident(s) => format!("'{s}'"),
            TokKind::Op(o) => format!("'{o}'"),
            TokKind::LParen => "'('".into(),
            TokKind::RParen => "')'".into(),
            TokKind::LBracket => "'['".into(),
            TokKind::RBracket => "']'".into(),
            TokKind::Comma => "','".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokKind,
    offset: usize,
    /// Backtick-quoted identifiers are always column names, never keywords.
    quoted: bool,
}

fn tokenize(text: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |offset, message: String| Err(ExprError { offset, message });
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let mut quoted = false;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                TokKind::LParen
            }
            b')' => {
                i += 1;
                TokKind::RParen
            }
            b'[' => {
                i += 1;
                TokKind::LBracket
            }
            b']' => {
                i += 1;
                TokKind::RBracket
            }
            b',' => {
                i += 1;
                TokKind::Comma
            }
            b'+' | b'-' | b'*' | b'/' | b'%' => {
                i += 1;
                TokKind::Op(match c {
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    _ => "%",
                })
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                i += if two { 2 } else { 1 };
                TokKind::Op(match (c, two) {
                    (b'=', true) => "==",
                    (b'!', true) => "!=",
                    (b'<', true) => "<=",
                    (b'>', true) => ">=",
                    (b'<', false) => "<",
                    (b'>', false) => ">",
                    (b'=', false) => {
                        return err(start, "'=' is not an operator; use '==' to compare".into());
                    }
                    _ => return err(start, "'!' is not an operator; use 'not' or '!='".into()),
                })
            }
            b'\'' | b'"' => {
                let quote = c;
                i += 1;
                let mut s = String::new();
                loop {
                    match bytes.get(i) {
                        None => return err(start, "string is not closed".into()),
                        Some(&b) if b == quote => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if matches!(bytes.get(i + 1), Some(b'\\' | b'\'' | b'"')) => {
                            s.push(bytes[i + 1] as char);
                            i += 2;
                        }
                        Some(_) => {
                            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                TokKind::Str(s)
            }
            b'`' => {
                let Some(len) = text[i + 1..].find('`') else {
                    return err(start, "column name in backticks is not closed".into());
                };
                quoted = true;
                let name = text[i + 1..i + 1 + len].to_owned();
                i += len + 2;
                TokKind::Ident(name)
            }
            b'0'..=b'9' | b'.' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_')
                {
                    i += 1;
                }
                if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
                    i += 1;
                    if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
                        i += 1;
                    }
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let lit = text[start..i].replace('_', "");
                if let Ok(n) = lit.parse::<i64>() {
                    TokKind::Int(n)
                } else if let Ok(x) = lit.parse::<f64>() {
                    TokKind::Num(x)
                } else {
                    return err(start, format!("{:?} is not a number", &text[start..i]));
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                TokKind::Ident(text[start..i].to_owned())
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return err(start, format!("unexpected character {ch:?}"));
            }
        };
        tokens.push(Token {
            kind,
            offset: start,
            quoted,
        });
    }
    Ok(tokens)
}

struct Parser<'c> {
    tokens: Vec<Token>,
    pos: usize,
    columns: &'c dyn Columns,
    end: usize,
    /// How many parentheses, `not`s and unary minuses enclose the parser.
    nesting: usize,
}

type Typed = (Expr, Ty);

impl Parser<'_> {
    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.offset)
    }

    fn error<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            offset,
            message: message.into(),
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token { kind: TokKind::Ident(w), quoted: false, .. }) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let yes = self.keyword(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Token {
                kind: TokKind::Op(o),
                ..
            }) => Some(o),
            _ => None,
        }
    }

    fn expect(&mut self, kind: TokKind, what: &str) -> Result<(), ExprError> {
        match self.tokens.get(self.pos) {
            Some(t) if t.kind == kind => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => self.error(
                t.offset,
                format!("expected {what}, found {}", t.kind.describe()),
            ),
            None => self.error(
                self.end,
                format!("expected {what}, found the end of the expression"),
            ),
        }
    }

    fn require_bool(&self, ty: Ty, offset: usize, op: &str) -> Result<(), ExprError> {
        if matches!(ty, Ty::Bool | Ty::Null) {
            Ok(())
        } else {
            self.error(
                offset,
                format!("'{op}' needs true/false operands, found a {}", ty.name()),
            )
        }
    }

    /// Parses `inner` one level deeper, refusing to go past [`MAX_DEPTH`]
    /// so that nested input cannot exhaust the stack.
    fn nested(
        &mut self,
        at: usize,
        inner: impl FnOnce(&mut Self) -> Result<Typed, ExprError>,
    ) -> Result<Typed, ExprError> {
        if self.nesting >= MAX_DEPTH {
            return self.error(
                at,
                format!("the expression nests too deeply: at most {MAX_DEPTH} levels of parentheses, 'not' and '-'"),
            );
        }
        self.nesting += 1;
        let parsed = inner(self);
        self.nesting -= 1;
        parsed
    }

    fn or(&mut self) -> Result<Typed, ExprError> {
        self.chain("or", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Typed, ExprError> {
        self.chain("and", Self::not, Expr::And)
    }

    /// `term (keyword term)*`, kept as one flat node of all its terms.
    fn chain(
        &mut self,
        keyword: &str,
        term: fn(&mut Self) -> Result<Typed, ExprError>,
        node: fn(Vec<Expr>) -> Expr,
    ) -> Result<Typed, ExprError> {
        let start = self.offset();
        let (first, ty) = term(self)?;
        if !self.keyword(keyword) {
            return Ok((first, ty));
        }
        self.require_bool(ty, start, keyword)?;
        let mut terms = vec![first];
        while self.eat_keyword(keyword) {
            let at = self.offset();
            let (next, nty) = term(self)?;
            self.require_bool(nty, at, keyword)?;
            terms.push(next);
        }
        Ok((node(terms), Ty::Bool))
    }

    fn not(&mut self) -> Result<Typed, ExprError> {
        if self.keyword("not") {
            let at = self.offset();
            self.pos += 1;
            let operand = self.offset();
            let (e, ty) = self.nested(at, Self::not)?;
            self.require_bool(ty, operand, "not")?;
            return Ok((Expr::Not(Box::new(e)), Ty::Bool));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Typed, ExprError> {
        let start = self.offset();
        let (left, lty) = self.sum()?;
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            if !self.eat_keyword("null") {
                return self.error(self.offset(), "expected 'null' after 'is'");
            }
            return Ok((Expr::IsNull(Box::new(left), negated), Ty::Bool));
        }
        let negated_in = self.keyword("not")
            && matches!(self.tokens.get(self.pos + 1), Some(Token { kind: TokKind::Ident(w), quoted: false, .. }) if w.eq_ignore_ascii_case("in"));
        if negated_in {
            self.pos += 1;
        }
        if self.eat_keyword("in") {
            return self.in_list(left, lty, start, negated_in);
        }
        let op = match self.peek_op() {
            Some("==") => CmpOp::Eq,
            Some("!=") => CmpOp::Ne,
            Some("<") => CmpOp::Lt,
            Some("<=") => CmpOp::Le,
            Some(">") => CmpOp::Gt,
            Some(">=") => CmpOp::Ge,
            _ => return Ok((left, lty)),
        };
        let op_at = self.offset();
        self.pos += 1;
        let (right, rty) = self.sum()?;
        if lty == Ty::Null || rty == Ty::Null {
            return self.error(
                op_at,
                "comparing with null is never true; use 'is null' or 'is not null'",
            );
        }
        let (left, right) = self.unify(left, lty, right, rty, op_at)?;
        Ok((Expr::Cmp(op, Box::new(left), Box::new(right)), Ty::Bool))
    }

    /// Makes two operands comparable, converting a string literal compared
    /// with a date into a date constant.
    fn unify(
        &self,
        left: Expr,
        lty: Ty,
        right: Expr,
        rty: Ty,
        at: usize,
    ) -> Result<(Expr, Expr), ExprError> {
        if lty == rty || (lty.is_numeric() && rty.is_numeric()) {
            return Ok((left, right));
        }
        let as_date = |e: Expr| -> Result<Expr, ExprError> {
            match e {
                Expr::Const(Const::Str(s)) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map(|d| Expr::Const(Const::Date(d)))
                    .map_err(|_| ExprError {
                        offset: at,
                        message: format!("{s:?} is not a date in the form YYYY-MM-DD"),
                    }),
                other => Ok(other),
            }
        };
        match (lty, rty) {
            (Ty::Date, Ty::Str) if matches!(right, Expr::Const(_)) => Ok((left, as_date(right)?)),
            (Ty::Str, Ty::Date) if matches!(left, Expr::Const(_)) => Ok((as_date(left)?, right)),
            _ => self.error(
                at,
                format!("cannot compare a {} with a {}", lty.name(), rty.name()),
            ),
        }
    }

    fn in_list(
        &mut self,
        left: Expr,
        lty: Ty,
        start: usize,
        negated: bool,
    ) -> Result<Typed, ExprError> {
        self.expect(TokKind::LBracket, "'[' after 'in'")?;
        let mut set = Vec::new();
        loop {
            let at = self.offset();
            let (item, ity) = self.primary()?;
            let Expr::Const(c) = item else {
                return self.error(at, "the list after 'in' holds only literal values");
            };
            let (_, item) = self.unify(left.clone(), lty, Expr::Const(c), ity, at)?;
            let Expr::Const(c) = item else {
                unreachable!("unify keeps constants constant")
            };
            set.push(c);
            if self
                .tokens
                .get(self.pos)
                .is_some_and(|t| t.kind == TokKind::Comma)
            {
                self.pos += 1;
                continue;
            }
            self.expect(TokKind::RBracket, "',' or ']'")?;
            break;
        }
        let _ = start;
        Ok((Expr::In(Box::new(left), set, negated), Ty::Bool))
    }

    fn sum(&mut self) -> Result<Typed, ExprError> {
        let (mut left, mut lty) = self.product()?;
        loop {
            let op = match self.peek_op() {
                Some("+") => ArithOp::Add,
                Some("-") => ArithOp::Sub,
                _ => return Ok((left, lty)),
            };
            let at = self.offset();
            self.pos += 1;
            let (right, rty) = self.product()?;
            lty = self.arith_type(op, lty, rty, at)?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn product(&mut self) -> Result<Typed, ExprError> {
        let (mut left, mut lty) = self.unary()?;
        loop {
            let op = match self.peek_op() {
                Some("*") => ArithOp::Mul,
                Some("/") => ArithOp::Div,
                Some("%") => ArithOp::Rem,
                _ => return Ok((left, lty)),
            };
            let at = self.offset();
            self.pos += 1;
            let (right, rty) = self.unary()?;
            lty = self.arith_type(op, lty, rty, at)?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn arith_type(&self, op: ArithOp, l: Ty, r: Ty, at: usize) -> Result<Ty, ExprError> {
        let numeric = |t: Ty| t.is_numeric() || t == Ty::Null;
        if !numeric(l) || !numeric(r) {
            let bad = if numeric(l) { r } else { l };
            return self.error(
                at,
                format!("arithmetic needs numbers, found a {}", bad.name()),
            );
        }
        Ok(if op == ArithOp::Div || l == Ty::Num || r == Ty::Num {
            Ty::Num
        } else {
            Ty::Int
        })
    }

    fn unary(&mut self) -> Result<Typed, ExprError> {
        if self.peek_op() == Some("-") {
            let at = self.offset();
            self.pos += 1;
            let (e, ty) = self.nested(at, Self::unary)?;
            if !ty.is_numeric() {
                return self.error(at, format!("'-' needs a number, found a {}", ty.name()));
            }
            return Ok(match e {
                Expr::Const(Const::Int(i)) => (Expr::Const(Const::Int(-i)), ty),
                Expr::Const(Const::Num(x)) => (Expr::Const(Const::Num(-x)), ty),
                e => (Expr::Neg(Box::new(e)), ty),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Typed, ExprError> {
        let Some(tok) = self.tokens.get(self.pos).cloned() else {
            return self.error(
                self.end,
                "expected a value, found the end of the expression",
            );
        };
        self.pos += 1;
        match tok.kind {
            TokKind::Int(i) => Ok((Expr::Const(Const::Int(i)), Ty::Int)),
            TokKind::Num(x) => Ok((Expr::Const(Const::Num(x)), Ty::Num)),
            TokKind::Str(s) => Ok((Expr::Const(Const::Str(s.into())), Ty::Str)),
            TokKind::LParen => {
                let inner = self.nested(tok.offset, Self::or)?;
                self.expect(TokKind::RParen, "')'")?;
                Ok(inner)
            }
            TokKind::Ident(name) if !tok.quoted => match name.to_ascii_lowercase().as_str() {
                "true" => Ok((Expr::Const(Const::Bool(true)), Ty::Bool)),
                "false" => Ok((Expr::Const(Const::Bool(false)), Ty::Bool)),
                "null" => Ok((Expr::Const(Const::Null), Ty::Null)),
                "and" | "or" | "not" | "is" | "in" => self.error(
                    tok.offset,
                    format!("expected a value, found the keyword '{name}'"),
                ),
                _ if self
                    .tokens
                    .get(self.pos)
                    .is_some_and(|t| t.kind == TokKind::LParen) =>
                {
                    self.call(&name, tok.offset)
                }
                _ => self.column(&name, tok.offset),
            },
            TokKind::Ident(name) => self.column(&name, tok.offset),
            other => self.error(
                tok.offset,
                format!("expected a value, found {}", other.describe()),
            ),
        }
    }

    fn column(&self, name: &str, offset: usize) -> Result<Typed, ExprError> {
        match self.columns.resolve(name) {
            Some((index, ty)) => Ok((Expr::Column(index), ty)),
            None => self.error(
                offset,
                format!("no column named '{name}' is declared in [columns]"),
            ),
        }
    }

    fn call(&mut self, name: &str, offset: usize) -> Result<Typed, ExprError> {
        let func = match name {
            "len" => Func::Len,
            "year" => Func::Year,
            "month" => Func::Month,
            "day" => Func::Day,
            "abs" => Func::Abs,
            _ => {
                return self.error(
                    offset,
                    format!("unknown function '{name}' (known: len, year, month, day, abs)"),
                );
            }
        };
        self.expect(TokKind::LParen, "'('")?;
        let (arg, ty) = self.nested(offset, Self::or)?;
        self.expect(TokKind::RParen, "')'")?;
        let out = match (func, ty) {
            (Func::Len, Ty::Str | Ty::List | Ty::Null) => Ty::Int,
            (Func::Year | Func::Month | Func::Day, Ty::Date | Ty::Null) => Ty::Int,
            (Func::Abs, t) if t.is_numeric() || t == Ty::Null => t,
            _ => return self.error(offset, format!("{name}() does not take a {}", ty.name())),
        };
        Ok((Expr::Call(func, Box::new(arg)), out))
    }
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
