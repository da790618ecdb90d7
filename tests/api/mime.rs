//! A small reader for the messages the mailer writes: headers (unfolded, RFC 2047 words
//! decoded) and body parts (quoted-printable and base64 undone). Just enough MIME to check
//! what a receiver would see; not a general parser.
//!
//! Shared by the integration tests and the mail module's unit tests (through `#[path]`),
//! so there is one reader to trust.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The value of header `name` (case-insensitive) at the top of `raw`, unfolded and
/// decoded.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let (headers, _) = split_entity(&text);
    headers
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| decode_words(value.trim()))
}

/// The decoded body of the first part whose content type is `mime` (`text/plain`,
/// `text/html`), searching nested multiparts; a message without MIME parts counts as
/// `text/plain`. Line breaks are given as `\n` and trailing ones are dropped: on the
/// way, `\n` becomes `\r\n` and the encoders and transports add a last one or two.
pub fn body_part(raw: &[u8], mime: &str) -> Option<String> {
    let text = find_part(&String::from_utf8_lossy(raw), mime)?;
    Some(text.replace("\r\n", "\n").trim_end_matches('\n').to_owned())
}

fn find_part(entity: &str, mime: &str) -> Option<String> {
    let (headers, body) = split_entity(entity);
    let value = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let content_type = value("Content-Type").unwrap_or_else(|| "text/plain".to_owned());
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if kind.starts_with("multipart/") {
        let boundary = parameter(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .find_map(|part| find_part(part.trim_start_matches("\r\n"), mime));
    }
    if kind != mime {
        return None;
    }
    let encoding = value("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .ok()?,
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(decoded).ok()
}

/// Headers (unfolded) and body of one entity.
fn split_entity(entity: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = entity.split_once("\r\n\r\n").unwrap_or((entity, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    (headers, body)
}

/// A parameter of a structured header value, without quotes.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|pair| {
        let (key, found) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| found.trim().trim_matches('"').to_owned())
    })
}

fn quoted_printable(body: &str) -> Vec<u8> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); the white space
/// between two encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        let Some((word, remaining)) = encoded_word(candidate) else {
            out.push_str(before);
            out.push_str("=?");
            rest = &candidate[2..];
            after_word = false;
            continue;
        };
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        out.push_str(&word);
        rest = remaining;
        after_word = true;
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `text`, decoded, and what follows it.
fn encoded_word(text: &str) -> Option<(String, &str)> {
    let inner = text.strip_prefix("=?")?;
    let (_charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let (payload, remaining) = inner.split_once("?=")?;
    let bytes = match encoding.to_ascii_lowercase().as_str() {
        "b" => STANDARD.decode(payload).ok()?,
        "q" => quoted_printable(&payload.replace('_', " ")),
        _ => return None,
    };
    Some((String::from_utf8(bytes).ok()?, remaining))
}
