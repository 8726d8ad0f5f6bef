//! `lsdb push`: the selected tasks (a sampling queue, `--where`, or all) into a Label Studio
//! project, with their predictions (and annotations when asked), each task once. The store
//! keeps a link per pushed task (`ls_links`: server, project, task, Label Studio's task id);
//! every pushed task also carries `meta.lsdb_task_id` and `meta.lsdb_store`, so a push that
//! was cut off after Label Studio took a chunk but before the links were written finds those
//! tasks again (`reconcile`, run when a push left its `push_pending` mark in `lsdb_meta`)
//! instead of sending them twice. Media never travel as bytes: local files become Label
//! Studio local-files URLs or URLs of a running `lsdb serve`, bucket URIs stay URIs
//! (or become presigned URLs), and `media.rs` makes the storages Label Studio needs
//! before it serves them.

mod media;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use duckdb::{Connection, params};
use serde_json::Value;

use crate::bucket::Connect;
use crate::export::{Presign, Selection, UrlRewrite, UrlStyle, select_tasks};
use crate::labelstudio::Client;
use crate::store::Store;
use media::Media;

/// At most this many bytes of task JSON in one import request.
const CHUNK_BYTES: usize = 2 << 20;
/// At most this many tasks in one import request.
const CHUNK_TASKS: usize = 1000;

/// What to push where.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub url: String,
    pub token: String,
    /// An existing project; `None` creates one.
    pub project: Option<i64>,
    /// The new project's title.
    pub title: Option<String>,
    pub selection: Selection,
    pub with_annotations: bool,
    /// Media through a running `lsdb serve` at this address instead of Label Studio's local
    /// files.
    pub host_url: Option<String>,
    /// Label Studio's `LOCAL_FILES_DOCUMENT_ROOT` (local-files URLs are relative to it).
    pub document_root: Option<PathBuf>,
    /// Bucket URIs as presigned URLs (`--presign`) instead of through a cloud storage.
    pub presign: Option<Arc<dyn Presign>>,
    /// Minutes the presigned URLs live (Label Studio's storage presigns for as long).
    pub presign_ttl: u64,
    /// How to reach buckets no storage definition names (the flags, else the environment);
    /// a cloud storage gets the same credentials.
    pub connect: Connect,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub project: i64,
    pub project_url: String,
    /// Tasks sent now.
    pub sent: u64,
    /// Selected tasks the project already held.
    pub already: u64,
    /// Storages made for the media's folders and buckets, in words.
    pub storages: Vec<String>,
}

/// Push the selected tasks; see the module's comment.
pub fn push(store: &Store, options: &PushOptions) -> Result<Pushed> {
    store.check_writable()?;
    let conn = store.conn();
    let config = crate::store::config::load_config(conn)?
        .context("the store has no label config to create a project with; set one with `lsdb config set FILE`")?;
    let client = Client::connect(&options.url, &options.token)?;
    let server = client.base().to_string();
    if let Some(id) = options.project {
        check_project_config(&client, id, &config)?;
    }
    let store_id = store_id(conn)?;
    // A bad selection fails here, before anything is made in Label Studio.
    let selected = select_tasks(conn, &options.selection)?;
    // An lsdb serve holds one project, which a "new project" request hands back: resolved
    // now, so that what it already holds is not sent again. Label Studio makes a project
    // only when the first chunk is ready.
    let project = match options.project {
        None if client.is_lsdb() => {
            Some(create_project(&client, store.project(), options.title.as_deref(), &config.xml)?)
        }
        given => given,
    };
    if let Some(project) = project {
        // A push that did not finish leaves its mark: only then can Label Studio hold tasks
        // of this store without links (reading a large project back takes minutes).
        if crate::store::schema::meta(conn, &pending_key(&server, project))?.is_some() {
            reconcile(conn, &client, &server, project, &store_id)?;
        }
        crate::store::schema::set_meta(conn, &pending_key(&server, project), "1")?;
    }
    let tasks = pending_tasks(conn, &server, project.unwrap_or(-1), options.with_annotations)?;
    let total = tasks.len() as u64;
    let mut push = Sending {
        conn,
        client: &client,
        server: &server,
        options,
        store_id: &store_id,
        project,
        made: None,
        folder: store.project(),
        xml: &config.xml,
        sent: 0,
        total,
        storages: Vec::new(),
    };
    if let Err(err) = push.all(tasks) {
        // A project made now is named, so that the same push goes on into it.
        return Err(match push.made {
            Some(id) => err.context(format!(
                "project {id} was made at {server}/projects/{id} and holds {} of the {total} \
                 tasks; push again with --ls-project {id} to send the rest",
                push.sent
            )),
            None => err,
        });
    }
    let project = push.project()?;
    conn.execute("DELETE FROM lsdb_meta WHERE key = ?", params![pending_key(&server, project)])?;
    Ok(Pushed {
        project,
        project_url: format!("{server}/projects/{project}"),
        sent: push.sent,
        already: selected - total,
        storages: push.storages,
    })
}

