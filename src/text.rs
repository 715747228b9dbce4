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

/// A name reduced to what a typo keeps: lower case, letters and digits.
pub fn reduced(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The name among `candidates` that `name` most likely misspells: the same
/// letters and digits (case, spaces, `_`, `-`, a BOM aside), or within a
/// small edit distance (none under four characters, one up to seven, two
/// from eight on).
pub fn likely_typo<'h>(name: &str, candidates: impl Iterator<Item = &'h str>) -> Option<&'h str> {
    let want = reduced(name);
    let limit = match want.len() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    if want.is_empty() {
        return None;
    }
    candidates
        .filter_map(|h| {
            let other = reduced(h);
            // Lengths further apart than the limit cannot be within it.
            if other.is_empty() || other.len().abs_diff(want.len()) > limit {
                return None;
            }
            let distance = strsim::osa_distance(&want, &other);
            (distance <= limit).then_some((h, distance))
        })
        .min_by_key(|(_, d)| *d)
        .map(|(h, _)| h)
}

#[cfg(test)]
mod typo_tests {
    use super::likely_typo;

    #[test]
    fn a_likely_typo_is_close_and_the_closest_wins() {
        let header = ["homepage", "Vote Count", "vote_average", "id"];
        let find = |name| likely_typo(name, header.iter().copied());
        assert_eq!(find("hompage"), Some("homepage"));
        assert_eq!(find("vote_count"), Some("Vote Count"));
        assert_eq!(find("vote_averag"), Some("vote_average"));
        assert_eq!(
            find("ix"),
            None,
            "short names must match but for case and separators"
        );
        assert_eq!(find("ID"), Some("id"));
        assert_eq!(find("budget"), None);
        assert_eq!(find("xyz"), None);
    }
}
