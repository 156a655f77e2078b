//! Payments and their event history. Every merchant-facing query takes the merchant id: another merchant's
//! payment is simply not found.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, sea_query::Expr,
};
use settle_domain::{EventType, Metadata, PaymentStatus, Rail, Transition};

use crate::{
    StoreError,
    entity::{payment, payment_event, payment_metadata},
};

pub use payment::Model as PaymentRow;
pub use payment_event::Model as EventRow;

/// What a new payment is made of (already parsed and checked by the domain).
#[derive(Clone, Debug)]
pub struct NewPayment {
    pub payment_id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub rail: Rail,
    pub amount: String,
    pub currency: String,
    pub chain_id: Option<i64>,
    pub token_address: Option<String>,
    pub recipient_address: Option<String>,
    /// Chain rail: the signed terms (deadline in epoch seconds, fee, Settle's signature) and the checkout's
    /// client-secret hash.
    pub chain_terms: Option<ChainTerms>,
    pub details: Details,
}

/// What a merchant attaches to a payment (already checked by the domain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub description: Option<String>,
    pub customer_email: Option<String>,
    pub metadata: Metadata,
}

impl Details {
    /// A row's details (metadata a database holds that does not parse reads as none).
    pub fn of(row: &PaymentRow) -> Self {
        Self { description: row.description.clone(), customer_email: row.customer_email.clone(), metadata: metadata_of(row.metadata.as_deref()) }
    }
}

/// Metadata as a `metadata` column stores it: a JSON object, NULL when empty.
pub fn stored_metadata(m: &Metadata) -> Option<String> {
    if m.is_empty() { None } else { serde_json::to_string(m).ok() }
}

