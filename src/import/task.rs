//! One task as Label Studio's Basic format has it, checked and split into the rows lsdb
//! stores: the task, its completions (or `annotations`) and its predictions. Values are
//! kept as the JSON text they were written in (only whitespace between tokens goes), so
//! numbers, escapes and unknown fields come back exactly as given.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use anyhow::Result;
use serde_json::value::RawValue;

use super::compact::{Compact, NO_SPANS, Spans};
use super::raw::{RawObject, compact, kind, object_text, split_list};
use crate::error::InputError;

/// One task's JSON text as read, not parsed yet: readers hand these on, so that parsing
/// can run on other threads (`load.rs`) while reading goes on.
#[derive(Debug)]
pub struct Record {
    pub bytes: Vec<u8>,
    pub line: u64,
    pub col: u64,
    pub path: Arc<str>,
    pub at: At,
    /// Added to the task's `source` (a bucket object's ETag).
    pub source_suffix: Option<Arc<str>>,
}

/// Where a record sits in its file.
#[derive(Debug, Clone, Copy)]
pub enum At {
    /// The element of a JSON list with this 0-based index.
    ListItem(u64),
    /// The one task object of a JSON file.
    Single,
    /// A line of a JSONL file (`Record::line`).
    Line,
}

/// Where readers put what they read: the store's appenders during an import, or anything
/// else that takes tasks (the fuzz targets).
pub trait Receiver {
    /// One task, with its completions and predictions.
    fn push(&mut self, task: Task) -> Result<()>;
    /// One task's JSON text, to be parsed (here, unless the receiver parses elsewhere).
    fn push_record(&mut self, record: Record) -> Result<()> {
        match record.parse() {
            Ok(task) => self.push(task),
            Err(err) => self.reject(err),
        }
    }
    /// A record that could not be read: fatal, or kept aside with `--skip-invalid`.
    fn reject(&mut self, err: InputError) -> Result<()>;
    /// Something passed over (a blank line, a file of another kind).
    fn skip(&mut self, n: u64) -> Result<()>;
}

/// Where a task starts in its file, `path:line:col` in messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub path: std::sync::Arc<str>,
    pub line: u64,
    pub col: u64,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.col)
    }
}

/// A task ready for the store. JSON columns are compact JSON text.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Task {
    pub given_id: Option<i64>,
    pub data: String,
    pub meta: Option<String>,
    /// Other top-level fields, as a JSON object.
    pub extra: Option<String>,
    pub source: String,
    /// Where the task starts, for messages (`None`: `source` says it).
    pub place: Option<Place>,
    pub completions: Vec<Annotation>,
    pub predictions: Vec<Annotation>,
    /// Predictions given only by their id, as Label Studio 1.x's export lists them: there
    /// is nothing to store, so they are counted and left out.
    pub prediction_refs: u64,
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
    /// Where the task starts, for messages: its place, or else its source.
    pub fn place(&self) -> String {
        match &self.place {
            Some(place) => place.to_string(),
            None => self.source.clone(),
        }
    }

    /// A task whose data is one key holding one string (text lines, URLs, media files).
    pub fn single_value(key: &str, value: &str, source: String) -> Task {
        Task::with_strings([(key, value)], key.len() + value.len() + 8, source)
    }

    /// A task whose data maps keys to strings (CSV rows, time-series files).
    pub fn from_strings<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        source: String,
    ) -> Task {
        Task::with_strings(pairs, 128, source)
    }

    /// `from_strings`, its data text given room for `capacity` bytes at first.
    fn with_strings<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        capacity: usize,
        source: String,
    ) -> Task {
        let mut data = String::with_capacity(capacity);
        data.push('{');
        for (i, (key, value)) in pairs.into_iter().enumerate() {
            if i > 0 {
                data.push(',');
            }
            push_json_string(&mut data, key);
            data.push(':');
            push_json_string(&mut data, value);
        }
        data.push('}');
        Task { data, source, ..Task::default() }
    }
}

/// `path:line`, the source of a task read from a line (as `format!` writes it, without its
/// machinery: it is made for every CSV row and text line).
pub fn line_source(path: &str, line: u64) -> String {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(line);
    let mut out = String::with_capacity(path.len() + 1 + digits.len());
    out.push_str(path);
    out.push(':');
    out.push_str(digits);
    out
}

