//! The UKG Pro REST API simulator: an HTTP server ([`UkgSim`]) serving the personnel and
//! configuration endpoints hrsync reads (the lists, `employeeId`/`companyId` filters on
//! demographics, and one employment's employment-details for one-person syncs), in the
//! exact shapes (and inconsistencies) real tenants send, with Basic + `US-Customer-Api-Key` auth, UKG-style paging, a request
//! log, roster control for tests and fault injection.

mod params;
mod render;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;

use crate::faults::{After, Before, Fault, Faults, RowFaults};
use crate::roster::{OrgLevel, SampleData, SimEmployee};
use crate::server::{ConnKill, Server};
use params::Page;

/// Default and maximum page size (UKG's limit since Jan 2022).
pub const DEFAULT_MAX_PAGE_SIZE: usize = 10_000;

/// Content type of every JSON answer.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// How the simulator is set up: the credentials it accepts and the data it serves.
#[derive(Debug, Clone)]
pub struct UkgSimConfig {
    /// Web service account user name.
    pub username: String,
    /// Web service account password.
    pub password: String,
    /// The customer API key expected in `US-Customer-Api-Key`.
    pub api_key: String,
    /// Roster and lookups.
    pub data: SampleData,
    /// Default and maximum page size; larger requested sizes get a 400.
    pub max_page_size: usize,
}

impl UkgSimConfig {
    /// A config with these credentials and data, and the default page size limit (10000).
    pub fn new(username: &str, password: &str, api_key: &str, data: SampleData) -> Self {
        UkgSimConfig {
            username: username.to_owned(),
            password: password.to_owned(),
            api_key: api_key.to_owned(),
            data,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
        }
    }
}

impl Default for UkgSimConfig {
    /// Credentials `hrsync` / `secret`, API key `ABCDE`, no data, page size limit 10000.
    fn default() -> Self {
        UkgSimConfig::new("hrsync", "secret", "ABCDE", SampleData::default())
    }
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// When it arrived.
    pub at: Instant,
    /// HTTP method, e.g. "GET".
    pub method: String,
    /// Path without the query, e.g. "/personnel/v1/employment-details".
    pub path: String,
    /// Raw query string ("" when none).
    pub query: String,
    /// Status answered; 0 while in flight or when the connection was dropped (reset fault).
    pub status: u16,
    /// Whether the credentials and API key were right.
    pub authorized: bool,
}

/// A running UKG simulator. Cheap to clone: clones are handles to the same server.
/// It stops on [`UkgSim::shutdown`] or when every handle is dropped.
#[derive(Clone)]
pub struct UkgSim {
    shared: Arc<Shared>,
    server: Server,
}

/// State shared by the handle and the request handlers.
struct Shared {
    username: String,
    password: String,
    api_key: String,
    max_page_size: usize,
    state: Mutex<SimState>,
}

struct SimState {
    data: SampleData,
    requests: Vec<RequestRecord>,
    faults: Faults,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Basic credentials and customer API key both right.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let key_ok = headers
            .get("us-customer-api-key")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|k| k == self.api_key);
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, b64)| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok());
        let basic_ok = basic.is_some_and(|s| s == format!("{}:{}", self.username, self.password));
        key_ok && basic_ok
    }

    fn set_status(&self, index: usize, status: u16) {
        if let Some(r) = self.lock().requests.get_mut(index) {
            r.status = status;
        }
    }
}

