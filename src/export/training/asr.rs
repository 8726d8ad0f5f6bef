//! ASR manifest: `manifest.json`, one JSON object a line (`audio_filepath`, `duration`,
//! `text`, `annotator`) for NVIDIA NeMo, and the audio files in `audio/`, as the converter's
//! `convert_to_asr_json_manifest` writes them when it can read the audio
//! (`download_resources=True`; without the files it can measure nothing and writes no line).
//!
//! The audio lsdb reads: a local file named by lsdb's own URL (`<host>/data/<name>?d=<folder>`,
//! copied to `audio/<name>`, written as `audio/<name>` as the converter writes a download), and
//! with `--document-root DIR` a Label Studio local-files URL (`/data/local-files/?d=<path>`,
//! copied, written as the file's own path, as the converter writes a local-storage file).
//! Durations are read from the WAV header (PCM only, as Python's `wave`). Other audio is
//! skipped and counted.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use super::media::{basename, url_path};
use super::schema::Schema;
use super::{Media, Writer, annotator};
use crate::export::min::Item;
use crate::export::python::{PYTHON_JSON, python_float, write_compact};

pub struct Asr {
    audio: PathBuf,
    out: BufWriter<File>,
    data_key: String,
    /// Label Studio's `LOCAL_FILES_DOCUMENT_ROOT` for `/data/local-files/?d=` URLs.
    document_root: Option<PathBuf>,
    /// The transcript values of the last item that had some: the converter gives them to
    /// an item without any.
    last: Option<Vec<Map<String, Value>>>,
    unread: u64,
    reused: u64,
    untranscribed: u64,
}

impl Asr {
    pub fn new(dir: &Path, schema: &Schema, document_root: Option<PathBuf>) -> Result<Asr> {
        let audio = dir.join("audio");
        std::fs::create_dir_all(&audio)?;
        let path = dir.join("manifest.json");
        let out = BufWriter::new(
            File::create(&path).with_context(|| format!("writing {}", path.display()))?,
        );
        Ok(Asr {
            audio,
            out,
            data_key: schema.data_key.clone(),
            document_root,
            last: None,
            unread: 0,
            reused: 0,
            untranscribed: 0,
        })
    }

    /// The audio file's name in the manifest and its copy in `audio/`, or `None` when lsdb
    /// cannot read it.
    fn copy(&self, url: &str) -> Result<Option<(String, PathBuf)>> {
        let (name, source) = if let Some((_, source)) = crate::fileurl::parse_local_file_url(url) {
            (format!("audio/{}", basename(url_path(url))), source)
        } else if url.starts_with("/data/") && url.contains("?d=") {
            let Some(source) = self.local_storage_file(url) else { return Ok(None) };
            (source.to_string_lossy().into_owned(), source)
        } else {
            return Ok(None);
        };
        if !source.is_file() {
            return Ok(None);
        }
        let file_name = match name.strip_prefix("audio/") {
            Some(n) => n.to_string(),
            None => {
                source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            }
        };
        let copy = self.audio.join(&file_name);
        if !copy.exists() {
            std::fs::copy(&source, &copy)
                .with_context(|| format!("copying {} to {}", source.display(), copy.display()))?;
        }
        Ok(Some((name, copy)))
    }

    /// The file of a `/data/local-files/?d=<path>` URL under the document root (never
    /// outside it), as Label Studio serves it.
    fn local_storage_file(&self, url: &str) -> Option<PathBuf> {
        let root = self.document_root.as_ref()?;
        let query = url.split_once('?')?.1;
        let d = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "d")
            .last()?
            .1
            .into_owned();
        let mut path = root.clone();
        for part in Path::new(&d).components() {
            match part {
                Component::Normal(p) => path.push(p),
                Component::ParentDir if path != *root => {
                    path.pop();
                }
                Component::ParentDir => return None,
                _ => {}
            }
        }
        Some(path)
    }
}

