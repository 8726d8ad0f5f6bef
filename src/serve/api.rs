//! Label Studio's import API and the routes its SDK needs around it: the import (a JSON body
//! or uploaded files, streamed to a temp folder, then `lsdb import`'s own all-or-nothing
//! code), the project, its tasks page by page, and the export. The project is id 1.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::fetch;
use super::files::UPLOADS;
use super::params::{self, Params};
use super::{Served, json};
use crate::export::UrlRewrite;
use crate::export::{Dialect, ExportFormat, Selection, select_tasks, write_export};
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

/// Label Studio's 400 body: `detail` and `validation_errors.non_field_errors`; for bad
/// input and for what lsdb does not implement, named.
pub fn bad_request(message: &str) -> Response {
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
    // As Label Studio: an empty list adds nothing and is refused.
    if is_body && !files.is_empty() && files.iter().all(|f| is_empty_list(f)) {
        return bad_request("load_tasks: No tasks added (the body is an empty list)");
    }
    if !urls.is_empty() && !served.opts.allow_url_import {
        return bad_request(
            "importing from a URL (url=...) is off: start lsdb serve with --allow-url-import, or \
             download the file and upload it",
        );
    }
    let is_returning_ids = params.is_yes("return_task_ids");
    // As Label Studio: `commit_to_project=false` reads and counts, and keeps nothing.
    let is_dry_run = params.is_no("commit_to_project");
    // Given as a list (`?f=a&f=b`, the SDK) or joined by commas (`?f=a,b`, its legacy client).
    let preannotated: Vec<String> = params
        .values("preannotated_from_fields")
        .flat_map(|v| v.split(','))
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let files = match fetch_all(files, &urls, &uploads, served.opts.allow_private_urls).await {
        Ok(files) => files,
        Err(err) => return bad_request(&uploads.plain(&format!("{err:#}"))),
    };
    let outcome = tokio::task::spawn_blocking(move || {
        crate::cancel::set_served(true);
        let result = keep_media(&served.opts.project, files).and_then(|(files, kept)| {
            let answer = Answer { is_body, is_returning_ids, is_dry_run, preannotated };
            // Through a connection of its own to the store the server holds; imports
            // run one at a time (`Store::import_lock`).
            let result =
                served.store.store().and_then(|store| import_files(&store, &files, answer));
            if result.is_err() || is_dry_run {
                // All or nothing: the media files of a failed import go too.
                for file in kept {
                    let _ = std::fs::remove_file(file);
                }
            }
            result
        });
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
    let client = fetch::client(is_private_ok)?;
    for (n, url) in urls.iter().enumerate() {
        let path =
            fetch::fetch(&client, url, is_private_ok, |name| uploads.path_for(name, 1000 + n));
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

/// `GET /api/projects/{id}`: the one project, with Label Studio's counters.
pub fn project(conn: &duckdb::Connection, dir: &Path) -> Result<serde_json::Value> {
    let xml: Option<String> =
        conn.query_row("SELECT xml FROM label_config WHERE id = 1", [], |r| r.get(0)).ok();
    let counts: [i64; 7] = conn.query_row(
        "SELECT (SELECT count(*) FROM tasks), \
         (SELECT count(DISTINCT task_id) FROM completions WHERE NOT was_cancelled), \
         (SELECT count(*) FROM completions WHERE NOT was_cancelled), \
         (SELECT count(*) FROM completions WHERE was_cancelled), \
         (SELECT count(*) FROM predictions), \
         (SELECT count(DISTINCT task_id) FROM completions), \
         (SELECT coalesce(epoch_us(min(started_at)), 0) FROM imports)",
        [],
        |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?]),
    )?;
    let [tasks, with_annotations, annotations, skipped, predictions, finished, created_us] = counts;
    let created: Option<String> = conn
        .query_row(
            "SELECT strftime(make_timestamp(?), '%Y-%m-%dT%H:%M:%S.%fZ')",
            [created_us],
            |r| r.get(0),
        )
        .ok()
        .filter(|_| created_us > 0);
    let title = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "lsdb".to_string());
    Ok(serde_json::json!({
        "id": 1,
        "title": title,
        "description": "",
        "label_config": xml.unwrap_or_else(|| "<View></View>".to_string()),
        "expert_instruction": "",
        "show_instruction": false,
        "show_skip_button": true,
        "enable_empty_annotation": true,
        "show_annotation_history": false,
        "organization": 1,
        "color": "#FFFFFF",
        "maximum_annotations": 1,
        "is_published": false,
        "model_version": "",
        "is_draft": false,
        "created_at": created,
        "num_tasks_with_annotations": with_annotations,
        "task_number": tasks,
        "useful_annotation_number": annotations,
        "ground_truth_number": 0,
        "skipped_annotations_number": skipped,
        "total_annotations_number": annotations,
        "total_predictions_number": predictions,
        "sampling": "Sequential sampling",
        "overlap_cohort_percentage": 100,
        "finished_task_number": finished,
        "queue_total": tasks,
        "queue_done": finished,
    }))
}

/// `GET /api/predictions`: the predictions of one task, or of every task, in id order.
pub fn predictions(conn: &duckdb::Connection, task: Option<i64>) -> Result<serde_json::Value> {
    let mut statement = conn.prepare(
        "SELECT lsdb_annotation_json(id, fields, result), task_id FROM predictions \
         WHERE task_id = ? OR ? IS NULL ORDER BY id",
    )?;
    let mut rows = statement.query(duckdb::params![task, task])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut item: serde_json::Value = serde_json::from_str(&r.get::<_, String>(0)?)?;
        item["task"] = serde_json::json!(r.get::<_, i64>(1)?);
        item["project"] = serde_json::json!(1);
        out.push(item);
    }
    Ok(serde_json::Value::Array(out))
}

