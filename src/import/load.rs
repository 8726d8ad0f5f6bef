//! The one-pass import. A reader thread parses tasks and decides everything about each row
//! while reading — duplicates (an MD5 of `data`, against the store's hashes read once at the
//! start), ids (`ids.rs`), provenance — and fills Arrow batches of the three tables. The
//! thread that owns the import's transaction appends each batch straight into `tasks`,
//! `completions` and `predictions`. A bounded channel between the two keeps memory flat.

use std::sync::mpsc::{self, SyncSender};

use anyhow::{Result, anyhow};
use duckdb::Connection;

use super::loader::{LoadOptions, Loaded, Loader, StoreState};
use super::task::{Receiver, Record, Task};
use super::writer::{Stopped, Writer};
use crate::error::InputError;

/// Batches in flight between the loader and the appender.
const CHANNEL_BATCHES: usize = 8;
/// Items per chunk from the readers on, and chunks in flight per channel.
const CHUNK_ITEMS: usize = 512;
const CHANNEL_CHUNKS: usize = 2;
/// Threads that parse records (JSON and JSONL tasks) while the readers go on.
const PARSERS: usize = 2;

/// The import's threads, in order: the format readers split the input (`Forwarder`), two
/// parsers turn JSON records into tasks, the loader decides duplicates and ids and builds
/// Arrow batches (`Loader`), and this thread, which owns the import's transaction, appends
/// them (`Writer`). Chunks go to the parsers in turn and are taken back in the same turn,
/// so the loader sees everything in input order. `read` runs the readers.
pub fn load(
    conn: &Connection,
    how: LoadOptions,
    read: impl FnOnce(&mut dyn Receiver) -> Result<()> + Send,
) -> Result<Loaded> {
    let (import_id, is_skipping_invalid) = (how.import_id, how.is_skipping_invalid);
    // The loader's own connection sees the store as committed: its ids and data hashes.
    let mut phases = super::Phases::new();
    let reads = conn.try_clone()?;
    let (raw_in, raw_out): (Vec<_>, Vec<_>) =
        (0..PARSERS).map(|_| std::sync::mpsc::sync_channel::<Vec<Item>>(CHANNEL_CHUNKS)).unzip();
    let (parsed_in, parsed_out): (Vec<_>, Vec<_>) =
        (0..PARSERS).map(|_| std::sync::mpsc::sync_channel::<Vec<Item>>(CHANNEL_CHUNKS)).unzip();
    // Chunks the loader is done with go back to the parser that made them, to be dropped
    // there: glibc frees memory faster on the thread that took it, and the loader is the
    // longest stage when most tasks are duplicates that are skipped.
    let (spent_in, spent_out): (Vec<_>, Vec<_>) =
        (0..PARSERS).map(|_| std::sync::mpsc::channel::<Vec<Item>>()).unzip();
    let (batches_in, batches) = std::sync::mpsc::sync_channel(CHANNEL_BATCHES);
    let mut writer = Writer::new(conn, import_id)?;
    // The import's threads are served work when this thread is (see `cancel`).
    let is_served = crate::cancel::is_served();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            crate::cancel::set_served(is_served);
            let mut forwarder =
                Forwarder { out: raw_in, turn: 0, chunk: Vec::new(), is_skipping_invalid };
            // The readers' own errors go in line, after the records read before them: an
            // earlier broken record is told first, as when reading on one thread.
            if let Err(err) = read(&mut forwarder) {
                if err.downcast_ref::<Stopped>().is_some() {
                    return Err(err);
                }
                forwarder.chunk.push(Item::Fail(err));
            }
            forwarder.send_chunk()
        });
        for ((input, output), spent) in raw_out.into_iter().zip(parsed_in).zip(spent_out) {
            scope.spawn(move || {
                crate::cancel::set_served(is_served);
                parse_chunks(&input, &output, &spent);
            });
        }
        let loader = scope.spawn(move || {
            crate::cancel::set_served(is_served);
            // Read while the reader and the parsers start on the input.
            let state = StoreState::read(&reads, &how.spill_dir)?;
            let loader = Loader::new(&reads, state, batches_in, how);
            load_chunks(loader, &parsed_out, &spent_in)
        });
        let mut written = Ok(());
        let mut appending = std::time::Duration::ZERO;
        while let Ok(message) = batches.recv() {
            let started = std::time::Instant::now();
            written = writer.write(message);
            appending += started.elapsed();
            if written.is_err() {
                break;
            }
        }
        // A failed append closes the channel, so that the loader and the reader stop too.
        drop(batches);
        let read = reader.join().unwrap_or_else(|_| Err(anyhow!("the import's reader failed")));
        let loaded = loader.join().unwrap_or_else(|_| Err(anyhow!("the import's loader failed")));
        phases.done(&format!("read and append ({:.2}s of it appending)", appending.as_secs_f64()));
        let (loaded, load_error) = match loaded {
            Ok(loaded) => (Some(loaded), None),
            Err(err) => (None, Some(err)),
        };
        // The first real error: a thread that stopped because the next one did says less.
        let errors: Vec<anyhow::Error> =
            [load_error, read.err(), written.err()].into_iter().flatten().collect();
        if let Some(loaded) = loaded.filter(|_| errors.is_empty()) {
            writer.finish(&loaded.deferred)?;
            phases.done("append the last rows, number new ids");
            return Ok(loaded);
        }
        let first = errors.iter().position(|e| e.downcast_ref::<Stopped>().is_none()).unwrap_or(0);
        Err(errors.into_iter().nth(first).unwrap_or_else(|| anyhow!("the import stopped")))
    })
}

