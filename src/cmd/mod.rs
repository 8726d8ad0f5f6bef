//! Dispatch: one arm per subcommand. Command files only wire arguments to the modules that
//! do the work.

mod config;
mod export;
mod import;
mod init;
mod sample;
mod shell;
mod sql;
mod start;
mod stats;
mod templates;
mod validate;

use anyhow::Result;

use crate::cli::{Cli, Command, OutputArgs};
use crate::output::{TableStyle, terminal_width};

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
    }
}

/// The table style for stdout: fitted to the terminal when there is one.
pub fn table_style(output: &OutputArgs) -> TableStyle {
    TableStyle { width: terminal_width(), is_headerless: output.no_headers }
}
