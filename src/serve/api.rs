//! Label Studio's import API and the routes its SDK needs around it: the import (a JSON body
//! or uploaded files, streamed to a temp folder, then `lsdb import`'s own all-or-nothing
//! code), the project, its tasks page by page, and the export. The project is id 1.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{Served, json};
use crate::export::{Dialect, ExportFormat, Selection, select_tasks, write_export};
use crate::import::{Format, ImportOptions, run_import};
use crate::store::Store;
use crate::urls::UrlRewrite;

/// Where one request's uploads wait for the import; removed when dropped.
struct Uploads {
    dir: PathBuf,
}

impl Uploads {
    fn new() -> Result<Uploads> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lsdb-upload-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("making {}", dir.display()))?;
        Ok(Uploads { dir })
    }

    /// A path for an uploaded file: its own name's last part, made unique.
    fn path_for(&self, name: &str, n: usize) -> PathBuf {
        let base = Path::new(name).file_name().and_then(|b| b.to_str()).unwrap_or("upload");
        let clean: String = base
            .chars()
            .map(|c| if c.is_alphanumeric() || "._- ".contains(c) { c } else { '_' })
            .collect();
        let clean = clean.trim_start_matches('.');
        let clean = if clean.is_empty() { "upload" } else { clean };
        let path = self.dir.join(clean);
        if path.exists() { self.dir.join(format!("{n}-{clean}")) } else { path }
    }

    /// The message without this folder, so it names the file as it was sent.
    fn plain(&self, message: &str) -> String {
        message.replace(&format!("{}/", self.dir.display()), "")
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Label Studio's 400 body: `detail` and `validation_errors.non_field_errors`.
fn bad_request(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({
            "status_code": 400,
            "detail": message,
            "validation_errors": { "non_field_errors": [message] },
        }),
    )
}

/// `POST /api/projects/{id}/import` (and 0.x's `/api/project/import`).
pub async fn import(served: std::sync::Arc<Served>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or("").to_string();
    let uploads = match Uploads::new() {
        Ok(u) => u,
        Err(err) => {
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "detail": format!("{err:#}") }),
            );
        }
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_body = !content_type.starts_with("multipart/form-data");
    let received = if content_type.starts_with("multipart/form-data") {
        match Multipart::from_request(request, &()).await {
            Ok(multipart) => save_parts(multipart, &uploads).await,
            Err(err) => Err(anyhow::anyhow!("the multipart body can't be read: {err}")),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_urls(request.into_body()).await.map(|urls| (Vec::new(), urls))
    } else {
        save_body(request.into_body(), &uploads.path_for("tasks.json", 0))
            .await
            .map(|p| (vec![p], Vec::new()))
    };
    let (files, urls) = match received {
        Ok((files, urls)) if files.is_empty() && urls.is_empty() => {
            return bad_request("no files in the request");
        }
        Ok(received) => received,
        Err(err) => return bad_request(&uploads.plain(&format!("{err:#}"))),
    };
    if !urls.is_empty() && !served.opts.allow_url_import {
        return bad_request(
            "importing from a URL (url=...) is off: start lsdb serve with --allow-url-import, or \
             download the file and upload it",
        );
    }
    let is_returning_ids = super::files::query_flag(&query, "return_task_ids");
    // As Label Studio: `commit_to_project=false` reads and counts, and keeps nothing.
    let is_dry_run = super::files::query_flag_off(&query, "commit_to_project");
    // Given as a list (`?f=a&f=b`, the SDK) or joined by commas (`?f=a,b`, its legacy client).
    let preannotated: Vec<String> = super::files::query_values(&query, "preannotated_from_fields")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let outcome = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = served.importing.lock();
        let fetched = urls.iter().map(|url| fetch(url, &uploads)).collect::<Result<Vec<_>>>();
        let files = fetched.map(|mut fetched| {
            fetched.splice(0..0, files);
            fetched
        });
        let result = files.and_then(|files| keep_media(&served.opts.project, files)).and_then(
            |(files, kept)| {
                let answer = Answer { is_body, is_returning_ids, is_dry_run, preannotated };
                // Beside the shell of `lsdb start`, through a connection of its own to the shell's
                // database; else the store is opened for this import.
                let store = match &served.shared {
                    Some(conn) => conn
                        .lock()
                        .map_err(|_| anyhow::anyhow!("the store's connection failed"))?
                        .try_clone()
                        .map(|conn| Store::beside(conn, &served.opts.project))
                        .map_err(anyhow::Error::from),
                    None => Store::open(&served.opts.project),
                };
                let result = store.and_then(|store| import_files(&store, &files, answer));
                if result.is_err() || is_dry_run {
                    // All or nothing: the media files of a failed import go too.
                    for file in kept {
                        let _ = std::fs::remove_file(file);
                    }
                }
                result
            },
        );
        (result, uploads)
    })
    .await;
    match outcome {
        Ok((Ok(body), _)) => json(StatusCode::CREATED, body),
        Ok((Err(err), uploads)) => bad_request(&uploads.plain(&format!("{err:#}"))),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "detail": "the import failed" }),
        ),
    }
}

