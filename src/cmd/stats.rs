//! `lsdb stats`: counts of what the project holds, and annotations by author and by day.

use std::path::Path;

use anyhow::Result;

use crate::cli::StatsArgs;
use crate::output::{OutputFormat, RowWriter};
use crate::query::stream_query;
use crate::report::{Breakdown, STATS_SQL};
use crate::store::Store;

pub fn run(project: &Path, args: StatsArgs) -> Result<()> {
    let store = Store::open(project)?;
    let queries: Vec<&str> = match args.by {
        Some(by) => vec![by.sql()],
        None if args.output.format == OutputFormat::Table => {
            vec![STATS_SQL, Breakdown::Author.sql(), Breakdown::Day.sql()]
        }
        None => vec![STATS_SQL],
    };
    let style = super::table_style(&args.output);
    let mut out = std::io::stdout().lock();
    for sql in queries {
        let mut writer = RowWriter::new(args.output.format, style, &mut out);
        stream_query(store.conn(), sql, &mut writer)?;
        writer.finish(false)?;
    }
    Ok(())
}
