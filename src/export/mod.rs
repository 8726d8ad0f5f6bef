//! Export: choosing the tasks (all, `--where`, or a sampling queue), then writing them a page
//! at a time, so memory does not grow with the number of tasks. `json`/`jsonl` give Label
//! Studio's task format back (it imports unchanged); `json-min`/`csv` one flat record per task
//! from its latest completion; `parquet` the three tables as files.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use duckdb::{Connection, params};

use crate::sample::{QUEUE_ORDER, SampleRequest, queue_sql};
use crate::sqltext::{check_condition, quote_literal};

pub mod bucket;
mod csv;
mod min;
mod python;
mod run;
mod training;
mod urls;

pub use run::{ExportJob, presigner, run_export};
pub use training::{Source, TrainingOptions};
pub use urls::{Presign, UrlRewrite, UrlStyle};

const PAGE_SQL: &str = include_str!("../../sql/export.sql");
const RESULTS_PAGE_SQL: &str = include_str!("../../sql/export_results.sql");
const PAGE_SIZE: i64 = 5_000;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExportFormat {
    /// Label Studio's task list (one JSON array)
    #[default]
    Json,
    /// One flat record per task from its latest annotation (Label Studio's JSON_MIN)
    JsonMin,
    /// Label Studio's tasks, one a line
    Jsonl,
    /// Label Studio's CSV
    Csv,
    /// The tasks, completions and predictions tables as parquet files in a folder
    Parquet,
    /// COCO: result.json with images, categories and boxes, polygons, keypoints
    Coco,
    /// YOLO: classes.txt, notes.json, a labels/<image>.txt per image
    Yolo,
    /// YOLOv8 OBB: as yolo, with rotated boxes as their four corners
    YoloObb,
    /// Pascal VOC: an Annotations/<image>.xml per image
    Voc,
    /// CoNLL 2003: result.conll, a token and its tag a line
    Conll2003,
    /// Brush masks as PNG images, one per label
    BrushPng,
    /// Brush masks as NumPy arrays, one per label
    BrushNumpy,
    /// NVIDIA NeMo's ASR manifest: manifest.json, one transcribed audio a line
    AsrManifest,
}

impl ExportFormat {
    /// A format by its name; the error lists them all.
    pub fn parse(name: &str) -> Result<ExportFormat> {
        crate::error::parse_choice(name, "export format")
    }

    /// Its name, as `--format` takes it.
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }

    /// A training format (the converter's files in a folder).
    pub fn is_training(self) -> bool {
        !matches!(
            self,
            ExportFormat::Json
                | ExportFormat::JsonMin
                | ExportFormat::Jsonl
                | ExportFormat::Csv
                | ExportFormat::Parquet
        )
    }

    /// The training formats whose `--with-images` copies images (the converter's
    /// `*_WITH_IMAGES`).
    pub fn takes_images(self) -> bool {
        matches!(self, ExportFormat::Coco | ExportFormat::Yolo | ExportFormat::YoloObb)
    }

    /// It writes a folder of files (`-o DIR`), not one file.
    pub fn is_folder(self) -> bool {
        self == ExportFormat::Parquet || self.is_training()
    }
}

/// Which Label Studio reads the `json`/`jsonl` export: the key human annotations go under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Dialect {
    /// Label Studio 1.x (today's): `annotations`
    #[default]
    Ls1,
    /// Label Studio 0.x (the seed's): `completions`
    Ls0,
}

impl Dialect {
    /// The task key that holds human annotations.
    pub fn annotations_key(self) -> &'static str {
        match self {
            Dialect::Ls1 => "annotations",
            Dialect::Ls0 => "completions",
        }
    }
}

/// Which tasks to export, in which order.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// A sampling queue; `None` exports in id order.
    pub sample: Option<SampleRequest>,
    pub limit: Option<u64>,
    /// A SQL condition on `tasks`.
    pub condition: Option<String>,
}

