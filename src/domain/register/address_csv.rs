//! Streaming reader for a council's address register, supplied as CSV.
//!
//! The register is the sampling frame for a panel, so every address in it must have a
//! key, a first line, a valid postcode and a GSS ward code. Councils export it from
//! different systems, so columns are found by header name (ignoring case, spaces, `_`
//! and `-`, with a few common aliases) rather than by position, and unknown columns are
//! ignored but reported.
//!
//! Registers run to a million rows, so the file is read one row at a time into a reused
//! record: [`AddressCsvReader::next_row`] gives each row as an [`AddressRecord`] or a
//! [`RowRejection`] saying why it was refused, and the caller decides what to keep. Only
//! an unreadable file or one longer than the agreed limit stops the import
//! ([`FatalError`]); a bad header is refused before any row is read ([`HeaderError`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, RandomState};
use std::io::Read;

use csv::ByteRecord;

use crate::domain::register::postcode::Postcode;
use crate::domain::text_input::{NOT_UTF8_ADVICE, TextEncoding, TextInput};

/// Human names of the required columns, as reported in [`HeaderError::MissingColumns`].
pub const REQUIRED_COLUMNS: [&str; 4] = ["address key (uprn)", "line1", "postcode", "ward_code"];

/// Most characters in an address or household key.
const MAX_KEY_CHARS: usize = 64;

/// Most characters in an address line or town.
const MAX_TEXT_CHARS: usize = 200;

/// A field a column can map to: its name in messages, whether it is required, and the
/// header names that map to it, lower case without spaces, `_` or `-`.
pub(super) type FieldSpec = (&'static str, bool, &'static [&'static str]);

/// The register's fields; [`parse_row`] relies on this order.
const FIELDS: [FieldSpec; 9] = [
    ("address key (uprn)", true, &["uprn", "addresskey", "key"]),
    ("line1", true, &["line1", "addressline1", "address1"]),
    ("line2", false, &["line2", "addressline2", "address2"]),
    ("line3", false, &["line3", "addressline3", "address3"]),
    ("town", false, &["town", "posttown", "city"]),
    ("postcode", true, &["postcode"]),
    ("ward_code", true, &["wardcode", "ward"]),
    (
        "deprivation_decile",
        false,
        &["deprivationdecile", "imddecile", "decile"],
    ),
    ("household_key", false, &["householdkey", "household"]),
];

/// One accepted row of the register, trimmed and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    /// Physical line of the file (1-based) on which the row starts.
    pub line: u64,
    /// The council's key for the address, usually the UPRN.
    pub address_key: String,
    /// First line of the address.
    pub line1: String,
    /// Second line of the address, if any.
    pub line2: Option<String>,
    /// Third line of the address, if any.
    pub line3: Option<String>,
    /// Post town, if given.
    pub town: Option<String>,
    /// The postcode in normal form, e.g. `GL19 3BB`.
    pub postcode: Postcode,
    /// GSS code of the electoral ward, upper case, e.g. `E05004418`.
    pub ward_code: String,
    /// Index of Multiple Deprivation decile (1 most deprived to 10), if given.
    pub deprivation_decile: Option<i16>,
    /// Key grouping addresses into households; the address key when not given.
    pub household_key: String,
}

/// A row that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowRejection {
    /// Physical line of the file (1-based) on which the row starts.
    pub line: u64,
    /// The row's key as given (the address key of a register row), if it has one.
    #[serde(default)]
    pub key: Option<String>,
    /// The field at fault, when one is (e.g. `postcode`); none when the row as a whole
    /// is wrong (too few fields, a duplicate key).
    #[serde(default)]
    pub column: Option<String>,
    /// What is wrong, naming the column and the value given.
    pub reason: String,
}

