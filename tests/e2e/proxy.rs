//! A counting, killing HTTP proxy in front of the SCIM app (the real `scim2-server`), for
//! the crash test. It forwards every request unchanged and returns the app's answer; it
//! counts requests, records every user the app created (by `externalId`, from the 201
//! answer), and can SIGKILL the `hrsync` process at its Nth request: before forwarding it
//! (the app never sees it) or after the app applied it but before hrsync gets the answer.
//! It can also fail writes (every request but GET) with a status until healed, after
//! letting some through ([`KillProxy::fail_writes_after`]), optionally with a body of its
//! own ([`KillProxy::fail_writes_with`], e.g. a hostile SCIM error), or go down (every
//! connection cut without an answer) at the first create of a given employee
//! ([`KillProxy::go_down_at_create_of`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::Value;

/// Where the armed request is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    /// SIGKILL when the request arrives; it is never forwarded.
    BeforeForward,
    /// Forward it, let the app apply it, then SIGKILL before returning the answer.
    AfterUpstream,
}

/// One create the app confirmed (201 to `POST …/Users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The proxy-wide number of the request (1-based).
    pub request: usize,
    /// The created resource's `externalId` (`""` when it has none).
    pub external_id: String,
}

struct Armed {
    pid: u32,
    at: usize,
    mode: KillMode,
    /// Requests seen since arming.
    seen: usize,
    fired: bool,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub number: usize,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The app's status; 0 when not forwarded or no answer.
    pub status: u16,
}

/// Writes failing until healed.
struct FailWrites {
    /// Writes still let through before failing.
    pass: usize,
    status: StatusCode,
    failed: usize,
    /// The answer's body (SCIM JSON); `{userName}` is replaced by the request's userName.
    body: Option<String>,
}

/// The app going down at a create.
struct Down {
    /// The externalIds whose create takes the app down.
    at: BTreeSet<String>,
    /// Whether it is down.
    down: bool,
}

