//! `preannotated_from_fields` (Label Studio's import API): named fields of a flat task become
//! predictions, built as Label Studio 1.x builds them — the control tag of the same name
//! gives `to_name` and `type` (`text` and `choices` when there is none), a plain value is
//! wrapped as `{"<type>": [value]}` (`{"text": ...}` for a TextArea, no list for Rating,
//! Number and DateTime), an object is the value as given. The field stays in the data.

use serde_json::{Map, Value};

use super::task::{Annotation, Task};
use crate::labelconfig::LabelConfig;

/// One field to turn into a prediction, with what the config says about it.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    to_name: String,
    kind: String,
}

/// The fields of one import.
#[derive(Debug, Clone, Default)]
pub struct Preannotate {
    fields: Vec<Field>,
}

impl Preannotate {
    pub fn new(names: &[String], config: Option<&LabelConfig>) -> Preannotate {
        let fields = names
            .iter()
            .map(|name| {
                let control = config.and_then(|c| c.controls.iter().find(|t| &t.name == name));
                Field {
                    name: name.clone(),
                    to_name: control
                        .and_then(|c| c.to_name.first().cloned())
                        .unwrap_or_else(|| "text".to_string()),
                    kind: control.map_or("choices".to_string(), |c| c.tag.to_ascii_lowercase()),
                }
            })
            .collect();
        Preannotate { fields }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Add a prediction to `task` for each field its data has (and is not null).
    pub fn apply(&self, task: &mut Task) {
        let Ok(Value::Object(data)) = serde_json::from_str::<Value>(&task.data) else { return };
        for field in &self.fields {
            let Some(value) = data.get(&field.name).filter(|v| !v.is_null()) else { continue };
            let value = match value {
                Value::Object(_) => value.clone(),
                _ => {
                    let key = if field.kind == "textarea" { "text" } else { field.kind.as_str() };
                    let inner = match (field.kind.as_str(), value) {
                        ("rating" | "number" | "datetime", v) | (_, v @ Value::Array(_)) => {
                            v.clone()
                        }
                        (_, v) => Value::Array(vec![v.clone()]),
                    };
                    Value::Object(Map::from_iter([(key.to_string(), inner)]))
                }
            };
            let region = serde_json::json!({
                "from_name": field.name,
                "to_name": field.to_name,
                "type": field.kind,
                "value": value,
            });
            task.predictions.push(Annotation {
                result: Value::Array(vec![region]).to_string(),
                fields: r#"{"score":1.0,"model_version":"preannotated"}"#.to_string(),
                score: Some(1.0),
                model_version: Some("preannotated".to_string()),
                ..Annotation::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_predictions_as_label_studio_makes_them() {
        let config = crate::labelconfig::parse_label_config(
            r#"<View><Text name="review" value="$review"/>
               <Choices name="sentiment" toName="review"><Choice value="pos"/></Choices>
               <Rating name="stars" toName="review"/></View>"#,
            "config.xml",
        )
        .unwrap();
        let pre = Preannotate::new(
            &["sentiment".into(), "stars".into(), "other".into(), "absent".into()],
            Some(&config),
        );
        let mut task = Task {
            data: r#"{"review":"ok","sentiment":"pos","stars":4,"other":{"x":1}}"#.into(),
            ..Task::default()
        };
        pre.apply(&mut task);
        let results: Vec<&str> = task.predictions.iter().map(|p| p.result.as_str()).collect();
        assert_eq!(
            results,
            [
                r#"[{"from_name":"sentiment","to_name":"review","type":"choices","value":{"choices":["pos"]}}]"#,
                r#"[{"from_name":"stars","to_name":"review","type":"rating","value":{"rating":4}}]"#,
                r#"[{"from_name":"other","to_name":"text","type":"choices","value":{"x":1}}]"#,
            ]
        );
        assert_eq!(task.predictions[0].score, Some(1.0));
        assert!(task.data.contains("\"sentiment\":\"pos\""));
    }
}
