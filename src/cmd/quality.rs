//! `lsdb quality`: agreement per control and per pair of annotators, and label issues.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::QualityArgs;
use crate::output::{OutputFormat, RowWriter};
use crate::query::stream_query;
use crate::report::QualityPart;
use crate::store::Store;

pub fn run(project: &Path, args: QualityArgs) -> Result<()> {
    let store = Store::open(project)?;
    let is_table = args.output.format == OutputFormat::Table;
    let parts: Vec<QualityPart> = match args.show {
        Some(part) => vec![part],
        None if is_table => QualityPart::ALL.to_vec(),
        None => vec![QualityPart::Controls],
    };
    let style = super::table_style(&args.output);
    let mut out = std::io::stdout().lock();
    for part in parts {
        if is_table && args.show.is_none() {
            writeln!(out, "{}", part.title())?;
        }
        let mut writer = RowWriter::new(args.output.format, style, &mut out);
        stream_query(store.conn(), part.sql(), &mut writer)?;
        writer.finish(false)?;
    }
    Ok(())
}
