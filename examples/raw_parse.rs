//! The raw-parse baseline of `bench/run.sh`: the least work any CSV gate
//! must do. It reads every record with the csv crate (one reused record)
//! and touches every field, and prints the record and byte counts.
//!
//!     cargo run --release --example raw_parse -- FILE

use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: raw_parse FILE")?;
    let file = std::fs::File::open(&path)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(file.take(u64::MAX));
    let mut record = csv::ByteRecord::new();
    let (mut records, mut field_bytes, mut checksum) = (0u64, 0u64, 0u64);
    while reader.read_byte_record(&mut record)? {
        records += 1;
        for field in &record {
            field_bytes += field.len() as u64;
            checksum = checksum.wrapping_add(u64::from(field.first().copied().unwrap_or(0)));
        }
    }
    println!("{records} records, {field_bytes} field bytes, checksum {checksum}");
    Ok(())
}
