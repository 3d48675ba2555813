//! The HTTP face on `service.listen`.
//!
//! Open, content-free: `/healthz` (the process and supervisor are alive), `/readyz` (the
//! store is open and every tenant's actors are up). Open, read-only: `/status` (JSON per
//! tenant), `/metrics` (Prometheus text), `/` (a small status page); without the admin
//! token these show states and counts only — failure reasons, run and email errors name
//! employees and their work emails, so they need `Authorization: Bearer <admin token>`
//! (`/status` then answers `"details": true`). Admin, behind the
//! bearer token `service.admin_token_*` (compared in constant time; 401 otherwise, 403 when
//! no token is configured): `POST /tenants/{id}/sync` starts a run (body optional:
//! `{"force": true}` says to run even while quarantined), `POST
//! /tenants/{id}/approve` with `{"run": N, "reject": false}` releases held deactivations;
//! with `{}` (or `{"reject": true}`) it approves (discards) the plan awaiting review.
//! `POST /tenants/{id}/employees/{employee_id}/sync` syncs one person now and answers what
//! was done (see [`sync_employee`]).
//! None of them carries a secret or an upstream host name.
//!
//! [`serve`] guards the socket against slow or stalled clients: at most
//! `service.max_connections` open connections (past it, a new one closes the oldest that has
//! no request in progress), request headers within [`HEADER_TIMEOUT`] (an idle keep-alive
//! connection is closed after as long), a request body of at most 16 KiB within
//! [`BODY_TIMEOUT`]; on shutdown, idle connections close at once and requests still in
//! progress get [`STOP_GRACE`].

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hrsync_actors::one_sync::OneSyncError;
use hrsync_actors::report::html_escape as escape;
use hrsync_actors::root::RootMsg;
use hrsync_actors::sanitize;
use hrsync_actors::status::{StatusBoard, TenantState, HIDDEN};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ractor::ActorRef;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A client must send its request headers (or its next request on a kept-alive
/// connection) within this time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must arrive within this time.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body.
pub const MAX_BODY: usize = 16 * 1024;
/// On shutdown, requests in progress get this long before their connections are cut.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What the handlers need.
#[derive(Clone)]
pub struct AppState {
    pub status: StatusBoard,
    /// The root supervisor (admin actions); None in tests of the read-only face.
    pub root: Option<ActorRef<RootMsg>>,
    pub admin_token: Option<SecretString>,
}

/// The router, callable without a socket in tests.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status_json))
        .route("/metrics", get(metrics))
        .route("/tenants/{id}/sync", post(sync))
        .route("/tenants/{id}/approve", post(approve))
        .route("/tenants/{id}/employees/{employee_id}/sync", post(sync_employee))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(bounded_body))
        .with_state(state)
}

/// Reads the request body, at most [`MAX_BODY`] bytes within [`BODY_TIMEOUT`], before the
/// handler runs: a client trickling its body cannot hold a connection.
async fn bounded_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "request bodies are capped at 16 KiB\n").into_response(),
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time\n").into_response(),
    }
}

/// The open connections: per connection, its requests in progress and how to close it.
type Registry = Arc<std::sync::Mutex<std::collections::BTreeMap<u64, (Arc<AtomicUsize>, oneshot::Sender<()>)>>>;

/// Serves `app` on `listener` until `shutdown` resolves, within the limits described in
/// the module doc; then waits at most [`STOP_GRACE`] for requests in progress.
///
/// At `max_connections`, a new connection closes the oldest one that has no request in
/// progress (one still sending its headers, or idle between requests), so stalled clients
/// can neither exhaust file descriptors nor lock out `/healthz`; when every connection is
/// busy with a request, the new one is closed.
pub async fn serve(listener: TcpListener, app: Router, max_connections: usize, shutdown: impl Future<Output = ()>) {
    let max_connections = max_connections.max(1);
    let open: Registry = Arc::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept an http connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        if !make_room(&open, max_connections) {
            tracing::warn!(max_connections, "every http connection is busy; one more refused");
            drop(stream);
            continue;
        }
        next_id += 1;
        let id = next_id;
        let in_progress = Arc::new(AtomicUsize::new(0));
        let (evict, evicted) = oneshot::channel();
        lock(&open).insert(id, (in_progress.clone(), evict));
        let inner = TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |request| {
            let answer = hyper::service::Service::call(&inner, request);
            let busy = Busy::enter(&in_progress);
            async move {
                let _busy = busy;
                answer.await
            }
        });
        let mut stopped = stopped.clone();
        let open = open.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = evicted => {}
                () = async { drop(stopped.wait_for(|s| *s).await) } => {
                    // Closes an idle connection now; one mid-request after its answer.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.as_mut().await;
                }
            }
            lock(&open).remove(&id);
        });
    }
    drop(listener);
    stop.send_replace(true);
    let drained = tokio::time::timeout(STOP_GRACE, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!(
            connections = connections.len(),
            "http connections still open after the grace period; closed"
        );
    }
    connections.abort_all();
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Below `max` open connections, or closes the oldest one with no request in progress;
/// false when every one is busy.
fn make_room(open: &Registry, max: usize) -> bool {
    let mut open = lock(open);
    if open.len() < max {
        return true;
    }
    let idle = open
        .iter()
        .find(|(_, (in_progress, _))| in_progress.load(Ordering::Acquire) == 0)
        .map(|(id, _)| *id);
    match idle.and_then(|id| open.remove(&id)) {
        Some((_, evict)) => {
            let _ = evict.send(());
            true
        }
        None => false,
    }
}

