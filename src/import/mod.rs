//! Importing: input paths → a reader per format, on a thread of its own → the `Loader`
//! (duplicates, ids and Arrow batches, decided while reading) → a bounded channel → the
//! `Writer`, which appends the batches straight into `tasks`, `completions` and
//! `predictions`. `--merge` stages the rows instead and matches them in SQL
//! (`sql/import.sql`). All in one transaction: an import loads everything or nothing.

mod bucket;
mod context;
mod csv;
mod digests;
mod dir;

mod compact;
mod ids;
mod inputs;
mod json;
mod lines;
mod load;
mod loader;
mod place;
mod placelog;
mod preannotate;
pub mod raw;
mod scan;
mod series;
mod sink;
mod task;
mod text;
mod writer;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use duckdb::{Connection, params};

use crate::formats::Reads;
pub use crate::formats::{Format, MediaKind};
use crate::store::setting::Setting;
pub use context::ReadContext;
use inputs::resolve_inputs;
pub use inputs::{BucketInput, Input, listing_notes};
use place::section;
pub use sink::{Counts, counter};
use task::Receiver;

use crate::bucket::Connect;
use crate::bucket::listing::ListOptions;
use crate::error::InputError;
use crate::labelconfig::ChosenConfig;
use crate::labelconfig::LabelConfig;
use crate::store::Store;
use crate::store::config::{load_config, save_config};
use crate::store::schema::set_meta;

/// The host in URLs made for local files, as Label Studio's default server.
pub const DEFAULT_HOST_URL: &str = "http://localhost:8080";
/// DuckDB's memory cap during an import (`LSDB_IMPORT_MEMORY` overrides it).
const IMPORT_MEMORY: &str = "256MB";
/// The cap while rows are appended (unless `LSDB_IMPORT_MEMORY` is set): appending needs
/// little, and DuckDB keeps what it is given (64MB gave the same speed as 256MB and 120 MiB
/// less peak memory for 1M tasks; docs/benchmarks.md).
const LOAD_MEMORY: &str = "64MB";

/// How an import compresses the strings it writes (DuckDB applies it to the types it
/// suits, VARCHAR and JSON, and its usual methods to the rest).
const IMPORT_COMPRESSION: &str = "zstd";

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub paths: Vec<PathBuf>,
    pub format: Option<Format>,
    pub key: Option<String>,
    pub host_url: String,
    pub is_skipping_invalid: bool,
    pub is_skipping_duplicates: bool,
    pub is_strict: bool,
    /// A label config to set first, in the import's transaction.
    pub config: Option<ChosenConfig>,
    /// Record that the project may serve the local files its tasks reference.
    pub is_allowing_local_files: bool,
    /// Attach the annotations and predictions of tasks already in the store to them
    /// (matched by id and data, else by data) instead of adding the tasks again.
    pub is_merging: bool,
    /// Read and check everything, then roll back: the summary says what would be imported
    /// (the import API's `commit_to_project=false`).
    pub is_dry_run: bool,
    /// Fields of flat tasks that become predictions (the import API's
    /// `preannotated_from_fields`).
    pub preannotated_from_fields: Vec<String>,
    /// How to reach buckets named among `paths` (`s3://`, `gs://`, `az://`).
    pub connect: Connect,
    /// Which objects of those buckets to read (`format` comes from `format` above).
    pub listing: ListOptions,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub import_id: i64,
    pub counts: Counts,
    /// Tasks whose data was already in the store (or earlier in this input).
    pub duplicates: u64,
    /// With `--merge`: tasks of the input that matched tasks in the store.
    pub merged: u64,
    pub seconds: f64,
    pub notes: Vec<String>,
}

/// Set what an import brings besides tasks: the label config and the settings. Runs inside
/// the caller's transaction when there is one.
pub fn apply_setup(conn: &Connection, opts: &ImportOptions) -> Result<()> {
    if let Some((config, source)) = &opts.config {
        save_config(conn, config, source).context("saving the label config")?;
    }
    if opts.is_allowing_local_files {
        set_meta(conn, "allow_serving_local_files", "true")?;
    }
    Ok(())
}

/// Import `opts.paths` into the store, all or nothing: the config and settings it sets,
/// its rows and its `imports` row commit together, or the store stays as it was.
pub fn run_import(store: &Store, opts: &ImportOptions) -> Result<ImportSummary> {
    let mut notes = Vec::new();
    let inputs = resolve_inputs(opts, &mut notes)?;
    let mut summary = run_inputs(store, opts, &inputs, |_, _| Ok(()))?;
    notes.append(&mut summary.notes);
    summary.notes = notes;
    Ok(summary)
}