/// What `GET /api/projects/1/export` asks for.
pub struct ExportRequest {
    pub format: ExportFormat,
    /// A condition on `tasks` built from integers only.
    pub condition: Option<String>,
}

impl ExportRequest {
    /// Label Studio's parameters: `exportType` (or `export_type`), `download_all_tasks`,
    /// `download_resources` (nothing to download for these formats), `ids[]` (or `ids`, as
    /// the SDK's `download_sync` sends them). Anything else is refused by name.
    pub fn parse(params: &Params) -> Result<ExportRequest> {
        let mut format = ExportFormat::Json;
        let (mut ids, mut is_all) = (Vec::<i64>::new(), false);
        for (key, value) in params.iter() {
            match key {
                "exportType" | "export_type" => {
                    format = match value.to_ascii_uppercase().as_str() {
                        "JSON" => ExportFormat::Json,
                        "JSON_MIN" => ExportFormat::JsonMin,
                        "CSV" => ExportFormat::Csv,
                        _ => bail!(
                            "export type {value} is not served by lsdb serve: use JSON, JSON_MIN \
                             or CSV here, or `lsdb export --format` for the others"
                        ),
                    }
                }
                "download_all_tasks" => is_all = params::flag(value) == Some(true),
                "download_resources" | "interpolate_key_frames" => {}
                "ids[]" | "ids" => ids.push(
                    value
                        .parse()
                        .map_err(|_| anyhow::anyhow!("{key}={value:?} is not a task id"))?,
                ),
                _ => bail!("the parameter {key:?} is not implemented by lsdb serve for exports"),
            }
        }
        let mut conditions = Vec::new();
        if !ids.is_empty() {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            conditions.push(format!("id IN ({})", list.join(", ")));
        }
        // As Label Studio: without download_all_tasks, only tasks with an annotation (a
        // cancelled one included).
        if !is_all {
            conditions.push("id IN (SELECT task_id FROM completions)".to_string());
        }
        let condition = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        Ok(ExportRequest { format, condition })
    }

    /// The answer's content type and file extension.
    pub fn content_type(&self) -> (&'static str, &'static str) {
        match self.format {
            ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
            _ => ("application/json", "json"),
        }
    }
}

/// The formats Label Studio's export lists, those this server writes enabled.
pub fn export_formats() -> serde_json::Value {
    let served = ["JSON", "JSON_MIN", "CSV"];
    // Label Studio 1.23.2's order.
    let all = [
        ("JSON", "List of items in raw JSON format stored in one JSON file."),
        ("JSON_MIN", "List of items where only \"from_name\", \"to_name\" values are stored."),
        ("CSV", "Results are stored as comma-separated values with the column names."),
        ("TSV", "Results are stored in tab-separated tabular file."),
        ("CONLL2003", "Popular format used for the CoNLL-2003 named entity recognition challenge."),
        ("COCO", "Popular machine learning format used by the COCO dataset."),
        ("COCO_WITH_IMAGES", "COCO format with the images downloaded."),
        ("VOC", "Popular XML format used for object detection."),
        ("YOLO", "Popular TXT format is created for each image file."),
        ("YOLO_WITH_IMAGES", "YOLO format with the images downloaded."),
        ("YOLO_OBB", "YOLO format with oriented bounding boxes."),
        ("YOLO_OBB_WITH_IMAGES", "YOLO-OBB format with the images downloaded."),
        ("BRUSH_TO_NUMPY", "Export your brush labels as NumPy 2d arrays."),
        ("BRUSH_TO_PNG", "Export your brush labels as PNG images."),
        ("ASR_MANIFEST", "Export audio transcription labels for automatic speech recognition."),
        ("BRUSH_TO_COCO", "Export your brush labels as COCO polygons."),
        ("DOCLANG", "DocLang documents."),
    ];
    serde_json::Value::Array(
        all.iter()
            .map(|(name, description)| {
                let mut item = serde_json::json!({
                    "title": name, "description": description, "name": name,
                });
                if !served.contains(name) {
                    item["disabled"] = serde_json::json!(true);
                }
                item
            })
            .collect(),
    )
}

