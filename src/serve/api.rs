//! Label Studio's import API and the routes its SDK needs around it: the import (a JSON body
//! or uploaded files, streamed to a temp folder, then `lsdb import`'s own all-or-nothing
//! code), the project, its tasks page by page, and the export. The project is id 1.

use std::path::Path;

use anyhow::{Result, bail};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;

use super::json;
use super::params::{self, Params};
use crate::export::UrlRewrite;
use crate::export::{Dialect, ExportFormat, Selection, select_tasks, write_export};

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