/// The `lsdb_meta` key a push sets while it sends into a project.
fn pending_key(server: &str, project: i64) -> String {
    format!("push_pending {server} {project}")
}

/// One push as it sends: the project is made (when asked) just before the first chunk
/// goes, once the tasks' JSON and media have been read without error.
struct Sending<'a> {
    conn: &'a Connection,
    client: &'a Client,
    server: &'a str,
    options: &'a PushOptions,
    store_id: &'a str,
    project: Option<i64>,
    /// The project this push made.
    made: Option<i64>,
    folder: &'a Path,
    xml: &'a str,
    sent: u64,
    total: u64,
    storages: Vec<String>,
}

impl Sending<'_> {
    /// The project, made now when there is none yet (and marked while it is sent to).
    fn project(&mut self) -> Result<i64> {
        if let Some(id) = self.project {
            return Ok(id);
        }
        let id = create_project(self.client, self.folder, self.options.title.as_deref(), self.xml)?;
        crate::store::schema::set_meta(self.conn, &pending_key(self.server, id), "1")?;
        self.project = Some(id);
        self.made = Some(id);
        Ok(id)
    }

    fn all(&mut self, tasks: Vec<PendingTask>) -> Result<()> {
        let urls = url_rewrite(self.options, self.client.is_lsdb());
        // lsdb serve has no storages: it serves what its tasks reference.
        let mut media = Media::new(
            self.options.document_root.clone(),
            self.options.presign.is_none() && !self.client.is_lsdb(),
            crate::store::storages::bucket_connections(&crate::store::storages::all(self.conn)?),
            self.options.connect.clone(),
            self.options.presign_ttl,
        );
        let bar = crate::import::counter("tasks sent");
        let mut chunk: Vec<(i64, String)> = Vec::new();
        let mut chunk_bytes = 0usize;
        for task in tasks {
            media.note(&task.data, urls.style == UrlStyle::Ls1);
            let json = task_json(&task, &urls, self.store_id)?;
            if !chunk.is_empty()
                && (chunk_bytes + json.len() > CHUNK_BYTES || chunk.len() >= CHUNK_TASKS)
            {
                self.send(&mut media, &chunk)?;
                bar.set_position(self.sent);
                chunk.clear();
                chunk_bytes = 0;
            }
            chunk_bytes += json.len() + 1;
            chunk.push((task.id, json));
        }
        if !chunk.is_empty() {
            self.send(&mut media, &chunk)?;
        }
        bar.finish_and_clear();
        Ok(())
    }

    fn send(&mut self, media: &mut Media, chunk: &[(i64, String)]) -> Result<()> {
        if let Some(project) = self.project {
            stop_if_interrupted(
                self.conn,
                &pending_key(self.server, project),
                self.sent,
                self.total,
            )?;
        } else {
            crate::cancel::check()?;
        }
        media.check()?;
        let project = self.project()?;
        self.storages.extend(media.connect(self.client, project)?);
        self.sent += send_chunk(self.conn, self.client, self.server, project, chunk)?;
        Ok(())
    }
}

