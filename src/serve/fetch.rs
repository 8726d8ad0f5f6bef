//! Downloads for the import API's `url=` fields, through reqwest. Only http and https; at
//! most five redirects. Every host, the first included, is checked: a name where it is
//! resolved (the connection goes to the addresses checked, no second lookup), an address
//! in the URL before the request and at every redirect. A private address (loopback,
//! private ranges, link-local, shared address space) is refused unless the server was
//! started with `--allow-private-urls`, so a URL from outside cannot reach inside the
//! machine. No proxy from the environment is used: it would resolve the target itself,
//! past the check.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use tokio::io::AsyncWriteExt;

/// The biggest file fetched for `url=`.
const MAX_FETCH: u64 = 200 << 20;
/// The most redirects followed.
const MAX_REDIRECTS: usize = 5;

/// Why a URL is not fetched: carried through reqwest's errors to the message.
#[derive(Debug)]
enum Refused {
    Private(String),
    Scheme(String),
    TooManyRedirects,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Private(host) => write!(f, "{host} is a private address"),
            Refused::Scheme(url) => write!(f, "{url}: only http and https URLs are fetched"),
            Refused::TooManyRedirects => write!(f, "more than {MAX_REDIRECTS} redirects"),
        }
    }
}

impl std::error::Error for Refused {}

/// A client that checks every hop, for one download: `hop` is where its redirects have
/// led so far (for messages).
fn client(is_private_ok: bool, hop: Arc<Mutex<Option<String>>>) -> Result<reqwest::Client> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if let Ok(mut hop) = hop.lock() {
            *hop = Some(attempt.url().to_string());
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(Refused::TooManyRedirects);
        }
        match check_url(attempt.url(), is_private_ok) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(policy)
        .dns_resolver(Arc::new(PublicOnly { is_private_ok }))
        .user_agent(concat!("lsdb/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .build()?)
}

/// Download `url` to the path `target` gives for the last part of its path.
pub async fn fetch(
    url: &str,
    is_private_ok: bool,
    target: impl FnOnce(&str) -> PathBuf,
) -> Result<PathBuf> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| anyhow!("{url}: not a URL; give an http or https URL"))?;
    check_url(&parsed, is_private_ok).map_err(|refused| message(url, None, &refused))?;
    let hop = Arc::new(Mutex::new(None));
    let client = client(is_private_ok, hop.clone())?;
    let mut answer = client.get(parsed).send().await.map_err(|err| {
        let hop = hop.lock().ok().and_then(|h| h.clone());
        match refusal(&err) {
            Some(refused) => message(url, hop.as_deref(), refused),
            None => anyhow::Error::new(err)
                .context(format!("fetching {}", hop.as_deref().unwrap_or(url))),
        }
    })?;
    let current = answer.url().to_string();
    let status = answer.status().as_u16();
    if status != 200 {
        bail!("{current}: the server answered {status}");
    }
    let path_part = answer.url().path().to_string();
    let name = path_part.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("download");
    let name = crate::fileurl::percent_decode(name, false).unwrap_or_else(|| name.to_string());
    let path = target(&name);
    let mut out = tokio::fs::File::create(&path).await?;
    let mut written = 0u64;
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("fetching {current}")))?
    {
        written += chunk.len() as u64;
        if written > MAX_FETCH {
            bail!("{current}: too big (files fetched by URL are limited to 200 MB)");
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(path)
}

/// The message for a refused hop of `url`: `hop` is the redirect's target when the refusal
/// came after one.
fn message(url: &str, hop: Option<&str>, refused: &Refused) -> anyhow::Error {
    let (current, via) = match hop {
        Some(hop) => (hop, format!(" (a redirect from {url})")),
        None => (url, String::new()),
    };
    match refused {
        Refused::Private(_) => anyhow!(
            "{current}{via} is at a private address; lsdb serve fetches only public addresses \
             (start it with --allow-private-urls to fetch from this network)"
        ),
        Refused::Scheme(_) => anyhow!("{current}{via}: only http and https URLs are fetched"),
        Refused::TooManyRedirects => anyhow!("{url}: more than {MAX_REDIRECTS} redirects"),
    }
}

/// The refusal behind a reqwest error, if it is one.
fn refusal(err: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = e.source();
    }
    None
}

/// The scheme, and the host when it is an address (names are checked where resolved).
fn check_url(url: &reqwest::Url, is_private_ok: bool) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme(url.to_string()));
    }
    let host = url.host_str().unwrap_or("");
    let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
        return Ok(());
    };
    if !is_private_ok && is_private(ip) {
        return Err(Refused::Private(ip.to_string()));
    }
    Ok(())
}

/// The system's resolver, refusing private addresses where the connection is made.
struct PublicOnly {
    is_private_ok: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let is_private_ok = self.is_private_ok;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !is_private_ok && addrs.iter().any(|a| is_private(a.ip())) {
                return Err(
                    Box::new(Refused::Private(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Whether an address is inside or not a host's: loopback, private ranges, link-local,
/// 0/8, broadcast, multicast, reserved (240/4), shared address space (100.64/10),
/// benchmarking (198.18/15), unique-local IPv6, and IPv4 addresses inside IPv6 (mapped,
/// compatible, NAT64, 6to4) of those.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_broadcast()
                || ip.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && b & 0xC0 == 64)
                || (a == 198 && b & 0xFE == 18)
        }
        IpAddr::V6(ip) => {
            let s = ip.segments();
            // An IPv4 address inside: mapped, compatible, NAT64 (64:ff9b::/96), 6to4.
            let inner = ip
                .to_ipv4()
                .or_else(|| (s[0..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| v4(s[6], s[7])))
                .or_else(|| (s[0] == 0x2002).then(|| v4(s[1], s[2])));
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || inner.is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hop_is_checked_for_its_scheme_and_address() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(matches!(check_url(&url("http://10.0.0.1/a"), false), Err(Refused::Private(_))));
        assert!(matches!(check_url(&url("http://[::1]:8/a"), false), Err(Refused::Private(_))));
        assert!(check_url(&url("http://10.0.0.1/a"), true).is_ok());
        assert!(check_url(&url("https://8.8.8.8/a"), false).is_ok());
        assert!(check_url(&url("https://example.com/a"), false).is_ok());
        assert!(matches!(check_url(&url("file:///etc/passwd"), true), Err(Refused::Scheme(_))));
    }

    #[test]
    fn addresses_inside_are_private_in_every_spelling() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "0.1.2.3",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "ff02::1",
        ] {
            assert!(is_private(inside.parse().unwrap()), "{inside}");
        }
        for outside in
            ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808", "2002:0808:0808::1"]
        {
            assert!(!is_private(outside.parse().unwrap()), "{outside}");
        }
    }
}
