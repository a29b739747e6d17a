//! What each source has been doing: its latest delivery, and counts over a window. Read by the
//! setup page (is anything arriving?), the overview and the alerts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::schema::{auth_failures, deliveries};
use super::{AnyConnection, load_sql};
use crate::domain::outcome::Outcome;

/// The newest delivery of a source, as the setup page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Latest {
    pub id: i64,
    pub received_at: NaiveDateTime,
    pub method: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub subject_id: Option<String>,
}

/// The newest delivery of `source` (the `deliveries_source` index serves it).
pub fn latest(conn: &mut AnyConnection, source: &str) -> QueryResult<Option<Latest>> {
    deliveries::table
        .filter(deliveries::source.eq(source))
        .order((deliveries::received_at.desc(), deliveries::id.desc()))
        .select((
            deliveries::id,
            deliveries::received_at,
            deliveries::method,
            deliveries::outcome,
            deliveries::reason,
            deliveries::subject_id,
        ))
        .first(conn)
        .optional()
}

/// Deliveries and quarantined deliveries per source, received from `since` on.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct WindowCount {
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = BigInt)]
    pub deliveries: i64,
    #[diesel(sql_type = BigInt)]
    pub quarantined: i64,
}

pub fn deliveries_since(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<WindowCount>> {
    load_sql!(
        conn,
        "SELECT source, COUNT(*) AS deliveries,
                CAST(COALESCE(SUM(CASE WHEN outcome = 'quarantined' THEN 1 ELSE 0 END), 0) AS BIGINT) AS quarantined
         FROM deliveries WHERE received_at >= $1 GROUP BY source"
            .to_owned(),
        |q| q.bind::<Timestamp, _>(since)
    )
}

/// Refused requests per source from `since` on (a row stands for `times` refusals alike).
pub fn auth_failures_since(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64)>> {
    auth_failures::table
        .filter(auth_failures::occurred_at.ge(since))
        .group_by(auth_failures::source)
        .select((
            auth_failures::source,
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CAST(COALESCE(SUM(times), 0) AS BIGINT)",
            ),
        ))
        .load(conn)
}

/// Quarantined deliveries with this reason (of one source, or of all); with `undismissed`, only
/// those nobody set aside (what still needs attention).
pub fn quarantined_with_reason(
    conn: &mut AnyConnection,
    reason: &str,
    source: Option<&str>,
    undismissed: bool,
) -> QueryResult<i64> {
    let mut query = deliveries::table
        .filter(deliveries::outcome.eq(Outcome::Quarantined))
        .filter(deliveries::reason.eq(reason))
        .into_boxed();
    if undismissed {
        query = query.filter(deliveries::dismissed_at.is_null());
    }
    if let Some(source) = source {
        query = query.filter(deliveries::source.eq(source));
    }
    query.count().get_result(conn)
}
