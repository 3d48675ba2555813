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
//!
//! Layout: `raw` mirrors the file (serde, unknown keys refused), `errors` turns TOML/serde
//! errors into `file:line:col: key: message`, and the validation layer turns the raw tables
//! into specs: `validate` (defaults, leaf readers), `secrets`, `urls`, `service`
//! (`[service]`, `[smtp]`), `tenant`, `scope`, `targets` (`ukg`, `scim`, `file`).

mod errors;
mod raw;
mod scope;
mod secrets;
mod service;
mod targets;
mod tenant;
#[cfg(test)]
mod tests;
mod urls;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use hrsync_actors::misconfigured::MisconfiguredTenant;
use hrsync_actors::spec::{SmtpSpec, TenantSpec};
use hrsync_actors::upstream::RetryPolicy;
use secrecy::SecretString;

use errors::toml_error;
use raw::RawFile;
pub use urls::{is_loopback_host, normalize_scim_url, normalize_ukg_url};
use validate::Ctx;
pub use validate::{is_env_name, is_tenant_id, looks_like_email};

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
        let valid_id =
            t.id.as_ref()
                .and_then(raw::Leaf::typed)
                .map(String::as_str)
                .filter(|id| is_tenant_id(id));
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