impl RowRejection {
    /// The columns of a rejection list as CSV, in [`RowRejection::csv_record`] order.
    pub const CSV_HEADER: [&'static str; 4] = ["line", "key", "column", "reason"];

    /// This rejection as a row of a rejection list.
    pub fn csv_record(&self) -> [String; 4] {
        [
            self.line.to_string(),
            self.key.clone().unwrap_or_default(),
            self.column.clone().unwrap_or_default(),
            self.reason.clone(),
        ]
    }
}

/// Why a row is refused: the field at fault, if one is, and what is wrong with it.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) column: Option<&'static str>,
    pub(super) reason: String,
}

impl Refusal {
    /// A refusal of the row as a whole.
    pub(super) fn row(reason: String) -> Self {
        Self {
            column: None,
            reason,
        }
    }

    /// Makes a reason into a refusal of field `column`.
    pub(super) fn at(column: &'static str) -> impl FnOnce(String) -> Self {
        move |reason| Self {
            column: Some(column),
            reason,
        }
    }

    /// The rejection of the row on `line` with key `key`.
    pub(super) fn on_line(self, line: u64, key: Option<String>) -> RowRejection {
        RowRejection {
            line,
            key,
            column: self.column.map(str::to_owned),
            reason: self.reason,
        }
    }
}

/// Why the header row cannot be used; nothing has been imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The file has no header row.
    #[error("the file is empty; the first row must name the columns")]
    Empty,
    /// The header row is not UTF-8 text.
    #[error("the header row is {NOT_UTF8_ADVICE}")]
    NotUtf8,
    /// Required columns are absent.
    #[error("the header has no column for {}", .missing.join(", "))]
    MissingColumns {
        /// Names of the missing columns, from [`REQUIRED_COLUMNS`].
        missing: Vec<&'static str>,
    },
    /// Two columns map to the same field, e.g. both `uprn` and `key`.
    #[error("the header has more than one column for {field}")]
    DuplicateColumn {
        /// Name of the field named twice.
        field: &'static str,
    },
    /// The header row could not be read.
    #[error("could not read the header row: {0}")]
    Csv(String),
}

/// Why reading stopped part way; the caller should discard what it has imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FatalError {
    /// The underlying reader failed.
    #[error("could not read the file: {0}")]
    Io(String),
    /// The file has more data rows than allowed.
    #[error("the file has more than {limit} rows")]
    TooManyRows {
        /// The most rows allowed.
        limit: u64,
    },
}

/// Whether `s` is a GSS code of any kind: an upper-case letter then 8 digits.
pub fn is_gss_code(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 9 && bytes[0].is_ascii_uppercase() && bytes[1..].iter().all(u8::is_ascii_digit)
}

/// Whether `s` is a GSS code for a UK area: E, W, S or N then 8 digits, e.g. `E05004418`.
pub fn is_ward_code(s: &str) -> bool {
    is_gss_code(s) && matches!(s.as_bytes()[0], b'E' | b'W' | b'S' | b'N')
}

/// A CSV source read one row at a time into a reused record, with a row limit.
pub(super) struct Rows<R: Read> {
    csv: csv::Reader<TextInput<R>>,
    record: ByteRecord,
    rows_read: u64,
    max_rows: u64,
}

impl<R: Read> Rows<R> {
    /// Opens `reader`, which is in `encoding`, and returns the header names, trimmed and
    /// without any BOM.
    pub(super) fn open(
        reader: R,
        max_rows: u64,
        encoding: TextEncoding,
    ) -> Result<(Self, Vec<String>), HeaderError> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(TextInput::new(reader, encoding));
        let header = csv
            .byte_headers()
            .map_err(|e| HeaderError::Csv(e.to_string()))?;
        let mut names = Vec::with_capacity(header.len());
        for raw in header {
            let name = std::str::from_utf8(raw).map_err(|_| HeaderError::NotUtf8)?;
            // csv-core strips a BOM only when it arrives in one read; this catches the rest.
            names.push(name.trim_start_matches('\u{feff}').trim().to_owned());
        }
        if names.iter().all(String::is_empty) {
            return Err(HeaderError::Empty);
        }
        let rows = Self {
            csv,
            record: ByteRecord::new(),
            rows_read: 0,
            max_rows,
        };
        Ok((rows, names))
    }

    /// Reads the next row that is not blank, with the line it starts on; blank rows
    /// still count towards the limit.
    pub(super) fn next(&mut self) -> Result<Option<(u64, &ByteRecord)>, FatalError> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(error) => return Err(FatalError::Io(error.to_string())),
            }
            self.rows_read += 1;
            if self.rows_read > self.max_rows {
                return Err(FatalError::TooManyRows {
                    limit: self.max_rows,
                });
            }
            // Spreadsheets often save trailing rows of empty cells; they carry no data.
            if self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            let line = self.record.position().map_or(0, csv::Position::line);
            return Ok(Some((line, &self.record)));
        }
    }
}

