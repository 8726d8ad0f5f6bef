//! Reading a file line by line for the line-based formats (`jsonl`, `text`): one line in
//! memory at a time, the line ending and a leading byte-order mark removed.

use std::io::BufRead;

use anyhow::Result;

use crate::error::InputError;

/// Call `visit(line_number, bytes)` for every line; returns how many lines there were.
pub fn for_each_line(
    mut reader: impl BufRead,
    path: &str,
    mut visit: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<u64> {
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| InputError::file(path, format!("reading failed: {e}")))?;
        if n == 0 {
            return Ok(number);
        }
        number += 1;
        let mut bytes = buf.as_slice();
        if number == 1 {
            if has_utf16_bom(bytes) {
                return Err(utf16_error(path).into());
            }
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        visit(number, bytes)?;
    }
}

/// True when text starts with a UTF-16 byte-order mark.
pub fn has_utf16_bom(head: &[u8]) -> bool {
    head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF")
}

/// The error for a UTF-16 file.
pub fn utf16_error(path: &str) -> InputError {
    InputError::at(
        path,
        1,
        1,
        "the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_endings_and_bom() -> Result<()> {
        let mut seen = Vec::new();
        let n = for_each_line(&b"\xEF\xBB\xBFa\r\n\nb"[..], "t", |i, l| {
            seen.push((i, l.to_vec()));
            Ok(())
        })?;
        assert_eq!(n, 3);
        assert_eq!(seen, [(1, b"a".to_vec()), (2, b"".to_vec()), (3, b"b".to_vec())]);
        Ok(())
    }
}
