//! The distinct events received per inquiry: its history, and the set its state is computed from.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::inquiry_events;

#[derive(Debug, Insertable)]
#[diesel(table_name = inquiry_events)]
pub struct NewInquiryEvent<'a> {
    pub delivery_id: i64,
    pub inquiry_id: &'a str,
    /// The normalized status, or `unknown` for a word the status map does not know.
    pub status: &'a str,
    pub resolution_status: Option<&'a str>,
    pub inquiry_type: Option<&'a str>,
    pub final_payout: Option<i64>,
    pub reject_reason: Option<&'a str>,
    pub resolution_notes: Option<&'a str>,
    pub comments: Option<&'a str>,
    pub resolution_date: Option<NaiveDateTime>,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inquiry_events)]
pub struct InquiryEventRow {
    pub delivery_id: i64,
    pub inquiry_id: String,
    pub status: String,
    pub resolution_status: Option<String>,
    pub inquiry_type: Option<String>,
    pub final_payout: Option<i64>,
    pub reject_reason: Option<String>,
    pub resolution_notes: Option<String>,
    pub comments: Option<String>,
    pub resolution_date: Option<NaiveDateTime>,
    pub received_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, new: &NewInquiryEvent<'_>) -> QueryResult<usize> {
    diesel::insert_into(inquiry_events::table)
        .values(new)
        .execute(conn)
}

/// In arrival order.
pub fn of_inquiry(conn: &mut AnyConnection, inquiry_id: &str) -> QueryResult<Vec<InquiryEventRow>> {
    inquiry_events::table
        .filter(inquiry_events::inquiry_id.eq(inquiry_id))
        .order(inquiry_events::delivery_id.asc())
        .select(InquiryEventRow::as_select())
        .load(conn)
}