/// Splits a row into trimmed text by field, given each column's field index in `specs`;
/// columns that map to no field are not looked at.
pub(super) fn row_fields<'r>(
    record: &'r ByteRecord,
    columns: &[Option<usize>],
    specs: &[FieldSpec],
    fields: &mut [&'r str],
) -> Result<(), Refusal> {
    if record.len() != columns.len() {
        return Err(Refusal::row(format!(
            "expected {} fields, found {}",
            columns.len(),
            record.len()
        )));
    }
    for (raw, column) in record.iter().zip(columns) {
        if let Some(field) = *column {
            let name = specs[field].0;
            let text = std::str::from_utf8(raw)
                .map_err(|_| Refusal::at(name)(format!("{name} is {NOT_UTF8_ADVICE}")))?;
            fields[field] = text.trim();
        }
    }
    Ok(())
}

/// Refuses text of more than `limit` characters, leaving out the text, which may be pages long.
pub(super) fn check_length(name: &str, given: &str, limit: usize) -> Result<(), String> {
    // Bytes are never fewer than characters, and far cheaper to count.
    let length = if given.len() > limit {
        given.chars().count()
    } else {
        0
    };
    if length > limit {
        return Err(format!(
            "{name} is {length} characters long; the limit is {limit}"
        ));
    }
    Ok(())
}

/// Maps each header name to the index of its field in `fields`, if any, and lists the
/// columns that map to none; refuses a header naming a field twice or missing one.
pub(super) fn map_columns(
    names: Vec<String>,
    fields: &[FieldSpec],
) -> Result<(Vec<Option<usize>>, Vec<String>), HeaderError> {
    let mut columns = Vec::with_capacity(names.len());
    let mut ignored = Vec::new();
    let mut found = vec![false; fields.len()];
    for (index, name) in names.into_iter().enumerate() {
        let normal: String = name
            .chars()
            .filter(|ch| !ch.is_whitespace() && *ch != '_' && *ch != '-')
            .flat_map(char::to_lowercase)
            .collect();
        let field = fields
            .iter()
            .position(|(_, _, names)| names.contains(&normal.as_str()));
        match field {
            Some(field) if found[field] => {
                return Err(HeaderError::DuplicateColumn {
                    field: fields[field].0,
                });
            }
            Some(field) => found[field] = true,
            None if name.is_empty() => ignored.push(format!("column {} (no name)", index + 1)),
            None => ignored.push(name),
        }
        columns.push(field);
    }
    let missing: Vec<&'static str> = fields
        .iter()
        .zip(found)
        .filter_map(|((name, required, _), found)| (*required && !found).then_some(*name))
        .collect();
    if !missing.is_empty() {
        return Err(HeaderError::MissingColumns { missing });
    }
    Ok((columns, ignored))
}

/// Reads an address register one row at a time; see the module documentation.
pub struct AddressCsvReader<R: Read> {
    rows: Rows<R>,
    columns: Vec<Option<usize>>,
    ignored: Vec<String>,
    hasher: RandomState,
    // A 64-bit hash of each accepted key, not the key, keeps a million-row file to ~40 MB.
    // The hasher is randomly keyed, so keys cannot be chosen to collide, and the chance of
    // any accidental collision in 10^6 keys is about 10^12 / 2^65, under 1 in 30 million.
    first_lines: HashMap<u64, u64>,
}