/// A `metadata` column's value read back (what does not parse reads as empty).
pub fn metadata_of(stored: Option<&str>) -> Metadata {
    stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

/// What a CHAIN payment's signed terms add to it.
#[derive(Clone, Debug)]
pub struct ChainTerms {
    pub deadline: i64,
    pub fee_bps: i32,
    pub server_signature: String,
    pub client_secret_hash: String,
    /// The gateway the terms were signed for.
    pub gateway_address: String,
}

/// Inserts a PENDING payment at version 1, its CREATED event and its metadata rows. A second payment for an order
/// id another payment of the merchant still holds fails with [`StoreError::Unique`]. With metadata, `conn` should
/// be a transaction.
pub async fn insert(conn: &impl ConnectionTrait, new: NewPayment, now: i64) -> Result<PaymentRow, StoreError> {
    let mut row = new.row(now);
    row.id = insert_row(conn, &row).await?;
    Ok(row)
}

/// Inserts a new payment's row, its CREATED event and its metadata rows; returns the row's `id`.
async fn insert_row(conn: &impl ConnectionTrait, row: &PaymentRow) -> Result<i64, StoreError> {
    let mut am = payment::ActiveModel::from(row.clone()).reset_all();
    am.id = sea_orm::ActiveValue::NotSet;
    let id = payment::Entity::insert(am).exec(conn).await?.last_insert_id;
    insert_event(conn, &row.payment_id, EventType::Created.as_str(), None, PaymentStatus::Pending, 1, None, row.created_at).await?;
    write_metadata(conn, row, false).await?;
    Ok(id)
}

/// Writes `row`'s metadata rows (after deleting the ones it had, when `replace`).
async fn write_metadata(conn: &impl ConnectionTrait, row: &PaymentRow, replace: bool) -> Result<(), StoreError> {
    if replace {
        payment_metadata::Entity::delete_many().filter(payment_metadata::Column::PaymentId.eq(row.payment_id.as_str())).exec(conn).await?;
    }
    let md = metadata_of(row.metadata.as_deref());
    if md.is_empty() {
        return Ok(());
    }
    let rows = md.iter().map(|(k, v)| payment_metadata::ActiveModel {
        merchant_id: Set(row.merchant_id.clone()),
        payment_id: Set(row.payment_id.clone()),
        meta_key: Set(k.to_owned()),
        meta_value: Set(v.to_owned()),
        ..Default::default()
    });
    payment_metadata::Entity::insert_many(rows).exec_without_returning(conn).await?;
    Ok(())
}

impl NewPayment {
    /// The row as it will be inserted, PENDING at version 1 (its `id`, 0 here, is the database's to give).
    pub fn row(self, now: i64) -> PaymentRow {
        let new = self;
        let terms = new.chain_terms;
        PaymentRow {
            id: 0,
            payment_id: new.payment_id,
            merchant_id: new.merchant_id,
            order_id: new.order_id,
            rail: new.rail,
            amount: new.amount,
            currency: new.currency,
            chain_id: new.chain_id,
            token_address: new.token_address,
            recipient_address: new.recipient_address,
            card_type: None,
            card_last4: None,
            external_payment_key: None,
            failure_message: None,
            status: PaymentStatus::Pending,
            version: 1,
            created_at: now,
            updated_at: now,
            recon_attempts: 0,
            next_check_at: None,
            flag_reason: None,
            final_check_at: None,
            deadline: terms.as_ref().map(|t| t.deadline),
            fee_bps: terms.as_ref().map(|t| t.fee_bps),
            server_signature: terms.as_ref().map(|t| t.server_signature.clone()),
            client_secret_hash: terms.as_ref().map(|t| t.client_secret_hash.clone()),
            gateway_address: terms.map(|t| t.gateway_address),
            payer: None,
            tx_hash: None,
            block_number: None,
            description: new.details.description,
            customer_email: new.details.customer_email,
            metadata: stored_metadata(&new.details.metadata),
            amount_refunded: "0".to_owned(),
        }
    }
}

/// Inserts the PENDING payment `row` (from [`NewPayment::row`]), its CREATED event and its outbox row (topic
/// [`TOPIC_CREATED`], `payload`), and completes the idempotency record `done` when there is one, atomically; returns
/// the payment's `id`. `None` when `done`'s claim is no longer its owner's: nothing is written. A payment for an order id
/// another payment of the merchant still holds (one not FAILED, EXPIRED or CANCELLED) fails with [`StoreError::Unique`]
/// (index `payments_merchant_order`) and writes nothing.
///
/// On PostgreSQL the writes are one statement (a statement is a transaction of its own there): a create costs one
/// round trip to the database instead of six (BEGIN, three inserts, the record's update, COMMIT). On SQLite the
/// record's update and the inserts are one batch of statements ([`crate::write_batch`]): SQLite writes one
/// transaction at a time, and each statement sent alone is one more turn of the connection's thread while the write
/// turn is held (its savepoint, four inserts, the record's update and its release became one turn). MySQL runs them
/// one by one in a transaction, as does a payment with metadata (one more insert per key).
pub async fn insert_published(
    db: &crate::Db,
    row: &PaymentRow,
    event: &serde_json::Value,
    done: Option<Completion<'_>>,
) -> Result<Option<i64>, StoreError> {
    let backend = db.get_database_backend();
    let payload = &event.to_string();
    if backend == DbBackend::MySql || row.metadata.is_some() {
        let txn = crate::begin(db).await?;
        let id = insert_row(&txn, row).await?;
        crate::outbox::enqueue_raw(&txn, &row.merchant_id, TOPIC_CREATED, &row.payment_id, payload, row.created_at).await?;
        if let Some(d) = done
            && !crate::idempotency::complete(&txn, d.merchant_id, d.key, d.owner, d.status, d.body).await?
        {
            return Ok(None); // the transaction rolls back as it drops
        }
        txn.commit().await?;
        return Ok(Some(id));
    }
    // The values both forms bind, $1..$22 (on SQLite made positional, see `positional`).
    let mut values: Vec<sea_orm::Value> = vec![
        row.payment_id.clone().into(),
        row.merchant_id.clone().into(),
        row.order_id.clone().into(),
        row.rail.as_str().into(),
        row.amount.clone().into(),
        row.currency.clone().into(),
        row.chain_id.into(),
        row.token_address.clone().into(),
        row.recipient_address.clone().into(),
        row.status.as_str().into(),
        row.created_at.into(),
        row.deadline.into(),
        row.fee_bps.into(),
        row.server_signature.clone().into(),
        row.client_secret_hash.clone().into(),
        EventType::Created.as_str().into(),
        TOPIC_CREATED.into(),
        payload.into(),
        row.description.clone().into(),
        row.customer_email.clone().into(),
        row.gateway_address.clone().into(),
        crate::outbox::new_event_id().into(),
    ];
    const PAYMENT_COLUMNS: &str = "payment_id, merchant_id, order_id, rail, amount, currency, chain_id, token_address, recipient_address, \
        status, version, created_at, updated_at, recon_attempts, deadline, fee_bps, server_signature, client_secret_hash, description, \
        customer_email, gateway_address";
    const PAYMENT_VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11, 0, $12, $13, $14, $15, $19, $20, $21";
    // With a record to complete, its values are $23..$28 of both forms' update (`COMPLETE`).
    if let Some(d) = done {
        values.extend([
            crate::idempotency::DONE.into(),
            d.status.into(),
            d.body.into(),
            d.key.into(),
            d.owner.into(),
            crate::idempotency::IN_FLIGHT.into(),
        ]);
    }
    const COMPLETE: &str = "UPDATE idempotency_keys SET state = $23, response_status = $24, response_body = $25 \
        WHERE merchant_id = $2 AND idem_key = $26 AND owner = $27 AND state = $28";
    // Inside an audit scope the event's audit row is one more insert.
    let audit = crate::audit::event_values(&row.merchant_id, TOPIC_CREATED, &row.payment_id, payload, event);
    let audit_params = |first: usize| audit.as_ref().map(|v| (first..first + v.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "));
    if backend == DbBackend::Sqlite {
        // With a record to complete, its update comes first and every insert is conditional on the statement before
        // it having written its row (`changes()` is the count of the last statement's rows): a lost claim writes
        // nothing and returns no id.
        let claim = if done.is_some() { format!("{COMPLETE}; ") } else { String::new() };
        let rows = |v: &str| if done.is_some() { format!("SELECT {v} WHERE changes() = 1") } else { format!("VALUES ({v})") };
        let mut sql = format!(
            "{claim}INSERT INTO payments ({PAYMENT_COLUMNS}) {} RETURNING id; \
             INSERT INTO payment_events (payment_id, event_type, to_status, version, created_at) {}; \
             INSERT INTO outbox (merchant_id, topic, aggregate_id, payload, created_at, event_id) {};",
            rows(PAYMENT_VALUES),
            rows("$1, $16, $10, 1, $11"),
            rows("$2, $17, $1, $18, $11, $22"),
        );
        if let Some(params) = audit_params(values.len() + 1) {
            sql.push_str(&format!(" INSERT INTO audit_log ({}) {};", crate::audit::COLUMNS, rows(&params)));
        }
        values.extend(audit.into_iter().flatten());
        let (sql, values) = positional(&sql, &values);
        // Every row of the batch is read, so every statement of it runs (a read of one row would stop sqlx after the
        // payment's insert); the first row is the payment's id, none when the claim was lost.
        let rows = crate::write_batch(db, Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
        return match rows.first() {
            Some(r) => Ok(Some(r.try_get_by_index::<i64>(0)?)),
            None => Ok(None),
        };
    }
    // With a record to complete, every insert is conditional on its update (`FROM u`): a lost claim writes nothing.
    let (with_claim, from_claim) = match done {
        Some(_) => (format!("u AS ({COMPLETE} RETURNING 1),"), " FROM u"),
        None => (String::new(), ""),
    };
    let with_audit = match audit_params(values.len() + 1) {
        Some(params) => format!(", a AS (INSERT INTO audit_log ({}) SELECT {params} FROM p)", crate::audit::COLUMNS),
        None => String::new(),
    };
    values.extend(audit.into_iter().flatten());
    let sql = format!(
        "WITH {with_claim} p AS (INSERT INTO payments ({PAYMENT_COLUMNS}) SELECT {PAYMENT_VALUES}{from_claim} RETURNING id), \
         e AS (INSERT INTO payment_events (payment_id, event_type, to_status, version, created_at) SELECT $1, $16, $10, 1, $11 FROM p), \
         o AS (INSERT INTO outbox (merchant_id, topic, aggregate_id, payload, created_at, event_id) SELECT $2, $17, $1, $18, $11, $22 FROM p){with_audit} \
         SELECT id FROM p"
    );
    // The SQL is this function's text; every value is bound.
    let found = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(match found {
        Some(r) => Some(r.try_get_by_index::<i64>(0)?),
        None => None,
    })
}

/// `sql` with each `$N` made a `?` and the values in the order they appear (`$N` is `values[N - 1]`): a batch of
/// SQLite statements binds its values in turn, statement after statement (a numbered `?N` there would bind the
/// wrong values once the statements before it skipped some numbers).
fn positional(sql: &str, values: &[sea_orm::Value]) -> (String, Vec<sea_orm::Value>) {
    let mut out = String::with_capacity(sql.len());
    let mut bound = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let n: usize = rest[at + 1..at + 1 + digits].parse().expect("a numbered parameter of this module's SQL");
        bound.push(values[n - 1].clone());
        out.push('?');
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    (out, bound)
}

/// An idempotency record to complete with the write that answers its request: `owner`'s claim on `key` gets the
/// response `status` and `body`.
#[derive(Clone, Copy, Debug)]
pub struct Completion<'a> {
    pub merchant_id: &'a str,
    pub key: &'a str,
    pub owner: &'a str,
    pub status: i32,
    pub body: &'a str,
}

/// The outbox topic of a created payment.
pub const TOPIC_CREATED: &str = "payment.created";

/// The outbox topic of a change of what the merchant attached to a payment (no status change, no history entry).
pub const TOPIC_UPDATED: &str = "payment.updated";

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    conn: &impl ConnectionTrait,
    payment_id: &str,
    event_type: &str,
    from: Option<PaymentStatus>,
    to: PaymentStatus,
    version: i64,
    data: Option<String>,
    now: i64,
) -> Result<(), StoreError> {
    let ev = payment_event::ActiveModel {
        payment_id: Set(payment_id.to_owned()),
        event_type: Set(event_type.to_owned()),
        from_status: Set(from),
        to_status: Set(to),
        version: Set(version),
        event_data: Set(data),
        created_at: Set(now),
        ..Default::default()
    };
    payment_event::Entity::insert(ev).exec_without_returning(conn).await?;
    Ok(())
}

/// A merchant's payment by its public id.
pub async fn find(conn: &impl ConnectionTrait, merchant_id: &str, payment_id: &str) -> Result<Option<PaymentRow>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::PaymentId.eq(payment_id))
        .filter(payment::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?)
}

