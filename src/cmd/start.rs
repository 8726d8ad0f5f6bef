//! `lsdb start`: open a project in the shell; with `--init`, create and fill it first.

use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::StartArgs;
use crate::repl::run_shell;
use crate::serve::files::allows_local_files;
use crate::store::{STORE_FILE, Store};

pub fn run(project: &Path, args: StartArgs) -> Result<()> {
    let dir = args.dir.as_deref().unwrap_or(project);
    let store = if args.init {
        super::create_and_report(dir, args.force, &args.config, &args.input, &args.import)?
    } else {
        if !dir.join(STORE_FILE).exists() {
            bail!(
                "no lsdb project at {}; create it with `lsdb start {} --init` (add --input-path to import at once)",
                dir.display(),
                dir.display()
            );
        }
        if args.input.input_path.is_some()
            || args.config.label_config.is_some()
            || args.config.template.is_some()
        {
            bail!(
                "--input-path, --label-config and --template need --init; or use `lsdb import` on an existing project"
            );
        }
        Store::open(dir)?
    };
    // As `label-studio start`: the server runs while the shell is open, so the task URLs
    // answer.
    let port = match args.port {
        Some(port) => Some(port),
        None if allows_local_files(store.conn())? => Some(8080),
        None => None,
    };
    if let Some(port) = port {
        crate::serve::spawn_beside(&store, port)?;
    }
    run_shell(&store, args.shell.mode)
}
