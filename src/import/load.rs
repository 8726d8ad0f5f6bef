//! The one-pass import. A reader thread parses tasks and decides everything about each row
//! while reading — duplicates (an MD5 of `data`, against the store's hashes read once at the
//! start), ids (`ids.rs`), provenance — and fills Arrow batches of the three tables. The
//! thread that owns the import's transaction appends each batch straight into `tasks`,
//! `completions` and `predictions`. A bounded channel between the two keeps memory flat.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use anyhow::{Context, Result, anyhow, bail};
use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Array, Int64Builder, StringBuilder, UInt64Array,
};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Appender, Connection, params};
use indicatif::ProgressBar;
use md5::{Digest, Md5};

use super::digests::{Digests, TABLE_DIGESTS};
use super::ids::{IdSet, IdSpace, Switch};
use super::placelog::PlaceLog;
use super::preannotate::Preannotate;
use super::sink::{Counts, progress_bar};
use super::task::{Annotation, Receiver, Record, Task};
use crate::error::InputError;

/// The MD5 digest of a task's data as one number, the one DuckDB's `md5_number(data)` gives,
/// so the store's digests are read without formatting or parsing hex digits.
fn digest(data: &str) -> u128 {
    u128::from_le_bytes(Md5::digest(data.as_bytes()).into())
}

/// The store's digests, as two 64-bit halves (Arrow has no 128-bit integers).
const STORE_DIGESTS: &str = "SELECT (h >> 64)::UBIGINT, (h & 18446744073709551615)::UBIGINT \
                             FROM (SELECT md5_number(data::VARCHAR) AS h FROM tasks)";

fn halves(high: u64, low: u64) -> u128 {
    (u128::from(high) << 64) | u128::from(low)
}

/// Tasks per Arrow batch.
const BATCH_ROWS: usize = 4096;
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
            });
        }
        let loader = scope.spawn(move || {
            crate::cancel::set_served(is_served);
            // Read while the reader and the parsers start on the input.
            let state = StoreState::read(&reads, &how.spill_dir)?;
            let mut loader = Loader::new(&reads, state, batches_in, how);
            // Each parser's channel closes after its last chunk, so the first closed one in
            // turn is the end of the input.
            for turn in 0.. {
                let Ok(mut chunk) = parsed_out[turn % PARSERS].recv() else { break };
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
                let _ = spent_in[turn % PARSERS].send(chunk);
            }
            loader.finish()
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

/// How one import loads.
pub struct LoadOptions {
    pub import_id: i64,
    pub is_skipping_invalid: bool,
    pub is_skipping_duplicates: bool,
    /// Fields that become predictions.
    pub preannotate: Preannotate,
    /// Where the duplicate check and the place log write their temporary files (the folder
    /// the store is in now).
    pub spill_dir: PathBuf,
}

/// A thread stopped because the next one in the pipeline had stopped (its error is told).
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the import stopped")
    }
}

impl std::error::Error for Stopped {}

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

/// One of the tables an import writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Tasks,
    Completions,
    Predictions,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Tasks => "tasks",
            Table::Completions => "completions",
            Table::Predictions => "predictions",
        }
    }
}

/// What the reader sends the appender, in order.
pub enum Message {
    Rows(Table, RecordBatch),
    /// A record kept aside with `--skip-invalid`.
    Reject(InputError),
    /// New ids written so far in this table become provisional (see `ids.rs`).
    Renumber(Table, i64),
}

/// What the store holds when the import starts, read once.
pub struct StoreState {
    task_max: i64,
    completion_max: i64,
    prediction_max: i64,
    hashes: Digests,
}

