//! Label Studio's import API: `POST /api/projects/{id}/import` with a JSON body, uploaded
//! files, or `url=` fields. Uploads are streamed to a temp folder beside the store, media
//! files kept in the project's `uploads/`, then one import runs (all or nothing) and the
//! answer is Label Studio's.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::api::bad_request;
use super::fetch;
use super::files::UPLOADS;
use super::params::Params;
use super::{Served, json};
use crate::import::{Format, ImportOptions, run_import};
use crate::store::Store;

/// Where one request's uploads wait for the import: a folder with a random name, made
/// exclusively beside the store, removed when dropped (and, after a kill, by the next open
/// of the store).
struct Uploads {
    dir: tempfile::TempDir,
}

impl Uploads {
    fn new(project: &Path) -> Result<Uploads> {
        let dir = tempfile::Builder::new()
            .prefix(crate::store::UPLOAD_PREFIX)
            .tempdir_in(project)
            .with_context(|| format!("making a folder for the upload in {}", project.display()))?;
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
        let path = self.dir.path().join(clean);
        if path.exists() { self.dir.path().join(format!("{n}-{clean}")) } else { path }
    }

    /// The message without this folder, so it names the file as it was sent.
    fn plain(&self, message: &str) -> String {
        message.replace(&format!("{}/", self.dir.path().display()), "")
    }
}

/// `POST /api/projects/{id}/import` (and 0.x's `/api/project/import`).
pub async fn import(served: std::sync::Arc<Served>, request: Request) -> Response {
    let params = Params::of(request.uri());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_string();
    if !matches!(
        media_type.as_str(),
        "application/json" | "multipart/form-data" | "application/x-www-form-urlencoded"
    ) {
        // As Label Studio (Django REST framework); and a page of another site can send
        // text/plain without asking the browser's permission first.
        return json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            serde_json::json!({ "detail": format!(
                "Unsupported media type \"{media_type}\" in request: send tasks as \
                 Content-Type: application/json, or files as multipart/form-data"
            ) }),
        );
    }
    // A folder for the upload only once the request is one to take.
    let uploads = match Uploads::new(served.store.project()) {
        Ok(u) => u,
        Err(err) => {
            eprintln!("lsdb: serve: {err:#}");
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "detail": "the upload could not be saved; see the server's log" }),
            );
        }
    };
    // Not uploaded files: a JSON body (or url= fields), answered without formats and columns.
    let is_body = media_type != "multipart/form-data";
    let files = match receive(&served, request, &media_type, is_body, &uploads).await {
        Ok(files) => files,
        Err(answer) => return answer,
    };
    let answer = Answer {
        is_body,
        is_returning_ids: params.is_yes("return_task_ids"),
        // As Label Studio: `commit_to_project=false` reads and counts, and keeps nothing.
        is_dry_run: params.is_no("commit_to_project"),
        // Given as a list (`?f=a&f=b`, the SDK) or joined by commas (`?f=a,b`, its legacy
        // client).
        preannotated: params
            .values("preannotated_from_fields")
            .flat_map(|v| v.split(','))
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
    };
    let outcome = tokio::task::spawn_blocking(move || {
        crate::cancel::set_served(true);
        (import_kept(&served, files, answer), uploads)
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

/// The request's files, saved to the uploads folder: the body, the uploaded parts, and the
/// downloads of `url=` fields. A refusal is the answer.
async fn receive(
    served: &Served,
    request: Request,
    media_type: &str,
    is_body: bool,
    uploads: &Uploads,
) -> Result<Vec<PathBuf>, Response> {
    let received = match media_type {
        "multipart/form-data" => match Multipart::from_request(request, &()).await {
            Ok(multipart) => save_parts(multipart, uploads).await,
            Err(err) => Err(anyhow::anyhow!("the multipart body can't be read: {err}")),
        },
        "application/x-www-form-urlencoded" => {
            form_urls(request.into_body()).await.map(|urls| (Vec::new(), urls))
        }
        _ => save_body(request.into_body(), &uploads.path_for("tasks.json", 0))
            .await
            .map(|p| (vec![p], Vec::new())),
    };
    let (files, urls) = match received {
        Ok((files, urls)) if files.is_empty() && urls.is_empty() => {
            return Err(bad_request("no files in the request"));
        }
        Ok(received) => received,
        Err(err) => return Err(bad_request(&uploads.plain(&format!("{err:#}")))),
    };
    // As Label Studio: an empty list adds nothing and is refused.
    if is_body && !files.is_empty() && files.iter().all(|f| is_empty_list(f)) {
        return Err(bad_request("load_tasks: No tasks added (the body is an empty list)"));
    }
    if !urls.is_empty() && !served.opts.allow_url_import {
        return Err(bad_request(
            "importing from a URL (url=...) is off: start lsdb serve with --allow-url-import, or \
             download the file and upload it",
        ));
    }
    fetch_all(files, &urls, uploads, served.opts.allow_private_urls)
        .await
        .map_err(|err| bad_request(&uploads.plain(&format!("{err:#}"))))
}

/// Keep the media files, then import everything through a connection of its own to the
/// store the server holds (imports run one at a time, `Store::import_lock`). All or
/// nothing: the media files of a failed import (or a dry run) go too.
fn import_kept(served: &Served, files: Vec<PathBuf>, answer: Answer) -> Result<serde_json::Value> {
    let (files, kept) = keep_media(&served.opts.project, files)?;
    let is_dry_run = answer.is_dry_run;
    let result = served.store.store().and_then(|store| import_files(&store, &files, answer));
    if result.is_err() || is_dry_run {
        for file in kept {
            let _ = std::fs::remove_file(file);
        }
    }
    result
}

/// The uploaded files, then the files downloaded for `url=` fields.
async fn fetch_all(
    mut files: Vec<PathBuf>,
    urls: &[String],
    uploads: &Uploads,
    is_private_ok: bool,
) -> Result<Vec<PathBuf>> {
    if urls.is_empty() {
        return Ok(files);
    }
    for (n, url) in urls.iter().enumerate() {
        let path = fetch::fetch(url, is_private_ok, |name| uploads.path_for(name, 1000 + n));
        files.push(path.await?);
    }
    Ok(files)
}

/// Uploaded images, audio and video are the tasks' data: move them from the temp folder to
/// the project's `uploads/` (unique names), where they stay and are served. Returns the
/// files to import and the media files kept.
fn keep_media(project: &Path, files: Vec<PathBuf>) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut kept = Vec::new();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("upload").to_string();
        if crate::formats::media_kind(&name).is_none() {
            out.push(file);
            continue;
        }
        let folder = std::path::absolute(project.join(UPLOADS))?;
        std::fs::create_dir_all(&folder).with_context(|| format!("making {}", folder.display()))?;
        // The name is taken by creating it (another upload may be choosing at once), then
        // the file moves over it.
        let mut target = folder.join(&name);
        let mut n = 1;
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&target) {
                Ok(_) => break,
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    target = folder.join(format!("{n}-{name}"));
                    n += 1;
                }
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("keeping {name} in {}", folder.display()));
                }
            }
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
    let fields = Params::of_query(&String::from_utf8_lossy(&bytes));
    Ok(fields.values("url").map(str::to_string).collect())
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

