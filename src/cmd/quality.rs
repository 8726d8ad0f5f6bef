//! `lsdb quality`: agreement per control and per pair of annotators, and label issues.

use std::path::Path;

use anyhow::Result;

use crate::cli::QualityArgs;
use crate::output::OutputFormat;
use crate::report::{QualityPart, write_quality};
use crate::store::Store;

pub fn run(project: &Path, args: QualityArgs) -> Result<()> {
    let store = Store::open(project)?;
    let parts: Vec<QualityPart> = match args.show {
        Some(part) => vec![part],
        None if args.output.format == OutputFormat::Table => QualityPart::ALL.to_vec(),
        None => vec![QualityPart::Controls],
    };
    let style = super::table_style(&args.output);
    write_quality(store.conn(), &parts, args.output.format, style, &mut std::io::stdout().lock())
}
