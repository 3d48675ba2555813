//! The SCIM 2.0 client: look up, create, replace and patch Users with a bearer token.
//!
//! Users are keyed by `externalId` (the UKG employee id); hrsync never deletes. Requests are
//! rate-limited and retried like UKG's (429 with `Retry-After`, 5xx, transport errors).

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::clients::upstream::{self, Attempt, Counters, Limiter, RetryPolicy, SendError};
use crate::error::ScimError;
use crate::model::AppUser;
use crate::sanitize::Redactor;
use crate::spec::ScimSpec;

const MAX_BODY: usize = 16 * 1024 * 1024;
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);
const SCIM_JSON: &str = "application/scim+json";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What hrsync reads back about an app user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    pub id: String,
    pub external_id: Option<String>,
    pub user_name: String,
    pub active: bool,
}

/// A client for one tenant's SCIM API.
#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    base_url: String,
    spec: ScimSpec,
    limiter: Arc<Limiter>,
    counters: Arc<Counters>,
    policy: RetryPolicy,
    /// Cleans the app's error details (hides the token should the app echo it).
    redactor: Redactor,
}

impl ScimClient {
    pub fn new(spec: ScimSpec, limiter: Arc<Limiter>, counters: Arc<Counters>) -> Self {
        ScimClient {
            http: upstream::http_client(),
            base_url: spec.base_url.trim_end_matches('/').to_string(),
            redactor: Redactor::new([spec.token.clone()]),
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

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Finds the user whose `externalId` is `external_id`.
    pub async fn find_by_external_id(&self, external_id: &str) -> Result<Option<RemoteUser>, ScimError> {
        self.find("externalId", external_id).await
    }

    /// Finds the user whose `userName` is `user_name` (SCIM compares it case-insensitively).
    pub async fn find_by_user_name(&self, user_name: &str) -> Result<Option<RemoteUser>, ScimError> {
        self.find("userName", user_name).await
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Option<RemoteUser>, ScimError> {
        let filter = format!("{attribute} eq \"{}\"", escape_filter(value));
        let body = self
            .call(reqwest::Method::GET, "/Users", Some(&[("filter", filter)]), None)
            .await?;
        let resources = body
            .get("Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Servers may ignore or loosen the filter: check the attribute ourselves.
        let wanted = |u: &RemoteUser| match attribute {
            "externalId" => u.external_id.as_deref() == Some(value),
            _ => u.user_name.eq_ignore_ascii_case(value),
        };
        Ok(resources.iter().filter_map(remote_user).find(wanted))
    }

    /// Every user of the app (paged 1000 at a time), for a first run's directory.
    pub async fn list_users(&self) -> Result<Vec<RemoteUser>, ScimError> {
        let mut out = Vec::new();
        let mut start = 1usize;
        loop {
            let query = [("startIndex", start.to_string()), ("count", "1000".to_string())];
            let body = self.call(reqwest::Method::GET, "/Users", Some(&query), None).await?;
            let page: Vec<RemoteUser> = body
                .get("Resources")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(remote_user).collect())
                .unwrap_or_default();
            let total = body.get("totalResults").and_then(Value::as_u64).unwrap_or(0) as usize;
            let n = page.len();
            out.extend(page);
            start += n;
            if n == 0 || start > total {
                return Ok(out);
            }
        }
    }

    /// The app ids of every user, as [`crate::model::id_hash`] hashes (8 bytes a user, so a
    /// 100,000-user app costs ~1 MB here), for the end-of-run reconciliation. Paged 1000 at a
    /// time, asking for the ids only (`attributes=id`; servers that ignore it send whole
    /// users, which are read and dropped page by page). A listing that ends before its
    /// `totalResults` distinct ids is [`ScimError::Malformed`]: it is not trusted to say who
    /// is missing.
    pub async fn list_id_hashes(&self) -> Result<std::collections::HashSet<u64>, ScimError> {
        let mut out = std::collections::HashSet::new();
        let mut start = 1usize;
        loop {
            let query = [
                ("startIndex", start.to_string()),
                ("count", "1000".to_string()),
                ("attributes", "id".to_string()),
            ];
            let body = self.call(reqwest::Method::GET, "/Users", Some(&query), None).await?;
            let total = body.get("totalResults").and_then(Value::as_u64).unwrap_or(0) as usize;
            let mut n = 0usize;
            for id in body
                .get("Resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| u.get("id").and_then(Value::as_str))
            {
                out.insert(crate::model::id_hash(id));
                n += 1;
            }
            start += n;
            if start > total && out.len() >= total {
                return Ok(out);
            }
            // A server that ignores startIndex repeats its first page: fewer distinct ids
            // than it says it has.
            if n == 0 || start > total {
                return Err(ScimError::Malformed {
                    path: "/Users".to_string(),
                    detail: format!("the user listing ended after {} distinct of {total} users", out.len()),
                });
            }
        }
    }

    /// Checks that the app answers this client's token (for `hrsync check`): one
    /// `GET {base}/Users?count=1`, which must be a SCIM ListResponse (a `totalResults`
    /// number or the ListResponse schema). Returns `totalResults` (0 when absent). Errors
    /// as for every call: 401 [`ScimError::Unauthorized`], 404 [`ScimError::NotFound`]
    /// (wrong base URL), transport [`ScimError::Unreachable`]; another 200 body is
    /// [`ScimError::Malformed`]. Retried per the client's retry policy.
    pub async fn probe(&self) -> Result<u64, ScimError> {
        let body = self
            .call(
                reqwest::Method::GET,
                "/Users",
                Some(&[("count", "1".to_string())]),
                None,
            )
            .await?;
        let total = body.get("totalResults").and_then(Value::as_u64);
        let list_schema = body
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(LIST_RESPONSE_SCHEMA)));
        if total.is_none() && !list_schema {
            return Err(ScimError::Malformed {
                path: "/Users".to_string(),
                detail: "expected a SCIM ListResponse".to_string(),
            });
        }
        Ok(total.unwrap_or(0))
    }

    /// Creates the user; returns the app's id. A duplicate userName is [`ScimError::Conflict`].
    pub async fn create(&self, user: &AppUser, manager_id: Option<&str>) -> Result<String, ScimError> {
        let body = self
            .call(
                reqwest::Method::POST,
                "/Users",
                None,
                Some(user_resource(user, manager_id)),
            )
            .await?;
        body.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ScimError::Malformed {
                path: "/Users".to_string(),
                detail: "created user has no id".to_string(),
            })
    }

    /// Replaces the user's attributes (PUT).
    pub async fn replace(&self, id: &str, user: &AppUser, manager_id: Option<&str>) -> Result<(), ScimError> {
        let path = format!("/Users/{}", path_segment(id));
        self.call(reqwest::Method::PUT, &path, None, Some(user_resource(user, manager_id)))
            .await
            .map(drop)
    }

    /// Sets `active` (PATCH replace, a JSON boolean).
    pub async fn set_active(&self, id: &str, active: bool) -> Result<(), ScimError> {
        self.patch(id, json!([{"op": "replace", "path": "active", "value": active}]))
            .await
    }

    /// Points the user's enterprise `manager` at another app user.
    pub async fn set_manager(&self, id: &str, manager_id: &str) -> Result<(), ScimError> {
        self.patch(
            id,
            json!([{"op": "replace", "path": format!("{ENTERPRISE_SCHEMA}:manager"), "value": {"value": manager_id}}]),
        )
        .await
    }

    /// Removes the user's enterprise `manager`.
    pub async fn clear_manager(&self, id: &str) -> Result<(), ScimError> {
        self.patch(
            id,
            json!([{"op": "remove", "path": format!("{ENTERPRISE_SCHEMA}:manager")}]),
        )
        .await
    }

    async fn patch(&self, id: &str, operations: Value) -> Result<(), ScimError> {
        let path = format!("/Users/{}", path_segment(id));
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": operations});
        self.call(reqwest::Method::PATCH, &path, None, Some(body))
            .await
            .map(drop)
    }

    /// One SCIM call with retries; returns the parsed body (`Null` for 204).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<&[(&str, String)]>,
        body: Option<Value>,
    ) -> Result<Value, ScimError> {
        let url = format!("{}{}", self.base_url, path);
        upstream::with_retries(&self.policy, &self.counters, |_| {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .timeout(self.spec.timeout)
                .bearer_auth(self.spec.token.expose_secret())
                .header(reqwest::header::ACCEPT, SCIM_JSON);
            if let Some(q) = query {
                request = request.query(q);
            }
            if let Some(b) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
                    .body(b.to_string());
            }
            async move {
                self.interpret(
                    path,
                    upstream::send(&self.limiter, &self.counters, request, MAX_BODY).await,
                )
            }
        })
        .await
    }

    fn interpret(&self, path: &str, sent: Result<upstream::Reply, SendError>) -> Attempt<Value, ScimError> {
        let reply = match sent {
            Ok(r) => r,
            Err(SendError::Transport(detail)) => {
                return Attempt::Retry {
                    error: ScimError::Unreachable(detail),
                    after: None,
                }
            }
            Err(SendError::TooLarge(max)) => {
                return Attempt::Fail(ScimError::Malformed {
                    path: path.to_string(),
                    detail: format!("response larger than {max} bytes"),
                })
            }
        };
        let path = path.to_string();
        match reply.status {
            200..=299 => {
                if reply.body.iter().all(u8::is_ascii_whitespace) {
                    return Attempt::Done(Value::Null);
                }
                match serde_json::from_slice(&reply.body) {
                    Ok(v) => Attempt::Done(v),
                    Err(e) => Attempt::Retry {
                        error: ScimError::Malformed {
                            path,
                            detail: format!("invalid JSON ({e})"),
                        },
                        after: None,
                    },
                }
            }
            401 => Attempt::Fail(ScimError::Unauthorized),
            404 if path == "/Users" => Attempt::Fail(ScimError::NotFound { path }),
            409 => Attempt::Fail(ScimError::Conflict),
            429 => {
                self.counters
                    .throttled
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Attempt::Retry {
                    error: ScimError::Throttled {
                        path,
                        attempts: self.policy.max_attempts,
                    },
                    after: upstream::retry_after(&reply.headers, RETRY_AFTER_CAP),
                }
            }
            status => {
                let error = ScimError::Status {
                    path,
                    status,
                    detail: self.redactor.reason(&scim_detail(&reply.body)),
                };
                if error.is_retryable() {
                    Attempt::Retry { error, after: None }
                } else {
                    Attempt::Fail(error)
                }
            }
        }
    }
}