impl StoreState {
    /// Read the highest ids and every task's data hash (committed state); the set of
    /// hashes writes what it does not hold in memory to `spill_dir`.
    pub fn read(conn: &Connection, spill_dir: &Path) -> Result<StoreState> {
        let (task_max, completion_max, prediction_max): (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM tasks), \
                        (SELECT coalesce(max(id), 0) FROM completions), \
                        (SELECT coalesce(max(id), 0) FROM predictions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .context("reading the store's highest ids")?;
        let mut hashes = Digests::new(spill_dir, TABLE_DIGESTS);
        let mut stmt = conn.prepare(STORE_DIGESTS)?;
        for batch in stmt.query_arrow([])? {
            let half = |i: usize| {
                batch.column(i).as_any().downcast_ref::<UInt64Array>().cloned().ok_or_else(|| {
                    anyhow!("the store's digests did not read as unsigned 64-bit numbers")
                })
            };
            let (high, low) = (half(0)?, half(1)?);
            for (high, low) in high.values().iter().zip(low.values()) {
                hashes.insert(halves(*high, *low))?;
            }
        }
        Ok(StoreState { task_max, completion_max, prediction_max, hashes })
    }
}

/// The ids of one table already in the store, read the first time a given id could be one
/// of them; read in order, so that a set of them is small (`IdSet`).
struct StoreIds {
    table: Table,
    ids: Option<IdSet>,
}

impl StoreIds {
    fn new(table: Table) -> StoreIds {
        StoreIds { table, ids: None }
    }

    fn contains(&mut self, reads: &Connection, id: i64) -> Result<bool> {
        if let Some(ids) = &self.ids {
            return Ok(ids.contains(id));
        }
        let name = self.table.name();
        let mut stmt = reads.prepare(&format!("SELECT id FROM {name} ORDER BY id"))?;
        let mut ids = IdSet::default();
        for batch in stmt.query_arrow([])? {
            let column = batch.column(0).as_any().downcast_ref::<Int64Array>().cloned();
            let column = column.ok_or_else(|| anyhow!("{name} ids did not read as numbers"))?;
            for id in column.iter().flatten() {
                ids.insert(id);
            }
        }
        Ok(self.ids.insert(ids).contains(id))
    }
}

/// Ids of completions or predictions: a given id is kept when it is not in the store and
/// first in the input; other rows take new ids.
struct AnnotationIds {
    space: IdSpace,
    seen: IdSet,
    in_store: StoreIds,
}

impl AnnotationIds {
    fn new(table: Table, store_max: i64) -> AnnotationIds {
        AnnotationIds {
            space: IdSpace::new(store_max),
            seen: IdSet::default(),
            in_store: StoreIds::new(table),
        }
    }

    fn assign(&mut self, given: Option<i64>, reads: &Connection) -> Result<(i64, Switch)> {
        let Some(id) = given else { return Ok((self.space.fresh(), Switch::None)) };
        let switch = self.space.given(id);
        let mut is_free = self.seen.insert(id);
        if is_free && id <= self.space.store_max {
            is_free = !self.in_store.contains(reads, id)?;
        }
        Ok((if is_free { id } else { self.space.fresh() }, switch))
    }
}

/// What reading decided, for the appender to finish with.
#[derive(Debug, Default)]
pub struct Loaded {
    pub counts: Counts,
    pub duplicates: u64,
    /// Tables whose provisional ids become `top + n`: (table, top).
    pub deferred: Vec<(Table, i64)>,
}

/// The reader's side: takes tasks from the format readers and sends rows to the appender.
pub struct Loader<'a> {
    reads: &'a Connection,
    preannotate: Preannotate,
    out: SyncSender<Message>,
    import_id: i64,
    is_skipping_invalid: bool,
    is_skipping_duplicates: bool,
    hashes: Digests,
    tasks: IdSpace,
    /// Given task ids so far, where each was read, and those given more than once.
    task_ids: IdSet,
    places: PlaceLog,
    repeated: HashSet<i64>,
    tasks_in_store: StoreIds,
    completions: AnnotationIds,
    predictions: AnnotationIds,
    first_place: Option<String>,
    taken: Option<(i64, String)>,
    batch: Batches,
    seq: u64,
    counts: Counts,
    duplicates: u64,
    progress: ProgressBar,
}

