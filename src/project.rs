//! Setting up a project: creating its store (built beside, swapped in only when everything
//! worked), choosing its label config (file or template), importing into a project that
//! may not exist yet, and replacing the config in one transaction. `init`, `start --init`,
//! `import`, `config` and the shell share it. It takes plain options; the command line is
//! `cli.rs`'s business.

use std::path::Path;

use anyhow::{Context, Result};
use duckdb::Connection;

use crate::import::{ImportOptions, ImportSummary, run_import};
use crate::labelconfig::{ChosenConfig, LabelConfig, parse_label_config};
use crate::store::config::{read_config_file, save_config};
use crate::store::{NewStore, STORE_FILE, Store};
use crate::templates;

/// The label config in a file, or a built-in template by name.
pub fn chosen_config(file: Option<&Path>, template: Option<&str>) -> Result<Option<ChosenConfig>> {
    if let Some(path) = file {
        return Ok(Some((read_config_file(path)?, path.display().to_string())));
    }
    if let Some(name) = template {
        let xml = templates::template(name)?;
        let config = parse_label_config(xml, &format!("template {name}"))?;
        return Ok(Some((config, format!("template {name}"))));
    }
    Ok(None)
}

/// Replace the label config in one transaction; returns the rows `validation_errors` now has.
pub fn set_config(conn: &Connection, config: &LabelConfig, source: &str) -> Result<u64> {
    let tx = conn.unchecked_transaction()?;
    save_config(&tx, config, source).context("saving the label config")?;
    tx.commit().context("saving the label config")?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM validation_errors", [], |r| r.get(0))?;
    Ok(rows as u64)
}

/// Create (or with `force` replace) a project with what `setup` holds: its config and
/// settings, and an import when it has paths. The new store is built beside the old one and
/// swapped in only when all of it worked.
pub fn create_project(
    dir: &Path,
    force: bool,
    setup: &ImportOptions,
) -> Result<(Store, Option<ImportSummary>)> {
    let new = NewStore::create(dir, force)?;
    let summary = if setup.paths.is_empty() {
        crate::import::apply_setup(new.store().conn(), setup)?;
        None
    } else {
        Some(run_import(new.store(), setup)?)
    };
    Ok((new.finish()?, summary))
}

/// Import into a project, creating it when it has no store: a failed import into a new
/// project leaves no folder or file behind.
pub fn import_into(dir: &Path, opts: &ImportOptions) -> Result<ImportSummary> {
    if dir.join(STORE_FILE).exists() {
        return run_import(&Store::open(dir)?, opts);
    }
    let new = NewStore::create(dir, false)?;
    let summary = run_import(new.store(), opts)?;
    new.finish()?;
    Ok(summary)
}

/// The lines printed after an import.
pub fn summary_lines(summary: &ImportSummary) -> Vec<String> {
    let c = &summary.counts;
    let mut lines = summary.notes.clone();
    let added = format!(
        "{}, {}",
        counted(c.completions, "completion"),
        counted(c.predictions, "prediction")
    );
    let mut line = if summary.merged > 0 {
        format!(
            "matched {} already here; imported {}; added {added}",
            counted(summary.merged, "task"),
            counted(c.tasks, "new task")
        )
    } else {
        format!("imported {}, {added}", counted(c.tasks, "task"))
    };
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
    if c.prediction_refs > 0 {
        line.push_str(&format!(
            ", left out {} prediction id{} without content (Label Studio's export lists \
             predictions by id)",
            c.prediction_refs,
            plural(c.prediction_refs)
        ));
    }
    if c.skipped > 0 {
        line.push_str(&format!(", skipped {} (blank lines or other files)", c.skipped));
    }
    line.push_str(&format!(" in {:.2}s (import {})", summary.seconds, summary.import_id));
    lines.push(line);
    lines
}

/// `n` and the noun, plural when it is not 1: "1 task", "2 tasks".
fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", plural(n))
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
