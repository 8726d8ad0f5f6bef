//! Checking and compacting a task's JSON in one pass (`compact_with_spans`), noting where
//! each object and list ends so that its members are found later without walking them
//! again; and the word-at-a-time search for quotes and backslashes the scanner shares.

/// Lists and objects may nest this deep in a task (Label Studio's own data is a few levels).
pub const MAX_DEPTH: u32 = 128;

/// Where each object and list of a compacted text ends, by where it starts (byte offsets,
/// in the order of their starts). `compact_with_spans` notes them as it goes, so that
/// splitting the text afterwards jumps over a value instead of walking it again.
#[derive(Debug, Default, PartialEq)]
pub struct Spans(pub(super) Vec<(u32, u32)>);

/// No spans known: every value is walked.
pub static NO_SPANS: Spans = Spans(Vec::new());

impl Spans {
    pub fn end(&self, start: usize) -> Option<usize> {
        let start = u32::try_from(start).ok()?;
        let i = self.0.binary_search_by_key(&start, |&(s, _)| s).ok()?;
        Some(self.0[i].1 as usize)
    }
}

/// Text that `compact_with_spans` checked and compacted, and its spans.
#[derive(Debug, PartialEq)]
pub struct Compact {
    pub text: String,
    pub spans: Spans,
}

