//! The loader: decides each task's rows while the import reads — duplicates (an MD5 of
//! `data`, against the store's digests read once at the start), ids (`ids.rs`), provenance
//! — and fills the Arrow batches the writer appends.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use anyhow::{Context, Result, anyhow, bail};
use duckdb::Connection;
use duckdb::arrow::array::{Int64Array, UInt64Array};
use indicatif::ProgressBar;
use md5::{Digest, Md5};

use super::digests::{Digests, TABLE_DIGESTS};
use super::ids::{IdSet, IdSpace, Switch};
use super::placelog::PlaceLog;
use super::preannotate::Preannotate;
use super::sink::{Counts, progress_bar};
use super::task::{Annotation, Receiver, Task};
use super::writer::{Batches, Message, Stopped, Table};
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

/// What the store holds when the import starts, read once.
pub struct StoreState {
    task_max: i64,
    completion_max: i64,
    prediction_max: i64,
    hashes: Digests,
}

impl StoreState {
    /// Read the highest ids (a completion's from `next_completion_id`, which counts those kept
    /// in `completion_history`) and every task's data hash (committed state); the set of
    /// hashes writes what it does not hold in memory to `spill_dir`.
    pub fn read(conn: &Connection, spill_dir: &Path) -> Result<StoreState> {
        let (task_max, prediction_max): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM tasks), \
                        (SELECT coalesce(max(id), 0) FROM predictions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .context("reading the store's highest ids")?;
        let completion_max = crate::store::annotations::next_completion_id(conn)
            .context("reading the store's highest ids")?
            - 1;
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
    pub fn load(&mut self, task: &mut Task) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use duckdb::params;

    use super::*;

    #[test]
    fn digests_are_what_duckdb_reads_back() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        crate::store::functions::register(&conn)?;
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
