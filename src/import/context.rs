//! What readers share during one import: the label config, the data key chosen for each
//! kind of one-value task, and notes for the user.

use anyhow::{Result, bail};

use crate::formats::MediaKind;
use crate::labelconfig::LabelConfig;

/// Shared state for readers: the config, the chosen keys and notes for the user.
pub struct ReadContext<'a> {
    pub config: Option<&'a LabelConfig>,
    pub key: Option<String>,
    pub host_url: String,
    pub notes: Vec<String>,
    pub chosen: Vec<(MediaKind, String)>,
}

impl ReadContext<'_> {
    /// The data key for one-value tasks of this kind (chosen once per kind).
    pub fn key_for(&mut self, kind: MediaKind) -> Result<String> {
        if let Some((_, key)) = self.chosen.iter().find(|(k, _)| *k == kind) {
            return Ok(key.clone());
        }
        let key = choose_key(kind, self.key.as_deref(), self.config, &mut self.notes)?;
        self.chosen.push((kind, key.clone()));
        Ok(key)
    }
}

/// Choose the data key for one-value tasks of `kind`: `--key`, else the config's one tag
/// that fits, else its first object tag (with a note), else the default name.
pub fn choose_key(
    kind: MediaKind,
    key: Option<&str>,
    config: Option<&LabelConfig>,
    notes: &mut Vec<String>,
) -> Result<String> {
    if let Some(key) = key {
        return Ok(key.to_string());
    }
    let Some(config) = config.filter(|c| !c.objects.is_empty()) else {
        return Ok(kind.default_key().to_string());
    };
    let mut fitting: Vec<_> = config.objects_of(kind.tags()).collect();
    fitting.dedup_by(|a, b| a.key == b.key);
    let mut keys: Vec<&str> = fitting.iter().map(|o| o.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    match keys.len() {
        1 => Ok(keys[0].to_string()),
        0 => {
            let first = &config.objects[0];
            notes.push(format!(
                "note: the label config has no {} tag; putting each value in ${} of <{}>",
                kind.tags().join("/"),
                first.key,
                first.tag
            ));
            Ok(first.key.clone())
        }
        _ => {
            let names: Vec<String> = fitting
                .iter()
                .map(|o| {
                    format!("<{} name=\"{}\"> (${})", o.tag, o.name.as_deref().unwrap_or(""), o.key)
                })
                .collect();
            bail!(
                "the label config has several tags that could take these values: {}; choose \
                 one with --key {}",
                names.join(", "),
                fitting[0].key
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_choice_follows_the_config() -> Result<()> {
        let config = crate::labelconfig::parse_label_config(
            r#"<View><Text name="a" value="$t1"/><Text name="b" value="$t2"/><Image name="i" value="$img"/></View>"#,
            "c.xml",
        )?;
        let mut notes = Vec::new();
        assert_eq!(choose_key(MediaKind::Image, None, Some(&config), &mut notes)?, "img");
        assert_eq!(choose_key(MediaKind::Text, Some("t2"), Some(&config), &mut notes)?, "t2");
        let err = choose_key(MediaKind::Text, None, Some(&config), &mut notes).unwrap_err();
        assert!(err.to_string().contains("choose one with --key t1"), "{err}");
        assert_eq!(choose_key(MediaKind::Audio, None, Some(&config), &mut notes)?, "t1");
        assert_eq!(notes.len(), 1);
        assert_eq!(choose_key(MediaKind::Audio, None, None, &mut notes)?, "audio");
        Ok(())
    }
}
