//! Secrets are taken only by reference: `{name}_env` (an environment variable) or
//! `{name}_file` (a file, relative to the config file's folder). An inline `{name}` is refused,
//! and no message ever shows a value that might be the secret.

use secrecy::SecretString;

use super::raw::{Refused, Text};
use super::validate::{io_reason, is_env_name, Ctx};
use super::ConfigError;

/// The three ways a secret may be written (only two are accepted).
pub(super) struct SecretKeys<'r> {
    pub(super) inline: Option<&'r Refused>,
    pub(super) env: Option<&'r Text>,
    pub(super) file: Option<&'r Text>,
}

impl Ctx<'_> {
    /// [`Ctx::secret`] for a secret that must be given.
    pub(super) fn required_secret(
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
    pub(super) fn secret(
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
                let var = match v.typed() {
                    Some(var) if is_env_name(var) => var,
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
                let Some(raw) = v.typed() else {
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
