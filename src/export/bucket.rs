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

    /// Upload every file of the written folder under the prefix.
    pub fn upload_folder(&self, local: &Path) -> Result<String> {
        let mut names: Vec<_> = std::fs::read_dir(local)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            self.bucket.upload(&local.join(&name), &format!("{}{name}", self.key))?;
        }
        Ok(self.bucket.url.uri(&self.key))
    }
}

/// A new temp folder (a random name, made exclusively), removed when dropped.
pub fn temp_dir() -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("lsdb-export-").tempdir()?)
}
