//! One task as Label Studio's Basic format has it, checked and split into the rows lsdb
//! stores: the task, its completions (or `annotations`) and its predictions. Every field a
//! task or annotation came with is kept, so export can give it back.

use serde_json::{Map, Value};

/// A task ready for the store. JSON columns are compact JSON text.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Task {
    pub given_id: Option<i64>,
    pub data: String,
    pub meta: Option<String>,
    /// Other top-level fields, as a JSON object.
    pub extra: Option<String>,
    pub source: String,
    pub completions: Vec<Annotation>,
    pub predictions: Vec<Annotation>,
}

/// A completion or prediction: its id and result, plus typed copies of well-known fields.
/// `fields` holds every field but `id` and `result`, exactly as given.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Annotation {
    pub given_id: Option<i64>,
    pub result: String,
    pub fields: String,
    pub score: Option<f64>,
    pub model_version: Option<String>,
    pub was_cancelled: bool,
    pub lead_time: Option<f64>,
    pub created_at: Option<String>,
}

impl Task {
    /// A task whose data is one key holding one string (text lines, URLs, media files).
    pub fn single_value(key: &str, value: &str, source: String) -> Task {
        let mut data = Map::new();
        data.insert(key.to_string(), Value::String(value.to_string()));
        Task { data: Value::Object(data).to_string(), source, ..Task::default() }
    }

    /// A task from a data object.
    pub fn from_data(data: Map<String, Value>, source: String) -> Task {
        Task { data: Value::Object(data).to_string(), source, ..Task::default() }
    }
}

/// What kind of JSON value this is, in words.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Turn one parsed JSON value into a task. `what` names it in messages ("task 3").
pub fn task_from_value(value: Value, what: &str, source: String) -> Result<Task, String> {
    let Value::Object(mut object) = value else {
        return Err(format!(
            "{what} is {}, not an object; a task looks like {{\"data\": {{\"text\": \"...\"}}}}",
            kind(&value)
        ));
    };
    let Some(data) = object.shift_remove("data") else {
        // Label Studio reads a task without "data" as the data itself.
        return Ok(Task::from_data(object, source));
    };
    let Value::Object(_) = data else {
        return Err(format!(
            "\"data\" of {what} is {}; it must be an object of keys, like {{\"text\": \"...\"}}",
            kind(&data)
        ));
    };
    let given_id = optional_id(object.shift_remove("id"), what)?;
    let mut completions = Vec::new();
    for key in ["completions", "annotations"] {
        if let Some(list) = object.shift_remove(key) {
            completions.extend(annotations(list, key, what, false)?);
        }
    }
    let predictions = match object.shift_remove("predictions") {
        Some(list) => annotations(list, "predictions", what, true)?,
        None => Vec::new(),
    };
    let meta = object.shift_remove("meta").map(|m| m.to_string());
    let extra = (!object.is_empty()).then(|| Value::Object(object).to_string());
    Ok(Task { given_id, data: data.to_string(), meta, extra, source, completions, predictions })
}

/// An `id` field: absent or null, or an integer.
fn optional_id(id: Option<Value>, what: &str) -> Result<Option<i64>, String> {
    match id {
        None | Some(Value::Null) => Ok(None),
        Some(id) => id.as_i64().map(Some).ok_or_else(|| {
            format!("\"id\" of {what} is {}; ids are integers (or leave them out)", describe(&id))
        }),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_string(),
    }
}

fn annotations(
    list: Value,
    key: &str,
    what: &str,
    is_prediction: bool,
) -> Result<Vec<Annotation>, String> {
    let Value::Array(items) = list else {
        return Err(format!(
            "\"{key}\" of {what} is {}; it must be a list of {{\"result\": [...]}} objects",
            kind(&list)
        ));
    };
    let singular = if is_prediction { "prediction" } else { "completion" };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut fields) = item else {
            return Err(format!(
                "{singular} {i} of {what} is {}; it must be an object like {{\"result\": [...]}}",
                kind(&item)
            ));
        };
        let given_id =
            optional_id(fields.shift_remove("id"), &format!("{singular} {i} of {what}"))?;
        let result = fields.shift_remove("result").unwrap_or(Value::Null).to_string();
        let score = match fields.get("score") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                return Err(format!(
                    "\"score\" of {singular} {i} of {what} is {}; a score is a number such as 0.95",
                    describe(other)
                ));
            }
        };
        let model_version = match fields.get("model_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let was_cancelled = fields.get("was_cancelled").and_then(Value::as_bool).unwrap_or(false);
        let lead_time = fields.get("lead_time").and_then(Value::as_f64);
        let created_at = fields.get("created_at").and_then(Value::as_str).map(str::to_string);
        out.push(Annotation {
            given_id,
            result,
            fields: Value::Object(fields).to_string(),
            score,
            model_version,
            was_cancelled,
            lead_time,
            created_at,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_without_data_is_wrapped_whole() {
        let t = task_from_value(json!({"my_key": "v", "id": 3}), "task 0", "s".into()).unwrap();
        assert_eq!(t.data, r#"{"my_key":"v","id":3}"#);
        assert_eq!(t.given_id, None);
    }

    #[test]
    fn fields_are_kept_and_split() {
        let t = task_from_value(
            json!({"id": 7, "data": {"b": 1, "a": 2}, "meta": {"m": 1}, "project": 4,
                   "annotations": [{"id": 9, "result": [], "lead_time": 2.5, "was_cancelled": true}],
                   "predictions": [{"result": [], "score": 0.5, "model_version": 3}]}),
            "task 0",
            "s".into(),
        )
        .unwrap();
        assert_eq!(t.given_id, Some(7));
        assert_eq!(t.data, r#"{"b":1,"a":2}"#);
        assert_eq!(t.meta.as_deref(), Some(r#"{"m":1}"#));
        assert_eq!(t.extra.as_deref(), Some(r#"{"project":4}"#));
        let c = &t.completions[0];
        assert_eq!((c.given_id, c.was_cancelled, c.lead_time), (Some(9), true, Some(2.5)));
        assert_eq!(c.fields, r#"{"lead_time":2.5,"was_cancelled":true}"#);
        let p = &t.predictions[0];
        assert_eq!((p.score, p.model_version.as_deref()), (Some(0.5), Some("3")));
    }

    #[test]
    fn bad_shapes_are_explained() {
        let err = |v: Value| task_from_value(v, "task 2", "s".into()).unwrap_err();
        assert!(err(json!("x")).starts_with("task 2 is a string, not an object"));
        assert!(err(json!({"data": [1]})).starts_with("\"data\" of task 2 is a list"));
        assert!(
            err(json!({"data": {}, "predictions": {}}))
                .starts_with("\"predictions\" of task 2 is an object")
        );
        assert_eq!(
            err(json!({"data": {}, "predictions": [{"result": [], "score": "high"}]})),
            "\"score\" of prediction 0 of task 2 is the string \"high\"; a score is a number such as 0.95"
        );
        assert!(err(json!({"data": {}, "id": "a"})).contains("ids are integers"));
    }
}