impl UkgSim {
    /// Starts the simulator on 127.0.0.1 with a free port.
    pub async fn start(config: UkgSimConfig) -> std::io::Result<UkgSim> {
        Self::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the simulator on `addr`.
    pub async fn start_on(config: UkgSimConfig, addr: SocketAddr) -> std::io::Result<UkgSim> {
        let listener = Server::bind(addr).await?;
        let shared = Arc::new(Shared {
            username: config.username,
            password: config.password,
            api_key: config.api_key,
            max_page_size: config.max_page_size.max(1),
            state: Mutex::new(SimState {
                data: config.data,
                requests: Vec::new(),
                faults: Faults::default(),
            }),
        });
        let server = Server::spawn(listener, router(shared.clone()))?;
        Ok(UkgSim { shared, server })
    }

    /// "http://127.0.0.1:PORT": scheme, host and port, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The roster, ordered by (company_id, employee_id).
    pub fn employees(&self) -> Vec<SimEmployee> {
        let mut all = self.shared.lock().data.employees.clone();
        all.sort_by(|a, b| key(a).cmp(&key(b)));
        all
    }

    /// The employee with this id (first match across companies).
    pub fn employee(&self, employee_id: &str) -> Option<SimEmployee> {
        let state = self.shared.lock();
        state
            .data
            .employees
            .iter()
            .find(|e| e.employee_id == employee_id)
            .cloned()
    }

    /// Adds an employee, or replaces the one with the same company_id + employee_id.
    pub fn hire(&self, e: SimEmployee) {
        let mut state = self.shared.lock();
        let emps = &mut state.data.employees;
        match emps.iter_mut().find(|x| key(x) == key(&e)) {
            Some(slot) => *slot = e,
            None => emps.push(e),
        }
    }

    /// Changes an employee with `f` and bumps its changed_at; false if unknown.
    pub fn update(&self, employee_id: &str, f: impl FnOnce(&mut SimEmployee)) -> bool {
        let mut state = self.shared.lock();
        let Some(e) = state.data.employees.iter_mut().find(|e| e.employee_id == employee_id) else {
            return false;
        };
        let before = e.changed_at;
        f(e);
        e.changed_at = bumped(before);
        true
    }

    /// Terminates: status "T", date_of_termination = date; false if unknown.
    pub fn terminate(&self, employee_id: &str, date: NaiveDate) -> bool {
        self.update(employee_id, |e| {
            e.status = "T".to_owned();
            e.date_of_termination = Some(date);
        })
    }

    /// Rehires: status "A", last_hire_date = date, termination cleared; false if unknown.
    pub fn rehire(&self, employee_id: &str, date: NaiveDate) -> bool {
        self.update(employee_id, |e| {
            e.status = "A".to_owned();
            e.last_hire_date = date;
            e.date_of_termination = None;
        })
    }

    /// Removes the employee from every endpoint; false if unknown.
    pub fn remove(&self, employee_id: &str) -> bool {
        let mut state = self.shared.lock();
        let emps = &mut state.data.employees;
        match emps.iter().position(|e| e.employee_id == employee_id) {
            Some(i) => {
                emps.remove(i);
                true
            }
            None => false,
        }
    }

    /// Replaces the org levels lookup.
    pub fn set_org_levels(&self, v: Vec<OrgLevel>) {
        self.shared.lock().data.org_levels = v;
    }

    /// Every request received, in order of arrival.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Forgets the requests received so far.
    pub fn reset_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Switches a fault on (faults add up; see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.inject(fault);
    }

    /// Switches every fault off.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Stops serving (in-flight requests may finish) and releases the port.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The join key: (company_id, employee_id).
fn key(e: &SimEmployee) -> (&str, &str) {
    (&e.company_id, &e.employee_id)
}

/// Now (tenant-local), but always later than `before`.
fn bumped(before: NaiveDateTime) -> NaiveDateTime {
    let now = chrono::Local::now().naive_local();
    now.max(before + chrono::Duration::milliseconds(1))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/personnel/v1/employment-details", get(employment_details))
        .route("/personnel/v1/employee-demographic-details", get(demographic_details))
        .route(
            "/personnel/v1/companies/{company_id}/employees/{employee_id}/employment-details",
            get(one_employment_details),
        )
        .route("/personnel/v1/employee-supervisor-details", get(supervisor_details))
        .route("/personnel/v1/employee-changes", get(employee_changes))
        .route("/configuration/v1/org-levels", get(org_levels))
        .route("/configuration/v1/jobs", get(jobs))
        .route("/configuration/v1/locations", get(locations))
        .route("/configuration/v1/company-details", get(company_details))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Logs every request, applies faults, checks credentials.
async fn gate(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let authorized = sh.authorized(req.headers());
    tracing::debug!(method = %req.method(), %path, authorized, "ukg sim request");
    let index = {
        let mut state = sh.lock();
        state.requests.push(RequestRecord {
            at: Instant::now(),
            method: req.method().to_string(),
            path: path.clone(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            status: 0,
            authorized,
        });
        state.requests.len() - 1
    };
    let faultable = path.starts_with("/personnel") || path.starts_with("/configuration");

    let response = if faultable {
        let delay = sh.lock().faults.delay();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let before = sh.lock().faults.before();
        match before {
            Before::Pass => {
                let forbidden = authorized && sh.lock().faults.forbids(&path);
                let response = if forbidden {
                    fault_status(403, None)
                } else {
                    authorize_then(authorized, req, next).await
                };
                let json_ok = response.status() == StatusCode::OK && is_json(&response);
                let after = sh.lock().faults.after(json_ok);
                apply_after(after, response).await
            }
            Before::Status { status, retry_after } => fault_status(status, retry_after),
            Before::Reset => {
                if let Some(kill) = req.extensions().get::<ConnKill>() {
                    kill.kill();
                }
                // The connection task drops this future together with the connection.
                return std::future::pending().await;
            }
        }
    } else {
        authorize_then(authorized, req, next).await
    };
    sh.set_status(index, response.status().as_u16());
    response
}

async fn authorize_then(authorized: bool, req: Request, next: Next) -> Response {
    if authorized {
        next.run(req).await
    } else {
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"message": "Authorization has been denied for this request."}),
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        response
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The answer of a status fault: empty for 404/429/503, the documented error JSON otherwise.
fn fault_status(status: u16, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if matches!(status, 404 | 429 | 503) {
        code.into_response()
    } else {
        let reason = code.canonical_reason().unwrap_or("Error");
        json_response(code, &params::error_body(status, reason, "Injected fault.", &[]))
    };
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

async fn apply_after(after: After, response: Response) -> Response {
    match after {
        After::Pass => response,
        After::Html => {
            let html = "<!DOCTYPE html>\n<html><head><title>UKG Pro</title></head>\
                        <body><h1>Service temporarily unavailable</h1>\
                        <p>Please try again later.</p></body></html>\n";
            let mut replaced = (response.status(), html).into_response();
            replaced.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            replaced
        }
        After::Truncate => {
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
        }
    }
}

/// A JSON answer with UKG's content type.
fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], body).into_response()
}

/// One page of `items` rendered with `render`, or the 400 for bad paging parameters.
fn paged<T>(sh: &Shared, query: &[(String, String)], items: &[T], render: impl Fn(&T) -> Value) -> Response {
    match Page::from_query(query, sh.max_page_size) {
        Ok(page) => {
            let rows: Vec<Value> = page.slice(items).iter().map(render).collect();
            json_response(StatusCode::OK, &Value::Array(rows))
        }
        Err(e) => e.into_response(),
    }
}

type Params = Query<Vec<(String, String)>>;

/// The roster sorted by the join key, as the employment endpoints order it.
fn sorted_employees(sh: &Shared) -> Vec<SimEmployee> {
    let mut emps = sh.lock().data.employees.clone();
    emps.sort_by(|a, b| key(a).cmp(&key(b)));
    emps
}

// The two roster endpoints sort references and render only the page asked for (no copy of
// the roster per request: the benchmarks serve 100,000 employees).
async fn employment_details(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let state = sh.lock();
    let mut emps: Vec<&SimEmployee> = state.data.employees.iter().collect();
    emps.sort_by(|a, b| key(a).cmp(&key(b)));
    let faults = state.faults.rows("/personnel/v1/employment-details");
    paged_roster(&sh, &q, &emps, faults, render::employment)
}

/// One page of a roster list, with the row faults of that list applied (see
/// [`Fault::DropRow`], [`Fault::IgnorePage`], [`Fault::MalformedRow`], [`Fault::DuplicateRow`]).
fn paged_roster(
    sh: &Shared,
    query: &[(String, String)],
    emps: &[&SimEmployee],
    faults: RowFaults,
    render: impl Fn(&SimEmployee) -> Value,
) -> Response {
    let page = match Page::from_query(query, sh.max_page_size) {
        Ok(page) if faults.ignore_page => page.first(),
        Ok(page) => page,
        Err(e) => return e.into_response(),
    };
    let listed: Vec<&SimEmployee> = emps
        .iter()
        .flat_map(|e| {
            let times = if faults.duplicated.contains(&e.employee_id) {
                2
            } else {
                1
            };
            std::iter::repeat_n(*e, times)
        })
        .collect();
    let mut rows: Vec<Value> = page
        .slice(&listed)
        .iter()
        .map(|e| {
            let mut row = render(e);
            if faults.malformed.contains(&e.employee_id) {
                row["jobTitle"] = serde_json::json!(["Engineer", "Manager"]);
            }
            row
        })
        .collect();
    if faults.drop_row_of_page == Some(page.number()) {
        rows.pop();
    }
    json_response(StatusCode::OK, &Value::Array(rows))
}

async fn demographic_details(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    // Deliberately another order than employment-details: clients must join on ids.
    let state = sh.lock();
    let mut emps: Vec<&SimEmployee> = state.data.employees.iter().collect();
    emps.sort_by(|a, b| (&a.person_id, key(a)).cmp(&(&b.person_id, key(b))));
    // The `employeeId` / `companyId` filters the real API accepts (any letter case).
    let filter = |name: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let (employee, company) = (filter("employeeId"), filter("companyId"));
    if employee.is_some() || company.is_some() {
        emps.retain(|e| {
            employee.as_ref().is_none_or(|id| *id == e.employee_id)
                && company.as_ref().is_none_or(|c| *c == e.company_id)
        });
        if emps.is_empty() {
            return not_found("No employee matches the given filters.");
        }
    }
    let faults = state.faults.rows("/personnel/v1/employee-demographic-details");
    paged_roster(&sh, &q, &emps, faults, render::demographics)
}

/// `/personnel/v1/companies/{companyId}/employees/{employeeId}/employment-details`: one
/// employment as an object (the list's row shape), or 404.
async fn one_employment_details(
    State(sh): State<Arc<Shared>>,
    Path((company_id, employee_id)): Path<(String, String)>,
) -> Response {
    let found = sh
        .lock()
        .data
        .employees
        .iter()
        .find(|e| e.company_id == company_id && e.employee_id == employee_id)
        .cloned();
    match found {
        Some(e) => json_response(StatusCode::OK, &render::employment(&e)),
        None => not_found("Employee not found."),
    }
}

/// 404 with UKG's documented error body.
fn not_found(detail: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &params::error_body(404, "Not Found", detail, &[]),
    )
}

async fn supervisor_details(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let emps = sorted_employees(&sh);
    paged(&sh, &q, &emps, |e| render::supervisor(e, supervisor_of(&emps, e)))
}

async fn employee_changes(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let range = match params::change_range(&q) {
        Ok(range) => range,
        Err(e) => return e.into_response(),
    };
    let all = sorted_employees(&sh);
    let mut changed: Vec<&SimEmployee> = all.iter().filter(|e| range.contains(&e.changed_at)).collect();
    changed.sort_by(|a, b| (a.changed_at, key(a)).cmp(&(b.changed_at, key(b))));
    paged(&sh, &q, &changed, |e| render::change(e, supervisor_of(&all, e)))
}

fn supervisor_of<'a>(all: &'a [SimEmployee], e: &SimEmployee) -> Option<&'a SimEmployee> {
    let sup = e.supervisor_id.as_deref()?;
    let company = e.supervisor_company_id.as_deref().unwrap_or(&e.company_id);
    all.iter().find(|s| s.employee_id == sup && s.company_id == company)
}

async fn org_levels(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let items = sh.lock().data.org_levels.clone();
    paged(&sh, &q, &items, render::org_level)
}

async fn jobs(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let items = sh.lock().data.jobs.clone();
    paged(&sh, &q, &items, render::job)
}

async fn locations(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let items = sh.lock().data.locations.clone();
    paged(&sh, &q, &items, render::location)
}

async fn company_details(State(sh): State<Arc<Shared>>, Query(q): Params) -> Response {
    let items = sh.lock().data.companies.clone();
    paged(&sh, &q, &items, render::company)
}
