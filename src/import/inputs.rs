//! An import's inputs: local paths checked and given their format, bucket URLs connected
//! and listed (before the import's transaction begins), and the notes a listing leaves.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::ImportOptions;
use crate::bucket::listing::{ListOptions, Listing};
use crate::bucket::{Bucket, BucketUrl};
use crate::error::InputError;
use crate::formats::{self, Format};

/// One input of an import: a local file or folder (or `-`), or the objects a bucket
/// listing chose.
#[derive(Debug, Clone)]
pub enum Input {
    Local(PathBuf, Format),
    Bucket(Box<BucketInput>),
}

/// A bucket and the objects of it to read.
#[derive(Debug, Clone)]
pub struct BucketInput {
    pub bucket: Bucket,
    pub listing: Listing,
    pub format: Option<Format>,
}

impl Input {
    /// The input as the user named it.
    pub fn name(&self) -> String {
        match self {
            Input::Local(path, _) => path.display().to_string(),
            Input::Bucket(b) => b.bucket.url.uri(&b.listing.prefix),
        }
    }

    /// The format's name, for the `imports` table.
    pub fn format_name(&self) -> &'static str {
        match self {
            Input::Local(_, format) => format.name(),
            Input::Bucket(b) => b.format.map_or("bucket", Format::name),
        }
    }
}

/// Check each path and settle its format; list the buckets named (before the import's
/// transaction: a listing that fails leaves nothing to undo).
pub(super) fn resolve_inputs(opts: &ImportOptions, notes: &mut Vec<String>) -> Result<Vec<Input>> {
    if opts.paths.is_empty() {
        bail!("nothing to import; give a file or folder, e.g. `lsdb import tasks.json`");
    }
    let mut inputs = Vec::new();
    for path in &opts.paths {
        let shown = path.display();
        if path.as_os_str() == "-" {
            inputs.push(Input::Local(path.clone(), opts.format.unwrap_or(Format::Json)));
            continue;
        }
        if let Some(url) = path.to_str().and_then(BucketUrl::parse) {
            let bucket = Bucket::open(&url?, &opts.connect)?;
            let list = ListOptions { format: opts.format, ..opts.listing.clone() };
            let listing = crate::bucket::listing::list(&bucket, &list)?;
            notes.extend(listing_notes(&bucket, &listing, &list));
            inputs.push(Input::Bucket(Box::new(BucketInput {
                bucket,
                listing,
                format: opts.format,
            })));
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                InputError::file(shown.to_string(), "no such file or folder")
            }
            _ => InputError::file(shown.to_string(), format!("can't read: {e}")),
        })?;
        let format = match opts.format {
            Some(f) => f,
            None => formats::guess_format(path)?,
        };
        if meta.is_dir() && !format.is_dir() {
            let hint = match format {
                Format::Json => " (use --format json-dir for a folder of JSON files)",
                Format::Text => " (use --format text-dir for a folder of text files)",
                Format::Csv | Format::Tsv => {
                    " (use --format timeseries-dir for a folder of time-series files)"
                }
                _ => "",
            };
            return Err(InputError::file(
                shown.to_string(),
                format!("is a folder, but --format {} reads a file{hint}", format.name()),
            )
            .into());
        }
        if !meta.is_dir() && format.is_dir() {
            return Err(InputError::file(
                shown.to_string(),
                format!(
                    "is a file, but --format {} reads a folder; give the folder that holds it",
                    format.name()
                ),
            )
            .into());
        }
        inputs.push(Input::Local(path.clone(), format));
    }
    Ok(inputs)
}

/// What a user should know about a listing: nothing read, subfolders not gone into.
pub fn listing_notes(bucket: &Bucket, listing: &Listing, list: &ListOptions) -> Vec<String> {
    let mut notes = Vec::new();
    let shown = bucket.url.uri(&listing.prefix);
    if listing.objects.is_empty() {
        let what = list.format.map_or("lsdb".to_string(), |f| format!("--format {}", f.name()));
        notes.push(format!("note: {shown} holds no objects that {what} reads"));
    }
    if listing.subfolders > 0 {
        notes.push(format!(
            "note: {shown} has {} subfolders that were not read (as in Label Studio, a \
             bucket is listed one level deep); add --recursive to read them",
            listing.subfolders
        ));
    }
    notes
}
