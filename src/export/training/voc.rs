//! Pascal VOC: `Annotations/<image stem>.xml` per image with its boxes in whole pixels, and
//! an empty `images/` folder, as the converter's `convert_to_voc` writes them (the XML as
//! Python's minidom prints it). The image size is the first region's
//! `original_width`/`original_height`; an item whose first region has none is skipped.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use super::media::{IMAGES, Media, basename, stem};
use super::schema::Schema;
use super::{Writer, annotator, xywh};
use crate::export::min::Item;
use crate::export::python::python_str;

pub struct Voc {
    annotations: PathBuf,
    data_key: String,
    no_size: u64,
}

impl Voc {
    pub fn new(dir: &Path, schema: &Schema) -> Result<Voc> {
        std::fs::create_dir_all(dir.join(IMAGES))?;
        Ok(Voc {
            annotations: dir.join("Annotations"),
            data_key: schema.data_key.clone(),
            no_size: 0,
        })
    }
}

impl Writer for Voc {
    fn item(&mut self, item: &Item, media: &mut Media) -> Result<()> {
        let Some(Value::String(url)) = item.input.get(&self.data_key) else {
            anyhow::bail!(
                "task {}: voc reads one image URL from ${}, and the task has none",
                item.id,
                self.data_key
            )
        };
        std::fs::create_dir_all(&self.annotations)?;
        let name = media.place(url)?;
        let regions: Vec<&Map<String, Value>> = item.outputs.iter().flat_map(|(_, v)| v).collect();
        let Some(first) = regions.first() else { return Ok(()) };
        let (Some(width), Some(height)) =
            (first.get("original_width"), first.get("original_height"))
        else {
            self.no_size += 1;
            return Ok(());
        };
        let image_name = basename(&name);
        let mut xml = Xml::default();
        xml.open("annotation");
        xml.leaf("folder", IMAGES);
        xml.leaf("filename", image_name);
        xml.open("source");
        xml.leaf("database", "MyDatabase");
        xml.leaf("annotation", "COCO2017");
        xml.leaf("image", "flickr");
        xml.leaf("flickrid", "NULL");
        xml.leaf("annotator", &python_str(&annotator(item)));
        xml.close("source");
        xml.open("owner");
        xml.leaf("flickrid", "NULL");
        xml.leaf("name", "Label Studio");
        xml.close("owner");
        xml.open("size");
        xml.leaf("width", &python_str(width));
        xml.leaf("height", &python_str(height));
        xml.leaf("depth", "3");
        xml.close("size");
        xml.leaf("segmented", "0");
        let (w_px, h_px) =
            (width.as_f64().unwrap_or(f64::NAN), height.as_f64().unwrap_or(f64::NAN));
        for region in &regions {
            let key = if region.contains_key("rectanglelabels") {
                "rectanglelabels"
            } else if region.contains_key("labels") {
                "labels"
            } else {
                continue;
            };
            let Some(label) = region.get(key).and_then(Value::as_array).and_then(|l| l.first())
            else {
                continue;
            };
            let Some((x, y, w, h)) = xywh(region) else { continue };
            let x = (x / 100.0 * w_px) as i64;
            let y = (y / 100.0 * h_px) as i64;
            let w = (w / 100.0 * w_px) as i64;
            let h = (h / 100.0 * h_px) as i64;
            xml.open("object");
            xml.leaf("name", &python_str(label));
            xml.leaf("pose", "Unspecified");
            xml.leaf("truncated", "0");
            xml.leaf("difficult", "0");
            xml.open("bndbox");
            xml.leaf("xmin", &x.to_string());
            xml.leaf("ymin", &y.to_string());
            xml.leaf("xmax", &(x + w).to_string());
            xml.leaf("ymax", &(y + h).to_string());
            xml.close("bndbox");
            xml.close("object");
        }
        xml.close("annotation");
        let path = self.annotations.join(format!("{}.xml", stem(image_name)));
        std::fs::write(&path, xml.text).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    fn finish(self: Box<Self>, notes: &mut Vec<String>) -> Result<()> {
        if self.no_size > 0 {
            notes.push(format!(
                "{} annotations skipped: their first region has no original_width/original_height, \
                 as Label Studio's converter skips them",
                self.no_size
            ));
        }
        Ok(())
    }
}

/// XML as minidom's `writexml(addindent="", newl="\n")` prints it.
struct Xml {
    text: String,
}

impl Default for Xml {
    fn default() -> Xml {
        Xml { text: "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n".into() }
    }
}

impl Xml {
    fn open(&mut self, tag: &str) {
        self.text.push_str(&format!("<{tag}>\n"));
    }

    fn close(&mut self, tag: &str) {
        self.text.push_str(&format!("</{tag}>\n"));
    }

    fn leaf(&mut self, tag: &str, text: &str) {
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
            .replace('>', "&gt;");
        self.text.push_str(&format!("<{tag}>{escaped}</{tag}>\n"));
    }
}
