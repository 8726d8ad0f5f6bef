//! The training formats: COCO, YOLO, YOLO-OBB, Pascal VOC, CoNLL 2003, brush masks and ASR
//! manifests, written into a folder exactly as label-studio-sdk's `Converter` writes them for
//! the same tasks and label config (`tests/converter/compare.py` checks it, file for file).
//!
//! The tasks come a page at a time (as every export reads them); each task gives the
//! converter's items (one per annotation that was not cancelled, newest first; one empty item
//! for a task without annotations), and each format's writer takes the items in order.
//! Nothing is held per task but the writer's own state (categories, file names), so memory
//! stays flat however many tasks there are.

use std::path::Path;

use anyhow::Result;
use duckdb::Connection;
use serde_json::Value;

use super::min::{self, Item};
use super::python::python_str;
use super::{ExportFormat, TaskRow, UrlRewrite, for_each_row};
use crate::bucket::Buckets;
use crate::store::setting::Setting;

mod asr;
mod brush;
mod coco;
mod conll;
mod media;
mod schema;
mod voc;
mod yolo;

use media::Media;
use schema::Schema;

/// Which results become labels: human annotations, or a model's predictions (pseudo-labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Source {
    /// The tasks' annotations (completions)
    #[default]
    Annotations,
    /// The tasks' predictions (of `--model-version` when given)
    Predictions,
}

/// How to write a training export.
#[derive(Debug, Clone, Default)]
pub struct TrainingOptions {
    pub source: Source,
    /// With `Source::Predictions`: only this model version's predictions.
    pub model_version: Option<String>,
    /// Put the images into `images/` (`--with-images`).
    pub with_images: bool,
}

/// What a training export wrote, and what it left out (printed as notes on stderr).
#[derive(Debug, Default)]
pub struct Summary {
    pub tasks: u64,
    pub notes: Vec<String>,
}

/// One format's writer: it takes the items in order, then finishes its files.
trait Writer {
    fn item(&mut self, item: &Item, media: &mut Media) -> Result<()>;
    fn finish(self: Box<Self>, notes: &mut Vec<String>) -> Result<()>;
}

