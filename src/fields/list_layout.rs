//! The layout in which lists of entities are nearly always written, matched
//! byte for byte.
//!
//! Python's repr (the canonical TMDB dump) and JSON (its TMDB 5000 variant)
//! write every list of entities the same way: `[{'id': 16, 'name':
//! 'Animation'}, {'id': 35, 'name': 'Comedy'}]`, each dict holding the same
//! keys in the same order, one space after each colon and comma. A
//! [`ListLayout`] knows that text except for the values, so checking a
//! list is a few comparisons and one scan per value instead of a walk over
//! every token. Whatever it does not match (another order, other keys,
//! other spacing, an escape, a value of another kind) it leaves to
//! [`crate::fields::literal::entity_list_len`], so it only ever accepts lists that
//! the walk, and the full parse behind it, accept.

/// The kind of a value that a layout reads in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainKind {
    /// A decimal integer of at most 18 digits, optionally negative.
    Int,
    /// A quoted string without escapes.
    Str,
}

/// The usual text of a list of entities with the given keys: in both quote
/// styles, and with the keys in any order (TMDB writes a company's `name`
/// before its `id`).
#[derive(Debug, Clone)]
pub struct ListLayout {
    /// Each quote style with each order of the keys.
    styles: Vec<Style>,
}

/// Orders of the keys are tried up to this many keys (3! = 6 orders);
/// with more, only the order given.
const MAX_KEYS_IN_ANY_ORDER: usize = 3;

/// One quote style and order of the keys: for each key, the text before
/// its value (`{'id': ` for the first, `, 'name': ` for the others) and
/// the value's kind.
#[derive(Debug, Clone)]
struct Style {
    before_values: Vec<(Vec<u8>, PlainKind)>,
}

impl ListLayout {
    /// The layout of lists whose dicts hold exactly `keys`; `None` when
    /// there are no keys or a key would need escaping.
    pub fn new<'k>(keys: impl IntoIterator<Item = (&'k str, PlainKind)>) -> Option<Self> {
        let keys: Vec<_> = keys.into_iter().collect();
        if keys.is_empty()
            || keys
                .iter()
                .any(|(name, _)| name.bytes().any(|b| matches!(b, b'\'' | b'"' | b'\\')))
        {
            return None;
        }
        let orders = if keys.len() <= MAX_KEYS_IN_ANY_ORDER {
            permutations(keys.len())
        } else {
            vec![(0..keys.len()).collect()]
        };
        let mut styles = Vec::new();
        for quote in [b'\'', b'"'] {
            for order in &orders {
                let before_values = order
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| {
                        let (name, kind) = keys[k];
                        let mut text = if i == 0 {
                            b"{".to_vec()
                        } else {
                            b", ".to_vec()
                        };
                        text.push(quote);
                        text.extend_from_slice(name.as_bytes());
                        text.push(quote);
                        text.extend_from_slice(b": ");
                        (text, kind)
                    })
                    .collect();
                styles.push(Style { before_values });
            }
        }
        Some(ListLayout { styles })
    }

    /// The number of dicts of `input` when it is written in this layout;
    /// `None` when it is not (which says nothing about its validity).
    pub fn list_len(&self, input: &str) -> Option<usize> {
        match input.as_bytes() {
            [b'[', b']'] => Some(0),
            bytes @ [b'[', ..] => self.styles.iter().find_map(|style| style.list_len(bytes)),
            _ => None,
        }
    }
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for shorter in permutations(n - 1) {
        for at in 0..=shorter.len() {
            let mut order = shorter.clone();
            order.insert(at, n - 1);
            all.push(order);
        }
    }
    all
}

impl Style {
    fn list_len(&self, bytes: &[u8]) -> Option<usize> {
        let mut pos = 1;
        let mut dicts = 0;
        loop {
            for (before, kind) in &self.before_values {
                if !bytes[pos..].starts_with(before) {
                    return None;
                }
                pos += before.len();
                pos = match kind {
                    PlainKind::Int => int_end(bytes, pos)?,
                    PlainKind::Str => string_end(bytes, pos)?,
                };
            }
            if bytes.get(pos) != Some(&b'}') {
                return None;
            }
            dicts += 1;
            match bytes.get(pos + 1..pos + 3) {
                Some(b", ") => pos += 3,
                _ => return (pos + 2 == bytes.len() && bytes[pos + 1] == b']').then_some(dicts),
            }
        }
    }
}

/// Where the integer at `pos` ends: as the walk reads one, an optional
/// minus and 1 to 18 digits (what follows is the layout's to check).
fn int_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let start = pos + usize::from(bytes.get(pos) == Some(&b'-'));
    let digits = bytes
        .get(start..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (1..=18).contains(&digits).then_some(start + digits)
}

