//! Alerts: each from when it started to when it cleared. A unique index keeps one open alert
//! per source and kind, so of several instances the one whose write lands announces it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::alerts;
use super::{AnyConnection, per_backend};
use crate::domain::alert::AlertKind;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct Alert {
    pub id: i64,
    pub source: String,
    pub kind: AlertKind,
    pub message: String,
    pub started_at: NaiveDateTime,
    pub cleared_at: Option<NaiveDateTime>,
}

/// The alerts not cleared, oldest first.
pub fn open(conn: &mut AnyConnection) -> QueryResult<Vec<Alert>> {
    alerts::table
        .filter(alerts::cleared_at.is_null())
        .order((alerts::started_at.asc(), alerts::id.asc()))
        .select(Alert::as_select())
        .load(conn)
}

/// Opens an alert; false when one of this source and kind is already open (another instance
/// got there first).
pub fn start(
    conn: &mut AnyConnection,
    source: &str,
    kind: AlertKind,
    message: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let row = (
        alerts::source.eq(source),
        alerts::kind.eq(kind),
        alerts::message.eq(message),
        alerts::started_at.eq(at),
    );
    let inserted = per_backend!(conn, c => diesel::insert_into(alerts::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Clears the open alert of this source and kind; false when none was open.
pub fn clear(
    conn: &mut AnyConnection,
    source: &str,
    kind: AlertKind,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let cleared = diesel::update(
        alerts::table
            .filter(alerts::source.eq(source))
            .filter(alerts::kind.eq(kind))
            .filter(alerts::cleared_at.is_null()),
    )
    .set(alerts::cleared_at.eq(Some(at)))
    .execute(conn)?;
    Ok(cleared > 0)
}
