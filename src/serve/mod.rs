//! `lsdb serve`: an HTTP server over a project — the local files behind its task URLs, and
//! Label Studio's health and version routes. The only async part of lsdb (axum on tokio).
//! The store is opened read-only for each request that needs it and closed after, so other
//! lsdb commands can use the project while the server runs.

mod api;
pub mod files;
mod resolve;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::store::{STORE_FILE, Store};
use files::{Range, Refusal};

/// How to serve a project.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub project: PathBuf,
    pub host: String,
    pub port: u16,
    /// Required as `Authorization: Token T` on `/api/` routes when set.
    pub token: Option<String>,
    /// `Access-Control-Allow-Origin` for every answer.
    pub cors: Option<String>,
    /// The folder `/data/local-files/?d=` paths are relative to.
    pub document_root: Option<PathBuf>,
    /// Fetch `url=` imports (off: refused).
    pub allow_url_import: bool,
}

struct Served {
    opts: ServeOptions,
    /// Beside the shell (`lsdb start`): a connection to the shell's own database, since a
    /// second open of the file in one process is not safe. Otherwise the store is opened
    /// read-only for each request.
    shared: Option<std::sync::Mutex<duckdb::Connection>>,
    /// One import at a time.
    importing: std::sync::Mutex<()>,
}

/// Serve until Ctrl-C or SIGTERM. The first line on stdout says where.
pub fn run(opts: ServeOptions) -> Result<()> {
    let ip: IpAddr = match opts.host.as_str() {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        host => host
            .parse()
            .with_context(|| format!("--host {host:?} is not an IP address such as 127.0.0.1"))?,
    };
    if !ip.is_loopback() && opts.token.is_none() {
        bail!(
            "--host {ip} lets other machines reach the project; give --token T as well (clients \
             then send `Authorization: Token T`), or serve on 127.0.0.1"
        );
    }
    // Fail now, not at the first request, when there is no project.
    drop(Store::open(&opts.project)?);
    let listener = bind(ip, opts.port)?;
    announce(&opts.project, &listener, "Ctrl-C stops it")?;
    let state = Arc::new(Served { opts, shared: None, importing: std::sync::Mutex::new(()) });
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router(state)).with_graceful_shutdown(stopped()).await?;
        Ok(())
    })
}

/// Serve on a thread of its own beside the shell of `lsdb start`, through `store`'s
/// database, until the process ends. Fails before the shell starts when the port is taken.
pub fn spawn_beside(store: &Store, port: u16) -> Result<()> {
    let listener = bind(IpAddr::from([127, 0, 0, 1]), port)?;
    announce(store.project(), &listener, "while the shell is open")?;
    let opts = ServeOptions {
        project: store.project().to_path_buf(),
        host: "127.0.0.1".into(),
        port,
        token: None,
        cors: None,
        document_root: None,
        allow_url_import: false,
    };
    let shared = Some(std::sync::Mutex::new(store.conn().try_clone()?));
    let state = Arc::new(Served { opts, shared, importing: std::sync::Mutex::new(()) });
    let runtime = runtime()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, router(state)).await;
            }
        })
    });
    Ok(())
}

fn bind(ip: IpAddr, port: u16) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind((ip, port)).with_context(|| {
        format!("can't listen on {ip}:{port} (is another server there? pick another --port)")
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn announce(project: &Path, listener: &std::net::TcpListener, how: &str) -> Result<()> {
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "lsdb: serving {} at http://{addr} ({how})", project.display())?;
    out.flush()?;
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the server's runtime")
}

fn router(state: Arc<Served>) -> Router {
    let mut api = Router::new();
    for (route, method) in [
        ("/api/version", get(version)),
        ("/api/projects/{id}", get(project)),
        ("/api/projects/{id}/export", get(export)),
        ("/api/tasks", get(tasks)),
        ("/api/tasks/{id}", get(task)),
        ("/api/projects/{id}/import", axum::routing::post(import)),
        ("/api/project/import", axum::routing::post(import_0x)),
    ] {
        api = api.route(route, method.clone()).route(&format!("{route}/"), method);
    }
    let api = api
        .layer(axum::extract::DefaultBodyLimit::max(1 << 30))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/", get(import_page))
        .route("/import", get(import_page))
        .route("/import/", get(import_page))
        .route("/health", get(health))
        .route("/health/", get(health))
        .route("/tasks/{id}/resolve/", get(resolve::task_uri))
        .route("/tasks/{id}/presign/", get(resolve::task_uri))
        .route("/projects/{id}/resolve/", get(resolve::project_uri))
        .route("/projects/{id}/presign/", get(resolve::project_uri))
        .merge(api)
        .fallback(get(local_file))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .with_state(state)
}

/// Ctrl-C or SIGTERM: stop taking requests, finish the ones in hand.
async fn stopped() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    // Requests in hand finish, but an import among them stops and rolls back.
    crate::cancel::request();
}

