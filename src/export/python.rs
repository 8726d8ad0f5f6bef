//! Text as Label Studio's converter (Python, with ujson) writes it: numbers as Python prints
//! the value it read (an int as it is, a float as its shortest `repr`), and JSON as ujson
//! writes it (`/` escaped, a negative exponent without its leading zero; indented like
//! `ujson.dump(..., indent=2)` for the training formats' JSON files).

use serde_json::Value;

/// A JSON number as Python prints the value the converter read (an int, or a float's repr);
/// `is_ujson` writes a negative exponent without its leading zero, as ujson does.
pub fn python_number(n: &serde_json::Number, is_ujson: bool) -> String {
    let text = n.to_string();
    if !text.contains(['.', 'e', 'E']) {
        return text
            .trim_start_matches('-')
            .parse::<u128>()
            .map_or(text.clone(), |v| if v == 0 { "0".into() } else { text.clone() });
    }
    let Some(f) = n.as_f64().filter(|f| f.is_finite()) else {
        return if text.starts_with('-') { "-inf".into() } else { "inf".into() };
    };
    python_float(f, is_ujson)
}

/// Python's `repr` of a float: the shortest digits that read back, fixed notation for
/// exponents from -4 to 15, else `d.ddde+XX`.
pub fn python_float(f: f64, is_ujson: bool) -> String {
    let mut out = String::with_capacity(24);
    push_python_float(&mut out, f, is_ujson);
    out
}

/// `python_float`, appended to `out` without allocating.
pub fn push_python_float(out: &mut String, f: f64, is_ujson: bool) {
    use std::fmt::Write;
    if !f.is_finite() {
        out.push_str(if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        });
        return;
    }
    // Rust's `{:e}` gives the shortest digits that read back: `-1.2345e-5`, `1e16`.
    let mut sci = Stack::default();
    let _ = write!(sci, "{f:e}");
    let sci = sci.as_str();
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mantissa = match mantissa.strip_prefix('-') {
        Some(m) => {
            out.push('-');
            m
        }
        None => mantissa,
    };
    let mut digits = [0u8; 32];
    let mut n = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit).take(32) {
        digits[n] = b;
        n += 1;
    }
    let digits = std::str::from_utf8(&digits[..n]).unwrap_or("0");
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(digits);
        } else if point as usize >= digits.len() {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
        return;
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let magnitude = exp.unsigned_abs();
    if magnitude < 10 && !(exp < 0 && is_ujson) {
        out.push('0');
    }
    let _ = write!(out, "{magnitude}");
}

/// A small text buffer on the stack, for one float's `{:e}`.
struct Stack {
    bytes: [u8; 32],
    len: usize,
}

impl Default for Stack {
    fn default() -> Stack {
        Stack { bytes: [0; 32], len: 0 }
    }
}

impl Stack {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("0e0")
    }
}

impl std::fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// JSON text as ujson writes it: compact, `/` escaped, non-ASCII as it is, numbers as Python.
pub fn ujson(value: &Value) -> String {
    let mut out = String::new();
    write_ujson(value, &mut out);
    out
}

fn write_ujson(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&python_number(n, true)),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '/' => out.push_str("\\/"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ujson(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ujson(&Value::String(key.clone()), out);
                out.push(':');
                write_ujson(item, out);
            }
            out.push('}');
        }
    }
}

/// JSON text as `ujson.dump(value, indent=2)` writes it (the converter's COCO `result.json`
/// and YOLO `notes.json`): one member or item a line, `[]`/`{}` for empty ones, `/` and
/// every non-ASCII character escaped (`ensure_ascii`), numbers as Python prints them.
/// `level` is the indent level the value starts at.
pub fn write_dump(value: &Value, level: usize, out: &mut String) {
    let indent = |out: &mut String, level: usize| out.extend(std::iter::repeat_n("  ", level));
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_dump(item, level + 1, out);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Value::Object(members) if !members.is_empty() => {
            out.push_str("{\n");
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_ascii_string(key, out);
                out.push_str(": ");
                write_dump(item, level + 1, out);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
        Value::String(s) => write_ascii_string(s, out),
        other => write_ujson(other, out),
    }
}

/// A JSON string as ujson writes it with `ensure_ascii`: `/` escaped, everything past ASCII
/// as `\uXXXX` (UTF-16 surrogate pairs above the BMP).
pub fn write_ascii_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_and_ujson_print_them() {
        for (f, python, ujson) in [
            (1e16, "1e+16", "1e+16"),
            (1e15, "1000000000000000.0", "1000000000000000.0"),
            (1e-5, "1e-05", "1e-5"),
            (0.0001, "0.0001", "0.0001"),
            (2.5, "2.5", "2.5"),
            (100.0, "100.0", "100.0"),
            (-0.0, "-0.0", "-0.0"),
            (1.2345678901234567e19, "1.2345678901234567e+19", "1.2345678901234567e+19"),
            (0.30000000000000004, "0.30000000000000004", "0.30000000000000004"),
            (1.5e300, "1.5e+300", "1.5e+300"),
        ] {
            assert_eq!(python_float(f, false), python, "{f}");
            assert_eq!(python_float(f, true), ujson, "{f}");
        }
    }

    #[test]
    fn dump_indents_as_ujson_does() {
        let v: Value =
            serde_json::from_str(r#"{"a":[{"x":[]}],"b":"é😀/","c":{"d":1},"e":{}}"#).unwrap();
        let mut out = String::new();
        write_dump(&v, 0, &mut out);
        let want = "{\n  \"a\": [\n    {\n      \"x\": []\n    }\n  ],\n  \"b\": \"\\u00e9\\ud83d\\ude00\\/\",\n  \"c\": {\n    \"d\": 1\n  },\n  \"e\": {}\n}";
        assert_eq!(out, want);
    }

    #[test]
    fn ujson_escapes_slashes() {
        let v: Value =
            serde_json::from_str(r#"{"u": "http://x/é\n", "n": [1, 2.50, 1E+2]}"#).unwrap();
        assert_eq!(ujson(&v), r#"{"u":"http:\/\/x\/é\n","n":[1,2.5,100.0]}"#);
    }
}
