//! Buckets as import sources and export targets: S3 (and S3-compatible servers), Google
//! Cloud Storage and Azure Blob Storage, all through the `object_store` crate. `url.rs`
//! reads bucket URLs, `listing.rs` lists a prefix and decides what each object is,
//! `presign.rs` makes presigned URLs, `sync.rs` keeps storage definitions and syncs them.
//!
//! object_store is async; lsdb is not. One small tokio runtime, made on first use, runs its
//! futures; callers block on them from ordinary threads (never from inside the runtime).

pub mod listing;
pub mod presign;

pub mod url;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::error::one_line;

pub use url::{BucketUrl, Provider};

/// How to reach a bucket: endpoint, region and credentials. Anything left out comes from
/// the provider's standard environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_STORAGE_*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connect {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub endpoint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret_access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_token: Option<String>,
    /// GCS: a service account key file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub google_application_credentials: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub azure_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub azure_account_key: Option<String>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub etag: Option<String>,
    pub size: u64,
    /// Seconds since the epoch.
    pub last_modified: i64,
}

/// A connected bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub url: BucketUrl,
    store: Arc<dyn ObjectStore>,
    /// The same client as the URL signer `presign.rs` uses.
    signer: Arc<dyn object_store::signer::Signer>,
    connect: Connect,
}

/// Buckets opened on demand for the object URIs of task data (`s3://b/k`, `gs://`,
/// `azure-blob://`): each through the connection given for it (a storage definition's
/// endpoint and credentials), else through the default one, and each once.
#[derive(Debug)]
pub struct Buckets {
    connect: Connect,
    named: Vec<(BucketUrl, Connect)>,
    open: Mutex<HashMap<(&'static str, String), Bucket>>,
}

impl Buckets {
    pub fn new(connect: Connect, named: Vec<(BucketUrl, Connect)>) -> Buckets {
        Buckets { connect, named, open: Mutex::new(HashMap::new()) }
    }

    /// The bucket of an object URI and the object's key; `None` when `uri` is not one.
    pub fn object<'u>(&self, uri: &'u str) -> Result<Option<(Bucket, &'u str)>> {
        let Some((provider, name, key)) = url::parse_object_uri(uri) else { return Ok(None) };
        let mut open = self.open.lock().map_err(|_| anyhow!("opening buckets failed"))?;
        let slot = (provider.scheme(), name.to_string());
        if !open.contains_key(&slot) {
            let named = self.named.iter().find(|(u, _)| u.provider == provider && u.bucket == name);
            let connect = named.map_or(&self.connect, |(_, c)| c);
            let root = BucketUrl { provider, bucket: name.to_string(), path: String::new() };
            open.insert(slot.clone(), Bucket::open(&root, connect)?);
        }
        Ok(Some((open[&slot].clone(), key)))
    }
}

/// The runtime object_store's futures run on.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("lsdb-storage")
        .enable_all()
        .build()
        .context("starting the storage client")?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run a future of object_store's to its end. From a thread of another runtime (lsdb
/// serve's blocking tasks) it runs on a thread of its own, as a runtime can't be entered
/// from inside another.
pub fn block_on<F>(future: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(rt.block_on(future));
    }
    std::thread::scope(|s| s.spawn(|| rt.block_on(future)).join())
        .map_err(|_| anyhow!("the storage client failed"))
}

/// The value of the first of `names` that is set in the environment.
fn env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

impl Connect {
    /// The S3 endpoint, if any: `--endpoint-url`, else `AWS_ENDPOINT_URL(_S3)`.
    pub fn s3_endpoint(&self) -> Option<String> {
        self.endpoint_url.clone().or_else(|| env(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]))
    }

    /// The region: `--region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`, else us-east-1.
    pub fn s3_region(&self) -> String {
        self.region
            .clone()
            .or_else(|| env(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// The same with every secret replaced, for `storage list`.
    pub fn redacted(&self) -> Connect {
        let hide = |v: &Option<String>| v.as_ref().map(|_| "***".to_string());
        Connect {
            secret_access_key: hide(&self.secret_access_key),
            session_token: hide(&self.session_token),
            azure_account_key: hide(&self.azure_account_key),
            ..self.clone()
        }
    }
}

/// Requests give up quickly: an unreachable endpoint is an error in seconds, not minutes.
fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120))
}

fn retry_config() -> RetryConfig {
    RetryConfig { max_retries: 2, retry_timeout: Duration::from_secs(15), ..Default::default() }
}

/// A bucket's client and its URL signer (the same object, seen as each).
type Client = (Arc<dyn ObjectStore>, Arc<dyn object_store::signer::Signer>);

