//! The printer's bundle of invitation letters: the mail-merge CSV and a QR code per letter
//! (PNG and SVG), rendered on every core and handed over in letter order.
//!
//! Drawing QR codes is nearly all of an export's work (about 1 ms a letter, mostly in
//! choosing the QR mask and compressing the PNG), so letters are rendered in parallel, a wave of batches at a
//! time: memory stays bounded however many letters there are, and the output is the same
//! as rendering them one by one.
//!
//! The ZIP container comes from the `zip` crate. Entries are stored, not compressed: PNG
//! is compressed already, and deflating the SVGs on one thread would cost more time than
//! the rest of the export.

use std::io::Write;

use crate::domain::qr::{self, QrError};

/// One letter ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedLetter {
    /// Stable reference printed on the letter, `L<id>`.
    pub reference: String,
    /// The address block.
    pub address: LetterAddress,
    /// The code, grouped for reading (`7K3M9-QXW25`).
    pub code: String,
    /// The personal URL (also in the QR code).
    pub url: String,
}

/// The address a letter goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetterAddress {
    /// First line.
    pub line1: String,
    /// Second line, if any.
    pub line2: Option<String>,
    /// Third line, if any.
    pub line3: Option<String>,
    /// Post town, if any.
    pub town: Option<String>,
    /// Postcode in normal form.
    pub postcode: String,
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A QR code could not be drawn (a URL too long for any QR version).
    #[error(transparent)]
    Qr(#[from] QrError),
    /// Writing the CSV or the ZIP failed.
    #[error("writing the bundle failed: {0}")]
    Write(String),
}

impl From<std::io::Error> for BundleError {
    fn from(err: std::io::Error) -> Self {
        Self::Write(err.to_string())
    }
}

impl From<zip::result::ZipError> for BundleError {
    fn from(err: zip::result::ZipError) -> Self {
        Self::Write(err.to_string())
    }
}

impl From<csv::Error> for BundleError {
    fn from(err: csv::Error) -> Self {
        Self::Write(err.to_string())
    }
}

/// Pixels per QR module in the PNG: 8 px gives a 2.5–3 cm code at 300 dpi.
pub const PNG_MODULE_PX: u32 = 8;