impl<R: Read> AddressCsvReader<R> {
    /// Reads the header of a file in `encoding` and maps its columns, refusing a file
    /// with more than `max_rows` data rows once it gets that far.
    pub fn new(reader: R, max_rows: u64, encoding: TextEncoding) -> Result<Self, HeaderError> {
        let (rows, names) = Rows::open(reader, max_rows, encoding)?;
        let (columns, ignored) = map_columns(names, &FIELDS)?;
        let hasher = RandomState::new();
        Ok(Self {
            rows,
            columns,
            ignored,
            hasher,
            first_lines: HashMap::new(),
        })
    }

    /// The next row as a record or a rejection, `Ok(None)` at the end of the file, or
    /// an error that should abandon the whole import. Blank rows are skipped.
    pub fn next_row(&mut self) -> Result<Option<Result<AddressRecord, RowRejection>>, FatalError> {
        let Some((line, record)) = self.rows.next()? else {
            return Ok(None);
        };
        let result = parse_row(record, &self.columns, line).and_then(|address| {
            let hash = self.hasher.hash_one(&address.address_key);
            match self.first_lines.entry(hash) {
                Entry::Occupied(first) => Err(Refusal::row(format!(
                    "duplicate address key {} (first on line {})",
                    address.address_key,
                    first.get()
                ))),
                Entry::Vacant(slot) => {
                    slot.insert(line);
                    Ok(address)
                }
            }
        });
        Ok(Some(result.map_err(|refusal| {
            refusal.on_line(line, given_key(record, &self.columns))
        })))
    }

    /// Bytes of the file read so far, for progress reporting.
    pub fn bytes_read(&self) -> u64 {
        self.rows.csv.get_ref().bytes_consumed()
    }

    /// Data rows read so far, including rejected and blank rows.
    pub fn rows_read(&self) -> u64 {
        self.rows.rows_read
    }

    /// Header names of the columns that map to no field, in file order.
    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }
}

/// The address key a refused row gives, as text (cut to a key's length), if any.
fn given_key(record: &ByteRecord, columns: &[Option<usize>]) -> Option<String> {
    let index = columns.iter().position(|field| *field == Some(0))?;
    let key = String::from_utf8_lossy(record.get(index)?);
    let key = key.trim();
    (!key.is_empty()).then(|| key.chars().take(MAX_KEY_CHARS).collect())
}

/// Validates one row's fields into a record, or gives the reason it is refused.
fn parse_row(
    record: &ByteRecord,
    columns: &[Option<usize>],
    line: u64,
) -> Result<AddressRecord, Refusal> {
    let mut fields = [""; FIELDS.len()];
    row_fields(record, columns, &FIELDS, &mut fields)?;
    let [
        key_text,
        line1,
        line2,
        line3,
        town,
        postcode,
        ward,
        decile,
        household,
    ] = fields;
    let address_key = key(FIELDS[0].0, key_text).map_err(Refusal::at(FIELDS[0].0))?;
    let ward_code = ward.to_ascii_uppercase();
    if !is_ward_code(&ward_code) {
        return Err(Refusal::at("ward_code")(format!(
            "ward_code {ward:?} is not a GSS code (E, W, S or N then 8 digits, e.g. E05004418)"
        )));
    }
    let deprivation_decile = match decile.parse::<i16>() {
        Ok(decile) if (1..=10).contains(&decile) => Some(decile),
        _ if decile.is_empty() => None,
        _ => {
            return Err(Refusal::at("deprivation_decile")(format!(
                "deprivation_decile {decile:?} is not a whole number from 1 to 10"
            )));
        }
    };
    let line1 = text("line1", line1)
        .and_then(|given| given.ok_or_else(|| "line1 is empty".to_owned()))
        .map_err(Refusal::at("line1"))?;
    Ok(AddressRecord {
        line,
        line1,
        line2: text("line2", line2).map_err(Refusal::at("line2"))?,
        line3: text("line3", line3).map_err(Refusal::at("line3"))?,
        town: text("town", town).map_err(Refusal::at("town"))?,
        postcode: Postcode::parse(postcode).map_err(|e| Refusal::at("postcode")(e.to_string()))?,
        household_key: match household {
            "" => address_key.clone(),
            given => key("household_key", given).map_err(Refusal::at("household_key"))?,
        },
        address_key,
        ward_code,
        deprivation_decile,
    })
}

