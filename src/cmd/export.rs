//! `lsdb export`: write tasks (all, `--where`, or a sample) to a file, standard output or a
//! bucket.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};

use crate::bucket::BucketUrl;
use crate::bucket::presign::{Presigner, lifetime};
use crate::cli::ExportArgs;
use crate::export::UrlRewrite;
use crate::export::bucket::{BucketTarget, temp_dir};
use crate::export::{
    ExportFormat, Selection, select_tasks, write_export, write_file, write_parquet,
};
use crate::sample::SampleRequest;
use crate::store::Store;

pub fn run(project: &Path, args: ExportArgs) -> Result<()> {
    let format = args.format;
    let store = Store::open(project)?;
    let connect = args.connect.connect();
    let presign = if args.presign {
        let ttl = lifetime(args.presign_ttl)?;
        let definitions = crate::store::storages::all(store.conn())?;
        let named = crate::store::storages::bucket_connections(&definitions);
        Some(Arc::new(Presigner::new(connect.clone(), named, ttl)))
    } else {
        None
    };
    let urls = UrlRewrite {
        host: args.host_url,
        style: args.url_style,
        document_root: args.document_root,
        presign,
        sign: args.sign_urls,
    };
    let selection = Selection {
        sample: args.sample.map(|strategy| SampleRequest {
            strategy,
            limit: args.limit,
            seed: args.seed,
            model_version: args.model_version,
        }),
        limit: args.limit,
        condition: args.condition,
    };
    let target = match args.output.to_str().and_then(BucketUrl::parse) {
        Some(url) => Some(BucketTarget::new(url?, &connect, format == ExportFormat::Parquet)?),
        None => None,
    };
    let total = select_tasks(store.conn(), &selection)?;
    let to_stdout = args.output.as_os_str() == "-";
    if format == ExportFormat::Parquet {
        if to_stdout {
            bail!("parquet export writes a folder of files; give one with -o DIR");
        }
        let written = match &target {
            Some(target) => {
                let tmp = temp_dir()?;
                write_parquet(store.conn(), tmp.path())?;
                target.upload_folder(tmp.path())?
            }
            None => {
                write_parquet(store.conn(), &args.output)?;
                args.output.display().to_string()
            }
        };
        eprintln!("exported {total} tasks to {written}");
        return Ok(());
    }
    if to_stdout {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        write_export(store.conn(), format, args.dialect, &urls, total, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    let write = |path: &Path| {
        write_file(path, |out| write_export(store.conn(), format, args.dialect, &urls, total, out))
    };
    let written = match &target {
        Some(target) => {
            let tmp = temp_dir()?;
            let file = tmp.path().join("export");
            write(&file)?;
            target.upload_file(&file)?
        }
        None => {
            write(&args.output)?;
            args.output.display().to_string()
        }
    };
    eprintln!("exported {total} tasks to {written}");
    Ok(())
}
