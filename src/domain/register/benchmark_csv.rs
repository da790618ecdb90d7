//! Census population benchmarks, read from CSV, and the shares they imply.
//!
//! A panel is representative when its make-up matches the area's: so many people of
//! each age band, ethnic group, tenure and so on. The council supplies those census
//! counts as CSV with the columns `area_code, area_name, dimension, category, count,
//! universe` (any order, any case), one row per category, where the universe says what
//! is counted (`persons`, `households`). [`parse_benchmarks`] reads and checks the file,
//! returning refused rows alongside good ones as the address register does, and
//! [`shares`] turns one area's counts into the proportions a panel is compared with.
//!
//! A benchmark file has thousands of rows, not millions, so it is read whole.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use csv::ByteRecord;

use crate::domain::register::demographics::{Category, Dimension};
use crate::domain::text_input::TextEncoding;

use crate::domain::register::address_csv::{
    FatalError, FieldSpec, HeaderError, Refusal, RowRejection, Rows, check_length, is_gss_code,
    map_columns, row_fields,
};

/// Most characters in a name, dimension, category or universe.
const MAX_TEXT_CHARS: usize = 200;

/// The file's columns, all required; [`parse_row`] relies on this order.
const FIELDS: [FieldSpec; 6] = [
    ("area_code", true, &["areacode"]),
    ("area_name", true, &["areaname"]),
    ("dimension", true, &["dimension"]),
    ("category", true, &["category"]),
    ("count", true, &["count"]),
    ("universe", true, &["universe"]),
];

/// One census count: how many of the universe in an area fall in one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchmarkRow {
    /// Physical line of the file (1-based) on which the row starts.
    pub line: u64,
    /// GSS code of the area, upper case, e.g. `E07000083`.
    pub area_code: String,
    /// Name of the area, e.g. `Tewkesbury`.
    pub area_name: String,
    /// What the population is divided by, e.g. `age_band`.
    pub dimension: String,
    /// One division of the dimension, e.g. `0-4`.
    pub category: String,
    /// How many of the universe are in the category.
    pub count: i64,
    /// What is counted, e.g. `persons` or `households`.
    pub universe: String,
}

/// Why a benchmark file was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BenchmarkFileError {
    /// The header row is missing, unreadable, or lacks or repeats a column.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The file could not be read to the end, or has too many rows.
    #[error(transparent)]
    Read(#[from] FatalError),
}

/// One category's count and its share of its dimension's total.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryShare {
    /// The category, e.g. `0-4`.
    pub category: String,
    /// Its count, summed if the category was given more than once.
    pub count: i64,
    /// `count / total`, or 0.0 when the total is 0.
    pub share: f64,
}

/// The categories of one dimension with their shares of the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionShares {
    /// The dimension, e.g. `age_band`.
    pub dimension: String,
    /// What is counted, e.g. `persons`.
    pub universe: String,
    /// Sum of the categories' counts.
    pub total: i64,
    /// The categories in the order they were first given.
    pub categories: Vec<CategoryShare>,
}

/// Reads a benchmark file of at most `max_rows` data rows into its valid rows and the
/// rows refused; a repeated (area, dimension, category) is refused after the first.
pub fn parse_benchmarks<R: Read>(
    reader: R,
    max_rows: u64,
    encoding: TextEncoding,
) -> Result<(Vec<BenchmarkRow>, Vec<RowRejection>), BenchmarkFileError> {
    let (mut rows, names) = Rows::open(reader, max_rows, encoding)?;
    let (columns, _) = map_columns(names, &FIELDS)?;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut first_lines = HashMap::new();
    while let Some((line, record)) = rows.next()? {
        let parsed = parse_row(record, &columns, line).and_then(|row| {
            let key = (
                row.area_code.clone(),
                row.dimension.clone(),
                row.category.clone(),
            );
            match first_lines.entry(key) {
                Entry::Occupied(first) => Err(Refusal::row(format!(
                    "duplicate count for {} {} {:?} (first on line {})",
                    row.area_code,
                    row.dimension,
                    row.category,
                    first.get()
                ))),
                Entry::Vacant(slot) => {
                    slot.insert(line);
                    Ok(row)
                }
            }
        });
        match parsed {
            Ok(row) => accepted.push(row),
            Err(refusal) => rejected.push(refusal.on_line(line, None)),
        }
    }
    Ok((accepted, rejected))
}

/// Validates one row's fields, or gives the reason it is refused.
fn parse_row(
    record: &ByteRecord,
    columns: &[Option<usize>],
    line: u64,
) -> Result<BenchmarkRow, Refusal> {
    let mut fields = [""; FIELDS.len()];
    row_fields(record, columns, &FIELDS, &mut fields)?;
    let [area_code, area_name, dimension, category, count, universe] = fields;
    let code = area_code.to_ascii_uppercase();
    if !is_gss_code(&code) {
        return Err(Refusal::at("area_code")(format!(
            "area_code {area_code:?} is not a GSS code (a letter then 8 digits, e.g. E07000083)"
        )));
    }
    let texts = [
        ("area_name", area_name),
        ("dimension", dimension),
        ("category", category),
        ("universe", universe),
    ];
    for (name, text) in texts {
        if text.is_empty() {
            return Err(Refusal::at(name)(format!("{name} is empty")));
        }
        check_length(name, text, MAX_TEXT_CHARS).map_err(Refusal::at(name))?;
    }
    let count = match count.parse::<i64>() {
        Ok(count) if count >= 0 => count,
        _ => {
            return Err(Refusal::at("count")(format!(
                "count {count:?} is not a whole number of 0 or more"
            )));
        }
    };
    Ok(BenchmarkRow {
        line,
        area_code: code,
        area_name: area_name.to_owned(),
        dimension: dimension.to_owned(),
        category: category.to_owned(),
        count,
        universe: universe.to_owned(),
    })
}

