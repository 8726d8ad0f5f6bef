//! Label Studio 1.x's storage URI routes, `/tasks/{id}/resolve/?fileuri=...` and
//! `/projects/{id}/resolve/?fileuri=...` (and their older `/presign/` names): the bucket URI
//! (base64, or plain) of a task's data is answered with a 303 redirect to a presigned URL,
//! made on the fly. Only URIs that a task references, in buckets that a storage definition
//! names, are resolved.

use std::time::Duration;

use anyhow::Result;
use duckdb::Connection;

use super::files::Refusal;
use crate::storage::presign::Presigner;
use crate::storage::url::parse_object_uri;
use crate::storage::{Bucket, Connect};

/// The URI a `fileuri` parameter names: URL-safe or standard base64, else the text itself
/// (Label Studio accepts both).
pub fn decode_fileuri(value: &str) -> String {
    let value = value.replace(' ', "+");
    match decode_base64(&value).and_then(|b| String::from_utf8(b).ok()) {
        Some(text) if text.contains("://") => text,
        _ => value,
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// How a URI is answered.
pub enum Resolved {
    /// A redirect to this presigned URL, which lives this long.
    Redirect(String, Duration),
    /// The object's bytes, streamed by lsdb (a storage defined with `--no-presign`).
    Proxy(Box<Bucket>, String),
}

/// How to answer for `uri`, or why not. `task` is `None` for the project route (any task
/// may reference the URI).
pub fn resolve(
    conn: &Connection,
    task: Option<i64>,
    uri: &str,
) -> Result<Result<Resolved, Refusal>> {
    let Some((provider, bucket, key)) = parse_object_uri(uri) else {
        return Ok(Err(Refusal::new(404, "fileuri is not an s3://, gs:// or azure-blob:// URI")));
    };
    // The URI as a JSON string, as task data holds it.
    let quoted = serde_json::Value::from(uri).to_string();
    let is_referenced: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tasks WHERE (id = ? OR ? IS NULL) AND contains(data::VARCHAR, ?))",
        duckdb::params![task, task, quoted],
        |r| r.get(0),
    )?;
    if !is_referenced {
        return Ok(Err(Refusal::new(404, "no task of this project references that URI")));
    }
    let definitions = crate::storage::sync::all(conn)?;
    let def = definitions.iter().find_map(|d| {
        let url = crate::storage::BucketUrl::parse(&d.url)?.ok()?;
        (url.provider == provider && url.bucket == bucket).then_some((url, d))
    });
    let Some((url, def)) = def else {
        return Ok(Err(Refusal::new(
            404,
            "no storage of this project names that bucket; add one with `lsdb storage add`",
        )));
    };
    if !def.is_presigning {
        let bucket = Bucket::open(&url, &def.connect)?;
        return Ok(Ok(Resolved::Proxy(Box::new(bucket), key.to_string())));
    }
    let ttl = Duration::from_secs(def.presign_ttl.clamp(1, 10_080) * 60);
    let presigner = Presigner::new(Connect::default(), definitions.clone(), None)?;
    match presigner.url(uri)? {
        Some(url) => Ok(Ok(Resolved::Redirect(url, ttl))),
        None => Ok(Err(Refusal::not_found())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fileuris_decode_as_label_studio_sends_them() {
        assert_eq!(decode_fileuri("czM6Ly9iL2sucG5n"), "s3://b/k.png");
        assert_eq!(decode_fileuri("czM6Ly9iL2sucG5n=="), "s3://b/k.png");
        assert_eq!(decode_fileuri("s3://b/k.png"), "s3://b/k.png");
        // URL-safe alphabet: "s3://b/?>" encodes with '-' and '_'.
        assert_eq!(decode_fileuri("czM6Ly9iLz8-"), "s3://b/?>");
    }
}
