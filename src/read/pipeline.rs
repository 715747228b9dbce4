//! Runs a per-record function over every record of the input on worker
//! threads and hands the results to one consumer in file order.
//!
//! Every thread of the pass takes the next chunk of the input, parses it
//! and runs `work` on its records; the calling thread is one of them and
//! also consumes: it puts the parsed chunks back in order and calls
//! `consume` on every record, and parses a chunk itself only while the
//! next one in order is not ready. So `threads` threads run, one per core,
//! none of them a stage that waits on another. A chunk is parsed on the
//! thread that read it, while its bytes are in that core's cache. With one
//! thread the same steps run inline, so the records, their order and every
//! result are the same for any thread count.
//!
//! The input is a [`Source`]: a file is read in blocks at their offsets
//! ([`crate::read::blocks`]), each thread reading, hashing and cutting its own,
//! and only the line each chunk starts on is settled in order (a ledger
//! adds up the blocks' line counts; a thread waits there only for blocks
//! taken before its own, which are being read). A stream (standard input)
//! is read by one thread at a time, under a lock.
//!
//! Chunks are cut after line breaks without knowing whether a break lies
//! inside a quoted field. A chunk is therefore parsed *speculatively*, as
//! if it started a record. The consumer knows better:
//! when a chunk ended inside a record (its tail), the next chunk did not
//! start a record, so its speculative result is dropped and the tail and the
//! chunk are parsed again inline. A record that grows past
//! `max_record_bytes` without ending is not held in memory: its bytes go to
//! a temporary spill file until csv-core finds its end, and it reaches the
//! consumer as [`Item::Oversized`].

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::stitch::Stitcher;
use crate::read::blocks::{BlockRead, BlockReader};
use crate::read::input::{
    BlankLines, Chunk, ChunkParser, ChunkReader, ParseBuffers, ParsedChunk, RecordView,
};

/// The buffers of a consumed chunk on their way back to be reused: its
/// bytes (to the reader) and its parse's output space (to a worker).
pub(super) type Recycled = (Vec<u8>, ParseBuffers);

/// From this many threads on, a stream's reader hands hashing to a thread
/// of its own: reading a stream is the one step that threads cannot share
/// (it runs under a lock), and hashing is most of it. With fewer, the
/// cores are busy anyway and the extra copy of every block would only cost.
const HASH_THREAD_FROM_THREADS: usize = 4;

/// Most chunks parsed ahead of the one the consumer waits for (with few
/// threads, two more than threads). Each holds about 0.9 MiB of buffers:
/// at twice the threads plus two, 16 threads held 79 MiB at the peak on
/// the 1 GB file, within 4 MiB of the memory budget; with this cap, 70.
const MOST_CHUNKS_AHEAD: usize = 8;

