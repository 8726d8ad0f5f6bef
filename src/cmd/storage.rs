//! `lsdb storage add|list|sync|remove`: bucket definitions and their syncs.

use std::path::Path;

use anyhow::Result;

use crate::cli::StorageCommand;
use crate::output::{RowWriter, print_lines};
use crate::query::{CellRef, RowSink};
use crate::store::Store;
use crate::store::storages::{self, Definition};
use crate::sync;

pub fn run(project: &Path, command: StorageCommand) -> Result<()> {
    match command {
        StorageCommand::Add(args) => {
            let store = Store::open(project)?;
            let def = Definition {
                name: args.name.clone(),
                url: args.url.clone(),
                listing: args.bucket.listing(args.format),
                connect: args.bucket.connect.connect(),
                presign_ttl: args.presign_ttl,
                is_presigning: !args.no_presign,
            };
            sync::add(&store, &def)?;
            print_lines([format!(
                "added storage {} ({}); `lsdb storage sync {}` imports its objects",
                args.name, args.url, args.name
            )])
        }
        StorageCommand::List { output } => {
            let store = Store::open(project)?;
            let rows = storages::list_rows(store.conn())?;
            let columns: Vec<String> =
                ["name", "url", "options", "objects", "last_sync_import"].map(String::from).into();
            let mut out = std::io::stdout().lock();
            let mut writer = RowWriter::new(output.format, super::table_style(&output), &mut out);
            writer.columns(&columns)?;
            for row in &rows {
                let cells: Vec<CellRef<'_>> = row.iter().map(|c| CellRef::Text(c)).collect();
                writer.row(&cells)?;
            }
            writer.finish(false)
        }
        StorageCommand::Sync { name, prune } => {
            let store = Store::open(project)?;
            let reports = sync::sync(&store, name.as_deref(), prune)?;
            print_lines(reports.iter().flat_map(|r| sync::report_lines(r, prune)))
        }
        StorageCommand::Remove { name } => {
            let store = Store::open(project)?;
            storages::remove(&store, &name)?;
            print_lines([format!("removed storage {name}; its tasks stay")])
        }
    }
}
