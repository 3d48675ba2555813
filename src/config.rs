//! The config file: its TOML format, defaults and error messages, turned into the validated
//! specs the actors consume ([`hrsync_actors::spec`]). The actors never see TOML.
//!
//! The format is a contract with users (documented key by key in
//! `config/hrsync.example.toml`): keys may be added, never removed or renamed.
//!
//! Invariants kept here:
//! - Every error is one line naming the file, the key path (`tenants[0].ukg.page_size`) and
//!   what is expected. Structural errors (TOML syntax, unknown keys, a value where a table is
//!   expected) also carry `line:column`.
//! - Secrets are taken only from an environment variable (`*_env`) or a file (`*_file`),
//!   are held as [`SecretString`] from the moment they are read, and never appear in an
//!   error, a notice or a `Debug` print. An inline secret (`password = "..."`) is refused
//!   without its value being echoed. The raw, unvalidated structs therefore derive no `Debug`.
//! - URLs towards the outside are https: `http://` is upgraded with a notice unless the host
//!   is loopback (simulators, tests). User info in a URL is refused (it would be logged).
//! - Relative paths (`data_dir`, `*_file`) are resolved against the config file's folder, so
//!   the meaning of a config does not depend on the directory the service was started from.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hrsync_actors::brake::BrakeSpec;
use hrsync_actors::expr::Expr;
use hrsync_actors::mapping::{check_mapping_entry, UKG_FIELDS};
pub use hrsync_actors::misconfigured::MisconfiguredTenant;
use hrsync_actors::scope::{Op, OutOfScope, Rule, ScopeSpec};
use hrsync_actors::sftp::{SftpAuth, SftpSpec};
use hrsync_actors::spec::{FileSpec, MappingSpec, ScimSpec, SmtpSpec, SmtpTls, TargetSpec, TenantSpec, UkgSpec};
use hrsync_actors::upstream::RetryPolicy;
use hrsync_actors::user_file::{self, Column, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;
use toml::Value;

/// Everything the config file says, validated, with defaults applied and secrets resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings were read from (as given on the command line).
    pub path: PathBuf,
    /// The `[service]` table.
    pub service: ServiceSettings,
    /// The `[smtp]` table; `None` when absent (no email is sent then).
    pub smtp: Option<SmtpSpec>,
    /// The `[[tenants]]` that can run, in file order; ids are unique (across both lists).
    pub tenants: Vec<TenantSpec>,
    /// The `[[tenants]]` whose own values cannot be used (a secret that does not resolve,
    /// a value that fails its check), in file order: they do not run, the others do.
    pub misconfigured: Vec<MisconfiguredTenant>,
    /// User-facing warnings about the file (URL upgrades, dropped paths...), each one line
    /// naming the file and the key. The caller logs them.
    pub notices: Vec<String>,
}

/// The `[service]` table.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Where the sled database lives (absolute, or resolved against the config file's folder).
    pub data_dir: PathBuf,
    /// Address of the health/status HTTP endpoint.
    pub listen: SocketAddr,
    /// Log line format.
    pub log_format: LogFormat,
    /// How API calls (UKG and SCIM) are retried on 429, 5xx and transport errors.
    pub retry: RetryPolicy,
    /// Bearer token of the admin HTTP API (`POST /tenants/{id}/sync|approve`); None
    /// disables it.
    pub admin_token: Option<SecretString>,
    /// At most this many tenant runs at once in this process.
    pub max_concurrent_runs: usize,
    /// First runs start at a random moment within this span.
    pub start_spread: Duration,
    /// This instance's shard: it serves the tenants with `shard_of(id, count) == index`.
    pub shard: Option<Shard>,
    /// At most this many open HTTP connections on `listen` (default 256).
    pub max_connections: usize,
}

/// One shard of N (`index/count`, index from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let expected = format!("expected I/N with 0 <= I < N, e.g. \"0/3\", got {s:?}");
        let (i, n) = s.trim().split_once('/').ok_or_else(|| expected.clone())?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| expected.clone())?,
            n.trim().parse::<u32>().map_err(|_| expected.clone())?,
        );
        if count == 0 || index >= count {
            return Err(expected);
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether this shard serves `tenant`: FNV-1a of the id, modulo the shard count (stable
    /// across processes, versions and platforms).
    pub fn owns(&self, tenant: &str) -> bool {
        shard_of(tenant, self.count) == self.index
    }
}

/// The shard (of `count`) that serves `tenant`.
pub fn shard_of(tenant: &str, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(count.max(1))) as u32
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable (the default).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Why the config file could not be used. `Display` is one line naming the file and, where
/// there is one, the key path; it never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read config file {}: {error}", .path.display())]
    Read { path: PathBuf, error: std::io::Error },
    /// The file is not valid TOML or does not have the expected shape (unknown key, a value
    /// where a table is expected, ...). `key` is the enclosing key path, empty at top level.
    #[error("{}:{line}:{column}: {}", .path.display(), with_key(.key, .message))]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    /// A value is missing or not acceptable. `key` is the key path, e.g. `tenants[0].ukg.page_size`.
    #[error("{}: {}", .path.display(), with_key(.key, .message))]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

fn with_key(key: &str, message: &str) -> String {
    if key.is_empty() {
        message.to_string()
    } else {
        format!("{key}: {message}")
    }
}

/// Reads and validates the file; secrets are resolved from the process environment / files.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text, path, &|name| std::env::var(name).ok())
}

/// Same as [`load`], from text, with an injectable environment lookup (for tests). `path`
/// names the file in messages; relative paths in the file are resolved against its folder.
pub fn parse(text: &str, path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let ctx = Ctx {
        path,
        base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        env,
    };
    let mut notices = Vec::new();

    let Some(service) = raw.service else {
        return Err(ctx.err(
            "service",
            "missing; add a [service] table with at least data_dir = \"/var/lib/hrsync\"",
        ));
    };
    let service = ctx.service(&service)?;
    let smtp = match &raw.smtp {
        Some(smtp) => Some(ctx.smtp(smtp)?),
        None => None,
    };

    let raw_tenants = raw.tenants.unwrap_or_default();
    let mut tenants: Vec<TenantSpec> = Vec::with_capacity(raw_tenants.len());
    let mut misconfigured = Vec::new();
    let mut ids: Vec<String> = Vec::with_capacity(raw_tenants.len());
    for (i, t) in raw_tenants.iter().enumerate() {
        // A tenant whose own values fail is set aside (the others run); one without a
        // usable id cannot be, so it stops the start like a file-level error.
        let valid_id = t.id.as_ref().and_then(Value::as_str).filter(|id| is_tenant_id(id));
        let mut own_notices = Vec::new();
        let result = ctx.tenant(i, t, &mut own_notices);
        let Some(id) = valid_id else {
            result?;
            return Err(ctx.err(format!("tenants[{i}].id"), "missing or invalid"));
        };
        if let Some(first) = ids.iter().position(|other| other == id) {
            return Err(ctx.err(
                format!("tenants[{i}].id"),
                format!("{id:?} is used by tenants[{first}] already; tenant ids must be unique"),
            ));
        }
        ids.push(id.to_string());
        let by_id = |text: &str| text.replacen(&format!(": tenants[{i}]."), &format!(": tenant {id}: "), 1);
        notices.extend(own_notices.iter().map(|n| by_id(n)));
        match result {
            Ok(spec) => tenants.push(spec),
            Err(e) => misconfigured.push(MisconfiguredTenant {
                id: id.to_string(),
                contact: ctx
                    .email(t.technical_contact.as_ref(), "technical_contact", "it@example.com")
                    .ok(),
                error: named_by_id(e, i, id).to_string(),
            }),
        }
    }
    if tenants.is_empty() && misconfigured.is_empty() {
        notices.push(format!(
            "{}: no [[tenants]] configured; the service will run but sync nothing",
            path.display()
        ));
    }

    Ok(Settings {
        path: path.to_path_buf(),
        service,
        smtp,
        tenants,
        misconfigured,
        notices,
    })
}

/// A tenant's error with its key path by id: `tenants[2].ukg.password_env` becomes
/// `tenant globex: ukg.password_env`.
fn named_by_id(e: ConfigError, i: usize, id: &str) -> ConfigError {
    let ConfigError::Invalid { path, key, message } = e else {
        return e;
    };
    let prefix = format!("tenants[{i}]");
    let key = match key.strip_prefix(&prefix) {
        Some("") => format!("tenant {id}"),
        Some(rest) if rest.starts_with('.') => format!("tenant {id}: {}", &rest[1..]),
        _ => key,
    };
    ConfigError::Invalid { path, key, message }
}

/// Normalises a UKG host URL: scheme+host(+port) only, any path such as "/services/..." dropped,
/// http upgraded to https unless the host is loopback (127.0.0.0/8, ::1, localhost). Returns the
/// URL and notices for the user ("upgraded http://… to https://…", "dropped path /services/…").
pub fn normalize_ukg_url(raw: &str) -> Result<(String, Vec<String>), String> {
    let (mut url, mut notices) = parse_http_url(raw, "https://service4.ultipro.com", "username and password_env")?;
    let path = url.path().to_string();
    let had_query = url.query().is_some() || url.fragment().is_some();
    url.set_query(None);
    url.set_fragment(None);
    let base = url[..url::Position::BeforePath].to_string();
    if path != "/" && !path.is_empty() {
        notices.push(format!(
            "dropped path {path}: UKG's REST API lives at the host root, {base}"
        ));
    }
    if had_query {
        notices.push("dropped the query string: UKG's REST API lives at the host root".to_string());
    }
    Ok((base, notices))
}

/// Same for the SCIM base URL: keeps the path (trailing slash trimmed), upgrades http → https
/// unless loopback. A trailing `/Users` (the resource, not the base) is dropped with a notice.
pub fn normalize_scim_url(raw: &str) -> Result<(String, Vec<String>), String> {
    let (url, mut notices) = parse_http_url(raw, "https://app.example.com/scim/v2", "token_env")?;
    if url.query().is_some() || url.fragment().is_some() {
        // Not echoed: a query string is where people paste tokens.
        return Err("a query string or fragment is not accepted in the SCIM base URL; give the SCIM root, e.g. https://app.example.com/scim/v2".to_string());
    }
    let mut path = url.path().trim_end_matches('/').to_string();
    if path.len() >= 6 && path[path.len() - 6..].eq_ignore_ascii_case("/users") {
        path.truncate(path.len() - 6);
        path = path.trim_end_matches('/').to_string();
        notices.push("dropped /Users: the base URL is the SCIM root; hrsync appends /Users itself".to_string());
    }
    Ok((format!("{}{path}", &url[..url::Position::BeforePath]), notices))
}

/// Whether `host` (a name or an IP address, IPv6 with or without brackets) is loopback:
/// `localhost`, 127.0.0.0/8, `::1` (and `::ffff:127.x.y.z`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

/// Parses an http(s) URL with a host and no user info, and upgrades http to https unless the
/// host is loopback (with a notice).
fn parse_http_url(raw: &str, example: &str, credentials_hint: &str) -> Result<(url::Url, Vec<String>), String> {
    let raw = raw.trim();
    // Never echo a URL that may carry credentials.
    let shown = if raw.contains('@') {
        "(not shown: it contains '@')".to_string()
    } else {
        format!("{raw:?}")
    };
    if raw.is_empty() {
        return Err(format!(
            "expected an https:// URL such as \"{example}\", got an empty string"
        ));
    }
    let mut url = url::Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            format!("expected an https:// URL such as \"{example}\", got {shown} (no scheme)")
        }
        e => format!("expected an https:// URL such as \"{example}\", got {shown}: {e}"),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("expected an https:// URL such as \"{example}\", got {shown}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "a user name or password in the URL is not accepted (URLs are logged); use {credentials_hint}"
        ));
    }
    let Some(host) = url.host_str().map(str::to_string) else {
        return Err(format!(
            "expected a URL with a host, such as \"{example}\", got {shown}"
        ));
    };
    let mut notices = Vec::new();
    if url.scheme() == "http" && !is_loopback_host(&host) {
        let before = url[..url::Position::BeforePath].to_string();
        url.set_scheme("https")
            .map_err(|()| "cannot switch this URL to https".to_string())?;
        let after = &url[..url::Position::BeforePath];
        notices.push(format!(
            "upgraded {before} to {after}: plain http is only used towards loopback hosts"
        ));
    }
    Ok((url, notices))
}

