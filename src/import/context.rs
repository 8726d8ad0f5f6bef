//! What readers share during one import: the label config, the data key chosen for each
//! kind of one-value task, and notes for the user.

use anyhow::Result;

use super::format::{self, MediaKind};
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
        let key = format::choose_key(kind, self.key.as_deref(), self.config, &mut self.notes)?;
        self.chosen.push((kind, key.clone()));
        Ok(key)
    }
}
