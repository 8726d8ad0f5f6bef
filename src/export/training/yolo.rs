//! YOLO and YOLO-OBB: `classes.txt`, `notes.json`, `labels/<image stem>.txt` per image and an
//! `images/` folder, as the converter's `convert_to_yolo` writes them.
//!
//! A label file per item, named by the image's name (a later item of the same image writes
//! it again, so the oldest annotation's labels are the ones left, as with the converter); an
//! item without labels leaves an empty file. Each region's labels are a line each: the class
//! id, then the box's centre and size (YOLO), its four corners (YOLO-OBB) or the polygon's
//! points, as fractions of the image, written as Python prints floats. With KeyPointLabels in
//! the config a line is a box with its keypoints (`parentID`) in `model_index` order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::media::{Media, basename, stem};
use super::schema::{Categories, Category, Schema};
use super::{Writer, number, xywh};
use crate::export::min::Item;
use crate::export::python::python_str;
use crate::export::python::{push_python_float, python_float, write_dump};

/// A box of keypoint mode: its region id, class, centre and size, and keypoints by label.
type KeypointBox = (Value, i64, [f64; 4], HashMap<String, (f64, f64)>);

pub struct Yolo {
    dir: PathBuf,
    labels: PathBuf,
    is_obb: bool,
    data_key: String,
    categories: Categories,
    /// Keypoint mode: the keypoint labels in `model_index` order.
    keypoints: Option<Vec<String>>,
    year: i64,
    /// Boxes left out: no x/y/width/height (YOLO-OBB: also no rotation or image size).
    skipped: u64,
}

impl Yolo {
    pub fn new(dir: &Path, schema: &Schema, is_obb: bool, year: i64) -> Result<Yolo> {
        std::fs::create_dir_all(dir.join(super::media::IMAGES))?;
        let labels = dir.join("labels");
        std::fs::create_dir_all(&labels)?;
        // Keypoint mode: a category per box label, in config order, each listing the
        // keypoint labels (`get_yolo_categories_for_keypoints`).
        let (categories, keypoints) = if schema.has_keypoints() {
            let points = schema.labels_of("KeyPointLabels");
            let mut extra = Map::new();
            extra.insert(
                "keypoints".into(),
                points.iter().map(|k| Value::from(k.as_str())).collect(),
            );
            let boxes = schema.labels_of("RectangleLabels").into_iter().enumerate();
            let list = boxes.map(|(i, name)| Category { id: i as i64, name, extra: extra.clone() });
            (Categories::new(list.collect()), Some(schema.keypoint_order()))
        } else {
            (Categories::from_labels(schema), None)
        };
        Ok(Yolo {
            dir: dir.to_path_buf(),
            labels,
            is_obb,
            data_key: schema.data_key.clone(),
            categories,
            keypoints,
            year,
            skipped: 0,
        })
    }

    /// The lines of one item's regions (the converter's `process_and_save_yolo_annotations`).
    fn lines(&mut self, regions: &[&Map<String, Value>]) -> String {
        let mut out = String::new();
        for region in regions {
            let mut names = Vec::new();
            for key in ["rectanglelabels", "polygonlabels", "labels"] {
                match region.get(key) {
                    Some(Value::Array(items)) if !items.is_empty() => {
                        names.extend(items.iter().map(python_str))
                    }
                    Some(Value::String(s)) if !s.is_empty() => {
                        names.extend(s.chars().map(String::from))
                    }
                    _ => {}
                }
            }
            for name in names {
                let id = self.categories.id(&name);
                let values: Vec<f64> = if ["rectanglelabels", "rectangle", "labels"]
                    .iter()
                    .any(|k| region.contains_key(*k))
                {
                    let converted = if self.is_obb { obb(region) } else { yolo_box(region) };
                    let Some(values) = converted else {
                        self.skipped += 1;
                        continue;
                    };
                    values
                } else if region.contains_key("polygonlabels") || region.contains_key("polygon") {
                    let Some(points) = region.get("points").and_then(Value::as_array) else {
                        continue;
                    };
                    let mut values = Vec::new();
                    for p in points {
                        for c in p.as_array().into_iter().flatten() {
                            values.push(c.as_f64().unwrap_or(f64::NAN) / 100.0);
                        }
                    }
                    values
                } else {
                    continue;
                };
                out.push_str(&id.to_string());
                for v in values {
                    out.push(' ');
                    push_python_float(&mut out, v, false);
                }
                out.push('\n');
            }
        }
        out
    }

