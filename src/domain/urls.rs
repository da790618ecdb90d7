//! Pieces of the links residents follow.

/// `text` safe as one segment of a URL's path: unreserved characters (RFC 3986) kept, every
/// other byte escaped, so a token cannot end its segment or start a query.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_bytes_are_escaped() {
        assert_eq!(path_segment("cpc_A-b.c~9"), "cpc_A-b.c~9");
        assert_eq!(path_segment("a b/c?d#e"), "a%20b%2Fc%3Fd%23e");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
