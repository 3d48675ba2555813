//! The UKG Pro REST client: Basic auth of the web service account plus the Customer API
//! Key, paged list reads, tolerant deserialization of UKG's inconsistent shapes.
//!
//! Field casing differs by endpoint (`employeeID` vs `employeeId`), empties are `null` or
//! `""`, numbers come as zero-padded strings, dates in several formats. Rows are read with
//! aliases and empty→None; fields hrsync does not need (SSN, birth date, addresses) are not
//! deserialized at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

pub use crate::clients::ukg_json::opt_text;
use crate::clients::ukg_json::{parse_rows, Row, Scalar};
use crate::clients::upstream::{self, Attempt, Counters, Limiter, RetryPolicy, SendError};
use crate::error::UkgError;
use crate::model::Employee;
pub use crate::model::{is_sensitive, SENSITIVE};
use crate::spec::UkgSpec;

/// Largest response body accepted (a 10,000-record page is ~10 MB).
const MAX_BODY: usize = 128 * 1024 * 1024;
/// Longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

pub const EMPLOYMENT_DETAILS: &str = "/personnel/v1/employment-details";
pub const DEMOGRAPHIC_DETAILS: &str = "/personnel/v1/employee-demographic-details";
pub const ORG_LEVELS: &str = "/configuration/v1/org-levels";
pub const JOBS: &str = "/configuration/v1/jobs";
/// The change feed (Employee Export permission); see `change_feed`.
pub const EMPLOYEE_CHANGES: &str = "/personnel/v1/employee-changes";

/// The path of one employment's employment-details record.
pub fn employment_details_of(company_id: &str, employee_id: &str) -> String {
    format!(
        "/personnel/v1/companies/{}/employees/{}/employment-details",
        path_segment(company_id),
        path_segment(employee_id)
    )
}

/// Percent-encodes everything but unreserved characters, so an id can never change the path.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client for one tenant's UKG Pro API.
#[derive(Clone)]
pub struct UkgClient {
    http: reqwest::Client,
    spec: UkgSpec,
    limiter: Arc<Limiter>,
    counters: Arc<Counters>,
    policy: RetryPolicy,
}

impl UkgClient {
    /// `limiter` and `counters` are owned by the tenant supervisor so that they outlive
    /// restarts of the actors using this client.
    pub fn new(spec: UkgSpec, limiter: Arc<Limiter>, counters: Arc<Counters>) -> Self {
        UkgClient {
            http: upstream::http_client(),
            spec,
            limiter,
            counters,
            policy: RetryPolicy::default(),
        }
    }

    /// Replaces the retry policy (tests use short delays).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn page_size(&self) -> u32 {
        self.spec.page_size
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Reads one page of a paged list endpoint (every row must read as `T`).
    pub async fn page<T: DeserializeOwned>(&self, path: &str, page: u32) -> Result<Vec<T>, UkgError> {
        let query = [
            ("page", page.to_string()),
            ("per_Page", self.spec.page_size.to_string()),
        ];
        self.get_list(path, &query).await
    }

    /// Reads one page of a paged list endpoint, row by row: a row that does not read as `T`
    /// is returned as [`Row::Unreadable`] with why, instead of failing the page (a body that
    /// is not a JSON array still fails it, and is retried).
    pub async fn rows<T: DeserializeOwned>(&self, path: &str, page: u32) -> Result<Vec<Row<T>>, UkgError> {
        let query = [
            ("page", page.to_string()),
            ("per_Page", self.spec.page_size.to_string()),
        ];
        self.get_parsed(path, &query, parse_rows::<T>).await
    }

