//! CSV and TSV: the header row names the data keys, each row is one task, cell text is kept
//! exactly. A `.csv` whose header uses `;` is read with `;`. With a single TimeSeries tag in
//! the config, a CSV/TSV file is one time-series task instead (see `series.rs`).

use std::io::{BufRead, Read};

use anyhow::Result;
use serde_json::{Map, Value};

use super::sink::Sink;
use super::task::Task;
use crate::error::{InputError, line_col};

/// Read a CSV (`delimiter` None: sniffed from the header) or TSV file, one task a row.
pub fn read_csv(
    mut reader: impl BufRead,
    path: &str,
    delimiter: Option<u8>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let io = |e: std::io::Error| InputError::file(path, format!("reading failed: {e}"));
    let head = reader.fill_buf().map_err(io)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let head = reader.fill_buf().map_err(io)?;
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(head));
    // The csv crate places a record after a CRLF on the line before it; count from the next.
    let shift = u64::from(uses_crlf(head));
    let mut csv = csv_reader(reader, delimiter);
    let headers = csv.byte_headers().map_err(|e| csv_error(path, &e, shift))?.clone();
    if headers.is_empty() || headers.iter().all(<[u8]>::is_empty) {
        return Err(InputError::file(
            path,
            "the file is empty; a CSV file starts with a header row naming the data keys",
        )
        .into());
    }
    let mut keys = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        keys.push(utf8(h, path, 1)?.to_string());
    }
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    sink.reject(csv_error(path, &e, shift))?;
                    continue;
                }
                return Err(csv_error(path, &e, shift).into());
            }
        }
        let line = record.position().map_or(0, |p| p.line() + shift);
        let mut data = Map::new();
        let mut bad = None;
        for (key, cell) in keys.iter().zip(record.iter()) {
            match utf8(cell, path, line) {
                Ok(text) => {
                    data.insert(key.clone(), Value::String(text.to_string()));
                }
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        match bad {
            Some(err) => sink.reject(err)?,
            None => sink.push(Task::from_data(data, format!("{path}:{line}")))?,
        }
    }
    Ok(())
}

/// A CSV reader with lsdb's settings: a header row, rows must match it.
pub fn csv_reader<R: Read>(reader: R, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(reader)
}

/// `;` when the first line has more semicolons than commas (outside quotes), else `,`.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let first = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let (mut commas, mut semis, mut quoted) = (0, 0, false);
    for &b in first {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semis += 1,
            _ => {}
        }
    }
    if semis > commas { b';' } else { b',' }
}

fn utf8<'a>(bytes: &'a [u8], path: &str, line: u64) -> Result<&'a str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (_, col) = line_col(bytes, e.valid_up_to());
        InputError::at(path, line, col, "invalid UTF-8 in a cell; save the file as UTF-8")
    })
}

/// True when the first line of `head` ends with CRLF.
pub fn uses_crlf(head: &[u8]) -> bool {
    head.iter().position(|&b| b == b'\n').is_some_and(|i| i > 0 && head[i - 1] == b'\r')
}

/// A csv crate error as `path:line: message`; `shift` corrects line numbers of CRLF files.
pub fn csv_error(path: &str, err: &csv::Error, shift: u64) -> InputError {
    match err.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => InputError::line(
            path,
            pos.as_ref().map_or(0, |p| p.line() + shift),
            format!(
                "row has {len} fields but the header has {expected_len}; quote cells that \
                 contain the delimiter, or fix the row"
            ),
        ),
        csv::ErrorKind::Io(e) => InputError::file(path, format!("reading failed: {e}")),
        _ => {
            let line = err.position().map_or(0, |p| p.line() + shift);
            InputError::line(path, line, err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_semicolons_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,2;3"), b';');
        assert_eq!(sniff_delimiter(b"\"a;b\",c\n"), b',');
        assert_eq!(sniff_delimiter(b"a,b\n"), b',');
    }
}
