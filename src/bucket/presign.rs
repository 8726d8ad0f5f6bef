//! Presigned GET URLs, through object_store's signers: AWS Signature Version 4 for S3
//! (object_store checks it against AWS's published example), a service account key for
//! GCS, an account key (or a user delegation key) for Azure.

use std::time::Duration;

use anyhow::{Result, bail};

use super::{Bucket, Buckets, block_on, object_path};

/// Presigns the bucket URIs of task data for `ttl`, each through its bucket's connection
/// (`Buckets`).
#[derive(Debug)]
pub struct Presigner {
    buckets: Buckets,
    ttl: Duration,
}

impl Presigner {
    /// `ttl` from `lifetime`.
    pub fn new(buckets: Buckets, ttl: Duration) -> Presigner {
        Presigner { buckets, ttl }
    }

    /// The presigned URL of a bucket URI, or `None` when `uri` is not one.
    pub fn url(&self, uri: &str) -> Result<Option<String>> {
        let Some((bucket, key)) = self.buckets.object(uri)? else { return Ok(None) };
        Ok(Some(presign(&bucket, key, self.ttl)?))
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
    use crate::bucket::{BucketUrl, Connect, Provider};

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
