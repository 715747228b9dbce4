//! Whole records through the reader and the row checker: any bytes after
//! a fixed header are read, each record is accepted or gets violations,
//! and nothing panics.
#![no_main]

use std::sync::OnceLock;

use dqgate::header::HeaderBinding;
use dqgate::input::CsvInput;
use dqgate::row::{Limits, RowChecker};
use dqgate::rules::RuleSet;
use libfuzzer_sys::fuzz_target;

const RULES: &str = r#"
[columns.id]
type = "integer"
required = true
unique = true
min = 1
[columns.name]
type = "string"
pattern = '[A-Z].*'
max_length = 40
[columns.day]
type = "date"
[columns.genres]
type = "entity_list"
keys = { id = "integer", name = "string" }
[columns.extra]
type = "entity"
[[rules]]
name = "r"
expr = "id > 0 and (day is null or year(day) > 1900) and len(genres) < 10"
"#;

fn rules() -> &'static RuleSet {
    static RULES_SET: OnceLock<RuleSet> = OnceLock::new();
    RULES_SET.get_or_init(|| RuleSet::from_source(std::path::Path::new("fuzz.toml"), RULES).unwrap())
}

fuzz_target!(|body: &[u8]| {
    let rules = rules();
    let mut data = b"id,name,day,genres,extra\n".to_vec();
    data.extend_from_slice(body);
    let mut input = CsvInput::new(&data[..], b',');
    let header = input.next_record().unwrap().unwrap().fields.clone();
    let binding = HeaderBinding::bind(rules, &header);
    input.release();
    let limits = Limits { max_field_bytes: 4096, max_record_bytes: 16384 };
    let mut checker = RowChecker::new(rules, &binding, limits);
    let mut violations = Vec::new();
    let mut last_line = 0;
    while let Some(record) = input.next_record().unwrap() {
        assert!(record.line > last_line, "lines ascend");
        last_line = record.line;
        let accepted = checker.check(&record, &mut violations);
        assert!(accepted || !violations.is_empty(), "a refused record says why");
        input.release();
    }
    input.finish().unwrap();
});
