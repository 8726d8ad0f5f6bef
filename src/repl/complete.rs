//! Tab completion for the shell: SQL keywords, table, view and column names read from the
//! store, dot commands, and file paths after `.import`, `.export`, `.read` and `.output`.

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// Dot commands, for completion and `.help`.
pub const DOT_COMMANDS: &[(&str, &str)] = &[
    (".help", "show this help"),
    (".tables", "list tables and views"),
    (".schema [NAME]", "show the CREATE statement of a table or view (all when no name)"),
    (".mode table|csv|json|jsonl|line", "how results are printed"),
    (".output [FILE]", "send results to FILE; without FILE, back to the screen"),
    (".import PATH [FORMAT]", "import a file or folder (format guessed from the path)"),
    (".export FILE [FORMAT]", "export all tasks (json, json-min, jsonl, csv, parquet)"),
    (".sample STRATEGY [N]", "the first N tasks of a sampling strategy's queue"),
    (".validate", "summary and rows of validation_errors"),
    (".stats", "counts of tasks, completions, predictions and problems"),
    (".timer on|off", "show how long each statement took"),
    (".maxrows N", "stop table output after N rows"),
    (".read FILE", "run the statements in FILE"),
    (".quit", "leave the shell (also .exit and Ctrl-D)"),
];

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "DISTINCT",
    "COUNT",
    "WITH",
    "UNION ALL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CREATE",
    "VIEW",
    "TABLE",
    "INSERT INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "DESCRIBE",
    "SUMMARIZE",
    "EXPLAIN",
    "ASC",
    "DESC",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "CAST",
    "unnest",
    "json_extract",
    "json_extract_string",
    "list",
    "avg",
    "sum",
    "min",
    "max",
];

/// The shell's rustyline helper.
pub struct ShellHelper {
    /// Table, view and column names of the store.
    pub names: Vec<String>,
    files: FilenameCompleter,
}

impl ShellHelper {
    pub fn new(names: Vec<String>) -> Self {
        ShellHelper { names, files: FilenameCompleter::new() }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let trimmed = before.trim_start();
        if trimmed.starts_with('.') {
            let is_path_command = [".import ", ".export ", ".read ", ".output "]
                .iter()
                .any(|c| trimmed.starts_with(c));
            if is_path_command {
                return self.files.complete(line, pos, ctx);
            }
            if !trimmed.contains(' ') {
                let start = pos - trimmed.len();
                let pairs = DOT_COMMANDS
                    .iter()
                    .map(|(usage, _)| usage.split(' ').next().unwrap_or(usage))
                    .filter(|name| name.starts_with(trimmed))
                    .map(|name| Pair { display: name.to_string(), replacement: format!("{name} ") })
                    .collect();
                return Ok((start, pairs));
            }
            return Ok((pos, Vec::new()));
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let lower = word.to_ascii_lowercase();
        let is_upper = word.chars().next().is_some_and(char::is_uppercase);
        let mut pairs: Vec<Pair> = Vec::new();
        for name in self.names.iter().map(String::as_str).chain(KEYWORDS.iter().copied()) {
            if name.to_ascii_lowercase().starts_with(&lower)
                && !pairs.iter().any(|p| p.display == name)
            {
                let is_keyword =
                    KEYWORDS.contains(&name) && name.chars().all(|c| !c.is_lowercase());
                let replacement = if is_keyword && !is_upper {
                    name.to_ascii_lowercase()
                } else {
                    name.to_string()
                };
                pairs.push(Pair { display: name.to_string(), replacement });
            }
        }
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}
