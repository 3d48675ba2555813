//! SFTP upload of the user file (pure Rust: `russh` + `russh-sftp`, aws-lc-rs crypto).
//!
//! The server's host key must be listed in the tenant's `known_hosts` file (OpenSSH format,
//! `[host]:port` for a port other than 22, hashed entries accepted): an unknown host or a
//! different key is refused before any credential is sent and before anything is written.
//! Only the host key algorithms recorded for the host are offered, as OpenSSH does, so a
//! server with several keys proves itself with the one we know.
//!
//! Upload: the file is written to `.{name}.tmp` in `remote_dir`, fsynced (when the server
//! offers `fsync@openssh.com`), closed, then renamed to its final name; a connection lost
//! half-way leaves at most the temporary file, never a partial file under the final name.
//! SFTP v3 cannot rename over an existing file: when the final name exists (the same run
//! uploaded again after a crash) it is removed first.
//!
//! Secrets: the password and the private key are held as `SecretString` and exposed only to
//! the SSH library; no error or `Debug` print carries them.

use std::borrow::Cow;
use std::sync::Arc;

use russh::client;
use russh::keys::{Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;

pub use crate::spec::{SftpAuth, SftpSpec};
use secrecy::ExposeSecret;
use tokio::io::AsyncWriteExt;

/// Why an upload (or a check) failed. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("SFTP server {server} unreachable: {detail}; check file.sftp.host and port, and that the server is reachable from this machine")]
    Unreachable { server: String, detail: String },
    #[error("cannot use known_hosts {path}: {detail}; set file.sftp.known_hosts to a file listing the server's host key (e.g. the output of ssh-keyscan -p PORT HOST, checked with the server's administrator)")]
    KnownHosts { path: String, detail: String },
    #[error("SFTP server {server} is not listed in known_hosts {path} (as {entry}); refused, nothing was uploaded. Add its host key line there (e.g. ssh-keyscan -p {port} {host}) after checking the fingerprint with the server's administrator")]
    UnknownHost {
        server: String,
        path: String,
        entry: String,
        host: String,
        port: u16,
    },
    #[error("SFTP server {server} presented the host key {fingerprint} ({algorithm}), which does not match known_hosts {path}; refused, nothing was uploaded. If the server's key really changed, check the new fingerprint with its administrator, then replace the host's line in known_hosts (e.g. ssh-keyscan -p {port} {host})")]
    HostKeyMismatch {
        server: String,
        fingerprint: String,
        algorithm: String,
        path: String,
        host: String,
        port: u16,
    },
    #[error("the private key in file.sftp.key_file / key_env cannot be used: {0}; expected an unencrypted OpenSSH or PEM private key")]
    BadKey(String),
    #[error("SFTP server {server} refused the login of {username} with {method}; check file.sftp.username and the {method} (the public key must be in the account's authorized_keys)")]
    AuthRejected {
        server: String,
        username: String,
        method: &'static str,
    },
    #[error("SFTP server {server}: {detail}")]
    Protocol { server: String, detail: String },
    #[error("SFTP server {server}: cannot {action} {path}: {detail}")]
    Io {
        server: String,
        action: &'static str,
        path: String,
        detail: String,
    },
}

impl SftpError {
    /// Whether a person must act (retrying on schedule cannot help).
    pub fn needs_person(&self) -> bool {
        matches!(
            self,
            SftpError::KnownHosts { .. }
                | SftpError::UnknownHost { .. }
                | SftpError::HostKeyMismatch { .. }
                | SftpError::BadKey(_)
                | SftpError::AuthRejected { .. }
        )
    }
}

/// The SSH event handler: checks the server's host key against known_hosts.
struct HostKeyCheck {
    spec: SftpSpec,
    recorded: Vec<PublicKey>,
}

/// What the handler can fail with: the library's errors, or our refusal of the host key.
#[derive(Debug)]
enum HandlerError {
    Ssh(russh::Error),
    Refused(Box<SftpError>),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

impl client::Handler for HostKeyCheck {
    type Error = HandlerError;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandlerError::Refused(Box::new(SftpError::Protocol {
                    server: self.spec.server(),
                    detail: "the server presented a host certificate; hrsync checks plain host keys against known_hosts only".into(),
                })))
            }
        };
        if self.recorded.iter().any(|k| k.key_data() == key.key_data()) {
            return Ok(true);
        }
        Err(HandlerError::Refused(Box::new(SftpError::HostKeyMismatch {
            server: self.spec.server(),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            algorithm: key.algorithm().to_string(),
            path: self.spec.known_hosts.display().to_string(),
            host: self.spec.host.clone(),
            port: self.spec.port,
        })))
    }
}

