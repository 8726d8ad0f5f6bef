//! The flat records of `json-min` and `csv`, as Label Studio's converter (in
//! `label-studio-sdk`) makes them: one record per annotation that was not cancelled, newest
//! first (a task without annotations gives one record of its data); the task's data, its id,
//! each control's value from the annotation (one choice or one text as itself, everything
//! else as a list of region values with `original_width`/`original_height`), then
//! `annotator`, `annotation_id`, `created_at`, `updated_at`, `lead_time` and `agreement`.
//! `tests/converter/compare.py` checks it against the converter itself.

use anyhow::Result;
use serde_json::{Map, Value};

/// A control tag of the label config: its name and tag (`Choices`, `TextArea`, ...).
pub type Control = (String, String);

/// The records of one task. `data`, `extra` and `annotations` are JSON text as stored.
pub fn min_records(
    id: i64,
    data: &str,
    extra: Option<&str>,
    annotations: &str,
    controls: &[Control],
) -> Result<Vec<Map<String, Value>>> {
    let data = match serde_json::from_str(data)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let agreement = match extra.map(serde_json::from_str::<Value>).transpose()? {
        Some(Value::Object(mut extra)) => extra.remove("agreement"),
        _ => None,
    };
    let annotations: Vec<Value> = serde_json::from_str(annotations)?;
    let record = |outputs: Vec<(String, Value)>, annotation: Option<&Value>| {
        let mut record = data.clone();
        record.insert("id".into(), id.into());
        for (name, value) in outputs {
            record.insert(name, value);
        }
        let field = |key: &str| annotation.and_then(|a| a.get(key)).cloned().unwrap_or(Value::Null);
        record
            .insert("annotator".into(), annotator(annotation.and_then(|a| a.get("completed_by"))));
        for key in ["annotation_id", "created_at", "updated_at", "lead_time"] {
            let value = field(if key == "annotation_id" { "id" } else { key });
            record.insert(key.into(), value);
        }
        if let Some(agreement) = &agreement {
            record.insert("agreement".into(), agreement.clone());
        }
        record
    };
    if annotations.is_empty() {
        return Ok(vec![record(Vec::new(), None)]);
    }
    let is_set = |a: &Value, key: &str| a.get(key).and_then(Value::as_bool) == Some(true);
    let mut kept: Vec<&Value> = annotations
        .iter()
        .filter(|a| !is_set(a, "skipped") && !is_set(a, "was_cancelled"))
        .collect();
    // Newest first; ties and missing times keep their order (a stable sort, as Python's).
    let created = |a: &Value| a.get("created_at").and_then(Value::as_str).map(str::to_string);
    kept.sort_by_key(|a| std::cmp::Reverse(created(a)));
    Ok(kept.into_iter().map(|a| record(outputs(a, controls), Some(a))).collect())
}

/// Each control's values in an annotation, in the order the controls first appear.
fn outputs(annotation: &Value, controls: &[Control]) -> Vec<(String, Value)> {
    let mut by_name: Vec<(String, Vec<Map<String, Value>>)> = Vec::new();
    let results = annotation.get("result").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for result in results {
        let Some(name) = result.get("from_name").and_then(Value::as_str).filter(|n| !n.is_empty())
        else {
            continue;
        };
        let kind = result.get("type").and_then(Value::as_str);
        let tag = controls.iter().find(|(n, _)| n == name).map(|(_, tag)| tag.as_str());
        let tag = match (tag, kind) {
            (Some(tag), _) => tag.to_string(),
            (None, Some("chatmessage")) => "chatmessage".to_string(),
            (None, _) if controls.is_empty() => kind.unwrap_or("unknown").to_string(),
            _ => continue,
        };
        let mut value = match result.get("value") {
            Some(Value::Object(value)) => value.clone(),
            _ => Map::new(),
        };
        value.insert("type".into(), tag.into());
        if kind != Some("chatmessage") || controls.iter().any(|(n, _)| n == name) {
            for key in ["original_width", "original_height"] {
                if let Some(v) = result.get(key) {
                    value.insert(key.into(), v.clone());
                }
            }
        }
        match by_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value),
            None => by_name.push((name.to_string(), vec![value])),
        }
    }
    by_name.into_iter().map(|(name, values)| (name, prettify(values))).collect()
}

/// One choice or one text as itself; chat messages as their message; anything else as the
/// list of region values, without their `type`.
fn prettify(values: Vec<Map<String, Value>>) -> Value {
    let mut out = Vec::with_capacity(values.len());
    let mut last_tag = String::new();
    for mut value in values {
        last_tag = match value.remove("type") {
            Some(Value::String(tag)) => tag,
            _ => String::new(),
        };
        let single = |key: &str| match value.get(key) {
            Some(Value::Array(items)) if items.len() == 1 => Some(items[0].clone()),
            _ => None,
        };
        let item = match last_tag.as_str() {
            "Choices" => single("choices"),
            "TextArea" => single("text"),
            "Chat" | "chatmessage" => value.get("chatmessage").cloned(),
            _ => None,
        };
        out.push(item.unwrap_or(Value::Object(value)));
    }
    if matches!(last_tag.as_str(), "Choices" | "TextArea") && out.len() == 1 {
        return out.pop().unwrap_or(Value::Null);
    }
    Value::Array(out)
}

/// `completed_by` as the converter writes it: the email of a user object, an id as it is,
/// anything else as Python's text for it.
fn annotator(completed_by: Option<&Value>) -> Value {
    match completed_by {
        None => Value::Null,
        Some(Value::Object(user)) => user.get("email").cloned().unwrap_or(Value::Null),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        Some(Value::Bool(b)) => Value::Bool(*b),
        Some(Value::Null) => "None".into(),
        Some(Value::String(s)) => s.clone().into(),
        Some(other) => other.to_string().into(),
    }
}
