//! CSV and TSV: the header row names the data keys, each row is one task, cell text is kept
//! exactly. A `.csv` whose header uses `;` is read with `;`. With a single TimeSeries tag in
//! the config, a CSV/TSV file is one time-series task instead (see `series.rs`).

use std::io::{BufRead, Read};

use anyhow::Result;

use super::task::{Receiver, Task, line_source};
use crate::error::{InputError, line_col};

/// Read a CSV (`delimiter` None: sniffed from the header) or TSV file, one task a row.
pub fn read_csv(
    mut reader: impl BufRead,
    path: &str,
    delimiter: Option<u8>,
    sink: &mut dyn Receiver,
) -> Result<()> {
    let io = |e: std::io::Error| InputError::file(path, format!("reading failed: {e}"));
    let head = reader.fill_buf().map_err(io)?;
    if super::lines::has_utf16_bom(head) {
        return Err(super::lines::utf16_error(path).into());
    }
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let head = reader.fill_buf().map_err(io)?;
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(head));
    // The csv crate places a record after a CRLF on the line before it; count from the next.
    let shift = u64::from(uses_crlf(head));
    let mut csv = csv_reader(reader, delimiter);
    let headers = csv.byte_headers().map_err(|e| csv_error(path, &e, shift))?.clone();
    if headers.is_empty() || headers.iter().all(|h| h.iter().all(u8::is_ascii_whitespace)) {
        return Err(InputError::line(
            path,
            1,
            "the file is empty or its header row is blank; a CSV file starts with a header row \
             naming the data keys",
        )
        .into());
    }
    let mut names = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        names.push(utf8(h, path, 1)?.to_string());
    }
    let keys = data_keys(names);
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let err = row_error(csv.get_ref(), path, &e, shift);
                if let csv::ErrorKind::UnequalLengths { .. } = e.kind() {
                    sink.reject(err)?;
                    continue;
                }
                return Err(err.into());
            }
        }
        let line = record.position().map_or(0, |p| p.line() + shift);
        if csv.get_ref().ends_in_a_quote() {
            sink.reject(never_closed(path, line))?;
            continue;
        }
        let cells: Result<Vec<&str>, InputError> =
            record.iter().map(|cell| utf8(cell, path, line)).collect();
        match cells {
            Err(err) => sink.reject(err)?,
            Ok(cells) => {
                let pairs = keys.iter().map(String::as_str).zip(cells);
                sink.push(Task::from_strings(pairs, line_source(path, line)))?
            }
        }
    }
    Ok(())
}

/// The data keys for a header row, named as pandas (and so Label Studio) names them: an
/// empty name becomes `Unnamed: <column index>`, a repeated one `<name>.1`, `<name>.2`, ...
/// so that no cell is lost.
pub fn data_keys(names: Vec<String>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let name = if name.is_empty() { format!("Unnamed: {i}") } else { name };
        let mut key = name.clone();
        let mut n = 0;
        while keys.contains(&key) {
            n += 1;
            key = format!("{name}.{n}");
        }
        keys.push(key);
    }
    keys
}

/// A CSV reader with lsdb's settings: a header row, rows must match it.
pub fn csv_reader<R: Read>(reader: R, delimiter: u8) -> csv::Reader<QuoteWatch<R>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(QuoteWatch::new(reader, delimiter))
}

/// What is wrong with the row the csv crate could not read: what the crate says, and, when
/// the file ended inside a quoted cell (which cut the row short), first that.
pub fn row_error<R>(watch: &QuoteWatch<R>, path: &str, err: &csv::Error, shift: u64) -> InputError {
    let mut out = csv_error(path, err, shift);
    if watch.ends_in_a_quote() {
        out.msg = format!("{NEVER_CLOSED} ({})", out.msg.split(';').next().unwrap_or_default());
    }
    out
}

const NEVER_CLOSED: &str = "a quote opened on this line is never closed (the row runs to the end \
                            of the file); close it with \"";

