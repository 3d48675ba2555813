//! The `[service]` and `[smtp]` tables.

use std::net::SocketAddr;
use std::time::Duration;

use hrsync_actors::spec::{SmtpSpec, SmtpTls};
use hrsync_actors::upstream::RetryPolicy;

use super::raw::{RawService, RawSmtp};
use super::secrets::SecretKeys;
use super::urls::{is_host, is_loopback_host};
use super::validate::{Ctx, DEFAULT_LISTEN};
use super::{ConfigError, LogFormat, ServiceSettings, Shard};

impl Ctx<'_> {
    pub(super) fn service(&self, raw: &RawService) -> Result<ServiceSettings, ConfigError> {
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

    pub(super) fn smtp(&self, raw: &RawSmtp) -> Result<SmtpSpec, ConfigError> {
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
}
