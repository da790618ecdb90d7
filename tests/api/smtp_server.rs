//! A real SMTP server on loopback for the mail tests: enough of RFC 5321 for lettre's
//! client (EHLO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS), with
//! switches for what a relay can do wrong: refuse a recipient, defer a message, stall
//! before its final answer (after letting some through), or be down.
//!
//! A message counts as accepted only when the server commits to the final `250` after
//! DATA, as in SMTP: a client that leaves before that answer has not delivered anything.
//! The server runs as tokio tasks and stops when dropped; every wait takes a timeout.

mod session;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, timeout};

use crate::mime;

/// One message the server accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub recipients: Vec<String>,
    /// The message as received, dot-unstuffed, ending with the last line's CRLF.
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    /// A header, unfolded and decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        mime::header(&self.data, name)
    }

    /// The decoded `text/plain` body.
    pub fn text_body(&self) -> Option<String> {
        mime::body_part(&self.data, "text/plain")
    }

    /// The decoded `text/html` body.
    pub fn html_body(&self) -> Option<String> {
        mime::body_part(&self.data, "text/html")
    }
}

/// What the server is told to do; read by each session as it goes.
#[derive(Default)]
struct Rules {
    /// The only user name and password accepted; `None`: no AUTH needed, none accepted.
    credentials: Option<(String, String)>,
    /// Advertise `AUTH LOGIN` alone, to make clients use it.
    login_only: bool,
    /// Recipients answered `550` at RCPT.
    refused: Vec<String>,
    /// How many of the next messages are answered `451` after DATA.
    temporary_failures: usize,
    /// How many of the next messages are accepted at once while stalling.
    let_through: usize,
}

/// State shared by the server handle and every session.
struct Shared {
    messages: Mutex<Vec<ReceivedMessage>>,
    /// How many messages were accepted, for waiting.
    accepted: watch::Sender<usize>,
    rules: Mutex<Rules>,
    /// While true, a session holds its final answer after DATA.
    stalling: watch::Sender<bool>,
    /// How many sessions are holding their answer now.
    held: watch::Sender<usize>,
    /// The messages whose answer is being held (a counter to tell them apart, and each
    /// with its number).
    held_messages: Mutex<(u64, Vec<(u64, ReceivedMessage)>)>,
}

/// A running (or stopped) test SMTP server.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
    /// The accept loop; it owns the listener and every open connection.
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpServer {
    /// Starts a server on 127.0.0.1 with a port of its own.
    pub async fn start() -> Self {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            messages: Mutex::new(Vec::new()),
            accepted: watch::Sender::new(0),
            rules: Mutex::new(Rules::default()),
            stalling: watch::Sender::new(false),
            held: watch::Sender::new(0),
            held_messages: Mutex::new((0, Vec::new())),
        });
        let server = Self {
            port,
            shared,
            listener: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    /// The port it listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Waits until at least `count` messages were accepted and returns them all; fails
    /// the test after `limit`.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<ReceivedMessage> {
        let mut accepted = self.shared.accepted.subscribe();
        let reached = timeout(limit, accepted.wait_for(|n| *n >= count)).await;
        assert!(
            reached.is_ok(),
            "expected {count} messages within {limit:?}, got {}",
            self.messages().len()
        );
        self.messages()
    }

    /// Closes the listener and every open connection: the server is down and
    /// connections are refused.
    pub async fn stop(&self) {
        let handle = self.listener.lock().unwrap().take();
        if let Some(handle) = handle {
            handle.abort();
            // Returns once the task is gone, and with it the listener and connections.
            let _ = handle.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        self.stop().await;
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match bind(address) {
                Ok(listener) => break listener,
                // Another socket may hold the port for a moment.
                Err(_) if Instant::now() < deadline => sleep(Duration::from_millis(50)).await,
                Err(error) => panic!("cannot listen on {address} again: {error}"),
            }
        };
        self.serve(listener);
    }

    /// Accepts only this user name and password, and refuses mail without them.
    pub fn require_credentials(&self, username: &str, password: &str) {
        self.shared.rules.lock().unwrap().credentials =
            Some((username.to_owned(), password.to_owned()));
    }

    /// Offers `AUTH LOGIN` only, so that the client has to use it.
    pub fn offer_only_auth_login(&self) {
        self.shared.rules.lock().unwrap().login_only = true;
    }

    /// Answers `550 5.1.1 no such mailbox` when `address` is given at RCPT.
    pub fn refuse_recipient(&self, address: &str) {
        self.shared
            .rules
            .lock()
            .unwrap()
            .refused
            .push(address.to_owned());
    }

    /// Answers the next `count` messages with `451 4.3.0 try again later` after DATA.
    pub fn defer_next(&self, count: usize) {
        self.shared.rules.lock().unwrap().temporary_failures = count;
    }

    /// From now on, holds the answer after DATA until [`release`](Self::release) or until
    /// the client leaves (then the message is not accepted).
    pub fn stall(&self) {
        self.shared.stalling.send_replace(true);
    }

    /// Accepts the next `count` messages at once, then stalls as [`stall`](Self::stall)
    /// does: a relay part-way through a mailing.
    pub fn hold_after(&self, count: usize) {
        self.shared.rules.lock().unwrap().let_through = count;
        self.stall();
    }

    /// The messages whose answer is being held now (their data received, not accepted).
    pub fn held_messages(&self) -> Vec<ReceivedMessage> {
        let held = self.shared.held_messages.lock().unwrap();
        held.1.iter().map(|(_, m)| m.clone()).collect()
    }

    /// Stops stalling and waits until every held message is settled: answered, or
    /// dropped because its client had left. Fails the test if that takes seconds.
    pub async fn release(&self) {
        self.shared.rules.lock().unwrap().let_through = 0;
        self.shared.stalling.send_replace(false);
        let limit = Duration::from_secs(5);
        let mut held = self.shared.held.subscribe();
        let settled = timeout(limit, held.wait_for(|n| *n == 0)).await;
        assert!(
            settled.is_ok(),
            "held messages not settled within {limit:?}"
        );
    }

    /// Waits until a session is holding its answer; fails the test after `limit`.
    pub async fn stalled(&self, limit: Duration) {
        let mut held = self.shared.held.subscribe();
        let reached = timeout(limit, held.wait_for(|n| *n > 0)).await;
        assert!(reached.is_ok(), "no message stalled within {limit:?}");
    }

    /// Runs the accept loop on `listener`.
    fn serve(&self, listener: TcpListener) {
        let handle = tokio::spawn(accept_loop(listener, Arc::clone(&self.shared)));
        *self.listener.lock().unwrap() = Some(handle);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Ok(slot) = self.listener.get_mut()
            && let Some(handle) = slot.take()
        {
            handle.abort();
        }
    }
}

/// A listener that can take a port back right after it was closed.
fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(64)
}

/// Accepts connections until aborted. The connections live in a `JoinSet` owned here, so
/// aborting this task (stop, drop) closes them too.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(session::run(stream, Arc::clone(&shared)));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
