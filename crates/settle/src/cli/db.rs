//! `settle db` and `settle migrate`: the database's statistics, its check, and its migrations.

use super::{
    Format, MigrateAction,
    output::{emit, say, usage},
};
use crate::{Config, startup};

/// `settle db stats`: with --server, a running Settle's view (`GET /v1/admin/db`); without, the configured database's.
pub(super) async fn stats(cfg: &Config, server: Option<String>, format: Option<Format>) -> anyhow::Result<()> {
    match server {
        Some(server) => {
            use secrecy::ExposeSecret;
            let Some(token) = &cfg.api.admin_token else { return Err(usage("--server needs SETTLE_ADMIN_TOKEN (the server's admin token)")) };
            settle_card::tls::ensure_crypto_provider();
            let url = format!("{}/v1/admin/db", server.trim_end_matches('/'));
            let r = reqwest::Client::new().get(&url).bearer_auth(token.expose_secret()).send().await.map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.map_err(|e| anyhow::anyhow!("{url}: not JSON: {e}"))?;
            if !status.is_success() {
                anyhow::bail!("{url} answered {status}: {body}");
            }
            emit(&body, format, Format::Json)
        }
        None => {
            let db = startup::open_database(cfg).await?;
            let ctx = settle_app::Context::new(db, settle_app::cache::PaymentCache::memory(), Default::default());
            emit(&ctx.db_stats().await?, format, Format::Json)
        }
    }
}

/// `settle db check`.
pub(super) async fn db_check(
    cfg: &Config,
    output: Option<std::path::PathBuf>,
    long_transaction_secs: i64,
    format: Option<Format>,
) -> anyhow::Result<()> {
    let report = Box::pin(crate::db_check::run(cfg, long_transaction_secs)).await?;
    let body = match format.unwrap_or(Format::Text) {
        Format::Text => crate::db_check::text(&report),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        Format::Sarif => format!("{}\n", serde_json::to_string_pretty(&crate::db_check::sarif(&report))?),
    };
    match &output {
        Some(path) => std::fs::write(path, body).map_err(|e| anyhow::anyhow!("--output {}: {e}", path.display()))?,
        None => say(&body)?,
    }
    if report.errors() > 0 {
        anyhow::bail!("db check: {} error-level finding(s)", report.errors());
    }
    Ok(())
}

/// `settle migrate`: up, down or status.
pub(super) async fn migrate(cfg: &Config, action: MigrateAction, format: Option<Format>) -> anyhow::Result<()> {
    // The same usage error for every action, before anything is done.
    if format == Some(Format::Sarif) {
        return Err(usage("--format sarif is for `settle db check` only"));
    }
    let db = startup::open_database(cfg).await?;
    match action {
        MigrateAction::Up => {
            let before = settle_store::migration::compare(db.pool()).await?.pending;
            settle_store::migration::up(&db).await?;
            match format {
                Some(Format::Json) => emit(&serde_json::json!({"applied": before}), format, Format::Json)?,
                _ => say(&format!("migrations applied ({})\n", before.len()))?,
            }
        }
        MigrateAction::Down { n } => {
            settle_store::migration::down(&db, n).await?;
            match format {
                Some(Format::Json) => emit(&serde_json::json!({"rolledBack": n}), format, Format::Json)?,
                _ => say(&format!("rolled back {n} migration(s)\n"))?,
            }
        }
        MigrateAction::Status => {
            // Read only; a migration a newer Settle applied is listed as such.
            let schema = settle_store::migration::compare(db.pool()).await?;
            let mut all: Vec<(String, bool, bool)> =
                settle_store::migration::names().into_iter().map(|n| (n.clone(), !schema.pending.contains(&n), true)).collect();
            all.extend(schema.unknown.into_iter().map(|n| (n, true, false)));
            match format {
                Some(Format::Json) => {
                    let v: Vec<_> =
                        all.iter().map(|(name, applied, known)| serde_json::json!({"name": name, "applied": applied, "known": known})).collect();
                    emit(&v, format, Format::Json)?;
                }
                _ => {
                    let lines: String = all
                        .iter()
                        .map(|(name, applied, known)| {
                            let state = match (applied, known) {
                                (_, false) => "applied by a newer Settle",
                                (true, true) => "applied",
                                (false, true) => "pending",
                            };
                            format!("{state} {name}\n")
                        })
                        .collect();
                    say(&lines)?;
                }
            }
        }
    }
    Ok(())
}
