//! Label Studio 1.x's storage URI routes, `/tasks/{id}/resolve/?fileuri=...` and
//! `/projects/{id}/resolve/?fileuri=...` (and their older `/presign/` names): the bucket URI
//! (base64, or plain) of a task's data is answered with a 303 redirect to a presigned URL,
//! made on the fly. Only URIs that a task references, in buckets that a storage definition
//! names, are resolved.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use duckdb::{Connection, OptionalExt};

use super::files::{self, Refusal};
use super::params::Params;
use super::referenced::Referenced;
use super::{Served, is_this_project, json, not_found, on_store, refusal};
use crate::bucket::Bucket;
use crate::bucket::presign::{lifetime, presign};
use crate::bucket::url::parse_object_uri;
use crate::store::storages::naming;

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
    referenced: &Referenced,
    task: Option<i64>,
    uri: &str,
) -> Result<Result<Resolved, Refusal>> {
    let Some((provider, bucket, key)) = parse_object_uri(uri) else {
        return Ok(Err(Refusal::new(404, "fileuri is not an s3://, gs:// or azure-blob:// URI")));
    };
    // A string value of the task's data (one row by its key), or of any task's (the set).
    let is_referenced = match task {
        Some(id) => conn
            .query_row("SELECT data::VARCHAR FROM tasks WHERE id = ?", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .is_some_and(|data| Referenced::task_has_uri(&data, uri)),
        None => referenced.has_uri(uri),
    };
    if !is_referenced {
        return Ok(Err(Refusal::new(404, "no task of this project references that URI")));
    }
    let definitions = crate::store::storages::all(conn)?;
    let Some((url, def)) = naming(&definitions, provider, bucket) else {
        return Ok(Err(Refusal::new(
            404,
            "no storage of this project names that bucket; add one with `lsdb storage add`",
        )));
    };
    let bucket = Bucket::open(&url, &def.connect)?;
    if !def.is_presigning {
        return Ok(Ok(Resolved::Proxy(Box::new(bucket), key.to_string())));
    }
    let ttl = lifetime(def.presign_ttl)?;
    Ok(Ok(Resolved::Redirect(presign(&bucket, key, ttl)?, ttl)))
}

/// `/tasks/{id}/resolve/?fileuri=...`: a bucket URI of the task, as a presigned URL.
pub async fn task_uri(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    resolve_uri(state, Some(id), request).await
}

/// `/projects/{id}/resolve/?fileuri=...`: a bucket URI any task references.
pub async fn project_uri(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    resolve_uri(state, None, request).await
}

async fn resolve_uri(state: Arc<Served>, task: Option<i64>, request: Request) -> Response {
    let params = Params::of(request.uri());
    let Some(value) = params.value("fileuri") else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "detail": "fileuri is required" }),
        );
    };
    let uri = decode_fileuri(value);
    let sets = state.clone();
    let work = move |conn: &Connection, _: &std::path::Path| {
        let referenced = sets.referenced(conn)?;
        resolve(conn, &referenced, task, &uri)
    };
    match on_store(state, work).await {
        Ok(Ok(Resolved::Proxy(bucket, key))) => proxy_object(*bucket, key).await,
        Ok(Ok(Resolved::Redirect(url, ttl))) => {
            let Ok(location) = HeaderValue::from_str(&url) else {
                return not_found();
            };
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            let cache = format!("no-store, max-age={}", ttl.as_secs());
            if let Ok(cache) = HeaderValue::from_str(&cache) {
                response.headers_mut().insert(header::CACHE_CONTROL, cache);
            }
            response
        }
        Ok(Err(r)) => refusal(r),
        Err(answer) => answer,
    }
}

/// An object's bytes, read from the bucket on a thread of its own and streamed on.
async fn proxy_object(bucket: crate::bucket::Bucket, key: String) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    let name = std::path::PathBuf::from(&key);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut reader = match bucket.reader(&key) {
            Ok(reader) => {
                let _ = opened_tx.send(Ok(()));
                reader
            }
            Err(err) => {
                let _ = opened_tx.send(Err(format!("{err:#}")));
                return;
            }
        };
        let mut buf = vec![0u8; 1 << 18];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    let _ = tx.blocking_send(Err(err));
                    return;
                }
            }
        }
    });
    match opened_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(message)) => return refusal(Refusal { status: 404, message }),
        Err(_) => return not_found(),
    }
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut response = Body::from_stream(stream).into_response();
    let name = name.as_path();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(files::content_type(name)) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if files::is_active_content(name) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    response
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
