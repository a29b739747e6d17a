//! A stored delivery as the deliveries log shows it, and pages of the log.

use serde::Serialize;

use crate::domain::event::SourceKind;
use crate::domain::explain::{self, FlagNote};
use crate::domain::outcome::Outcome;
use crate::read::format::utc;
use crate::storage::{AnyConnection, StorageError};

/// One delivery as the log shows it: the raw request (credentials were removed and secrets
/// masked before it was stored; `web::masking` masks it again as it is shown), how it ended,
/// and what it was about.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub source: String,
    pub kind: SourceKind,
    pub received_at: String,
    pub last_received_at: String,
    pub times_received: i32,
    pub method: String,
    pub content_type: Option<String>,
    pub query: String,
    /// The body as text (invalid UTF-8 shown as �); null when there was none.
    pub body: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub warnings: Option<String>,
    /// The action, inquiry or other id it was about, when one was read.
    pub subject_id: Option<String>,
    pub pruned_at: Option<String>,
    /// When a person dismissed it (quarantined junk set aside); null when not dismissed.
    pub dismissed_at: Option<String>,
    /// A flagged delivery's action: its flags now, each in words with what to do (empty for
    /// any other outcome).
    pub subject_flags: Vec<FlagNote>,
}

impl From<crate::storage::deliveries::Delivery> for DeliveryView {
    fn from(delivery: crate::storage::deliveries::Delivery) -> DeliveryView {
        DeliveryView {
            id: delivery.id,
            received_at: utc(delivery.received_at),
            last_received_at: utc(delivery.last_received_at),
            times_received: delivery.times_received,
            body: delivery
                .body
                .map(|body| String::from_utf8_lossy(&body).into_owned()),
            pruned_at: delivery.pruned_at.map(utc),
            // Only quarantined junk is dismissed: one reprocessed since is no longer set aside.
            dismissed_at: delivery
                .dismissed_at
                .filter(|_| delivery.outcome == Outcome::Quarantined)
                .map(utc),
            subject_flags: Vec::new(),
            source: delivery.source,
            kind: delivery.kind,
            method: delivery.method,
            content_type: delivery.content_type,
            query: delivery.query,
            client_addr: delivery.client_addr,
            outcome: delivery.outcome,
            reason: delivery.reason,
            warnings: delivery.warnings,
            subject_id: delivery.subject_id,
        }
    }
}

/// How many characters of a reason the log's column shows; the delivery's page has it all.
const REASON_SHOWN: usize = 80;

impl DeliveryView {
    /// The query string one parameter a line, so a long one reads down the page.
    pub fn query_lines(&self) -> Vec<&str> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .collect()
    }

    /// The body as shown: JSON pretty-printed (numbers and key order as sent), anything else
    /// as it is.
    pub fn body_shown(&self) -> Option<String> {
        let body = self.body.as_deref()?;
        let is_json = self
            .content_type
            .as_deref()
            .is_some_and(|kind| kind.to_ascii_lowercase().contains("json"))
            || body.trim_start().starts_with('{');
        let pretty = is_json
            .then(|| serde_json::from_str::<serde_json::Value>(body).ok())
            .flatten()
            .and_then(|value| serde_json::to_string_pretty(&value).ok());
        Some(pretty.unwrap_or_else(|| body.to_owned()))
    }

    /// The warnings, one sentence each (stored as a JSON list; older rows as plain text).
    pub fn warning_list(&self) -> Vec<String> {
        let Some(text) = self
            .warnings
            .as_deref()
            .filter(|text| !text.trim().is_empty())
        else {
            return Vec::new();
        };
        serde_json::from_str::<Vec<String>>(text).unwrap_or_else(|_| vec![text.to_owned()])
    }

    /// The reason cut to fit the log's column (the full text is the delivery page's).
    pub fn reason_short(&self) -> String {
        let reason = self.reason.as_deref().unwrap_or_default();
        match reason.char_indices().nth(REASON_SHOWN) {
            Some((at, _)) => format!("{}…", reason[..at].trim_end()),
            None => reason.to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryPage {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` (with the same filters) for the next page; null on the last.
    pub next_before: Option<i64>,
    /// The test conversions (hidden from finance's lists) whose action or order id is the id
    /// searched for (`q`); empty without a search.
    pub test_actions: Vec<String>,
}

/// A page of the deliveries log, newest first, keyset by delivery id.
pub fn delivery_page(
    conn: &mut AnyConnection,
    filter: &crate::read::log::LogFilter,
) -> Result<DeliveryPage, StorageError> {
    let (subjects, test_actions) = match &filter.q {
        Some(id) => (
            crate::storage::deliveries::subjects_of_order(conn, id)?,
            crate::storage::actions::tests_named(conn, id)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let selection = crate::storage::deliveries::LogSelection {
        outcome: filter.outcome,
        source: filter.source.as_deref(),
        dismissed: filter.dismissed,
        id: filter.q.as_deref(),
        subjects: &subjects,
    };
    let mut rows =
        crate::storage::deliveries::recent(conn, &selection, filter.before, filter.limit + 1)?;
    let more = rows.len() as i64 > filter.limit;
    rows.truncate(filter.limit as usize);
    let next_before = rows.last().filter(|_| more).map(|last| last.id);
    let mut deliveries: Vec<DeliveryView> = rows.into_iter().map(DeliveryView::from).collect();
    with_subject_flags(conn, &mut deliveries)?;
    Ok(DeliveryPage {
        next_before,
        deliveries,
        test_actions,
    })
}

pub fn delivery(conn: &mut AnyConnection, id: i64) -> Result<Option<DeliveryView>, StorageError> {
    let Some(found) = crate::storage::deliveries::find(conn, id)? else {
        return Ok(None);
    };
    let mut views = vec![DeliveryView::from(found)];
    with_subject_flags(conn, &mut views)?;
    Ok(views.pop())
}

/// Says which flags a flagged delivery's action has: the outcome alone does not. One query for
/// the page.
fn with_subject_flags(
    conn: &mut AnyConnection,
    views: &mut [DeliveryView],
) -> Result<(), StorageError> {
    let ids: Vec<String> = views
        .iter()
        .filter(|view| view.outcome == Outcome::Flagged)
        .filter_map(|view| view.subject_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let actions = crate::storage::actions::of_ids(conn, &ids)?;
    for view in views.iter_mut() {
        if view.outcome != Outcome::Flagged {
            continue;
        }
        if let Some(action) = actions
            .iter()
            .find(|action| Some(&action.action_id) == view.subject_id.as_ref())
        {
            view.subject_flags = explain::action_flags(&action.flags);
        }
    }
    Ok(())
}