/// The SCIM User resource for `user`, with its manager's app id when known.
pub fn user_resource(user: &AppUser, manager_id: Option<&str>) -> Value {
    let mut enterprise = serde_json::Map::new();
    if let Some(n) = &user.employee_number {
        enterprise.insert("employeeNumber".into(), json!(n));
    }
    if let Some(d) = &user.department {
        enterprise.insert("department".into(), json!(d));
    }
    if let Some(m) = manager_id {
        enterprise.insert("manager".into(), json!({"value": m}));
    }
    let mut resource = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": user.external_id,
        "userName": user.user_name,
        "name": {"givenName": user.given_name, "familyName": user.family_name},
        "displayName": user.display_name,
        "emails": [{"value": user.email, "type": "work", "primary": true}],
        "active": user.active,
        ENTERPRISE_SCHEMA: enterprise,
    });
    if let Some(t) = &user.title {
        resource["title"] = json!(t);
    }
    if let Some(l) = &user.location {
        resource["addresses"] = json!([{"type": "work", "formatted": l, "primary": true}]);
    }
    for (path, value) in &user.extra {
        if let Some(attr) = path.strip_prefix(crate::engine::mapping::ENTERPRISE_PREFIX) {
            resource[ENTERPRISE_SCHEMA][attr] = json!(value);
        } else if let Some((outer, inner)) = path.split_once('.') {
            resource[outer][inner] = json!(value);
        } else {
            resource[path.as_str()] = json!(value);
        }
    }
    resource
}

