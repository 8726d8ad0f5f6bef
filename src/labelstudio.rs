//! A client of a live Label Studio's API (`lsdb push`), knowing nothing of the store: the
//! server's address, its credentials and the few calls a push makes. Credentials are a
//! legacy token (`Authorization: Token …`) or a personal access token, a JWT refresh token
//! exchanged at `/api/token/refresh/` for short-lived access tokens (`Bearer …`), as the
//! SDK does with `LABEL_STUDIO_API_KEY`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A connection to one Label Studio server.
pub struct Client {
    /// The server's address without a trailing slash (`http://localhost:8080`).
    base: String,
    http: reqwest::blocking::Client,
    /// The `Authorization` header every call sends.
    authorization: String,
    /// The server is an `lsdb serve` (its `/api/version` says `"app": "lsdb"`).
    is_lsdb: bool,
}

/// Whether a token is a JWT (three base64url parts): Label Studio 1.23's personal access
/// tokens are JWT refresh tokens; legacy tokens are 40 hex digits.
pub fn is_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Client {
    /// Connect to `url` with `token`: a personal access token is exchanged for an access
    /// token first; either way the credentials are checked (`/api/current-user/whoami`), so a
    /// wrong URL or token fails here, before anything is sent.
    pub fn connect(url: &str, token: &str) -> Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("{url} is not a Label Studio address; give http://HOST:PORT");
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .context("starting the HTTP client")?;
        let token = token.trim();
        if token.is_empty() {
            bail!("no Label Studio token: pass --token or set LABEL_STUDIO_API_KEY");
        }
        let authorization = if is_jwt(token) {
            let response = http
                .post(format!("{base}/api/token/refresh/"))
                .header("Content-Type", "application/json")
                .body(serde_json::json!({ "refresh": token }).to_string())
                .send()
                .map_err(|e| unreachable_error(&base, &e))?;
            let status = response.status();
            let body: Value =
                serde_json::from_str(&response.text().unwrap_or_default()).unwrap_or(Value::Null);
            let Some(access) = body.get("access").and_then(Value::as_str) else {
                bail!(
                    "{base} refused the personal access token ({status}); create a new one in \
                     Label Studio's Account & Settings"
                );
            };
            format!("Bearer {access}")
        } else {
            format!("Token {token}")
        };
        let mut client = Client { base, http, authorization, is_lsdb: false };
        if let Err(err) = client.get("/api/current-user/whoami") {
            if err.to_string().starts_with("cannot reach") {
                return Err(err);
            }
            bail!("{} did not accept the token: {err}", client.base);
        }
        client.is_lsdb = client
            .get("/api/version")
            .is_ok_and(|v| v.get("app").and_then(Value::as_str) == Some("lsdb"));
        Ok(client)
    }

    /// Whether the server is an `lsdb serve` rather than Label Studio.
    pub fn is_lsdb(&self) -> bool {
        self.is_lsdb
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET a JSON answer.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.call(self.http.get(self.url(path)), "GET", path)
    }

    /// POST a JSON body (already serialized), for a JSON answer.
    pub fn post(&self, path: &str, body: String) -> Result<Value> {
        let request = self.http.post(self.url(path)).header("Content-Type", "application/json");
        self.call(request.body(body), "POST", path)
    }

    /// A project's tasks with everything Label Studio has on them (data, meta, annotations,
    /// predictions), a page at a time.
    pub fn tasks(&self, project: i64) -> TaskPages<'_> {
        TaskPages { client: self, project, page: 0, seen: 0, is_done: false }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn call(
        &self,
        request: reqwest::blocking::RequestBuilder,
        method: &str,
        path: &str,
    ) -> Result<Value> {
        let text = self.send(request, method, path)?.text().unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {path}: the answer is not JSON"))
    }

    /// Send with the credentials; an answer that is no success is an error in one line,
    /// with what Label Studio (or lsdb serve) said in `detail`.
    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        method: &str,
        path: &str,
    ) -> Result<reqwest::blocking::Response> {
        let response = request
            .header("Authorization", &self.authorization)
            .send()
            .map_err(|e| unreachable_error(&self.base, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
            .unwrap_or(text);
        let detail: String = crate::error::one_line(&detail).chars().take(300).collect();
        bail!("{method} {path}: HTTP {status}: {detail}");
    }
}

/// How long Label Studio may take to build an export before it starts answering.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

impl Client {
    /// Every task of a project with its annotations, through Label Studio's export API
    /// (`exportType=JSON&download_all_tasks=true`: one request, which Label Studio builds
    /// 2.7× faster than the paged task list at 20,000 tasks), each handed to `each` as it
    /// is parsed off the wire, so only one task is held at a time.
    pub fn export_tasks(
        &self,
        project: i64,
        each: &mut dyn FnMut(Value) -> Result<()>,
    ) -> Result<()> {
        let path =
            format!("/api/projects/{project}/export?exportType=JSON&download_all_tasks=true");
        let request = self.http.get(self.url(&path)).timeout(EXPORT_TIMEOUT);
        let response = self.send(request, "GET", &path).map_err(|err| {
            err.context(format!(
                "reading project {project} through Label Studio's export (`lsdb pull --paged` \
                 reads its task list page by page instead)"
            ))
        })?;
        let mut failed = None;
        let mut reader = serde_json::Deserializer::from_reader(std::io::BufReader::new(response));
        let parsed = serde::Deserializer::deserialize_seq(
            &mut reader,
            EachTask { each, failed: &mut failed },
        );
        if let Some(err) = failed {
            return Err(err);
        }
        parsed.with_context(|| format!("GET {path}: the export is not a JSON list of tasks"))?;
        Ok(())
    }
}

/// Hands each element of a JSON list to a callback as it is parsed.
struct EachTask<'a> {
    each: &'a mut dyn FnMut(Value) -> Result<()>,
    /// The callback's own error (the parser's error only says it stopped).
    failed: &'a mut Option<anyhow::Error>,
}