    /// Reads an unpaged lookup list.
    /// Rows that do not read as `T` are left out (a lookup only names codes).
    pub async fn lookup<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, UkgError> {
        let rows: Vec<Row<T>> = self.get_parsed(path, &[], parse_rows::<T>).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r {
                Row::Read(t) => Some(t),
                Row::Unreadable(bad) => {
                    tracing::warn!(%path, reason = %bad.reason, "lookup row unreadable; left out");
                    None
                }
            })
            .collect())
    }

    /// Reads a list with these query parameters (filters such as `employeeId`, or the change
    /// feed's dates and paging). A 404 reads as no records.
    pub async fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, UkgError> {
        self.get_json(path, query).await
    }

    /// Reads one record (a JSON object, or an array whose first element is taken); None on 404.
    pub async fn record<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, UkgError> {
        let found: OneOrMany<T> = self.get_json(path, &[]).await?;
        Ok(match found {
            OneOrMany::One(t) => Some(t),
            OneOrMany::Many(v) => v.into_iter().next(),
        })
    }

    async fn get_json<R: DeserializeOwned + Default>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<R, UkgError> {
        self.get_parsed(path, query, |body| serde_json::from_slice(body)).await
    }

    async fn get_parsed<R: Default>(
        &self,
        path: &str,
        query: &[(&str, String)],
        parse: fn(&[u8]) -> Result<R, serde_json::Error>,
    ) -> Result<R, UkgError> {
        let url = format!("{}{}", self.spec.base_url, path);
        upstream::with_retries(&self.policy, &self.counters, |_| {
            let mut request = self
                .http
                .get(&url)
                .timeout(self.spec.timeout)
                .query(query)
                .basic_auth(&self.spec.username, Some(self.spec.password.expose_secret()))
                .header("US-Customer-Api-Key", self.spec.api_key.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(key) = &self.spec.user_api_key {
                request = request.header("x-api-key", key.expose_secret());
            }
            async move {
                self.interpret(
                    path,
                    upstream::send(&self.limiter, &self.counters, request, MAX_BODY).await,
                    parse,
                )
            }
        })
        .await
    }

    fn interpret<R: Default>(
        &self,
        path: &str,
        sent: Result<upstream::Reply, SendError>,
        parse: fn(&[u8]) -> Result<R, serde_json::Error>,
    ) -> Attempt<R, UkgError> {
        let reply = match sent {
            Ok(r) => r,
            Err(SendError::Transport(detail)) => {
                return Attempt::Retry {
                    error: UkgError::Unreachable(detail),
                    after: None,
                }
            }
            Err(SendError::TooLarge(max)) => {
                return Attempt::Fail(UkgError::Malformed {
                    path: path.to_string(),
                    detail: format!("response larger than {max} bytes; lower page_size"),
                })
            }
        };
        let path = path.to_string();
        match reply.status {
            200 => {}
            // UKG may answer 404 to a list with no records (and to an unknown record).
            404 => return Attempt::Done(R::default()),
            401 => return Attempt::Fail(UkgError::Unauthorized { path }),
            403 => {
                let permission = permission_for(&path);
                return Attempt::Fail(UkgError::Forbidden { path, permission });
            }
            429 => {
                self.counters
                    .throttled
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let after = upstream::retry_after(&reply.headers, RETRY_AFTER_CAP);
                let attempts = self.policy.max_attempts;
                return Attempt::Retry {
                    error: UkgError::Throttled { path, attempts },
                    after,
                };
            }
            status => {
                let error = UkgError::Status {
                    path,
                    status,
                    detail: crate::sanitize::Redactor::new([self.spec.password.clone(), self.spec.api_key.clone()])
                        .reason(&upstream::body_excerpt(&reply.body)),
                };
                return if error.is_retryable() {
                    Attempt::Retry { error, after: None }
                } else {
                    Attempt::Fail(error)
                };
            }
        }
        let is_json = reply
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.contains("json"));
        if !is_json {
            return Attempt::Retry {
                error: UkgError::Malformed {
                    path,
                    detail: "expected JSON, got another content type".to_string(),
                },
                after: None,
            };
        }
        match parse(&reply.body) {
            Ok(rows) => Attempt::Done(rows),
            Err(e) => Attempt::Retry {
                error: UkgError::Malformed {
                    path,
                    detail: format!("invalid JSON ({e})"),
                },
                after: None,
            },
        }
    }
}

/// One record, or a list of them (endpoints for one record are not consistent about it).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

/// The permission a UKG endpoint needs, for 403 messages.
fn permission_for(path: &str) -> &'static str {
    if path.starts_with("/configuration/") {
        "Company Configuration Integration"
    } else if path.contains("employee-changes") {
        "Employee Export"
    } else {
        "Personnel Integration"
    }
}

