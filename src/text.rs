//! Text from outside (files, their names, rule files, stores) made safe to
//! print in any output: no control character, newline or invisible
//! formatting character reaches a terminal, a CI log or a page raw.

/// Whether `c` is an invisible formatting character that can reorder or
/// hide the text around it: bidirectional controls (U+202A-U+202E,
/// U+2066-U+2069, U+200E, U+200F, U+061C), zero-width characters and the
/// byte-order mark.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Text from outside (a file, its name, a rule file, a store) made safe to
/// print: control characters (newlines included) and invisible formatting
/// characters escaped, so it cannot send escape sequences to a terminal,
/// start a new line, or reorder what is shown around it.
pub fn printable(text: &str) -> String {
    let unsafe_char = |c: char| c.is_control() || is_invisible_format(c);
    if !text.chars().any(unsafe_char) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