/// Counts one request in progress on a connection, until dropped.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether the request carries the admin token (`Authorization: Bearer …`).
fn has_admin_token(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &app.admin_token else {
        return false;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes())
}

async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    if app.status.all_up() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// `GET /status`: every tenant's status; reasons only with the admin token.
async fn status_json(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if has_admin_token(&app, &headers) {
        return Json(serde_json::json!({ "tenants": app.status.snapshot(), "details": true })).into_response();
    }
    let tenants: serde_json::Map<String, serde_json::Value> = app
        .status
        .snapshot()
        .into_iter()
        .map(|(id, s)| (id, s.redacted()))
        .collect();
    Json(serde_json::json!({ "tenants": tenants, "details": false })).into_response()
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.status.render_metrics(),
    )
}

/// A refused admin request: its status and a one-line reason.
struct Refusal(StatusCode, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = (self.0, format!("{}\n", self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// Checks the admin bearer token and that the tenant exists.
fn authorize(app: &AppState, headers: &HeaderMap, tenant: &str) -> Result<ActorRef<RootMsg>, Refusal> {
    if app.admin_token.is_none() {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "the admin API is off: set service.admin_token_env or admin_token_file",
        ));
    }
    if !has_admin_token(app, headers) {
        return Err(Refusal(StatusCode::UNAUTHORIZED, "missing or wrong admin token"));
    }
    if !app.status.snapshot().contains_key(tenant) {
        return Err(Refusal(StatusCode::NOT_FOUND, "no such tenant"));
    }
    app.root.clone().ok_or(Refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the supervisor is not running",
    ))
}

/// Compares without leaking where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in b.iter().enumerate() {
        diff |= usize::from(x ^ a.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Body of `POST /tenants/{id}/sync` (optional; none: a plain run now).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncBody {
    /// Run now even while the tenant is quarantined (release it for one run; a success
    /// lifts the quarantine). An on-demand run does not wait for the quarantine's due time
    /// either way; the flag says so explicitly.
    #[serde(default)]
    force: bool,
}

async fn sync(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<SyncBody>>,
) -> Response {
    let root = match authorize(&app, &headers, &id) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let force = body.map(|Json(b)| b).unwrap_or_default().force;
    if force {
        tracing::info!(tenant = %id, "run forced through the admin API (quarantine released for one run)");
    }
    // The run's summary is not awaited: /status shows it when it ends.
    let (tx, _rx) = tokio::sync::oneshot::channel();
    match root.cast(RootMsg::RunNow {
        tenant: id.clone(),
        reply: tx.into(),
    }) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            format!("run of tenant {id} requested; see /status\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the supervisor is not running\n").into_response(),
    }
}

/// Body of `POST /tenants/{id}/approve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// The run whose held deactivations are released; absent: the plan awaiting review.
    run: Option<u64>,
    #[serde(default)]
    reject: bool,
}

async fn approve(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<ApproveBody>>,
) -> Response {
    let root = match authorize(&app, &headers, &id) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(Json(body)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            "expected a JSON body such as {\"run\": 12} or {\"run\": 12, \"reject\": true} (held deactivations), or {} (the plan awaiting review)\n",
        )
            .into_response();
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let msg = match body.run {
        Some(run) => RootMsg::Approve {
            tenant: id,
            run,
            reject: body.reject,
            reply: tx.into(),
        },
        None => RootMsg::ApproveReview {
            tenant: id,
            reject: body.reject,
            reply: tx.into(),
        },
    };
    if root.cast(msg).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the supervisor is not running\n").into_response();
    }
    match tokio::time::timeout(Duration::from_secs(600), rx).await {
        Ok(Ok(Ok(line))) => (StatusCode::OK, format!("{line}\n")).into_response(),
        Ok(Ok(Err(why))) => (StatusCode::CONFLICT, format!("{why}\n")).into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the tenant did not answer\n").into_response(),
    }
}

