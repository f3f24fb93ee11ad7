use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use berth::app::{self, State};
use berth::config::{Args, Config};

/// Berth: a self-hosted container registry.
#[derive(Parser)]
#[command(name = "berth", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry and web UI.
    Serve(Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    let state = State::open(&config).await?;
    let listener = std::net::TcpListener::bind(config.listen)?;
    tracing::info!(
        listen = %listener.local_addr()?,
        public_url = %config.public_url,
        data_dir = %config.data_dir.display(),
        "berth is serving"
    );
    // actix-web stops gracefully on SIGINT/SIGTERM: it finishes requests in flight.
    app::server(state, listener)?.await?;
    tracing::info!("berth stopped");
    Ok(())
}
