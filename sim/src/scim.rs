//! A small in-process SCIM 2.0 target ([`ScimSim`]) for `hrsync demo` and the benchmarks:
//! Users only, held in memory, with Bearer auth, `eq` filters, paging, create (409 on a
//! taken userName), PUT and PATCH, and a log of every request (arrival time, method, path,
//! status) for rate measurements. The tests use the real scim2-server; this one only serves
//! what hrsync calls. DELETE is not offered (hrsync never deletes): 405.
//!
//! Users are indexed by id, by lower-cased userName and by externalId, so the uniqueness
//! check, `GET /Users/{id}` and `eq` filters on those three attributes cost the same with
//! 100,000 users as with ten (other filters scan every user).

mod filter;
mod patch;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::server::Server;
use crate::ukg::RequestRecord;
use filter::{find_key, get_ci, Filter, Indexed};
pub use filter::{ENTERPRISE_URN, USER_URN};

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A running SCIM target. Cheap to clone: clones are handles to the same server.
/// It stops on [`ScimSim::shutdown`] or when every handle is dropped.
#[derive(Clone)]
pub struct ScimSim {
    shared: Arc<Shared>,
    server: Server,
}

struct Shared {
    token: String,
    base_url: String,
    state: Mutex<ScimState>,
}

#[derive(Default)]
struct ScimState {
    /// User resources in creation order (never removed: positions are stable).
    users: Vec<Value>,
    /// Position in `users` by id.
    by_id: HashMap<String, usize>,
    /// Position in `users` by lower-cased userName (unique).
    by_user_name: HashMap<String, usize>,
    /// Positions in `users` by externalId (case-exact; not required to be unique).
    by_external_id: HashMap<String, Vec<usize>>,
    writes: usize,
    requests: Vec<RequestRecord>,
}

impl ScimState {
    /// Adds a user (which has its id) and indexes it.
    fn push(&mut self, user: Value) {
        let index = self.users.len();
        self.index(index, &user);
        self.users.push(user);
    }

    /// Replaces the user at `index` (same id), re-indexing its userName and externalId.
    fn replace(&mut self, index: usize, user: Value) {
        let old = std::mem::replace(&mut self.users[index], Value::Null);
        self.unindex(index, &old);
        self.index(index, &user);
        self.users[index] = user;
    }

    fn index(&mut self, index: usize, user: &Value) {
        if let Some(id) = user["id"].as_str() {
            self.by_id.insert(id.to_owned(), index);
        }
        if let Some(name) = user["userName"].as_str() {
            self.by_user_name.insert(name.to_lowercase(), index);
        }
        for x in external_ids(user) {
            self.by_external_id.entry(x.to_owned()).or_default().push(index);
        }
    }

    fn unindex(&mut self, index: usize, user: &Value) {
        if let Some(name) = user["userName"].as_str() {
            let name = name.to_lowercase();
            if self.by_user_name.get(&name) == Some(&index) {
                self.by_user_name.remove(&name);
            }
        }
        for x in external_ids(user) {
            if let Some(positions) = self.by_external_id.get_mut(x) {
                positions.retain(|p| *p != index);
                if positions.is_empty() {
                    self.by_external_id.remove(x);
                }
            }
        }
    }

    /// Position of the user with this id.
    fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Positions (ascending, i.e. creation order) of the users matching `filter`.
    fn matching(&self, filter: Option<&Filter>) -> Vec<usize> {
        let Some(filter) = filter else {
            return (0..self.users.len()).collect();
        };
        let mut candidates: Vec<usize> = match filter.indexed() {
            Some(Indexed::Id(id)) => self.by_id.get(id).copied().into_iter().collect(),
            Some(Indexed::UserName(name)) => self
                .by_user_name
                .get(&name.to_lowercase())
                .copied()
                .into_iter()
                .collect(),
            Some(Indexed::ExternalId(x)) => self.by_external_id.get(x).cloned().unwrap_or_default(),
            None => (0..self.users.len()).collect(),
        };
        candidates.sort_unstable();
        candidates.dedup();
        // The index narrows, the filter decides: exactly what a full scan would match.
        candidates.retain(|&i| filter.matches(&self.users[i]));
        candidates
    }
}