impl<'a> Loader<'a> {
    pub fn new(
        reads: &'a Connection,
        state: StoreState,
        out: SyncSender<Message>,
        how: LoadOptions,
    ) -> Loader<'a> {
        let LoadOptions {
            import_id,
            is_skipping_invalid,
            is_skipping_duplicates,
            preannotate,
            spill_dir,
        } = how;
        Loader {
            preannotate,
            reads,
            out,
            import_id,
            is_skipping_invalid,
            is_skipping_duplicates,
            hashes: state.hashes,
            tasks: IdSpace::new(state.task_max),
            task_ids: IdSet::default(),
            places: PlaceLog::new(&spill_dir),
            repeated: HashSet::new(),
            tasks_in_store: StoreIds::new(Table::Tasks),
            completions: AnnotationIds::new(Table::Completions, state.completion_max),
            predictions: AnnotationIds::new(Table::Predictions, state.prediction_max),
            first_place: None,
            taken: None,
            batch: Batches::default(),
            seq: 0,
            counts: Counts::default(),
            duplicates: 0,
            progress: progress_bar(),
        }
    }

    /// Whether an id error was found: reading goes on (a broken record later in the input
    /// is reported first, as before), but nothing more is sent.
    fn has_failed(&self) -> bool {
        self.taken.is_some() || !self.repeated.is_empty()
    }

    fn send(&self, message: Message) -> Result<()> {
        // The appender stops taking messages only when it failed; its error is the one told.
        self.out.send(message).map_err(|_| Stopped.into())
    }

    /// Send the rows built so far.
    fn flush(&mut self) -> Result<()> {
        for (table, batch) in self.batch.finish(self.import_id)? {
            self.send(Message::Rows(table, batch))?;
        }
        Ok(())
    }

    fn renumber(&mut self, table: Table, store_max: i64) -> Result<()> {
        self.flush()?;
        self.send(Message::Renumber(table, store_max))
    }

    /// Check a given task id against the store and the input so far. Where the task was
    /// is kept in the place log, and made into text only for a message.
    fn given_task_id(&mut self, id: i64, task: &Task) -> Result<()> {
        if id <= self.tasks.store_max
            && self.taken.is_none()
            && self.tasks_in_store.contains(self.reads, id)?
        {
            self.taken = Some((id, task.place()));
        }
        self.places.push(id, task)?;
        if !self.task_ids.insert(id) {
            self.repeated.insert(id);
        }
        if self.tasks.given(id) == Switch::Renumber && !self.has_failed() {
            self.renumber(Table::Tasks, self.tasks.store_max)?;
        }
        Ok(())
    }

    fn annotation(&mut self, table: Table, task_id: i64, a: &Annotation) -> Result<()> {
        let ids =
            if table == Table::Completions { &mut self.completions } else { &mut self.predictions };
        let (id, switch) = ids.assign(a.given_id, self.reads)?;
        let store_max = ids.space.store_max;
        if switch == Switch::Renumber {
            self.renumber(table, store_max)?;
        }
        self.batch.annotation(table, id, task_id, a);
        Ok(())
    }

    /// The end of the input: the last rows, then the id checks that need all of it.
    pub fn finish(mut self) -> Result<Loaded> {
        self.progress.finish_and_clear();
        if self.tasks.overflows() {
            let top = self.tasks.top();
            let needed = self.tasks.fresh_count();
            // Where the highest given id was given first, else where the input starts.
            let max_given = self.tasks.max_given();
            let at_max = if max_given > 0 { self.places.first_place(max_given)? } else { None };
            let place = at_max.or(self.first_place).map(|p| format!("{p}: ")).unwrap_or_default();
            bail!(
                "{place}task id {top} leaves no room for the {needed} new task id{} after it (ids \
                 go up to 9223372036854775807); give smaller ids, or leave them out",
                if needed == 1 { "" } else { "s" }
            );
        }
        if let Some((id, place)) = self.taken {
            bail!(
                "{place}: task id {id} is already in the store; remove \"id\" to get a new one, \
                 or pass --skip-duplicates when it is the same task"
            );
        }
        if !self.repeated.is_empty() {
            let twice = self.places.twice(&self.repeated)?;
            let Some(t) = twice else { bail!("a task id appears more than once in the input") };
            bail!(
                "{}: task id {} appears more than once in the input (again at {}); task ids must \
                 be unique",
                t.first,
                t.id,
                t.again.join(", ")
            );
        }
        for (ids, what) in [(&self.completions, "completion"), (&self.predictions, "prediction")] {
            if ids.space.overflows() {
                bail!(
                    "a {what} id in the input is so large that no new {what} ids fit after it \
                     (ids go up to 9223372036854775807); give smaller ids, or leave them out"
                );
            }
        }
        self.flush()?;
        let mut deferred = Vec::new();
        for (table, space) in [
            (Table::Tasks, &self.tasks),
            (Table::Completions, &self.completions.space),
            (Table::Predictions, &self.predictions.space),
        ] {
            if space.is_deferred() {
                deferred.push((table, space.top()));
            }
        }
        Ok(Loaded { counts: self.counts, duplicates: self.duplicates, deferred })
    }
}

