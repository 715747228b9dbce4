//! The hot functions of `dqgate check` and `diff`, each beside a baseline
//! measured in the same run:
//!
//! - `chunk`: dqgate's chunk parser against the csv crate reading the same
//!   bytes record by record (the raw-parse baseline of bench/run.sh);
//! - `row`: the row checks of rules/movies.toml per record;
//! - `entity_list`: the allocation-free list validation against the full
//!   literal parse it stands in for;
//! - `diff`: the key-by-key comparison at 1k, 10k and 100k keys (the time
//!   per key stays flat: the diff is linear in the rows compared).
//!
//!     cargo bench --bench hot
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dqgate::check::header::HeaderBinding;
use dqgate::check::row::{Limits, RowChecker};
use dqgate::diff::{StoreRows, diff};
use dqgate::fields::cell::Cell;
use dqgate::fields::literal;
use dqgate::read::input::{Chunk, ChunkParser, ParseBuffers, RecordView, parse_chunk};
use dqgate::reference::AggregateResult;
use dqgate::rules::RuleSet;

/// About 1 MiB of real records (the shipped sample, repeated) and its header.
fn sample() -> (Vec<u8>, Vec<u8>) {
    let text = std::fs::read("tests/fixtures/movies_sample.csv").unwrap();
    let split = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (header, body) = text.split_at(split);
    let mut data = Vec::new();
    while data.len() < 1 << 20 {
        data.extend_from_slice(body);
        if !data.ends_with(b"\n") {
            data.push(b'\n');
        }
    }
    (header.to_vec(), data)
}

fn chunk_of(data: &[u8]) -> Chunk {
    Chunk {
        data: data.to_vec(),
        first_line: 2,
        after_cr: false,
        eof: false,
        starts_file: false,
        block_hash: None,
    }
}

/// Parses chunks as the pipeline does: each parse reuses the buffers of
/// the one before.
struct ReusingParser {
    parser: ChunkParser,
    buffers: Option<ParseBuffers>,
}

impl ReusingParser {
    fn new() -> Self {
        ReusingParser {
            parser: ChunkParser::new(b','),
            buffers: Some(ParseBuffers::default()),
        }
    }

    /// Parses `chunk`: its record count, and its bytes to drop outside the
    /// timing.
    fn parse<T>(
        &mut self,
        chunk: Chunk,
        work: &mut impl FnMut(&RecordView<'_>) -> T,
    ) -> (usize, Vec<u8>) {
        let buffers = self.buffers.take().unwrap_or_default();
        let parsed = parse_chunk(&mut self.parser, chunk, buffers, work);
        let records = parsed.len();
        let (chunk, buffers) = parsed.into_buffers();
        self.buffers = Some(buffers);
        (records, chunk.data)
    }
}

fn chunk(c: &mut Criterion) {
    let (_, data) = sample();
    let mut group = c.benchmark_group("chunk");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("csv crate, record by record (baseline)", |b| {
        b.iter(|| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&data[..]);
            let mut record = csv::ByteRecord::new();
            let mut fields = 0;
            while reader.read_byte_record(&mut record).unwrap() {
                fields += record.len();
            }
            black_box(fields)
        });
    });
    group.bench_function("dqgate parse_chunk", |b| {
        let mut parser = ReusingParser::new();
        // The chunk is copied, and its bytes dropped, outside the timing.
        b.iter_batched(
            || chunk_of(&data),
            |chunk| parser.parse(chunk, &mut |r: &RecordView<'_>| r.fields.len()),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn row(c: &mut Criterion) {
    let (header, data) = sample();
    let rules = RuleSet::load(Path::new("rules/movies.toml")).unwrap();
    let header: csv::ByteRecord = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&header[..])
        .byte_records()
        .next()
        .unwrap()
        .unwrap();
    let binding = HeaderBinding::bind(&rules, &header);
    let mut parser = ReusingParser::new();
    let (records, _) = parser.parse(chunk_of(&data), &mut |_: &RecordView<'_>| ());
    let mut group = c.benchmark_group("row");
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("parse only (baseline)", |b| {
        b.iter_batched(
            || chunk_of(&data),
            |chunk| parser.parse(chunk, &mut |_: &RecordView<'_>| ()),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("parse and check rules/movies.toml", |b| {
        let mut checker = RowChecker::new(&rules, &binding, Limits::default());
        let mut violations = Vec::new();
        b.iter_batched(
            || chunk_of(&data),
            |chunk| {
                parser.parse(chunk, &mut |r: &RecordView<'_>| {
                    checker.check(r, &mut violations)
                })
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn entity_list(c: &mut Criterion) {
    let text = "[{'id': 16, 'name': 'Animation'}, {'id': 35, 'name': 'Comedy'}, {'id': 10751, 'name': 'Family'}]";
    let mut group = c.benchmark_group("entity_list");
    group.bench_function("literal::parse (baseline)", |b| {
        b.iter(|| black_box(literal::parse(black_box(text)).map(|l| l.kind())));
    });
    group.bench_function("literal::entity_list_len", |b| {
        b.iter(|| {
            black_box(literal::entity_list_len(
                black_box(text),
                ["id", "name"].into_iter(),
                |k, v| match k {
                    0 => matches!(v, literal::Literal::Int(_)),
                    _ => matches!(v, literal::Literal::Str(_)),
                },
            ))
        });
    });
    group.finish();
}

fn diff_keys(c: &mut Criterion) {
    let rules = RuleSet::load(Path::new("rules/movies.toml")).unwrap();
    let aggregate = &rules.aggregates[0];
    let columns: Vec<String> = [
        "genre_id",
        "year",
        "genre",
        "releases",
        "budget",
        "revenue",
        "profit",
        "avg_popularity",
    ]
    .map(String::from)
    .to_vec();
    let mut group = c.benchmark_group("diff");
    for keys in [1_000i64, 10_000, 30_000, 100_000, 300_000] {
        let mut rows = BTreeMap::new();
        let mut store = Vec::new();
        for k in 0..keys {
            let key = vec![Cell::Int(k % 100), Cell::Int(1900 + k / 100)];
            let values = vec![
                Cell::Text(format!("genre {}", k % 100)),
                Cell::Int(k),
                Cell::Int(k * 1000),
                Cell::Int(k * 2000),
                Cell::Int(k * 1000),
                Cell::Num(k as f64 / 7.0),
            ];
            store.push(key.iter().chain(&values).cloned().collect());
            rows.insert(key, values);
        }
        let reference = AggregateResult {
            name: aggregate.name.clone(),
            columns: columns.clone(),
            key_len: 2,
            rows,
        };
        let store = StoreRows {
            columns: columns.clone(),
            rows: store,
        };
        group.throughput(Throughput::Elements(keys as u64));
        group.bench_with_input(BenchmarkId::from_parameter(keys), &keys, |b, _| {
            b.iter(|| {
                let d = diff(aggregate, &reference, &store, 3);
                assert!(d.agrees());
                black_box(d.keys_store)
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = hot;
    config = Criterion::default().sample_size(20);
    targets = chunk, row, entity_list, diff_keys
}
criterion_main!(hot);
