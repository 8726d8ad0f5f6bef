//! `lsdb init`: create a project, set its label config, optionally import at once.

use std::path::Path;

use anyhow::Result;

use crate::cli::InitArgs;

pub fn run(project: &Path, args: InitArgs) -> Result<()> {
    let dir = args.dir.as_deref().unwrap_or(project);
    super::create_and_report(dir, args.force, &args.config, &args.input, &args.import)?;
    Ok(())
}
