//! Validating query extractors: a handler receives its query string already understood, or does
//! not run. A parameter that cannot be understood is a 400 [`RequestError`] in the caller's
//! format, its message naming the parameter.
//!
//! The wrapper says who asks: `Api(list): Api<ActionList>` answers a bad query as JSON,
//! `Page<…>` with the error page, `Csv<…>` as text.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::NaiveDateTime;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::domain::bucket::Bucket;
use crate::domain::inquiry::Credit;
use crate::read::filter::{ListQuery, date_range, in_zone, include_tests};
use crate::read::inquiries::InquiryFilter;
use crate::read::log::{LogFilter, LogQuery};
use crate::read::overview::{Options, OverviewQuery};
use crate::read::statement::{Period, StatementQuery};
use crate::storage::action_query::ActionFilter;
use crate::web::error::RequestError;
use crate::web::startup::AppState;

/// Who asked. It decides the format of an error, and the two defaults that differ between the
/// dashboard and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Api,
    Page,
    Csv,
}

/// Rows per page of the API's lists when `limit` is not given.
pub const API_PAGE: i64 = 100;
/// Rows per page of the dashboard's deliveries log when `limit` is not given.
pub const DASHBOARD_PAGE: i64 = 50;

/// A query string understood, or the 400 saying which parameter was not.
pub trait FromQuery: Sized {
    fn from_query(query: &str, state: &AppState, caller: Caller) -> Result<Self, RequestError>;
}

/// A query for the JSON API.
pub struct Api<T>(pub T);
/// A query for a dashboard page.
pub struct Page<T>(pub T);
/// A query for a CSV download.
pub struct Csv<T>(pub T);

fn extract<T: FromQuery>(request: &HttpRequest, caller: Caller) -> Result<T, RequestError> {
    let Some(state) = request.app_data::<web::Data<AppState>>() else {
        return Err(RequestError::internal("the application state is missing"));
    };
    T::from_query(request.query_string(), state, caller).map_err(|error| match caller {
        Caller::Api => error.for_api(),
        Caller::Page => error.for_page(request, state),
        Caller::Csv => error,
    })
}

impl<T: FromQuery> FromRequest for Api<T> {
    type Error = RequestError;
    type Future = Ready<Result<Self, RequestError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(request, Caller::Api).map(Api))
    }
}

impl<T: FromQuery> FromRequest for Page<T> {
    type Error = RequestError;
    type Future = Ready<Result<Self, RequestError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(request, Caller::Page).map(Page))
    }
}

impl<T: FromQuery> FromRequest for Csv<T> {
    type Error = RequestError;
    type Future = Ready<Result<Self, RequestError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(request, Caller::Csv).map(Csv))
    }
}

/// The query string into its fields; a value of the wrong type (`limit=ten`) is a 400 with
/// actix's own message, as `web::Query` gives it.
fn fields<T: DeserializeOwned>(query: &str) -> Result<T, RequestError> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|error| RequestError::bad_input(error.to_string()))
}

/// The actions list: the query as sent (the pages build their links from it) and the filter it
/// names.
pub struct ActionList {
    pub query: ListQuery,
    pub filter: ActionFilter,
}

impl FromQuery for ActionList {
    fn from_query(query: &str, state: &AppState, caller: Caller) -> Result<Self, RequestError> {
        let query: ListQuery = fields(query)?;
        // The dashboard opens on what awaits approval; the API and the CSV on every status.
        let default_bucket = (caller == Caller::Page).then_some(Bucket::Pending);
        let mut filter = ActionFilter::parse(&query, default_bucket)
            .map_err(|error| RequestError::bad_input(error.to_string()))?;
        // Dates are the book's days.
        let zone = state.statement.time_zone;
        filter.from = filter.from.map(|at| in_zone(at, zone));
        filter.until = filter.until.map(|at| in_zone(at, zone));
        Ok(ActionList { query, filter })
    }
}

/// The deliveries log: the query as sent (for the page's links) and the filter it names.
pub struct DeliveryLog {
    pub query: LogQuery,
    pub filter: LogFilter,
}

impl FromQuery for DeliveryLog {
    fn from_query(query: &str, _: &AppState, caller: Caller) -> Result<Self, RequestError> {
        let query: LogQuery = fields(query)?;
        let default_limit = match caller {
            Caller::Page => DASHBOARD_PAGE,
            Caller::Api | Caller::Csv => API_PAGE,
        };
        let filter = LogFilter::parse(&query, default_limit).map_err(RequestError::bad_input)?;
        Ok(DeliveryLog { query, filter })
    }
}

