//! `lsdb export`: write tasks (all, `--where`, or a sample) to a file, standard output or a
//! bucket.

use std::path::Path;

use anyhow::Result;

use crate::cli::ExportArgs;
use crate::export::{ExportJob, TrainingOptions, UrlRewrite, presigner, run_export};
use crate::store::Store;

pub fn run(project: &Path, args: ExportArgs) -> Result<()> {
    let store = Store::open(project)?;
    let connect = args.connect.connect();
    let presign =
        if args.presign { Some(presigner(&store, &connect, args.presign_ttl)?) } else { None };
    let job = ExportJob {
        format: args.format,
        dialect: args.dialect,
        urls: UrlRewrite {
            host: args.host_url,
            style: args.url_style,
            document_root: args.document_root,
            presign,
            sign: args.sign_urls,
        },
        selection: args.selection.selection(),
        output: args.output,
        training: TrainingOptions {
            source: args.source,
            model_version: args.selection.model_version,
            with_images: args.with_images,
        },
        connect,
    };
    let exported = run_export(&store, &job)?;
    for note in &exported.notes {
        eprintln!("note: {note}");
    }
    if let Some(written) = exported.written {
        eprintln!("exported {} tasks to {written}", exported.tasks);
    }
    Ok(())
}
