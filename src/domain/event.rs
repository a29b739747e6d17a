//! The typed events a postback can carry, once decoded and mapped: what the ledger reasons about.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::details::ActionDetails;
use crate::domain::money::Money;
use crate::domain::words::text_enum;

text_enum! {
    /// What kind of postback a source receives; fixed per source in the configuration.
    pub enum SourceKind ("source kind") {
        ActionLifecycle = "action_lifecycle",
        ActionInquiry = "action_inquiry",
        ActionClearing = "action_clearing",
        ProductDataChange = "product_data_change",
        CompletedJob = "completed_job",
        TrackingValueRequest = "tracking_value_request",
        /// Not a postback: a network's own record of an action (its API or a report), filled
        /// into the ledger by a reconciliation run. No configured source receives this kind.
        NetworkRecord = "network_record",
    }
}

text_enum! {
    /// The normalized lifecycle status of an action.
    pub enum ActionStatus ("action status") {
        Pending = "pending",
        Approved = "approved",
        Reversed = "reversed",
    }
}

text_enum! {
    /// The status an action event is recorded with: its normalized status, or `unknown` for a
    /// word the source's status map does not know (it counts as pending and flags the action).
    pub enum EventStatus ("event status") {
        Pending = "pending",
        Approved = "approved",
        Reversed = "reversed",
        Unknown = "unknown",
    }
}

impl EventStatus {
    /// The status the event counts as.
    pub fn effective(self) -> ActionStatus {
        match self {
            EventStatus::Pending | EventStatus::Unknown => ActionStatus::Pending,
            EventStatus::Approved => ActionStatus::Approved,
            EventStatus::Reversed => ActionStatus::Reversed,
        }
    }
}

text_enum! {
    /// The canonical id fields of an action that may carry the test marker: ids a partner
    /// controls on a tracking link.
    pub enum MarkerField ("marker field") {
        SharedId = "shared_id",
        SubId1 = "sub_id1",
        SubId2 = "sub_id2",
        SubId3 = "sub_id3",
        OrderId = "order_id",
        ClickId = "click_id",
        PromoCode = "promo_code",
    }
}

/// A date as sent: the instant in UTC (when it parsed) and the text it came as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentDate {
    pub utc: Option<DateTime<Utc>>,
    pub text: String,
}

/// One line of the `items` collection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct LineItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebate: Option<String>,
}

/// An action lifecycle event (tracked, modified or reversed: impact.com does not say which).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionEvent {
    pub action_id: String,
    /// None when the template sends no status; treated as pending.
    pub status: Option<ActionStatus>,
    /// The word as sent, kept whether or not it mapped.
    pub status_raw: Option<String>,
    pub payout: Option<Money>,
    pub delta_payout: Option<Money>,
    pub amount: Option<Money>,
    pub delta_amount: Option<Money>,
    /// Ids, brand, currencies and dates as sent.
    pub details: ActionDetails<String, SentDate>,
    pub items: Vec<LineItem>,
    /// Keys the field map does not know, with their values as text.
    pub extra: BTreeMap<String, String>,
}

impl ActionEvent {
    /// An unknown status word is applied as pending and flags the action.
    pub fn has_unknown_status(&self) -> bool {
        self.status.is_none() && self.status_raw.is_some()
    }

    pub fn effective_status(&self) -> ActionStatus {
        self.status.unwrap_or(ActionStatus::Pending)
    }

    /// The status this event is recorded with.
    pub fn recorded_status(&self) -> EventStatus {
        match self.status {
            _ if self.has_unknown_status() => EventStatus::Unknown,
            None | Some(ActionStatus::Pending) => EventStatus::Pending,
            Some(ActionStatus::Approved) => EventStatus::Approved,
            Some(ActionStatus::Reversed) => EventStatus::Reversed,
        }
    }
}

text_enum! {
    /// The normalized resolution of an action inquiry. The word as sent is kept beside it.
    pub enum InquiryStatus ("inquiry status") {
        /// Open: created, not decided yet (UNRESOLVED, PENDING).
        Pending = "pending",
        /// Accepted by the brand (VALID, APPROVED, ACCEPTED): expected money.
        Approved = "approved",
        Declined = "declined",
        /// Sent back to the partner for more information.
        Incomplete = "incomplete",
    }
}

impl InquiryStatus {
    /// A decision: the inquiry is no longer open.
    pub fn is_resolved(self) -> bool {
        self != InquiryStatus::Pending
    }
}

/// An action inquiry created or resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InquiryEvent {
    pub inquiry_id: String,
    /// None when the word is missing or unknown (then `status_raw` keeps it).
    pub status: Option<InquiryStatus>,
    pub status_raw: Option<String>,
    pub inquiry_type: Option<String>,
    pub expected_payout: Option<Money>,
    pub final_payout: Option<Money>,
    pub transaction_amount: Option<Money>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub action_id: Option<String>,
    pub transaction_date: Option<SentDate>,
    pub resolution_deadline_date: Option<SentDate>,
    pub auto_approval_date: Option<SentDate>,
    pub resolution_date: Option<SentDate>,
    pub creation_date: Option<SentDate>,
    pub reject_reason: Option<String>,
    pub inquiry_notes: Option<String>,
    pub resolution_notes: Option<String>,
    /// As sent; the read model shows it as parsed JSON when it parses.
    pub comments: Option<String>,
    pub tracking_link: Option<String>,
    pub extra: BTreeMap<String, String>,
}

