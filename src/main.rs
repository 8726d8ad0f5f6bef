//! lsdb: parse the command line, run the command, print any error on one line and return
//! the exit code (0 ok, 1 problems found, 2 bad usage or input).

// The layers of docs/architecture.md, bottom up (tests/cli/architecture.rs holds the rule).
// 0: leaf helpers
mod cancel;
mod error;
mod fileurl;
mod formats;
mod sqltext;
// 1: the store, the label config, buckets
mod bucket;
mod labelconfig;
mod store;
mod templates;
// 2: what is done to a store
mod export;
mod import;
mod output;
mod query;
mod report;
mod sample;
// 3: orchestration
mod project;
mod sync;
// 4: front ends
mod repl;
mod serve;
// 5: the command line
mod cli;
mod cmd;

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
