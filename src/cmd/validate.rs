//! `lsdb validate`: a summary of validation_errors by code, then the rows; exit 1 when any.

use std::path::Path;

use anyhow::Result;

use crate::cli::ValidateArgs;
use crate::error::ProblemsFound;
use crate::output::{OutputFormat, TableStyle};
use crate::report::write_validation;
use crate::store::Store;

pub fn run(project: &Path, args: ValidateArgs) -> Result<()> {
    let store = Store::open(project)?;
    let format = args.output.format;
    let style =
        TableStyle { truncation_hint: "; raise --limit", ..super::table_style(&args.output) };
    let mut out = std::io::stdout().lock();
    let found = write_validation(
        store.conn(),
        format,
        style,
        args.limit,
        format == OutputFormat::Table,
        &mut out,
    )?;
    if found.total == 0 {
        if format == OutputFormat::Table {
            eprintln!("no validation errors");
        }
        return Ok(());
    }
    let total = found.total;
    eprintln!(
        "{total} validation error{} (see docs/validation.md)",
        if total == 1 { "" } else { "s" }
    );
    Err(ProblemsFound(format!("{total} validation errors")).into())
}
