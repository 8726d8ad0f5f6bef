//! Running SQL as a user typed it and handing its rows out as printable cells, a batch at a
//! time: nothing holds a whole result unless the caller keeps it (the table view does, up to
//! its row limit). Every DuckDB type prints: a query's columns are converted inside DuckDB
//! to text (numbers as their digits, nested values and JSON as JSON text), so the driver
//! only ever reads strings. Rendering lives in `output.rs`.

mod cells;
mod split;

use anyhow::{Result, anyhow};
use duckdb::Connection;

pub use cells::{Cell, CellRef};
use cells::{Kind, for_each_row};
pub use split::{is_complete, split_statements};

use crate::sqltext::quote_ident;

/// The rows of one statement, kept whole (for small results and tables).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// More rows were there than the limit allowed.
    pub is_truncated: bool,
}

/// Where streamed rows go: the column names once, then each row.
pub trait RowSink {
    /// The statement's column names, before any row.
    fn columns(&mut self, columns: &[String]) -> Result<()>;
    /// One row; return `false` to stop reading (the rest is not fetched).
    fn row(&mut self, row: &[CellRef<'_>]) -> Result<bool>;
}

/// Run one statement and collect up to `limit` rows.
pub fn run_query(conn: &Connection, sql: &str, limit: Option<usize>) -> Result<QueryResult> {
    struct Collect {
        result: QueryResult,
        limit: Option<usize>,
    }
    impl RowSink for Collect {
        fn columns(&mut self, columns: &[String]) -> Result<()> {
            self.result.columns = columns.to_vec();
            Ok(())
        }
        fn row(&mut self, row: &[CellRef<'_>]) -> Result<bool> {
            if self.limit.is_some_and(|l| self.result.rows.len() >= l) {
                self.result.is_truncated = true;
                return Ok(false);
            }
            self.result.rows.push(row.iter().map(|c| c.to_cell()).collect());
            Ok(true)
        }
    }
    let mut collect = Collect { result: QueryResult::default(), limit };
    stream_query(conn, sql, &mut collect)?;
    Ok(collect.result)
}

/// Run one statement and hand its rows to `sink` as DuckDB produces them.
pub fn stream_query(conn: &Connection, sql: &str, sink: &mut dyn RowSink) -> Result<()> {
    let plan = plan(conn, sql);
    let mut stmt = conn.prepare(&plan.sql).map_err(sql_error)?;
    let stream = stmt.stream_arrow([]).map_err(sql_error)?;
    let schema = stream.get_schema();
    let columns = match &plan.columns {
        Some(columns) => columns.iter().map(|(name, _)| name.clone()).collect(),
        None => schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>(),
    };
    sink.columns(&columns)?;
    let kinds: Option<Vec<Kind>> =
        plan.columns.as_ref().map(|c| c.iter().map(|(_, kind)| *kind).collect());
    for batch in stream {
        let batch = batch.map_err(sql_error)?;
        if !for_each_row(&batch, kinds.as_deref(), |row| sink.row(row))? {
            return Ok(());
        }
    }
    Ok(())
}

/// The SQL that is run and, for a query, its columns with how each prints.
struct Plan {
    sql: String,
    columns: Option<Vec<(String, Kind)>>,
}

/// Statements that DuckDB can describe and wrap in a subquery.
const QUERY_WORDS: &[&str] =
    &["select", "with", "from", "values", "table", "(", "show", "describe", "summarize", "pivot"];

/// For a query: wrap it so that every column arrives as text, converted by DuckDB itself.
/// Other statements run as they are and their columns are read from Arrow.
fn plan(conn: &Connection, sql: &str) -> Plan {
    let as_is = Plan { sql: sql.to_string(), columns: None };
    let head = sql.trim_start().to_ascii_lowercase();
    if !QUERY_WORDS.iter().any(|w| head.starts_with(w)) {
        return as_is;
    }
    let Ok(columns) = describe(conn, sql) else { return as_is };
    let mut select = Vec::with_capacity(columns.len());
    let mut kinds = Vec::with_capacity(columns.len());
    for (i, (name, ty)) in columns.iter().enumerate() {
        let kind = Kind::of(ty);
        let n = i + 1;
        let expr = match kind {
            Kind::Text if ty == "VARCHAR" => format!("#{n}"),
            Kind::Json if is_nested(ty) => format!("to_json(#{n})::VARCHAR"),
            _ => format!("#{n}::VARCHAR"),
        };
        select.push(format!("{expr} AS {}", quote_ident(name)));
        kinds.push((name.clone(), kind));
    }
    if select.is_empty() {
        return as_is;
    }
    Plan {
        sql: format!("SELECT {} FROM ({sql}\n) AS lsdb_query", select.join(", ")),
        columns: Some(kinds),
    }
}

/// A query's column names and DuckDB types.
fn describe(conn: &Connection, sql: &str) -> duckdb::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(&format!("DESCRIBE {sql}\n"))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.collect()
}

/// LIST, ARRAY, STRUCT, MAP, UNION and TUPLE types: printed as JSON by `to_json`.
fn is_nested(ty: &str) -> bool {
    ty.ends_with(']') || ["STRUCT", "MAP(", "UNION(", "TUPLE"].iter().any(|p| ty.starts_with(p))
}

/// A DuckDB error on one line, without its internal prefix noise.
pub fn sql_error(err: duckdb::Error) -> anyhow::Error {
    let text = err.to_string();
    let text: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    anyhow!("{}", text.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(result: &QueryResult) -> Vec<Vec<String>> {
        result
            .rows
            .iter()
            .map(|row| row.iter().map(|c| c.json_text()).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn json_columns_come_back_as_json() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let r = run_query(
            &conn,
            "SELECT '{\"a\": [1, 123456789012345678901]}'::JSON AS j, '{\"a\"}' AS t, NULL AS n, \
             [1, 2] AS l, [NULL] AS nl, 0.1::DOUBLE AS d",
            None,
        )?;
        assert_eq!(r.columns, ["j", "t", "n", "l", "nl", "d"]);
        assert_eq!(
            texts(&r)[0],
            [
                "{\"a\": [1, 123456789012345678901]}",
                "\"{\\\"a\\\"}\"",
                "null",
                "[1,2]",
                "[null]",
                "0.1"
            ]
        );
        Ok(())
    }

    #[test]
    fn every_duckdb_type_prints() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let r = run_query(&conn, "SELECT * FROM test_all_types()", None)?;
        assert!(r.columns.len() >= 50, "{:?}", r.columns);
        assert_eq!(r.rows.len(), 3);
        for row in &r.rows {
            for cell in row {
                let text = cell.json_text();
                serde_json::from_str::<&serde_json::value::RawValue>(&text)
                    .map_err(|e| anyhow!("{text:?} is not JSON: {e}"))?;
            }
        }
        Ok(())
    }

    #[test]
    fn statements_that_are_not_queries_print_too() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let r = run_query(&conn, "PRAGMA version", None)?;
        assert_eq!(r.rows.len(), 1);
        run_query(&conn, "CREATE TABLE t AS SELECT 1 AS a", None)?;
        let r = run_query(&conn, "INSERT INTO t VALUES (2), (3)", None)?;
        assert_eq!(texts(&r), [["2"]]);
        let r = run_query(&conn, "SELECT 1 AS a, 2 AS a", None)?;
        assert_eq!(texts(&r), [["1", "2"]]);
        Ok(())
    }
}
