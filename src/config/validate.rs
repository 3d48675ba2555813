//! The validation layer's shared pieces: the defaults, the context of one validation
//! ([`Ctx`]: the file's path for messages, its folder for relative paths, the environment for
//! secrets) and the typed readers of one leaf (string, integer in a range, boolean, duration,
//! email, path), each failing with a one-line message naming the key and what is expected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

use super::raw::{Dur, Flag, Humantime, Int, Leaf, Text};
use super::ConfigError;

// Defaults (documented in config/hrsync.example.toml; keep the two in step).
pub(super) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub(super) const DEFAULT_QUARANTINE_AFTER: i64 = 3;
pub(super) const DEFAULT_SCHEDULE: Duration = Duration::from_secs(24 * 3600);
pub(super) const MIN_SCHEDULE: Duration = Duration::from_secs(10);
pub(super) const MAX_SCHEDULE: Duration = Duration::from_secs(365 * 24 * 3600);
pub(super) const DEFAULT_UKG_PAGE_SIZE: i64 = 1000;
pub(super) const DEFAULT_UKG_RPS: i64 = 2;
pub(super) const DEFAULT_UKG_TIMEOUT: Duration = Duration::from_secs(120);
pub(super) const DEFAULT_SCIM_RPS: i64 = 10;
pub(super) const DEFAULT_SCIM_CONCURRENCY: i64 = 4;
pub(super) const DEFAULT_SCIM_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const DEFAULT_FILE_KEEP: i64 = 30;
pub(super) const DEFAULT_SFTP_TIMEOUT: Duration = Duration::from_secs(60);
/// UKG's rule for its change feed: at most 8 calls a day, at least 3 hours apart.
pub(super) const MIN_CHANGES_EVERY: Duration = Duration::from_secs(3 * 3600);
pub(super) const MAX_CHANGES_EVERY: Duration = Duration::from_secs(24 * 3600);
pub(super) const MIN_TIMEOUT: Duration = Duration::from_secs(1);
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The environment of one validation: where errors point, how paths and secrets resolve.
pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) base_dir: PathBuf,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    pub(super) fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    pub(super) fn notice(&self, key: &str, message: &str) -> String {
        format!("{}: {key}: {message}", self.path.display())
    }
    /// A string leaf, if present. Not for secret-related keys (the value is echoed on error).
    pub(super) fn string<'v>(
        &self,
        v: Option<&'v Text>,
        key: &str,
        expected: &str,
    ) -> Result<Option<&'v str>, ConfigError> {
        self.string_value(v.map(Leaf::raw), key, expected)
    }

    /// [`Ctx::string`] for a value read by hand from a table (scope rules, file columns).
    pub(super) fn string_value<'v>(
        &self,
        v: Option<&'v Value>,
        key: &str,
        expected: &str,
    ) -> Result<Option<&'v str>, ConfigError> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.err(key, format!("expected {expected}, got {}", describe(other)))),
        }
    }

    pub(super) fn required<T>(&self, v: Option<T>, key: &str, expected: &str) -> Result<T, ConfigError> {
        v.ok_or_else(|| self.err(key, format!("missing; expected {expected}")))
    }

    /// A boolean, if present.
    pub(super) fn boolean(&self, v: Option<&Flag>, key: &str) -> Result<Option<bool>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        match v.typed() {
            Some(b) => Ok(Some(*b)),
            None => Err(self.err(key, format!("expected true or false, got {}", describe(v.raw())))),
        }
    }

    /// An integer in `lo..=hi`, if present.
    pub(super) fn int(&self, v: Option<&Int>, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, ConfigError> {
        let expected = if hi >= i64::from(u32::MAX) {
            format!("an integer >= {lo}")
        } else {
            format!("an integer {lo}..={hi}")
        };
        let Some(v) = v else { return Ok(None) };
        match (v.typed(), v.raw()) {
            (Some(n), _) if (lo..=hi).contains(n) => Ok(Some(*n)),
            (None, Value::String(s)) if s.trim().parse::<i64>().is_ok() => Err(self.err(
                key,
                format!("expected {expected}, got {s:?} (a string; write the number without quotes)"),
            )),
            (_, raw) => Err(self.err(key, format!("expected {expected}, got {}", describe(raw)))),
        }
    }

    /// A humantime duration in `min..=max`, `default` when absent.
    pub(super) fn duration(
        &self,
        v: Option<&Dur>,
        key: &str,
        examples: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(v) = v else { return Ok(default) };
        let Value::String(s) = v.raw() else {
            return Err(self.err(
                key,
                format!(
                    "expected a duration such as {examples} (a quoted string), got {}",
                    describe(v.raw())
                ),
            ));
        };
        let Some(Humantime(d)) = v.typed() else {
            return Err(self.err(key, format!("expected a duration such as {examples}, got {s:?}")));
        };
        if *d < min || *d > max {
            return Err(self.err(
                key,
                format!(
                    "expected a duration from {} to {}, got {s:?}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            ));
        }
        Ok(*d)
    }

    /// A required email address.
    pub(super) fn email(&self, v: Option<&Text>, key: &str, example: &str) -> Result<String, ConfigError> {
        let expected = format!("an email address such as \"{example}\"");
        let s = self.required(self.string(v, key, &expected)?, key, &expected)?.trim();
        if !looks_like_email(s) {
            return Err(self.err(key, format!("expected {expected}, got {s:?}")));
        }
        Ok(s.to_string())
    }

    /// A path from the file: `~` is refused (it is not expanded), relative paths resolve
    /// against the config file's folder.
    pub(super) fn file_path(&self, raw: &str, key: &str) -> Result<PathBuf, ConfigError> {
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
}

/// An I/O error's reason without its OS code ("No such file or directory").
pub(super) fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// How a value is shown in "got ..." (only ever for non-secret keys).
pub(super) fn describe(v: &Value) -> String {
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
