//! Reports: the dimensions people are split by, the statistics, disclosure control, the HTML
//! page and its charts, and age ranges.

pub mod age_range;
pub mod charts;
pub mod dimension;
pub mod disclosure;
pub mod html_report;
pub mod statistics;
