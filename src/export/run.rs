//! One export, as `lsdb export` and the shell's `.export` run it: choose the tasks, then
//! write them to standard output, a file (renamed into place when whole), a parquet folder,
//! or a bucket (written in a temp folder, then uploaded).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};

use super::bucket::{BucketTarget, temp_dir};
use super::{Dialect, ExportFormat, Presign, Selection, UrlRewrite, select_tasks, write_export};
use super::{write_file, write_parquet};
use crate::bucket::presign::{Presigner, lifetime};
use crate::bucket::{BucketUrl, Connect};
use crate::store::Store;
use crate::store::storages;

/// What to export and where.
#[derive(Debug, Clone, Default)]
pub struct ExportJob {
    pub format: ExportFormat,
    pub dialect: Dialect,
    pub urls: UrlRewrite,
    pub selection: Selection,
    /// A file, a folder (parquet), a bucket URL, or `-` for standard output.
    pub output: PathBuf,
    /// How to reach a bucket named by `output`.
    pub connect: Connect,
}

/// Presigns bucket URIs for `ttl_minutes`, through the connection of the storage that
/// names each bucket, else `connect`.
pub fn presigner(store: &Store, connect: &Connect, ttl_minutes: u64) -> Result<Arc<dyn Presign>> {
    let ttl = lifetime(ttl_minutes)?;
    let named = storages::bucket_connections(&storages::all(store.conn())?);
    Ok(Arc::new(Presigner::new(connect.clone(), named, ttl)))
}

impl Presign for Presigner {
    fn url(&self, uri: &str) -> Result<Option<String>> {
        Presigner::url(self, uri)
    }
}

/// Run the export; returns how many tasks it wrote and where, or `None` for standard output.
pub fn run_export(store: &Store, job: &ExportJob) -> Result<(u64, Option<String>)> {
    let is_parquet = job.format == ExportFormat::Parquet;
    let target = match job.output.to_str().and_then(BucketUrl::parse) {
        Some(url) => Some(BucketTarget::new(url?, &job.connect, is_parquet)?),
        None => None,
    };
    let total = select_tasks(store.conn(), &job.selection)?;
    let to_stdout = job.output.as_os_str() == "-";
    if is_parquet {
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
                write_parquet(store.conn(), &job.output)?;
                job.output.display().to_string()
            }
        };
        return Ok((total, Some(written)));
    }
    let write_to = |out: &mut dyn Write| {
        write_export(store.conn(), job.format, job.dialect, &job.urls, total, out)
    };
    if to_stdout {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        write_to(&mut out)?;
        out.flush()?;
        return Ok((total, None));
    }
    let write = |path: &Path| write_file(path, write_to);
    let written = match &target {
        Some(target) => {
            let tmp = temp_dir()?;
            let file = tmp.path().join("export");
            write(&file)?;
            target.upload_file(&file)?
        }
        None => {
            write(&job.output)?;
            job.output.display().to_string()
        }
    };
    Ok((total, Some(written)))
}