/// Append `s` as a JSON string, exactly as serde_json writes it: quoted as it is when nothing
/// in it needs escaping (most CSV cells and lines), else by serde_json itself.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::Value::from(s).to_string());
    } else {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Turn one task's JSON text into a task. `what` names it in messages ("task 3").
pub fn task_from_json(
    raw: &RawValue,
    what: &dyn fmt::Display,
    source: String,
) -> Result<Task, String> {
    let json = raw.get();
    task_from_text(Text { json, is_compact: false, spans: &NO_SPANS, root: json }, what, source)
}

/// A task from text that `raw::compact_with_spans` made: valid and compact already, so its
/// members are found without parsing them again, and its spans say where values end.
pub fn task_from_compact(
    compact: &Compact,
    what: &dyn fmt::Display,
    source: String,
) -> Result<Task, String> {
    let json = compact.text.as_str();
    task_from_text(Text { json, is_compact: true, spans: &compact.spans, root: json }, what, source)
}

/// JSON text, and whether it is known to be valid and compact.
#[derive(Clone, Copy)]
struct Text<'a> {
    json: &'a str,
    is_compact: bool,
    /// Where objects and lists of `root`, the whole task's text, end.
    spans: &'a Spans,
    root: &'a str,
}

impl<'a> Text<'a> {
    fn object(self) -> Option<RawObject<'a>> {
        if self.is_compact {
            RawObject::split(self.json, self.spans, self.at())
        } else {
            RawObject::parse(self.json)
        }
    }

    fn list(self) -> Option<Vec<&'a str>> {
        if self.is_compact {
            split_list(self.json, self.spans, self.at())
        } else {
            let items = serde_json::from_str::<Vec<&RawValue>>(self.json).ok()?;
            Some(items.into_iter().map(RawValue::get).collect())
        }
    }

    fn compact(self) -> String {
        if self.is_compact { self.json.to_string() } else { compact(self.json) }
    }

    fn of(self, json: &'a str) -> Text<'a> {
        Text { json, ..self }
    }

    /// Where `json` starts in `root` (it is always a part of it).
    fn at(self) -> usize {
        (self.json.as_ptr() as usize).saturating_sub(self.root.as_ptr() as usize)
    }
}

fn task_from_text(raw: Text<'_>, what: &dyn fmt::Display, source: String) -> Result<Task, String> {
    let Some(object) = raw.object() else {
        return Err(format!(
            "{what} is {}, not an object; a task looks like {{\"data\": {{\"text\": \"...\"}}}}",
            kind(raw.json)
        ));
    };
    let mut object = object;
    let Some(data) = object.remove("data") else {
        // Label Studio reads a task without "data" as the data itself.
        return Ok(Task { data: raw.compact(), source, ..Task::default() });
    };
    if !data.starts_with('{') {
        return Err(format!(
            "\"data\" of {what} is {}; it must be an object of keys, like {{\"text\": \"...\"}}",
            kind(data)
        ));
    }
    let given_id = optional_id(object.remove("id"), &|| what.to_string(), false)?;
    let mut completions = Vec::new();
    for key in ["completions", "annotations"] {
        if let Some(list) = object.remove(key) {
            completions.extend(annotations(raw.of(list), key, what, false, &mut 0)?);
        }
    }
    let mut prediction_refs = 0;
    let predictions = match object.remove("predictions") {
        Some(list) => annotations(raw.of(list), "predictions", what, true, &mut prediction_refs)?,
        None => Vec::new(),
    };
    let meta = object.remove("meta").map(|m| raw.of(m).compact());
    let extra = (!object.is_empty()).then(|| object_text(&object));
    Ok(Task {
        given_id,
        data: raw.of(data).compact(),
        meta,
        extra,
        source,
        place: None,
        completions,
        predictions,
        prediction_refs,
    })
}

