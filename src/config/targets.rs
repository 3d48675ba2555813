//! A tenant's source and target tables: `[tenants.ukg]`, `[tenants.scim]` and
//! `[tenants.file]` (with its columns and optional SFTP upload).

use hrsync_actors::expr::Expr;
use hrsync_actors::sftp::{SftpAuth, SftpSpec};
use hrsync_actors::spec::{FileSpec, MappingSpec, ScimSpec, UkgSpec};
use hrsync_actors::user_file::{self, Column, FileFormat};
use toml::Value;

use super::raw::{RawScim, RawSftp, RawUkg, RawUserFile};
use super::secrets::SecretKeys;
use super::urls::{is_host, normalize_scim_url, normalize_ukg_url};
use super::validate::{
    describe, Ctx, DEFAULT_FILE_KEEP, DEFAULT_SCIM_CONCURRENCY, DEFAULT_SCIM_RPS, DEFAULT_SCIM_TIMEOUT,
    DEFAULT_SFTP_TIMEOUT, DEFAULT_UKG_PAGE_SIZE, DEFAULT_UKG_RPS, DEFAULT_UKG_TIMEOUT, MAX_TIMEOUT, MIN_TIMEOUT,
};
use super::ConfigError;

impl Ctx<'_> {
    pub(super) fn ukg(&self, t: &str, raw: &RawUkg, notices: &mut Vec<String>) -> Result<UkgSpec, ConfigError> {
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

    pub(super) fn scim(&self, t: &str, raw: &RawScim, notices: &mut Vec<String>) -> Result<ScimSpec, ConfigError> {
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
    pub(super) fn user_file(&self, t: &str, raw: &RawUserFile, mapping: &MappingSpec) -> Result<FileSpec, ConfigError> {
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
    pub(super) fn columns(&self, key: &str, v: &Value, mapping: &MappingSpec) -> Result<Vec<Column>, ConfigError> {
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
                self.string_value(table.get("name"), &name_key, "the column's header, e.g. \"email\"")?,
                &name_key,
                "the column's header, e.g. \"email\"",
            )?;
            let value_key = format!("{k}.value");
            let src = self.required(
                self.string_value(table.get("value"), &value_key, "an expression such as \"{email}\"")?,
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
    pub(super) fn sftp(&self, t: &str, raw: &RawSftp) -> Result<SftpSpec, ConfigError> {
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
}
