//! The `civic-panel` binary. See `civic-panel --help`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match civic_panel::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
