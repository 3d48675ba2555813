//! `hrsync check`, after the config file is validated: live checks of each tenant's UKG Pro
//! API and SCIM app (or, for a file tenant, its drop folder and SFTP server), and of the SMTP
//! server, one printed line per check.
//!
//! ```text
//! ✓ acme: UKG host https://service4.ultipro.com reachable
//! ✗ acme: UKG credentials: UKG Pro rejected the credentials (401) on /configuration/v1/org-levels; check …
//! – acme: UKG endpoint permissions: not checked (the credentials were refused)
//! ✓ acme: SCIM https://app.example.com/scim/v2: token accepted, /Users answers a ListResponse (41 users)
//! ✓ smtp: smtp.example.com:587 (tls starttls): connected and greeted
//! 1 of 8 checks failed
//! ```
//!
//! Every ✗ line carries the fix. Each call is tried once (a broken tenant answers fast), with
//! the tenant's own rate limits and timeouts; tenants are checked concurrently and printed in
//! file order. Nothing is written anywhere. No secret is printed: the clients never put
//! one in an error, and no header is shown.

use std::fmt;
use std::sync::Arc;

use anyhow::bail;
use hrsync_actors::error::{ScimError, UkgError};
use hrsync_actors::mailer::{MailError, Mailer};
use hrsync_actors::scim::ScimClient;
use hrsync_actors::spec::{FileSpec, ScimSpec, SmtpSpec, SmtpTls, TargetSpec, TenantSpec, UkgSpec};
use hrsync_actors::ukg::{self, UkgClient};
use hrsync_actors::upstream::{self, RetryPolicy};
use serde::de::IgnoredAny;

use crate::config::Settings;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Passed.
    Ok,
    /// Failed: the line says what to fix.
    Fail,
    /// Not checked because an earlier check of the same tenant failed.
    Skipped,
}

/// One printed line.
#[derive(Debug, Clone)]
pub struct Line {
    pub mark: Mark,
    /// The tenant id, or `smtp`.
    pub subject: String,
    pub text: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match self.mark {
            Mark::Ok => "✓",
            Mark::Fail => "✗",
            Mark::Skipped => "–",
        };
        write!(f, "{mark} {}: {}", self.subject, self.text)
    }
}

/// The UKG endpoints a sync reads, whether they are paged, and the permission each needs.
pub const ENDPOINTS: [(&str, bool, &str); 4] = [
    (ukg::EMPLOYMENT_DETAILS, true, "Personnel Integration"),
    (ukg::DEMOGRAPHIC_DETAILS, true, "Personnel Integration"),
    (ukg::ORG_LEVELS, false, "Company Configuration Integration"),
    (ukg::JOBS, false, "Company Configuration Integration"),
];

/// The first line of `hrsync check`: which tenants the file makes usable; each misconfigured
/// tenant's error (naming it by id, the key and the variable, never a secret) goes to stderr.
/// `false` when a checked tenant (every one, or only `tenant`) is misconfigured.
pub fn print_validity(settings: &Settings, tenant: Option<&str>) -> bool {
    let good: Vec<&str> = settings.tenants.iter().map(|t| t.id.as_str()).collect();
    if settings.misconfigured.is_empty() {
        println!(
            "{}: valid; {} tenant(s): {}",
            settings.path.display(),
            good.len(),
            good.join(", ")
        );
        return true;
    }
    let bad: Vec<&str> = settings.misconfigured.iter().map(|t| t.id.as_str()).collect();
    println!(
        "{}: {} tenant(s) valid: {}; {} misconfigured (they would not sync): {}",
        settings.path.display(),
        good.len(),
        good.join(", "),
        bad.len(),
        bad.join(", ")
    );
    let mut passed = true;
    for t in settings
        .misconfigured
        .iter()
        .filter(|t| tenant.is_none_or(|id| id == t.id))
    {
        eprintln!("error: {}", t.error);
        passed = false;
    }
    passed
}

