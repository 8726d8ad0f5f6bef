//! `lsdb stats`: counts of what the project holds.

use std::path::Path;

use anyhow::Result;

use crate::cli::StatsArgs;
use crate::output::render;
use crate::query::run_query;
use crate::report::STATS_SQL;
use crate::store::Store;

pub fn run(project: &Path, args: StatsArgs) -> Result<()> {
    let store = Store::open(project)?;
    let result = run_query(store.conn(), STATS_SQL, None)?;
    render(
        &result,
        args.output.format,
        super::table_style(&args.output),
        &mut std::io::stdout().lock(),
    )
}
