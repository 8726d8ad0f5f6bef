//! Local files: `/data/<name>?d=<folder>` (lsdb's and Label Studio 0.x's form) and
//! `/data/local-files/?d=<path>` (1.x's), served when a task references exactly that file,
//! with ranges, ETags and content types.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::files::{self, Range, Refusal};
use super::params::Params;
use super::{Served, json, on_store, refusal};

/// `/data/<name>?d=<folder>` and `/data/local-files/?d=<path>`.
pub async fn local_file(State(state): State<Arc<Served>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let params = Params::of(request.uri());
    let named = if path == "/data/local-files" || path == "/data/local-files/" {
        files::ls1_form(&params, state.opts.document_root.as_deref())
    } else if let Some(name) = path.strip_prefix("/data/") {
        files::seed_form(name, &params)
    } else {
        return json(StatusCode::NOT_FOUND, serde_json::json!({ "detail": "not found" }));
    };
    let file = match named {
        Ok(file) => file,
        Err(r) => return refusal(r),
    };
    // The sets in memory are current (the usual case): a lookup, on this thread.
    if let Some(referenced) = state.referenced.fresh(&state.store) {
        return match referenced.check_allowed(&state.opts.project, &file) {
            Ok(file) => send_file(&file, request.headers()).await,
            Err(r) => refusal(r),
        };
    }
    let sets = state.clone();
    let checked = on_store(state, move |conn, project| {
        let referenced = sets.referenced(conn)?;
        Ok(referenced.check_allowed(project, &file))
    })
    .await;
    match checked {
        Ok(Ok(file)) => send_file(&file, request.headers()).await,
        Ok(Err(r)) => refusal(r),
        Err(answer) => answer,
    }
}

async fn send_file(path: &Path, request: &HeaderMap) -> Response {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return refusal(Refusal { status: 404, message: "no such file".into() });
    };
    let Ok(meta) = file.metadata().await else {
        return refusal(Refusal { status: 404, message: "no such file".into() });
    };
    let len = meta.len();
    let modified = meta.modified().ok();
    let etag = files::etag(len, modified);
    let mut headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, files::content_type(path));
    set(header::ACCEPT_RANGES, "bytes");
    set(header::ETAG, &etag);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(modified) = modified {
        set(header::LAST_MODIFIED, &httpdate::fmt_http_date(modified));
    }
    if files::is_active_content(path) {
        set(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        );
    }
    let if_none_match = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let range = request.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match files::parse_range(range, len) {
        Range::Whole => (StatusCode::OK, 0, len.saturating_sub(1)),
        Range::Part(start, end) => {
            set(header::CONTENT_RANGE, &format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
        Range::Unsatisfiable => {
            set(header::CONTENT_RANGE, &format!("bytes */{len}"));
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    let size = if len == 0 { 0 } else { end - start + 1 };
    set(header::CONTENT_LENGTH, &size.to_string());
    if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return refusal(Refusal { status: 404, message: "no such file".into() });
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(size)));
    (status, headers, body).into_response()
}