/// Checks a key field: present, short and free of control characters.
fn key(name: &str, given: &str) -> Result<String, String> {
    if given.is_empty() {
        return Err(format!("{name} is empty"));
    }
    check_length(name, given, MAX_KEY_CHARS)?;
    if given.chars().any(char::is_control) {
        Err(format!("{name} {given:?} contains a control character"))
    } else {
        Ok(given.to_owned())
    }
}

/// Checks an address text field, giving `None` when it is empty.
fn text(name: &str, given: &str) -> Result<Option<String>, String> {
    check_length(name, given, MAX_TEXT_CHARS)?;
    Ok((!given.is_empty()).then(|| given.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "uprn,line1,postcode,ward_code\n";
    const ROW: &str = "K1,1 High St,GL19 3BB,E05004418\n";

    fn read_all(csv: &[u8]) -> Vec<Result<AddressRecord, RowRejection>> {
        let mut reader = AddressCsvReader::new(csv, 1_000_000, TextEncoding::Utf8).unwrap();
        std::iter::from_fn(|| reader.next_row().unwrap()).collect()
    }

    #[test]
    fn a_row_is_trimmed_and_normalised_whatever_the_header_spelling() {
        let csv = "\u{feff}Address Key, ADDRESSLINE1 ,address-line-2,Address_Line_3,Post Town,\
                   post_code,WARD,IMD Decile,Household,Notes,\n\
                   100120614963 , 1 High St ,Flat 2,, Tewkesbury ,gl193bb,e05004418, 3 ,H7,,\n\
                   K2,2 High St,,,,GL19 3BB,E05004418,,,,\n";
        let mut reader = AddressCsvReader::new(csv.as_bytes(), 10, TextEncoding::Utf8).unwrap();
        assert_eq!(reader.ignored_columns(), ["Notes", "column 11 (no name)"]);
        let first = reader.next_row().unwrap().unwrap().unwrap();
        let expected = AddressRecord {
            line: 2,
            address_key: "100120614963".into(),
            line1: "1 High St".into(),
            line2: Some("Flat 2".into()),
            line3: None,
            town: Some("Tewkesbury".into()),
            postcode: Postcode::parse("GL19 3BB").unwrap(),
            ward_code: "E05004418".into(),
            deprivation_decile: Some(3),
            household_key: "H7".into(),
        };
        assert_eq!(first, expected);
        let second = reader.next_row().unwrap().unwrap().unwrap();
        assert_eq!((second.household_key.as_str(), second.town), ("K2", None));
        assert_eq!(reader.next_row(), Ok(None));
        assert_eq!(
            (reader.rows_read(), reader.bytes_read()),
            (2, csv.len() as u64)
        );
    }

    #[test]
    fn header_problems_are_refused_before_any_row() {
        let new = |csv: &[u8]| {
            AddressCsvReader::new(csv, 10, TextEncoding::Utf8)
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(new(b""), Some(HeaderError::Empty.to_string()));
        assert_eq!(
            new(b"uprn,l\xffne1\n"),
            Some(HeaderError::NotUtf8.to_string())
        );
        let missing = new(b"uprn,town\n");
        assert_eq!(
            missing.unwrap(),
            "the header has no column for line1, postcode, ward_code"
        );
        let twice = new(b"uprn,line1,postcode,ward,key\n");
        assert_eq!(
            twice.unwrap(),
            "the header has more than one column for address key (uprn)"
        );
    }

    #[test]
    fn each_bad_row_is_rejected_with_its_line_and_a_reason_naming_the_value() {
        let lf = format!(
            "uprn,line1,town,postcode,ward_code,decile,household\n\
             ,1 High St,,GL19 3BB,E05004418,,\nK\u{7},1 High St,,GL19 3BB,E05004418,,\n\
             K3,,,GL19 3BB,E05004418,,\nK4,1 High St,{},GL19 3BB,E05004418,,\n\
             K5,1 High St,,GL19-3BB,E05004418,,\nK6,1 High St,,GL19 3BB,X05004418,,\n\
             K7,1 High St,,GL19 3BB,E05004418,11,\nK8,1 High St,,GL19 3BB,E05004418,,{}\n\
             K9,\"1 High St\nUpper Floor\",,GL19 3BB,E05004418,,\n,,,,,,\nK9,1,,GL19 3BB\n\
             K9,1 High St,,GL19 3BB,E05004418,,\n",
            "t".repeat(201),
            "h".repeat(65)
        );
        // Excel and councils' systems end lines with CRLF, inside quoted cells too.
        let crlf = lf.replace('\n', "\r\n");
        for csv in [lf, crlf] {
            check_bad_rows(csv.as_bytes());
        }
    }

    /// The rows of `each_bad_row_is_rejected_with_its_line_and_a_reason_naming_the_value`.
    fn check_bad_rows(csv: &[u8]) {
        let rows = read_all(csv);
        assert_eq!(rows[8].as_ref().unwrap().line1, "1 High St\nUpper Floor");
        let rejected: Vec<_> = rows.into_iter().filter_map(Result::err).collect();
        let lines: Vec<_> = rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9, 13, 14]);
        let keys: Vec<_> = rejected.iter().map(|r| r.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                None,
                Some("K\u{7}"),
                Some("K3"),
                Some("K4"),
                Some("K5"),
                Some("K6"),
                Some("K7"),
                Some("K8"),
                Some("K9"),
                Some("K9")
            ]
        );
        let columns: Vec<_> = rejected.iter().map(|r| r.column.as_deref()).collect();
        assert_eq!(
            columns,
            [
                Some("address key (uprn)"),
                Some("address key (uprn)"),
                Some("line1"),
                Some("town"),
                Some("postcode"),
                Some("ward_code"),
                Some("deprivation_decile"),
                Some("household_key"),
                None,
                None
            ]
        );
        let reasons: Vec<_> = rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "address key (uprn) is empty",
                "address key (uprn) \"K\\u{7}\" contains a control character",
                "line1 is empty",
                "town is 201 characters long; the limit is 200",
                "postcode \"GL19-3BB\" contains '-'; only letters, digits and spaces are allowed",
                "ward_code \"X05004418\" is not a GSS code (E, W, S or N then 8 digits, e.g. E05004418)",
                "deprivation_decile \"11\" is not a whole number from 1 to 10",
                "household_key is 65 characters long; the limit is 64",
                "expected 7 fields, found 4",
                "duplicate address key K9 (first on line 10)",
            ]
        );
    }

    #[test]
    fn a_row_that_is_not_utf8_is_rejected_with_advice_and_reading_goes_on() {
        let csv = [
            HEADER.as_bytes(),
            b"K0,1 H\xe9gh St,GL19 3BB,E05004418\n",
            ROW.as_bytes(),
        ]
        .concat();
        let rows = read_all(&csv);
        assert_eq!(
            rows[0],
            Err(RowRejection {
                line: 2,
                key: Some("K0".into()),
                column: Some("line1".into()),
                reason: format!("line1 is {NOT_UTF8_ADVICE}")
            })
        );
        assert!(NOT_UTF8_ADVICE.contains("Windows-1252"));
        assert_eq!(rows[1].as_ref().unwrap().address_key, "K1");
    }

    #[test]
    fn a_windows_1252_file_is_read_when_asked_for() {
        let csv = [
            b"uprn,line1,town,postcode,ward_code\r\n".as_slice(),
            b"K0,1 H\xe9gh St,Caf\xe9 \x96 Sw\xeant,GL19 3BB,E05004418\r\n",
            b"K1,\"Flat 1\r\nTy\xf4 Newydd\",,GL19 3BB,E05004418\r\n",
            b"K2,2 High St,,BAD,E05004418\r\n",
        ]
        .concat();
        let mut reader = AddressCsvReader::new(&csv[..], 10, TextEncoding::Windows1252).unwrap();
        let rows: Vec<_> = std::iter::from_fn(|| reader.next_row().unwrap()).collect();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.line1, "1 H\u{e9}gh St");
        assert_eq!(first.town.as_deref(), Some("Caf\u{e9} \u{2013} Sw\u{ea}nt"));
        assert_eq!(rows[1].as_ref().unwrap().line1, "Flat 1\nTy\u{f4} Newydd");
        assert_eq!(rows[2].as_ref().unwrap_err().line, 5);
        assert_eq!(reader.bytes_read(), csv.len() as u64);
    }

    #[test]
    fn an_unnamed_column_with_bytes_that_are_not_utf8_does_not_refuse_the_row() {
        let csv = b"uprn,line1,postcode,ward_code,notes\nK0,1 High St,GL19 3BB,E05004418,\xff\n";
        assert!(read_all(csv)[0].is_ok());
    }

    #[test]
    fn an_overlong_file_is_refused_at_the_first_row_past_the_limit_without_reading_on() {
        let csv = format!("{HEADER}{}", ROW.repeat(100_000));
        let mut reader = AddressCsvReader::new(csv.as_bytes(), 3, TextEncoding::Utf8).unwrap();
        for _ in 0..3 {
            assert!(reader.next_row().unwrap().is_some());
        }
        assert_eq!(reader.next_row(), Err(FatalError::TooManyRows { limit: 3 }));
        assert_eq!(reader.rows_read(), 4);
        assert!(reader.bytes_read() < csv.len() as u64 / 10);
    }

    /// A reader whose every read fails.
    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }

    #[test]
    fn a_read_failure_part_way_is_fatal() {
        let mut reader =
            AddressCsvReader::new(HEADER.as_bytes().chain(FailingRead), 10, TextEncoding::Utf8)
                .unwrap();
        assert_eq!(reader.next_row(), Err(FatalError::Io("disk gone".into())));
    }

    #[test]
    fn ward_codes_are_a_country_letter_and_eight_digits() {
        let good = ["E05004418", "W05000001", "S13002516", "N08000101"];
        assert!(good.iter().all(|code| is_ward_code(code)));
        let bad = [
            "K04000001",
            "e05004418",
            "E0500441",
            "E050044189",
            "E05O04418",
            "",
        ];
        assert!(!bad.iter().any(|code| is_ward_code(code)));
        assert!(is_gss_code("K04000001"));
    }

    #[test]
    fn random_bytes_and_broken_quotes_never_panic() {
        let alphabet = b"a1 ,\"\r\n\xff\xe2\x80\x0c_";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        let mut inputs = vec![format!("{HEADER}\"K1,\"1 High St").into_bytes()];
        for _ in 0..2_000 {
            let header = HEADER
                .bytes()
                .filter(|_| random(40) != 0)
                .collect::<Vec<_>>();
            let body = (0..random(300)).map(|_| alphabet[random(alphabet.len())]);
            inputs.push(header.into_iter().chain(body).collect());
        }
        for input in inputs {
            if let Ok(mut reader) = AddressCsvReader::new(input.as_slice(), 50, TextEncoding::Utf8)
            {
                while let Ok(Some(_)) = reader.next_row() {}
            }
        }
    }

    #[test]
    fn a_hundred_thousand_rows_are_read_in_one_pass() {
        let mut csv = String::from("uprn,line1,line2,town,postcode,ward_code,decile\n");
        for i in 0..100_000 {
            let key = if i % 1000 == 999 { i - 1 } else { i };
            csv += &format!(
                "{key},{i} High St,Flat {i},Tewkesbury,GL19 3BB,E05004418,{}\n",
                i % 10 + 1
            );
        }
        let rows = read_all(csv.as_bytes());
        assert_eq!(rows.len(), 100_000);
        assert_eq!(rows.iter().filter(|r| r.is_err()).count(), 100);
    }
}
