//! The routes through which a client writes labels into the store as into Label Studio, so
//! that `lsdb push`/`lsdb pull` and Label Studio's SDK work against `lsdb serve` too: the
//! current user, creating the project (the store's one project takes the label config
//! while it holds no tasks), and annotations added, read, edited and deleted
//! (`store::annotations`). Writes run one at a time with imports (`Store::import_lock`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::api::bad_request;
use super::{Served, json, not_found};
use crate::store::{Store, annotations};

/// The largest annotation or project body taken.
const BODY_LIMIT: usize = 64 << 20;

/// `GET /api/current-user/whoami`: the server has no users; it answers as its one user.
pub async fn whoami() -> Response {
    json(
        StatusCode::OK,
        serde_json::json!({
            "id": 1, "username": "lsdb", "email": "", "first_name": "", "last_name": "",
        }),
    )
}

/// `POST /api/projects`: the store is the server's one project. While it holds no tasks it
/// takes the body's `label_config` (or already has that config) and answers as project 1;
/// otherwise it is refused, naming the way in (`--ls-project 1`).
pub async fn create_project(State(state): State<Arc<Served>>, request: Request) -> Response {
    let body = match body_json(request).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let Some(xml) = body.get("label_config").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("give the new project's \"label_config\" (the label config's XML)");
    };
    let done = write(state, move |store, dir| {
        let conn = store.conn();
        let tasks: i64 = conn.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))?;
        let stored = crate::store::config::load_config(conn)?;
        let same = stored.as_ref().is_some_and(|c| c.xml == xml);
        if !same {
            if tasks > 0 || stored.is_some() {
                return Ok(Err(format!(
                    "lsdb serve holds one project (id 1), which already has {}; send tasks to \
                     it (lsdb push --ls-project 1) instead of making a project",
                    if tasks > 0 { "tasks" } else { "a label config" }
                )));
            }
            let config = match crate::labelconfig::parse_label_config(&xml, "label_config") {
                Ok(config) => config,
                Err(err) => return Ok(Err(format!("{err:#}"))),
            };
            crate::project::set_config(conn, &config, "POST /api/projects")?;
        }
        Ok(Ok(super::api::project(conn, dir)?))
    })
    .await;
    match done {
        Ok(Ok(project)) => json(StatusCode::CREATED, project),
        Ok(Err(message)) => bad_request(&message),
        Err(answer) => answer,
    }
}

/// `POST /api/tasks/{id}/annotations`: add an annotation to the task.
pub async fn add(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    let Ok(task) = id.parse::<i64>() else { return not_found() };
    let body = match annotation_body(request).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    answer(
        StatusCode::CREATED,
        write(state, move |store, _| annotations::add(store.conn(), task, &body)).await,
    )
}

/// `GET /api/annotations/{id}`.
pub async fn get(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else { return not_found() };
    super::with_store(state, move |conn, _| annotations::get(conn, id)).await
}

/// `PATCH /api/annotations/{id}`: change the fields given (the previous ones are kept in
/// `completion_history`).
pub async fn update(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Response {
    let Ok(id) = id.parse::<i64>() else { return not_found() };
    let body = match annotation_body(request).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    answer(
        StatusCode::OK,
        write(state, move |store, _| annotations::update(store.conn(), id, &body)).await,
    )
}

/// `DELETE /api/annotations/{id}`: 204 (kept in `completion_history`).
pub async fn delete(
    State(state): State<Arc<Served>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else { return not_found() };
    match write(state, move |store, _| annotations::delete(store.conn(), id)).await {
        Ok(true) => axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT),
        Ok(false) => not_found(),
        Err(answer) => answer,
    }
}

/// An annotation route's answer: the annotation, or 404 for no such task or annotation.
fn answer(status: StatusCode, done: Result<Option<Value>, Response>) -> Response {
    match done {
        Ok(Some(annotation)) => json(status, annotation),
        Ok(None) => not_found(),
        Err(answer) => answer,
    }
}

/// The request's body as an annotation (`store::annotations::check`), or a 400 naming what
/// is wrong with it.
async fn annotation_body(request: Request) -> Result<Value, Response> {
    let body = body_json(request).await?;
    annotations::check(&body).map_err(|err| bad_request(&format!("{err:#}")))?;
    Ok(body)
}

/// The request's body as JSON, or a 400 naming where it is not.
async fn body_json(request: Request) -> Result<Value, Response> {
    let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|err| bad_request(&format!("the body can't be read: {err}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|err| bad_request(&format!("the body is not JSON: {err}")))
}

/// Run `work` on a store of the server's, one writer at a time (with the server's imports);
/// the store's readers see the change once it commits.
async fn write<T: Send + 'static>(
    state: Arc<Served>,
    work: impl FnOnce(&Store, &std::path::Path) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Response> {
    super::on_store_of(state, move |store, project| {
        store.check_writable()?;
        let done = {
            let _one_at_a_time = store.import_lock();
            work(store, project)
        };
        store.changed();
        done
    })
    .await
}
