//! The rule-file loader on any text: a compiled rule set or a list of
//! problems, each with a line and column inside the text.
#![no_main]

use dqgate::rules::{RuleFileError, RuleSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match RuleSet::from_source(std::path::Path::new("fuzz.toml"), text) {
        Ok(_) => {}
        Err(RuleFileError::Invalid { problems, .. }) => {
            let lines = text.lines().count().max(1) + 1;
            for p in problems {
                assert!(p.line >= 1 && p.line <= lines, "problem on line {} of {lines}", p.line);
                assert!(p.column >= 1);
            }
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
});