impl Loader<'_> {
    /// One task's rows; the task is left for its parser to drop.
    fn load(&mut self, task: &mut Task) -> Result<()> {
        if !self.preannotate.is_empty() {
            self.preannotate.apply(task);
        }
        self.seq += 1;
        if self.seq.is_multiple_of(4096) {
            self.progress.set_position(self.seq);
            crate::cancel::check()?;
        }
        self.counts.prediction_refs += task.prediction_refs;
        if self.first_place.is_none() {
            self.first_place = Some(task.place());
        }
        let hash = digest(&task.data);
        if !self.hashes.insert(hash)? {
            self.duplicates += 1;
            if self.is_skipping_duplicates {
                return Ok(());
            }
        }
        let id = match task.given_id {
            Some(id) => {
                self.given_task_id(id, task)?;
                id
            }
            None => self.tasks.fresh(),
        };
        if self.has_failed() {
            return Ok(());
        }
        self.counts.tasks += 1;
        self.batch.tasks.push(
            id,
            &task.data,
            task.meta.as_deref(),
            task.extra.as_deref(),
            &task.source,
        );
        for c in &task.completions {
            self.counts.completions += 1;
            self.annotation(Table::Completions, id, c)?;
        }
        for p in &task.predictions {
            self.counts.predictions += 1;
            self.annotation(Table::Predictions, id, p)?;
        }
        if self.batch.tasks.len >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }
}

impl Receiver for Loader<'_> {
    fn push(&mut self, mut task: Task) -> Result<()> {
        self.load(&mut task)
    }

    fn reject(&mut self, err: InputError) -> Result<()> {
        if !self.is_skipping_invalid {
            return Err(err.into());
        }
        self.counts.rejected += 1;
        self.send(Message::Reject(err))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.counts.skipped += n;
        crate::cancel::check()
    }
}

/// Column builders for the rows of one batch.
#[derive(Default)]
struct Batches {
    tasks: TaskColumns,
    completions: AnnotationColumns,
    predictions: AnnotationColumns,
}

impl Batches {
    fn annotation(&mut self, table: Table, id: i64, task_id: i64, a: &Annotation) {
        let columns =
            if table == Table::Completions { &mut self.completions } else { &mut self.predictions };
        columns.push(id, task_id, a);
    }

    /// The batches that have rows, in table order; the builders start again empty.
    fn finish(&mut self, import_id: i64) -> Result<Vec<(Table, RecordBatch)>> {
        let mut out = Vec::with_capacity(3);
        if self.tasks.len > 0 {
            out.push((Table::Tasks, self.tasks.finish(import_id)?));
        }
        if self.completions.len > 0 {
            out.push((Table::Completions, self.completions.finish_completions(import_id)?));
        }
        if self.predictions.len > 0 {
            out.push((Table::Predictions, self.predictions.finish_predictions(import_id)?));
        }
        Ok(out)
    }
}

/// `tasks` columns: id, data, meta, extra, import_id, source (`data_hash` is computed).
#[derive(Default)]
struct TaskColumns {
    len: usize,
    id: Int64Builder,
    data: StringBuilder,
    meta: StringBuilder,
    extra: StringBuilder,
    source: StringBuilder,
}

impl TaskColumns {
    fn push(&mut self, id: i64, data: &str, meta: Option<&str>, extra: Option<&str>, source: &str) {
        self.len += 1;
        self.id.append_value(id);
        self.data.append_value(data);
        self.meta.append_option(meta);
        self.extra.append_option(extra);
        self.source.append_value(source);
    }