/// Checks every tenant (or only `tenant`) and the SMTP server, printing one line per check
/// and a last line with the tally. `Ok(true)` when every check passed; `Err` for an unknown
/// tenant id.
pub async fn run_checks(settings: &Settings, tenant: Option<&str>) -> anyhow::Result<bool> {
    let selected: Vec<(usize, TenantSpec)> = match tenant {
        None => settings.tenants.iter().cloned().enumerate().collect(),
        Some(id) => match settings.tenants.iter().position(|t| t.id == id) {
            Some(i) => vec![(i, settings.tenants[i].clone())],
            None => {
                let known: Vec<&str> = settings.tenants.iter().map(|t| t.id.as_str()).collect();
                bail!(
                    "{}: no tenant {id:?}; tenants are: {}",
                    settings.path.display(),
                    known.join(", ")
                )
            }
        },
    };
    let policy = RetryPolicy {
        max_attempts: 1,
        ..settings.service.retry.clone()
    };
    let tenants: Vec<_> = selected
        .into_iter()
        .map(|(i, spec)| tokio::spawn(check_tenant(i, spec, policy.clone())))
        .collect();
    let smtp = settings
        .smtp
        .clone()
        .map(|s| tokio::spawn(async move { check_smtp(&s).await }));

    let mut lines = Vec::new();
    for handle in tenants {
        lines.extend(handle.await?);
    }
    if tenant.is_none() {
        lines.extend(settings.misconfigured.iter().map(|t| Line {
            mark: Mark::Fail,
            subject: t.id.clone(),
            text: "configuration: not usable (the error is printed above); not checked".to_string(),
        }));
    }
    if let Some(handle) = smtp {
        lines.push(handle.await?);
    }
    for line in &lines {
        println!("{line}");
    }
    let checked = lines.iter().filter(|l| l.mark != Mark::Skipped).count();
    let failed = lines.iter().filter(|l| l.mark == Mark::Fail).count();
    if failed == 0 {
        println!("all {checked} checks passed");
    } else {
        println!("{failed} of {checked} checks failed");
    }
    Ok(failed == 0)
}

/// The live checks of one tenant (`index`: its position in the file, for key names).
pub async fn check_tenant(index: usize, spec: TenantSpec, policy: RetryPolicy) -> Vec<Line> {
    let key = format!("tenants[{index}]");
    let ukg = check_ukg(&spec.ukg, policy.clone()).await;
    let mut lines = ukg_lines(&spec.id, &spec.ukg.base_url, &ukg, Some(&key));
    match &spec.target {
        TargetSpec::Scim(scim) => {
            let result = check_scim(scim, policy).await;
            lines.push(scim_line(&spec.id, &scim.base_url, &result, Some(&key)));
        }
        TargetSpec::File(file) => lines.extend(check_file(&key, file).await.into_iter().map(|(mark, text)| Line {
            mark,
            subject: spec.id.clone(),
            text,
        })),
    }
    lines
}

/// What the live checks of one tenant's UKG Pro API found.
#[derive(Debug)]
pub enum UkgFindings {
    /// The host could not be reached (DNS, TCP, TLS, timeout): nothing else was checked.
    Unreachable(UkgError),
    /// The first request was refused with 401 (user name, password or Customer API Key):
    /// the endpoint permissions were not checked.
    Refused(UkgError),
    /// Each endpoint a sync reads ([`ENDPOINTS`]), in order, with what it answered.
    Endpoints(Vec<EndpointCheck>),
}

/// One endpoint a sync reads, and what page 1 (size 1) or the lookup answered.
#[derive(Debug)]
pub struct EndpointCheck {
    pub path: &'static str,
    /// Paged (`?page=1&per_Page=1`) or a whole lookup.
    pub paged: bool,
    /// The web service permission that opens it.
    pub permission: &'static str,
    /// The number of rows read, or why not.
    pub result: Result<usize, UkgError>,
}

impl UkgFindings {
    /// Whether UKG authenticated the account: some endpoint answered 2xx or 403.
    pub fn authenticated(&self) -> bool {
        match self {
            UkgFindings::Unreachable(_) | UkgFindings::Refused(_) => false,
            UkgFindings::Endpoints(endpoints) => endpoints
                .iter()
                .any(|e| matches!(e.result, Ok(_) | Err(UkgError::Forbidden { .. }))),
        }
    }

    /// Whether every check passed: the credentials were accepted and every endpoint answered.
    pub fn passed(&self) -> bool {
        match self {
            UkgFindings::Unreachable(_) | UkgFindings::Refused(_) => false,
            UkgFindings::Endpoints(endpoints) => endpoints.iter().all(|e| e.result.is_ok()),
        }
    }

    /// The permissions that some endpoint refused with 403 (each named once, in order).
    pub fn missing_permissions(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if let UkgFindings::Endpoints(endpoints) = self {
            for e in endpoints {
                if let Err(UkgError::Forbidden { .. }) = e.result {
                    if !missing.contains(&e.permission) {
                        missing.push(e.permission);
                    }
                }
            }
        }
        missing
    }
}

