//! The kinds beside action lifecycle (inquiries, clearing, product changes, completed jobs,
//! tracking value requests) read into their typed events.

use std::collections::BTreeMap;

use super::{Mapping, Reader};
use crate::domain::event::{
    ClearingEvent, CompletedJob, InquiryEvent, ProductChange, Quarantine, ResultUrl,
    TrackingValueRequest,
};
use crate::intake::decode::Fields;
use crate::intake::mapping::fields::RESULT_URL_PREFIX;

/// Maps an action inquiry. Quarantined without an inquiry id or with unreadable money; an
/// unknown resolution word is kept raw and warned.
pub fn map_inquiry(
    fields: &Fields,
    mapping: &Mapping,
    warnings: &mut Vec<String>,
) -> Result<InquiryEvent, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let inquiry_id = read.id("inquiry_id", "inquiry id")?;
    let status_raw = read.text("resolution_status");
    let status = status_raw
        .as_deref()
        .and_then(|word| mapping.inquiry_status(word));
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
    mapping: &Mapping,
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
    mapping: &Mapping,
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
    mapping: &Mapping,
    warnings: &mut Vec<String>,
) -> Result<CompletedJob, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let job_id = read.id("job_id", "job id")?;
    let result_urls = read
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
    mapping: &Mapping,
    warnings: &mut Vec<String>,
) -> Result<TrackingValueRequest, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let action_id = read.id("action_id", "action id")?;
    let items = read.items("items");
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
    use crate::domain::event::{InquiryStatus, SourceKind};
    use crate::intake::mapping::test_fields as fields;
    use serde_json::json;

    fn defaults(kind: SourceKind) -> Mapping {
        Mapping::defaults(kind)
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
        let mapping = Mapping::configured(
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
            Mapping::configured(
                SourceKind::ActionInquiry,
                &BTreeMap::new(),
                &[("WON".into(), "paid".into())].into()
            )
            .is_err()
        );
        assert!(
            Mapping::configured(
                SourceKind::CompletedJob,
                &BTreeMap::new(),
                &[("X".into(), "approved".into())].into()
            )
            .is_err()
        );
        assert!(
            Mapping::configured(
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