/// A payment by its public id, for background workers that act for every merchant.
pub async fn find_any(conn: &impl ConnectionTrait, payment_id: &str) -> Result<Option<PaymentRow>, StoreError> {
    Ok(payment::Entity::find().filter(payment::Column::PaymentId.eq(payment_id)).one(conn).await?)
}

/// A merchant's newest payment for an order id (an order id may have older payments that FAILED, EXPIRED or were
/// CANCELLED).
pub async fn find_by_order(conn: &impl ConnectionTrait, merchant_id: &str, order_id: &str) -> Result<Option<PaymentRow>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::MerchantId.eq(merchant_id))
        .filter(payment::Column::OrderId.eq(order_id))
        .order_by_desc(payment::Column::Id)
        .one(conn)
        .await?)
}

/// Filters of [`list`].
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<PaymentStatus>,
    pub order_id: Option<String>,
    pub rail: Option<Rail>,
    /// `metadata[key]=value` pairs, every one of which a payment's metadata must hold.
    pub metadata: Vec<(String, String)>,
    /// Created at or after / at or before (epoch ms).
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// 1..=100, checked by the caller.
    pub limit: u64,
    /// Public id of the last payment of the previous page (`startingAfter`), or of the first of the next page
    /// (`endingBefore`).
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

/// A merchant's payments, newest first, and whether more follow. An unknown `starting_after` is
/// [`StoreError::NotFound`].
pub async fn list(conn: &impl ConnectionTrait, merchant_id: &str, f: &ListFilter) -> Result<(Vec<PaymentRow>, bool), StoreError> {
    let mut q = payment::Entity::find().filter(payment::Column::MerchantId.eq(merchant_id));
    let cursor = crate::Cursor::named(f.starting_after.as_deref(), f.ending_before.as_deref(), |_, id| async move {
        Ok::<_, StoreError>(find(conn, merchant_id, id).await?.ok_or(StoreError::NotFound)?.id)
    })
    .await?;
    if let Some(s) = f.status {
        q = q.filter(payment::Column::Status.eq(s));
    }
    if let Some(o) = &f.order_id {
        q = q.filter(payment::Column::OrderId.eq(o.as_str()));
    }
    if let Some(r) = f.rail {
        q = q.filter(payment::Column::Rail.eq(r));
    }
    for (k, v) in &f.metadata {
        let mut holding = sea_orm::sea_query::Query::select();
        holding
            .column(payment_metadata::Column::PaymentId)
            .from(payment_metadata::Entity)
            .and_where(payment_metadata::Column::MerchantId.eq(merchant_id))
            .and_where(payment_metadata::Column::MetaKey.eq(k.as_str()))
            .and_where(payment_metadata::Column::MetaValue.eq(v.as_str()));
        q = q.filter(payment::Column::PaymentId.in_subquery(holding));
    }
    if let Some(t) = f.created_from {
        q = q.filter(payment::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_to {
        q = q.filter(payment::Column::CreatedAt.lte(t));
    }
    crate::page(conn, q, payment::Column::Id, cursor, f.limit).await
}

/// Column changes that travel with a transition or an annotation (card and failure details).
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub card_type: Option<String>,
    pub card_last4: Option<String>,
    pub external_payment_key: Option<String>,
    pub failure_message: Option<String>,
    pub flag_reason: Option<String>,
    /// When the card rail checks the finished payment at the gateway once more.
    pub final_check_at: Option<i64>,
    /// Chain rail: who paid, in which transaction and block.
    pub payer: Option<String>,
    pub tx_hash: Option<String>,
    pub block_number: Option<i64>,
}

impl Changes {
    /// Adds the changes to the update and to `next`.
    fn apply(self, mut upd: sea_orm::UpdateMany<payment::Entity>, next: &mut PaymentRow) -> sea_orm::UpdateMany<payment::Entity> {
        if let Some(v) = self.card_type {
            upd = upd.col_expr(payment::Column::CardType, Expr::value(v.clone()));
            next.card_type = Some(v);
        }
        if let Some(v) = self.card_last4 {
            upd = upd.col_expr(payment::Column::CardLast4, Expr::value(v.clone()));
            next.card_last4 = Some(v);
        }
        if let Some(v) = self.external_payment_key {
            upd = upd.col_expr(payment::Column::ExternalPaymentKey, Expr::value(v.clone()));
            next.external_payment_key = Some(v);
        }
        if let Some(v) = self.failure_message {
            upd = upd.col_expr(payment::Column::FailureMessage, Expr::value(v.clone()));
            next.failure_message = Some(v);
        }
        if let Some(v) = self.flag_reason {
            upd = upd.col_expr(payment::Column::FlagReason, Expr::value(v.clone()));
            next.flag_reason = Some(v);
        }
        if let Some(v) = self.final_check_at {
            upd = upd.col_expr(payment::Column::FinalCheckAt, Expr::value(v));
            next.final_check_at = Some(v);
        }
        if let Some(v) = self.payer {
            upd = upd.col_expr(payment::Column::Payer, Expr::value(v.clone()));
            next.payer = Some(v);
        }
        if let Some(v) = self.tx_hash {
            upd = upd.col_expr(payment::Column::TxHash, Expr::value(v.clone()));
            next.tx_hash = Some(v);
        }
        if let Some(v) = self.block_number {
            upd = upd.col_expr(payment::Column::BlockNumber, Expr::value(v));
            next.block_number = Some(v);
        }
        upd
    }
}

/// Applies `t` to `current` as a compare-and-set on `(id, version)` and appends its event. Returns the new
/// row, or `None` when another writer changed the payment first (the caller re-reads and decides).
pub async fn transition(
    conn: &impl ConnectionTrait,
    current: &PaymentRow,
    t: Transition,
    changes: Changes,
    event_data: Option<serde_json::Value>,
    now: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    let next_version = current.version + 1;
    let mut next = current.clone();
    next.status = t.to;
    next.version = next_version;
    next.updated_at = now;
    let mut upd = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(t.to))
        .col_expr(payment::Column::Version, Expr::value(next_version))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now));
    if t.to == PaymentStatus::Processing || t.to.is_terminal() {
        // A new charge attempt, or a finished payment: the reconciler's count starts over.
        upd = upd.col_expr(payment::Column::ReconAttempts, Expr::value(0)).col_expr(payment::Column::NextCheckAt, Expr::value(Option::<i64>::None));
        next.recon_attempts = 0;
        next.next_check_at = None;
    }
    let upd = changes.apply(upd, &mut next);
    let res = upd
        // (id, version) names one state of one payment; filtering on the primary key alone keeps the row lock
        // the only lock taken (a status predicate can lead MySQL through the status index and into deadlocks).
        .filter(payment::Column::Id.eq(current.id))
        .filter(payment::Column::Version.eq(current.version))
        .exec(conn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    insert_event(conn, &current.payment_id, t.event().as_str(), Some(t.from), t.to, next_version, event_data.map(|v| v.to_string()), now).await?;
    Ok(Some(next))
}