/// The selected tasks (`condition`, in id order) written in `format` as the body of an
/// answer, a page of tasks at a time from a thread of its own: memory stays flat whatever
/// the number of tasks. A failure before the first byte is the answer (503); one after it
/// ends the body early, which the client sees as a broken download.
/// Also returns the time for the file's name, `YYYY-mm-dd-HH-MM` (UTC), as Label Studio
/// names it.
pub async fn export_body(
    store: crate::store::Shared,
    format: ExportFormat,
    condition: Option<String>,
) -> Result<(Body, String), Response> {
    let (chunks_in, mut chunks_out) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let (ready_in, ready_out) = tokio::sync::oneshot::channel::<Result<String>>();
    tokio::task::spawn_blocking(move || {
        crate::cancel::set_served(true);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let selected = store.store().and_then(|store| {
            // One snapshot for every page (and for CSV's two passes), whatever commits
            // meanwhile; rolled back when the connection goes.
            store.conn().execute_batch("BEGIN TRANSACTION")?;
            let selection = Selection { sample: None, limit: None, condition };
            let total = select_tasks(store.conn(), &selection)?;
            let stamp: String = store.conn().query_row(
                "SELECT strftime(epoch_ms(?), '%Y-%m-%d-%H-%M')",
                [now_ms],
                |r| r.get(0),
            )?;
            Ok((store, total, stamp))
        });
        let (store, total) = match selected {
            Ok((store, total, stamp)) => {
                let _ = ready_in.send(Ok(stamp));
                (store, total)
            }
            Err(err) => {
                let _ = ready_in.send(Err(err));
                return;
            }
        };
        let mut out = std::io::BufWriter::with_capacity(1 << 16, Chunks(chunks_in.clone()));
        let written = write_export(
            store.conn(),
            format,
            Dialect::Ls1,
            &UrlRewrite::default(),
            total,
            &mut out,
        )
        .and_then(|_| std::io::Write::flush(&mut out).map_err(anyhow::Error::from))
        .and_then(|_| store.conn().execute_batch("COMMIT").map_err(anyhow::Error::from));
        if let Err(err) = written {
            eprintln!(
                "lsdb: serve: the export stopped: {}",
                crate::error::one_line(&format!("{err:#}"))
            );
            let _ = chunks_in.blocking_send(Err(std::io::Error::other("the export stopped")));
        }
    });
    let stamp = match ready_out.await {
        Ok(Ok(stamp)) => stamp,
        Ok(Err(err)) => return Err(super::unavailable(&err)),
        Err(_) => {
            return Err(json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "detail": "the export failed" }),
            ));
        }
    };
    let stream = futures_util::stream::poll_fn(move |cx| chunks_out.poll_recv(cx));
    Ok((Body::from_stream(stream), stamp))
}

/// A writer that hands its bytes to the answer's body; a client that went away stops it.
struct Chunks(tokio::sync::mpsc::Sender<std::io::Result<Bytes>>);

/// How long an export waits for a client that reads nothing before it gives up.
const STALLED_CLIENT: std::time::Duration = std::time::Duration::from_secs(300);

impl std::io::Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use tokio::sync::mpsc::error::TrySendError;
        let mut chunk = Ok(Bytes::copy_from_slice(buf));
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_micros(50);
        // Not a blocking send: a client that stops reading, or the server stopping, ends
        // the export instead of holding this thread and its connection.
        loop {
            match self.0.try_send(chunk) {
                Ok(()) => return Ok(buf.len()),
                Err(TrySendError::Closed(_)) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "the client left",
                    ));
                }
                Err(TrySendError::Full(back)) => {
                    if crate::cancel::check().is_err() || started.elapsed() > STALLED_CLIENT {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the client stopped reading, or the server is stopping",
                        ));
                    }
                    chunk = back;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(5));
                }
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
