//! URLs of local files in task data: the form lsdb writes at import (Label Studio 0.x's
//! `<host>/data/<name>?d=<folder>`), reading one back into a path, and rewriting them at
//! export to another host or to Label Studio 1.x's `/data/local-files/?d=<path>` form.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

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

/// What to do with local-file URLs at export.
#[derive(Debug, Clone, Default)]
pub struct UrlRewrite {
    /// A new scheme and host (`http://labels.example:8080`), or keep each URL's own.
    pub host: Option<String>,
    pub style: UrlStyle,
    /// Label Studio's `LOCAL_FILES_DOCUMENT_ROOT`: ls1 paths are relative to it.
    pub document_root: PathBuf,
    /// Bucket URIs (`s3://`, `gs://`, `azure-blob://`) become presigned URLs.
    pub presign: Option<std::sync::Arc<crate::storage::presign::Presigner>>,
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

/// The URL Label Studio 0.x serves a local file under:
/// `<host>/data/<basename, percent-encoded>?d=<absolute folder, form-encoded>`.
pub fn local_file_url(host_url: &str, path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let folder = path.parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    format!(
        "{}/data/{}?d={}",
        host_url.trim_end_matches('/'),
        percent_encode(&name, false),
        percent_encode(&folder, true)
    )
}

/// The host (`http://h:p`, or empty for a relative URL) and the file of a URL in lsdb's
/// local-file form.
pub fn parse_local_file_url(url: &str) -> Option<(&str, PathBuf)> {
    let start = if let Some(rest) = url.strip_prefix("http://").or(url.strip_prefix("https://")) {
        url.len() - rest.len() + rest.find('/')?
    } else {
        0
    };
    let (host, rest) = url.split_at(start);
    let rest = rest.strip_prefix("/data/")?;
    let (name, folder) = rest.split_once("?d=")?;
    if name.is_empty() || name.contains('/') || folder.is_empty() {
        return None;
    }
    let name = percent_decode(name, false)?;
    let folder = percent_decode(folder, true)?;
    if !folder.starts_with('/') {
        return None;
    }
    Some((host, Path::new(&folder).join(name)))
}

/// The signature of a local-file URL for `lsdb serve --token T`: HMAC-SHA256 keyed by the
/// token over the URL's decoded path and its decoded `d` value, in hex. It opens only the
/// file that URL names.
pub fn url_signature(token: &str, route: &str, d: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(route.as_bytes());
    mac.update(b"\n");
    mac.update(d.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two secrets are equal, in a time that does not depend on where they differ.
pub fn same_in_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-encode all but unreserved characters; with `is_form`, a space becomes `+`.
pub fn percent_encode(text: &str, is_form: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if is_form => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

/// Undo `percent_encode`; `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str, is_form: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
                continue;
            }
            b'+' if is_form => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
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
