//! Time series: with one TimeSeries tag in the config, a CSV/TSV file is one task. With
//! `valueType="json"` the task holds the columns as arrays; otherwise it holds the file's URL,
//! as Label Studio hosts the file and links it.

use std::io::BufRead;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::csv::{csv_error, csv_reader, never_closed, row_error, sniff_delimiter, uses_crlf};
use super::dir::local_file_url;
use super::task::{Receiver, Task};
use crate::error::InputError;
use crate::labelconfig::ObjectTag;

/// One time-series task for the CSV/TSV file at `path`.
pub fn push_series_file(
    path: &Path,
    tag: Option<&ObjectTag>,
    key: &str,
    host_url: &str,
    sink: &mut dyn Receiver,
) -> Result<()> {
    let shown = path.display().to_string();
    if tag.and_then(|t| t.value_type.as_deref()) != Some("json") {
        let url = local_file_url(host_url, path)?;
        return sink.push(Task::single_value(key, &url, shown));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::file(&shown, format!("can't open: {e}")))?;
    let mut reader = std::io::BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| InputError::file(&shown, e.to_string()))?;
    let is_tsv = crate::formats::extension(&shown).as_deref() == Some("tsv");
    let delimiter = if is_tsv { b'\t' } else { sniff_delimiter(head) };
    let shift = u64::from(uses_crlf(head));
    let mut csv = csv_reader(reader, delimiter);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| csv_error(&shown, &e, shift))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                sink.reject(row_error(csv.get_ref(), &shown, &e, shift))?;
                return Ok(());
            }
        };
        if csv.get_ref().ends_in_a_quote() {
            let line = record.position().map_or(0, |p| p.line() + shift);
            sink.reject(never_closed(&shown, line))?;
            return Ok(());
        }
        for (column, cell) in columns.iter_mut().zip(record.iter()) {
            column.push(cell_value(cell));
        }
    }
    let mut series = String::from("{");
    for (i, (name, column)) in headers.into_iter().zip(columns).enumerate() {
        if i > 0 {
            series.push(',');
        }
        series.push_str(&Value::from(name).to_string());
        series.push_str(":[");
        series.push_str(&column.join(","));
        series.push(']');
    }
    series.push('}');
    let data = format!("{{{}:{series}}}", Value::from(key));
    sink.push(Task { data, source: shown, ..Task::default() })
}

/// A cell as JSON text: the number as written when it is one, else the text as a string.
fn cell_value(cell: &str) -> String {
    let trimmed = cell.trim();
    let is_number = trimmed.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        && serde_json::from_str::<serde_json::Number>(trimmed).is_ok();
    if is_number { trimmed.to_string() } else { Value::from(cell).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_become_numbers_when_they_are() {
        assert_eq!(cell_value("3"), "3");
        assert_eq!(cell_value(" 0.50"), "0.50");
        assert_eq!(cell_value("123456789012345678901"), "123456789012345678901");
        assert_eq!(cell_value("2020-01-01"), "\"2020-01-01\"");
        assert_eq!(cell_value("nan"), "\"nan\"");
    }
}