/// Import inputs already resolved (and bucket listings already made), all or nothing.
/// `finish` runs inside the import's transaction after the rows are in, with the import's
/// id (a storage sync removes tasks of deleted objects there).
pub fn run_inputs(
    store: &Store,
    opts: &ImportOptions,
    inputs: &[Input],
    finish: impl FnOnce(&Connection, i64) -> Result<()>,
) -> Result<ImportSummary> {
    let started = Instant::now();
    let started_at = epoch_seconds();
    store.check_writable()?;
    // One import at a time per store in this process: the shell's `.import` and the
    // server's API share one DuckDB instance, and with it the settings below.
    let _one_at_a_time = store.import_lock();
    let conn = store.conn();
    // DuckDB keeps data in memory up to its memory limit (80% of RAM by default); an import
    // caps it so that peak memory stays bounded whatever the input's size: beyond the cap,
    // staged rows and intermediate results go to disk. The guard restores it.
    let limit = std::env::var("LSDB_IMPORT_MEMORY").unwrap_or_else(|_| IMPORT_MEMORY.to_string());
    let _memory = Setting::set(conn, "memory_limit", &limit).with_context(|| {
        format!("LSDB_IMPORT_MEMORY={limit:?} is not a memory size such as 1GB")
    })?;
    // Strings are compressed with ZSTD instead of DuckDB's default, which analyses every
    // row group for dictionary and FSST encodings: that analysis was two thirds of the
    // appending thread's time, and ZSTD makes a smaller store (docs/benchmarks.md). Other
    // types keep their own methods; queries read both alike.
    let _compression = Setting::set(conn, "force_compression", IMPORT_COMPRESSION)?;
    // Rolls back when dropped: every early return below leaves the store as it was.
    let tx = conn.unchecked_transaction()?;
    apply_setup(&tx, opts)?;
    let config = load_config(&tx)?;
    let mut ctx = ReadContext {
        config: config.as_ref(),
        key: opts.key.clone(),
        host_url: opts.host_url.clone(),
        notes: Vec::new(),
        chosen: Vec::new(),
    };
    let outcome = import_in_transaction(&tx, store.folder(), opts, inputs, &mut ctx, started_at)
        .and_then(|summary| {
            tx.execute_batch(section("cleanup")).context("cleaning up the staging tables")?;
            bucket::record_objects(&tx, summary.import_id, inputs)?;
            finish(&tx, summary.import_id)?;
            Ok(summary)
        });
    let mut summary = match outcome {
        Ok(summary) => summary,
        Err(err) => {
            for note in &ctx.notes {
                eprintln!("lsdb: {note}");
            }
            return Err(err);
        }
    };
    let mut phases = Phases::new();
    // A stop asked for while the import ran (Ctrl-C in the shell, SIGTERM to lsdb serve)
    // leaves the store as it was, however little was left to do.
    crate::cancel::check()?;
    if opts.is_dry_run {
        tx.rollback().context("rolling back the trial import")?;
    } else {
        tx.commit().context("committing the import")?;
        store.changed();
        // Rows that did not fill a row group (122,880 rows) stay in memory until DuckDB's
        // next checkpoint, which would come when the store closes, after this import's
        // settings are restored: they would then be compressed with DICT_FSST, slower and
        // larger (docs/benchmarks.md). The rows are committed already; a checkpoint that
        // can't run now (another connection is in a transaction) runs later, as it would.
        let _ = conn.execute_batch("CHECKPOINT");
    }
    phases.done("commit");
    summary.seconds = started.elapsed().as_secs_f64();
    summary.notes = ctx.notes;
    Ok(summary)
}