/// A merchant's payment read inside `txn` with its row lock taken first (a no-op update: PostgreSQL and MySQL hold
/// the row until the commit; SQLite has one writer anyway), for a read-modify-write of what the merchant attached
/// that concurrent updates cannot interleave with.
pub async fn find_locked(txn: &impl ConnectionTrait, merchant_id: &str, payment_id: &str) -> Result<Option<PaymentRow>, StoreError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::UpdatedAt, Expr::col(payment::Column::UpdatedAt))
        .filter(payment::Column::PaymentId.eq(payment_id))
        .filter(payment::Column::MerchantId.eq(merchant_id))
        .exec(txn)
        .await?;
    find(txn, merchant_id, payment_id).await
}

/// Replaces the description, customer email and metadata of `current` (read by [`find_locked`] in `txn`) with
/// `details`, and its metadata rows. The status and the version are not touched: what the merchant attaches is not
/// the payment's state, and a payer's charge or checkout racing an update (a compare-and-set on the version) must
/// not lose to it.
pub async fn set_details(txn: &impl ConnectionTrait, current: &PaymentRow, details: &Details, now: i64) -> Result<PaymentRow, StoreError> {
    let mut next = current.clone();
    next.updated_at = now;
    next.description = details.description.clone();
    next.customer_email = details.customer_email.clone();
    next.metadata = stored_metadata(&details.metadata);
    payment::Entity::update_many()
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .col_expr(payment::Column::Description, Expr::value(next.description.clone()))
        .col_expr(payment::Column::CustomerEmail, Expr::value(next.customer_email.clone()))
        .col_expr(payment::Column::Metadata, Expr::value(next.metadata.clone()))
        .filter(payment::Column::Id.eq(current.id))
        .exec(txn)
        .await?;
    write_metadata(txn, &next, true).await?;
    Ok(next)
}

