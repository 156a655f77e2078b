//! The `settle` command line.

use clap::{Parser, Subcommand};

use crate::{App, BuildOptions, Config, startup};

#[derive(Parser, Debug)]
#[command(name = "settle", version, about = "Settle: a payment server that never loses a payment and never charges twice")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (migrates first unless --no-migrate).
    Serve {
        /// Seed the demo merchant and print its API key.
        #[arg(long)]
        demo: bool,
        /// Do not run migrations; refuse to start if any are pending.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Seed the demo merchant (running it twice changes nothing).
    Seed,
    /// Merchant administration.
    Merchant {
        #[command(subcommand)]
        action: MerchantAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last N migrations (default 1).
    Down {
        #[arg(default_value_t = 1)]
        n: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum MerchantAction {
    /// Create a merchant; prints {merchantId, name, apiKey} as JSON. The key is shown only here.
    Create {
        #[arg(long)]
        name: String,
    },
}

async fn context(cfg: &Config) -> anyhow::Result<settle_app::Context> {
    let db = startup::open_database(cfg).await?;
    settle_store::migration::up(&db).await?;
    Ok(settle_app::Context::new(db, settle_app::cache::PaymentCache::memory(), Default::default()))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::load()?;
    crate::telemetry::init_logs(cfg.log_format, &cfg.log_filter);
    match cli.command {
        Command::Serve { demo, no_migrate } => {
            let app = App::build(&cfg, BuildOptions { migrate: !no_migrate, demo, settings: Default::default() }).await?;
            let addr = app.local_addr();
            tracing::info!(%addr, database = %crate::config::redact(&cfg.database_url), cache = if cfg.redis_url.is_some() { "redis" } else { "memory" }, "Settle listening");
            println!("Settle listening on http://{addr} (docs: http://{addr}/docs)");
            app.run_until_stopped(startup::shutdown_signal()).await
        }
        Command::Migrate { action } => {
            let db = startup::open_database(&cfg).await?;
            match action {
                MigrateAction::Up => {
                    settle_store::migration::up(&db).await?;
                    println!("migrations applied");
                }
                MigrateAction::Down { n } => {
                    settle_store::migration::down(&db, n).await?;
                    println!("rolled back {n} migration(s)");
                }
                MigrateAction::Status => {
                    for (name, applied) in settle_store::migration::status(&db).await? {
                        println!("{} {name}", if applied { "applied" } else { "pending" });
                    }
                }
            }
            Ok(())
        }
        Command::Seed => {
            let ctx = context(&cfg).await?;
            let m = settle_app::merchants::seed_demo(&ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&m)?);
            Ok(())
        }
        Command::Merchant { action: MerchantAction::Create { name } } => {
            let ctx = context(&cfg).await?;
            let m = settle_app::merchants::create(&ctx, &name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&m)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