/// The other fields of a row that a mapping or scope rule may read
/// ([`crate::engine::mapping::UKG_FIELDS`]), as text; every other field (sensitive ones among them)
/// is skipped without being read, and nested values are ignored. A short list with the
/// list's own names: a page holds thousands of rows.
#[derive(Debug, Clone, Default)]
pub struct SafeFields(pub Vec<(&'static str, String)>);

impl<'de> Deserialize<'de> for SafeFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SafeFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SafeFields, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let name = crate::engine::mapping::UKG_FIELDS.iter().find(|f| **f == key);
                    let Some(name) = name.filter(|_| !is_sensitive(&key)) else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    };
                    if let Some(text) = map.next_value::<Option<Loose>>()?.and_then(Loose::into_text) {
                        match out.iter_mut().find(|(k, _)| k == name) {
                            Some((_, v)) => *v = text,
                            None => out.push((*name, text)),
                        }
                    }
                }
                Ok(SafeFields(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Any JSON value; scalars become text, the rest is dropped.
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Scalar(Scalar),
    #[allow(dead_code)]
    Other(serde::de::IgnoredAny),
}

impl Loose {
    fn into_text(self) -> Option<String> {
        match self {
            Loose::Scalar(s) => s.into_text(),
            Loose::Other(_) => None,
        }
    }
}

/// A row of `/personnel/v1/employment-details` (capital `ID`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmploymentRow {
    #[serde(default, rename = "companyID", alias = "companyId", deserialize_with = "opt_text")]
    pub company_id: Option<String>,
    #[serde(default, rename = "employeeID", alias = "employeeId", deserialize_with = "opt_text")]
    pub employee_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub employee_number: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub job_title: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub job_description: Option<String>,
    #[serde(default, alias = "jobCode", deserialize_with = "opt_text")]
    pub primary_job_code: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub org_level1_code: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub org_level2_code: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub org_level3_code: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub org_level4_code: Option<String>,
    #[serde(default, alias = "workLocationCode", deserialize_with = "opt_text")]
    pub primary_work_location_code: Option<String>,
    #[serde(default, alias = "employeeStatus", deserialize_with = "opt_text")]
    pub employee_status_code: Option<String>,
    #[serde(default, deserialize_with = "opt_date")]
    pub date_of_termination: Option<NaiveDate>,
    #[serde(
        default,
        rename = "supervisorID",
        alias = "supervisorId",
        deserialize_with = "opt_text"
    )]
    pub supervisor_id: Option<String>,
    #[serde(
        default,
        rename = "supervisorCompanyID",
        alias = "supervisorCompanyId",
        deserialize_with = "opt_text"
    )]
    pub supervisor_company_id: Option<String>,
    /// Every other non-sensitive field, for configured mappings.
    #[serde(flatten)]
    pub other: SafeFields,
}

impl EmploymentRow {
    fn org_level(&self, level: u8) -> Option<&String> {
        match level {
            1 => self.org_level1_code.as_ref(),
            2 => self.org_level2_code.as_ref(),
            3 => self.org_level3_code.as_ref(),
            _ => self.org_level4_code.as_ref(),
        }
    }
}

/// A row of `/personnel/v1/employee-demographic-details` (lowercase `Id`). Only the fields
/// hrsync uses; sensitive ones are never read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemographicRow {
    #[serde(default, alias = "companyID", deserialize_with = "opt_text")]
    pub company_id: Option<String>,
    #[serde(default, alias = "employeeID", deserialize_with = "opt_text")]
    pub employee_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub preferred_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub email_address: Option<String>,
    /// Every other non-sensitive field, for configured mappings.
    #[serde(flatten)]
    pub other: SafeFields,
}

/// A row of `/configuration/v1/org-levels`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgLevelRow {
    #[serde(default, deserialize_with = "opt_level")]
    pub level: Option<u8>,
    #[serde(default, deserialize_with = "opt_text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
}

/// A row of `/configuration/v1/jobs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    #[serde(default, alias = "jobCode", deserialize_with = "opt_text")]
    pub code: Option<String>,
    #[serde(default, alias = "jobTitle", alias = "description", deserialize_with = "opt_text")]
    pub title: Option<String>,
}