/// Fill the temp table `export_ids(pos, task_id)`; returns how many tasks it holds.
pub fn select_tasks(conn: &Connection, selection: &Selection) -> Result<u64> {
    let filter = match &selection.condition {
        Some(condition) => {
            check_condition(condition)?;
            format!("task_id IN (SELECT id FROM tasks WHERE ({condition}))")
        }
        None => "true".to_string(),
    };
    let limit = selection.limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
    let created = match &selection.sample {
        Some(req) => {
            let queue = queue_sql(req)?;
            let sql = &format!(
                "CREATE OR REPLACE TEMP TABLE export_ids AS \
                 SELECT row_number() OVER (ORDER BY {QUEUE_ORDER}) AS pos, task_id FROM \
                 (SELECT * FROM ({queue}) WHERE {filter} ORDER BY {QUEUE_ORDER} LIMIT ?)"
            );
            crate::sample::within_queue_memory(conn, || {
                conn.execute(
                    sql,
                    params![req.strategy.name(), req.seed as i64, req.model_version, limit],
                )
            })?
        }
        None => {
            let sql = format!(
                "CREATE OR REPLACE TEMP TABLE export_ids AS \
                 SELECT row_number() OVER (ORDER BY task_id) AS pos, task_id FROM \
                 (SELECT id AS task_id FROM tasks WHERE {filter} ORDER BY id LIMIT ?)"
            );
            conn.execute(&sql, params![limit])
        }
    };
    created.map_err(|e| {
        let text = crate::query::sql_error(e);
        match &selection.condition {
            Some(c) => anyhow::anyhow!("--where {c:?} is not a valid condition on tasks: {text}"),
            None => text,
        }
    })?;
    let n: i64 = conn.query_row("SELECT count(*) FROM export_ids", [], |r| r.get(0))?;
    Ok(n as u64)
}

/// One exported task as stored: JSON texts straight from the store.
struct TaskRow {
    id: i64,
    data: String,
    meta: Option<String>,
    extra: Option<String>,
    completions: String,
    predictions: String,
}

/// The label config's control tags (name, tag), for the flat formats.
fn controls(conn: &Connection) -> Result<Vec<min::Control>> {
    let config = crate::store::config::load_config(conn)?;
    Ok(config
        .map(|c| c.controls.into_iter().map(|c| (c.name, c.tag)).collect())
        .unwrap_or_default())
}

impl TaskRow {
    /// The task's flat items (`json-min`, `csv`).
    fn items(&self, controls: &[min::Control]) -> Result<Vec<min::Item>> {
        min::items(self.id, &self.data, self.extra.as_deref(), &self.completions, controls, false)
    }

    /// The task in Label Studio's JSON format, built from the stored JSON texts.
    fn to_label_studio(&self, dialect: Dialect) -> String {
        let mut out = format!("{{\"id\":{},\"data\":{}", self.id, self.data);
        if let Some(meta) = &self.meta {
            out.push_str(",\"meta\":");
            out.push_str(meta);
        }
        out.push_str(",\"");
        out.push_str(dialect.annotations_key());
        out.push_str("\":");
        out.push_str(&self.completions);
        out.push_str(",\"predictions\":");
        out.push_str(&self.predictions);
        if let Some(extra) = self.extra.as_deref().filter(|e| e.len() > 2) {
            out.push(',');
            out.push_str(&extra[1..extra.len() - 1]);
        }
        out.push('}');
        out
    }
}

