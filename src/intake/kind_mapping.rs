//! Maps a decoded field map onto the typed events of the kinds beside action lifecycle
//! (inquiries, clearing, product changes, completed jobs, tracking value requests), through each
//! source's field map (and, for inquiries, its status map). Pure: no storage, no HTTP.

use std::collections::{BTreeMap, HashMap};

use crate::domain::event::{
    ClearingEvent, CompletedJob, InquiryEvent, InquiryStatus, ProductChange, Quarantine, ResultUrl,
    SentDate, SourceKind, TrackingValueRequest,
};
use crate::domain::money::Money;
use crate::intake::decode::Fields;
use crate::intake::mapping::{Lookup, MappingError, parse_items, parse_sent_date, truncate};

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

/// impact.com's resolution words (those documented and those seen) and what each means.
const DEFAULT_INQUIRY_STATUSES: &[(&str, InquiryStatus)] = &[
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

/// The canonical fields of a kind (none for action lifecycle, which has its own mapping).
pub fn fields_of(kind: SourceKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        SourceKind::ActionLifecycle => &[],
        SourceKind::ActionInquiry => INQUIRY_FIELDS,
        SourceKind::ActionClearing => CLEARING_FIELDS,
        SourceKind::ProductDataChange => PRODUCT_FIELDS,
        SourceKind::CompletedJob => JOB_FIELDS,
        SourceKind::TrackingValueRequest => TRACKING_VALUE_FIELDS,
    }
}

/// How one source of a kind other than action lifecycle reads its keys (and status words).
#[derive(Debug, Clone)]
pub struct KindMapping {
    kind: SourceKind,
    /// canonical field -> the partner's key, lowercased
    keys: BTreeMap<&'static str, String>,
    /// the partner's resolution word, lowercased -> normalized status (inquiries only)
    statuses: HashMap<String, InquiryStatus>,
}

impl KindMapping {
    pub fn defaults(kind: SourceKind) -> KindMapping {
        KindMapping {
            kind,
            keys: fields_of(kind)
                .iter()
                .map(|(canonical, key)| (*canonical, key.to_ascii_lowercase()))
                .collect(),
            statuses: if kind == SourceKind::ActionInquiry {
                DEFAULT_INQUIRY_STATUSES
                    .iter()
                    .map(|(word, status)| (word.to_string(), *status))
                    .collect()
            } else {
                HashMap::new()
            },
        }
    }

    /// The defaults with the configured `fields` (canonical = key) and `statuses` (word =
    /// pending, approved, declined or incomplete; inquiries only) laid over them.
    pub fn configured(
        kind: SourceKind,
        fields: &BTreeMap<String, String>,
        statuses: &BTreeMap<String, String>,
    ) -> Result<KindMapping, MappingError> {
        let mut mapping = KindMapping::defaults(kind);
        let table = fields_of(kind);
        for (canonical, key) in fields {
            let known = table
                .iter()
                .find(|(name, _)| name == canonical)
                .map(|(name, _)| *name)
                .ok_or_else(|| {
                    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
                    MappingError::UnknownField(canonical.clone(), names.join(", "))
                })?;
            mapping.keys.insert(known, key.to_ascii_lowercase());
        }
        for (word, target) in statuses {
            if kind != SourceKind::ActionInquiry {
                return Err(MappingError::StatusesNotSupported(kind.as_str().to_owned()));
            }
            let status = InquiryStatus::parse_loose(target).ok_or_else(|| {
                MappingError::UnknownInquiryStatus {
                    word: word.clone(),
                    target: target.clone(),
                }
            })?;
            mapping
                .statuses
                .insert(word.trim().to_ascii_lowercase(), status);
        }
        Ok(mapping)
    }

    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    pub fn key_of(&self, canonical: &str) -> &str {
        self.keys.get(canonical).map(String::as_str).unwrap_or("")
    }

    /// The key as the configuration (or impact.com) spells it, for messages.
    fn original_key(&self, canonical: &str) -> String {
        fields_of(self.kind)
            .iter()
            .find(|(name, key)| {
                *name == canonical && key.eq_ignore_ascii_case(self.key_of(canonical))
            })
            .map(|(_, key)| key.to_string())
            .unwrap_or_else(|| self.key_of(canonical).to_owned())
    }
}

/// One postback's fields read through a mapping, collecting warnings.
struct Reader<'a, 'w> {
    lookup: Lookup<'a>,
    mapping: &'a KindMapping,
    warnings: &'w mut Vec<String>,
}

impl<'a, 'w> Reader<'a, 'w> {
    fn new(fields: &'a Fields, mapping: &'a KindMapping, warnings: &'w mut Vec<String>) -> Self {
        Reader {
            lookup: Lookup::new(fields),
            mapping,
            warnings,
        }
    }

