//! Running SQL text as a user typed it: splitting it into statements, running each, and
//! turning DuckDB values into JSON values for rendering (`output.rs`). JSON columns come
//! back as JSON, not as strings.

use anyhow::{Result, anyhow};
use duckdb::Connection;
use duckdb::arrow::datatypes::DataType;
use duckdb::types::{TimeUnit, Value};
use serde_json::Value as Json;

/// The rows of one statement.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
    /// More rows were there than the limit allowed.
    pub is_truncated: bool,
}

/// Split SQL text into statements on `;`, respecting quotes and comments. Empty statements
/// are dropped. The last statement need not end in `;`.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                current.push(c);
                for d in chars.by_ref() {
                    current.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
                current.push(' ');
            }
            ';' => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// True when the text holds a complete statement: it ends with `;` outside quotes/comments.
pub fn is_complete(sql: &str) -> bool {
    let mut in_quote: Option<char> = None;
    let mut last_significant = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match in_quote {
            Some(q) => {
                if c == q {
                    in_quote = None;
                }
                last_significant = Some(c);
            }
            None => match c {
                '\'' | '"' => {
                    in_quote = Some(c);
                    last_significant = Some(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for d in chars.by_ref() {
                        if d == '\n' {
                            break;
                        }
                    }
                }
                c if c.is_whitespace() => {}
                c => last_significant = Some(c),
            },
        }
    }
    in_quote.is_none() && last_significant == Some(';')
}

/// Run one statement and collect up to `limit` rows.
pub fn run_query(conn: &Connection, sql: &str, limit: Option<usize>) -> Result<QueryResult> {
    let json_columns = json_columns(conn, sql);
    let mut stmt = conn.prepare(sql).map_err(sql_error)?;
    let mut rows = stmt.query([]).map_err(sql_error)?;
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let types: Vec<DataType> = rows
        .as_ref()
        .map(|s| s.schema().fields().iter().map(|f| f.data_type().clone()).collect())
        .unwrap_or_default();
    // duckdb-rs cannot read some Arrow types (NULL-typed values): print those as null, or
    // refuse the column with a hint, rather than fail deep inside the driver.
    for (name, data_type) in columns.iter().zip(&types) {
        if *data_type != DataType::Null && !is_readable(data_type) {
            return Err(anyhow!(
                "column {name:?} has a type lsdb cannot print ({data_type}); cast it, e.g. {name}::VARCHAR"
            ));
        }
    }
    let mut result = QueryResult { columns, ..QueryResult::default() };
    while let Some(row) = rows.next().map_err(sql_error)? {
        if limit.is_some_and(|l| result.rows.len() >= l) {
            result.is_truncated = true;
            break;
        }
        let mut values = Vec::with_capacity(result.columns.len());
        for i in 0..result.columns.len() {
            if types.get(i) == Some(&DataType::Null) {
                values.push(Json::Null);
                continue;
            }
            let value: Value = row.get(i).map_err(sql_error)?;
            let is_json = json_columns.get(i).copied().unwrap_or(false);
            values.push(to_json(value, is_json));
        }
        result.rows.push(values);
    }
    Ok(result)
}

/// True for the Arrow types duckdb-rs can turn into values.
fn is_readable(data_type: &DataType) -> bool {
    use DataType as D;
    match data_type {
        D::Utf8
        | D::LargeUtf8
        | D::Binary
        | D::LargeBinary
        | D::FixedSizeBinary(_)
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float16
        | D::Float32
        | D::Float64
        | D::Decimal32(..)
        | D::Decimal64(..)
        | D::Decimal128(..)
        | D::Timestamp(..)
        | D::Date32
        | D::Date64
        | D::Time32(_)
        | D::Time64(_)
        | D::Interval(_)
        | D::Union(..) => true,
        D::List(field) | D::LargeList(field) | D::FixedSizeList(field, _) | D::Map(field, _) => {
            is_readable(field.data_type())
        }
        D::Struct(fields) => fields.iter().all(|f| is_readable(f.data_type())),
        D::Dictionary(key, value) => {
            matches!(**key, D::UInt8 | D::UInt16 | D::UInt32) && is_readable(value)
        }
        _ => false,
    }
}

/// A DuckDB error on one line, without its internal prefix noise.
pub fn sql_error(err: duckdb::Error) -> anyhow::Error {
    let text = err.to_string();
    let text: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    anyhow!("{}", text.join(" "))
}

