//! Brush masks: one file per brush region, PNG (8-bit grayscale) or NumPy (`.npy`, a
//! `uint8` array of height × width), named and decoded as the converter's `brush.py` does:
//! `task-<id>-annotation-<id>-by-<annotator>-<control>-<labels>-<n>`, where `n` counts the
//! regions of that control and labels within the annotation. A mask is Label Studio's RLE
//! (thi.ng's rle-pack) of the RGBA canvas; its alpha channel is the mask.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use super::media::Media;
use super::{Writer, annotator};
use crate::export::min::Item;
use crate::export::python::python_str;

pub struct Brush {
    dir: PathBuf,
    is_png: bool,
    no_size: u64,
}

impl Brush {
    pub fn new(dir: &Path, is_png: bool) -> Result<Brush> {
        Ok(Brush { dir: dir.to_path_buf(), is_png, no_size: 0 })
    }

    fn write(&self, name: &str, width: usize, height: usize, mask: &[u8]) -> Result<()> {
        let path = self.dir.join(format!("{name}.{}", if self.is_png { "png" } else { "npy" }));
        let bytes = if self.is_png { png(width, height, mask)? } else { npy(width, height, mask) };
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    }
}

impl Writer for Brush {
    fn item(&mut self, item: &Item, _media: &mut Media) -> Result<()> {
        let email: String = python_str(&annotator(item))
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '@' || *c == '.')
            .collect();
        let annotation_id = python_str(&item.field("id"));
        for (from_name, values) in &item.outputs {
            let mut counters: Vec<(String, u64)> = Vec::new();
            for value in values {
                let (name, width, height, mask) = match layer(item.id, from_name, value)? {
                    Some(Layer::Mask { name, width, height, mask }) => (name, width, height, mask),
                    Some(Layer::NoSize) => {
                        self.no_size += 1;
                        continue;
                    }
                    None => continue,
                };
                let n = match counters.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, n)) => {
                        *n += 1;
                        *n - 1
                    }
                    None => {
                        counters.push((name.clone(), 1));
                        0
                    }
                };
                let name = format!("{name}-{n}").replace(['/', '\\'], "-");
                self.write(
                    &format!("task-{}-annotation-{annotation_id}-by-{email}-{name}", item.id),
                    width,
                    height,
                    &mask,
                )?;
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>, notes: &mut Vec<String>) -> Result<()> {
        if self.no_size > 0 {
            notes.push(format!(
                "{} brush regions skipped: they have no original_width/original_height",
                self.no_size
            ));
        }
        Ok(())
    }
}

/// A brush region's mask, or a region without the image size (skipped and counted).
enum Layer {
    Mask { name: String, width: usize, height: usize, mask: Vec<u8> },
    NoSize,
}

/// One brush region: its name (`<control>-<labels joined by ->`), size and mask, or `None`
/// when it is not a brush region with an RLE.
fn layer(task: i64, from_name: &str, value: &Map<String, Value>) -> Result<Option<Layer>> {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let key = match kind.as_str() {
        "brushlabels" => "brushlabels",
        "labels" => "labels",
        _ => return Ok(None),
    };
    let Some(rle) = value.get("rle") else { return Ok(None) };
    let labels: Vec<String> = match value.get(key) {
        Some(Value::Array(items)) => items.iter().map(python_str).collect(),
        Some(Value::String(s)) => s.chars().map(String::from).collect(),
        _ => vec!["no_label".into()],
    };
    let size = |k: &str| value.get(k).and_then(Value::as_u64).map(|v| v as usize);
    let (Some(width), Some(height)) = (size("original_width"), size("original_height")) else {
        return Ok(Some(Layer::NoSize));
    };
    let bytes: Vec<u8> = match rle.as_array() {
        Some(items) => items
            .iter()
            .map(|b| b.as_u64().filter(|b| *b < 256).map(|b| b as u8))
            .collect::<Option<_>>(),
        None => None,
    }
    .with_context(|| {
        format!("task {task}: the rle of a brush region of {from_name} is not a list of bytes")
    })?;
    let pixels = decode_rle(&bytes)
        .with_context(|| format!("task {task}: decoding a brush region of {from_name}"))?;
    let expected = width.checked_mul(height).and_then(|n| n.checked_mul(4));
    if expected != Some(pixels.len()) {
        bail!(
            "task {task}: a brush region of {from_name} holds {} values, not the {width}×{height}×4 \
             of its RGBA canvas; its rle or original_width/original_height is wrong",
            pixels.len()
        );
    }
    let mask = pixels.chunks_exact(4).map(|px| px[3]).collect();
    Ok(Some(Layer::Mask { name: format!("{from_name}-{}", labels.join("-")), width, height, mask }))
}

/// Bits read most significant first.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Result<u64> {
        let mut out = 0u64;
        for _ in 0..n {
            let byte = self.data.get(self.at / 8).context("the RLE ends early")?;
            out = (out << 1) | u64::from((byte >> (7 - self.at % 8)) & 1);
            self.at += 1;
        }
        Ok(out)
    }
}

/// Label Studio's RLE: a count, a word size, four run-length sizes, then runs (a repeated
/// word) and literal words. Each word is kept as Python's `uint8` keeps it (its low byte).
pub fn decode_rle(data: &[u8]) -> Result<Vec<u8>> {
    let mut bits = Bits { data, at: 0 };
    let count = bits.read(32)? as usize;
    let word = bits.read(5)? as usize + 1;
    let mut sizes = [0usize; 4];
    for size in &mut sizes {
        *size = bits.read(4)? as usize + 1;
    }
    if count > data.len().saturating_mul(8 * 65536) {
        bail!("the RLE claims {count} values, more than its bits can hold");
    }
    let mut out = vec![0u8; count];
    let mut i = 0;
    while i < count {
        let is_run = bits.read(1)? == 1;
        let kind = bits.read(2)? as usize;
        let j = (i + 1 + bits.read(sizes[kind])? as usize).min(count);
        if is_run {
            let v = bits.read(word)? as u8;
            out[i..j].fill(v);
            i = j;
        } else {
            while i < j {
                out[i] = bits.read(word)? as u8;
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A grayscale PNG of the mask.
fn png(width: usize, height: usize, mask: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, width as u32, height as u32);
    encoder.set_color(::png::ColorType::Grayscale);
    encoder.set_depth(::png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(mask)?;
    writer.finish()?;
    Ok(out)
}

/// NumPy's `.npy` (format 1.0) of a `uint8` array of `height × width`, as numpy 2's `np.save`
/// writes it: the header dict, room for the first axis to grow to 21 digits, then spaces so
/// the data starts at a multiple of 64 bytes.
fn npy(width: usize, height: usize, mask: &[u8]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({height}, {width}), }}");
    header.push_str(&" ".repeat(21usize.saturating_sub(height.to_string().len())));
    let pad = 64 - (10 + header.len() + 1) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + mask.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(mask);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Malformed RLE is an error, never a panic or a huge allocation.
    #[test]
    fn bad_rle_fails_cleanly() {
        assert!(decode_rle(&[]).is_err());
        assert!(decode_rle(&[0xff; 6]).is_err(), "claims 4 billion values in 6 bytes");
        assert!(decode_rle(&[0, 0, 0, 10, 0xff, 0xff]).is_err(), "ends early");
        let mut state = 7u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8
                })
                .collect();
            let _ = decode_rle(&bytes);
        }
    }
}
