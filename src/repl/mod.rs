//! The SQL shell: lsdb's front end. Interactive on a terminal (rustyline: history, multi-line
//! statements, completion, Ctrl-C cancels the running query), or reading statements from
//! standard input for scripts. Dot commands live in `dot.rs` and call the same modules as the
//! matching subcommands.

mod complete;
mod dot;

use std::fs::File;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::output::{OutputFormat, RowWriter, TableStyle, terminal_width};
use crate::query::{is_complete, split_statements, stream_query};
use crate::store::Store;
use complete::ShellHelper;

/// Rows a table shows before it stops, unless `.maxrows` says otherwise.
const DEFAULT_MAX_ROWS: usize = 1000;

/// The shell's state.
pub struct Shell<'s> {
    store: &'s Store,
    mode: OutputFormat,
    output: Option<File>,
    is_timing: bool,
    max_rows: usize,
    is_interactive: bool,
    /// A statement or command failed (the exit code of a script).
    pub has_failed: bool,
    is_quitting: bool,
}

impl<'s> Shell<'s> {
    pub fn new(store: &'s Store, mode: OutputFormat, is_interactive: bool) -> Self {
        Shell {
            store,
            mode,
            output: None,
            is_timing: false,
            max_rows: DEFAULT_MAX_ROWS,
            is_interactive,
            has_failed: false,
            is_quitting: false,
        }
    }

    /// Write to the current output (a file after `.output FILE`, else standard output).
    fn out(&mut self, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
        match &mut self.output {
            Some(file) => f(file),
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                f(&mut lock)?;
                lock.flush()?;
                Ok(())
            }
        }
    }

    fn style(&self) -> TableStyle {
        let width =
            if self.is_interactive && self.output.is_none() { terminal_width() } else { None };
        TableStyle { width, is_headerless: false, truncation_hint: "; see .maxrows" }
    }

    fn report(&mut self, err: &anyhow::Error) {
        if crate::error::is_broken_pipe(err) {
            // The reader of our output is gone (`lsdb shell < q.sql | head -1`): stop quietly.
            self.is_quitting = true;
            return;
        }
        self.has_failed = true;
        eprintln!("Error: {}", crate::error::one_line(&format!("{err:#}")));
    }

    /// Run one statement and print its rows.
    pub fn run_statement(&mut self, sql: &str) {
        let started = Instant::now();
        let (mode, style, max_rows, is_timing) =
            (self.mode, self.style(), self.max_rows, self.is_timing);
        let store = self.store;
        let printed = self.out(|out| {
            let mut writer = RowWriter::new(mode, style, out);
            if mode == OutputFormat::Table {
                writer.max_rows = Some(max_rows);
            }
            stream_query(store.conn(), sql, &mut writer)?;
            writer.finish(false)?;
            if is_timing {
                writeln!(out, "Run Time: {:.3}s", started.elapsed().as_secs_f64())?;
            }
            Ok(())
        });
        if let Err(err) = printed {
            self.report(&err);
        }
    }

    /// Run a line of input that is complete: a dot command or statements.
    fn run_input(&mut self, input: &str) {
        let trimmed = input.trim();
        if trimmed.starts_with('.') {
            if let Err(err) = dot::run_dot(self, trimmed) {
                self.report(&err);
            }
            // A dot command may import or change the config.
            self.store.changed();
        } else {
            for statement in split_statements(input) {
                self.run_statement(&statement);
                // A statement that may write: the server beside the shell (`lsdb start`)
                // reads what it keeps in memory again (a scan of every task's data).
                if !is_read_only(&statement) {
                    self.store.changed();
                }
            }
        }
    }

    /// Read statements and dot commands from `reader` until its end (scripts, `.read`).
    pub fn run_script(&mut self, reader: impl BufRead) -> Result<()> {
        let mut pending = String::new();
        for line in reader.lines() {
            let line = line?;
            if pending.trim().is_empty() && line.trim_start().starts_with('.') {
                self.run_input(&line);
            } else {
                pending.push_str(&line);
                pending.push('\n');
                if is_complete(&pending) {
                    self.run_input(&std::mem::take(&mut pending));
                }
            }
            if self.is_quitting {
                return Ok(());
            }
        }
        if !pending.trim().is_empty() {
            self.run_input(&pending);
        }
        Ok(())
    }

    /// Names the completer offers: tables, views and their columns.
    fn names(&self) -> Vec<String> {
        let sql = "SELECT DISTINCT name FROM (SELECT table_name AS name FROM information_schema.tables \
                   UNION ALL SELECT column_name FROM information_schema.columns) ORDER BY name";
        self.store
            .conn()
            .prepare(sql)
            .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
            .unwrap_or_default()
    }

    /// The interactive loop on a terminal.
    pub fn run_interactive(&mut self) -> Result<()> {
        let config =
            Config::builder().completion_type(CompletionType::List).auto_add_history(false).build();
        let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::with_config(config)?;
        editor.set_helper(Some(ShellHelper::new(self.names())));
        let history = self.store.project().join(".lsdb_history");
        let _ = editor.load_history(&history);
        let running = install_interrupt(self.store)?;
        let name = std::path::absolute(self.store.project())
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "lsdb".into());
        println!(
            "lsdb shell on {}: end statements with ';', .help for commands, Ctrl-D to leave",
            self.store.project().display()
        );
        let mut pending = String::new();
        loop {
            let prompt = if pending.is_empty() {
                format!("{name}> ")
            } else {
                format!("{}> ", " ".repeat(name.len().saturating_sub(3)) + "...")
            };
            match editor.readline(&prompt) {
                Ok(line) => {
                    if pending.is_empty() && line.trim_start().starts_with('.') {
                        let _ = editor.add_history_entry(line.trim());
                        let _ = editor.save_history(&history);
                        crate::cancel::reset();
                        running.store(true, Ordering::SeqCst);
                        self.run_input(&line);
                        running.store(false, Ordering::SeqCst);
                    } else {
                        if line.trim().is_empty() && pending.is_empty() {
                            continue;
                        }
                        pending.push_str(&line);
                        pending.push('\n');
                        if !is_complete(&pending) {
                            continue;
                        }
                        let input = std::mem::take(&mut pending);
                        let _ = editor.add_history_entry(input.trim());
                        let _ = editor.save_history(&history);
                        crate::cancel::reset();
                        running.store(true, Ordering::SeqCst);
                        self.run_input(&input);
                        running.store(false, Ordering::SeqCst);
                    }
                    if self.is_quitting {
                        break;
                    }
                    if let Some(helper) = editor.helper_mut() {
                        helper.names = self.names();
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    // Ctrl-C at the prompt drops the statement being typed, never the shell.
                    pending.clear();
                }
                Err(ReadlineError::Eof) => break,
                Err(err) => return Err(err.into()),
            }
        }
        let _ = editor.save_history(&history);
        Ok(())
    }
}