// ---------------------------------------------------------------------------------------
// The file as written. Every leaf is a `toml::Value` so that type errors get our own message
// (naming the key and what is expected) and secrets are never echoed by a serde message.
// No `Debug`: these hold whatever the user typed, inline secrets included.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawFile {
    service: Option<RawService>,
    smtp: Option<RawSmtp>,
    tenants: Option<Vec<RawTenant>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawService {
    data_dir: Option<Value>,
    listen: Option<Value>,
    log_format: Option<Value>,
    retry_attempts: Option<Value>,
    retry_base_delay: Option<Value>,
    retry_max_delay: Option<Value>,
    admin_token: Option<Value>,
    admin_token_env: Option<Value>,
    admin_token_file: Option<Value>,
    max_concurrent_runs: Option<Value>,
    start_spread: Option<Value>,
    shard: Option<Value>,
    max_connections: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawSmtp {
    host: Option<Value>,
    port: Option<Value>,
    tls: Option<Value>,
    from: Option<Value>,
    username: Option<Value>,
    /// Accepted only to be refused without echoing it.
    password: Option<Value>,
    password_env: Option<Value>,
    password_file: Option<Value>,
    timeout: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawTenant {
    id: Option<Value>,
    schedule: Option<Value>,
    technical_contact: Option<Value>,
    quarantine_after: Option<Value>,
    timezone: Option<Value>,
    max_deactivation_percent: Option<Value>,
    max_deactivations: Option<Value>,
    min_roster_percent: Option<Value>,
    first_run_review: Option<Value>,
    changes_every: Option<Value>,
    mapping: Option<RawMapping>,
    scope: Option<RawScope>,
    ukg: Option<RawUkg>,
    scim: Option<RawScim>,
    file: Option<RawUserFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawMapping {
    active_statuses: Option<Value>,
    attributes: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawScope {
    out_of_scope: Option<Value>,
    include: Option<Value>,
    exclude: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawUkg {
    base_url: Option<Value>,
    username: Option<Value>,
    password: Option<Value>,
    password_env: Option<Value>,
    password_file: Option<Value>,
    api_key: Option<Value>,
    api_key_env: Option<Value>,
    api_key_file: Option<Value>,
    user_api_key: Option<Value>,
    user_api_key_env: Option<Value>,
    user_api_key_file: Option<Value>,
    page_size: Option<Value>,
    requests_per_second: Option<Value>,
    burst: Option<Value>,
    department_org_level: Option<Value>,
    timeout: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawScim {
    base_url: Option<Value>,
    token: Option<Value>,
    token_env: Option<Value>,
    token_file: Option<Value>,
    requests_per_second: Option<Value>,
    burst: Option<Value>,
    concurrency: Option<Value>,
    timeout: Option<Value>,
}

/// `[tenants.file]`: the user file, for apps without SCIM.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawUserFile {
    format: Option<Value>,
    date_format: Option<Value>,
    /// An array of `{ name, value }` tables, checked by hand (for messages naming the column).
    columns: Option<Value>,
    directory: Option<Value>,
    keep: Option<Value>,
    sftp: Option<RawSftp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawSftp {
    host: Option<Value>,
    port: Option<Value>,
    username: Option<Value>,
    key: Option<Value>,
    key_env: Option<Value>,
    key_file: Option<Value>,
    password: Option<Value>,
    password_env: Option<Value>,
    password_file: Option<Value>,
    remote_dir: Option<Value>,
    known_hosts: Option<Value>,
    timeout: Option<Value>,
}

/// Keys that would hold a secret inline: accepted by the structs only to be refused, so they
/// are left out of "expected one of" lists.
const INLINE_SECRET_KEYS: [&str; 5] = ["password", "api_key", "user_api_key", "token", "key"];

// Defaults (documented in config/hrsync.example.toml; keep the two in step).
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_QUARANTINE_AFTER: i64 = 3;
const DEFAULT_SCHEDULE: Duration = Duration::from_secs(24 * 3600);
const MIN_SCHEDULE: Duration = Duration::from_secs(10);
const MAX_SCHEDULE: Duration = Duration::from_secs(365 * 24 * 3600);
const DEFAULT_UKG_PAGE_SIZE: i64 = 1000;
const DEFAULT_UKG_RPS: i64 = 2;
const DEFAULT_UKG_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_SCIM_RPS: i64 = 10;
const DEFAULT_SCIM_CONCURRENCY: i64 = 4;
const DEFAULT_SCIM_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_FILE_KEEP: i64 = 30;
const DEFAULT_SFTP_TIMEOUT: Duration = Duration::from_secs(60);
/// UKG's rule for its change feed: at most 8 calls a day, at least 3 hours apart.
const MIN_CHANGES_EVERY: Duration = Duration::from_secs(3 * 3600);
const MAX_CHANGES_EVERY: Duration = Duration::from_secs(24 * 3600);
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The environment of one validation: where errors point, how paths and secrets resolve.
struct Ctx<'a> {
    path: &'a Path,
    base_dir: PathBuf,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// The three ways a secret may be written (only two are accepted).
struct SecretKeys<'r> {
    inline: Option<&'r Value>,
    env: Option<&'r Value>,
    file: Option<&'r Value>,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn notice(&self, key: &str, message: &str) -> String {
        format!("{}: {key}: {message}", self.path.display())
    }

    fn service(&self, raw: &RawService) -> Result<ServiceSettings, ConfigError> {
        let data_dir = self.string(
            raw.data_dir.as_ref(),
            "service.data_dir",
            "a directory path such as \"/var/lib/hrsync\"",
        )?;
        let data_dir = self.required(
            data_dir,
            "service.data_dir",
            "a directory path such as \"/var/lib/hrsync\" (where the database lives)",
        )?;
        let data_dir = self.file_path(data_dir, "service.data_dir")?;

        let listen_expected = "an IP address and port such as \"127.0.0.1:8080\" or \"[::1]:8080\"";
        let listen = self
            .string(raw.listen.as_ref(), "service.listen", listen_expected)?
            .unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen
            .trim()
            .parse()
            .map_err(|_| self.err("service.listen", format!("expected {listen_expected}, got {listen:?}")))?;

        let log_format = match self.string(raw.log_format.as_ref(), "service.log_format", "\"text\" or \"json\"")? {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(self.err(
                    "service.log_format",
                    format!("expected \"text\" or \"json\", got {other:?}"),
                ))
            }
        };
        let max_attempts = self
            .int(raw.retry_attempts.as_ref(), "service.retry_attempts", 1, 20)?
            .unwrap_or(6) as u32;
        let base_delay = self.duration(
            raw.retry_base_delay.as_ref(),
            "service.retry_base_delay",
            "\"1s\" or \"500ms\"",
            Duration::from_secs(1),
            Duration::from_millis(10),
            Duration::from_secs(60),
        )?;
        let max_delay = self.duration(
            raw.retry_max_delay.as_ref(),
            "service.retry_max_delay",
            "\"60s\" or \"5m\"",
            Duration::from_secs(60),
            Duration::from_millis(10),
            Duration::from_secs(3600),
        )?;
        if max_delay < base_delay {
            return Err(self.err(
                "service.retry_max_delay",
                "must not be shorter than service.retry_base_delay",
            ));
        }
        let keys = SecretKeys {
            inline: raw.admin_token.as_ref(),
            env: raw.admin_token_env.as_ref(),
            file: raw.admin_token_file.as_ref(),
        };
        let admin_token = self.secret("service", "admin_token", "the admin API token", keys)?;
        let max_concurrent_runs = self
            .int(
                raw.max_concurrent_runs.as_ref(),
                "service.max_concurrent_runs",
                1,
                100_000,
            )?
            .unwrap_or(16) as usize;
        let start_spread = self.duration(
            raw.start_spread.as_ref(),
            "service.start_spread",
            "\"30s\" or \"5m\"",
            Duration::from_secs(30),
            Duration::ZERO,
            Duration::from_secs(3600),
        )?;
        let shard = match self.string(raw.shard.as_ref(), "service.shard", "\"I/N\" such as \"0/3\"")? {
            None => None,
            Some(text) => Some(text.parse::<Shard>().map_err(|m| self.err("service.shard", m))?),
        };
        let max_connections = self
            .int(raw.max_connections.as_ref(), "service.max_connections", 1, 100_000)?
            .unwrap_or(256) as usize;
        Ok(ServiceSettings {
            max_connections,
            max_concurrent_runs,
            start_spread,
            shard,
            admin_token,
            data_dir,
            listen,
            log_format,
            retry: RetryPolicy {
                max_attempts,
                base_delay,
                max_delay,
            },
        })
    }

    fn smtp(&self, raw: &RawSmtp) -> Result<SmtpSpec, ConfigError> {
        let host_expected =
            "a host name or IP address such as \"smtp.example.com\" (no scheme, no port: see smtp.port)";
        let host = self.string(raw.host.as_ref(), "smtp.host", host_expected)?;
        let host = self.required(host, "smtp.host", host_expected)?.trim();
        if !is_host(host) {
            return Err(self.err("smtp.host", format!("expected {host_expected}, got {host:?}")));
        }

        let tls = match self.string(raw.tls.as_ref(), "smtp.tls", "\"starttls\", \"tls\" or \"none\"")? {
            None | Some("starttls") => SmtpTls::Starttls,
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            Some(other) => {
                return Err(self.err(
                    "smtp.tls",
                    format!("expected \"starttls\", \"tls\" or \"none\", got {other:?}"),
                ))
            }
        };
        if tls == SmtpTls::None && !is_loopback_host(host) {
            return Err(self.err(
                "smtp.tls",
                format!("\"none\" is only allowed towards a loopback host (got {host}); use \"starttls\" or \"tls\""),
            ));
        }
        let default_port = match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        };
        let port = self
            .int(raw.port.as_ref(), "smtp.port", 1, 65535)?
            .unwrap_or(default_port);

        let from = self.email(raw.from.as_ref(), "smtp.from", "hrsync@example.com")?;
        let username = self.string(raw.username.as_ref(), "smtp.username", "a user name")?;
        if username.is_some_and(|u| u.trim().is_empty()) {
            return Err(self.err(
                "smtp.username",
                "must not be empty; remove it when the server needs no login",
            ));
        }
        let keys = SecretKeys {
            inline: raw.password.as_ref(),
            env: raw.password_env.as_ref(),
            file: raw.password_file.as_ref(),
        };
        let password = self.secret("smtp", "password", "the SMTP password", keys)?;
        match (username, &password) {
            (Some(_), None) => {
                return Err(self.err(
                    "smtp",
                    "username is set but no password_env or password_file; set one, or remove username",
                ))
            }
            (None, Some(_)) => {
                return Err(self.err(
                    "smtp",
                    "a password is set but no username; set username, or remove the password",
                ))
            }
            _ => {}
        }
        let timeout = self.duration(
            raw.timeout.as_ref(),
            "smtp.timeout",
            "\"30s\" or \"1m\"",
            Duration::from_secs(30),
            Duration::from_millis(100),
            Duration::from_secs(600),
        )?;
        Ok(SmtpSpec {
            host: host.to_string(),
            port: port as u16,
            tls,
            from,
            username: username.map(|u| u.trim().to_string()),
            password,
            timeout,
        })
    }

    fn tenant(&self, i: usize, raw: &RawTenant, notices: &mut Vec<String>) -> Result<TenantSpec, ConfigError> {
        let t = format!("tenants[{i}]");
        let id_expected = "1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-', e.g. \"acme\"";
        let id = self.string(raw.id.as_ref(), &format!("{t}.id"), id_expected)?;
        let id = self.required(id, &format!("{t}.id"), id_expected)?;
        if !is_tenant_id(id) {
            return Err(self.err(format!("{t}.id"), format!("expected {id_expected}, got {id:?}")));
        }
        let schedule = self.duration(
            raw.schedule.as_ref(),
            &format!("{t}.schedule"),
            "\"24h\" or \"6h 30m\"",
            DEFAULT_SCHEDULE,
            MIN_SCHEDULE,
            MAX_SCHEDULE,
        )?;
        let technical_contact = self.email(
            raw.technical_contact.as_ref(),
            &format!("{t}.technical_contact"),
            "it-alerts@acme.example",
        )?;
        let quarantine_after = self
            .int(raw.quarantine_after.as_ref(), &format!("{t}.quarantine_after"), 1, 100)?
            .unwrap_or(DEFAULT_QUARANTINE_AFTER) as u32;
        let tz_expected = "an IANA time zone such as \"UTC\", \"America/New_York\" or \"Europe/Paris\"";
        let timezone = match self.string(raw.timezone.as_ref(), &format!("{t}.timezone"), tz_expected)? {
            None => chrono_tz::Tz::UTC,
            Some(name) => name
                .trim()
                .parse()
                .map_err(|_| self.err(format!("{t}.timezone"), format!("expected {tz_expected}, got {name:?}")))?,
        };
        let defaults = BrakeSpec::default();
        let brake = BrakeSpec {
            max_deactivation_percent: self
                .int(
                    raw.max_deactivation_percent.as_ref(),
                    &format!("{t}.max_deactivation_percent"),
                    0,
                    100,
                )?
                .map_or(defaults.max_deactivation_percent, |v| v as u32),
            min_population: defaults.min_population,
            max_deactivations: self
                .int(
                    raw.max_deactivations.as_ref(),
                    &format!("{t}.max_deactivations"),
                    0,
                    i64::MAX,
                )?
                .map(|v| v as u64),
            min_roster_percent: self
                .int(
                    raw.min_roster_percent.as_ref(),
                    &format!("{t}.min_roster_percent"),
                    0,
                    100,
                )?
                .map_or(defaults.min_roster_percent, |v| v as u32),
        };
        let first_run_review = self
            .boolean(raw.first_run_review.as_ref(), &format!("{t}.first_run_review"))?
            .unwrap_or(false);
        let changes_every = self.changes_every(raw.changes_every.as_ref(), &format!("{t}.changes_every"))?;
        let mapping = match &raw.mapping {
            None => MappingSpec::default(),
            Some(m) => self.mapping(&format!("{t}.mapping"), m)?,
        };
        let scope = match &raw.scope {
            None => ScopeSpec::default(),
            Some(s) => self.scope(&format!("{t}.scope"), s)?,
        };
        let Some(ukg) = &raw.ukg else {
            return Err(self.err(
                format!("{t}.ukg"),
                "missing; add a [tenants.ukg] table after this tenant's [[tenants]] line",
            ));
        };
        let ukg = self.ukg(&format!("{t}.ukg"), ukg, notices)?;
        let target = match (&raw.scim, &raw.file) {
            (Some(scim), None) => TargetSpec::Scim(self.scim(&format!("{t}.scim"), scim, notices)?),
            (None, Some(file)) => TargetSpec::File(self.user_file(&format!("{t}.file"), file, &mapping)?),
            (Some(_), Some(_)) => {
                return Err(self.err(
                    &t,
                    "has both [tenants.scim] and [tenants.file]; a tenant writes to one target: keep one",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    format!("{t}.scim"),
                    "missing; add a [tenants.scim] table (an app with a SCIM API) or a [tenants.file] table (a user file in a folder or over SFTP) after this tenant's [[tenants]] line",
                ))
            }
        };
        if changes_every.is_some() && matches!(target, TargetSpec::File(_)) {
            return Err(self.err(
                format!("{t}.changes_every"),
                "the change feed applies changes one person at a time through SCIM; a [tenants.file] tenant gets a whole new file from each full run: remove changes_every or shorten schedule",
            ));
        }
        Ok(TenantSpec {
            id: id.to_string(),
            schedule,
            technical_contact,
            quarantine_after,
            timezone,
            brake,
            first_run_review,
            changes_every,
            mapping,
            scope,
            ukg,
            target,
        })
    }

    /// `changes_every`: absent (the change feed is off), or a duration of at least 3 h.
    fn changes_every(&self, v: Option<&Value>, key: &str) -> Result<Option<Duration>, ConfigError> {
        if v.is_none() {
            return Ok(None);
        }
        let d = self.duration(
            v,
            key,
            "\"3h\" or \"6h\"",
            MIN_CHANGES_EVERY,
            Duration::ZERO,
            Duration::MAX,
        )?;
        if d > MAX_CHANGES_EVERY {
            return Err(self.err(
                key,
                format!(
                    "expected at most 24h, got {:?}: the full run already reads everything once a day",
                    humantime::format_duration(d).to_string()
                ),
            ));
        }
        if d < MIN_CHANGES_EVERY {
            return Err(self.err(
                key,
                format!(
                    "expected at least 3h, got {:?}: UKG allows its change feed 8 calls a day, at least 3 hours apart",
                    humantime::format_duration(d).to_string()
                ),
            ));
        }
        Ok(Some(d))
    }

    /// `[tenants.mapping]`: status codes that count as active, and attribute expressions.
    fn mapping(&self, t: &str, raw: &RawMapping) -> Result<MappingSpec, ConfigError> {
        let key = format!("{t}.active_statuses");
        let expected = "a list of UKG status codes such as [\"A\", \"L\"]";
        let active_statuses = match &raw.active_statuses {
            None => None,
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                        other => Err(self.err(&key, format!("expected {expected}, got {}", describe(other)))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => return Err(self.err(&key, format!("expected {expected}, got {}", describe(other)))),
        };
        let mut attributes = Vec::new();
        for (path, v) in raw.attributes.iter().flatten() {
            let key = format!("{t}.attributes.\"{path}\"");
            let Value::String(src) = v else {
                return Err(self.err(
                    &key,
                    format!(
                        "expected an expression such as \"{{jobDescription}}\" (a quoted string), got {}",
                        describe(v)
                    ),
                ));
            };
            let expr = Expr::parse(src).map_err(|m| self.err(&key, m))?;
            check_mapping_entry(path, &expr).map_err(|m| self.err(&key, m))?;
            attributes.push((path.clone(), expr));
        }
        Ok(MappingSpec {
            active_statuses,
            attributes,
        })
    }

    /// `[tenants.scope]`: include/exclude rules and what happens to who falls out of scope.
    fn scope(&self, t: &str, raw: &RawScope) -> Result<ScopeSpec, ConfigError> {
        let key = format!("{t}.out_of_scope");
        let out_of_scope = match self.string(raw.out_of_scope.as_ref(), &key, "\"deactivate\" or \"ignore\"")? {
            None | Some("deactivate") => OutOfScope::Deactivate,
            Some("ignore") => OutOfScope::Ignore,
            Some(other) => {
                return Err(self.err(&key, format!("expected \"deactivate\" or \"ignore\", got {other:?}")));
            }
        };
        Ok(ScopeSpec {
            include: self.scope_rules(t, "include", raw.include.as_ref())?,
            exclude: self.scope_rules(t, "exclude", raw.exclude.as_ref())?,
            out_of_scope,
        })
    }

    /// A list of scope rules: tables with `field`, one operator and an optional `name`.
    fn scope_rules(&self, t: &str, kind: &str, v: Option<&Value>) -> Result<Vec<Rule>, ConfigError> {
        const OPERATORS: [&str; 5] = ["equals", "in", "not_in", "matches", "is_empty"];
        let example = format!(
            "a list of rules such as [{{ field = \"employeeTypeCode\", equals = \"CON\" }}] (or [[{t}.{kind}]] tables)"
        );
        let rules = match v {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(self.err(
                    format!("{t}.{kind}"),
                    format!("expected {example}, got {}", describe(other)),
                ));
            }
        };
        let mut out = Vec::new();
        for (i, item) in rules.iter().enumerate() {
            let key = format!("{t}.{kind}[{i}]");
            let Value::Table(table) = item else {
                return Err(self.err(&key, format!("expected {example}, got {}", describe(item))));
            };
            for k in table.keys() {
                if k != "field" && k != "name" && !OPERATORS.contains(&k.as_str()) {
                    return Err(self.err(
                        format!("{key}.{k}"),
                        format!(
                            "unknown key; a rule has field, name and one of {}",
                            OPERATORS.join(", ")
                        ),
                    ));
                }
            }
            let field = self.string(
                table.get("field"),
                &format!("{key}.field"),
                "a UKG field name such as \"companyCode\"",
            )?;
            let field = self.required(
                field,
                &format!("{key}.field"),
                "a UKG field name such as \"companyCode\"",
            )?;
            if !UKG_FIELDS.contains(&field) {
                let hint = closest(field, &UKG_FIELDS)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                return Err(self.err(
                    format!("{key}.field"),
                    format!(
                        "{field:?} is not a UKG field hrsync reads{hint}; expected one of {}",
                        UKG_FIELDS.join(", ")
                    ),
                ));
            }
            let name = self.string(
                table.get("name"),
                &format!("{key}.name"),
                "a short description of the rule",
            )?;
            let given: Vec<&str> = OPERATORS.iter().copied().filter(|o| table.contains_key(*o)).collect();
            let op_name = match given.as_slice() {
                [one] => *one,
                [] => return Err(self.err(&key, format!("no test; give one of {}", OPERATORS.join(", ")))),
                many => {
                    return Err(self.err(
                        &key,
                        format!(
                            "{} tests in one rule; give exactly one (write several rules to combine them)",
                            many.join(" and ")
                        ),
                    ))
                }
            };
            let op_key = format!("{key}.{op_name}");
            let value = &table[op_name];
            let text = |v: &Value| match v {
                Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                other => Err(self.err(
                    &op_key,
                    format!("expected a non-empty text value, got {}", describe(other)),
                )),
            };
            let list = |v: &Value| match v {
                Value::Array(xs) if !xs.is_empty() => xs.iter().map(text).collect::<Result<Vec<_>, _>>(),
                other => Err(self.err(
                    &op_key,
                    format!(
                        "expected a non-empty list such as [\"ACME\", \"BETA\"], got {}",
                        describe(other)
                    ),
                )),
            };
            let op = match op_name {
                "equals" => Op::Equals(text(value)?),
                "in" => Op::In(list(value)?),
                "not_in" => Op::NotIn(list(value)?),
                "matches" => {
                    let pattern = text(value)?;
                    Op::Matches(regex::Regex::new(&pattern).map_err(|e| {
                        // The regex crate's message spans lines; its last line says what is wrong.
                        let why = e.to_string();
                        let why = why
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim_start_matches("error: ")
                            .to_string();
                        self.err(&op_key, format!("not a valid regular expression ({why}): {pattern:?}"))
                    })?)
                }
                _ => match value {
                    Value::Boolean(b) => Op::IsEmpty(*b),
                    other => return Err(self.err(&op_key, format!("expected true or false, got {}", describe(other)))),
                },
            };
            out.push(Rule::new(kind, field, op, name));
        }
        Ok(out)
    }

    fn ukg(&self, t: &str, raw: &RawUkg, notices: &mut Vec<String>) -> Result<UkgSpec, ConfigError> {
        let key = format!("{t}.base_url");
        let url_expected = "the UKG host URL such as \"https://service4.ultipro.com\"";
        let url = self.required(
            self.string(raw.base_url.as_ref(), &key, url_expected)?,
            &key,
            url_expected,
        )?;
        let (base_url, url_notices) = normalize_ukg_url(url).map_err(|m| self.err(&key, m))?;
        notices.extend(url_notices.iter().map(|n| self.notice(&key, n)));

        let key = format!("{t}.username");
        let user_expected = "the web service account's user name";
        let username = self
            .required(
                self.string(raw.username.as_ref(), &key, user_expected)?,
                &key,
                user_expected,
            )?
            .trim();
        if username.is_empty() {
            return Err(self.err(key, format!("must not be empty; expected {user_expected}")));
        }

        let keys = SecretKeys {
            inline: raw.password.as_ref(),
            env: raw.password_env.as_ref(),
            file: raw.password_file.as_ref(),
        };
        let password = self.required_secret(t, "password", "the web service account's password", keys)?;
        let keys = SecretKeys {
            inline: raw.api_key.as_ref(),
            env: raw.api_key_env.as_ref(),
            file: raw.api_key_file.as_ref(),
        };
        let api_key = self.required_secret(t, "api_key", "the Customer API Key", keys)?;
        let keys = SecretKeys {
            inline: raw.user_api_key.as_ref(),
            env: raw.user_api_key_env.as_ref(),
            file: raw.user_api_key_file.as_ref(),
        };
        let user_api_key = self.secret(t, "user_api_key", "the User API Key", keys)?;

        let page_size = self
            .int(raw.page_size.as_ref(), &format!("{t}.page_size"), 1, 10_000)?
            .unwrap_or(DEFAULT_UKG_PAGE_SIZE);
        let rps = self.int(
            raw.requests_per_second.as_ref(),
            &format!("{t}.requests_per_second"),
            1,
            u32::MAX.into(),
        )?;
        let burst = self.int(raw.burst.as_ref(), &format!("{t}.burst"), 1, u32::MAX.into())?;
        let org_level = self
            .int(
                raw.department_org_level.as_ref(),
                &format!("{t}.department_org_level"),
                1,
                4,
            )?
            .unwrap_or(1);
        let timeout = self.duration(
            raw.timeout.as_ref(),
            &format!("{t}.timeout"),
            "\"120s\" or \"2m\"",
            DEFAULT_UKG_TIMEOUT,
            MIN_TIMEOUT,
            MAX_TIMEOUT,
        )?;

        Ok(UkgSpec {
            base_url,
            username: username.to_string(),
            password,
            api_key,
            user_api_key,
            page_size: page_size as u32,
            requests_per_second: rps.unwrap_or(DEFAULT_UKG_RPS) as u32,
            burst: burst.map(|b| b as u32),
            department_org_level: org_level as u8,
            timeout,
        })
    }

    fn scim(&self, t: &str, raw: &RawScim, notices: &mut Vec<String>) -> Result<ScimSpec, ConfigError> {
        let key = format!("{t}.base_url");
        let url_expected = "the SCIM base URL such as \"https://app.example.com/scim/v2\"";
        let url = self.required(
            self.string(raw.base_url.as_ref(), &key, url_expected)?,
            &key,
            url_expected,
        )?;
        let (base_url, url_notices) = normalize_scim_url(url).map_err(|m| self.err(&key, m))?;
        notices.extend(url_notices.iter().map(|n| self.notice(&key, n)));

        let keys = SecretKeys {
            inline: raw.token.as_ref(),
            env: raw.token_env.as_ref(),
            file: raw.token_file.as_ref(),
        };
        let token = self.required_secret(t, "token", "the SCIM bearer token", keys)?;
        let rps = self.int(
            raw.requests_per_second.as_ref(),
            &format!("{t}.requests_per_second"),
            1,
            u32::MAX.into(),
        )?;
        let burst = self.int(raw.burst.as_ref(), &format!("{t}.burst"), 1, u32::MAX.into())?;
        let concurrency = self
            .int(raw.concurrency.as_ref(), &format!("{t}.concurrency"), 1, 64)?
            .unwrap_or(DEFAULT_SCIM_CONCURRENCY);
        let timeout = self.duration(
            raw.timeout.as_ref(),
            &format!("{t}.timeout"),
            "\"30s\" or \"1m\"",
            DEFAULT_SCIM_TIMEOUT,
            MIN_TIMEOUT,
            MAX_TIMEOUT,
        )?;
        Ok(ScimSpec {
            base_url,
            token,
            requests_per_second: rps.unwrap_or(DEFAULT_SCIM_RPS) as u32,
            burst: burst.map(|b| b as u32),
            concurrency: concurrency as usize,
            timeout,
        })
    }

    /// `[tenants.file]`: format, columns (checked against the row fields and this tenant's
    /// mapping), date format, and where the file goes (a folder and/or SFTP; at least one).
    fn user_file(&self, t: &str, raw: &RawUserFile, mapping: &MappingSpec) -> Result<FileSpec, ConfigError> {
        let key = format!("{t}.format");
        let format = match self.string(raw.format.as_ref(), &key, "\"csv\" or \"json\"")? {
            None | Some("csv") => FileFormat::Csv,
            Some("json") => FileFormat::JsonLines,
            Some(other) => {
                return Err(self.err(key, format!("expected \"csv\" or \"json\" (JSON lines), got {other:?}")))
            }
        };
        let key = format!("{t}.date_format");
        let date_format = self
            .string(
                raw.date_format.as_ref(),
                &key,
                "a strftime date format such as \"%m/%d/%Y\"",
            )?
            .unwrap_or(user_file::DEFAULT_DATE_FORMAT)
            .to_string();
        user_file::check_date_format(&date_format).map_err(|m| self.err(&key, m))?;
        let columns = match &raw.columns {
            None => user_file::default_columns(),
            Some(v) => self.columns(&format!("{t}.columns"), v, mapping)?,
        };
        let directory = match self.string(raw.directory.as_ref(), &format!("{t}.directory"), "a folder path")? {
            None => None,
            Some(d) => Some(self.file_path(d, &format!("{t}.directory"))?),
        };
        let keep = self
            .int(raw.keep.as_ref(), &format!("{t}.keep"), 1, 100_000)?
            .unwrap_or(DEFAULT_FILE_KEEP) as usize;
        let sftp = match &raw.sftp {
            None => None,
            Some(s) => Some(self.sftp(&format!("{t}.sftp"), s)?),
        };
        if directory.is_none() && sftp.is_none() {
            return Err(self.err(
                t,
                "no destination; set directory = \"/path\" (a drop folder) and/or an sftp table (an SFTP upload)",
            ));
        }
        Ok(FileSpec {
            format,
            columns,
            date_format,
            directory,
            keep,
            sftp,
        })
    }

    /// `columns = [{ name = "…", value = "…" }, …]`: unique names, checked expressions.
    fn columns(&self, key: &str, v: &Value, mapping: &MappingSpec) -> Result<Vec<Column>, ConfigError> {
        let expected = "an array of tables such as [{ name = \"email\", value = \"{email}\" }]";
        let items = match v {
            Value::Array(items) if !items.is_empty() => items,
            Value::Array(_) => {
                return Err(self.err(
                    key,
                    "must not be empty; leave columns out for the default (Betterworks) columns",
                ))
            }
            other => return Err(self.err(key, format!("expected {expected}, got {}", describe(other)))),
        };
        let mut columns: Vec<Column> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let k = format!("{key}[{i}]");
            let Value::Table(table) = item else {
                return Err(self.err(&k, format!("expected {expected}, got {}", describe(item))));
            };
            if let Some(unknown) = table.keys().find(|n| *n != "name" && *n != "value") {
                return Err(self.err(&k, format!("unknown key {unknown:?}; expected name, value")));
            }
            let name_key = format!("{k}.name");
            let name = self.required(
                self.string(table.get("name"), &name_key, "the column's header, e.g. \"email\"")?,
                &name_key,
                "the column's header, e.g. \"email\"",
            )?;
            let value_key = format!("{k}.value");
            let src = self.required(
                self.string(table.get("value"), &value_key, "an expression such as \"{email}\"")?,
                &value_key,
                "an expression such as \"{email}\"",
            )?;
            let value = Expr::parse(src).map_err(|m| self.err(&value_key, m))?;
            user_file::check_column(name, &value, mapping).map_err(|m| self.err(&value_key, m))?;
            if let Some(first) = columns.iter().position(|c| c.name == name) {
                return Err(self.err(
                    name_key,
                    format!("{name:?} is also the name of columns[{first}]; column names must be unique"),
                ));
            }
            columns.push(Column {
                name: name.to_string(),
                value,
            });
        }
        Ok(columns)
    }

    /// `sftp = { … }`: the server, a key or a password (by reference), the known_hosts file.
    fn sftp(&self, t: &str, raw: &RawSftp) -> Result<SftpSpec, ConfigError> {
        let host_expected = "a host name or IP address such as \"sftp.example.com\" (no scheme, no port: see port)";
        let key = format!("{t}.host");
        let host = self
            .required(
                self.string(raw.host.as_ref(), &key, host_expected)?,
                &key,
                host_expected,
            )?
            .trim();
        if !is_host(host) {
            return Err(self.err(key, format!("expected {host_expected}, got {host:?}")));
        }
        let port = self
            .int(raw.port.as_ref(), &format!("{t}.port"), 1, 65535)?
            .unwrap_or(22) as u16;
        let key = format!("{t}.username");
        let username = self
            .required(
                self.string(raw.username.as_ref(), &key, "the SFTP account's user name")?,
                &key,
                "the SFTP account's user name",
            )?
            .trim();
        if username.is_empty() {
            return Err(self.err(key, "must not be empty; expected the SFTP account's user name"));
        }
        let keys = SecretKeys {
            inline: raw.key.as_ref(),
            env: raw.key_env.as_ref(),
            file: raw.key_file.as_ref(),
        };
        let private_key = self.secret(t, "key", "the SFTP private key (OpenSSH or PEM, unencrypted)", keys)?;
        let keys = SecretKeys {
            inline: raw.password.as_ref(),
            env: raw.password_env.as_ref(),
            file: raw.password_file.as_ref(),
        };
        let password = self.secret(t, "password", "the SFTP password", keys)?;
        let auth = match (private_key, password) {
            (Some(k), None) => SftpAuth::Key(k),
            (None, Some(p)) => SftpAuth::Password(p),
            (Some(_), Some(_)) => {
                return Err(self.err(t, "both a key and a password are set; keep one (a key is preferred)"))
            }
            (None, None) => {
                return Err(self.err(
                    t,
                    "missing key_file or key_env (a private key) or password_env or password_file",
                ))
            }
        };
        let remote_dir = self
            .string(
                raw.remote_dir.as_ref(),
                &format!("{t}.remote_dir"),
                "a folder on the server such as \"/inbound\"",
            )?
            .unwrap_or(".")
            .trim()
            .to_string();
        let key = format!("{t}.known_hosts");
        let known_expected = "the path of an OpenSSH known_hosts file listing the server's host key";
        let known_hosts = self.required(
            self.string(raw.known_hosts.as_ref(), &key, known_expected)?,
            &key,
            known_expected,
        )?;
        let known_hosts = self.file_path(known_hosts, &key)?;
        let timeout = self.duration(
            raw.timeout.as_ref(),
            &format!("{t}.timeout"),
            "\"60s\" or \"2m\"",
            DEFAULT_SFTP_TIMEOUT,
            MIN_TIMEOUT,
            MAX_TIMEOUT,
        )?;
        Ok(SftpSpec {
            host: host.to_string(),
            port,
            username: username.to_string(),
            auth,
            remote_dir,
            known_hosts,
            timeout,
        })
    }

    /// A string value, if present. Not for secret-related keys (the value is echoed on error).
    fn string<'v>(&self, v: Option<&'v Value>, key: &str, expected: &str) -> Result<Option<&'v str>, ConfigError> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.err(key, format!("expected {expected}, got {}", describe(other)))),
        }
    }

    fn required<T>(&self, v: Option<T>, key: &str, expected: &str) -> Result<T, ConfigError> {
        v.ok_or_else(|| self.err(key, format!("missing; expected {expected}")))
    }

    /// An integer in `lo..=hi`, if present.
    fn boolean(&self, v: Option<&Value>, key: &str) -> Result<Option<bool>, ConfigError> {
        match v {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(key, format!("expected true or false, got {}", describe(other)))),
        }
    }

    fn int(&self, v: Option<&Value>, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, ConfigError> {
        let expected = if hi >= i64::from(u32::MAX) {
            format!("an integer >= {lo}")
        } else {
            format!("an integer {lo}..={hi}")
        };
        match v {
            None => Ok(None),
            Some(Value::Integer(n)) if (lo..=hi).contains(n) => Ok(Some(*n)),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Err(self.err(
                key,
                format!("expected {expected}, got {s:?} (a string; write the number without quotes)"),
            )),
            Some(other) => Err(self.err(key, format!("expected {expected}, got {}", describe(other)))),
        }
    }

    /// A humantime duration in `min..=max`, `default` when absent.
    fn duration(
        &self,
        v: Option<&Value>,
        key: &str,
        examples: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(v) = v else { return Ok(default) };
        let Value::String(s) = v else {
            return Err(self.err(
                key,
                format!(
                    "expected a duration such as {examples} (a quoted string), got {}",
                    describe(v)
                ),
            ));
        };
        let d = humantime::parse_duration(s.trim())
            .map_err(|_| self.err(key, format!("expected a duration such as {examples}, got {s:?}")))?;
        if d < min || d > max {
            return Err(self.err(
                key,
                format!(
                    "expected a duration from {} to {}, got {s:?}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            ));
        }
        Ok(d)
    }

    /// A required email address.
    fn email(&self, v: Option<&Value>, key: &str, example: &str) -> Result<String, ConfigError> {
        let expected = format!("an email address such as \"{example}\"");
        let s = self.required(self.string(v, key, &expected)?, key, &expected)?.trim();
        if !looks_like_email(s) {
            return Err(self.err(key, format!("expected {expected}, got {s:?}")));
        }
        Ok(s.to_string())
    }

    /// A path from the file: `~` is refused (it is not expanded), relative paths resolve
    /// against the config file's folder.
    fn file_path(&self, raw: &str, key: &str) -> Result<PathBuf, ConfigError> {
        if raw.trim().is_empty() {
            return Err(self.err(key, "must not be empty; expected a path"));
        }
        if raw.starts_with('~') {
            return Err(self.err(
                key,
                format!("'~' is not expanded; write the full path instead of {raw:?}"),
            ));
        }
        let p = Path::new(raw);
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        })
    }

    /// [`Ctx::secret`] for a secret that must be given.
    fn required_secret(
        &self,
        table: &str,
        name: &str,
        what: &str,
        keys: SecretKeys,
    ) -> Result<SecretString, ConfigError> {
        self.secret(table, name, what, keys)?
            .ok_or_else(|| self.err(table, format!("missing {name}_env or {name}_file ({what})")))
    }

    /// Resolves `{table}.{name}_env` / `{table}.{name}_file`; refuses `{table}.{name}`. Never
    /// puts the secret (or what might be one) into a message.
    fn secret(
        &self,
        table: &str,
        name: &str,
        what: &str,
        keys: SecretKeys,
    ) -> Result<Option<SecretString>, ConfigError> {
        if keys.inline.is_some() {
            return Err(self.err(
                format!("{table}.{name}"),
                format!("secrets are not accepted inline; set {name}_env = \"VAR\" (environment variable name) or {name}_file = \"/path\""),
            ));
        }
        match (keys.env, keys.file) {
            (Some(_), Some(_)) => Err(self.err(table, format!("both {name}_env and {name}_file are set; keep one"))),
            (None, None) => Ok(None),
            (Some(v), None) => {
                let key = format!("{table}.{name}_env");
                let var = match v {
                    Value::String(var) if is_env_name(var) => var,
                    _ => {
                        return Err(self.err(
                            key,
                            "expected the name of an environment variable (letters, digits and _, e.g. \"ACME_UKG_PASSWORD\"), not the secret itself",
                        ))
                    }
                };
                match (self.env)(var) {
                    Some(value) if !value.trim().is_empty() => Ok(Some(SecretString::from(value))),
                    _ => Err(self.err(key, format!("environment variable {var} is not set (or empty)"))),
                }
            }
            (None, Some(v)) => {
                let key = format!("{table}.{name}_file");
                let Value::String(raw) = v else {
                    return Err(self.err(key, "expected the path of a file holding the secret, as a string"));
                };
                // The value is never echoed: it may be the secret itself, pasted by mistake.
                let unshown = "(the value is not shown: it may be the secret itself)";
                if raw.trim().is_empty() || raw.starts_with('~') {
                    return Err(self.err(
                        key,
                        format!("expected the full path of a file holding {what}; '~' is not expanded {unshown}"),
                    ));
                }
                let path = self.file_path(raw, &key)?;
                let mut text = std::fs::read_to_string(&path).map_err(|e| {
                    self.err(
                        &key,
                        format!("cannot read the file it names: {} {unshown}; expected the path of a file holding {what} (a relative path is read from the config file's folder)", io_reason(&e)),
                    )
                })?;
                let kept = text.trim_end_matches(['\n', '\r']).len();
                text.truncate(kept);
                if text.trim().is_empty() {
                    return Err(self.err(key, format!("the file it names is empty; expected it to hold {what}")));
                }
                Ok(Some(SecretString::from(text)))
            }
        }
    }
}

/// An I/O error's reason without its OS code ("No such file or directory").
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// How a value is shown in "got ..." (only ever for non-secret keys).
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => format!("{f} (a float)"),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => format!("{d} (a date/time)"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

/// `[a-z0-9-]`, 1..=63 characters, not starting or ending with '-'.
pub fn is_tenant_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

/// A POSIX-ish environment variable name.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `local@domain.tld`: no spaces or display name, one '@', a dotted domain.
pub fn looks_like_email(s: &str) -> bool {
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
    {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// A bare host: a DNS name or an IP address (IPv6 with or without brackets); no scheme, port or path.
fn is_host(host: &str) -> bool {
    let unbracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if unbracketed.parse::<IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

// ---------------------------------------------------------------------------------------
// TOML/serde errors → `file:line:column: key.path: message`.

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = rewrite_serde_message(e.message());
    match e.span() {
        Some(span) => {
            // toml says only "duplicate key"; its span is the key's own text (never a value).
            let key_text = text.get(span.clone()).unwrap_or_default();
            if message == "duplicate key" && !key_text.is_empty() && key_text.len() <= 100 && !key_text.contains('\n') {
                message = format!("duplicate key {key_text}; each key may be given once per table");
            }
            let (line, column) = line_col(text, span.start);
            let key = key_path_at(text, span.start).unwrap_or_default();
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                key,
                message,
            }
        }
        None => ConfigError::Invalid {
            path: path.to_path_buf(),
            key: String::new(),
            message,
        },
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key path that a byte offset belongs to: a key's own text belongs to the table holding
/// it (`tenants[0].ukg` for an unknown key there); a value or table header belongs to its key.
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    let mut best: Option<(usize, String)> = None;
    visit_table(doc.get_ref(), offset, "", &mut best);
    best.map(|(_, path)| path)
}

fn consider(span: std::ops::Range<usize>, offset: usize, path: &str, best: &mut Option<(usize, String)>) {
    let end = span.end.max(span.start + 1);
    if span.start <= offset && offset < end {
        let len = end - span.start;
        // `<=`: on a tie the deeper node (visited later) wins.
        if best.as_ref().is_none_or(|(l, _)| len <= *l) {
            *best = Some((len, path.to_string()));
        }
    }
}

fn visit_table(table: &toml::de::DeTable<'_>, offset: usize, prefix: &str, best: &mut Option<(usize, String)>) {
    for (k, v) in table.iter() {
        let name: &str = k.get_ref();
        let bare = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let name = if bare { name.to_string() } else { format!("{name:?}") };
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        consider(k.span(), offset, prefix, best);
        consider(v.span(), offset, &path, best);
        visit_value(v.get_ref(), offset, &path, best);
    }
}

fn visit_value(v: &toml::de::DeValue<'_>, offset: usize, path: &str, best: &mut Option<(usize, String)>) {
    match v {
        toml::de::DeValue::Table(t) => visit_table(t, offset, path, best),
        toml::de::DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                consider(e.span(), offset, &p, best);
                visit_value(e.get_ref(), offset, &p, best);
            }
        }
        _ => {}
    }
}

/// Rewrites serde's wording into the file's vocabulary: "unknown field `x`, expected one of
/// `a`, `b`" becomes `unknown key "x"; expected one of a, b` (inline-secret keys left out,
/// with a "did you mean" when one is close); "map"/"sequence" become "table"/"array".
fn rewrite_serde_message(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // Backtick-quoted names: the unknown key first, then the expected ones.
        let names: Vec<&str> = rest.split('`').step_by(2).collect();
        let unknown = names.first().copied().unwrap_or_default();
        let expected: Vec<&str> = names[1..]
            .iter()
            .copied()
            .filter(|n| !n.is_empty() && !INLINE_SECRET_KEYS.contains(n))
            .collect();
        let mut out = format!("unknown key {unknown:?}");
        if let Some(close) = closest(unknown, &expected) {
            out.push_str(&format!(" (did you mean {close:?}?)"));
        }
        if !expected.is_empty() {
            out.push_str(&format!("; expected one of {}", expected.join(", ")));
        }
        return out;
    }
    message
        .replace("invalid type: map", "invalid type: table")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("expected a sequence", "expected an array of tables ([[tenants]])")
}

/// The candidate nearest to `word` by edit distance, when close enough to be a typo.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 4).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const CANARY: &str = "CANARY-s3cr3t";

    fn scim(t: &TenantSpec) -> &ScimSpec {
        t.target.scim().expect("a SCIM tenant")
    }
    const FILE: &str = "config/hrsync.toml";

    /// Every variable a test config refers to is set (to a value derived from its name).
    fn env(name: &str) -> Option<String> {
        Some(format!("value-of-{name}"))
    }

    fn parse_ok(text: &str) -> Settings {
        match parse(text, Path::new(FILE), &env) {
            Ok(s) => s,
            Err(e) => panic!("expected a valid config, got: {e}"),
        }
    }

    /// Parses and returns the error's one line, checking it names the file and has no canary.
    fn parse_err(text: &str) -> String {
        parse_err_with(text, &env)
    }

    fn parse_err_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
        // A tenant's own error sets it aside (the others run); the file's errors stop it.
        let (line, debug) = match parse(text, Path::new(FILE), env) {
            Ok(s) => match s.misconfigured.first() {
                Some(t) => (t.error.clone(), format!("{s:?}")),
                None => panic!("expected an error, got {s:?}"),
            },
            Err(e) => (e.to_string(), format!("{e:?}")),
        };
        assert!(line.starts_with(FILE), "error does not name the file: {line}");
        assert!(!line.contains('\n'), "error is not one line: {line}");
        assert!(!line.contains(CANARY), "error leaks the secret: {line}");
        assert!(!debug.contains(CANARY), "error Debug leaks the secret: {debug}");
        line
    }

    const SERVICE: &str = "[service]\ndata_dir = \"/var/lib/hrsync\"\n";

    /// A minimal valid tenant; tests replace parts of it.
    const TENANT: &str = r#"