/// Lookups read once per run.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// (level, code) → description.
    pub org_levels: HashMap<(u8, String), String>,
    /// job code → title.
    pub jobs: HashMap<String, String>,
}

impl Lookups {
    pub fn new(org_levels: Vec<OrgLevelRow>, jobs: Vec<JobRow>) -> Self {
        let org_levels = org_levels
            .into_iter()
            .filter_map(|r| Some(((r.level?, r.code?), r.description?)))
            .collect();
        let jobs = jobs.into_iter().filter_map(|r| Some((r.code?, r.title?))).collect();
        Lookups { org_levels, jobs }
    }
}

/// The part of a demographic row kept for the join (names and email only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    /// The row's other fields that a configured mapping may read
    /// ([`crate::engine::mapping::UKG_FIELDS`]), by name.
    pub other: Vec<(&'static str, String)>,
}

/// A field's absence in [`Person::pack`] (where a length would be).
const ABSENT: u32 = u32::MAX;

impl Person {
    /// One allocation per person instead of one per field: the join table holds every
    /// employee of the roster for the whole run. Each field is its length (u32, little
    /// endian; [`ABSENT`] for none) and bytes; each other field is preceded by its index in
    /// `UKG_FIELDS`.
    fn pack(&self) -> Box<[u8]> {
        fn put(out: &mut Vec<u8>, v: Option<&str>) {
            match v {
                Some(s) => {
                    out.extend((s.len() as u32).to_le_bytes());
                    out.extend(s.as_bytes());
                }
                None => out.extend(ABSENT.to_le_bytes()),
            }
        }
        let mut out = Vec::new();
        for v in [&self.first_name, &self.last_name, &self.preferred_name, &self.email] {
            put(&mut out, v.as_deref());
        }
        for (name, value) in &self.other {
            if let Some(i) = crate::engine::mapping::UKG_FIELDS.iter().position(|f| f == name) {
                out.push(i as u8);
                put(&mut out, Some(value));
            }
        }
        out.into_boxed_slice()
    }

    /// The inverse of [`Person::pack`] (None only if the bytes are not what it wrote).
    fn unpack(mut bytes: &[u8]) -> Option<Person> {
        fn take(bytes: &mut &[u8]) -> Option<Option<String>> {
            let (len, rest) = bytes.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len);
            if len == ABSENT {
                *bytes = rest;
                return Some(None);
            }
            let (text, rest) = rest.split_at_checked(len as usize)?;
            *bytes = rest;
            Some(Some(String::from_utf8_lossy(text).into_owned()))
        }
        let mut p = Person {
            first_name: take(&mut bytes)?,
            last_name: take(&mut bytes)?,
            preferred_name: take(&mut bytes)?,
            email: take(&mut bytes)?,
            other: Vec::new(),
        };
        while let Some((&i, rest)) = bytes.split_first() {
            bytes = rest;
            let name = crate::engine::mapping::UKG_FIELDS.get(i as usize)?;
            p.other.push((name, take(&mut bytes)??));
        }
        Some(p)
    }
}

/// Demographics by (company id, employee id), each person packed ([`Person::pack`]), and
/// the hashes of the employee ids ([`crate::model::id_hash`]). ~120 bytes per employee.
#[derive(Debug, Clone, Default)]
pub struct People {
    by_key: HashMap<Box<str>, Box<[u8]>>,
    ids: std::collections::HashSet<u64>,
    /// Employments whose demographics row was set aside (unreadable, or listed twice), with why.
    set_aside: HashMap<Box<str>, String>,
    /// Rows the demographics list held, readable or not (the employment read's expected count).
    rows: u64,
}

/// The join key of one employment (ids hold no NUL).
fn person_key(company_id: &str, employee_id: &str) -> String {
    format!("{company_id}\u{0}{employee_id}")
}

/// The hash of one employment's join key, for the roster read's bookkeeping.
pub fn key_hash(company_id: &str, employee_id: &str) -> u64 {
    crate::model::id_hash(&person_key(company_id, employee_id))
}

