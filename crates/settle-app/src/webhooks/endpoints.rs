//! A merchant's endpoints: create, read, change, delete, rotate the secret; sealing secrets under the master key.

use serde::Serialize;
use settle_store::{StoreError, audit, webhooks as store};

use super::{address_guard::check_url, signing::new_secret, topics::parse_patterns};
use crate::{
    AppError, Context,
    crypto::{self, Keyring},
    idempotency::{self, Claim, IdemKey, Reply},
    time::rfc3339,
};

/// Endpoints a merchant may have.
pub const MAX_ENDPOINTS: u64 = 16;

/// An endpoint as the API shows it (never its secret, but at creation and rotation).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    #[schema(example = "we_0192f3a4b5c67d8e9f0a1b2c3d4e5f60")]
    pub id: String,
    /// Whether the endpoint receives live events (false: test-mode ones; each mode has its own endpoints).
    pub livemode: bool,
    #[schema(example = "https://shop.example/webhooks/settle")]
    pub url: String,
    /// Event types it receives: a type (`payment.completed`), a prefix (`payment.*`) or `*`.
    #[schema(example = json!(["payment.*"]))]
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    /// Why Settle disabled it (`failing`); absent when enabled or disabled by the merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// During a rotation: until when the previous secret still signs alongside the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl EndpointView {
    fn of(e: &store::EndpointRow, now: i64) -> Self {
        Self {
            id: e.endpoint_id.clone(),
            livemode: settle_domain::mode::is_live(&e.merchant_id),
            url: e.url.clone(),
            events: serde_json::from_str(&e.events).unwrap_or_default(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            previous_secret_expires_at: e.previous_secret_until.filter(|u| *u > now && e.previous_secret.is_some()).map(rfc3339),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
        }
    }
}

/// An endpoint with its signing secret, shown once (at creation and at each rotation).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpointWithSecret)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_` + base64 of the key: verify each delivery's `webhook-signature` with it (Standard Webhooks).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJ0cJ0uW2aQk=")]
    pub secret: String,
}

/// A merchant's endpoints.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpointList)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
    /// Always false: a merchant holds at most 16 endpoints, all on one page.
    pub has_more: bool,
}

pub(super) fn check_description(d: Option<&str>) -> Result<Option<String>, AppError> {
    match d.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if d.chars().count() > 500 || d.contains('\0') => {
            Err(AppError::invalid("description", "description must be at most 500 characters, without NUL"))
        }
        Some(d) => Ok(Some(d.to_owned())),
    }
}

