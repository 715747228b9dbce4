//! Runs a per-record function over every record of the input on worker
//! threads and hands the results to one consumer in file order.
//!
//! A reader thread cuts the input into chunks ([`crate::input`]); workers
//! parse each chunk and run `work` on its records; the calling thread
//! receives the parsed chunks, puts them back in order and calls `consume`
//! on every record. With one thread the same steps run inline, so the
//! records, their order and every result are the same for any thread count.
//!
//! Chunks are cut after line breaks without knowing whether a break lies
//! inside a quoted field. A worker therefore parses its chunk
//! *speculatively*, as if it started a record. The consumer knows better:
//! when a chunk ended inside a record (its tail), the next chunk did not
//! start a record, so its speculative result is dropped and the tail and the
//! chunk are parsed again inline. A record that grows past
//! `max_record_bytes` without ending is not held in memory: its bytes go to
//! a temporary spill file until csv-core finds its end, and it reaches the
//! consumer as [`Item::Oversized`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::input::{
    BlankLines, Chunk, ChunkParser, ChunkReader, ParseBuffers, ParsedChunk, RecordView, csv_parser,
};

/// The buffers of a consumed chunk on their way back to be reused: its
/// bytes (to the reader) and its parse's output space (to a worker).
type Recycled = (Vec<u8>, ParseBuffers);

/// From this many workers on, the reader hands hashing to a thread of its
/// own: the reader is the one stage that workers cannot share, and hashing
/// is most of its work. With fewer, the cores are busy anyway and the extra
/// copy of every block would only cost.
const HASH_THREAD_FROM_WORKERS: usize = 3;

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
}

/// Settings of one pass.
#[derive(Debug, Clone, Copy)]
pub struct PassOptions {
    /// Field delimiter.
    pub delimiter: u8,
    /// Worker threads (1: everything on the calling thread).
    pub threads: usize,
    /// A record longer than this is spilled instead of held.
    pub max_record_bytes: usize,
}

/// Runs `work` (one instance per worker, made by `make_work`) over every
/// record from `reader`, and `consume` over every record and result, in
/// file order.
pub fn run<R, T, W, C, E>(
    reader: &mut ChunkReader<R>,
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
    let mut stitcher = Stitcher::new(options, make_work());
    if options.threads <= 1 {
        // One thread: the stitcher's own parser and work do it all.
        let mut buffers = ParseBuffers::default();
        while let Some(chunk) = reader.next_chunk()? {
            let parsed = stitcher.parse(chunk, buffers);
            let data;
            (data, buffers) = stitcher.accept(parsed, &mut consume)?;
            reader.recycle(data);
        }
        return stitcher.finish(&mut consume);
    }
    run_threaded(reader, options, make_work, stitcher, &mut consume)
}