impl People {
    /// Number of employments in the roster.
    pub fn len(&self) -> usize {
        self.by_key.len() + self.set_aside.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows the demographics read returned (readable or not, duplicates included).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether this employment has a demographics row that can be joined.
    pub fn contains(&self, company_id: &str, employee_id: &str) -> bool {
        self.by_key.contains_key(person_key(company_id, employee_id).as_str())
    }

    /// Why this employment's demographics row was set aside, if it was.
    pub fn set_aside_reason(&self, company_id: &str, employee_id: &str) -> Option<&str> {
        self.set_aside
            .get(person_key(company_id, employee_id).as_str())
            .map(String::as_str)
    }

    /// Every employment the demographics list named (set aside or not), as
    /// (company id, employee id).
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_key
            .keys()
            .chain(self.set_aside.keys())
            .filter_map(|k| k.split_once('\u{0}'))
    }

    /// The person of one employment.
    pub fn get(&self, company_id: &str, employee_id: &str) -> Option<Person> {
        self.by_key
            .get(person_key(company_id, employee_id).as_str())
            .and_then(|packed| Person::unpack(packed))
    }

    /// Whether a supervisor is in the roster: by (company, employee id) when the company is
    /// given and matches, else by employee id alone (supervisor company ids are not always
    /// filled in or consistent). A hash collision of two ids (odds ~10⁻⁹ in 100,000) can only
    /// make a supervisor missing from the roster be reported as missing from the app.
    pub fn has_supervisor(&self, company_id: Option<&str>, employee_id: &str) -> bool {
        company_id.is_some_and(|c| self.by_key.contains_key(person_key(c, employee_id).as_str()))
            || self.ids.contains(&crate::model::id_hash(employee_id))
    }
}

/// Builds the join table from demographic rows.
pub fn people(rows: Vec<DemographicRow>) -> People {
    let mut people = People::default();
    people.extend(rows);
    people
}

impl People {
    /// Adds a page of demographic rows (rows without company or employee id are skipped).
    /// Of a row's other fields only those a mapping may read ([`crate::engine::mapping::UKG_FIELDS`])
    /// are kept: addresses, phones and the like would cost memory for every employee of
    /// the roster, which is held for the whole run, and no mapping can use them.
    pub fn extend(&mut self, rows: Vec<DemographicRow>) {
        self.rows += rows.len() as u64;
        for r in rows {
            let (Some(company_id), Some(employee_id)) = (r.company_id, r.employee_id) else {
                continue;
            };
            if self
                .set_aside
                .contains_key(person_key(&company_id, &employee_id).as_str())
            {
                continue;
            }
            self.ids.insert(crate::model::id_hash(&employee_id));
            let person = Person {
                first_name: r.first_name,
                last_name: r.last_name,
                preferred_name: r.preferred_name,
                email: r.email_address,
                other: r.other.0,
            };
            self.by_key
                .insert(person_key(&company_id, &employee_id).into_boxed_str(), person.pack());
        }
    }
}

impl People {
    /// Sets an employment aside: its demographics row cannot be used (why is `reason`).
    pub fn set_aside(&mut self, company_id: &str, employee_id: &str, reason: String) {
        let key = person_key(company_id, employee_id);
        self.by_key.remove(key.as_str());
        self.ids.insert(crate::model::id_hash(employee_id));
        self.set_aside.insert(key.into_boxed_str(), reason);
    }

    /// Counts rows that were not added with [`People::extend`] (set aside, unreadable).
    pub fn count_rows(&mut self, n: u64) {
        self.rows += n;
    }
}

