//! Label Studio's task list (`GET /api/tasks`) as its SDKs call it: the Data Manager `query`
//! (filters, selected items, ordering), pages, `fields`, `include=id`, `resolve_uri`, and the
//! items with Label Studio's computed fields (`is_labeled`, `total_annotations`, ...). What
//! lsdb does not implement is refused with 400 naming it, never answered with other data.
//!
//! Values from a request never go into SQL text: numbers are bound or written by Rust from
//! parsed numbers, strings are bound parameters, columns and operators come from fixed lists.

use anyhow::{Result, bail};
use duckdb::Connection;
use duckdb::types::Value as SqlValue;
use serde_json::Value;

use super::params::Params;

/// A task has an annotation (a cancelled one included): Label Studio's `is_labeled` at import.
const IS_LABELED: &str = "(c.task_id IS NOT NULL)";

/// The per-task columns filters and ordering use, computed over completions and predictions.
/// `t` is the task; `c` and `p` its aggregates (joined in `FILTERED_SQL`).
const COLUMNS: &[(&str, &str)] = &[
    ("id", "t.id"),
    ("inner_id", "t.id"),
    ("total_annotations", "coalesce(c.done, 0)"),
    ("cancelled_annotations", "coalesce(c.cancelled, 0)"),
    ("total_predictions", "coalesce(p.n, 0)"),
    ("predictions_score", "p.score"),
    ("completed_at", "c.completed_at"),
    ("is_labeled", IS_LABELED),
];

/// The ids of the tasks a query selects, in its order.
const FILTERED_SQL: &str = "SELECT t.id, coalesce(c.done, 0), coalesce(p.n, 0) FROM tasks AS t \
    LEFT JOIN (SELECT task_id, count(*) FILTER (WHERE NOT was_cancelled) AS done, \
               count(*) FILTER (WHERE was_cancelled) AS cancelled, \
               arg_max(created_at, id) AS completed_at FROM completions GROUP BY task_id) AS c \
           ON c.task_id = t.id \
    LEFT JOIN (SELECT task_id, count(*) AS n, avg(score) AS score FROM predictions \
               GROUP BY task_id) AS p ON p.task_id = t.id";

/// What a request asks of the task list.
#[derive(Debug, Default, PartialEq)]
pub struct TaskQuery {
    /// A SQL condition with `?` for each of `params`, or none.
    pub condition: Option<String>,
    pub params: Vec<SqlValue>,
    /// `ORDER BY` text (from the fixed column list), or none: id order.
    pub order: Option<String>,
    pub page: u64,
    pub page_size: u64,
    /// `fields=all`: annotations, predictions and every computed field.
    pub is_all_fields: bool,
    /// `include=id`: each task is only its id.
    pub is_ids_only: bool,
    /// `resolve_uri=true`: bucket URIs in data as this server's resolve route.
    pub is_resolving_uris: bool,
}

impl TaskQuery {
    /// Whether this is the plain list: every task, in id order.
    pub fn is_plain(&self) -> bool {
        self.condition.is_none() && self.order.is_none()
    }
}

/// Read the query string of `GET /api/tasks`. `Err` is the 400's message.
pub fn parse(params: &Params) -> Result<TaskQuery> {
    let mut out = TaskQuery { page: 1, page_size: 100, ..TaskQuery::default() };
    let mut conditions: Vec<String> = Vec::new();
    for (key, value) in params.iter() {
        match key {
            "project" => {
                if !super::is_this_project(value) {
                    bail!("project {value} does not exist: lsdb serve has one project, id 1");
                }
            }
            // As Label Studio's paginator: a bad or zero size is the default.
            "page" => out.page = value.parse().map_err(|_| bad("page", value))?,
            "page_size" => {
                out.page_size = value.parse().ok().filter(|s| *s > 0).unwrap_or(100).min(100_000)
            }
            "fields" => match value {
                "all" => out.is_all_fields = true,
                "task_only" => out.is_all_fields = false,
                _ => bail!("fields={value} is not served; use fields=all or fields=task_only"),
            },
            "include" => {
                if value != "id" {
                    bail!("include={value} is not served; lsdb serves include=id only");
                }
                out.is_ids_only = true;
            }
            "resolve_uri" => out.is_resolving_uris = is_true(value)?,
            "only_annotated" => {
                if is_true(value)? {
                    conditions.push(IS_LABELED.into());
                }
            }
            "query" => {
                let parsed: Value = serde_json::from_str(value)
                    .map_err(|e| anyhow::anyhow!("query is not JSON: {e}"))?;
                read_query(&parsed, &mut conditions, &mut out)?;
            }
            "selectedItems" => {
                let parsed: Value = serde_json::from_str(value)
                    .map_err(|e| anyhow::anyhow!("selectedItems is not JSON: {e}"))?;
                selected(&parsed, &mut conditions)?;
            }
            _ => bail!(
                "the parameter {key:?} is not implemented by lsdb serve; drop it (see \
                 docs/serve.md for what /api/tasks takes)"
            ),
        }
    }
    if !conditions.is_empty() {
        out.condition = Some(conditions.join(" AND "));
    }
    Ok(out)
}