/// A parser: turns the JSON records of each chunk into tasks (or rejects), in place, and
/// hands the chunk on; drops the chunks the loader is done with.
fn parse_chunks(
    input: &mpsc::Receiver<Vec<Item>>,
    output: &SyncSender<Vec<Item>>,
    spent: &mpsc::Receiver<Vec<Item>>,
) {
    while let Ok(mut chunk) = input.recv() {
        while let Ok(done) = spent.try_recv() {
            drop(done);
        }
        for item in &mut chunk {
            if let Item::Record(record) = item {
                *item = match record.parse() {
                    Ok(task) => Item::Task(task),
                    Err(err) => Item::Reject(err),
                };
            }
        }
        if output.send(chunk).is_err() {
            return;
        }
    }
}

/// The loader's loop: the parsers' chunks in turn, so in input order. Each parser's channel
/// closes after its last chunk, so the first closed one in turn is the end of the input.
fn load_chunks(
    mut loader: Loader<'_>,
    parsed: &[mpsc::Receiver<Vec<Item>>],
    spent: &[mpsc::Sender<Vec<Item>>],
) -> Result<Loaded> {
    for turn in 0.. {
        let Ok(mut chunk) = parsed[turn % PARSERS].recv() else { break };
        for item in &mut chunk {
            if let Item::Task(task) = item {
                loader.load(task)?;
                continue;
            }
            match std::mem::replace(item, Item::Skip(0)) {
                Item::Task(_) => {}
                Item::Record(record) => loader.push_record(record)?,
                Item::Reject(err) => loader.reject(err)?,
                Item::Skip(n) => loader.skip(n)?,
                Item::Fail(err) => return Err(err),
            }
        }
        // A parser that has stopped takes no more; the chunk is dropped here then.
        let _ = spent[turn % PARSERS].send(chunk);
    }
    loader.finish()
}

/// What the readers hand on, in order.
enum Item {
    Task(Task),
    /// JSON text for a parser to turn into a task.
    Record(Record),
    Reject(InputError),
    Skip(u64),
    /// The readers failed here.
    Fail(anyhow::Error),
}

/// The readers' receiver: passes what they read on in chunks, to the parsers in turn.
struct Forwarder {
    out: Vec<SyncSender<Vec<Item>>>,
    turn: usize,
    chunk: Vec<Item>,
    is_skipping_invalid: bool,
}

impl Forwarder {
    fn add(&mut self, item: Item) -> Result<()> {
        self.chunk.push(item);
        if self.chunk.len() >= CHUNK_ITEMS {
            self.send_chunk()?;
        }
        Ok(())
    }

    fn send_chunk(&mut self) -> Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_ITEMS));
        self.out[self.turn % PARSERS].send(chunk).map_err(|_| anyhow::Error::new(Stopped))?;
        self.turn += 1;
        Ok(())
    }
}

impl Receiver for Forwarder {
    fn push(&mut self, task: Task) -> Result<()> {
        self.add(Item::Task(task))
    }

    fn push_record(&mut self, record: Record) -> Result<()> {
        self.add(Item::Record(record))
    }

    fn reject(&mut self, err: InputError) -> Result<()> {
        if !self.is_skipping_invalid {
            return Err(err.into());
        }
        self.add(Item::Reject(err))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.add(Item::Skip(n))?;
        crate::cancel::check()
    }
}
