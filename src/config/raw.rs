//! The config file as written: serde structs mirroring its tables, with unknown keys refused
//! (`deny_unknown_fields`, reported with line:column by [`super::errors`]), and each leaf
//! typed: [`Text`], [`Int`], [`Flag`], [`Dur`] (humantime), [`Refused`] (an inline secret).
//!
//! A leaf of the wrong type is not a serde error: it is kept as written ([`Leaf::raw`], with
//! [`Leaf::typed`] `None`) and the validation layer refuses it with our own message, naming
//! the key and what is expected. So a tenant whose value has the wrong type is set aside on its
//! own (`Settings.misconfigured`) instead of stopping the start, as a serde error would, and
//! no serde message ever echoes a value. Lists of tables checked entry by entry (scope rules,
//! file columns, status codes) stay `toml::Value`, read by hand for messages naming the entry.
//! No `Debug`: these hold whatever the user typed.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use toml::Value;

/// A leaf as written, with its value when it has the type its key expects.
pub(super) struct Leaf<T> {
    typed: Option<T>,
    raw: Value,
}

impl<T> Leaf<T> {
    /// The value, when it has the expected type.
    pub(super) fn typed(&self) -> Option<&T> {
        self.typed.as_ref()
    }

    /// The value as written (for "got ..." in a message; never for a secret-bearing key).
    pub(super) fn raw(&self) -> &Value {
        &self.raw
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Leaf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        let typed = T::deserialize(raw.clone()).ok();
        Ok(Leaf { typed, raw })
    }
}

/// A string leaf.
pub(super) type Text = Leaf<String>;
/// An integer leaf (ranges are checked by the validation layer).
pub(super) type Int = Leaf<i64>;
/// A boolean leaf.
pub(super) type Flag = Leaf<bool>;
/// A duration leaf: a humantime string such as "30s" or "6h 30m".
pub(super) type Dur = Leaf<Humantime>;

/// A duration written in humantime syntax ("30s", "6h 30m", "1d"); blanks around it ignored.
pub(super) struct Humantime(pub(super) Duration);

impl<'de> Deserialize<'de> for Humantime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(Humantime)
            .map_err(serde::de::Error::custom)
    }
}

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
    pub(super) data_dir: Option<Text>,
    pub(super) listen: Option<Text>,
    pub(super) log_format: Option<Text>,
    pub(super) retry_attempts: Option<Int>,
    pub(super) retry_base_delay: Option<Dur>,
    pub(super) retry_max_delay: Option<Dur>,
    pub(super) admin_token: Option<Refused>,
    pub(super) admin_token_env: Option<Text>,
    pub(super) admin_token_file: Option<Text>,
    pub(super) max_concurrent_runs: Option<Int>,
    pub(super) start_spread: Option<Dur>,
    pub(super) shard: Option<Text>,
    pub(super) max_connections: Option<Int>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawSmtp {
    pub(super) host: Option<Text>,
    pub(super) port: Option<Int>,
    pub(super) tls: Option<Text>,
    pub(super) from: Option<Text>,
    pub(super) username: Option<Text>,
    pub(super) password: Option<Refused>,
    pub(super) password_env: Option<Text>,
    pub(super) password_file: Option<Text>,
    pub(super) timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawTenant {
    pub(super) id: Option<Text>,
    pub(super) schedule: Option<Dur>,
    pub(super) technical_contact: Option<Text>,
    pub(super) quarantine_after: Option<Int>,
    pub(super) timezone: Option<Text>,
    pub(super) max_deactivation_percent: Option<Int>,
    pub(super) max_deactivations: Option<Int>,
    pub(super) min_roster_percent: Option<Int>,
    pub(super) first_run_review: Option<Flag>,
    pub(super) changes_every: Option<Dur>,
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
    pub(super) out_of_scope: Option<Text>,
    pub(super) include: Option<Value>,
    pub(super) exclude: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawUkg {
    pub(super) base_url: Option<Text>,
    pub(super) username: Option<Text>,
    pub(super) password: Option<Refused>,
    pub(super) password_env: Option<Text>,
    pub(super) password_file: Option<Text>,
    pub(super) api_key: Option<Refused>,
    pub(super) api_key_env: Option<Text>,
    pub(super) api_key_file: Option<Text>,
    pub(super) user_api_key: Option<Refused>,
    pub(super) user_api_key_env: Option<Text>,
    pub(super) user_api_key_file: Option<Text>,
    pub(super) page_size: Option<Int>,
    pub(super) requests_per_second: Option<Int>,
    pub(super) burst: Option<Int>,
    pub(super) department_org_level: Option<Int>,
    pub(super) timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawScim {
    pub(super) base_url: Option<Text>,
    pub(super) token: Option<Refused>,
    pub(super) token_env: Option<Text>,
    pub(super) token_file: Option<Text>,
    pub(super) requests_per_second: Option<Int>,
    pub(super) burst: Option<Int>,
    pub(super) concurrency: Option<Int>,
    pub(super) timeout: Option<Dur>,
}

/// `[tenants.file]`: the user file, for apps without SCIM.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawUserFile {
    pub(super) format: Option<Text>,
    pub(super) date_format: Option<Text>,
    /// An array of `{ name, value }` tables, checked by hand (for messages naming the column).
    pub(super) columns: Option<Value>,
    pub(super) directory: Option<Text>,
    pub(super) keep: Option<Int>,
    pub(super) sftp: Option<RawSftp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawSftp {
    pub(super) host: Option<Text>,
    pub(super) port: Option<Int>,
    pub(super) username: Option<Text>,
    pub(super) key: Option<Refused>,
    pub(super) key_env: Option<Text>,
    pub(super) key_file: Option<Text>,
    pub(super) password: Option<Refused>,
    pub(super) password_env: Option<Text>,
    pub(super) password_file: Option<Text>,
    pub(super) remote_dir: Option<Text>,
    pub(super) known_hosts: Option<Text>,
    pub(super) timeout: Option<Dur>,
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