/// Checks the UKG host, the credentials and Customer API Key, and each endpoint a sync reads
/// (page 1 of size 1: the least data that proves access), with the spec's own rate limit
/// and timeout.
pub async fn check_ukg(spec: &UkgSpec, policy: RetryPolicy) -> UkgFindings {
    // Page size 1: `?page=1&per_Page=1`, the least data that proves access.
    let ukg_spec = UkgSpec {
        page_size: 1,
        ..spec.clone()
    };
    let limiter = upstream::limiter(spec.requests_per_second, spec.burst);
    let ukg = UkgClient::new(ukg_spec, limiter, Arc::default()).with_retry_policy(policy);

    // 1. The host (DNS, TCP, TLS) and 2. the credentials, from the first request.
    let org_levels = match read(&ukg, ukg::ORG_LEVELS, false).await {
        Err(e @ UkgError::Unreachable(_)) => return UkgFindings::Unreachable(e),
        Err(e @ UkgError::Unauthorized { .. }) => return UkgFindings::Refused(e),
        other => other,
    };
    // 3. Each endpoint the sync reads (org-levels answered already).
    let mut org_levels = Some(org_levels);
    let mut endpoints = Vec::new();
    for (path, paged, permission) in ENDPOINTS {
        let result = match org_levels.take_if(|_| path == ukg::ORG_LEVELS) {
            Some(r) => r,
            None => read(&ukg, path, paged).await,
        };
        endpoints.push(EndpointCheck {
            path,
            paged,
            permission,
            result,
        });
    }
    UkgFindings::Endpoints(endpoints)
}

/// The printed lines for [`check_ukg`]'s findings: the host, the credentials, one per
/// endpoint. `key` (e.g. `tenants[0]`) names the config keys to fix; None leaves them out
/// (`hrsync tenant add`, where the values are answers, not keys).
pub fn ukg_lines(subject: &str, base: &str, findings: &UkgFindings, key: Option<&str>) -> Vec<Line> {
    let line = |mark, text: String| Line {
        mark,
        subject: subject.to_string(),
        text,
    };
    let hint = |keys: &str| key.map(|k| format!(" ({k}.ukg{keys})")).unwrap_or_default();
    let host_ok = || line(Mark::Ok, format!("UKG host {base} reachable{}", plain_http_note(base)));
    let mut lines = Vec::new();
    match findings {
        UkgFindings::Unreachable(e) => {
            lines.push(line(Mark::Fail, format!("UKG host {base}: {e}{}", hint(".base_url"))));
            lines.push(line(
                Mark::Skipped,
                "UKG credentials and endpoint permissions: not checked (the host is unreachable)".into(),
            ));
        }
        UkgFindings::Refused(e) => {
            lines.push(host_ok());
            lines.push(line(
                Mark::Fail,
                format!(
                    "UKG credentials: {e}{}",
                    hint(": username, password_env/_file, api_key_env/_file")
                ),
            ));
            lines.push(line(
                Mark::Skipped,
                "UKG endpoint permissions: not checked (the credentials were refused)".into(),
            ));
        }
        UkgFindings::Endpoints(endpoints) => {
            lines.push(host_ok());
            lines.push(if findings.authenticated() {
                line(Mark::Ok, "UKG credentials and Customer API Key accepted".into())
            } else {
                line(
                    Mark::Fail,
                    "UKG credentials: not confirmed, no endpoint answered (see below); check the web service \
                     account user name and password, and the Customer API Key"
                        .into(),
                )
            });
            for e in endpoints {
                let (path, permission) = (e.path, e.permission);
                let shown = if e.paged {
                    format!("{path}?page=1&per_Page=1")
                } else {
                    path.to_string()
                };
                lines.push(match &e.result {
                    Ok(0) if e.paged => line(
                        Mark::Ok,
                        format!(
                            "UKG {shown} ({permission}): access granted, but no rows; if the roster is not \
                             empty, check the account's company access"
                        ),
                    ),
                    Ok(_) => line(Mark::Ok, format!("UKG {shown} ({permission}): access granted")),
                    Err(err) => line(Mark::Fail, format!("UKG {shown} ({permission}): {err}")),
                });
            }
        }
    }
    lines
}

/// Checks the SCIM app: `GET /Users?count=1` with the token must answer a ListResponse.
/// `Ok(total users)`.
pub async fn check_scim(spec: &ScimSpec, policy: RetryPolicy) -> Result<u64, ScimError> {
    let limiter = upstream::limiter(spec.requests_per_second, spec.burst);
    let scim = ScimClient::new(spec.clone(), limiter, Arc::default()).with_retry_policy(policy);
    scim.probe().await
}

