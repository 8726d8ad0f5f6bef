//! `lsdb pull`: a Label Studio project's annotations onto the tasks `lsdb push` sent there.
//! Each annotation is linked to the completion it became (`ls_annotation_links`, with its
//! `updated_at`): a new one is added, one edited in Label Studio replaces the stored result
//! (the previous result and fields go to `completion_history`), one deleted there is
//! reported (`--prune` deletes it), and pulling twice changes nothing. A task made inside
//! Label Studio (no lsdb marks in its `meta`) becomes a new task of the store, linked; one
//! this store pushed whose link was lost is linked again; one another store pushed is left.
//! Everything read is written in one transaction.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use duckdb::params;
use serde_json::{Map, Value};

use crate::labelstudio::Client;
use crate::push::Mark;
use crate::store::Store;

/// DuckDB's memory while a pull stages and writes what it read.
const PULL_MEMORY: &str = "160MB";

/// Staged annotations are written to their table every this many.
const FLUSH_ROWS: u64 = 8192;

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Linked annotations Label Studio no longer has.
    pub gone: u64,
    /// Of those, deleted here (`--prune`).
    pub pruned: u64,
    /// Tasks made in Label Studio (no lsdb marks), imported as new tasks with a link.
    pub new_tasks: u64,
    /// Tasks another lsdb store pushed (left alone).
    pub foreign_tasks: u64,
    /// Tasks this store pushed and has deleted since (left alone).
    pub deleted_here: u64,
}

