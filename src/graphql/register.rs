//! The address register and the population benchmarks: imports and summaries.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Upload};

use crate::domain::register::address_csv::RowRejection;
use crate::domain::register::benchmark_csv::DimensionShares;
use crate::error::AppError;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id::download_path;
use crate::graphql::jobs::node::{JobNode, JobPayload};
use crate::service::register::addresses::{self, ImportSummary};
use crate::service::register::benchmarks;

/// A CSV row that was not imported.
#[derive(SimpleObject)]
pub struct RejectedRow {
    /// Line number in the file where the row starts (the header is line 1), whatever the
    /// line endings and however many line breaks quoted cells before it hold.
    pub line: u64,
    /// The row's address key as given, if it has one.
    pub key: Option<String>,
    /// The field at fault (e.g. `postcode`), or null when the row as a whole is (too few
    /// fields, a duplicate key).
    pub column: Option<String>,
    /// Why, naming the column and value.
    pub reason: String,
}

impl From<RowRejection> for RejectedRow {
    fn from(r: RowRejection) -> Self {
        Self {
            line: r.line,
            key: r.key,
            column: r.column,
            reason: r.reason,
        }
    }
}

/// The character encoding of an uploaded CSV file.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(
    name = "FileEncoding",
    remote = "crate::domain::text_input::TextEncoding"
)]
pub enum FileEncodingValue {
    /// UTF-8, with or without a byte-order mark ("CSV UTF-8" in Excel). The default.
    #[default]
    #[graphql(name = "UTF_8")]
    Utf8,
    /// Windows-1252, which also reads Latin-1 / ISO-8859-1 text (plain "CSV" from Excel on
    /// a UK Windows machine). A file starting with a UTF-8 byte-order mark is read as UTF-8.
    #[graphql(name = "WINDOWS_1252")]
    Windows1252,
}

/// An address register file.
#[derive(InputObject)]
pub struct AddressRegisterImportInput {
    /// CSV with a header row naming: UPRN (or address key), line1, postcode, ward code;
    /// optionally line2, line3, town, deprivation decile, household key. Sent as a
    /// GraphQL multipart request.
    pub file: Upload,
    /// The file's character encoding; UTF-8 when not given.
    #[graphql(default)]
    pub encoding: FileEncodingValue,
}

/// What an address import did. Re-importing the same file changes nothing.
#[derive(SimpleObject)]
pub struct AddressRegisterImportResult {
    /// Data rows read.
    pub rows_read: u64,
    /// New addresses.
    pub inserted: u64,
    /// Addresses whose fields changed.
    pub updated: u64,
    /// Addresses re-imported unchanged.
    pub unchanged: u64,
    /// Rows refused.
    pub rejected_count: u64,
    /// The first 1,000 refused rows.
    pub rejected_rows: Vec<RejectedRow>,
    /// Where every refused row can be downloaded as CSV (`line,key,column,reason`), by
    /// officers, for as long as export bundles are kept; null when no row was refused.
    pub rejected_rows_download_url: Option<String>,
}

impl From<ImportSummary> for AddressRegisterImportResult {
    fn from(summary: ImportSummary) -> Self {
        Self {
            rejected_rows_download_url: summary.rejections_file.map(download_path),
            rows_read: summary.rows_read,
            inserted: summary.inserted,
            updated: summary.updated,
            unchanged: summary.unchanged,
            rejected_count: summary.rejected_count,
            rejected_rows: summary
                .rejected
                .into_iter()
                .map(RejectedRow::from)
                .collect(),
        }
    }
}

/// A census benchmark file.
#[derive(InputObject)]
pub struct PopulationBenchmarksImportInput {
    /// CSV `area_code,area_name,dimension,category,count,universe`.
    pub file: Upload,
    /// The file's character encoding; UTF-8 when not given.
    #[graphql(default)]
    pub encoding: FileEncodingValue,
}

/// What a benchmark import did.
#[derive(SimpleObject)]
pub struct PopulationBenchmarksImportPayload {
    /// Counts written (new or replaced).
    pub written: u64,
    /// Rows refused.
    pub rejected_rows: Vec<RejectedRow>,
    /// Rows kept whose category names nothing residents' profiles can match (a total, a
    /// broad group, a label outside the vocabulary in the README): they will not be
    /// compared with anyone. Empty when every age band, sex, ethnic group and disability
    /// category was understood.
    pub unmatched_categories: Vec<UnmatchedBenchmarkCategory>,
}

/// A benchmark row whose category matches no profile value.
#[derive(SimpleObject)]
pub struct UnmatchedBenchmarkCategory {
    /// Line of the file.
    pub line: u64,
    /// The dimension, as written.
    pub dimension: String,
    /// The category, as written.
    pub category: String,
}