    fn text(&mut self, canonical: &str) -> Option<String> {
        self.lookup.text(self.mapping.key_of(canonical))
    }

    fn id(&mut self, canonical: &str, what: &'static str) -> Result<String, Quarantine> {
        self.text(canonical).ok_or_else(|| Quarantine::MissingId {
            what,
            field: self.mapping.original_key(canonical),
        })
    }

    fn money(&mut self, canonical: &str) -> Result<Option<Money>, Quarantine> {
        self.text(canonical)
            .map(|value| {
                value
                    .parse::<Money>()
                    .map_err(|problem| Quarantine::UnparseableMoney {
                        field: self.mapping.original_key(canonical),
                        problem: problem.to_string(),
                    })
            })
            .transpose()
    }

    fn date(&mut self, canonical: &str) -> Option<SentDate> {
        let value = self.text(canonical)?;
        let date = parse_sent_date(&value);
        if date.utc.is_none() {
            self.warnings.push(format!(
                "`{}` = `{}` is not a date; kept as text only",
                self.mapping.original_key(canonical),
                truncate(&value, 40)
            ));
        }
        Some(date)
    }

    /// A comma-separated list, blanks dropped, each id trimmed, order kept, repeats removed.
    fn list(&mut self, canonical: &str) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in self.text(canonical).unwrap_or_default().split(',') {
            let id = id.trim();
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
        ids
    }

    fn extra(&self) -> BTreeMap<String, String> {
        self.lookup.unused()
    }
}

/// Maps an action inquiry. Quarantined without an inquiry id or with unreadable money; an
/// unknown resolution word is kept raw and warned.
pub fn map_inquiry(
    fields: &Fields,
    mapping: &KindMapping,
    warnings: &mut Vec<String>,
) -> Result<InquiryEvent, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let inquiry_id = read.id("inquiry_id", "inquiry id")?;
    let status_raw = read.text("resolution_status");
    let status = status_raw
        .as_deref()
        .and_then(|word| mapping.statuses.get(&word.to_ascii_lowercase()).copied());
    if status.is_none()
        && let Some(word) = &status_raw
    {
        read.warnings.push(format!(
            "unknown resolution status `{word}`: kept raw, the inquiry is flagged"
        ));
    }
    let event = InquiryEvent {
        inquiry_id,
        status,
        status_raw,
        inquiry_type: read.text("inquiry_type"),
        expected_payout: read.money("expected_payout")?,
        final_payout: read.money("final_payout")?,
        transaction_amount: read.money("transaction_amount")?,
        campaign_id: read.text("campaign_id"),
        campaign_name: read.text("campaign_name"),
        media_partner_id: read.text("media_partner_id"),
        order_id: read.text("order_id"),
        action_id: read.text("action_id"),
        transaction_date: read.date("transaction_date"),
        resolution_deadline_date: read.date("resolution_deadline_date"),
        auto_approval_date: read.date("auto_approval_date"),
        resolution_date: read.date("resolution_date"),
        creation_date: read.date("creation_date"),
        reject_reason: read.text("reject_reason"),
        inquiry_notes: read.text("inquiry_notes"),
        resolution_notes: read.text("resolution_notes"),
        comments: read.text("comments"),
        tracking_link: read.text("tracking_link"),
        extra: BTreeMap::new(),
    };
    Ok(InquiryEvent {
        extra: read.extra(),
        ..event
    })
}

/// Maps a clearing. Quarantined when it lists neither an action id nor an order id.
pub fn map_clearing(
    fields: &Fields,
    mapping: &KindMapping,
    warnings: &mut Vec<String>,
) -> Result<ClearingEvent, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let action_ids = read.list("action_ids");
    let order_ids = read.list("order_ids");
    if action_ids.is_empty() && order_ids.is_empty() {
        return Err(Quarantine::MissingId {
            what: "cleared action id or order id",
            field: format!(
                "{}`/`{}",
                mapping.original_key("action_ids"),
                mapping.original_key("order_ids")
            ),
        });
    }
    if !action_ids.is_empty() && !order_ids.is_empty() && action_ids.len() != order_ids.len() {
        read.warnings.push(format!(
            "{} action ids but {} order ids: order ids are not paired with actions",
            action_ids.len(),
            order_ids.len()
        ));
    }
    let event = ClearingEvent {
        action_ids,
        order_ids,
        cleared_date: read.date("cleared_date"),
        ledger_date: read.date("ledger_date"),
        campaign_id: read.text("campaign_id"),
        extra: BTreeMap::new(),
    };
    Ok(ClearingEvent {
        extra: read.extra(),
        ..event
    })
}

