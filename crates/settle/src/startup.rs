//! The composition root: [`App::build`] opens the database (migrating unless told not to), builds the cache,
//! the context and the router, and binds the listener; [`App::run_until_stopped`] serves until the shutdown
//! future resolves, then drains in-flight requests within a bound, stops the workers and closes the pool.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use settle_api::AppState;
use settle_app::{Context, cache::PaymentCache};
use tokio::{net::TcpListener, sync::watch};

use crate::{Config, config::redact};

/// What `build` does besides serving.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Apply pending migrations first (`settle serve` does unless `--no-migrate`).
    pub migrate: bool,
    /// Seed the demo merchant.
    pub demo: bool,
    /// Without SETTLE_MASTER_KEY, use (or create) a local master key in `settle.key` (`serve --demo`).
    pub local_master_key: bool,
}

/// The local master key of `serve --demo`: `settle.key` in the working directory, created (readable by its owner
/// only) when absent.
fn local_master_key() -> anyhow::Result<settle_app::crypto::Keyring> {
    let path = std::path::Path::new(LOCAL_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("{LOCAL_KEY_FILE}: cannot read it"))?;
        return settle_app::crypto::Keyring::parse(text.trim()).map_err(|e| anyhow::anyhow!("{LOCAL_KEY_FILE}: {e}"));
    }
    let key = settle_app::crypto::Keyring::generate();
    {
        use std::{io::Write, os::unix::fs::OpenOptionsExt};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("{LOCAL_KEY_FILE}: cannot create it"))?;
        writeln!(f, "{key}").with_context(|| format!("{LOCAL_KEY_FILE}: cannot write it"))?;
    }
    println!("Generated a local master key in {LOCAL_KEY_FILE} (local use only; set SETTLE_MASTER_KEY in production).");
    settle_app::crypto::Keyring::parse(&key).map_err(|e| anyhow::anyhow!("{e}"))
}

const LOCAL_KEY_FILE: &str = "settle.key";

pub struct App {
    listener: TcpListener,
    limits: ConnLimits,
    /// The in-process PG simulator, when no SETTLE_PG_URL is set.
    sim: Option<settle_card::sim::SimHandle>,
    state: AppState,
    stop: watch::Sender<bool>,
    shutdown_timeout: Duration,
}

/// Opens and checks the database: it must answer before Settle listens.
pub async fn open_database(cfg: &Config) -> anyhow::Result<settle_store::Db> {
    let db = settle_store::connect(&database_url(cfg), cfg.db_max_connections)
        .await
        .map_err(|e| {
            anyhow::anyhow!("DATABASE_URL {}: cannot connect: {}", redact(&cfg.database_url), crate::config::scrub(&e.to_string(), &cfg.database_url))
        })?
        .with_writer(cfg.sqlite_writer);
    settle_store::ping(&db).await.with_context(|| format!("DATABASE_URL {}: the database does not answer", redact(&cfg.database_url)))?;
    Ok(db)
}

