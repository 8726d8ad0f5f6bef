//! Splitting a JSON task file into one byte slice per task without building the whole tree:
//! a `[...]` list is walked element by element, a single `{...}` object is one element. Only
//! one element is in memory at a time, so a 1 GB file needs no more memory than its largest task.

use std::io::{self, BufRead};

use crate::error::InputError;

/// One element of the top-level list: its bytes and where it starts.
#[derive(Debug, Default)]
pub struct Element {
    pub bytes: Vec<u8>,
    pub line: u64,
    pub col: u64,
    /// 0-based index in the list; `None` for a file holding a single object.
    pub index: Option<u64>,
}

#[derive(Debug, PartialEq)]
enum State {
    Start,
    InList { count: u64 },
    Single,
    Done,
}

/// Walks a JSON file and hands out its tasks one at a time.
pub struct ElementScanner<R: BufRead> {
    reader: R,
    path: String,
    line: u64,
    col: u64,
    state: State,
    is_at_start: bool,
}

impl<R: BufRead> ElementScanner<R> {
    pub fn new(reader: R, path: &str) -> Self {
        ElementScanner {
            reader,
            path: path.to_string(),
            line: 1,
            col: 1,
            state: State::Start,
            is_at_start: true,
        }
    }

    fn error(&self, msg: impl Into<String>) -> InputError {
        InputError::at(&self.path, self.line, self.col, msg)
    }

    fn io(&self, err: io::Error) -> InputError {
        InputError::file(&self.path, format!("reading failed: {err}"))
    }

    /// The next byte without consuming it.
    fn peek(&mut self) -> Result<Option<u8>, InputError> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    fn advance(&mut self, byte: u8) {
        if byte == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if byte & 0xC0 != 0x80 {
            self.col += 1;
        }
        self.reader.consume(1);
    }

