//! `lsdb serve`: an HTTP server over a project — the local files behind its task URLs, and
//! Label Studio's health and version routes. The only async part of lsdb (axum on tokio).
//! The server holds the store while it runs: every request reads through a connection of
//! its own to the process's one instance of the store (`store::Shared`), and sees the last
//! commit, also while an import writes. Other processes wait or are told the store is busy.

mod annotate;
mod api;
use api::bad_request;
mod fetch;
pub mod files;
mod guard;
mod items;
mod media;
mod params;
mod referenced;
mod resolve;
mod tasks;
mod upload;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;

use crate::store::{Shared, Store};
use files::Refusal;
use params::Params;

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
    /// `url=` imports may reach private addresses (loopback, private ranges).
    pub allow_private_urls: bool,
}

struct Served {
    opts: ServeOptions,
    /// The store, held while the server runs (beside `lsdb start`'s shell, the shell's).
    store: Shared,
    /// The files and URIs the tasks reference.
    referenced: referenced::Cache,
    /// Stores (connections) requests are done with, kept with their prepared statements.
    idle: std::sync::Mutex<Vec<Store>>,
}

impl Served {
    /// The referenced files and task ids of the store as it is now (`conn`: the request's).
    fn referenced(&self, conn: &duckdb::Connection) -> Result<Arc<referenced::Referenced>> {
        self.referenced.get(&self.store, conn, self.opts.document_root.as_deref())
    }

    fn new(opts: ServeOptions, store: Shared) -> Arc<Served> {
        Arc::new(Served {
            opts,
            store,
            referenced: referenced::Cache::new(),
            idle: std::sync::Mutex::new(Vec::new()),
        })
    }
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
    let store = Store::open(&opts.project)?.shared();
    let listener = bind(ip, opts.port)?;
    announce(&opts.project, &listener, "Ctrl-C stops it")?;
    let state = Served::new(opts, store);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(no_delay);
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
        allow_private_urls: false,
    };
    let state = Served::new(opts, store.shared());
    let runtime = runtime()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let listener = listener.tap_io(no_delay);
                let _ = axum::serve(listener, router(state)).await;
            }
        })
    });
    Ok(())
}

/// Answers go out as they are written: a head and a body written apart otherwise wait for
/// the client's delayed ACK (Nagle's algorithm), 40 ms a request on keep-alive connections
/// (bench/serve.py: a media GET's p50 was 44 ms beside 0.4 ms for /health).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
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
        ("/api/projects", get(projects).post(annotate::create_project)),
        ("/api/current-user/whoami", get(annotate::whoami)),
        ("/api/projects/{id}/export/formats", get(export_formats)),
        ("/api/projects/{id}/exports", get(exports_list).post(exports_create)),
        ("/api/tasks", get(tasks)),
        ("/api/tasks/{id}", get(task)),
        ("/api/tasks/{id}/annotations", get(annotations).post(annotate::add)),
        (
            "/api/annotations/{id}",
            get(annotate::get).patch(annotate::update).delete(annotate::delete),
        ),
        ("/api/predictions", get(predictions)),
        ("/api/projects/{id}/import", axum::routing::post(import)),
        ("/api/project/import", axum::routing::post(import_0x)),
    ] {
        api = api.route(route, method.clone()).route(&format!("{route}/"), method);
    }
    let api = api.layer(axum::extract::DefaultBodyLimit::max(1 << 30));
    let router = Router::new()
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
        .fallback(get(media::local_file))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard));
    let router = match guard::cors_layer(state.opts.cors.as_deref()) {
        Some(layer) => router.layer(layer),
        None => router,
    };
    router.with_state(state)
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
    crate::cancel::stop();
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
    // `edition` is what label-studio-sdk reads to choose its export path.
    json(
        StatusCode::OK,
        serde_json::json!({
            "release": env!("CARGO_PKG_VERSION"),
            "app": "lsdb",
            "edition": "Community",
        }),
    )
}

/// The answer to a failure of the store or the system: 503, its text logged on the server's
/// stderr and not sent (it may name paths and PIDs).
fn unavailable(err: &anyhow::Error) -> Response {
    eprintln!("lsdb: serve: {}", crate::error::one_line(&format!("{err:#}")));
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({ "detail": "the store could not answer; see the server's log" }),
    )
}

/// How many connections the server keeps for the next requests.
const IDLE_CONNECTIONS: usize = 8;

/// Run `work` on a connection of its own to the store, off the async threads. A failure is
/// the answer: 503 (its text is logged, not sent: it may name paths), 500 when the work
/// itself failed to finish.
async fn on_store<T: Send + 'static>(
    state: Arc<Served>,
    work: impl FnOnce(&duckdb::Connection, &Path) -> Result<T> + Send + 'static,
) -> Result<T, Response> {
    on_store_of(state, move |store, project| work(store.conn(), project)).await
}

