//! The address register and the census benchmarks: imports, look-ups and downloads.

pub mod addresses;
pub mod benchmarks;
