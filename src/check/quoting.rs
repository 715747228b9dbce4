//! Quoting errors of a raw record, RFC 4180 style, found and described with
//! the lines they span.

/// Finds the first quoting error in a raw record, RFC 4180 style: a quote
/// may open a field, close it, or be doubled inside it, nothing else.
/// `line` is the record's first line, so the message can name lines.
pub(super) fn quoting_problem(raw: &[u8], delimiter: u8, line: u64) -> Option<String> {
    if delimiter != b'"' && quotes_are_balanced(raw, delimiter) {
        return None;
    }
    describe_quoting_problem(raw, delimiter, line)
}

/// Whether every quote of a raw record opens a field, closes one or is
/// doubled inside one: the verdict of [`describe_quoting_problem`] without
/// its message, from the quotes alone (one search per quote instead of a
/// look at every field).
pub(crate) fn quotes_are_balanced(raw: &[u8], delimiter: u8) -> bool {
    let mut inside = false;
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'"', &raw[from..]) {
        let at = from + k;
        let next = raw.get(at + 1).copied();
        if inside {
            match next {
                // Doubled: a quote inside the value.
                Some(b'"') => from = at + 2,
                // Closing: only a delimiter or the end may follow.
                Some(b) if b != delimiter => return false,
                _ => {
                    inside = false;
                    from = at + 1;
                }
            }
        } else {
            // Opening: only at the start of a field.
            if at > 0 && raw[at - 1] != delimiter {
                return false;
            }
            inside = true;
            from = at + 1;
        }
    }
    !inside
}

/// The message of the first quoting error in a raw record, found by
/// walking its fields.
pub(super) fn describe_quoting_problem(raw: &[u8], delimiter: u8, line: u64) -> Option<String> {
    memchr::memchr(b'"', raw)?;
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let line_at = |offset: usize| {
        let mut after_cr = false;
        line + raw[..offset]
            .iter()
            .filter(|&&b| {
                let breaks = b == b'\r' || (b == b'\n' && !after_cr);
                after_cr = b == b'\r';
                breaks
            })
            .count() as u64
    };
    let mut state = State::FieldStart;
    let mut field = 1;
    let mut opened_at = 0;
    let mut i = 0;
    while i < raw.len() {
        // Jump over the bytes that cannot change the state: inside quotes
        // only a quote matters, in an unquoted value a quote or delimiter.
        match state {
            State::Quoted => match memchr::memchr(b'"', &raw[i..]) {
                Some(k) => i += k,
                None => break,
            },
            State::Unquoted => match memchr::memchr2(b'"', delimiter, &raw[i..]) {
                Some(k) => i += k,
                None => break,
            },
            State::FieldStart | State::QuoteInQuoted => {}
        }
        let b = raw[i];
        state = match (state, b) {
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, d) if d == delimiter => {
                field += 1;
                State::FieldStart
            }
            (State::FieldStart, b'"') => {
                opened_at = i;
                State::Quoted
            }
            (State::Unquoted, b'"') => {
                return Some(format!(
                    "field {field} has a quote inside an unquoted value (line {})",
                    line_at(i)
                ));
            }
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, _) => State::QuoteInQuoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, _) => {
                let (opened, closed) = (line_at(opened_at), line_at(i));
                return Some(if opened == closed {
                    format!("field {field} has text after its closing quote (line {closed})")
                } else {
                    format!(
                        "field {field} opens a quote on line {opened} that closes only on line {closed}, \
                         followed by text: a quote is unbalanced"
                    )
                });
            }
        };
        i += 1;
    }
    (state == State::Quoted).then(|| {
        format!(
            "field {field} opens a quote on line {} that is never closed (the rest of the file was read into it)",
            line_at(opened_at)
        )
    })
}
