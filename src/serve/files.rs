//! The local files behind task URLs: which file a URL names, whether the project may serve
//! it, and the headers and byte range of the answer. Nothing here trusts the URL: a file is
//! served only when a task of the project references it by the URL lsdb wrote, its path has
//! no `..`, NUL or relative part, and, with symlinks resolved, it is still in its folder.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use duckdb::Connection;

use super::params::Params;
use crate::fileurl::percent_decode;
use crate::store::schema::meta;

/// The folder in a project where uploaded media files are kept (task URLs point at them).
pub const UPLOADS: &str = "uploads";

/// Why a file is not served: the HTTP status and the message for the body.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

impl Refusal {
    pub fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into() }
    }

    pub fn not_found() -> Refusal {
        Refusal::new(404, "no task of this project references that file")
    }
}

/// Whether a local-file request carries the signature `lsdb export --sign-urls T` writes
/// for it (`sig=`, over the decoded path and `d`), compared in constant time.
pub fn has_valid_signature(token: &str, path: &str, params: &Params) -> bool {
    let (Some(sig), Some(d), Some(route)) =
        (params.value("sig"), params.value("d"), percent_decode(path, false))
    else {
        return false;
    };
    if !route.starts_with("/data/") {
        return false;
    }
    let route = if route == "/data/local-files" { "/data/local-files/".to_string() } else { route };
    crate::fileurl::same_in_constant_time(&crate::fileurl::url_signature(token, &route, d), sig)
}

/// The file of `/data/<name>?d=<folder>` (the URL lsdb and Label Studio 0.x write). `name`
/// is the path segment as sent (still percent-encoded).
pub fn seed_form(name: &str, params: &Params) -> Result<PathBuf, Refusal> {
    let name = percent_decode(name, false).ok_or_else(Refusal::not_found)?;
    let folder = params.value("d").ok_or_else(|| {
        Refusal::new(404, "a local-file URL needs ?d=<folder>, as lsdb writes it")
    })?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Refusal::not_found());
    }
    checked(Path::new(folder).join(&name), true)
}

/// The file of `/data/local-files/?d=<path>` (Label Studio 1.x's form), relative to the
/// document root the server was given.
pub fn ls1_form(params: &Params, document_root: Option<&Path>) -> Result<PathBuf, Refusal> {
    let Some(root) = document_root else {
        return Err(Refusal::new(
            404,
            "/data/local-files/ URLs are relative to a document root: start lsdb serve with \
             --document-root DIR (the folder given to `lsdb export --document-root`)",
        ));
    };
    let relative = params.value("d").ok_or_else(Refusal::not_found)?;
    checked_relative(relative)?;
    checked(root.join(relative), true)
}

fn checked_relative(path: &str) -> Result<(), Refusal> {
    let path = Path::new(path);
    let is_plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    if path.as_os_str().is_empty()
        || !is_plain
        || path.components().collect::<PathBuf>().as_os_str() != path.as_os_str()
    {
        return Err(Refusal::not_found());
    }
    Ok(())
}

/// A path is served only when it is absolute and plain: no `..`, `.` or NUL.
fn checked(path: PathBuf, is_absolute_needed: bool) -> Result<PathBuf, Refusal> {
    let text = path.to_string_lossy();
    if text.contains('\0') || (is_absolute_needed && !path.is_absolute()) {
        return Err(Refusal::not_found());
    }
    let is_plain =
        path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    // `components()` passes over `.` and doubled separators: a path that reads differently
    // put back together is not plain either.
    if !is_plain || path.components().collect::<PathBuf>().as_os_str() != path.as_os_str() {
        return Err(Refusal::not_found());
    }
    Ok(path)
}

/// Whether the project was imported with `--allow-serving-local-files`.
pub fn allows_local_files(conn: &Connection) -> Result<bool> {
    Ok(meta(conn, "allow_serving_local_files")?.as_deref() == Some("true"))
}

/// The file to open: `path` with symlinks resolved, when that is still in the folder that
/// `path` names (a link out of it is not followed).
pub fn resolved(path: &Path) -> Result<PathBuf, Refusal> {
    let folder = path.parent().ok_or_else(Refusal::not_found)?;
    let (Ok(file), Ok(folder)) = (path.canonicalize(), folder.canonicalize()) else {
        return Err(Refusal::new(404, "no such file"));
    };
    if !file.starts_with(&folder) || !file.is_file() {
        return Err(Refusal::not_found());
    }
    Ok(file)
}

/// The media type for a file name, by its extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "txt" | "text" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "json" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Files a browser would run as a page (scripts in html, svg, xml): served in a sandbox.
pub fn is_active_content(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "html" | "htm" | "svg" | "xml" | "xhtml")
}

/// An entity tag from the file's size and modification time.
pub fn etag(len: u64, modified: Option<SystemTime>) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{len:x}-{nanos:x}\"")
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    /// No usable range: the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A range outside the file: 416.
    Unsatisfiable,
}

/// One `bytes=` range (a list of several is answered with the whole file, as RFC 9110
/// allows).
pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Whole };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        (true, _, Some(suffix)) if suffix > 0 && len > 0 => {
            Range::Part(len.saturating_sub(suffix), len - 1)
        }
        (true, _, _) => Range::Unsatisfiable,
        (false, Some(start), _) if start >= len => Range::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => Range::Part(start, len - 1),
        (false, Some(start), Some(end)) if end >= start => Range::Part(start, end.min(len - 1)),
        _ => Range::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters of a query string.
    fn q(query: &str) -> Params {
        Params::of(&format!("/?{query}").parse().unwrap())
    }

    #[test]
    fn urls_name_only_plain_absolute_paths() {
        assert_eq!(
            seed_form("cat%201.jpg", &q("d=%2Fdata%2Fmy+images")),
            Ok("/data/my images/cat 1.jpg".into())
        );
        for (name, query) in [
            ("..", "d=%2Fdata"),
            ("a.jpg", "d=%2Fdata%2F..%2Fetc"),
            ("a.jpg", "d=data"),
            ("a%2Fb.jpg", "d=%2Fdata"),
            ("a%00.jpg", "d=%2Fdata"),
            ("a.jpg", "d=%2Fdata%2F.%2Fx"),
            ("a.jpg", "x=1"),
        ] {
            assert!(seed_form(name, &q(query)).is_err(), "{name} {query}");
        }
        let root = Path::new("/srv/files");
        assert_eq!(ls1_form(&q("d=imgs%2Fa.png"), Some(root)), Ok("/srv/files/imgs/a.png".into()));
        assert!(ls1_form(&q("d=..%2Fetc%2Fpasswd"), Some(root)).is_err());
        assert!(ls1_form(&q("d=%2Fetc%2Fpasswd"), Some(root)).is_err());
        assert_eq!(ls1_form(&q("d=imgs%2Fa.png"), None).unwrap_err().status, 404);
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range(None, 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 10), Range::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=2-4"), 10), Range::Part(2, 4));
        assert_eq!(parse_range(Some("bytes=2-40"), 10), Range::Part(2, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Range::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Range::Whole);
    }
}