/// The folder in a project where uploaded media files are kept (task URLs point at them).
pub const UPLOADS: &str = "uploads";

/// Uploaded images, audio and video are the tasks' data: move them from the temp folder to
/// the project's `uploads/` (unique names), where they stay and are served. Returns the
/// files to import and the media files kept.
fn keep_media(project: &Path, files: Vec<PathBuf>) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut kept = Vec::new();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("upload").to_string();
        if crate::import::format::media_kind(&name).is_none() {
            out.push(file);
            continue;
        }
        let folder = std::path::absolute(project.join(UPLOADS))?;
        std::fs::create_dir_all(&folder).with_context(|| format!("making {}", folder.display()))?;
        let mut target = folder.join(&name);
        let mut n = 1;
        while target.exists() {
            target = folder.join(format!("{n}-{name}"));
            n += 1;
        }
        std::fs::rename(&file, &target)
            .or_else(|_| std::fs::copy(&file, &target).map(|_| ()))
            .with_context(|| format!("keeping {name} in {}", folder.display()))?;
        kept.push(target.clone());
        out.push(target);
    }
    Ok((out, kept))
}

/// The `url=` fields of a form-encoded body (a small one).
async fn form_urls(body: Body) -> Result<Vec<String>> {
    let bytes = axum::body::to_bytes(body, 1 << 20).await?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "url")
        .filter_map(|(_, v)| crate::urls::percent_decode(v, true))
        .collect())
}

/// The biggest file fetched for `url=`.
const MAX_FETCH: u64 = 200 << 20;

/// Download `url` into the uploads folder under the last part of its path. Only http and
/// https; redirects are followed by hand, five at most, and never to a private address
/// (loopback, private ranges, link-local): a URL from outside must not reach inside.
fn fetch(url: &str, uploads: &Uploads) -> Result<PathBuf> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(300)))
        .build()
        .into();
    let mut current = url.to_string();
    for hop in 0..=5 {
        let Some((scheme, rest)) = current.split_once("://") else {
            bail!("{current}: not a URL; give an http or https URL");
        };
        if !matches!(scheme, "http" | "https") {
            bail!("{current}: only http and https URLs are fetched");
        }
        if hop > 0 && is_private(scheme, rest)? {
            bail!(
                "{url} redirects to {current}, a private address; lsdb serve follows redirects \
                 only to public addresses"
            );
        }
        let mut answer =
            agent.get(&current).call().with_context(|| format!("fetching {current}"))?;
        let status = answer.status().as_u16();
        if (300..400).contains(&status) {
            let location = answer
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| anyhow::anyhow!("{current}: a redirect without a Location"))?;
            current = if location.contains("://") {
                location.to_string()
            } else if location.starts_with('/') {
                let host = rest.split('/').next().unwrap_or("");
                format!("{scheme}://{host}{location}")
            } else {
                bail!("{current}: redirects to {location:?}, which lsdb does not follow");
            };
            continue;
        }
        if status != 200 {
            bail!("{current}: the server answered {status}");
        }
        let path_part = rest.split(['?', '#']).next().unwrap_or("");
        let name = path_part.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("download");
        let name = crate::urls::percent_decode(name, false).unwrap_or_else(|| name.to_string());
        let path = uploads.path_for(&name, hop);
        let mut reader = answer.body_mut().with_config().limit(MAX_FETCH).reader();
        let mut out = std::fs::File::create(&path)?;
        std::io::copy(&mut reader, &mut out).map_err(|e| {
            anyhow::anyhow!("{current}: {e} (files fetched by URL are limited to 200 MB)")
        })?;
        return Ok(path);
    }
    bail!("{url}: more than 5 redirects")
}

/// Whether the host of `rest` (what follows `scheme://`) names a private address.
fn is_private(scheme: &str, rest: &str) -> Result<bool> {
    use std::net::{IpAddr, ToSocketAddrs};
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let default = if scheme == "https" { 443 } else { 80 };
    let addrs: Vec<std::net::SocketAddr> = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, port) = v6.split_once(']').unwrap_or((v6, ""));
        let port = port.trim_start_matches(':').parse().unwrap_or(default);
        (host.parse::<IpAddr>()?, port).to_socket_addrs()?.collect()
    } else {
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().unwrap_or(default)),
            None => (host_port, default),
        };
        (host, port).to_socket_addrs()?.collect()
    };
    Ok(addrs.iter().any(|a| match a.ip() {
        IpAddr::V4(ip) => {
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || (ip.octets()[0] == 100 && ip.octets()[1] & 0xC0 == 64)
        }
        IpAddr::V6(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_private() || v4.is_loopback())
        }
    }))
}