fn bad(name: &str, value: &str) -> anyhow::Error {
    anyhow::anyhow!("{name}={value:?} is not a number")
}

fn is_true(value: &str) -> Result<bool> {
    super::params::flag(value).ok_or_else(|| anyhow::anyhow!("{value:?} is not true or false"))
}

/// The Data Manager's `query`: `filters`, `selectedItems`, `ordering`.
fn read_query(query: &Value, conditions: &mut Vec<String>, out: &mut TaskQuery) -> Result<()> {
    let Some(object) = query.as_object() else {
        bail!("query must be a JSON object with filters, selectedItems, ordering");
    };
    for (key, value) in object {
        match key.as_str() {
            "filters" if value.is_null() => {}
            "filters" => {
                if let Some(condition) = filters(value, &mut out.params)? {
                    conditions.push(condition);
                }
            }
            "selectedItems" if value.is_null() => {}
            "selectedItems" => selected(value, conditions)?,
            "ordering" => out.order = ordering(value)?,
            _ => bail!("query.{key} is not implemented by lsdb serve"),
        }
    }
    Ok(())
}

/// `{"all": false, "included": [ids]}` or `{"all": true, "excluded": [ids]}`; as in Label
/// Studio, an empty `included` selects every task.
fn selected(value: &Value, conditions: &mut Vec<String>) -> Result<()> {
    // Without `all`, a list of `included` ids selects those.
    let all = value.get("all").and_then(Value::as_bool).unwrap_or(value.get("included").is_none());
    let (key, negate) = if all { ("excluded", "NOT ") } else { ("included", "") };
    let ids = match value.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_i64()
                    .ok_or_else(|| anyhow::anyhow!("selectedItems.{key} holds {v}, not a task id"))
            })
            .collect::<Result<Vec<i64>>>()?,
        Some(other) => bail!("selectedItems.{key} must be a list of task ids, not {other}"),
    };
    if !ids.is_empty() {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        conditions.push(format!("{negate}(t.id IN ({}))", list.join(", ")));
    }
    Ok(())
}

/// The first `ordering` entry, `tasks:<column>` or `-tasks:<column>`; ties by id.
fn ordering(value: &Value) -> Result<Option<String>> {
    let Some(first) = value.as_array().and_then(|l| l.first()) else { return Ok(None) };
    let text =
        first.as_str().ok_or_else(|| anyhow::anyhow!("ordering holds {first}, not a column"))?;
    let (descending, name) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let column = name
        .strip_prefix("tasks:")
        .and_then(column)
        .ok_or_else(|| anyhow::anyhow!("ordering by {text:?} is not implemented by lsdb serve"))?;
    let direction = if descending { "DESC" } else { "ASC" };
    Ok(Some(format!("{column} {direction} NULLS LAST, t.id")))
}

fn column(name: &str) -> Option<&'static str> {
    COLUMNS.iter().find(|(n, _)| *n == name).map(|(_, sql)| *sql)
}

/// `{"conjunction": "and"|"or", "items": [...]}` as one condition.
fn filters(value: &Value, params: &mut Vec<SqlValue>) -> Result<Option<String>> {
    let conjunction = match value.get("conjunction").and_then(Value::as_str).unwrap_or("and") {
        "and" => " AND ",
        "or" => " OR ",
        other => bail!("filters.conjunction {other:?} is not \"and\" or \"or\""),
    };
    let items = value.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut parts = Vec::new();
    for item in &items {
        let mut part = filter_item(item, params)?;
        if let Some(child) = item.get("child_filter").filter(|c| !c.is_null()) {
            part = format!("({part} AND {})", filter_item(child, params)?);
        }
        parts.push(part);
    }
    Ok((!parts.is_empty()).then(|| format!("({})", parts.join(conjunction))))
}

