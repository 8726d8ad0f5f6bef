//! Presigned GET URLs, through object_store's signers: AWS Signature Version 4 for S3
//! (object_store checks it against AWS's published example), a service account key for
//! GCS, an account key (or a user delegation key) for Azure.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use super::url::parse_object_uri;
use super::{Bucket, BucketUrl, Connect, block_on, object_path};

/// A bucket by its URI scheme and name.
type BucketName = (&'static str, String);

/// Presigns the bucket URIs of task data for `ttl`, connecting once per bucket: through the
/// connection given for that bucket (a storage definition's endpoint and credentials), else
/// through `connect`.
#[derive(Debug)]
pub struct Presigner {
    connect: Connect,
    named: Vec<(BucketUrl, Connect)>,
    ttl: Duration,
    buckets: Mutex<HashMap<BucketName, Bucket>>,
}

impl Presigner {
    /// `ttl` from `lifetime`.
    pub fn new(connect: Connect, named: Vec<(BucketUrl, Connect)>, ttl: Duration) -> Presigner {
        Presigner { connect, named, ttl, buckets: Mutex::new(HashMap::new()) }
    }

    /// The presigned URL of a bucket URI, or `None` when `uri` is not one.
    pub fn url(&self, uri: &str) -> Result<Option<String>> {
        let Some((provider, bucket_name, key)) = parse_object_uri(uri) else { return Ok(None) };
        let mut buckets = self.buckets.lock().map_err(|_| anyhow!("the presigner failed"))?;
        let slot = (provider.scheme(), bucket_name.to_string());
        if !buckets.contains_key(&slot) {
            let named =
                self.named.iter().find(|(u, _)| u.provider == provider && u.bucket == bucket_name);
            let connect = named.map_or(&self.connect, |(_, c)| c);
            let url = BucketUrl { provider, bucket: bucket_name.to_string(), path: String::new() };
            buckets.insert(slot.clone(), Bucket::open(&url, connect)?);
        }
        Ok(Some(presign(&buckets[&slot], key, self.ttl)?))
    }
}

/// The longest a SigV4 presigned URL may live (7 days).
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long presigned URLs live, from `--presign-ttl MINUTES`: 1 minute to 7 days.
pub fn lifetime(minutes: u64) -> Result<Duration> {
    let ttl = Duration::from_secs(minutes.saturating_mul(60));
    if ttl > MAX_TTL || ttl.is_zero() {
        bail!("--presign-ttl {minutes}: presigned URLs live from 1 to 10080 minutes (7 days)");
    }
    Ok(ttl)
}

/// A presigned GET URL of `key` in `bucket`, valid for `ttl` from now.
pub fn presign(bucket: &Bucket, key: &str, ttl: Duration) -> Result<String> {
    if ttl > MAX_TTL || ttl.is_zero() {
        bail!("a presigned URL lives from 1 minute to 7 days (10080 minutes); got {ttl:?}");
    }
    // The key as lsdb reads it, so the URL names the object an import read.
    let path = object_path(key);
    let url = block_on(bucket.signer.signed_url(http::Method::GET, &path, ttl))?
        .map_err(|e| bucket.error(e, key))?;
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::Provider;

    /// A custom endpoint (MinIO, moto) gives path-style URLs with each key segment encoded,
    /// and a session token is signed in.
    #[test]
    fn custom_endpoints_are_path_style_and_keys_encoded() -> Result<()> {
        let connect = Connect {
            endpoint_url: Some("http://127.0.0.1:9000/".into()),
            region: Some("eu-west-1".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            session_token: Some("t/+=".into()),
            ..Connect::default()
        };
        let url = BucketUrl { provider: Provider::S3, bucket: "b".into(), path: String::new() };
        let bucket = Bucket::open(&url, &connect)?;
        let url = presign(&bucket, "a dir/\u{fc}.png", Duration::from_secs(60))?;
        assert!(url.starts_with("http://127.0.0.1:9000/b/a%20dir/%C3%BC.png?"), "{url}");
        assert!(url.contains("X-Amz-Security-Token=t%2F%2B%3D"), "{url}");
        assert!(url.contains("X-Amz-Expires=60&"), "{url}");
        assert!(url.contains("X-Amz-Credential=k%2F"), "{url}");
        assert!(presign(&bucket, "x", MAX_TTL + Duration::from_secs(1)).is_err());
        Ok(())
    }

    /// Without an endpoint, AWS: the bucket in the host name.
    #[test]
    fn aws_urls_are_virtual_hosted() -> Result<()> {
        let connect = Connect {
            region: Some("eu-west-1".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            ..Connect::default()
        };
        let url = BucketUrl { provider: Provider::S3, bucket: "b".into(), path: String::new() };
        let url = presign(&Bucket::open(&url, &connect)?, "a/c.png", Duration::from_secs(60))?;
        assert!(url.starts_with("https://b.s3.eu-west-1.amazonaws.com/a/c.png?"), "{url}");
        Ok(())
    }
}