/// Where a pass reads its chunks from.
#[derive(Debug)]
pub enum Source<'s, 'f, R> {
    /// A byte stream, read in order, one thread at a time; its reader keeps
    /// the size and digest.
    Stream(&'s mut ChunkReader<R>),
    /// A file read in blocks by every thread; the pass joins the digest.
    Blocks(&'s BlockReader<'f>),
}

/// What the consumer receives for each record, in file order.
#[derive(Debug)]
pub enum Item<'a, T> {
    /// The records about to be handed over one by one, before the first
    /// of them: a consumer can fetch what it will look up for them, so
    /// that those lookups overlap instead of waiting one by one.
    Upcoming(&'a ParsedChunk<T>),
    /// A record and the result of the work on it.
    Record(RecordView<'a>, T),
    /// A record too large to hold in memory, spilled to a file.
    Oversized(&'a mut Oversized),
}

/// A record longer than the record limit: where it is and its bytes, spilled.
#[derive(Debug)]
pub struct Oversized {
    /// Line on which it starts.
    pub line: u64,
    /// Line on which it ends.
    pub end_line: u64,
    /// Its length in bytes, without the line terminator.
    pub len: u64,
    /// A temporary file holding exactly its bytes.
    pub spill: File,
}

/// The pipeline stopped: reading failed, or the consumer gave up.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError<E> {
    /// The input could not be read (or a spill file written).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The consumer returned an error.
    #[error("{0}")]
    Consumer(E),
}

/// What the whole pass saw besides the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassSummary {
    /// Blank lines skipped.
    pub blank: BlankLines,
    /// The file's BLAKE3 digest (hex), joined from its blocks' hashes,
    /// when the source was [`Source::Blocks`] (a stream's reader has it).
    pub digest: Option<String>,
    /// Time spent on the consuming thread handing records over in order
    /// (`consume` itself, and records joined across chunks): the work no
    /// number of threads shares.
    pub in_order: std::time::Duration,
}

/// Settings of one pass.
#[derive(Debug, Clone, Copy)]
pub struct PassOptions {
    /// Field delimiter.
    pub delimiter: u8,
    /// Threads, the calling one included (1: everything on the calling
    /// thread).
    pub threads: usize,
    /// A record longer than this is spilled instead of held.
    pub max_record_bytes: usize,
}

/// Runs `work` (one instance per worker, made by `make_work`) over every
/// record from `source`, and `consume` over every record and result, in
/// file order.
pub fn run<R, T, W, C, E>(
    source: Source<'_, '_, R>,
    options: PassOptions,
    make_work: &(dyn Fn() -> W + Sync),
    mut consume: C,
) -> Result<PassSummary, PipelineError<E>>
where
    R: Read + Send,
    T: Send,
    W: FnMut(&RecordView<'_>) -> T,
    C: FnMut(Item<'_, T>) -> Result<(), E>,
{
    let mut stitcher = Stitcher::new(options, make_work(), &source);
    if options.threads <= 1 {
        // One thread: the stitcher's own parser and work do it all.
        let mut buffers = ParseBuffers::default();
        match source {
            Source::Stream(reader) => {
                while let Some(chunk) = reader.next_chunk()? {
                    let parsed = stitcher.parse(chunk, buffers);
                    let data;
                    (data, buffers) = stitcher.accept(parsed, &mut consume)?;
                    reader.recycle(data);
                }
            }
            Source::Blocks(reader) => {
                let (mut data, mut scratch) = (Vec::new(), Vec::new());
                let mut line = reader.start_line();
                for k in 0..reader.blocks() {
                    let block = reader.read(k, data, &mut scratch)?;
                    let next = line + block.breaks;
                    let parsed = stitcher.parse(block_chunk(block, line), buffers);
                    (data, buffers) = stitcher.accept(parsed, &mut consume)?;
                    line = next;
                }
            }
        }
        return stitcher.finish(&mut consume);
    }
    run_threaded(source, options, make_work, stitcher, &mut consume)
}

/// The chunk of a block read, starting on `first_line`.
fn block_chunk(block: BlockRead, first_line: u64) -> Chunk {
    Chunk {
        data: block.data,
        first_line,
        after_cr: block.after_cr,
        eof: block.eof,
        starts_file: block.starts_file,
        block_hash: Some(block.hash),
    }
}

fn run_threaded<R, T, W, C, E>(
    source: Source<'_, '_, R>,
    options: PassOptions,
    make_work: &(dyn Fn() -> W + Sync),
    mut stitcher: Stitcher<W>,
    consume: &mut C,
) -> Result<PassSummary, PipelineError<E>>
where
    R: Read + Send,
    T: Send,
    W: FnMut(&RecordView<'_>) -> T,
    C: FnMut(Item<'_, T>) -> Result<(), E>,
{
    let threads = options.threads;
    // Chunks in flight (read, parsed or waiting to be consumed) are bounded
    // by the buffers in the pool: taking a chunk takes a pair, consuming it
    // gives the pair back, so the same few buffers circulate. One pair for
    // each thread's chunk in progress, and a few for chunks parsed ahead
    // of the one the consumer waits for.
    let feed = match source {
        Source::Stream(reader) => {
            if threads >= HASH_THREAD_FROM_THREADS {
                reader.hash_on_own_thread();
            }
            Feed::Stream(Mutex::new(StreamFeed { reader, next: 0 }))
        }
        Source::Blocks(reader) => Feed::Blocks {
            reader,
            next: AtomicU64::new(0),
        },
    };
    let pool = Pool::new(threads + (threads + 2).min(MOST_CHUNKS_AHEAD), &feed);
    std::thread::scope(|scope| {
        // However this closure ends (done, an error, a panic), the other
        // threads are told to stop taking chunks, so the scope can end.
        let _stop = StopOnDrop(&pool);
        let (done_tx, done_rx) = mpsc::channel::<Result<(u64, ParsedChunk<T>), Stopped>>();
        // The calling thread is one of the `threads`: it consumes, and
        // parses a chunk itself whenever the next one is not ready yet.
        let mut helpers = Vec::with_capacity(threads - 1);
        for _ in 1..threads {
            let (pool, feed, done) = (&pool, &feed, done_tx.clone());
            helpers.push(scope.spawn(move || {
                let mut parser = ChunkParser::new(options.delimiter);
                let mut work = make_work();
                let mut scratch = Vec::new();
                loop {
                    // A panic here would leave the consumer (and threads
                    // waiting for this chunk's line count) waiting forever:
                    // the pass is stopped and the panic raised there.
                    let step =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                            || match take_chunk(pool, feed, true, &mut scratch) {
                                Ok(Taken::Chunk(seq, chunk, buffers)) => Ok(Some((
                                    seq,
                                    crate::read::input::parse_chunk(
                                        &mut parser,
                                        chunk,
                                        buffers,
                                        &mut work,
                                    ),
                                ))),
                                Ok(Taken::Busy | Taken::End) => Ok(None),
                                Err(e) => Err(Stopped::Io(e)),
                            },
                        ));
                    let message = match step {
                        Ok(Ok(Some(parsed))) => Ok(parsed),
                        Ok(Ok(None)) => return,
                        Ok(Err(stopped)) => Err(stopped),
                        Err(panic) => {
                            pool.stop();
                            Err(Stopped::Panic(panic))
                        }
                    };
                    let failed = message.is_err();
                    if done.send(message).is_err() || failed {
                        return;
                    }
                }
            }));
        }
        drop(done_tx);

        let mut waiting = BTreeMap::new();
        let mut expected = 0u64;
        let mut helpers_gone = false;
        let mut scratch = Vec::new();
        let receive = |message, waiting: &mut BTreeMap<_, _>| match message {
            Ok((seq, parsed)) => {
                waiting.insert(seq, parsed);
                Ok(())
            }
            Err(Stopped::Io(e)) => Err(PipelineError::Io(e)),
            Err(Stopped::Panic(panic)) => std::panic::resume_unwind(panic),
        };
        loop {
            while let Some(parsed) = waiting.remove(&expected) {
                let recycled = stitcher.accept(parsed, consume)?;
                expected += 1;
                pool.give_back(recycled);
            }
            if pool.chunks() == Some(expected) {
                break;
            }
            match done_rx.try_recv() {
                Ok(message) => {
                    receive(message, &mut waiting)?;
                    continue;
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => helpers_gone = true,
            }
            // Once the helpers are gone, every chunk they took has arrived:
            // whatever is left, this thread reads itself.
            match take_chunk(&pool, &feed, helpers_gone, &mut scratch)? {
                Taken::Chunk(seq, chunk, buffers) => {
                    waiting.insert(seq, stitcher.parse(chunk, buffers));
                }
                Taken::End if helpers_gone => {
                    // Every chunk is read and here: the next round ends it.
                    assert!(pool.chunks().is_some(), "the pass stopped without an error");
                }
                Taken::Busy | Taken::End => match done_rx.recv() {
                    Ok(message) => receive(message, &mut waiting)?,
                    Err(mpsc::RecvError) => helpers_gone = true,
                },
            }
        }
        // Joining waits until each thread has fully exited (the scope alone
        // waits only for their closures), so a pass leaves nothing behind.
        drop(_stop);
        for helper in helpers {
            if let Err(panic) = helper.join() {
                std::panic::resume_unwind(panic);
            }
        }
        stitcher.finish(consume)
    })
}

/// Where the threads of a pass take chunks from.
enum Feed<'s, 'f, R> {
    /// A stream, read under a lock.
    Stream(Mutex<StreamFeed<'s, R>>),
    /// A file's blocks: each thread takes the next number and reads it.
    Blocks {
        reader: &'s BlockReader<'f>,
        next: AtomicU64,
    },
}

/// The stream reader and the sequence number of the next chunk it hands out.
struct StreamFeed<'s, R> {
    reader: &'s mut ChunkReader<R>,
    next: u64,
}

/// The buffers of chunks not in flight, the lines of blocks read, and how
/// the pass stands; shared by the threads that take chunks and the
/// consumer that frees them.
struct Pool {
    state: Mutex<PoolState>,
    /// Signalled when buffers come back, a block's line is settled, or the
    /// pass ends.
    changed: Condvar,
}

struct PoolState {
    free: Vec<Recycled>,
    /// How many chunks the input held, once the reader reached its end.
    chunks: Option<u64>,
    /// The consumer stopped or reading failed: take no more chunks.
    stopped: bool,
    lines: LineLedger,
}

/// The line each block's chunk starts on, settled in file order from the
/// line breaks counted in the blocks before it.
#[derive(Debug, Default)]
struct LineLedger {
    /// Line breaks of blocks read ahead of a block not yet counted.
    ahead: BTreeMap<u64, u64>,
    /// Blocks before this one are all counted...
    settled: u64,
    /// ...and this is the line it starts on.
    line: u64,
    /// First lines settled and not yet collected by their readers.
    first_lines: HashMap<u64, u64>,
}

impl LineLedger {
    /// Enters block `k`'s count of line breaks, settling what it can.
    fn count(&mut self, k: u64, breaks: u64) {
        self.ahead.insert(k, breaks);
        while let Some(breaks) = self.ahead.remove(&self.settled) {
            self.first_lines.insert(self.settled, self.line);
            self.line += breaks;
            self.settled += 1;
        }
    }
}

impl Pool {
    fn new<R>(buffers: usize, feed: &Feed<'_, '_, R>) -> Self {
        let free = (0..buffers).map(|_| Recycled::default()).collect();
        let lines = LineLedger {
            line: match feed {
                Feed::Blocks { reader, .. } => reader.start_line(),
                Feed::Stream(_) => 1,
            },
            ..LineLedger::default()
        };
        Pool {
            state: Mutex::new(PoolState {
                free,
                chunks: None,
                stopped: false,
                lines,
            }),
            changed: Condvar::new(),
        }
    }

    /// The state; a thread that panicked holding it left it consistent
    /// (every change is a single assignment, insertion or push).
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, PoolState>) -> MutexGuard<'a, PoolState> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn give_back(&self, buffers: Recycled) {
        self.state().free.push(buffers);
        self.changed.notify_one();
    }

    fn chunks(&self) -> Option<u64> {
        self.state().chunks
    }

    fn end(&self, chunks: u64) {
        self.state().chunks = Some(chunks);
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.state().stopped = true;
        self.changed.notify_all();
    }

    /// Enters block `k`'s line breaks and waits until the blocks before it
    /// are counted: the line its chunk starts on (`None`: the pass stopped).
    fn first_line(&self, k: u64, breaks: u64) -> Option<u64> {
        let mut state = self.state();
        state.lines.count(k, breaks);
        self.changed.notify_all();
        loop {
            if let Some(line) = state.lines.first_lines.remove(&k) {
                return Some(line);
            }
            if state.stopped {
                return None;
            }
            state = self.wait(state);
        }
    }
}

/// Stops the pool when dropped.
struct StopOnDrop<'a>(&'a Pool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// What [`take_chunk`] got.
enum Taken {
    /// The next chunk in file order, its number and buffers to parse into.
    Chunk(u64, Chunk, ParseBuffers),
    /// No buffers are free (only when not waiting).
    Busy,
    /// The input is exhausted, or the pass stopped.
    End,
}

/// Takes the next chunk from the feed, with a pair of free buffers;
/// `wait`: until buffers are free, else [`Taken::Busy`] when none are.
/// `scratch` is the calling thread's buffer for reading blocks.
fn take_chunk<R: Read>(
    pool: &Pool,
    feed: &Feed<'_, '_, R>,
    wait: bool,
    scratch: &mut Vec<u8>,
) -> io::Result<Taken> {
    let (data, buffers) = {
        let mut state = pool.state();
        loop {
            if state.stopped || state.chunks.is_some() {
                return Ok(Taken::End);
            }
            if let Some(free) = state.free.pop() {
                break free;
            }
            if !wait {
                return Ok(Taken::Busy);
            }
            state = pool.wait(state);
        }
    };
    let read = match feed {
        Feed::Stream(stream) => {
            // Reading is short: waiting for another thread's read beats
            // waiting for a chunk to be parsed.
            let mut stream = stream.lock().unwrap_or_else(PoisonError::into_inner);
            stream.reader.recycle(data);
            match stream.reader.next_chunk() {
                Ok(Some(chunk)) => {
                    let seq = stream.next;
                    stream.next += 1;
                    Ok(Some((seq, chunk)))
                }
                Ok(None) => {
                    pool.end(stream.next);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
        Feed::Blocks { reader, next } => {
            // Buffers are taken before a block number: a thread holding a
            // number never waits for buffers, so the blocks before it are
            // always counted in the end.
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= reader.blocks() {
                pool.end(reader.blocks());
                Ok(None)
            } else {
                reader.read(k, data, scratch).map(|block| {
                    pool.first_line(k, block.breaks)
                        .map(|line| (k, block_chunk(block, line)))
                })
            }
        }
    };
    match read {
        Ok(Some((seq, chunk))) => Ok(Taken::Chunk(seq, chunk, buffers)),
        Ok(None) => Ok(Taken::End),
        Err(e) => {
            pool.stop();
            Err(e)
        }
    }
}

/// Why a helper thread stopped before its work was done.
enum Stopped {
    /// Reading failed.
    Io(io::Error),
    /// A worker panicked (a bug): the panic, to raise on the consumer.
    Panic(Box<dyn std::any::Any + Send>),
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::read::blocks::RecordsStart;

    fn many_records(n: usize) -> Vec<u8> {
        let mut data = b"id,text\n".to_vec();
        for i in 0..n {
            data.extend_from_slice(format!("{i},\"some text\"\n").as_bytes());
        }
        data
    }

    /// A file holding `data`.
    fn file_of(data: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(data).unwrap();
        file
    }

    /// Runs `pass` on `data` read as a stream in chunks of `chunk_bytes`,
    /// then as a file in blocks of 1 KiB (the smallest), each from its
    /// start.
    fn on_each_source<T>(
        data: &[u8],
        chunk_bytes: usize,
        mut pass: impl FnMut(Source<'_, '_, &[u8]>) -> T,
    ) -> [T; 2] {
        let mut reader = ChunkReader::with_chunk_bytes(data, chunk_bytes);
        let streamed = pass(Source::Stream(&mut reader));
        let file = file_of(data);
        let start = RecordsStart { offset: 0, line: 1 };
        let blocks = BlockReader::new(&file, data.len() as u64, 1024, start);
        [streamed, pass(Source::Blocks(&blocks))]
    }

    fn options(threads: usize) -> PassOptions {
        PassOptions {
            delimiter: b',',
            threads,
            max_record_bytes: 1 << 20,
        }
    }

    #[test]
    fn a_consumer_that_gives_up_stops_every_thread() {
        // Far more chunks than tokens in flight: the readers must notice.
        let data = many_records(20_000);
        // Stopping is a race between the threads: try it many times.
        for threads in [1, 2, 4].repeat(10) {
            on_each_source(&data, 256, |source| {
                let mut seen = 0;
                let result = run(
                    source,
                    options(threads),
                    &|| |_: &RecordView<'_>| (),
                    |_| {
                        seen += 1;
                        if seen == 100 {
                            Err("disk full")
                        } else {
                            Ok(())
                        }
                    },
                );
                assert!(matches!(result, Err(PipelineError::Consumer("disk full"))));
                assert_eq!(seen, 100);
            });
        }
    }

    /// A source that fails after `good` bytes.
    struct FailingAfter<'a> {
        data: &'a [u8],
        good: usize,
    }

    impl Read for FailingAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good == 0 {
                return Err(io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.good).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            (self.data, self.good) = (&self.data[n..], self.good - n);
            Ok(n)
        }
    }

    /// Runs a pass that must end with a read error: the error, and how
    /// many records came before it.
    fn read_error_after<R: Read + Send>(
        source: Source<'_, '_, R>,
        threads: usize,
    ) -> (io::Error, u64) {
        let mut seen = 0u64;
        let result = run(
            source,
            options(threads),
            &|| |_: &RecordView<'_>| (),
            |_| {
                seen += 1;
                Ok::<(), ()>(())
            },
        );
        match result {
            Err(PipelineError::Io(e)) => (e, seen),
            other => panic!("expected a read error, got {other:?}"),
        }
    }

    #[test]
    fn a_read_error_ends_the_pass_with_that_error_on_any_thread() {
        let data = many_records(20_000);
        for threads in [1, 2, 4].repeat(10) {
            let source = FailingAfter {
                data: &data,
                good: data.len() / 2,
            };
            let mut reader = ChunkReader::with_chunk_bytes(source, 256);
            let (error, seen) = read_error_after(Source::Stream(&mut reader), threads);
            assert_eq!(error.to_string(), "disk gone");
            assert!(seen < 20_000, "the pass stopped at the error");
        }
    }

    #[test]
    fn a_file_that_shrinks_while_read_ends_the_pass_with_an_error_on_any_thread() {
        let data = many_records(20_000);
        for threads in [1, 2, 4].repeat(5) {
            // The reader was told the file's length before half of it went.
            let file = file_of(&data[..data.len() / 2]);
            let start = RecordsStart { offset: 8, line: 2 };
            let blocks = BlockReader::new(&file, data.len() as u64, 1024, start);
            let (error, seen) = read_error_after::<&[u8]>(Source::Blocks(&blocks), threads);
            let message = error.to_string();
            assert!(
                message.contains("the file shrank while it was read"),
                "{message}"
            );
            assert!(seen < 20_000, "the pass stopped at the error");
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_instead_of_hanging() {
        let data = many_records(20_000);
        on_each_source(&data, 256, |source| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(
                    source,
                    options(2),
                    &|| {
                        |r: &RecordView<'_>| {
                            assert!(r.line != 5_000, "a bug in the work");
                        }
                    },
                    |_| Ok::<(), ()>(()),
                )
            }));
            assert!(outcome.is_err(), "the panic is raised, not swallowed");
        });
    }

    #[test]
    fn work_runs_once_per_record_and_results_arrive_in_order() {
        let data = many_records(5_000);
        for threads in [1, 3] {
            let [streamed, blocks] = on_each_source(&data, 512, |source| {
                let mut lines = Vec::new();
                let summary = run(
                    source,
                    options(threads),
                    &|| |r: &RecordView<'_>| r.line * 10,
                    |item| {
                        if let Item::Record(record, result) = item {
                            assert_eq!(result, record.line * 10);
                            lines.push(record.line);
                        }
                        Ok::<(), ()>(())
                    },
                )
                .unwrap();
                (lines, summary.digest)
            });
            assert_eq!(streamed.0, (1..=5_001).collect::<Vec<u64>>());
            assert_eq!(streamed.1, None, "a stream's reader keeps the digest");
            assert_eq!(blocks.0, streamed.0);
            assert_eq!(blocks.1, Some(crate::read::input::blake3_hex(&data)));
        }
    }
}
