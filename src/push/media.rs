//! Media that load in Label Studio without their bytes in the import. Label Studio serves a
//! local file only under a local storage of the project, and resolves a bucket URI
//! (`s3://`, `gs://`, `azure-blob://`) only through a cloud storage of the project over
//! that bucket: so as tasks go out, the folders and buckets they name get a storage each
//! (one already there is reused). A storage is a connection, never synced: Label Studio
//! makes no tasks of its own from it. With `--presign` bucket URIs travel as presigned
//! URLs instead, and no cloud storage is made.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bucket::url::parse_object_uri;
use crate::bucket::{BucketUrl, Connect, Provider};
use crate::fileurl::parse_local_file_url;
use crate::import::raw::RawObject;
use crate::labelstudio::Client;

/// The storages a push makes as its tasks go out.
pub struct Media {
    /// Label Studio's `LOCAL_FILES_DOCUMENT_ROOT`, when local files go as its URLs.
    document_root: Option<PathBuf>,
    /// Bucket URIs stay URIs (no `--presign`): their buckets get cloud storages.
    is_connecting_buckets: bool,
    /// How to reach each bucket: the storage definition that names it, else the flags.
    named: Vec<(BucketUrl, Connect)>,
    connect: Connect,
    presign_ttl: u64,
    /// Folders and buckets the tasks sent so far name, and those already connected.
    folders: BTreeSet<PathBuf>,
    buckets: BTreeSet<(Provider, String)>,
    connected_folders: BTreeSet<PathBuf>,
    connected_buckets: BTreeSet<(Provider, String)>,
}

impl Media {
    pub fn new(
        document_root: Option<PathBuf>,
        is_connecting_buckets: bool,
        named: Vec<(BucketUrl, Connect)>,
        connect: Connect,
        presign_ttl: u64,
    ) -> Media {
        Media {
            document_root,
            is_connecting_buckets,
            named,
            connect,
            presign_ttl,
            folders: BTreeSet::new(),
            buckets: BTreeSet::new(),
            connected_folders: BTreeSet::new(),
            connected_buckets: BTreeSet::new(),
        }
    }

    /// Note the folders (when local files go as Label Studio's URLs) and buckets a task's
    /// data (as stored, before its URLs are rewritten) names.
    pub fn note(&mut self, data: &str, is_local_files: bool) {
        let is_local = is_local_files && data.contains("/data/");
        let is_bucket = self.is_connecting_buckets && data.contains("://");
        if !is_local && !is_bucket {
            return;
        }
        let Some(object) = RawObject::parse(data) else { return };
        for (_, value) in object.members() {
            let Ok(text) = serde_json::from_str::<String>(value) else { continue };
            if is_local
                && let Some(folder) = parse_local_file_url(&text)
                    .and_then(|(_, path)| path.parent().map(Path::to_path_buf))
            {
                self.folders.insert(folder);
            }
            if is_bucket && let Some((provider, bucket, _)) = parse_object_uri(&text) {
                self.buckets.insert((provider, bucket.to_string()));
            }
        }
    }

    /// A storage for every folder and bucket noted that has none yet; what was connected
    /// now, in words.
    pub fn connect(&mut self, client: &Client, project: i64) -> Result<Vec<String>> {
        let mut made = Vec::new();
        let folders: Vec<PathBuf> =
            self.folders.difference(&self.connected_folders).cloned().collect();
        if !folders.is_empty() {
            made.extend(self.local_storages(client, project, &folders)?);
            self.connected_folders.extend(folders);
        }
        let buckets: Vec<(Provider, String)> =
            self.buckets.difference(&self.connected_buckets).cloned().collect();
        for (provider, bucket) in buckets {
            if let Some(what) = self.cloud_storage(client, project, provider, &bucket)? {
                made.push(what);
            }
            self.connected_buckets.insert((provider, bucket));
        }
        Ok(made)
    }

    /// Fail before anything is made when the tasks name local files Label Studio could not
    /// serve (no `--document-root`).
    pub fn check(&self) -> Result<()> {
        if self.document_root.is_none()
            && let Some(folder) = self.folders.iter().next()
        {
            bail!(
                "the tasks name local files ({}); give --document-root DIR (Label Studio's \
                 LOCAL_FILES_DOCUMENT_ROOT) so Label Studio can serve them, or --host-url of a \
                 running `lsdb serve`",
                folder.display()
            );
        }
        Ok(())
    }

    fn local_storages(
        &self,
        client: &Client,
        project: i64,
        folders: &[PathBuf],
    ) -> Result<Vec<String>> {
        self.check()?;
        let have = existing(client, "localfiles", project, "path")?;
        let mut made = Vec::new();
        for folder in folders {
            let path = folder.to_string_lossy().into_owned();
            if have.contains(&path) {
                continue;
            }
            let body = json!({
                "project": project, "path": path, "title": format!("lsdb {path}"),
                "use_blob_urls": true, "regex_filter": "",
            });
            client.post("/api/storages/localfiles", body.to_string()).map_err(|e| {
                anyhow::anyhow!(
                    "Label Studio refused a local storage for {path}: {e} (it needs \
                     LOCAL_FILES_SERVING_ENABLED=true and LOCAL_FILES_DOCUMENT_ROOT above the folder)"
                )
            })?;
            made.push(format!("the folder {path} (a Label Studio local storage)"));
        }
        Ok(made)
    }

