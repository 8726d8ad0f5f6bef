//! Bucket URLs: `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` (or
//! `azure-blob://`, the form Label Studio keeps in task data).

use anyhow::{Result, bail};

/// The cloud a bucket URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Provider {
    S3,
    Gcs,
    Azure,
}

impl Provider {
    /// The scheme of the canonical URIs kept in task data (Label Studio's own).
    pub fn scheme(self) -> &'static str {
        match self {
            Provider::S3 => "s3",
            Provider::Gcs => "gs",
            Provider::Azure => "azure-blob",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::S3 => "S3",
            Provider::Gcs => "Google Cloud Storage",
            Provider::Azure => "Azure Blob Storage",
        }
    }

    /// Where credentials come from, for error messages.
    pub fn credential_hint(self) -> &'static str {
        match self {
            Provider::S3 => "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --aws-access-key-id",
            Provider::Gcs => "GOOGLE_APPLICATION_CREDENTIALS, or --google-application-credentials",
            Provider::Azure => "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
        }
    }
}

/// A bucket and a key or prefix in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    pub provider: Provider,
    pub bucket: String,
    /// The key or prefix, without a leading '/'.
    pub path: String,
}

impl BucketUrl {
    /// `None` when `text` is not a bucket URL (a local path); an error when it is one but
    /// malformed.
    pub fn parse(text: &str) -> Option<Result<BucketUrl>> {
        let (scheme, rest) = text.split_once("://")?;
        let provider = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Provider::S3,
            "gs" | "gcs" => Provider::Gcs,
            "az" | "azure" | "azure-blob" | "abfs" => Provider::Azure,
            _ => return None,
        };
        Some(Self::parts(provider, text, rest))
    }

    fn parts(provider: Provider, text: &str, rest: &str) -> Result<BucketUrl> {
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!(
                "{text}: no bucket in the URL; write it as {}://BUCKET/PREFIX",
                provider.scheme()
            );
        }
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !bucket.chars().all(is_name_char) {
            bail!(
                "{text}: {bucket:?} is not a bucket name (letters, digits, '-', '_' and '.' only)"
            );
        }
        if path.split('/').any(|part| part == "..") {
            bail!("{text}: '..' is not allowed in a bucket URL");
        }
        Ok(BucketUrl { provider, bucket: bucket.to_string(), path: path.to_string() })
    }

    /// The canonical URI of `key` in this bucket (`s3://bucket/key`), as task data keeps it.
    pub fn uri(&self, key: &str) -> String {
        format!("{}://{}/{key}", self.provider.scheme(), self.bucket)
    }
}

/// The bucket and key of a canonical object URI in task data, whichever scheme.
pub fn parse_object_uri(text: &str) -> Option<(Provider, &str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let provider = match scheme {
        "s3" => Provider::S3,
        "gs" => Provider::Gcs,
        "azure-blob" => Provider::Azure,
        _ => return None,
    };
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((provider, bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_parts() {
        let url = BucketUrl::parse("s3://b/p/q/").unwrap().unwrap();
        assert_eq!(
            (url.provider, url.bucket.as_str(), url.path.as_str()),
            (Provider::S3, "b", "p/q/")
        );
        let url = BucketUrl::parse("az://c").unwrap().unwrap();
        assert_eq!((url.provider, url.path.as_str()), (Provider::Azure, ""));
        assert_eq!(url.uri("k.png"), "azure-blob://c/k.png");
        assert!(BucketUrl::parse("tasks.json").is_none());
        assert!(BucketUrl::parse("http://x/y").is_none());
        assert!(BucketUrl::parse("gs:///x").unwrap().is_err());
        assert!(BucketUrl::parse("s3://b/../x").unwrap().is_err());
        assert!(BucketUrl::parse("s3://b'; DROP/x").unwrap().is_err());
        assert_eq!(parse_object_uri("gs://b/a/b.png"), Some((Provider::Gcs, "b", "a/b.png")));
        assert_eq!(parse_object_uri("s3://b/"), None);
    }
}