/// `POST /tenants/{id}/employees/{employee_id}/sync`: syncs one employee now, through the
/// tenant's supervisor. Answers, as text, what was done — one line per person, managers
/// synced first come first — with 200, or 422 when the employee could not be synced (the
/// line says why); otherwise why nothing was done: 400 not an employee id, 404 not in UKG
/// (or no employment-details), 409 a full run of the tenant is in progress, 502 UKG or the
/// app failed, 503 the tenant is not running.
async fn sync_employee(
    State(app): State<AppState>,
    Path((id, employee_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let root = match authorize(&app, &headers, &id) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let msg = RootMsg::SyncEmployee {
        tenant: id,
        employee_id,
        reply: tx.into(),
    };
    if root.cast(msg).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the supervisor is not running\n").into_response();
    }
    match tokio::time::timeout(Duration::from_secs(600), rx).await {
        Ok(Ok(Ok(report))) => {
            let status = if report.is_ok() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, format!("{}\n", report.lines().join("\n"))).into_response()
        }
        Ok(Ok(Err(e))) => {
            let status = match &e {
                OneSyncError::BadId(_) => StatusCode::BAD_REQUEST,
                OneSyncError::NotInUkg { .. } | OneSyncError::NoEmployment { .. } => StatusCode::NOT_FOUND,
                OneSyncError::RunInProgress { .. } | OneSyncError::NotScim(_) => StatusCode::CONFLICT,
                OneSyncError::TenantDown(_) => StatusCode::SERVICE_UNAVAILABLE,
                OneSyncError::Ukg(_) | OneSyncError::Scim(_) => StatusCode::BAD_GATEWAY,
                OneSyncError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, format!("{e}\n")).into_response()
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the tenant did not answer\n").into_response(),
    }
}

/// A small server-rendered status page; failure reasons and errors only with the admin
/// token.
async fn page(State(app): State<AppState>, headers: HeaderMap) -> Html<String> {
    let details = has_admin_token(&app, &headers);
    let mut rows = String::new();
    for (id, s) in app.status.snapshot() {
        // The state as `/status` names it ("awaiting_review" reads "awaiting review").
        let state = serde_json::to_value(s.state)
            .ok()
            .and_then(|v| v.as_str().map(|n| n.replace('_', " ")))
            .unwrap_or_default();
        let (last, failures) = match &s.last_run {
            Some(r) => {
                let c = &r.counts;
                let text = format!(
                    "run {} finished {}: {} created, {} updated, {} deactivated, {} failed{}{}",
                    r.run_id,
                    r.finished_at.format("%Y-%m-%d %H:%M UTC"),
                    c.created + c.adopted,
                    c.updated + c.reactivated,
                    c.deactivated,
                    c.failed,
                    match (s.deactivations_held, s.held_run) {
                        (n, Some(run)) if n > 0 => format!(", {n} deactivation(s) held (approve run {run})"),
                        _ => String::new(),
                    },
                    match (&r.error, details) {
                        (Some(e), true) => format!(" — {}", sanitize::reason(e)),
                        (Some(_), false) => " — see details".to_string(),
                        (None, _) => String::new(),
                    }
                );
                let failures: Vec<String> = if details {
                    r.failures
                        .iter()
                        .take(5)
                        .map(|f| sanitize::reason(&format!("{}: {}", f.employee_id, f.reason)))
                        .collect()
                } else if r.failures.is_empty() {
                    Vec::new()
                } else {
                    vec![HIDDEN.to_string()]
                };
                (text, failures.join("<br>"))
            }
            None => (
                s.config_error
                    .as_deref()
                    .map_or_else(|| "no run yet".to_string(), sanitize::reason),
                String::new(),
            ),
        };
        let next = s
            .next_run_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "—".into());
        let class = match s.state {
            TenantState::Ok => "ok",
            TenantState::Degraded | TenantState::Held | TenantState::AwaitingReview => "warn",
            TenantState::Failed | TenantState::Quarantined | TenantState::Misconfigured => "bad",
            TenantState::Idle | TenantState::Running => "",
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td class=\"small\">{}</td></tr>\n",
            escape(&id),
            escape(&state),
            escape(&last),
            escape(&next),
            failures.split("<br>").map(escape).collect::<Vec<_>>().join("<br>")
        ));
    }
    let note = if details {
        ""
    } else {
        "<p class=\"small\">Failure reasons are shown only to requests carrying the admin token (<code>Authorization: Bearer …</code>); <code>hrsync status</code> sends it.</p>"
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\"><title>hrsync</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top}}.ok{{color:#1a7f37}}\
         .warn{{color:#9a6700}}.bad{{color:#cf222e;font-weight:bold}}.small{{font-size:.85rem;color:#555}}</style></head>\
         <body><h1>hrsync</h1><table><tr><th>tenant</th><th>state</th><th>last run</th><th>next run</th><th>recent failures</th></tr>\n{rows}</table>{note}</body></html>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secreT", b"secret"));
        assert!(!constant_time_eq(b"secret-longer", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
    }
}