/// Label Studio's 404.
fn not_found() -> Response {
    json(StatusCode::NOT_FOUND, serde_json::json!({ "detail": "Not found." }))
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn refusal(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::NOT_FOUND);
    json(status, serde_json::json!({ "detail": r.message }))
}

/// The Import page: one HTML file in the binary, no framework.
async fn import_page() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("import.html"),
    )
        .into_response()
}

async fn health() -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "UP" }))
}

async fn version() -> Response {
    json(StatusCode::OK, serde_json::json!({ "release": env!("CARGO_PKG_VERSION"), "app": "lsdb" }))
}

/// Run `work` on the store (the shell's connection, or the file opened read-only for this
/// request) off the async threads. A failure is the answer: 503 with its text, 500 when the
/// work itself failed to finish.
async fn on_store<T: Send + 'static>(
    state: Arc<Served>,
    work: impl FnOnce(&duckdb::Connection, &Path) -> Result<T> + Send + 'static,
) -> Result<T, Response> {
    let done = tokio::task::spawn_blocking(move || match &state.shared {
        Some(conn) => {
            let conn = conn.lock().map_err(|_| anyhow::anyhow!("the store's connection failed"))?;
            work(&conn, &state.opts.project)
        }
        None => work(&open_read_only(&state.opts.project)?, &state.opts.project),
    })
    .await;
    match done {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "detail": format!("{err:#}") }),
        )),
        Err(_) => {
            Err(json(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "detail": "failed" })))
        }
    }
}

/// `on_store`, answered with the work's JSON; `None` is a 404.
async fn with_store(
    state: Arc<Served>,
    work: impl FnOnce(&duckdb::Connection, &Path) -> Result<Option<serde_json::Value>> + Send + 'static,
) -> Response {
    match on_store(state, work).await {
        Ok(Some(body)) => json(StatusCode::OK, body),
        Ok(None) => not_found(),
        Err(answer) => answer,
    }
}

/// Label Studio numbers projects; lsdb serves one, id 1.
fn is_this_project(id: &str) -> bool {
    id == "1"
}

async fn project(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    with_store(state, |conn, dir| api::project(conn, dir).map(Some)).await
}

async fn export(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    let query = request.uri().query().unwrap_or("").to_string();
    let format = files::query_value(&query, "exportType").unwrap_or_else(|| "JSON".into());
    if format != "JSON" {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "detail": format!("exportType {format} is not served; use JSON, or `lsdb export --format`") }),
        );
    }
    let ids: Vec<i64> =
        files::query_values(&query, "ids[]").iter().filter_map(|v| v.parse().ok()).collect();
    // As Label Studio: without download_all_tasks=true, only tasks that have annotations.
    let is_all = files::query_flag(&query, "download_all_tasks");
    let mut conditions = Vec::new();
    if !ids.is_empty() {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        conditions.push(format!("id IN ({})", list.join(", ")));
    }
    if !is_all {
        conditions.push("id IN (SELECT task_id FROM completions)".to_string());
    }
    let condition = (!conditions.is_empty()).then(|| conditions.join(" AND "));
    with_store(state, move |conn, _| api::export_json(conn, condition, None).map(Some)).await
}

