//! Time series: with one TimeSeries tag in the config, a CSV/TSV file is one task. With
//! `valueType="json"` the task holds the columns as arrays; otherwise it holds the file's URL,
//! as Label Studio hosts the file and links it.

use std::io::BufRead;
use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use super::csv::{csv_error, csv_reader, sniff_delimiter, uses_crlf};
use super::dir::local_file_url;
use super::sink::Sink;
use super::task::Task;
use crate::error::InputError;
use crate::labelconfig::ObjectTag;

/// One time-series task for the CSV/TSV file at `path`.
pub fn push_series_file(
    path: &Path,
    tag: Option<&ObjectTag>,
    key: &str,
    host_url: &str,
    sink: &mut Sink<'_>,
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
    let is_tsv = super::format::extension(&shown).as_deref() == Some("tsv");
    let delimiter = if is_tsv { b'\t' } else { sniff_delimiter(head) };
    let shift = u64::from(uses_crlf(head));
    let mut csv = csv_reader(reader, delimiter);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| csv_error(&shown, &e, shift))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut columns: Vec<Vec<Value>> = vec![Vec::new(); headers.len()];
    for record in csv.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                sink.reject(csv_error(&shown, &e, shift))?;
                return Ok(());
            }
        };
        for (column, cell) in columns.iter_mut().zip(record.iter()) {
            column.push(cell_value(cell));
        }
    }
    let mut series = Map::new();
    for (name, column) in headers.into_iter().zip(columns) {
        series.insert(name, Value::Array(column));
    }
    let mut data = Map::new();
    data.insert(key.to_string(), Value::Object(series));
    sink.push(Task::from_data(data, shown))
}

/// A number when the cell is one, else the text.
fn cell_value(cell: &str) -> Value {
    cell.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map_or_else(
            || Value::String(cell.to_string()),
            |n| {
                if let Ok(i) = cell.trim().parse::<i64>() {
                    Value::from(i)
                } else {
                    Value::Number(n)
                }
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_become_numbers_when_they_are() {
        assert_eq!(cell_value("3"), Value::from(3));
        assert_eq!(cell_value("0.5"), Value::from(0.5));
        assert_eq!(cell_value("2020-01-01"), Value::from("2020-01-01"));
        assert_eq!(cell_value("nan"), Value::from("nan"));
    }
}
