//! Placing an import's staged rows into the store: duplicates, `--merge` matching, id checks
//! and assignment, then one `INSERT ... SELECT` per table (`sql/import.sql`).

use anyhow::{Result, bail};
use duckdb::{Connection, OptionalExt, params};

use super::Phases;

const IMPORT_SQL: &str = include_str!("../../sql/import.sql");

/// What placing the staged rows did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Placed {
    /// New tasks inserted.
    pub tasks: u64,
    /// Completions and predictions inserted (on new tasks, or merged onto existing ones).
    pub completions: u64,
    pub predictions: u64,
    /// New tasks whose data was already in the store or earlier in the input.
    pub duplicates: u64,
    /// Input tasks that matched a task in the store (`--merge`).
    pub merged: u64,
}

/// Move the staged rows into the tables; with `is_merging`, tasks already in the store take
/// the input's new annotations and predictions instead of being added again.
pub fn place_staged(
    conn: &Connection,
    import_id: i64,
    is_merging: bool,
    is_skipping_duplicates: bool,
    phases: &mut Phases,
) -> Result<Placed> {
    let mut placed = Placed::default();
    conn.execute_batch(section("hash"))?;
    if is_merging {
        placed.merged = match_existing(conn)?;
    }
    conn.execute_batch(section("duplicates"))?;
    placed.duplicates = count(conn, "lsdb_stage_duplicates")?;
    if is_skipping_duplicates && placed.duplicates > 0 {
        conn.execute_batch(section("drop_duplicates"))?;
    }
    phases.done("hash and find duplicates");
    check_ids(conn)?;
    conn.execute_batch(section("assign_task_ids"))?;
    if is_merging {
        conn.execute_batch(section("merge_task_ids"))?;
    }
    phases.done("check and assign ids");
    placed.tasks = conn.execute(section("insert_tasks"), params![import_id])? as u64;
    phases.done("insert tasks");
    let mut inserted = [0u64; 2];
    for (n, (name, what)) in
        [("insert_completions", "completion"), ("insert_predictions", "prediction")]
            .iter()
            .enumerate()
    {
        inserted[n] = conn.execute(section(name), params![import_id]).map_err(|err| {
            if err.to_string().contains("Overflow") {
                anyhow::anyhow!(
                    "a {what} id in the input is so large that no new {what} ids fit after it \
                     (ids go up to 9223372036854775807); give smaller ids, or leave them out"
                )
            } else {
                err.into()
            }
        })? as u64;
    }
    [placed.completions, placed.predictions] = inserted;
    phases.done("insert completions and predictions");
    Ok(placed)
}

/// `--merge`: match staged tasks to tasks in the store (by lsdb's id when the data agrees,
/// else by the content hash of the data), set the matched ones aside with their target id
/// and drop their annotations and predictions that the store already has. Returns how many
/// matched. A task whose id is in the store with other data, and whose data is nowhere in
/// it, is an error naming both.
fn match_existing(conn: &Connection) -> Result<u64> {
    conn.execute_batch(section("merge_match"))?;
    let conflict: Option<(String, i64, Option<String>)> = conn
        .query_row(section("merge_conflict"), [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((place, id, source)) = conflict {
        let source = source.map(|s| format!(" (from {s})")).unwrap_or_default();
        bail!(
            "{place}: --merge: task id {id} is in the store{source} with other data, and this \
             task's data matches no task in the store; remove \"id\" to import it as a new task, \
             or fix the data"
        );
    }
    conn.execute_batch(section("merge_set_aside"))?;
    count(conn, "lsdb_stage_merged")
}

fn count(conn: &Connection, table: &str) -> Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(n as u64)
}

/// A given task id must be free in the store and appear once in the input, and leave room
/// for the new ids of tasks without one.
fn check_ids(conn: &Connection) -> Result<()> {
    let (top, needed, source): (i64, i64, Option<String>) = conn.query_row(
        "SELECT greatest((SELECT coalesce(max(id), 0) FROM tasks), \
                         (SELECT coalesce(max(given_id), 0) FROM lsdb_stage_tasks)), \
                (SELECT count(*) FROM lsdb_stage_tasks WHERE given_id IS NULL), \
                (SELECT place FROM lsdb_stage_tasks ORDER BY given_id DESC NULLS LAST, seq LIMIT 1)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if top.checked_add(needed).is_none() {
        let place = source.map(|s| format!("{s}: ")).unwrap_or_default();
        bail!(
            "{place}task id {top} leaves no room for the {needed} new task id{} after it (ids go \
             up to 9223372036854775807); give smaller ids, or leave them out",
            if needed == 1 { "" } else { "s" }
        );
    }
    let taken: Option<(i64, String)> =
        conn.query_row(section("id_taken"), [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    if let Some((id, source)) = taken {
        bail!(
            "{source}: task id {id} is already in the store; remove \"id\" to get a new one, or \
             pass --skip-duplicates when it is the same task"
        );
    }
    let twice: Option<(i64, String)> = conn
        .query_row(section("id_twice"), [], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    if let Some((id, places)) = twice {
        let mut places = places.split(", ");
        let first = places.next().unwrap_or_default();
        let others: Vec<&str> = places.collect();
        bail!(
            "{first}: task id {id} appears more than once in the input (again at {}); task ids \
             must be unique",
            others.join(", ")
        );
    }
    Ok(())
}

/// One section of `sql/import.sql`, by its `-- name:` line.
pub fn section(name: &str) -> &'static str {
    let marker = format!("-- name: {name}\n");
    let start = IMPORT_SQL
        .find(&marker)
        .map(|i| i + marker.len())
        .expect("section exists in sql/import.sql");
    let rest = &IMPORT_SQL[start..];
    let end = rest.find("-- name:").unwrap_or(rest.len());
    &rest[..end]
}
