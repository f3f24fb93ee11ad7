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
    /// Collect garbage now: free unreferenced manifests, blobs and abandoned uploads. Exit
    /// status 0 when it ran, 75 when another collection is running, 1 on failure.
    Gc(berth::gc::GcArgs),
    /// Administration on the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password is read from standard input.
    CreateUser {
        name: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (the only way to pass it).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// The same database and data flags as `serve`.
        #[command(flatten)]
        args: Args,
    },
    /// Create an organization owned by an existing user.
    CreateOrg {
        name: String,
        /// The user who owns it.
        #[arg(long)]
        owner: String,
        /// Hand the organization a namespace that already holds repositories or other content
        /// (refused without this flag, so nobody inherits content by accident).
        #[arg(long)]
        claim: bool,
        #[command(flatten)]
        args: Args,
    },
    /// Set a user's password, read from standard input; ends their sessions and `docker login`s.
    ResetPassword {
        name: String,
        /// Read the password from standard input (the only way to pass it).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        args: Args,
    },
}

/// Opens the database the flags name.
async fn open_pool(args: &Args) -> anyhow::Result<sqlx::AnyPool> {
    let config = Config::load(args)?;
    std::fs::create_dir_all(&config.data_dir)?;
    berth::db::open(&config.database_url).await
}

/// One line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await.map(|()| std::process::ExitCode::SUCCESS),
        Command::Gc(args) => berth::gc::run(args).await,
        Command::Admin { command } => admin(command)
            .await
            .map(|()| std::process::ExitCode::SUCCESS),
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    let tls = config
        .tls
        .as_ref()
        .map(berth::tls::server_config)
        .transpose()?;
    let state = State::open(&config).await?;
    let listener = std::net::TcpListener::bind(config.listen)?;
    tracing::info!(
        listen = %listener.local_addr()?,
        public_url = %config.public_url,
        https = config.tls.is_some(),
        data_dir = %config.data_dir.display(),
        "berth is serving"
    );
    let metrics = match config.metrics_listen {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)?;
            tracing::info!(listen = %listener.local_addr()?, "serving metrics at /metrics");
            Some(berth::app::metrics_server(state.clone(), listener)?)
        }
        None => None,
    };
    let accounts = state.accounts.clone();
    let registry = state.registry.clone();
    // actix-web stops gracefully on SIGINT/SIGTERM: it finishes requests in flight. Both
    // servers hear the signal; the metrics listener ends with the public one.
    let public = app::server(state, listener, tls)?;
    match metrics {
        Some(metrics) => {
            let handle = metrics.handle();
            let metrics = tokio::spawn(metrics);
            let served = public.await;
            handle.stop(true).await;
            metrics.await??;
            served?;
        }
        None => public.await?,
    }
    if let Err(e) = accounts.flush_counters().await {
        tracing::warn!(error = %e, "writing the last pull counts");
    }
    if let Err(e) = registry.meta().flush_pulls().await {
        tracing::warn!(error = %e, "writing the tags' last-pulled times");
    }
    tracing::info!("berth stopped");
    Ok(())
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser {
            name,
            email,
            password_stdin: _,
            admin,
            args,
        } => {
            let config = Config::load(&args)?;
            std::fs::create_dir_all(&config.data_dir)?;
            let db = berth_accounts::Db::new(berth::db::open(&config.database_url).await?);
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user = berth_accounts::users::create(
                &db,
                berth_accounts::users::NewUser {
                    name: &name,
                    email: &email,
                    password,
                },
                admin,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created {}user {}",
                if user.is_admin { "administrator " } else { "" },
                user.name
            );
        }
        AdminCommand::CreateOrg {
            name,
            owner,
            claim,
            args,
        } => {
            let db = berth_accounts::Db::new(open_pool(&args).await?);
            let owner = berth_accounts::users::by_name(&db, &owner)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("no user named {owner}"))?;
            let org = berth_accounts::orgs::create_org(&db, &owner, &name, claim)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created organization {} owned by {}", org.name, owner.name);
        }
        AdminCommand::ResetPassword {
            name,
            password_stdin: _,
            args,
        } => {
            let db = berth_accounts::Db::new(open_pool(&args).await?);
            let password = password_from_stdin()?;
            berth_accounts::credentials::reset_password(
                &db,
                "admin (command line)",
                &name,
                &password,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("reset the password of {name}; their sessions and docker logins ended");
        }
    }
    Ok(())
}
