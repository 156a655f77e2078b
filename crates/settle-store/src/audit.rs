//! The audit log: who changed what, written in the change's own transaction, so a change that rolls back leaves
//! no row and a committed change always has one.
//!
//! The edge opens a [`Scope`] around every mutating request (its id and client address, and the actor its
//! authentication found); the CLI opens one around each of its actions. Inside a scope, [`record`] adds a row to
//! the transaction it is given, and every event queued in the outbox ([`crate::outbox::enqueue`]) is recorded too,
//! so each state change a request makes is audited without each call site repeating it. Outside a scope (the
//! workers: the relay, the chain watcher, recovery) nothing is recorded: they change nothing on anyone's behalf.
//!
//! Append-only: nothing here updates a row; [`purge_before`] is the janitor's retention.

use std::sync::{Arc, Mutex};

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};

use crate::{StoreError, entity::audit_log};

pub use audit_log::Model as AuditRow;

/// Who acts: `merchant` (with its key id), `admin`, `cli`, `gateway` (a signed callback), `checkout` (a payment's
/// client secret), or `anonymous` until authentication says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<String>,
}

impl Actor {
    pub fn new(kind: &'static str, id: Option<String>) -> Self {
        Self { kind, id }
    }
}

/// The context of one request or CLI action.
#[derive(Debug)]
pub struct Scope {
    pub request_id: Option<String>,
    pub client: Option<String>,
    actor: Mutex<Actor>,
    /// Every statement run in the scope, when traced (`settle db check`'s workload).
    trace: Option<Mutex<Vec<Traced>>>,
}

/// A statement a traced scope ran: its SQL (values bound apart) and whether it ran inside a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    pub sql: String,
    pub in_transaction: bool,
}

impl Traced {
    /// An INSERT, UPDATE or DELETE (also one led by a WITH).
    pub fn writes(&self) -> bool {
        let s = self.sql.trim_start().to_ascii_uppercase();
        ["INSERT", "UPDATE", "DELETE", "REPLACE"].iter().any(|w| s.starts_with(w))
            || (s.starts_with("WITH") && [" INSERT ", " UPDATE ", " DELETE "].iter().any(|w| s.contains(w)))
    }
}

impl Scope {
    pub fn new(request_id: Option<String>, client: Option<String>, actor: Actor) -> Arc<Self> {
        Arc::new(Self { request_id, client, actor: Mutex::new(actor), trace: None })
    }

    /// A scope that also records every statement run in it.
    pub fn traced(request_id: Option<String>, client: Option<String>, actor: Actor) -> Arc<Self> {
        Arc::new(Self { request_id, client, actor: Mutex::new(actor), trace: Some(Mutex::new(Vec::new())) })
    }

    /// The statements recorded so far (none when not traced).
    pub fn statements(&self) -> Vec<Traced> {
        self.trace.as_ref().map(|t| t.lock().map(|v| v.clone()).unwrap_or_default()).unwrap_or_default()
    }

