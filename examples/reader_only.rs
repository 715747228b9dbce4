//! The serial stage of `dqgate check`, alone: the reader thread reads the
//! input, hashes it (BLAKE3) and cuts it into chunks after line breaks,
//! while workers do everything else. However many workers there are, a
//! check cannot run faster than this, so `bench/run.sh` reports it as the
//! bound on scaling. With `--hash-thread` the hash runs on a thread of its
//! own, as in a check with more than two threads.
//!
//!     cargo run --release --example reader_only -- FILE [--hash-thread]

use dqgate::input::ChunkReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: reader_only FILE")?;
    let mut reader = ChunkReader::new(std::fs::File::open(&path)?);
    if std::env::args().any(|a| a == "--hash-thread") {
        reader.hash_on_own_thread();
    }
    let mut chunks = 0u64;
    while reader.next_chunk()?.is_some() {
        chunks += 1;
    }
    let (bytes, blake3) = reader.finish();
    println!("{chunks} chunks, {bytes} bytes, blake3 {blake3}");
    Ok(())
}
