//! The field table of each kind of postback: its canonical fields and impact.com's key for each,
//! and the status words impact.com sends. The mapping reads postbacks through these tables, and
//! everything that names a kind's fields (configuration errors, templates) reads them here.

use crate::domain::event::{ActionStatus, InquiryStatus, SourceKind};

/// The canonical fields of an action lifecycle postback and impact.com's own key for each.
pub const ACTION_FIELDS: &[(&str, &str)] = &[
    ("action_id", "ActionId"),
    ("status", "Status"),
    ("payout", "Payout"),
    ("delta_payout", "DeltaPayout"),
    ("amount", "Amount"),
    ("delta_amount", "DeltaAmount"),
    ("payout_currency", "Currency"),
    ("amount_currency", "Currency"),
    ("campaign_id", "CampaignId"),
    ("campaign_name", "CampaignName"),
    ("action_tracker_id", "ActionTrackerId"),
    ("action_tracker_name", "ActionTrackerName"),
    ("media_partner_id", "MediaPartnerId"),
    ("order_id", "Oid"),
    ("shared_id", "SharedId"),
    ("sub_id1", "SubId1"),
    ("sub_id2", "SubId2"),
    ("sub_id3", "SubId3"),
    ("click_id", "RefClickId"),
    ("promo_code", "PromoCode"),
    ("event_date", "EventDate"),
    ("creation_date", "CreationDate"),
    ("locking_date", "LockingDate"),
    ("cleared_date", "ClearedDate"),
    ("items", "items"),
];

/// Canonical fields of an action inquiry and impact.com's key for each.
pub const INQUIRY_FIELDS: &[(&str, &str)] = &[
    ("inquiry_id", "Id"),
    ("resolution_status", "ResolutionStatus"),
    ("inquiry_type", "InquiryType"),
    ("expected_payout", "ExpectedPayout"),
    ("final_payout", "FinalPayout"),
    ("transaction_amount", "TransactionAmount"),
    ("campaign_id", "CampaignId"),
    ("campaign_name", "CampaignName"),
    ("media_partner_id", "MediaPartnerId"),
    ("order_id", "OrderId"),
    ("action_id", "ActionId"),
    ("transaction_date", "TransactionDate"),
    ("resolution_deadline_date", "ResolutionDeadlineDate"),
    ("auto_approval_date", "AutoApprovalDate"),
    ("resolution_date", "ResolutionDate"),
    ("creation_date", "CreationDate"),
    ("reject_reason", "RejectReason"),
    ("inquiry_notes", "InquiryNotes"),
    ("resolution_notes", "ResolutionNotes"),
    ("comments", "Comments"),
    ("tracking_link", "TrackingLink"),
];

pub const CLEARING_FIELDS: &[(&str, &str)] = &[
    ("action_ids", "ActionIds"),
    ("order_ids", "OrderIds"),
    ("cleared_date", "ClearedDate"),
    ("ledger_date", "LedgerDate"),
    ("campaign_id", "CampaignId"),
];

/// impact.com publishes no example body for product data change postbacks; these are the names
/// its catalog API uses. A partner's template can name them otherwise through the field map.
pub const PRODUCT_FIELDS: &[(&str, &str)] = &[
    ("catalog_id", "CatalogId"),
    ("item_id", "CatalogItemId"),
    ("name", "Name"),
    ("price", "CurrentPrice"),
    ("currency", "Currency"),
    ("stock", "StockAvailability"),
    ("change_type", "ChangeType"),
];

pub const JOB_FIELDS: &[(&str, &str)] = &[
    ("job_id", "JobId"),
    ("job_type", "JobType"),
    ("account_id", "AccountId"),
    ("start_date", "StartDate"),
    ("end_date", "EndDate"),
    ("records_processed", "RecordsProcessed"),
    ("detail_uri", "ApiJobDetailUri"),
    ("result_uri", "ApiResultUri"),
];

/// Keys starting with this (case-insensitively) are result download URLs; the number after it
/// is the URL's validity in minutes (`ResultDownloadUrlExp15`).
pub const RESULT_URL_PREFIX: &str = "resultdownloadurlexp";

