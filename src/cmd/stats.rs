//! `lsdb stats`: counts of what the project holds, annotations by author and by day, and
//! agreement per control.

use std::path::Path;

use anyhow::Result;

use crate::cli::StatsArgs;
use crate::output::{OutputFormat, RowWriter};
use crate::query::stream_query;
use crate::report::{Breakdown, HAS_SEVERAL_ANNOTATIONS_SQL, STATS_SQL};
use crate::store::Store;

pub fn run(project: &Path, args: StatsArgs) -> Result<()> {
    let store = Store::open(project)?;
    let queries: Vec<&str> = match args.by {
        Some(by) => vec![by.sql()],
        None if args.output.format == OutputFormat::Table => {
            let mut all = vec![STATS_SQL, Breakdown::Author.sql(), Breakdown::Day.sql()];
            let has_agreement: bool =
                store.conn().query_row(HAS_SEVERAL_ANNOTATIONS_SQL, [], |r| r.get(0))?;
            if has_agreement {
                all.push(Breakdown::Agreement.sql());
            }
            all
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