/// The externalId values of a user as an `externalId eq "…"` filter sees them: the string
/// value, or the strings of an array value (the attribute name ignoring case).
fn external_ids(user: &Value) -> Vec<&str> {
    match user.as_object().and_then(|m| get_ci(m, "externalId")) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ScimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ScimSim {
    /// Starts a SCIM target on 127.0.0.1 with a free port, accepting `Bearer <token>`.
    pub async fn start(token: &str) -> std::io::Result<ScimSim> {
        Self::start_on(token, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts a SCIM target on `addr`.
    pub async fn start_on(token: &str, addr: SocketAddr) -> std::io::Result<ScimSim> {
        let listener = Server::bind(addr).await?;
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            base_url: format!("http://{}/scim/v2", listener.local_addr()?),
            state: Mutex::new(ScimState::default()),
        });
        let server = Server::spawn(listener, router(shared.clone()))?;
        Ok(ScimSim { shared, server })
    }

    /// "http://127.0.0.1:PORT/scim/v2".
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The stored User resources, in creation order.
    pub fn users(&self) -> Vec<Value> {
        self.shared.lock().users.clone()
    }

    /// How many POST, PUT and PATCH requests were received (with a valid token).
    pub fn write_count(&self) -> usize {
        self.shared.lock().writes
    }

    /// Every request received (valid token or not), in order of arrival.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Forgets the requests received so far and resets the write count.
    pub fn reset_requests(&self) {
        let mut state = self.shared.lock();
        state.requests.clear();
        state.writes = 0;
    }

    /// Stops serving and releases the port.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// A SCIM error response (`urn:ietf:params:scim:api:messages:2.0:Error`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: &str) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.to_owned(),
        }
    }

    /// 400 with a scimType such as "invalidPath".
    pub(crate) fn bad(scim_type: &'static str, detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    fn not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, &format!("User {id} not found"))
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Value::Object(map)) = (self.scim_type, &mut body) {
            map.insert("scimType".to_owned(), json!(t));
        }
        scim_json(self.status, &body)
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, SCIM_CONTENT_TYPE)], bytes).into_response()
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route("/scim/v2/Users/{id}", get(get_user).put(replace_user).patch(patch_user))
        .route("/scim/v2/ServiceProviderConfig", get(service_provider_config))
        .fallback(|| async { ScimError::new(StatusCode::NOT_FOUND, None, "Not found") })
        .layer(middleware::from_fn_with_state(shared.clone(), auth))
        .with_state(shared)
}

/// Logs the request, checks the Bearer token, counts writes.
async fn auth(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token.trim() == sh.token);
    let index = {
        let mut state = sh.lock();
        state.requests.push(RequestRecord {
            at: Instant::now(),
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            status: 0,
            authorized: ok,
        });
        if ok && [Method::POST, Method::PUT, Method::PATCH].contains(req.method()) {
            state.writes += 1;
        }
        state.requests.len() - 1
    };
    let response = if ok {
        next.run(req).await
    } else {
        let mut response = ScimError::new(StatusCode::UNAUTHORIZED, None, "Authorization failure").into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    };
    if let Some(r) = sh.lock().requests.get_mut(index) {
        r.status = response.status().as_u16();
    }
    response
}

async fn list_users(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    let param = |name: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let filter = param("filter")
        .map(Filter::parse)
        .transpose()
        .map_err(|e| ScimError::bad("invalidFilter", &e))?;
    let number = |name: &str| {
        param(name)
            .map(|v| v.trim().parse::<i64>())
            .transpose()
            .map_err(|_| ScimError::bad("invalidValue", &format!("{name} must be an integer")))
    };
    let start = number("startIndex")?.unwrap_or(1).max(1);
    let count = number("count")?.map(|c| c.max(0));

    let state = sh.lock();
    let matching = state.matching(filter.as_ref());
    let page: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX)))
        .map(|&i| state.users[i].clone())
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_URN],
            "totalResults": matching.len(),
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }),
    ))
}