/// Pull project `project`'s annotations; see the module's comment. `paged`: read the task
/// list page by page instead of the export.
pub fn pull(
    store: &Store,
    url: &str,
    token: &str,
    project: i64,
    prune: bool,
    paged: bool,
) -> Result<Pulled> {
    store.check_writable()?;
    let conn = store.conn();
    let client = Client::connect(url, token)?;
    let server = client.base().to_string();
    let emails = user_emails(&client);
    // The staged annotations spill to disk beyond this rather than grow with the project
    // (300,000 annotations: 270 MiB with it, 545 MiB without).
    let _memory = crate::store::setting::Setting::set(conn, "memory_limit", PULL_MEMORY)?;
    let tx = conn.unchecked_transaction()?;
    // Made inside the transaction: a pull that fails leaves the store as it was.
    let store_id = crate::push::store_id(&tx)?;
    // Links to what was deleted here since (a task, a completion) name nothing: they go, so
    // the annotations of such a completion are pulled again as new.
    tx.execute(
        "DELETE FROM ls_links WHERE server = ? AND project_id = ? \
           AND task_id NOT IN (SELECT id FROM tasks)",
        params![server, project],
    )?;
    tx.execute(
        "DELETE FROM ls_annotation_links WHERE server = ? AND project_id = ? \
           AND completion_id NOT IN (SELECT id FROM completions)",
        params![server, project],
    )?;
    let mut links: HashMap<i64, i64> = {
        let mut stmt = tx.prepare(
            "SELECT ls_task_id, task_id FROM ls_links WHERE server = ? AND project_id = ?",
        )?;
        let rows = stmt.query_map(params![server, project], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    // Each annotation Label Studio had at the last pull: its completion and updated_at.
    let known: HashMap<i64, (i64, Option<String>)> = {
        let mut stmt = tx.prepare(
            "SELECT ls_annotation_id, completion_id, updated_at FROM ls_annotation_links \
             WHERE server = ? AND project_id = ?",
        )?;
        let rows =
            stmt.query_map(params![server, project], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        rows.collect::<Result<_, _>>()?
    };
    // Completions of linked tasks that no annotation is linked to yet (those a push sent
    // with `--with-annotations`): an annotation with the same result on that task is that
    // completion, linked, not added again.
    let mut unlinked: HashMap<i64, Vec<(i64, Value)>> = HashMap::new();
    {
        let mut stmt = tx.prepare(
            "SELECT c.task_id, c.id, c.result::VARCHAR FROM completions AS c \
             WHERE c.task_id IN (SELECT task_id FROM ls_links WHERE server = ? AND project_id = ?) \
               AND c.id NOT IN (SELECT completion_id FROM ls_annotation_links \
                                WHERE server = ? AND project_id = ?) \
             ORDER BY c.task_id, c.id",
        )?;
        let mut rows = stmt.query(params![server, project, server, project])?;
        while let Some(row) = rows.next()? {
            let result: String = row.get(2)?;
            let result = serde_json::from_str(&result).unwrap_or(Value::Null);
            unlinked.entry(row.get(0)?).or_default().push((row.get(1)?, result));
        }
    }

    // New and edited annotations are staged through appenders and moved in a few
    // statements: a statement per annotation cost 3 ms of CPU each. The staging tables are
    // the store's own tables made (and dropped) inside the transaction, as the import's
    // are, and the appender is flushed every FLUSH_ROWS: DuckDB's appender otherwise holds
    // ~200,000 rows in memory (380 MiB for 300,000 annotations as Label Studio gives them).
    tx.execute_batch(
        "CREATE OR REPLACE TABLE lsdb_pulled (is_new BOOLEAN, is_link BOOLEAN, completion_id BIGINT, \
             task_id BIGINT, result VARCHAR, was_cancelled BOOLEAN, lead_time DOUBLE, \
             created_at VARCHAR, fields VARCHAR, ls_annotation_id BIGINT, updated_at VARCHAR)",
    )?;
    tx.execute_batch(
        "CREATE OR REPLACE TABLE lsdb_pulled_tasks (id BIGINT, data VARCHAR, meta VARCHAR, \
             source VARCHAR);
         CREATE OR REPLACE TABLE lsdb_pulled_links (task_id BIGINT, ls_task_id BIGINT);",
    )?;
    let mut staged = tx.appender("lsdb_pulled")?;
    let mut new_tasks = tx.appender("lsdb_pulled_tasks")?;
    let mut new_links = tx.appender("lsdb_pulled_links")?;
    let mut out = Pulled::default();
    // The annotations and tasks read (a paged read may give one twice when the list moves).
    let mut seen: HashSet<i64> = HashSet::new();
    let mut read_tasks: HashSet<i64> = HashSet::new();
    let mut next_id = crate::store::annotations::next_completion_id(&tx)?;

    let mut next_task: i64 =
        tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM tasks", [], |r| r.get(0))?;
    let bar = crate::import::counter("tasks read");
    let mut take = |task: &Value| -> Result<()> {
        // Ctrl-C: the transaction rolls back, the store is as it was.
        crate::cancel::check()?;
        bar.inc(1);
        let Some(ls_task) = task.get("id").and_then(Value::as_i64) else { return Ok(()) };
        if !read_tasks.insert(ls_task) {
            return Ok(());
        }
        let annotations =
            task.get("annotations").and_then(Value::as_array).cloned().unwrap_or_default();
        let task_id = match links.get(&ls_task) {
            Some(&id) => id,
            None => {
                let id = match crate::push::mark(task, &store_id) {
                    // Pushed by this store, its link lost (a push cut off): linked again
                    // (unless the task was deleted here since: sorted out at the end).
                    Mark::Ours(id) => id,
                    Mark::Foreign => {
                        out.foreign_tasks += 1;
                        return Ok(());
                    }
                    // Made in Label Studio: a new task of the store.
                    Mark::Unmarked => {
                        let data = task.get("data").cloned().unwrap_or(Value::Object(Map::new()));
                        let meta = task
                            .get("meta")
                            .filter(|m| m.as_object().is_some_and(|m| !m.is_empty()));
                        new_tasks.append_row(params![
                            next_task,
                            data.to_string(),
                            meta.map(Value::to_string),
                            format!("{server}/projects/{project} task {ls_task}")
                        ])?;
                        out.new_tasks += 1;
                        next_task += 1;
                        next_task - 1
                    }
                };
                new_links.append_row(params![id, ls_task])?;
                links.insert(ls_task, id);
                id
            }
        };
        for a in &annotations {
            let Some(ls_id) = a.get("id").and_then(Value::as_i64) else { continue };
            if !seen.insert(ls_id) {
                continue;
            }
            let updated_at = a.get("updated_at").and_then(Value::as_str).map(str::to_string);
            let sent = unlinked.get_mut(&task_id).and_then(|list| {
                let result = a.get("result")?;
                let at = list.iter().position(|(_, stored)| same_json(stored, result))?;
                Some(list.remove(at).0)
            });
            let (completion, is_new, is_link) = match (known.get(&ls_id), sent) {
                (Some((_, stored)), _) if *stored == updated_at => {
                    out.unchanged += 1;
                    continue;
                }
                (Some((completion, _)), _) => (*completion, false, false),
                // The completion a push sent: linked, as it is.
                (None, Some(completion)) => {
                    out.unchanged += 1;
                    (completion, false, true)
                }
                (None, None) => {
                    next_id += 1;
                    (next_id - 1, true, false)
                }
            };
            let (result, fields, cancelled, lead_time, created_at) = completion_of(a, &emails);
            staged.append_row(params![
                is_new, is_link, completion, task_id, result, cancelled, lead_time, created_at,
                fields, ls_id, updated_at
            ])?;
            if is_link {
                continue;
            }
            if is_new {
                out.added += 1;
            } else {
                out.updated += 1;
            }
            // An appender holds ~200,000 rows before it writes them on its own.
            if (out.added + out.updated).is_multiple_of(FLUSH_ROWS) {
                staged.flush()?;
            }
        }
        Ok(())
    };
    // Label Studio's export (one request, streamed), or its paged task list.
    if !paged {
        client.export_tasks(project, &mut |task| take(&task))?;
    } else {
        let mut pages = client.tasks(project);
        while let Some(tasks) = pages.next_page()? {
            for task in &tasks {
                take(task)?;
            }
        }
    }
    bar.finish_and_clear();
    for appender in [&mut staged, &mut new_tasks, &mut new_links] {
        appender.flush()?;
    }
    drop((staged, new_tasks, new_links));
    // Tasks found again by their marks that were deleted here since: left alone, with the
    // annotations read on them.
    out.deleted_here = tx.query_row(
        "SELECT count(*) FROM lsdb_pulled_links WHERE task_id NOT IN (SELECT id FROM tasks) \
           AND task_id NOT IN (SELECT id FROM lsdb_pulled_tasks)",
        [],
        |r| r.get(0),
    )?;
    if out.deleted_here > 0 {
        let dropped: u64 = tx.query_row(
            "SELECT count(*) FROM lsdb_pulled WHERE is_new AND task_id NOT IN (SELECT id FROM tasks) \
               AND task_id NOT IN (SELECT id FROM lsdb_pulled_tasks)",
            [],
            |r| r.get(0),
        )?;
        out.added -= dropped;
        tx.execute_batch(
            "DELETE FROM lsdb_pulled WHERE task_id NOT IN (SELECT id FROM tasks) \
               AND task_id NOT IN (SELECT id FROM lsdb_pulled_tasks);
             DELETE FROM lsdb_pulled_links WHERE task_id NOT IN (SELECT id FROM tasks) \
               AND task_id NOT IN (SELECT id FROM lsdb_pulled_tasks);",
        )?;
    }
    tx.execute_batch(
        "INSERT INTO tasks (id, data, meta, source) SELECT id, data, meta, source FROM lsdb_pulled_tasks;
         DROP TABLE lsdb_pulled_tasks;",
    )?;
    tx.execute(
        "INSERT INTO ls_links SELECT ?, ?, task_id, ls_task_id, now()::TIMESTAMP FROM lsdb_pulled_links",
        params![server, project],
    )?;
    tx.execute_batch("DROP TABLE lsdb_pulled_links")?;
    tx.execute_batch(
        "INSERT INTO completion_history SELECT c.id, c.result, c.fields, now()::TIMESTAMP \
         FROM completions AS c JOIN lsdb_pulled AS p ON p.completion_id = c.id \
         WHERE NOT p.is_new AND NOT p.is_link;
         UPDATE completions SET result = p.result, fields = p.fields, \
             was_cancelled = p.was_cancelled, lead_time = p.lead_time, created_at = p.created_at \
         FROM lsdb_pulled AS p WHERE completions.id = p.completion_id AND NOT p.is_new \
           AND NOT p.is_link;
         INSERT INTO completions (id, task_id, result, was_cancelled, lead_time, created_at, fields) \
         SELECT completion_id, task_id, result, was_cancelled, lead_time, created_at, fields \
         FROM lsdb_pulled WHERE is_new;",
    )?;
    tx.execute(
        "UPDATE ls_annotation_links SET updated_at = p.updated_at FROM lsdb_pulled AS p \
         WHERE server = ? AND project_id = ? AND ls_annotation_links.ls_annotation_id = p.ls_annotation_id \
           AND NOT p.is_new AND NOT p.is_link",
        params![server, project],
    )?;
    tx.execute(
        "INSERT INTO ls_annotation_links SELECT ?, ?, ls_annotation_id, completion_id, updated_at \
         FROM lsdb_pulled WHERE is_new OR is_link",
        params![server, project],
    )?;
    tx.execute_batch("DROP TABLE lsdb_pulled")?;
    // Gone: linked annotations not read, on a task that was read (a task not read at all,
    // deleted in Label Studio or missed by a paged read that moved, is not judged).
    let gone: Vec<(i64, i64)> = {
        let mut stmt = tx.prepare(
            // Each side filtered by the server and project on its own and joined on ids only:
            // equating their server columns let DuckDB join every link with every annotation
            // link first (18 GB for 300,000 annotations).
            "SELECT a.ls_annotation_id, a.completion_id, l.ls_task_id \
             FROM (SELECT * FROM ls_annotation_links WHERE server = ? AND project_id = ?) AS a \
             JOIN completions AS c ON c.id = a.completion_id \
             JOIN (SELECT * FROM ls_links WHERE server = ? AND project_id = ?) AS l \
               ON l.task_id = c.task_id",
        )?;
        let rows = stmt.query_map(params![server, project, server, project], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|(ls_id, _, ls_task)| !seen.contains(ls_id) && read_tasks.contains(ls_task))
            .map(|(ls_id, completion, _)| (ls_id, completion))
            .collect()
    };
    out.gone = gone.len() as u64;
    if prune {
        for (ls_id, completion) in gone {
            // Kept in the history, as an edit's previous result is.
            tx.execute(
                "INSERT INTO completion_history SELECT id, result, fields, now()::TIMESTAMP \
                 FROM completions WHERE id = ?",
                params![completion],
            )?;
            tx.execute("DELETE FROM completions WHERE id = ?", params![completion])?;
            tx.execute(
                "DELETE FROM ls_annotation_links WHERE server = ? AND project_id = ? AND ls_annotation_id = ?",
                params![server, project, ls_id],
            )?;
            out.pruned += 1;
        }
    }
    tx.commit().context("writing the pulled annotations")?;
    store.changed();
    Ok(out)
}

/// Whether two JSON values are the same, numbers compared as numbers (Label Studio writes
/// `1.50` back as `1.5`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The organization's users by id, for `completed_by` as an email (empty when Label Studio
/// does not list them to this token).
fn user_emails(client: &Client) -> HashMap<i64, String> {
    let Ok(users) = client.get("/api/users/") else { return HashMap::new() };
    let list = users.as_array().cloned().unwrap_or_default();
    list.iter()
        .filter_map(|u| Some((u.get("id")?.as_i64()?, u.get("email")?.as_str()?.to_string())))
        .collect()
}

/// A Label Studio annotation as a completion: result (JSON text), the other fields it came
/// with (JSON text; `completed_by` as the user's email when known), cancelled, lead time,
/// created_at.
fn completion_of(
    a: &Value,
    emails: &HashMap<i64, String>,
) -> (String, String, bool, Option<f64>, Option<String>) {
    let result = a.get("result").cloned().unwrap_or(Value::Array(Vec::new())).to_string();
    let mut fields = Map::new();
    if let Value::Object(map) = a {
        for (key, value) in map {
            if matches!(key.as_str(), "id" | "result") {
                continue;
            }
            fields.insert(key.clone(), value.clone());
        }
    }
    if let Some(email) =
        a.get("completed_by").and_then(Value::as_i64).and_then(|id| emails.get(&id))
    {
        fields.insert(
            "completed_by".into(),
            serde_json::json!({ "id": a["completed_by"], "email": email }),
        );
    }
    let cancelled = a.get("was_cancelled").and_then(Value::as_bool).unwrap_or(false);
    let lead_time = a.get("lead_time").and_then(Value::as_f64);
    let created_at = a.get("created_at").and_then(Value::as_str).map(str::to_string);
    (result, Value::Object(fields).to_string(), cancelled, lead_time, created_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_annotation_as_a_completion() {
        // Parsed from text, as Label Studio's answer is: numbers keep their digits.
        let a: Value = serde_json::from_str(
            r#"{"id": 5, "completed_by": 2, "result": [{"x": 1.50}], "was_cancelled": false,
                "lead_time": 3.5, "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-02T00:00:00Z", "task": 9}"#,
        )
        .unwrap();
        let emails = HashMap::from([(2, "ann@example.com".to_string())]);
        let (result, fields, cancelled, lead, created) = completion_of(&a, &emails);
        assert_eq!(result, r#"[{"x":1.50}]"#);
        let fields: Value = serde_json::from_str(&fields).unwrap();
        assert_eq!(fields["completed_by"]["email"], "ann@example.com");
        assert_eq!(fields["task"], 9);
        assert!(fields.get("id").is_none() && fields.get("result").is_none());
        assert_eq!(
            (cancelled, lead, created.as_deref()),
            (false, Some(3.5), Some("2026-01-01T00:00:00Z"))
        );
    }
}
