//! Canned reports that several front ends print: the stats row, and validation (the view
//! evaluated once into a temp table, then summarised and listed from it).

use anyhow::Result;
use duckdb::Connection;

use crate::output::{OutputFormat, RowWriter, TableStyle};
use crate::query::stream_query;

/// One row of counts (`lsdb stats`, `.stats`).
pub const STATS_SQL: &str = "SELECT \
    (SELECT count(*) FROM tasks) AS tasks, \
    (SELECT count(*) FROM completions) AS completions, \
    (SELECT count(*) FROM predictions) AS predictions, \
    (SELECT count(DISTINCT task_id) FROM validation_errors) AS invalid_tasks, \
    (SELECT count(*) FROM validation_errors) AS validation_errors, \
    (SELECT count(*) FROM import_rejects) AS rejected, \
    (SELECT count(*) FROM imports) AS imports";

/// A breakdown of the annotations (`lsdb stats --by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Breakdown {
    /// By `completed_by` (an email when Label Studio gave the user as an object)
    Author,
    /// By the day of `created_at`
    Day,
}

impl Breakdown {
    /// The query that counts annotations this way.
    pub fn sql(self) -> &'static str {
        match self {
            Breakdown::Author => ANNOTATIONS_BY_AUTHOR_SQL,
            Breakdown::Day => ANNOTATIONS_BY_DAY_SQL,
        }
    }
}

/// Annotations per author: Label Studio gives `completed_by` as a user id or an object.
const ANNOTATIONS_BY_AUTHOR_SQL: &str = "SELECT coalesce(fields->'completed_by'->>'email', \
     fields->'completed_by'->>'id', fields->>'completed_by', '(unknown)') AS author, \
     count(*) AS annotations, count(*) FILTER (WHERE was_cancelled) AS cancelled, \
     count(DISTINCT task_id) AS tasks, min(created_at) AS first, max(created_at) AS last \
     FROM completions GROUP BY ALL ORDER BY annotations DESC, author";

/// Annotations per day of `created_at`.
const ANNOTATIONS_BY_DAY_SQL: &str = "SELECT coalesce(substr(created_at, 1, 10), '(unknown)') AS day, \
     count(*) AS annotations, count(*) FILTER (WHERE was_cancelled) AS cancelled, \
     count(DISTINCT task_id) AS tasks FROM completions GROUP BY ALL ORDER BY day";

/// Rows of the validation snapshot per code, most first.
const VALIDATION_SUMMARY_SQL: &str = "SELECT code, count(*) AS rows, count(DISTINCT task_id) AS tasks \
     FROM lsdb_validation GROUP BY code ORDER BY rows DESC, code";

/// What a validation report found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validation {
    /// Rows of validation_errors.
    pub total: u64,
    /// Rows printed (at most the limit).
    pub shown: u64,
}

/// Evaluate `validation_errors` once, then print a summary by code (with `has_summary`, when
/// there are rows) and the first `limit` rows in task order. Says on stderr when the rows
/// were cut at the limit.
pub fn write_validation(
    conn: &Connection,
    format: OutputFormat,
    style: TableStyle,
    limit: u64,
    has_summary: bool,
    out: &mut dyn std::io::Write,
) -> Result<Validation> {
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE lsdb_validation AS SELECT * FROM validation_errors",
    )?;
    let outcome = (|| -> Result<Validation> {
        let total: i64 =
            conn.query_row("SELECT count(*) FROM lsdb_validation", [], |r| r.get(0))?;
        let total = total as u64;
        if format == OutputFormat::Table && total == 0 {
            return Ok(Validation { total, shown: 0 });
        }
        if has_summary {
            let mut summary = RowWriter::new(format, style, out);
            stream_query(conn, VALIDATION_SUMMARY_SQL, &mut summary)?;
            summary.finish(false)?;
        }
        let rows = format!(
            "SELECT * FROM lsdb_validation ORDER BY task_id, origin, origin_id, code, detail \
             LIMIT {limit}"
        );
        let mut writer = RowWriter::new(format, style, out);
        stream_query(conn, &rows, &mut writer)?;
        let shown = writer.count();
        writer.finish(shown < total)?;
        if shown < total {
            eprintln!(
                "showing {shown} of {total} rows of validation_errors (raise --limit for more)"
            );
        }
        Ok(Validation { total, shown })
    })();
    let dropped = conn.execute_batch("DROP TABLE IF EXISTS lsdb_validation");
    let validation = outcome?;
    dropped?;
    Ok(validation)
}