impl<'de> serde::de::Visitor<'de> for EachTask<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of tasks")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(task) = seq.next_element::<Value>()? {
            if let Err(err) = (self.each)(task) {
                *self.failed = Some(err);
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// Tasks per page of a project's task list (`/api/tasks`).
const PAGE_SIZE: usize = 200;

/// The pages of a project's task list: only one is held at a time.
pub struct TaskPages<'c> {
    client: &'c Client,
    project: i64,
    page: u64,
    seen: u64,
    is_done: bool,
}

impl TaskPages<'_> {
    /// The next page's tasks, `None` after the last; Ctrl-C is checked before each request.
    pub fn next_page(&mut self) -> Result<Option<Vec<Value>>> {
        if self.is_done {
            return Ok(None);
        }
        crate::cancel::check()?;
        self.page += 1;
        let answer = self.client.get(&format!(
            "/api/tasks/?project={}&page={}&page_size={PAGE_SIZE}&fields=all",
            self.project, self.page
        ))?;
        let tasks = answer.get("tasks").and_then(Value::as_array).cloned().unwrap_or_default();
        let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0);
        self.seen += tasks.len() as u64;
        self.is_done = tasks.is_empty() || self.seen >= total;
        Ok(if tasks.is_empty() { None } else { Some(tasks) })
    }
}

fn unreachable_error(base: &str, err: &reqwest::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot reach Label Studio at {base}: {}",
        crate::error::one_line(&err.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_or_legacy_token() {
        assert!(is_jwt("eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"));
        assert!(!is_jwt("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_jwt("a..b"));
        assert!(!is_jwt("a.b.c d"));
    }

    #[test]
    fn bad_addresses_fail_in_one_line() {
        let err = Client::connect("localhost:8080", "t").err().expect("refused");
        assert!(err.to_string().contains("give http://HOST:PORT"), "{err}");
        // Nothing listens on port 1.
        let err = Client::connect("http://127.0.0.1:1", "t").err().expect("refused");
        assert!(
            err.to_string().starts_with("cannot reach Label Studio at http://127.0.0.1:1"),
            "{err}"
        );
        assert!(!err.to_string().contains('\n'));
    }
}
