//! Rendering query results: comfy-table tables for people, CSV, JSON (one array) and JSON
//! lines for programs, and the shell's `line` mode. Every command that prints rows uses this.

use std::io::Write;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::{Map, Value as Json};

use crate::query::QueryResult;

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A table for reading.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object a line.
    Jsonl,
    /// One `column = value` line per value, rows separated by a blank line.
    Line,
}

impl OutputFormat {
    /// Parse a format name (the shell's `.mode`).
    pub fn parse(name: &str) -> Option<OutputFormat> {
        <OutputFormat as clap::ValueEnum>::from_str(name, true).ok()
    }
}

/// Settings for table output.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableStyle {
    /// Fit the table to this many columns (a terminal's width).
    pub width: Option<u16>,
    /// Print the header row (off with `--no-headers`).
    pub is_headerless: bool,
}

/// The width of the terminal on standard output, when it is one (80 when it says 0).
pub fn terminal_width() -> Option<u16> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    Some(comfy_table::Table::new().width().filter(|w| *w >= 20).unwrap_or(80))
}

/// Write `result` in `format`.
pub fn render(
    result: &QueryResult,
    format: OutputFormat,
    style: TableStyle,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        OutputFormat::Table => write_table(result, style, out),
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            if !style.is_headerless {
                w.write_record(&result.columns)?;
            }
            for row in &result.rows {
                w.write_record(row.iter().map(plain_text))?;
            }
            w.flush()?;
            Ok(())
        }
        OutputFormat::Json => {
            out.write_all(b"[")?;
            for (i, row) in result.rows.iter().enumerate() {
                out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, &object(&result.columns, row))?;
            }
            out.write_all(if result.rows.is_empty() { b"]\n" } else { b"\n]\n" })?;
            Ok(())
        }
        OutputFormat::Jsonl => {
            for row in &result.rows {
                serde_json::to_writer(&mut *out, &object(&result.columns, row))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        OutputFormat::Line => {
            let width = result.columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
            for (i, row) in result.rows.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                for (name, value) in result.columns.iter().zip(row) {
                    writeln!(out, "{name:>width$} = {}", display_text(value))?;
                }
            }
            Ok(())
        }
    }
}

fn object(columns: &[String], row: &[Json]) -> Json {
    let mut map = Map::new();
    for (name, value) in columns.iter().zip(row) {
        map.insert(name.clone(), value.clone());
    }
    Json::Object(map)
}

/// A value as CSV cell text: strings bare, NULL empty, JSON compact.
fn plain_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as a person reads it: NULL spelled out.
fn display_text(value: &Json) -> String {
    match value {
        Json::Null => "NULL".into(),
        other => plain_text(other),
    }
}

/// Cut text to `max` characters, ending with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    let text = text.replace(['\n', '\r', '\t'], " ");
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn write_table(result: &QueryResult, style: TableStyle, out: &mut dyn Write) -> Result<()> {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    let texts: Vec<Vec<String>> =
        result.rows.iter().map(|row| row.iter().map(display_text).collect()).collect();
    let limits = match style.width {
        Some(width) => {
            table.set_content_arrangement(ContentArrangement::Dynamic).set_width(width);
            column_limits(&result.columns, &texts, width as usize)
        }
        None => vec![80; result.columns.len()],
    };
    if !style.is_headerless {
        table.set_header(result.columns.iter().zip(&limits).map(|(c, &max)| cut(c, max)));
    }
    for row in &texts {
        table.add_row(row.iter().zip(&limits).map(|(text, &max)| cut(text, max)));
    }
    writeln!(out, "{table}")?;
    let n = result.rows.len();
    let more = if result.is_truncated { " shown (more not fetched; see .maxrows)" } else { "" };
    writeln!(out, "{n} row{}{more}", if n == 1 { "" } else { "s" })?;
    Ok(())
}

/// How wide each column may be so the table fits `width`: narrow columns keep their width,
/// the wide ones share what is left.
fn column_limits(columns: &[String], rows: &[Vec<String>], width: usize) -> Vec<usize> {
    let n = columns.len().max(1);
    let available = width.saturating_sub(3 * n + 1);
    let natural: Vec<usize> = (0..columns.len())
        .map(|i| {
            let cells = rows.iter().take(1000).filter_map(|r| r.get(i));
            std::iter::once(&columns[i]).chain(cells).map(|t| t.chars().count()).max().unwrap_or(0)
        })
        .collect();
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| natural[i]);
    let mut limits = vec![0; columns.len()];
    let mut remaining = available;
    for (done, &i) in order.iter().enumerate() {
        let share = remaining / (columns.len() - done);
        limits[i] = natural[i].min(share).max(6);
        remaining = remaining.saturating_sub(limits[i]);
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> QueryResult {
        QueryResult {
            columns: vec!["id".into(), "data".into(), "note".into()],
            rows: vec![vec![json!(1), json!({"text": "a,b"}), Json::Null]],
            is_truncated: false,
        }
    }

    fn rendered(format: OutputFormat, style: TableStyle) -> String {
        let mut out = Vec::new();
        render(&sample(), format, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn machine_formats() {
        let d = TableStyle::default();
        assert_eq!(
            rendered(OutputFormat::Csv, d),
            "id,data,note\n1,\"{\"\"text\"\":\"\"a,b\"\"}\",\n"
        );
        assert_eq!(
            rendered(OutputFormat::Json, d),
            "[\n{\"id\":1,\"data\":{\"text\":\"a,b\"},\"note\":null}\n]\n"
        );
        assert_eq!(
            rendered(OutputFormat::Jsonl, d),
            "{\"id\":1,\"data\":{\"text\":\"a,b\"},\"note\":null}\n"
        );
        assert_eq!(
            rendered(OutputFormat::Line, d),
            "  id = 1\ndata = {\"text\":\"a,b\"}\nnote = NULL\n"
        );
    }

    #[test]
    fn narrow_columns_keep_their_width() {
        let columns = vec!["id".to_string(), "text".to_string()];
        let rows = vec![vec!["1".to_string(), "x".repeat(200)]];
        assert_eq!(column_limits(&columns, &rows, 60), [6, 47]);
        assert_eq!(column_limits(&columns, &[], 60), [6, 6]);
    }

    #[test]
    fn tables_cut_long_values() {
        assert_eq!(cut("abcdef", 4), "abc…");
        let text =
            rendered(OutputFormat::Table, TableStyle { width: Some(40), is_headerless: false });
        assert!(text.contains("NULL"), "{text}");
        assert!(text.ends_with("1 row\n"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }
}