/// Turns `(dimension, category, count, universe)` counts for one area into each
/// category's share of its dimension, dimensions sorted by name (then universe, should
/// a dimension be counted in two), categories in the order first given.
pub fn shares(rows: &[(String, String, i64, String)]) -> Vec<DimensionShares> {
    let mut groups: BTreeMap<(&str, &str), Vec<CategoryShare>> = BTreeMap::new();
    for (dimension, category, count, universe) in rows {
        let categories = groups.entry((dimension, universe)).or_default();
        // A dimension has tens of categories, so a scan is cheaper than an index.
        match categories.iter_mut().find(|c| c.category == *category) {
            Some(seen) => seen.count = seen.count.saturating_add(*count),
            None => categories.push(CategoryShare {
                category: category.clone(),
                count: *count,
                share: 0.0,
            }),
        }
    }
    let into_shares =
        |((dimension, universe), mut categories): ((&str, &str), Vec<CategoryShare>)| {
            let total = categories
                .iter()
                .fold(0_i64, |sum, c| sum.saturating_add(c.count));
            for category in &mut categories {
                category.share = if total == 0 {
                    0.0
                } else {
                    category.count as f64 / total as f64
                };
            }
            DimensionShares {
                dimension: dimension.to_owned(),
                universe: universe.to_owned(),
                total,
                categories,
            }
        };
    groups.into_iter().map(into_shares).collect()
}

/// A benchmark row of a dimension residents are compared on (age band, sex, ethnic group,
/// disability) whose category names none of that dimension's values, so it can never be
/// compared with anyone: a total row, a broad group, or a label outside the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedCategory {
    /// Line of the file.
    pub line: u64,
    /// The dimension, as written.
    pub dimension: String,
    /// The category, as written.
    pub category: String,
}

