//! A demo address register grown from a real postcode frame.
//!
//! No open data lists the addresses of a council area, but Ordnance Survey Code-Point Open
//! lists every postcode unit with its ward. So [`read_postcode_frame`] reads that file and
//! [`expand`] grows each postcode into synthetic households (a UK postcode holds about 15
//! delivery points on average). Only postcodes and wards are real; anything that shows this
//! register must say so with [`SYNTHETIC_NOTE`]. Each ward gets a random deprivation decile
//! so that a demo can oversample deciles 1 to 3; it is NOT Index of Multiple Deprivation data.
//!
//! Each postcode and each ward draws from its own ChaCha20 stream, seeded with the seed
//! XOR a 64-bit FNV-1a hash of its code (portable and fixed, unlike `DefaultHasher`): the
//! same seed gives the same register everywhere, and adding a postcode to the frame leaves
//! the others' households, streets and deciles unchanged.

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::domain::register::postcode::Postcode;

/// Says which parts of a demo register are real and which are invented.
pub const SYNTHETIC_NOTE: &str = "Postcodes and ward codes are real (Ordnance Survey \
    Code-Point Open 2014, contains OS data © Crown copyright and database right 2014, \
    Open Government Licence v3.0), while house numbers, street names, UPRNs and \
    deprivation deciles are synthetic.";

/// Average number of delivery points in a UK postcode, a sensible `households_per_postcode`.
pub const UK_MEAN_HOUSEHOLDS_PER_POSTCODE: f64 = 15.0;

/// Largest mean number of households per postcode that [`expand`] accepts.
pub const MAX_HOUSEHOLDS_PER_POSTCODE: f64 = 100.0;

/// Share of postcodes that [`expand`] makes a block of flats rather than a row of houses.
const FLATS_SHARE: f64 = 0.1;

/// Smallest synthetic UPRN: demo UPRNs are 12 digits beginning 999, easy to recognise.
const FIRST_DEMO_UPRN: u64 = 999_000_000_000;

/// Words from which synthetic street names are made, plain and common in English towns.
const STREET_NAMES: &str = "Mill Church Station Park Victoria Orchard Meadow Chapel School \
    Manor Oak Willow Elm Beech Hawthorn Bridge Brook Green Hill Springfield Grange Cedar";

/// Endings of synthetic street names.
const STREET_KINDS: &str = "Road Street Lane Close Avenue Way Drive Crescent Gardens Grove";

/// Header of the register file written by [`write_register_csv`].
const REGISTER_HEADER: &str = "uprn,line1,line2,town,postcode,ward_code,deprivation_decile";

/// One postcode unit of the frame and the ward it lies in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePostcode {
    /// The postcode, in normal form.
    pub postcode: Postcode,
    /// GSS code of the ward, such as `E05004418`.
    pub ward_code: String,
}

/// One synthetic household of the demo register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAddress {
    /// Synthetic 12-digit UPRN beginning `999`; it identifies no real property.
    pub uprn: String,
    /// `12 Mill Lane` for a house, `Flat 3` for a flat; both synthetic.
    pub line1: String,
    /// For a flat, the building's number and street (`7 Oak Close`); otherwise `None`.
    pub line2: Option<String>,
    /// The post town given to [`expand`].
    pub town: String,
    /// The real postcode this household was grown from.
    pub postcode: Postcode,
    /// The real ward of that postcode.
    pub ward_code: String,
    /// Synthetic decile from 1 (most deprived) to 10, the same for every address in a
    /// ward; NOT taken from the Index of Multiple Deprivation.
    pub deprivation_decile: i16,
}

/// Why a postcode frame could not be read or a register not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    /// The header does not name a column the frame needs.
    #[error("the postcode frame has no {column:?} column in its header")]
    MissingColumn {
        /// The column looked for.
        column: &'static str,
    },
    /// A row of the frame is not a postcode and ward code, or repeats a postcode.
    #[error("line {line} of the postcode frame {reason}")]
    BadRow {
        /// Line number in the file, counting the header as line 1.
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// The frame could not be read or the register not written.
    #[error("CSV input or output failed: {0}")]
    Csv(String),
}

