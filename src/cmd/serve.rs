//! `lsdb serve`: wires the flags to `serve::run`.

use std::path::Path;

use anyhow::Result;

use crate::cli::ServeArgs;
use crate::serve::{ServeOptions, run as serve};

pub fn run(project: &Path, args: ServeArgs) -> Result<()> {
    serve(ServeOptions {
        project: project.to_path_buf(),
        host: args.host,
        port: args.port,
        token: args.token,
        cors: args.cors,
        document_root: args.document_root,
        allow_url_import: args.allow_url_import,
        allow_private_urls: args.allow_private_urls,
    })
}
