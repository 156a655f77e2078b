//! The audit log as merchants read it. The mechanism (a scope per request or CLI action, a row in each change's
//! transaction) is [`settle_store::audit`], re-exported here for the edge and the CLI.

use serde::Serialize;
pub use settle_store::audit::{Actor, Scope, Traced, active, carry, current, set_actor, within};

use crate::{AppError, Context, time::rfc3339};

/// One audited change.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[schema(example = "aud_42")]
    /// `aud_<n>`.
    pub id: String,
    pub actor: ActorView,
    #[schema(example = "payment.cancelled")]
    /// What was done: an event type (`payment.cancelled`) or an action (`webhook_endpoint.created`).
    pub action: String,
    /// The id of what it was done to.
    pub target_id: String,
    /// Whether it was done in live mode (false: with a test key, to a test object).
    pub livemode: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    #[schema(value_type = Object)]
    /// The new values the change set (never a secret or card data).
    pub changes: serde_json::Value,
    /// SHA-256 (hex) of the change as recorded (for an event, of the event as queued).
    pub digest: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AuditActor)]
#[serde(rename_all = "camelCase")]
pub struct ActorView {
    /// merchant (an API key), admin, cli, checkout (a payment's client secret), gateway or anonymous.
    #[schema(example = "merchant")]
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(example = "key_2")]
    /// The API key's id, for a merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub data: Vec<AuditEntry>,
    pub has_more: bool,
}

/// What a page of the audit log is filtered by.
#[derive(Default, Debug)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub target_id: Option<String>,
    /// An entry id (`aud_<n>`): the page holds older entries (`startingAfter`) or newer ones (`endingBefore`).
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    pub limit: u64,
}

/// A merchant's audit log, newest first.
pub async fn list(ctx: &Context, merchant_id: &str, q: AuditQuery) -> Result<AuditPage, AppError> {
    let cursor = settle_store::Cursor::named(q.starting_after.as_deref(), q.ending_before.as_deref(), |param, s| async move {
        s.strip_prefix("aud_")
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| AppError::invalid(param, format!("{param} must be an audit entry id (aud_...)")))
    })
    .await?;
    for (name, v) in [("action", &q.action), ("targetId", &q.target_id)] {
        if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > 128) {
            return Err(AppError::invalid(name, format!("{name} must be 1 to 128 characters")));
        }
    }
    let (rows, has_more) =
        settle_store::audit::list(&ctx.db, merchant_id, q.action.as_deref(), q.target_id.as_deref(), cursor, q.limit.clamp(1, 100)).await?;
    let data = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: format!("aud_{}", r.id),
            actor: ActorView { kind: r.actor_type, id: r.actor_id },
            action: r.action,
            livemode: r.merchant_id.as_deref().is_none_or(settle_domain::mode::is_live),
            target_id: r.target_id,
            request_id: r.request_id,
            client_address: r.client_addr,
            changes: serde_json::from_str(&r.changes).unwrap_or(serde_json::Value::Null),
            digest: r.digest,
            created_at: rfc3339(r.created_at),
        })
        .collect();
    Ok(AuditPage { data, has_more })
}

/// Records an action that changes nothing in the database (the read-only switch) in a transaction of its own.
pub async fn record_alone(ctx: &Context, action: &str, target_id: &str, changes: &serde_json::Value) -> Result<(), AppError> {
    let txn = settle_store::begin(&ctx.db).await?;
    settle_store::audit::record(&txn, None, action, target_id, changes).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    Ok(())
}

/// Switches the admin's read-only mode for every instance: stored (with its audit row, in one transaction) before
/// this instance applies it; the others apply it on their follower's next read of the switches, and a restarted
/// instance reads it before it serves. When the database refuses the write (it is read-only itself), this
/// instance applies the switch all the same, with a warning, and the error is returned: the others cannot know.
pub async fn set_read_only(ctx: &Context, on: bool) -> Result<(), AppError> {
    let stored = async {
        let txn = settle_store::begin(&ctx.db).await?;
        settle_store::flags::set(&txn, settle_store::flags::READ_ONLY, on, settle_store::now_ms()).await?;
        settle_store::audit::record(&txn, None, "read_only.set", "settle", &serde_json::json!({"enabled": on})).await?;
        txn.commit().await.map_err(settle_store::StoreError::from)?;
        Ok::<(), AppError>(())
    }
    .await;
    ctx.apply_read_only(on);
    // Stored: the switch is the cluster's. Not stored: it holds on this instance, pinned against the follower's reads
    // of the stored one, until a later switch is stored.
    ctx.read_only_pinned.store(stored.is_err() && on, std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = &stored {
        tracing::warn!(error = %e, enabled = on, "the read-only switch could not be stored: it holds on this instance only");
    }
    stored
}
