//! The shell's dot commands. Each calls what the matching subcommand runs.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::Shell;
use super::complete::DOT_COMMANDS;
use crate::error::parse_choice;
use crate::export::{ExportFormat, ExportJob, run_export};
use crate::import::{Format, ImportOptions, run_import};
use crate::output::{OutputFormat, render};
use crate::project::summary_lines;
use crate::query::run_query;
use crate::report::{STATS_SQL, write_validation};
use crate::sample::{SampleRequest, Strategy, sample};

/// Run one dot command line.
pub fn run_dot(shell: &mut Shell<'_>, line: &str) -> Result<()> {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    match command {
        ".help" => help(shell),
        ".tables" => {
            let sql = "SELECT table_name AS name, lower(table_type) AS kind \
                       FROM information_schema.tables WHERE table_schema = 'main' \
                       ORDER BY kind, name";
            print_query(shell, sql)
        }
        ".schema" => schema(shell, args.first().copied()),
        ".mode" => {
            let name = args.first().context("usage: .mode table|csv|json|jsonl|line")?;
            shell.mode = parse_choice::<OutputFormat>(&name.to_ascii_lowercase(), "mode")?;
            Ok(())
        }
        ".output" | ".once" => {
            shell.output = match args.first() {
                Some(path) => {
                    Some(std::fs::File::create(path).with_context(|| format!("creating {path}"))?)
                }
                None => None,
            };
            Ok(())
        }
        ".import" => import(shell, &args),
        ".export" => export(shell, &args),
        ".sample" => sample_queue(shell, &args),
        ".validate" => {
            let (mode, style, limit) = (shell.mode, shell.style(), shell.max_rows as u64);
            let store = shell.store;
            shell.out(|out| write_validation(store.conn(), mode, style, limit, true, out).map(drop))
        }
        ".stats" => print_query(shell, STATS_SQL),
        ".timer" => {
            shell.is_timing = match args.first().copied() {
                Some("on") => true,
                Some("off") => false,
                _ => bail!("usage: .timer on|off"),
            };
            Ok(())
        }
        ".maxrows" => {
            let n = args.first().context("usage: .maxrows N")?;
            shell.max_rows = n.parse().with_context(|| format!("{n} is not a number of rows"))?;
            Ok(())
        }
        ".read" => {
            let path = args.first().context("usage: .read FILE")?;
            let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
            shell.run_script(std::io::BufReader::new(file))
        }
        ".quit" | ".exit" => {
            shell.is_quitting = true;
            Ok(())
        }
        other => unknown(other),
    }
}

fn help(shell: &mut Shell<'_>) -> Result<()> {
    shell.out(|out| {
        for (usage, about) in DOT_COMMANDS {
            writeln!(out, "{usage:<36} {about}")?;
        }
        writeln!(
            out,
            "SQL statements end with ';'. Tables: tasks, completions, predictions, imports; \
             views: validation_errors, results, prediction_ranks."
        )?;
        Ok(())
    })
}

/// `.schema [NAME]`: the CREATE statement of one table or view, or of all of them.
fn schema(shell: &mut Shell<'_>, name: Option<&str>) -> Result<()> {
    let conn = shell.store.conn();
    let rows = match name {
        Some(name) => {
            let mut stmt = conn.prepare(
                "SELECT sql FROM duckdb_tables() WHERE table_name = ? \
                 UNION ALL SELECT sql FROM duckdb_views() WHERE view_name = ? AND NOT internal",
            )?;
            stmt.query_map([name, name], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let mut stmt = conn.prepare(
                "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' \
                 UNION ALL SELECT sql FROM duckdb_views() WHERE NOT internal \
                 AND schema_name = 'main'",
            )?;
            stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?
        }
    };
    if rows.is_empty() {
        bail!("no table or view called {}; see .tables", name.unwrap_or(""));
    }
    shell.out(|out| {
        for sql in &rows {
            writeln!(out, "{sql}")?;
        }
        Ok(())
    })
}

/// `.import PATH [FORMAT]`: what `lsdb import PATH [--format FORMAT]` runs in a project that
/// exists (`project::import_into`).
fn import(shell: &mut Shell<'_>, args: &[&str]) -> Result<()> {
    let path = args.first().context("usage: .import PATH [FORMAT]")?;
    let format = args
        .get(1)
        .map(|f| parse_choice::<Format>(&f.to_ascii_lowercase(), "input format"))
        .transpose()?;
    let opts = ImportOptions {
        paths: vec![PathBuf::from(path)],
        format,
        host_url: crate::import::DEFAULT_HOST_URL.into(),
        ..ImportOptions::default()
    };
    // In the shell's own connection, as `lsdb import` into an existing project runs it.
    let summary = run_import(shell.store, &opts)?;
    shell.out(|out| {
        for line in summary_lines(&summary) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    })
}

/// `.export FILE [FORMAT]`: what `lsdb export -o FILE [--format FORMAT]` runs.
fn export(shell: &mut Shell<'_>, args: &[&str]) -> Result<()> {
    let path = args.first().context("usage: .export FILE [FORMAT]")?;
    let format = ExportFormat::parse(args.get(1).copied().unwrap_or("json"))?;
    let job = ExportJob { format, output: PathBuf::from(path), ..ExportJob::default() };
    let exported = run_export(shell.store, &job)?;
    for note in &exported.notes {
        eprintln!("note: {note}");
    }
    if let Some(written) = exported.written {
        eprintln!("exported {} tasks to {written}", exported.tasks);
    }
    Ok(())
}

/// `.sample STRATEGY [N]`: the first N (10) tasks of the queue, as `lsdb sample` prints it.
fn sample_queue(shell: &mut Shell<'_>, args: &[&str]) -> Result<()> {
    let strategy = args.first().context("usage: .sample STRATEGY [N]")?;
    let limit = args.get(1).map(|n| n.parse::<u64>().context("N must be a number")).transpose()?;
    let req = SampleRequest {
        strategy: Strategy::parse(strategy)?,
        limit: limit.or(Some(10)),
        ..SampleRequest::default()
    };
    let result = sample(shell.store.conn(), &req)?;
    let (mode, style) = (shell.mode, shell.style());
    shell.out(|out| render(&result, mode, style, out))
}

/// An unknown command, with the one sharing its first three characters (".tab" for
/// ".tabels").
fn unknown(command: &str) -> Result<()> {
    let prefix: String = command.chars().take(3).collect();
    let close = DOT_COMMANDS
        .iter()
        .map(|(usage, _)| usage.split(' ').next().unwrap_or(usage))
        .find(|name| prefix.chars().count() == 3 && name.starts_with(&prefix));
    match close {
        Some(name) => bail!("unknown command {command}; did you mean {name}? (.help lists them)"),
        None => bail!("unknown command {command}; .help lists the commands"),
    }
}

fn print_query(shell: &mut Shell<'_>, sql: &str) -> Result<()> {
    let result = run_query(shell.store.conn(), sql, Some(shell.max_rows))?;
    let (mode, style) = (shell.mode, shell.style());
    shell.out(|out| render(&result, mode, style, out))
}
