//! Delivery through an SMTP relay, with lettre's asynchronous client over rustls.
//!
//! Each message gets a connection of its own, and the whole exchange (connect, TLS,
//! AUTH, envelope, DATA, final reply) runs under one timeout. When the timeout fires the
//! connection is dropped, so a relay that stalls after DATA sees the client leave and does
//! not complete the transaction; the outbox then retries, and the stable `Message-ID`
//! lets the receiver recognise a copy in the rare case the relay delivered it anyway.

use std::fmt;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{MailConfig, SmtpTls};
use super::{DeliveryError, OutgoingEmail, message};

/// Reply codes that RFC 4954 gives to authentication: a wrong password or a relay that
/// wants one. They are about the server's configuration, not about the message.
const AUTHENTICATION_CODES: [u16; 4] = [530, 534, 535, 538];

/// Sends each message to one SMTP relay.
pub struct SmtpMailer {
    /// For implicit TLS (port 465).
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// For plain connections and STARTTLS, which open their own socket (see
    /// [`SmtpMailer::exchange`]).
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
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
        let starttls = match &tls {
            Tls::Required(parameters) => Some(parameters.clone()),
            _ => None,
        };
        let credentials = config
            .smtp_credentials()?
            .map(|(username, password)| Credentials::new(username, password));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(credentials) = &credentials {
            builder = builder.credentials(credentials.clone());
        }
        Ok(Self {
            transport: builder.build(),
            starttls,
            credentials,
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
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        // lettre bounds only the TCP connect on tokio; reads and writes could wait for
        // ever on a stalled relay, so the timeout wraps the whole exchange.
        match tokio::time::timeout(self.timeout, self.exchange(&envelope, &bytes)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(DeliveryError::Transient(format!(
                "{} gave no final answer within {} s",
                self.address(),
                self.timeout.as_secs()
            ))),
        }
    }

    /// One message's whole exchange with the relay.
    ///
    /// Plain and STARTTLS connections are opened here with `TCP_NODELAY`: the client
    /// writes a message's data and its closing `.` separately, and with Nagle's algorithm
    /// the small last write waits for the relay's delayed acknowledgement (40 ms on
    /// Linux), which would cap delivery at about 25 messages a second. Implicit TLS goes
    /// through lettre's transport.
    async fn exchange(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), DeliveryError> {
        if self.tls == SmtpTls::Tls {
            return self
                .transport
                .send_raw(envelope, bytes)
                .await
                .map(|_| ())
                .map_err(|e| classify(&e));
        }
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|error| {
                DeliveryError::Transient(format!("cannot connect to {}: {error}", self.address()))
            })?;
        // Only a little slower without it.
        let _ = tcp.set_nodelay(true);
        let hello = ClientId::default();
        let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
            .await
            .map_err(|e| classify(&e))?;
        if let Some(parameters) = &self.starttls {
            connection
                .starttls(parameters.clone(), &hello)
                .await
                .map_err(|e| classify(&e))?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| classify(&e))?;
        }
        connection
            .send(envelope, bytes)
            .await
            .map_err(|e| classify(&e))?;
        // Accepted: how the connection ends no longer matters.
        connection.abort().await;
        Ok(())
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
