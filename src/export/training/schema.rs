//! The label config as Label Studio's converter reads it for the training formats: the
//! controls (tags with `name` and `toName`, except `<Filter>`), their labels in order with
//! each label's attributes, the object tags they point at, and the one data key the formats
//! read. `check` answers whether a format can be written under the config, as the
//! converter's list of supported formats does, naming what is missing.

use std::collections::{HashMap, HashSet};

use anyhow::{Result, bail};
use serde_json::{Map, Value};

use super::super::ExportFormat;
use crate::labelconfig::{ControlTag, LabelConfig, LabelTag};

/// One control with the tags of the object tags it labels.
pub struct Control {
    pub tag: String,
    pub labels: Vec<LabelTag>,
    /// The object tags it points at (`Image`, `Text`, ...).
    pub inputs: Vec<String>,
    /// Some object tag it points at reads a `valueList` (a multi-image task).
    pub is_multi_image: bool,
}

/// The parts of a label config the training formats read.
pub struct Schema {
    pub controls: Vec<Control>,
    /// The data key the formats read: the one key of the objects the controls point at.
    pub data_key: String,
}

impl Schema {
    /// The schema of `config` for `format`; fails when the format cannot be written under it.
    pub fn new(config: &LabelConfig, format: ExportFormat) -> Result<Schema> {
        let controls: Vec<Control> = config
            .controls
            .iter()
            .filter(|c| c.tag != "Filter")
            .map(|c| control(config, c))
            .collect();
        let mut keys: Vec<&str> = Vec::new();
        for control in config.controls.iter().filter(|c| c.tag != "Filter") {
            for object in config.objects.iter() {
                if object.name.as_ref().is_some_and(|n| control.to_name.contains(n))
                    && !keys.contains(&object.key.as_str())
                {
                    keys.push(&object.key);
                }
            }
        }
        let schema = Schema { controls, data_key: keys.first().unwrap_or(&"").to_string() };
        schema.check(format)?;
        if keys.len() > 1 {
            let keys: Vec<String> = keys.iter().map(|k| format!("${k}")).collect();
            bail!(
                "{} reads one data key, and this label config's controls read {}; \
                 export json (or json-min) instead, or set a config with one object tag",
                format.name(),
                keys.join(" and ")
            );
        }
        if schema.data_key.is_empty() {
            bail!("{} needs an object tag that reads a $key from the task data", format.name());
        }
        Ok(schema)
    }

    fn has_input(&self, tags: &[&str]) -> bool {
        self.controls.iter().any(|c| c.inputs.iter().any(|i| tags.contains(&i.as_str())))
    }

    fn has_control(&self, tag: &str) -> bool {
        self.controls.iter().any(|c| c.tag == tag)
    }

    fn is_multi_image(&self) -> bool {
        self.controls.iter().any(|c| c.is_multi_image)
    }

    /// The config has `KeyPointLabels`.
    pub fn has_keypoints(&self) -> bool {
        self.has_control("KeyPointLabels")
    }

    /// As the converter decides which formats a config supports; the error names the format
    /// and what it needs.
    fn check(&self, format: ExportFormat) -> Result<()> {
        let name = format.name();
        let both = |a: &str, b: &str| self.has_control(a) && self.has_control(b);
        let image = self.has_input(&["Image"]);
        match format {
            ExportFormat::Coco | ExportFormat::Yolo | ExportFormat::YoloObb => {
                let boxes = (image
                    && (self.has_control("RectangleLabels")
                        || self.has_control("PolygonLabels")
                        || self.has_control("KeyPointLabels")))
                    || both("Rectangle", "Labels")
                    || both("PolygonLabels", "Labels")
                    || both("KeyPointLabels", "Labels");
                if !boxes {
                    bail!(
                        "{name} needs an Image object tag and a RectangleLabels, PolygonLabels or \
                         KeyPointLabels control; this label config has none"
                    );
                }
                if self.is_multi_image() {
                    bail!("{name} reads one image a task; this label config reads a valueList");
                }
                let boxes_for_points = self.has_control("RectangleLabels");
                if format != ExportFormat::YoloObb && self.has_keypoints() && !boxes_for_points {
                    bail!(
                        "{name} needs a RectangleLabels control beside KeyPointLabels (keypoints \
                         belong to boxes in {name}); add one, or export yolo-obb"
                    );
                }
                if format == ExportFormat::YoloObb
                    && self.has_input(&["Video"])
                    && self.has_control("TimelineLabels")
                {
                    bail!("yolo-obb cannot write a Video's TimelineLabels");
                }
                if format == ExportFormat::Coco
                    && self.has_keypoints()
                    && self.keypoint_order().is_empty()
                {
                    bail!(
                        "coco needs model_index on the KeyPointLabels' labels (<Label value=\"nose\" \
                         model_index=\"0\"/>): they give the order of the keypoints"
                    );
                }
            }
            ExportFormat::Voc => {
                let boxes =
                    image && (self.has_control("RectangleLabels") || both("Rectangle", "Labels"));
                if !boxes || self.is_multi_image() {
                    bail!(
                        "voc needs an Image object tag (one a task) and a RectangleLabels control; \
                         this label config has none"
                    );
                }
            }
            ExportFormat::Conll2003 => {
                if !(self.has_input(&["Text"]) && self.has_control("Labels")) {
                    bail!("conll2003 needs a Text object tag and a Labels control");
                }
            }
            ExportFormat::BrushPng | ExportFormat::BrushNumpy => {
                let brush = self.has_control("BrushLabels") || both("Brush", "Labels");
                if !(image && brush) {
                    bail!("{name} needs an Image object tag and a BrushLabels control");
                }
            }
            ExportFormat::Json
            | ExportFormat::JsonMin
            | ExportFormat::Jsonl
            | ExportFormat::Csv
            | ExportFormat::Parquet => bail!("{name} is not a training format"),
            ExportFormat::AsrManifest => {
                if !(self.has_input(&["Audio", "AudioPlus"]) && self.has_control("TextArea")) {
                    bail!("asr-manifest needs an Audio object tag and a TextArea control");
                }
            }
        }
        Ok(())
    }