fn run_threaded<R, T, W, C, E>(
    reader: &mut ChunkReader<R>,
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
    let workers = options.threads;
    if workers >= HASH_THREAD_FROM_WORKERS {
        reader.hash_on_own_thread();
    }
    // Chunks in flight (read, parsed or waiting to be consumed) are bounded
    // by tokens: the reader takes one per chunk, the consumer gives it back.
    // A token carries a consumed chunk's buffers, so the same few buffers
    // circulate instead of fresh memory for every chunk.
    let in_flight = 2 * workers + 2;
    std::thread::scope(|scope| {
        // Every channel end the consumer holds lives in this closure: when
        // it returns early (an error, or a panic), they drop, the reader's
        // next wait for a token fails, and every thread winds down.
        let (token_tx, token_rx) = mpsc::sync_channel::<Recycled>(in_flight);
        for _ in 0..in_flight {
            let _ = token_tx.send(Recycled::default());
        }
        let (done_tx, done_rx) = mpsc::channel::<Result<(u64, ParsedChunk<T>), Stopped>>();
        // The workers own the job queue together: when the last one stops,
        // a reader waiting to hand out a chunk is told so.
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Chunk, ParseBuffers)>(workers);
        let jobs = Arc::new(Mutex::new(job_rx));
        let reader_done = done_tx.clone();
        let mut threads = Vec::with_capacity(workers + 1);
        threads.push(scope.spawn(move || {
            let mut seq = 0;
            while let Ok((data, buffers)) = token_rx.recv() {
                reader.recycle(data);
                match reader.next_chunk() {
                    Ok(Some(chunk)) => {
                        if job_tx.send((seq, chunk, buffers)).is_err() {
                            return;
                        }
                        seq += 1;
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = reader_done.send(Err(Stopped::Io(e)));
                        return;
                    }
                }
            }
        }));

        for _ in 0..workers {
            let (jobs, done) = (Arc::clone(&jobs), done_tx.clone());
            threads.push(scope.spawn(move || {
                let mut parser = ChunkParser::new(options.delimiter);
                let mut work = make_work();
                loop {
                    let job = jobs.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, chunk, buffers))) = job else {
                        return;
                    };
                    // A panic here would leave the consumer waiting for this
                    // chunk forever: it is handed over and raised there.
                    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        crate::input::parse_chunk(&mut parser, chunk, buffers, &mut work)
                    }));
                    let message = match parsed {
                        Ok(parsed) => Ok((seq, parsed)),
                        Err(panic) => Err(Stopped::Panic(panic)),
                    };
                    let failed = message.is_err();
                    if done.send(message).is_err() || failed {
                        return;
                    }
                }
            }));
        }
        drop((done_tx, jobs));

        let mut waiting = BTreeMap::new();
        let mut expected = 0u64;
        for message in done_rx {
            let (seq, parsed) = match message {
                Ok(done) => done,
                Err(Stopped::Io(e)) => return Err(PipelineError::Io(e)),
                Err(Stopped::Panic(panic)) => std::panic::resume_unwind(panic),
            };
            waiting.insert(seq, parsed);
            while let Some(parsed) = waiting.remove(&expected) {
                let recycled = stitcher.accept(parsed, consume)?;
                expected += 1;
                let _ = token_tx.send(recycled);
            }
        }
        // Every sender is gone: the reader reached the end or stopped.
        // Joining waits until each thread has fully exited (the scope alone
        // waits only for their closures), so a pass leaves nothing behind.
        for thread in threads {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        stitcher.finish(consume)
    })
}

/// Why a thread stopped before its work was done.
enum Stopped {
    /// The reader could not read.
    Io(io::Error),
    /// A worker panicked (a bug): the panic, to raise on the consumer.
    Panic(Box<dyn std::any::Any + Send>),
}

/// Joins incomplete records across chunks and spills oversized ones, on the
/// consuming side, so every record reaches the consumer exactly once.
struct Stitcher<W> {
    options: PassOptions,
    /// The work, for what is parsed again on the consuming thread.
    work: W,
    parser: ChunkParser,
    /// A record that a chunk began and did not finish.
    open: Option<OpenRecord>,
    blank: BlankLines,
}

/// A record being continued across chunks: csv-core is fed its bytes as
/// they come until it says where the record ends.
struct OpenRecord {
    core: csv_core::Reader,
    line: u64,
    bytes: Vec<u8>,
    /// Set once the record outgrew `max_record_bytes`: its bytes so far.
    spill: Option<io::BufWriter<File>>,
    len: u64,
    breaks: u64,
    after_cr: bool,
    /// The last two bytes kept, to leave the terminator out of the record.
    last: [u8; 2],
    /// The record ended with the input: it has no terminator.
    ended_with_input: bool,
}

impl OpenRecord {
    /// A record from `line` on.
    fn new(delimiter: u8, line: u64) -> Self {
        OpenRecord {
            core: csv_parser(delimiter),
            line,
            bytes: Vec::new(),
            spill: None,
            len: 0,
            breaks: 0,
            after_cr: false,
            last: [0; 2],
            ended_with_input: false,
        }
    }

    /// Feeds `data` until the record ends; returns how many bytes of
    /// `data` belong to it, or `None` when it goes on past `data`.
    fn feed(&mut self, data: &[u8], eof: bool, limit: usize) -> io::Result<Option<usize>> {
        use csv_core::ReadRecordResult as R;
        let mut scratch = [0u8; 4096];
        let mut ends = [0usize; 64];
        let mut pos = 0;
        loop {
            if pos == data.len() && !eof {
                self.keep(&data[..pos], limit)?;
                return Ok(None);
            }
            self.ended_with_input = pos == data.len();
            let (result, nin, _, _) = self.core.read_record(&data[pos..], &mut scratch, &mut ends);
            pos += nin;
            match result {
                R::Record | R::End => {
                    self.keep(&data[..pos], limit)?;
                    return Ok(Some(pos));
                }
                R::InputEmpty | R::OutputFull | R::OutputEndsFull => {}
            }
        }
    }

