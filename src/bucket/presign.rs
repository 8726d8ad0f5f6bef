//! Presigned GET URLs. S3's are made here (AWS Signature Version 4, query-string form), so
//! that the signature can be checked against AWS's published example for a fixed clock;
//! GCS and Azure use object_store's signers (a service account key, an account key).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::{Result, anyhow, bail};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::url::parse_object_uri;
use super::{Bucket, BucketUrl, Connect, Provider, block_on, one_line};
use crate::fileurl::percent_encode;

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
    match bucket.url.provider {
        Provider::S3 => {
            let connect = bucket.connect();
            let Some((id, secret, token)) = connect.s3_credentials() else {
                bail!(
                    "presigning needs AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
                );
            };
            let request = S3Request {
                endpoint: connect.s3_endpoint(),
                region: connect.s3_region(),
                bucket: bucket.url.bucket.clone(),
                key: key.to_string(),
            };
            let keys = Keys { access_key_id: id, secret_access_key: secret, session_token: token };
            Ok(request.presigned_get(&keys, SystemTime::now(), ttl))
        }
        Provider::Gcs | Provider::Azure => {
            let signer = bucket.signer.as_ref().ok_or_else(|| {
                anyhow!("{}: this connection can't sign URLs", bucket.url.uri(""))
            })?;
            let path = object_store::path::Path::parse(key)
                .unwrap_or_else(|_| object_store::path::Path::from(key));
            let url = block_on(signer.signed_url(http::Method::GET, &path, ttl))?.map_err(|e| {
                anyhow!(
                    "{}: can't presign: {} ({} needed)",
                    bucket.url.uri(key),
                    one_line(&e.to_string()),
                    bucket.url.provider.credential_hint()
                )
            })?;
            Ok(url.to_string())
        }
    }
}

/// A GET of one S3 object.
pub struct S3Request {
    /// A custom endpoint (MinIO, moto): path-style URLs under it. AWS otherwise, with
    /// virtual-hosted URLs.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub key: String,
}

/// The credentials a URL is signed with.
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl S3Request {
    /// The URL's scheme and host, and its path (each key segment encoded).
    fn base(&self) -> (String, String, String) {
        // Each key segment percent-encoded, the '/' between them kept (SigV4's path form).
        let segments: Vec<String> =
            self.key.split('/').map(|part| percent_encode(part, false)).collect();
        let key = segments.join("/");
        match &self.endpoint {
            Some(endpoint) => {
                let endpoint = endpoint.trim_end_matches('/');
                let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
                let host = host.split('/').next().unwrap_or(host);
                (format!("{scheme}://{host}"), host.to_string(), format!("/{}/{key}", self.bucket))
            }
            None => {
                let host = if self.region == "us-east-1" {
                    format!("{}.s3.amazonaws.com", self.bucket)
                } else {
                    format!("{}.s3.{}.amazonaws.com", self.bucket, self.region)
                };
                (format!("https://{host}"), host, format!("/{key}"))
            }
        }
    }

    /// The presigned URL for a GET at `now`, valid for `ttl`.
    pub fn presigned_get(&self, keys: &Keys, now: SystemTime, ttl: Duration) -> String {
        let (origin, host, path) = self.base();
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (date, stamp) = amz_date(secs);
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut query = vec![
            ("X-Amz-Algorithm".to_string(), "AWS4-HMAC-SHA256".to_string()),
            ("X-Amz-Credential".to_string(), format!("{}/{scope}", keys.access_key_id)),
            ("X-Amz-Date".to_string(), stamp.clone()),
            ("X-Amz-Expires".to_string(), ttl.as_secs().to_string()),
            ("X-Amz-SignedHeaders".to_string(), "host".to_string()),
        ];
        if let Some(token) = &keys.session_token {
            query.push(("X-Amz-Security-Token".to_string(), token.clone()));
        }
        query.sort();
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k, false), percent_encode(v, false)))
            .collect();
        let query = query.join("&");
        let canonical = format!("GET\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{}", keys.secret_access_key).as_bytes(), date.as_bytes());
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        format!("{origin}{path}?{query}&X-Amz-Signature={signature}")
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` of a Unix time, in UTC.
fn amz_date(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!("{date}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60);
    (date, stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example of a presigned GET ("Authenticating Requests: Using Query
    /// Parameters", Signature Version 4): examplebucket/test.txt, 2013-05-24, 86400 seconds.
    #[test]
    fn matches_aws_published_example() {
        let request = S3Request {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: "examplebucket".into(),
            key: "test.txt".into(),
        };
        let keys = Keys {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
        let url = request.presigned_get(&keys, now, Duration::from_secs(86_400));
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn custom_endpoints_are_path_style_and_keys_encoded() {
        let request = S3Request {
            endpoint: Some("http://127.0.0.1:9000/".into()),
            region: "eu-west-1".into(),
            bucket: "b".into(),
            key: "a dir/ü.png".into(),
        };
        let keys = Keys {
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            session_token: Some("t/+=".into()),
        };
        let url = request.presigned_get(&keys, SystemTime::UNIX_EPOCH, Duration::from_secs(60));
        assert!(
            url.starts_with("http://127.0.0.1:9000/b/a%20dir/%C3%BC.png?X-Amz-Algorithm="),
            "{url}"
        );
        assert!(url.contains("X-Amz-Security-Token=t%2F%2B%3D"), "{url}");
        assert!(url.contains("X-Amz-Date=19700101T000000Z"), "{url}");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(amz_date(951_782_400).1, "20000229T000000Z");
        assert_eq!(amz_date(1_798_761_599).1, "20261231T235959Z");
    }
}
