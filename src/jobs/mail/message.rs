//! Turning an [`OutgoingEmail`] into an RFC 5322 message.
//!
//! The same email always becomes the same bytes: the `Message-ID` comes from the
//! idempotency key, the `Date` from when the message was queued, and the MIME boundary
//! from the content. A retry therefore repeats the first attempt exactly, and a receiver
//! (or the file transport) can recognise a message it has seen before.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::{DeliveryError, OutgoingEmail};
use crate::domain::accounts::session_token::hex_sha256;

/// Sanitised keys longer than this are replaced by a hash, so that file names stay
/// within file-system limits and `Message-ID` lines stay short.
const MAX_KEY_CHARS: usize = 120;

/// Headers that the message builder sets itself, or that would change who receives the
/// message: an extra header may not replace them.
const RESERVED_HEADERS: [&str; 10] = [
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "return-path",
];

/// The idempotency key as a string of `[A-Za-z0-9_-]`, safe as a file name and as the
/// left part of a `Message-ID`.
///
/// Letters, digits and `-` are kept; every other byte becomes `_` and two upper-case hex
/// digits, so different keys never share a form (`a:b` is `a_3Ab`, `a/b` is `a_2Fb`).
/// A long result is replaced by `_h` and the key's SHA-256, which no escaped form can
/// start with since `_` is otherwise always followed by a hex digit.
pub fn sanitise_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    if out.len() > MAX_KEY_CHARS {
        format!("_h{}", hex_sha256(key.as_bytes()))
    } else {
        out
    }
}

/// The `Message-ID` for an idempotency key: `<{sanitised key}@{domain of the sender}>`.
pub fn message_id(idempotency_key: &str, from: &Mailbox) -> String {
    format!(
        "<{}@{}>",
        sanitise_key(idempotency_key),
        from.email.domain()
    )
}

/// Builds the message for `email`, sent by `from`.
///
/// Fails with [`DeliveryError::Permanent`]: nothing about a message that cannot be built
/// will change by trying again.
pub(super) fn build(email: &OutgoingEmail, from: &Mailbox) -> Result<Message, DeliveryError> {
    if email.idempotency_key.is_empty() {
        return Err(DeliveryError::Permanent(
            "the message has no idempotency key".to_owned(),
        ));
    }
    let to = email.to.trim().parse::<Mailbox>().map_err(|error| {
        DeliveryError::Permanent(format!("recipient {:?} does not parse: {error}", email.to))
    })?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.as_str())
        .date(SystemTime::from(email.date))
        .message_id(Some(message_id(&email.idempotency_key, from)));
    for (name, value) in &email.headers {
        builder = builder.raw_header(extra_header(name, value)?);
    }
    let built = match &email.html_body {
        None => builder.singlepart(SinglePart::plain(email.text_body.clone())),
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .boundary(boundary(email))
                .singlepart(SinglePart::plain(email.text_body.clone()))
                .singlepart(SinglePart::html(html.clone())),
        ),
    };
    built.map_err(|error| DeliveryError::Permanent(format!("cannot build the message: {error}")))
}

/// A header from [`OutgoingEmail::headers`], checked: a field name of printable ASCII
/// without `:`, one line of value, and none of the headers the builder owns.
fn extra_header(name: &str, value: &str) -> Result<HeaderValue, DeliveryError> {
    let printable = |c: char| c.is_ascii_graphic() && c != ':';
    if name.is_empty() || !name.chars().all(printable) {
        return Err(DeliveryError::Permanent(format!(
            "{name:?} is not a header name"
        )));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("content-") {
        return Err(DeliveryError::Permanent(format!(
            "the {name} header is set by the mailer and cannot be given as an extra header"
        )));
    }
    // lettre would encode a line break rather than break the header, but a value with
    // one is a bug upstream that is better seen than hidden.
    if value.contains(['\r', '\n']) {
        return Err(DeliveryError::Permanent(format!(
            "the {name} header value spans several lines"
        )));
    }
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| DeliveryError::Permanent(format!("{name:?} is not a header name")))?;
    Ok(HeaderValue::new(name, value.to_owned()))
}