/// The mail-merge CSV: reference, address block, code, URL and QR image names.
pub fn mail_merge_csv(letters: &[PrintedLetter]) -> Result<Vec<u8>, BundleError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "reference",
        "addressee",
        "line1",
        "line2",
        "line3",
        "town",
        "postcode",
        "code",
        "url",
        "qr_png",
        "qr_svg",
    ])?;
    for l in letters {
        let a = &l.address;
        writer.write_record([
            l.reference.as_str(),
            "The Resident",
            &a.line1,
            a.line2.as_deref().unwrap_or(""),
            a.line3.as_deref().unwrap_or(""),
            a.town.as_deref().unwrap_or(""),
            &a.postcode,
            &l.code,
            &l.url,
            &format!("qr/{}.png", l.reference),
            &format!("qr/{}.svg", l.reference),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| BundleError::Write(e.to_string()))
}

/// The QR images of one letter: (PNG bytes, SVG text).
pub fn qr_images(letter: &PrintedLetter) -> Result<(Vec<u8>, String), QrError> {
    let matrix = qr::encode(&letter.url)?;
    let png = qr::to_png(&matrix, PNG_MODULE_PX)?;
    Ok((png, qr::to_svg(&matrix, PNG_MODULE_PX)))
}

/// Letters rendered by one thread before the results are handed over.
const BATCH: usize = 128;

/// One batch's images, (PNG, SVG) per letter.
type Rendered = Result<Vec<(Vec<u8>, String)>, QrError>;

/// Renders every letter's QR images on `threads` threads (at least one) and hands them to
/// `sink` in letter order, with the letter's index.
pub fn render_in_order<E>(
    letters: &[PrintedLetter],
    threads: usize,
    mut sink: impl FnMut(usize, &PrintedLetter, Vec<u8>, String) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<QrError>,
{
    let threads = threads.max(1);
    for (wave_index, wave) in letters.chunks(BATCH * threads).enumerate() {
        let rendered: Vec<Rendered> = std::thread::scope(|scope| {
            let mut batches = wave.chunks(BATCH);
            // The current thread takes the first batch; the others get a thread each.
            let first = batches.next();
            let handles: Vec<_> = batches
                .map(|batch| scope.spawn(move || render(batch)))
                .collect();
            let mut results = vec![first.map_or(Ok(Vec::new()), render)];
            for handle in handles {
                results.push(handle.join().unwrap_or_else(|_| {
                    Err(QrError::Png("a rendering thread panicked".to_owned()))
                }));
            }
            results
        });
        let mut index = wave_index * BATCH * threads;
        for batch in rendered {
            for (png, svg) in batch? {
                sink(index, &letters[index], png, svg)?;
                index += 1;
            }
        }
    }
    Ok(())
}

fn render(batch: &[PrintedLetter]) -> Rendered {
    batch.iter().map(qr_images).collect()
}

/// Writes the bundle as a ZIP to `out` (which need not seek): `letters.csv`, then
/// `qr/<reference>.png` and `.svg` for every letter. `progress` hears how many letters are
/// done. Entries are dated 1 January 2026, so the same letters give the same bytes.
pub fn write_zip<W: Write>(
    letters: &[PrintedLetter],
    out: W,
    threads: usize,
    mut progress: impl FnMut(usize),
) -> Result<W, BundleError> {
    let date = zip::DateTime::from_date_and_time(2026, 1, 1, 0, 0, 0)
        .map_err(|e| BundleError::Write(e.to_string()))?;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(date);
    let mut zip = zip::ZipWriter::new_stream(out);
    zip.start_file("letters.csv", options)?;
    zip.write_all(&mail_merge_csv(letters)?)?;
    render_in_order(letters, threads, |index, letter, png, svg| {
        zip.start_file(format!("qr/{}.png", letter.reference), options)?;
        zip.write_all(&png)?;
        zip.start_file(format!("qr/{}.svg", letter.reference), options)?;
        zip.write_all(svg.as_bytes())?;
        progress(index + 1);
        Ok::<(), BundleError>(())
    })?;
    Ok(zip.finish()?.into_inner())
}

/// How many threads to render on: every core the process may use.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letters(n: usize) -> Vec<PrintedLetter> {
        (0..n)
            .map(|i| PrintedLetter {
                reference: format!("L{i}"),
                address: LetterAddress {
                    line1: format!("{i} High Street"),
                    line2: None,
                    line3: None,
                    town: Some("Tewkesbury".to_owned()),
                    postcode: "GL20 5AA".to_owned(),
                },
                code: "7K3M9-QXW25".to_owned(),
                url: format!("https://panel.example.gov.uk/join?code=7K3M9-QXW{i:02}"),
            })
            .collect()
    }

    #[test]
    fn parallel_rendering_hands_letters_over_in_order_with_their_own_images() {
        let letters = letters(300);
        let mut seen = Vec::new();
        render_in_order(&letters, 3, |index, letter, png, svg| {
            let (png_alone, svg_alone) = qr_images(letter)?;
            assert_eq!((png, svg), (png_alone, svg_alone));
            seen.push((index, letter.reference.clone()));
            Ok::<(), QrError>(())
        })
        .unwrap();
        let expected: Vec<(usize, String)> = (0..300).map(|i| (i, format!("L{i}"))).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn the_zip_holds_the_csv_and_two_images_per_letter_and_is_reproducible() {
        let letters = letters(5);
        let mut done = 0;
        let one = write_zip(&letters, Vec::new(), 2, |n| done = n).unwrap();
        let two = write_zip(&letters, Vec::new(), 1, |_| {}).unwrap();
        assert_eq!(done, 5);
        assert_eq!(one, two, "the same letters give the same bytes");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(one)).unwrap();
        assert_eq!(archive.len(), 11);
        let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
        assert!(names.contains(&"letters.csv".to_owned()));
        assert!(names.contains(&"qr/L4.svg".to_owned()));
        let mut csv = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("letters.csv").unwrap(), &mut csv)
            .unwrap();
        assert_eq!(csv.lines().count(), 6);
        assert!(csv.contains("4 High Street"));
    }
}
