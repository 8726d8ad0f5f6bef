//! `lsdb import`: import files and folders into the project (created when missing).

use std::path::Path;

use anyhow::Result;

use crate::cli::ImportArgs;
use crate::import::run_import;
use crate::project::{import_options, record_settings, set_config, summary_lines};
use crate::store::Store;
use crate::store::config::read_config_file;

pub fn run(project: &Path, args: ImportArgs) -> Result<()> {
    let config = args.label_config.as_deref().map(read_config_file).transpose()?;
    let store = Store::open(project, true)?;
    if let (Some(config), Some(path)) = (&config, &args.label_config) {
        set_config(store.conn(), config, &path.display().to_string())?;
    }
    record_settings(&store, &args.import)?;
    let summary = run_import(&store, &import_options(args.paths, args.format, &args.import))?;
    for line in summary_lines(&summary) {
        println!("{line}");
    }
    Ok(())
}
