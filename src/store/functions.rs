//! SQL functions lsdb adds to its DuckDB instance, registered once when the file is opened
//! (before the views that call them are made). Their work lives in the layer-0 modules;
//! this only moves DuckDB's vectors in and out.
//!
//! - `lsdb_region_match(a VARCHAR, b VARCHAR)`: two JSON arrays of result items (one
//!   control's items in two annotations) matched as regions (`regions.rs`):
//!   `STRUCT(regions_a INTEGER, regions_b INTEGER, ious DOUBLE[])`.

use std::sync::Arc;

use anyhow::{Context, Result};
use duckdb::Connection;
use duckdb::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int32Array, ListBuilder, RecordBatch, StructArray,
};
use duckdb::arrow::datatypes::{DataType, Field, Fields};
use duckdb::vscalar::{ArrowFunctionSignature, VArrowScalar};

use crate::regions;

/// Register lsdb's functions on a new instance's first connection.
pub fn register(conn: &Connection) -> Result<()> {
    conn.register_scalar_function::<RegionMatch>("lsdb_region_match")
        .context("registering lsdb_region_match")?;
    Ok(())
}

struct RegionMatch;

fn match_fields() -> Fields {
    Fields::from(vec![
        Field::new("regions_a", DataType::Int32, false),
        Field::new("regions_b", DataType::Int32, false),
        Field::new(
            "ious",
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            false,
        ),
    ])
}

impl VArrowScalar for RegionMatch {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef, Box<dyn std::error::Error>> {
        let (a, b) = (input.column(0), input.column(1));
        let (a, b) = (text_column(a)?, text_column(b)?);
        let rows = input.num_rows();
        let (mut na, mut nb) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        let mut ious = ListBuilder::new(Float64Builder::new());
        for row in 0..rows {
            let m = regions::match_items(a(row), b(row));
            na.push(i32::try_from(m.regions_a).unwrap_or(i32::MAX));
            nb.push(i32::try_from(m.regions_b).unwrap_or(i32::MAX));
            ious.values().append_slice(&m.ious);
            ious.append(true);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(na)),
            Arc::new(Int32Array::from(nb)),
            Arc::new(ious.finish()),
        ];
        Ok(Arc::new(StructArray::try_new(match_fields(), columns, None)?))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Struct(match_fields()),
        )]
    }
}

/// A text column's value by row ("" for NULL), whichever string layout DuckDB handed over.
type TextAt<'a> = Box<dyn Fn(usize) -> &'a str + 'a>;

fn text_column(col: &ArrayRef) -> Result<TextAt<'_>, Box<dyn std::error::Error>> {
    match col.data_type() {
        DataType::Utf8 => {
            let a = col.as_string::<i32>();
            Ok(Box::new(move |i| if a.is_null(i) { "" } else { a.value(i) }))
        }
        DataType::LargeUtf8 => {
            let a = col.as_string::<i64>();
            Ok(Box::new(move |i| if a.is_null(i) { "" } else { a.value(i) }))
        }
        DataType::Utf8View => {
            let a = col.as_string_view();
            Ok(Box::new(move |i| if a.is_null(i) { "" } else { a.value(i) }))
        }
        other => Err(format!("lsdb_region_match takes text, not {other}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_match_from_sql() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        register(&conn)?;
        let row: (i32, i32, String) = conn.query_row(
            r#"SELECT m.regions_a, m.regions_b, m.ious::VARCHAR FROM (SELECT lsdb_region_match(
                '[{"type":"labels","value":{"start":0,"end":10,"labels":["A"]}}]',
                '[{"type":"labels","value":{"start":0,"end":8,"labels":["A"]}}, 3]') AS m)"#,
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!(row, (1, 1, "[0.8]".to_string()));
        // NULLs and text that is no JSON are no regions, never an error.
        let n: i32 = conn.query_row(
            "SELECT lsdb_region_match(a, b).regions_a FROM (VALUES (NULL, '[]'), ('x', '')) t(a, b) \
             ORDER BY a NULLS LAST LIMIT 1",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(n, 0);
        Ok(())
    }
}
