//! The actions list's query as storage takes it: filters, sort and keyset cursor, typed.
//! (`read::filter` parses it from a query string.)

use chrono::NaiveDateTime;

use super::overview::SumsFilter;
use crate::domain::bucket::Bucket;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    Event,
    Locking,
    /// When it cleared (a clearing named it).
    Cleared,
    /// The date impact.com scheduled it to clear (`ClearedDate`).
    ScheduledClear,
    /// When a ledger entry of it was recorded.
    Ledger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// When we first received it: the default, newest first.
    Received,
    EventDate,
    LockingDate,
    Payout,
    ActionId,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Received,
        SortKey::EventDate,
        SortKey::LockingDate,
        SortKey::Payout,
        SortKey::ActionId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Received => "received",
            SortKey::EventDate => "event_date",
            SortKey::LockingDate => "locking_date",
            SortKey::Payout => "payout",
            SortKey::ActionId => "action_id",
        }
    }

    /// Whether the column may be empty (sorted last in either direction).
    pub fn nullable(self) -> bool {
        matches!(self, SortKey::EventDate | SortKey::LockingDate)
    }
}

/// Where the previous page ended: the sort column's value there (None: an empty date) and the
/// action id that breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub value: Option<SortValue>,
    pub action_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Time(NaiveDateTime),
    Units(i64),
    Text(String),
}

/// The filters, checked: what the storage module turns into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFilter {
    /// None: every bucket.
    pub bucket: Option<Bucket>,
    /// A campaign (brand) id or name, exactly.
    pub campaign: Option<String>,
    /// An event type (action tracker) id or name, exactly.
    pub event_type: Option<String>,
    pub currency: Option<String>,
    pub date_field: DateField,
    /// From this instant, inclusive.
    pub from: Option<NaiveDateTime>,
    /// Before this instant (the day after the `to` date).
    pub until: Option<NaiveDateTime>,
    /// An action id, order id, shared id, sub id or click id, exactly.
    pub search: Option<String>,
    pub include_tests: bool,
    /// Only actions with flags nobody marked reviewed.
    pub flagged: bool,
    pub sort: SortKey,
    pub descending: bool,
    pub cursor: Option<Cursor>,
}

impl ActionFilter {
    /// What else narrows the set when the running sums can give its totals (only the bucket,
    /// the test marker, the currency and whole days of locking date narrow it); None when
    /// they cannot.
    pub fn sums_filter(&self) -> Option<SumsFilter> {
        let whole_day = |at: Option<NaiveDateTime>| match at {
            None => Some(None),
            Some(at) if at.time() == chrono::NaiveTime::MIN => Some(Some(at.date())),
            Some(_) => None,
        };
        let (locking_from, locking_until) = match self.date_field {
            _ if self.from.is_none() && self.until.is_none() => (None, None),
            DateField::Locking => (whole_day(self.from)?, whole_day(self.until)?),
            _ => return None,
        };
        let narrowed_elsewhere = self.campaign.is_some()
            || self.event_type.is_some()
            || self.search.is_some()
            || self.flagged;
        (!narrowed_elsewhere).then(|| SumsFilter {
            currency: self.currency.clone(),
            locking_from,
            locking_until,
        })
    }
}