/// `on_store`, with the `Store` itself (its import lock, its change signal) for writes.
async fn on_store_of<T: Send + 'static>(
    state: Arc<Served>,
    work: impl FnOnce(&Store, &Path) -> Result<T> + Send + 'static,
) -> Result<T, Response> {
    let done = tokio::task::spawn_blocking(move || {
        crate::cancel::set_served(true);
        let idle = state.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let store = match idle {
            Some(store) => store,
            None => state.store.store()?,
        };
        let done = work(&store, &state.opts.project);
        let mut idle = state.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(store);
        }
        done
    })
    .await;
    match done {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(unavailable(&err)),
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

/// `GET /api/projects`: Label Studio's page of projects, which holds the one project.
async fn projects(State(state): State<Arc<Served>>, request: Request) -> Response {
    let mut page = 1u64;
    for (key, value) in Params::of(request.uri()).iter() {
        match key {
            "page" => match value.parse() {
                Ok(n) => page = n,
                Err(_) => return bad_request(&format!("page={value:?} is not a number")),
            },
            "page_size" | "ordering" => {}
            _ => {
                return bad_request(&format!(
                    "the parameter {key:?} is not implemented by lsdb serve for /api/projects"
                ));
            }
        }
    }
    if page != 1 {
        return invalid_page();
    }
    with_store(state, |conn, dir| {
        let project = api::project(conn, dir)?;
        Ok(Some(
            serde_json::json!({ "count": 1, "next": null, "previous": null, "results": [project] }),
        ))
    })
    .await
}

/// `GET /api/projects/1/export/formats`: the formats this server exports, as Label Studio lists
/// them; the converter's other formats are listed disabled (`lsdb export --format` writes
/// what it can).
async fn export_formats(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    json(StatusCode::OK, api::export_formats())
}

/// `GET /api/projects/1/exports`: snapshot exports; lsdb keeps none (exports stream).
async fn exports_list(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    json(StatusCode::OK, serde_json::json!([]))
}

/// `POST /api/projects/1/exports`: refused by name; lsdb's exports stream.
async fn exports_create(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    bad_request(
        "snapshot exports are not implemented by lsdb serve: download with GET \
         /api/projects/1/export?exportType=JSON|JSON_MIN|CSV, which streams",
    )
}

/// `GET /api/projects/1/export`: JSON, JSON_MIN or CSV (`exportType`, or `export_type` as the
/// SDK's `download_sync` sends it), streamed.
async fn export(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    let request = match api::ExportRequest::parse(&Params::of(request.uri())) {
        Ok(request) => request,
        Err(err) => return bad_request(&format!("{err:#}")),
    };
    let (kind, ext) = request.content_type();
    match api::export_body(state.store.clone(), request.format, request.condition).await {
        Ok((body, stamp)) => {
            let disposition = format!("attachment; filename=\"project-1-at-{stamp}.{ext}\"");
            let mut response = (StatusCode::OK, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(answer) => answer,
    }
}

/// `GET /api/tasks`: Label Studio's task list (`tasks.rs`). The plain list (all tasks in id
/// order) pages through the ids the server keeps in memory; a filtered one asks the store.
async fn tasks(State(state): State<Arc<Served>>, request: Request) -> Response {
    let parsed = match tasks::parse(&Params::of(request.uri())) {
        Ok(parsed) => parsed,
        Err(err) => return bad_request(&format!("{err:#}")),
    };
    let sets = state.clone();
    let answer = on_store(state, move |conn, _| {
        if parsed.is_plain() {
            let snapshot = sets.referenced(conn)?;
            tasks::page(conn, &parsed, &snapshot.task_ids, snapshot.totals)
        } else {
            let (ids, totals) = tasks::selected_ids(conn, &parsed)?;
            tasks::page(conn, &parsed, &ids, totals)
        }
    })
    .await;
    match answer {
        Ok(Some(body)) => json(StatusCode::OK, body),
        Ok(None) => invalid_page(),
        Err(answer) => answer,
    }
}

/// Label Studio's answer past the last page.
fn invalid_page() -> Response {
    json(StatusCode::NOT_FOUND, serde_json::json!({ "detail": "Invalid page." }))
}

async fn task(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    with_store(state, move |conn, _| Ok(items::items(conn, &[id], true, false, true)?.pop())).await
}

/// `GET /api/tasks/{id}/annotations`: the task's annotations.
async fn annotations(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    with_store(state, move |conn, _| {
        Ok(items::items(conn, &[id], true, false, true)?.pop().map(|mut t| t["annotations"].take()))
    })
    .await
}

/// `GET /api/predictions?task=N` (or `project=1`): predictions, in id order.
async fn predictions(State(state): State<Arc<Served>>, request: Request) -> Response {
    let mut task = None;
    for (key, value) in Params::of(request.uri()).iter() {
        match key {
            "task" => match value.parse::<i64>() {
                Ok(id) => task = Some(id),
                Err(_) => return bad_request(&format!("task={value:?} is not a task id")),
            },
            "project" | "task__project" if is_this_project(value) => {}
            "project" | "task__project" => return not_found(),
            _ => {
                return bad_request(&format!(
                    "the parameter {key:?} is not implemented by lsdb serve for /api/predictions"
                ));
            }
        }
    }
    with_store(state, move |conn, _| api::predictions(conn, task).map(Some)).await
}

async fn import(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    if !is_this_project(&id) {
        return not_found();
    }
    upload::import(state, request).await
}

async fn import_0x(State(state): State<Arc<Served>>, request: Request) -> Response {
    upload::import(state, request).await
}
