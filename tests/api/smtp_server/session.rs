//! One SMTP conversation: commands in, replies out, a message recorded when accepted.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::{ReceivedMessage, Shared};

/// Serves one connection until the client quits or leaves.
pub async fn run(stream: TcpStream, shared: Arc<Shared>) {
    let mut session = Session {
        stream: BufReader::new(stream),
        shared,
        authenticated: false,
        from: None,
        recipients: Vec::new(),
    };
    // An I/O error means the client has gone; there is nobody left to tell.
    let _ = session.converse().await;
}

struct Session {
    stream: BufReader<TcpStream>,
    shared: Arc<Shared>,
    authenticated: bool,
    /// The transaction under way: `MAIL FROM` and the `RCPT TO`s accepted so far.
    from: Option<String>,
    recipients: Vec<String>,
}

impl Session {
    async fn converse(&mut self) -> io::Result<()> {
        self.reply("220 localhost civic-panel test SMTP ready")
            .await?;
        while let Some(line) = self.read_line().await? {
            let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            match verb.to_ascii_uppercase().as_str() {
                "EHLO" => {
                    self.reset();
                    let auth = if self.shared.rules.lock().unwrap().login_only {
                        "AUTH LOGIN"
                    } else {
                        "AUTH PLAIN LOGIN"
                    };
                    let lines = ["localhost", "8BITMIME", "SMTPUTF8", auth];
                    let mut reply: String = lines.iter().map(|l| format!("250-{l}\r\n")).collect();
                    reply.push_str("250 ENHANCEDSTATUSCODES");
                    self.reply(&reply).await?;
                }
                "HELO" => {
                    self.reset();
                    self.reply("250 localhost").await?;
                }
                "AUTH" => self.auth(argument).await?,
                "MAIL" => self.mail(argument).await?,
                "RCPT" => self.rcpt(argument).await?,
                "DATA" => {
                    if !self.data().await? {
                        return Ok(());
                    }
                }
                "RSET" => {
                    self.reset();
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "QUIT" => return self.reply("221 2.0.0 Bye").await,
                _ => self.reply("502 5.5.2 Command not recognised").await?,
            }
        }
        Ok(())
    }

    async fn auth(&mut self, argument: &str) -> io::Result<()> {
        let mut words = argument.split_whitespace();
        let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        let given = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(response) => response,
                    None => self.challenge("").await?,
                };
                // authorisation identity NUL user NUL password
                decode(&response).and_then(|plain| {
                    let mut fields = plain.split('\0').skip(1);
                    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
                })
            }
            "LOGIN" => {
                let username = match initial {
                    Some(username) => username,
                    None => self.challenge("Username:").await?,
                };
                let password = self.challenge("Password:").await?;
                decode(&username).zip(decode(&password))
            }
            _ => {
                return self
                    .reply("504 5.5.4 Unrecognised authentication type")
                    .await;
            }
        };
        let Some(given) = given else {
            return self.reply("501 5.5.2 Cannot decode the response").await;
        };
        let accepted = self.shared.rules.lock().unwrap().credentials.as_ref() == Some(&given);
        if accepted {
            self.authenticated = true;
            self.reply("235 2.7.0 Authentication successful").await
        } else {
            self.reply("535 5.7.8 Authentication credentials invalid")
                .await
        }
    }

    /// Sends a `334` challenge and reads the client's answer.
    async fn challenge(&mut self, prompt: &str) -> io::Result<String> {
        self.reply(&format!("334 {}", STANDARD.encode(prompt)))
            .await?;
        Ok(self.read_line().await?.unwrap_or_default())
    }

    async fn mail(&mut self, argument: &str) -> io::Result<()> {
        let needs_auth = self.shared.rules.lock().unwrap().credentials.is_some();
        if needs_auth && !self.authenticated {
            return self.reply("530 5.7.0 Authentication required").await;
        }
        if self.from.is_some() {
            return self.reply("503 5.5.1 Nested MAIL command").await;
        }
        match path(argument, "FROM:") {
            Some(from) => {
                self.from = Some(from);
                self.reply("250 2.1.0 OK").await
            }
            None => self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await,
        }
    }

    async fn rcpt(&mut self, argument: &str) -> io::Result<()> {
        if self.from.is_none() {
            return self.reply("503 5.5.1 MAIL first").await;
        }
        let Some(to) = path(argument, "TO:") else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let refused = self
            .shared
            .rules
            .lock()
            .unwrap()
            .refused
            .iter()
            .any(|address| address.eq_ignore_ascii_case(&to));
        if refused {
            return self.reply("550 5.1.1 no such mailbox").await;
        }
        self.recipients.push(to);
        self.reply("250 2.1.5 OK").await
    }

    /// Receives a message and answers it. `false` when the client left before the
    /// final answer: the transaction never completed.
    async fn data(&mut self) -> io::Result<bool> {
        if self.recipients.is_empty() {
            self.reply("503 5.5.1 RCPT first").await?;
            return Ok(true);
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.stream.read_until(b'\n', &mut line).await? == 0 {
                return Ok(false);
            }
            if line == b".\r\n" {
                break;
            }
            let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
            data.extend_from_slice(unstuffed);
        }
        let message = ReceivedMessage {
            from: self.from.take().unwrap_or_default(),
            recipients: std::mem::take(&mut self.recipients),
            data,
        };
        let let_through = {
            let mut rules = self.shared.rules.lock().unwrap();
            let through = rules.let_through > 0;
            rules.let_through = rules.let_through.saturating_sub(1);
            through
        };
        let stalling = *self.shared.stalling.borrow() && !let_through;
        if stalling && !self.hold(&message).await {
            return Ok(false);
        }
        let deferred = {
            let mut rules = self.shared.rules.lock().unwrap();
            let deferred = rules.temporary_failures > 0;
            rules.temporary_failures = rules.temporary_failures.saturating_sub(1);
            deferred
        };
        if deferred {
            self.reply("451 4.3.0 try again later").await?;
            return Ok(true);
        }
        // Recorded before the answer goes out: from here the server owns the message,
        // as a relay does once it is in its queue.
        self.shared.messages.lock().unwrap().push(message);
        self.shared.accepted.send_modify(|count| *count += 1);
        self.reply("250 2.0.0 OK: queued").await?;
        Ok(true)
    }

    /// Holds the final answer to `message` until released; `false` if the client left
    /// first.
    async fn hold(&mut self, message: &ReceivedMessage) -> bool {
        let _held = Held::new(&self.shared, message);
        let mut stalling = self.shared.stalling.subscribe();
        // The watch guard is not `Send`; only the outcome leaves the block.
        let released = async { stalling.wait_for(|stalling| !*stalling).await.is_ok() };
        tokio::pin!(released);
        tokio::select! {
            biased;
            read = self.stream.fill_buf() => match read {
                // The client spoke while waiting: it is still there.
                Ok(bytes) if !bytes.is_empty() => released.await,
                _ => false,
            },
            released = &mut released => released && self.still_connected().await,
        }
    }

    /// Whether the client is still there. The release can be handled before the
    /// runtime has looked at the socket again and seen a client that left just before
    /// it; a short wait lets the end of the stream show.
    async fn still_connected(&mut self) -> bool {
        match timeout(Duration::from_millis(100), self.stream.fill_buf()).await {
            Ok(Ok(bytes)) => !bytes.is_empty(),
            Ok(Err(_)) => false,
            Err(_quiet) => true,
        }
    }

    fn reset(&mut self) {
        self.from = None;
        self.recipients.clear();
    }

    /// One line without its line break; `None` at the end of the stream.
    async fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut bytes = Vec::new();
        if self.stream.read_until(b'\n', &mut bytes).await? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        let stream = self.stream.get_mut();
        stream.write_all(format!("{text}\r\n").as_bytes()).await?;
        stream.flush().await
    }
}

/// Counts a held transaction for as long as it is held, however the hold ends.
struct Held(Arc<Shared>, u64);

impl Held {
    fn new(shared: &Arc<Shared>, message: &ReceivedMessage) -> Self {
        let id = {
            let mut held = shared.held_messages.lock().unwrap();
            let id = held.0;
            held.0 += 1;
            held.1.push((id, message.clone()));
            id
        };
        shared.held.send_modify(|count| *count += 1);
        Self(Arc::clone(shared), id)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0
            .held_messages
            .lock()
            .unwrap()
            .1
            .retain(|(id, _)| *id != self.1);
        self.0.held.send_modify(|count| *count -= 1);
    }
}

/// The address in `FROM:<address> PARAMS` or `TO:<address>`.
fn path(argument: &str, prefix: &str) -> Option<String> {
    let head = argument.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &argument[prefix.len()..];
    let start = rest.find('<')?;
    let end = rest[start..].find('>')? + start;
    Some(rest[start + 1..end].to_owned())
}

fn decode(text: &str) -> Option<String> {
    String::from_utf8(STANDARD.decode(text.trim()).ok()?).ok()
}
