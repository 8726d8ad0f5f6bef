//! The items of Label Studio's task list: each task with its annotations, predictions and
//! the fields Label Studio computes (counts, averages, who annotated, when), read for a
//! page of ids in three plain scans.

use std::collections::HashMap;

use anyhow::Result;
use duckdb::Connection;
use serde_json::{Map, Value};

/// What a page's completions and predictions say of one task.
#[derive(Default)]
struct Found {
    annotations: Vec<Value>,
    predictions: Vec<Value>,
    done: i64,
    cancelled: i64,
    /// The newest annotation's `created_at`, or its import's time.
    completed_at: Option<String>,
    annotators: Vec<Value>,
    annotation_ids: Vec<String>,
    /// Sum and count of lead times, and of prediction scores.
    lead: (f64, i64),
    score: (f64, i64),
    versions: Vec<String>,
}

/// When each import ran, as Label Studio writes times.
const IMPORT_TIMES_SQL: &str =
    "SELECT id, strftime(started_at, '%Y-%m-%dT%H:%M:%S.%fZ') FROM imports";
/// A page's tasks, by id range (and `$IN`: the page's ids, or nothing).
const ITEM_TASKS_SQL: &str = "SELECT id, data::VARCHAR, meta::VARCHAR, import_id FROM tasks \
    WHERE id BETWEEN ? AND ?$IN";
/// A page's annotations, in id order within each task.
const ITEM_COMPLETIONS_SQL: &str = "SELECT task_id, lsdb_annotation_json(id, fields, result), \
    was_cancelled, created_at, (fields->'completed_by')::VARCHAR, id, lead_time, import_id \
    FROM completions WHERE task_id BETWEEN ? AND ?$IN ORDER BY task_id, id";
/// A page's predictions, in id order within each task.
const ITEM_PREDICTIONS_SQL: &str = "SELECT task_id, lsdb_annotation_json(id, fields, result), \
    score, model_version FROM predictions WHERE task_id BETWEEN ? AND ?$IN \
    ORDER BY task_id, id";

/// The tasks `ids` (in that order) as Label Studio's task list items. `is_all_fields`: with
/// annotations, predictions and every computed field. `is_every_task_between`: `ids` are all
/// the tasks from the least to the greatest (a page of the plain list).
pub fn items(
    conn: &Connection,
    ids: &[i64],
    is_all_fields: bool,
    is_resolving_uris: bool,
    is_every_task_between: bool,
) -> Result<Vec<Value>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (first, last) =
        (ids.iter().min().copied().unwrap_or(0), ids.iter().max().copied().unwrap_or(0));
    // Every task between the least and greatest id (the plain list's pages): the range alone,
    // the same three statements for every page. Otherwise the page's ids too, written by
    // Rust from integers: no request text goes into the SQL. Three plain scans cost a page
    // about half of one statement that joins and aggregates them (docs/benchmarks.md).
    let list = if is_every_task_between || ids.len() == 1 {
        None
    } else {
        Some(ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
    };
    let only = |template: &str, column: &str| match &list {
        Some(list) => template.replace("$IN", &format!(" AND {column} IN ({list})")),
        None => template.replace("$IN", ""),
    };
    let imports = import_times(conn)?;
    let mut found = HashMap::new();
    read_completions(
        conn,
        &only(ITEM_COMPLETIONS_SQL, "task_id"),
        (first, last),
        &imports,
        &mut found,
    )?;
    read_predictions(conn, &only(ITEM_PREDICTIONS_SQL, "task_id"), (first, last), &mut found)?;
    let mut statement = conn.prepare_cached(&only(ITEM_TASKS_SQL, "id"))?;
    let mut rows = statement.query(duckdb::params![first, last])?;
    let mut by_id = HashMap::with_capacity(ids.len());
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let mut data: Value = serde_json::from_str(&r.get::<_, String>(1)?)?;
        if is_resolving_uris {
            resolve_uris(id, &mut data);
        }
        let meta: Option<String> = r.get(2)?;
        let meta = meta.map_or(Ok(Value::Object(Map::new())), |m| serde_json::from_str(&m))?;
        let created_at = r.get::<_, Option<i64>>(3)?.and_then(|i| imports.get(&i).cloned());
        let f = found.remove(&id).unwrap_or_default();
        by_id.insert(id, item(id, data, meta, created_at, f, is_all_fields));
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// When each import ran, by its id.
fn import_times(conn: &Connection) -> Result<HashMap<i64, String>> {
    let mut imports = HashMap::new();
    let mut statement = conn.prepare_cached(IMPORT_TIMES_SQL)?;
    let mut rows = statement.query([])?;
    while let Some(r) = rows.next()? {
        imports.insert(r.get::<_, i64>(0)?, r.get::<_, String>(1)?);
    }
    Ok(imports)
}

/// The page's annotations, into what is found of each task.
fn read_completions(
    conn: &Connection,
    sql: &str,
    (first, last): (i64, i64),
    imports: &HashMap<i64, String>,
    found: &mut HashMap<i64, Found>,
) -> Result<()> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(duckdb::params![first, last])?;
    while let Some(r) = rows.next()? {
        let task: i64 = r.get(0)?;
        let entry = found.entry(task).or_default();
        entry.annotations.push(serde_json::from_str(&r.get::<_, String>(1)?)?);
        if r.get::<_, bool>(2)? {
            entry.cancelled += 1;
        } else {
            entry.done += 1;
        }
        let created: Option<String> = r.get(3)?;
        let import: Option<i64> = r.get(7)?;
        entry.completed_at = created.or_else(|| import.and_then(|i| imports.get(&i).cloned()));
        if let Some(by) = r.get::<_, Option<String>>(4)? {
            let by: Value = serde_json::from_str(&by)?;
            if !entry.annotators.contains(&by) {
                entry.annotators.push(by);
            }
        }
        entry.annotation_ids.push(r.get::<_, i64>(5)?.to_string());
        if let Some(lead) = r.get::<_, Option<f64>>(6)? {
            entry.lead.0 += lead;
            entry.lead.1 += 1;
        }
    }
    Ok(())
}

