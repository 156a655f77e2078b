//! The events API (`GET /v1/events/stream`): a merchant's events by cursor, and where a cursor (an event id or a seq)
//! resumes.

use serde::Serialize;

use super::topics::{EventView, parse_patterns};
use crate::{AppError, Context};

/// A page of events, in seq order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEventPage)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub data: Vec<EventView>,
    pub has_more: bool,
}

/// How long before the time an unknown cursor's id was made its reader is resumed from: instances' clocks differ,
/// and an event is published a little after it is made.
pub(super) const UNKNOWN_CURSOR_SLACK_MS: i64 = 60_000;

/// The seq after which a reader resumes, from its cursor (SSE's `Last-Event-ID`, `after` of the events API): the
/// id of the last event it has, or a seq. An event id this database does not hold (the reader got it before a
/// restore of an older backup, or it was purged) resumes with every event published from a minute before that id
/// was made (a time in the future counts as now): a reader may get again events it has (it drops them by id), and
/// misses none published since. An `evt_<seq>` it does not hold resumes no later than the first event given an id
/// with its row, and a seq no later than the newest event: a cursor from a lost timeline never skips new events.
pub async fn resume_after(ctx: &Context, merchant_id: &str, field: &'static str, cursor: &str) -> Result<i64, AppError> {
    use settle_store::outbox::{self, EventIdForm};
    let cursor = cursor.trim();
    if !cursor.is_empty() && cursor.len() <= 18 && cursor.bytes().all(|b| b.is_ascii_digit()) {
        let seq: i64 = cursor.parse().map_err(|_| AppError::invalid(field, format!("{field} must be an event id (evt_…) or a seq")))?;
        return Ok(seq.min(outbox::max_seq(&ctx.db).await?));
    }
    let Some(form) = outbox::event_id_form(cursor) else {
        return Err(AppError::invalid(field, format!("{field} must be an event id (evt_…) or a seq")));
    };
    if let Some(seq) = outbox::seq_of_event(&ctx.db, Some(merchant_id), cursor).await? {
        return Ok(seq);
    }
    metrics::counter!("settle_event_cursor_unknown_total").increment(1);
    Ok(match form {
        EventIdForm::Legacy(seq) => {
            let before_ids = outbox::seq_before_made_ids(&ctx.db).await?.unwrap_or(i64::MAX);
            seq.min(before_ids).min(outbox::max_seq(&ctx.db).await?)
        }
        EventIdForm::Made(at) => {
            let since = at.min(settle_store::now_ms()).saturating_sub(UNKNOWN_CURSOR_SLACK_MS);
            outbox::seq_before_published(&ctx.db, since).await?
        }
    })
}

/// A merchant's events after seq `after`, of the given types (patterns as endpoints take them).
pub async fn list_events(ctx: &Context, merchant_id: &str, types: &[String], after: i64, limit: u64) -> Result<EventPage, AppError> {
    let types = if types.is_empty() { Vec::new() } else { parse_patterns("type", types)? };
    let (rows, has_more) = settle_store::outbox::list_events(&ctx.db, merchant_id, &types, after, limit).await?;
    Ok(EventPage { data: rows.iter().filter_map(EventView::of).collect(), has_more })
}
