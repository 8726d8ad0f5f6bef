//! JSON kept as text: an object's members as raw values in order, whitespace removed
//! between tokens, and objects put back together from raw members. Nothing here parses a
//! number, so nothing here can change one.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON object's members in order, each value as its raw text. A key given twice keeps
/// its last value (as Python's `json`, and so Label Studio, reads it).
#[derive(Debug, Default)]
pub struct RawObject<'a> {
    members: Vec<(Cow<'a, str>, &'a str)>,
}

impl<'a> RawObject<'a> {
    /// The members of `json` when it is an object.
    pub fn parse(json: &'a str) -> Option<RawObject<'a>> {
        if !json.starts_with('{') {
            return None;
        }
        serde_json::from_str(json).ok()
    }

    /// The members of an object in text that `compact_with_spans` made (so known to be valid
    /// and compact): found by skipping values, without parsing them again. `json` starts at
    /// `at` in the text that `spans` describes.
    pub fn split(json: &'a str, spans: &Spans, at: usize) -> Option<RawObject<'a>> {
        let b = json.as_bytes();
        if b.first() != Some(&b'{') {
            return None;
        }
        let mut object = RawObject { members: Vec::with_capacity(8) };
        let mut i = 1;
        if b.get(1) == Some(&b'}') {
            return Some(object);
        }
        loop {
            let key_end = string_end(b, i);
            let key = &json[i..key_end];
            let key = if key.contains('\\') {
                Cow::Owned(serde_json::from_str::<String>(key).ok()?)
            } else {
                Cow::Borrowed(&key[1..key.len() - 1])
            };
            let value_end = value_end(b, key_end + 1, spans, at);
            object.insert(key, &json[key_end + 1..value_end]);
            match b.get(value_end) {
                Some(b',') => i = value_end + 1,
                _ => return Some(object),
            }
        }
    }

    fn insert(&mut self, key: Cow<'a, str>, value: &'a str) {
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some(member) => member.1 = value,
            None => self.members.push((key, value)),
        }
    }

    /// Take a member out.
    pub fn remove(&mut self, key: &str) -> Option<&'a str> {
        let i = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(i).1)
    }

    /// A member's value.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members in order.
    pub fn members(&self) -> &[(Cow<'a, str>, &'a str)] {
        &self.members
    }
}

/// The items of a list in text that `compact_with_spans` made (starting at `at` in the text
/// that `spans` describes).
pub fn split_list<'a>(json: &'a str, spans: &Spans, at: usize) -> Option<Vec<&'a str>> {
    let b = json.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut items = Vec::new();
    if b.get(1) == Some(&b']') {
        return Some(items);
    }
    let mut i = 1;
    loop {
        let end = value_end(b, i, spans, at);
        items.push(&json[i..end]);
        match b.get(end) {
            Some(b',') => i = end + 1,
            _ => return Some(items),
        }
    }
}

/// Just past the string that starts at `i` (valid JSON).
fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while let Some(k) = quote_or_backslash(&b[j..]) {
        if b[j + k] == b'"' {
            return j + k + 1;
        }
        j += k + 2;
    }
    b.len()
}

/// Just past the value that starts at `i` (valid, compact JSON that starts at `at` in the
/// text `spans` describes): an object or list is jumped over when `spans` knows its end,
/// and walked otherwise.
fn value_end(b: &[u8], i: usize, spans: &Spans, at: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(&open @ (b'{' | b'[')) => {
            let close = if open == b'{' { b'}' } else { b']' };
            let noted = spans.end(at + i).and_then(|end| end.checked_sub(at));
            if let Some(end) = noted.filter(|&end| end > i && b.get(end - 1) == Some(&close)) {
                return end;
            }
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let rest = &b[i..];
            i + rest.iter().position(|c| matches!(c, b',' | b']' | b'}')).unwrap_or(rest.len())
        }
    }
}

/// Where each object and list of a compacted text ends, by where it starts (byte offsets,
/// in the order of their starts). `compact_with_spans` notes them as it goes, so that
/// splitting the text afterwards jumps over a value instead of walking it again.
#[derive(Debug, Default, PartialEq)]
pub struct Spans(Vec<(u32, u32)>);

/// No spans known: every value is walked.
pub static NO_SPANS: Spans = Spans(Vec::new());

