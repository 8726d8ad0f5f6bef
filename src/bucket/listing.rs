//! Listing a bucket prefix and deciding what each object is: a media file (one task, its
//! URI in the data) or a task file (JSON, JSONL, CSV, TSV, text) read as tasks.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{Bucket, ObjectInfo};
pub use crate::formats::Reads as ObjectKind;
use crate::formats::{self, Format, MediaKind};

/// Which objects of a bucket to read, and how: Label Studio's storage options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListOptions {
    /// A prefix below the URL's own path.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prefix: Option<String>,
    /// Keys must match this regular expression in full.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub regex_filter: Option<String>,
    /// List every level under the prefix, not only the objects right in it.
    #[serde(default)]
    pub recursive: bool,
    /// Every object is one task whose data is its URI, whatever its extension.
    #[serde(default)]
    pub use_blob_urls: bool,
    /// How to read the objects (by each object's extension when left out).
    #[serde(skip_serializing_if = "Option::is_none", default, with = "format_name")]
    pub format: Option<Format>,
}

/// One object to read.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub info: ObjectInfo,
    pub kind: ObjectKind,
}

/// The objects a listing chose.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub objects: Vec<Listed>,
    /// Objects listed but not read (other extensions, or not matching the filter).
    pub skipped: u64,
    /// Subfolders a one-level listing did not go into.
    pub subfolders: u64,
    /// The folder listed ("" or ending in '/'), or the one object's key.
    pub prefix: String,
}

/// The rules a listing applies to each key, shared by listing and by a sync's check of
/// which stored objects it covers.
pub struct Selector {
    prefix: String,
    recursive: bool,
    use_blob_urls: bool,
    format: Option<Format>,
    regex: Option<regex::Regex>,
}

impl Selector {
    pub fn new(path: &str, opts: &ListOptions) -> Result<Selector> {
        let regex =
            match &opts.regex_filter {
                Some(re) => Some(regex::Regex::new(&format!("^(?:{re})$")).with_context(|| {
                    format!("--regex-filter {re:?} is not a regular expression")
                })?),
                None => None,
            };
        if opts.use_blob_urls
            && matches!(opts.format, Some(f) if !matches!(f, Format::ImageDir | Format::AudioDir | Format::TimeseriesDir | Format::Media))
        {
            bail!(
                "--use-blob-urls makes one task per object; it does not go with --format {}",
                opts.format.map(Format::name).unwrap_or_default()
            );
        }
        Ok(Selector {
            prefix: folder(path, opts.prefix.as_deref()),
            recursive: opts.recursive,
            use_blob_urls: opts.use_blob_urls,
            format: opts.format,
            regex,
        })
    }

    /// The folder listed: "" or ending in '/'.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True when the key is under the listed folder (at its level unless recursive).
    pub fn covers(&self, key: &str) -> bool {
        let Some(rest) = key.strip_prefix(&self.prefix) else { return false };
        self.recursive || !rest.contains('/')
    }

    /// What the object of this key gives, or `None` when it is not read.
    pub fn kind(&self, key: &str) -> Option<ObjectKind> {
        if self.regex.as_ref().is_some_and(|re| !re.is_match(key)) {
            return None;
        }
        object_kind(key, self.format, self.use_blob_urls)
    }
}

/// The folder a URL path and a `--prefix` name together: "" or ending in '/'.
fn folder(path: &str, prefix: Option<&str>) -> String {
    let mut joined = path.trim_start_matches('/').to_string();
    if let Some(prefix) = prefix.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        if !joined.is_empty() && !joined.ends_with('/') {
            joined.push('/');
        }
        joined.push_str(prefix);
    }
    if !joined.is_empty() && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

/// What an object of this key gives under `format` (by its extension when `None`): the
/// table in `formats::reads`, except that with `use_blob_urls` every object of a media
/// listing is one task.
pub fn object_kind(key: &str, format: Option<Format>, use_blob_urls: bool) -> Option<ObjectKind> {
    // '?' and '#' are part of a key, not a query or fragment as in a URL.
    let name = key.replace(['?', '#'], "_");
    if use_blob_urls && matches!(format, None | Some(Format::Media)) {
        return Some(ObjectKind::Media(formats::media_kind(&name).unwrap_or(MediaKind::Image)));
    }
    formats::reads(&name, format)
}