/// The largest body a JSON import takes, as for uploads.
const MAX_BODY: u64 = 1 << 30;

/// A JSON body, streamed to a file (1 GiB at most).
async fn save_body(body: Body, path: &Path) -> Result<PathBuf> {
    let mut out = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        written += chunk.len() as u64;
        if written > MAX_BODY {
            bail!(
                "the body is larger than 1 GiB; upload the tasks as files, or import with `lsdb import`"
            );
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(path.to_path_buf())
}

/// Whether a saved body is `[]` (whitespace aside).
fn is_empty_list(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    if meta.len() > 64 {
        return false;
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    text == "[]"
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
        // In the order the file gave them (a CSV's header), as Label Studio lists them.
        .prepare(
            "SELECT k FROM (SELECT id, unnest(json_keys(data)) AS k, \
             generate_subscripts(json_keys(data), 1) AS pos FROM tasks WHERE import_id = ?) \
             GROUP BY k ORDER BY min(id), arg_min(pos, id)",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // As Label Studio: for uploaded files, how many of each extension; for a JSON body, [].
    let mut formats = serde_json::Map::new();
    for file in files {
        let ext = crate::formats::extension(&file.display().to_string())
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let n = formats.get(&ext).and_then(serde_json::Value::as_u64).unwrap_or(0);
        formats.insert(ext, (n + 1).into());
    }
    let formats = if is_body {
        columns.clear();
        serde_json::json!([])
    } else {
        serde_json::Value::Object(formats)
    };
    let could_be_list = files.iter().any(|f| {
        matches!(crate::formats::guess_format(f), Ok(Format::Csv | Format::Tsv | Format::Text))
    });
    let c = &summary.counts;
    let mut body = serde_json::json!({
        "task_count": c.tasks,
        // As Label Studio: a trial import (commit_to_project=false) counts tasks only.
        "annotation_count": (!is_dry_run).then_some(c.completions),
        "prediction_count": (!is_dry_run).then_some(c.predictions),
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