impl Spans {
    fn end(&self, start: usize) -> Option<usize> {
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

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Members<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<RawObject<'a>, M::Error> {
                let mut object = RawObject::default();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    object.insert(Cow::Owned(key), value.get());
                }
                Ok(object)
            }
        }
        deserializer.deserialize_map(Members(std::marker::PhantomData))
    }
}

/// The object's members as compact JSON object text.
pub fn object_text(object: &RawObject<'_>) -> String {
    let size: usize = object.members.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = String::with_capacity(size + 2);
    out.push('{');
    for (i, (key, value)) in object.members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_key(&mut out, key);
        out.push(':');
        compact_into(&mut out, value);
    }
    out.push('}');
    out
}

/// A key as a JSON string: as it is when nothing in it needs escaping, else as serde_json
/// writes it.
fn push_key(out: &mut String, key: &str) {
    if key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::Value::from(key).to_string());
    } else {
        out.push('"');
        out.push_str(key);
        out.push('"');
    }
}

/// The bytes of JSON text with their offsets, each marked when it is part of a string
/// (its quotes included).
struct Tokens<'a> {
    bytes: std::iter::Enumerate<std::slice::Iter<'a, u8>>,
    is_in_string: bool,
    is_escaped: bool,
}

impl<'a> Tokens<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Tokens { bytes: bytes.iter().enumerate(), is_in_string: false, is_escaped: false }
    }
}

impl Iterator for Tokens<'_> {
    type Item = (usize, u8, bool);

    fn next(&mut self) -> Option<(usize, u8, bool)> {
        let (i, &b) = self.bytes.next()?;
        if !self.is_in_string {
            self.is_in_string = b == b'"';
            return Some((i, b, self.is_in_string));
        }
        if self.is_escaped {
            self.is_escaped = false;
        } else if b == b'\\' {
            self.is_escaped = true;
        } else if b == b'"' {
            self.is_in_string = false;
        }
        Some((i, b, true))
    }
}

/// `compact(json)` added to `out`.
fn compact_into(out: &mut String, json: &str) {
    if json.bytes().any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
        out.push_str(&compact(json));
    } else {
        out.push_str(json);
    }
}

/// Valid JSON text without the whitespace between tokens; strings and numbers untouched.
pub fn compact(json: &str) -> String {
    let bytes = json.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
        return json.to_string();
    }
    let mut out = Vec::with_capacity(bytes.len());
    for (_, b, is_in_string) in Tokens::new(bytes) {
        if is_in_string || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            out.push(b);
        }
    }
    // Only ASCII whitespace outside strings was removed, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The byte offset of a `\uXXXX` escape that is half of a UTF-16 surrogate pair without its
