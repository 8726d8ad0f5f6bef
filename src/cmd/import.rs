//! `lsdb import`: import files and folders into the project (created when missing).

use std::path::Path;

use anyhow::Result;

use crate::cli::ImportArgs;
use crate::output::print_lines;
use crate::project::{chosen_config, import_into, summary_lines};

pub fn run(project: &Path, args: ImportArgs) -> Result<()> {
    let mut opts = super::import_options(args.paths, args.format, &args.import);
    opts.config = chosen_config(args.label_config.as_deref(), None)?;
    let summary = import_into(project, &opts)?;
    print_lines(summary_lines(&summary))
}