[[tenants]]
id = "acme"
technical_contact = "it-alerts@acme.example"

[tenants.ukg]
base_url = "https://service4.ultipro.com"
username = "svc-hrsync"
password_env = "ACME_UKG_PASSWORD"
api_key_env = "ACME_UKG_API_KEY"

[tenants.scim]
base_url = "https://app.example.com/scim/v2"
token_env = "ACME_SCIM_TOKEN"
"#;

    fn with_tenant(edit: impl Fn(&str) -> String) -> String {
        format!("{SERVICE}{}", edit(TENANT))
    }

    fn with_scope(scope: &str) -> String {
        with_tenant(|t| t.replacen("\n[tenants.ukg]", &format!("\n{scope}\n[tenants.ukg]"), 1))
    }

    #[test]
    fn scope_rules_parse_with_every_operator() {
        let s = parse_ok(&with_scope(
            r#"[tenants.scope]
out_of_scope = "ignore"
include = [{ field = "companyCode", in = ["ACME", "BETA"] }]
[[tenants.scope.exclude]]
field = "employeeTypeCode"
equals = "CON"
name = "exclude contractors"
[[tenants.scope.exclude]]
field = "orgLevel2Code"
matches = "^TMP-"
[[tenants.scope.exclude]]
field = "primaryWorkLocationCode"
is_empty = true
[[tenants.scope.exclude]]
field = "employeeStatusCode"
not_in = ["A", "L", "T"]
"#,
        ));
        let scope = &s.tenants[0].scope;
        assert_eq!(scope.out_of_scope, OutOfScope::Ignore);
        assert_eq!(scope.include.len(), 1);
        assert_eq!(scope.include[0].label, "include companyCode in [\"ACME\", \"BETA\"]");
        let labels: Vec<&str> = scope.exclude.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "exclude contractors",
                "exclude orgLevel2Code matches \"^TMP-\"",
                "exclude primaryWorkLocationCode is_empty true",
                "exclude employeeStatusCode not_in [\"A\", \"L\", \"T\"]",
            ]
        );
        let s = parse_ok(&with_tenant(|t| t.to_string()));
        assert!(s.tenants[0].scope.is_empty());
        assert_eq!(s.tenants[0].scope.out_of_scope, OutOfScope::Deactivate);
    }

    #[test]
    fn bad_scope_rules_are_refused_with_key_and_reason() {
        let cases = [
            (
                "[tenants.scope]\nexclude = [{ field = \"employeeType\", equals = \"CON\" }]",
                "tenant acme: scope.exclude[0].field: \"employeeType\" is not a UKG field hrsync reads (did you mean \"employeeTypeCode\"?)",
            ),
            (
                "[tenants.scope]\nexclude = [{ field = \"companyCode\" }]",
                "tenant acme: scope.exclude[0]: no test; give one of equals, in, not_in, matches, is_empty",
            ),
            (
                "[tenants.scope]\nexclude = [{ field = \"companyCode\", equals = \"A\", in = [\"B\"] }]",
                "tenant acme: scope.exclude[0]: equals and in tests in one rule; give exactly one",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"orgLevel1Code\", matches = \"(unclosed\" }]",
                "tenant acme: scope.include[0].matches: not a valid regular expression",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"companyCode\", in = [] }]",
                "tenant acme: scope.include[0].in: expected a non-empty list",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"companyCode\", is_empty = \"yes\" }]",
                "tenant acme: scope.include[0].is_empty: expected true or false",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"companyCode\", equal = \"ACME\" }]",
                "tenant acme: scope.include[0].equal: unknown key",
            ),
            (
                "[tenants.scope]\nout_of_scope = \"delete\"",
                "tenant acme: scope.out_of_scope: expected \"deactivate\" or \"ignore\", got \"delete\"",
            ),
            (
                "[tenants.scope]\nexclude = { field = \"companyCode\", equals = \"A\" }",
                "tenant acme: scope.exclude: expected a list of rules",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"ssn\", equals = \"1\" }]",
                "tenant acme: scope.include[0].field: \"ssn\" is not a UKG field hrsync reads",
            ),
        ];
        for (scope, expected) in cases {
            let e = parse_err(&with_scope(scope));
            assert!(
                e.contains(expected),
                "for {scope:?}:\n  got {e}\n  expected it to contain {expected}"
            );
        }
    }

    #[test]
    fn first_run_review_is_a_boolean_defaulting_to_false() {
        assert!(!parse_ok(&with_tenant(|t| t.to_string())).tenants[0].first_run_review);
        let on = with_tenant(|t| t.replacen("\n[tenants.ukg]", "first_run_review = true\n\n[tenants.ukg]", 1));
        assert!(parse_ok(&on).tenants[0].first_run_review);
        let bad = with_tenant(|t| t.replacen("\n[tenants.ukg]", "first_run_review = \"yes\"\n\n[tenants.ukg]", 1));
        assert!(parse_err(&bad).contains("tenant acme: first_run_review: expected true or false, got"));
    }

    #[test]
    fn minimal_config_gets_every_default() {
        let s = parse_ok(&with_tenant(str::to_string));
        assert_eq!(s.path, Path::new(FILE));
        assert_eq!(s.service.data_dir, Path::new("/var/lib/hrsync"));
        assert_eq!(s.service.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.service.log_format, LogFormat::Text);
        assert!(s.smtp.is_none());
        assert!(s.notices.is_empty(), "{:?}", s.notices);
        let [t] = &s.tenants[..] else {
            panic!("one tenant expected")
        };
        assert_eq!(t.id, "acme");
        assert_eq!(t.schedule, Duration::from_secs(86400));
        assert_eq!(t.technical_contact, "it-alerts@acme.example");
        assert_eq!(t.ukg.base_url, "https://service4.ultipro.com");
        assert_eq!(t.ukg.username, "svc-hrsync");
        assert_eq!(t.ukg.password.expose_secret(), "value-of-ACME_UKG_PASSWORD");
        assert_eq!(t.ukg.api_key.expose_secret(), "value-of-ACME_UKG_API_KEY");
        assert!(t.ukg.user_api_key.is_none());
        assert_eq!(t.ukg.page_size, 1000);
        assert_eq!(t.ukg.requests_per_second, 2);
        assert_eq!(t.ukg.burst, None);
        assert_eq!(t.ukg.department_org_level, 1);
        assert_eq!(t.ukg.timeout, Duration::from_secs(120));
        assert_eq!(scim(t).base_url, "https://app.example.com/scim/v2");
        assert_eq!(scim(t).token.expose_secret(), "value-of-ACME_SCIM_TOKEN");
        assert_eq!(scim(t).requests_per_second, 10);
        assert_eq!(scim(t).burst, None);
        assert_eq!(scim(t).concurrency, 4);
        assert_eq!(scim(t).timeout, Duration::from_secs(30));
    }

    #[test]
    fn full_config_round_trips_into_the_specs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("user-key"), "UK-1\n").unwrap();
        let text = r#"
