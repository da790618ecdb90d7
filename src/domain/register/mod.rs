//! The council's address register and the census benchmarks: reading councils' and ONS's files, postcodes, the demographic categories.

pub mod address_csv;
pub mod benchmark_csv;
pub mod demo_register;
pub mod demographics;
pub mod postcode;