    fn keep(&mut self, bytes: &[u8], limit: usize) -> io::Result<()> {
        self.breaks += crate::input::count_breaks(bytes, &mut self.after_cr);
        for &b in bytes.iter().rev().take(2).rev() {
            self.last = [self.last[1], b];
        }
        self.len += bytes.len() as u64;
        // The bytes kept include the terminator (up to 2 bytes, CR LF),
        // which does not count against the limit.
        if self.spill.is_none() && self.bytes.len() + bytes.len() > limit.saturating_add(2) {
            let mut spill = io::BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
            spill.write_all(&self.bytes)?;
            self.bytes = Vec::new();
            self.spill = Some(spill);
        }
        match &mut self.spill {
            Some(spill) => spill.write_all(bytes),
            None => {
                self.bytes.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// The line after the record and whether its last byte was a CR.
    fn next_line(&self) -> (u64, bool) {
        (self.line + self.breaks, self.after_cr)
    }

    /// The record, spilled: its terminator is left out of its length.
    fn into_oversized(self) -> io::Result<Oversized> {
        let terminator = crate::input::terminator_len(&self.last, self.ended_with_input) as u64;
        let len = self.len.saturating_sub(terminator);
        let breaks_inside = if terminator > 0 {
            self.breaks - 1
        } else {
            self.breaks
        };
        let mut spill = self
            .spill
            .expect("spilled")
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        // The spill holds the terminator too: keep exactly the record.
        spill.set_len(len)?;
        spill.rewind()?;
        Ok(Oversized {
            line: self.line,
            end_line: self.line + breaks_inside,
            len,
            spill,
        })
    }
}

impl<W> Stitcher<W> {
    fn new(options: PassOptions, work: W) -> Self {
        Stitcher {
            options,
            work,
            parser: ChunkParser::new(options.delimiter),
            open: None,
            blank: BlankLines::default(),
        }
    }

    /// Parses a chunk on the consuming thread, with the stitcher's work.
    fn parse<T>(&mut self, chunk: Chunk, buffers: ParseBuffers) -> ParsedChunk<T>
    where
        W: FnMut(&RecordView<'_>) -> T,
    {
        crate::input::parse_chunk(&mut self.parser, chunk, buffers, &mut self.work)
    }

    /// Takes the next chunk in file order, parsed speculatively; returns
    /// its buffers once its records are consumed.
    fn accept<T, C, E>(
        &mut self,
        mut parsed: ParsedChunk<T>,
        consume: &mut C,
    ) -> Result<Recycled, PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        if self.open.is_none() {
            self.deliver(&mut parsed, consume)?;
            let (chunk, buffers) = parsed.into_buffers();
            return Ok((chunk.data, buffers));
        }
        // The chunk did not start a record: continue the open one with its
        // bytes, then parse what follows it again.
        let (chunk, buffers) = parsed.into_buffers();
        self.continue_open(&chunk, consume)?;
        Ok((chunk.data, buffers))
    }

    fn continue_open<T, C, E>(
        &mut self,
        chunk: &Chunk,
        consume: &mut C,
    ) -> Result<(), PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let Some(used) = open.feed(&chunk.data, chunk.eof, self.options.max_record_bytes)? else {
            self.open = Some(open);
            return Ok(());
        };
        let (first_line, after_cr) = open.next_line();
        if open.spill.is_some() {
            let mut oversized = open.into_oversized()?;
            consume(Item::Oversized(&mut oversized)).map_err(PipelineError::Consumer)?;
        } else {
            let record = Chunk {
                data: std::mem::take(&mut open.bytes),
                first_line: open.line,
                after_cr: false,
                eof: chunk.eof && used == chunk.data.len(),
                starts_file: false,
            };
            let mut parsed = self.parse(record, ParseBuffers::default());
            self.deliver(&mut parsed, consume)?;
        }
        let rest = Chunk {
            data: chunk.data[used..].to_vec(),
            first_line,
            after_cr,
            eof: chunk.eof,
            starts_file: false,
        };
        if rest.data.is_empty() && !rest.eof {
            return Ok(());
        }
        let mut parsed = self.parse(rest, ParseBuffers::default());
        self.deliver(&mut parsed, consume)
    }

    /// Hands a correctly parsed chunk's records to the consumer and opens
    /// the record it leaves unfinished.
    fn deliver<T, C, E>(
        &mut self,
        parsed: &mut ParsedChunk<T>,
        consume: &mut C,
    ) -> Result<(), PipelineError<E>>
    where
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        self.blank.merge(&parsed.blank);
        if !parsed.is_empty() {
            consume(Item::Upcoming(parsed)).map_err(PipelineError::Consumer)?;
        }
        for (record, result) in parsed.drain() {
            consume(Item::Record(record, result)).map_err(PipelineError::Consumer)?;
        }
        if let (Some(tail), Some(bytes)) = (parsed.tail, parsed.tail_bytes()) {
            let mut open = OpenRecord::new(self.options.delimiter, tail.line);
            let ended = open.feed(bytes, false, self.options.max_record_bytes)?;
            debug_assert!(ended.is_none(), "a tail is an unfinished record");
            self.open = Some(open);
        }
        Ok(())
    }

    /// Ends the pass: an open record ends with the input.
    fn finish<T, C, E>(mut self, consume: &mut C) -> Result<PassSummary, PipelineError<E>>
    where
        W: FnMut(&RecordView<'_>) -> T,
        C: FnMut(Item<'_, T>) -> Result<(), E>,
    {
        if self.open.is_some() {
            let end = Chunk {
                eof: true,
                ..Chunk::default()
            };
            self.continue_open(&end, consume)?;
        }
        Ok(PassSummary { blank: self.blank })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many_records(n: usize) -> Vec<u8> {
        let mut data = b"id,text\n".to_vec();
        for i in 0..n {
            data.extend_from_slice(format!("{i},\"some text\"\n").as_bytes());
        }
        data
    }

    #[test]
    fn a_consumer_that_gives_up_stops_every_thread() {
        // Far more chunks than tokens in flight: the reader must notice.
        let data = many_records(20_000);
        // Stopping is a race between the threads: try it many times.
        for threads in [1, 2, 4].repeat(10) {
            let mut reader = ChunkReader::with_chunk_bytes(&data[..], 256);
            let options = PassOptions {
                delimiter: b',',
                threads,
                max_record_bytes: 1 << 20,
            };
            let mut seen = 0;
            let result = run(&mut reader, options, &|| |_: &RecordView<'_>| (), |_| {
                seen += 1;
                if seen == 100 {
                    Err("disk full")
                } else {
                    Ok(())
                }
            });
            assert!(matches!(result, Err(PipelineError::Consumer("disk full"))));
            assert_eq!(seen, 100);
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_instead_of_hanging() {
        let data = many_records(20_000);
        let outcome = std::panic::catch_unwind(|| {
            let mut reader = ChunkReader::with_chunk_bytes(&data[..], 256);
            let options = PassOptions {
                delimiter: b',',
                threads: 2,
                max_record_bytes: 1 << 20,
            };
            run(
                &mut reader,
                options,
                &|| {
                    |r: &RecordView<'_>| {
                        assert!(r.line != 5_000, "a bug in the work");
                    }
                },
                |_| Ok::<(), ()>(()),
            )
        });
        assert!(outcome.is_err(), "the panic is raised, not swallowed");
    }

    #[test]
    fn work_runs_once_per_record_and_results_arrive_in_order() {
        let data = many_records(5_000);
        for threads in [1, 3] {
            let mut reader = ChunkReader::with_chunk_bytes(&data[..], 512);
            let options = PassOptions {
                delimiter: b',',
                threads,
                max_record_bytes: 1 << 20,
            };
            let mut lines = Vec::new();
            run(
                &mut reader,
                options,
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
            assert_eq!(lines, (1..=5_001).collect::<Vec<u64>>());
        }
    }
}
