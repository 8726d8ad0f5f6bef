//! Storage definitions (`lsdb storage add/list/remove`) as rows of the `storages` table:
//! a bucket URL, how its objects are listed, how to connect, how `lsdb serve` hands them
//! out. Checking the bucket is the sync's business (`sync.rs`); here they are plain rows.

use anyhow::{Context, Result, bail};
use duckdb::{Connection, OptionalExt, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::bucket::listing::{ListOptions, Selector};
use crate::bucket::{BucketUrl, Connect, Provider};

/// A stored storage definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub name: String,
    pub url: String,
    pub listing: ListOptions,
    pub connect: Connect,
    /// Minutes the presigned URLs `lsdb serve` redirects to live.
    pub presign_ttl: u64,
    /// `lsdb serve` redirects to presigned URLs; when false it streams the objects itself.
    pub is_presigning: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredOptions {
    listing: ListOptions,
    connect: Connect,
    #[serde(default = "default_ttl")]
    presign_ttl: u64,
    #[serde(default = "default_presign")]
    presign: bool,
}

fn default_presign() -> bool {
    true
}

fn default_ttl() -> u64 {
    60
}

/// Store a definition (its name and bucket checked by the caller).
pub fn insert(store: &Store, def: &Definition) -> Result<()> {
    store.check_writable()?;
    let options = serde_json::to_string(&StoredOptions {
        listing: def.listing.clone(),
        connect: def.connect.clone(),
        presign_ttl: def.presign_ttl,
        presign: def.is_presigning,
    })?;
    store.conn().execute(
        "INSERT INTO storages VALUES (?, ?, ?, now()::TIMESTAMP, NULL)",
        params![def.name, def.url, options],
    )?;
    Ok(())
}

/// Remove a definition; its tasks stay.
pub fn remove(store: &Store, name: &str) -> Result<()> {
    store.check_writable()?;
    let n = store.conn().execute("DELETE FROM storages WHERE name = ?", [name])?;
    if n == 0 {
        bail!("no storage named {name:?}; `lsdb storage list` shows them");
    }
    Ok(())
}

/// Every definition, by name.
pub fn all(conn: &Connection) -> Result<Vec<Definition>> {
    let mut stmt =
        conn.prepare("SELECT name, url, options::VARCHAR FROM storages ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
    let mut defs = Vec::new();
    for row in rows {
        let (name, url, options): (String, String, String) = row?;
        let stored: StoredOptions = serde_json::from_str(&options)
            .with_context(|| format!("reading storage {name:?}'s options"))?;
        defs.push(Definition {
            name,
            url,
            listing: stored.listing,
            connect: stored.connect,
            presign_ttl: stored.presign_ttl,
            is_presigning: stored.presign,
        });
    }
    Ok(defs)
}

/// The definition whose URL names this bucket, with that URL parsed.
pub fn naming<'d>(
    definitions: &'d [Definition],
    provider: Provider,
    bucket: &str,
) -> Option<(BucketUrl, &'d Definition)> {
    definitions.iter().find_map(|d| {
        let url = BucketUrl::parse(&d.url)?.ok()?;
        (url.provider == provider && url.bucket == bucket).then_some((url, d))
    })
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<Definition>> {
    Ok(all(conn)?.into_iter().find(|d| d.name == name))
}

/// One definition as a row of `lsdb storage list`: secrets hidden.
pub fn list_rows(conn: &Connection) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    for def in all(conn)? {
        let last: Option<i64> = conn
            .query_row("SELECT last_sync_import FROM storages WHERE name = ?", [&def.name], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        let scope = match BucketUrl::parse(&def.url) {
            Some(Ok(url)) => {
                let selector = Selector::new(&url.path, &def.listing)?;
                url.uri(selector.prefix())
            }
            _ => def.url.clone(),
        };
        let objects: i64 = conn.query_row(
            "SELECT count(*) FROM storage_objects WHERE starts_with(uri, ?)",
            [&scope],
            |r| r.get(0),
        )?;
        let options = serde_json::to_string(&StoredOptions {
            listing: def.listing.clone(),
            connect: def.connect.redacted(),
            presign_ttl: def.presign_ttl,
            presign: def.is_presigning,
        })?;
        rows.push(vec![
            def.name.clone(),
            def.url.clone(),
            options,
            objects.to_string(),
            last.map(|id| id.to_string()).unwrap_or_default(),
        ]);
    }
    Ok(rows)
}

/// Each definition's bucket and how to connect to it, for a `Presigner`.
pub fn bucket_connections(definitions: &[Definition]) -> Vec<(BucketUrl, Connect)> {
    definitions
        .iter()
        .filter_map(|d| Some((BucketUrl::parse(&d.url)?.ok()?, d.connect.clone())))
        .collect()
}
