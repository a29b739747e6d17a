//! Standard Webhooks message ids a source has stored (as digests), while a replay could still
//! pass the timestamp check.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::webhook_messages;
use super::{AnyConnection, per_backend};

/// The delivery a message with this id digest was stored as, if it was received at `since` or
/// later.
pub fn delivery_of(
    conn: &mut AnyConnection,
    source: &str,
    message_digest: &str,
    since: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    webhook_messages::table
        .find((source, message_digest))
        .filter(webhook_messages::received_at.ge(since))
        .select(webhook_messages::delivery_id)
        .first(conn)
        .optional()
}

/// Remembers a stored message (replacing a forgotten one of the same id), and forgets the
/// messages received before `forget_before`.
pub fn remember(
    conn: &mut AnyConnection,
    source: &str,
    message_digest: &str,
    delivery_id: i64,
    at: NaiveDateTime,
    forget_before: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(webhook_messages::table.filter(webhook_messages::received_at.lt(forget_before)))
        .execute(conn)?;
    per_backend!(conn, c => diesel::insert_into(webhook_messages::table)
        .values((
            webhook_messages::source.eq(source),
            webhook_messages::message_digest.eq(message_digest),
            webhook_messages::delivery_id.eq(delivery_id),
            webhook_messages::received_at.eq(at),
        ))
        .on_conflict((webhook_messages::source, webhook_messages::message_digest))
        .do_update()
        .set((
            webhook_messages::delivery_id.eq(delivery_id),
            webhook_messages::received_at.eq(at),
        ))
        .execute(c))?;
    Ok(())
}
