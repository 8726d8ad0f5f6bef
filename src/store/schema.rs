//! The SQL the binary embeds (`sql/schema.sql`, `sql/views.sql`) and how it is applied:
//! tables once per schema version, views whenever their text changes.

use anyhow::{Context, Result, bail};
use duckdb::{Connection, OptionalExt, params};

/// Tables of a store.
pub const SCHEMA: &str = include_str!("../../sql/schema.sql");
/// Views over the tables: validation, results, sampling.
pub const VIEWS: &str = include_str!("../../sql/views.sql");
/// The schema version this lsdb writes. Raise it with a migration when tables change.
pub const SCHEMA_VERSION: i64 = 2;

/// Bring a store's tables and views up to this lsdb's version, in one transaction.
/// A store written by a newer lsdb is refused.
pub fn apply_schema(conn: &Connection, store_name: &str) -> Result<()> {
    let version = stored_version(conn)?;
    if let Some(version) = version
        && version > SCHEMA_VERSION
    {
        bail!(
            "{store_name} was written by a newer lsdb (schema version {version}; this lsdb knows \
             up to {SCHEMA_VERSION}); upgrade lsdb to open it"
        );
    }
    let views_hash = fnv1a(VIEWS.as_bytes()).to_string();
    if version == Some(SCHEMA_VERSION) && meta(conn, "views_hash")?.as_deref() == Some(&views_hash)
    {
        return Ok(());
    }
    conn.execute_batch("BEGIN TRANSACTION")?;
    let applied = (|| -> Result<()> {
        conn.execute_batch(SCHEMA).context("applying sql/schema.sql")?;
        conn.execute_batch(VIEWS).context("applying sql/views.sql")?;
        set_meta(conn, "schema_version", &SCHEMA_VERSION.to_string())?;
        set_meta(conn, "views_hash", &views_hash)?;
        Ok(())
    })();
    match applied {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err);
        }
    }
    Ok(())
}

fn stored_version(conn: &Connection) -> Result<Option<i64>> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'lsdb_meta' AND schema_name = 'main'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    Ok(meta(conn, "schema_version")?.and_then(|v| v.parse().ok()))
}

/// A value from `lsdb_meta`.
pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM lsdb_meta WHERE key = ?", params![key], |r| r.get(0))
        .optional()?)
}

/// Set a value in `lsdb_meta`.
pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute("INSERT OR REPLACE INTO lsdb_meta VALUES (?, ?)", params![key, value])?;
    Ok(())
}

/// A stable 64-bit hash (FNV-1a), so the stored views hash means the same in every build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_and_views_apply_twice() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        apply_schema(&conn, "test")?;
        conn.execute("DELETE FROM lsdb_meta WHERE key = 'views_hash'", [])?;
        apply_schema(&conn, "test")?;
        let names: Vec<String> = conn
            .prepare("SELECT table_name FROM information_schema.tables ORDER BY 1")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for want in [
            "tasks",
            "completions",
            "predictions",
            "imports",
            "import_rejects",
            "label_config",
            "config_objects",
            "config_controls",
            "validation_errors",
            "results",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        Ok(())
    }

    #[test]
    fn newer_store_is_refused() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        apply_schema(&conn, "test")?;
        set_meta(&conn, "schema_version", "99")?;
        let err = apply_schema(&conn, "x/lsdb.duckdb").expect_err("newer version");
        assert!(err.to_string().contains("newer lsdb (schema version 99"), "{err}");
        Ok(())
    }
}
