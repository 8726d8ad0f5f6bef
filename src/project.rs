//! Setting up a project: creating its store, choosing its label config (file or template),
//! recording settings, and the first import. `init`, `start --init` and the shell share it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use duckdb::Connection;

use crate::cli::{ConfigChoice, ImportFlags, InputArgs};
use crate::import::{Format, ImportOptions, ImportSummary, run_import};
use crate::labelconfig::{LabelConfig, parse_label_config};
use crate::store::Store;
use crate::store::config::{read_config_file, save_config};
use crate::store::schema::set_meta;
use crate::templates;

/// The label config a `--label-config FILE` or `--template NAME` asks for.
pub fn chosen_config(choice: &ConfigChoice) -> Result<Option<(LabelConfig, String)>> {
    if let Some(path) = &choice.label_config {
        return Ok(Some((read_config_file(path)?, path.display().to_string())));
    }
    if let Some(name) = &choice.template {
        let xml = templates::template(name)?;
        let config = parse_label_config(xml, &format!("template {name}"))?;
        return Ok(Some((config, format!("template {name}"))));
    }
    Ok(None)
}

/// Replace the label config in one transaction; returns the rows `validation_errors` now has.
pub fn set_config(conn: &Connection, config: &LabelConfig, source: &str) -> Result<u64> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    let saved = save_config(conn, config, source);
    match saved {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err).context("saving the label config");
        }
    }
    let rows: i64 = conn.query_row("SELECT count(*) FROM validation_errors", [], |r| r.get(0))?;
    Ok(rows as u64)
}

/// Import options from the shared flags.
pub fn import_options(
    paths: Vec<PathBuf>,
    format: Option<Format>,
    flags: &ImportFlags,
) -> ImportOptions {
    ImportOptions {
        paths,
        format,
        key: flags.key.clone(),
        host_url: flags.host_url.clone(),
        is_skipping_invalid: flags.skip_invalid,
        is_skipping_duplicates: flags.skip_duplicates,
        is_strict: flags.strict,
    }
}

/// Record `--allow-serving-local-files` in the project (it governs serving imported files).
pub fn record_settings(store: &Store, flags: &ImportFlags) -> Result<()> {
    if flags.allow_serving_local_files {
        set_meta(store.conn(), "allow_serving_local_files", "true")?;
    }
    Ok(())
}

/// Create (or with `force` replace) a project, set its config, import its first input and
/// print what was done (`init`, `start --init`).
pub fn create_and_report(
    dir: &Path,
    force: bool,
    choice: &ConfigChoice,
    input: &InputArgs,
    flags: &ImportFlags,
) -> Result<Store> {
    let input = input.input_path.clone().map(|path| (path, input.input_format));
    let (store, summary) = create_project(dir, force, choice, input, flags)?;
    println!("created project {}", dir.display());
    for line in summary.iter().flat_map(summary_lines) {
        println!("{line}");
    }
    Ok(store)
}

/// Create (or with `force` replace) a project, set its config and import its first input.
pub fn create_project(
    dir: &Path,
    force: bool,
    choice: &ConfigChoice,
    input: Option<(PathBuf, Option<Format>)>,
    flags: &ImportFlags,
) -> Result<(Store, Option<ImportSummary>)> {
    // Read the config before touching the disk: a bad config creates nothing.
    let config = chosen_config(choice)?;
    let store = Store::create(dir, force)?;
    if let Some((config, source)) = &config {
        set_config(store.conn(), config, source)?;
    }
    record_settings(&store, flags)?;
    let summary = match input {
        Some((path, format)) => {
            Some(run_import(&store, &import_options(vec![path], format, flags))?)
        }
        None => None,
    };
    Ok((store, summary))
}

/// The lines printed after an import.
pub fn summary_lines(summary: &ImportSummary) -> Vec<String> {
    let c = &summary.counts;
    let mut lines = summary.notes.clone();
    let mut line = format!(
        "imported {} task{}, {} completion{}, {} prediction{}",
        c.tasks,
        plural(c.tasks),
        c.completions,
        plural(c.completions),
        c.predictions,
        plural(c.predictions)
    );
    if summary.duplicates > 0 {
        line.push_str(&format!(
            ", {} duplicate{} of tasks already present",
            summary.duplicates,
            plural(summary.duplicates)
        ));
    }
    if c.rejected > 0 {
        line.push_str(&format!(", rejected {} (see import_rejects)", c.rejected));
    }
    if c.skipped > 0 {
        line.push_str(&format!(", skipped {} (blank lines or other files)", c.skipped));
    }
    line.push_str(&format!(" in {:.2}s (import {})", summary.seconds, summary.import_id));
    lines.push(line);
    lines
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