    /// A cloud storage over `bucket` with the credentials lsdb reaches it with, unless the
    /// project has one over it; `None` when it had.
    fn cloud_storage(
        &self,
        client: &Client,
        project: i64,
        provider: Provider,
        bucket: &str,
    ) -> Result<Option<String>> {
        let (kind, key) = match provider {
            Provider::S3 => ("s3", "bucket"),
            Provider::Gcs => ("gcs", "bucket"),
            Provider::Azure => ("azure", "container"),
        };
        if existing(client, kind, project, key)?.contains(bucket) {
            return Ok(None);
        }
        let connect = self
            .named
            .iter()
            .find(|(url, _)| url.provider == provider && url.bucket == bucket)
            .map_or(&self.connect, |(_, c)| c);
        let body = storage_body(provider, bucket, connect, project, self.presign_ttl)?;
        let has_keys = ["aws_secret_access_key", "account_key", "google_application_credentials"]
            .iter()
            .any(|k| body.get(k).is_some());
        client.post(&format!("/api/storages/{kind}"), body.to_string()).map_err(|e| {
            anyhow::anyhow!(
                "Label Studio refused a {} storage for {}://{bucket}: {e} (Label Studio must \
                 reach the bucket with the credentials lsdb uses: {}; or push with --presign)",
                provider.name(),
                provider.scheme(),
                provider.credential_hint()
            )
        })?;
        Ok(Some(format!(
            "the {} bucket {}://{bucket} (a Label Studio cloud storage{})",
            provider.name(),
            provider.scheme(),
            if has_keys { ", given the credentials lsdb uses for it" } else { "" }
        )))
    }
}

/// The values of `key` over the project's storages of one kind.
fn existing(client: &Client, kind: &str, project: i64, key: &str) -> Result<BTreeSet<String>> {
    let list = client.get(&format!("/api/storages/{kind}?project={project}"))?;
    Ok(list
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s.get(key).and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Label Studio's storage form for a bucket: presigned URLs (`presign_ttl` minutes), one
/// task per object if it were synced (it is not), and the credentials: the connection's
/// own, else the provider's standard variables; none at all leaves Label Studio to its own
/// environment's.
fn storage_body(
    provider: Provider,
    bucket: &str,
    connect: &Connect,
    project: i64,
    ttl: u64,
) -> Result<Value> {
    let mut body = json!({
        "project": project,
        "title": format!("lsdb {}://{bucket}", provider.scheme()),
        "prefix": "",
        "regex_filter": "",
        "use_blob_urls": true,
        "presign": true,
        "presign_ttl": ttl,
    });
    let or_env = |given: &Option<String>, name: &str| given.clone().or_else(|| env(name));
    let fields = match provider {
        Provider::S3 => json!({
            "bucket": bucket,
            "aws_access_key_id": or_env(&connect.access_key_id, "AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": or_env(&connect.secret_access_key, "AWS_SECRET_ACCESS_KEY"),
            "aws_session_token": or_env(&connect.session_token, "AWS_SESSION_TOKEN"),
            "region_name": connect.s3_region(),
            "s3_endpoint": connect.s3_endpoint(),
        }),
        Provider::Gcs => {
            let file =
                or_env(&connect.google_application_credentials, "GOOGLE_APPLICATION_CREDENTIALS");
            let key = file
                .map(|f| {
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("reading the Google credentials file {f}"))
                })
                .transpose()?;
            json!({ "bucket": bucket, "google_application_credentials": key })
        }
        Provider::Azure => json!({
            "container": bucket,
            "account_name": or_env(&connect.azure_account_name, "AZURE_STORAGE_ACCOUNT_NAME"),
            "account_key": or_env(&connect.azure_account_key, "AZURE_STORAGE_ACCOUNT_KEY"),
        }),
    };
    if let (Value::Object(body), Value::Object(fields)) = (&mut body, fields) {
        // Left out rather than sent empty: Label Studio then uses its own environment's.
        body.extend(fields.into_iter().filter(|(_, v)| !v.is_null()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_buckets_a_task_names() {
        let mut media = Media::new(None, true, Vec::new(), Connect::default(), 60);
        media.note(
            r#"{"image":"/data/a.png?d=%2Fsrv%2Fimgs","audio":"s3://b1/x/y.wav","n":1,"t":"gs://g/k"}"#,
            true,
        );
        media.note(r#"{"image":"azure-blob://c/k.png","other":"s3://"}"#, true);
        assert_eq!(media.folders, BTreeSet::from([PathBuf::from("/srv/imgs")]));
        assert_eq!(
            media.buckets,
            BTreeSet::from([
                (Provider::S3, "b1".to_string()),
                (Provider::Gcs, "g".to_string()),
                (Provider::Azure, "c".to_string())
            ])
        );
        // Presigning: buckets are not noted; local files as lsdb URLs: folders are not.
        let mut media = Media::new(None, false, Vec::new(), Connect::default(), 60);
        media.note(r#"{"image":"/data/a.png?d=%2Fsrv","audio":"s3://b1/x.wav"}"#, false);
        assert!(media.folders.is_empty() && media.buckets.is_empty());
    }

    #[test]
    fn the_storage_form_carries_the_connection() -> Result<()> {
        let connect = Connect {
            endpoint_url: Some("http://127.0.0.1:9000".into()),
            access_key_id: Some("id".into()),
            secret_access_key: Some("secret".into()),
            region: Some("eu-west-1".into()),
            ..Connect::default()
        };
        let body = storage_body(Provider::S3, "b", &connect, 4, 30)?;
        assert_eq!(body["bucket"], "b");
        assert_eq!(body["s3_endpoint"], "http://127.0.0.1:9000");
        assert_eq!(body["aws_secret_access_key"], "secret");
        assert_eq!(body["region_name"], "eu-west-1");
        assert_eq!((body["project"].as_i64(), body["presign_ttl"].as_i64()), (Some(4), Some(30)));
        let azure = storage_body(Provider::Azure, "c", &Connect::default(), 1, 60)?;
        assert_eq!(azure["container"], "c");
        Ok(())
    }
}
