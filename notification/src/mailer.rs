//! Handing messages to the SMTP server: lettre's SMTP client over a small pool of our own.
//!
//! Why not lettre's pooled transport: it opens its sockets without `TCP_NODELAY`, and its
//! client writes the message body and the final `.` in two writes, so Nagle's algorithm holds
//! the terminator until the server's delayed ACK, about 40 ms per email and connection
//! (measured: 90 emails/s over 4 connections to a sink that accepts thousands). Here plain and
//! STARTTLS connections are opened by us with `TCP_NODELAY` and handed to lettre's
//! connection; implicit TLS (port 465) uses lettre's own connect.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::ExposeSecret;

use crate::config::{SmtpConfig, SmtpTls};

/// A pooled connection unused for longer than this is closed rather than reused: servers drop
/// idle clients (Postfix after 300 s), and a send on a dead one would cost a retry.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server is unreachable, timed out or answered 4xx.
    #[error("{0}")]
    Transient(String),
    /// The server refused the message itself (5xx): trying again gives the same answer.
    #[error("{0}")]
    Permanent(String),
    /// The server said the mailbox does not exist or may not receive (550, 551, 553): a hard
    /// bounce, and the address goes on the suppression list.
    #[error("{0}")]
    NoMailbox(String),
}

/// An SMTP client with a pool of open connections.
pub struct Mailer {
    config: SmtpConfig,
    hello: ClientId,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Mailer {
    /// A client for `config`; connects lazily, on the first send.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        if config.tls != SmtpTls::None {
            // Fail at start-up, not at the first email, if TLS cannot be set up for the host.
            TlsParameters::new(config.host.clone())?;
        }
        Ok(Mailer {
            config: config.clone(),
            hello: ClientId::default(),
            credentials: config
                .credentials
                .as_ref()
                .map(|(user, password)| Credentials::new(user.clone(), password.expose_secret().to_owned())),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `message`; the server's reply on success ("250 … queued as …").
    pub async fn send(&self, message: Message) -> Result<String, SendError> {
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        // A pooled connection may have died while idle: then try once more on a fresh one.
        if let Some(connection) = self.pooled() {
            match self.send_on(connection, &envelope, &bytes).await {
                Err(SendError::Transient(_)) => {}
                done => return done,
            }
        }
        let connection = self.connect().await?;
        self.send_on(connection, &envelope, &bytes).await
    }

    async fn send_on(
        &self,
        mut connection: AsyncSmtpConnection,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<String, SendError> {
        // MAIL, RCPT, DATA, the body and their replies; lettre's own connection has no timeout
        // on a stream handed to it.
        let sent = tokio::time::timeout(self.config.timeout * 4, connection.send(envelope, bytes)).await;
        match sent {
            Ok(Ok(response)) => {
                let text: Vec<&str> = response.message().collect();
                if !connection.has_broken() {
                    self.release(connection);
                }
                Ok(format!("{} {}", response.code(), text.join(" ")).trim().to_owned())
            }
            Ok(Err(error)) if error.is_permanent() => {
                // The connection itself is fine after a refusal; lettre resets it on error.
                let code = error.status().map(|c| c.to_string());
                let text = describe(&error);
                // Only an addressing failure (enhanced status 5.1.x: no such mailbox, bad
                // address) is a hard bounce; a 550 5.7.x is a policy or spam refusal, and
                // listing the address for it would cut its owner off for good.
                if matches!(code.as_deref(), Some("550" | "551" | "553")) && text.contains(" 5.1.") {
                    Err(SendError::NoMailbox(text))
                } else {
                    Err(SendError::Permanent(text))
                }
            }
            Ok(Err(error)) => Err(SendError::Transient(describe(&error))),
            Err(_) => Err(SendError::Transient("the SMTP server did not answer in time".into())),
        }
    }

    fn pooled(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < MAX_IDLE {
                return Some(connection);
            }
        }
        None
    }

    fn release(&self, connection: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.push((connection, Instant::now()));
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let transient = |e: &dyn std::error::Error| SendError::Transient(describe(e));
        let timeout = self.config.timeout;
        let mut connection = match self.config.tls {
            SmtpTls::Tls => {
                let tls = TlsParameters::new(self.config.host.clone()).map_err(|e| transient(&e))?;
                AsyncSmtpConnection::connect_tokio1(
                    (self.config.host.as_str(), self.config.port),
                    Some(timeout),
                    &self.hello,
                    Some(tls),
                    None,
                )
                .await
                .map_err(|e| transient(&e))?
            }
            SmtpTls::None | SmtpTls::StartTls => {
                let stream = tokio::time::timeout(timeout, self.tcp())
                    .await
                    .map_err(|_| SendError::Transient("connecting to the SMTP server timed out".into()))??;
                let mut connection = tokio::time::timeout(
                    timeout,
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
                )
                .await
                .map_err(|_| SendError::Transient("the SMTP server sent no greeting in time".into()))?
                .map_err(|e| transient(&e))?;
                if self.config.tls == SmtpTls::StartTls {
                    let tls = TlsParameters::new(self.config.host.clone()).map_err(|e| transient(&e))?;
                    connection.starttls(tls, &self.hello).await.map_err(|e| transient(&e))?;
                }
                connection
            }
        };
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await.map_err(|e| {
                if e.is_permanent() { SendError::Permanent(describe(&e)) } else { transient(&e) }
            })?;
        }
        Ok(connection)
    }

    async fn tcp(&self) -> Result<tokio::net::TcpStream, SendError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.config.host.as_str(), self.config.port))
            .await
            .map_err(|e| SendError::Transient(format!("cannot resolve {}: {e}", self.config.host)))?
            .collect();
        let mut last = None;
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(|e| SendError::Transient(e.to_string()))?;
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(SendError::Transient(match last {
            Some(e) => format!("cannot connect to {}:{}: {e}", self.config.host, self.config.port),
            None => format!("{} resolves to no address", self.config.host),
        }))
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