/// other half (`"\ud800"`). JSON readers differ on those; DuckDB refuses them, so lsdb does,
/// with the place.
pub fn lone_surrogate(json: &str) -> Option<usize> {
    if !json.contains("\\u") {
        return None;
    }
    let bytes = json.as_bytes();
    let hex = |at: usize| -> Option<u32> {
        let digits = bytes.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut is_in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => is_in_string = !is_in_string,
            b'\\' if is_in_string => {
                if bytes.get(i + 1) == Some(&b'u') {
                    let code = hex(i + 2)?;
                    if (0xDC00..=0xDFFF).contains(&code) {
                        return Some(i);
                    }
                    if (0xD800..=0xDBFF).contains(&code) {
                        let is_paired = bytes.get(i + 6..i + 8) == Some(&b"\\u"[..])
                            && hex(i + 8).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
                        if !is_paired {
                            return Some(i);
                        }
                        i += 12;
                        continue;
                    }
                    i += 6;
                    continue;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Lists and objects may nest this deep in a task (Label Studio's own data is a few levels).
pub const MAX_DEPTH: u32 = 128;

/// The byte offset of the first list or object nested deeper than `MAX_DEPTH`.
pub fn too_deep(json: &[u8]) -> Option<usize> {
    let mut depth = 0u32;
    for (i, b, is_in_string) in Tokens::new(json) {
        if is_in_string {
            continue;
        }
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// What kind of JSON value this is, in words.
pub fn kind(value: &str) -> &'static str {
    match value.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "a list",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_strings_and_numbers() {
        assert_eq!(
            compact("{ \"a b\" : [ 1.10 , -0.0 ],\n\t\"c\\\" d\": \"x  y\" }"),
            "{\"a b\":[1.10,-0.0],\"c\\\" d\":\"x  y\"}"
        );
        assert_eq!(compact("[\"\\\\\", 1 ]"), "[\"\\\\\",1]");
    }

    #[test]
    fn lone_surrogates_are_found() {
        assert_eq!(lone_surrogate(r#"{"a": "\ud800"}"#), Some(7));
        assert_eq!(lone_surrogate(r#"{"a": "x\udc00"}"#), Some(8));
        assert_eq!(lone_surrogate(r#"{"a": "\ud83e\udd86 \\ud800"}"#), None);
        assert_eq!(lone_surrogate(r#"{"a": "\u00e9"}"#), None);
    }

    fn compact_checked(bytes: &[u8]) -> Option<String> {
        compact_with_spans(bytes).map(|c| c.text)
    }

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

    // Every object and list is noted, and splitting with the spans finds what walking finds.
    #[test]
    fn spans_end_values_where_walking_does() {
        let cases = [
            r#"{"a": [1, {"b": [], "c": {}}, "]}"], "d": {"e": "{\"}", "f": [[]]}, "g": 2}"#,
            r#"[{}, [], [{"x": "y"}], "[", 3]"#,
            r#"{"data": {"t": "a,b"}, "predictions": [{"result": [{"v": {"c": ["P"]}}], "s": 1}]}"#,
        ];
        for case in cases {
            let c = compact_with_spans(case.as_bytes()).unwrap();
            let b = c.text.as_bytes();
            let brackets = b.iter().filter(|&&x| x == b'{' || x == b'[').count();
            let in_strings = c.text.matches("\"{\"").count()
                + c.text.matches("\"[\"").count()
                + c.text.matches("{\\\"").count();
            assert_eq!(c.spans.0.len(), brackets - in_strings, "{case}");
            for &(start, end) in &c.spans.0 {
                let (start, end) = (start as usize, end as usize);
                assert_eq!(value_end(b, start, &NO_SPANS, 0), end, "{case} at {start}");
                assert_eq!(value_end(b, start, &c.spans, 0), end, "{case} at {start}");
            }
            let (walked, jumped) = if b[0] == b'{' {
                (
                    object_text(&RawObject::split(&c.text, &NO_SPANS, 0).unwrap()),
                    object_text(&RawObject::split(&c.text, &c.spans, 0).unwrap()),
                )
            } else {
                (
                    split_list(&c.text, &NO_SPANS, 0).unwrap().join("|"),
                    split_list(&c.text, &c.spans, 0).unwrap().join("|"),
                )
            };
            assert_eq!(walked, jumped, "{case}");
        }
        // Spans that do not fit the text are not trusted.
        let wrong = Spans(vec![(0, 3)]);
        assert_eq!(value_end(b"[1,[2]]", 0, &wrong, 0), 7);
    }

    #[test]
    fn last_duplicate_key_wins_in_first_place() {
        let object = RawObject::parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(object_text(&object), r#"{"a":3,"b":2}"#);
        let text = compact_checked(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(
            object_text(&RawObject::split(&text, &NO_SPANS, 0).unwrap()),
            r#"{"a":3,"b":2}"#
        );
    }

    #[test]
    fn compact_checked_agrees_with_serde_json() {
        let cases: &[&str] = &[
            r#"{ "a b" : [ 1.10 , -0.0, 1E+2, 0, -12e-3 ],"c\" d": "x  y", "e": {}, "f": [ ] }"#,
            r#"[true,false,null, "\u00e9\n\/" ]"#,
            "  7 ",
            r#""s""#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":-}"#,
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":tru}"#,
            "{\"a\":\"x\ty\"}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12g4"}"#,
            r#"{"a":1}}"#,
            r#"[1 2]"#,
            r#"{"a":[}"#,
            "",
            "[",
        ];
        for case in cases {
            let ours = compact_checked(case.as_bytes());
            let theirs = serde_json::from_str::<&RawValue>(case).ok().map(|r| compact(r.get()));
            assert_eq!(ours, theirs, "{case}");
        }
        // Surrogate escapes and deep nesting go to the careful path.
        assert_eq!(compact_checked(br#"{"a":"\ud83e\udd86"}"#), None);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(compact_checked(deep.as_bytes()), None);
    }
}
