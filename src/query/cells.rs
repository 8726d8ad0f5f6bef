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
    /// The cell as text for tables and CSV: strings bare, NULL empty, JSON as its text.
    pub fn plain(&self) -> &str {
        match self {
            Cell::Null => "",
            Cell::Text(s) | Cell::Raw(s) => s,
        }
    }

    /// The cell as JSON text.
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

/// The rows of a batch as cells. With `kinds`, the columns are text tagged by kind; without,
/// each column is read by its Arrow type.
pub fn batch_cells(batch: &RecordBatch, kinds: Option<&[Kind]>) -> Vec<Vec<Cell>> {
    let mut rows: Vec<Vec<Cell>> =
        (0..batch.num_rows()).map(|_| Vec::with_capacity(batch.num_columns())).collect();
    for (i, column) in batch.columns().iter().enumerate() {
        let kind = kinds.and_then(|k| k.get(i).copied());
        let cells = column_cells(column, kind);
        for (row, cell) in rows.iter_mut().zip(cells) {
            row.push(cell);
        }
    }
    rows
}

fn column_cells(column: &ArrayRef, kind: Option<Kind>) -> Vec<Cell> {
    let n = column.len();
    let texts: Vec<Option<String>> = match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect(),
        DataType::LargeUtf8 => {
            column.as_string::<i64>().iter().map(|v| v.map(str::to_string)).collect()
        }
        DataType::Utf8View => {
            column.as_string_view().iter().map(|v| v.map(str::to_string)).collect()
        }
        _ => formatted(column),
    };
    let kind = kind.unwrap_or_else(|| arrow_kind(column.data_type()));
    let mut out = Vec::with_capacity(n);
    for text in texts {
        out.push(match text {
            None => Cell::Null,
            Some(text) => tagged(text, kind),
        });
    }
    out
}

/// A non-null value of a kind as a cell; text that is not valid JSON stays text.
fn tagged(text: String, kind: Kind) -> Cell {
    match kind {
        Kind::Text => Cell::Text(text),
        Kind::Bool => Cell::Raw(text),
        Kind::Number if is_plain_number(&text) => Cell::Raw(text),
        Kind::Number | Kind::Json => {
            if serde_json::from_str::<&serde_json::value::RawValue>(&text).is_ok() {
                Cell::Raw(text)
            } else {
                Cell::Text(text)
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
