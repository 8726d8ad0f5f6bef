//! `lsdb sample`: print a strategy's labeling queue.

use std::path::Path;

use anyhow::Result;

use crate::cli::SampleArgs;
use crate::output::render;
use crate::sample::{SampleRequest, sample};
use crate::store::Store;

pub fn run(project: &Path, args: SampleArgs) -> Result<()> {
    let store = Store::open(project)?;
    let req = SampleRequest {
        strategy: args.sample.strategy,
        limit: args.sample.limit,
        seed: args.sample.seed,
        model_version: args.sample.model_version,
    };
    let result = sample(store.conn(), &req)?;
    render(
        &result,
        args.output.format,
        super::table_style(&args.output),
        &mut std::io::stdout().lock(),
    )
}
