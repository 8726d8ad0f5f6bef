//! lsdb: parse the command line, run the command, print any error on one line and return
//! the exit code (0 ok, 1 problems found, 2 bad usage or input).

// The layers of docs/architecture.md, bottom up (tests/cli/architecture.rs holds the rule).
// 0: leaf helpers
/// mimalloc for Rust's allocations: the training exports parse and drop millions of small JSON
/// values (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cancel;
mod error;
mod fileurl;
mod formats;
mod regions;
mod sqltext;
// 1: the store, the label config, buckets
mod bucket;
mod labelconfig;
mod labelstudio;
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
mod pull;
mod push;
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
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = error::exit_code(&err);
            if code != 0 {
                let text = format!("{err:#}");
                if err.downcast_ref::<error::ProblemsFound>().is_none() {
                    eprintln!("lsdb: error: {}", error::one_line(&text));
                }
            }
            ExitCode::from(code)
        }
    }
}

/// A command line clap refuses. A bad value is an lsdb error line (exit 2) like any other
/// bad input; help, versions and the rest are clap's own output.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if !matches!(err.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        err.exit();
    }
    let text = err.render().to_string();
    let text = text.split("\n\nFor more information").next().unwrap_or(&text);
    let text = text.strip_prefix("error: ").unwrap_or(text);
    eprintln!("lsdb: error: {}", error::one_line(text));
    ExitCode::from(2)
}