/// Stop between chunks after a Ctrl-C: what was sent is linked, so the store is true to the
/// project and the push's mark can go; the same push again sends the rest.
fn stop_if_interrupted(conn: &Connection, pending: &str, sent: u64, total: u64) -> Result<()> {
    if crate::cancel::check().is_ok() {
        return Ok(());
    }
    conn.execute("DELETE FROM lsdb_meta WHERE key = ?", params![pending])?;
    bail!(
        "interrupted (Ctrl-C) after {sent} of {total} tasks were sent (and linked); push \
         again to send the rest"
    )
}

/// The label config's controls must all be in the project's config (same name and tag), or
/// the labels that come back would not fit the store.
fn check_project_config(
    client: &Client,
    id: i64,
    config: &crate::labelconfig::LabelConfig,
) -> Result<()> {
    let project = client.get(&format!("/api/projects/{id}/"))?;
    let xml = project.get("label_config").and_then(Value::as_str).unwrap_or_default();
    let theirs =
        crate::labelconfig::parse_label_config(xml, &format!("project {id}'s label config"))
            .with_context(|| format!("project {id} of {}", client.base()))?;
    let missing: Vec<String> = config
        .controls
        .iter()
        .filter(|c| {
            !theirs.controls.iter().any(|t| t.name == c.name && t.tag.eq_ignore_ascii_case(&c.tag))
        })
        .map(|c| format!("<{} name=\"{}\">", c.tag, c.name))
        .collect();
    if !missing.is_empty() {
        bail!(
            "project {id} of {} lacks {} of the store's label config; push to a new project \
             (leave out --ls-project) or give it the store's config",
            client.base(),
            missing.join(", ")
        );
    }
    Ok(())
}

fn create_project(client: &Client, folder: &Path, title: Option<&str>, xml: &str) -> Result<i64> {
    let name = folder
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "lsdb".into());
    let title = title.map_or_else(|| format!("lsdb {name}"), str::to_string);
    let body = serde_json::json!({ "title": title, "label_config": xml });
    let made = client.post("/api/projects/", body.to_string())?;
    made.get("id").and_then(Value::as_i64).context("Label Studio made a project but gave no id")
}

/// This store's identity in the `meta` of the tasks it pushes (made once, kept in
/// `lsdb_meta`).
pub fn store_id(conn: &Connection) -> Result<String> {
    if let Some(id) = crate::store::schema::meta(conn, "store_id")? {
        return Ok(id);
    }
    let id: String = conn.query_row("SELECT uuid()::VARCHAR", [], |r| r.get(0))?;
    crate::store::schema::set_meta(conn, "store_id", &id)?;
    Ok(id)
}

/// Whose a Label Studio task is, by the marks push puts in its `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// This store's task with this id.
    Ours(i64),
    /// Pushed by another lsdb store.
    Foreign,
    /// No marks: made in Label Studio.
    Unmarked,
}

/// The marks of a Label Studio task (`meta.lsdb_store`, `meta.lsdb_task_id`).
pub fn mark(task: &Value, store_id: &str) -> Mark {
    let meta = task.get("meta");
    let get = |key: &str| meta.and_then(|m| m.get(key));
    match (get("lsdb_store").and_then(Value::as_str), get("lsdb_task_id").and_then(Value::as_i64)) {
        (Some(store), Some(id)) if store == store_id => Mark::Ours(id),
        (Some(_), _) => Mark::Foreign,
        (None, _) => Mark::Unmarked,
    }
}