fn remote_user(v: &Value) -> Option<RemoteUser> {
    Some(RemoteUser {
        id: v.get("id")?.as_str()?.to_string(),
        external_id: v.get("externalId").and_then(Value::as_str).map(str::to_string),
        user_name: v
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        active: v.get("active").and_then(Value::as_bool).unwrap_or(true),
    })
}

/// Escapes a value for a quoted SCIM filter string.
fn escape_filter(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Percent-encodes an app id for use as one path segment.
fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The `detail` (and `scimType`) of a SCIM error body, or a short excerpt; raw, as the app
/// sent it: the caller cleans it ([`Redactor::reason`]).
fn scim_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let detail = v.get("detail").and_then(Value::as_str).unwrap_or("no detail");
            match v.get("scimType").and_then(Value::as_str) {
                Some(t) => format!("{detail} (scimType {t})"),
                None => detail.to_string(),
            }
        }
        Err(_) => upstream::body_excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(escape_filter(r#"a"b\c"#), r#"a\"b\\c"#);
    }

    #[test]
    fn resource_carries_enterprise_fields_and_manager() {
        let user = AppUser {
            external_id: "E1".into(),
            user_name: "ana@x.example".into(),
            given_name: "Ana".into(),
            family_name: "Ruiz".into(),
            display_name: "Ana Ruiz".into(),
            email: "ana@x.example".into(),
            title: Some("CFO".into()),
            department: Some("Finance".into()),
            employee_number: Some("000123".into()),
            location: None,
            active: true,
            termination_date: None,
            manager_external_id: Some("E0".into()),
            extra: [
                (
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter".to_string(),
                    "CC-7".to_string(),
                ),
                ("name.middleName".to_string(), "Q".to_string()),
            ]
            .into(),
        };
        let r = user_resource(&user, Some("app-7"));
        assert_eq!(r["externalId"], "E1");
        assert_eq!(r[ENTERPRISE_SCHEMA]["employeeNumber"], "000123");
        assert_eq!(r[ENTERPRISE_SCHEMA]["manager"]["value"], "app-7");
        assert_eq!(r["emails"][0]["type"], "work");
        assert!(r.get("addresses").is_none());
        assert_eq!(r[ENTERPRISE_SCHEMA]["costCenter"], "CC-7");
        assert_eq!(r["name"]["middleName"], "Q");
        assert_eq!(r["name"]["givenName"], "Ana");
    }
}

