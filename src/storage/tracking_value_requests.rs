//! Tracking value requests, one row per delivery, searchable by action id.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::AnyConnection;
use super::schema::tracking_value_requests;

#[derive(Debug, Clone, Insertable, Queryable, Selectable, Serialize)]
#[diesel(table_name = tracking_value_requests)]
pub struct TrackingValueRow {
    pub delivery_id: i64,
    pub source: String,
    pub action_id: String,
    pub campaign_id: Option<String>,
    pub action_tracker_id: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub event_date: Option<NaiveDateTime>,
    pub click_id: Option<String>,
    pub ip_address: Option<String>,
    pub items: Option<String>,
    pub extra: Option<String>,
    pub received_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &TrackingValueRow) -> QueryResult<usize> {
    diesel::insert_into(tracking_value_requests::table)
        .values(row)
        .execute(conn)
}

/// In arrival order.
pub fn of_action(conn: &mut AnyConnection, action_id: &str) -> QueryResult<Vec<TrackingValueRow>> {
    tracking_value_requests::table
        .filter(tracking_value_requests::action_id.eq(action_id))
        .order(tracking_value_requests::delivery_id.asc())
        .select(TrackingValueRow::as_select())
        .load(conn)
}
