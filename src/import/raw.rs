//! JSON kept as text: an object's members as raw values in order, whitespace removed
//! between tokens, and objects put back together from raw members. Nothing here parses a
//! number, so nothing here can change one.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::compact::{MAX_DEPTH, Spans, quote_or_backslash};

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
    use super::super::compact::{NO_SPANS, compact_with_spans};
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