/// Reads a Code-Point Open frame (`postcode,district_code,ward_code,easting,northing`).
///
/// The header is required; only the `postcode` and `ward_code` columns are used, wherever
/// they are. Postcodes are normalised by [`Postcode::parse`], so the fixed-width forms
/// `GL193BB` and `GL1 1AA` both work. A row with a bad postcode, a ward code that is not a
/// GSS code (a letter and eight digits), the wrong number of fields or a postcode already
/// seen is an error naming its line.
pub fn read_postcode_frame<R: std::io::Read>(reader: R) -> Result<Vec<FramePostcode>, DemoError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv.headers().map_err(read_error)?.clone();
    let column = |column: &'static str| {
        let position = headers.iter().position(|name| name == column);
        position.ok_or(DemoError::MissingColumn { column })
    };
    let (postcode_at, ward_at) = (column("postcode")?, column("ward_code")?);

    let mut first_line: HashMap<Postcode, u64> = HashMap::new();
    let mut frame = Vec::new();
    for record in csv.records() {
        let record = record.map_err(read_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        let bad = |reason: String| DemoError::BadRow { line, reason };
        let postcode = Postcode::parse(&record[postcode_at]).map_err(|e| bad(e.to_string()))?;
        let ward_code = record[ward_at].to_owned();
        if !is_gss_code(&ward_code) {
            return Err(bad(format!("has ward code {ward_code:?}, not a GSS code")));
        }
        if let Some(earlier) = first_line.insert(postcode.clone(), line) {
            return Err(bad(format!("repeats {postcode} from line {earlier}")));
        }
        frame.push(FramePostcode {
            postcode,
            ward_code,
        });
    }
    Ok(frame)
}

/// Grows a synthetic register from `frame`, with `town` as every address's post town.
///
/// A postcode's household count is a uniform real number from 1 to `2 × mean − 1`, rounded
/// up with probability equal to its fraction (so without bias): at least 1, and on average
/// `households_per_postcode`, which is clamped to 1..=[`MAX_HOUSEHOLDS_PER_POSTCODE`] (NaN
/// counts as 1). One postcode in ten is a block of flats (`Flat 1`… with the building in
/// `line2`); the others are houses numbered from 1 on one synthetic street. UPRNs are random
/// 12-digit numbers beginning 999, unique in the register; a ward's decile depends only on
/// the seed and the ward code. The result is sorted by postcode and then number, and a
/// postcode listed twice is expanded once, with the ward code that sorts first.
pub fn expand(
    frame: &[FramePostcode],
    town: &str,
    households_per_postcode: f64,
    seed: u64,
) -> Vec<DemoAddress> {
    // NaN fails the comparison, so it counts as 1 like any mean below 1.
    let mean = if households_per_postcode >= 1.0 {
        households_per_postcode.min(MAX_HOUSEHOLDS_PER_POSTCODE)
    } else {
        1.0
    };
    let mut units: Vec<&FramePostcode> = frame.iter().collect();
    units.sort_by(|a, b| (&a.postcode, &a.ward_code).cmp(&(&b.postcode, &b.ward_code)));
    units.dedup_by(|later, first| later.postcode == first.postcode);

    let names: Vec<&str> = STREET_NAMES.split_whitespace().collect();
    let kinds: Vec<&str> = STREET_KINDS.split_whitespace().collect();
    let mut deciles: HashMap<&str, i16> = HashMap::new();
    let mut uprns: HashSet<String> = HashSet::new();
    let mut register = Vec::new();
    for unit in units {
        let decile = *deciles
            .entry(unit.ward_code.as_str())
            .or_insert_with(|| stream(seed, "ward", &unit.ward_code).random_range(1..=10));
        let mut rng = stream(seed, "postcode", unit.postcode.as_str());
        let spread = rng.random::<f64>() * 2.0 * (mean - 1.0);
        // 1 + spread lies in [1, 2·mean − 1); adding a uniform [0, 1) before flooring
        // rounds it up with probability equal to its fraction, keeping the mean exact.
        let households = (1.0 + spread + rng.random::<f64>()).floor() as u32;
        let name = names[rng.random_range(0..names.len())];
        let street = format!("{name} {}", kinds[rng.random_range(0..kinds.len())]);
        let building = rng
            .random_bool(FLATS_SHARE)
            .then(|| format!("{} {street}", rng.random_range(1..=99)));
        for number in 1..=households {
            let uprn = loop {
                let uprn = (FIRST_DEMO_UPRN + rng.random_range(0..1_000_000_000)).to_string();
                // A clash is about one in 10^9 per pair; drawing again keeps UPRNs unique.
                if uprns.insert(uprn.clone()) {
                    break uprn;
                }
            };
            let (line1, line2) = match &building {
                Some(building) => (format!("Flat {number}"), Some(building.clone())),
                None => (format!("{number} {street}"), None),
            };
            register.push(DemoAddress {
                uprn,
                line1,
                line2,
                town: town.to_owned(),
                postcode: unit.postcode.clone(),
                ward_code: unit.ward_code.clone(),
                deprivation_decile: decile,
            });
        }
    }
    register
}