impl App {
    pub async fn build(cfg: &Config, opts: BuildOptions) -> anyhow::Result<Self> {
        // The metrics recorder first: handles registered before it would record nothing.
        let prometheus = crate::telemetry::prometheus();
        let db = open_database(cfg).await?;
        // During a rolling restart a newer Settle may have migrated the database: this one serves on it when each
        // migration it does not know names this version, or an older one, as the oldest that runs on it (an expand
        // step), and applies none.
        let ahead = settle_store::migration::ahead(db.pool()).await.context("cannot read the migration status")?;
        if let settle_store::migration::Ahead::Incompatible { unknown, blocking } = &ahead {
            bail!(
                "the database was migrated by a newer Settle (migrations {} are unknown to this one), and this version cannot \
                 run on {} (only newer versions do): upgrade this instance to the newer Settle",
                unknown.join(", "),
                blocking.join(", ")
            );
        }
        if let settle_store::migration::Ahead::Compatible(unknown) = &ahead {
            let pending = settle_store::migration::compare(db.pool()).await?.pending;
            if !pending.is_empty() {
                bail!("the database was migrated by a newer Settle, yet migrations {} that this one knows are not applied", pending.join(", "));
            }
            tracing::warn!(
                newer = %unknown.join(", "),
                "the database was migrated by a newer Settle; this version runs on each of its migrations: serving, no migration applied"
            );
        } else if opts.migrate {
            settle_store::migration::up(&db).await.context("migrations failed")?;
        } else {
            let pending = settle_store::migration::pending(&db).await.context("cannot read the migration status")?;
            if !pending.is_empty() {
                bail!(
                    "the database has {} pending migrations ({}); run `settle migrate up` or start without --no-migrate",
                    pending.len(),
                    pending.join(", ")
                );
            }
        }
        let cache = match &cfg.redis_url {
            Some(url) => {
                let ca = match &cfg.redis_ca_file {
                    Some(f) => Some(std::fs::read(f).with_context(|| format!("SETTLE_REDIS_CA_FILE {f}: cannot read it"))?),
                    None => None,
                };
                PaymentCache::redis(url, ca).with_context(|| format!("REDIS_URL {}: invalid", redact(url)))?
            }
            None => PaymentCache::memory(),
        };
        let listener = TcpListener::bind(cfg.listen).await.with_context(|| format!("SETTLE_LISTEN {}: cannot listen", cfg.listen))?;
        let local = listener.local_addr().context("reading the listen address")?;
        // Live payments go to SETTLE_PG_URL's gateway, or nowhere; test payments to SETTLE_PG_TEST_URL's, or to the
        // simulator in-process: a production deploy missing SETTLE_PG_URL never "charges" live cards against a fake.
        if cfg.gateway_url.is_none() {
            tracing::info!("no SETTLE_PG_URL: the card rail is off in live mode; live card charges answer 400 feature_not_enabled");
        }
        // The in-process simulator knows only the charges this instance sent, and forgets them at a restart: it is
        // --demo's (or asked for by name), while a cluster names one simulator its instances share.
        let (test_gateway_url, sim) = match cfg.test_gateway_url.as_deref() {
            Some(url) if url != crate::config::SIMULATOR => (Some(url.to_owned()), None),
            Some(_) => (None, Some(())),
            None if opts.demo => (None, Some(())),
            None => {
                tracing::info!("no SETTLE_PG_TEST_URL: the card rail is off in test mode; test card charges answer 400 feature_not_enabled");
                (None, None)
            }
        };
        let (test_gateway_url, sim) = match (test_gateway_url, sim) {
            (None, Some(())) => {
                let l = TcpListener::bind("127.0.0.1:0").await.context("starting the in-process PG simulator")?;
                let sim = settle_card::sim::start(l, settle_card::sim::Knobs::default());
                tracing::info!(url = %sim.url(), "test-mode card payments go to the in-process PG simulator (no real card is charged)");
                (Some(sim.url()), Some(sim))
            }
            (url, _) => (url, None),
        };
        let mut settings = cfg.app.clone();
        if settings.keyring.is_none() && opts.local_master_key {
            settings.keyring = Some(Arc::new(local_master_key()?));
        }
        // Every stored secret must open with these keys: a missing key would otherwise show only as failing
        // deliveries.
        settle_app::webhooks::check_secrets(&db, settings.keyring.as_deref()).await.map_err(|e| anyhow::anyhow!(e))?;
        // The demo merchant's key is printed in the README: only `serve --demo` takes it, unless told otherwise.
        if !opts.demo
            && !cfg.allow_demo_key
            && settle_store::merchants::find_by_key_hash(&db, &settle_app::merchants::hash_key(settle_app::merchants::DEMO_API_KEY)).await?.is_some()
        {
            bail!(
                "the demo merchant's public key (printed in the README; `settle seed` or `serve --demo` made it) authenticates on this database: revoke it (DELETE /v1/api-keys/<its id> with another key of the merchant), run `serve --demo` for local use, or set SETTLE_ALLOW_DEMO_KEY=true for a local cluster or a test"
            );
        }
        if opts.demo || cfg.allow_demo_key {
            tracing::warn!("the demo merchant's public key authenticates (serve --demo or SETTLE_ALLOW_DEMO_KEY): never on a production database");
        }
        if settings.keyring.is_none() {
            tracing::warn!(
                "SETTLE_MASTER_KEY is not set: webhook secrets and the checkout secrets of recorded answers are stored unencrypted, and Idempotency-Key fingerprints are keyed by a secret stored in the database"
            );
        }
        settings.card.simulator = sim.is_some();
        settings.card.callback_url.get_or_insert_with(|| format!("http://{local}/v1/payments/callback"));
        let chains = cfg.chains.iter().map(settle_app::chain::Chain::from_spec).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!("{e}"))?;
        for c in &chains {
            tracing::info!(chain_id = c.chain_id, gateway = %c.gateway, signer = %c.signer.address(), relayer = %c.relayer.address(), "chain configured");
        }
        let client = |url: &str, names: &str| {
            settle_card::client::GatewayClient::new(settle_card::client::GatewayConfig {
                base_url: url.trim_end_matches('/').to_owned(),
                ..cfg.gateway.clone()
            })
            .map(Arc::new)
            .map_err(|e| anyhow::anyhow!("{names}: {e}"))
        };
        let gateway = cfg.gateway_url.as_deref().map(|url| client(url, "SETTLE_PG_URL / SETTLE_PG_CA_FILE")).transpose()?;
        let test_gateway = test_gateway_url.as_deref().map(|url| client(url, "SETTLE_PG_TEST_URL / SETTLE_PG_CA_FILE")).transpose()?;
        let ctx = Context::assemble(db, cache, settings, settle_app::chain::Chains(Arc::new(chains)), gateway, test_gateway);
        if opts.demo {
            let demo = settle_app::merchants::seed_demo(&ctx).await.map_err(|e| anyhow::anyhow!("seeding the demo merchant: {e}"))?;
            settle_app::shop::seed_demo(&ctx, &settle_app::merchants::demo_tenant())
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo shop: {e}"))?;
            println!("Demo merchant {} ready. API key (local use only): {}", demo.merchant_id, demo.api_key);
        }
        let (stop, stopping) = watch::channel(false);
        let state = AppState::new(settle_api::state::State { ctx, cfg: Arc::new(cfg.api.clone()), prometheus, stopping });
        let limits = ConnLimits { header_timeout: cfg.header_timeout, max_connections: fit_to_open_files(cfg.max_connections) };
        Ok(Self { listener, limits, sim, state, stop, shutdown_timeout: cfg.shutdown_timeout })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The application context (tests drive workers and the store through it).
    pub fn context(&self) -> &Context {
        &self.state.ctx
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish within the
    /// shutdown bound, stops the workers (releasing their leases) and closes the pool.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, limits, sim, state, stop, shutdown_timeout } = self;
        let ctx = state.ctx.clone();
        // Event streams open from where the outbox stands now (the follower would otherwise find out first).
        if let Err(e) = settle_app::follower::Follower::start(&ctx).await {
            tracing::warn!(error = %e, "reading the outbox head failed; event streams wait for the follower");
        }
        let workers = spawn_workers(&ctx, stop.subscribe());
        let router = settle_api::router(state);
        let (drain_tx, drain_rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, router, limits, drain_rx));
        tokio::pin!(shutdown);
        let mut server = server;
        tokio::select! {
            res = &mut server => {
                let _ = stop.send(true);
                res.context("server task failed")?.context("server failed")?;
                return Ok(());
            }
            _ = &mut shutdown => {}
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let stopping_since = std::time::Instant::now();
        let _ = stop.send(true);
        let _ = drain_tx.send(true);
        match tokio::time::timeout(shutdown_timeout, &mut server).await {
            Ok(res) => res.context("server task failed")?.context("server failed")?,
            Err(_) => {
                tracing::warn!(after = ?shutdown_timeout, "in-flight requests did not finish in time; closing them");
                server.abort();
            }
        }
        // All together, within one bound (not 5 s each in turn).
        settle_app::worker::join(workers, Duration::from_secs(5)).await;
        // Card charges run in tasks of their own (a request that timed out leaves its charge running): wait for
        // them within the same bound before the pool closes, and record the ones abandoned as unknown outcomes.
        let left = shutdown_timeout.saturating_sub(stopping_since.elapsed()).max(Duration::from_secs(1));
        let abandoned = ctx.charges.drain(left).await;
        if !abandoned.is_empty() {
            settle_app::card::record_abandoned(&ctx, &abandoned).await;
        }
        if let Some(sim) = sim {
            sim.stop().await;
        }
        if let Err(e) = ctx.db.clone().close().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// What a client connection may hold.
#[derive(Clone, Copy, Debug)]
struct ConnLimits {
    header_timeout: Duration,
    max_connections: usize,
}

/// File descriptors kept for everything but client connections: the database pool, Redis, NATS, the gateway and
/// chain clients, webhook deliveries, files.
const RESERVED_FILES: usize = 512;

/// `max` lowered to fit the process's open-file limit (read from /proc/self/limits, where there is one), so that
/// client connections can never take the descriptors the database and the other clients need.
fn fit_to_open_files(max: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits").ok().and_then(|t| {
        t.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3)).and_then(|n| n.parse::<usize>().ok())
    });
    match limit {
        Some(files) if files.saturating_sub(RESERVED_FILES) < max => {
            let fit = files.saturating_sub(RESERVED_FILES).max(1);
            tracing::warn!(configured = max, open_file_limit = files, used = fit, "SETTLE_MAX_CONNECTIONS lowered to fit the open-file limit");
            fit
        }
        _ => max,
    }
}

