//! Input formats: their names, the media kinds and their file extensions, and guessing a
//! format from a path.

use std::path::Path;

use anyhow::{Result, bail};

/// The input formats of Label Studio's import guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A JSON list of tasks, or one task object.
    Json,
    /// One JSON task a line.
    Jsonl,
    /// Every .json file under a folder.
    JsonDir,
    /// Comma- (or semicolon-) separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One task a line.
    Text,
    /// A list of URLs, one a line (images.txt, audios.txt, time-series.txt).
    UrlList,
    /// Every .txt file under a folder, one task a line.
    TextDir,
    /// Every image under a folder, one task a file.
    ImageDir,
    /// Every audio file under a folder, one task a file.
    AudioDir,
    /// Every .csv/.tsv file under a folder, one time-series task a file.
    TimeseriesDir,
    /// Single image, audio or video files, one task each.
    Media,
}

impl Format {
    /// The name users type (`--format image-dir`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::JsonDir => "json-dir",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Text => "text",
            Format::UrlList => "url-list",
            Format::TextDir => "text-dir",
            Format::ImageDir => "image-dir",
            Format::AudioDir => "audio-dir",
            Format::TimeseriesDir => "timeseries-dir",
            Format::Media => "media",
        }
    }

    /// True for formats that read a folder.
    pub fn is_dir(self) -> bool {
        matches!(
            self,
            Format::JsonDir
                | Format::TextDir
                | Format::ImageDir
                | Format::AudioDir
                | Format::TimeseriesDir
        )
    }
}

/// What a single value is, which decides the object tag that takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    TimeSeries,
    Text,
}

impl MediaKind {
    /// The object tags that take this kind of value.
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => &["Image"],
            MediaKind::Audio => &["Audio", "AudioPlus"],
            MediaKind::Video => &["Video"],
            MediaKind::TimeSeries => &["TimeSeries"],
            MediaKind::Text => &["Text", "HyperText"],
        }
    }

    /// The data key used when there is no label config.
    pub fn default_key(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::TimeSeries => "timeseries",
            MediaKind::Text => "text",
        }
    }
}

pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"];
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "aiff", "mp3", "au", "flac", "ogg", "m4a"];
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "webm", "mov", "avi", "mkv"];
pub const SERIES_EXTENSIONS: &[&str] = &["csv", "tsv"];

/// The lower-cased extension of a file name or path ('?' and '#' are part of a file's name;
/// for a URL, see `url_media_kind`).
pub fn extension(name: &str) -> Option<String> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = file.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// The media kind a file name or path has by its extension.
pub fn media_kind(name: &str) -> Option<MediaKind> {
    kind_of_extension(&extension(name)?)
}

/// The media kind a URL has by its path's extension (its query and fragment ignored).
pub fn url_media_kind(url: &str) -> Option<MediaKind> {
    media_kind(url.split(['?', '#']).next().unwrap_or(url))
}

/// The media kind of a lower-cased extension.
pub fn kind_of_extension(ext: &str) -> Option<MediaKind> {
    if IMAGE_EXTENSIONS.contains(&ext) {
        Some(MediaKind::Image)
    } else if AUDIO_EXTENSIONS.contains(&ext) {
        Some(MediaKind::Audio)
    } else if VIDEO_EXTENSIONS.contains(&ext) {
        Some(MediaKind::Video)
    } else if SERIES_EXTENSIONS.contains(&ext) {
        Some(MediaKind::TimeSeries)
    } else {
        None
    }
}

/// What a file or bucket object is to a format: a file of tasks to read, or one task whose
/// data is the file's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// One task whose data is the file's URL (or URI).
    Media(MediaKind),
    /// A file of tasks in this format.
    File(Format),
}

/// The one table of which files a format reads, for local folders, bucket listings and
/// guessing alike: what a file of this name is to `format` (to its own extension when
/// `None`), or `None` when the format skips it.
pub fn reads(name: &str, format: Option<Format>) -> Option<Reads> {
    reads_extension(&extension(name).unwrap_or_default(), format)
}