/// Each uploaded file, streamed to the uploads folder under its own name, and any `url`
/// fields.
async fn save_parts(
    mut multipart: Multipart,
    uploads: &Uploads,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let mut files = Vec::new();
    let mut urls = Vec::new();
    while let Some(mut field) = multipart.next_field().await? {
        let Some(name) = field.file_name().map(str::to_string) else {
            if field.name() == Some("url") {
                urls.push(field.text().await?);
            }
            continue;
        };
        let path = uploads.path_for(&name, files.len());
        let mut out = tokio::fs::File::create(&path).await?;
        while let Some(chunk) = field.chunk().await? {
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        files.push(path);
    }
    Ok((files, urls))
}

/// A JSON body, streamed to a file.
async fn save_body(body: Body, path: &Path) -> Result<PathBuf> {
    let mut out = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk?).await?;
    }
    out.flush().await?;
    Ok(path.to_path_buf())
}

/// How to answer an import.
struct Answer {
    /// The tasks came as a JSON body: Label Studio names formats and columns for uploaded
    /// files only.
    is_body: bool,
    is_returning_ids: bool,
    /// Nothing is kept (no ids to return, no columns to read back).
    is_dry_run: bool,
    /// Fields of flat tasks that become predictions.
    preannotated: Vec<String>,
}

/// Run the import (all or nothing) and answer as Label Studio does.
fn import_files(store: &Store, files: &[PathBuf], answer: Answer) -> Result<serde_json::Value> {
    let Answer { is_body, is_returning_ids, is_dry_run, preannotated } = answer;
    let opts = ImportOptions {
        paths: files.to_vec(),
        host_url: crate::import::DEFAULT_HOST_URL.to_string(),
        is_dry_run,
        preannotated_from_fields: preannotated,
        ..ImportOptions::default()
    };
    let summary = run_import(store, &opts)?;
    let conn = store.conn();
    let id = summary.import_id;
    let mut columns: Vec<String> = conn
        .prepare("SELECT DISTINCT unnest(json_keys(data)) AS k FROM tasks WHERE import_id = ? ORDER BY k")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut formats: Vec<String> = files
        .iter()
        .map(|f| {
            crate::import::format::extension(&f.display().to_string())
                .map(|e| format!(".{e}"))
                .unwrap_or_default()
        })
        .collect();
    formats.sort();
    formats.dedup();
    if is_body {
        formats.clear();
        columns.clear();
    }
    let could_be_list = files.iter().any(|f| {
        matches!(
            crate::import::format::guess_format(f),
            Ok(Format::Csv | Format::Tsv | Format::Text)
        )
    });
    let c = &summary.counts;
    let mut body = serde_json::json!({
        "task_count": c.tasks,
        "annotation_count": c.completions,
        "prediction_count": c.predictions,
        "duration": summary.seconds,
        "file_upload_ids": [],
        "could_be_tasks_list": could_be_list,
        "found_formats": formats,
        "data_columns": columns,
    });
    if is_returning_ids && !is_dry_run {
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM tasks WHERE import_id = ? ORDER BY id")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        body["task_ids"] = serde_json::json!(ids);
    }
    Ok(body)
}

/// `GET /api/projects/{id}`: the one project.
pub fn project(conn: &duckdb::Connection, dir: &Path) -> Result<serde_json::Value> {
    let xml: Option<String> =
        conn.query_row("SELECT xml FROM label_config WHERE id = 1", [], |r| r.get(0)).ok();
    let (tasks, annotations): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM completions)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let title = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "lsdb".to_string());
    Ok(serde_json::json!({
        "id": 1,
        "title": title,
        "label_config": xml.unwrap_or_else(|| "<View></View>".to_string()),
        "task_number": tasks,
        "num_tasks_with_annotations": annotations,
        "total_annotations_number": annotations,
    }))
}

/// One page of tasks, as Label Studio's `/api/tasks` lists them; `None` past the end.
pub fn tasks_page(
    conn: &duckdb::Connection,
    page: u64,
    size: u64,
) -> Result<Option<serde_json::Value>> {
    let total: i64 = conn.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))?;
    let total = total as u64;
    let first = (page.max(1) - 1).saturating_mul(size);
    if page > 1 && first >= total {
        return Ok(None);
    }
    let condition = format!("id IN (SELECT id FROM tasks ORDER BY id LIMIT {size} OFFSET {first})");
    let tasks = export_json(conn, Some(condition), None)?;
    let (annotations, predictions): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM completions), (SELECT count(*) FROM predictions)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Some(serde_json::json!({
        "total_annotations": annotations,
        "total_predictions": predictions,
        "total": total,
        "tasks": tasks,
    })))
}

/// Tasks as lsdb's export writes them (Label Studio 1.x's JSON).
pub fn export_json(
    conn: &duckdb::Connection,
    condition: Option<String>,
    limit: Option<u64>,
) -> Result<serde_json::Value> {
    let total = select_tasks(conn, &Selection { sample: None, limit, condition })?;
    let mut out = Vec::new();
    write_export(conn, ExportFormat::Json, Dialect::Ls1, &UrlRewrite::default(), total, &mut out)?;
    Ok(serde_json::from_slice(&out)?)
}
