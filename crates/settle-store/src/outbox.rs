//! The transactional outbox. A state change inserts its row (seq NULL) in its own transaction; the relay,
//! holding the `outbox-relay` lease, gives committed rows a gap-free increasing `seq`. Consumers read by
//! `seq`, so a row whose transaction commits late is published after, never skipped. The unique index on
//! `seq` makes two relays that both think they hold the lease fail rather than assign one seq twice.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{CaseStatement, Expr},
};

use crate::{StoreError, entity::outbox};

pub use outbox::Model as OutboxRow;

/// Queues an event; call it inside the transaction of the change it reports. Inside an audit scope the change
/// is audited in the same transaction ([`crate::audit`]).
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    topic: &str,
    aggregate_id: &str,
    payload: &serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    insert(conn, merchant_id, topic, aggregate_id, &payload.to_string(), Some(payload), now).await
}

/// [`enqueue`] with the payload already written as JSON.
pub async fn enqueue_raw(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    topic: &str,
    aggregate_id: &str,
    payload: &str,
    now: i64,
) -> Result<(), StoreError> {
    insert(conn, merchant_id, topic, aggregate_id, payload, None, now).await
}

/// Inserts the row and audits it; `parsed` is the payload as a value when the caller has it (not parsed again).
async fn insert(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    topic: &str,
    aggregate_id: &str,
    payload: &str,
    parsed: Option<&serde_json::Value>,
    now: i64,
) -> Result<(), StoreError> {
    let row = outbox::ActiveModel {
        seq: Set(None),
        merchant_id: Set(merchant_id.to_owned()),
        topic: Set(topic.to_owned()),
        aggregate_id: Set(aggregate_id.to_owned()),
        payload: Set(payload.to_owned()),
        created_at: Set(now),
        published_at: Set(None),
        event_id: Set(Some(new_event_id())),
        ..Default::default()
    };
    outbox::Entity::insert(row).exec_without_returning(conn).await?;
    crate::audit::record_event(conn, merchant_id, topic, aggregate_id, payload, parsed).await
}

/// A new event id: `evt_` and a UUIDv7 in lowercase hex (its first 48 bits the time it was made, in ms). Made
/// once with the event's row, it is never issued again: not after a restore of an older backup, not by another
/// backend; the seq, by contrast, is issued again after such a restore.
pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// The id of a published row: the one it was written with, or `evt_<seq>` for a row written before ids were.
pub fn event_id_of(row: &OutboxRow) -> Option<String> {
    match (&row.event_id, row.seq) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(seq)) => Some(legacy_event_id(seq)),
        (None, None) => None,
    }
}

/// The id of an event published before ids were made with the row.
pub fn legacy_event_id(seq: i64) -> String {
    format!("evt_{seq}")
}

/// What an event id says by its form alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventIdForm {
    /// `evt_<seq>`: an event published before ids were made with the row.
    Legacy(i64),
    /// `evt_<UUIDv7>`, made at this time (epoch ms).
    Made(i64),
}

/// The form of an event id; None when it is not one.
pub fn event_id_form(id: &str) -> Option<EventIdForm> {
    let rest = id.strip_prefix("evt_")?;
    if !rest.is_empty() && rest.len() <= 18 && rest.bytes().all(|b| b.is_ascii_digit()) {
        return rest.parse().ok().map(EventIdForm::Legacy);
    }
    if rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) && rest.as_bytes()[12] == b'7' {
        return i64::from_str_radix(&rest[..12], 16).ok().map(EventIdForm::Made);
    }
    None
}

/// The seq of the published event `id` (of `merchant_id`'s events when given); None when this database holds no such
/// event (another merchant's, purged, or lost to a restore of an older backup).
pub async fn seq_of_event(conn: &impl ConnectionTrait, merchant_id: Option<&str>, id: &str) -> Result<Option<i64>, StoreError> {
    let q = match event_id_form(id) {
        None => return Ok(None),
        Some(EventIdForm::Legacy(seq)) => outbox::Entity::find().filter(outbox::Column::Seq.eq(seq)).filter(outbox::Column::EventId.is_null()),
        Some(EventIdForm::Made(_)) => outbox::Entity::find().filter(outbox::Column::EventId.eq(id)),
    };
    let q = match merchant_id {
        Some(m) => q.filter(outbox::Column::MerchantId.eq(m)),
        None => q,
    };
    Ok(q.select_only().column(outbox::Column::Seq).into_tuple::<Option<i64>>().one(conn).await?.flatten())
}

