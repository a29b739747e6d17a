//! The typed events a postback can carry, once decoded and mapped: what the ledger reasons about.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::money::Money;

/// What kind of postback a source receives; fixed per source in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    ActionLifecycle,
    ActionInquiry,
    ActionClearing,
    ProductDataChange,
    CompletedJob,
    TrackingValueRequest,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::ActionLifecycle => "action_lifecycle",
            SourceKind::ActionInquiry => "action_inquiry",
            SourceKind::ActionClearing => "action_clearing",
            SourceKind::ProductDataChange => "product_data_change",
            SourceKind::CompletedJob => "completed_job",
            SourceKind::TrackingValueRequest => "tracking_value_request",
        }
    }
}

/// The normalized lifecycle status of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Pending,
    Approved,
    Reversed,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Approved => "approved",
            ActionStatus::Reversed => "reversed",
        }
    }

    pub fn parse(word: &str) -> Option<ActionStatus> {
        match word.trim().to_ascii_lowercase().as_str() {
            "pending" => Some(ActionStatus::Pending),
            "approved" => Some(ActionStatus::Approved),
            "reversed" => Some(ActionStatus::Reversed),
            _ => None,
        }
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
    pub payout_currency: Option<String>,
    pub amount_currency: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub action_tracker_id: Option<String>,
    pub action_tracker_name: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub shared_id: Option<String>,
    pub sub_id1: Option<String>,
    pub sub_id2: Option<String>,
    pub sub_id3: Option<String>,
    pub click_id: Option<String>,
    pub promo_code: Option<String>,
    pub event_date: Option<SentDate>,
    pub creation_date: Option<SentDate>,
    pub locking_date: Option<SentDate>,
    pub cleared_date: Option<SentDate>,
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
}

/// What a postback was understood to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postback {
    Action(Box<ActionEvent>),
    /// A kind whose handling is not built yet: kept in the inbox, typed by its source kind.
    Unhandled {
        subject_id: Option<String>,
    },
}

/// Why a delivery is kept raw instead of applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Quarantine {
    #[error("unparseable body: {0}")]
    UnparseableBody(String),
    #[error("no action id (field `{0}` is missing or empty)")]
    NoActionId(String),
    #[error("unparseable money in `{field}`: {problem}")]
    UnparseableMoney { field: String, problem: String },
}
