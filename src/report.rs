//! Canned reports that several front ends print: the stats row, and validation (the view
//! evaluated once into a temp table, then summarised and listed from it).

use anyhow::Result;
use duckdb::Connection;

use crate::output::{OutputFormat, RowWriter, TableStyle};
use crate::query::stream_query;
use crate::store::setting::Setting;

/// One row of counts (`lsdb stats`, `.stats`).
/// The validation errors are read once for both of their counts.
pub const STATS_SQL: &str = "SELECT \
    (SELECT count(*) FROM tasks) AS tasks, \
    (SELECT count(*) FROM completions) AS completions, \
    (SELECT count(*) FROM predictions) AS predictions, \
    v.invalid_tasks, v.validation_errors, \
    (SELECT count(*) FROM import_rejects) AS rejected, \
    (SELECT count(*) FROM imports) AS imports \
    FROM (SELECT count(DISTINCT task_id) AS invalid_tasks, count(*) AS validation_errors \
          FROM validation_errors) AS v";

/// A breakdown of the annotations (`lsdb stats --by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Breakdown {
    /// By `completed_by` (an email when Label Studio gave the user as an object)
    Author,
    /// By the day of `created_at`
    Day,
    /// Agreement per control: Krippendorff's alpha (docs/quality.md)
    Agreement,
}

impl Breakdown {
    /// The query that counts annotations this way.
    pub fn sql(self) -> &'static str {
        match self {
            Breakdown::Author => ANNOTATIONS_BY_AUTHOR_SQL,
            Breakdown::Day => ANNOTATIONS_BY_DAY_SQL,
            Breakdown::Agreement => QualityPart::Controls.sql(),
        }
    }
}

/// Whether some task has two non-cancelled completions or more: only then is there an
/// agreement to show (`stats` leaves the section out otherwise, and the views' cost).
pub const HAS_SEVERAL_ANNOTATIONS_SQL: &str = "SELECT EXISTS (SELECT task_id FROM completions \
     WHERE NOT was_cancelled GROUP BY task_id HAVING count(*) > 1)";

/// A part of the label-quality report (`lsdb quality --show`; the views are in
/// sql/quality.sql).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QualityPart {
    /// Agreement per control: Krippendorff's alpha and the share of agreeing pairs
    Controls,
    /// Agreement per pair of annotators and control: Cohen's kappa
    Pairs,
    /// Label issues (cleanlab's confident learning) per single-choice control
    Issues,
}

impl QualityPart {
    /// The parts in the order a table shows them.
    pub const ALL: [QualityPart; 3] =
        [QualityPart::Controls, QualityPart::Pairs, QualityPart::Issues];

    /// The query of this part.
    pub fn sql(self) -> &'static str {
        match self {
            QualityPart::Controls => {
                "SELECT from_name, tasks, annotators, alpha, \
                 percent_agreement, reason FROM control_agreement"
            }
            QualityPart::Pairs => {
                "SELECT * FROM annotator_agreement \
                 ORDER BY from_name, annotator_a, annotator_b"
            }
            QualityPart::Issues => "SELECT * FROM label_issue_summary",
        }
    }

    /// The title a table shows above it.
    pub fn title(self) -> &'static str {
        match self {
            QualityPart::Controls => "Agreement per control (Krippendorff's alpha, nominal)",
            QualityPart::Pairs => "Agreement per pair of annotators (Cohen's kappa)",
            QualityPart::Issues => "Label issues (cleanlab's confident learning)",
        }
    }
}

/// The memory DuckDB may use while `lsdb quality` runs (more spills to the temp folder):
/// at 1M tasks with two annotations each, 160 MB kept the process at 247 MiB (200 MB
/// reached 301 MiB; 128 MB 219 MiB but 10% slower).
const QUALITY_MEMORY: &str = "160MB";

/// The views every part of `lsdb quality` reads, kept once as temp tables of the same name
/// (a connection's temp tables come first in DuckDB's search path, so the views read them)
/// instead of three times from the JSON.
const QUALITY_BASES: [&str; 2] = ["quality_latest", "quality_pred_probs"];

/// Print the parts of the label-quality report (`lsdb quality`): the answers and the
/// probability vectors are read from the JSON once, with DuckDB's memory capped; the temp
/// tables and the cap go when it ends, however it ends.
pub fn write_quality(
    conn: &Connection,
    parts: &[QualityPart],
    format: OutputFormat,
    style: TableStyle,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let _memory = Setting::set(conn, "memory_limit", QUALITY_MEMORY)?;
    let outcome = (|| -> Result<()> {
        for base in QUALITY_BASES {
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE {base} AS SELECT * FROM main.{base}"
            ))?;
        }
        let has_titles = format == OutputFormat::Table && parts.len() > 1;
        for part in parts {
            if has_titles {
                writeln!(out, "{}", part.title())?;
            }
            let mut writer = RowWriter::new(format, style, out);
            stream_query(conn, part.sql(), &mut writer)?;
            writer.finish(false)?;
        }
        Ok(())
    })();
    for base in QUALITY_BASES {
        let _ = conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.{base}"));
    }
    outcome
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
