//! JSON kept as text: an object's members as raw values in order, whitespace removed
//! between tokens, and objects put back together from raw members. Nothing here parses a
//! number, so nothing here can change one.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON object's members in order, each value as its raw text. A key given twice keeps
/// its last value (as Python's `json`, and so Label Studio, reads it).
#[derive(Debug, Default)]
pub struct RawObject<'a> {
    members: Vec<(String, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// The members of `raw` when it is an object.
    pub fn parse(raw: &'a RawValue) -> Option<RawObject<'a>> {
        if !raw.get().starts_with('{') {
            return None;
        }
        serde_json::from_str(raw.get()).ok()
    }

    /// Take a member out.
    pub fn remove(&mut self, key: &str) -> Option<&'a RawValue> {
        let i = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(i).1)
    }

    /// A member's value.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members in order.
    pub fn members(&self) -> &[(String, &'a RawValue)] {
        &self.members
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
                    match object.members.iter_mut().find(|(k, _)| *k == key) {
                        Some(member) => member.1 = value,
                        None => object.members.push((key, value)),
                    }
                }
                Ok(object)
            }
        }
        deserializer.deserialize_map(Members(std::marker::PhantomData))
    }
}

/// The object's members as compact JSON object text.
pub fn object_text(object: &RawObject<'_>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in object.members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(key.as_str()).to_string());
        out.push(':');
        out.push_str(&compact(value.get()));
    }
    out.push('}');
    out
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
pub fn kind(value: &RawValue) -> &'static str {
    match value.get().as_bytes().first() {
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

    #[test]
    fn last_duplicate_key_wins_in_first_place() {
        let raw: &RawValue = serde_json::from_str(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let object = RawObject::parse(raw).unwrap();
        assert_eq!(object_text(&object), r#"{"a":3,"b":2}"#);
    }
}