    fn finish(&mut self, import_id: i64) -> Result<RecordBatch> {
        let n = std::mem::take(&mut self.len);
        Ok(RecordBatch::try_from_iter([
            ("id", Arc::new(self.id.finish()) as ArrayRef),
            ("data", Arc::new(self.data.finish())),
            ("meta", Arc::new(self.meta.finish())),
            ("extra", Arc::new(self.extra.finish())),
            ("import_id", constant(import_id, n)),
            ("source", Arc::new(self.source.finish())),
        ])?)
    }
}

fn constant(value: i64, n: usize) -> ArrayRef {
    Arc::new(duckdb::arrow::array::Int64Array::from_value(value, n))
}

/// `completions` and `predictions` columns (each table takes the ones it has).
#[derive(Default)]
struct AnnotationColumns {
    len: usize,
    id: Int64Builder,
    task_id: Int64Builder,
    result: StringBuilder,
    fields: StringBuilder,
    was_cancelled: BooleanBuilder,
    lead_time: Float64Builder,
    created_at: StringBuilder,
    model_version: StringBuilder,
    score: Float64Builder,
}

impl AnnotationColumns {
    fn push(&mut self, id: i64, task_id: i64, a: &Annotation) {
        self.len += 1;
        self.id.append_value(id);
        self.task_id.append_value(task_id);
        self.result.append_value(&a.result);
        self.fields.append_value(&a.fields);
        self.was_cancelled.append_value(a.was_cancelled);
        self.lead_time.append_option(a.lead_time);
        self.created_at.append_option(a.created_at.as_deref());
        self.model_version.append_option(a.model_version.as_deref());
        self.score.append_option(a.score);
    }

    /// id, task_id, result, was_cancelled, lead_time, created_at, fields, import_id.
    fn finish_completions(&mut self, import_id: i64) -> Result<RecordBatch> {
        let n = std::mem::take(&mut self.len);
        self.model_version.finish();
        self.score.finish();
        Ok(RecordBatch::try_from_iter([
            ("id", Arc::new(self.id.finish()) as ArrayRef),
            ("task_id", Arc::new(self.task_id.finish())),
            ("result", Arc::new(self.result.finish())),
            ("was_cancelled", Arc::new(self.was_cancelled.finish())),
            ("lead_time", Arc::new(self.lead_time.finish())),
            ("created_at", Arc::new(self.created_at.finish())),
            ("fields", Arc::new(self.fields.finish())),
            ("import_id", constant(import_id, n)),
        ])?)
    }

    /// id, task_id, model_version, score, result, fields, import_id.
    fn finish_predictions(&mut self, import_id: i64) -> Result<RecordBatch> {
        let n = std::mem::take(&mut self.len);
        self.was_cancelled.finish();
        self.lead_time.finish();
        self.created_at.finish();
        Ok(RecordBatch::try_from_iter([
            ("id", Arc::new(self.id.finish()) as ArrayRef),
            ("task_id", Arc::new(self.task_id.finish())),
            ("model_version", Arc::new(self.model_version.finish())),
            ("score", Arc::new(self.score.finish())),
            ("result", Arc::new(self.result.finish())),
            ("fields", Arc::new(self.fields.finish())),
            ("import_id", constant(import_id, n)),
        ])?)
    }
}

/// Rows of a table the appender gathers before it inserts them. Each flush plans an INSERT
/// (12% of the appending thread when every 4,096-task batch flushed); the rows gathered sit
/// outside DuckDB's memory limit (16k rows: 8 MiB more peak than one batch, 6% faster;
/// 64k: 25 MiB, no faster within the noise; farm-bench, docs/benchmarks.md).
const FLUSH_ROWS: usize = 16_384;

/// The appender's side: owns the import's connection and writes what the reader sends.
pub struct Writer<'c> {
    conn: &'c Connection,
    import_id: i64,
    tasks: Appender<'c>,
    completions: Appender<'c>,
    predictions: Appender<'c>,
    rejects: Appender<'c>,
    /// Tables whose appender names its columns, from the first batch's schema: a column a
    /// user added to the table by hand is then left to its default.
    named: [bool; 3],
    /// Rows appended to each table since its appender last flushed.
    pending: [usize; 3],
}