/// The inquiries list's query as sent (for the page's links).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct InquiryQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `awaiting_credit` or `credited` (approved inquiries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    /// A campaign id or name, any case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Created from / to (dates, the book's days, `to` inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of inquiries: the query as sent, what it filters, how many, where the previous page
/// ended.
pub struct InquiryList {
    pub query: InquiryQuery,
    pub filter: InquiryFilter,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl FromQuery for InquiryList {
    fn from_query(query: &str, state: &AppState, _: Caller) -> Result<Self, RequestError> {
        let query: InquiryQuery = fields(query)?;
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let status = crate::domain::inquiry::status_filter(query.status.as_deref())
            .map_err(RequestError::bad_input)?;
        let credit = match given(&query.credit).as_deref() {
            None | Some("any") => None,
            Some(word) => Some(Credit::parse(word).ok_or_else(|| {
                RequestError::bad_input(format!(
                    "credit must be awaiting_credit, credited or any, not `{word}`"
                ))
            })?),
        };
        let (from, until) = date_range(&query.from, &query.to)
            .map_err(|error| RequestError::bad_input(error.to_string()))?;
        let zone = state.statement.time_zone;
        Ok(InquiryList {
            filter: InquiryFilter {
                status,
                credit,
                brand: given(&query.brand),
                from: from.map(|at| in_zone(at, zone)),
                until: until.map(|at| in_zone(at, zone)),
            },
            limit: query.limit,
            cursor: query.cursor.clone(),
            query,
        })
    }
}

/// The overview's `days` and `include_tests`.
impl FromQuery for Options {
    fn from_query(query: &str, _: &AppState, _: Caller) -> Result<Self, RequestError> {
        Options::parse(&fields::<OverviewQuery>(query)?).map_err(RequestError::bad_input)
    }
}

/// The statement's year (this year by the app's clock unless given) and `include_tests`.
impl FromQuery for Period {
    fn from_query(query: &str, state: &AppState, _: Caller) -> Result<Self, RequestError> {
        let query: StatementQuery = fields(query)?;
        let now = state
            .clock
            .now()
            .with_timezone(&state.statement.time_zone)
            .naive_local();
        Period::parse(&query, now).map_err(RequestError::bad_input)
    }
}

#[derive(Deserialize)]
struct LedgerQuery {
    from: Option<String>,
    to: Option<String>,
    include_tests: Option<String>,
}

/// The ledger entries recorded from `from` to `to` (dates, both optional, `to` inclusive):
/// the instants `[from, until)`.
pub struct LedgerRange {
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub include_tests: bool,
}

impl FromQuery for LedgerRange {
    fn from_query(query: &str, state: &AppState, _: Caller) -> Result<Self, RequestError> {
        let query: LedgerQuery = fields(query)?;
        let bad =
            |error: crate::read::filter::FilterError| RequestError::bad_input(error.to_string());
        let (from, until) = date_range(&query.from, &query.to).map_err(bad)?;
        let zone = state.statement.time_zone;
        let (from, until) = (
            from.map(|at| in_zone(at, zone)),
            until.map(|at| in_zone(at, zone)),
        );
        let include_tests = include_tests(&query.include_tests).map_err(bad)?;
        Ok(LedgerRange {
            from,
            until,
            include_tests,
        })
    }
}

/// Catalog items by catalog and item id.
#[derive(Debug, Deserialize)]
pub struct CatalogQuery {
    pub catalog_id: Option<String>,
    pub item_id: Option<String>,
    pub limit: Option<i64>,
}

impl FromQuery for CatalogQuery {
    fn from_query(query: &str, _: &AppState, _: Caller) -> Result<Self, RequestError> {
        fields(query)
    }
}

#[derive(Deserialize)]
struct TrackingValueQuery {
    action_id: Option<String>,
}

/// The action whose tracking-value requests are asked for: `action_id`, required.
pub struct TrackedAction(pub String);

impl FromQuery for TrackedAction {
    fn from_query(query: &str, _: &AppState, _: Caller) -> Result<Self, RequestError> {
        fields::<TrackingValueQuery>(query)?
            .action_id
            .filter(|id| !id.is_empty())
            .map(TrackedAction)
            .ok_or_else(|| RequestError::bad_input("action_id is required"))
    }
}
