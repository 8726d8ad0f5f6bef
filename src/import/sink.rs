//! Where readers put what they read during a `--merge` import: DuckDB appenders on the
//! import's staging tables, the `--skip-invalid` policy for bad records, counts and the
//! progress bar. (Other imports go through `load.rs`, straight into the tables.)

use anyhow::{Context, Result};
use duckdb::{Appender, Connection, params};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::task::{Receiver, Task};
use crate::error::InputError;

/// What one import read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub tasks: u64,
    pub completions: u64,
    pub predictions: u64,
    pub rejected: u64,
    /// Blank lines and files of other kinds that were passed over.
    pub skipped: u64,
    /// Predictions given only by id (Label Studio's export), left out.
    pub prediction_refs: u64,
}

/// Receives tasks from readers and appends them to the staging tables in bulk.
pub struct Sink<'c> {
    tasks: Appender<'c>,
    completions: Appender<'c>,
    predictions: Appender<'c>,
    rejects: Appender<'c>,
    import_id: i64,
    is_skipping_invalid: bool,
    annotation_seq: i64,
    pub counts: Counts,
    progress: ProgressBar,
}

impl<'c> Sink<'c> {
    /// Appenders on the staging tables (which the caller has created).
    pub fn new(conn: &'c Connection, import_id: i64, is_skipping_invalid: bool) -> Result<Self> {
        let staged = |table: &str| conn.appender(table);
        let progress = progress_bar();
        Ok(Sink {
            tasks: staged("lsdb_stage_tasks")?,
            completions: staged("lsdb_stage_completions")?,
            predictions: staged("lsdb_stage_predictions")?,
            rejects: conn.appender("import_rejects")?,
            import_id,
            is_skipping_invalid,
            annotation_seq: 0,
            counts: Counts::default(),
            progress,
        })
    }

    /// Flush every appender so the staged rows are visible to SQL.
    pub fn finish(mut self) -> Result<Counts> {
        self.progress.finish_and_clear();
        for appender in
            [&mut self.tasks, &mut self.completions, &mut self.predictions, &mut self.rejects]
        {
            appender.flush().context("writing staged rows")?;
        }
        Ok(self.counts)
    }
}

/// The import's progress on a terminal's stderr (hidden elsewhere).
pub fn progress_bar() -> ProgressBar {
    counter("tasks read")
}

/// A count on stderr when it is a terminal ("{n} <what> in {elapsed}"), hidden otherwise.
pub fn counter(what: &str) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {{human_pos}} {what} in {{elapsed}} {{msg}}");
    match ProgressStyle::with_template(&template) {
        Ok(style) => bar.set_style(style),
        Err(_) => return ProgressBar::hidden(),
    }
    bar
}

impl Receiver for Sink<'_> {
    /// Append one task with its completions and predictions.
    fn push(&mut self, task: Task) -> Result<()> {
        self.counts.tasks += 1;
        let seq = self.counts.tasks as i64;
        self.counts.prediction_refs += task.prediction_refs;
        self.tasks.append_row(params![
            seq,
            task.given_id,
            task.data,
            task.meta,
            task.extra,
            task.place(),
            task.source
        ])?;
        for c in task.completions {
            self.annotation_seq += 1;
            self.counts.completions += 1;
            self.completions.append_row(params![
                seq,
                self.annotation_seq,
                c.given_id,
                c.result,
                c.fields,
                c.was_cancelled,
                c.lead_time,
                c.created_at
            ])?;
        }
        for p in task.predictions {
            self.annotation_seq += 1;
            self.counts.predictions += 1;
            self.predictions.append_row(params![
                seq,
                self.annotation_seq,
                p.given_id,
                p.result,
                p.fields,
                p.model_version,
                p.score
            ])?;
        }
        if seq % 4096 == 0 {
            self.progress.set_position(seq as u64);
            crate::cancel::check()?;
        }
        Ok(())
    }

    /// A record that could not be read: fatal, or kept in `import_rejects` with
    /// `--skip-invalid`.
    fn reject(&mut self, err: InputError) -> Result<()> {
        if !self.is_skipping_invalid {
            return Err(err.into());
        }
        self.counts.rejected += 1;
        self.rejects.append_row(params![
            self.import_id,
            err.path,
            err.line.map(|l| l as i64),
            err.msg
        ])?;
        Ok(())
    }

    /// Count something passed over (a blank line, a file of another kind).
    fn skip(&mut self, n: u64) -> Result<()> {
        self.counts.skipped += n;
        crate::cancel::check()
    }
}
