//! COCO: `result.json` (images, categories, annotations, info) and an `images/` folder, as the
//! converter's `convert_to_coco` writes them.
//!
//! One image entry per item (per annotation, so a task annotated twice is two images), its
//! size from the image file when the export holds it, else from the first region that gives
//! `original_width`/`original_height`; boxes in pixels (a rotated box as the box around it),
//! polygons as segmentation with their bounding box and shoelace area, each item's keypoints
//! as one annotation in `model_index` order. Images and annotations are streamed (the
//! annotations through a temp file, since categories come between them and may still grow).

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::media::{IMAGES, Media};
use super::schema::{Categories, Category, Schema};
use super::{Writer, first_label, is_falsy, number, xywh};
use crate::export::min::Item;
use crate::export::python::{push_python_float, write_ascii_string, write_dump};

pub struct Coco {
    path: std::path::PathBuf,
    out: BufWriter<File>,
    annotations: BufWriter<File>,
    categories: Categories,
    keypoint_order: Vec<String>,
    data_key: String,
    images: u64,
    annotation_count: u64,
    no_size: u64,
    text: String,
    /// The year and `str(datetime.now())` for `info`.
    now: (i64, String),
}

impl Coco {
    pub fn new(dir: &Path, schema: &Schema, now: (i64, String)) -> Result<Coco> {
        std::fs::create_dir_all(dir.join(IMAGES))?;
        let path = dir.join("result.json");
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("writing {}", path.display()))?,
        );
        out.write_all(b"{\n  \"images\": [")?;
        let annotations = BufWriter::new(tempfile::tempfile_in(dir)?);
        let categories = categories(schema);
        Ok(Coco {
            path,
            out,
            annotations,
            categories,
            keypoint_order: schema.keypoint_order(),
            data_key: schema.data_key.clone(),
            images: 0,
            annotation_count: 0,
            no_size: 0,
            text: String::new(),
            now,
        })
    }

    fn add_image(&mut self, width: &Value, height: &Value, id: u64, name: &str) -> Result<()> {
        self.text.clear();
        let fields = [
            ("width", Field::Value(width)),
            ("height", Field::Value(height)),
            ("id", Field::Int(id as i64)),
            ("file_name", Field::Text(name)),
        ];
        write_entry(&mut self.text, self.images == 0, &fields);
        self.out.write_all(self.text.as_bytes())?;
        self.images += 1;
        Ok(())
    }

    fn add_annotation(&mut self, fields: &[(&str, Field<'_>)]) -> Result<()> {
        self.text.clear();
        write_entry(&mut self.text, self.annotation_count == 0, fields);
        self.annotations.write_all(self.text.as_bytes())?;
        self.annotation_count += 1;
        Ok(())
    }
}

impl Writer for Coco {
    fn item(&mut self, item: &Item, media: &mut Media) -> Result<()> {
        let image_id = self.images;
        let Some(url) = item.input.get(&self.data_key) else {
            anyhow::bail!(
                "task {}: coco reads ${} from the task data, and it has none",
                item.id,
                self.data_key
            )
        };
        let Some(url) = url.as_str() else {
            anyhow::bail!(
                "task {}: coco reads one image URL from ${}, and it is {url}",
                item.id,
                self.data_key
            )
        };
        let name = media.place(url)?;
        let (mut width, mut height) = (Value::Null, Value::Null);
        if let Some((w, h)) = media.size(&name) {
            (width, height) = (w.into(), h.into());
            self.add_image(&width, &height, image_id, &name)?;
        }
        if item.outputs.is_empty() {
            if is_falsy(Some(&width)) {
                self.add_image(&width, &height, image_id, &name)?;
            }
            return Ok(());
        }
        let mut keypoints = Vec::new();
        for value in item.outputs.iter().flat_map(|(_, values)| values) {
            let keys = ["rectanglelabels", "polygonlabels", "keypointlabels", "labels"];
            let Some(category_name) = first_label(value, &keys) else { continue };
            if is_falsy(Some(&height)) || is_falsy(Some(&width)) {
                match (value.get("original_width"), value.get("original_height")) {
                    (Some(w), Some(h)) => {
                        (width, height) = (w.clone(), h.clone());
                        self.add_image(&width, &height, image_id, &name)?;
                    }
                    _ => {
                        self.no_size += 1;
                        continue;
                    }
                }
            }
            let category_id = self.categories.id(&category_name);
            let annotation_id = self.annotation_count;
            if value.contains_key("rectanglelabels") || value.contains_key("labels") {
                let Some((x, y, w, h)) = rotated_rectangle(value) else { continue };
                let (Some(ow), Some(oh)) =
                    (number(value, "original_width"), number(value, "original_height"))
                else {
                    self.no_size += 1;
                    continue;
                };
                let (x, y, w, h) = (x * ow / 100.0, y * oh / 100.0, w * ow / 100.0, h * oh / 100.0);
                self.add_annotation(&[
                    ("id", Field::Int(annotation_id as i64)),
                    ("image_id", Field::Int(image_id as i64)),
                    ("category_id", Field::Int(category_id)),
                    ("segmentation", Field::Floats(&[])),
                    ("bbox", Field::Floats(&[x, y, w, h])),
                    ("ignore", Field::Int(0)),
                    ("iscrowd", Field::Int(0)),
                    ("area", Field::Float(w * h)),
                ])?;
            } else if value.contains_key("polygonlabels") {
                let (Some(iw), Some(ih)) = (width.as_f64(), height.as_f64()) else { continue };
                let Some(points) = points(value) else {
                    self.no_size += 1;
                    continue;
                };
                let xs: Vec<f64> = points.iter().map(|(x, _)| x / 100.0 * iw).collect();
                let ys: Vec<f64> = points.iter().map(|(_, y)| y / 100.0 * ih).collect();
                let segmentation: Vec<f64> =
                    xs.iter().zip(&ys).flat_map(|(x, y)| [*x, *y]).collect();
                let (x1, y1) = (min(&xs), min(&ys));
                let (x2, y2) = (max(&xs), max(&ys));
                self.add_annotation(&[
                    ("id", Field::Int(annotation_id as i64)),
                    ("image_id", Field::Int(image_id as i64)),
                    ("category_id", Field::Int(category_id)),
                    ("segmentation", Field::FloatLists(&[segmentation])),
                    ("bbox", Field::Floats(&[x1, y1, x2 - x1, y2 - y1])),
                    ("ignore", Field::Int(0)),
                    ("iscrowd", Field::Int(0)),
                    ("area", Field::Float(polygon_area(&xs, &ys))),
                ])?;
            } else if value.contains_key("keypointlabels") {
                keypoints.push(value);
            }
        }
        if !keypoints.is_empty() {
            let annotation = self.keypoints(&keypoints, image_id)?;
            self.text.clear();
            self.text.push_str(if self.annotation_count == 0 { "\n    " } else { ",\n    " });
            write_dump(&annotation, 2, &mut self.text);
            self.annotations.write_all(self.text.as_bytes())?;
            self.annotation_count += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, notes: &mut Vec<String>) -> Result<()> {
        let mut text = String::new();
        text.push_str(if self.images == 0 {
            "],\n  \"categories\": "
        } else {
            "\n  ],\n  \"categories\": "
        });
        write_dump(&self.categories.to_json(), 1, &mut text);
        text.push_str(",\n  \"annotations\": [");
        self.out.write_all(text.as_bytes())?;
        let mut annotations = self.annotations.into_inner().map_err(|e| e.into_error())?;
        annotations.rewind()?;
        std::io::copy(&mut annotations, &mut self.out)?;
        let now = std::mem::take(&mut self.now);
        let info = json!({
            "year": now.0,
            "version": "1.0",
            "description": "",
            "contributor": "Label Studio",
            "url": "",
            "date_created": now.1,
        });
        let mut text = String::from(if self.annotation_count == 0 {
            "],\n  \"info\": "
        } else {
            "\n  ],\n  \"info\": "
        });
        write_dump(&info, 1, &mut text);
        text.push_str("\n}");
        self.out.write_all(text.as_bytes())?;
        self.out.flush().with_context(|| format!("writing {}", self.path.display()))?;
        if self.no_size > 0 {
            notes.push(format!(
                "{} regions skipped: they have no original_width/original_height (or points) and \
                 the image's size is unknown, as Label Studio's converter skips them",
                self.no_size
            ));
        }
        Ok(())
    }
}

impl Coco {
    /// The item's keypoints as one annotation, in `model_index` order (the converter's
    /// `process_keypoints_for_coco`).
    fn keypoints(&mut self, regions: &[&Map<String, Value>], image_id: u64) -> Result<Value> {
        let order = &self.keypoint_order;
        let mut points = vec![0i64; order.len() * 3];
        for region in regions {
            let (Some(w), Some(h), Some(x), Some(y)) = (
                number(region, "original_width"),
                number(region, "original_height"),
                number(region, "x"),
                number(region, "y"),
            ) else {
                self.no_size += 1;
                continue;
            };
            let (x, y) = (x / 100.0 * w, y / 100.0 * h);
            let labels =
                region.get("keypointlabels").and_then(Value::as_array).cloned().unwrap_or_default();
            let visible = if labels.is_empty() { 0 } else { 2 };
            for label in labels.iter().filter_map(Value::as_str) {
                if let Some(i) = order.iter().position(|k| k == label) {
                    points[3 * i] = x.round_ties_even() as i64;
                    points[3 * i + 1] = y.round_ties_even() as i64;
                    points[3 * i + 2] = visible;
                }
            }
        }
        let seen: Vec<usize> = (0..order.len()).filter(|i| points[3 * i + 2] > 0).collect();
        let bbox = if seen.is_empty() {
            vec![0, 0, 0, 0]
        } else {
            let xs: Vec<i64> = seen.iter().map(|i| points[3 * i]).collect();
            let ys: Vec<i64> = seen.iter().map(|i| points[3 * i + 1]).collect();
            let (x1, y1) = (*xs.iter().min().unwrap_or(&0), *ys.iter().min().unwrap_or(&0));
            let (x2, y2) = (*xs.iter().max().unwrap_or(&0), *ys.iter().max().unwrap_or(&0));
            vec![x1, y1, x2 - x1, y2 - y1]
        };
        let category_id = order.first().and_then(|k| self.categories.get(k)).unwrap_or(0);
        Ok(json!({
            "id": self.annotation_count,
            "image_id": image_id,
            "category_id": category_id,
            "keypoints": points,
            "num_keypoints": seen.len(),
            "bbox": bbox,
            "iscrowd": 0,
        }))
    }
}

/// COCO's categories: the config's labels (`Categories::from_labels`), with the keypoint
/// labels made one `default` category after all the others (its keypoints their names), as
/// `update_categories_for_keypoints` does.
fn categories(schema: &Schema) -> Categories {
    let keypoints = schema.labels_of("KeyPointLabels");
    let labels = Categories::from_labels(schema);
    if keypoints.is_empty() {
        return labels;
    }
    let kept: Vec<Category> =
        labels.list.into_iter().filter(|c| !keypoints.contains(&c.name)).collect();
    let merged = kept.iter().map(|c| c.id).max().map_or(0, |m| m + 1);
    let mut extra = Map::new();
    extra.insert("supercategory".into(), "default".into());
    extra.insert("keypoints".into(), keypoints.iter().map(|k| Value::from(k.as_str())).collect());
    extra.insert("skeleton".into(), Value::Array(Vec::new()));
    let mut categories = Categories::new(kept);
    // The keypoint labels all name the merged category ("default" itself is no label).
    categories.push_for(Category { id: merged, name: "default".into(), extra }, &keypoints);
    categories
}

/// A field of an image or annotation entry.
enum Field<'a> {
    Int(i64),
    Float(f64),
    /// A value as it came (a size from a region: a number, or null).
    Value(&'a Value),
    Text(&'a str),
    Floats(&'a [f64]),
    FloatLists(&'a [Vec<f64>]),
}

/// An entry of `images` or `annotations` as `ujson.dump(indent=2)` writes it there (the
/// entry at level 2, its members at 3, list items at 4 and 5), without building a JSON value.
fn write_entry(out: &mut String, is_first: bool, fields: &[(&str, Field<'_>)]) {
    out.push_str(if is_first { "\n    {" } else { ",\n    {" });
    for (i, (key, field)) in fields.iter().enumerate() {
        out.push_str(if i == 0 { "\n      \"" } else { ",\n      \"" });
        out.push_str(key);
        out.push_str("\": ");
        match field {
            Field::Int(v) => out.push_str(itoa::Buffer::new().format(*v)),
            Field::Float(v) => push_python_float(out, *v, true),
            Field::Value(v) => write_dump(v, 3, out),
            Field::Text(t) => write_ascii_string(t, out),
            Field::Floats(values) => write_floats(out, values, 4),
            Field::FloatLists([]) => out.push_str("[]"),
            Field::FloatLists(lists) => {
                out.push('[');
                for (j, list) in lists.iter().enumerate() {
                    out.push_str(if j == 0 { "\n        " } else { ",\n        " });
                    write_floats(out, list, 5);
                }
                out.push_str("\n      ]");
            }
        }
    }
    out.push_str("\n    }");
}

/// A list of floats, its items at `level`.
fn write_floats(out: &mut String, values: &[f64], level: usize) {
    if values.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.extend(std::iter::repeat_n("  ", level));
        push_python_float(out, *v, true);
    }
    out.push('\n');
    out.extend(std::iter::repeat_n("  ", level - 1));
    out.push(']');
}

/// A box's x, y, width and height; a rotated box as the upright box around it (the
/// converter's `rotated_rectangle`, step for step).
fn rotated_rectangle(value: &Map<String, Value>) -> Option<(f64, f64, f64, f64)> {
    let (x, y, w, h) = xywh(value)?;
    let r = if value.contains_key("rotation") { number(value, "rotation")? } else { 0.0 };
    if r.abs() <= 0.0 {
        return Some((x, y, w, h));
    }
    use std::f64::consts::PI;
    let alpha = (h / w).atan();
    let beta = PI * (r / 180.0);
    let radius = ((w / 2.0).powi(2) + (h / 2.0).powi(2)).sqrt();
    let x0 = x - radius * ((PI - alpha - beta).cos() - (PI - alpha).cos()) + w / 2.0;
    let y0 = y + radius * ((PI - alpha - beta).sin() - (PI - alpha).sin()) + h / 2.0;
    let thetas = [alpha + beta, PI - alpha + beta, PI + alpha + beta, 2.0 * PI - alpha + beta];
    let xs: Vec<f64> = thetas.iter().map(|t| x0 + radius * t.cos()).collect();
    let ys: Vec<f64> = thetas.iter().map(|t| y0 + radius * t.sin()).collect();
    let (left, top) = (min(&xs), min(&ys));
    Some((left, top, max(&xs) - left, max(&ys) - top))
}

/// A polygon's points (percent), when every point is a pair of numbers and there is one.
fn points(value: &Map<String, Value>) -> Option<Vec<(f64, f64)>> {
    let points = value.get("points")?.as_array()?;
    let out: Option<Vec<(f64, f64)>> = points
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([x, y]) => Some((x.as_f64()?, y.as_f64()?)),
            _ => None,
        })
        .collect();
    out.filter(|p| !p.is_empty())
}

/// Python's `min` of floats: the first of the smallest.
fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m })
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m })
}

