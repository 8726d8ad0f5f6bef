//! The writer: Arrow batches of the three tables, and the appender that writes them into
//! the store on the thread that owns the import's transaction.

use std::sync::Arc;

use anyhow::{Context, Result};
use duckdb::arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Appender, Connection, params};

use super::task::Annotation;
use crate::error::InputError;

/// One of the tables an import writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Tasks,
    Completions,
    Predictions,
}

impl Table {
    pub fn name(self) -> &'static str {
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

/// Column builders for the rows of one batch.
#[derive(Default)]
pub struct Batches {
    pub tasks: TaskColumns,
    completions: AnnotationColumns,
    predictions: AnnotationColumns,
}

impl Batches {
    pub fn annotation(&mut self, table: Table, id: i64, task_id: i64, a: &Annotation) {
        let columns =
            if table == Table::Completions { &mut self.completions } else { &mut self.predictions };
        columns.push(id, task_id, a);
    }

    /// The batches that have rows, in table order; the builders start again empty.
    pub fn finish(&mut self, import_id: i64) -> Result<Vec<(Table, RecordBatch)>> {
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
pub struct TaskColumns {
    pub len: usize,
    id: Int64Builder,
    data: StringBuilder,
    meta: StringBuilder,
    extra: StringBuilder,
    source: StringBuilder,
}

impl TaskColumns {
    pub fn push(
        &mut self,
        id: i64,
        data: &str,
        meta: Option<&str>,
        extra: Option<&str>,
        source: &str,
    ) {
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

/// A thread stopped because the next one in the pipeline had stopped (its error is told).
#[derive(Debug)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the import stopped")
    }
}

impl std::error::Error for Stopped {}