impl Writer for Asr {
    fn item(&mut self, item: &Item, _media: &mut Media) -> Result<()> {
        let Some(Value::String(url)) = item.input.get(&self.data_key) else {
            self.unread += 1;
            return Ok(());
        };
        let Some((name, copy)) = self.copy(url)? else {
            self.unread += 1;
            return Ok(());
        };
        let Some(duration) = wav_duration(&copy) else {
            self.unread += 1;
            return Ok(());
        };
        // The first control whose first value has a text; else the last control; an item
        // without any takes the last item's (the converter's loop variable outlives it).
        let mut texts = None;
        for (_, values) in &item.outputs {
            texts = Some(values.clone());
            if values.first().is_some_and(|v| v.contains_key("text")) {
                break;
            }
        }
        if texts.is_none() {
            texts = self.last.clone();
            if texts.is_some() {
                self.reused += 1;
            }
        }
        self.last = texts.clone();
        let transcript =
            texts.as_ref().and_then(|t| t.first()).and_then(|v| v.get("text")).and_then(
                |t| match t {
                    Value::Array(items) => items.first().cloned(),
                    Value::String(s) => s.chars().next().map(|c| Value::String(c.to_string())),
                    _ => None,
                },
            );
        let Some(transcript) = transcript else {
            self.untranscribed += 1;
            return Ok(());
        };
        let annotator = annotator(item);
        let mut line = String::from("{\"audio_filepath\": ");
        write_compact(&Value::String(name), &PYTHON_JSON, &mut line);
        line.push_str(", \"duration\": ");
        line.push_str(&python_float(duration, false));
        line.push_str(", \"text\": ");
        write_compact(&transcript, &PYTHON_JSON, &mut line);
        line.push_str(", \"annotator\": ");
        write_compact(&annotator, &PYTHON_JSON, &mut line);
        line.push_str("}\n");
        self.out.write_all(line.as_bytes())?;
        Ok(())
    }

    fn finish(mut self: Box<Self>, notes: &mut Vec<String>) -> Result<()> {
        self.out.flush()?;
        if self.unread > 0 {
            notes.push(format!(
                "{} audio files skipped: lsdb reads local files its own URLs name, \
                 /data/local-files/ URLs under --document-root, and PCM WAV durations",
                self.unread
            ));
        }
        if self.reused > 0 {
            notes.push(format!(
                "{} audio files without a transcript were given the one before, as Label Studio's \
                 converter does",
                self.reused
            ));
        }
        if self.untranscribed > 0 {
            notes.push(format!(
                "{} audio files skipped: no transcript (TextArea text) to write",
                self.untranscribed
            ));
        }
        Ok(())
    }
}

/// Seconds of a PCM WAV file, as Python's `wave` reads it (frames of the data chunk over the
/// frame rate); `None` for anything else.
fn wav_duration(path: &Path) -> Option<f64> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return None;
    }
    let mut format: Option<(u16, u32, u16)> = None;
    loop {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk).ok()?;
        let size = u32::from_le_bytes(chunk[4..].try_into().ok()?) as u64;
        match &chunk[..4] {
            b"fmt " => {
                let mut fmt = [0u8; 16];
                file.read_exact(&mut fmt).ok()?;
                let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
                if tag != 1 {
                    return None;
                }
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                let rate = u32::from_le_bytes(fmt[4..8].try_into().ok()?);
                let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
                format = Some((channels, rate, bits.div_ceil(8)));
                skip(&mut file, (size + (size & 1)).checked_sub(16)?)?;
            }
            b"data" => {
                let (channels, rate, width) = format?;
                let frame = u64::from(channels) * u64::from(width);
                if frame == 0 || rate == 0 {
                    return None;
                }
                return Some((size / frame) as f64 / f64::from(rate));
            }
            _ => skip(&mut file, size + (size & 1))?,
        }
    }
}

fn skip(file: &mut File, n: u64) -> Option<()> {
    let copied = std::io::copy(&mut file.take(n), &mut std::io::sink()).ok()?;
    (copied == n).then_some(())
}