/// The rows of `rows` that name no category of their (profile) dimension. Rows of other
/// dimensions (tenure, deprivation) are not compared with profiles and never listed.
pub fn unmatched_categories(rows: &[BenchmarkRow]) -> Vec<UnmatchedCategory> {
    rows.iter()
        .filter(|row| {
            Dimension::from_name(&row.dimension)
                .is_some_and(|dimension| Category::from_label(dimension, &row.category).is_none())
        })
        .map(|row| UnmatchedCategory {
            line: row.line,
            dimension: row.dimension.clone(),
            category: row.category.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "area_code,area_name,dimension,category,count,universe\n";

    fn parse(csv: &str) -> (Vec<BenchmarkRow>, Vec<RowRejection>) {
        parse_benchmarks(csv.as_bytes(), 100, TextEncoding::Utf8).unwrap()
    }

    fn row(dimension: &str, category: &str, count: i64) -> (String, String, i64, String) {
        (dimension.into(), category.into(), count, "persons".into())
    }

    #[test]
    fn real_rows_are_read_whatever_the_column_order_and_case() {
        let csv = "Universe,COUNT,Category,dimension,Area_Name,area_code\n\
                   persons,5000,0-4,age_band,Tewkesbury,e07000083\n\
                   persons,25,\"Asian, Asian British or Asian Welsh: Bangladeshi\",ethnic_group,\
                   Tewkesbury,E07000083\n";
        let (rows, rejected) = parse(csv);
        assert_eq!(rejected, []);
        let expected = BenchmarkRow {
            line: 2,
            area_code: "E07000083".into(),
            area_name: "Tewkesbury".into(),
            dimension: "age_band".into(),
            category: "0-4".into(),
            count: 5000,
            universe: "persons".into(),
        };
        assert_eq!(rows[0], expected);
        let second = &rows[1];
        assert_eq!(
            second.category,
            "Asian, Asian British or Asian Welsh: Bangladeshi"
        );
        assert_eq!((second.line, second.count), (3, 25));
    }

    #[test]
    fn each_bad_row_is_rejected_with_its_line_and_reason() {
        let csv = format!(
            "{HEADER}E0700008,T,age_band,0-4,1,persons\nE07000083,T,,0-4,1,persons\n\
             E07000083,T,age_band,{},1,persons\nE07000083,T,age_band,0-4,-1,persons\n\
             E07000083,T,age_band,0-4,1.5,persons\nE07000083,T,age_band,0-4,1,\n\
             E07000083,T,age_band,0-4,7,persons\nE07000083,T,age_band,0-4,8,persons\n\
             E07000083,T,age_band\n",
            "c".repeat(201)
        );
        let (rows, rejected) = parse(&csv);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [8]);
        let lines: Vec<_> = rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 9, 10]);
        let reasons: Vec<_> = rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "area_code \"E0700008\" is not a GSS code (a letter then 8 digits, e.g. E07000083)",
                "dimension is empty",
                "category is 201 characters long; the limit is 200",
                "count \"-1\" is not a whole number of 0 or more",
                "count \"1.5\" is not a whole number of 0 or more",
                "universe is empty",
                "duplicate count for E07000083 age_band \"0-4\" (first on line 8)",
                "expected 6 fields, found 3",
            ]
        );
    }

    #[test]
    fn a_windows_1252_file_with_crlf_lines_is_read_with_the_right_lines() {
        let csv = b"area_code,area_name,dimension,category,count,universe\r\n\
                    W06000015,Caerdydd,sex,Female,10,persons\r\n\
                    W06000015,\"Bro Morgannwg\r\n(Vale)\",sex,Male,9,persons\r\n\
                    W0600001,Ynys M\xf4n,sex,Male,9,persons\r\n";
        let (rows, rejected) = parse_benchmarks(&csv[..], 10, TextEncoding::Windows1252).unwrap();
        assert_eq!(rows[1].area_name, "Bro Morgannwg\n(Vale)");
        assert_eq!(rejected.len(), 1);
        assert_eq!(
            (rejected[0].line, rejected[0].column.as_deref()),
            (5, Some("area_code"))
        );
        let (_, as_utf8) = parse_benchmarks(&csv[..], 10, TextEncoding::Utf8).unwrap();
        assert_eq!(
            (as_utf8[0].line, as_utf8[0].column.as_deref()),
            (5, Some("area_name"))
        );
        assert!(as_utf8[0].reason.contains("Windows-1252"));
    }

    #[test]
    fn a_file_missing_columns_or_too_long_is_refused_whole() {
        let missing = parse_benchmarks(
            "area_code,dimension,count\n".as_bytes(),
            10,
            TextEncoding::Utf8,
        );
        let expected = vec!["area_name", "category", "universe"];
        assert_eq!(
            missing,
            Err(HeaderError::MissingColumns { missing: expected }.into())
        );
        let long = format!("{HEADER}{}", "E07000083,T,age,0-4,1,persons\n".repeat(4));
        let refused = parse_benchmarks(long.as_bytes(), 3, TextEncoding::Utf8);
        assert_eq!(refused, Err(FatalError::TooManyRows { limit: 3 }.into()));
    }

    #[test]
    fn shares_are_each_categorys_part_of_its_dimension_total() {
        let counts = [
            row("sex", "female", 49),
            row("age_band", "16-24", 3),
            row("sex", "male", 51),
            row("age_band", "0-4", 0),
            row("age_band", "16-24", 2),
        ];
        let result = shares(&counts);
        let summary: Vec<_> = result
            .iter()
            .map(|d| (d.dimension.as_str(), d.total))
            .collect();
        assert_eq!(summary, [("age_band", 5), ("sex", 100)]);
        let sex: Vec<_> = result[1]
            .categories
            .iter()
            .map(|c| (c.category.as_str(), c.share))
            .collect();
        assert_eq!(sex, [("female", 0.49), ("male", 0.51)]);
        let ages = &result[0].categories;
        assert_eq!(
            (ages[0].category.as_str(), ages[0].count, ages[0].share),
            ("16-24", 5, 1.0)
        );
        assert_eq!((ages[1].category.as_str(), ages[1].share), ("0-4", 0.0));
        assert_eq!(result[1].universe, "persons");
    }

    #[test]
    fn shares_of_a_zero_total_are_zero_and_others_sum_to_one() {
        let empty = shares(&[row("tenure", "owned", 0), row("tenure", "rented", 0)]);
        assert!(empty[0].categories.iter().all(|c| c.share == 0.0));
        let counts: Vec<_> = (1..=19)
            .map(|i| row("ethnic_group", &i.to_string(), i * 37))
            .collect();
        let sum: f64 = shares(&counts)[0].categories.iter().map(|c| c.share).sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
    }

    #[test]
    fn categories_outside_the_profile_vocabulary_are_listed_with_their_lines() {
        let csv = "area_code,area_name,dimension,category,count,universe\n\
            E07000083,Tewkesbury,sex,Female,48792,persons\n\
            E07000083,Tewkesbury,sex,Total,94877,persons\n\
            E07000083,Tewkesbury,Age band,Aged 4 years and under,5314,persons\n\
            E07000083,Tewkesbury,ethnic_group,White,80000,persons\n\
            E07000083,Tewkesbury,tenure,Owned: Owns outright,15981,households\n";
        let (rows, rejected) = parse_benchmarks(csv.as_bytes(), 100, TextEncoding::Utf8).unwrap();
        assert!(rejected.is_empty());
        let unmatched = unmatched_categories(&rows);
        let listed: Vec<(u64, &str)> = unmatched
            .iter()
            .map(|u| (u.line, u.category.as_str()))
            .collect();
        assert_eq!(listed, [(3, "Total"), (5, "White")]);
    }
}