/// Whether a statement only reads, by its first keyword (anything else counts as a write).
fn is_read_only(statement: &str) -> bool {
    let first = statement
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(first.as_str(), "SELECT" | "FROM" | "SHOW" | "DESCRIBE" | "EXPLAIN" | "SUMMARIZE")
}

/// Ctrl-C while a statement or dot command runs interrupts it, through DuckDB and through
/// `cancel` for work in Rust (the shell goes on).
fn install_interrupt(store: &Store) -> Result<Arc<AtomicBool>> {
    let running = Arc::new(AtomicBool::new(false));
    let handle = store.conn().interrupt_handle();
    let flag = running.clone();
    ctrlc::set_handler(move || {
        if flag.load(Ordering::SeqCst) {
            crate::cancel::request();
            handle.interrupt();
        }
    })?;
    Ok(running)
}

/// Run the shell over an open store: interactive on a terminal, else a script from standard
/// input whose failure is exit code 1. `lsdb shell` and `lsdb start` end here.
pub fn run_shell(store: &Store, mode: OutputFormat) -> Result<()> {
    let is_interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut shell = Shell::new(store, mode, is_interactive);
    if is_interactive {
        shell.run_interactive()?;
    } else {
        shell.run_script(std::io::stdin().lock())?;
    }
    if shell.has_failed && !is_interactive {
        return Err(crate::error::ProblemsFound("a statement failed".into()).into());
    }
    Ok(())
}