/// Where the string quoted at `pos` ends (after its closing quote), when
/// it holds no backslash.
fn string_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let quote = *bytes.get(pos)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let rest = &bytes[pos + 1..];
    let len = memchr::memchr2(quote, b'\\', rest)?;
    (rest[len] == quote).then_some(pos + 1 + len + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::literal::{self, Literal};

    const KEYS: [(&str, PlainKind); 2] = [("id", PlainKind::Int), ("name", PlainKind::Str)];

    fn layout() -> ListLayout {
        ListLayout::new(KEYS).unwrap()
    }

    /// What the walk says of `text` with the same keys and kinds.
    fn walked(text: &str) -> Option<usize> {
        literal::entity_list_len(text, KEYS.iter().map(|(k, _)| *k), |k, v| match KEYS[k].1 {
            PlainKind::Int => matches!(v, Literal::Int(_)),
            PlainKind::Str => matches!(v, Literal::Str(_)),
        })
    }

    #[test]
    fn matches_lists_as_python_and_json_write_them() {
        let python = "[{'id': 16, 'name': 'Animation'}, {'id': 35, 'name': \"Po' Boy\"}]";
        let json = r#"[{"id": 28, "name": "Action"}]"#;
        assert_eq!(layout().list_len(python), Some(2));
        assert_eq!(layout().list_len(json), Some(1));
        assert_eq!(layout().list_len("[]"), Some(0));
        assert_eq!(layout().list_len("[{'id': -7, 'name': ''}]"), Some(1));
        let companies = "[{'name': 'Pixar Animation Studios', 'id': 3}]";
        assert_eq!(layout().list_len(companies), Some(1));
    }

    #[test]
    fn leaves_every_other_text_to_the_walk() {
        for text in [
            "",
            "[",
            "[ ]",
            " []",
            "[{'id': 35, 'name': 'Comedy', 'x': 1}]",
            "[{'id': 35}]",
            "[{'id': 35,  'name': 'Comedy'}]",
            "[{'id': 3.5, 'name': 'Comedy'}]",
            "[{'id': 1234567890123456789, 'name': 'Comedy'}]",
            "[{'id': , 'name': 'Comedy'}]",
            "[{'id': 35, 'name': 'Com\\'edy'}]",
            "[{'id': 35, 'name': 'Comedy}]",
            "[{'id': 35, 'name': 'Comedy'}, ]",
            "[{'id': 35, 'name': 'Comedy'}] ",
            "[{'id': 35, 'name': 'Comedy'}]]",
            "({'id': 35, 'name': 'Comedy'})",
            "[{'id': 35, \"name\": 'Comedy'}]",
            "[{'id': 35, 'name': 'Comedy'}, {'name': 'Drama', 'id': 18}]",
        ] {
            assert_eq!(layout().list_len(text), None, "{text:?}");
        }
    }

    #[test]
    fn has_no_layout_for_keys_that_need_escaping() {
        assert!(ListLayout::new([("it's", PlainKind::Str)]).is_none());
        assert!(ListLayout::new([]).is_none());
    }

    #[test]
    fn knows_every_order_of_up_to_three_keys() {
        assert_eq!(permutations(3).len(), 6);
        let keys = [
            ("a", PlainKind::Int),
            ("b", PlainKind::Int),
            ("c", PlainKind::Str),
        ];
        let three = ListLayout::new(keys).unwrap();
        assert_eq!(three.list_len("[{'c': '', 'a': 1, 'b': 2}]"), Some(1));
        let four = ListLayout::new([("a", PlainKind::Int); 4]).unwrap();
        assert_eq!(four.styles.len(), 2);
    }

    proptest::proptest! {
        /// Whatever the layout takes, the walk takes too, with the same
        /// count; and the walk takes every list printed in the layout.
        #[test]
        fn agrees_with_the_walk(text in "[\\[\\]{}(),:'\" a-z0-9\\-\\\\]{0,60}") {
            if let Some(n) = layout().list_len(&text) {
                proptest::prop_assert_eq!(walked(&text), Some(n), "{:?}", text);
            }
        }

        #[test]
        fn takes_the_lists_it_describes(items in proptest::collection::vec((-100_000i64..100_000, "[a-zA-Z '\"é]{0,12}"), 0..6)) {
            let text = format!(
                "[{}]",
                items
                    .iter()
                    .map(|(id, name)| format!("{{'id': {id}, 'name': {name:?}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // Debug quotes with `"` and escapes a `"` inside: that escape
            // is the walk's to read.
            let expected = (!items.iter().any(|(_, name)| name.contains('"'))).then_some(items.len());
            proptest::prop_assert_eq!(layout().list_len(&text), expected, "{}", text);
            proptest::prop_assert_eq!(walked(&text), Some(items.len()), "{}", text);
        }
    }
}