/// Maps a product data change. Quarantined without a catalog id and an item id.
pub fn map_product(
    fields: &Fields,
    mapping: &KindMapping,
    warnings: &mut Vec<String>,
) -> Result<ProductChange, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let catalog_id = read.id("catalog_id", "catalog id")?;
    let item_id = read.id("item_id", "catalog item id")?;
    let event = ProductChange {
        catalog_id,
        item_id,
        name: read.text("name"),
        price: read.money("price")?,
        currency: read.text("currency"),
        stock: read.text("stock"),
        change_type: read.text("change_type"),
        extra: BTreeMap::new(),
    };
    Ok(ProductChange {
        extra: read.extra(),
        ..event
    })
}

/// Maps a completed job. Quarantined without a job id.
pub fn map_job(
    fields: &Fields,
    mapping: &KindMapping,
    warnings: &mut Vec<String>,
) -> Result<CompletedJob, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let job_id = read.id("job_id", "job id")?;
    let result_urls = read
        .lookup
        .prefixed(RESULT_URL_PREFIX)
        .into_iter()
        .filter_map(|(key, url)| {
            let minutes = key[RESULT_URL_PREFIX.len()..].parse::<i64>().ok();
            Some(ResultUrl { url: url?, minutes })
        })
        .collect();
    let event = CompletedJob {
        job_id,
        job_type: read.text("job_type"),
        account_id: read.text("account_id"),
        start_date: read.date("start_date"),
        end_date: read.date("end_date"),
        records_processed: read.text("records_processed"),
        detail_uri: read.text("detail_uri"),
        result_uri: read.text("result_uri"),
        result_urls,
        extra: BTreeMap::new(),
    };
    Ok(CompletedJob {
        extra: read.extra(),
        ..event
    })
}