async fn get_user(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ScimError> {
    let state = sh.lock();
    let index = state.position(&id).ok_or_else(|| ScimError::not_found(&id))?;
    Ok(scim_json(StatusCode::OK, &state.users[index]))
}

async fn create_user(State(sh): State<Arc<Shared>>, body: Bytes) -> Result<Response, ScimError> {
    let mut user = parse_user(&body)?;
    let mut state = sh.lock();
    check_unique(&state, &user, None)?;
    let id = new_id();
    let location = format!("{}/Users/{id}", sh.base_url);
    let now = now();
    user.insert("id".to_owned(), json!(id));
    user.insert(
        "meta".to_owned(),
        json!({"resourceType": "User", "created": now, "lastModified": now,
               "location": location, "version": "W/\"1\""}),
    );
    let user = Value::Object(user);
    state.push(user.clone());
    let mut response = scim_json(StatusCode::CREATED, &user);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

async fn replace_user(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let user = parse_user(&body)?;
    store(&sh, &id, |_| Ok(user))
}

async fn patch_user(State(sh): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ScimError> {
    let request = parse_object(&body)?;
    let Some(Value::Array(operations)) = get_ci(&request, "Operations") else {
        return Err(ScimError::bad("invalidSyntax", "Operations must be an array"));
    };
    let operations = operations.clone();
    store(&sh, &id, move |current| {
        let mut user = Value::Object(current.clone());
        for op in &operations {
            patch::apply(&mut user, op)?;
        }
        match user {
            Value::Object(map)
                if map
                    .get("userName")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()) =>
            {
                Ok(map)
            }
            _ => Err(ScimError::bad("invalidValue", "userName must stay a non-empty string")),
        }
    })
}

/// Replaces user `id` by `change(current)`, keeping id and meta.created, bumping the
/// version, after checking userName uniqueness.
fn store(
    sh: &Shared,
    id: &str,
    change: impl FnOnce(&Map<String, Value>) -> Result<Map<String, Value>, ScimError>,
) -> Result<Response, ScimError> {
    let mut state = sh.lock();
    let index = state.position(id).ok_or_else(|| ScimError::not_found(id))?;
    let current = state.users[index].as_object().cloned().unwrap_or_default();
    let mut user = change(&current)?;
    check_unique(&state, &user, Some(id))?;
    let mut meta = current
        .get("meta")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let version = meta
        .get("version")
        .and_then(Value::as_str)
        .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse::<u64>().ok())
        .unwrap_or(0);
    meta.insert("lastModified".to_owned(), json!(now()));
    meta.insert("version".to_owned(), json!(format!("W/\"{}\"", version + 1)));
    user.insert("id".to_owned(), json!(id));
    user.insert("meta".to_owned(), Value::Object(meta));
    let user = Value::Object(user);
    state.replace(index, user.clone());
    Ok(scim_json(StatusCode::OK, &user))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ScimError::bad("invalidSyntax", "the body must be a JSON object")),
    }
}

/// A User from a POST/PUT body: needs a non-empty userName; client id and meta dropped.
fn parse_user(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    let mut user = parse_object(body)?;
    let has_name = get_ci(&user, "userName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty());
    if !has_name {
        return Err(ScimError::bad("invalidValue", "userName is required"));
    }
    for name in ["id", "meta", "userName", "schemas"] {
        if let Some(key) = find_key(&user, name).filter(|k| k != name) {
            // Store the canonical spelling so lookups by exact key work.
            if let Some(v) = user.remove(&key) {
                user.insert(name.to_owned(), v);
            }
        }
    }
    user.remove("id");
    user.remove("meta");
    user.entry("schemas").or_insert_with(|| json!([USER_URN]));
    Ok(user)
}

/// 409 uniqueness when another user (not `except`) has the same userName, ignoring case.
fn check_unique(state: &ScimState, user: &Map<String, Value>, except: Option<&str>) -> Result<(), ScimError> {
    let name = user
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let taken = state
        .by_user_name
        .get(&name)
        .is_some_and(|&i| except.is_none_or(|id| state.users[i]["id"] != id));
    if taken {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            "userName is already taken",
        ));
    }
    Ok(())
}

fn new_id() -> String {
    let n: u128 = rand::random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn service_provider_config() -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": 1000},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer token",
                                       "description": "Authorization: Bearer <token>"}],
        }),
    )
}
