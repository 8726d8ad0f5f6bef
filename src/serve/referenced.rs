//! What the server may serve, read once and kept in memory: the local files and bucket URIs
//! the project's tasks reference, and whether the project allows serving local files. A
//! media request is a set lookup; the sets are read again when the store has changed (its
//! generation, bumped by every import and shell statement of this process, the only
//! process that can write while the server holds the store).
//!
//! A local file is referenced when a string value in some task's data is a local-file URL
//! (`[http://host]/data/<name>?d=<folder>`, or `/data/local-files/?d=<path>` under the
//! server's document root) that names it, by the same parsing a request goes through: the
//! exact path, nothing around it. A URI is referenced when a string value is that URI.
//! Paths and URIs are kept as 128-bit MD5 digests (16 bytes each, whatever their length).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use duckdb::Connection;
use md5::{Digest, Md5};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::files::{self, Refusal, UPLOADS, allows_local_files, ls1_form, seed_form};
use super::params::Params;
use crate::store::Shared;

/// The sets of one generation of the store, and the plain task list's ids and totals (the
/// first page of `/api/tasks` needs no scan either).
pub struct Referenced {
    generation: u64,
    pub allows_local_files: bool,
    files: HashSet<u128>,
    uris: HashSet<u128>,
    /// Every task id, in order.
    pub task_ids: Vec<i64>,
    /// Non-cancelled annotations and predictions of every task.
    pub totals: (i64, i64),
}

impl Referenced {
    /// The file to open for `path` (a plain absolute path, as a URL names it): when the project
    /// allows serving local files (or `path` was uploaded to it), a task references exactly
    /// `path`, and with symlinks resolved it is still in its folder.
    pub fn check_allowed(&self, project: &Path, path: &Path) -> Result<PathBuf, Refusal> {
        // Files uploaded through the import API are kept in the project and always served.
        let is_uploaded = || {
            project.join(UPLOADS).canonicalize().is_ok_and(|uploads| {
                files::resolved(path).is_ok_and(|file| file.starts_with(&uploads))
            })
        };
        if !self.allows_local_files && !is_uploaded() {
            return Err(Refusal::new(
                403,
                "this project does not serve local files; import with --allow-serving-local-files \
                 to allow it",
            ));
        }
        if !self.has_file(path) {
            return Err(Refusal::not_found());
        }
        files::resolved(path)
    }

    /// Read the sets from the store. A task that came through the import API (its import
    /// read files in an upload folder) references local files only in `uploads`: a client of
    /// the API may not make the server serve any other file of the machine.
    pub fn read(
        conn: &Connection,
        generation: u64,
        root: Option<&Path>,
        uploads: &Path,
    ) -> Result<Referenced> {
        let mut referenced = Referenced {
            generation,
            allows_local_files: allows_local_files(conn)?,
            files: HashSet::new(),
            uris: HashSet::new(),
            task_ids: Vec::new(),
            totals: (0, 0),
        };
        let mut ids = conn.prepare("SELECT id FROM tasks ORDER BY id")?;
        referenced.task_ids = ids.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        referenced.totals = conn.query_row(
            "SELECT (SELECT count(*) FROM completions WHERE NOT was_cancelled), \
             (SELECT count(*) FROM predictions)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // Only data that can hold a URL: a `/data` path, a scheme, or a JSON escape (which
        // may spell either).
        let mut statement = conn.prepare(
            "SELECT t.data::VARCHAR, coalesce(contains(i.source, ?), false) FROM tasks AS t \
             LEFT JOIN imports AS i ON i.id = t.import_id \
             WHERE contains(t.data::VARCHAR, '/data') OR contains(t.data::VARCHAR, '://') \
             OR contains(t.data::VARCHAR, '\\')",
        )?;
        let mut rows = statement.query([format!("/{}", crate::store::UPLOAD_PREFIX)])?;
        while let Some(row) = rows.next()? {
            let data: String = row.get(0)?;
            let is_from_api: bool = row.get(1)?;
            referenced.add_task(&data, root, is_from_api.then_some(uploads));
        }
        Ok(referenced)
    }

    /// `within`: only files under this folder count.
    fn add_task(&mut self, data: &str, root: Option<&Path>, within: Option<&Path>) {
        let mut deserializer = serde_json::Deserializer::from_str(data);
        let _ = StringValues(&mut |text: &str| self.add_string(text, root, within))
            .deserialize(&mut deserializer);
    }

    fn add_string(&mut self, text: &str, root: Option<&Path>, within: Option<&Path>) {
        if let Some(path) = local_file(text, root) {
            if within.is_some_and(|folder| !path.starts_with(folder)) {
                return;
            }
            self.files.insert(digest(path.as_os_str().as_encoded_bytes()));
        } else if crate::bucket::url::parse_object_uri(text).is_some() {
            self.uris.insert(digest(text.as_bytes()));
        }
    }

    /// Whether a task references the file at `path` (as a request's URL names it).
    pub fn has_file(&self, path: &Path) -> bool {
        self.files.contains(&digest(path.as_os_str().as_encoded_bytes()))
    }

    /// Whether a task references the bucket URI.
    pub fn has_uri(&self, uri: &str) -> bool {
        self.uris.contains(&digest(uri.as_bytes()))
    }

    /// Whether a task's data (JSON text) holds `uri` as a string value.
    pub fn task_has_uri(data: &str, uri: &str) -> bool {
        let mut found = false;
        let mut deserializer = serde_json::Deserializer::from_str(data);
        let _ = StringValues(&mut |text: &str| found |= text == uri).deserialize(&mut deserializer);
        found
    }
}

/// The file a local-file URL names: the seed's `/data/<name>?d=<folder>` (any host) or Label
/// Studio 1.x's `/data/local-files/?d=<path>` under `root`.
pub fn local_file(url: &str, root: Option<&Path>) -> Option<PathBuf> {
    let rest = match url.split_once("://") {
        Some(("http" | "https", rest)) => &rest[rest.find('/')?..],
        Some(_) => return None,
        None => url,
    };
    let rest = rest.strip_prefix("/data/")?;
    let (name, query) = rest.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    if name == "local-files" || name == "local-files/" {
        root?;
        ls1_form(&Params::of_query(query), root).ok()
    } else {
        seed_form(name, &Params::of_query(query)).ok()
    }
}

fn digest(bytes: &[u8]) -> u128 {
    u128::from_le_bytes(Md5::digest(bytes).into())
}

/// The server's copy of the sets, read again when the store's generation moves on.
pub struct Cache {
    current: Mutex<Option<Arc<Referenced>>>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache { current: Mutex::new(None) }
    }