    /// Skip whitespace (and a byte-order mark at the very start); return the next byte.
    fn skip_whitespace(&mut self) -> Result<Option<u8>, InputError> {
        if self.is_at_start {
            self.is_at_start = false;
            let has_bom = match self.reader.fill_buf() {
                Ok(buf) if super::lines::has_utf16_bom(buf) => {
                    return Err(super::lines::utf16_error(&self.path));
                }
                Ok(buf) => buf.starts_with(b"\xEF\xBB\xBF"),
                Err(e) => return Err(self.io(e)),
            };
            if has_bom {
                self.reader.consume(3);
            }
        }
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
            self.advance(b);
        }
        Ok(None)
    }

    /// The next task element, or `None` at the end of the list. One state machine over the
    /// buffer (the separators and errors between elements), kept whole as the scanner's
    /// inner loop, which every byte of a JSON list passes through.
    pub fn next_element(&mut self, out: &mut Element) -> Result<bool, InputError> {
        loop {
            match self.state {
                State::Done => return Ok(false),
                State::Start => match self.skip_whitespace()? {
                    None => {
                        return Err(self.error(
                            "the file is empty; a task file holds a JSON list of tasks \
                                 ([{\"data\": {...}}, ...]) or one task object",
                        ));
                    }
                    Some(b'[') => {
                        self.advance(b'[');
                        self.state = State::InList { count: 0 };
                    }
                    Some(b'{') => self.state = State::Single,
                    Some(b) => {
                        return Err(self.error(format!(
                            "expected a JSON list of tasks or a task object, found {}",
                            describe_start(b)
                        )));
                    }
                },
                State::Single => {
                    self.capture(out, None)?;
                    if let Some(b) = self.skip_whitespace()? {
                        return Err(self.error(format!(
                            "unexpected {} after the task object; to give several tasks, put \
                             them in a list [...]",
                            describe_start(b)
                        )));
                    }
                    self.state = State::Done;
                    return Ok(true);
                }
                State::InList { count } => {
                    let next = self.skip_whitespace()?;
                    if count > 0 {
                        match next {
                            Some(b',') => {
                                self.advance(b',');
                                if self.skip_whitespace()? == Some(b']') {
                                    return Err(
                                        self.error("trailing comma before ]; remove the comma")
                                    );
                                }
                            }
                            Some(b']') => {}
                            None => return Err(self.truncated()),
                            Some(b) => {
                                return Err(self.error(format!(
                                    "expected , or ] after task {}, found {}",
                                    count - 1,
                                    describe_start(b)
                                )));
                            }
                        }
                    }
                    match self.skip_whitespace()? {
                        None => return Err(self.truncated()),
                        Some(b']') => {
                            self.advance(b']');
                            if let Some(b) = self.skip_whitespace()? {
                                return Err(self.error(format!(
                                    "unexpected {} after the end of the list of tasks",
                                    describe_start(b)
                                )));
                            }
                            self.state = State::Done;
                            return Ok(false);
                        }
                        Some(_) => {
                            self.capture(out, Some(count))?;
                            self.state = State::InList { count: count + 1 };
                            return Ok(true);
                        }
                    }
                }
            }
        }
    }

    fn truncated(&self) -> InputError {
        self.error("unexpected end of file: the list of tasks is not closed with ]; is the file truncated?")
    }

    /// Copy one JSON value (object, list, string or scalar) into `out`. Kept whole for the
    /// same reason as `next_element`: it is the loop that copies every byte of every task,
    /// with its depth and string state in locals.
    fn capture(&mut self, out: &mut Element, index: Option<u64>) -> Result<(), InputError> {
        out.bytes.clear();
        out.line = self.line;
        out.col = self.col;
        out.index = index;
        let (start_line, start_col) = (self.line, self.col);
        let mut depth = 0u32;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            };
            if buf.is_empty() {
                if started && depth == 0 && !in_string {
                    return Ok(()); // a scalar that ends the file
                }
                let what = if index.is_some() { "task" } else { "task object" };
                return Err(InputError::at(
                    &self.path,
                    self.line,
                    self.col,
                    format!(
                        "unexpected end of file inside the {what} that starts at line \
                         {start_line}, column {start_col}; is the file truncated?"
                    ),
                ));
            }
            let mut used = 0;
            let mut finished = false;
            while used < buf.len() {
                if in_string {
                    // Inside a string only a quote or a backslash matters: jump to the next.
                    if escaped {
                        escaped = false;
                        used += 1;
                        continue;
                    }
                    match super::compact::quote_or_backslash(&buf[used..]) {
                        None => used = buf.len(),
                        Some(k) => {
                            used += k + 1;
                            if buf[used - 1] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                                if depth == 0 {
                                    finished = true;
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
                match buf[used] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            finished = true;
                        }
                    }
                    b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                        // the end of a scalar: leave the delimiter for the caller
                        break;
                    }
                    _ => {}
                }
                started = true;
                used += 1;
                if finished {
                    break;
                }
            }
            (self.line, self.col) = track(self.line, self.col, &buf[..used]);
            out.bytes.extend_from_slice(&buf[..used]);
            let ended_scalar = used < buf.len() && !finished;
            self.reader.consume(used);
            if finished || ended_scalar {
                return Ok(());
            }
        }
    }
}

/// The line and column after `bytes`, from those before (columns count characters).
fn track(line: u64, col: u64, bytes: &[u8]) -> (u64, u64) {
    // Characters are the bytes that do not continue one; ASCII text, the common case, is
    // checked a word at a time instead of counted byte by byte.
    let chars = |b: &[u8]| {
        if b.is_ascii() {
            b.len() as u64
        } else {
            b.iter().filter(|&&c| c & 0xC0 != 0x80).count() as u64
        }
    };
    match memchr::memrchr(b'\n', bytes) {
        Some(last) => {
            (line + memchr::memchr_iter(b'\n', bytes).count() as u64, 1 + chars(&bytes[last + 1..]))
        }
        None => (line, col + chars(bytes)),
    }
}

