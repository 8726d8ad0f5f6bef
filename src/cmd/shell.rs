//! `lsdb shell`: the SQL shell, interactive on a terminal, scripted otherwise.

use std::path::Path;

use anyhow::Result;

use crate::cli::ShellArgs;
use crate::repl::run_shell;
use crate::store::Store;

pub fn run(project: &Path, args: ShellArgs) -> Result<()> {
    let store = Store::open(project)?;
    run_shell(&store, args.mode)
}
