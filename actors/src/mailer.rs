//! Sends email through SMTP with lettre (rustls). Used by the notifier only.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::spec::{SmtpSpec, SmtpTls};

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid email address {0:?}")]
    Address(String),
    #[error("cannot build the email: {0}")]
    Build(String),
    #[error("SMTP server {host}:{port} did not accept the email: {detail}")]
    Smtp { host: String, port: u16, detail: String },
}

/// An SMTP sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
}

impl Mailer {
    pub fn new(spec: &SmtpSpec) -> Result<Mailer, MailError> {
        let smtp_err = |e: lettre::transport::smtp::Error| MailError::Smtp {
            host: spec.host.clone(),
            port: spec.port,
            detail: e.to_string(),
        };
        let builder = match spec.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&spec.host).map_err(smtp_err)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&spec.host).map_err(smtp_err)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&spec.host),
        };
        let mut builder = builder.port(spec.port).timeout(Some(Duration::from_secs(30)));
        if let (Some(user), Some(password)) = (&spec.username, &spec.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_string()));
        }
        let from = spec.from.parse().map_err(|_| MailError::Address(spec.from.clone()))?;
        Ok(Mailer {
            transport: builder.build(),
            from,
            host: spec.host.clone(),
            port: spec.port,
        })
    }

    /// Connects to the SMTP server and greets it as a send would (EHLO, STARTTLS or TLS as
    /// configured, AUTH when credentials are set), then says NOOP, sending no email: what
    /// `hrsync check` uses. `Ok(true)` when the server answered; errors as
    /// [`MailError::Smtp`] with lettre's reason (never the password).
    pub async fn test_connection(&self) -> Result<bool, MailError> {
        self.transport.test_connection().await.map_err(|e| MailError::Smtp {
            host: self.host.clone(),
            port: self.port,
            detail: e.to_string(),
        })
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
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| MailError::Smtp {
                host: self.host.clone(),
                port: self.port,
                detail: e.to_string(),
            })
    }
}