#[derive(Default)]
struct Record {
    down: Option<Down>,
    /// Requests whose connection was cut because the app was down.
    cut: usize,
    total: usize,
    log: Vec<Seen>,
    creates: Vec<Create>,
    armed: Option<Armed>,
    kills: usize,
    fail_writes: Option<FailWrites>,
    writes_failed: usize,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    record: Mutex<Record>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The proxy; it stops when dropped.
pub struct KillProxy {
    shared: Arc<Shared>,
    port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl KillProxy {
    /// Starts a proxy on 127.0.0.1 (free port) forwarding to `upstream`
    /// (`http://127.0.0.1:PORT`, no path).
    pub async fn start(upstream: &str) -> KillProxy {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            record: Mutex::new(Record::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        KillProxy { shared, port, server }
    }

    /// The SCIM base URL of a tenant, through the proxy.
    pub fn base_url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/v2", self.port)
    }

    /// SIGKILLs `pid` at the `at_request`-th request (1-based) arriving from now on.
    pub fn arm(&self, pid: u32, at_request: usize, mode: KillMode) {
        assert!(at_request >= 1, "requests are numbered from 1");
        self.shared.lock().armed = Some(Armed {
            pid,
            at: at_request,
            mode,
            seen: 0,
            fired: false,
        });
    }

    /// No more killing; returns whether the armed kill fired.
    pub fn disarm(&self) -> bool {
        self.shared.lock().armed.take().is_some_and(|a| a.fired)
    }

    /// The `externalId` of every user the app created, in order, duplicates kept.
    pub fn creates(&self) -> Vec<String> {
        self.shared
            .lock()
            .creates
            .iter()
            .map(|c| c.external_id.clone())
            .collect()
    }

    /// Every create with the number of its request.
    pub fn create_log(&self) -> Vec<Create> {
        self.shared.lock().creates.clone()
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.shared.lock().total
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Seen> {
        self.shared.lock().log.clone()
    }

    /// Kills fired so far.
    pub fn kills(&self) -> usize {
        self.shared.lock().kills
    }

    /// Lets the next `pass` writes (requests other than GET) through, then answers every
    /// further write with `status` (not forwarded) until [`KillProxy::heal`].
    pub fn fail_writes_after(&self, pass: usize, status: u16) {
        self.shared.lock().fail_writes = Some(FailWrites {
            pass,
            status: StatusCode::from_u16(status).unwrap(),
            failed: 0,
            body: None,
        });
    }

    /// Answers every write with `status` and `body` (not forwarded) until healed; in
    /// `body`, `{userName}` becomes the userName of the request.
    pub fn fail_writes_with(&self, status: u16, body: String) {
        self.shared.lock().fail_writes = Some(FailWrites {
            pass: 0,
            status: StatusCode::from_u16(status).unwrap(),
            failed: 0,
            body: Some(body),
        });
    }

    /// Forwards writes again; returns how many were failed since `fail_writes_after`.
    pub fn heal(&self) -> usize {
        self.shared.lock().fail_writes.take().map_or(0, |f| f.failed)
    }

    /// The app goes down at the first create (`POST …/Users`) of one of `external_ids`: that
    /// request and every later one get their connection closed without an answer (a
    /// connection-level failure, as when the app's host goes away) until
    /// [`KillProxy::come_back`].
    pub fn go_down_at_create_of(&self, external_ids: BTreeSet<String>) {
        self.shared.lock().down = Some(Down {
            at: external_ids,
            down: false,
        });
    }

    /// The app answers again.
    pub fn come_back(&self) {
        self.shared.lock().down = None;
    }

    /// Requests cut while the app was down.
    pub fn cut(&self) -> usize {
        self.shared.lock().cut
    }

    /// Writes failed by `fail_writes_after` so far (all of them, healed or not).
    pub fn writes_failed(&self) -> usize {
        self.shared.lock().writes_failed
    }
}

impl Drop for KillProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What to do with one request.
enum Cut {
    None,
    Before(u32),
    After(u32),
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return status_only(StatusCode::BAD_REQUEST);
    };
    let (number, cut) = {
        let mut r = shared.lock();
        r.total += 1;
        let number = r.total;
        r.log.push(Seen {
            number,
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or(parts.uri.path(), |p| p.as_str())
                .to_string(),
            status: 0,
        });
        let cut = match &mut r.armed {
            Some(a) if !a.fired => {
                a.seen += 1;
                if a.seen == a.at {
                    a.fired = true;
                    match a.mode {
                        KillMode::BeforeForward => Cut::Before(a.pid),
                        KillMode::AfterUpstream => Cut::After(a.pid),
                    }
                } else {
                    Cut::None
                }
            }
            _ => Cut::None,
        };
        if let Some(d) = r.down.as_mut() {
            let external_id = || {
                serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["externalId"].as_str().map(str::to_string))
            };
            if parts.method == Method::POST && external_id().is_some_and(|x| d.at.contains(&x)) {
                d.down = true;
            }
            if d.down {
                r.cut += 1;
                return cut_connection();
            }
        }
        let mut refused = None;
        if parts.method != Method::GET {
            if let Some(f) = r.fail_writes.as_mut() {
                if f.pass > 0 {
                    f.pass -= 1;
                } else {
                    f.failed += 1;
                    refused = Some((f.status, f.body.clone()));
                }
            }
        }
        if let Some((status, answer)) = refused {
            r.writes_failed += 1;
            if let Some(seen) = r.log.get_mut(number - 1) {
                seen.status = status.as_u16();
            }
            let Some(answer) = answer else {
                return status_only(status);
            };
            let user_name = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["userName"].as_str().map(str::to_string))
                .unwrap_or_default();
            let mut response = Response::new(Body::from(answer.replace("{userName}", &user_name)));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, "application/scim+json".parse().unwrap());
            return response;
        }
        (number, cut)
    };
    if let Cut::Before(pid) = cut {
        kill(&shared, pid);
        return status_only(StatusCode::SERVICE_UNAVAILABLE);
    }
    // Forwarded in its own task: once sent, the request is applied and recorded even if
    // the client's connection (and so this handler) goes away.
    let task = tokio::spawn(forward(
        shared.clone(),
        number,
        parts.method,
        parts.uri,
        parts.headers,
        body,
    ));
    let response = task
        .await
        .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR));
    if let Cut::After(pid) = cut {
        kill(&shared, pid);
        return status_only(StatusCode::SERVICE_UNAVAILABLE);
    }
    response
}

async fn forward(
    shared: Arc<Shared>,
    number: usize,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let mut out_headers = headers;
    for h in [
        header::HOST,
        header::CONTENT_LENGTH,
        header::CONNECTION,
        header::TRANSFER_ENCODING,
    ] {
        out_headers.remove(h);
    }
    let is_create = method == Method::POST && uri.path().trim_end_matches('/').ends_with("/Users");
    let sent = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .headers(out_headers)
        .body(body)
        .send()
        .await;
    let upstream = match sent {
        Ok(r) => r,
        Err(_) => return status_only(StatusCode::BAD_GATEWAY),
    };
    let status = upstream.status();
    if let Some(seen) = shared.lock().log.get_mut(number - 1) {
        seen.status = status.as_u16();
    }
    let mut headers = upstream.headers().clone();
    let Ok(body) = upstream.bytes().await else {
        return status_only(StatusCode::BAD_GATEWAY);
    };
    if is_create && status == StatusCode::CREATED {
        let external_id = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["externalId"].as_str().map(str::to_string))
            .unwrap_or_default();
        shared.lock().creates.push(Create {
            request: number,
            external_id,
        });
    }
    for h in [header::CONTENT_LENGTH, header::CONNECTION, header::TRANSFER_ENCODING] {
        headers.remove(h);
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn kill(shared: &Shared, pid: u32) {
    // SAFETY: kill(2) has no memory-safety preconditions. The pid is a child the test
    // spawned and has not reaped (it is waiting for this very answer).
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    if rc == 0 {
        shared.lock().kills += 1;
    } else {
        eprintln!("proxy: kill -9 {pid} failed: {}", std::io::Error::last_os_error());
    }
}

fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A response whose body fails at once: hyper closes the connection without a complete
/// answer, and the client sees a transport error.
fn cut_connection() -> Response {
    let failing =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("the app is down")) });
    Response::new(Body::from_stream(failing))
}
