//! The list-field parser on any text: it returns a value or an error with
//! a position, never panics; the entity-list fast path accepts only lists
//! that the full parse accepts, with the same length; and the byte-for-byte
//! layout accepts only lists that the fast path accepts, with that length.
#![no_main]

use dqgate::fields::list_layout::{ListLayout, PlainKind};
use dqgate::fields::literal::{self, Literal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match literal::parse(text) {
        Ok(value) => {
            let _ = value.kind();
            let _ = value.get("id");
        }
        Err(err) => assert!(
            err.offset <= text.len(),
            "error offset {} past the end {}",
            err.offset,
            text.len()
        ),
    }
    let keys = ["id", "name"];
    let accepts = |k: usize, v: &Literal<'_>| match k {
        0 => matches!(v, Literal::Int(_)),
        _ => matches!(v, Literal::Str(_)),
    };
    let walked = literal::entity_list_len(text, keys.iter().copied(), accepts);
    let layout = ListLayout::new([("id", PlainKind::Int), ("name", PlainKind::Str)]).unwrap();
    if let Some(n) = layout.list_len(text) {
        assert_eq!(walked, Some(n), "the layout took {text:?}, the walk did not agree");
    }
    if let Some(n) = walked {
        let Ok(Literal::List(items)) = literal::parse(text) else {
            panic!("the fast path took {text:?}, the full parse did not");
        };
        assert_eq!(items.len(), n, "{text:?}");
        for item in &items {
            assert!(matches!(item.get("id"), Some(Literal::Int(_))), "{text:?}");
            assert!(matches!(item.get("name"), Some(Literal::Str(_))), "{text:?}");
        }
    }
    if let Some(n) = literal::entity_len(text, keys.iter().copied(), accepts) {
        let Ok(Literal::Dict(entries)) = literal::parse(text) else {
            panic!("the entity fast path took {text:?}, the full parse did not");
        };
        assert_eq!(entries.len(), n, "{text:?}");
        let dict = Literal::Dict(entries);
        assert!(matches!(dict.get("id"), Some(Literal::Int(_))), "{text:?}");
        assert!(matches!(dict.get("name"), Some(Literal::Str(_))), "{text:?}");
    }
});
