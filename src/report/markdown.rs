//! The Markdown view of a report, for pull requests, reviews and GitHub
//! step summaries. Every text from the data is escaped, so a record cannot
//! inject markup (links, images, HTML) into the page.

use std::fmt::Write as _;

use super::Report;
use super::layout::{Block, layout};

/// Backslash-escapes the characters that carry meaning in Markdown, and
/// writes `<` and `>` as entities so no HTML gets through.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && c != '\n' => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// A table cell: escaped, its lines joined with `<br>`.
fn cell(text: &str) -> String {
    text.lines().map(escape).collect::<Vec<_>>().join("<br>")
}

/// Renders a report as Markdown.
pub fn render_markdown(report: &Report) -> String {
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
        assert_eq!(escape("![x](http://evil)"), "\\!\\[x\\](http://evil)");
        assert_eq!(
            escape("**bold** _it_ `code`"),
            "\\*\\*bold\\*\\* \\_it\\_ \\`code\\`"
        );
        assert_eq!(cell("line 1\nline|2"), "line 1<br>line\\|2");
    }
}
