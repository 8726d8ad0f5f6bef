//! `lsdb sql`: run SQL once and print each statement's rows.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::SqlArgs;
use crate::output::{OutputFormat, RowWriter};
use crate::query::{split_statements, stream_query};
use crate::store::Store;

/// Rows a table keeps; csv and json output stream every row.
const TABLE_MAX_ROWS: usize = 10_000;

pub fn run(project: &Path, args: SqlArgs) -> Result<()> {
    let text = if args.query == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading SQL from standard input")?;
        text
    } else {
        args.query
    };
    let statements = split_statements(&text);
    if statements.is_empty() {
        bail!("no SQL to run; give a statement, e.g. lsdb sql \"SELECT count(*) FROM tasks\"");
    }
    let store = Store::open(project)?;
    let style = super::table_style(&args.output);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for statement in &statements {
        let mut writer = RowWriter::new(args.output.format, style, &mut out);
        if args.output.format == OutputFormat::Table {
            writer.max_rows = Some(TABLE_MAX_ROWS);
        }
        stream_query(store.conn(), statement, &mut writer)?;
        writer.finish(false)?;
    }
    out.flush()?;
    Ok(())
}