/// Which result columns are of type JSON (by DESCRIBE; unknown for non-queries).
fn json_columns(conn: &Connection, sql: &str) -> Vec<bool> {
    let head = sql.trim_start().to_ascii_lowercase();
    let is_query =
        ["select", "with", "from", "values", "table", "("].iter().any(|k| head.starts_with(k));
    if !is_query {
        return Vec::new();
    }
    let describe = format!("DESCRIBE {sql}");
    let Ok(mut stmt) = conn.prepare(&describe) else { return Vec::new() };
    let Ok(rows) = stmt.query_map([], |r| r.get::<_, String>(1)) else { return Vec::new() };
    rows.map(|t| t.map(|t| t == "JSON").unwrap_or(false)).collect()
}

/// A DuckDB value as JSON. Text of a JSON column is parsed.
pub fn to_json(value: Value, is_json: bool) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::TinyInt(i) => i.into(),
        Value::SmallInt(i) => i.into(),
        Value::Int(i) => i.into(),
        Value::BigInt(i) => i.into(),
        Value::UTinyInt(i) => i.into(),
        Value::USmallInt(i) => i.into(),
        Value::UInt(i) => i.into(),
        Value::UBigInt(i) => i.into(),
        Value::HugeInt(i) => {
            i64::try_from(i).map_or_else(|_| Json::String(i.to_string()), Json::from)
        }
        Value::UHugeInt(i) => {
            u64::try_from(i).map_or_else(|_| Json::String(i.to_string()), Json::from)
        }
        Value::Float(f) => float(f64::from(f)),
        Value::Double(f) => float(f),
        Value::Decimal(d) => {
            let text = d.to_string();
            text.parse::<f64>().map_or(Json::String(text), float)
        }
        Value::Text(s) if is_json => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        Value::Text(s) | Value::Enum(s) => Json::String(s),
        Value::Blob(b) | Value::Geometry(b) => {
            Json::String(String::from_utf8_lossy(&b).into_owned())
        }
        Value::Timestamp(unit, v) => Json::String(timestamp(unit, v)),
        Value::Date32(days) => Json::String(date(i64::from(days))),
        Value::Time64(unit, v) => {
            let micros = to_micros(unit, v);
            Json::String(time_of_day(micros))
        }
        Value::Interval { months, days, nanos } => {
            Json::String(format!("{months} months {days} days {} microseconds", nanos / 1000))
        }
        Value::List(items) | Value::Array(items) => {
            Json::Array(items.into_iter().map(|v| to_json(v, false)).collect())
        }
        Value::Struct(fields) => Json::Object(
            fields.iter().map(|(k, v)| (k.clone(), to_json(v.clone(), false))).collect(),
        ),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k.clone(), false) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v.clone(), false))
                })
                .collect(),
        ),
        Value::Union(inner) => to_json(*inner, false),
        other => Json::String(format!("{other:?}")),
    }
}

fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or_else(|| Json::String(f.to_string()), Json::Number)
}

fn to_micros(unit: TimeUnit, v: i64) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1_000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v / 1_000,
    }
}

fn timestamp(unit: TimeUnit, v: i64) -> String {
    let micros = to_micros(unit, v);
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    format!("{} {}", date(days), time_of_day(rest))
}

fn time_of_day(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let base = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 { base } else { format!("{base}.{frac:06}") }
}

/// A civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_outside_quotes() {
        assert_eq!(
            split_statements("select ';' as a; -- x;\nselect 2 /* ; */;  ;"),
            ["select ';' as a", "select 2"]
        );
        assert!(is_complete("select 1;\n"));
        assert!(!is_complete("select ';'"));
        assert!(!is_complete("select 1 -- ;"));
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(19_000), "2022-01-08");
        assert_eq!(timestamp(TimeUnit::Second, 86_400 + 3_661), "1970-01-02 01:01:01");
    }

    #[test]
    fn json_columns_come_back_as_json() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let r = run_query(
            &conn,
            "SELECT '{\"a\": [1]}'::JSON AS j, '{\"a\"}' AS t, NULL AS n, [1, 2] AS l",
            None,
        )?;
        let err = run_query(&conn, "SELECT [NULL] AS l", None).unwrap_err();
        assert!(err.to_string().contains("cast it, e.g. l::VARCHAR"), "{err}");
        assert_eq!(r.columns, ["j", "t", "n", "l"]);
        assert_eq!(
            r.rows[0],
            [
                serde_json::json!({"a": [1]}),
                Json::from("{\"a\"}"),
                Json::Null,
                serde_json::json!([1, 2])
            ]
        );
        Ok(())
    }
}
