//! One export, as `lsdb export` and the shell's `.export` run it: choose the tasks, then
//! write them to standard output, a file (renamed into place when whole), a parquet folder,
//! or a bucket (written in a temp folder, then uploaded).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::bucket::{BucketTarget, temp_dir};
use super::training::{TrainingOptions, write_training};
use super::{Dialect, ExportFormat, Presign, Selection, UrlRewrite, select_tasks, write_export};
use super::{write_file, write_parquet};
use crate::bucket::presign::{Presigner, lifetime};
use crate::bucket::{BucketUrl, Buckets, Connect};
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
    /// The training formats' options (`--source`, `--with-images`).
    pub training: TrainingOptions,
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    pub tasks: u64,
    /// Where, or `None` for standard output.
    pub written: Option<String>,
    /// What it left out and why, for stderr.
    pub notes: Vec<String>,
}

/// Presigns bucket URIs for `ttl_minutes`, through the connection of the storage that
/// names each bucket, else `connect`.
pub fn presigner(store: &Store, connect: &Connect, ttl_minutes: u64) -> Result<Arc<dyn Presign>> {
    let ttl = lifetime(ttl_minutes)?;
    Ok(Arc::new(Presigner::new(buckets(store, connect)?, ttl)))
}

/// The buckets task data names, each reached through the storage that names it, else
/// `connect`.
fn buckets(store: &Store, connect: &Connect) -> Result<Buckets> {
    let named = storages::bucket_connections(&storages::all(store.conn())?);
    Ok(Buckets::new(connect.clone(), named))
}

impl Presign for Presigner {
    fn url(&self, uri: &str) -> Result<Option<String>> {
        Presigner::url(self, uri)
    }
}

/// Run the export: how many tasks it wrote, where, and notes on what it left out.
pub fn run_export(store: &Store, job: &ExportJob) -> Result<Exported> {
    let is_folder = job.format.is_folder();
    let target = match job.output.to_str().and_then(BucketUrl::parse) {
        Some(url) => Some(BucketTarget::new(url?, &job.connect, is_folder)?),
        None => None,
    };
    let to_stdout = job.output.as_os_str() == "-";
    if job.format.is_training() {
        let format = job.format;
        if to_stdout {
            bail!("{} export writes a folder of files; give one with -o DIR", format.name());
        }
        if job.training.with_images && !format.takes_images() {
            bail!("--with-images goes with coco, yolo and yolo-obb, not {}", format.name());
        }
        if target.is_none() {
            check_new_folder(&job.output)?;
        }
        let total = select_tasks(store.conn(), &job.selection)?;
        return export_training(store, job, format, total, target.as_ref());
    }
    let total = select_tasks(store.conn(), &job.selection)?;
    if job.format == ExportFormat::Parquet {
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
        return Ok(Exported { tasks: total, written: Some(written), notes: Vec::new() });
    }
    let write_to = |out: &mut dyn Write| {
        write_export(store.conn(), job.format, job.dialect, &job.urls, total, out)
    };
    if to_stdout {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        write_to(&mut out)?;
        out.flush()?;
        return Ok(Exported { tasks: total, written: None, notes: Vec::new() });
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
    Ok(Exported { tasks: total, written: Some(written), notes: Vec::new() })
}

/// A training export: written into a new temp folder (beside `-o DIR`, or anywhere for a
/// bucket), then renamed to DIR (or uploaded) only when whole.
fn export_training(
    store: &Store,
    job: &ExportJob,
    format: ExportFormat,
    total: u64,
    target: Option<&BucketTarget>,
) -> Result<Exported> {
    let tmp = match target {
        Some(_) => temp_dir()?,
        None => {
            let parent =
                job.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let name = job
                .output
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A folder's usual mode (0777 less the umask), not a temp folder's 0700.
            let prefix = format!(".{name}.lsdb-partial-");
            let mut builder = tempfile::Builder::new();
            builder.prefix(&prefix);
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o777));
            builder
                .tempdir_in(parent)
                .with_context(|| format!("creating a folder beside {}", job.output.display()))?
        }
    };
    // --with-images fetches bucket objects through the store's storage definitions.
    let buckets = if job.training.with_images { Some(buckets(store, &job.connect)?) } else { None };
    let summary =
        write_training(store.conn(), format, &job.training, buckets, &job.urls, total, tmp.path())?;
    let written = match target {
        Some(target) => target.upload_folder(tmp.path())?,
        None => {
            let kept = tmp.keep();
            if let Err(err) = std::fs::rename(&kept, &job.output) {
                let _ = std::fs::remove_dir_all(&kept);
                return Err(err)
                    .with_context(|| format!("renaming the export to {}", job.output.display()));
            }
            job.output.display().to_string()
        }
    };
    Ok(Exported { tasks: summary.tasks, written: Some(written), notes: summary.notes })
}

/// `-o DIR` of a training export must not exist, or be an empty folder: the export is renamed
/// to it when whole (a rename replaces an empty folder), and never mixes with or replaces
/// files already there.
fn check_new_folder(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            bail!(
                "{} is a file; a training export writes a new folder: name one that does not exist",
                dir.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; a training export writes a new folder: remove it or name another",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}