/// Writes the register as CSV with the header
/// `uprn,line1,line2,town,postcode,ward_code,deprivation_decile`; a missing `line2` is
/// an empty field.
pub fn write_register_csv<W: std::io::Write>(
    addresses: &[DemoAddress],
    writer: W,
) -> Result<(), DemoError> {
    let write_error = |error: csv::Error| DemoError::Csv(error.to_string());
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(REGISTER_HEADER.split(','))
        .map_err(write_error)?;
    for address in addresses {
        let decile = address.deprivation_decile.to_string();
        csv.write_record([
            address.uprn.as_str(),
            &address.line1,
            address.line2.as_deref().unwrap_or(""),
            &address.town,
            address.postcode.as_str(),
            &address.ward_code,
            &decile,
        ])
        .map_err(write_error)?;
    }
    csv.flush()
        .map_err(|error| DemoError::Csv(error.to_string()))
}

/// Turns a CSV reading error into a [`DemoError`], naming the line of a short or long row.
fn read_error(error: csv::Error) -> DemoError {
    let line = error.position().map_or(0, csv::Position::line);
    let reason = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, .. } => {
            format!("does not have the header's {expected_len} fields")
        }
        _ => return DemoError::Csv(error.to_string()),
    };
    DemoError::BadRow { line, reason }
}

/// Whether `code` has the shape of a GSS area code: an upper-case letter and eight digits.
fn is_gss_code(code: &str) -> bool {
    let mut chars = code.chars();
    chars.next().is_some_and(|ch| ch.is_ascii_uppercase())
        && code.len() == 9
        && chars.all(|ch| ch.is_ascii_digit())
}

