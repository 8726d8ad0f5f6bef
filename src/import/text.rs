//! Plain text and URL lists: one task a line. The line ending and a leading byte-order mark
//! are removed, blank lines are skipped and counted. Lines that are URLs of images, audio or
//! time series go to the object tag that fits them.

use std::io::BufRead;

use anyhow::Result;

use super::context::ReadContext;
use super::lines::for_each_line;
use super::task::{Receiver, Task, line_source};
use crate::error::{InputError, line_col};
use crate::formats::{MediaKind, url_media_kind};

/// Read a text file or URL list; returns how many tasks it held.
pub fn read_text(
    reader: impl BufRead,
    path: &str,
    ctx: &mut ReadContext<'_>,
    sink: &mut dyn Receiver,
) -> Result<u64> {
    let mut key: Option<String> = None;
    let mut tasks = 0u64;
    for_each_line(reader, path, |number, bytes| {
        let line = match std::str::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                let (_, col) = line_col(bytes, e.valid_up_to());
                let msg = "invalid UTF-8; save the file as UTF-8";
                return sink.reject(InputError::at(path, number, col, msg));
            }
        };
        if line.trim().is_empty() {
            sink.skip(1)?;
            return Ok(());
        }
        let key = match &key {
            Some(key) => key,
            None => key.insert(ctx.key_for(line_kind(line))?),
        };
        tasks += 1;
        sink.push(Task::single_value(key, line, line_source(path, number)))
    })?;
    Ok(tasks)
}

/// The error for a file with no task in it.
pub fn no_tasks_error(path: &str, what: &str) -> InputError {
    InputError::at(
        path,
        1,
        1,
        format!("the file holds no tasks (it is empty or every line is blank); {what}"),
    )
}

/// What a line holds: a URL of a media file, or text.
fn line_kind(line: &str) -> MediaKind {
    let line = line.trim();
    let is_url = ["http://", "https://", "s3://", "gs://", "azure-blob://", "/data/"]
        .iter()
        .any(|p| line.starts_with(p));
    match url_media_kind(line) {
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