/// An `id` field: absent or null, or a whole number up to 2^63-1 — from 0 for a task (Label
/// Studio's own examples number tasks from 0), from 1 for an annotation or prediction, whose
/// ids may also be strings of digits (Label Studio's documented format).
fn optional_id(
    id: Option<&str>,
    name: &dyn Fn() -> String,
    is_annotation: bool,
) -> Result<Option<i64>, String> {
    let (is_string_ok, least) = if is_annotation { (true, 1) } else { (false, 0) };
    let Some(text) = id else { return Ok(None) };
    if text == "null" {
        return Ok(None);
    }
    let digits = match text.starts_with('"').then(|| serde_json::from_str::<String>(text).ok()) {
        Some(Some(s)) if is_string_ok => Cow::Owned(s),
        Some(Some(s)) => {
            return Err(format!(
                "\"id\" of {} is the string {s:?}; task ids are numbers like 17 (or leave them out)",
                name()
            ));
        }
        _ => Cow::Borrowed(text),
    };
    let is_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match digits.parse::<i64>() {
        Ok(n) if is_digits && n >= least => Ok(Some(n)),
        _ if is_digits && digits.trim_start_matches('0').len() >= 19 => Err(format!(
            "\"id\" of {} is {text}, too large; ids go up to 9223372036854775807 (or leave them out)",
            name()
        )),
        _ => Err(format!(
            "\"id\" of {} is {}; ids are whole numbers from {least} (or leave them out)",
            name(),
            describe(text)
        )),
    }
}

fn describe(value: &str) -> String {
    match value.as_bytes().first() {
        Some(b'"') => format!("the string {value}"),
        Some(b'-' | b'0'..=b'9') => format!("the number {value}"),
        _ => kind(value).to_string(),
    }
}

fn annotations(
    list: Text<'_>,
    key: &str,
    what: &dyn fmt::Display,
    is_prediction: bool,
    refs: &mut u64,
) -> Result<Vec<Annotation>, String> {
    let Some(items) = list.list() else {
        return Err(format!(
            "\"{key}\" of {what} is {}; it must be a list of {{\"result\": [...]}} objects",
            kind(list.json)
        ));
    };
    let singular = if is_prediction { "prediction" } else { "completion" };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        // Named only when something is wrong with it.
        let name = || format!("{singular} {i} of {what}");
        if is_prediction && item.bytes().all(|b| b.is_ascii_digit()) {
            *refs += 1;
            continue;
        }
        let Some(mut fields) = list.of(item).object() else {
            let this = name();
            return Err(format!(
                "{this} is {}; it must be an object like {{\"result\": [...]}}",
                kind(item)
            ));
        };
        let given_id = optional_id(fields.remove("id"), &name, true)?;
        let result = match fields.remove("result") {
            None => {
                let this = name();
                return Err(format!(
                    "{this} has no \"result\"; give its regions as \"result\": [...] (an empty list for none)"
                ));
            }
            Some(r) if r.starts_with('[') => list.of(r).compact(),
            Some(r) => {
                let this = name();
                return Err(format!(
                    "\"result\" of {this} is {}; it must be a list of regions",
                    kind(r)
                ));
            }
        };
        let score = score_of(fields.get("score"), &name)?;
        let model_version = fields.get("model_version").and_then(|v| match v {
            "null" => None,
            text => Some(serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string())),
        });
        let was_cancelled = fields.get("was_cancelled") == Some("true");
        let lead_time =
            fields.get("lead_time").and_then(|v| v.parse::<f64>().ok()).filter(|f| f.is_finite());
        let created_at = fields.get("created_at").and_then(|v| serde_json::from_str(v).ok());
        out.push(Annotation {
            given_id,
            result,
            fields: object_text(&fields),
            score,
            model_version,
            was_cancelled,
            lead_time,
            created_at,
        });
    }
    Ok(out)
}