/// The ChaCha20 stream for one named thing (`kind` keeps a ward and a postcode apart).
fn stream(seed: u64, kind: &str, name: &str) -> ChaCha20Rng {
    // 64-bit FNV-1a: a fixed, documented hash, so the streams never change between builds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in kind.bytes().chain([b':']).chain(name.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    ChaCha20Rng::seed_from_u64(seed ^ hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first rows of the Tewkesbury frame (OS Code-Point Open 08/2014, OGL v3).
    const TEWKESBURY_ROWS: &str = "postcode,district_code,ward_code,easting,northing\n\
        GL193BB,E07000083,E05004418,379773,223031\n\
        GL194AA,E07000083,E05008569,387116,225272\n\
        GL1 1AA,E07000083,E05008569,387673,225839\n";

    fn read(text: &str) -> Result<Vec<FramePostcode>, DemoError> {
        read_postcode_frame(text.as_bytes())
    }

    /// `size` distinct valid postcodes spread over `wards` wards.
    fn frame_of(size: usize, wards: usize) -> Vec<FramePostcode> {
        let letter = |n: usize| b"ABDEFGHJLNPQRSTUWXYZ"[n % 20] as char;
        let unit = |i: usize| {
            let (district, sector) = (i / 4000 + 1, i / 400 % 10);
            let code = format!("GL{district} {sector}{}{}", letter(i), letter(i / 20));
            let (postcode, ward_code) = (code.parse().unwrap(), format!("E0500{:04}", i % wards));
            FramePostcode {
                postcode,
                ward_code,
            }
        };
        (0..size).map(unit).collect()
    }

    #[test]
    fn a_code_point_frame_is_read_with_normalised_postcodes() {
        let frame = read(TEWKESBURY_ROWS).unwrap();
        let codes: Vec<String> = (frame.iter())
            .map(|p| format!("{} {}", p.postcode, p.ward_code))
            .collect();
        let expected = "GL19 3BB E05004418, GL19 4AA E05008569, GL1 1AA E05008569";
        assert_eq!(codes.join(", "), expected);
    }

    #[test]
    fn a_frame_without_a_postcode_or_ward_code_column_is_rejected() {
        let missing = |column| Err(DemoError::MissingColumn { column });
        let no_ward = read("postcode,easting\nGL193BB,379773\n");
        assert_eq!(no_ward, missing("ward_code"));
        assert_eq!(read(""), missing("postcode"));
    }

    #[test]
    fn a_bad_row_is_an_error_naming_its_line() {
        let error = |text: &str| read(text).unwrap_err().to_string();
        let cases = [
            ("GL19-3BD,E05004418", "postcode \"GL19-3BD\" contains '-'"),
            ("GL194AA,GL19", "has ward code \"GL19\", not a GSS code"),
            ("GL194AA", "does not have the header's 2 fields"),
            ("gl19 3bb,E05004418", "repeats GL19 3BB from line 2"),
        ];
        for (row, message) in cases {
            let text = format!("postcode,ward_code\nGL193BB,E05004418\n{row}\n");
            let expected = format!("line 3 of the postcode frame {message}");
            assert!(error(&text).starts_with(&expected), "{}", error(&text));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_register_in_any_frame_order_and_another_seed_not() {
        let frame = frame_of(500, 7);
        let register = expand(&frame, "Tewkesbury", 15.0, 42);
        let reversed: Vec<FramePostcode> = frame.iter().rev().cloned().collect();
        assert_eq!(register, expand(&reversed, "Tewkesbury", 15.0, 42));
        assert_ne!(register, expand(&frame, "Tewkesbury", 15.0, 43));
    }

    #[test]
    fn seed_one_grows_these_households_from_three_tewkesbury_postcodes() {
        let register = expand(&read(TEWKESBURY_ROWS).unwrap(), "Tewkesbury", 3.0, 1);
        let lines: Vec<&str> = register.iter().map(|a| a.line1.as_str()).collect();
        let expected = "1 Green Drive, 2 Green Drive, 3 Green Drive, 1 Grange Road, \
            2 Grange Road, 3 Grange Road, 4 Grange Road, 5 Grange Road, 1 Green Avenue, \
            2 Green Avenue, 3 Green Avenue";
        assert_eq!(lines.join(", "), expected);
        let mut deciles: Vec<(&str, i16)> = (register.iter())
            .map(|a| (a.postcode.as_str(), a.deprivation_decile))
            .collect();
        deciles.dedup();
        assert_eq!(deciles, [("GL1 1AA", 6), ("GL19 3BB", 4), ("GL19 4AA", 6)]);
        assert_eq!(register[0].uprn, "999014184172");
        assert!(
            register
                .iter()
                .all(|a| a.town == "Tewkesbury" && a.line2.is_none())
        );
    }

    #[test]
    fn households_per_postcode_run_from_one_to_twice_the_mean_less_one_and_total_near_it() {
        let frame = frame_of(3_000, 20);
        for (mean, most) in [(UK_MEAN_HOUSEHOLDS_PER_POSTCODE, 29), (2.5, 4), (1.0, 1)] {
            let mut per_postcode: HashMap<Postcode, usize> = HashMap::new();
            for address in expand(&frame, "Gloucester", mean, 7) {
                *per_postcode.entry(address.postcode).or_default() += 1;
            }
            assert_eq!(per_postcode.len(), 3_000);
            let range = (per_postcode.values().min(), per_postcode.values().max());
            assert_eq!(range, (Some(&1), Some(&most)), "mean {mean}");
            let total = per_postcode.values().sum::<usize>() as f64;
            let expected = 3_000.0 * mean;
            let within = (total - expected).abs() <= 0.1 * expected;
            assert!(within, "{total} households for mean {mean}");
        }
        assert_eq!(expand(&frame, "Gloucester", 0.0, 7).len(), 3_000);
        assert_eq!(expand(&frame, "Gloucester", f64::NAN, 7).len(), 3_000);
    }

    #[test]
    fn uprns_are_unique_demo_numbers_and_each_ward_keeps_its_code_and_one_decile() {
        let frame = frame_of(3_000, 12);
        let register = expand(&frame, "Gloucester", 15.0, 3);
        let uprns: HashSet<&str> = register.iter().map(|a| a.uprn.as_str()).collect();
        assert_eq!(uprns.len(), register.len());
        let demo_uprn = |u: &str| u.len() == 12 && u.starts_with("999") && u.parse::<u64>().is_ok();
        assert!(uprns.into_iter().all(demo_uprn));

        let ward_of: HashMap<&Postcode, &str> = (frame.iter())
            .map(|p| (&p.postcode, p.ward_code.as_str()))
            .collect();
        let mut decile_of: HashMap<&str, i16> = HashMap::new();
        for a in &register {
            assert_eq!(a.ward_code, ward_of[&a.postcode]);
            let decile = decile_of
                .entry(&a.ward_code)
                .or_insert(a.deprivation_decile);
            assert_eq!(a.deprivation_decile, *decile);
            assert!((1..=10).contains(decile));
        }
        assert_eq!(decile_of.len(), 12);
    }

    #[test]
    fn about_one_postcode_in_ten_is_a_block_of_flats_naming_its_building() {
        let register = expand(&frame_of(2_000, 3), "Gloucester", 1.0, 11);
        let flats: Vec<&DemoAddress> = register.iter().filter(|a| a.line2.is_some()).collect();
        assert!((150..250).contains(&flats.len()), "{} flats", flats.len());
        assert!(flats.iter().all(|a| a.line1 == "Flat 1"));
        for address in &register {
            let street = address.line2.as_deref().unwrap_or(&address.line1);
            let (number, rest) = street.split_once(' ').unwrap();
            let kind = rest.rsplit(' ').next().unwrap();
            assert!(number.parse::<u32>().unwrap() >= 1 && STREET_KINDS.contains(kind));
        }
    }

    #[test]
    fn the_register_csv_round_trips_with_its_header() {
        let register = expand(&frame_of(200, 4), "Gloucester", 3.0, 8);
        let has_flats = register.iter().any(|a| a.line2.is_some());
        let mut bytes = Vec::new();
        write_register_csv(&register, &mut bytes).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<&str> = reader.headers().unwrap().iter().collect();
        let expected = "uprn,line1,line2,town,postcode,ward_code,deprivation_decile";
        assert_eq!((header.join(","), has_flats), (expected.to_owned(), true));
        let parsed: Vec<DemoAddress> = (reader.records().map(Result::unwrap))
            .map(|row| DemoAddress {
                uprn: row[0].into(),
                line1: row[1].into(),
                line2: Some(row[2].to_owned()).filter(|line| !line.is_empty()),
                town: row[3].into(),
                postcode: row[4].parse().unwrap(),
                ward_code: row[5].into(),
                deprivation_decile: row[6].parse().unwrap(),
            })
            .collect();
        assert_eq!(parsed, register);
    }
}