fn import_in_transaction(
    conn: &Connection,
    spill_dir: &Path,
    opts: &ImportOptions,
    inputs: &[Input],
    ctx: &mut ReadContext<'_>,
    started_at: f64,
) -> Result<ImportSummary> {
    let import_id: i64 =
        conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM imports", [], |r| r.get(0))?;
    let mut phases = Phases::new();
    if opts.is_merging && !opts.preannotated_from_fields.is_empty() {
        bail!("preannotated fields can't be taken in a --merge import");
    }
    let (counts, duplicates, merged) = if opts.is_merging {
        load_staged(conn, opts, inputs, ctx, import_id, &mut phases)?
    } else {
        let loaded = load_direct(conn, spill_dir, opts, inputs, ctx, import_id)?;
        (loaded.counts, loaded.duplicates, 0)
    };
    let duplicates = duplicates as i64;
    let mut phases = Phases::new();
    let source: Vec<String> = inputs.iter().map(Input::name).collect();
    let mut formats: Vec<&str> = inputs.iter().map(Input::format_name).collect();
    formats.dedup();
    conn.execute(
        "INSERT INTO imports VALUES (?, ?, ?, to_timestamp(?)::TIMESTAMP, \
         to_timestamp(?)::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
        params![
            import_id,
            source.join(", "),
            formats.join(", "),
            started_at,
            epoch_seconds(),
            counts.tasks as i64,
            counts.completions as i64,
            counts.predictions as i64,
            duplicates,
            counts.rejected as i64,
            counts.skipped as i64
        ],
    )?;
    // Validating costs a pass over the store (7 of 28 seconds for 1M tasks), so only
    // --strict pays for it; otherwise `lsdb validate` shows the rows when asked.
    let invalid_rows: i64 = if opts.is_strict {
        conn.query_row(
            "SELECT count(*) FROM validation_errors WHERE task_id IN \
             (SELECT id FROM tasks WHERE import_id = ?)",
            params![import_id],
            |r| r.get(0),
        )?
    } else {
        0
    };
    phases.done("validate the new tasks");
    if invalid_rows > 0 {
        bail!(
            "--strict: the new tasks give {invalid_rows} rows in validation_errors; nothing was \
             imported. Run the import without --strict, then `lsdb validate` to see them"
        );
    }
    Ok(ImportSummary {
        import_id,
        counts,
        duplicates: duplicates as u64,
        merged,
        ..ImportSummary::default()
    })
}

/// Read the inputs on threads of their own and append what they hold straight into the
/// tables (`load.rs`).
fn load_direct(
    conn: &Connection,
    spill_dir: &Path,
    opts: &ImportOptions,
    inputs: &[Input],
    ctx: &mut ReadContext<'_>,
    import_id: i64,
) -> Result<loader::Loaded> {
    // The appender is one of three busy threads on a machine that may have two cores:
    // DuckDB's own workers would only take turns with them (measured in docs/benchmarks.md).
    let _threads = Setting::set(conn, "threads", "1")?;
    // Stores made before 2026-11-26 have key indexes on the ids, whose new entries DuckDB
    // keeps in memory until commit: they keep the import's larger cap.
    let has_key_indexes: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' \
         AND table_name IN ('tasks', 'completions', 'predictions')",
        [],
        |r| r.get(0),
    )?;
    let _memory = match std::env::var_os("LSDB_IMPORT_MEMORY") {
        None if !has_key_indexes => Some(Setting::set(conn, "memory_limit", LOAD_MEMORY)?),
        _ => None,
    };
    let preannotate = preannotate::Preannotate::new(&opts.preannotated_from_fields, ctx.config);
    let how = loader::LoadOptions {
        import_id,
        is_skipping_invalid: opts.is_skipping_invalid,
        is_skipping_duplicates: opts.is_skipping_duplicates,
        preannotate,
        spill_dir: spill_dir.to_path_buf(),
    };
    load::load(conn, how, |sink| {
        for input in inputs {
            read_input(input, ctx, sink)?;
        }
        Ok(())
    })
}

/// `--merge`: stage the rows, match them to the store in SQL, then place them.
fn load_staged(
    conn: &Connection,
    opts: &ImportOptions,
    inputs: &[Input],
    ctx: &mut ReadContext<'_>,
    import_id: i64,
    phases: &mut Phases,
) -> Result<(Counts, u64, u64)> {
    conn.execute_batch(section("stage"))?;
    let mut sink = sink::Sink::new(conn, import_id, opts.is_skipping_invalid)?;
    for input in inputs {
        read_input(input, ctx, &mut sink)?;
    }
    let mut counts = sink.finish()?;
    phases.done("read and append");
    let placed =
        place::place_staged(conn, import_id, opts.is_merging, opts.is_skipping_duplicates, phases)?;
    counts.tasks = placed.tasks;
    counts.completions = placed.completions;
    counts.predictions = placed.predictions;
    Ok((counts, placed.duplicates, placed.merged))
}

/// With `LSDB_TIMING` set, how long each phase of an import took, on stderr (for profiling).
pub struct Phases {
    last: Option<Instant>,
}

impl Phases {
    fn new() -> Phases {
        Phases { last: std::env::var_os("LSDB_TIMING").map(|_| Instant::now()) }
    }

