//! Splitting an expression's text into tokens, with their byte offsets.

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokKind {
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
    pub(super) fn describe(&self) -> String {
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
pub(super) struct Token {
    pub(super) kind: TokKind,
    pub(super) offset: usize,
    /// Backtick-quoted identifiers are always column names, never keywords.
    pub(super) quoted: bool,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, ExprError> {
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