/// The printed line for [`check_scim`]'s result; `key` as in [`ukg_lines`].
pub fn scim_line(subject: &str, scim_base: &str, result: &Result<u64, ScimError>, key: Option<&str>) -> Line {
    let line = |mark, text: String| Line {
        mark,
        subject: subject.to_string(),
        text,
    };
    match result {
        Ok(total) => line(
            Mark::Ok,
            format!(
                "SCIM {scim_base}{}: token accepted, /Users answers a ListResponse ({total} user{})",
                plain_http_note(scim_base),
                if *total == 1 { "" } else { "s" }
            ),
        ),
        Err(ScimError::Unauthorized) => line(
            Mark::Fail,
            format!(
                "SCIM {scim_base}: the app rejected the token (401); check the bearer token{} (an API token of \
                 the app with provisioning rights)",
                key.map(|k| format!(" in {k}.scim.token_env / token_file"))
                    .unwrap_or_default()
            ),
        ),
        Err(ScimError::NotFound { .. }) => line(
            Mark::Fail,
            format!(
                "SCIM {scim_base}: {scim_base}/Users does not exist (404); check {}: the app's SCIM root, to \
                 which hrsync appends /Users (e.g. https://app.example.com/scim/v2)",
                key.map(|k| format!("{k}.scim.base_url"))
                    .unwrap_or_else(|| "the SCIM base URL".into())
            ),
        ),
        Err(e) => line(
            Mark::Fail,
            format!(
                "SCIM {scim_base}: {e}{}",
                key.map(|k| format!(" ({k}.scim.base_url)")).unwrap_or_default()
            ),
        ),
    }
}

/// A file tenant's destinations: the drop folder (a folder, writable), the SFTP server
/// (host key against known_hosts, login, remote folder). Writes nothing.
async fn check_file(key: &str, file: &FileSpec) -> Vec<(Mark, String)> {
    let mut out = Vec::new();
    if let Some(dir) = &file.directory {
        out.push(match hrsync_actors::delivery::check_local(dir) {
            Ok(text) => (Mark::Ok, format!("user file folder: {text}")),
            Err(text) => (
                Mark::Fail,
                format!("user file folder: {text}; check {key}.file.directory"),
            ),
        });
    }
    if let Some(sftp) = &file.sftp {
        let server = format!("SFTP {}:{}", sftp.host, sftp.port);
        out.push(match hrsync_actors::sftp::probe(sftp).await {
            Ok(text) => (Mark::Ok, format!("{server}: {text}")),
            Err(e) => (Mark::Fail, format!("{server}: {e} ({key}.file.sftp)")),
        });
    }
    out
}

/// Reads page 1 (size 1) of a paged endpoint or the whole lookup; returns the row count.
/// Rows are skipped unread (`IgnoredAny`): no field of them is deserialized or kept.
async fn read(ukg: &UkgClient, path: &str, paged: bool) -> Result<usize, UkgError> {
    if paged {
        ukg.page::<IgnoredAny>(path, 1).await.map(|rows| rows.len())
    } else {
        ukg.lookup::<IgnoredAny>(path).await.map(|rows| rows.len())
    }
}

/// " (plain http: allowed towards a loopback host only)" for an http URL (the config refuses
/// plain http elsewhere), else nothing.
fn plain_http_note(url: &str) -> &'static str {
    if url.starts_with("http://") {
        " (plain http: allowed towards a loopback host only)"
    } else {
        ""
    }
}

/// 5. Connects to the SMTP server and greets it, sending nothing.
pub async fn check_smtp(spec: &SmtpSpec) -> Line {
    let tls = match spec.tls {
        SmtpTls::Starttls => "starttls",
        SmtpTls::Tls => "tls",
        SmtpTls::None => "none",
    };
    let server = format!("{}:{} (tls {tls})", spec.host, spec.port);
    let fix = if spec.username.is_some() {
        "check smtp.host, smtp.port, smtp.tls, smtp.username and smtp.password_env/_file, and that the server \
         is reachable from this machine"
    } else {
        "check smtp.host, smtp.port and smtp.tls, and that the server is reachable from this machine"
    };
    let result = match Mailer::new(spec) {
        Ok(mailer) => mailer.test_connection().await,
        Err(e) => Err(e),
    };
    let (mark, text) = match result {
        Ok(true) => (Mark::Ok, format!("{server}: connected and greeted")),
        Ok(false) => (
            Mark::Fail,
            format!("{server}: connected, but the server did not answer NOOP; {fix}"),
        ),
        Err(MailError::Smtp { detail, .. }) => (Mark::Fail, format!("{server}: {detail}; {fix}")),
        Err(e) => (Mark::Fail, format!("{server}: {e}; {fix}")),
    };
    Line {
        mark,
        subject: "smtp".into(),
        text,
    }
}
