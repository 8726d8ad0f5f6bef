//! Plain text and URL lists: one task a line. The line ending and a leading byte-order mark
//! are removed, blank lines are skipped and counted. Lines that are URLs of images, audio or
//! time series go to the object tag that fits them.

use std::io::BufRead;

use anyhow::Result;

use super::ReadContext;
use super::format::{MediaKind, media_kind};
use super::sink::Sink;
use super::task::Task;
use crate::error::{InputError, line_col};

/// Read a text file or URL list.
pub fn read_text(
    mut reader: impl BufRead,
    path: &str,
    ctx: &mut ReadContext<'_>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut number = 0u64;
    let mut key: Option<String> = None;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| InputError::file(path, format!("reading failed: {e}")))?;
        if n == 0 {
            break;
        }
        number += 1;
        let mut bytes = buf.as_slice();
        if number == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = match std::str::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                let (_, col) = line_col(bytes, e.valid_up_to());
                sink.reject(InputError::at(
                    path,
                    number,
                    col,
                    "invalid UTF-8; save the file as UTF-8",
                ))?;
                continue;
            }
        };
        if line.trim().is_empty() {
            sink.skip(1);
            continue;
        }
        let key = match &key {
            Some(key) => key,
            None => key.insert(ctx.key_for(line_kind(line))?),
        };
        sink.push(Task::single_value(key, line, format!("{path}:{number}")))?;
    }
    Ok(())
}

/// What a line holds: a URL of a media file, or text.
fn line_kind(line: &str) -> MediaKind {
    let line = line.trim();
    let is_url = ["http://", "https://", "s3://", "gs://", "azure-blob://", "/data/"]
        .iter()
        .any(|p| line.starts_with(p));
    match media_kind(line) {
        Some(kind) if is_url => kind,
        _ => MediaKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lines_pick_their_kind() {
        assert_eq!(line_kind("https://my.domain.com/image1.jpg"), MediaKind::Image);
        assert_eq!(line_kind("https://my.domain.com/a.wav?x=1"), MediaKind::Audio);
        assert_eq!(line_kind("https://my.domain.com/time-series1.csv"), MediaKind::TimeSeries);
        assert_eq!(line_kind("this is a first task"), MediaKind::Text);
        assert_eq!(line_kind("see photo.jpg"), MediaKind::Text);
    }
}
