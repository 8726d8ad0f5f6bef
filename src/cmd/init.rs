//! `lsdb init`: create a project, set its label config, optionally import at once.

use std::path::Path;

use anyhow::Result;

use crate::cli::InitArgs;
use crate::project::{create_project, summary_lines};

pub fn run(project: &Path, args: InitArgs) -> Result<()> {
    let dir = args.dir.as_deref().unwrap_or(project);
    let input = args.input_path.map(|p| (p, args.input_format));
    let (_store, summary) = create_project(dir, args.force, &args.config, input, &args.import)?;
    println!("created project {}", dir.display());
    if let Some(summary) = summary {
        for line in summary_lines(&summary) {
            println!("{line}");
        }
    }
    Ok(())
}
