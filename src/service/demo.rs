//! The demo: a synthetic address register for Tewkesbury built from the real postcodes
//! bundled in `data/`, and the real Census 2021 benchmarks. See `data/README.md` for what
//! is real and what is made up.

use crate::domain::register::demo_register::{self, DemoAddress};
use crate::error::{AppError, AppResult};

/// Real Tewkesbury postcodes (OS Code-Point Open 2014, OGL v3).
pub const TEWKESBURY_POSTCODES: &str = include_str!("../../data/tewkesbury_postcodes.csv");
/// Real Census 2021 benchmarks for four councils (ONS, OGL v3).
pub const CENSUS_BENCHMARKS: &str = include_str!("../../data/census2021_benchmarks.csv");
/// Tewkesbury's GSS code.
pub const TEWKESBURY_AREA_CODE: &str = "E07000083";
/// Seed of the demo register (it is synthetic but reproducible).
pub const DEMO_SEED: u64 = 2021;

/// The synthetic Tewkesbury register: real postcodes and wards, made-up households.
pub fn tewkesbury_register(households_per_postcode: f64) -> AppResult<Vec<DemoAddress>> {
    let frame = demo_register::read_postcode_frame(TEWKESBURY_POSTCODES.as_bytes())
        .map_err(|e| AppError::internal(anyhow::anyhow!("bundled postcode frame: {e}")))?;
    Ok(demo_register::expand(
        &frame,
        "Tewkesbury",
        households_per_postcode,
        DEMO_SEED,
    ))
}

/// The register as CSV, in the format `addressRegisterImport` reads.
pub fn register_csv(addresses: &[DemoAddress]) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    demo_register::write_register_csv(addresses, &mut out)
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    Ok(out)
}
