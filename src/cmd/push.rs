//! `lsdb push`: tasks into a Label Studio project.

use std::path::Path;

use anyhow::Result;

use crate::cli::PushArgs;
use crate::push::{PushOptions, push};
use crate::store::Store;

pub fn run(project: &Path, args: PushArgs) -> Result<()> {
    let store = Store::open(project)?;
    // Ctrl-C stops the work at its next safe point (between chunks, between pages).
    crate::cancel::install_handler();
    let options = PushOptions {
        url: args.url,
        token: args.token,
        project: args.ls_project,
        title: args.title,
        selection: args.selection.selection(),
        with_annotations: args.with_annotations,
        host_url: args.host_url,
        document_root: args.document_root,
        presign: if args.presign {
            Some(crate::export::presigner(&store, &args.connect.connect(), args.presign_ttl)?)
        } else {
            None
        },
        presign_ttl: args.presign_ttl,
        connect: args.connect.connect(),
    };
    let pushed = push(&store, &options)?;
    for folder in &pushed.storages {
        eprintln!("note: connected {folder} to the project");
    }
    println!(
        "pushed {} task{} to project {} ({}){}",
        pushed.sent,
        if pushed.sent == 1 { "" } else { "s" },
        pushed.project,
        pushed.project_url,
        if pushed.already > 0 {
            format!(
                "; {} {} there already",
                pushed.already,
                if pushed.already == 1 { "was" } else { "were" }
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