/// A few words for what a JSON value starting with `b` is.
pub fn describe_start(b: u8) -> String {
    match b {
        b'"' => "a string".into(),
        b'-' | b'0'..=b'9' => "a number".into(),
        b't' | b'f' => "a boolean".into(),
        b'n' => "null".into(),
        b'{' => "an object".into(),
        b'[' => "a list".into(),
        0 => "a NUL byte (is the file UTF-16? save it as UTF-8)".into(),
        b if b.is_ascii_graphic() => format!("'{}'", b as char),
        b => format!("byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, line, column, index) of each element.
    type Found = Vec<(String, u64, u64, Option<u64>)>;

    fn elements(text: &str) -> Result<Found, InputError> {
        let mut scanner = ElementScanner::new(text.as_bytes(), "t.json");
        let mut out = Element::default();
        let mut all = Vec::new();
        while scanner.next_element(&mut out)? {
            all.push((String::from_utf8(out.bytes.clone()).unwrap(), out.line, out.col, out.index));
        }
        Ok(all)
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        for (text, line, col) in [
            ("", 1, 5),
            ("abc", 1, 8),
            ("h\u{e9}llo \u{1F600}", 1, 12),
            ("a\nb\u{e9}", 2, 3),
            ("\u{e9}\n\n\u{e9}\u{e9}x", 3, 4),
        ] {
            assert_eq!(track(1, 5, text.as_bytes()), (line, col), "{text:?}");
        }
    }

    #[test]
    fn splits_a_list() {
        let got =
            elements("\u{feff}[\n {\"a\": \"]},\"},\n  [1, {\"b\": 2}], \"x\\\"\" , 3]\n").unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ("{\"a\": \"]},\"}".into(), 2, 2, Some(0)));
        assert_eq!(got[1], ("[1, {\"b\": 2}]".into(), 3, 3, Some(1)));
        assert_eq!(got[2].0, "\"x\\\"\"");
        assert_eq!(got[3].0, "3");
    }

    #[test]
    fn single_object() {
        let got = elements(" {\"data\": {}} \n").unwrap();
        assert_eq!(got, [("{\"data\": {}}".into(), 1, 2, None)]);
    }

    #[test]
    fn empty_list_has_no_tasks() {
        assert!(elements("[ ]").unwrap().is_empty());
    }

    #[test]
    fn every_truncation_and_byte_flip_is_handled() {
        let text = "[{\"data\": {\"t\": \"a\\\"]\"}}, \"x\", 3, [1, {}], {\"k\": [null, true]}]";
        for end in 0..=text.len() {
            let _ = elements(&text[..end]);
        }
        for i in 0..text.len() {
            for b in ["[", "]", "{", "}", "\"", "\\", ",", " "] {
                let mut mutated = text.to_string();
                mutated.replace_range(i..i + 1, b);
                let _ = elements(&mutated);
            }
        }
    }

    #[test]
    fn errors_have_positions() {
        let err = elements("[{\"a\": 1},\n {\"b\": ").unwrap_err();
        assert!(err.msg.contains("starts at line 2, column 2"), "{err}");
        let err = elements("\"hello\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.json:1:1: expected a JSON list of tasks or a task object, found a string"
        );
        let err = elements("").unwrap_err();
        assert!(err.msg.starts_with("the file is empty"));
        let err = elements("[{}, ]").unwrap_err();
        assert!(err.msg.starts_with("trailing comma"), "{err}");
        let err = elements("[{} {}]").unwrap_err();
        assert_eq!(err.to_string(), "t.json:1:5: expected , or ] after task 0, found an object");
        let err = elements("[{}").unwrap_err();
        assert!(err.msg.contains("not closed"), "{err}");
        let err = elements("{} {}").unwrap_err();
        assert!(err.msg.contains("after the task object"), "{err}");
    }
}
