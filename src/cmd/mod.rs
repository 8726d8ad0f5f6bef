//! Dispatch: one arm per subcommand. Command files only wire arguments to the modules that
//! do the work.

mod config;
mod export;
mod import;
mod init;
mod pull;
mod push;
mod quality;
mod sample;
mod serve;
mod shell;
mod sql;
mod start;
mod stats;
mod storage;
mod templates;
mod validate;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigChoice, ImportFlags, InputArgs, OutputArgs};
use crate::import::{Format, ImportOptions};
use crate::output::{TableStyle, print_lines, terminal_width};
use crate::project::{chosen_config, create_project, summary_lines};
use crate::store::Store;

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let project = cli.project;
    match cli.command {
        Command::Init(args) => init::run(&project, args),
        Command::Start(args) => start::run(&project, args),
        Command::Import(args) => import::run(&project, args),
        Command::Config(args) => config::run(&project, args),
        Command::Templates(args) => templates::run(args),
        Command::Validate(args) => validate::run(&project, args),
        Command::Sample(args) => sample::run(&project, args),
        Command::Export(args) => export::run(&project, args),
        Command::Sql(args) => sql::run(&project, args),
        Command::Shell(args) => shell::run(&project, args),
        Command::Stats(args) => stats::run(&project, args),
        Command::Quality(args) => quality::run(&project, args),
        Command::Push(args) => push::run(&project, args),
        Command::Pull(args) => pull::run(&project, args),
        Command::Serve(args) => serve::run(&project, args),
        Command::Storage(args) => storage::run(&project, args),
    }
}

/// The table style for stdout: fitted to the terminal when there is one.
pub fn table_style(output: &OutputArgs) -> TableStyle {
    TableStyle {
        width: terminal_width(),
        is_headerless: output.no_headers,
        truncation_hint: "; use --format csv or json for every row",
    }
}

/// Import options from the shared import flags.
pub fn import_options(
    paths: Vec<PathBuf>,
    format: Option<Format>,
    flags: &ImportFlags,
) -> ImportOptions {
    ImportOptions {
        paths,
        format,
        key: flags.key.clone(),
        host_url: flags.host_url.clone(),
        is_skipping_invalid: flags.skip_invalid,
        is_skipping_duplicates: flags.skip_duplicates,
        is_strict: flags.strict,
        config: None,
        is_allowing_local_files: flags.allow_serving_local_files,
        is_merging: flags.merge,
        is_dry_run: false,
        preannotated_from_fields: Vec::new(),
        connect: flags.bucket.connect.connect(),
        listing: flags.bucket.listing(format),
    }
}

/// Create (or with `force` replace) a project from `init`/`start --init` flags and print
/// what was done.
pub fn create_and_report(
    dir: &Path,
    force: bool,
    choice: &ConfigChoice,
    input: &InputArgs,
    flags: &ImportFlags,
) -> Result<Store> {
    let paths = input.input_path.iter().cloned().collect();
    let mut setup = import_options(paths, input.input_format, flags);
    setup.config = chosen_config(choice.label_config.as_deref(), choice.template.as_deref())?;
    let (store, summary) = create_project(dir, force, &setup)?;
    let created = format!("created project {}", dir.display());
    print_lines(std::iter::once(created).chain(summary.iter().flat_map(summary_lines)))?;
    Ok(store)
}
