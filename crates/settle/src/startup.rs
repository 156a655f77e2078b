//! The composition root: [`App::build`] opens the database (migrating unless told not to), builds the cache,
//! the context and the router, and binds the listener; [`App::run_until_stopped`] serves until the shutdown
//! future resolves, then drains in-flight requests within a bound, stops the workers and closes the pool.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use settle_api::{ApiConfig, AppState, RateLimit};
use settle_app::{Context, Settings, cache::PaymentCache};
use tokio::{net::TcpListener, sync::watch};

use crate::{Config, config::redact};

/// What `build` does besides serving.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Apply pending migrations first (`settle serve` does unless `--no-migrate`).
    pub migrate: bool,
    /// Seed the demo merchant.
    pub demo: bool,
    /// Application tunables (tests shorten waits).
    pub settings: Settings,
}

pub struct App {
    listener: TcpListener,
    /// The in-process PG simulator, when no SETTLE_PG_URL is set.
    sim: Option<settle_card::sim::SimHandle>,
    state: AppState,
    stop: watch::Sender<bool>,
    shutdown_timeout: Duration,
}

/// Opens and checks the database: it must answer before Settle listens.
pub async fn open_database(cfg: &Config) -> anyhow::Result<settle_store::DatabaseConnection> {
    let db = settle_store::connect(&cfg.database_url, cfg.db_max_connections)
        .await
        .with_context(|| format!("DATABASE_URL {}: cannot connect", redact(&cfg.database_url)))?;
    settle_store::ping(&db).await.with_context(|| format!("DATABASE_URL {}: the database does not answer", redact(&cfg.database_url)))?;
    Ok(db)
}

impl App {
    pub async fn build(cfg: &Config, opts: BuildOptions) -> anyhow::Result<Self> {
        let db = open_database(cfg).await?;
        if opts.migrate {
            settle_store::migration::up(&db).await.context("migrations failed")?;
        } else {
            let pending = settle_store::migration::pending(&db).await.context("cannot read the migration status")?;
            if !pending.is_empty() {
                bail!("the database has {} pending migrations ({}); run `settle migrate up` or start without --no-migrate", pending.len(), pending.join(", "));
            }
        }
        let cache = match &cfg.redis_url {
            Some(url) => PaymentCache::redis(url).with_context(|| format!("REDIS_URL {}: invalid", redact(url)))?,
            None => PaymentCache::memory(),
        };
        let listener = TcpListener::bind(cfg.listen).await.with_context(|| format!("SETTLE_LISTEN {}: cannot listen", cfg.listen))?;
        let local = listener.local_addr().context("reading the listen address")?;
        let (pg_url, sim) = match &cfg.card.pg_url {
            Some(url) => (url.clone(), None),
            None => {
                let l = TcpListener::bind("127.0.0.1:0").await.context("starting the in-process PG simulator")?;
                let sim = settle_card::sim::start(l, settle_card::sim::Knobs::default());
                tracing::info!(url = %sim.url(), "no SETTLE_PG_URL: running the PG simulator in-process");
                (sim.url(), Some(sim))
            }
        };
        let mut settings = opts.settings.clone();
        settings.card.callback_url = cfg.card.callback_url.clone().unwrap_or_else(|| format!("http://{local}/payments/callback"));
        settings.card.reconcile_after = cfg.card.reconcile_after;
        settings.card.backoff = cfg.card.reconcile_backoff.clone();
        settings.card.not_recorded_deadline = cfg.card.reconcile_deadline;
        let mut ctx = Context::new(db, cache, settings);
        ctx.pg = Some(Arc::new(settle_card::client::PgClient::new(pg_config(&cfg.card, pg_url))));
        if opts.demo {
            let demo = settle_app::merchants::seed_demo(&ctx).await.map_err(|e| anyhow::anyhow!("seeding the demo merchant: {e}"))?;
            println!("Demo merchant {} ready. API key (local use only): {}", demo.merchant_id, demo.api_key);
        }
        let (stop, stopping) = watch::channel(false);
        let api = ApiConfig {
            admin_token: cfg.admin_token.clone(),
            cors_origins: cfg.cors_origins.clone(),
            rate_limit: (cfg.rate_limit_per_sec > 0).then_some(RateLimit { per_second: cfg.rate_limit_per_sec, burst: cfg.rate_limit_burst }),
            body_limit: cfg.body_limit_bytes,
            request_timeout: cfg.request_timeout,
        };
        let state = AppState { ctx, cfg: Arc::new(api), prometheus: crate::telemetry::prometheus(), stopping };
        Ok(Self { listener, sim, state, stop, shutdown_timeout: cfg.shutdown_timeout })
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
        let Self { listener, sim, state, stop, shutdown_timeout } = self;
        let ctx = state.ctx.clone();
        let workers = ctx.spawn_workers(stop.subscribe());
        let router = settle_api::router(state);
        let (drain_tx, mut drain_rx) = watch::channel(false);
        let server = tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = drain_rx.wait_for(|v| *v).await;
                })
                .await
        });
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
        let _ = stop.send(true);
        let _ = drain_tx.send(true);
        match tokio::time::timeout(shutdown_timeout, &mut server).await {
            Ok(res) => res.context("server task failed")?.context("server failed")?,
            Err(_) => {
                tracing::warn!(after = ?shutdown_timeout, "in-flight requests did not finish in time; closing them");
                server.abort();
            }
        }
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
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

/// The gateway client's settings from configuration.
pub fn pg_config(c: &crate::config::CardConfig, base_url: String) -> settle_card::client::PgConfig {
    let mut p = settle_card::client::PgConfig::new(base_url);
    p.connect_timeout = c.connect_timeout;
    p.request_timeout = c.request_timeout;
    p.read_retries = c.read_retries;
    p.charge_retries = c.charge_retries;
    p.backoff_base = c.backoff_base;
    p.backoff_max = c.backoff_max;
    p.breaker = c.breaker.clone();
    p.max_concurrent_calls = c.max_concurrent;
    p.max_wait = c.max_wait;
    p
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
