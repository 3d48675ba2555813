//! Sends email through SMTP with lettre (rustls). Used by the notifier (and `hrsync check`).
//!
//! Every exchange with the server — connecting, its greeting, STARTTLS/TLS, AUTH, the whole
//! send — is bounded by one deadline (`smtp.timeout`): lettre's own timeout covers single
//! reads and writes but not a server that accepts the connection and never greets. Once
//! [`Mailer::stop_sending`] was called (the service is stopping), a send gets at most
//! [`STOP_GRACE`], so a hung server cannot hold the shutdown. A failed send is an error
//! like any other: the notifier keeps the email queued and retries it. Error details are
//! cleaned ([`crate::sanitize`]): never the password, never the server's raw bytes.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::sanitize::Redactor;
use crate::spec::{SmtpSpec, SmtpTls};

/// Once the service is stopping, the longest a send may still take.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid email address {0:?}")]
    Address(String),
    #[error("cannot build the email: {0}")]
    Build(String),
    #[error("SMTP server {host}:{port} did not accept the email: {detail}")]
    Smtp { host: String, port: u16, detail: String },
    /// No complete exchange within `smtp.timeout` (e.g. a server that never greets).
    #[error("SMTP server {host}:{port} did not answer within {secs} s (smtp.timeout); the email stays queued")]
    Timeout { host: String, port: u16, secs: u64 },
    /// The service is stopping and the server was too slow to finish the send.
    #[error("SMTP server {host}:{port} did not finish before the service stopped; the email stays queued")]
    Stopping { host: String, port: u16 },
}

/// An SMTP sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    timeout: Duration,
    redactor: Redactor,
    /// Set when the service is stopping.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Mailer {
    pub fn new(spec: &SmtpSpec) -> Result<Mailer, MailError> {
        let redactor = Redactor::new(spec.password.clone());
        let smtp_err = |e: lettre::transport::smtp::Error| MailError::Smtp {
            host: spec.host.clone(),
            port: spec.port,
            detail: redactor.reason(&e.to_string()),
        };
        let builder = match spec.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&spec.host).map_err(smtp_err)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&spec.host).map_err(smtp_err)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&spec.host),
        };
        let mut builder = builder.port(spec.port).timeout(Some(spec.timeout));
        if let (Some(user), Some(password)) = (&spec.username, &spec.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_string()));
        }
        let from = spec.from.parse().map_err(|_| MailError::Address(spec.from.clone()))?;
        Ok(Mailer {
            transport: builder.build(),
            from,
            host: spec.host.clone(),
            port: spec.port,
            timeout: spec.timeout,
            redactor,
            stopping: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The service is stopping: from now on a send (including one in progress) gets at
    /// most [`STOP_GRACE`] more.
    pub fn stop_sending(&self) {
        self.stopping.send_replace(true);
    }

    /// Runs one exchange with the server within the deadline.
    async fn bounded<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, MailError> {
        let mut stopping = self.stopping.subscribe();
        let stop = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::select! {
            done = tokio::time::timeout(self.timeout, exchange) => match done {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(MailError::Smtp {
                    host: self.host.clone(),
                    port: self.port,
                    detail: self.redactor.reason(&e.to_string()),
                }),
                Err(_) => Err(MailError::Timeout {
                    host: self.host.clone(),
                    port: self.port,
                    secs: self.timeout.as_secs(),
                }),
            },
            () = stop => Err(MailError::Stopping {
                host: self.host.clone(),
                port: self.port,
            }),
        }
    }

    /// Connects to the SMTP server and greets it as a send would (EHLO, STARTTLS or TLS as
    /// configured, AUTH when credentials are set), then says NOOP, sending no email: what
    /// `hrsync check` uses. `Ok(true)` when the server answered; errors as
    /// [`MailError::Smtp`] with lettre's reason (never the password), or
    /// [`MailError::Timeout`].
    pub async fn test_connection(&self) -> Result<bool, MailError> {
        self.bounded(self.transport.test_connection()).await
    }

    /// Sends one email with a plain-text and an HTML part.
    pub async fn send(&self, to: &str, subject: &str, text: String, html: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.bounded(self.transport.send(message)).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts connections and never says a word.
    async fn silent_server() -> (tokio::net::TcpListener, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    fn spec(port: u16, timeout: Duration) -> SmtpSpec {
        SmtpSpec {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            from: "hrsync@example.com".into(),
            username: None,
            password: None,
            timeout,
        }
    }

    #[tokio::test]
    async fn a_server_that_never_greets_times_out() {
        let (listener, port) = silent_server().await;
        // Accept (and hold) every connection, writing nothing.
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let mailer = Mailer::new(&spec(port, Duration::from_millis(300))).unwrap();
        let sent = mailer.send("it@example.com", "s", "t".into(), "<p>t</p>".into()).await;
        assert!(matches!(sent, Err(MailError::Timeout { .. })), "{sent:?}");
        let tested = mailer.test_connection().await;
        assert!(matches!(tested, Err(MailError::Timeout { .. })), "{tested:?}");
        // Stopping cuts a send that would otherwise wait for its (long) deadline.
        let slow = Mailer::new(&spec(port, Duration::from_secs(3600))).unwrap();
        slow.stop_sending();
        let sent = slow.send("it@example.com", "s", "t".into(), "t".into()).await;
        assert!(matches!(sent, Err(MailError::Stopping { .. })), "{sent:?}");
        held.abort();
    }
}