/// The error for a row whose last cell opens a quote that the file never closes.
pub fn never_closed(path: &str, line: u64) -> InputError {
    InputError::line(path, line, NEVER_CLOSED)
}

/// Follows the bytes the csv crate reads, to tell whether the file ends inside a quoted
/// cell: the crate then ends the cell, and the row, at the end of the file without saying
/// so (pandas, and so Label Studio, refuses such a file).
pub struct QuoteWatch<R> {
    inner: R,
    delimiter: u8,
    state: Quoting,
    is_at_end: bool,
}

/// Where the bytes read so far leave off, as the csv crate quotes: a quote opens a cell only
/// at its start, two quotes in a quoted cell are one, and after the closing quote the cell
/// goes on unquoted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quoting {
    CellStart,
    Plain,
    Quoted,
    /// A quote in a quoted cell: its end, or the first of two.
    QuoteInQuoted,
}

impl<R> QuoteWatch<R> {
    fn new(inner: R, delimiter: u8) -> QuoteWatch<R> {
        QuoteWatch { inner, delimiter, state: Quoting::CellStart, is_at_end: false }
    }

    /// True once the whole input has been read and it ended inside a quoted cell: the row
    /// the csv crate read last is then cut short.
    pub fn ends_in_a_quote(&self) -> bool {
        self.is_at_end && self.state == Quoting::Quoted
    }

    fn follow(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            match self.state {
                Quoting::Quoted => match memchr::memchr(b'"', rest) {
                    Some(j) => {
                        i += j + 1;
                        self.state = Quoting::QuoteInQuoted;
                    }
                    None => return,
                },
                Quoting::Plain => match memchr::memchr3(self.delimiter, b'\n', b'\r', rest) {
                    Some(j) => {
                        i += j + 1;
                        self.state = Quoting::CellStart;
                    }
                    None => return,
                },
                Quoting::CellStart | Quoting::QuoteInQuoted => {
                    let b = rest[0];
                    self.state = if b == b'"' {
                        Quoting::Quoted
                    } else if b == self.delimiter || b == b'\n' || b == b'\r' {
                        Quoting::CellStart
                    } else {
                        Quoting::Plain
                    };
                    i += 1;
                }
            }
        }
    }
}

impl<R: Read> Read for QuoteWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.is_at_end = true;
        }
        self.follow(&buf[..n]);
        Ok(n)
    }
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

    #[test]
    fn the_quote_watch_reads_as_the_csv_crate_quotes_in_pieces_of_any_size() {
        let cases: [(&[u8], bool); 9] = [
            (b"a,b\n1,\"x", true),
            (b"a,b\n1,\"x\"", false),
            (b"a,b\n1,\"x\"\"", true),
            (b"a,b\n1,\"x\"\"\"", false),
            (b"a,b\n1,x\"", false),
            (b"a,b\n\"1\ny\",\"", true),
            (b"a,b\r\n1,\"\"\r\n", false),
            (b"a;b\n1;\"x;y", true),
            (b"a,b\n\"x\"y,\"z", true),
        ];
        for (text, is_open) in cases {
            for size in [1, 2, 3, 64] {
                let delimiter = if text.contains(&b';') { b';' } else { b',' };
                let mut watch = QuoteWatch::new(text, delimiter);
                let mut buf = vec![0; size];
                while watch.read(&mut buf).unwrap() > 0 {}
                let text = String::from_utf8_lossy(text);
                assert_eq!(watch.ends_in_a_quote(), is_open, "{text:?} read {size} at a time");
            }
        }
    }

    #[test]
    fn repeated_and_empty_headers_get_pandas_names() {
        let names = ["label", "label", "", "label.1", "label"].map(String::from).to_vec();
        assert_eq!(data_keys(names), ["label", "label.1", "Unnamed: 2", "label.1.1", "label.2"]);
    }
}
