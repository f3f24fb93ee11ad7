//! Outgoing mail, for links to reset a password. The SMTP transport is built once at start
//! from `[smtp]`; messages are sent off the request path, each within [`SEND_TIMEOUT`], and a
//! failure is logged, never shown to whoever asked (the answer must not depend on it).

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one message may take to hand over to the SMTP server.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network).
    None,
    /// Plain text upgraded with STARTTLS, which is required.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpTls {
    pub fn parse(s: &str) -> Option<SmtpTls> {
        match s {
            "none" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::StartTls),
            "tls" => Some(SmtpTls::Tls),
            _ => None,
        }
    }
}

/// The `[smtp]` settings.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// The sender, `Berth <berth@example.com>` or `berth@example.com`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: SmtpTls,
    /// The URL people reach Berth at, for the links in messages.
    pub public_url: String,
}

/// Sends mail through one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// Builds the transport; fails on settings that cannot work (a bad sender address, a
    /// user name without a password). Connects to nothing yet.
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, String> {
        let from: Mailbox = settings.from.parse().map_err(|e| {
            format!(
                "smtp.from {:?} is not an e-mail address: {e}",
                settings.from
            )
        })?;
        check_settings(settings)?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
                .port(settings.port)
                .timeout(Some(SEND_TIMEOUT));
        let tls = || {
            TlsParameters::new(settings.host.clone())
                .map_err(|e| format!("smtp: TLS for {}: {e}", settings.host))
        };
        builder = match settings.tls {
            SmtpTls::None => builder.tls(Tls::None),
            SmtpTls::StartTls => builder.tls(Tls::Required(tls()?)),
            SmtpTls::Tls => builder.tls(Tls::Wrapper(tls()?)),
        };
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The URL people reach Berth at, without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Sends a plain-text message to `to` (an address Berth holds), within [`SEND_TIMEOUT`].
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient {to:?}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("building the message: {e}"))?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "no answer from the SMTP server within {}s",
                SEND_TIMEOUT.as_secs()
            )),
        }
    }

    /// Sends in the background: the caller's answer never waits for, or depends on, the SMTP
    /// server. A failure is logged.
    pub fn send_later(&self, to: String, subject: String, body: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            match mailer.send(&to, &subject, body).await {
                Ok(()) => tracing::info!(subject = %subject, "mail sent"),
                Err(e) => tracing::warn!(error = %e, subject = %subject, "sending mail failed"),
            }
        });
    }
}

fn check_settings(settings: &SmtpSettings) -> Result<(), String> {
    if settings.host.trim().is_empty() {
        return Err("smtp.host must not be empty".into());
    }
    if settings.port == 0 {
        return Err("smtp.port must not be 0".into());
    }
    match (&settings.username, &settings.password) {
        (Some(_), None) => Err("smtp.username needs a password (password or password_file)".into()),
        (None, Some(_)) => Err("smtp.password needs a username".into()),
        _ => Ok(()),
    }
}
