//! Readers for Label Studio's Basic format: `json` (a list of tasks, or one task object)
//! and `jsonl` (one task a line). Both parse one task at a time.

use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use anyhow::Result;

use super::lines::for_each_line;
use super::scan::{Element, ElementScanner};
use super::task::{At, Place, Receiver, Record, Task, task_from_compact, task_from_json};
use crate::error::InputError;

/// Read a `.json` task file.
pub fn read_json(reader: impl BufRead, path: &str, sink: &mut dyn Receiver) -> Result<()> {
    let mut scanner = ElementScanner::new(reader, path);
    let mut element = Element::default();
    let path: Arc<str> = Arc::from(path);
    while scanner.next_element(&mut element)? {
        sink.push_record(Record {
            bytes: std::mem::take(&mut element.bytes),
            line: element.line,
            col: element.col,
            path: path.clone(),
            at: match element.index {
                Some(i) => At::ListItem(i),
                None => At::Single,
            },
            source_suffix: None,
        })?;
    }
    Ok(())
}

/// Read a `.jsonl` file: one task object a line, blank lines skipped.
pub fn read_jsonl(reader: impl BufRead, path: &str, sink: &mut dyn Receiver) -> Result<()> {
    let mut records = 0u64;
    let shared: Arc<str> = Arc::from(path);
    for_each_line(reader, path, |number, bytes| {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            sink.skip(1)?;
            return Ok(());
        }
        records += 1;
        sink.push_record(Record {
            bytes: bytes.to_vec(),
            line: number,
            col: 1,
            path: shared.clone(),
            at: At::Line,
            source_suffix: None,
        })
    })?;
    if records == 0 {
        let what = "a .jsonl file holds one task object a line";
        return Err(super::text::no_tasks_error(path, what).into());
    }
    Ok(())
}

/// How messages name a record ("task 3"): written out only when a message is.
struct What {
    at: At,
    line: u64,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            At::ListItem(i) => write!(f, "task {i}"),
            At::Single => f.write_str("the task"),
            At::Line => write!(f, "the task on line {}", self.line),
        }
    }
}

impl Record {
    /// The task, or what is wrong with the record and where.
    pub fn parse(&self) -> Result<Task, InputError> {
        let path = &*self.path;
        let what = What { at: self.at, line: self.line };
        let (source, place) = match self.at {
            At::ListItem(i) => (format!("{path}[{i}]"), true),
            At::Single => (path.to_string(), true),
            At::Line => (format!("{path}:{}", self.line), false),
        };
        let source = match &self.source_suffix {
            Some(suffix) => source + suffix,
            None => source,
        };
        let mut task = read_record(&self.bytes, self.line, self.col, path, &what, source)?;
        if place {
            task.place = Some(Place { path: self.path.clone(), line: self.line, col: self.col });
        }
        Ok(task)
    }
}

/// Parse one task's bytes, with errors placed in the file (the record starts at line:col).
/// One task's JSON text as a task. Plain valid JSON is checked and compacted in one pass;
/// anything else takes the careful path, which says what is wrong and where.
fn read_record(
    bytes: &[u8],
    line: u64,
    col: u64,
    path: &str,
    what: &dyn fmt::Display,
    source: String,
) -> Result<Task, InputError> {
    let task = match super::compact::compact_with_spans(bytes) {
        Some(text) => task_from_compact(&text, what, source),
        None => task_from_json(parse_record(bytes, line, col, path)?, what, source),
    };
    task.map_err(|msg| InputError::at(path, line, col, msg))
}

fn parse_record<'a>(
    bytes: &'a [u8],
    line: u64,
    col: u64,
    path: &str,
) -> Result<&'a serde_json::value::RawValue, InputError> {
    let raw: &serde_json::value::RawValue = serde_json::from_slice(bytes).map_err(|err| {
        let (l, c) = if err.line() <= 1 {
            (line, col + err.column().saturating_sub(1) as u64)
        } else {
            (line + err.line() as u64 - 1, err.column() as u64)
        };
        let msg = err.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        let hint = if msg.contains("invalid unicode") || msg.contains("UTF-8") {
            "; save the file as UTF-8"
        } else if bytes.contains(&0) {
            "; the text holds NUL bytes: is the file UTF-16? save it as UTF-8"
        } else {
            ""
        };
        InputError::at(path, l, c, format!("invalid JSON: {msg}{hint}"))
    })?;
    let at = |offset: usize| {
        let (l, c) = crate::error::line_col(bytes, offset);
        if l == 1 { (line, col + c - 1) } else { (line + l - 1, c) }
    };
    if let Some(offset) = super::raw::too_deep(bytes) {
        let (l, c) = at(offset);
        let msg = format!(
            "values are nested too deeply (more than {} levels of lists and objects)",
            super::compact::MAX_DEPTH
        );
        return Err(InputError::at(path, l, c, msg));
    }
    if let Some(offset) = super::raw::lone_surrogate(raw.get()) {
        let (l, c) = at(offset);
        return Err(InputError::at(
            path,
            l,
            c,
            "invalid JSON: half of a UTF-16 surrogate pair (\\uD800-\\uDFFF) without the other \
             half; write the character itself or its full pair",
        ));
    }
    Ok(raw)
}