/// Maps a tracking value request. Quarantined without an action id or with unreadable money.
pub fn map_tracking_value(
    fields: &Fields,
    mapping: &KindMapping,
    warnings: &mut Vec<String>,
) -> Result<TrackingValueRequest, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let action_id = read.id("action_id", "action id")?;
    let items_key = mapping.key_of("items").to_owned();
    let items = match read.lookup.value(&items_key) {
        Some(items) => parse_items(items, read.warnings),
        None => Vec::new(),
    };
    let event = TrackingValueRequest {
        action_id,
        campaign_id: read.text("campaign_id"),
        action_tracker_id: read.text("action_tracker_id"),
        media_partner_id: read.text("media_partner_id"),
        order_id: read.text("order_id"),
        amount: read.money("amount")?,
        currency: read.text("currency"),
        event_date: read.date("event_date"),
        click_id: read.text("click_id"),
        ip_address: read.text("ip_address"),
        items,
        extra: BTreeMap::new(),
    };
    Ok(TrackingValueRequest {
        extra: read.extra(),
        ..event
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn defaults(kind: SourceKind) -> KindMapping {
        KindMapping::defaults(kind)
    }

    #[test]
    fn an_inquiry_maps_its_resolution_words_and_keeps_unknown_ones_raw() {
        let mapping = defaults(SourceKind::ActionInquiry);
        let mut warnings = Vec::new();
        let event = map_inquiry(
            &fields(
                json!({"Id": 554433, "ResolutionStatus": "VALID", "FinalPayout": "25.00",
                "InquiryType": "UNTRACKED", "OrderId": "ORD-1", "Comments": "[]", "Odd": "x"}),
            ),
            &mapping,
            &mut warnings,
        )
        .unwrap();
        assert_eq!(event.inquiry_id, "554433");
        assert_eq!(event.status, Some(InquiryStatus::Approved));
        assert_eq!(event.final_payout, Some("25".parse().unwrap()));
        assert_eq!(event.inquiry_type.as_deref(), Some("UNTRACKED"));
        assert_eq!(event.extra.get("Odd").map(String::as_str), Some("x"));
        assert!(warnings.is_empty());
        for (word, status) in [
            ("UNRESOLVED", InquiryStatus::Pending),
            ("PENDING", InquiryStatus::Pending),
            ("DECLINED", InquiryStatus::Declined),
            ("INCOMPLETE", InquiryStatus::Incomplete),
        ] {
            let event = map_inquiry(
                &fields(json!({"Id": "I", "ResolutionStatus": word})),
                &mapping,
                &mut warnings,
            )
            .unwrap();
            assert_eq!(event.status, Some(status), "{word}");
        }
        let odd = map_inquiry(
            &fields(json!({"Id": "I", "ResolutionStatus": "ESCALATED"})),
            &mapping,
            &mut warnings,
        )
        .unwrap();
        assert!(odd.has_unknown_status());
        assert_eq!(odd.status_raw.as_deref(), Some("ESCALATED"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn an_inquiry_without_id_or_with_bad_money_is_quarantined() {
        let mapping = defaults(SourceKind::ActionInquiry);
        let mut warnings = Vec::new();
        assert_eq!(
            map_inquiry(&fields(json!({"Id": "{Id}"})), &mapping, &mut warnings),
            Err(Quarantine::MissingId {
                what: "inquiry id",
                field: "Id".into()
            })
        );
        assert!(matches!(
            map_inquiry(&fields(json!({"Id": "1", "FinalPayout": "lots"})), &mapping, &mut warnings),
            Err(Quarantine::UnparseableMoney { field, .. }) if field == "FinalPayout"
        ));
    }

    #[test]
    fn inquiry_keys_and_words_come_from_the_configuration() {
        let mapping = KindMapping::configured(
            SourceKind::ActionInquiry,
            &[("inquiry_id".into(), "inq".into())].into(),
            &[("WON".into(), "approved".into())].into(),
        )
        .unwrap();
        let event = map_inquiry(
            &fields(json!({"INQ": "9", "ResolutionStatus": "won"})),
            &mapping,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(event.inquiry_id, "9");
        assert_eq!(event.status, Some(InquiryStatus::Approved));
        assert!(
            KindMapping::configured(
                SourceKind::ActionInquiry,
                &BTreeMap::new(),
                &[("WON".into(), "paid".into())].into()
            )
            .is_err()
        );
        assert!(
            KindMapping::configured(
                SourceKind::CompletedJob,
                &BTreeMap::new(),
                &[("X".into(), "approved".into())].into()
            )
            .is_err()
        );
        assert!(
            KindMapping::configured(
                SourceKind::ActionClearing,
                &[("payout".into(), "x".into())].into(),
                &BTreeMap::new()
            )
            .is_err()
        );
    }

    #[test]
    fn clearing_lists_are_split_trimmed_and_deduplicated() {
        let mapping = defaults(SourceKind::ActionClearing);
        let mut warnings = Vec::new();
        let event = map_clearing(
            &fields(
                json!({"ActionIds": " ACT-101, ACT-102,,ACT-101", "OrderIds": "",
                "ClearedDate": "2026-04-15T12:00:00Z", "LedgerDate": "2026-04-08T09:54:43Z"}),
            ),
            &mapping,
            &mut warnings,
        )
        .unwrap();
        assert_eq!(event.action_ids, ["ACT-101", "ACT-102"]);
        assert!(event.order_ids.is_empty());
        assert!(event.cleared_date.unwrap().utc.is_some());
        assert_eq!(
            map_clearing(
                &fields(json!({"ActionIds": "{ActionIds}"})),
                &mapping,
                &mut warnings
            )
            .map(|_| ()),
            Err(Quarantine::MissingId {
                what: "cleared action id or order id",
                field: "ActionIds`/`OrderIds".into()
            })
        );
    }

    #[test]
    fn a_completed_job_keeps_each_result_url_with_its_minutes() {
        let mapping = defaults(SourceKind::CompletedJob);
        let event = map_job(
            &fields(
                json!({"JobId": 10293847, "ResultDownloadUrlExp5": "https://d/5",
                "ResultDownloadUrlExp60": "https://d/60", "resultdownloadurlexpsoon": "https://d/x",
                "ResultDownloadUrlExp15": "", "Other": 1}),
            ),
            &mapping,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(event.job_id, "10293847");
        let urls: Vec<(&str, Option<i64>)> = event
            .result_urls
            .iter()
            .map(|url| (url.url.as_str(), url.minutes))
            .collect();
        assert_eq!(
            urls,
            [
                ("https://d/5", Some(5)),
                ("https://d/60", Some(60)),
                ("https://d/x", None)
            ]
        );
        assert_eq!(event.extra.keys().collect::<Vec<_>>(), ["Other"]);
        assert!(map_job(&fields(json!({"JobType": "X"})), &mapping, &mut Vec::new()).is_err());
    }

    #[test]
    fn products_and_tracking_values_need_their_ids() {
        let products = defaults(SourceKind::ProductDataChange);
        let item = map_product(
            &fields(
                json!({"CatalogId": 7, "CatalogItemId": "SKU-1", "CurrentPrice": "19.99",
                "StockAvailability": "OutOfStock"}),
            ),
            &products,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(
            (item.catalog_id.as_str(), item.item_id.as_str()),
            ("7", "SKU-1")
        );
        assert_eq!(item.price, Some("19.99".parse().unwrap()));
        assert!(map_product(&fields(json!({"CatalogId": 7})), &products, &mut Vec::new()).is_err());
        let values = defaults(SourceKind::TrackingValueRequest);
        let request = map_tracking_value(
            &fields(json!({"ActionId": "ACT-1", "Amount": "150.00", "IpAddress": "1.2.3.4"})),
            &values,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(request.amount, Some("150".parse().unwrap()));
        assert!(
            map_tracking_value(&fields(json!({"Amount": "1"})), &values, &mut Vec::new()).is_err()
        );
    }
}