impl<'c> Writer<'c> {
    pub fn new(conn: &'c Connection, import_id: i64) -> Result<Writer<'c>> {
        let mut rejects = conn.appender("import_rejects")?;
        for column in ["import_id", "source", "line", "reason"] {
            rejects.add_column(column)?;
        }
        Ok(Writer {
            conn,
            import_id,
            tasks: conn.appender("tasks")?,
            completions: conn.appender("completions")?,
            predictions: conn.appender("predictions")?,
            rejects,
            named: [false; 3],
            pending: [0; 3],
        })
    }

    fn appender(&mut self, table: Table) -> &mut Appender<'c> {
        match table {
            Table::Tasks => &mut self.tasks,
            Table::Completions => &mut self.completions,
            Table::Predictions => &mut self.predictions,
        }
    }

    pub fn write(&mut self, message: Message) -> Result<()> {
        match message {
            Message::Rows(table, batch) => {
                // Flushed every FLUSH_ROWS rows, not at DuckDB's 200k rows a table (a third of
                // the import's peak memory then).
                let is_named = std::mem::replace(&mut self.named[table as usize], true);
                let pending = &mut self.pending[table as usize];
                *pending += batch.num_rows();
                let is_flushing = *pending >= FLUSH_ROWS;
                if is_flushing {
                    *pending = 0;
                }
                let appender = self.appender(table);
                if !is_named {
                    for field in batch.schema().fields() {
                        appender.add_column(field.name())?;
                    }
                }
                appender
                    .append_record_batch(batch)
                    .and_then(|()| if is_flushing { appender.flush() } else { Ok(()) })
                    .with_context(|| format!("appending to {}", table.name()))
            }
            Message::Reject(err) => Ok(self.rejects.append_row(params![
                self.import_id,
                err.path,
                err.line.map(|l| l as i64),
                err.msg
            ])?),
            Message::Renumber(table, store_max) => {
                self.flush()?;
                // New ids so far are store_max + n; they become -n (provisional).
                self.move_ids(table, "-({c} - $1)", "{c} > $1", store_max)
            }
        }
    }

    pub fn flush(&mut self) -> Result<()> {
        for appender in
            [&mut self.tasks, &mut self.completions, &mut self.predictions, &mut self.rejects]
        {
            appender.flush().context("appending rows")?;
        }
        self.pending = [0; 3];
        Ok(())
    }

    /// Provisional ids (-n) become `top + n`.
    pub fn finish(mut self, deferred: &[(Table, i64)]) -> Result<()> {
        self.flush()?;
        for (table, top) in deferred {
            self.move_ids(*table, "$1 - {c}", "{c} < 0", *top)?;
        }
        Ok(())
    }

    /// Rewrite this import's ids of `table` (and, for tasks, the task ids that point at
    /// them) where `filter` holds, to `value`; `{c}` stands for the column, `$1` for `n`.
    fn move_ids(&self, table: Table, value: &str, filter: &str, n: i64) -> Result<()> {
        let mut targets = vec![(table.name(), "id")];
        if table == Table::Tasks {
            targets.extend([("completions", "task_id"), ("predictions", "task_id")]);
        }
        for (name, column) in targets {
            let sql = format!(
                "UPDATE {name} SET {column} = {} WHERE import_id = $2 AND {}",
                value.replace("{c}", column),
                filter.replace("{c}", column)
            );
            self.conn
                .execute(&sql, params![n, self.import_id])
                .with_context(|| format!("numbering {name}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_what_duckdb_reads_back() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        crate::store::schema::apply_schema(&conn, "test")?;
        let texts = ["{\"text\":\"a\"}", "{}", "{\"t\":\"\u{e9}\u{1F600}\"}"];
        for (id, data) in texts.iter().enumerate() {
            conn.execute("INSERT INTO tasks (id, data) VALUES ($1, $2)", params![id as i64, data])?;
        }
        let dir = tempfile::tempdir()?;
        let mut state = StoreState::read(&conn, dir.path())?;
        for data in texts {
            assert!(!state.hashes.insert(digest(data))?, "{data} not read back");
        }
        assert!(state.hashes.insert(digest("{\"t\":1}"))?);
        let number: String =
            conn.query_row("SELECT md5_number('{}')::VARCHAR", [], |r| r.get(0))?;
        assert_eq!(number, digest("{}").to_string());
        Ok(())
    }
}
