//! `lsdb pull`: a Label Studio project's annotations back onto their tasks.

use std::path::Path;

use anyhow::Result;

use crate::cli::PullArgs;
use crate::pull::pull;
use crate::store::Store;

pub fn run(project: &Path, args: PullArgs) -> Result<()> {
    let store = Store::open(project)?;
    // Ctrl-C stops the work at its next safe point (between chunks, between pages).
    crate::cancel::install_handler();
    let pulled = pull(&store, &args.url, &args.token, args.ls_project, args.prune, args.paged)?;
    if pulled.new_tasks > 0 {
        eprintln!("note: {} tasks made in Label Studio were added to the store", pulled.new_tasks);
    }
    if pulled.deleted_here > 0 {
        eprintln!(
            "note: {} tasks this store pushed and has deleted since were left alone",
            pulled.deleted_here
        );
    }
    if pulled.foreign_tasks > 0 {
        eprintln!("note: {} tasks another lsdb store pushed were left alone", pulled.foreign_tasks);
    }
    let gone = match (pulled.gone, pulled.pruned) {
        (0, _) => String::new(),
        (n, 0) => format!(", {n} deleted in Label Studio (kept; --prune deletes them)"),
        (_, n) => format!(", {n} deleted in Label Studio and here"),
    };
    println!(
        "pulled {} new and {} edited annotations from project {} ({} unchanged{gone})",
        pulled.added, pulled.updated, args.ls_project, pulled.unchanged
    );
    Ok(())
}