async fn tasks(State(state): State<Arc<Served>>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or("").to_string();
    let number = |name: &str, default: u64| {
        files::query_value(&query, name).and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let (page, size) = (number("page", 1), number("page_size", 100).clamp(1, 10_000));
    if files::query_value(&query, "project").is_some_and(|p| !is_this_project(&p)) {
        return not_found();
    }
    let answer = with_store(state, move |conn, _| api::tasks_page(conn, page, size)).await;
    if answer.status() == StatusCode::NOT_FOUND {
        // Label Studio's answer past the last page.
        return json(StatusCode::NOT_FOUND, serde_json::json!({ "detail": "Invalid page." }));
    }
    answer
}

async fn task(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    with_store(state, move |conn, _| {
        let tasks = api::export_json(conn, Some(format!("id = {id}")), None)?;
        Ok(tasks.as_array().and_then(|t| t.first().cloned()))
    })
    .await
}

async fn import(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    api::import(state, request).await
}

async fn import_0x(State(state): State<Arc<Served>>, request: Request) -> Response {
    api::import(state, request).await
}

/// `Authorization: Token T` on `/api/` routes when the server has a token (Label Studio's
/// header and 401 body).
async fn require_token(State(state): State<Arc<Served>>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.opts.token {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let given = given.and_then(|v| v.strip_prefix("Token ").or(v.strip_prefix("Bearer ")));
        if given != Some(token.as_str()) {
            return json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "detail": "Authentication credentials were not provided." }),
            );
        }
    }
    next.run(request).await
}

async fn cors(State(state): State<Arc<Served>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(origin) = state.opts.cors.as_deref().and_then(|o| HeaderValue::from_str(o).ok()) {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// `/data/<name>?d=<folder>` and `/data/local-files/?d=<path>`.
async fn local_file(State(state): State<Arc<Served>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let named = if path == "/data/local-files" || path == "/data/local-files/" {
        files::ls1_form(&query, state.opts.document_root.as_deref())
    } else if let Some(name) = path.strip_prefix("/data/") {
        files::seed_form(name, &query)
    } else {
        return json(StatusCode::NOT_FOUND, serde_json::json!({ "detail": "not found" }));
    };
    let file = match named {
        Ok(file) => file,
        Err(r) => return refusal(r),
    };
    match on_store(state, move |conn, project| checked_file(conn, project, &file)).await {
        Ok(Ok(file)) => send_file(&file, request.headers()).await,
        Ok(Err(r)) => refusal(r),
        Err(answer) => answer,
    }
}

/// The store opened read-only for one request.
fn open_read_only(project: &Path) -> Result<duckdb::Connection> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    duckdb::Connection::open_with_flags(project.join(STORE_FILE), config).map_err(|e| {
        anyhow::anyhow!(
            "the store is busy (another lsdb command, such as an import, is writing it); try \
             again in a moment ({})",
            crate::store::first_line(&e.to_string())
        )
    })
}

fn checked_file(
    conn: &duckdb::Connection,
    project: &Path,
    file: &Path,
) -> Result<Result<PathBuf, Refusal>> {
    if let Err(r) = files::check_allowed(conn, project, file)? {
        return Ok(Err(r));
    }
    Ok(files::resolved(file))
}

async fn send_file(path: &Path, request: &HeaderMap) -> Response {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return refusal(Refusal { status: 404, message: "no such file".into() });
    };
    let Ok(meta) = file.metadata().await else {
        return refusal(Refusal { status: 404, message: "no such file".into() });
    };
    let len = meta.len();
    let modified = meta.modified().ok();
    let etag = files::etag(len, modified);
    let mut headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, files::content_type(path));
    set(header::ACCEPT_RANGES, "bytes");
    set(header::ETAG, &etag);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(modified) = modified {
        set(header::LAST_MODIFIED, &httpdate::fmt_http_date(modified));
    }
    if files::is_active_content(path) {
        set(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        );
    }
    let if_none_match = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let range = request.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match files::parse_range(range, len) {
        Range::Whole => (StatusCode::OK, 0, len.saturating_sub(1)),
        Range::Part(start, end) => {
            set(header::CONTENT_RANGE, &format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
        Range::Unsatisfiable => {
            set(header::CONTENT_RANGE, &format!("bytes */{len}"));
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    let size = if len == 0 { 0 } else { end - start + 1 };
    set(header::CONTENT_LENGTH, &size.to_string());
    if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return refusal(Refusal { status: 404, message: "no such file".into() });
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(size)));
    (status, headers, body).into_response()
}
