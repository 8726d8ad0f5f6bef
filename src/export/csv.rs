//! The `csv` export as Label Studio's converter writes it (`label-studio-sdk`, `csv2`): one
//! row per json-min item; columns sorted by name; a data key that is also a control name
//! becomes `_data_<key>`; `<name>_transcript` for chats; `history` when an annotation has
//! one; Python's csv quoting (every text quoted, numbers bare, `\r\n` line ends) and
//! ujson's text for lists and objects (`/` written `\/`, numbers as Python prints them).

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Result;
use serde_json::{Map, Value};

use super::min::{Item, prettify};
use super::python::{python_number, python_str, ujson};

/// The columns, gathered over every item of the export (first pass).
#[derive(Default)]
pub struct Columns {
    inputs: BTreeSet<String>,
    outputs: BTreeSet<String>,
    others: BTreeSet<String>,
}

/// The final, sorted columns and the data keys that collide with control names.
pub struct Header {
    names: Vec<String>,
    colliding: BTreeSet<String>,
}

impl Columns {
    /// Take note of one item's columns.
    pub fn add(&mut self, item: &Item) {
        self.inputs.extend(item.input.keys().cloned());
        for (name, values) in &item.outputs {
            self.outputs.insert(name.clone());
            if is_chat(values) {
                self.others.insert(format!("{name}_transcript"));
            }
        }
        if item.agreement.is_some() {
            self.others.insert("agreement".into());
        }
        if is_truthy(&item.field("history")) {
            self.others.insert("history".into());
        }
    }

    /// Every column, sorted as Python sorts strings.
    pub fn finish(self) -> Header {
        let colliding: BTreeSet<String> =
            self.inputs.intersection(&self.outputs).cloned().collect();
        let mut names: BTreeSet<String> =
            ["annotator", "annotation_id", "created_at", "updated_at", "lead_time", "id"]
                .into_iter()
                .map(String::from)
                .collect();
        names.extend(self.inputs.iter().map(|k| input_column(k, &colliding)));
        names.extend(self.outputs);
        names.extend(self.others);
        Header { names: names.into_iter().collect(), colliding }
    }
}

fn input_column(key: &str, colliding: &BTreeSet<String>) -> String {
    if colliding.contains(key) { format!("_data_{key}") } else { key.to_string() }
}

fn is_chat(values: &[Map<String, Value>]) -> bool {
    values
        .iter()
        .any(|v| matches!(v.get("type").and_then(Value::as_str), Some("Chat" | "chatmessage")))
}

/// Python's truth of a JSON value.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The header row.
pub fn write_header(out: &mut dyn Write, header: &Header) -> Result<()> {
    let cells: Vec<Cell> = header.names.iter().map(|n| Cell::Text(n.clone())).collect();
    write_cells(out, &cells)
}

/// One item's row.
pub fn write_row(out: &mut dyn Write, header: &Header, item: &Item) -> Result<()> {
    let mut record: Vec<(String, Cell)> = vec![("id".into(), Cell::Number(item.id.to_string()))];
    for (name, values) in &item.outputs {
        let pretty = prettify(values.clone());
        if is_chat(values) {
            record.push((format!("{name}_transcript"), Cell::Text(transcript(&pretty))));
        }
        let cell = match pretty {
            Value::String(s) => Cell::Text(s),
            other => Cell::Text(ujson(&other)),
        };
        record.push((name.clone(), cell));
    }
    for (key, value) in &item.input {
        let cell = match value {
            Value::Object(_) | Value::Array(_) => Cell::Text(ujson(value)),
            other => scalar(other),
        };
        record.push((input_column(key, &header.colliding), cell));
    }
    let annotator = match item.completed_by() {
        None => Cell::Null,
        Some(Value::Object(user)) => user.get("email").map_or(Cell::Null, scalar_text),
        Some(other) => scalar_text(other),
    };
    record.push(("annotator".into(), annotator));
    record.push(("annotation_id".into(), scalar(&item.field("id"))));
    for key in ["created_at", "updated_at", "lead_time"] {
        record.push((key.into(), scalar(&item.field(key))));
    }
    if let Some(agreement) = &item.agreement {
        record.push(("agreement".into(), scalar(agreement)));
    }
    let history = item.field("history");
    if is_truthy(&history) {
        record.push(("history".into(), Cell::Text(ujson(&history))));
    }
    let cells: Vec<Cell> = header
        .names
        .iter()
        .map(|name| {
            record.iter().rev().find(|(n, _)| n == name).map_or(Cell::Null, |(_, c)| c.clone())
        })
        .collect();
    write_cells(out, &cells)
}

/// A value as Python's csv module writes it with QUOTE_NONNUMERIC.
#[derive(Clone)]
enum Cell {
    /// Missing or None: `""`.
    Null,
    /// Quoted.
    Text(String),
    /// Bare: an int, a float as Python prints it, True or False.
    Number(String),
}

fn write_cells(out: &mut dyn Write, cells: &[Cell]) -> Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        match cell {
            Cell::Null => out.write_all(b"\"\"")?,
            Cell::Text(s) => {
                out.write_all(b"\"")?;
                out.write_all(s.replace('"', "\"\"").as_bytes())?;
                out.write_all(b"\"")?;
            }
            Cell::Number(s) => out.write_all(s.as_bytes())?,
        }
    }
    out.write_all(b"\r\n")?;
    Ok(())
}

/// A scalar as the converter's Python value: text quoted, numbers and booleans bare.
fn scalar(value: &Value) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Number(if *b { "True" } else { "False" }.into()),
        Value::Number(n) => Cell::Number(python_number(n, false)),
        Value::String(s) => Cell::Text(s.clone()),
        other => Cell::Text(ujson(other)),
    }
}

/// `str(value)` in Python, quoted (the converter's `annotator` for ids and other values).
fn scalar_text(value: &Value) -> Cell {
    Cell::Text(python_str(value))
}

/// The chat as `role: content` lines.
fn transcript(pretty: &Value) -> String {
    let mut lines = Vec::new();
    for message in pretty.as_array().into_iter().flatten() {
        let Some(message) = message.as_object() else { continue };
        let text = |key: &str| match message.get(key) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => ujson(other),
        };
        let (role, content) = (text("role"), text("content"));
        lines.push(match (role.is_empty(), content.is_empty()) {
            (true, _) => content,
            (false, true) => format!("{role}:"),
            (false, false) => format!("{role}: {content}"),
        });
    }
    lines.join("\n")
}
