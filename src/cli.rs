//! The `civic-panel` command line: `serve`, `migrate`, `create-admin`, `export-schema`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, DatabaseConfig, LogFormat};
use crate::domain::role::Role;
use crate::service::accounts::{self, NewAccount};
use crate::service::clock::Clock;
use crate::state::AppState;
use crate::{db, graphql, http, telemetry};

/// civic-panel: recruit, run and report on a representative residents' panel.
#[derive(Debug, Parser)]
#[command(name = "civic-panel", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the GraphQL server (migrating the database first).
    Serve(Box<Config>),
    /// Bring the database schema up to date, then exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Create an ADMIN account. The password comes from CIVIC_PANEL_ADMIN_PASSWORD or a prompt.
    CreateAdmin {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// How the admin is addressed.
        #[arg(long, default_value = "Administrator")]
        name: String,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Print the GraphQL schema (SDL, sorted), or write it to a file.
    ExportSchema {
        /// Write here instead of standard output (e.g. `schema.graphql`).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Parses the command line and runs the command.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate { database } => {
            telemetry::init(LogFormat::Text);
            let connection = db::connect(&database).await?;
            db::migrate(&connection).await?;
            tracing::info!("database is up to date");
            Ok(())
        }
        Command::CreateAdmin {
            email,
            name,
            config,
        } => create_admin(*config, &email, &name).await,
        Command::ExportSchema { output } => {
            let sdl = graphql::sdl();
            match output {
                Some(path) => std::fs::write(&path, sdl)?,
                None => std::io::stdout().write_all(sdl.as_bytes())?,
            }
            Ok(())
        }
    }
}

async fn open(config: Config) -> anyhow::Result<AppState> {
    let connection = db::connect(&config.database).await?;
    db::migrate(&connection).await?;
    AppState::new(connection, config, Clock::system())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let bind = config.bind;
    let state = open(config).await?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    http::serve(state, listener).await
}

async fn create_admin(config: Config, email: &str, name: &str) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let password = match std::env::var("CIVIC_PANEL_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let first = rpassword::prompt_password("Password for the new admin: ")?;
            let again = rpassword::prompt_password("Repeat the password: ")?;
            anyhow::ensure!(first == again, "the two passwords differ");
            first
        }
    };
    let new = NewAccount::parse(email, name, Role::Admin, Some(&password))?;
    let state = open(config).await?;
    let account = accounts::create(&state, new).await?;
    println!(
        "Created ADMIN account {} ({}).",
        account.email, account.display_name
    );
    Ok(())
}