/// The host keys known_hosts records for the server.
fn recorded_keys(spec: &SftpSpec) -> Result<Vec<PublicKey>, SftpError> {
    let path = spec.known_hosts.display().to_string();
    let err = |detail: String| SftpError::KnownHosts {
        path: path.clone(),
        detail,
    };
    std::fs::metadata(&spec.known_hosts).map_err(|e| err(e.to_string()))?;
    let keys = russh::keys::known_hosts::known_host_keys_path(&spec.host, spec.port, &spec.known_hosts)
        .map_err(|e| err(e.to_string()))?;
    if keys.is_empty() {
        let entry = if spec.port == 22 {
            spec.host.clone()
        } else {
            format!("[{}]:{}", spec.host, spec.port)
        };
        return Err(SftpError::UnknownHost {
            server: spec.server(),
            path,
            entry,
            host: spec.host.clone(),
            port: spec.port,
        });
    }
    Ok(keys.into_iter().map(|(_, k)| k).collect())
}

/// The host key algorithms to offer: russh's defaults, limited to the recorded keys' types
/// (an RSA key is offered with SHA-2 signatures).
fn host_key_algorithms(recorded: &[PublicKey]) -> Vec<Algorithm> {
    russh::Preferred::DEFAULT
        .key
        .iter()
        .filter(|a| {
            recorded.iter().any(|k| match (k.algorithm(), a) {
                (Algorithm::Rsa { .. }, Algorithm::Rsa { hash }) => hash.is_some(),
                (known, offered) => known == **offered,
            })
        })
        .cloned()
        .collect()
}

/// An authenticated SFTP session.
struct Connection {
    ssh: client::Handle<HostKeyCheck>,
    sftp: SftpSession,
    server: String,
}

async fn connect(spec: &SftpSpec) -> Result<Connection, SftpError> {
    let server = spec.server();
    let recorded = recorded_keys(spec)?;
    let config = client::Config {
        preferred: russh::Preferred {
            key: Cow::Owned(host_key_algorithms(&recorded)),
            ..Default::default()
        },
        inactivity_timeout: Some(spec.timeout),
        ..Default::default()
    };
    let handler = HostKeyCheck {
        spec: spec.clone(),
        recorded,
    };
    let connecting = client::connect(Arc::new(config), (spec.host.as_str(), spec.port), handler);
    let mut ssh = match tokio::time::timeout(spec.timeout, connecting).await {
        Err(_) => {
            return Err(SftpError::Unreachable {
                server,
                detail: format!("no answer within {}s", spec.timeout.as_secs()),
            })
        }
        Ok(Err(HandlerError::Refused(e))) => return Err(*e),
        Ok(Err(HandlerError::Ssh(e))) => {
            return Err(SftpError::Unreachable {
                server,
                detail: e.to_string(),
            })
        }
        Ok(Ok(ssh)) => ssh,
    };
    let protocol = |e: russh::Error| SftpError::Protocol {
        server: server.clone(),
        detail: e.to_string(),
    };
    let (result, method) = match &spec.auth {
        SftpAuth::Key(secret) => {
            let key = russh::keys::decode_secret_key(secret.expose_secret(), None)
                .map_err(|e| SftpError::BadKey(e.to_string()))?;
            let hash = ssh.best_supported_rsa_hash().await.map_err(protocol)?.flatten();
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            (
                ssh.authenticate_publickey(spec.username.clone(), key).await,
                "private key",
            )
        }
        SftpAuth::Password(secret) => (
            ssh.authenticate_password(spec.username.clone(), secret.expose_secret())
                .await,
            "password",
        ),
    };
    if !result.map_err(protocol)?.success() {
        return Err(SftpError::AuthRejected {
            server,
            username: spec.username.clone(),
            method,
        });
    }
    let channel = ssh.channel_open_session().await.map_err(protocol)?;
    channel.request_subsystem(true, "sftp").await.map_err(protocol)?;
    let sftp = SftpSession::new(channel.into_stream())
        .await
        .map_err(|e| SftpError::Protocol {
            server: server.clone(),
            detail: format!("the SFTP subsystem did not start: {e}"),
        })?;
    sftp.set_timeout(spec.timeout.as_secs().max(1));
    Ok(Connection { ssh, sftp, server })
}

impl Connection {
    fn io(&self, action: &'static str, path: &str, e: impl std::fmt::Display) -> SftpError {
        SftpError::Io {
            server: self.server.clone(),
            action,
            path: path.to_string(),
            detail: e.to_string(),
        }
    }

    async fn close(self) {
        let _ = self.sftp.close().await;
        let _ = self.ssh.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }
}