impl InquiryEvent {
    pub fn has_unknown_status(&self) -> bool {
        self.status.is_none() && self.status_raw.is_some()
    }
}

/// Actions cleared: the listed ids get their cleared and ledger dates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClearingEvent {
    pub action_ids: Vec<String>,
    pub order_ids: Vec<String>,
    pub cleared_date: Option<SentDate>,
    pub ledger_date: Option<SentDate>,
    pub campaign_id: Option<String>,
    pub extra: BTreeMap<String, String>,
}

text_enum! {
    /// What an id named by a clearing matched.
    pub enum ClearingMatch ("clearing match") {
        /// An action with money.
        Action = "cleared",
        /// A reversed action: flagged `cleared_after_reversal`.
        Reversed = "reversed",
        /// An id never tracked: a placeholder action with no money.
        Placeholder = "placeholder",
        /// An order id no action carries.
        Nothing = "unmatched",
    }
}

/// A product catalog item changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductChange {
    pub catalog_id: String,
    pub item_id: String,
    pub name: Option<String>,
    pub price: Option<Money>,
    pub currency: Option<String>,
    pub stock: Option<String>,
    pub change_type: Option<String>,
    pub extra: BTreeMap<String, String>,
}

/// One result download URL of a completed job and how long it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultUrl {
    pub url: String,
    /// From the key (`ResultDownloadUrlExp15`: 15 minutes); None when the key says no number.
    pub minutes: Option<i64>,
}

/// An export job completed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletedJob {
    pub job_id: String,
    pub job_type: Option<String>,
    pub account_id: Option<String>,
    pub start_date: Option<SentDate>,
    pub end_date: Option<SentDate>,
    pub records_processed: Option<String>,
    pub detail_uri: Option<String>,
    pub result_uri: Option<String>,
    pub result_urls: Vec<ResultUrl>,
    pub extra: BTreeMap<String, String>,
}

/// A tracking value request created for an action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackingValueRequest {
    pub action_id: String,
    pub campaign_id: Option<String>,
    pub action_tracker_id: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub amount: Option<Money>,
    pub currency: Option<String>,
    pub event_date: Option<SentDate>,
    pub click_id: Option<String>,
    pub ip_address: Option<String>,
    pub items: Vec<LineItem>,
    pub extra: BTreeMap<String, String>,
}

/// What a postback was understood to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postback {
    Action(Box<ActionEvent>),
    Inquiry(Box<InquiryEvent>),
    Clearing(Box<ClearingEvent>),
    Product(Box<ProductChange>),
    Job(Box<CompletedJob>),
    TrackingValue(Box<TrackingValueRequest>),
}

impl Postback {
    /// The id the deliveries log is searched by.
    pub fn subject_id(&self) -> Option<String> {
        match self {
            Postback::Action(event) => Some(event.action_id.clone()),
            Postback::Inquiry(event) => Some(event.inquiry_id.clone()),
            Postback::Clearing(event) => {
                let ids = if event.action_ids.is_empty() {
                    &event.order_ids
                } else {
                    &event.action_ids
                };
                Some(ids.join(","))
            }
            Postback::Product(event) => Some(format!("{}/{}", event.catalog_id, event.item_id)),
            Postback::Job(event) => Some(event.job_id.clone()),
            Postback::TrackingValue(event) => Some(event.action_id.clone()),
        }
    }
}

/// Why a delivery is kept raw instead of applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Quarantine {
    #[error("unparseable body: {0}")]
    UnparseableBody(String),
    #[error("no action id (field `{0}` is missing or empty)")]
    NoActionId(String),
    #[error("no {what} (field `{field}` is missing or empty)")]
    MissingId { what: &'static str, field: String },
    #[error("unparseable money in `{field}`: {problem}")]
    UnparseableMoney { field: String, problem: String },
    /// Read, but the database refused it in that form: kept raw instead.
    #[error("read, but could not be stored as read ({0}); kept raw")]
    NotStorable(String),
    /// No field the source maps carries a value: the template pasted into impact.com has no
    /// placeholders (or only ones it left unreplaced). A setup error, shown as such.
    #[error("{}", EMPTY_POSTBACK_REASON)]
    EmptyPostback,
    #[error("implausible money in `{field}`: {value} is beyond ±10^12")]
    ImplausibleMoney { field: String, value: String },
}

/// The reason an empty postback is quarantined with, as stored and counted.
pub const EMPTY_POSTBACK_REASON: &str = "empty postback: the URL template has no {Placeholders}";
