//! A minimal ZIP writer (stored entries, no compression) for export bundles: the
//! mail-merge CSV with its QR images. PNG and SVG QR codes gain little from deflate, and
//! "stored" keeps the format simple enough to write in a few lines (PKWARE APPNOTE 6.3.x,
//! sections 4.3.7 and 4.3.12).

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as ZIP requires.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Why a bundle could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// ZIP without the 64-bit extensions holds at most 65,535 entries of at most 4 GiB.
    #[error("the export is too large for a ZIP file ({0})")]
    TooLarge(&'static str),
}

/// Builds a ZIP archive in memory.
#[derive(Default)]
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

fn u16_le(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}

fn u32_le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

impl ZipWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file (stored, dated 1 January 2026 so archives are reproducible).
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<(), ZipError> {
        let size = u32::try_from(data.len()).map_err(|_| ZipError::TooLarge("file size"))?;
        let offset =
            u32::try_from(self.out.len()).map_err(|_| ZipError::TooLarge("archive size"))?;
        let name_len = u16::try_from(name.len()).map_err(|_| ZipError::TooLarge("file name"))?;
        self.entries = self
            .entries
            .checked_add(1)
            .ok_or(ZipError::TooLarge("entry count"))?;
        let crc = crc32(data);
        // MS-DOS date: (year - 1980) << 9 | month << 5 | day; time 00:00.
        let (time, date) = (0u16, ((2026 - 1980) << 9 | 1 << 5 | 1) as u16);
        // Version 20, flag bit 11: the name is UTF-8.
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&u16_le(20));
            buf.extend_from_slice(&u16_le(0x0800));
            buf.extend_from_slice(&u16_le(0));
            buf.extend_from_slice(&u16_le(time));
            buf.extend_from_slice(&u16_le(date));
            buf.extend_from_slice(&u32_le(crc));
            buf.extend_from_slice(&u32_le(size));
            buf.extend_from_slice(&u32_le(size));
            buf.extend_from_slice(&u16_le(name_len));
            buf.extend_from_slice(&u16_le(0));
        };
        self.out.extend_from_slice(&u32_le(0x0403_4b50));
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        self.central.extend_from_slice(&u32_le(0x0201_4b50));
        self.central.extend_from_slice(&u16_le(20));
        common(&mut self.central);
        self.central.extend_from_slice(&u16_le(0)); // comment length
        self.central.extend_from_slice(&u16_le(0)); // disk number
        self.central.extend_from_slice(&u16_le(0)); // internal attributes
        self.central.extend_from_slice(&u32_le(0)); // external attributes
        self.central.extend_from_slice(&u32_le(offset));
        self.central.extend_from_slice(name.as_bytes());
        Ok(())
    }

    /// Writes the central directory and returns the archive.
    pub fn finish(mut self) -> Result<Vec<u8>, ZipError> {
        let offset =
            u32::try_from(self.out.len()).map_err(|_| ZipError::TooLarge("archive size"))?;
        let size =
            u32::try_from(self.central.len()).map_err(|_| ZipError::TooLarge("directory"))?;
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(&u32_le(0x0605_4b50));
        self.out.extend_from_slice(&u16_le(0));
        self.out.extend_from_slice(&u16_le(0));
        self.out.extend_from_slice(&u16_le(self.entries));
        self.out.extend_from_slice(&u16_le(self.entries));
        self.out.extend_from_slice(&u32_le(size));
        self.out.extend_from_slice(&u32_le(offset));
        self.out.extend_from_slice(&u16_le(0));
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32 check value: CRC of the ASCII digits "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn an_archive_has_local_headers_a_directory_and_an_end_record() {
        let mut zip = ZipWriter::new();
        zip.add("letters.csv", b"a,b\n1,2\n").unwrap();
        zip.add("qr/L1.svg", b"<svg/>").unwrap();
        let bytes = zip.finish().unwrap();
        assert_eq!(&bytes[..4], &[0x50, 0x4b, 0x03, 0x04]);
        let end = bytes.len() - 22;
        assert_eq!(&bytes[end..end + 4], &[0x50, 0x4b, 0x05, 0x06]);
        assert_eq!(u16::from_le_bytes([bytes[end + 10], bytes[end + 11]]), 2);
        // The first entry's data follows its 30-byte header and name.
        let data_start = 30 + "letters.csv".len();
        assert_eq!(&bytes[data_start..data_start + 8], b"a,b\n1,2\n");
    }
}