    /// The keypoint labels in `model_index` order (labels without one are left out).
    pub fn keypoint_order(&self) -> Vec<String> {
        let mut block: Vec<&LabelTag> = Vec::new();
        for control in self.controls.iter().filter(|c| c.tag == "KeyPointLabels") {
            for label in &control.labels {
                match block.iter_mut().find(|l| l.name == label.name) {
                    Some(slot) => *slot = label,
                    None => block.push(label),
                }
            }
        }
        let mut pairs: Vec<(i64, String)> = Vec::new();
        for label in block {
            let Some(index) = label.attr("model_index").and_then(python_int) else { continue };
            if pairs.iter().all(|(i, _)| *i != index) {
                pairs.push((index, label.name.clone()));
            }
        }
        pairs.sort_by_key(|(i, _)| *i);
        pairs.into_iter().map(|(_, name)| name).collect()
    }

    /// The labels of every control of `tag`, in order, once each.
    pub fn labels_of(&self, tag: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for control in self.controls.iter().filter(|c| c.tag == tag) {
            for label in &control.labels {
                if !out.contains(&label.name) {
                    out.push(label.name.clone());
                }
            }
        }
        out
    }
}

/// A category of COCO or YOLO: its id, name, and members written after those two.
pub struct Category {
    pub id: i64,
    pub name: String,
    pub extra: Map<String, Value>,
}

/// The categories of an export, in list order, and each label's id. A label met in a result
/// that no category names is added with the list's length as its id, as the converter adds it.
pub struct Categories {
    pub list: Vec<Category>,
    ids: HashMap<String, i64>,
}

impl Categories {
    pub fn new(list: Vec<Category>) -> Categories {
        let ids = list.iter().map(|c| (c.name.clone(), c.id)).collect();
        Categories { list, ids }
    }

    /// The config's labels as the converter's `_get_labels` numbers them: labels with a
    /// `category` attribute take it as their id; the others, sorted by name, take the lowest
    /// ids left.
    pub fn from_labels(schema: &Schema) -> Categories {
        let mut list = Vec::new();
        let mut named: HashMap<&str, i64> = HashMap::new();
        let mut labels: Vec<&str> = Vec::new();
        for control in &schema.controls {
            for label in &control.labels {
                labels.push(&label.name);
                let Some(id) = label.attr("category").and_then(python_int) else { continue };
                list.push(Category { id, name: label.name.clone(), extra: Map::new() });
                named.insert(&label.name, id);
            }
        }
        let mut rest: Vec<&str> = labels.into_iter().filter(|l| !named.contains_key(l)).collect();
        rest.sort_unstable();
        rest.dedup();
        let used: HashSet<i64> = named.values().copied().collect();
        let mut free = (0i64..).filter(|i| !used.contains(i));
        for name in rest {
            let id = free.next().unwrap_or_default();
            list.push(Category { id, name: name.to_string(), extra: Map::new() });
        }
        Categories::new(list)
    }

    /// Add a category that `labels` name (its own name names nothing).
    pub fn push_for(&mut self, category: Category, labels: &[String]) {
        for label in labels {
            self.ids.insert(label.clone(), category.id);
        }
        self.list.push(category);
    }

    /// The id of a label's category, if it has one.
    pub fn get(&self, label: &str) -> Option<i64> {
        self.ids.get(label).copied()
    }

    /// The id of a label's category, added at the end when it has none.
    pub fn id(&mut self, label: &str) -> i64 {
        if let Some(id) = self.get(label) {
            return id;
        }
        let id = self.list.len() as i64;
        self.ids.insert(label.to_string(), id);
        self.list.push(Category { id, name: label.to_string(), extra: Map::new() });
        id
    }

    /// The list as JSON: `id`, `name`, then the extra members.
    pub fn to_json(&self) -> Value {
        let entry = |c: &Category| {
            let mut map = Map::new();
            map.insert("id".into(), c.id.into());
            map.insert("name".into(), c.name.clone().into());
            map.extend(c.extra.clone());
            Value::Object(map)
        };
        Value::Array(self.list.iter().map(entry).collect())
    }
}

/// `int(text)` as Python reads it: optional spaces and sign, digits (with `_` between).
pub fn python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    digits.replace('_', "").parse::<i64>().ok().map(|v| sign * v)
}

fn control(config: &LabelConfig, c: &ControlTag) -> Control {
    let objects =
        config.objects.iter().filter(|o| o.name.as_ref().is_some_and(|n| c.to_name.contains(n)));
    let mut inputs = Vec::new();
    let mut is_multi_image = false;
    for object in objects {
        inputs.push(object.tag.clone());
        is_multi_image |= object.attr == "valueList";
    }
    Control { tag: c.tag.clone(), labels: c.label_tags.clone(), inputs, is_multi_image }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_read_as_python_reads_them() {
        for (text, want) in [
            ("7", Some(7)),
            (" -3 ", Some(-3)),
            ("+2", Some(2)),
            ("1_000", Some(1000)),
            ("1.0", None),
            ("", None),
            ("_1", None),
            ("x", None),
        ] {
            assert_eq!(python_int(text), want, "{text:?}");
        }
    }
}