/// The seq just before the first event published at or after `since` (epoch ms; seqs are given in publishing
/// order), read by the index on `published_at`; when none was, the highest seq (nothing follows).
pub async fn seq_before_published(conn: &impl ConnectionTrait, since: i64) -> Result<i64, StoreError> {
    let first = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Seq)
        .filter(outbox::Column::PublishedAt.gte(since))
        .order_by_asc(outbox::Column::PublishedAt)
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    match first {
        Some(seq) => Ok(seq - 1),
        None => max_seq(conn).await,
    }
}

/// The seq just before the first event given an id with its row (None: there is none yet). Every event published
/// before it carries `evt_<seq>`.
pub async fn seq_before_made_ids(conn: &impl ConnectionTrait) -> Result<Option<i64>, StoreError> {
    let first = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Seq)
        .filter(outbox::Column::Seq.is_not_null())
        .filter(outbox::Column::EventId.is_not_null())
        .order_by_asc(outbox::Column::Seq)
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    Ok(first.map(|s| s - 1))
}

/// The highest assigned seq, 0 when none.
pub async fn max_seq(conn: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let row = outbox::Entity::find().filter(outbox::Column::Seq.is_not_null()).order_by_desc(outbox::Column::Seq).one(conn).await?;
    Ok(row.and_then(|r| r.seq).unwrap_or(0))
}

/// The lowest seq the outbox still holds (0: none): every seq below it was purged.
pub async fn min_seq(conn: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let row = outbox::Entity::find().filter(outbox::Column::Seq.is_not_null()).order_by_asc(outbox::Column::Seq).one(conn).await?;
    Ok(row.and_then(|r| r.seq).unwrap_or(0))
}

/// Whether any committed row waits for a seq (a read: an idle relay takes no write lock).
pub async fn has_unpublished(conn: &impl ConnectionTrait) -> Result<bool, StoreError> {
    Ok(outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Id)
        .filter(outbox::Column::Seq.is_null())
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

/// Assigns the next seqs to up to `limit` committed, unpublished rows in insert order; call it in a
/// transaction. Returns the rows as published.
pub async fn publish_batch(conn: &impl ConnectionTrait, limit: u64, now: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let pending = outbox::Entity::find().filter(outbox::Column::Seq.is_null()).order_by_asc(outbox::Column::Id).limit(limit).all(conn).await?;
    if pending.is_empty() {
        return Ok(pending);
    }
    // One statement for the whole batch: seq = CASE id WHEN .. THEN .. END, only for rows still unpublished.
    let base = max_seq(conn).await?;
    let mut case = CaseStatement::new();
    let mut out = Vec::with_capacity(pending.len());
    for (i, mut row) in pending.into_iter().enumerate() {
        let seq = base + 1 + i as i64;
        case = case.case(outbox::Column::Id.eq(row.id), Expr::value(seq));
        row.seq = Some(seq);
        row.published_at = Some(now);
        out.push(row);
    }
    // A row written before ids were made with the row (restored from an older backup) gets one now.
    for row in out.iter_mut().filter(|r| r.event_id.is_none()) {
        let id = new_event_id();
        outbox::Entity::update_many()
            .col_expr(outbox::Column::EventId, Expr::value(id.clone()))
            .filter(outbox::Column::Id.eq(row.id))
            .filter(outbox::Column::EventId.is_null())
            .exec(conn)
            .await?;
        row.event_id = Some(id);
    }
    let ids: Vec<i64> = out.iter().map(|r| r.id).collect();
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::Seq, case.into())
        .col_expr(outbox::Column::PublishedAt, Expr::value(now))
        .filter(outbox::Column::Id.is_in(ids))
        .filter(outbox::Column::Seq.is_null())
        .exec(conn)
        .await?;
    if res.rows_affected != out.len() as u64 {
        return Err(StoreError::Conflict("outbox rows published by another relay"));
    }
    Ok(out)
}

/// The topics of Settle's own events (the choreography's steps, `saga.*`): they are written to the outbox like the
/// merchants' events, but no merchant receives them (no webhook, event list, event stream or NATS subject).
pub const INTERNAL_PREFIX: &str = "saga.";

/// Whether a topic is one of Settle's own events ([`INTERNAL_PREFIX`]).
pub fn is_internal(topic: &str) -> bool {
    topic.starts_with(INTERNAL_PREFIX)
}

