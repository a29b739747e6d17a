//! The differences a reconciliation run found, one row per action and kind.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;

use super::prepared::{self, RowsStatement, bind_row};
use super::schema::reconciliation_differences;
use super::{AnyConnection, load_sql, per_backend};
use crate::domain::cross_check::{DifferenceKind, LedgerState, Resolution};

#[derive(Debug)]
pub struct NewDifference<'a> {
    pub run_id: i64,
    pub action_id: &'a str,
    pub kind: DifferenceKind,
    pub currency: Option<&'a str>,
    pub event_date: Option<NaiveDateTime>,
    pub network_status: Option<&'a str>,
    pub ledger_status: Option<LedgerState>,
    pub network_payout: Option<i64>,
    pub ledger_payout: Option<i64>,
    pub network_amount: Option<i64>,
    pub ledger_amount: Option<i64>,
    pub payout_delta: i64,
    pub amount_delta: i64,
    pub network_cleared_at: Option<NaiveDateTime>,
    pub fillable: bool,
    pub note: &'a str,
    pub resolution: Resolution,
    pub record: Option<&'a str>,
}

bind_row!(NewDifference into reconciliation_differences {
    run_id: BigInt,
    action_id: Text,
    kind: Text,
    currency: Nullable<Text>,
    event_date: Nullable<Timestamp>,
    network_status: Nullable<Text>,
    ledger_status: Nullable<Text>,
    network_payout: Nullable<BigInt>,
    ledger_payout: Nullable<BigInt>,
    network_amount: Nullable<BigInt>,
    ledger_amount: Nullable<BigInt>,
    payout_delta: BigInt,
    amount_delta: BigInt,
    network_cleared_at: Nullable<Timestamp>,
    fillable: Bool,
    note: Text,
    resolution: Text,
    record: Nullable<Text>,
});

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = reconciliation_differences)]
pub struct Difference {
    pub id: i64,
    pub run_id: i64,
    pub action_id: String,
    pub kind: DifferenceKind,
    pub currency: Option<String>,
    pub event_date: Option<NaiveDateTime>,
    pub network_status: Option<String>,
    pub ledger_status: Option<LedgerState>,
    pub network_payout: Option<i64>,
    pub ledger_payout: Option<i64>,
    pub network_amount: Option<i64>,
    pub ledger_amount: Option<i64>,
    pub payout_delta: i64,
    pub amount_delta: i64,
    pub network_cleared_at: Option<NaiveDateTime>,
    pub fillable: bool,
    pub note: String,
    pub resolution: Resolution,
    pub delivery_id: Option<i64>,
    pub record: Option<String>,
}

pub fn insert_all(conn: &mut AnyConnection, rows: &[NewDifference<'_>]) -> QueryResult<()> {
    for rows in prepared::in_sizes(rows) {
        let statement = RowsStatement::<_>::new(NewDifference::INSERT, rows, "");
        per_backend!(&mut *conn, c => statement.execute(c))?;
    }
    Ok(())
}

/// Which differences of a run a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DifferenceFilter {
    pub kind: Option<DifferenceKind>,
    pub currency: Option<String>,
    pub resolution: Option<Resolution>,
    pub action_id: Option<String>,
    /// After this difference id (a keyset cursor, in id order).
    pub after: Option<i64>,
}

/// A boxed query of the differences of a run that a filter's kind, currency, state and action
/// name (its keyset bound, `after`, is the caller's).
macro_rules! matching {
    ($run_id:expr, $filter:expr) => {{
        use reconciliation_differences::dsl;
        let filter: &DifferenceFilter = $filter;
        let mut query = dsl::reconciliation_differences
            .filter(dsl::run_id.eq($run_id))
            .into_boxed();
        if let Some(kind) = filter.kind {
            query = query.filter(dsl::kind.eq(kind));
        }
        if let Some(currency) = &filter.currency {
            query = query.filter(dsl::currency.eq(currency.clone()));
        }
        if let Some(resolution) = filter.resolution {
            query = query.filter(dsl::resolution.eq(resolution));
        }
        if let Some(action_id) = &filter.action_id {
            query = query.filter(dsl::action_id.eq(action_id.clone()));
        }
        query
    }};
}

/// One page of a run's differences in the order they were found.
pub fn page(
    conn: &mut AnyConnection,
    run_id: i64,
    filter: &DifferenceFilter,
    limit: i64,
) -> QueryResult<Vec<Difference>> {
    use reconciliation_differences::dsl;
    let mut query = matching!(run_id, filter).select(Difference::as_select());
    if let Some(after) = filter.after {
        query = query.filter(dsl::id.gt(after));
    }
    query.order(dsl::id.asc()).limit(limit).load(conn)
}

/// How many differences of the run the filter names, on every page.
pub fn count(conn: &mut AnyConnection, run_id: i64, filter: &DifferenceFilter) -> QueryResult<i64> {
    matching!(run_id, filter).count().get_result(conn)
}

/// The id of the filter's `offset`th difference (0-based, in id order): the `after` of the
/// page that follows it. None past the end.
pub fn id_at(
    conn: &mut AnyConnection,
    run_id: i64,
    filter: &DifferenceFilter,
    offset: i64,
) -> QueryResult<Option<i64>> {
    use reconciliation_differences::dsl;
    matching!(run_id, filter)
        .select(dsl::id)
        .order(dsl::id.asc())
        .offset(offset)
        .limit(1)
        .first(conn)
        .optional()
}