[service]
data_dir = "state"
listen = "0.0.0.0:9090"
log_format = "json"

[smtp]
host = "smtp.example.com"
port = 465
tls = "tls"
from = "hrsync@example.com"
username = "mailer"
password_env = "SMTP_PASSWORD"

[[tenants]]
id = "acme"
schedule = "6h 30m"
technical_contact = "it-alerts@acme.example"

[tenants.ukg]
base_url = "https://service5.ultipro.com/"
username = "svc-hrsync"
password_env = "ACME_UKG_PASSWORD"
api_key_env = "ACME_UKG_API_KEY"
user_api_key_file = "user-key"
page_size = 10000
requests_per_second = 3
burst = 6
department_org_level = 4
timeout = "5m"

[tenants.scim]
base_url = "https://app.example.com/scim/v2/"
token_env = "ACME_SCIM_TOKEN"
requests_per_second = 20
burst = 40
concurrency = 64
timeout = "45s"

[[tenants]]
id = "globex-2"
technical_contact = "ops@globex.example"
ukg = { base_url = "https://servicet.ultipro.com", username = "u", password_env = "G_PW", api_key_env = "G_KEY" }
scim = { base_url = "http://127.0.0.1:9000/scim", token_env = "G_TOKEN" }
"#;
        let path = dir.path().join("hrsync.toml");
        let s = parse(text, &path, &env).unwrap();
        assert_eq!(s.service.data_dir, dir.path().join("state"));
        assert_eq!(s.service.listen, "0.0.0.0:9090".parse().unwrap());
        assert_eq!(s.service.log_format, LogFormat::Json);
        let smtp = s.smtp.as_ref().unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.tls),
            ("smtp.example.com", 465, SmtpTls::Tls)
        );
        assert_eq!(smtp.from, "hrsync@example.com");
        assert_eq!(smtp.username.as_deref(), Some("mailer"));
        assert_eq!(
            smtp.password.as_ref().unwrap().expose_secret(),
            "value-of-SMTP_PASSWORD"
        );

        let [a, g] = &s.tenants[..] else {
            panic!("two tenants expected")
        };
        assert_eq!(a.schedule, Duration::from_secs(6 * 3600 + 30 * 60));
        assert_eq!(a.ukg.base_url, "https://service5.ultipro.com");
        assert_eq!(a.ukg.user_api_key.as_ref().unwrap().expose_secret(), "UK-1");
        assert_eq!(
            (a.ukg.page_size, a.ukg.requests_per_second, a.ukg.burst),
            (10000, 3, Some(6))
        );
        assert_eq!(a.ukg.department_org_level, 4);
        assert_eq!(a.ukg.timeout, Duration::from_secs(300));
        assert_eq!(scim(a).base_url, "https://app.example.com/scim/v2");
        assert_eq!(
            (scim(a).requests_per_second, scim(a).burst, scim(a).concurrency),
            (20, Some(40), 64)
        );
        assert_eq!(scim(a).timeout, Duration::from_secs(45));

        assert_eq!(g.id, "globex-2");
        assert_eq!(g.ukg.base_url, "https://servicet.ultipro.com");
        assert_eq!(scim(g).base_url, "http://127.0.0.1:9000/scim", "loopback stays http");
        assert_eq!(scim(g).token.expose_secret(), "value-of-G_TOKEN");
        assert!(s.notices.is_empty(), "{:?}", s.notices);
    }

    #[test]
    fn smtp_port_defaults_follow_tls_and_login_is_optional() {
        for (tls, port) in [("starttls", 587), ("tls", 465)] {
            let s = parse_ok(&format!(
                "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\ntls = \"{tls}\"\nfrom = \"a@example.com\"\n"
            ));
            let smtp = s.smtp.unwrap();
            assert_eq!(smtp.port, port);
            assert!(smtp.username.is_none() && smtp.password.is_none());
        }
        let s = parse_ok(&format!(
            "{SERVICE}[smtp]\nhost = \"localhost\"\ntls = \"none\"\nfrom = \"a@example.com\"\n"
        ));
        assert_eq!(
            (s.smtp.as_ref().unwrap().tls, s.smtp.as_ref().unwrap().port),
            (SmtpTls::None, 25)
        );
    }

    #[test]
    fn no_tenants_is_valid_with_a_notice() {
        let s = parse_ok(SERVICE);
        assert!(s.tenants.is_empty());
        assert_eq!(s.notices.len(), 1);
        assert!(
            s.notices[0].starts_with(FILE) && s.notices[0].contains("no [[tenants]]"),
            "{:?}",
            s.notices
        );
    }

    #[test]
    fn out_of_range_integer_names_key_and_range() {
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "api_key_env = \"ACME_UKG_API_KEY\"",
                "api_key_env = \"ACME_UKG_API_KEY\"\npage_size = 20000",
            )
        }));
        assert_eq!(
            e,
            "config/hrsync.toml: tenant acme: ukg.page_size: expected an integer 1..=10000, got 20000"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "api_key_env = \"ACME_UKG_API_KEY\"",
                "api_key_env = \"ACME_UKG_API_KEY\"\npage_size = \"500\"",
            )
        }));
        assert!(
            e.contains("tenant acme: ukg.page_size: expected an integer 1..=10000, got \"500\" (a string"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "token_env = \"ACME_SCIM_TOKEN\"",
                "token_env = \"ACME_SCIM_TOKEN\"\nconcurrency = 0",
            )
        }));
        assert!(
            e.contains("tenant acme: scim.concurrency: expected an integer 1..=64, got 0"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "token_env = \"ACME_SCIM_TOKEN\"",
                "token_env = \"ACME_SCIM_TOKEN\"\nrequests_per_second = 0",
            )
        }));
        assert!(
            e.contains("tenant acme: scim.requests_per_second: expected an integer >= 1, got 0"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "api_key_env = \"ACME_UKG_API_KEY\"",
                "api_key_env = \"ACME_UKG_API_KEY\"\ndepartment_org_level = 5",
            )
        }));
        assert!(
            e.contains("tenant acme: ukg.department_org_level: expected an integer 1..=4, got 5"),
            "{e}"
        );
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nport = 70000\nfrom = \"a@example.com\"\n"
        ));
        assert!(e.contains("smtp.port: expected an integer 1..=65535, got 70000"), "{e}");
    }

    #[test]
    fn duplicate_tenant_id_names_both() {
        let e = parse_err(&format!("{SERVICE}{TENANT}{TENANT}"));
        assert_eq!(
            e,
            "config/hrsync.toml: tenants[1].id: \"acme\" is used by tenants[0] already; tenant ids must be unique"
        );
    }

    #[test]
    fn bad_tenant_ids_are_refused() {
        for bad in ["Acme", "-acme", "acme-", "ac_me", "", &"a".repeat(64)] {
            let e = parse_err(&with_tenant(|t| t.replace("id = \"acme\"", &format!("id = \"{bad}\""))));
            assert!(
                e.contains("tenants[0].id: expected 1 to 63 characters of a-z, 0-9 and '-'"),
                "{bad}: {e}"
            );
        }
        let ok = parse_ok(&with_tenant(|t| {
            t.replace("id = \"acme\"", &format!("id = \"{}\"", "a".repeat(63)))
        }));
        assert_eq!(ok.tenants[0].id.len(), 63);
        let e = parse_err(&with_tenant(|t| t.replace("id = \"acme\"\n", "")));
        assert!(e.contains("tenants[0].id: missing; expected 1 to 63 characters"), "{e}");
    }

    #[test]
    fn unknown_key_names_file_line_table_and_the_accepted_keys() {
        let e = parse_err(&with_tenant(|t| t.replace("password_env", "pasword_env")));
        // password_env is on line 11 of the file (the [tenants.ukg] table's third key).
        assert!(e.starts_with("config/hrsync.toml:11:1: tenants[0].ukg: unknown key \"pasword_env\" (did you mean \"password_env\"?); expected one of base_url, username, password_env, password_file, api_key_env,"), "{e}");
        assert!(
            !e.contains(" password,") && !e.contains(" token,"),
            "inline secret keys are not offered: {e}"
        );

        let e = parse_err(&format!("{SERVICE}log_level = \"debug\"\n"));
        assert!(
            e.starts_with("config/hrsync.toml:3:1: service: unknown key \"log_level\""),
            "{e}"
        );
        assert!(e.contains("expected one of data_dir, listen, log_format"), "{e}");

        let e = parse_err(&format!("{SERVICE}[tenant]\nid = \"x\"\n"));
        assert!(
            e.contains(":3:2: unknown key \"tenant\" (did you mean \"tenants\"?)"),
            "{e}"
        );

        let e = parse_err(&with_tenant(|t| {
            t.replace("[tenants.scim]", "[tenants.scim]\nbogus = { a = 1 }")
        }));
        assert!(e.contains("tenants[0].scim: unknown key \"bogus\""), "{e}");

        // Inline tables get the same treatment.
        let e = parse_err(&format!(
            "{SERVICE}[[tenants]]\nid = \"a\"\nukg = {{ base_url = \"https://x.example\", timeot = \"1s\" }}\n"
        ));
        assert!(e.starts_with("config/hrsync.toml:5:"), "{e}");
        assert!(
            e.contains("tenants[0].ukg: unknown key \"timeot\" (did you mean \"timeout\"?)"),
            "{e}"
        );
    }

    #[test]
    fn syntax_and_shape_errors_carry_line_and_column() {
        let e = parse_err(&format!("{SERVICE}listen = \"127.0.0.1:1\" x\n"));
        assert!(e.starts_with("config/hrsync.toml:3:"), "{e}");
        let e = parse_err(&format!("{SERVICE}data_dir = \"/again\"\n"));
        assert!(
            e.starts_with("config/hrsync.toml:3:1:") && e.contains("duplicate key data_dir;"),
            "{e}"
        );
        let e = parse_err(&format!("{SERVICE}[tenants]\nid = \"x\"\n"));
        assert!(
            e.contains("tenants: invalid type: table, expected an array of tables ([[tenants]])"),
            "{e}"
        );
        let e = parse_err(&format!("{SERVICE}[[tenants]]\nid = \"a\"\nukg = 3\n"));
        assert!(
            e.starts_with("config/hrsync.toml:5:7: tenants[0].ukg: invalid type: integer `3`, expected a table"),
            "{e}"
        );
        // An unterminated inline secret is a syntax error that does not echo the value.
        parse_err(&format!("{SERVICE}[smtp]\npassword = \"{CANARY}\n"));
    }

    #[test]
    fn missing_pieces_are_named() {
        let e = parse_err("");
        assert!(
            e.contains("config/hrsync.toml: service: missing; add a [service] table"),
            "{e}"
        );
        let e = parse_err("[service]\nlisten = \"127.0.0.1:1\"\n");
        assert!(
            e.contains("service.data_dir: missing; expected a directory path"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("[tenants.scim]", "[tenants.x]")
                .replace("base_url = \"https://app", "y = \"https://app")
        }));
        assert!(e.contains("unknown key \"x\""), "{e}");
        let e = parse_err(&format!(
            "{SERVICE}[[tenants]]\nid = \"a\"\ntechnical_contact = \"a@b.example\"\n"
        ));
        assert!(e.contains("tenant a: ukg: missing; add a [tenants.ukg] table"), "{e}");
        let e = parse_err(&with_tenant(|t| t.replace("username = \"svc-hrsync\"\n", "")));
        assert!(
            e.contains("tenant acme: ukg.username: missing; expected the web service account's user name"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("technical_contact = \"it-alerts@acme.example\"\n", "")
        }));
        assert!(
            e.contains("tenant acme: technical_contact: missing; expected an email address"),
            "{e}"
        );
    }

    #[test]
    fn inline_secrets_are_refused_without_echoing_them() {
        let cases = [
            ("password_env = \"ACME_UKG_PASSWORD\"", "password", "tenant acme: ukg.password: secrets are not accepted inline; set password_env = \"VAR\" (environment variable name) or password_file = \"/path\""),
            ("api_key_env = \"ACME_UKG_API_KEY\"", "api_key", "tenant acme: ukg.api_key: secrets are not accepted inline; set api_key_env"),
            ("token_env = \"ACME_SCIM_TOKEN\"", "token", "tenant acme: scim.token: secrets are not accepted inline; set token_env"),
        ];
        for (from, key, expected) in cases {
            let e = parse_err(&with_tenant(|t| t.replace(from, &format!("{key} = \"{CANARY}\""))));
            assert!(e.contains(expected), "{e}");
        }
        // Refused even next to a valid _env key, and whatever its type.
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "[tenants.ukg]",
                &format!("[tenants.ukg]\nuser_api_key = {{ v = \"{CANARY}\" }}"),
            )
        }));
        assert!(
            e.contains("tenant acme: ukg.user_api_key: secrets are not accepted inline"),
            "{e}"
        );
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\npassword = \"{CANARY}\"\n"
        ));
        assert!(
            e.contains("smtp.password: secrets are not accepted inline; set password_env"),
            "{e}"
        );
    }

    #[test]
    fn secret_sources_env_and_file() {
        // Not set, or empty.
        let none = |_: &str| None;
        let e = parse_err_with(&with_tenant(str::to_string), &none);
        assert!(
            e.contains("tenant acme: ukg.password_env: environment variable ACME_UKG_PASSWORD is not set (or empty)"),
            "{e}"
        );
        let empty = |name: &str| {
            if name == "ACME_SCIM_TOKEN" {
                Some(String::new())
            } else {
                env(name)
            }
        };
        let e = parse_err_with(&with_tenant(str::to_string), &empty);
        assert!(
            e.contains("tenant acme: scim.token_env: environment variable ACME_SCIM_TOKEN is not set (or empty)"),
            "{e}"
        );

        // The secret itself pasted where a variable name goes: refused, not echoed.
        let e = parse_err(&with_tenant(|t| {
            t.replace("\"ACME_SCIM_TOKEN\"", &format!("\"{CANARY}\""))
        }));
        assert!(
            e.contains("tenant acme: scim.token_env: expected the name of an environment variable"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| t.replace("\"ACME_SCIM_TOKEN\"", "12345")));
        assert!(
            e.contains("tenant acme: scim.token_env: expected the name") && !e.contains("12345"),
            "{e}"
        );

        // Both, or neither.
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "token_env = \"ACME_SCIM_TOKEN\"",
                "token_env = \"T\"\ntoken_file = \"/run/t\"",
            )
        }));
        assert!(
            e.contains("tenant acme: scim: both token_env and token_file are set; keep one"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("password_env = \"ACME_UKG_PASSWORD\"\n", "")
        }));
        assert!(
            e.contains("tenant acme: ukg: missing password_env or password_file"),
            "{e}"
        );

        // Files: relative to the config file, trailing newline trimmed; missing or empty refused.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), format!("{CANARY}\r\n")).unwrap();
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let config = dir.path().join("hrsync.toml");
        let text = with_tenant(|t| t.replace("token_env = \"ACME_SCIM_TOKEN\"", "token_file = \"token\""));
        let s = parse(&text, &config, &env).unwrap();
        assert_eq!(scim(&s.tenants[0]).token.expose_secret(), CANARY);
        assert!(!format!("{s:?}").contains(CANARY), "Debug of Settings leaks the secret");

        // The value of a *_file key is never echoed: it may be the secret pasted by mistake.
        let error_of = |file_value: &str| {
            let text = with_tenant(|t| {
                t.replace(
                    "token_env = \"ACME_SCIM_TOKEN\"",
                    &format!("token_file = \"{file_value}\""),
                )
            });
            let s = parse(&text, &config, &env).unwrap();
            assert!(s.tenants.is_empty(), "{s:?}");
            s.misconfigured[0].error.clone()
        };
        for value in [
            dir.path().join(CANARY).display().to_string(),
            CANARY.to_string(),
            format!("~/{CANARY}"),
            format!("{CANARY}/x+y=="),
        ] {
            let e = error_of(&value);
            assert!(e.contains("tenant acme: scim.token_file: "), "{e}");
            assert!(!e.contains(CANARY), "the error echoes the value: {e}");
        }
        let e = error_of(CANARY);
        assert!(
            e.contains("cannot read the file it names: No such file or directory (the value is not shown"),
            "{e}"
        );
        let e = error_of("empty");
        assert!(
            e.contains("tenant acme: scim.token_file: the file it names is empty"),
            "{e}"
        );
    }

    #[test]
    fn debug_of_settings_never_shows_secrets() {
        let canary_env = |_: &str| Some(CANARY.to_string());
        let text = format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\npassword_env = \"P\"\n{}",
            TENANT.replace("[tenants.ukg]", "[tenants.ukg]\nuser_api_key_env = \"UK\"")
        );
        let s = parse(&text, Path::new(FILE), &canary_env).unwrap();
        assert_eq!(s.tenants[0].ukg.password.expose_secret(), CANARY);
        assert_eq!(
            s.smtp.as_ref().unwrap().password.as_ref().unwrap().expose_secret(),
            CANARY
        );
        let debug = format!("{s:?} {s:#?}");
        assert!(!debug.contains(CANARY), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn smtp_rules() {
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"a@example.com\"\n"
        ));
        assert_eq!(e, "config/hrsync.toml: smtp.tls: \"none\" is only allowed towards a loopback host (got smtp.example.com); use \"starttls\" or \"tls\"");
        for host in ["127.0.0.1", "::1", "[::1]", "localhost"] {
            parse_ok(&format!(
                "{SERVICE}[smtp]\nhost = \"{host}\"\ntls = \"none\"\nport = 2525\nfrom = \"a@example.com\"\n"
            ));
        }
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\ntls = \"ssl\"\nfrom = \"a@example.com\"\n"
        ));
        assert!(
            e.contains("smtp.tls: expected \"starttls\", \"tls\" or \"none\", got \"ssl\""),
            "{e}"
        );
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com:587\"\nfrom = \"a@example.com\"\n"
        ));
        assert!(e.contains("smtp.host: expected a host name or IP address"), "{e}");
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"hrsync at example.com\"\n"
        ));
        assert!(
            e.contains(
                "smtp.from: expected an email address such as \"hrsync@example.com\", got \"hrsync at example.com\""
            ),
            "{e}"
        );
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\n"
        ));
        assert!(
            e.contains("smtp: username is set but no password_env or password_file"),
            "{e}"
        );
        let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\npassword_env = \"P\"\n"
        ));
        assert!(e.contains("smtp: a password is set but no username"), "{e}");
    }

    #[test]
    fn emails_must_look_like_emails() {
        for bad in [
            "it-alerts",
            "it alerts@acme.example",
            "it-alerts@acme",
            "@acme.example",
            "a@b@c.example",
            "Ops <ops@acme.example>",
            "a@acme..example",
        ] {
            let e = parse_err(&with_tenant(|t| t.replace("it-alerts@acme.example", bad)));
            assert!(
                e.contains("tenant acme: technical_contact: expected an email address such as"),
                "{bad}: {e}"
            );
        }
        for good in ["it-alerts@acme.example", "first.last+hr@mail.acme.co.uk"] {
            assert!(looks_like_email(good), "{good}");
        }
    }

    #[test]
    fn durations_name_key_and_examples() {
        let e = parse_err(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nschedule = \"daily\"")
        }));
        assert_eq!(
            e,
            "config/hrsync.toml: tenant acme: schedule: expected a duration such as \"24h\" or \"6h 30m\", got \"daily\""
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nschedule = 86400")
        }));
        assert!(
            e.contains(
                "tenant acme: schedule: expected a duration such as \"24h\" or \"6h 30m\" (a quoted string), got 86400"
            ),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nschedule = \"5s\"")
        }));
        assert!(
            e.contains("tenant acme: schedule: expected a duration from 10s to "),
            "{e}"
        );
        let s = parse_ok(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nschedule = \"10s\"")
        }));
        assert_eq!(s.tenants[0].schedule, Duration::from_secs(10));
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "token_env = \"ACME_SCIM_TOKEN\"",
                "token_env = \"ACME_SCIM_TOKEN\"\ntimeout = \"0s\"",
            )
        }));
        assert!(
            e.contains("tenant acme: scim.timeout: expected a duration from 1s to 1h"),
            "{e}"
        );
    }

    #[test]
    fn changes_every_is_refused_for_a_user_file_tenant() {
        let text = with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = \"3h\"")
                .replace(
                    "[tenants.scim]\nbase_url = \"https://app.example.com/scim/v2\"\ntoken_env = \"ACME_SCIM_TOKEN\"\n",
                    "[tenants.file]\ndirectory = \"/var/lib/hrsync/outbox\"\n",
                )
        });
        let e = parse_err(&text);
        assert!(
            e.contains("tenant acme: changes_every: the change feed applies changes one person at a time through SCIM"),
            "{e}"
        );
    }

    #[test]
    fn changes_every_is_off_by_default_and_at_least_3h() {
        let s = parse_ok(&with_tenant(str::to_string));
        assert_eq!(s.tenants[0].changes_every, None);
        let s = parse_ok(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = \"3h\"")
        }));
        assert_eq!(s.tenants[0].changes_every, Some(Duration::from_secs(3 * 3600)));
        let e = parse_err(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = \"2h 59m\"")
        }));
        assert_eq!(
            e,
            "config/hrsync.toml: tenant acme: changes_every: expected at least 3h, got \"2h 59m\": UKG allows its change feed 8 calls a day, at least 3 hours apart"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = 3")
        }));
        assert!(
            e.contains("tenant acme: changes_every: expected a duration such as \"3h\""),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = \"2d\"")
        }));
        assert!(
            e.contains("tenant acme: changes_every: expected at most 24h, got \"2days\""),
            "{e}"
        );
    }

    #[test]
    fn service_values_are_checked() {
        let e = parse_err("[service]\ndata_dir = \"/d\"\nlisten = \"localhost:8080\"\n");
        assert!(
            e.contains("service.listen: expected an IP address and port such as \"127.0.0.1:8080\""),
            "{e}"
        );
        let e = parse_err("[service]\ndata_dir = \"/d\"\nlog_format = \"yaml\"\n");
        assert!(
            e.contains("service.log_format: expected \"text\" or \"json\", got \"yaml\""),
            "{e}"
        );
        let e = parse_err("[service]\ndata_dir = \"~/hrsync\"\n");
        assert!(e.contains("service.data_dir: '~' is not expanded"), "{e}");
        let e = parse_err("[service]\ndata_dir = 3\n");
        assert!(
            e.contains("service.data_dir: expected a directory path such as \"/var/lib/hrsync\", got 3"),
            "{e}"
        );
    }

    #[test]
    fn urls_are_checked_and_named() {
        let cases = [
            ("ftp://service4.ultipro.com", "tenant acme: ukg.base_url: expected an https:// URL such as \"https://service4.ultipro.com\", got \"ftp://service4.ultipro.com\""),
            ("service4.ultipro.com", "tenant acme: ukg.base_url: expected an https:// URL"),
            ("https://", "tenant acme: ukg.base_url: expected an https:// URL"),
            ("", "tenant acme: ukg.base_url: expected an https:// URL such as \"https://service4.ultipro.com\", got an empty string"),
        ];
        for (url, expected) in cases {
            let e = parse_err(&with_tenant(|t| t.replace("https://service4.ultipro.com", url)));
            assert!(e.contains(expected), "{url}: {e}");
        }
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "https://service4.ultipro.com",
                &format!("https://svc:{CANARY}@service4.ultipro.com"),
            )
        }));
        assert!(
            e.contains("tenant acme: ukg.base_url: a user name or password in the URL is not accepted"),
            "{e}"
        );
        let e = parse_err(&with_tenant(|t| {
            t.replace(
                "https://app.example.com/scim/v2",
                &format!("https://app.example.com/scim/v2?token={CANARY}"),
            )
        }));
        assert!(
            e.contains("tenant acme: scim.base_url: a query string or fragment is not accepted"),
            "{e}"
        );
    }

    #[test]
    fn ukg_url_is_reduced_to_https_host() {
        let (url, notices) = normalize_ukg_url("http://servicet.ultipro.com/services/EmployeePerson").unwrap();
        assert_eq!(url, "https://servicet.ultipro.com");
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(
            notices[0].contains("upgraded http://servicet.ultipro.com to https://servicet.ultipro.com"),
            "{notices:?}"
        );
        assert!(
            notices[1].contains("dropped path /services/EmployeePerson"),
            "{notices:?}"
        );

        assert_eq!(
            normalize_ukg_url("https://service4.ultipro.com").unwrap(),
            ("https://service4.ultipro.com".to_string(), vec![])
        );
        assert_eq!(
            normalize_ukg_url(" https://Service4.UltiPro.com/ ").unwrap().0,
            "https://service4.ultipro.com"
        );
        assert_eq!(
            normalize_ukg_url("https://service4.ultipro.com:8443/x").unwrap().0,
            "https://service4.ultipro.com:8443"
        );
        assert_eq!(
            normalize_ukg_url("https://service4.ultipro.com/?a=1").unwrap().1.len(),
            1
        );
        // Loopback keeps http (simulators, tests).
        for raw in [
            "http://127.0.0.1:3000",
            "http://localhost:3000/",
            "http://[::1]:3000",
            "http://127.1.2.3",
        ] {
            let (url, notices) = normalize_ukg_url(raw).unwrap();
            assert!(url.starts_with("http://"), "{raw} -> {url}");
            assert!(notices.is_empty(), "{raw}: {notices:?}");
        }
        assert_eq!(
            normalize_ukg_url("http://127.0.0.1:3000/").unwrap().0,
            "http://127.0.0.1:3000"
        );
    }

    #[test]
    fn scim_url_keeps_its_path() {
        assert_eq!(
            normalize_scim_url("https://app.example.com/scim/v2/").unwrap(),
            ("https://app.example.com/scim/v2".to_string(), vec![])
        );
        let (url, notices) = normalize_scim_url("http://app.example.com/scim/v2").unwrap();
        assert_eq!(url, "https://app.example.com/scim/v2");
        assert_eq!(notices, vec!["upgraded http://app.example.com to https://app.example.com: plain http is only used towards loopback hosts"]);
        let (url, notices) = normalize_scim_url("http://127.0.0.1:9000/acme/v2/").unwrap();
        assert_eq!((url.as_str(), notices.len()), ("http://127.0.0.1:9000/acme/v2", 0));
        let (url, notices) = normalize_scim_url("https://app.example.com/scim/v2/Users").unwrap();
        assert_eq!(url, "https://app.example.com/scim/v2");
        assert!(notices[0].contains("dropped /Users"), "{notices:?}");
        assert_eq!(
            normalize_scim_url("https://app.example.com").unwrap().0,
            "https://app.example.com"
        );
    }

    #[test]
    fn url_notices_reach_settings_with_file_and_key() {
        let s = parse_ok(&with_tenant(|t| {
            t.replace("https://service4.ultipro.com", "http://servicet.ultipro.com/services/x")
        }));
        assert_eq!(s.tenants[0].ukg.base_url, "https://servicet.ultipro.com");
        assert_eq!(s.notices.len(), 2, "{:?}", s.notices);
        assert!(
            s.notices[0].starts_with(
                "config/hrsync.toml: tenant acme: ukg.base_url: upgraded http://servicet.ultipro.com to https://"
            ),
            "{:?}",
            s.notices
        );
        assert!(
            s.notices[1].starts_with("config/hrsync.toml: tenant acme: ukg.base_url: dropped path /services/x"),
            "{:?}",
            s.notices
        );
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "example.com",
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "localhost.example.com",
            "128.0.0.1",
            "[::2]",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn load_reports_an_unreadable_file() {
        let missing = Path::new("/nonexistent/hrsync.toml");
        let e = load(missing).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read config file /nonexistent/hrsync.toml: No such file or directory"),
            "{e}"
        );
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hrsync.toml");
        std::fs::write(&path, "[service]\ndata_dir = \"data\"\n").unwrap();
        let s = load(&path).unwrap();
        assert_eq!(s.service.data_dir, dir.path().join("data"));
        assert_eq!(s.path, path);
    }

    /// Every config file shipped in `config/` parses (any variable it names is "set").
    #[test]
    fn shipped_config_files_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                if let Err(e) = parse(&text, &path, &env) {
                    panic!("{e}");
                }
                seen += 1;
            }
        }
        assert!(seen >= 1, "no *.toml in {}", dir.display());
        let example = parse(
            &std::fs::read_to_string(dir.join("hrsync.example.toml")).unwrap(),
            &dir.join("hrsync.example.toml"),
            &env,
        )
        .unwrap();
        let ids: Vec<&str> = example.tenants.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["acme", "globex", "initech"]);
        assert!(
            matches!(&example.tenants[2].target, TargetSpec::File(f) if f.sftp.is_some() && f.directory.is_some()),
            "the example shows a file tenant with both deliveries"
        );
        assert!(example.smtp.is_some());
        assert!(
            example.notices.is_empty(),
            "the example should need no notice: {:?}",
            example.notices
        );
    }

    #[test]
    fn tenant_mappings_are_parsed_and_checked() {
        let base = with_tenant(|t| t.to_string());
        let add = |extra: &str| base.replace("[tenants.ukg]", &format!("{extra}\n[tenants.ukg]"));
        let s = parse(
            &add("[tenants.mapping]\nactive_statuses = [\"A\", \"L\"]\n[tenants.mapping.attributes]\ntitle = \"first_non_empty(jobDescription, jobTitle)\"\n\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\" = \"{orgLevel3Code}\"\n"),
            Path::new("config/hrsync.toml"),
            &env,
        )
        .unwrap();
        let m = &s.tenants[0].mapping;
        assert_eq!(
            m.active_statuses.as_deref(),
            Some(&["A".to_string(), "L".to_string()][..])
        );
        assert_eq!(m.attributes.len(), 2);
        let e = parse_err(&add("[tenants.mapping.attributes]\ntitle = \"{ssn}\"\n"));
        assert!(
            e.contains("tenant acme: mapping.attributes.\"title\"") && e.contains("sensitive"),
            "{e}"
        );
        let e = parse_err(&add(
            "[tenants.mapping.attributes]\nexternalId = \"{employeeNumber}\"\n",
        ));
        assert!(e.contains("set by hrsync"), "{e}");
        let e = parse_err(&add("[tenants.mapping.attributes]\ntitle = \"lowercase(jobTitle\"\n"));
        assert!(e.contains("expected ',' or ')'"), "{e}");
        let e = parse_err(&add("[tenants.mapping]\nactive_statuses = \"A\"\n"));
        assert!(
            e.contains("active_statuses") && e.contains("a list of UKG status codes"),
            "{e}"
        );
    }

    /// TENANT with a user file instead of the SCIM app.
    fn with_file(file: &str) -> String {
        with_tenant(|t| {
            t.replace(
                "[tenants.scim]\nbase_url = \"https://app.example.com/scim/v2\"\ntoken_env = \"ACME_SCIM_TOKEN\"\n",
                file,
            )
        })
    }

    fn file_spec(s: &Settings) -> &FileSpec {
        match &s.tenants[0].target {
            TargetSpec::File(f) => f,
            TargetSpec::Scim(_) => panic!("a file tenant expected"),
        }
    }

    #[test]
    fn a_file_target_gets_betterworks_defaults() {
        let s = parse_ok(&with_file("[tenants.file]\ndirectory = \"out/acme\"\n"));
        let f = file_spec(&s);
        assert_eq!(f.format, FileFormat::Csv);
        assert_eq!(f.date_format, "%m/%d/%Y");
        assert_eq!(f.columns, user_file::default_columns());
        let names: Vec<&str> = f.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "email",
                "first_name",
                "last_name",
                "employee_id",
                "title",
                "department",
                "manager_email",
                "location",
                "deactivation_date"
            ]
        );
        assert_eq!(
            f.directory.as_deref(),
            Some(Path::new("config/out/acme")),
            "relative to the file"
        );
        assert_eq!(f.keep, 30);
        assert!(f.sftp.is_none());
    }

    #[test]
    fn a_file_target_with_columns_json_and_sftp() {
        let s = parse_ok(&with_file(
            r#"[tenants.file]
format = "json"
date_format = "%Y-%m-%d"
keep = 7
columns = [
  { name = "Email", value = "lowercase(email)" },
  { name = "Name", value = "{first_name} {last_name}" },
  { name = "Company", value = "Acme" },
]
sftp = { host = "sftp.example.com", port = 2222, username = "acme", password_env = "ACME_SFTP_PASSWORD", remote_dir = "/inbound", known_hosts = "/etc/hrsync/known_hosts" }
"#,
        ));
        let f = file_spec(&s);
        assert_eq!(
            (f.format, f.date_format.as_str(), f.keep),
            (FileFormat::JsonLines, "%Y-%m-%d", 7)
        );
        assert_eq!(f.columns.len(), 3);
        assert_eq!(f.columns[2].value, Expr::parse("Acme").unwrap());
        assert!(f.directory.is_none());
        let sftp = f.sftp.as_ref().unwrap();
        assert_eq!(
            (sftp.host.as_str(), sftp.port, sftp.username.as_str()),
            ("sftp.example.com", 2222, "acme")
        );
        assert_eq!(sftp.remote_dir, "/inbound");
        assert_eq!(sftp.known_hosts, Path::new("/etc/hrsync/known_hosts"));
        assert_eq!(sftp.timeout, Duration::from_secs(60));
        match &sftp.auth {
            SftpAuth::Password(p) => assert_eq!(p.expose_secret(), "value-of-ACME_SFTP_PASSWORD"),
            SftpAuth::Key(_) => panic!("a password expected"),
        }
        // A key from a file; Debug never shows it.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), format!("{CANARY}\n")).unwrap();
        let text = with_file(
            "[tenants.file]\nsftp = { host = \"10.0.0.5\", username = \"u\", key_file = \"key\", known_hosts = \"kh\" }\n",
        );
        let s = parse(&text, &dir.path().join("hrsync.toml"), &env).unwrap();
        let sftp = file_spec(&s).sftp.as_ref().unwrap();
        assert_eq!((sftp.port, sftp.remote_dir.as_str()), (22, "."));
        assert_eq!(sftp.known_hosts, dir.path().join("kh"));
        assert!(matches!(&sftp.auth, SftpAuth::Key(k) if k.expose_secret() == CANARY));
        assert!(!format!("{s:?}").contains(CANARY), "Debug shows no key");
    }

    #[test]
    fn file_target_errors_name_the_key() {
        let scim = "[tenants.scim]\nbase_url = \"https://app.example.com/scim/v2\"\ntoken_env = \"ACME_SCIM_TOKEN\"\n";
        let e = parse_err(&with_file(&format!("{scim}[tenants.file]\ndirectory = \"out\"\n")));
        assert!(
            e.contains("tenant acme: has both [tenants.scim] and [tenants.file]"),
            "{e}"
        );
        let e = parse_err(&with_file(""));
        assert!(
            e.contains("tenant acme: scim: missing; add a [tenants.scim] table") && e.contains("[tenants.file]"),
            "{e}"
        );
        let cases = [
            ("keep = 3\n", "tenant acme: file: no destination; set directory"),
            ("directory = \"out\"\nformat = \"xml\"\n", "tenant acme: file.format: expected \"csv\" or \"json\""),
            ("directory = \"out\"\ndate_format = \"mm/dd/yyyy\"\n", "tenant acme: file.date_format: \"mm/dd/yyyy\" has no date fields"),
            ("directory = \"out\"\ndate_format = \"%m/%d/%Y %H:%M\"\n", "tenant acme: file.date_format: "),
            ("directory = \"out\"\nkeep = 0\n", "tenant acme: file.keep: expected an integer 1..=100000, got 0"),
            ("directory = \"out\"\ncolumns = []\n", "tenant acme: file.columns: must not be empty"),
            ("directory = \"out\"\ncolumns = \"email\"\n", "tenant acme: file.columns: expected an array of tables"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", value = \"{emial}\" }]\n", "tenant acme: file.columns[0].value: emial is not a field of the user file's rows"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", value = \"email\" }]\n", "tenant acme: file.columns[0].value: \"email\" is a constant; to read the field write \"{email}\""),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", value = \"{email}\" }, { name = \"e\", value = \"{title}\" }]\n", "tenant acme: file.columns[1].name: \"e\" is also the name of columns[0]"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", valeu = \"{email}\" }]\n", "tenant acme: file.columns[0]: unknown key \"valeu\"; expected name, value"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\" }]\n", "tenant acme: file.columns[0].value: missing; expected an expression"),
            ("directory = \"out\"\ncolumns = [{ name = \"cc\", value = \"{ssn}\" }]\n", "tenant acme: file.columns[0].value: ssn is not a field"),
            ("sftp = { host = \"sftp.example.com\", username = \"u\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp: missing key_file or key_env"),
            ("sftp = { host = \"sftp.example.com\", username = \"u\", key_env = \"K\", password_env = \"P\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp: both a key and a password are set"),
            ("sftp = { host = \"sftp://x\", username = \"u\", key_env = \"K\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp.host: expected a host name or IP address"),
            ("sftp = { host = \"x.example\", username = \"u\", key_env = \"K\" }\n", "tenant acme: file.sftp.known_hosts: missing; expected the path of an OpenSSH known_hosts file"),
            ("sftp = { host = \"x.example\", port = 0, username = \"u\", key_env = \"K\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp.port: expected an integer 1..=65535, got 0"),
        ];
        for (file, expected) in cases {
            let e = parse_err(&with_file(&format!("[tenants.file]\n{file}")));
            assert!(e.contains(expected), "{file}: {e}");
        }
        // Inline secrets are refused without being echoed, and not offered as keys.
        let e = parse_err(&with_file(&format!(
            "[tenants.file]\nsftp = {{ host = \"x.example\", username = \"u\", key = \"{CANARY}\", known_hosts = \"kh\" }}\n"
        )));
        assert!(
            e.contains("tenant acme: file.sftp.key: secrets are not accepted inline; set key_env"),
            "{e}"
        );
        let e = parse_err(&with_file(&format!(
            "[tenants.file]\nsftp = {{ host = \"x.example\", username = \"u\", password = \"{CANARY}\", known_hosts = \"kh\" }}\n"
        )));
        assert!(
            e.contains("tenant acme: file.sftp.password: secrets are not accepted inline"),
            "{e}"
        );
        let e = parse_err(&with_file(
            "[tenants.file]\ndirectory = \"out\"\nsftp = { hots = \"x\" }\n",
        ));
        assert!(
            e.contains("tenants[0].file.sftp: unknown key \"hots\" (did you mean \"host\"?)") && !e.contains(" key,"),
            "{e}"
        );
        // A mapped attribute can be a column.
        let s = parse_ok(&with_file("[tenants.file]\ndirectory = \"out\"\ncolumns = [{ name = \"cost_center\", value = \"{costCenter}\" }]\n").replace(
            "[tenants.ukg]",
            "[tenants.mapping.attributes]\n\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\" = \"{orgLevel3Code}\"\n[tenants.ukg]",
        ));
        assert_eq!(file_spec(&s).columns[0].name, "cost_center");
    }

    #[test]
    fn shards_split_tenants_exactly_once() {
        let tenants: Vec<String> = (0..500).map(|i| format!("tenant-{i}")).collect();
        for n in [1u32, 2, 3, 7] {
            let shards: Vec<Shard> = (0..n).map(|i| format!("{i}/{n}").parse().unwrap()).collect();
            for t in &tenants {
                assert_eq!(
                    shards.iter().filter(|s| s.owns(t)).count(),
                    1,
                    "{t} in exactly one of {n}"
                );
            }
            let biggest = shards
                .iter()
                .map(|s| tenants.iter().filter(|t| s.owns(t)).count())
                .max()
                .unwrap();
            assert!(biggest < 500 / n as usize + 60, "{n} shards are balanced: {biggest}");
        }
        assert_eq!(shard_of("acme", 3), shard_of("acme", 3), "stable");
        assert!("3/3".parse::<Shard>().is_err() && "x".parse::<Shard>().is_err() && "0/0".parse::<Shard>().is_err());
        let e = parse_err(&with_tenant(str::to_string).replacen("[service]\n", "[service]\nshard = \"4/2\"\n", 1));
        assert!(e.contains("service.shard") && e.contains("I/N"), "{e}");
    }
}