/// Write the selected tasks (`export_ids`) in `format` into the folder `dir` (which exists
/// and is empty).
pub fn write_training(
    conn: &Connection,
    format: ExportFormat,
    options: &TrainingOptions,
    buckets: Option<Buckets>,
    urls: &UrlRewrite,
    total: u64,
    dir: &Path,
) -> Result<Summary> {
    let config = crate::store::config::load_config(conn)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} needs the project's label config, and it has none; set one with `lsdb config set FILE`",
            format.name()
        )
    })?;
    let schema = Schema::new(&config, format)?;
    let controls: Vec<min::Control> =
        config.controls.iter().map(|c| (c.name.clone(), c.tag.clone())).collect();
    let mut writer: Box<dyn Writer + Send> = match format {
        ExportFormat::Coco => Box::new(coco::Coco::new(dir, &schema, now(conn)?)?),
        ExportFormat::Yolo | ExportFormat::YoloObb => {
            Box::new(yolo::Yolo::new(dir, &schema, format == ExportFormat::YoloObb, now(conn)?.0)?)
        }
        ExportFormat::Voc => Box::new(voc::Voc::new(dir, &schema)?),
        ExportFormat::Conll2003 => Box::new(conll::Conll::new(dir, &schema)?),
        ExportFormat::BrushPng | ExportFormat::BrushNumpy => {
            Box::new(brush::Brush::new(dir, format == ExportFormat::BrushPng)?)
        }
        ExportFormat::AsrManifest => {
            // Label Studio reads no local-files URL under the root "/" (nor lsdb, unset).
            let root =
                std::path::absolute(&urls.document_root).ok().filter(|r| r != Path::new("/"));
            Box::new(asr::Asr::new(dir, &schema, root)?)
        }
        // Refused by `Schema::new` already.
        ExportFormat::Json
        | ExportFormat::JsonMin
        | ExportFormat::Jsonl
        | ExportFormat::Csv
        | ExportFormat::Parquet => anyhow::bail!("{} is not a training format", format.name()),
    };
    let region_ids =
        matches!(format, ExportFormat::Yolo | ExportFormat::YoloObb) && schema.has_keypoints();
    let mut media = Media::new(dir, buckets.filter(|_| options.with_images));
    // Two threads: this one reads pages of tasks from DuckDB (the export's temp table lives on
    // this connection), the other parses each task's results and writes the files.
    // DuckDB runs the page queries on this one thread: with worker threads of its own it
    // would spend the second core waiting on them, and the writer needs it (the profile is in
    // docs/benchmarks.md). Its cache of the store's blocks is capped as an import caps it, so
    // that memory stays flat however many tasks there are. Both are put back afterwards.
    let _threads = Setting::set(conn, "threads", "1")?;
    let _memory = Setting::set(conn, "memory_limit", EXPORT_MEMORY)?;
    let (pages, received) = std::sync::mpsc::sync_channel::<Vec<TaskRow>>(4);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || -> Result<Summary> {
            let mut summary = Summary::default();
            for page in received {
                for task in &page {
                    let results = match options.source {
                        Source::Annotations => &task.completions,
                        Source::Predictions => &task.predictions,
                    };
                    let items = min::items(
                        task.id,
                        &task.data,
                        task.extra.as_deref(),
                        results,
                        &controls,
                        region_ids,
                    )?;
                    for item in &items {
                        writer.item(item, &mut media)?;
                    }
                    summary.tasks += 1;
                }
            }
            writer.finish(&mut summary.notes)?;
            if media.not_copied > 0 {
                summary.notes.push(format!(
                    "{} images not put into images/: --with-images copies the local files lsdb's \
                     URLs name and fetches bucket objects; other URLs keep their name in the labels",
                    media.not_copied
                ));
            }
            Ok(summary)
        });
        let mut page = Vec::with_capacity(PAGE);
        let version = options.model_version.as_deref();
        let read = for_each_row(conn, urls, total, options.source, version, |task| {
            page.push(task);
            if page.len() == PAGE {
                let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE));
                // The writer stopped: its error is the one to tell.
                if pages.send(full).is_err() {
                    anyhow::bail!("the writer stopped");
                }
            }
            Ok(())
        })
        .and_then(|()| {
            if !page.is_empty() && pages.send(page).is_err() {
                anyhow::bail!("the writer stopped");
            }
            Ok(())
        });
        drop(pages);
        let written =
            worker.join().map_err(|_| anyhow::anyhow!("the training export's writer failed"))?;
        match (read, written) {
            (Ok(()), written) => written,
            (Err(_), Err(err)) => Err(err),
            (Err(err), Ok(_)) => Err(err),
        }
    })
}

/// DuckDB's memory limit while a training export reads the store.
const EXPORT_MEMORY: &str = "128MB";

/// Tasks handed from the reading thread to the writing one at a time.
const PAGE: usize = 1_000;

/// The year and time (UTC) as Python's `str(datetime.now())` prints it, for `info`.
fn now(conn: &Connection) -> Result<(i64, String)> {
    let sql = "SELECT year(now()::TIMESTAMP), strftime(now()::TIMESTAMP, '%Y-%m-%d %H:%M:%S.%f')";
    Ok(conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// A number of a region value as Python reads it: `None` when missing or not a number.
fn number(value: &serde_json::Map<String, Value>, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// A region's `x`, `y`, `width` and `height` (percent), when all four are numbers.
fn xywh(value: &serde_json::Map<String, Value>) -> Option<(f64, f64, f64, f64)> {
    Some((
        number(value, "x")?,
        number(value, "y")?,
        number(value, "width")?,
        number(value, "height")?,
    ))
}

/// Whether a value is false in Python (`None`, `0`, `0.0`, `""`, empty list or dict).
fn is_falsy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
    }
}

/// The first label of a region as the converter takes it: the first item of the first of
/// `keys` that holds a non-empty list (a string's first character, as Python indexes it).
fn first_label(value: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    for key in keys {
        match value.get(*key) {
            Some(Value::Array(items)) if !items.is_empty() => return Some(python_str(&items[0])),
            Some(Value::String(s)) if !s.is_empty() => return s.chars().next().map(String::from),
            _ => {}
        }
    }
    None
}

/// The converter's `get_annotator(item, default="")`: a user's `email` (whatever it holds),
/// else Python's text of `completed_by`; empty when there is none.
fn annotator(item: &Item) -> Value {
    match item.completed_by() {
        None => Value::String(String::new()),
        Some(Value::Object(user)) => {
            user.get("email").cloned().unwrap_or_else(|| Value::String(String::new()))
        }
        Some(other) => Value::String(python_str(other)),
    }
}
