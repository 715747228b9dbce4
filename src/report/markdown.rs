//! The Markdown view of a report, for pull requests, reviews and GitHub
//! step summaries. Every text from the data is escaped, so a record cannot
//! inject markup (links, images, HTML) into the page.

use std::fmt::Write as _;

use super::Report;
use super::layout::{Block, layout};

/// Backslash-escapes the characters that carry meaning in Markdown, writes
/// `<` and `>` as entities so no HTML gets through, and shows words that a
/// Markdown viewer would turn into links (URLs, `www.` names, e-mail
/// addresses) as code. No line starts a GitHub workflow command.
fn escape(text: &str) -> String {
    let text = crate::text::printable(text);
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if looks_like_link(word) {
            // Brackets and punctuation around a link stay outside the code.
            let core = word
                .trim_start_matches(['(', '[', '{', '"', '\''])
                .trim_end_matches([')', ']', '}', '"', '\'', ',', '.', ';', ':', '!', '?']);
            let start = word.len() - word.trim_start_matches(['(', '[', '{', '"', '\'']).len();
            escape_word(&word[..start], &mut out);
            out.push_str(&code_span(core));
            escape_word(&word[start + core.len()..], &mut out);
        } else {
            escape_word(word, &mut out);
        }
    }
    if out.starts_with("::") {
        out.insert(0, '\\');
    }
    out
}

/// Whether a Markdown viewer (GitHub's autolinks) would make a link of `word`.
fn looks_like_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.contains("://")
        || lower.contains("www.")
        || lower.starts_with("mailto:")
        || lower
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
}

/// `word` as inline code: a fence longer than any run of backticks in it,
/// and `|` escaped so that it cannot end a table cell.
fn code_span(word: &str) -> String {
    let longest_run = word.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if word.starts_with('`') || word.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", word.replace('|', "\\|"))
}

fn escape_word(word: &str, out: &mut String) {
    for c in word.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// A table cell: escaped, its lines joined with `<br>`.
fn cell(text: &str) -> String {
    text.lines().map(escape).collect::<Vec<_>>().join("<br>")
}

/// Renders a report as Markdown.
pub(crate) fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let mut first = true;
    for block in layout(report) {
        match block {
            Block::Heading(text) if first => {
                let _ = writeln!(out, "## {}\n", escape(&text));
                first = false;
            }
            Block::Heading(text) => {
                let _ = writeln!(out, "**{}**\n", escape(&text));
            }
            Block::Line(text) => {
                let text = text.trim_start_matches("  - ");
                let _ = writeln!(out, "{}  ", escape(text));
            }
            Block::Gap => out.push('\n'),
            Block::Table(t) => {
                out.push('\n');
                let _ = writeln!(
                    out,
                    "| {} |",
                    t.header
                        .iter()
                        .map(|h| cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let rule: Vec<&str> = (0..t.header.len())
                    .map(|i| if t.right.contains(&i) { "---:" } else { "---" })
                    .collect();
                let _ = writeln!(out, "| {} |", rule.join(" | "));
                for row in &t.rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                out.push('\n');
            }
        }
    }
    // Blocks each add their own spacing; Markdown needs one blank line.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_inject_markup() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("![x](http://evil)"), "`![x](http://evil`)");
        assert_eq!(escape("![x](evil)"), "\\!\\[x\\](evil)");
        assert_eq!(
            escape("**bold** _it_ `code`"),
            "\\*\\*bold\\*\\* \\_it\\_ \\`code\\`"
        );
        assert_eq!(cell("line 1\nline|2"), "line 1<br>line\\|2");
    }

    #[test]
    fn urls_from_data_are_code_and_no_line_starts_a_workflow_command() {
        assert_eq!(
            escape("see http://evil.example/x|y now"),
            "see `http://evil.example/x\\|y` now"
        );
        assert_eq!(escape("www.evil.example"), "`www.evil.example`");
        assert_eq!(escape("(sqlite://a.db):"), "(`sqlite://a.db`):");
        assert_eq!(escape("ann@evil.example"), "`ann@evil.example`");
        assert_eq!(escape("javascript://x`y"), "``javascript://x`y``");
        assert_eq!(escape("::error::x"), "\\::error::x");
        // Shown as the escapes `\u{202e}` and `\n` once rendered.
        assert_eq!(escape("a\u{202e}b\nc"), "a\\\\u{202e}b\\\\nc");
    }
}
