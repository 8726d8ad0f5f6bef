//! lsdb: parse the command line, run the command, print any error on one line and return
//! the exit code (0 ok, 1 problems found, 2 bad usage or input).

mod cancel;
mod cli;
mod cmd;
mod error;
mod export;
mod import;
mod labelconfig;
mod output;
mod project;
mod query;
mod repl;
mod report;
mod sample;
mod serve;
mod sqltext;
mod storage;
mod store;
mod templates;
mod urls;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = error::exit_code(&err);
            if code != 0 {
                let text = format!("{err:#}");
                if err.downcast_ref::<error::ProblemsFound>().is_none() {
                    eprintln!("lsdb: error: {}", text.replace('\n', " "));
                }
            }
            ExitCode::from(code)
        }
    }
}