/// A payment's history, oldest first.
pub async fn events(conn: &impl ConnectionTrait, payment_id: &str) -> Result<Vec<EventRow>, StoreError> {
    Ok(payment_event::Entity::find()
        .filter(payment_event::Column::PaymentId.eq(payment_id))
        .order_by_asc(payment_event::Column::Id)
        .all(conn)
        .await?)
}

/// Number of payments (all merchants); used by tests and the status page.
pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(payment::Entity::find().count(conn).await?)
}

/// Records an event that changes no status (a gateway key, a void, a flag) with its column changes, as a
/// compare-and-set on `(id, version)`: the version moves on, so the event has a version of its own. Returns the
/// new row, or None when another writer changed the payment first. The caller has checked the status it needs
/// on `current`; the compare-and-set guarantees it still holds.
pub async fn annotate(
    db: &crate::Db,
    current: &PaymentRow,
    event: EventType,
    changes: Changes,
    event_data: Option<serde_json::Value>,
    now: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    let status = current.status;
    let mut next = current.clone();
    next.version = current.version + 1;
    next.updated_at = now;
    let upd = payment::Entity::update_many()
        .col_expr(payment::Column::Version, Expr::value(next.version))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now));
    // The row and its event commit together: nobody reads the change without its event.
    let txn = crate::begin(db).await?;
    let res = changes
        .apply(upd, &mut next)
        .filter(payment::Column::Id.eq(current.id))
        .filter(payment::Column::Version.eq(current.version))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    insert_event(&txn, &current.payment_id, event.as_str(), Some(status), status, next.version, event_data.map(|v| v.to_string()), now).await?;
    txn.commit().await?;
    Ok(Some(next))
}