/// Check JSON text and take out the whitespace between tokens, in one pass, noting where
/// each object and list starts and ends in the result. `None` when it is not plain valid
/// JSON — invalid, nested deeper than `MAX_DEPTH`, or holding a `\uD800`-`\uDFFF` escape
/// — for the careful path to read and explain.
///
/// Longer than 80 lines on purpose: it is the import's hottest loop (every byte of every
/// JSON task passes through it once), one state machine whose state lives in locals; split
/// into functions, that state would travel through arguments on every token.
pub fn compact_with_spans(bytes: &[u8]) -> Option<Compact> {
    let text = std::str::from_utf8(bytes).ok()?;
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    // Sized for a typical task, so that they seldom grow.
    let mut stack: Vec<u8> = Vec::with_capacity(16);
    // Offsets past u32 are not noted (their values are walked instead).
    let is_noting = b.len() < u32::MAX as usize;
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(32);
    // For each open object or list on `stack` that is noted: its place in `spans`.
    let mut open: Vec<usize> = Vec::with_capacity(16);
    let mut i = skip_space(b, 0);
    // After a value: a comma, the end of the list or object, or the end of the text.
    let mut is_after_value = false;
    loop {
        if is_after_value {
            let Some(&top) = stack.last() else {
                let text = (skip_space(b, i) == b.len()).then(|| String::from_utf8(out).ok())??;
                return Some(Compact { text, spans: Spans(spans) });
            };
            match (b.get(i)?, top) {
                (b',', b'{') => {
                    out.push(b',');
                    i = skip_space(b, i + 1);
                    if b.get(i) != Some(&b'"') {
                        return None;
                    }
                    i = copy_key(b, i, &mut out)?;
                    is_after_value = false;
                    continue;
                }
                (b',', _) => {
                    out.push(b',');
                    i = skip_space(b, i + 1);
                    is_after_value = false;
                    continue;
                }
                (b'}', b'{') | (b']', b'[') => {
                    out.push(b[i]);
                    stack.pop();
                    if let Some(k) = open.pop() {
                        spans[k].1 = out.len() as u32;
                    }
                    i = skip_space(b, i + 1);
                    continue;
                }
                _ => return None,
            }
        }
        // A value starts at i.
        match *b.get(i)? {
            bracket @ (b'{' | b'[') => {
                stack.push(bracket);
                if stack.len() > MAX_DEPTH as usize {
                    return None;
                }
                let start = out.len() as u32;
                out.push(bracket);
                i = skip_space(b, i + 1);
                let close = if bracket == b'{' { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    out.push(close);
                    stack.pop();
                    if is_noting {
                        spans.push((start, start + 2));
                    }
                    i = skip_space(b, i + 1);
                    is_after_value = true;
                    continue;
                }
                if is_noting {
                    open.push(spans.len());
                    spans.push((start, 0));
                }
                if bracket == b'{' {
                    if b.get(i) != Some(&b'"') {
                        return None;
                    }
                    i = copy_key(b, i, &mut out)?;
                }
                continue;
            }
            b'"' => i = copy_string(b, i, &mut out)?,
            b't' => i = copy_word(b, i, b"true", &mut out)?,
            b'f' => i = copy_word(b, i, b"false", &mut out)?,
            b'n' => i = copy_word(b, i, b"null", &mut out)?,
            b'-' | b'0'..=b'9' => i = copy_number(b, i, &mut out)?,
            _ => return None,
        }
        i = skip_space(b, i);
        is_after_value = true;
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// A key, its colon and the space before the value.
fn copy_key(b: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let i = skip_space(b, copy_string(b, i, out)?);
    if b.get(i) != Some(&b':') {
        return None;
    }
    out.push(b':');
    Some(skip_space(b, i + 1))
}

fn copy_word(b: &[u8], i: usize, word: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let end = i + word.len();
    (b.get(i..end)? == word).then(|| out.extend_from_slice(word))?;
    Some(end)
}

fn copy_number(b: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let digits = |mut j: usize| {
        let start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        (j > start).then_some(j)
    };
    let mut j = i + usize::from(b[i] == b'-');
    j = if b.get(j) == Some(&b'0') { j + 1 } else { digits(j)? };
    if b.get(j) == Some(&b'.') {
        j = digits(j + 1)?;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        j = digits(j)?;
    }
    out.extend_from_slice(&b[i..j]);
    Some(j)
}

/// A string with its quotes, checked: no control characters, known escapes only.
fn copy_string(b: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j = plain_run_end(b, j);
        let c = *b.get(j)?;
        match c {
            b'"' => {
                out.extend_from_slice(&b[i..=j]);
                return Some(j + 1);
            }
            b'\\' => match *b.get(j + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                b'u' => {
                    let hex = std::str::from_utf8(b.get(j + 2..j + 6)?).ok()?;
                    let code = u32::from_str_radix(hex, 16).ok()?;
                    if !hex.bytes().all(|h| h.is_ascii_hexdigit())
                        || (0xD800..=0xDFFF).contains(&code)
                    {
                        return None;
                    }
                    j += 6;
                }
                _ => return None,
            },
            0..=0x1f => return None,
            _ => j += 1,
        }
    }
}

/// A byte in each of a word's eight bytes.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The top bit of each of a word's eight bytes.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The top bit set in the bytes of `x` that are zero. Above a zero byte a set bit may be
/// false, so only the lowest set bit counts.
fn zero_byte(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The top bit set in the bytes of `x` that are a quote or a backslash (lowest set bit only).
fn quotes_or_backslashes(x: u64) -> u64 {
    zero_byte(x ^ (ONES * u64::from(b'"'))) | zero_byte(x ^ (ONES * u64::from(b'\\')))
}

/// The eight bytes of `b` from `j` as one word, the first byte lowest (`None` when fewer
/// are left).
fn word_at(b: &[u8], j: usize) -> Option<u64> {
    let word: [u8; 8] = b.get(j..j.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(word))
}

/// The first quote or backslash in `b`. Strings in tasks are mostly short (keys, labels):
/// the first 32 bytes are searched eight at a time, which beats setting up memchr for
/// them, and memchr takes the rest.
pub fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    let mut j = 0;
    while j < SHORT {
        let Some(x) = word_at(b, j) else {
            return b[j..].iter().position(|&c| c == b'"' || c == b'\\').map(|k| j + k);
        };
        let found = quotes_or_backslashes(x);
        if found != 0 {
            return Some(j + (found.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    memchr::memchr2(b'"', b'\\', &b[j..]).map(|k| j + k)
}

/// Past the bytes from `j` on that a JSON string holds as they are: the first quote,
/// backslash or control character at or after `j` (or the end). Eight bytes at a time: in
/// a word, the lowest byte flagged by these tests is always a true match.
fn plain_run_end(b: &[u8], mut j: usize) -> usize {
    while let Some(x) = word_at(b, j) {
        // Below 0x20 (and not 0x80 or above), a quote, a backslash.
        let special = (x.wrapping_sub(ONES * 0x20) & !x & HIGH) | quotes_or_backslashes(x);
        if special != 0 {
            return j + (special.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while b.get(j).is_some_and(|&c| c >= 0x20 && c != b'"' && c != b'\\') {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_runs_end_at_the_first_special_byte() {
        let special = |c: u8| c < 0x20 || c == b'"' || c == b'\\';
        for len in 0..20 {
            for at in 0..=len {
                for c in [0u8, 0x1f, b'"', b'\\', 0x20, b'!', 0x7f, 0x80, 0xff] {
                    let mut b = vec![b'a'; len];
                    if at < len {
                        b[at] = c;
                    }
                    // Bytes that come after a match must not move the answer.
                    b.extend_from_slice(&[0, b'"', 0xff]);
                    let want = (0..).find(|&k| special(b[k])).unwrap();
                    for start in 0..=want {
                        assert_eq!(plain_run_end(&b, start), want, "{b:?} from {start}");
                    }
                }
            }
        }
        let high = [0x80u8, 0xa0, 0xff, 0xe9, 0xc3, 0x9f, 0xa2, 0xa1, 0xb0, b'"'];
        assert_eq!(plain_run_end(&high, 0), 9);
        assert_eq!(plain_run_end(b"abc", 0), 3);
    }

    #[test]
    fn quotes_and_backslashes_are_found_near_and_far() {
        for len in 0..80 {
            for at in 0..=len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![0xe9u8; len];
                    if at < len {
                        b[at] = c;
                    }
                    b.extend_from_slice(b"x\"\\");
                    let want = b.iter().position(|&x| x == b'"' || x == b'\\');
                    assert_eq!(quote_or_backslash(&b), want, "{len} {at}");
                }
            }
            assert_eq!(quote_or_backslash(&vec![b'a'; len]), None);
        }
    }
}