/// A run's differences of one kind in one currency.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Serialize)]
pub struct KindTotal {
    #[diesel(sql_type = Text)]
    pub kind: DifferenceKind,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub differences: i64,
    #[diesel(sql_type = BigInt)]
    pub open: i64,
    /// Network minus ledger, summed.
    #[diesel(sql_type = BigInt)]
    pub payout_delta: i64,
    #[diesel(sql_type = BigInt)]
    pub amount_delta: i64,
    /// Of the open ones, the payout at stake either way (absolute values summed).
    #[diesel(sql_type = BigInt)]
    pub open_payout: i64,
}

/// Per kind and currency: how many, how many still open, and the money.
pub fn totals(conn: &mut AnyConnection, run_id: i64) -> QueryResult<Vec<KindTotal>> {
    load_sql!(
        conn,
        "SELECT kind, currency, COUNT(*) AS differences,
                CAST(COALESCE(SUM(CASE WHEN resolution = 'open' THEN 1 ELSE 0 END), 0) AS BIGINT) AS open,
                CAST(COALESCE(SUM(payout_delta), 0) AS BIGINT) AS payout_delta,
                CAST(COALESCE(SUM(amount_delta), 0) AS BIGINT) AS amount_delta,
                CAST(COALESCE(SUM(CASE WHEN resolution = 'open' THEN ABS(payout_delta) ELSE 0 END), 0) AS BIGINT) AS open_payout
         FROM reconciliation_differences WHERE run_id = $1
         GROUP BY kind, currency ORDER BY kind, currency",
        |q| q.bind::<BigInt, _>(run_id)
    )
}

/// The open differences a fill can explain, for the actions after `after_action_id` (in id
/// order), at most `limit` actions' worth.
pub fn fillable_after(
    conn: &mut AnyConnection,
    run_id: i64,
    after_action_id: &str,
    limit: i64,
) -> QueryResult<Vec<Difference>> {
    use reconciliation_differences::dsl;
    let ids: Vec<String> = dsl::reconciliation_differences
        .filter(dsl::run_id.eq(run_id))
        .filter(dsl::resolution.eq(Resolution::Open))
        .filter(dsl::fillable.eq(true))
        .filter(dsl::action_id.gt(after_action_id))
        .select(dsl::action_id)
        .distinct()
        .order(dsl::action_id.asc())
        .limit(limit)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    dsl::reconciliation_differences
        .filter(dsl::run_id.eq(run_id))
        .filter(dsl::resolution.eq(Resolution::Open))
        .filter(dsl::fillable.eq(true))
        .filter(dsl::action_id.eq_any(&ids))
        .order((dsl::action_id.asc(), dsl::id.asc()))
        .select(Difference::as_select())
        .load(conn)
}

/// Marks differences filled by the delivery that filled them.
pub fn mark_filled(conn: &mut AnyConnection, ids: &[i64], delivery_id: i64) -> QueryResult<usize> {
    use reconciliation_differences::dsl;
    diesel::update(dsl::reconciliation_differences.filter(dsl::id.eq_any(ids)))
        .set((
            dsl::resolution.eq(Resolution::Filled),
            dsl::delivery_id.eq(Some(delivery_id)),
        ))
        .execute(conn)
}

/// Open differences of the run.
pub fn count_open(conn: &mut AnyConnection, run_id: i64) -> QueryResult<i64> {
    use reconciliation_differences::dsl;
    dsl::reconciliation_differences
        .filter(dsl::run_id.eq(run_id))
        .filter(dsl::resolution.eq(Resolution::Open))
        .count()
        .get_result(conn)
}

/// Every difference of a run after `after_id`, in id order: the CSV export's chunks.
pub fn chunk_after(
    conn: &mut AnyConnection,
    run_id: i64,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<Difference>> {
    page(
        conn,
        run_id,
        &DifferenceFilter {
            after: Some(after_id),
            ..DifferenceFilter::default()
        },
        limit,
    )
}

/// Open differences of the run a fill can explain.
pub fn count_open_fillable(conn: &mut AnyConnection, run_id: i64) -> QueryResult<i64> {
    use reconciliation_differences::dsl;
    dsl::reconciliation_differences
        .filter(dsl::run_id.eq(run_id))
        .filter(dsl::resolution.eq(Resolution::Open))
        .filter(dsl::fillable.eq(true))
        .count()
        .get_result(conn)
}

/// (delivery id, run id) of the differences these fill deliveries resolved: which run wrote each.
pub fn runs_of_fills(
    conn: &mut AnyConnection,
    delivery_ids: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    use reconciliation_differences::dsl;
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(Option<i64>, i64)> = dsl::reconciliation_differences
        .filter(dsl::delivery_id.eq_any(delivery_ids))
        .select((dsl::delivery_id, dsl::run_id))
        .distinct()
        .load(conn)?;
    Ok(found
        .into_iter()
        .filter_map(|(delivery, run)| Some((delivery?, run)))
        .collect())
}
