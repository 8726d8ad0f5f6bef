//! `lsdb sql`: run SQL once and print each statement's rows.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::SqlArgs;
use crate::output::render;
use crate::query::{run_query, split_statements};
use crate::store::Store;

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
    let store = Store::open(project, false)?;
    let style = super::table_style(&args.output);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for statement in &statements {
        let result = run_query(store.conn(), statement, None)?;
        render(&result, args.output.format, style, &mut out)?;
    }
    out.flush()?;
    Ok(())
}
