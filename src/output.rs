//! Rendering query results: comfy-table tables for people, CSV, JSON (one array) and JSON
//! lines for programs, and the shell's `line` mode. Every command that prints rows uses this.

use std::io::Write;

use crate::query::{Cell, CellRef, QueryResult, RowSink};
use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets};

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

/// Settings for table output.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableStyle {
    /// Fit the table to this many columns (a terminal's width).
    pub width: Option<u16>,
    /// Print the header row (off with `--no-headers`).
    pub is_headerless: bool,
    /// Said after "N rows shown (more not fetched" when rows were cut: how to see more.
    pub truncation_hint: &'static str,
}

/// The width of the terminal on standard output, when it is one (80 when it says 0).
pub fn terminal_width() -> Option<u16> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    Some(comfy_table::Table::new().width().filter(|w| *w >= 20).unwrap_or(80))
}

/// Print lines on standard output; a closed pipe is an error (exit 0), never a panic.
pub fn print_lines<T: std::fmt::Display>(lines: impl IntoIterator<Item = T>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// Write `result` in `format`.
pub fn render(
    result: &QueryResult,
    format: OutputFormat,
    style: TableStyle,
    out: &mut dyn Write,
) -> Result<()> {
    let mut writer = RowWriter::new(format, style, out);
    writer.columns(&result.columns)?;
    for row in &result.rows {
        let cells: Vec<CellRef<'_>> = row.iter().map(Cell::as_ref).collect();
        writer.row(&cells)?;
    }
    writer.finish(result.is_truncated)
}

/// Writes rows as they come: CSV, JSON and line output go straight out; a table keeps up to
/// `max_rows` rows (it needs them all to size its columns) and says when it stopped.
pub struct RowWriter<'w> {
    format: OutputFormat,
    style: TableStyle,
    out: Out<'w>,
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// Rows a table keeps; more are not read.
    pub max_rows: Option<usize>,
    count: u64,
    is_truncated: bool,
}

/// Where rows go: CSV through the csv crate's writer (`QuoteStyle::Necessary`, DuckDB's
/// quoting too), everything else as written.
enum Out<'w> {
    Plain(&'w mut dyn Write),
    Csv(Box<csv::Writer<&'w mut dyn Write>>),
}

impl Out<'_> {
    /// The writer non-CSV output goes to.
    fn plain(&mut self) -> Result<&mut dyn Write> {
        match self {
            Out::Plain(out) => Ok(&mut **out),
            Out::Csv(_) => anyhow::bail!("CSV output is written through its CSV writer"),
        }
    }
}

impl<'w> RowWriter<'w> {
    pub fn new(format: OutputFormat, style: TableStyle, out: &'w mut dyn Write) -> Self {
        let out = match format {
            OutputFormat::Csv => Out::Csv(Box::new(
                csv::WriterBuilder::new()
                    .quote_style(csv::QuoteStyle::Necessary)
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(out),
            )),
            _ => Out::Plain(out),
        };
        RowWriter {
            format,
            style,
            out,
            columns: Vec::new(),
            rows: Vec::new(),
            max_rows: None,
            count: 0,
            is_truncated: false,
        }
    }

    /// One CSV record.
    fn csv<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> Result<()> {
        if let Out::Csv(csv) = &mut self.out {
            csv.write_record(fields)?;
        }
        Ok(())
    }

    /// Rows written (or kept for a table) so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Finish the output: the closing bracket, or the table with its row count.
    pub fn finish(mut self, is_truncated: bool) -> Result<()> {
        let is_truncated = is_truncated || self.is_truncated;
        match self.format {
            OutputFormat::Table => {
                let result = QueryResult {
                    columns: std::mem::take(&mut self.columns),
                    rows: std::mem::take(&mut self.rows),
                    is_truncated,
                };
                write_table(&result, self.style, self.out.plain()?)?;
            }
            OutputFormat::Json => {
                let end: &[u8] = if self.count == 0 { b"]\n" } else { b"\n]\n" };
                self.out.plain()?.write_all(end)?;
            }
            _ => {}
        }
        match &mut self.out {
            Out::Csv(csv) => csv.flush()?,
            Out::Plain(out) => out.flush()?,
        }
        Ok(())
    }
}

impl RowSink for RowWriter<'_> {
    fn columns(&mut self, columns: &[String]) -> Result<()> {
        self.columns = columns.to_vec();
        match self.format {
            OutputFormat::Csv if !self.style.is_headerless => {
                self.csv(columns.iter().map(String::as_str))?
            }
            OutputFormat::Json => self.out.plain()?.write_all(b"[")?,
            _ => {}
        }
        Ok(())
    }

    fn row(&mut self, row: &[CellRef<'_>]) -> Result<bool> {
        match self.format {
            OutputFormat::Table => {
                if self.max_rows.is_some_and(|max| self.rows.len() >= max) {
                    self.is_truncated = true;
                    return Ok(false);
                }
                self.rows.push(row.iter().map(|c| c.to_cell()).collect());
            }
            OutputFormat::Csv => self.csv(row.iter().map(CellRef::plain))?,
            OutputFormat::Json => {
                let out = self.out.plain()?;
                out.write_all(if self.count == 0 { b"\n" } else { b",\n" })?;
                write_object(out, &self.columns, row)?;
            }
            OutputFormat::Jsonl => {
                let out = self.out.plain()?;
                write_object(out, &self.columns, row)?;
                out.write_all(b"\n")?;
            }
            OutputFormat::Line => {
                let out = self.out.plain()?;
                if self.count > 0 {
                    writeln!(out)?;
                }
                let width = self.columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
                for (name, value) in self.columns.iter().zip(row) {
                    writeln!(out, "{name:>width$} = {}", display_text(value))?;
                }
            }
        }
        self.count += 1;
        Ok(true)
    }
}

/// One row as a JSON object, values written as their JSON text.
fn write_object(out: &mut dyn Write, columns: &[String], row: &[CellRef<'_>]) -> Result<()> {
    out.write_all(b"{")?;
    for (i, (name, value)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, name)?;
        out.write_all(b":")?;
        value.write_json(out)?;
    }
    out.write_all(b"}")?;
    Ok(())
}

/// A value as a person reads it: NULL spelled out.
fn display_text<'a>(value: &CellRef<'a>) -> &'a str {
    match value {
        CellRef::Null => "NULL",
        CellRef::Text(s) | CellRef::Raw(s) => s,
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
    let texts: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| row.iter().map(|c| display_text(&c.as_ref()).to_string()).collect())
        .collect();
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
    let more = if result.is_truncated {
        format!(" shown (more not fetched{})", style.truncation_hint)
    } else {
        String::new()
    };
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

    fn sample() -> QueryResult {
        QueryResult {
            columns: vec!["id".into(), "data".into(), "note".into()],
            rows: vec![vec![Cell::number(1), Cell::Raw(r#"{"text":"a,b"}"#.into()), Cell::Null]],
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
            rendered(OutputFormat::Table, TableStyle { width: Some(40), ..TableStyle::default() });
        assert!(text.contains("NULL"), "{text}");
        assert!(text.ends_with("1 row\n"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }
}
