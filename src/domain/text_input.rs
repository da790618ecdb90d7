//! A council's CSV file made into what the CSV reader expects: UTF-8 text whose lines end
//! in a line feed.
//!
//! Councils' systems and Excel write CRLF line ends, and "CSV" (rather than "CSV UTF-8")
//! from Excel is Windows-1252. The CSV reader accepts CRLF but numbers lines one short
//! after every CRLF record, so an officer would be sent to the wrong row of the
//! spreadsheet. [`TextInput`] turns CRLF and a lone CR into LF (inside quoted fields too,
//! where they are line breaks within a cell) and, when asked, decodes Windows-1252, so
//! line numbers and text are right whatever the file's origin.

use std::io::{self, Read};

/// The character encoding of an uploaded file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TextEncoding {
    /// UTF-8, with or without a byte-order mark: "CSV UTF-8" in Excel.
    #[default]
    Utf8,
    /// Windows-1252 (which also reads ISO-8859-1 / Latin-1 text): plain "CSV" from Excel
    /// on a UK Windows machine. A file that starts with a UTF-8 byte-order mark is read as
    /// UTF-8 anyway.
    Windows1252,
}

impl TextEncoding {
    /// The encoding a label names, ignoring case: `utf-8`/`utf8`, or `windows-1252`,
    /// `cp1252`, `latin1`, `iso-8859-1` and the other WHATWG labels of Windows-1252.
    pub fn from_label(label: &str) -> Option<Self> {
        let label = label.trim();
        if label.eq_ignore_ascii_case("utf8") {
            return Some(Self::Utf8);
        }
        match encoding_rs::Encoding::for_label(label.as_bytes()) {
            Some(found) if found == encoding_rs::UTF_8 => Some(Self::Utf8),
            Some(found) if found == encoding_rs::WINDOWS_1252 => Some(Self::Windows1252),
            _ => None,
        }
    }

    /// Its usual name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Windows1252 => "Windows-1252",
        }
    }
}

/// What to tell someone whose file is not UTF-8.
pub const NOT_UTF8_ADVICE: &str = "not valid UTF-8 text; if the file was saved as plain \
     \"CSV\" by Excel, import it with the Windows-1252 encoding, or save it as \"CSV UTF-8\"";

/// Bytes read from the source at a time.
const READ_BYTES: usize = 1 << 16;

/// Reads `inner` as UTF-8 text with LF line ends; see the module documentation.
///
/// UTF-8 input is read straight into the caller's buffer and its line ends are mended in
/// place, so a million-row register costs one scan for CR more than reading it raw.
pub struct TextInput<R> {
    inner: R,
    decoder: Option<encoding_rs::Decoder>,
    /// Source bytes waiting to be decoded (Windows-1252 only).
    raw: Vec<u8>,
    /// Decoded text waiting to be read, from `out_start` (Windows-1252 only).
    out: Vec<u8>,
    out_start: usize,
    /// The last byte given out was a CR standing for a line end: an LF next is dropped.
    after_cr: bool,
    at_end: bool,
    consumed: u64,
}

impl<R: Read> TextInput<R> {
    /// Wraps `inner`, which is in `encoding`.
    pub fn new(inner: R, encoding: TextEncoding) -> Self {
        let decoder = match encoding {
            TextEncoding::Utf8 => None,
            TextEncoding::Windows1252 => Some(encoding_rs::WINDOWS_1252.new_decoder()),
        };
        let buffer = if decoder.is_some() { READ_BYTES } else { 0 };
        Self {
            inner,
            decoder,
            raw: vec![0; buffer],
            out: Vec::with_capacity(buffer),
            out_start: 0,
            after_cr: false,
            at_end: false,
            consumed: 0,
        }
    }

    /// Bytes of the source read so far (before decoding), for progress.
    pub fn bytes_consumed(&self) -> u64 {
        self.consumed
    }