/// A multipart boundary derived from the content, so that the same email gives the same
/// bytes, and a text cannot contain its own boundary short of a SHA-256 collision.
fn boundary(email: &OutgoingEmail) -> String {
    let mut material = Vec::new();
    let fields = [
        email.idempotency_key.as_str(),
        email.subject.as_str(),
        email.text_body.as_str(),
        email.html_body.as_deref().unwrap_or_default(),
    ];
    for field in fields {
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        material.extend_from_slice(&field.len().to_be_bytes());
        material.extend_from_slice(field.as_bytes());
    }
    let digest: String = hex_sha256(&material).chars().take(32).collect();
    format!("civic-panel-{digest}")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::invitation;
    use super::super::mime;
    use super::*;

    fn sender() -> Mailbox {
        "Residents' Panel <panel@tewkesbury.gov.uk>"
            .parse()
            .unwrap()
    }

    #[test]
    fn the_message_id_is_the_sanitised_key_at_the_sender_domain() {
        assert_eq!(
            message_id("consultation:42/invite:7", &sender()),
            "<consultation_3A42_2Finvite_3A7@tewkesbury.gov.uk>"
        );
        assert_eq!(
            message_id("login-link-9", &sender()),
            "<login-link-9@tewkesbury.gov.uk>"
        );
        assert_eq!(sanitise_key("Siân.eml"), "Si_C3_A2n_2Eeml");
    }

    #[test]
    fn different_keys_never_share_a_sanitised_form() {
        let keys = ["a:b", "a/b", "a_b", "a_3Ab", "a.b", "a b", "A:b", "..", ""];
        let forms: std::collections::HashSet<String> =
            keys.iter().map(|key| sanitise_key(key)).collect();
        assert_eq!(forms.len(), keys.len());
    }

    #[test]
    fn a_long_key_becomes_its_hash() {
        let key = "x".repeat(200);
        let form = sanitise_key(&key);
        assert_eq!(form, format!("_h{}", hex_sha256(key.as_bytes())));
        assert_eq!(sanitise_key(&"x".repeat(120)), "x".repeat(120));
    }

    #[test]
    fn the_same_email_always_gives_the_same_bytes() {
        let first = build(&invitation(), &sender()).unwrap().formatted();
        let second = build(&invitation(), &sender()).unwrap().formatted();
        assert_eq!(first, second);
        assert_eq!(
            mime::header(&first, "Date").as_deref(),
            Some("Fri, 14 Mar 2025 09:30:00 +0000")
        );
    }

    #[test]
    fn a_text_only_email_is_one_text_part() {
        let email = OutgoingEmail {
            html_body: None,
            ..invitation()
        };
        let raw = build(&email, &sender()).unwrap().formatted();
        let content_type = mime::header(&raw, "Content-Type").unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert_eq!(
            mime::body_part(&raw, "text/plain").unwrap(),
            "Annwyl Siân,\n\nDywedwch wrthym beth yw eich barn am ddyfodol Ynys Môn."
        );
        assert_eq!(mime::body_part(&raw, "text/html"), None);
    }

    #[test]
    fn headers_the_mailer_owns_cannot_be_given_as_extra_headers() {
        for name in ["Bcc", "message-id", "Content-Type", "FROM"] {
            let email = OutgoingEmail {
                headers: vec![(name.to_owned(), "x".to_owned())],
                ..invitation()
            };
            assert!(
                matches!(build(&email, &sender()), Err(DeliveryError::Permanent(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn a_malformed_extra_header_is_a_permanent_failure() {
        for (name, value) in [
            ("X-Bad Name", "x"),
            ("X-Bad\r\nBcc", "x"),
            ("X-Bad:", "x"),
            ("", "x"),
            ("X-Campaign", "one\r\nBcc: someone@example.org"),
        ] {
            let email = OutgoingEmail {
                headers: vec![(name.to_owned(), value.to_owned())],
                ..invitation()
            };
            assert!(
                matches!(build(&email, &sender()), Err(DeliveryError::Permanent(_))),
                "{name:?}: {value:?}"
            );
        }
    }

    #[test]
    fn a_recipient_that_does_not_parse_is_a_permanent_failure() {
        let email = OutgoingEmail {
            to: "not an address".to_owned(),
            ..invitation()
        };
        let error = build(&email, &sender()).unwrap_err();
        assert!(
            matches!(&error, DeliveryError::Permanent(why) if why.contains("does not parse")),
            "{error}"
        );
    }
}
