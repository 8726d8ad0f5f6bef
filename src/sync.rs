//! Adding a storage definition (its bucket checked first) and syncs. A sync lists the bucket,
//! compares each object with what `storage_objects` says was read before (by URI, ETag and
//! size), imports only new and changed objects in one import, and reports deleted ones;
//! with `--prune` it removes their tasks that have no completions, in the same transaction.

use std::collections::{HashMap, HashSet};

use anyhow::{Result, bail};
use duckdb::{Connection, params};

use crate::bucket::listing::{self, Listing, Selector};
use crate::bucket::url::parse_object_uri;
use crate::bucket::{Bucket, BucketUrl};
use crate::import::{BucketInput, ImportOptions, ImportSummary, Input};
use crate::store::Store;
use crate::store::storages::{self, Definition};

/// What one sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub name: String,
    pub uri: String,
    pub listed: u64,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Objects read before that the bucket no longer has.
    pub deleted: Vec<String>,
    /// Tasks of deleted objects removed (`--prune`).
    pub pruned_tasks: u64,
    /// Tasks of deleted objects kept because they have completions.
    pub kept_tasks: u64,
    pub import: ImportSummary,
}

/// Check the name, then the bucket (one listing of its first level), then store the
/// definition.
pub fn add(store: &Store, def: &Definition) -> Result<()> {
    check_name(&def.name)?;
    crate::bucket::presign::lifetime(def.presign_ttl)?;
    let url = parse_url(&def.url)?;
    if storages::get(store.conn(), &def.name)?.is_some() {
        bail!(
            "a storage named {:?} exists already; remove it first (lsdb storage remove {})",
            def.name,
            def.name
        );
    }
    let bucket = Bucket::open(&url, &def.connect)?;
    let selector = Selector::new(&url.path, &def.listing)?;
    bucket.list(selector.prefix(), false, |_| Ok(()))?;
    storages::insert(store, def)
}

/// Sync one definition, or all of them (each its own import).
pub fn sync(store: &Store, name: Option<&str>, is_pruning: bool) -> Result<Vec<SyncReport>> {
    let defs = match name {
        Some(name) => vec![storages::get(store.conn(), name)?.ok_or_else(|| {
            anyhow::anyhow!("no storage named {name:?}; add one with `lsdb storage add {name} s3://BUCKET/PREFIX`")
        })?],
        None => storages::all(store.conn())?,
    };
    if defs.is_empty() {
        bail!("no storages to sync; add one with `lsdb storage add NAME s3://BUCKET/PREFIX`");
    }
    defs.iter().map(|def| sync_one(store, def, is_pruning)).collect()
}

fn sync_one(store: &Store, def: &Definition, is_pruning: bool) -> Result<SyncReport> {
    let url = parse_url(&def.url)?;
    let bucket = Bucket::open(&url, &def.connect)?;
    let listing = listing::list(&bucket, &def.listing)?;
    let scope = bucket.url.uri(&listing.prefix);
    let known = known_objects(store.conn(), &scope)?;
    let mut report = SyncReport {
        name: def.name.clone(),
        uri: scope.clone(),
        listed: listing.objects.len() as u64,
        ..SyncReport::default()
    };
    let mut listed_uris = HashSet::with_capacity(listing.objects.len());
    let mut to_read = Listing {
        prefix: listing.prefix.clone(),
        subfolders: listing.subfolders,
        ..Listing::default()
    };
    for object in &listing.objects {
        let uri = bucket.url.uri(&object.info.key);
        match known.get(&uri) {
            None => report.new += 1,
            Some((etag, size)) if *etag == object.info.etag && *size == object.info.size => {
                report.unchanged += 1;
                listed_uris.insert(uri);
                continue;
            }
            Some(_) => report.changed += 1,
        }
        listed_uris.insert(uri);
        to_read.objects.push(object.clone());
    }
    let selector = Selector::new(&url.path, &def.listing)?;
    report.deleted = deleted_objects(&known, &listed_uris, &selector, &listing.prefix);
    let opts = ImportOptions {
        paths: vec![def.url.clone().into()],
        format: def.listing.format,
        host_url: crate::import::DEFAULT_HOST_URL.to_string(),
        // The same data never makes a second task, however often or from how many
        // definitions a bucket is synced.
        is_skipping_duplicates: true,
        connect: def.connect.clone(),
        listing: def.listing.clone(),
        ..ImportOptions::default()
    };
    let notes = crate::import::listing_notes(&bucket, &listing, &def.listing);
    let input = Input::Bucket(Box::new(BucketInput {
        bucket,
        listing: to_read,
        format: def.listing.format,
    }));
    let deleted = report.deleted.clone();
    let mut pruned = (0, 0);
    let summary = crate::import::run_inputs(store, &opts, &[input], |conn, import_id| {
        if !deleted.is_empty() {
            pruned = prune(conn, &scope, &deleted, is_pruning)?;
        }
        conn.execute(
            "UPDATE storages SET last_sync_import = ? WHERE name = ?",
            params![import_id, def.name],
        )?;
        Ok(())
    })?;
    (report.pruned_tasks, report.kept_tasks) = pruned;
    report.import = summary;
    report.import.notes.splice(0..0, notes);
    Ok(report)
}