/// The shoelace area `0.5 * |x·roll(y, 1) - y·roll(x, 1)|`, with the dot products summed in
/// the order numpy's OpenBLAS sums them on this machine (`dot`), so the last digit agrees.
fn polygon_area(xs: &[f64], ys: &[f64]) -> f64 {
    let roll = |v: &[f64]| -> Vec<f64> {
        let mut r = Vec::with_capacity(v.len());
        r.extend(v.last().copied());
        r.extend_from_slice(&v[..v.len().saturating_sub(1)]);
        r
    };
    0.5 * (dot(xs, &roll(ys)) - dot(ys, &roll(xs))).abs()
}

/// numpy's `dot` of two float vectors as OpenBLAS's AVX-512 kernel computes it: blocks of 32
/// into four 8-lane fused multiply-add accumulators, folded to 4 lanes, blocks of 16 into four
/// 4-lane ones, the lanes summed pairwise, then the tail (past a multiple of 16) one fused
/// multiply-add at a time.
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let n16 = n & !15;
    let n32 = n16 & !31;
    let mut wide = [[0.0f64; 8]; 4];
    let mut i = 0;
    while i < n32 {
        for (r, acc) in wide.iter_mut().enumerate() {
            for (l, a) in acc.iter_mut().enumerate() {
                let k = i + 8 * r + l;
                *a = x[k].mul_add(y[k], *a);
            }
        }
        i += 32;
    }
    let mut acc = [[0.0f64; 4]; 4];
    for (r, lanes) in acc.iter_mut().enumerate() {
        for (l, a) in lanes.iter_mut().enumerate() {
            *a = wide[r][l] + wide[r][l + 4];
        }
    }
    while i < n16 {
        for (r, lanes) in acc.iter_mut().enumerate() {
            for (l, a) in lanes.iter_mut().enumerate() {
                let k = i + 4 * r + l;
                *a = x[k].mul_add(y[k], *a);
            }
        }
        i += 16;
    }
    let mut sum = 0.0;
    if n16 > 0 {
        let s: Vec<f64> =
            (0..4).map(|l| ((acc[0][l] + acc[1][l]) + acc[2][l]) + acc[3][l]).collect();
        sum = (s[0] + s[2]) + (s[1] + s[3]);
    }
    while i < n {
        sum = x[i].mul_add(y[i], sum);
        i += 1;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values numpy 2 (OpenBLAS 0.3.29) gives for `np.dot` on this machine.
    #[test]
    fn dot_sums_as_numpy_does() {
        let x: Vec<f64> = (0..40).map(|i| (i as f64 * 0.37).sin() * 1000.0).collect();
        let y: Vec<f64> = (0..40).map(|i| (i as f64 * 0.91).cos() * 1000.0).collect();
        assert_eq!(dot(&x[..3], &y[..3]).to_bits(), DOT3.to_bits());
        assert_eq!(dot(&x[..20], &y[..20]).to_bits(), DOT20.to_bits());
        assert_eq!(dot(&x, &y).to_bits(), DOT40.to_bits());
    }

    const DOT3: f64 = 55638.749089145495;
    const DOT20: f64 = -1400708.2489631579;
    const DOT40: f64 = -1707915.5492473955;
}