/// One category's share of the population.
#[derive(SimpleObject)]
pub struct BenchmarkCategory {
    /// Census category label.
    pub category: String,
    /// People (or households) counted.
    pub count: i64,
    /// Share of the dimension's total, 0 to 1.
    pub share: f64,
}

/// One census dimension of an area.
#[derive(SimpleObject)]
pub struct BenchmarkDimension {
    /// e.g. `age_band`, `sex`, `ethnic_group`, `disability`, `tenure`.
    pub dimension: String,
    /// What is counted: `persons` or `households`.
    pub universe: String,
    /// The dimension's total.
    pub total: i64,
    /// Each category's count and share, in the order they were imported.
    pub categories: Vec<BenchmarkCategory>,
}

impl From<DimensionShares> for BenchmarkDimension {
    fn from(d: DimensionShares) -> Self {
        Self {
            dimension: d.dimension,
            universe: d.universe,
            total: d.total,
            categories: d
                .categories
                .into_iter()
                .map(|c| BenchmarkCategory {
                    category: c.category,
                    count: c.count,
                    share: c.share,
                })
                .collect(),
        }
    }
}

/// An area with benchmarks.
#[derive(SimpleObject)]
pub struct BenchmarkArea {
    /// GSS code, e.g. `E07000083`.
    pub code: String,
    /// Name, e.g. `Tewkesbury`.
    pub name: String,
}

/// Register and benchmark queries.
#[derive(Default)]
pub struct RegisterQuery;

#[Object]
impl RegisterQuery {
    /// How many addresses the register holds.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn address_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let state = context::state(ctx)?;
        Ok(addresses::count(state, &context::caller(ctx)).await?)
    }

    /// Areas with population benchmarks.
    #[graphql(guard = "RoleGuard::OFFICER_OR_SCRUTINY")]
    async fn benchmark_areas(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<BenchmarkArea>> {
        let state = context::state(ctx)?;
        let areas = benchmarks::areas(state, &context::caller(ctx)).await?;
        Ok(areas
            .into_iter()
            .map(|(code, name)| BenchmarkArea { code, name })
            .collect())
    }

    /// An area's census benchmarks as shares per dimension.
    #[graphql(guard = "RoleGuard::OFFICER_OR_SCRUTINY")]
    async fn population_benchmarks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "GSS code of the area, e.g. E07000083.")] area_code: String,
    ) -> async_graphql::Result<Vec<BenchmarkDimension>> {
        let state = context::state(ctx)?;
        let shares =
            benchmarks::area_shares(state, &context::caller(ctx), area_code.trim()).await?;
        Ok(shares.into_iter().map(BenchmarkDimension::from).collect())
    }
}

/// Register and benchmark imports.
#[derive(Default)]
pub struct RegisterMutation;

fn upload_reader(ctx: &Context<'_>, file: &Upload) -> async_graphql::Result<std::fs::File> {
    let value = file
        .value(ctx)
        .map_err(|_| AppError::bad_input("input.file", "The upload is missing."))?;
    Ok(value.content)
}

#[Object]
impl RegisterMutation {
    /// Imports (or re-imports) the council's address register. Rows are matched by
    /// address key: new ones are inserted, changed ones updated; bad rows are skipped and
    /// listed. A file refused as a whole (missing columns, too many rows) writes nothing.
    /// The file is kept and imported by a job, whose result is the summary.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn address_register_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The CSV file.")] input: AddressRegisterImportInput,
    ) -> async_graphql::Result<JobPayload> {
        let state = context::state(ctx)?;
        let file = upload_reader(ctx, &input.file)?;
        let job =
            addresses::request_import(state, &context::caller(ctx), file, input.encoding.into())
                .await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Imports census counts; an existing (area, dimension, category) count is replaced.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn population_benchmarks_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The CSV file.")] input: PopulationBenchmarksImportInput,
    ) -> async_graphql::Result<PopulationBenchmarksImportPayload> {
        let state = context::state(ctx)?;
        let file = upload_reader(ctx, &input.file)?;
        let summary =
            benchmarks::import(state, &context::caller(ctx), file, input.encoding.into()).await?;
        Ok(PopulationBenchmarksImportPayload {
            written: summary.written,
            rejected_rows: summary
                .rejected
                .into_iter()
                .map(RejectedRow::from)
                .collect(),
            unmatched_categories: summary
                .unmatched
                .into_iter()
                .map(|u| UnmatchedBenchmarkCategory {
                    line: u.line,
                    dimension: u.dimension,
                    category: u.category,
                })
                .collect(),
        })
    }
}