/// Read the project's tasks back and write a link for every task this store pushed that has
/// none (a push cut off between Label Studio's answer and the links).
fn reconcile(
    conn: &Connection,
    client: &Client,
    server: &str,
    project: i64,
    store_id: &str,
) -> Result<u64> {
    let mut found: Vec<(i64, i64)> = Vec::new();
    let mut pages = client.tasks(project);
    while let Some(tasks) = pages.next_page()? {
        for task in &tasks {
            if let (Mark::Ours(lsdb_id), Some(id)) =
                (mark(task, store_id), task.get("id").and_then(Value::as_i64))
            {
                found.push((lsdb_id, id));
            }
        }
    }
    link_tasks(conn, server, project, &found)
}

/// Write links (lsdb task, Label Studio task) in one statement, skipping Label Studio tasks
/// already linked; returns how many were new. (Per-row INSERTs cost a millisecond each.)
pub fn link_tasks(
    conn: &Connection,
    server: &str,
    project: i64,
    pairs: &[(i64, i64)],
) -> Result<u64> {
    if pairs.is_empty() {
        return Ok(0);
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "CREATE OR REPLACE TEMP TABLE lsdb_new_links (task_id BIGINT, ls_task_id BIGINT)",
    )?;
    {
        let mut app = tx.appender("lsdb_new_links")?;
        for (task_id, ls_id) in pairs {
            app.append_row(params![task_id, ls_id])?;
        }
        app.flush()?;
    }
    let added = tx.execute(
        "INSERT INTO ls_links SELECT ?, ?, task_id, ls_task_id, now()::TIMESTAMP \
         FROM (SELECT DISTINCT task_id, ls_task_id FROM lsdb_new_links) AS n \
         WHERE NOT EXISTS (SELECT 1 FROM ls_links AS l \
                           WHERE l.server = ? AND l.project_id = ? AND l.ls_task_id = n.ls_task_id)",
        params![server, project, server, project],
    )?;
    tx.execute_batch("DROP TABLE lsdb_new_links")?;
    tx.commit()?;
    Ok(added as u64)
}

/// One task to send: its store row.
struct PendingTask {
    id: i64,
    data: String,
    meta: Option<String>,
    predictions: String,
    annotations: Option<String>,
}

