//! Parsing and type-checking an expression: a recursive-descent parser
//! that counts its own nesting, and the depth limit of the tree it builds.

use chrono::NaiveDate;

use super::lex::{TokKind, Token, tokenize};
use super::{ArithOp, CmpOp, Columns, Const, Expr, ExprError, Func, MAX_DEPTH, MAX_TOKENS};
use crate::fields::value::Ty;

/// Parses and type-checks `text`, within the limits of length and depth.
pub(super) fn parse(text: &str, columns: &dyn Columns) -> Result<(Expr, Ty), ExprError> {
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