/// PROCESSING card payments the reconciler should ask the gateway about: in PROCESSING since before
/// `settled_before`, and due (never checked, or `next_check_at` passed).
pub async fn due_for_reconcile(conn: &impl ConnectionTrait, settled_before: i64, now: i64, limit: u64) -> Result<Vec<PaymentRow>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::Rail.eq(Rail::Card))
        .filter(payment::Column::Status.eq(PaymentStatus::Processing))
        .filter(payment::Column::UpdatedAt.lt(settled_before))
        .filter(Condition::any().add(payment::Column::NextCheckAt.is_null()).add(payment::Column::NextCheckAt.lte(now)))
        .order_by_asc(payment::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Sets when the reconciler asks about a payment next (bookkeeping only: no version change).
pub async fn schedule_check(conn: &impl ConnectionTrait, id: i64, attempts: i32, next_at: i64) -> Result<(), StoreError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::ReconAttempts, Expr::value(attempts))
        .col_expr(payment::Column::NextCheckAt, Expr::value(next_at))
        .filter(payment::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Finished card payments due for their last look at the gateway.
pub async fn due_for_final_check(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<PaymentRow>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::FinalCheckAt.lte(now))
        .order_by_asc(payment::Column::FinalCheckAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Sets (or, with None, clears) when a payment is checked at the gateway, and how many checks it had (bookkeeping
/// only: no version change), unless the payment moved on since `row` was read: a transition that ended it meanwhile
/// scheduled its own check, and a new charge started its own count, which a check of the row as it was must not
/// clear or overwrite (an event recorded meanwhile, a void's, only has the check run again). Filtered on the primary
/// key and the version, as a transition is: the row lock is the only lock taken.
pub async fn set_final_check(conn: &impl ConnectionTrait, row: &PaymentRow, at: Option<i64>, attempts: i32) -> Result<(), StoreError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::FinalCheckAt, Expr::value(at))
        .col_expr(payment::Column::ReconAttempts, Expr::value(attempts))
        .filter(payment::Column::Id.eq(row.id))
        .filter(payment::Column::Version.eq(row.version))
        .exec(conn)
        .await?;
    Ok(())
}
