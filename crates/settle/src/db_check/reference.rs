//! The reference: a throwaway database of the live one's backend that this build's migrations are run on, and the
//! demo seed run twice on it.

use std::collections::BTreeMap;

use crate::Config;

/// A throwaway database of the live one's backend, for the reference schema.
pub(super) struct Reference {
    pub(super) db: settle_store::Db,
    pub(super) url: String,
    /// How to drop it: a statement run on the live connection, or a file to delete.
    drop_sql: Option<String>,
    live: settle_store::Db,
    file: Option<std::path::PathBuf>,
}

impl Reference {
    /// Makes the reference on SETTLE_DB_CHECK_REFERENCE_URL's server when it is set (a role that may create there),
    /// else on the live database's.
    pub(super) async fn create(cfg: &Config, live: &settle_store::Db) -> anyhow::Result<Self> {
        use settle_store::ConnectionTrait;
        // The name is generated here, never input.
        let name = format!("settle_check_{}_{}", std::process::id(), settle_store::now_ms());
        let own;
        let (url, live) = match &cfg.db_check_reference_url {
            Some(u) => {
                own = settle_store::connect(u, 2).await.map_err(|e| {
                    anyhow::anyhow!(
                        "SETTLE_DB_CHECK_REFERENCE_URL {}: cannot connect: {}",
                        crate::config::redact(u),
                        crate::config::scrub(&e.to_string(), u)
                    )
                })?;
                if own.get_database_backend() != live.get_database_backend() {
                    anyhow::bail!("SETTLE_DB_CHECK_REFERENCE_URL must be a database of DATABASE_URL's kind");
                }
                (u, &own)
            }
            None => (&cfg.database_url, live),
        };
        let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
        // Made, then reached: a reference that cannot be reached is dropped again, never left behind.
        let reach = async |url: String, drop_sql: String| match settle_store::connect(&url, 2).await {
            Ok(db) => Ok(Self { db, url, drop_sql: Some(drop_sql), live: live.clone(), file: None }),
            Err(e) => {
                let _ = live.execute_unprepared(&drop_sql).await;
                Err(anyhow::anyhow!("reaching the reference {}: {}", crate::config::redact(&url), crate::config::scrub(&e.to_string(), &url)))
            }
        };
        match live.get_database_backend() {
            settle_store::DbBackend::Postgres => {
                live.execute_unprepared(&format!("CREATE SCHEMA {name}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("creating a temporary schema for the reference: {e}"))?;
                let sep = if query.is_some() { '&' } else { '?' };
                reach(format!("{url}{sep}options=-c%20search_path%3D{name}"), format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await
            }
            settle_store::DbBackend::MySql => {
                live.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("creating a temporary database for the reference: {e}"))?;
                // The server's address, whatever the URL's path (`mysql://host:3306`, `mysql://host:3306/db`).
                let (scheme, rest) = base.split_once("://").unwrap_or(("mysql", base));
                let server = rest.split_once('/').map_or(rest, |(s, _)| s);
                let url = format!("{scheme}://{server}/{name}{}", query.map(|q| format!("?{q}")).unwrap_or_default());
                reach(url, format!("DROP DATABASE IF EXISTS {name}")).await
            }
            _ => {
                let file = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}", file.display());
                let db = settle_store::connect(&url, 2).await?;
                Ok(Self { db, url, drop_sql: None, live: live.clone(), file: Some(file) })
            }
        }
    }

    pub(super) async fn drop(self) {
        use settle_store::ConnectionTrait;
        let _ = self.db.close().await;
        if let Some(sql) = &self.drop_sql
            && let Err(e) = self.live.execute_unprepared(sql).await
        {
            tracing::warn!(error = %e, "could not drop the reference schema of db check");
        }
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

/// Seeds the demo data twice on `db`; gives the tables the second run changed.
pub(super) async fn seed_twice(db: &settle_store::Db) -> anyhow::Result<Vec<String>> {
    let ctx = settle_app::Context::new(db.clone(), settle_app::cache::PaymentCache::memory(), Default::default());
    let seed = || async {
        settle_app::merchants::seed_demo(&ctx).await.map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        settle_app::shop::seed_demo(&ctx, &settle_app::merchants::demo_tenant()).await.map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        anyhow::Ok(())
    };
    let snapshot = || async {
        let mut out = BTreeMap::new();
        for t in settle_store::backup::tables() {
            out.insert(t.name, serde_json::to_string(&t.read(db, None, 100_000).await?)?);
        }
        anyhow::Ok(out)
    };
    seed().await?;
    let first = snapshot().await?;
    seed().await?;
    let second = snapshot().await?;
    Ok(first.iter().filter(|(t, rows)| second.get(*t) != Some(rows)).map(|(t, _)| (*t).to_owned()).collect())
}
