//! Built-in label configs for `--template NAME`, `lsdb templates` and
//! `lsdb config template`. Each is an XML file next to this module, embedded at build time;
//! each has an example task file in `fixtures/templates/` that imports cleanly against it.

use anyhow::{Result, bail};

/// A built-in label config.
pub struct Template {
    pub name: &'static str,
    pub about: &'static str,
    pub xml: &'static str,
}

/// Every built-in template, by name.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "image_bbox",
        about: "images with rectangle labels (object detection)",
        xml: include_str!("image_bbox.xml"),
    },
    Template {
        name: "image_polygons",
        about: "images with polygon labels (segmentation)",
        xml: include_str!("image_polygons.xml"),
    },
    Template {
        name: "image_keypoints",
        about: "images with key points",
        xml: include_str!("image_keypoints.xml"),
    },
    Template {
        name: "image_classification",
        about: "one class per image",
        xml: include_str!("image_classification.xml"),
    },
    Template {
        name: "audio_transcribe",
        about: "audio with a transcription",
        xml: include_str!("audio_transcribe.xml"),
    },
    Template {
        name: "audio_classification",
        about: "one class per audio clip",
        xml: include_str!("audio_classification.xml"),
    },
    Template {
        name: "audio_regions",
        about: "audio regions labeled by speaker",
        xml: include_str!("audio_regions.xml"),
    },
    Template {
        name: "text_classification",
        about: "sentiment of a text",
        xml: include_str!("text_classification.xml"),
    },
    Template {
        name: "text_named_entity",
        about: "named entities in a text",
        xml: include_str!("text_named_entity.xml"),
    },
    Template {
        name: "text_summarization",
        about: "a summary of a text",
        xml: include_str!("text_summarization.xml"),
    },
    Template {
        name: "html_classification",
        about: "topic of an HTML page",
        xml: include_str!("html_classification.xml"),
    },
    Template {
        name: "time_series",
        about: "time series from a CSV URL, with channels x and y",
        xml: include_str!("time_series.xml"),
    },
    Template {
        name: "time_series_json",
        about: "time series given as column arrays in the task",
        xml: include_str!("time_series_json.xml"),
    },
    Template {
        name: "video_classification",
        about: "one class per video",
        xml: include_str!("video_classification.xml"),
    },
];

/// The XML of the template called `name`.
pub fn template(name: &str) -> Result<&'static str> {
    match TEMPLATES.iter().find(|t| t.name == name) {
        Some(t) => Ok(t.xml),
        None => {
            let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
            bail!("no template called {name:?}; the templates are {}", names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_with_objects_and_controls() -> Result<()> {
        for t in TEMPLATES {
            let config = crate::labelconfig::parse_label_config(t.xml, t.name)?;
            assert!(!config.objects.is_empty(), "{}", t.name);
            assert!(!config.controls.is_empty(), "{}", t.name);
        }
        assert!(template("nope").unwrap_err().to_string().contains("image_bbox"));
        Ok(())
    }
}