/// Uploads `bytes` as `name` in the remote folder: to a temporary name, then renamed.
/// Then removes (best effort) temporary files that earlier, interrupted uploads left:
/// hidden `*.tmp` files whose name starts with `.{stale_prefix}`. Returns the final path.
pub async fn upload(spec: &SftpSpec, name: &str, bytes: &[u8], stale_prefix: &str) -> Result<String, SftpError> {
    let conn = connect(spec).await?;
    let result = upload_on(&conn, spec, name, bytes).await;
    if result.is_ok() {
        remove_stale(&conn, spec, &format!(".{stale_prefix}")).await;
    }
    conn.close().await;
    result
}

async fn remove_stale(conn: &Connection, spec: &SftpSpec, prefix: &str) {
    let dir = if spec.remote_dir.is_empty() {
        "."
    } else {
        spec.remote_dir.as_str()
    };
    let Ok(entries) = conn.sftp.read_dir(dir.to_string()).await else {
        return;
    };
    for entry in entries {
        let name = entry.file_name();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = conn.sftp.remove_file(spec.remote_path(&name)).await;
        }
    }
}

async fn upload_on(conn: &Connection, spec: &SftpSpec, name: &str, bytes: &[u8]) -> Result<String, SftpError> {
    let path = spec.remote_path(name);
    let tmp = spec.remote_path(&format!(".{name}.tmp"));
    let mut file = conn
        .sftp
        .create(tmp.clone())
        .await
        .map_err(|e| conn.io("create", &tmp, e))?;
    file.write_all(bytes).await.map_err(|e| conn.io("write", &tmp, e))?;
    file.sync_all().await.map_err(|e| conn.io("fsync", &tmp, e))?;
    file.shutdown().await.map_err(|e| conn.io("close", &tmp, e))?;
    if let Err(first) = conn.sftp.rename(tmp.clone(), path.clone()).await {
        // SFTP v3 renames never replace: a file of the same run uploaded before is removed.
        if !conn.sftp.try_exists(path.clone()).await.unwrap_or(false) {
            return Err(conn.io("rename", &tmp, first));
        }
        conn.sftp
            .remove_file(path.clone())
            .await
            .map_err(|e| conn.io("replace", &path, e))?;
        conn.sftp
            .rename(tmp.clone(), path.clone())
            .await
            .map_err(|e| conn.io("rename", &tmp, e))?;
    }
    Ok(path)
}

/// `hrsync check`: connects (host key checked), logs in, and checks that `remote_dir` is a
/// folder; writes nothing. Returns a line for a person.
pub async fn probe(spec: &SftpSpec) -> Result<String, SftpError> {
    let conn = connect(spec).await?;
    let dir = if spec.remote_dir.is_empty() {
        "."
    } else {
        spec.remote_dir.as_str()
    };
    let result = match conn.sftp.metadata(dir.to_string()).await {
        Ok(m) if m.is_dir() => Ok(format!(
            "host key matches known_hosts, logged in as {}, {dir} is a folder",
            spec.username
        )),
        Ok(_) => Err(conn.io("use", dir, "it is not a folder; check file.sftp.remote_dir")),
        Err(e) => Err(conn.io("open", dir, format!("{e}; check file.sftp.remote_dir"))),
    };
    conn.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(remote_dir: &str) -> SftpSpec {
        SftpSpec {
            host: "sftp.example.com".into(),
            port: 2222,
            username: "u".into(),
            auth: SftpAuth::Password("CANARY-pw".into()),
            remote_dir: remote_dir.into(),
            known_hosts: "/nonexistent/known_hosts".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn remote_paths_and_debug_without_secrets() {
        assert_eq!(spec("/inbound/").remote_path("a.csv"), "/inbound/a.csv");
        assert_eq!(spec("inbound").remote_path("a.csv"), "inbound/a.csv");
        assert_eq!(spec(".").remote_path("a.csv"), "a.csv");
        assert_eq!(spec("").remote_path("a.csv"), "a.csv");
        assert_eq!(spec("/").remote_path("a.csv"), "/a.csv");
        assert!(!format!("{:?}", spec(".")).contains("CANARY"));
    }

    #[tokio::test]
    async fn a_missing_known_hosts_file_is_refused_before_connecting() {
        let e = upload(&spec("."), "a.csv", b"x", "a-").await.unwrap_err();
        assert!(matches!(e, SftpError::KnownHosts { .. }), "{e}");
        assert!(e.needs_person());
        assert!(e.to_string().contains("/nonexistent/known_hosts"), "{e}");
    }

    #[test]
    fn only_the_recorded_key_types_are_offered() {
        let ed =
            PublicKey::from_openssh("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAxdgn+rME2kwo7K9QWUuARmkF4rWPU7GrUAWkq1qAV6")
                .unwrap();
        assert_eq!(host_key_algorithms(&[ed]), vec![Algorithm::Ed25519]);
    }
}
