//! What every request passes first: the Host check (no DNS rebinding without a token), the
//! refusal of cross-origin POSTs, the token (or a local file's signature), and CORS for
//! `--cors ORIGIN`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::params::Params;
use super::{Served, files, json};

/// Cross-origin requests from `--cors ORIGIN`, preflight included (tower-http).
pub fn cors_layer(origin: Option<&str>) -> Option<tower_http::cors::CorsLayer> {
    let origin = HeaderValue::from_str(origin?).ok()?;
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                http::Method::GET,
                http::Method::POST,
                http::Method::PATCH,
                http::Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::RANGE])
            .expose_headers([header::CONTENT_RANGE, header::CONTENT_LENGTH, header::ETAG]),
    )
}

/// Routes open to anyone, as in Label Studio: health, version, the Import page (static; it
/// asks for the token itself).
fn is_open_route(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "" | "/import" | "/health" | "/api/version")
}

/// Every request: a POST (PATCH, DELETE) from a web page of another origin (than this server's, or
/// `--cors`) is refused (browsers send such requests without asking first); with a token,
/// every route but the open ones needs `Authorization: Token T` (Label Studio's header and
/// 401 body), or, for a local file, the URL's signature (`sig=`, `lsdb export --sign-urls`).
pub async fn guard(State(state): State<Arc<Served>>, request: Request, next: Next) -> Response {
    // Without a token the server answers anyone who reaches it, so only by its address: a
    // host name other than localhost is a page that rebound its own name to this machine.
    if state.opts.token.is_none() && !is_address_host(request.headers()) {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({ "detail": "this server answers requests to its address (127.0.0.1, \
                localhost) only; give it --token T to be reached under another name" }),
        );
    }
    if !matches!(*request.method(), http::Method::GET | http::Method::HEAD | http::Method::OPTIONS)
        && let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !is_same_origin(origin, request.headers())
        && state.opts.cors.as_deref() != Some(origin)
    {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({ "detail": format!(
                "a request from the web page at {origin} is refused; start lsdb serve with \
                 --cors {origin} to allow that origin"
            ) }),
        );
    }
    if let Some(token) = &state.opts.token
        && !is_open_route(request.uri().path())
    {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let given = given.and_then(|v| v.strip_prefix("Token ").or(v.strip_prefix("Bearer ")));
        let is_signed =
            || files::has_valid_signature(token, request.uri().path(), &Params::of(request.uri()));
        let is_token = given.is_some_and(|g| crate::fileurl::same_in_constant_time(g, token));
        if !is_token && !is_signed() {
            return json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "detail": "Authentication credentials were not provided." }),
            );
        }
    }
    next.run(request).await
}

/// Whether the request's Host is an IP address or `localhost` (with any port).
fn is_address_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => return v6.split(']').next().is_some_and(|a| a.parse::<IpAddr>().is_ok()),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

/// Whether `origin` (scheme://host[:port]) is this server as the request's Host names it.
fn is_same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some() && origin_host == host
}
