//! Folders and media files: walking a folder (sorted, recursive, never leaving it), the URL
//! Label Studio makes for a local file, and one task per media file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::task::{Receiver, Task};
use crate::error::InputError;

/// The files under `root`, sorted by path. Entries that cannot be read, symlinks that point
/// outside `root` and symlinked folders are reported on stderr, counted as skipped and left out.
pub fn walk_files(root: &Path, sink: &mut dyn Receiver) -> Result<Vec<PathBuf>> {
    let canonical_root =
        root.canonicalize().with_context(|| format!("reading folder {}", root.display()))?;
    let mut files = Vec::new();
    // Siblings are sorted by name. Their paths share the folder's, so their whole paths
    // compare as their names do, without taking each name out of its path again (walkdir's
    // `sort_by_file_name` parses both paths for every comparison: 7% of a 100k-file import).
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()));
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let place = err.path().map(|p| p.display().to_string()).unwrap_or_default();
                eprintln!("lsdb: warning: skipping {place}: {err}");
                sink.skip(1)?;
                continue;
            }
        };
        let path = entry.path();
        if entry.path_is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(&canonical_root) && target.is_file() => {}
                Ok(target) if target.is_dir() => {
                    eprintln!(
                        "lsdb: warning: skipping {}: symlinked folders are not followed",
                        path.display()
                    );
                    sink.skip(1)?;
                    continue;
                }
                Ok(_) => {
                    eprintln!(
                        "lsdb: warning: skipping {}: it links outside {}",
                        path.display(),
                        root.display()
                    );
                    sink.skip(1)?;
                    continue;
                }
                Err(err) => {
                    eprintln!("lsdb: warning: skipping {}: {err}", path.display());
                    sink.skip(1)?;
                    continue;
                }
            }
        } else if !entry.file_type().is_file() {
            continue;
        }
        files.push(path.to_path_buf());
    }
    Ok(files)
}

/// Why a file whose path is not UTF-8 text gets no task.
const NOT_UTF8: &str = "its name is not UTF-8 text, so no URL can name it (nor can Label \
                        Studio's); rename it";

/// The URL Label Studio 0.x serves a local file under (see `urls.rs`), for the file's
/// absolute path, which must be UTF-8 text.
pub fn local_file_url(host_url: &str, path: &Path) -> Result<String> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("finding the absolute path of {}", path.display()))?;
    if absolute.to_str().is_none() {
        return Err(InputError::file(path.display().to_string(), NOT_UTF8).into());
    }
    Ok(crate::fileurl::local_file_url(host_url, &absolute))
}

/// The local-file URLs of one import's media files. Files come folder by folder, so the
/// folder as given, and its absolute path encoded, are kept for the next file.
pub struct LocalUrls {
    host: String,
    folder: Option<PathBuf>,
    encoded: String,
    /// The working folder, read once (`std::path::absolute` reads it for every relative path).
    cwd: Option<PathBuf>,
}

impl LocalUrls {
    pub fn new(host_url: &str) -> LocalUrls {
        LocalUrls {
            host: host_url.trim_end_matches('/').to_string(),
            folder: None,
            encoded: String::new(),
            cwd: None,
        }
    }

    /// What `local_file_url` gives for `path`.
    pub fn url(&mut self, path: &Path) -> Result<String> {
        // A path whose last part is a name has the name of its absolute path, and the
        // absolute path of its folder as the folder of its absolute path (`absolute` only
        // drops `.` parts and joins the working folder).
        let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
            return local_file_url(&self.host, path);
        };
        let not_utf8 = || InputError::file(path.display().to_string(), NOT_UTF8);
        if self.folder.as_deref() != Some(folder) {
            let absolute = self.absolute(folder)?;
            let Some(text) = absolute.to_str() else { return Err(not_utf8().into()) };
            self.encoded = crate::fileurl::percent_encode(text, true);
            self.folder = Some(folder.to_path_buf());
        }
        let Some(name) = name.to_str() else { return Err(not_utf8().into()) };
        let name = crate::fileurl::percent_encode(name, false);
        let mut url = String::with_capacity(self.host.len() + name.len() + self.encoded.len() + 9);
        for part in [&self.host, "/data/", &name, "?d=", &self.encoded] {
            url.push_str(part);
        }
        Ok(url)
    }

    /// `std::path::absolute`, the working folder read once; an empty folder (a file name
    /// alone) is the working folder.
    fn absolute(&mut self, folder: &Path) -> Result<PathBuf> {
        if folder.is_absolute() {
            return std::path::absolute(folder)
                .with_context(|| format!("finding the absolute path of {}", folder.display()));
        }
        let cwd = match &self.cwd {
            Some(cwd) => cwd,
            None => self.cwd.insert(std::env::current_dir().context("finding the current folder")?),
        };
        if folder.as_os_str().is_empty() {
            return Ok(cwd.clone());
        }
        let joined = cwd.join(folder);
        std::path::absolute(&joined)
            .with_context(|| format!("finding the absolute path of {}", joined.display()))
    }
}

/// One task for one media file, its URL under `key`, its path as the source (`shown`, the
/// path as text).
pub fn push_media_file(
    path: &Path,
    shown: String,
    key: &str,
    urls: &mut LocalUrls,
    sink: &mut dyn Receiver,
) -> Result<()> {
    let url = urls.url(path)?;
    sink.push(Task::single_value(key, &url, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_folders_give_the_same_urls() -> Result<()> {
        let mut urls = LocalUrls::new("http://h:1/");
        for path in [
            "/a b/x.png",
            "/a b/y z.png",
            "/c/x.png",
            "/x.png",
            "rel/q.png",
            "./r/../s/./t.png",
            "q.png",
            "./q.png",
            "rel/./q.png",
            "rel/q.png",
            "/a b/./x.png",
            "/",
            "..",
            "r/..",
        ] {
            assert_eq!(urls.url(Path::new(path))?, local_file_url("http://h:1/", Path::new(path))?);
        }
        Ok(())
    }

    #[test]
    fn urls_are_label_studio_shaped() -> Result<()> {
        let url = local_file_url("http://localhost:8080/", Path::new("/data/my images/cat 1.JPG"))?;
        assert_eq!(url, "http://localhost:8080/data/cat%201.JPG?d=%2Fdata%2Fmy+images");
        Ok(())
    }
}