/// An annotation's `score`: a finite number, or none (missing or null).
fn score_of(text: Option<&str>, name: &dyn Fn() -> String) -> Result<Option<f64>, String> {
    match text {
        None | Some("null") => Ok(None),
        Some(text) if text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) => {
            match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(format!(
                    "\"score\" of {} is {text}, out of range; a score is a number such as 0.95",
                    name()
                )),
            }
        }
        Some(text) => Err(format!(
            "\"score\" of {} is {}; a score is a number such as 0.95",
            name(),
            describe(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sources_are_what_format_writes() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(line_source("a/b.csv", n), format!("a/b.csv:{n}"));
        }
    }

    #[test]
    fn single_values_are_what_from_strings_makes() {
        for (k, v) in [("text", "plain"), ("t\"k", "a\nb"), ("", "")] {
            assert_eq!(
                Task::single_value(k, v, "s".into()),
                Task::from_strings([(k, v)], "s".into())
            );
        }
    }

    #[test]
    fn json_strings_are_what_serde_json_writes() {
        let control: String = (0u8..0x20).map(char::from).collect();
        for s in
            ["", "plain", "caf\u{e9} \u{1F600}", "a\"b", "a\\b", "tab\there", &control, "\u{7f}"]
        {
            let mut out = String::from("x");
            push_json_string(&mut out, s);
            assert_eq!(out, format!("x{}", serde_json::Value::from(s)), "{s:?}");
        }
    }

    fn task(text: &str) -> Result<Task, String> {
        let raw: &RawValue = serde_json::from_str(text).expect("valid JSON");
        task_from_json(raw, &"task 2", "s".into())
    }

    #[test]
    fn task_without_data_is_wrapped_whole() {
        let t = task(r#"{"my_key": "v", "id": 3}"#).unwrap();
        assert_eq!(t.data, r#"{"my_key":"v","id":3}"#);
        assert_eq!(t.given_id, None);
    }

    #[test]
    fn numbers_and_fields_are_kept_as_written() {
        let t = task(
            r#"{"id": 7, "data": {"b": 123456789012345678901, "a": 0.23053804129850775, "z": -0.0, "e": 5e-324},
                "meta": {"m": 1.10}, "project": 4,
                "annotations": [{"id": "9", "result": [], "lead_time": 2.5, "was_cancelled": true}],
                "predictions": [{"result": [{"x": 1E2}], "score": 0.36088106914938645, "model_version": 3}]}"#,
        )
        .unwrap();
        assert_eq!(t.given_id, Some(7));
        assert_eq!(
            t.data,
            r#"{"b":123456789012345678901,"a":0.23053804129850775,"z":-0.0,"e":5e-324}"#
        );
        assert_eq!(t.meta.as_deref(), Some(r#"{"m":1.10}"#));
        assert_eq!(t.extra.as_deref(), Some(r#"{"project":4}"#));
        let c = &t.completions[0];
        assert_eq!((c.given_id, c.was_cancelled, c.lead_time), (Some(9), true, Some(2.5)));
        assert_eq!(c.fields, r#"{"lead_time":2.5,"was_cancelled":true}"#);
        let p = &t.predictions[0];
        assert_eq!((p.score, p.model_version.as_deref()), (Some(0.36088106914938645), Some("3")));
        assert_eq!(p.result, r#"[{"x":1E2}]"#);
        assert_eq!(p.fields, r#"{"score":0.36088106914938645,"model_version":3}"#);
    }

    #[test]
    fn bad_shapes_are_explained() {
        let err = |text: &str| task(text).unwrap_err();
        assert!(err(r#""x""#).starts_with("task 2 is a string, not an object"));
        assert!(err(r#"{"data": [1]}"#).starts_with("\"data\" of task 2 is a list"));
        assert!(
            err(r#"{"data": {}, "predictions": {}}"#)
                .starts_with("\"predictions\" of task 2 is an object")
        );
        assert_eq!(
            err(r#"{"data": {}, "predictions": [{"result": [], "score": "high"}]}"#),
            "\"score\" of prediction 0 of task 2 is the string \"high\"; a score is a number such as 0.95"
        );
        assert!(err(r#"{"data": {}, "id": "a"}"#).contains("task ids are numbers"));
        assert!(err(r#"{"data": {}, "id": -1}"#).contains("whole numbers from 0"));
        assert!(err(r#"{"data": {}, "id": 1.5}"#).contains("whole numbers from 0"));
        assert!(err(r#"{"data": {}, "id": 99999999999999999999}"#).contains("too large"));
        assert!(
            err(r#"{"data": {}, "predictions": [{"score": 1}]}"#).contains("has no \"result\"")
        );
        assert!(
            err(r#"{"data": {}, "predictions": [{"result": [], "score": 1e309}]}"#)
                .contains("out of range")
        );
        assert!(
            err(r#"{"data": {}, "annotations": [{"result": [], "id": "x1"}]}"#)
                .contains("whole numbers")
        );
    }
}
