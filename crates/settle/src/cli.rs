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
        /// Seed the demo merchant and print its API key; without SETTLE_PG_URL, run the PG simulator in-process.
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
    /// Run the PG simulator (a card gateway without idempotency, with fault knobs).
    PgSim(Box<PgSimArgs>),
}

/// Knobs of `settle pg-sim`; all can be changed later with `PUT /admin/knobs`.
#[derive(clap::Args, Debug)]
pub struct PgSimArgs {
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub listen: std::net::SocketAddr,
    /// Share of charge requests answered 500 before anything is recorded.
    #[arg(long, default_value_t = 0.4)]
    pub failure_rate: f64,
    /// Latency of every request, MIN,MAX milliseconds.
    #[arg(long, default_value = "100,500", value_parser = range)]
    pub latency_ms: [u64; 2],
    /// Time to a result, MIN,MAX milliseconds.
    #[arg(long, default_value = "1000,5000", value_parser = range)]
    pub processing_ms: [u64; 2],
    /// Share of transactions that succeed (the rest fail: limit exceeded or invalid card).
    #[arg(long, default_value_t = 0.7)]
    pub success_rate: f64,
    /// Share of charge requests never answered.
    #[arg(long, default_value_t = 0.0)]
    pub hang_rate: f64,
    /// Share of charge requests recorded but answered 500.
    #[arg(long, default_value_t = 0.0)]
    pub fail_after_record_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    pub callback_drop_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    pub callback_duplicate_rate: f64,
    /// Callback delay, MIN,MAX milliseconds.
    #[arg(long, default_value = "0,0", value_parser = range)]
    pub callback_delay_ms: [u64; 2],
    /// Amounts above this are declined at once.
    #[arg(long)]
    pub decline_above: Option<u64>,
    /// Share of charges recorded twice (a second transaction for the order) while one key is answered.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_record_rate: f64,
    /// Share of transactions reported as REVIEW (a status Settle does not know) while processed.
    #[arg(long, default_value_t = 0.0)]
    pub unknown_status_rate: f64,
    /// Reads report every amount one unit higher than charged.
    #[arg(long)]
    pub misreport_amount: bool,
    /// A transaction shows in order lookups only this many milliseconds after it was recorded.
    #[arg(long, default_value_t = 0)]
    pub lookup_lag_ms: u64,
    /// A hung charge request is recorded after all, this many milliseconds after it arrived.
    #[arg(long)]
    pub hang_record_after_ms: Option<u64>,
    /// Answer every charge with this HTTP status at once (401, 403, 408, 429, ...), recording nothing.
    #[arg(long)]
    pub force_status: Option<u16>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Serve HTTPS with a certificate from a CA generated at start; the CA is written to this file (PEM), for
    /// SETTLE_PG_CA_FILE.
    #[arg(long, value_name = "CA_FILE")]
    pub tls_ca_out: Option<std::path::PathBuf>,
}

fn range(s: &str) -> Result<[u64; 2], String> {
    let (a, b) = s.split_once(',').ok_or("expected MIN,MAX")?;
    let (a, b) = (a.trim().parse::<u64>().map_err(|e| e.to_string())?, b.trim().parse::<u64>().map_err(|e| e.to_string())?);
    if a > b {
        return Err("MIN must not exceed MAX".into());
    }
    Ok([a, b])
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
    if let Command::PgSim(a) = cli.command {
        crate::telemetry::init_logs(crate::config::LogFormat::Pretty, "info");
        for (name, v) in [
            ("--failure-rate", a.failure_rate),
            ("--success-rate", a.success_rate),
            ("--hang-rate", a.hang_rate),
            ("--fail-after-record-rate", a.fail_after_record_rate),
            ("--callback-drop-rate", a.callback_drop_rate),
            ("--callback-duplicate-rate", a.callback_duplicate_rate),
            ("--duplicate-record-rate", a.duplicate_record_rate),
            ("--unknown-status-rate", a.unknown_status_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                anyhow::bail!("{name} must be between 0 and 1");
            }
        }
        let knobs = settle_card::sim::Knobs {
            request_failure_rate: a.failure_rate,
            latency_ms: a.latency_ms,
            processing_ms: a.processing_ms,
            success_rate: a.success_rate,
            hang_rate: a.hang_rate,
            fail_after_record_rate: a.fail_after_record_rate,
            callback_drop_rate: a.callback_drop_rate,
            callback_duplicate_rate: a.callback_duplicate_rate,
            callback_delay_ms: a.callback_delay_ms,
            decline_above: a.decline_above,
            duplicate_record_rate: a.duplicate_record_rate,
            unknown_status_rate: a.unknown_status_rate,
            misreport_amount: a.misreport_amount,
            lookup_lag_ms: a.lookup_lag_ms,
            hang_record_after_ms: a.hang_record_after_ms,
            force_status: a.force_status,
            seed: a.seed,
        };
        let listener = tokio::net::TcpListener::bind(a.listen).await.map_err(|e| anyhow::anyhow!("--listen {}: {e}", a.listen))?;
        let sim = match &a.tls_ca_out {
            Some(path) => {
                let ca = settle_card::tls::LocalCa::generate().map_err(|e| anyhow::anyhow!(e))?;
                std::fs::write(path, &ca.ca_pem).map_err(|e| anyhow::anyhow!("--tls-ca-out {}: {e}", path.display()))?;
                settle_card::sim::start_tls(listener, knobs, &ca)
            }
            None => settle_card::sim::start(listener, knobs),
        };
        println!("PG simulator listening on {} (knobs: GET/PUT /admin/knobs)", sim.url());
        startup::shutdown_signal().await;
        sim.stop().await;
        return Ok(());
    }
    let mut cfg = Config::load()?;
    crate::telemetry::init_logs(cfg.log_format, &cfg.log_filter);
    match cli.command {
        Command::Serve { demo, no_migrate } => {
            // --demo gives a newcomer working card payments: the in-process simulator, unless a gateway is named.
            if demo && cfg.card.pg_url.is_none() {
                cfg.card.simulator = true;
            }
            let app = App::build(&cfg, BuildOptions { migrate: !no_migrate, demo, settings: Default::default() }).await?;
            let addr = app.local_addr();
            tracing::info!(%addr, database = %crate::config::redact(&cfg.database_url), cache = if cfg.redis_url.is_some() { "redis" } else { "memory" }, "Settle listening");
            println!("Settle listening on http://{addr} (docs: http://{addr}/docs)");
            app.run_until_stopped(startup::shutdown_signal()).await
        }
        Command::PgSim(_) => Ok(()),
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
