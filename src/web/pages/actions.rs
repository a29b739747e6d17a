//! The actions lists (pending, approved, cleared, reversed, all) and an action's detail page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono_tz::Tz;

use super::{
    CsrfForm, Pager, Position, When, check_form, or_dash, shown_money, shown_time, time_or_dash,
    urlencoding, when,
};
use crate::domain::bucket::Bucket;
use crate::domain::reconcile::Flags;
use crate::read;
use crate::read::actions::ActionView;
use crate::read::deliveries::DeliveryView;
use crate::read::filter::ListQuery;
use crate::storage::action_query::{ActionFilter, DateField, SortKey};
use crate::storage::{self, deliveries, to_db_time};
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::{ActionList, Page};
use crate::web::startup::AppState;

pub struct Header {
    pub label: &'static str,
    /// The query that sorts by this column (toggling the direction when it is the current one).
    pub link: Option<String>,
    pub aria_sort: Option<&'static str>,
    pub numeric: bool,
    /// `p2`/`p3`: the CSS class that hides the column first on narrow screens; empty: always.
    pub priority: &'static str,
}

pub struct ActionRow {
    pub action_id: String,
    pub status: Bucket,
    pub flags: Flags,
    pub payout: String,
    /// What its reversal entries took away, as impact.com's reversed screen shows it.
    pub reversed: Option<String>,
    pub campaign: String,
    pub event_type: String,
    pub order_id: String,
    pub event_date: When,
    pub locking_date: When,
    /// When it cleared (a clearing named it); empty when not.
    pub cleared: When,
    pub received: When,
    pub is_test: bool,
}

/// An active filter shown as a chip: what it is, and the list without it.
pub struct Chip {
    pub label: String,
    pub remove: String,
}

/// A choice of a dropdown: (value, label, selected).
pub type Choice = (String, String, bool);

pub struct TotalRow {
    pub currency: String,
    pub actions: i64,
    pub payout: String,
    pub amount: String,
    /// What the reversals took away, as the overview's Reversed card shows it.
    pub reversed: String,
}

