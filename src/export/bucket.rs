//! Export to a bucket: the file (or parquet folder) is written locally first, in a temp
//! folder, then uploaded. An object appears only when its upload completes, so a failed
//! export leaves no half object (a parquet export's three files are uploaded one by one).

use std::path::Path;

use anyhow::{Result, bail};

use crate::bucket::{Bucket, BucketUrl, Connect};

/// Where a bucket export goes.
pub struct BucketTarget {
    bucket: Bucket,
    /// The object's key, or for parquet the folder's prefix ("" or ending in '/').
    key: String,
}

impl BucketTarget {
    /// The target of `-o URL`; `is_folder` for parquet, which writes three files.
    pub fn new(url: BucketUrl, connect: &Connect, is_folder: bool) -> Result<BucketTarget> {
        let mut key = url.path.clone();
        if is_folder {
            if !key.is_empty() && !key.ends_with('/') {
                key.push('/');
            }
        } else if key.is_empty() || key.ends_with('/') {
            bail!("{}: give the object's name, e.g. {}queue.json", url.uri(&key), url.uri(&key));
        }
        Ok(BucketTarget { bucket: Bucket::open(&url, connect)?, key })
    }

    /// Upload the one written file.
    pub fn upload_file(&self, local: &Path) -> Result<String> {
        self.bucket.upload(local, &self.key)?;
        Ok(self.bucket.url.uri(&self.key))
    }

    /// Upload every file of the written folder (and its subfolders: a training export's
    /// `labels/`, `images/`) under the prefix, in name order.
    pub fn upload_folder(&self, local: &Path) -> Result<String> {
        for entry in walkdir::WalkDir::new(local).sort_by_file_name() {
            let entry = entry?;
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = entry.path().strip_prefix(local)?;
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            self.bucket.upload(entry.path(), &format!("{}{}", self.key, name.join("/")))?;
        }
        Ok(self.bucket.url.uri(&self.key))
    }
}

/// A new temp folder (a random name, made exclusively), removed when dropped.
pub fn temp_dir() -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("lsdb-export-").tempdir()?)
}
