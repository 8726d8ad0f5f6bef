//! The few typed errors lsdb matches on, and how errors map to exit codes.
//! Everything else travels as `anyhow::Error` with context.

use std::fmt;

/// A problem in an input file, printed compiler-style: `path:line:col: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub path: String,
    pub line: Option<u64>,
    pub col: Option<u64>,
    pub msg: String,
}

impl InputError {
    /// An error at a place in a file.
    pub fn at(path: impl Into<String>, line: u64, col: u64, msg: impl Into<String>) -> Self {
        InputError { path: path.into(), line: Some(line), col: Some(col), msg: msg.into() }
    }

    /// An error at a line of a file (CSV rows, text lines).
    pub fn line(path: impl Into<String>, line: u64, msg: impl Into<String>) -> Self {
        InputError { path: path.into(), line: Some(line), col: None, msg: msg.into() }
    }

    /// An error about a whole file.
    pub fn file(path: impl Into<String>, msg: impl Into<String>) -> Self {
        InputError { path: path.into(), line: None, col: None, msg: msg.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(col) = self.col {
            write!(f, ":{col}")?;
        }
        write!(f, ": {}", self.msg)
    }
}

impl std::error::Error for InputError {}

/// The command ran and found problems (e.g. `validate` found invalid rows): exit code 1.
#[derive(Debug)]
pub struct ProblemsFound(pub String);

impl fmt::Display for ProblemsFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProblemsFound {}

/// The exit code for an error: 1 for found problems, 0 for a closed pipe, 2 for the rest.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<ProblemsFound>().is_some() {
        return 1;
    }
    if is_broken_pipe(err) {
        return 0;
    }
    2
}

/// True when the error comes from writing to a closed pipe (`lsdb sql ... | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let is_pipe = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(is_pipe)
            || cause.downcast_ref::<csv::Error>().is_some_and(|e| match e.kind() {
                csv::ErrorKind::Io(io) => is_pipe(io),
                _ => false,
            })
    })
}

/// Line and column (both 1-based) of a byte offset in a text.
pub fn line_col(text: &[u8], offset: usize) -> (u64, u64) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..]).chars().count() as u64 + 1;
    (line, col)
}

/// An error's text on one line (its causes joined by ": ", whitespace runs as one space):
/// every error lsdb prints or answers is one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The names of a closed set, as users type them.
pub fn choices<T: clap::ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
        .collect()
}

/// A member of a closed set by its name (exactly as listed), or an error that names `what`
/// and lists them all.
pub fn parse_choice<T: clap::ValueEnum>(name: &str, what: &str) -> anyhow::Result<T> {
    T::from_str(name, false).map_err(|_| {
        anyhow::anyhow!("unknown {what} {name:?}; choose one of {}", choices::<T>().join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_is_compiler_style() {
        assert_eq!(InputError::at("a.json", 3, 7, "bad").to_string(), "a.json:3:7: bad");
        assert_eq!(InputError::line("a.csv", 4, "bad").to_string(), "a.csv:4: bad");
        assert_eq!(InputError::file("a.csv", "bad").to_string(), "a.csv: bad");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx".as_bytes(), 2), (1, 2));
        assert_eq!(line_col(b"", 0), (1, 1));
    }
}
