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
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        visit(number, bytes)?;
    }
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
