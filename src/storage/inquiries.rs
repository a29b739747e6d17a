//! Action inquiries: one row per inquiry with the state its events imply.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::inquiries;
use super::{AnyConnection, Backend, per_backend};
use crate::domain::event::InquiryStatus;
use crate::domain::inquiry::InquiryFlags;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inquiries)]
pub struct Inquiry {
    pub inquiry_id: String,
    pub source: String,
    pub status: InquiryStatus,
    pub resolution_status: Option<String>,
    pub inquiry_type: Option<String>,
    pub expected_payout: Option<i64>,
    pub final_payout: Option<i64>,
    pub transaction_amount: Option<i64>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub action_id: Option<String>,
    pub transaction_date: Option<NaiveDateTime>,
    pub resolution_deadline_date: Option<NaiveDateTime>,
    pub auto_approval_date: Option<NaiveDateTime>,
    pub resolution_date: Option<NaiveDateTime>,
    pub creation_date: Option<NaiveDateTime>,
    pub reject_reason: Option<String>,
    pub inquiry_notes: Option<String>,
    pub resolution_notes: Option<String>,
    pub comments: Option<String>,
    pub tracking_link: Option<String>,
    pub flags: InquiryFlags,
    pub extra: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// Descriptive fields; on update a None leaves the stored value alone.
#[derive(Debug, Default, Insertable, AsChangeset)]
#[diesel(table_name = inquiries)]
pub struct InquiryFields<'a> {
    pub inquiry_type: Option<&'a str>,
    pub expected_payout: Option<i64>,
    pub transaction_amount: Option<i64>,
    pub campaign_id: Option<&'a str>,
    pub campaign_name: Option<&'a str>,
    pub media_partner_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub action_id: Option<&'a str>,
    pub transaction_date: Option<NaiveDateTime>,
    pub resolution_deadline_date: Option<NaiveDateTime>,
    pub auto_approval_date: Option<NaiveDateTime>,
    pub resolution_date: Option<NaiveDateTime>,
    pub creation_date: Option<NaiveDateTime>,
    pub inquiry_notes: Option<&'a str>,
    pub tracking_link: Option<&'a str>,
    pub extra: Option<&'a str>,
}

/// The state computed from the set of events. Its optional fields only ever go from None to a
/// value (the rule falls back to older events), so None leaving the column alone is right.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = inquiries)]
pub struct InquiryState<'a> {
    pub status: InquiryStatus,
    pub resolution_status: Option<&'a str>,
    pub final_payout: Option<i64>,
    pub reject_reason: Option<&'a str>,
    pub resolution_notes: Option<&'a str>,
    pub comments: Option<&'a str>,
    pub flags: &'a str,
    pub last_seen_at: NaiveDateTime,
}

/// Serializes writers of one inquiry on PostgreSQL (several instances), in a key space apart
/// from actions'.
pub fn lock(conn: &mut AnyConnection, backend: Backend, inquiry_id: &str) -> QueryResult<()> {
    if backend == Backend::Postgres {
        per_backend!(conn, c => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
                .bind::<diesel::sql_types::Text, _>(inquiry_id)
                .execute(c)
                .map(|_| ())
        })
    } else {
        Ok(())
    }
}

pub fn find(conn: &mut AnyConnection, inquiry_id: &str) -> QueryResult<Option<Inquiry>> {
    inquiries::table
        .find(inquiry_id)
        .select(Inquiry::as_select())
        .first(conn)
        .optional()
}

pub fn insert(
    conn: &mut AnyConnection,
    inquiry_id: &str,
    source: &str,
    first_seen_at: NaiveDateTime,
    state: &InquiryState<'_>,
    fields: &InquiryFields<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(inquiries::table)
        .values((
            inquiries::inquiry_id.eq(inquiry_id),
            inquiries::source.eq(source),
            inquiries::first_seen_at.eq(first_seen_at),
            state,
            fields,
        ))
        .execute(conn)
}

pub fn update(
    conn: &mut AnyConnection,
    inquiry_id: &str,
    state: &InquiryState<'_>,
    fields: &InquiryFields<'_>,
) -> QueryResult<usize> {
    diesel::update(inquiries::table.find(inquiry_id))
        .set((state, fields))
        .execute(conn)
}

/// A page of inquiries after `cursor` (an inquiry id), in inquiry id order.
/// What the inquiries list is narrowed to; `None` means any.
#[derive(Debug, Clone, Copy, Default)]
pub struct InquirySelection<'a> {
    pub status: Option<InquiryStatus>,
    /// A brand: its campaign id or name, in any case.
    pub brand: Option<&'a str>,
    /// Created (or, without a creation date, first received) in `[from, until)`.
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

pub fn page(
    conn: &mut AnyConnection,
    select: &InquirySelection<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Inquiry>> {
    let mut query = inquiries::table.select(Inquiry::as_select()).into_boxed();
    if let Some(status) = select.status {
        query = query.filter(inquiries::status.eq(status));
    }
    if let Some(brand) = select.brand {
        let brand = brand.to_lowercase();
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(LOWER(campaign_id) = ")
                .bind::<diesel::sql_types::Text, _>(brand.clone())
                .sql(" OR LOWER(campaign_name) = ")
                .bind::<diesel::sql_types::Text, _>(brand)
                .sql(")"),
        );
    }
    if let Some(from) = select.from {
        query = query.filter(
            inquiries::creation_date
                .ge(from)
                .or(inquiries::creation_date
                    .is_null()
                    .and(inquiries::first_seen_at.ge(from))),
        );
    }
    if let Some(until) = select.until {
        query = query.filter(
            inquiries::creation_date
                .lt(until)
                .or(inquiries::creation_date
                    .is_null()
                    .and(inquiries::first_seen_at.lt(until))),
        );
    }
    if let Some(cursor) = cursor {
        query = query.filter(inquiries::inquiry_id.gt(cursor));
    }
    query
        .order(inquiries::inquiry_id.asc())
        .limit(limit)
        .load(conn)
}

/// The brands (campaign id and name) inquiries name, for the filter's choices.
pub fn brands(conn: &mut AnyConnection) -> QueryResult<Vec<(Option<String>, Option<String>)>> {
    inquiries::table
        .select((inquiries::campaign_id, inquiries::campaign_name))
        .filter(
            inquiries::campaign_id
                .is_not_null()
                .or(inquiries::campaign_name.is_not_null()),
        )
        .distinct()
        .order((inquiries::campaign_name.asc(), inquiries::campaign_id.asc()))
        .limit(500)
        .load(conn)
}
