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

/// One annotation of a task (or the task alone), as the converter's items are: the input
/// data, each control's region values (tagged with their control's tag), the annotation.
pub struct Item {
    pub id: i64,
    pub input: Map<String, Value>,
    pub outputs: Vec<(String, Vec<Map<String, Value>>)>,
    pub annotation: Option<Value>,
    pub agreement: Option<Value>,
}

impl Item {
    /// A field of the annotation, null when there is none.
    pub fn field(&self, key: &str) -> Value {
        self.annotation.as_ref().and_then(|a| a.get(key)).cloned().unwrap_or(Value::Null)
    }

    /// `completed_by` of the annotation: `None` when it has none (or there is no annotation).
    pub fn completed_by(&self) -> Option<&Value> {
        self.annotation.as_ref().and_then(|a| a.get("completed_by"))
    }

    /// The json-min record.
    pub fn min_record(&self) -> Map<String, Value> {
        let mut record = self.input.clone();
        record.insert("id".into(), self.id.into());
        for (name, values) in &self.outputs {
            record.insert(name.clone(), prettify(values.clone()));
        }
        record.insert("annotator".into(), annotator(self.completed_by()));
        record.insert("annotation_id".into(), self.field("id"));
        for key in ["created_at", "updated_at", "lead_time"] {
            record.insert(key.into(), self.field(key));
        }
        if let Some(agreement) = &self.agreement {
            record.insert("agreement".into(), agreement.clone());
        }
        record
    }
}

/// The items of one task. `data`, `extra` and `annotations` are JSON text as stored.
pub fn items(
    id: i64,
    data: &str,
    extra: Option<&str>,
    annotations: &str,
    controls: &[Control],
    region_ids: bool,
) -> Result<Vec<Item>> {
    let input = match serde_json::from_str(data)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let agreement = match extra.map(serde_json::from_str::<Value>).transpose()? {
        Some(Value::Object(mut extra)) => extra.remove("agreement"),
        _ => None,
    };
    let annotations: Vec<Value> = serde_json::from_str(annotations)?;
    if annotations.is_empty() {
        return Ok(vec![Item { id, input, outputs: Vec::new(), annotation: None, agreement }]);
    }
    let is_set = |a: &Value, key: &str| a.get(key).and_then(Value::as_bool) == Some(true);
    let mut kept: Vec<Value> = annotations
        .into_iter()
        .filter(|a| !is_set(a, "skipped") && !is_set(a, "was_cancelled"))
        .collect();
    // Newest first; ties and missing times keep their order (a stable sort, as Python's).
    fn created(a: &Value) -> Option<&str> {
        a.get("created_at").and_then(Value::as_str)
    }
    kept.sort_by(|a, b| created(b).cmp(&created(a)));
    // The region values move out of each annotation into its item (nothing reads an item's
    // result again); the data is cloned for all but the last item.
    let n = kept.len();
    let mut input = Some(input);
    let mut items = Vec::with_capacity(n);
    for (i, mut annotation) in kept.into_iter().enumerate() {
        let input = if i + 1 == n {
            input.take().unwrap_or_default()
        } else {
            input.clone().unwrap_or_default()
        };
        items.push(Item {
            id,
            input,
            outputs: outputs(&mut annotation, controls, region_ids),
            annotation: Some(annotation),
            agreement: agreement.clone(),
        });
    }
    Ok(items)
}

/// Each control's values in an annotation, in the order the controls first appear; with
/// `region_ids` each value also gets its region's `id` and `parentID` (the converter's
/// keypoint mode).
fn outputs(
    annotation: &mut Value,
    controls: &[Control],
    region_ids: bool,
) -> Vec<(String, Vec<Map<String, Value>>)> {
    let mut by_name: Vec<(String, Vec<Map<String, Value>>)> = Vec::new();
    let Some(results) = annotation.get_mut("result").and_then(Value::as_array_mut) else {
        return by_name;
    };
    for result in results.iter_mut() {
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
        let name = name.to_string();
        let kind = kind.map(str::to_string);
        let kind = kind.as_deref();
        let mut value = match result.get_mut("value") {
            Some(Value::Object(value)) => std::mem::take(value),
            _ => Map::new(),
        };
        value.insert("type".into(), tag.into());
        let is_control = controls.iter().any(|(n, _)| *n == name);
        if kind != Some("chatmessage") || is_control {
            for key in ["original_width", "original_height"] {
                if let Some(v) = result.get(key) {
                    value.insert(key.into(), v.clone());
                }
            }
        }
        if region_ids && is_control {
            for key in ["id", "parentID"] {
                value.insert(key.into(), result.get(key).cloned().unwrap_or(Value::Null));
            }
        }
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => by_name.push((name, vec![value])),
        }
    }
    by_name
}

/// One choice or one text as itself; chat messages as their message; anything else as the
/// list of region values, without their `type`.
pub fn prettify(values: Vec<Map<String, Value>>) -> Value {
    let mut out = Vec::with_capacity(values.len());
    let mut last_tag = String::new();
    for mut value in values {
        last_tag = match value.shift_remove("type") {
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