/// List what `url` (a key or a prefix) and `opts` choose, sorted by key. A URL that names
/// one object (no trailing '/') is that object alone.
pub fn list(bucket: &Bucket, opts: &ListOptions) -> Result<Listing> {
    let path = &bucket.url.path;
    if opts.prefix.is_none()
        && !path.is_empty()
        && !path.ends_with('/')
        && let Some(info) = bucket.head(path)?
    {
        let kind = object_kind(path, opts.format, opts.use_blob_urls).or_else(|| {
            // One named object is read even when its extension says nothing.
            opts.format.is_none().then_some(ObjectKind::File(Format::Json))
        });
        let Some(kind) = kind else {
            bail!(
                "{}: is one object, but --format {} reads a folder; give the prefix that holds it, ending in '/'",
                bucket.url.uri(path),
                opts.format.map(Format::name).unwrap_or_default()
            );
        };
        return Ok(Listing {
            objects: vec![Listed { info, kind }],
            prefix: path.clone(),
            ..Listing::default()
        });
    }
    let selector = Selector::new(path, opts)?;
    let mut listing = Listing { prefix: selector.prefix().to_string(), ..Listing::default() };
    let progress = listing_progress(&bucket.url.uri(selector.prefix()));
    listing.subfolders = bucket.list(selector.prefix(), opts.recursive, |info| {
        crate::cancel::check()?;
        progress.inc(1);
        // Folder markers some tools write ("images/") are not objects.
        if info.key.ends_with('/') {
            return Ok(());
        }
        match selector.kind(&info.key) {
            Some(kind) => listing.objects.push(Listed { info, kind }),
            None => listing.skipped += 1,
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    listing.objects.sort_by(|a, b| a.info.key.cmp(&b.info.key));
    Ok(listing)
}

/// A listing's progress on a terminal's stderr (hidden elsewhere): a large bucket takes a
/// while to list.
fn listing_progress(uri: &str) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {human_pos} objects listed in {elapsed} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(uri.to_string());
    bar
}

/// `Option<Format>` as the name users type.
mod format_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::formats::Format;

    pub fn serialize<S: Serializer>(format: &Option<Format>, s: S) -> Result<S::Ok, S::Error> {
        match format {
            Some(f) => s.serialize_some(f.name()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Format>, D::Error> {
        let name: Option<String> = Option::deserialize(d)?;
        match name {
            None => Ok(None),
            Some(name) => <Format as clap::ValueEnum>::from_str(&name, false)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_local_rules() {
        let k = |key, f| object_kind(key, f, false);
        assert_eq!(k("a/b.JPG", Some(Format::ImageDir)), Some(ObjectKind::Media(MediaKind::Image)));
        assert_eq!(k("a/b.wav", Some(Format::ImageDir)), None);
        assert_eq!(k("t.json", None), Some(ObjectKind::File(Format::Json)));
        assert_eq!(k("t.jsonl", None), Some(ObjectKind::File(Format::Jsonl)));
        assert_eq!(k("notes.md", None), None);
        assert_eq!(k("odd #1?.png", None), Some(ObjectKind::Media(MediaKind::Image)));
        assert_eq!(k("x.json", Some(Format::JsonDir)), Some(ObjectKind::File(Format::Json)));
        assert_eq!(object_kind("x.bin", None, true), Some(ObjectKind::Media(MediaKind::Image)));
    }

    #[test]
    fn selectors_cover_their_level_and_match_whole_keys() -> Result<()> {
        let opts = ListOptions { regex_filter: Some(r".*\.png".into()), ..ListOptions::default() };
        let s = Selector::new("imgs", &opts)?;
        assert_eq!(s.prefix(), "imgs/");
        assert!(s.covers("imgs/a.png") && !s.covers("imgs/x/a.png") && !s.covers("other/a.png"));
        assert!(s.kind("imgs/a.png").is_some());
        assert!(s.kind("imgs/a.png.bak").is_none(), "the filter is anchored at the end");
        let opts =
            ListOptions { prefix: Some("/p/".into()), recursive: true, ..ListOptions::default() };
        let s = Selector::new("", &opts)?;
        assert_eq!(s.prefix(), "p/");
        assert!(s.covers("p/x/y/z.png"));
        assert!(
            Selector::new(
                "",
                &ListOptions { regex_filter: Some("(".into()), ..ListOptions::default() }
            )
            .is_err()
        );
        Ok(())
    }
}
