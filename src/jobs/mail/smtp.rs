//! Delivery through an SMTP relay, with lettre's asynchronous client over rustls.
//!
//! Each message gets a connection of its own, and the whole exchange (connect, TLS,
//! AUTH, envelope, DATA, final reply) runs under one timeout. When the timeout fires the
//! connection is dropped, so a relay that stalls after DATA sees the client leave and does
//! not complete the transaction; the outbox then retries, and the stable `Message-ID`
//! lets the receiver recognise a copy in the rare case the relay delivered it anyway.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{MailConfig, SmtpTls};
use super::{DeliveryError, OutgoingEmail, message};

/// Reply codes that RFC 4954 gives to authentication: a wrong password or a relay that
/// wants one. They are about the server's configuration, not about the message.
const AUTHENTICATION_CODES: [u16; 4] = [530, 534, 535, 538];

/// Sends each message to one SMTP relay.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    tls: SmtpTls,
    timeout: Duration,
}

impl SmtpMailer {
    /// Builds the client from checked settings; nothing is sent or connected yet.
    pub(super) fn new(config: &MailConfig, from: Mailbox) -> anyhow::Result<Self> {
        let host = config.required_smtp_host()?;
        let port = config.smtp_port_or_default();
        if config.smtp_timeout_secs == 0 {
            anyhow::bail!("CIVIC_PANEL_SMTP_TIMEOUT_SECS must be at least 1");
        }
        let timeout = config.smtp_timeout();
        let tls = match config.smtp_tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(TlsParameters::new_rustls(host.clone())?),
            SmtpTls::Tls => Tls::Wrapper(TlsParameters::new_rustls(host.clone())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((username, password)) = config.smtp_credentials()? {
            builder = builder.credentials(Credentials::new(username, password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            host,
            port,
            tls: config.smtp_tls,
            timeout,
        })
    }

    /// Sends one message and waits for the relay to accept or refuse it.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        let message = message::build(email, &self.from)?;
        // lettre bounds only the TCP connect on tokio; reads and writes could wait for
        // ever on a stalled relay, so the timeout wraps the whole exchange.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) => Err(classify(&error)),
            Err(_elapsed) => Err(DeliveryError::Transient(format!(
                "{} gave no final answer within {} s",
                self.address(),
                self.timeout.as_secs()
            ))),
        }
    }

    /// `smtp://host:port (mode)`, without credentials.
    pub fn describe(&self) -> String {
        format!("smtp://{} ({})", self.address(), self.tls.label())
    }

    /// `host:port`, with an IPv6 literal in brackets.
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

// By hand: lettre's transport is not meant for logs, and the description says all there
// is to say without the credentials.
impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SmtpMailer").field(&self.describe()).finish()
    }
}

/// Sorts a lettre error into "try again later" and "never as it is".
///
/// A 5xx reply refuses the message (no such mailbox, message rejected) unless it refuses
/// our credentials: a wrong password would otherwise fail every queued message for good,
/// when fixing the setting is all that is needed. Connection, TLS and protocol errors,
/// timeouts and 4xx replies are transient.
fn classify(error: &SmtpError) -> DeliveryError {
    match error.status().map(u16::from) {
        Some(code) if AUTHENTICATION_CODES.contains(&code) => DeliveryError::Transient(format!(
            "the SMTP relay refused the credentials (check CIVIC_PANEL_SMTP_USERNAME and the password): {error}"
        )),
        Some(_) if error.is_permanent() => DeliveryError::Permanent(error.to_string()),
        _ => DeliveryError::Transient(error.to_string()),
    }
}