/// Run a page query for each page of the selection, in export order, and call `visit` with
/// each row. `$1` and `$2` in `sql` are the page's bounds in `export_ids`; `extra` is `$3`.
fn for_each_page(
    conn: &Connection,
    sql: &str,
    extra: Option<&str>,
    total: u64,
    mut visit: impl FnMut(&duckdb::Row<'_>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut from = 0i64;
    while from < total as i64 {
        let to = from + PAGE_SIZE;
        let mut rows = match extra {
            Some(extra) => stmt.query(params![from, to, extra])?,
            None => stmt.query(params![from, to])?,
        };
        while let Some(r) = rows.next()? {
            crate::cancel::check()?;
            visit(r)?;
        }
        from = to;
    }
    Ok(())
}

/// Call `visit` for each selected task with its completions and predictions.
fn for_each_task(
    conn: &Connection,
    urls: &UrlRewrite,
    total: u64,
    mut visit: impl FnMut(&TaskRow) -> Result<()>,
) -> Result<()> {
    for_each_page(conn, PAGE_SQL, None, total, |r| {
        let data: String = r.get(1)?;
        visit(&TaskRow {
            id: r.get(0)?,
            data: urls.rewrite_data(&data)?,
            meta: r.get(2)?,
            extra: r.get(3)?,
            completions: r.get(4)?,
            predictions: r.get(5)?,
        })
    })
}

/// Call `visit` with each selected task and only the results a training export reads: its
/// completions, or its predictions (of `model_version` when given); the other list is empty.
fn for_each_row(
    conn: &Connection,
    urls: &UrlRewrite,
    total: u64,
    source: Source,
    model_version: Option<&str>,
    mut visit: impl FnMut(TaskRow) -> Result<()>,
) -> Result<()> {
    let (name, version) = match source {
        Source::Annotations => ("completions", None),
        Source::Predictions => ("predictions", model_version),
    };
    let filter = if version.is_some() { "model_version = $3" } else { "true" };
    let sql = RESULTS_PAGE_SQL.replace("{table}", name).replace("{filter}", filter);
    for_each_page(conn, &sql, version, total, |r| {
        let data: String = r.get(1)?;
        let results: String = r.get(4)?;
        let (completions, predictions) = match source {
            Source::Annotations => (results, "[]".to_string()),
            Source::Predictions => ("[]".to_string(), results),
        };
        visit(TaskRow {
            id: r.get(0)?,
            data: urls.rewrite_data(&data)?,
            meta: r.get(2)?,
            extra: r.get(3)?,
            completions,
            predictions,
        })
    })
}

/// Write the selected tasks (see `select_tasks`) to `out`; returns how many.
pub fn write_export(
    conn: &Connection,
    format: ExportFormat,
    dialect: Dialect,
    urls: &UrlRewrite,
    total: u64,
    out: &mut dyn Write,
) -> Result<u64> {
    let mut n = 0u64;
    match format {
        ExportFormat::Json => {
            out.write_all(b"[")?;
            for_each_task(conn, urls, total, |task| {
                out.write_all(if n == 0 { b"\n" } else { b",\n" })?;
                out.write_all(task.to_label_studio(dialect).as_bytes())?;
                n += 1;
                Ok(())
            })?;
            out.write_all(if n == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        ExportFormat::Jsonl => {
            for_each_task(conn, urls, total, |task| {
                out.write_all(task.to_label_studio(dialect).as_bytes())?;
                out.write_all(b"\n")?;
                n += 1;
                Ok(())
            })?;
        }
        ExportFormat::JsonMin => {
            let controls = controls(conn)?;
            let mut records = 0u64;
            out.write_all(b"[")?;
            for_each_task(conn, urls, total, |task| {
                for item in task.items(&controls)? {
                    out.write_all(if records == 0 { b"\n" } else { b",\n" })?;
                    serde_json::to_writer(&mut *out, &item.min_record())?;
                    records += 1;
                }
                n += 1;
                Ok(())
            })?;
            out.write_all(if records == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        ExportFormat::Csv => {
            // First pass: the columns; second pass: the rows.
            let controls = controls(conn)?;
            let mut columns = csv::Columns::default();
            for_each_task(conn, urls, total, |task| {
                task.items(&controls)?.iter().for_each(|item| columns.add(item));
                Ok(())
            })?;
            let columns = columns.finish();
            csv::write_header(out, &columns)?;
            for_each_task(conn, urls, total, |task| {
                for item in task.items(&controls)? {
                    csv::write_row(out, &columns, &item)?;
                }
                n += 1;
                Ok(())
            })?;
        }
        other => bail!("{other:?} export writes a folder; use run_export"),
    }
    Ok(n)
}

/// Write `tasks.parquet`, `completions.parquet` and `predictions.parquet` of the selected
/// tasks into the folder `dir`.
pub fn write_parquet(conn: &Connection, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating folder {}", dir.display()))?;
    let copies = [
        (
            "tasks",
            "SELECT t.* FROM tasks AS t JOIN export_ids AS e ON e.task_id = t.id ORDER BY e.pos",
        ),
        (
            "completions",
            "SELECT * FROM completions WHERE task_id IN (SELECT task_id FROM export_ids) ORDER BY id",
        ),
        (
            "predictions",
            "SELECT * FROM predictions WHERE task_id IN (SELECT task_id FROM export_ids) ORDER BY id",
        ),
    ];
    for (name, query) in copies {
        let file = dir.join(format!("{name}.parquet"));
        let sql = format!(
            "COPY ({query}) TO {} (FORMAT parquet)",
            quote_literal(&file.to_string_lossy())
        );
        conn.execute_batch(&sql).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Write a file through a temporary file beside it, renamed into place only when the whole
/// file was written: a failed or interrupted export leaves no half file and keeps an old
/// file of that name whole.
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<u64>) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // A random name, created exclusively; removed when dropped unless persisted. Its mode
    // is a plain file's (0666 less the umask), not a temp file's 0600.
    let prefix = format!(".{name}.lsdb-partial-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp =
        builder.tempfile_in(folder).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(tmp);
    let written = write(&mut out)
        .and_then(|_| Ok(out.flush()?))
        .and_then(|()| Ok(out.get_ref().as_file().sync_all()?))
        .with_context(|| format!("writing {}", path.display()));
    match written.and_then(|()| out.into_inner().map_err(|e| e.into_error().into())) {
        Ok(tmp) => {
            tmp.persist(path)
                .map_err(|e| e.error)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(())
        }
        Err(err) => Err(err),
    }
}
