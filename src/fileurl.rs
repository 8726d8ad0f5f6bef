//! URLs of local files in task data, the form lsdb writes at import (Label Studio 0.x's
//! `<host>/data/<name>?d=<folder>`), reading one back into a path, their signatures for
//! `lsdb serve --token`, and the percent codec they are written with.

use std::path::{Path, PathBuf};

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
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    let mut mac = hmac::Context::with_key(&key);
    mac.update(route.as_bytes());
    mac.update(b"\n");
    mac.update(d.as_bytes());
    mac.sign().as_ref().iter().map(|b| format!("{b:02x}")).collect()
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

    /// The signature is HMAC-SHA256 in hex, as Python's `hmac.new(token, route + "\n" + d,
    /// sha256).hexdigest()` computes it: URLs signed before stay valid.
    #[test]
    fn signatures_are_hmac_sha256_of_the_route_and_folder() {
        assert_eq!(
            url_signature("secret-token", "/data/cat 1.png", "/data/my images"),
            "555dd3b8c3d5ae240f832dc9cdbaec0b5ccc784296afbb8616c648eaade535ad"
        );
        assert!(same_in_constant_time("abc", "abc"));
        assert!(!same_in_constant_time("abc", "abd"));
        assert!(!same_in_constant_time("abc", "ab"));
    }
}
