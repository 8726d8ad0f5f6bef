//! Rewriting URLs in task data at export: local-file URLs to another host or to Label
//! Studio 1.x's `/data/local-files/?d=<path>` form (signed for `lsdb serve --token`), and
//! bucket URIs to presigned URLs.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::fileurl::{local_file_url, parse_local_file_url, percent_encode, url_signature};
use crate::import::raw::RawObject;

/// How exported local-file URLs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UrlStyle {
    /// As imported: `<host>/data/<name>?d=<folder>` (Label Studio 0.x, `lsdb serve`)
    #[default]
    Lsdb,
    /// Label Studio 1.x local files: `<host>/data/local-files/?d=<path under the document root>`
    Ls1,
}

/// What turns a bucket URI into a presigned URL (`bucket::presign::Presigner`): `None` when
/// the text is not a bucket URI.
pub trait Presign: Send + Sync + std::fmt::Debug {
    fn url(&self, uri: &str) -> Result<Option<String>>;
}

/// What to do with local-file URLs at export.
#[derive(Debug, Clone, Default)]
pub struct UrlRewrite {
    /// A new scheme and host (`http://labels.example:8080`), or keep each URL's own.
    pub host: Option<String>,
    pub style: UrlStyle,
    /// Label Studio's `LOCAL_FILES_DOCUMENT_ROOT`: ls1 paths are relative to it.
    pub document_root: PathBuf,
    /// Bucket URIs (`s3://`, `gs://`, `azure-blob://`) become presigned URLs.
    pub presign: Option<std::sync::Arc<dyn Presign>>,
    /// The token of an `lsdb serve --token T`: local-file URLs get `&sig=`, which opens that
    /// one file (browsers load media in `<img>`, without the token's header).
    pub sign: Option<String>,
}

impl UrlRewrite {
    /// True when nothing would change.
    pub fn is_identity(&self) -> bool {
        self.host.is_none()
            && self.style == UrlStyle::Lsdb
            && self.presign.is_none()
            && self.sign.is_none()
    }

    /// The URL rewritten, or `None` when it is not a local-file URL lsdb made (or, with
    /// `presign`, a bucket URI).
    pub fn rewrite(&self, url: &str) -> Result<Option<String>> {
        if let Some(presign) = &self.presign
            && let Some(signed) = presign.url(url)?
        {
            return Ok(Some(signed));
        }
        if self.host.is_none() && self.style == UrlStyle::Lsdb && self.sign.is_none() {
            return Ok(None);
        }
        let Some((host, path)) = parse_local_file_url(url) else { return Ok(None) };
        let host = self.host.as_deref().unwrap_or(host).trim_end_matches('/');
        let signed = |url: String, route: &str, d: &str| match &self.sign {
            Some(token) => format!("{url}&sig={}", url_signature(token, route, d)),
            None => url,
        };
        Ok(Some(match self.style {
            UrlStyle::Lsdb => {
                let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                let folder = path.parent().map(|p| p.to_string_lossy()).unwrap_or_default();
                signed(local_file_url(host, &path), &format!("/data/{name}"), &folder)
            }
            UrlStyle::Ls1 => {
                let Ok(relative) = path.strip_prefix(&self.document_root) else {
                    bail!(
                        "{} is not under --document-root {}; give the folder Label Studio's \
                         LOCAL_FILES_DOCUMENT_ROOT names",
                        path.display(),
                        self.document_root.display()
                    );
                };
                let relative = relative.to_string_lossy();
                let encoded: Vec<String> =
                    relative.split('/').map(|part| percent_encode(part, false)).collect();
                let url = format!("{host}/data/local-files/?d={}", encoded.join("/"));
                signed(url, "/data/local-files/", &relative)
            }
        }))
    }

    /// A task's data (a JSON object as text) with its top-level local-file URLs rewritten;
    /// every other value kept as it was written.
    pub fn rewrite_data(&self, data: &str) -> Result<String> {
        if self.is_identity()
            || !(data.contains("/data/") || self.presign.is_some() && data.contains("://"))
        {
            return Ok(data.to_string());
        }
        let Some(object) = RawObject::parse(data) else { return Ok(data.to_string()) };
        let mut out = String::from("{");
        for (i, (key, value)) in object.members().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::from(key.as_ref()).to_string());
            out.push(':');
            let text = serde_json::from_str::<String>(value).ok();
            match text.map(|t| self.rewrite(&t)).transpose()?.flatten() {
                Some(url) => out.push_str(&serde_json::Value::from(url).to_string()),
                None => out.push_str(value),
            }
        }
        out.push('}');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn urls_go_round_and_are_rewritten() -> Result<()> {
        let path = Path::new("/data/my images/cat 1.JPG");
        let url = local_file_url("http://localhost:8080/", path);
        assert_eq!(url, "http://localhost:8080/data/cat%201.JPG?d=%2Fdata%2Fmy+images");
        assert_eq!(parse_local_file_url(&url), Some(("http://localhost:8080", path.to_path_buf())));
        let host = UrlRewrite { host: Some("https://ls.example".into()), ..UrlRewrite::default() };
        assert_eq!(
            host.rewrite(&url)?.as_deref(),
            Some("https://ls.example/data/cat%201.JPG?d=%2Fdata%2Fmy+images")
        );
        let ls1 = UrlRewrite {
            style: UrlStyle::Ls1,
            document_root: PathBuf::from("/data"),
            ..UrlRewrite::default()
        };
        assert_eq!(
            ls1.rewrite(&url)?.as_deref(),
            Some("http://localhost:8080/data/local-files/?d=my%20images/cat%201.JPG")
        );
        let outside = UrlRewrite { document_root: PathBuf::from("/elsewhere"), ..ls1.clone() };
        assert!(outside.rewrite(&url).unwrap_err().to_string().contains("not under"));
        assert_eq!(ls1.rewrite("http://x/data/local-files/?d=a.jpg")?, None);
        assert_eq!(ls1.rewrite("https://example.com/cat.jpg")?, None);
        let data = format!(r#"{{"image": "{url}", "n": 1.10}}"#);
        assert_eq!(
            ls1.rewrite_data(&data)?,
            r#"{"image":"http://localhost:8080/data/local-files/?d=my%20images/cat%201.JPG","n":1.10}"#
        );
        Ok(())
    }
}
