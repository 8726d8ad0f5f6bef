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
    // Ryu gives the shortest digits that read back (what Python's repr picks too):
    // `-1.2345e-5`, `1e16`, `0.001`, `123.0`. Its digits and exponent are read back out.
    let mut ryu = ryu::Buffer::new();
    let text = ryu.format_finite(f);
    let text = match text.strip_prefix('-') {
        Some(t) => {
            out.push('-');
            t
        }
        None => text,
    };
    let (mantissa, exp_part) = text.split_once('e').unwrap_or((text, "0"));
    let exp_part: i32 = exp_part.parse().unwrap_or(0);
    // The mantissa's digits without leading or trailing zeros, and where its point is.
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = [0u8; 32];
    let mut n = 0;
    for b in int_part.bytes().chain(frac_part.bytes()).take(32) {
        digits[n] = b;
        n += 1;
    }
    let leading = digits[..n].iter().take_while(|b| **b == b'0').count();
    let mut end = n;
    while end > leading && digits[end - 1] == b'0' {
        end -= 1;
    }
    if end == leading {
        // Zero.
        out.push_str("0.0");
        return;
    }
    // The value is 0.d1d2d3... × 10^(int_part.len() - leading + exp_part), i.e. d1.d2d3... ×
    // 10^exp.
    let exp = int_part.len() as i32 - leading as i32 - 1 + exp_part;
    let (start, n) = (leading, end);
    let digits = &digits[start..n];
    let n = digits.len();
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

/// Python's `str` of the value the converter read: `None`, `True`/`False`, a number as Python
/// prints it, a string as it is; a list or object as ujson's text (what the converter writes
/// when it dumps one).
pub fn python_str(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => python_number(n, false),
        Value::String(s) => s.clone(),
        other => ujson(other),
    }
}

/// JSON text as ujson writes it: compact, `/` escaped, non-ASCII as it is, numbers as Python.
pub fn ujson(value: &Value) -> String {
    let mut out = String::new();
    write_ujson(value, &mut out);
    out
}

fn write_ujson(value: &Value, out: &mut String) {
    write_compact(value, &UJSON, out);
}

/// How a writer spells JSON: what goes between items and after keys, which characters of a
/// string are escaped, and how numbers are printed.
pub struct Style {
    items: &'static str,
    keys: &'static str,
    strings: Strings,
    is_ujson: bool,
}

/// Which characters of a string are escaped besides `"`, `\` and control characters.
#[derive(Clone, Copy)]
struct Strings {
    slash: bool,
    /// Characters above this are written `\uXXXX`.
    above: u32,
}

/// ujson's compact text (`ujson.dumps(v)`): `/` escaped, other characters as they are.
const UJSON: Style = Style {
    items: ",",
    keys: ":",
    strings: Strings { slash: true, above: u32::MAX },
    is_ujson: true,
};

/// Python's `json.dumps(v)`: `, ` and `: `, `/` as it is, everything past ASCII escaped.
pub const PYTHON_JSON: Style = Style {
    items: ", ",
    keys: ": ",
    strings: Strings { slash: false, above: 0x7e },
    is_ujson: false,
};

/// ujson's strings with `ensure_ascii`, as `ujson.dump` writes them by default.
const UJSON_ASCII: Strings = Strings { slash: true, above: 0x7f };

/// JSON text on one line in `style`.
pub fn write_compact(value: &Value, style: &Style, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&python_number(n, style.is_ujson)),
        Value::String(s) => write_string(s, style.strings, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.items);
                }
                write_compact(item, style, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.items);
                }
                write_string(key, style.strings, out);
                out.push_str(style.keys);
                write_compact(item, style, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string: `"`, `\` and control characters escaped, and what `strings` says.
fn write_string(s: &str, strings: Strings, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if strings.slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > strings.above => {
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
    write_string(s, UJSON_ASCII, out);
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

    /// Every float's text reads back as that float (a million random bit patterns and round
    /// numbers), and a tie between two shortest texts goes to the even digit, as Python's repr
    /// has it: 1690060720831323.25 exactly is `1690060720831323.2` in Python (Rust's own
    /// `{:e}` rounds that tie up, to ...233).
    #[test]
    fn floats_read_back_and_ties_go_to_even() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..1_000_000 {
            let f =
                if i % 2 == 0 { f64::from_bits(next()) } else { (next() % 1_000_000) as f64 / 1e4 };
            if !f.is_finite() {
                continue;
            }
            let text = python_float(f, false);
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{f:e}: {text}");
        }
        let tie: f64 = "1690060720831323.25".parse().unwrap();
        assert_eq!(python_float(tie, false), "1690060720831323.2");
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
