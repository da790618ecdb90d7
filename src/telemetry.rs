//! Logging with `tracing`: human-readable lines by default, JSON with
//! `--log-format json` (or `CIVIC_PANEL_LOG_FORMAT=json`). `RUST_LOG` filters. Lines are
//! coloured only when standard error is a terminal (and `NO_COLOR` is not set), so logs
//! redirected to a file or a pipe carry no escape sequences.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_wanted());
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// Colour for a person at a terminal; plain text for files, pipes and `NO_COLOR`
/// (<https://no-color.org>).
fn colour_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