/// The page's predictions, into what is found of each task.
fn read_predictions(
    conn: &Connection,
    sql: &str,
    (first, last): (i64, i64),
    found: &mut HashMap<i64, Found>,
) -> Result<()> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(duckdb::params![first, last])?;
    while let Some(r) = rows.next()? {
        let entry = found.entry(r.get(0)?).or_default();
        entry.predictions.push(serde_json::from_str(&r.get::<_, String>(1)?)?);
        if let Some(score) = r.get::<_, Option<f64>>(2)? {
            entry.score.0 += score;
            entry.score.1 += 1;
        }
        if let Some(version) = r.get::<_, Option<String>>(3)?
            && !entry.versions.contains(&version)
        {
            entry.versions.push(version);
        }
    }
    Ok(())
}

/// One task as Label Studio's task list item, in its field order.
fn item(
    id: i64,
    data: Value,
    meta: Value,
    created_at: Option<String>,
    f: Found,
    is_all_fields: bool,
) -> Value {
    let (done, cancelled, n_predictions) = (f.done, f.cancelled, f.predictions.len() as i64);
    let score = (f.score.1 > 0).then(|| f.score.0 / f.score.1 as f64);
    let lead = (f.lead.1 > 0).then(|| f.lead.0 / f.lead.1 as f64);
    let mut item = Map::new();
    item.insert("id".into(), id.into());
    if is_all_fields {
        item.insert("predictions".into(), Value::Array(f.predictions));
        item.insert("annotations".into(), Value::Array(f.annotations));
    }
    item.insert("drafts".into(), Value::Array(Vec::new()));
    let annotators = if is_all_fields { f.annotators } else { Vec::new() };
    item.insert("annotators".into(), Value::Array(annotators));
    item.insert("inner_id".into(), id.into());
    item.insert("cancelled_annotations".into(), cancelled.into());
    item.insert("total_annotations".into(), done.into());
    item.insert("total_predictions".into(), n_predictions.into());
    if is_all_fields {
        item.insert("completed_at".into(), f.completed_at.map_or(Value::Null, Value::from));
        item.insert("predictions_score".into(), score.map_or(Value::Null, Value::from));
        item.insert("annotations_ids".into(), f.annotation_ids.join(",").into());
        item.insert("predictions_model_versions".into(), f.versions.join(",").into());
        item.insert("avg_lead_time".into(), lead.map_or(Value::Null, Value::from));
        item.insert("draft_exists".into(), false.into());
    }
    item.insert("data".into(), data);
    item.insert("meta".into(), meta);
    let created = created_at.map_or(Value::Null, Value::from);
    item.insert("created_at".into(), created.clone());
    item.insert("updated_at".into(), created);
    item.insert("is_labeled".into(), (done + cancelled > 0).into());
    item.insert("overlap".into(), 1.into());
    // What lsdb has none of: uploads by Label Studio, storage links, comments, editors.
    item.insert("file_upload".into(), Value::Null);
    item.insert("storage_filename".into(), Value::Null);
    item.insert("updated_by".into(), Value::Array(Vec::new()));
    item.insert("comment_count".into(), 0.into());
    item.insert("unresolved_comment_count".into(), 0.into());
    item.insert("last_comment_updated_at".into(), Value::Null);
    item.insert("comment_authors".into(), Value::Array(Vec::new()));
    item.insert("project".into(), 1.into());
    Value::Object(item)
}

/// Bucket URIs among the data's top-level strings as this server's resolve route, as Label
/// Studio's `resolve_uri=true` writes them.
fn resolve_uris(task: i64, data: &mut Value) {
    let Some(object) = data.as_object_mut() else { return };
    for value in object.values_mut() {
        if let Value::String(text) = value
            && crate::bucket::url::parse_object_uri(text).is_some()
        {
            *value = Value::from(format!("/tasks/{task}/resolve/?fileuri={}", base64_url(text)));
        }
    }
}

fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_uri_writes_the_resolve_route() {
        let mut data = serde_json::json!({"image": "s3://b/a.png", "n": 1, "url": "http://x/y"});
        resolve_uris(7, &mut data);
        assert_eq!(data["image"], "/tasks/7/resolve/?fileuri=czM6Ly9iL2EucG5n");
        assert_eq!(data["url"], "http://x/y");
    }
}
