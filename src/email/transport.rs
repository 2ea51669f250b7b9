//! The lettre transports: SMTP (plain for loopback, STARTTLS or implicit
//! TLS, optional authentication, pooled connections) or `.eml` files (the
//! embedded default). Both send the stored bytes as they are (`send_raw`),
//! so a retried message is the same message.

use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::configuration::{MailTransport, SmtpTls};

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Why a message was not accepted.
#[derive(Debug, Clone)]
pub struct SendError {
    /// Permanent (SMTP 5xx): retrying will not help.
    pub permanent: bool,
    pub message: String,
}

impl Mailer {
    pub fn new(t: &MailTransport) -> anyhow::Result<Mailer> {
        Ok(match t {
            MailTransport::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("email.file_dir: cannot create {}: {e}", dir.display())
                })?;
                Mailer::File(AsyncFileTransport::new(dir))
            }
            MailTransport::Smtp(s) => {
                let builder = match s.tls {
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    }
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
                };
                let mut builder = builder
                    .port(s.port)
                    .timeout(Some(s.timeout))
                    .pool_config(PoolConfig::new().max_size(s.pool_size));
                if let (Some(user), Some(password)) = (&s.username, &s.password) {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        password.expose_secret().to_owned(),
                    ));
                }
                Mailer::Smtp(builder.build())
            }
        })
    }

    /// Send `bytes` (a whole RFC 5322 message) from `sender` to `recipient`.
    pub async fn send(&self, sender: &str, recipient: &str, bytes: &[u8]) -> Result<(), SendError> {
        let bad = |what: &str, e: String| SendError {
            permanent: true,
            message: format!("{what}: {e}"),
        };
        let from: lettre::Address = sender.parse().map_err(|e| bad("sender", format!("{e}")))?;
        let to: lettre::Address = recipient
            .parse()
            .map_err(|e| bad("recipient", format!("{e}")))?;
        let envelope =
            Envelope::new(Some(from), vec![to]).map_err(|e| bad("envelope", e.to_string()))?;
        match self {
            Mailer::Smtp(t) => t.send_raw(&envelope, bytes).await.map(drop).map_err(|e| {
                SendError {
                    // 5xx only; connection errors, timeouts and 4xx are temporary.
                    permanent: e.is_permanent(),
                    message: e.to_string(),
                }
            }),
            Mailer::File(t) => {
                t.send_raw(&envelope, bytes)
                    .await
                    .map(drop)
                    .map_err(|e| SendError {
                        permanent: false,
                        message: e.to_string(),
                    })
            }
        }
    }
}