/// Joins one employment row with its person and the lookups; None when the row lacks its
/// company id or employee id (the caller reports it).
pub fn join(row: EmploymentRow, people: &People, lookups: &Lookups, department_level: u8) -> Option<Employee> {
    let company_id = row.company_id.clone()?;
    let employee_id = row.employee_id.clone()?;
    let person = people.get(&company_id, &employee_id);
    let person = person.as_ref();
    let supervisor_in_roster = row
        .supervisor_id
        .as_ref()
        .is_some_and(|s| people.has_supervisor(row.supervisor_company_id.as_deref().or(Some(&company_id)), s));
    let job_title = row
        .job_title
        .clone()
        .or_else(|| row.job_description.clone())
        .or_else(|| row.primary_job_code.as_ref().and_then(|c| lookups.jobs.get(c).cloned()));
    let department = row.org_level(department_level).map(|code| {
        lookups
            .org_levels
            .get(&(department_level, code.clone()))
            .cloned()
            .unwrap_or_else(|| code.clone())
    });
    let mut fields: crate::model::Fields = person.map(|p| p.other.iter().cloned().collect()).unwrap_or_default();
    fields.extend(row.other.0);
    let typed = [
        ("companyID", Some(&company_id)),
        ("employeeID", Some(&employee_id)),
        ("employeeNumber", row.employee_number.as_ref()),
        ("jobTitle", row.job_title.as_ref()),
        ("jobDescription", row.job_description.as_ref()),
        ("primaryJobCode", row.primary_job_code.as_ref()),
        ("orgLevel1Code", row.org_level1_code.as_ref()),
        ("orgLevel2Code", row.org_level2_code.as_ref()),
        ("orgLevel3Code", row.org_level3_code.as_ref()),
        ("orgLevel4Code", row.org_level4_code.as_ref()),
        ("primaryWorkLocationCode", row.primary_work_location_code.as_ref()),
        ("employeeStatusCode", row.employee_status_code.as_ref()),
        ("supervisorID", row.supervisor_id.as_ref()),
        ("supervisorCompanyID", row.supervisor_company_id.as_ref()),
        ("firstName", person.and_then(|p| p.first_name.as_ref())),
        ("lastName", person.and_then(|p| p.last_name.as_ref())),
        ("preferredName", person.and_then(|p| p.preferred_name.as_ref())),
        ("emailAddress", person.and_then(|p| p.email.as_ref())),
        ("department", department.as_ref()),
    ];
    for (name, value) in typed {
        if let Some(v) = value {
            fields.insert(name, v.clone());
        }
    }
    if let Some(d) = row.date_of_termination {
        fields.insert("dateOfTermination", d.to_string());
    }
    Some(Employee {
        fields,
        company_id,
        employee_id,
        employee_number: row.employee_number,
        first_name: person.and_then(|p| p.first_name.clone()),
        preferred_name: person.and_then(|p| p.preferred_name.clone()),
        last_name: person.and_then(|p| p.last_name.clone()),
        email: person.and_then(|p| p.email.clone()),
        job_title,
        department,
        work_location: row.primary_work_location_code,
        status: row.employee_status_code.unwrap_or_default(),
        termination_date: row.date_of_termination,
        supervisor_in_roster,
        supervisor_id: row.supervisor_id,
    })
}

fn opt_level<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    Ok(opt_text(d)?.and_then(|s| s.parse().ok()))
}

/// Dates as `2021-09-20T00:00:00`, `2021-09-20`, or US-locale `9/20/2021 12:00:00 AM`.
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Ok(opt_text(d)?.and_then(|s| parse_date(&s)))
}