/// One filter item as SQL.
fn filter_item(item: &Value, params: &mut Vec<SqlValue>) -> Result<String> {
    let field = item.get("filter").and_then(Value::as_str).unwrap_or("");
    let operator = item.get("operator").and_then(Value::as_str).unwrap_or("");
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
    let value = item.get("value").unwrap_or(&Value::Null);
    let name = field.strip_prefix("filter:tasks:").ok_or_else(|| {
        anyhow::anyhow!(
            "the filter {field:?} is not implemented by lsdb serve (filter:tasks:<column>)"
        )
    })?;
    if let Some(key) = name.strip_prefix("data.") {
        return data_filter(key, operator, kind, value, params);
    }
    let Some(sql) = column(name) else {
        bail!("the filter column {name:?} is not implemented by lsdb serve")
    };
    let is_count =
        matches!(name, "total_annotations" | "cancelled_annotations" | "total_predictions");
    if operator == "empty" {
        let empty = value.as_bool().ok_or_else(|| anyhow::anyhow!("empty takes true or false"))?;
        // As Label Studio: for the counts, "empty" is zero.
        let test = match (is_count, matches!(name, "is_labeled" | "completed_at")) {
            (true, _) => format!("{sql} = 0"),
            (_, true) => "(c.task_id IS NULL)".to_string(),
            _ => format!("{sql} IS NULL"),
        };
        return Ok(if empty { test } else { format!("NOT ({test})") });
    }
    // Label Studio's completed_at is set exactly when the task is labeled.
    if name == "completed_at" || name == "is_labeled" {
        bail!("the filter {name} {operator:?} is not implemented by lsdb serve (only \"empty\")");
    }
    number_filter(sql, operator, value, params)
}

/// A comparison of a number column with the item's value.
fn number_filter(
    sql: &str,
    operator: &str,
    value: &Value,
    params: &mut Vec<SqlValue>,
) -> Result<String> {
    let number = |v: &Value| -> Result<f64> {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| anyhow::anyhow!("the filter value {v} is not a number"))
    };
    let compare = |op: &str, params: &mut Vec<SqlValue>| -> Result<String> {
        params.push(SqlValue::Double(number(value)?));
        Ok(format!("{sql} {op} ?"))
    };
    match operator {
        "equal" => compare("=", params),
        "not_equal" => compare("IS DISTINCT FROM", params),
        "less" => compare("<", params),
        "greater" => compare(">", params),
        "less_or_equal" => compare("<=", params),
        "greater_or_equal" => compare(">=", params),
        "in" | "not_in" => {
            let (min, max) = (number(&value["min"])?, number(&value["max"])?);
            params.push(SqlValue::Double(min));
            params.push(SqlValue::Double(max));
            let test = format!("({sql} BETWEEN ? AND ?)");
            Ok(if operator == "in" { test } else { format!("NOT coalesce({test}, false)") })
        }
        "in_list" | "not_in_list" => {
            let list =
                value.as_array().ok_or_else(|| anyhow::anyhow!("{operator} takes a list"))?;
            let mut marks = Vec::new();
            for v in list {
                params.push(SqlValue::Double(number(v)?));
                marks.push("?");
            }
            if marks.is_empty() {
                return Ok(if operator == "in_list" { "false".into() } else { "true".into() });
            }
            let test = format!("({sql} IN ({}))", marks.join(", "));
            Ok(if operator == "in_list" { test } else { format!("NOT coalesce({test}, false)") })
        }
        _ => bail!("the filter operator {operator:?} is not implemented by lsdb serve for numbers"),
    }
}

/// A filter on a top-level data key; the key is bound as a JSON path, never SQL text.
fn data_filter(
    key: &str,
    operator: &str,
    kind: &str,
    value: &Value,
    params: &mut Vec<SqlValue>,
) -> Result<String> {
    if key.is_empty() {
        bail!("filter:tasks:data. needs a key");
    }
    let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
    params.push(SqlValue::Text(pointer));
    let text = "json_extract_string(t.data, ?)".to_string();
    if kind == "Number" && operator != "empty" {
        return number_filter(&format!("TRY_CAST({text} AS DOUBLE)"), operator, value, params);
    }
    let string = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match operator {
        "equal" | "not_equal" => {
            params.push(SqlValue::Text(string(value)));
            let test = format!("{text} = ?");
            Ok(if operator == "equal" { test } else { format!("NOT coalesce({test}, false)") })
        }
        "contains" | "not_contains" => {
            params.push(SqlValue::Text(string(value).to_lowercase()));
            let test = format!("contains(lower({text}), ?)");
            Ok(if operator == "contains" { test } else { format!("NOT coalesce({test}, false)") })
        }
        "regex" => {
            params.push(SqlValue::Text(string(value)));
            Ok(format!("coalesce(regexp_matches({text}, ?), false)"))
        }
        "empty" => {
            let empty =
                value.as_bool().ok_or_else(|| anyhow::anyhow!("empty takes true or false"))?;
            let test = format!("coalesce({text}, '') = ''");
            Ok(if empty { test } else { format!("NOT ({test})") })
        }
        _ => {
            bail!("the filter operator {operator:?} is not implemented by lsdb serve for data keys")
        }
    }
}

