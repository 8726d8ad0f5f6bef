//! Where a task's image is, as the converter names it in `images/`, and (`--with-images`)
//! putting it there.
//!
//! The converter (run with no Label Studio host, as `Converter(config, dir,
//! download_resources=False)`) keeps a path that exists on disk as it is; keeps a Label
//! Studio upload, local-storage URL (`/data/local-files/?d=`) or bucket URI as it is (it cannot
//! reach them); and names anything else `images/<first 8 hex digits of md5(url)>__<file name
//! of the URL's path>`, whether or not it downloaded it. With `--with-images` lsdb puts the
//! file under that name: local files lsdb made the URL for are hard-linked (or copied),
//! bucket objects fetched (a bucket URI is then named like a downloaded file, as the converter
//! names it when it can reach the bucket). Other URLs are counted and left out.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use md5::{Digest, Md5};

use crate::bucket::Buckets;

/// The folder of images inside the export.
pub const IMAGES: &str = "images";

/// Puts images into the export folder and names them.
pub struct Media {
    /// The export folder being written.
    dir: PathBuf,
    /// `--with-images`: the buckets to fetch objects from.
    buckets: Option<Buckets>,
    /// Images `--with-images` could not place.
    pub not_copied: u64,
}

impl Media {
    /// `buckets` with `--with-images`, else `None`.
    pub fn new(dir: &Path, buckets: Option<Buckets>) -> Media {
        Media { dir: dir.to_path_buf(), buckets, not_copied: 0 }
    }

    /// The name the converter writes for the image `url`, after placing the image (with
    /// `--with-images`).
    pub fn place(&mut self, url: &str) -> Result<String> {
        if Path::new(url).exists() {
            return Ok(url.to_string());
        }
        let is_cloud = is_cloud(url);
        if is_kept(url) && !(self.buckets.is_some() && is_cloud) {
            return Ok(url.to_string());
        }
        let name = cached_name(url, if is_cloud { url } else { url_path(url) });
        if self.buckets.is_some() {
            let target = self.dir.join(&name);
            if !target.exists() && !self.fetch(url, &target)? {
                self.not_copied += 1;
                if is_cloud {
                    return Ok(url.to_string());
                }
            }
        }
        Ok(name)
    }

    /// Width and height of the image the export names `name`, when it is there and readable.
    pub fn size(&self, name: &str) -> Option<(u64, u64)> {
        // Without --with-images the export holds no image: only a path that exists (kept as
        // it is, so absolute when it opens from the export folder) can be read.
        if self.buckets.is_none() && !name.starts_with('/') {
            return None;
        }
        let size = imagesize::size(self.dir.join(name)).ok()?;
        Some((size.width as u64, size.height as u64))
    }

    /// Put the image `url` at `target`; false when lsdb cannot read it.
    fn fetch(&mut self, url: &str, target: &Path) -> Result<bool> {
        let object = match &self.buckets {
            Some(buckets) => buckets.object(url)?,
            None => None,
        };
        if let Some((bucket, key)) = object {
            let mut reader = bucket.reader(key)?;
            std::fs::create_dir_all(self.dir.join(IMAGES))?;
            let mut file = std::fs::File::create(target)
                .with_context(|| format!("writing {}", target.display()))?;
            std::io::copy(&mut reader, &mut file).with_context(|| format!("downloading {url}"))?;
            return Ok(true);
        }
        let Some((_, source)) = crate::fileurl::parse_local_file_url(url) else { return Ok(false) };
        if !source.is_file() {
            return Ok(false);
        }
        std::fs::create_dir_all(self.dir.join(IMAGES))?;
        if std::fs::hard_link(&source, target).is_err() {
            std::fs::copy(&source, target)
                .with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        }
        Ok(true)
    }
}

/// URLs the converter cannot resolve without a Label Studio host, and keeps as they are.
fn is_kept(url: &str) -> bool {
    let path = url_path(url);
    url.starts_with("upload")
        || url.starts_with("/upload")
        || url.starts_with("/data/upload")
        || (url.starts_with("/data/") && url.contains("?d="))
        || is_cloud(url)
        || path.starts_with("/storage-data/uploaded")
        || path.starts_with("storage-data/uploaded")
}

/// A bucket URI, as the converter tells them.
fn is_cloud(url: &str) -> bool {
    ["s3:", "gs:", "azure-blob:"].iter().any(|p| url.starts_with(p))
}

/// `images/<md5(key)[..8]>__<basename(path)>`.
fn cached_name(key: &str, path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(key.as_bytes());
    let name = basename(path);
    let mut out = String::with_capacity(IMAGES.len() + 11 + name.len());
    out.push_str(IMAGES);
    out.push('/');
    for b in &digest[..4] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out.push_str("__");
    out.push_str(name);
    out
}

/// Python's `urlparse(url).path`: without the scheme, the `//netloc`, the query, the fragment
/// and the `;params` of the last segment.
pub fn url_path(url: &str) -> &str {
    let mut rest = url;
    if let Some(colon) = rest.find(':') {
        let scheme = &rest[..colon];
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if is_scheme {
            rest = &rest[colon + 1..];
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        rest = &after[end..];
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = &rest[..end];
    let last = path.rfind('/').map_or(0, |i| i + 1);
    match path[last..].find(';') {
        Some(i) => &path[..last + i],
        None => path,
    }
}

/// Python's `os.path.basename`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Python's `os.path.splitext(name)[0]`: the name without its last extension (a leading dot
/// starts no extension).
pub fn stem(name: &str) -> &str {
    let base = basename(name);
    let leading = base.len() - base.trim_start_matches('.').len();
    match base[leading..].rfind('.') {
        Some(i) => &name[..name.len() - base.len() + leading + i],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_converter() {
        assert_eq!(url_path("http://h:8080/data/B.JPG?d=%2Fx"), "/data/B.JPG");
        assert_eq!(url_path("http://h/a/b.jpg;v=1#f"), "/a/b.jpg");
        assert_eq!(url_path("pics/a.png?x"), "pics/a.png");
        assert_eq!(basename("/a/b.c"), "b.c");
        assert_eq!(stem("images/ab__x.tar.gz"), "images/ab__x.tar");
        assert_eq!(stem(".hidden"), ".hidden");
        assert_eq!(stem("a/..b.c"), "a/..b");
        // hashlib.md5(b"http://example.com/1.jpg").hexdigest()[:8]
        let name = cached_name("http://example.com/1.jpg", url_path("http://example.com/1.jpg"));
        assert_eq!(name, "images/52ede693__1.jpg");
        assert!(is_kept("/data/local-files/?d=a/b.png"));
        assert!(is_kept("s3://b/k.png"));
        assert!(is_kept("/data/upload/1/x.png"));
        assert!(!is_kept("http://h/data/x.png?d=%2Fy"));
    }
}
