//! The SQL the binary embeds (`sql/schema.sql`, `sql/views.sql`) and how it is applied:
//! tables once per schema version, views whenever their text changes.

use anyhow::{Context, Result, bail};
use duckdb::{Connection, OptionalExt, params};

/// Tables of a store.
pub const SCHEMA: &str = include_str!("../../sql/schema.sql");
/// Views over the tables: validation, results, sampling.
pub const VIEWS: &str = include_str!("../../sql/views.sql");
/// The label-quality views (agreement, label issues, prediction accuracy), after `VIEWS`.
pub const QUALITY: &str = include_str!("../../sql/quality.sql");
/// The schema version this lsdb writes. Raise it with a migration when tables change.
pub const SCHEMA_VERSION: i64 = 4;

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
    let views_hash = fnv1a(format!("{VIEWS}{QUALITY}").as_bytes()).to_string();
    if version == Some(SCHEMA_VERSION) && meta(conn, "views_hash")?.as_deref() == Some(&views_hash)
    {
        return Ok(());
    }
    conn.execute_batch("BEGIN TRANSACTION")?;
    let applied = (|| -> Result<()> {
        let old_tasks = match version {
            Some(version) if version < 3 => Some(set_tasks_aside(conn)?),
            _ => None,
        };
        conn.execute_batch(SCHEMA).context("applying sql/schema.sql")?;
        if let Some(aside) = old_tasks {
            refill_tasks(conn, &aside)?;
        }
        if version.is_some_and(|v| v < 4) {
            super::config::fill_control_attrs(conn)
                .context("upgrading the store: the label config's control attributes")?;
        }
        conn.execute_batch(VIEWS).context("applying sql/views.sql")?;
        conn.execute_batch(QUALITY).context("applying sql/quality.sql")?;
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

/// The columns `tasks` had before schema 3, when `data_hash` (the last) was stored; the
/// others move to the new table.
const TASKS_V2_COLUMNS: [&str; 7] =
    ["id", "data", "meta", "extra", "import_id", "source", "data_hash"];

/// What moves from the old `tasks` to the new one besides lsdb's own columns.
struct SetAside {
    /// Columns added by hand: quoted name and type.
    columns: Vec<(String, String)>,
    /// `CREATE INDEX` statements of indexes made on the table.
    indexes: Vec<String>,
}

/// Schema 3 computes `tasks.data_hash` from `data` instead of storing it, and DuckDB cannot
/// add a computed column to a table: the old table is renamed aside for `sql/schema.sql` to
/// make the new one. Indexes made on it must go first; they are made again after.
fn set_tasks_aside(conn: &Connection) -> Result<SetAside> {
    let columns: Vec<(String, String)> = conn
        .prepare(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'tasks' \
             AND schema_name = 'main' ORDER BY column_index",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let columns = columns
        .into_iter()
        .filter(|(name, _)| !TASKS_V2_COLUMNS.contains(&name.as_str()))
        .map(|(name, kind)| (crate::sqltext::quote_ident(&name), kind))
        .collect();
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'tasks' \
             AND schema_name = 'main' AND sql IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {}", crate::sqltext::quote_ident(name)))?;
    }
    conn.execute_batch("ALTER TABLE tasks RENAME TO lsdb_tasks_v2")
        .context("upgrading the store: setting the old tasks table aside")?;
    Ok(SetAside { columns, indexes: indexes.into_iter().map(|(_, sql)| sql).collect() })
}

/// Fill the new `tasks` from the old one, in its order, with the columns added by hand
/// after lsdb's own, and make its indexes again.
fn refill_tasks(conn: &Connection, aside: &SetAside) -> Result<()> {
    let mut names = TASKS_V2_COLUMNS[..TASKS_V2_COLUMNS.len() - 1].join(", ");
    for (name, kind) in &aside.columns {
        conn.execute_batch(&format!("ALTER TABLE tasks ADD COLUMN {name} {kind}"))
            .with_context(|| format!("upgrading the store: keeping tasks column {name}"))?;
        names.push_str(", ");
        names.push_str(name);
    }
    conn.execute_batch(&format!(
        "INSERT INTO tasks ({names}) SELECT {names} FROM lsdb_tasks_v2; DROP TABLE lsdb_tasks_v2;"
    ))
    .context("upgrading the store: copying the tasks")?;
    for sql in &aside.indexes {
        conn.execute_batch(sql).with_context(|| format!("upgrading the store: {sql}"))?;
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

    /// An in-memory database with lsdb's functions, as a store's instance has them.
    fn memory() -> Result<Connection> {
        let conn = Connection::open_in_memory()?;
        crate::store::functions::register(&conn)?;
        Ok(conn)
    }

    #[test]
    fn schema_and_views_apply_twice() -> Result<()> {
        let conn = memory()?;
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
            "task_agreement",
            "annotator_agreement",
            "control_agreement",
            "label_issues",
            "prediction_accuracy",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        Ok(())
    }

    /// `labeling_queue` and the other views of sql/views.sql are plain SQL: a DuckDB without
    /// lsdb's functions (another program opening the store) runs every strategy. Only the
    /// quality views need `lsdb_region_match`.
    #[test]
    fn labeling_queue_needs_no_lsdb_function() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(VIEWS)?;
        conn.execute_batch(
            "INSERT INTO tasks (id, data) VALUES (1, '{}'), (2, '{}');
             INSERT INTO predictions (id, task_id, score, result, fields)
                 VALUES (1, 1, 0.4, '[]', '{}'), (2, 2, 0.9, '[]', '{}');",
        )?;
        for strategy in
            ["sequential", "uniform", "uncertainty", "margin", "entropy", "disagreement"]
        {
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM labeling_queue(?, 0, NULL)",
                [strategy],
                |r| r.get(0),
            )?;
            assert_eq!(n, 2, "{strategy}");
        }
        Ok(())
    }

    /// A store of schema 3 had no `config_controls.attrs`: opening it fills them from the
    /// stored label config, which the quality views read (`choice="multiple"`).
    #[test]
    fn schema_3_controls_get_their_attributes() -> Result<()> {
        let conn = memory()?;
        apply_schema(&conn, "test")?;
        let xml = r#"<View><Image name="i" value="$image"/>
            <Choices name="one" toName="i"><Choice value="a"/><Choice value="b"/></Choices>
            <Choices name="many" toName="i" choice="multiple"><Choice value="a"/></Choices></View>"#;
        let config = crate::labelconfig::parse_label_config(xml, "c.xml")?;
        super::super::config::save_config(&conn, &config, "c.xml")?;
        conn.execute_batch(
            "UPDATE config_controls SET attrs = NULL;
             UPDATE lsdb_meta SET value = '3' WHERE key = 'schema_version';",
        )?;
        apply_schema(&conn, "test")?;
        let kinds: String = conn.query_row(
            "SELECT string_agg(from_name || ':' || kind, ' ' ORDER BY ord) FROM quality_controls",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(kinds, "one:choice many:nominal");
        assert_eq!(meta(&conn, "schema_version")?, Some(SCHEMA_VERSION.to_string()));
        Ok(())
    }

    /// A store of schema 2 whose `tasks` table `tasks_sql` makes and fills.
    fn schema_2_store(tasks_sql: &str) -> Result<Connection> {
        let conn = memory()?;
        apply_schema(&conn, "test")?;
        conn.execute_batch(&format!(
            "DROP TABLE tasks; {tasks_sql};
             UPDATE lsdb_meta SET value = '2' WHERE key = 'schema_version';"
        ))?;
        Ok(conn)
    }

    /// A store of schema 2 stored `data_hash`; opening it for writing computes it instead,
    /// keeping the rows, their order, the hashes and the indexes made on the table.
    #[test]
    fn schema_2_tasks_are_rebuilt_with_a_computed_hash() -> Result<()> {
        let conn = schema_2_store(
            "CREATE TABLE tasks (id BIGINT PRIMARY KEY, data JSON NOT NULL, meta JSON,
                 extra JSON, import_id BIGINT, source VARCHAR, data_hash VARCHAR NOT NULL);
             INSERT INTO tasks SELECT 10 - i, json_object('t', i), NULL, '{\"k\":1.50}', 1,
                 'a.json[' || i || ']', md5(json_object('t', i)::VARCHAR) FROM range(5) r(i);
             CREATE INDEX by_source ON tasks (source)",
        )?;
        let rows = "SELECT list((id, data, meta, extra, import_id, source, data_hash))::VARCHAR \
                    FROM tasks";
        let before: String = conn.query_row(rows, [], |r| r.get(0))?;
        apply_schema(&conn, "test")?;
        let after: String = conn.query_row(rows, [], |r| r.get(0))?;
        assert_eq!(before, after);
        assert_eq!(meta(&conn, "schema_version")?, Some(SCHEMA_VERSION.to_string()));
        let (computed, indexes): (bool, i64) = conn.query_row(
            "SELECT (SELECT sql FROM duckdb_tables() WHERE table_name = 'tasks') LIKE '%GENERATED%',
                    (SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'by_source')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert!(computed);
        assert_eq!(indexes, 1);
        Ok(())
    }

    /// Columns a user added to `tasks` by hand come along, after lsdb's own: refusing the
    /// store would leave no lsdb command, `lsdb sql` included, able to move them.
    #[test]
    fn schema_2_tasks_keep_columns_added_by_hand() -> Result<()> {
        let conn = schema_2_store(
            "CREATE TABLE tasks (id BIGINT, data JSON NOT NULL, meta JSON, extra JSON,
                 import_id BIGINT, source VARCHAR, data_hash VARCHAR NOT NULL,
                 \"my \"\"label\"\"\" DECIMAL(9,3), tags VARCHAR[]);
             INSERT INTO tasks VALUES (1, '{}', NULL, NULL, 1, 'a.json[0]', md5('{}'), 1.250,
                 ['x', 'y'])",
        )?;
        apply_schema(&conn, "x/lsdb.duckdb")?;
        let row: String = conn.query_row(
            "SELECT (id, data_hash, \"my \"\"label\"\"\", typeof(\"my \"\"label\"\"\"), tags)::VARCHAR
             FROM tasks",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(row, "(1, 99914b932bd37a50b983c5e7c90ae93b, 1.250, 'DECIMAL(9,3)', [x, y])");
        assert_eq!(meta(&conn, "schema_version")?, Some(SCHEMA_VERSION.to_string()));
        Ok(())
    }

    #[test]
    fn newer_store_is_refused() -> Result<()> {
        let conn = memory()?;
        apply_schema(&conn, "test")?;
        set_meta(&conn, "schema_version", "99")?;
        let err = apply_schema(&conn, "x/lsdb.duckdb").expect_err("newer version");
        assert!(err.to_string().contains("newer lsdb (schema version 99"), "{err}");
        Ok(())
    }
}