#[derive(Template)]
#[template(path = "actions.html")]
struct ActionsPage {
    chrome: Chrome,
    heading: &'static str,
    status: &'static str,
    statuses: [(&'static str, &'static str); 5],
    query: ListQuery,
    filter: ActionFilter,
    totals: Vec<TotalRow>,
    headers: Vec<Header>,
    rows: Vec<ActionRow>,
    pager: Pager,
    csv_query: String,
    date_field: &'static str,
    /// The known brands and currencies, offered as choices (event types are typed, any case: the
    /// distinct ones cost an unindexed scan, 0.5 s a page at 100,000 actions).
    brands: Vec<Choice>,
    currencies: Vec<Choice>,
    chips: Vec<Chip>,
    /// Hidden test conversions the id searched for names.
    test_actions: Vec<String>,
    /// (label, href): this month, last month, this year.
    presets: Vec<(&'static str, String)>,
}

const PAGE_SIZE: i64 = 50;

/// The dropdown's choices: "any" first, then the known values; a typed value that matches one
/// regardless of case selects it, one that matches none is kept as its own choice.
fn choices(any: &str, known: Vec<Known>, current: Option<&str>) -> Vec<Choice> {
    let current = current.map(str::trim).filter(|value| !value.is_empty());
    let matches = |(value, _, name): &Known| {
        current.is_some_and(|current| {
            current.eq_ignore_ascii_case(value)
                || name
                    .as_deref()
                    .is_some_and(|name| current.eq_ignore_ascii_case(name))
        })
    };
    let mut choices: Vec<Choice> = vec![(String::new(), any.to_owned(), current.is_none())];
    let found = known.iter().any(&matches);
    choices.extend(known.into_iter().map(|known| {
        let selected = matches(&known);
        (known.0, known.1, selected)
    }));
    if let (Some(current), false) = (current, found) {
        choices.push((current.to_owned(), current.to_owned(), true));
    }
    choices
}

/// A known value: (value, label, another name a person may type for it).
type Known = (String, String, Option<String>);

/// Id and name as a choice: the id is the value (names can change), labelled with both.
fn named(known: Vec<crate::storage::actions::Brand>) -> Vec<Known> {
    known
        .into_iter()
        .map(|(id, name)| {
            let value = id.clone().or_else(|| name.clone()).unwrap_or_default();
            let label = match (&id, &name) {
                (Some(id), Some(name)) => format!("{name} ({id})"),
                _ => value.clone(),
            };
            (value, label, name)
        })
        .collect()
}

/// The active filters, each with the link that drops it (and the position in the list).
fn chips(query: &ListQuery, filter: &ActionFilter, date_label: &str) -> Vec<Chip> {
    let mut chips = Vec::new();
    let mut chip = |label: String, drop: &dyn Fn(&mut ListQuery)| {
        let mut without = query.clone();
        drop(&mut without);
        without.cursor = None;
        without.start = None;
        chips.push(Chip {
            label,
            remove: query_string(&without),
        });
    };
    let given = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    if let Some(q) = given(&query.q) {
        chip(format!("Id: {q}"), &|query| query.q = None);
    }
    if let Some(campaign) = given(&query.campaign) {
        chip(format!("Brand: {campaign}"), &|query| query.campaign = None);
    }
    if let Some(event_type) = given(&query.event_type) {
        chip(format!("Event type: {event_type}"), &|query| {
            query.event_type = None
        });
    }
    if let Some(currency) = given(&query.currency) {
        chip(format!("Currency: {currency}"), &|query| {
            query.currency = None
        });
    }
    match (given(&query.from), given(&query.to)) {
        (None, None) => {}
        (from, to) => chip(
            format!(
                "{date_label}: {} to {}",
                from.as_deref().unwrap_or("…"),
                to.as_deref().unwrap_or("…")
            ),
            &|query| {
                query.from = None;
                query.to = None;
            },
        ),
    }
    if filter.include_tests {
        chip("With test conversions".into(), &|query| {
            query.include_tests = None
        });
    }
    if filter.flagged {
        chip("Flagged, not reviewed".into(), &|query| {
            query.flagged = None
        });
    }
    chips
}

/// This month, last month and this year (the book's days), as links keeping the other filters.
fn presets(query: &ListQuery, today: chrono::NaiveDate) -> Vec<(&'static str, String)> {
    use chrono::Datelike;
    let first = today.with_day(1).unwrap_or(today);
    let last_month_end = first.pred_opt().unwrap_or(first);
    let last_month = last_month_end.with_day(1).unwrap_or(last_month_end);
    let year = chrono::NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let year_end = chrono::NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(today);
    let month_end = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(today);
    [
        ("This month", first, month_end),
        ("Last month", last_month, last_month_end),
        ("This year", year, year_end),
    ]
    .into_iter()
    .map(|(label, from, to)| {
        let mut link = query.clone();
        link.from = Some(from.to_string());
        link.to = Some(to.to_string());
        link.cursor = None;
        link.start = None;
        (label, query_string(&link))
    })
    .collect()
}

fn query_string(query: &ListQuery) -> String {
    serde_urlencoded::to_string(query).unwrap_or_default()
}

fn row(view: &ActionView, zone: Tz) -> ActionRow {
    ActionRow {
        action_id: view.action_id.clone(),
        status: view.shown_status,
        flags: view.flags.clone(),
        payout: shown_money(&view.payout, view.details.payout_currency.as_deref()),
        reversed: reversed_payout(view).map(|units| {
            crate::read::format::money(units, view.details.payout_currency.as_deref())
        }),
        campaign: view
            .details
            .campaign_name
            .clone()
            .or_else(|| view.details.campaign_id.clone())
            .unwrap_or_default(),
        event_type: view
            .details
            .action_tracker_name
            .clone()
            .or_else(|| view.details.action_tracker_id.clone())
            .unwrap_or_default(),
        order_id: view.details.order_id.clone().unwrap_or_default(),
        event_date: when(view.details.event_date.as_deref(), zone),
        locking_date: when(view.details.locking_date.as_deref(), zone),
        cleared: when(view.cleared_at.as_deref(), zone),
        received: when(Some(&view.first_seen_at), zone),
        is_test: view.is_test,
    }
}

/// The payout an action's reversal entries took away (positive), if it has any.
fn reversed_payout(view: &ActionView) -> Option<i64> {
    let reversed: i64 = view
        .entries
        .iter()
        .flatten()
        .filter(|entry| entry.kind == "reversed")
        .filter_map(|entry| {
            entry
                .payout_delta
                .parse::<crate::domain::money::Money>()
                .ok()
        })
        .map(|delta| -delta.minor_units())
        .sum();
    (reversed != 0).then_some(reversed)
}

fn headers(query: &ListQuery, filter: &ActionFilter) -> Vec<Header> {
    let sortable = |label, key: Option<SortKey>, numeric, priority| {
        let Some(key) = key else {
            return Header {
                label,
                link: None,
                aria_sort: None,
                numeric,
                priority,
            };
        };
        let current = filter.sort == key;
        let descending = if current {
            !filter.descending
        } else {
            key != SortKey::ActionId
        };
        let mut link = query.clone();
        link.sort = Some(key.as_str().into());
        link.dir = Some(if descending { "desc" } else { "asc" }.into());
        link.cursor = None;
        link.start = None;
        Header {
            label,
            link: Some(query_string(&link)),
            aria_sort: current.then_some(if filter.descending {
                "descending"
            } else {
                "ascending"
            }),
            numeric,
            priority,
        }
    };
    vec![
        sortable("Action id", Some(SortKey::ActionId), false, ""),
        sortable("Status", None, false, ""),
        sortable("Payout", Some(SortKey::Payout), true, ""),
        sortable("Brand / campaign", None, false, "p2"),
        sortable("Event type", None, false, "p3"),
        sortable("Order id", None, false, "p3"),
        sortable("Event date", Some(SortKey::EventDate), false, "p2"),
        sortable("Locking date", Some(SortKey::LockingDate), false, "p2"),
        sortable("Cleared", None, false, "p3"),
        sortable("Received", Some(SortKey::Received), false, "p3"),
    ]
}

#[get("/actions")]
pub async fn actions(
    request: HttpRequest,
    Page(ActionList { query, filter }): Page<ActionList>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let (heading, status, section) = match filter.bucket {
        Some(Bucket::Pending) => ("Pending actions", "pending", "pending"),
        Some(Bucket::Approved) => ("Approved actions", "approved", "approved"),
        Some(Bucket::Cleared) => ("Cleared actions", "cleared", "cleared"),
        Some(Bucket::Reversed) => ("Reversed actions", "reversed", "reversed"),
        None => ("All actions", "all", "all"),
    };
    let (now, zone) = (state.clock.now(), state.statement.time_zone);
    let today = crate::domain::book::day_of(now, zone);
    let for_read = filter.clone();
    let position = Position::new(filter.cursor.is_some(), query.start, PAGE_SIZE);
    let (start, back) = (position.start, position.back);
    let for_choices = state.clone();
    let (page, (known_brands, currencies), previous_cursor) = with_conn(&state, move |conn| {
        Ok((
            read::actions::action_page(conn, &for_read, PAGE_SIZE, now)?,
            for_choices
                .filter_choices
                .get(std::time::Instant::now(), || {
                    storage::actions::known_brands_and_currencies(conn)
                })?,
            match back {
                Some(back) => read::actions::cursor_at(conn, &for_read, back, now)?,
                None => None,
            },
        ))
    })
    .await
    .for_page(&request, &state)?;
    let rows_shown = page.actions.len() as i64;
    let link = |cursor: Option<String>, start: Option<i64>| {
        let mut link = query.clone();
        link.cursor = cursor;
        link.start = start;
        format!("/actions?{}", query_string(&link))
    };
    let pager = Pager {
        first: start.map(|start| start + 1),
        rows: rows_shown,
        total: page.totals.iter().map(|total| total.actions).sum(),
        next: page
            .next_cursor
            .as_ref()
            .map(|cursor| link(Some(cursor.clone()), start.map(|start| start + rows_shown))),
        previous: position.previous(previous_cursor, link),
    };
    let date_label = match filter.date_field {
        DateField::Event => "Event date",
        DateField::Locking => "Locking date",
        DateField::Cleared => "Cleared",
        DateField::ScheduledClear => "Scheduled to clear",
        DateField::Ledger => "Ledger entry",
    };
    let chips = chips(&query, &filter, date_label);
    let presets = presets(&query, today);
    let brands = choices("Any brand", named(known_brands), query.campaign.as_deref());

    let currencies = choices(
        "Any currency",
        currencies
            .into_iter()
            .map(|code| (code.clone(), code, None))
            .collect(),
        query.currency.as_deref(),
    );
    let mut whole = query.clone();
    whole.cursor = None;
    whole.start = None;
    whole.limit = None;
    whole.status = Some(status.into());
    let page = ActionsPage {
        heading,
        status,
        statuses: [
            ("pending", "Pending"),
            ("approved", "Approved (locked)"),
            ("cleared", "Cleared"),
            ("reversed", "Reversed"),
            ("all", "All"),
        ],
        totals: page
            .totals
            .iter()
            .map(|total| TotalRow {
                currency: total.currency.clone().unwrap_or_else(|| "–".into()),
                actions: total.actions,
                payout: shown_money(&total.payout, total.currency.as_deref()),
                // The sums are per payout currency; impact.com's Currency is the sale's too.
                amount: shown_money(&total.amount, total.currency.as_deref()),
                reversed: shown_money(&total.reversed, total.currency.as_deref()),
            })
            .collect(),
        headers: headers(&query, &filter),
        rows: page.actions.iter().map(|view| row(view, zone)).collect(),
        test_actions: page.test_actions.clone(),
        pager,
        csv_query: query_string(&whole),
        date_field: match filter.date_field {
            DateField::Event => "event",
            DateField::Locking => "locking",
            DateField::Cleared => "cleared",
            DateField::ScheduledClear => "scheduled_clear",
            DateField::Ledger => "ledger",
        },
        brands,
        currencies,
        chips,
        presets,
        query,
        filter,
        chrome: Chrome::new(&request, &state.access, section),
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

#[derive(Template)]
#[template(path = "action.html")]
struct ActionPage {
    chrome: Chrome,
    action: ActionView,
    payout: String,
    reviewed_at: Option<String>,
    timeline: Vec<TimelineEntry>,
    fields: Vec<(&'static str, String)>,
    /// Each with when it arrived, as the page writes times.
    deliveries: Vec<(String, DeliveryView)>,
}

pub struct TimelineEntry {
    pub kind: &'static str,
    /// The kind as one short word, for its tag.
    pub word: &'static str,
    pub label: String,
    /// Payout and sale amount moved, with their currency; empty for a date.
    pub payout: String,
    pub amount: String,
    pub at: String,
    pub delivery_id: Option<i64>,
    pub run_id: Option<i64>,
    pub upcoming: bool,
}

/// Every stored field of an action, labelled, for the detail page.
fn fields(view: &ActionView, zone: Tz) -> Vec<(&'static str, String)> {
    vec![
        ("Action id", view.action_id.clone()),
        ("Source", view.source.clone()),
        ("Status (events)", view.status.to_string()),
        ("Status as sent", or_dash(&view.status_raw)),
        ("Shown as", view.shown_status.to_string()),
        (
            "Payout",
            shown_money(&view.payout, view.details.payout_currency.as_deref()),
        ),
        (
            "Sale amount",
            shown_money(&view.amount, view.details.amount_currency.as_deref()),
        ),
        ("Brand / campaign id", or_dash(&view.details.campaign_id)),
        ("Brand / campaign", or_dash(&view.details.campaign_name)),
        ("Event type id", or_dash(&view.details.action_tracker_id)),
        ("Event type", or_dash(&view.details.action_tracker_name)),
        ("Media partner id", or_dash(&view.details.media_partner_id)),
        ("Order id", or_dash(&view.details.order_id)),
        ("Shared id", or_dash(&view.details.shared_id)),
        ("Sub id 1", or_dash(&view.details.sub_id1)),
        ("Sub id 2", or_dash(&view.details.sub_id2)),
        ("Sub id 3", or_dash(&view.details.sub_id3)),
        ("Click id", or_dash(&view.details.click_id)),
        ("Promo code", or_dash(&view.details.promo_code)),
        ("Event date", time_or_dash(&view.details.event_date, zone)),
        (
            "Creation date",
            time_or_dash(&view.details.creation_date, zone),
        ),
        (
            "Locking date",
            time_or_dash(&view.details.locking_date, zone),
        ),
        // impact.com's ClearedDate is when it is scheduled to clear; cleared is a clearing's word.
        (
            "Scheduled to clear",
            time_or_dash(&view.details.cleared_date, zone),
        ),
        ("Cleared", time_or_dash(&view.cleared_at, zone)),
        (
            "First received",
            shown_time(Some(&view.first_seen_at), zone),
        ),
        ("Last received", shown_time(Some(&view.last_seen_at), zone)),
        (
            "Test conversion",
            if view.is_test { "yes" } else { "no" }.into(),
        ),
        (
            "Items",
            if view.items.is_null() {
                "–".into()
            } else {
                view.items.to_string()
            },
        ),
        (
            "Other fields",
            if view.extra.is_null() {
                "–".into()
            } else {
                view.extra.to_string()
            },
        ),
    ]
}

#[get("/actions/{action_id}")]
pub async fn action(
    request: HttpRequest,
    action_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = state.clock.now();
    let (view, deliveries) = with_conn(&state, move |conn| {
        let Some(view) = read::actions::action(conn, &action_id, now)? else {
            return Ok(None);
        };
        let deliveries = deliveries::of_subject(conn, &view.action_id)?;
        Ok(Some((view, deliveries)))
    })
    .await
    .and_then(|found| found.ok_or_else(no_such_action))
    .for_page(&request, &state)?;
    let zone = state.statement.time_zone;
    let currency = view.details.payout_currency.clone();
    let amount_currency = view.details.amount_currency.clone();
    let timeline = view
        .timeline
        .iter()
        .flatten()
        .map(|item| TimelineEntry {
            kind: item.kind,
            word: match item.kind {
                "clearing_scheduled" => "scheduled",
                "clearing_received" => "clearing",
                other => other,
            },
            label: item.label.clone(),
            payout: item
                .payout
                .as_deref()
                .map(|payout| shown_money(payout, item.currency.as_deref()))
                .unwrap_or_default(),
            amount: item
                .amount
                .as_deref()
                .map(|amount| shown_money(amount, amount_currency.as_deref()))
                .unwrap_or_default(),
            at: shown_time(Some(&item.at), zone),
            delivery_id: item.delivery_id,
            run_id: item.run_id,
            upcoming: item.upcoming,
        })
        .collect();
    let page = ActionPage {
        chrome: Chrome::new(&request, &state.access, "all"),
        payout: shown_money(&view.payout, currency.as_deref()),
        reviewed_at: view
            .reviewed_at
            .as_deref()
            .map(|at| shown_time(Some(at), zone)),
        timeline,
        fields: fields(&view, zone),
        deliveries: deliveries
            .into_iter()
            .map(DeliveryView::from)
            .map(|delivery| (shown_time(Some(&delivery.received_at), zone), delivery))
            .collect(),
        action: view,
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

#[post("/actions/{action_id}/review")]
pub async fn mark_reviewed(
    request: HttpRequest,
    action_id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    check_form(&request, &state, &form.csrf)?;
    let action_id = action_id.into_inner();
    let at = to_db_time(state.clock.now());
    let id = action_id.clone();
    let marked = with_conn(&state, move |conn| {
        Ok(storage::actions::mark_reviewed(conn, &id, at)?)
    })
    .await
    .for_page(&request, &state)?;
    if !marked {
        return Err(no_such_action().for_page(&request, &state));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/actions/{}", urlencoding(&action_id)),
        ))
        .finish())
}

fn no_such_action() -> RequestError {
    RequestError::not_found("No action has this id.")
}