    /// Reads from the source into `buf`, counting what was read.
    fn read_source(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.consumed += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Decodes the next piece of the source into `out`; sets `at_end` when there is none.
    fn fill_decoded(&mut self) -> io::Result<()> {
        let mut raw = std::mem::take(&mut self.raw);
        let n = self.read_source(&mut raw);
        self.raw = raw;
        let n = n?;
        let last = n == 0;
        let Some(decoder) = &mut self.decoder else {
            return Err(io::Error::other("no decoder"));
        };
        let room = decoder
            .max_utf8_buffer_length(n)
            .ok_or_else(|| io::Error::other("the file is too large to decode"))?;
        self.out.clear();
        self.out.resize(room, 0);
        let (_, read, written, _) = decoder.decode_to_utf8(&self.raw[..n], &mut self.out, last);
        debug_assert_eq!(read, n);
        let kept = normalise_line_ends(&mut self.out[..written], &mut self.after_cr);
        self.out.truncate(kept);
        self.out_start = 0;
        self.at_end = last;
        Ok(())
    }
}

/// Makes each CRLF and lone CR in `text` an LF, in place; returns the length of the
/// result, which starts `text`. `after_cr` carries a CR at the end of one piece over to
/// the next, where a leading LF belongs to it.
fn normalise_line_ends(text: &mut [u8], after_cr: &mut bool) -> usize {
    let mut read = 0;
    if *after_cr && !text.is_empty() {
        *after_cr = false;
        if text[0] == b'\n' {
            read = 1;
        }
    }
    let mut write = 0;
    while let Some(found) = memchr::memchr(b'\r', &text[read..]) {
        let cr = read + found;
        text.copy_within(read..cr, write);
        write += cr - read;
        // `write` never passes `cr`: the text only shrinks.
        text[write] = b'\n';
        write += 1;
        match text.get(cr + 1) {
            Some(b'\n') => read = cr + 2,
            Some(_) => read = cr + 1,
            None => {
                *after_cr = true;
                return write;
            }
        }
    }
    if read == write {
        return text.len();
    }
    text.copy_within(read.., write);
    write + (text.len() - read)
}

impl<R: Read> Read for TextInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.decoder.is_none() {
            // A piece that was only the LF of a CRLF leaves nothing: read on.
            loop {
                let n = self.read_source(buf)?;
                if n == 0 {
                    return Ok(0);
                }
                let kept = normalise_line_ends(&mut buf[..n], &mut self.after_cr);
                if kept > 0 {
                    return Ok(kept);
                }
            }
        }
        while self.out_start == self.out.len() {
            if self.at_end {
                return Ok(0);
            }
            self.fill_decoded()?;
        }
        let available = &self.out[self.out_start..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `bytes` through a [`TextInput`] `piece` bytes of source at a time.
    fn read(bytes: &[u8], encoding: TextEncoding, piece: usize) -> String {
        struct Pieces<'a>(&'a [u8], usize);
        impl Read for Pieces<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut text = String::new();
        TextInput::new(Pieces(bytes, piece), encoding)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn crlf_and_lone_cr_become_lf_wherever_the_pieces_split() {
        let source = b"a,b\r\n\"x\r\ny\",c\rd,e\r\n\r\nf\r";
        for piece in 1..=source.len() {
            assert_eq!(
                read(source, TextEncoding::Utf8, piece),
                "a,b\n\"x\ny\",c\nd,e\n\nf\n",
                "read {piece} bytes at a time"
            );
        }
    }

    #[test]
    fn windows_1252_is_decoded_and_utf8_passes_through_unchanged() {
        // "Caf\u{e9} \u{2013} Ysgol Gymraeg" in Windows-1252: é is 0xE9, the en dash 0x96.
        let cp1252 = b"Caf\xe9 \x96 Ysgol Gymraeg\r\n";
        for piece in [1, 2, 7, 64] {
            assert_eq!(
                read(cp1252, TextEncoding::Windows1252, piece),
                "Caf\u{e9} \u{2013} Ysgol Gymraeg\n"
            );
        }
        let utf8 = "\u{feff}Ffordd y Br\u{ee}n, Caf\u{e9}\n";
        assert_eq!(read(utf8.as_bytes(), TextEncoding::Utf8, 3), utf8);
        // A UTF-8 file (with its byte-order mark) read as Windows-1252 is still UTF-8.
        assert_eq!(
            read(utf8.as_bytes(), TextEncoding::Windows1252, 5),
            "Ffordd y Br\u{ee}n, Caf\u{e9}\n"
        );
    }

    #[test]
    fn encodings_are_named_by_the_labels_people_use() {
        for label in ["utf-8", "UTF8", " utf8 "] {
            assert_eq!(TextEncoding::from_label(label), Some(TextEncoding::Utf8));
        }
        for label in ["windows-1252", "CP1252", "latin1", "ISO-8859-1"] {
            assert_eq!(
                TextEncoding::from_label(label),
                Some(TextEncoding::Windows1252),
                "{label}"
            );
        }
        assert_eq!(TextEncoding::from_label("shift_jis"), None);
        assert_eq!(TextEncoding::from_label("ebcdic"), None);
    }
}