/// Parses the date formats UKG uses; None when unrecognised.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Some(day) = s.get(..10) {
        if let Ok(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            return Some(d);
        }
    }
    let day = s.split_whitespace().next()?;
    NaiveDate::parse_from_str(day, "%m/%d/%Y").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_keep_only_the_fields_a_mapping_may_read() {
        let rows: Vec<DemographicRow> = serde_json::from_str(
            r#"[{"employeeId":"E1","companyId":"C1","firstName":"Zoë","middleName":"Ann","personId":"p-1",
                 "addressLine1":"1 Main St","homePhone":"5550000000","ssn":"123-45-6789"},
                {"employeeId":"E2","firstName":"No company"}]"#,
        )
        .unwrap();
        let people = people(rows);
        assert_eq!(people.len(), 1, "a row without its company id is not joinable");
        let p = people.get("C1", "E1").unwrap();
        assert_eq!(p.first_name.as_deref(), Some("Zoë"));
        let kept: Vec<(&str, &str)> = p.other.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(kept, [("middleName", "Ann"), ("personId", "p-1")]);
        assert!(people.has_supervisor(None, "E1"));
    }

    #[test]
    fn a_packed_person_reads_back_as_it_was() {
        let people_of = [
            Person::default(),
            Person {
                first_name: Some("Zoë".into()),
                last_name: Some(String::new()),
                preferred_name: None,
                email: Some("zoe@acme.example".into()),
                other: vec![("middleName", "Ann".into()), ("personId", "p-1".into())],
            },
        ];
        for p in people_of {
            assert_eq!(Person::unpack(&p.pack()), Some(p.clone()));
        }
        assert_eq!(
            Person::unpack(&[1, 0, 0]),
            None,
            "truncated bytes are refused, not read past"
        );
    }

    #[test]
    fn rows_keep_only_the_fields_a_mapping_may_read() {
        let row: EmploymentRow = serde_json::from_str(
            r#"{"companyID":"C1","employeeID":"E1","employeeTypeCode":"REG","favouriteColour":"teal",
                "ssn":"123-45-6789","annualSalary":99000,"lastHireDate":"2020-01-02T00:00:00"}"#,
        )
        .unwrap();
        let kept: Vec<(&str, &str)> = row.other.0.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            kept,
            [("employeeTypeCode", "REG"), ("lastHireDate", "2020-01-02T00:00:00")]
        );
    }

    #[test]
    fn employment_rows_tolerate_nulls_empties_and_numbers() {
        let rows: Vec<EmploymentRow> = serde_json::from_str(
            r#"[{"companyID":"C1","employeeID":"E1","employeeNumber":"000012444","jobTitle":null,
                 "jobDescription":"","orgLevel1Code":"SALES","employeeStatusCode":"A",
                 "dateOfTermination":null,"supervisorID":"","unknownField":{"x":1}},
                {"companyId":"C1","employeeId":42,"employeeNumber":12,"dateOfTermination":"2024-02-01T00:00:00"}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].employee_number.as_deref(), Some("000012444"));
        assert_eq!(rows[0].job_title, None);
        assert_eq!(rows[0].job_description, None);
        assert_eq!(rows[0].supervisor_id, None);
        assert_eq!(rows[1].employee_id.as_deref(), Some("42"));
        assert_eq!(rows[1].date_of_termination, NaiveDate::from_ymd_opt(2024, 2, 1));
    }

    #[test]
    fn demographic_rows_skip_sensitive_fields() {
        let rows: Vec<DemographicRow> = serde_json::from_str(
            r#"[{"employeeId":"E1","companyId":"C1","firstName":"Zoë","middleName":"",
                 "emailAddress":"zoe@x.example","ssn":"123-45-6789","dateOfBirth":"1980-01-01T00:00:00"}]"#,
        )
        .unwrap();
        let dbg = format!("{rows:?}");
        assert!(!dbg.contains("123-45-6789") && !dbg.contains("1980"));
        assert_eq!(rows[0].first_name.as_deref(), Some("Zoë"));
    }

    #[test]
    fn dates_in_all_ukg_formats() {
        let d = NaiveDate::from_ymd_opt(1996, 1, 1);
        assert_eq!(parse_date("1996-01-01T00:00:00"), d);
        assert_eq!(parse_date("1996-01-01T00:00:00.93"), d);
        assert_eq!(parse_date("1/1/1996 12:00:00 AM"), d);
        assert_eq!(parse_date("garbage"), None);
    }

    #[test]
    fn join_falls_back_for_titles_and_departments() {
        let row: EmploymentRow = serde_json::from_str(
            r#"{"companyID":"C1","employeeID":"E1","jobTitle":null,"primaryJobCode":"ENG2",
                "orgLevel2Code":"RND","employeeStatusCode":"A"}"#,
        )
        .unwrap();
        let lookups = Lookups::new(
            vec![OrgLevelRow {
                level: Some(2),
                code: Some("RND".into()),
                description: Some("Research".into()),
            }],
            vec![JobRow {
                code: Some("ENG2".into()),
                title: Some("Engineer II".into()),
            }],
        );
        let e = join(row, &People::default(), &lookups, 2).unwrap();
        assert_eq!(e.job_title.as_deref(), Some("Engineer II"));
        assert_eq!(e.department.as_deref(), Some("Research"));
        assert_eq!(e.email, None);
    }
}