    /// The sets, when they are those of the store as it is now and no request is reading
    /// them: no waiting, so an async thread may ask.
    pub fn fresh(&self, store: &Shared) -> Option<Arc<Referenced>> {
        let current = self.current.try_lock().ok()?;
        current.as_ref().filter(|s| s.generation == store.generation()).cloned()
    }

    /// The sets of the store as it is now. One request reads them when they are stale; the
    /// others wait for it.
    /// `conn` is the asking request's connection.
    pub fn get(
        &self,
        store: &Shared,
        conn: &Connection,
        root: Option<&Path>,
    ) -> Result<Arc<Referenced>> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let generation = store.generation();
        if let Some(sets) = current.as_ref().filter(|s| s.generation == generation) {
            return Ok(sets.clone());
        }
        let uploads = std::path::absolute(store.project().join(UPLOADS))?;
        let sets = Arc::new(
            Referenced::read(conn, generation, root, &uploads)
                .context("reading which files the tasks reference")?,
        );
        *current = Some(sets.clone());
        Ok(sets)
    }
}

/// Calls its function with every string value of a JSON text (not object keys), without
/// building the tree.
struct StringValues<'f>(&'f mut dyn FnMut(&str));

impl<'de> DeserializeSeed<'de> for StringValues<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringValues<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        (self.0)(v);
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(StringValues(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(StringValues(&mut *self.0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_values_are_found_escaped_and_nested_but_not_keys() {
        let mut seen = Vec::new();
        let data = r#"{"http:\/\/k": ["a\/b", {"x": 1.50, "y": "s3://b/k"}], "n": null}"#;
        let _ = StringValues(&mut |t: &str| seen.push(t.to_string()))
            .deserialize(&mut serde_json::Deserializer::from_str(data));
        assert!(seen.contains(&"a/b".to_string()) && seen.contains(&"s3://b/k".to_string()));
        assert!(!seen.iter().any(|s| s.contains("//k")), "{seen:?}");
    }

    #[test]
    fn local_file_urls_name_exact_files() {
        let file = Some(PathBuf::from("/srv/img2/cat.jpg"));
        assert_eq!(local_file("http://localhost:8080/data/cat.jpg?d=%2Fsrv%2Fimg2", None), file);
        assert_eq!(local_file("/data/cat.jpg?d=%2Fsrv%2Fimg2", None), file);
        assert_eq!(local_file("https://h/data/cat.jpg?d=/srv/img2#x", None), file);
        for other in [
            "see http://localhost:8080/data/cat.jpg?d=%2Fsrv%2Fimg2",
            "ftp://h/data/cat.jpg?d=%2Fsrv%2Fimg2",
            "http://h/x/data/cat.jpg?d=%2Fsrv%2Fimg2",
            "/data/cat.jpg?d=%2Fsrv%2F..%2Fimg2",
            "/data/local-files/?d=img2%2Fcat.jpg",
        ] {
            assert_eq!(local_file(other, None), None, "{other}");
        }
        let root = Path::new("/srv");
        assert_eq!(local_file("/data/local-files/?d=img2%2Fcat.jpg", Some(root)), file);
    }
}