    /// Keypoint mode: a line per box, its keypoints after it (`process_keypoints_for_yolo`).
    fn keypoint_lines(&self, regions: &[&Map<String, Value>], order: &[String]) -> String {
        // Boxes by region id, in first-seen order (a repeated id replaces the box in place).
        let mut boxes: Vec<KeypointBox> = Vec::new();
        for region in regions {
            if !region
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("rectanglelabels"))
            {
                continue;
            }
            let id = region.get("id").cloned().unwrap_or(Value::Null);
            let Some(Value::Array(labels)) = region.get("rectanglelabels") else { continue };
            let Some(class) = labels.first().map(python_str).and_then(|n| self.categories.get(&n))
            else {
                continue;
            };
            let Some((x, y, w, h)) = xywh(region) else { continue };
            let (x, y, w, h) = (x / 100.0, y / 100.0, w / 100.0, h / 100.0);
            let shape = [x + w / 2.0, y + h / 2.0, w, h];
            match boxes.iter_mut().find(|b| b.0 == id) {
                Some(b) => *b = (id, class, shape, HashMap::new()),
                None => boxes.push((id, class, shape, HashMap::new())),
            }
        }
        for region in regions {
            if !region
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("keypointlabels"))
            {
                continue;
            }
            let parent = region.get("parentID").cloned().unwrap_or(Value::Null);
            let Some(b) = boxes.iter_mut().find(|b| b.0 == parent) else { continue };
            let Some(Value::Array(labels)) = region.get("keypointlabels") else { continue };
            let Some(label) = labels.first().map(python_str) else { continue };
            let (Some(x), Some(y)) = (number(region, "x"), number(region, "y")) else { continue };
            b.3.insert(label, (x / 100.0, y / 100.0));
        }
        let mut lines = Vec::new();
        for (_, class, shape, points) in &boxes {
            let mut line = class.to_string();
            for v in shape {
                line.push(' ');
                line.push_str(&python_float(*v, false));
            }
            for k in order {
                match points.get(k) {
                    Some((x, y)) => line.push_str(&format!(
                        " {} {} 2",
                        python_float(*x, false),
                        python_float(*y, false)
                    )),
                    None => line.push_str(" 0.0 0.0 0"),
                }
            }
            lines.push(line);
        }
        lines.join("\n")
    }
}

impl Writer for Yolo {
    fn item(&mut self, item: &Item, media: &mut Media) -> Result<()> {
        let url = match item.input.get(&self.data_key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(list)) => match list.last() {
                Some(Value::String(s)) => s.clone(),
                _ => return Ok(()),
            },
            _ => anyhow::bail!(
                "task {}: yolo reads an image URL from ${}, and the task has none",
                item.id,
                self.data_key
            ),
        };
        let name = media.place(&url)?;
        if name.is_empty() {
            return Ok(());
        }
        let file: String = stem(basename(&name)).chars().take(251).collect();
        let path = self.labels.join(format!("{file}.txt"));
        let regions: Vec<&Map<String, Value>> = item.outputs.iter().flat_map(|(_, v)| v).collect();
        if regions.is_empty() {
            if !path.exists() {
                std::fs::File::create(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            return Ok(());
        }
        let text = match &self.keypoints {
            Some(order) => self.keypoint_lines(&regions, order),
            None => self.lines(&regions),
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    fn finish(self: Box<Self>, notes: &mut Vec<String>) -> Result<()> {
        if self.skipped > 0 {
            let what = if self.is_obb {
                "x, y, width, height, rotation or original_width/original_height"
            } else {
                "x, y, width or height"
            };
            notes.push(format!(
                "{} box labels skipped: they have no {what}, as Label Studio's converter skips them",
                self.skipped
            ));
        }
        let mut classes = String::new();
        for category in &self.categories.list {
            classes.push_str(&category.name);
            classes.push('\n');
        }
        std::fs::write(self.dir.join("classes.txt"), classes)?;
        let notes = json!({
            "categories": self.categories.to_json(),
            "info": {"year": self.year, "version": "1.0", "contributor": "Label Studio"},
        });
        let mut text = String::new();
        write_dump(&notes, 0, &mut text);
        std::fs::write(self.dir.join("notes.json"), text)?;
        Ok(())
    }
}

/// A box as its centre and size, fractions of the image (`convert_annotation_to_yolo`).
fn yolo_box(region: &Map<String, Value>) -> Option<Vec<f64>> {
    let (x, y, w, h) = xywh(region)?;
    Some(vec![(x + w / 2.0) / 100.0, (y + h / 2.0) / 100.0, w / 100.0, h / 100.0])
}

/// A box as its four corners, turned by its rotation about the top-left corner, fractions
/// of the image (`convert_annotation_to_yolo_obb`); it needs the image size and `rotation`.
fn obb(region: &Map<String, Value>) -> Option<Vec<f64>> {
    if !region.contains_key("rotation") {
        return None;
    }
    let (ow, oh) = (number(region, "original_width")?, number(region, "original_height")?);
    let x = number(region, "x")? / 100.0 * ow;
    let y = number(region, "y")? / 100.0 * oh;
    let w = number(region, "width")? / 100.0 * ow;
    let h = number(region, "height")? / 100.0 * oh;
    let r = number(region, "rotation")?.to_radians();
    let (cos, sin) = (r.cos(), r.sin());
    let corners = [
        (x, y),
        (x + w * cos, y + w * sin),
        (x + w * cos - h * sin, y + w * sin + h * cos),
        (x - h * sin, y + h * cos),
    ];
    Some(corners.iter().flat_map(|(cx, cy)| [cx / ow, cy / oh]).collect())
}