/// Serves HTTP/1.1 on `listener` until `drain` turns true, then waits for the open connections to finish their
/// requests (the caller bounds the wait). Each connection's request headers must arrive within the header timeout
/// (which also closes a keep-alive connection left idle that long), and at most `max_connections` are open at
/// once: one over the cap is closed as soon as it is accepted, so a flood of idle sockets costs no more than the
/// cap and cannot starve the process of file descriptors.
async fn serve(listener: TcpListener, router: settle_api::router::App, limits: ConnLimits, mut drain: watch::Receiver<bool>) -> std::io::Result<()> {
    use hyper_util::{
        rt::{TokioIo, TokioTimer},
        server::graceful::GracefulShutdown,
    };
    use tower::ServiceExt;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors or a connection reset before it was accepted: not fatal.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = async { drop(drain.wait_for(|v| *v).await) } => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics::counter!("settle_http_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// DATABASE_URL with SETTLE_DATABASE_CA_FILE added as the driver's root-certificate parameter.
fn database_url(cfg: &Config) -> String {
    let Some(ca) = &cfg.database_ca_file else {
        return cfg.database_url.clone();
    };
    let param = match settle_store::Backend::of_url(&cfg.database_url) {
        Some(settle_store::Backend::Postgres) => "sslrootcert",
        Some(settle_store::Backend::Mysql) => "ssl-ca",
        _ => return cfg.database_url.clone(),
    };
    let sep = if cfg.database_url.contains('?') { '&' } else { '?' };
    format!("{}{sep}{param}={ca}", cfg.database_url)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Starts this instance's background workers on `ctx` (the composition root's job): the outbox relay and the
/// follower, the webhook sender, the card rail's reconciler and voider, the NATS publisher, the saga workers, a
/// watcher and a relayer per chain, and the janitor. Each is a [`settle_app::worker::Worker`] run by its step loop;
/// the single-active ones hold a lease and give it up when they stop. They stop when `stop` turns true.
fn spawn_workers(ctx: &Context, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    let never = || Arc::new(tokio::sync::Notify::new());
    let mut run = |handle: tokio::task::JoinHandle<()>| handles.push(handle);
    run(settle_app::worker::spawn(ctx, settle_app::outbox::Relay::new(ctx.clone()), ctx.outbox_wake.clone(), ctx.settings.outbox_poll, stop.clone()));
    run(settle_app::worker::spawn(
        ctx,
        settle_app::follower::Follower::new(ctx.clone()),
        ctx.follow_wake.clone(),
        ctx.settings.follow_poll,
        stop.clone(),
    ));
    match settle_app::webhooks::Sender::new(ctx.clone()) {
        Ok(s) => run(settle_app::worker::spawn(ctx, s, ctx.webhook_wake.clone(), ctx.settings.webhooks.poll, stop.clone())),
        Err(e) => tracing::error!(error = %e, "webhooks cannot be sent"),
    }
    if ctx.has_card_gateway() {
        run(settle_app::worker::spawn(ctx, settle_app::card::Reconciler::new(ctx.clone()), never(), ctx.settings.card.poll, stop.clone()));
        run(settle_app::worker::spawn(ctx, settle_app::card::Voider::new(ctx.clone()), never(), ctx.settings.card.poll, stop.clone()));
        run(settle_app::worker::spawn(ctx, settle_app::card::RefundChecker::new(ctx.clone()), never(), ctx.settings.card.poll, stop.clone()));
    }
    // Every handler of the choreography emits its next event, so the dispatcher wakes on each publication
    // (and polls for events another instance's relay published).
    let (chor_wake, nats_wake) = (never(), never());
    let (bridge_wake, nats_bridge, mut published, mut bridge_stop) = (chor_wake.clone(), nats_wake.clone(), ctx.published.subscribe(), stop.clone());
    run(tokio::spawn(async move {
        loop {
            tokio::select! {
                r = published.changed() => if r.is_err() { break } else { bridge_wake.notify_one(); nats_bridge.notify_one() },
                _ = bridge_stop.changed() => break,
            }
        }
    }));
    if let Some(n) = &ctx.settings.nats {
        run(settle_app::worker::spawn(
            ctx,
            settle_app::nats::Publisher::new(ctx.clone(), n.clone()),
            nats_wake,
            Duration::from_millis(500),
            stop.clone(),
        ));
    }
    run(settle_app::worker::spawn(ctx, settle_app::orders::Choreographer::new(ctx.clone()), chor_wake, Duration::from_millis(200), stop.clone()));
    run(settle_app::worker::spawn(ctx, settle_app::orders::SagaWorker::new(ctx.clone()), never(), ctx.settings.saga_sweep, stop.clone()));
    for chain in ctx.chains.0.iter() {
        let w = settle_app::chain::watcher::Watcher::new(ctx.clone(), chain.clone());
        let poll = w.poll();
        run(settle_app::worker::spawn(ctx, w, never(), poll, stop.clone()));
        let r = settle_app::chain::relayer::Relayer::new(ctx.clone(), chain.clone());
        let poll = r.poll();
        run(settle_app::worker::spawn(ctx, r, ctx.relay_wake.clone(), poll, stop.clone()));
    }
    run(settle_app::worker::spawn(ctx, settle_app::janitor::Janitor::new(ctx.clone()), never(), settle_app::janitor::EVERY, stop));
    handles
}