#[cfg(test)]
mod listing_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-route HTTP server answering `GET /Users` with pages of `ids` (totalResults =
    /// all of them); with `honour_start` false it ignores startIndex, as a broken server.
    async fn app(ids: Vec<&'static str>, page: usize, honour_start: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let ids = ids.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let start: usize = head
                        .split(['?', '&', ' '])
                        .find_map(|p| p.strip_prefix("startIndex="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1);
                    let from = if honour_start { start - 1 } else { 0 };
                    let resources: Vec<Value> = ids.iter().skip(from).take(page).map(|id| json!({"id": id})).collect();
                    let body =
                        json!({"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": ids.len(), "Resources": resources})
                            .to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/v2")
    }

    fn client(base: String) -> ScimClient {
        let spec = crate::spec::TenantSpec::local(
            "listing",
            "http://127.0.0.1:9".into(),
            ("u", "p", "k"),
            base,
            "tok",
            100,
        );
        let scim = spec.target.scim().cloned().unwrap();
        let limiter = crate::clients::upstream::limiter(scim.requests_per_second, scim.burst);
        ScimClient::new(scim, limiter, std::sync::Arc::default())
    }

    #[tokio::test]
    async fn the_id_listing_pages_through_the_app_and_refuses_a_listing_that_repeats_itself() {
        let ids = vec!["a", "b", "c", "d", "e"];
        let all = client(app(ids.clone(), 2, true).await).list_id_hashes().await.unwrap();
        assert_eq!(all, ids.iter().map(|id| crate::model::id_hash(id)).collect());

        // A server that ignores startIndex sends "a", "b" again and again: not trusted.
        let e = client(app(ids, 2, false).await).list_id_hashes().await.unwrap_err();
        assert!(matches!(e, ScimError::Malformed { .. }), "{e}");
        assert!(e.to_string().contains("2 distinct of 5"), "{e}");
    }
}
