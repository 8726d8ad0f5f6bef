//! Annotations written one at a time, as Label Studio's annotation routes do (the server's
//! `POST /api/tasks/{id}/annotations`, `PATCH` and `DELETE /api/annotations/{id}`): added
//! to a task, edited, deleted. An edit or a deletion first copies the stored result and
//! fields into `completion_history`, so nothing a user put in the store is lost. Every
//! change is one transaction and stamps `updated_at`, which `lsdb pull` compares.

use anyhow::{Context, Result, bail};
use duckdb::{Connection, OptionalExt, params};
use serde_json::{Map, Value};

/// Fields that are the row's own columns or the route's, never kept in `fields`.
const NOT_FIELDS: [&str; 4] = ["id", "result", "task", "project"];

/// The annotation `id` as Label Studio answers it (its fields, its result, its task), or
/// `None` when there is none.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Value>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT task_id, lsdb_annotation_json(id, fields, result) FROM completions WHERE id = ?",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((task, json)) = row else { return Ok(None) };
    let mut annotation: Value = serde_json::from_str(&json)?;
    if let Value::Object(map) = &mut annotation {
        map.insert("task".into(), Value::from(task));
        map.insert("project".into(), Value::from(1));
    }
    Ok(Some(annotation))
}

/// Add an annotation to task `task`; `None` when there is no such task.
pub fn add(conn: &Connection, task: i64, body: &Value) -> Result<Option<Value>> {
    let given = check(body)?;
    let tx = conn.unchecked_transaction()?;
    let exists: bool =
        tx.query_row("SELECT count(*) > 0 FROM tasks WHERE id = ?", params![task], |r| r.get(0))?;
    if !exists {
        return Ok(None);
    }
    let now = now(&tx)?;
    let mut fields = fields_of(given);
    fields.entry("was_cancelled").or_insert(Value::Bool(false));
    fields.insert("created_at".into(), Value::from(now.clone()));
    fields.insert("updated_at".into(), Value::from(now.clone()));
    let result = given.get("result").cloned().unwrap_or(Value::Array(Vec::new()));
    let id = next_completion_id(&tx)?;
    tx.execute(
        "INSERT INTO completions (id, task_id, result, was_cancelled, lead_time, created_at, fields) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![
            id,
            task,
            result.to_string(),
            is_cancelled(&fields),
            lead_time(&fields),
            now,
            Value::Object(fields).to_string()
        ],
    )?;
    tx.commit().context("adding the annotation")?;
    get(conn, id)
}

/// Change annotation `id`: the fields given replace the stored ones (the result too, when
/// given); `None` when there is no such annotation.
pub fn update(conn: &Connection, id: i64, body: &Value) -> Result<Option<Value>> {
    let given = check(body)?;
    let tx = conn.unchecked_transaction()?;
    let stored: Option<String> = tx
        .query_row("SELECT fields::VARCHAR FROM completions WHERE id = ?", params![id], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(stored) = stored else { return Ok(None) };
    let mut fields = match serde_json::from_str::<Value>(&stored)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fields.extend(fields_of(given));
    fields.insert("updated_at".into(), Value::from(now(&tx)?));
    keep_history(&tx, id)?;
    tx.execute(
        "UPDATE completions SET result = coalesce(?::JSON, result), was_cancelled = ?, \
         lead_time = ?, fields = ? WHERE id = ?",
        params![
            given.get("result").map(Value::to_string),
            is_cancelled(&fields),
            lead_time(&fields),
            Value::Object(fields).to_string(),
            id
        ],
    )?;
    tx.commit().context("changing the annotation")?;
    get(conn, id)
}

/// The next completion id: above every completion, and every one kept in the history (a
/// deleted completion's id is never given again: a link may still name it).
pub fn next_completion_id(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT greatest((SELECT coalesce(max(id), 0) FROM completions), \
                         (SELECT coalesce(max(completion_id), 0) FROM completion_history)) + 1",
        [],
        |r| r.get(0),
    )?)
}

/// Delete annotation `id` (kept in `completion_history`) and the links to it (`lsdb pull`'s
/// annotations from another server); false when there is none.
pub fn delete(conn: &Connection, id: i64) -> Result<bool> {
    let tx = conn.unchecked_transaction()?;
    keep_history(&tx, id)?;
    tx.execute("DELETE FROM ls_annotation_links WHERE completion_id = ?", params![id])?;
    let deleted = tx.execute("DELETE FROM completions WHERE id = ?", params![id])?;
    tx.commit().context("deleting the annotation")?;
    Ok(deleted > 0)
}

fn keep_history(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO completion_history SELECT id, result, fields, now()::TIMESTAMP \
         FROM completions WHERE id = ?",
        params![id],
    )?;
    Ok(())
}

/// The body as an annotation: an object whose `result` (when given) is a list,
/// `was_cancelled` a boolean and `lead_time` a number.
pub fn check(body: &Value) -> Result<&Map<String, Value>> {
    let Value::Object(map) = body else {
        bail!("an annotation must be a JSON object such as {{\"result\": [...]}}");
    };
    match map.get("result") {
        None | Some(Value::Array(_)) => {}
        Some(_) => bail!("\"result\" must be a list of result items"),
    }
    match map.get("was_cancelled") {
        None | Some(Value::Bool(_)) => {}
        Some(_) => bail!("\"was_cancelled\" must be true or false"),
    }
    match map.get("lead_time") {
        None | Some(Value::Null | Value::Number(_)) => {}
        Some(_) => bail!("\"lead_time\" must be a number of seconds"),
    }
    Ok(map)
}

fn fields_of(given: &Map<String, Value>) -> Map<String, Value> {
    given
        .iter()
        .filter(|(key, _)| !NOT_FIELDS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

fn is_cancelled(fields: &Map<String, Value>) -> bool {
    fields.get("was_cancelled").and_then(Value::as_bool).unwrap_or(false)
}

fn lead_time(fields: &Map<String, Value>) -> Option<f64> {
    fields.get("lead_time").and_then(Value::as_f64)
}

/// Now, as Label Studio writes times (UTC, microseconds).
fn now(conn: &Connection) -> Result<String> {
    Ok(conn.query_row("SELECT strftime(now()::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%fZ')", [], |r| {
        r.get(0)
    })?)
}