impl Bucket {
    /// Connect to the bucket of `url` (no request is made yet). Credentials follow each
    /// provider's standard chain: the flags, then its environment variables, then what the
    /// machine offers (object_store's providers: AWS web identity, container and instance
    /// credentials; Google application default credentials and the metadata server; Azure
    /// managed identity).
    pub fn open(url: &BucketUrl, connect: &Connect) -> Result<Bucket> {
        let (store, signer) = match url.provider {
            Provider::S3 => s3_client(url, connect)?,
            Provider::Gcs => gcs_client(url, connect)?,
            Provider::Azure => azure_client(url, connect)?,
        };
        Ok(Bucket { url: url.clone(), store, signer, connect: connect.clone() })
    }

    /// The object's metadata, or `None` when there is no object of that key.
    pub fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = object_path(key);
        match block_on(self.store.head(&path))? {
            Ok(meta) => Ok(Some(object_info(meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(self.error(err, key)),
        }
    }

    /// Call `visit` for each object under `prefix` (a folder: "" or ending in '/'): all of
    /// them, or with `recursive` false only those right in it; returns how many
    /// subfolders a one-level listing left out. Pages are fetched as they are needed.
    pub fn list(
        &self,
        prefix: &str,
        recursive: bool,
        mut visit: impl FnMut(ObjectInfo) -> Result<()>,
    ) -> Result<u64> {
        let path = (!prefix.is_empty()).then(|| object_path(prefix));
        if recursive {
            let mut stream = self.store.list(path.as_ref());
            loop {
                match block_on(stream.next())? {
                    None => return Ok(0),
                    Some(Ok(meta)) => visit(object_info(meta))?,
                    Some(Err(err)) => return Err(self.error(err, prefix)),
                }
            }
        }
        let listed = block_on(self.store.list_with_delimiter(path.as_ref()))?
            .map_err(|err| self.error(err, prefix))?;
        for meta in listed.objects {
            visit(object_info(meta))?;
        }
        Ok(listed.common_prefixes.len() as u64)
    }

    /// A reader of the object's bytes, streamed as they arrive (never the whole object in
    /// memory).
    pub fn reader(&self, key: &str) -> Result<ObjectReader> {
        let path = object_path(key);
        let got = block_on(self.store.get(&path))?.map_err(|err| self.error(err, key))?;
        Ok(ObjectReader {
            stream: got.into_stream(),
            chunk: bytes::Bytes::new(),
            at: 0,
            uri: self.url.uri(key),
        })
    }

    /// Upload a local file as the object `key` (in parts, for large files).
    pub fn upload(&self, local: &std::path::Path, key: &str) -> Result<()> {
        let path = object_path(key);
        let mut file =
            std::fs::File::open(local).with_context(|| format!("reading {}", local.display()))?;
        let upload =
            block_on(self.store.put_multipart(&path))?.map_err(|err| self.error(err, key))?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut buf = vec![0u8; 1 << 20];
        let written = (|| -> Result<()> {
            loop {
                let n =
                    file.read(&mut buf).with_context(|| format!("reading {}", local.display()))?;
                if n == 0 {
                    break;
                }
                block_on(writer.wait_for_capacity(4))?.map_err(|err| self.error(err, key))?;
                writer.write(&buf[..n]);
            }
            Ok(())
        })();
        match written {
            Ok(()) => {
                block_on(writer.finish())?.map_err(|err| self.error(err, key))?;
                Ok(())
            }
            Err(err) => {
                let _ = block_on(writer.abort());
                Err(err)
            }
        }
    }

    /// object_store's error as one line that names the object and says what to do.
    pub fn error(&self, err: object_store::Error, key: &str) -> anyhow::Error {
        let uri = self.url.uri(key);
        let text = one_line(&format!("{err}"));
        let full = one_line(&format!("{err:?}"));
        let has = |needle: &str| text.contains(needle) || full.contains(needle);
        let endpoint = match self.url.provider {
            Provider::S3 => self.connect.s3_endpoint().unwrap_or_else(|| "AWS".to_string()),
            _ => self
                .connect
                .endpoint_url
                .clone()
                .unwrap_or_else(|| self.url.provider.name().to_string()),
        };
        // The last link of the credential chain, the machine's metadata service, failed:
        // there were no credentials anywhere.
        if has("169.254.169.254") || has("metadata.google.internal") {
            let whose = match self.url.provider {
                Provider::S3 => "AWS",
                Provider::Gcs => "Google",
                Provider::Azure => "Azure",
            };
            return anyhow!(
                "{}: no {whose} credentials in the flags, the environment or this machine's \
                 metadata service; set {}",
                self.url.uri(""),
                self.url.provider.credential_hint()
            );
        }
        if has("NoSuchBucket")
            || has("The specified bucket does not exist")
            || has("ContainerNotFound")
        {
            return anyhow!(
                "{}: no such bucket at {endpoint}; check the bucket's name (and --endpoint-url)",
                self.url.uri("")
            );
        }
        if has("InvalidAccessKeyId")
            || has("SignatureDoesNotMatch")
            || has("AccessDenied")
            || has("403 Forbidden")
            || has("401 Unauthorized")
            || matches!(
                err,
                object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
            )
        {
            return anyhow!(
                "{uri}: access denied by {endpoint}; check the credentials ({})",
                self.url.provider.credential_hint()
            );
        }
        if has("Connection refused")
            || has("error sending request")
            || has("dns error")
            || has("timed out")
            || has("connect error")
        {
            return anyhow!(
                "{uri}: can't reach {endpoint}; check --endpoint-url and the network ({text})"
            );
        }
        if let object_store::Error::NotFound { .. } = err {
            return anyhow!("{uri}: no such object");
        }
        anyhow!("{uri}: {text}")
    }
}

fn s3_client(url: &BucketUrl, connect: &Connect) -> Result<Client> {
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(&url.bucket)
        .with_region(connect.s3_region())
        .with_retry(retry_config());
    if let Some(id) = &connect.access_key_id {
        b = b.with_access_key_id(id);
    }
    if let Some(secret) = &connect.secret_access_key {
        b = b.with_secret_access_key(secret);
    }
    if let Some(token) = &connect.session_token {
        b = b.with_token(token);
    }
    let endpoint = connect.s3_endpoint();
    let allow_http = endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
    match endpoint {
        // MinIO, moto and the like: path-style URLs under the endpoint.
        Some(endpoint) => b = b.with_endpoint(endpoint.trim_end_matches('/')),
        // AWS: virtual-hosted URLs (`https://BUCKET.s3.REGION.amazonaws.com/KEY`), as AWS
        // recommends and as presigned URLs have always been written.
        None => b = b.with_virtual_hosted_style_request(true),
    }
    let s3 = b
        .with_client_options(client_options(allow_http))
        .build()
        .with_context(|| format!("connecting to {}", url.uri("")))?;
    let s3 = Arc::new(s3);
    Ok((s3.clone(), s3))
}

fn gcs_client(url: &BucketUrl, connect: &Connect) -> Result<Client> {
    let mut b = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(&url.bucket)
        .with_retry(retry_config());
    // An emulator (fake-gcs-server): STORAGE_EMULATOR_HOST, or --endpoint-url.
    let endpoint = connect.endpoint_url.clone().or_else(|| env(&["STORAGE_EMULATOR_HOST"]));
    if let Some(path) = &connect.google_application_credentials {
        b = b.with_application_credentials(path);
    }
    let mut allow_http = false;
    if let Some(endpoint) = &endpoint {
        let endpoint =
            if endpoint.contains("://") { endpoint.clone() } else { format!("http://{endpoint}") };
        allow_http = endpoint.starts_with("http://");
        b = b.with_base_url(endpoint.trim_end_matches('/'));
        if connect.google_application_credentials.is_none()
            && env(&["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT"]).is_none()
        {
            b = b.with_config(object_store::gcp::GoogleConfigKey::SkipSignature, "true");
        }
    }
    let gcs = b
        .with_client_options(client_options(allow_http))
        .build()
        .with_context(|| format!("connecting to {}", url.uri("")))?;
    let gcs = Arc::new(gcs);
    Ok((gcs.clone(), gcs))
}

fn azure_client(url: &BucketUrl, connect: &Connect) -> Result<Client> {
    let mut b = MicrosoftAzureBuilder::from_env()
        .with_container_name(&url.bucket)
        .with_retry(retry_config());
    if let Some(name) = &connect.azure_account_name {
        b = b.with_account(name);
    }
    if let Some(key) = &connect.azure_account_key {
        b = b.with_access_key(key);
    }
    let mut allow_http = false;
    if let Some(endpoint) = &connect.endpoint_url {
        allow_http = endpoint.starts_with("http://");
        b = b.with_endpoint(endpoint.trim_end_matches('/').to_string());
    }
    let azure = b.with_client_options(client_options(allow_http)).build().map_err(|e| {
        anyhow!(
            "{}: {}; set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY \
             (or --azure-account-name and --azure-account-key)",
            url.uri(""),
            one_line(&e.to_string())
        )
    })?;
    let azure = Arc::new(azure);
    Ok((azure.clone(), azure))
}

/// A key as object_store's path: exactly as listed (keys with '%' or other characters that
/// object_store would escape stay the same key), else made valid.
pub(super) fn object_path(key: &str) -> ObjectPath {
    ObjectPath::parse(key.trim_end_matches('/')).unwrap_or_else(|_| ObjectPath::from(key))
}

fn object_info(meta: object_store::ObjectMeta) -> ObjectInfo {
    ObjectInfo {
        key: meta.location.to_string(),
        etag: meta.e_tag.map(|t| t.trim_matches('"').to_string()),
        size: meta.size,
        last_modified: meta.last_modified.timestamp(),
    }
}

/// An object's bytes as a `Read`, fetched chunk by chunk.
pub struct ObjectReader {
    stream: BoxStream<'static, object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
    at: usize,
    uri: String,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            let next = block_on(self.stream.next()).map_err(std::io::Error::other)?;
            match next {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Some(Err(err)) => {
                    return Err(std::io::Error::other(format!(
                        "{}: reading failed: {}",
                        self.uri,
                        one_line(&err.to_string())
                    )));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
