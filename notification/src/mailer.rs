//! Handing messages to the SMTP server (lettre, pooled connections).

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{SmtpConfig, SmtpTls};

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server is unreachable, timed out or answered 4xx.
    #[error("{0}")]
    Transient(String),
    /// The server refused the message itself (5xx): trying again gives the same answer.
    #[error("{0}")]
    Permanent(String),
}

/// An SMTP client with a connection pool.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    /// A client for `config`; connects lazily, on the first send.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        let mut builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
                .tls(Tls::Required(TlsParameters::new(config.host.clone())?)),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
                .tls(Tls::Wrapper(TlsParameters::new(config.host.clone())?)),
        };
        builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some((user, password)) = &config.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
        }
        Ok(Mailer { transport: builder.build() })
    }

    /// Sends `message`; the server's reply on success ("250 … queued as …").
    pub async fn send(&self, message: Message) -> Result<String, SendError> {
        match self.transport.send(message).await {
            Ok(response) => {
                let text: Vec<&str> = response.message().collect();
                Ok(format!("{} {}", response.code(), text.join(" ")).trim().to_owned())
            }
            Err(error) if error.is_permanent() => Err(SendError::Permanent(describe(&error))),
            Err(error) => Err(SendError::Transient(describe(&error))),
        }
    }
}

/// The error with its causes: lettre's top-level text alone ("network error") hides the reason.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
