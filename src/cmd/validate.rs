//! `lsdb validate`: a summary of validation_errors by code, then the rows; exit 1 when any.

use std::path::Path;

use anyhow::Result;

use crate::cli::ValidateArgs;
use crate::error::ProblemsFound;
use crate::output::{OutputFormat, render};
use crate::query::run_query;
use crate::report::{VALIDATION_ROWS_SQL as ROWS_SQL, VALIDATION_SUMMARY_SQL as SUMMARY_SQL};
use crate::store::Store;

pub fn run(project: &Path, args: ValidateArgs) -> Result<()> {
    let store = Store::open(project, false)?;
    let style = super::table_style(&args.output);
    let mut out = std::io::stdout().lock();
    let rows = run_query(store.conn(), ROWS_SQL, Some(args.limit as usize))?;
    let total: i64 =
        store.conn().query_row("SELECT count(*) FROM validation_errors", [], |r| r.get(0))?;
    let is_table = args.output.format == OutputFormat::Table;
    if is_table && total == 0 {
        eprintln!("no validation errors");
        return Ok(());
    }
    if is_table {
        let summary = run_query(store.conn(), SUMMARY_SQL, None)?;
        render(&summary, OutputFormat::Table, style, &mut out)?;
    }
    render(&rows, args.output.format, style, &mut out)?;
    if total > 0 {
        eprintln!(
            "{total} validation error{} (see docs/validation.md)",
            if total == 1 { "" } else { "s" }
        );
        return Err(ProblemsFound(format!("{total} validation errors")).into());
    }
    Ok(())
}
