//! The `settle` command line: the clap tree, and each command dispatched to the module that runs it (`db`,
//! `backup`, `keys`, `merchant`, `chain`; `output` is how every command answers).

mod backup;
mod chain;
mod db;
mod keys;
mod listen;
mod merchant;
mod output;
mod refund;

pub use output::UsageError;

use clap::{Parser, Subcommand};

use crate::{App, BuildOptions, Config, startup};
use output::{emit, say, usage};

/// `settle --version`: the crate's version, the commit it was built from and the last migration it knows.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SETTLE_GIT_COMMIT"), ", migrations up to ", env!("SETTLE_MIGRATION_HEAD"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "settle",
    version = VERSION,
    about = "Settle: a payment server that never loses a payment and never charges twice",
    after_help = "Exit codes: 0 ok; 1 a failure, or findings (db check, backup verify); 2 a usage or configuration error.\n\
                  Logs go to stderr at every level; stdout carries only a command's output."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How a command prints its output: json (the default of commands that print an object), text (of `db check`,
    /// `migrate`, `config check`, `keys`), or sarif (`db check` only).
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (migrates first unless --no-migrate).
    Serve {
        /// Seed the demo merchant and print its API key (a test key); without SETTLE_PG_TEST_URL, run the PG simulator
        /// in-process for test payments.
        #[arg(long)]
        demo: bool,
        /// Do not run migrations; refuse to start if any are pending.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Master keys of secrets at rest (SETTLE_MASTER_KEY).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The database: its statistics.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Back up every table into a new directory (NDJSON per table and manifest.json, signed with manifest.sig under
    /// SETTLE_MASTER_KEY; the owner's alone, 0700/0600), or check a backup.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        action: Option<BackupAction>,
        /// The directory to write (absent or empty).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Seal the table files under a key derived from SETTLE_MASTER_KEY (AES-256-GCM); verify and restore then
        /// need the master key.
        #[arg(long)]
        encrypt: bool,
    },
    /// Restore a backup onto the configured database (any backend): verified, migrated, loaded in one transaction.
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace the data of a target that has some (otherwise refused).
        #[arg(long)]
        force: bool,
        /// Accept a backup without a signature although SETTLE_MASTER_KEY is set (one written without it).
        #[arg(long)]
        unsigned: bool,
    },
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Seed the demo merchant and its shop (seed 002's users and items); running it twice changes nothing.
    Seed {
        /// Accepted for clarity: the seed is always the demo data.
        #[arg(long)]
        demo: bool,
    },
    /// Merchant administration.
    Merchant {
        #[command(subcommand)]
        action: MerchantAction,
    },
    /// The configuration (environment and settle.toml): validate it without starting anything and print what is
    /// in effect, secrets redacted.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Exit 0 when a Settle answers 2xx at URL (a container's HEALTHCHECK: the image needs no curl).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:3000/health/live")]
        url: String,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the OpenAPI document `/openapi.json` serves (what the SDKs in sdk/ are generated from).
    Openapi,
    /// Stream a merchant's events from a running Settle and forward each to a local URL, signed as webhooks with a
    /// secret of this session's (develop a receiver without a public address).
    Listen(listen::ListenArgs),
    /// Refunds, through a running Settle's API with a merchant's API key.
    Refund {
        #[command(subcommand)]
        action: refund::RefundAction,
    },
    /// Run the PG simulator (a card gateway without idempotency, with fault knobs).
    PgSim(Box<PgSimArgs>),
    /// The chain rail: deploy the contracts to a development chain, show each chain's state.
    Chain {
        #[command(subcommand)]
        action: ChainAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ChainAction {
    /// Deploy the forwarder, the gateway (and a test token) and print the settle.toml block to paste.
    Deploy {
        /// The chain's JSON-RPC URL.
        #[arg(long)]
        rpc: String,
        /// The deploying key (hex); it owns the gateway. Also read from SETTLE_DEPLOYER_KEY.
        #[arg(long, env = "SETTLE_DEPLOYER_KEY", hide_env_values = true)]
        deployer_key: String,
        /// The key whose signature makes terms payable (default: a new key, printed once; the deployer owns the
        /// gateway and should not also sign terms).
        #[arg(long, env = "SETTLE_SIGNER_KEY", hide_env_values = true)]
        signer_key: Option<String>,
        /// Where fees go (default: the deployer's address).
        #[arg(long)]
        treasury: Option<String>,
        /// Also deploy a test ERC-20 with permit (USDC, 6 decimals; anyone may mint).
        #[arg(long)]
        with_test_token: bool,
    },
    /// Per configured chain: head block, watcher cursor, relayer address, nonces and balance (JSON lines).
    Status,
    /// Development only: pays a payment directly on chain from a local key, reading the payment as
    /// `POST /v1/payments` answered it (JSON) from stdin; with --mint, mints the test token first.
    Pay {
        #[arg(long)]
        rpc: String,
        /// The payer's key (hex); it pays the gas. Also read from SETTLE_PAYER_KEY.
        #[arg(long, env = "SETTLE_PAYER_KEY", hide_env_values = true)]
        key: String,
        /// Mint the amount first (a test token: anyone may mint).
        #[arg(long)]
        mint: bool,
    },
    /// Development only: signs the next step of a gasless checkout with a local key, reading the answer of
    /// `GET /v1/payments/{id}/typed-data` from stdin. Given a permit to sign, prints the query parameters of the next
    /// typed-data call (`permitSignature=..&permitDeadline=..`); given the forward request, prints the body of
    /// `POST /v1/payments/{id}/gasless`. Given the answer of `GET /v1/refunds/{id}/typed-data` and the recipient's key,
    /// prints the body of `POST /v1/refunds/{id}/submit` (the refund's terms signed, and the permit when offered).
    Sign {
        /// The payer's key (hex). Also read from SETTLE_PAYER_KEY.
        #[arg(long, env = "SETTLE_PAYER_KEY", hide_env_values = true)]
        key: String,
    },
    /// Development only: mints the test token (anyone may mint it) to an address; the key pays the gas.
    Mint {
        #[arg(long)]
        rpc: String,
        /// A funded key (hex). Also read from SETTLE_DEPLOYER_KEY.
        #[arg(long, env = "SETTLE_DEPLOYER_KEY", hide_env_values = true)]
        key: String,
        /// The test token (default: where `chain deploy --with-test-token` puts it on a fresh anvil).
        #[arg(long, default_value = "0x5FbDB2315678afecb367f032d93F642f64180aa3")]
        token: String,
        #[arg(long)]
        to: String,
        /// In the token's smallest unit.
        #[arg(long)]
        amount: u128,
    },
}

/// Knobs of `settle pg-sim`; all can be changed later with `PUT /v1/admin/knobs`.
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
    /// Share of refunds processed and then refused (FAILED).
    #[arg(long, default_value_t = 0.0)]
    pub refund_failure_rate: f64,
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
pub enum KeysAction {
    /// Print a fresh master key (base64 of 32 random bytes).
    Generate,
    /// Seal every stored secret under the first key of SETTLE_MASTER_KEY (opening each with any key of the list,
    /// or reading it as is when it was stored before a key was set). Then the old keys may be dropped.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum DbAction {
    /// The pool's connections and each table's rows and bytes, as JSON; with --server, a running Settle's view
    /// (`GET /v1/admin/db` with SETTLE_ADMIN_TOKEN), which adds its statements' latency (p50, p95, slow runs).
    Stats {
        /// A running Settle's base URL (http://127.0.0.1:8080).
        #[arg(long)]
        server: Option<String>,
    },
    /// Check the database: migrations, drift from what they declare, seed idempotency, indexes, primary keys,
    /// long transactions. Exit 1 when an error-level finding exists.
    Check {
        /// Write the report here instead of stdout.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// Report sessions whose transaction has been open longer than this.
        #[arg(long, default_value_t = 60)]
        long_transaction_secs: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Validate the configuration and print it (exit 2 when a setting is wrong).
    Check,
}

#[derive(Subcommand, Debug)]
pub enum BackupAction {
    /// Check a backup exactly as a restore would, without restoring it: signature (under SETTLE_MASTER_KEY), manifest,
    /// schema, checksums, row counts, every row's columns.
    Verify {
        /// The backup's directory.
        dir: std::path::PathBuf,
        /// Accept a backup without a signature although SETTLE_MASTER_KEY is set (one written without it).
        #[arg(long)]
        unsigned: bool,
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
        /// Fee on chain payments in basis points (0 to 10000).
        #[arg(long, default_value_t = 0)]
        fee_bps: u16,
    },
    /// Change a merchant's fee on chain payments (payments created from now on); prints the merchant as JSON.
    SetFee {
        #[arg(long)]
        merchant_id: String,
        /// Basis points, 0 to 10000.
        #[arg(long)]
        fee_bps: u16,
    },
    /// Change a merchant's settings; prints the merchant as JSON.
    Set {
        #[arg(long)]
        merchant_id: String,
        /// Fee on chain payments in basis points, 0 to 10000 (payments created from now on).
        #[arg(long)]
        fee_bps: Option<u16>,
        /// Whether CHAIN payments paid after they ended CANCELLED or EXPIRED are refunded automatically.
        #[arg(long)]
        refund_late_payments: Option<bool>,
        /// Whether a CHAIN refund gives back its share of the fee the payment paid (the treasury pays it).
        #[arg(long)]
        return_fee_on_refund: Option<bool>,
        /// The hosts checkout sessions may send payers back to, comma-separated (replaces the list; "" clears it).
        #[arg(long)]
        redirect_hosts: Option<String>,
    },
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
            ("--refund-failure-rate", a.refund_failure_rate),
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
            refund_failure_rate: a.refund_failure_rate,
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
    if let Command::Healthcheck { url } = &cli.command {
        settle_card::tls::ensure_crypto_provider();
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
        let r = client.get(url).send().await.map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        if !r.status().is_success() {
            anyhow::bail!("{url} answered {}", r.status());
        }
        return Ok(());
    }
    if let Command::Openapi = cli.command {
        return say(settle_api::router::openapi_json());
    }
    if let Command::Listen(a) = cli.command {
        return listen::listen(a).await;
    }
    if let Command::Refund { action } = cli.command {
        return refund::refund(action, cli.format).await;
    }
    if let Command::Completions { shell } = cli.command {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "settle", &mut buf);
        return say(&String::from_utf8_lossy(&buf));
    }
    let cfg = Config::load().map_err(|e| usage(format!("{e:#}")))?;
    crate::telemetry::init_logs(cfg.log_format, &cfg.log_filter);
    let format = cli.format;
    // What a command changes is audited as the CLI's (actor `cli`, named by the operating-system user); a server
    // audits each request on its own.
    let scope = (!matches!(cli.command, Command::Serve { .. }))
        .then(|| settle_app::audit::Scope::new(None, None, settle_app::audit::Actor::new("cli", std::env::var("USER").ok())));
    // Each command's future is boxed where it is dispatched: nested in one state machine, `serve` (startup, the
    // server, every worker) and the other commands made a future too deep for the release build to lay out.
    settle_app::audit::carry(scope, command(cfg, cli.command, format)).await
}

type CommandFuture = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

/// Runs a command other than `pg-sim` and `completions`: each command's future behind its own box, so the type of
/// the whole stays shallow however large one command grows.
fn command(cfg: Config, command: Command, format: Option<Format>) -> CommandFuture {
    match command {
        Command::Serve { demo, no_migrate } => Box::pin(serve(cfg, demo, no_migrate)),
        Command::Chain { action } => Box::pin(async move { chain::chain_command(&cfg, action, format).await }),
        Command::Db { action: DbAction::Check { output, long_transaction_secs } } => {
            Box::pin(async move { db::db_check(&cfg, output, long_transaction_secs, format).await })
        }
        other => Box::pin(other_command(cfg, other, format)),
    }
}

/// `settle serve`: builds the app and serves until Ctrl-C or SIGTERM.
async fn serve(mut cfg: Config, demo: bool, no_migrate: bool) -> anyhow::Result<()> {
    // --demo gives a newcomer a development chain: anvil on 127.0.0.1:8545 (see README), unless chains are
    // configured.
    if demo && cfg.chains.is_empty() {
        cfg.chains.push(settle_app::chain::settings::dev_chain("http://127.0.0.1:8545"));
    }
    let app = Box::pin(App::build(&cfg, BuildOptions { migrate: !no_migrate, demo, local_master_key: demo })).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, database = %crate::config::redact(&cfg.database_url), cache = if cfg.redis_url.is_some() { "redis" } else { "memory" }, "Settle listening");
    println!("Settle listening on http://{addr} (docs: http://{addr}/docs)");
    Box::pin(app.run_until_stopped(startup::shutdown_signal())).await
}

/// The smaller commands (database, keys, backup, merchants).
async fn other_command(cfg: Config, cmd: Command, format: Option<Format>) -> anyhow::Result<()> {
    match cmd {
        Command::Completions { .. } | Command::Healthcheck { .. } | Command::Openapi | Command::Listen(_) | Command::Refund { .. } => Ok(()),
        Command::Config { action: ConfigAction::Check } => emit(&cfg.effective(), format, Format::Text),
        // Dispatched by `command` before it gets here; sent back there, never run twice.
        c @ (Command::Serve { .. } | Command::Chain { .. } | Command::Db { action: DbAction::Check { .. } }) => command(cfg, c, format).await,
        Command::PgSim(_) => Ok(()),
        Command::Db { action: DbAction::Stats { server } } => db::stats(&cfg, server, format).await,
        Command::Backup { action, out, encrypt } => backup::backup(&cfg, action, out, encrypt, format).await,
        Command::Restore { from, force, unsigned } => backup::restore(&cfg, from, force, unsigned, format).await,
        Command::Keys { action } => keys::keys(&cfg, action, format).await,
        Command::Migrate { action } => db::migrate(&cfg, action, format).await,
        Command::Seed { demo: _ } => merchant::seed(&cfg, format).await,
        Command::Merchant { action } => merchant::merchant(&cfg, action, format).await,
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