pub(super) fn check_endpoint_id(id: &str) -> Result<(), AppError> {
    if id.len() > 40 || !id.starts_with("we_") {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    Ok(())
}

/// Registers an endpoint; its secret is in the answer and nowhere else.
/// What an endpoint's create or rotation records for its Idempotency-Key: the endpoint's id, never its secret. The
/// answer, a replay's too, is read from the endpoint (its current secret opened from its sealed column).
pub(super) fn endpoint_reply(outcome: idempotency::Outcome, endpoint_id: &str) -> Reply {
    Reply { outcome, body: serde_json::json!({ "endpointId": endpoint_id }).to_string(), replayed: false }
}

/// The endpoint a recorded reply names, with its current secret.
pub(super) async fn endpoint_with_secret(ctx: &Context, merchant_id: &str, reply: &Reply) -> Result<EndpointWithSecret, AppError> {
    let id = serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["endpointId"].as_str().map(str::to_owned))
        .ok_or_else(|| AppError::InvalidState("this Idempotency-Key's stored response is unreadable; use a new key".into()))?;
    let row = store::endpoint(&ctx.db, merchant_id, &id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    let secret = crypto::open(ctx.settings.keyring.as_deref(), &row.secret, &row.endpoint_id).map_err(AppError::internal)?;
    Ok(EndpointWithSecret { endpoint: EndpointView::of(&row, settle_store::now_ms()), secret })
}

/// `POST /v1/webhook-endpoints`. With an Idempotency-Key, a retry answers the endpoint the first request made (with
/// its current secret) and never makes a second one.
pub async fn create_endpoint(
    ctx: &Context,
    merchant_id: &str,
    url: &str,
    events: &[String],
    description: Option<&str>,
    key: Option<IdemKey>,
) -> Result<(EndpointWithSecret, bool), AppError> {
    let reply = idempotency::once(ctx, merchant_id, key, |claim| async move {
        let id = create_endpoint_in(ctx, merchant_id, url, events, description, &claim).await?;
        Ok(endpoint_reply(idempotency::Outcome::Created, &id))
    })
    .await?;
    Ok((endpoint_with_secret(ctx, merchant_id, &reply).await?, reply.replayed))
}

pub(super) async fn create_endpoint_in(
    ctx: &Context,
    merchant_id: &str,
    url: &str,
    events: &[String],
    description: Option<&str>,
    claim: &Claim,
) -> Result<String, AppError> {
    let url = check_url(&ctx.settings.webhooks.allow_hosts, url).await?;
    let events = parse_patterns("events", events)?;
    let description = check_description(description)?;
    if store::count_endpoints(&ctx.db, merchant_id).await? >= MAX_ENDPOINTS {
        return Err(AppError::InvalidState(format!("a merchant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")));
    }
    let id = format!("we_{}", uuid::Uuid::now_v7().simple());
    let secret = new_secret();
    let now = settle_store::now_ms();
    let events = serde_json::to_string(&events).unwrap_or_default();
    let sealed = crypto::seal(ctx.settings.keyring.as_deref(), &secret, &id);
    let txn = settle_store::begin(&ctx.db).await?;
    let row = store::create_endpoint(
        &txn,
        store::NewEndpoint { endpoint_id: &id, merchant_id, url: &url, events: &events, description: description.as_deref(), secret: &sealed },
        now,
    )
    .await?;
    let changes = serde_json::json!({"url": url, "events": events, "description": description});
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.created", &id, &changes).await?;
    claim.complete_in(&txn, &endpoint_reply(idempotency::Outcome::Created, &row.endpoint_id)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    claim.committed();
    drop(secret);
    tracing::info!(merchant_id, endpoint_id = %id, "webhook endpoint created");
    Ok(id)
}

pub async fn list_endpoints(ctx: &Context, merchant_id: &str) -> Result<EndpointList, AppError> {
    let now = settle_store::now_ms();
    Ok(EndpointList { data: store::endpoints(&ctx.db, merchant_id).await?.iter().map(|e| EndpointView::of(e, now)).collect(), has_more: false })
}

pub async fn get_endpoint(ctx: &Context, merchant_id: &str, endpoint_id: &str) -> Result<EndpointView, AppError> {
    check_endpoint_id(endpoint_id)?;
    let e = store::endpoint(&ctx.db, merchant_id, endpoint_id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    Ok(EndpointView::of(&e, settle_store::now_ms()))
}

/// What `PATCH` may change.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Some(None) or Some(Some("")) clears it.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

pub async fn update_endpoint(ctx: &Context, merchant_id: &str, endpoint_id: &str, patch: EndpointPatch) -> Result<EndpointView, AppError> {
    check_endpoint_id(endpoint_id)?;
    let mut change = store::EndpointChange { enabled: patch.enabled, ..Default::default() };
    if let Some(u) = patch.url {
        change.url = Some(check_url(&ctx.settings.webhooks.allow_hosts, &u).await?);
    }
    if let Some(e) = patch.events {
        change.events = Some(serde_json::to_string(&parse_patterns("events", &e)?).unwrap_or_default());
    }
    if let Some(d) = patch.description {
        change.description = Some(check_description(d.as_deref())?);
    }
    let now = settle_store::now_ms();
    let changes = serde_json::json!({"url": change.url, "events": change.events, "description": change.description, "enabled": change.enabled});
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::update_endpoint(&txn, merchant_id, endpoint_id, change, now).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.updated", endpoint_id, &changes).await?;
    txn.commit().await.map_err(StoreError::from)?;
    ctx.webhook_wake.notify_one();
    get_endpoint(ctx, merchant_id, endpoint_id).await
}

/// The event type of a test event: delivered to the one endpoint it names, whatever the endpoints subscribe to.
pub const TEST_EVENT: &str = "webhook_endpoint.test";

/// What `POST /v1/webhook-endpoints/{id}/test` answers: the test event is on its way.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookTestSent)]
#[serde(rename_all = "camelCase")]
pub struct TestEventSent {
    pub endpoint_id: String,
    /// `webhook_endpoint.test`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Sends the endpoint a signed test event (`webhook_endpoint.test`, `data: {endpointId, message}`), the way every
/// event goes: published after its commit, delivered, signed with the endpoint's secrets, retried; this endpoint
/// only. A disabled endpoint is refused (it receives nothing).
pub async fn send_test(ctx: &Context, merchant_id: &str, endpoint_id: &str) -> Result<TestEventSent, AppError> {
    check_endpoint_id(endpoint_id)?;
    let e = store::endpoint(&ctx.db, merchant_id, endpoint_id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    if !e.enabled {
        return Err(AppError::InvalidState("the endpoint is disabled: enable it to receive events, the test one included".into()));
    }
    let data = serde_json::json!({"endpointId": endpoint_id, "message": "A test event from Settle: your endpoint receives and verifies events."});
    let txn = settle_store::begin(&ctx.db).await?;
    settle_store::outbox::enqueue(
        &txn,
        merchant_id,
        TEST_EVENT,
        endpoint_id,
        &serde_json::json!({"type": TEST_EVENT, "data": data}),
        settle_store::now_ms(),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    ctx.outbox_wake.notify_one();
    Ok(TestEventSent { endpoint_id: endpoint_id.to_owned(), kind: TEST_EVENT.to_owned() })
}

/// Deletes an endpoint with its deliveries.
pub async fn delete_endpoint(ctx: &Context, merchant_id: &str, endpoint_id: &str) -> Result<(), AppError> {
    check_endpoint_id(endpoint_id)?;
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::delete_endpoint(&txn, merchant_id, endpoint_id).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.deleted", endpoint_id, &serde_json::json!({})).await?;
    txn.commit().await.map_err(StoreError::from)?;
    tracing::info!(merchant_id, endpoint_id, "webhook endpoint deleted");
    Ok(())
}

/// Replaces an endpoint's secret; the previous one signs alongside it for [`WebhookSettings::rotation_overlap`].
/// `POST /v1/webhook-endpoints/{id}/rotate-secret`. With an Idempotency-Key, a retry answers the secret the first
/// request rotated to (the endpoint's current one) and never rotates again, so the caller keeps the secret it holds.
pub async fn rotate_secret(
    ctx: &Context,
    merchant_id: &str,
    endpoint_id: &str,
    key: Option<IdemKey>,
) -> Result<(EndpointWithSecret, bool), AppError> {
    check_endpoint_id(endpoint_id)?;
    let reply = idempotency::once(ctx, merchant_id, key, |claim| async move {
        rotate_in(ctx, merchant_id, endpoint_id, &claim).await?;
        Ok(endpoint_reply(idempotency::Outcome::Done, endpoint_id))
    })
    .await?;
    Ok((endpoint_with_secret(ctx, merchant_id, &reply).await?, reply.replayed))
}

pub(super) async fn rotate_in(ctx: &Context, merchant_id: &str, endpoint_id: &str, claim: &Claim) -> Result<(), AppError> {
    let secret = new_secret();
    let now = settle_store::now_ms();
    let until = now + ctx.settings.webhooks.rotation_overlap.as_millis() as i64;
    let sealed = crypto::seal(ctx.settings.keyring.as_deref(), &secret, endpoint_id);
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::rotate_secret(&txn, merchant_id, endpoint_id, &sealed, until, now).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.secret_rotated", endpoint_id, &serde_json::json!({"previousSecretUntil": until}))
        .await?;
    claim.complete_in(&txn, &endpoint_reply(idempotency::Outcome::Done, endpoint_id)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    claim.committed();
    tracing::info!(merchant_id, endpoint_id, "webhook endpoint secret rotated");
    Ok(())
}

/// Seals every stored endpoint secret under the current master key, bound to its endpoint (`settle keys rotate`):
/// those sealed under an older key of the list or before values were bound to their row, and those stored before a
/// key was configured. Each endpoint is written with a compare-and-set on the values read: a secret rotated
/// meanwhile (`rotate-secret`) is never overwritten with the one from before; that endpoint is read again and
/// resealed. Returns how many endpoints changed.
pub async fn reseal_all(ctx: &Context) -> Result<usize, AppError> {
    let Some(keys) = ctx.settings.keyring.as_deref() else {
        return Err(AppError::invalid("SETTLE_MASTER_KEY", "set SETTLE_MASTER_KEY: the new key first, the old ones after it"));
    };
    let mut n = 0;
    for mut row in store::all_secrets(&ctx.db).await? {
        for attempt in 0.. {
            let reseal = |s: &str| -> Result<Option<String>, AppError> {
                if keys.is_current(s) {
                    return Ok(None);
                }
                let plain = keys
                    .open(s, &row.endpoint_id)
                    .map_err(|err| AppError::invalid("SETTLE_MASTER_KEY", format!("a secret of endpoint {}: {err}", row.endpoint_id)))?;
                Ok(Some(keys.seal(&plain, &row.endpoint_id)))
            };
            let secret = reseal(&row.secret)?;
            let previous = match &row.previous_secret {
                Some(p) => reseal(p)?,
                None => None,
            };
            if secret.is_none() && previous.is_none() {
                break;
            }
            let txn = settle_store::begin(&ctx.db).await?;
            let swapped = store::reseal_secrets(
                &txn,
                row.id,
                (&row.secret, row.previous_secret.as_deref()),
                (secret.as_deref().unwrap_or(&row.secret), previous.as_deref().or(row.previous_secret.as_deref())),
            )
            .await?;
            if swapped {
                audit::record(
                    &txn,
                    Some(&row.merchant_id),
                    "webhook_endpoint.secret_resealed",
                    &row.endpoint_id,
                    &serde_json::json!({"keyId": keys.current_id()}),
                )
                .await?;
                txn.commit().await.map_err(StoreError::from)?;
                n += 1;
                break;
            }
            drop(txn);
            // Changed since it was read (a rotation): read it again and seal what it holds now.
            let Some(now) = store::secrets_of(&ctx.db, row.id).await? else { break };
            if attempt >= 10 {
                return Err(AppError::InvalidState(format!(
                    "endpoint {} kept changing while its secret was resealed; run it again",
                    row.endpoint_id
                )));
            }
            row = now;
        }
    }
    Ok(n)
}

/// Checks at start that every stored secret opens with the configured keys (or, without keys, that none is
/// sealed): a missing key would otherwise surface only as failing deliveries.
pub async fn check_secrets(db: &settle_store::Db, keys: Option<&Keyring>) -> Result<(), String> {
    for e in store::all_secrets(db).await.map_err(|e| e.to_string())? {
        for s in std::iter::once(&e.secret).chain(e.previous_secret.as_ref()) {
            if let Err(err) = crypto::open(keys, s, &e.endpoint_id) {
                return Err(match keys {
                    None => "the database holds webhook secrets sealed under a master key: set SETTLE_MASTER_KEY".to_owned(),
                    Some(_) => format!(
                        "SETTLE_MASTER_KEY: a stored webhook secret does not open ({err}); list the key it was sealed under after the new one"
                    ),
                });
            }
        }
    }
    Ok(())
}