/// The result download URLs impact.com offers (`{ResultDownloadUrlExp5}` …), as the templates
/// name them; the mapping reads any key with the prefix.
pub const RESULT_URL_KEYS: &[&str] = &[
    "ResultDownloadUrlExp5",
    "ResultDownloadUrlExp15",
    "ResultDownloadUrlExp30",
    "ResultDownloadUrlExp60",
];

pub const TRACKING_VALUE_FIELDS: &[(&str, &str)] = &[
    ("action_id", "ActionId"),
    ("campaign_id", "CampaignId"),
    ("action_tracker_id", "ActionTrackerId"),
    ("media_partner_id", "MediaPartnerId"),
    ("order_id", "Oid"),
    ("amount", "Amount"),
    ("currency", "Currency"),
    ("event_date", "EventDate"),
    ("ip_address", "IpAddress"),
    ("click_id", "RefClickId"),
    ("items", "items"),
];

/// impact.com's status words and the normalized status each means.
pub const ACTION_STATUSES: &[(&str, ActionStatus)] = &[
    ("pending", ActionStatus::Pending),
    ("default", ActionStatus::Pending),
    ("modified", ActionStatus::Pending),
    ("tracked", ActionStatus::Pending),
    ("approved", ActionStatus::Approved),
    ("locked", ActionStatus::Approved),
    ("reversed", ActionStatus::Reversed),
    ("rejected", ActionStatus::Reversed),
    ("declined", ActionStatus::Reversed),
];

/// impact.com's resolution words (those documented and those seen) and what each means.
pub const INQUIRY_STATUSES: &[(&str, InquiryStatus)] = &[
    ("unresolved", InquiryStatus::Pending),
    ("pending", InquiryStatus::Pending),
    ("open", InquiryStatus::Pending),
    ("valid", InquiryStatus::Approved),
    ("approved", InquiryStatus::Approved),
    ("accepted", InquiryStatus::Approved),
    ("declined", InquiryStatus::Declined),
    ("rejected", InquiryStatus::Declined),
    ("incomplete", InquiryStatus::Incomplete),
];

/// The canonical fields impact.com sends as JSON numbers (its own examples write them unquoted:
/// `"Payout": 10.50`, `"CampaignId": 9876`); a body template leaves their placeholders unquoted.
pub fn numbers_of(kind: SourceKind) -> &'static [&'static str] {
    match kind {
        SourceKind::ActionLifecycle | SourceKind::NetworkRecord => &[
            "payout",
            "delta_payout",
            "amount",
            "delta_amount",
            "campaign_id",
            "action_tracker_id",
            "media_partner_id",
        ],
        SourceKind::ActionInquiry => &[
            "inquiry_id",
            "expected_payout",
            "final_payout",
            "transaction_amount",
            "campaign_id",
            "media_partner_id",
        ],
        SourceKind::ActionClearing => &["campaign_id"],
        SourceKind::ProductDataChange => &["catalog_id", "price"],
        SourceKind::CompletedJob => &["job_id", "account_id", "records_processed"],
        SourceKind::TrackingValueRequest => &[
            "campaign_id",
            "action_tracker_id",
            "media_partner_id",
            "amount",
        ],
    }
}

/// The canonical fields of a kind and impact.com's key for each.
pub fn fields_of(kind: SourceKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        // A network's record of an action is read as an action lifecycle event.
        SourceKind::ActionLifecycle | SourceKind::NetworkRecord => ACTION_FIELDS,
        SourceKind::ActionInquiry => INQUIRY_FIELDS,
        SourceKind::ActionClearing => CLEARING_FIELDS,
        SourceKind::ProductDataChange => PRODUCT_FIELDS,
        SourceKind::CompletedJob => JOB_FIELDS,
        SourceKind::TrackingValueRequest => TRACKING_VALUE_FIELDS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_is_a_field_of_its_kind() {
        for kind in SourceKind::ALL {
            for number in numbers_of(*kind) {
                assert!(
                    fields_of(*kind).iter().any(|(name, _)| name == number),
                    "{kind}: {number}"
                );
            }
        }
    }
}