/// `reads` for a file of this (lower-cased) extension.
fn reads_extension(ext: &str, format: Option<Format>) -> Option<Reads> {
    let media = kind_of_extension(ext);
    let is_text = ext == "txt" || ext == "text";
    Some(match format {
        None => match ext {
            "json" => Reads::File(Format::Json),
            "jsonl" | "ndjson" => Reads::File(Format::Jsonl),
            "tsv" => Reads::File(Format::Tsv),
            "csv" => Reads::File(Format::Csv),
            _ if is_text => Reads::File(Format::Text),
            _ => Reads::Media(media?),
        },
        Some(Format::JsonDir) if ext == "json" => Reads::File(Format::Json),
        Some(Format::TextDir) if is_text => Reads::File(Format::Text),
        Some(Format::ImageDir) if media == Some(MediaKind::Image) => Reads::Media(MediaKind::Image),
        Some(Format::AudioDir) if media == Some(MediaKind::Audio) => Reads::Media(MediaKind::Audio),
        Some(Format::TimeseriesDir) if media == Some(MediaKind::TimeSeries) => {
            Reads::Media(MediaKind::TimeSeries)
        }
        Some(Format::Media) => Reads::Media(media?),
        Some(
            f @ (Format::Json
            | Format::Jsonl
            | Format::Csv
            | Format::Tsv
            | Format::Text
            | Format::UrlList),
        ) => Reads::File(f),
        Some(_) => return None,
    })
}

/// Guess the format of one input path.
pub fn guess_format(path: &Path) -> Result<Format> {
    let shown = path.display();
    if path.is_dir() {
        return guess_dir_format(path);
    }
    let name = path.to_string_lossy();
    let Some(ext) = extension(&name) else {
        bail!(
            "can't tell the format of {shown}: it has no extension; pass --format (json, jsonl, csv, tsv, text, ...)"
        );
    };
    match reads(&name, None) {
        Some(Reads::File(format)) => Ok(format),
        Some(Reads::Media(_)) => Ok(Format::Media),
        None => bail!(
            "can't tell the format of {shown} from its extension .{ext}; pass --format \
             (json, jsonl, csv, tsv, text, ...)"
        ),
    }
}

/// A folder's format: what most of its files are.
fn guess_dir_format(path: &Path) -> Result<Format> {
    // The folder formats, the first winning a tie.
    let formats = [
        Format::JsonDir,
        Format::ImageDir,
        Format::AudioDir,
        Format::TimeseriesDir,
        Format::TextDir,
    ];
    let mut counts = [0usize; 5];
    for entry in walkdir::WalkDir::new(path).follow_links(false).into_iter().flatten().take(100_000)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let ext = extension(&entry.file_name().to_string_lossy()).unwrap_or_default();
        if let Some(i) = formats.iter().position(|f| reads_extension(&ext, Some(*f)).is_some()) {
            counts[i] += 1;
        }
    }
    let best = (0..5).filter(|&i| counts[i] > 0).max_by_key(|&i| (counts[i], 5 - i));
    match best {
        Some(i) => Ok(formats[i]),
        None => bail!(
            "can't tell the format of folder {}: it holds no .json, image, audio, .csv or .txt \
             files; pass --format",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_ignore_case_and_url_queries() {
        assert_eq!(extension("a/B.JPG"), Some("jpg".into()));
        assert_eq!(extension("a/cat#1.Png"), Some("png".into()));
        assert_eq!(extension("what?.wav"), Some("wav".into()));
        assert_eq!(url_media_kind("https://x.y/a.wav?sig=1.2"), Some(MediaKind::Audio));
        assert_eq!(url_media_kind("https://x.y/a.png#frag.txt"), Some(MediaKind::Image));
        assert_eq!(url_media_kind("https://x.y/a?b.png"), None);
        assert_eq!(media_kind("x.TIFF"), Some(MediaKind::Image));
        assert_eq!(media_kind("notes"), None);
    }
}
