//! Errors in a rule file, each anchored at a line and column.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A rule file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// The file could not be read.
    #[error("cannot read rule file {}: {source}", path.display())]
    Read {
        /// The rule file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but has problems; all of them are listed.
    #[error("{}", render_problems(path, problems))]
    Invalid {
        /// The rule file.
        path: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn render_problems(path: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "rule file {} has {} error{}:",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!(
            "\n  {}:{}:{}: {}",
            path.display(),
            p.line,
            p.column,
            p.message
        ));
    }
    out
}

/// Collects problems while a rule file is loaded and compiled, turning byte
/// spans into lines and columns.
#[derive(Debug)]
pub(crate) struct Problems<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
    found: Vec<(usize, Problem)>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Problems {
            source,
            line_starts,
            found: Vec::new(),
        }
    }

    /// Records a problem at a byte offset of the rule file.
    pub(crate) fn at(&mut self, offset: usize, message: impl Into<String>) {
        let offset = offset.min(self.source.len());
        let line_index = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let line_start = self.line_starts[line_index];
        let column = self
            .source
            .get(line_start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        self.found.push((
            offset,
            Problem {
                line: line_index + 1,
                column,
                message: message.into(),
            },
        ));
    }

    /// Records a problem at the start of a span.
    pub(crate) fn span(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.at(span.start, message);
    }

    /// Records a TOML or serde error, using `fallback` when it has no span.
    pub(crate) fn toml(&mut self, err: &toml::de::Error, fallback: &Range<usize>) {
        let span = err.span().unwrap_or_else(|| fallback.clone());
        self.at(span.start, with_suggestion(err.message().trim()));
    }

    /// Problems found so far.
    pub(crate) fn count(&self) -> usize {
        self.found.len()
    }

    /// The problems in file order, or `Ok` when there are none.
    pub(crate) fn finish(mut self, path: &Path) -> Result<(), RuleFileError> {
        if self.found.is_empty() {
            return Ok(());
        }
        self.found.sort_by_key(|(offset, _)| *offset);
        Err(RuleFileError::Invalid {
            path: path.to_owned(),
            problems: self.found.into_iter().map(|(_, p)| p).collect(),
        })
    }
}

/// serde's "unknown field `X`, expected one of `a`, `b`" with the likely
/// intended key named, when one is close.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_owned();
    };
    let Some((unknown, expected)) = rest.split_once("`, expected") else {
        return message.to_owned();
    };
    let candidates = expected.split('`').skip(1).step_by(2);
    match crate::text::likely_typo(unknown, candidates) {
        Some(key) => format!("{message}; did you mean `{key}`?"),
        None => message.to_owned(),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let src = "a = 1\nbé = 'x'\n";
        let mut p = Problems::new(src);
        p.at(0, "first");
        p.at(src.find('=').unwrap(), "eq");
        p.at(src.find("'x'").unwrap(), "value");
        let Err(RuleFileError::Invalid { problems, .. }) = p.finish(Path::new("r.toml")) else {
            panic!("expected problems");
        };
        let at: Vec<_> = problems.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(at, vec![(1, 1), (1, 3), (2, 6)]);
    }
}