/// The selected tasks (`export_ids`) the project does not hold yet, in queue order.
fn pending_tasks(
    conn: &Connection,
    server: &str,
    project: i64,
    with_annotations: bool,
) -> Result<Vec<PendingTask>> {
    let sql = "SELECT t.id, t.data::VARCHAR, t.meta::VARCHAR, coalesce(p.items, '[]'), \
                      CASE WHEN ? THEN coalesce(c.items, '[]') END
               FROM export_ids AS e
               JOIN tasks AS t ON t.id = e.task_id
               LEFT JOIN (SELECT task_id, '[' || string_agg(json_object('model_version', model_version,
                              'score', score, 'result', result)::VARCHAR, ',' ORDER BY id) || ']' AS items
                          FROM predictions WHERE task_id IN (SELECT task_id FROM export_ids)
                          GROUP BY task_id) AS p ON p.task_id = t.id
               LEFT JOIN (SELECT task_id, '[' || string_agg(json_object('result', result,
                              'was_cancelled', was_cancelled, 'lead_time', lead_time)::VARCHAR,
                              ',' ORDER BY id) || ']' AS items
                          FROM completions WHERE task_id IN (SELECT task_id FROM export_ids)
                          GROUP BY task_id) AS c ON c.task_id = t.id
               WHERE t.id NOT IN (SELECT task_id FROM ls_links WHERE server = ? AND project_id = ?)
               ORDER BY e.pos";
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params![with_annotations, server, project], |r| {
        Ok(PendingTask {
            id: r.get(0)?,
            data: r.get(1)?,
            meta: r.get(2)?,
            predictions: r.get(3)?,
            annotations: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How local-file URLs are written: for the `lsdb serve` at `--host-url`; as they are when
/// the target is itself an `lsdb serve` (it serves the files its tasks reference); else as
/// Label Studio's relative local-files URLs under `--document-root`.
fn url_rewrite(options: &PushOptions, is_lsdb: bool) -> UrlRewrite {
    let presign = options.presign.clone();
    match &options.host_url {
        Some(host) => UrlRewrite { host: Some(host.clone()), presign, ..UrlRewrite::default() },
        None if is_lsdb && options.document_root.is_none() => {
            UrlRewrite { presign, ..UrlRewrite::default() }
        }
        None => UrlRewrite {
            host: Some(String::new()),
            style: UrlStyle::Ls1,
            document_root: options.document_root.clone().unwrap_or_else(|| PathBuf::from("/")),
            presign,
            ..UrlRewrite::default()
        },
    }
}

/// A task as Label Studio's import takes it: data (URLs rewritten), meta with this store's
/// marks, predictions, and annotations when asked.
fn task_json(task: &PendingTask, urls: &UrlRewrite, store_id: &str) -> Result<String> {
    let data = urls.rewrite_data(&task.data)?;
    let mut meta = match task.meta.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        _ => serde_json::Map::new(),
    };
    meta.insert("lsdb_task_id".into(), Value::from(task.id));
    meta.insert("lsdb_store".into(), Value::from(store_id));
    let mut out = format!(
        "{{\"data\":{data},\"meta\":{},\"predictions\":{}",
        Value::Object(meta),
        task.predictions
    );
    if let Some(annotations) = &task.annotations {
        out.push_str(",\"annotations\":");
        out.push_str(annotations);
    }
    out.push('}');
    Ok(out)
}

/// Import one chunk and link its tasks to the ids Label Studio gave them, in order.
/// (Annotations sent with `--with-annotations` are linked by the next pull, which knows them
/// by their result: Label Studio's import answers with task ids only.)
fn send_chunk(
    conn: &Connection,
    client: &Client,
    server: &str,
    project: i64,
    chunk: &[(i64, String)],
) -> Result<u64> {
    let mut body = String::with_capacity(chunk.iter().map(|(_, j)| j.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, (_, json)) in chunk.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(json);
    }
    body.push(']');
    let answer =
        client.post(&format!("/api/projects/{project}/import?return_task_ids=true"), body)?;
    let ids: Vec<i64> = answer
        .get("task_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if ids.len() != chunk.len() {
        bail!(
            "Label Studio took {} tasks but gave {} task ids; run the push again: it finds \
             the tasks it sent by their meta",
            chunk.len(),
            ids.len()
        );
    }
    let pairs: Vec<(i64, i64)> = chunk.iter().map(|(task_id, _)| *task_id).zip(ids).collect();
    link_tasks(conn, server, project, &pairs)?;
    Ok(chunk.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(data: &str, meta: Option<&str>) -> PendingTask {
        PendingTask {
            id: 7,
            data: data.into(),
            meta: meta.map(str::to_string),
            predictions: "[]".into(),
            annotations: None,
        }
    }

    /// Local-file URLs become Label Studio's, under the document root; the task's own meta
    /// is kept beside lsdb's marks; other values stay as written.
    #[test]
    fn a_task_as_label_studio_imports_it() -> Result<()> {
        let options =
            PushOptions { document_root: Some(PathBuf::from("/srv")), ..PushOptions::default() };
        let urls = url_rewrite(&options, false);
        let t =
            task(r#"{"image":"/data/a%20b.png?d=%2Fsrv%2Fimgs","n":1.50}"#, Some(r#"{"k":"v"}"#));
        assert_eq!(
            task_json(&t, &urls, "S")?,
            r#"{"data":{"image":"/data/local-files/?d=imgs/a%20b.png","n":1.50},"meta":{"k":"v","lsdb_task_id":7,"lsdb_store":"S"},"predictions":[]}"#
        );
        // Outside the document root: refused with the folder named.
        let outside = task(r#"{"image":"/data/x.png?d=%2Felsewhere"}"#, None);
        let err = task_json(&outside, &urls, "S").expect_err("outside");
        assert!(
            err.to_string().contains("/elsewhere/x.png is not under --document-root /srv"),
            "{err}"
        );
        Ok(())
    }
}