/// The ids a query selects, in its order, and their non-cancelled annotations and
/// predictions in all.
pub fn selected_ids(conn: &Connection, query: &TaskQuery) -> Result<(Vec<i64>, (i64, i64))> {
    let mut sql = FILTERED_SQL.to_string();
    if let Some(condition) = &query.condition {
        sql.push_str(" WHERE ");
        sql.push_str(condition);
    }
    sql.push_str(" ORDER BY ");
    sql.push_str(query.order.as_deref().unwrap_or("t.id"));
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query(duckdb::params_from_iter(query.params.iter()))?;
    let (mut ids, mut totals) = (Vec::new(), (0, 0));
    while let Some(r) = rows.next()? {
        ids.push(r.get::<_, i64>(0)?);
        totals.0 += r.get::<_, i64>(1)?;
        totals.1 += r.get::<_, i64>(2)?;
    }
    Ok((ids, totals))
}

/// One page of the list: Label Studio's answer, or `None` for no such page.
pub fn page(
    conn: &Connection,
    query: &TaskQuery,
    ids: &[i64],
    totals: (i64, i64),
) -> Result<Option<Value>> {
    // Label Studio's paginator: page 0, and pages past the last (but the first), are none.
    let Some(before) = query.page.checked_sub(1) else { return Ok(None) };
    let first = before.saturating_mul(query.page_size);
    if query.page > 1 && first >= ids.len() as u64 {
        return Ok(None);
    }
    let first = first.min(ids.len() as u64) as usize;
    let last = (first + query.page_size as usize).min(ids.len());
    let page = &ids[first..last];
    let tasks: Vec<Value> = if query.is_ids_only {
        page.iter().map(|id| serde_json::json!({ "id": id })).collect()
    } else {
        super::items::items(
            conn,
            page,
            query.is_all_fields,
            query.is_resolving_uris,
            query.is_plain(),
        )?
    };
    Ok(Some(serde_json::json!({
        "total_annotations": totals.0,
        "total_predictions": totals.1,
        "total": ids.len(),
        "tasks": tasks,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task list's query string, read as a request's.
    fn parse(query: &str) -> Result<TaskQuery> {
        super::parse(&Params::of_query(query))
    }

    fn query_of(json: &str) -> String {
        format!("project=1&query={}", crate::fileurl::percent_encode(json, true))
    }

    #[test]
    fn the_sdks_queries_become_conditions_with_bound_values() {
        let labeled = r#"{"filters": {"conjunction": "and", "items": [{"filter": "filter:tasks:completed_at", "operator": "empty", "value": false, "type": "Datetime"}]}, "ordering": [], "selectedItems": {"all": true, "excluded": []}}"#;
        let q = parse(&(query_of(labeled) + "&fields=all&resolve_uri=True&page=2")).unwrap();
        assert_eq!(q.condition.as_deref(), Some("(NOT ((c.task_id IS NULL)))"));
        assert!(q.is_all_fields && q.is_resolving_uris && q.page == 2);
        let selected = r#"{"filters": null, "ordering": ["-tasks:id"], "selectedItems": {"all": false, "included": [1, 2]}}"#;
        let q = parse(&query_of(selected)).unwrap();
        assert_eq!(q.condition.as_deref(), Some("(t.id IN (1, 2))"));
        assert_eq!(q.order.as_deref(), Some("t.id DESC NULLS LAST, t.id"));
        let data = r#"{"filters": {"conjunction": "or", "items": [{"filter": "filter:tasks:data.text", "operator": "contains", "type": "String", "value": "x'; DROP TABLE tasks; --"}]}}"#;
        let q = parse(&query_of(data)).unwrap();
        assert_eq!(
            q.condition.as_deref(),
            Some("(contains(lower(json_extract_string(t.data, ?)), ?))")
        );
        assert_eq!(q.params.len(), 2);
    }

    #[test]
    fn what_lsdb_does_not_implement_is_refused_by_name() {
        for (query, named) in [
            ("project=1&view=3", "\"view\""),
            ("project=2", "project 2"),
            ("fields=some", "fields=some"),
            ("include=data", "include=data"),
            (
                &query_of(
                    r#"{"filters": {"items": [{"filter": "filter:tasks:agreement", "operator": "greater", "type": "Number", "value": 1}]}}"#,
                ),
                "agreement",
            ),
            (
                &query_of(
                    r#"{"filters": {"items": [{"filter": "filter:tasks:id", "operator": "bogus", "type": "Number", "value": 1}]}}"#,
                ),
                "bogus",
            ),
            (&query_of(r#"{"ordering": ["tasks:annotators"]}"#), "tasks:annotators"),
            ("query=not-json", "not JSON"),
        ] {
            let err = parse(query).unwrap_err().to_string();
            assert!(err.contains(named), "{query}: {err}");
        }
    }
}