/// The objects read before that the listing no longer has, in order. A one-object URL
/// covers that object; a prefix covers what its listing would choose.
fn deleted_objects(
    known: &HashMap<String, (Option<String>, u64)>,
    listed: &HashSet<String>,
    selector: &Selector,
    prefix: &str,
) -> Vec<String> {
    let is_single = !prefix.is_empty() && !prefix.ends_with('/');
    let mut deleted: Vec<String> = known
        .keys()
        .filter(|uri| !listed.contains(*uri))
        .filter(|uri| {
            parse_object_uri(uri).is_some_and(|(_, _, key)| {
                if is_single {
                    key == prefix
                } else {
                    selector.covers(key) && selector.kind(key).is_some()
                }
            })
        })
        .cloned()
        .collect();
    deleted.sort();
    deleted
}

/// The objects read before under `scope` (a URI prefix): URI → (ETag, size).
fn known_objects(conn: &Connection, scope: &str) -> Result<HashMap<String, (Option<String>, u64)>> {
    let mut stmt =
        conn.prepare("SELECT uri, etag, size FROM storage_objects WHERE starts_with(uri, ?)")?;
    let rows =
        stmt.query_map([scope], |r| Ok((r.get(0)?, (r.get(1)?, r.get::<_, i64>(2)? as u64))))?;
    rows.collect::<Result<_, _>>().map_err(Into::into)
}

/// The tasks of deleted objects: with `is_pruning`, those without completions are removed
/// (with their predictions) and so are the objects' records when none of their tasks is
/// kept. Returns (tasks removed, tasks kept).
fn prune(
    conn: &Connection,
    scope: &str,
    deleted: &[String],
    is_pruning: bool,
) -> Result<(u64, u64)> {
    conn.execute_batch("CREATE OR REPLACE TEMP TABLE gone_objects (uri VARCHAR)")?;
    {
        let mut app = conn.appender("gone_objects")?;
        for uri in deleted {
            app.append_row([uri])?;
        }
        app.flush()?;
    }
    // A task's source is the object's URI, then [i] or :line inside a task file, then its
    // ETag (import/bucket.rs).
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE gone_tasks AS \
         SELECT t.id, g.uri, t.id IN (SELECT task_id FROM completions) AS has_completions \
         FROM tasks AS t JOIN gone_objects AS g \
           ON regexp_extract(t.source, '^(.*?)(\\[[0-9]+\\]|:[0-9]+)?( etag=[^ ]*)?$', 1) = g.uri \
         WHERE starts_with(t.source, ?)",
        [scope],
    )?;
    let (removable, kept): (i64, i64) = conn.query_row(
        "SELECT count(*) FILTER (WHERE NOT has_completions), count(*) FILTER (WHERE has_completions) \
         FROM gone_tasks",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if is_pruning {
        conn.execute_batch(
            "DELETE FROM predictions WHERE task_id IN (SELECT id FROM gone_tasks WHERE NOT has_completions);
             DELETE FROM tasks WHERE id IN (SELECT id FROM gone_tasks WHERE NOT has_completions);
             DELETE FROM ls_links WHERE task_id IN (SELECT id FROM gone_tasks WHERE NOT has_completions);
             DELETE FROM storage_objects WHERE uri IN (SELECT uri FROM gone_objects) \
               AND uri NOT IN (SELECT uri FROM gone_tasks WHERE has_completions);",
        )?;
    }
    conn.execute_batch("DROP TABLE gone_tasks; DROP TABLE gone_objects;")?;
    Ok(if is_pruning { (removable as u64, kept as u64) } else { (0, (removable + kept) as u64) })
}

/// The lines printed after a sync.
pub fn report_lines(report: &SyncReport, is_pruning: bool) -> Vec<String> {
    let mut lines = report.import.notes.clone();
    lines.push(format!(
        "synced {} ({}): {} objects listed, {} new, {} changed, {} deleted, {} unchanged",
        report.name,
        report.uri,
        report.listed,
        report.new,
        report.changed,
        report.deleted.len(),
        report.unchanged
    ));
    for uri in report.deleted.iter().take(20) {
        lines.push(format!("deleted: {uri}"));
    }
    if report.deleted.len() > 20 {
        lines.push(format!("deleted: ... and {} more", report.deleted.len() - 20));
    }
    if is_pruning && report.pruned_tasks > 0 {
        lines.push(format!("removed {} tasks of deleted objects", report.pruned_tasks));
    }
    if report.kept_tasks > 0 {
        lines.push(if is_pruning {
            format!("kept {} tasks of deleted objects: they have completions", report.kept_tasks)
        } else {
            format!(
                "kept {} tasks of deleted objects; --prune removes those without completions",
                report.kept_tasks
            )
        });
    }
    let mut import = report.import.clone();
    import.notes.clear();
    lines.extend(crate::project::summary_lines(&import));
    lines
}

fn parse_url(text: &str) -> Result<BucketUrl> {
    match BucketUrl::parse(text) {
        Some(url) => url,
        None => {
            bail!("{text:?} is not a bucket URL; give s3://BUCKET/PREFIX, gs://... or az://...")
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!("{name:?} is not a storage name: use up to 64 letters, digits, '-', '_' or '.'");
    }
    Ok(())
}
