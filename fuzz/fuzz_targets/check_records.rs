//! Whole records through the chunked reader, the pipeline and the row
//! checker, with the source (a stream in chunks of 1 to 24 bytes, or a
//! file in blocks of 1 KiB), thread count and record limit taken from the
//! input: nothing panics, every record is accounted for, and the records
//! are exactly the csv crate's (a differential test of the reader).
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use dqgate::read::blocks::BlockReader;
use dqgate::check::header::HeaderBinding;
use dqgate::read::input::{ChunkReader, HeaderRead, RecordView, read_header};
use dqgate::read::pipeline::{self, Item, PassOptions};
use dqgate::check::row::{Limits, RowChecker};
use dqgate::rules::RuleSet;
use dqgate::check::unique::UniqueKeys;
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

fuzz_target!(|input: &[u8]| {
    let Some((&knobs, body)) = input.split_first() else {
        return;
    };
    // Chunk sizes 25 to 32 stand for reading a file in blocks instead.
    let chunk_bytes = 1 + usize::from(knobs & 0x1f);
    let blocks = chunk_bytes > 24;
    let threads = 1 + usize::from(knobs >> 5) % 3;
    let max_record_bytes = if knobs & 0x80 != 0 { 64 } else { 16384 };
    let rules = rules();
    let mut data = b"id,name,day,genres,extra\n".to_vec();
    data.extend_from_slice(body);
    let mut reader = ChunkReader::with_chunk_bytes(&data[..], chunk_bytes);
    let HeaderRead::Header(header) = read_header(&mut reader, b',', 16384).unwrap() else {
        panic!("the header is there");
    };
    let binding = HeaderBinding::bind(rules, &header.fields);
    let limits = Limits {
        max_field_bytes: 4096,
        max_record_bytes,
    };
    let mut unique = UniqueKeys::new(rules, &binding);
    let key_reader = unique.key_reader();
    let make_work = || {
        let mut checker = RowChecker::new(rules, &binding, limits);
        let key_reader = key_reader.clone();
        move |record: &RecordView<'_>| {
            let mut violations = Vec::new();
            let accepted = checker.check(record, &mut violations);
            (accepted, violations, key_reader.read(record))
        }
    };
    let mut records: Vec<Option<Vec<Vec<u8>>>> = Vec::new();
    let mut last_line = 1;
    let options = PassOptions {
        delimiter: b',',
        threads,
        max_record_bytes,
    };
    let file = blocks.then(|| {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        file
    });
    let block_reader = file
        .as_ref()
        .map(|file| BlockReader::new(file, data.len() as u64, 1024, header.records));
    let source = match &block_reader {
        Some(blocks) => pipeline::Source::Blocks(blocks),
        None => pipeline::Source::Stream(&mut reader),
    };
    let summary = pipeline::run(source, options, &make_work, |item| {
        match item {
            Item::Record(record, (accepted, mut violations, key)) => {
                assert!(record.line > last_line, "lines ascend");
                last_line = record.line;
                let key = key.filter(|_| accepted);
                let accepted = accepted && unique.claim(&record, key, &mut violations);
                assert!(accepted || !violations.is_empty(), "a refused record says why");
                records.push(Some(record.fields.iter().map(<[u8]>::to_vec).collect()));
            }
            Item::Upcoming(chunk) => unique.warm(chunk.results().iter().filter_map(|r| r.2)),
            Item::Oversized(record) => {
                assert!(record.line > last_line, "lines ascend");
                last_line = record.line;
                assert!(record.len > max_record_bytes as u64);
                records.push(None);
            }
        }
        Ok::<(), ()>(())
    })
    .unwrap();
    if blocks {
        assert_eq!(summary.digest, Some(blake3::hash(&data).to_hex().to_string()));
    }
    let expected: Vec<Vec<Vec<u8>>> = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(&data[..])
        .byte_records()
        .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
        .collect();
    assert_eq!(records.len(), expected.len(), "one record each");
    for (got, want) in records.iter().zip(&expected) {
        if let Some(got) = got {
            assert_eq!(got, want);
        }
    }
});
