//! The config file as written: serde structs mirroring its tables, with unknown keys refused
//! (`deny_unknown_fields`, reported with line:column by [`super::errors`]).
//!
//! Leaves stay `toml::Value` on purpose: a wrong type must get our own message (naming the key
//! and what is expected, never echoing a secret), and a tenant whose value has the wrong type
//! is set aside on its own (`Settings.misconfigured`) instead of stopping the start, which a
//! serde type error would do. The typing of each leaf is in [`super::validate`].

use serde::{Deserialize, Deserializer};
use toml::Value;

// The file as written. Every leaf is a `toml::Value` so that type errors get our own message
// (naming the key and what is expected) and secrets are never echoed by a serde message.
// No `Debug`: these hold whatever the user typed, inline secrets included.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawFile {
    pub(super) service: Option<RawService>,
    pub(super) smtp: Option<RawSmtp>,
    pub(super) tenants: Option<Vec<RawTenant>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawService {
    pub(super) data_dir: Option<Value>,
    pub(super) listen: Option<Value>,
    pub(super) log_format: Option<Value>,
    pub(super) retry_attempts: Option<Value>,
    pub(super) retry_base_delay: Option<Value>,
    pub(super) retry_max_delay: Option<Value>,
    pub(super) admin_token: Option<Refused>,
    pub(super) admin_token_env: Option<Value>,
    pub(super) admin_token_file: Option<Value>,
    pub(super) max_concurrent_runs: Option<Value>,
    pub(super) start_spread: Option<Value>,
    pub(super) shard: Option<Value>,
    pub(super) max_connections: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawSmtp {
    pub(super) host: Option<Value>,
    pub(super) port: Option<Value>,
    pub(super) tls: Option<Value>,
    pub(super) from: Option<Value>,
    pub(super) username: Option<Value>,
    pub(super) password: Option<Refused>,
    pub(super) password_env: Option<Value>,
    pub(super) password_file: Option<Value>,
    pub(super) timeout: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawTenant {
    pub(super) id: Option<Value>,
    pub(super) schedule: Option<Value>,
    pub(super) technical_contact: Option<Value>,
    pub(super) quarantine_after: Option<Value>,
    pub(super) timezone: Option<Value>,
    pub(super) max_deactivation_percent: Option<Value>,
    pub(super) max_deactivations: Option<Value>,
    pub(super) min_roster_percent: Option<Value>,
    pub(super) first_run_review: Option<Value>,
    pub(super) changes_every: Option<Value>,
    pub(super) mapping: Option<RawMapping>,
    pub(super) scope: Option<RawScope>,
    pub(super) ukg: Option<RawUkg>,
    pub(super) scim: Option<RawScim>,
    pub(super) file: Option<RawUserFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawMapping {
    pub(super) active_statuses: Option<Value>,
    pub(super) attributes: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawScope {
    pub(super) out_of_scope: Option<Value>,
    pub(super) include: Option<Value>,
    pub(super) exclude: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawUkg {
    pub(super) base_url: Option<Value>,
    pub(super) username: Option<Value>,
    pub(super) password: Option<Refused>,
    pub(super) password_env: Option<Value>,
    pub(super) password_file: Option<Value>,
    pub(super) api_key: Option<Refused>,
    pub(super) api_key_env: Option<Value>,
    pub(super) api_key_file: Option<Value>,
    pub(super) user_api_key: Option<Refused>,
    pub(super) user_api_key_env: Option<Value>,
    pub(super) user_api_key_file: Option<Value>,
    pub(super) page_size: Option<Value>,
    pub(super) requests_per_second: Option<Value>,
    pub(super) burst: Option<Value>,
    pub(super) department_org_level: Option<Value>,
    pub(super) timeout: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawScim {
    pub(super) base_url: Option<Value>,
    pub(super) token: Option<Refused>,
    pub(super) token_env: Option<Value>,
    pub(super) token_file: Option<Value>,
    pub(super) requests_per_second: Option<Value>,
    pub(super) burst: Option<Value>,
    pub(super) concurrency: Option<Value>,
    pub(super) timeout: Option<Value>,
}

/// `[tenants.file]`: the user file, for apps without SCIM.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawUserFile {
    pub(super) format: Option<Value>,
    pub(super) date_format: Option<Value>,
    /// An array of `{ name, value }` tables, checked by hand (for messages naming the column).
    pub(super) columns: Option<Value>,
    pub(super) directory: Option<Value>,
    pub(super) keep: Option<Value>,
    pub(super) sftp: Option<RawSftp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawSftp {
    pub(super) host: Option<Value>,
    pub(super) port: Option<Value>,
    pub(super) username: Option<Value>,
    pub(super) key: Option<Refused>,
    pub(super) key_env: Option<Value>,
    pub(super) key_file: Option<Value>,
    pub(super) password: Option<Refused>,
    pub(super) password_env: Option<Value>,
    pub(super) password_file: Option<Value>,
    pub(super) remote_dir: Option<Value>,
    pub(super) known_hosts: Option<Value>,
    pub(super) timeout: Option<Value>,
}

/// Keys that would hold a secret inline: accepted by the structs only to be refused, so they
/// are left out of "expected one of" lists.
pub(super) const INLINE_SECRET_KEYS: [&str; 5] = ["password", "api_key", "user_api_key", "token", "key"];

/// The value of an inline secret key (`password = "..."`): accepted by the structs only to be
/// refused (see `secrets`), and dropped while parsing, so it is never held, printed or echoed.
pub(super) struct Refused;

impl<'de> Deserialize<'de> for Refused {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Refused)
    }
}