    pub fn done(&mut self, phase: &str) {
        if let Some(last) = self.last {
            eprintln!("lsdb: timing: {phase}: {:.2}s", last.elapsed().as_secs_f64());
            self.last = Some(Instant::now());
        }
    }
}

fn epoch_seconds() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(1 << 18, std::io::stdin())));
    }
    let file = File::open(path)
        .map_err(|e| InputError::file(path.display().to_string(), format!("can't open: {e}")))?;
    Ok(Box::new(BufReader::with_capacity(1 << 18, file)))
}

fn read_input(input: &Input, ctx: &mut ReadContext<'_>, sink: &mut dyn Receiver) -> Result<()> {
    match input {
        Input::Local(path, format) => read_local(path, *format, ctx, sink),
        Input::Bucket(b) => bucket::read_objects(&b.bucket, &b.listing, ctx, sink),
    }
}

/// Read a task file of a format that reads a stream (JSON, JSONL, CSV, TSV, text).
fn read_stream(
    reader: Box<dyn BufRead>,
    shown: &str,
    format: Format,
    ctx: &mut ReadContext<'_>,
    sink: &mut dyn Receiver,
) -> Result<()> {
    match format {
        Format::Json => json::read_json(reader, shown, sink),
        Format::Jsonl => json::read_jsonl(reader, shown, sink),
        Format::Csv => csv::read_csv(reader, shown, None, sink),
        Format::Tsv => csv::read_csv(reader, shown, Some(b'\t'), sink),
        _ => {
            if text::read_text(reader, shown, ctx, sink)? == 0 {
                let what = "a text file holds one task a line, a URL list one URL a line";
                return Err(text::no_tasks_error(shown, what).into());
            }
            Ok(())
        }
    }
}

fn read_local(
    path: &Path,
    format: Format,
    ctx: &mut ReadContext<'_>,
    sink: &mut dyn Receiver,
) -> Result<()> {
    let shown = path.display().to_string();
    let series = ctx.config.and_then(LabelConfig::single_time_series);
    match format {
        Format::Csv | Format::Tsv if series.is_some() => {
            let key = ctx.key_for(MediaKind::TimeSeries)?;
            series::push_series_file(path, series, &key, &ctx.host_url, sink)
        }
        Format::Json
        | Format::Jsonl
        | Format::Csv
        | Format::Tsv
        | Format::Text
        | Format::UrlList => read_stream(open(path)?, &shown, format, ctx, sink),
        Format::Media => {
            let kind = crate::formats::media_kind(&shown).ok_or_else(|| {
                InputError::file(
                    &shown,
                    "is not an image, audio or video file by its extension; pass --format",
                )
            })?;
            if kind == MediaKind::TimeSeries {
                let key = ctx.key_for(kind)?;
                return series::push_series_file(path, series, &key, &ctx.host_url, sink);
            }
            let key = ctx.key_for(kind)?;
            let mut urls = dir::LocalUrls::new(&ctx.host_url);
            dir::push_media_file(path, path.display().to_string(), &key, &mut urls, sink)
        }
        Format::JsonDir
        | Format::TextDir
        | Format::ImageDir
        | Format::AudioDir
        | Format::TimeseriesDir => {
            let files = dir::walk_files(path, sink)?;
            let mut matched = 0u64;
            let mut urls = dir::LocalUrls::new(&ctx.host_url);
            for file in files {
                let name = file.display().to_string();
                let Some(reads) = crate::formats::reads(&name, Some(format)) else {
                    sink.skip(1)?;
                    continue;
                };
                matched += 1;
                match reads {
                    Reads::File(Format::Json) => json::read_json(open(&file)?, &name, sink)?,
                    // An empty text file in a folder is no error (a lone one is).
                    Reads::File(Format::Text) => {
                        text::read_text(open(&file)?, &name, ctx, sink)?;
                    }
                    Reads::File(format) => read_stream(open(&file)?, &name, format, ctx, sink)?,
                    Reads::Media(MediaKind::TimeSeries) => {
                        let key = ctx.key_for(MediaKind::TimeSeries)?;
                        series::push_series_file(&file, series, &key, &ctx.host_url, sink)?
                    }
                    Reads::Media(kind) => {
                        let key = ctx.key_for(kind)?;
                        dir::push_media_file(&file, name, &key, &mut urls, sink)?
                    }
                }
            }
            if matched == 0 {
                ctx.notes.push(format!(
                    "note: {shown} holds no files that --format {} reads",
                    format.name()
                ));
            }
            Ok(())
        }
    }
}