    pub fn actor(&self) -> Actor {
        self.actor.lock().map(|a| a.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// Runs `f` inside `scope`.
pub async fn within<F: Future>(scope: Arc<Scope>, f: F) -> F::Output {
    SCOPE.scope(scope, f).await
}

/// The scope this task runs in, to carry into a task it spawns.
pub fn current() -> Option<Arc<Scope>> {
    SCOPE.try_with(Arc::clone).ok()
}

/// Runs `f` inside `scope` when there is one (a spawned task keeps its request's scope).
pub async fn carry<F: Future>(scope: Option<Arc<Scope>>, f: F) -> F::Output {
    match scope {
        Some(s) => SCOPE.scope(s, f).await,
        None => f.await,
    }
}

/// Records a statement in the current scope when it is traced.
pub(crate) fn trace(sql: &str, in_transaction: bool) {
    let _ = SCOPE.try_with(|s| {
        if let Some(t) = &s.trace
            && let Ok(mut v) = t.lock()
        {
            v.push(Traced { sql: sql.to_owned(), in_transaction });
        }
    });
}

/// Whether this task runs inside a scope.
pub fn active() -> bool {
    SCOPE.try_with(|_| ()).is_ok()
}

/// Names the actor of the current scope (authentication found it); nothing outside a scope.
pub fn set_actor(actor: Actor) {
    let _ = SCOPE.try_with(|s| {
        if let Ok(mut a) = s.actor.lock() {
            *a = actor;
        }
    });
}

/// Records a change in the caller's transaction, when inside a scope. `changes` holds the new values the
/// change set, never a secret or card data.
pub async fn record(
    conn: &impl ConnectionTrait,
    merchant_id: Option<&str>,
    action: &str,
    target_id: &str,
    changes: &serde_json::Value,
) -> Result<(), StoreError> {
    let Some(scope) = current() else { return Ok(()) };
    let changes = changes.to_string();
    let digest = hex::encode(Sha256::digest(changes.as_bytes()));
    insert(conn, &scope, merchant_id, action, target_id, &digest, &changes).await
}

/// Fields of an event's `data` an audit row keeps (the rest is in the event, which the digest pins).
const EVENT_FIELDS: [&str; 8] = ["status", "amount", "currency", "orderId", "rail", "failureCode", "keyId", "endpointId"];

/// Records an event queued in the outbox: its type is the action, its aggregate the target; the digest is the
/// SHA-256 of the whole event as queued.
pub(crate) async fn record_event(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    topic: &str,
    aggregate_id: &str,
    payload: &str,
    parsed: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    let Some(scope) = current() else { return Ok(()) };
    let (digest, changes) = event_changes(payload, parsed);
    insert(conn, &scope, Some(merchant_id), topic, aggregate_id, &digest, &changes).await
}

/// The columns (in [`COLUMNS`] order) of the audit row of an event queued by a statement of its own making (the
/// single-statement create on PostgreSQL); None outside a scope.
pub(crate) fn event_values(
    merchant_id: &str,
    topic: &str,
    aggregate_id: &str,
    payload: &str,
    parsed: &serde_json::Value,
) -> Option<Vec<sea_orm::Value>> {
    let scope = current()?;
    let (digest, changes) = event_changes(payload, Some(parsed));
    let actor = scope.actor();
    Some(vec![
        merchant_id.into(),
        actor.kind.into(),
        actor.id.into(),
        clip(topic, 64).into(),
        clip(aggregate_id, 128).into(),
        scope.request_id.as_deref().map(|r| clip(r, 64)).into(),
        scope.client.as_deref().map(|c| clip(c, 64)).into(),
        digest.into(),
        changes.into(),
        crate::now_ms().into(),
    ])
}

/// The audit table's columns as [`event_values`] gives them.
pub(crate) const COLUMNS: &str = "merchant_id, actor_type, actor_id, action, target_id, request_id, client_addr, digest, changes, created_at";

/// An event's digest (of the event as queued) and the fields of its `data` an audit row keeps.
/// `parsed` is the payload as a value when the caller has it; otherwise it is parsed here.
fn event_changes(payload: &str, parsed: Option<&serde_json::Value>) -> (String, String) {
    let owned = match parsed {
        Some(_) => None,
        None => serde_json::from_str::<serde_json::Value>(payload).ok(),
    };
    let mut kept = serde_json::Map::new();
    if let Some(serde_json::Value::Object(d)) = parsed.or(owned.as_ref()).and_then(|v| v.get("data")) {
        for f in EVENT_FIELDS {
            if let Some(v) = d.get(f) {
                kept.insert(f.to_owned(), v.clone());
            }
        }
    }
    (hex::encode(Sha256::digest(payload.as_bytes())), serde_json::Value::Object(kept).to_string())
}

async fn insert(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    merchant_id: Option<&str>,
    action: &str,
    target_id: &str,
    digest: &str,
    changes: &str,
) -> Result<(), StoreError> {
    let actor = scope.actor();
    let row = audit_log::ActiveModel {
        merchant_id: Set(merchant_id.map(str::to_owned)),
        actor_type: Set(actor.kind.to_owned()),
        actor_id: Set(actor.id),
        action: Set(clip(action, 64)),
        target_id: Set(clip(target_id, 128)),
        request_id: Set(scope.request_id.as_deref().map(|r| clip(r, 64))),
        client_addr: Set(scope.client.as_deref().map(|c| clip(c, 64))),
        digest: Set(digest.to_owned()),
        changes: Set(changes.to_owned()),
        created_at: Set(crate::now_ms()),
        ..Default::default()
    };
    audit_log::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A merchant's audit rows, newest first, older than `before_id` when given, of one action and one target when
/// given. One more than `limit` is read to tell whether more follow.
pub async fn list(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    action: Option<&str>,
    target_id: Option<&str>,
    cursor: crate::Cursor,
    limit: u64,
) -> Result<(Vec<AuditRow>, bool), StoreError> {
    let mut q = audit_log::Entity::find().filter(audit_log::Column::MerchantId.eq(merchant_id));
    if let Some(a) = action {
        q = q.filter(audit_log::Column::Action.eq(a));
    }
    if let Some(t) = target_id {
        q = q.filter(audit_log::Column::TargetId.eq(t));
    }
    crate::page(conn, q, audit_log::Column::Id, cursor, limit).await
}

/// Deletes audit rows older than `before` (epoch ms), at most `batch`; returns how many.
pub async fn purge_before(conn: &impl ConnectionTrait, before: i64, batch: u64) -> Result<u64, StoreError> {
    let oldest = audit_log::Entity::find().filter(audit_log::Column::CreatedAt.lt(before)).order_by_asc(audit_log::Column::Id);
    crate::delete_batch(conn, oldest, audit_log::Column::Id, batch).await
}