/// A merchant's published events after `after_seq`, in seq order (Settle's own left out).
pub async fn read_after(conn: &impl ConnectionTrait, merchant_id: &str, after_seq: i64, limit: u64) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::MerchantId.eq(merchant_id))
        .filter(outbox::Column::Seq.gt(after_seq))
        .filter(outbox::Column::Topic.not_like(format!("{INTERNAL_PREFIX}%")))
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Published events of the given topics with a seq in `after_seq + 1 ..= upto`, every merchant's, in seq order (a
/// consumer's read). The upper bound keeps the scan short when few events are of these topics: a consumer that
/// found none moves its position to `upto` instead of reading the same stretch of other events again.
pub async fn read_topics_between(
    conn: &impl ConnectionTrait,
    topics: &[&str],
    after_seq: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Seq.gt(after_seq))
        .filter(outbox::Column::Seq.lte(upto))
        .filter(outbox::Column::Topic.is_in(topics.iter().copied()))
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Every published event after `after_seq`, in seq order (the follower's read).
pub async fn read_all_after(conn: &impl ConnectionTrait, after_seq: i64, limit: u64) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(outbox::Entity::find().filter(outbox::Column::Seq.gt(after_seq)).order_by_asc(outbox::Column::Seq).limit(limit).all(conn).await?)
}

/// How many rows wait for the relay, and the creation time of the oldest.
pub async fn backlog(conn: &impl ConnectionTrait) -> Result<(u64, Option<i64>), StoreError> {
    let n = outbox::Entity::find().filter(outbox::Column::Seq.is_null()).count(conn).await?;
    let oldest = outbox::Entity::find().filter(outbox::Column::Seq.is_null()).order_by_asc(outbox::Column::Id).one(conn).await?.map(|r| r.created_at);
    Ok((n, oldest))
}

/// A merchant's published events after `after_seq`, in seq order, of the given types (exact, or `prefix.*`, or
/// `*`; none: every type), Settle's own left out. One more than `limit` is read to tell whether more follow.
pub async fn list_events(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    types: &[String],
    after_seq: i64,
    limit: u64,
) -> Result<(Vec<OutboxRow>, bool), StoreError> {
    let mut q = outbox::Entity::find()
        .filter(outbox::Column::MerchantId.eq(merchant_id))
        .filter(outbox::Column::Seq.gt(after_seq))
        .filter(outbox::Column::Topic.not_like(format!("{INTERNAL_PREFIX}%")));
    if !types.is_empty() && !types.iter().any(|t| t == "*") {
        let mut any = sea_orm::Condition::any();
        for t in types {
            any = match t.strip_suffix('*') {
                // A prefix ends with a dot (`payment.`): LIKE's wildcards cannot appear in it (validated types).
                Some(prefix) => any.add(outbox::Column::Topic.starts_with(prefix)),
                None => any.add(outbox::Column::Topic.eq(t.as_str())),
            };
        }
        q = q.filter(any);
    }
    let mut rows = q.order_by_asc(outbox::Column::Seq).limit(limit + 1).all(conn).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// Deletes published events older than `before` (epoch ms), in batches of `batch`; the newest published row is
/// always kept, so seqs never start over, and so is every row from seq `keep_from` on (events a consumer has not read
/// yet). Returns how many were deleted.
pub async fn purge_published_before(conn: &impl ConnectionTrait, before: i64, keep_from: i64, batch: u64) -> Result<u64, StoreError> {
    let keep = max_seq(conn).await?.min(keep_from);
    let oldest = outbox::Entity::find()
        .filter(outbox::Column::Seq.is_not_null())
        .filter(outbox::Column::Seq.lt(keep))
        .filter(outbox::Column::PublishedAt.lt(before))
        .order_by_asc(outbox::Column::Seq);
    crate::delete_batch(conn, oldest, outbox::Column::Id, batch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_forms() {
        let id = new_event_id();
        let now = crate::now_ms();
        match event_id_form(&id) {
            Some(EventIdForm::Made(t)) => assert!((now - t).abs() < 5_000, "{id}: {t} vs {now}"),
            other => panic!("{id}: {other:?}"),
        }
        assert_ne!(new_event_id(), new_event_id());
        assert_eq!(event_id_form("evt_42"), Some(EventIdForm::Legacy(42)));
        // The version nibble (the 13th hex digit) not 7: not a made id.
        let mut not_v7 = id.clone().into_bytes();
        not_v7[4 + 12] = b'4';
        let not_v7 = String::from_utf8(not_v7).unwrap();
        for bad in ["", "evt_", "42", "evt_-1", "evt_4x", "evt_0193A0000000700000000000000000000", &id.to_uppercase(), &not_v7] {
            assert_eq!(event_id_form(bad), None, "{bad}");
        }
    }
}
