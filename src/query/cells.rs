//! Printable cells from Arrow batches. A query's columns arrive as text (see `plan` in
//! `mod.rs`) tagged with how they print in JSON; any other statement's columns are read
//! from whatever Arrow type DuckDB gave, through arrow's own formatter, which refuses
//! instead of panicking.

use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};

/// One printable value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// Text, quoted in JSON output.
    Text(String),
    /// Valid JSON text (a number, a boolean, an object, a list), written as it is.
    Raw(String),
}

impl Cell {
    /// The cell as JSON text.
    #[cfg(test)]
    pub fn json_text(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Text(s) => serde_json::Value::from(s.as_str()).to_string(),
            Cell::Raw(s) => s.clone(),
        }
    }

    /// A number as a cell.
    pub fn number(n: impl ToString) -> Cell {
        Cell::Raw(n.to_string())
    }

    /// The cell as a borrowed cell.
    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Null => CellRef::Null,
            Cell::Text(s) => CellRef::Text(s),
            Cell::Raw(s) => CellRef::Raw(s),
        }
    }
}

/// A cell borrowed from a batch of rows (or from a `Cell`): no copy per value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Null,
    Text(&'a str),
    Raw(&'a str),
}

impl CellRef<'_> {
    /// The cell as text for tables and CSV: strings bare, NULL empty, JSON as its text.
    pub fn plain(&self) -> &str {
        match self {
            CellRef::Null => "",
            CellRef::Text(s) | CellRef::Raw(s) => s,
        }
    }

    /// An owned copy.
    pub fn to_cell(self) -> Cell {
        match self {
            CellRef::Null => Cell::Null,
            CellRef::Text(s) => Cell::Text(s.to_string()),
            CellRef::Raw(s) => Cell::Raw(s.to_string()),
        }
    }

    /// Write the cell as JSON.
    pub fn write_json(&self, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
        match self {
            CellRef::Null => out.write_all(b"null")?,
            CellRef::Text(s) => serde_json::to_writer(&mut *out, s)?,
            CellRef::Raw(s) => out.write_all(s.as_bytes())?,
        }
        Ok(())
    }
}

/// How a query's column prints in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Digits (integers, decimals, floats; `nan` and `inf` become strings).
    Number,
    /// `true` or `false`.
    Bool,
    /// JSON text (JSON columns and nested values through `to_json`).
    Json,
    /// Everything else: DuckDB's text for the value.
    Text,
}

impl Kind {
    /// The kind of a DuckDB type name as DESCRIBE spells it.
    pub fn of(ty: &str) -> Kind {
        const NUMBERS: &[&str] = &[
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "UHUGEINT",
            "BIGNUM",
            "VARINT",
            "FLOAT",
            "DOUBLE",
        ];
        if NUMBERS.contains(&ty) || ty.starts_with("DECIMAL") {
            Kind::Number
        } else if ty == "BOOLEAN" {
            Kind::Bool
        } else if ty == "JSON" || super::is_nested(ty) {
            Kind::Json
        } else {
            Kind::Text
        }
    }
}

/// One column of a batch as text: borrowed from Arrow's strings, or formatted once.
enum Texts<'a> {
    Utf8(&'a duckdb::arrow::array::StringArray),
    LargeUtf8(&'a duckdb::arrow::array::LargeStringArray),
    View(&'a duckdb::arrow::array::StringViewArray),
    Formatted(Vec<Option<String>>),
}

impl Texts<'_> {
    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Texts::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Texts::LargeUtf8(a) => a.is_valid(row).then(|| a.value(row)),
            Texts::View(a) => a.is_valid(row).then(|| a.value(row)),
            Texts::Formatted(v) => v.get(row).and_then(Option::as_deref),
        }
    }
}

/// Hand each row of a batch to `visit` as borrowed cells. With `kinds`, the columns are text
/// tagged by kind; without, each column is read by its Arrow type. Stops when `visit`
/// returns false; returns whether it went through every row.
pub fn for_each_row(
    batch: &RecordBatch,
    kinds: Option<&[Kind]>,
    mut visit: impl FnMut(&[CellRef<'_>]) -> anyhow::Result<bool>,
) -> anyhow::Result<bool> {
    let columns: Vec<(Texts<'_>, Kind)> = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let kind = kinds
                .and_then(|k| k.get(i).copied())
                .unwrap_or_else(|| arrow_kind(column.data_type()));
            (texts(column), kind)
        })
        .collect();
    let mut row = Vec::with_capacity(columns.len());
    for i in 0..batch.num_rows() {
        row.clear();
        row.extend(columns.iter().map(|(texts, kind)| match texts.get(i) {
            None => CellRef::Null,
            Some(text) => tagged(text, *kind),
        }));
        if !visit(&row)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn texts(column: &ArrayRef) -> Texts<'_> {
    match column.data_type() {
        DataType::Utf8 => Texts::Utf8(column.as_string::<i32>()),
        DataType::LargeUtf8 => Texts::LargeUtf8(column.as_string::<i64>()),
        DataType::Utf8View => Texts::View(column.as_string_view()),
        _ => Texts::Formatted(formatted(column)),
    }
}

/// A non-null value of a kind as a cell; text that is not valid JSON stays text.
fn tagged(text: &str, kind: Kind) -> CellRef<'_> {
    match kind {
        Kind::Text => CellRef::Text(text),
        Kind::Bool => CellRef::Raw(text),
        Kind::Number if is_plain_number(text) => CellRef::Raw(text),
        Kind::Number | Kind::Json => {
            if serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok() {
                CellRef::Raw(text)
            } else {
                CellRef::Text(text)
            }
        }
    }
}

/// Digits as DuckDB writes numbers (`-12`, `0.5`, `1e+300`): valid JSON as they are.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    digits.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && !digits.ends_with(['.', 'e', 'E', '+', '-'])
}

/// The kind of an Arrow type (statements that are not queries).
fn arrow_kind(ty: &DataType) -> Kind {
    if ty.is_numeric() {
        Kind::Number
    } else if *ty == DataType::Boolean {
        Kind::Bool
    } else {
        Kind::Text
    }
}

/// Values of any Arrow type as text through arrow's formatter; a type it cannot print
/// gives its type name in angle brackets.
fn formatted(column: &ArrayRef) -> Vec<Option<String>> {
    let options = FormatOptions::default();
    match ArrayFormatter::try_new(column.as_ref(), &options) {
        Ok(formatter) => (0..column.len())
            .map(|i| {
                if column.is_null(i) {
                    return None;
                }
                let mut text = String::new();
                match std::fmt::Write::write_fmt(&mut text, format_args!("{}", formatter.value(i)))
                {
                    Ok(()) => Some(text),
                    Err(_) => Some(format!("<{}>", column.data_type())),
                }
            })
            .collect(),
        Err(_) => (0..column.len())
            .map(|i| (!column.is_null(i)).then(|| format!("<{}>", column.data_type())))
            .collect(),
    }
}
