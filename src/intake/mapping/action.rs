//! An action lifecycle postback read into an `ActionEvent`.

use std::collections::BTreeMap;

use super::Reader;
use crate::domain::details::ActionDetails;
use crate::domain::event::{ActionEvent, Quarantine};
use crate::intake::decode::Fields;
use crate::intake::mapping::Mapping;

/// Maps an action lifecycle postback. Quarantines only what cannot be applied safely.
pub fn map_action(
    fields: &Fields,
    mapping: &Mapping,
    warnings: &mut Vec<String>,
) -> Result<ActionEvent, Quarantine> {
    let mut read = Reader::new(fields, mapping, warnings);
    let action_id = read
        .text("action_id")
        .ok_or_else(|| Quarantine::NoActionId(mapping.original_key("action_id")))?;
    let status_raw = read.text("status");
    let status = status_raw
        .as_deref()
        .and_then(|word| mapping.action_status(word));
    if status.is_none()
        && let Some(word) = &status_raw
    {
        read.warnings.push(format!(
            "unknown status `{word}`: applied as pending and flagged"
        ));
    }
    let event = ActionEvent {
        action_id,
        status,
        status_raw,
        payout: read.money("payout")?,
        delta_payout: read.money("delta_payout")?,
        amount: read.money("amount")?,
        delta_amount: read.money("delta_amount")?,
        details: ActionDetails::read(&mut read, Reader::text, Reader::date),
        items: read.items("items"),
        extra: BTreeMap::new(),
    };
    Ok(ActionEvent {
        extra: read.extra(),
        ..event
    })
}

#[cfg(test)]
mod tests {
    use crate::intake::mapping::test_fields as fields;
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::event::{ActionStatus, SourceKind};
    use serde_json::{Value, json};

    fn map(value: Value) -> (Result<ActionEvent, Quarantine>, Vec<String>) {
        let mut warnings = Vec::new();
        let result = map_action(
            &fields(value),
            &Mapping::defaults(SourceKind::ActionLifecycle),
            &mut warnings,
        );
        (result, warnings)
    }

    #[test]
    fn impact_names_map_case_insensitively_and_ids_stay_strings() {
        let (event, _) = map(json!({"actionid": "1000.4636.158133", "PAYOUT": "10.50",
            "Status": "approved", "CampaignId": 9876, "Oid": "ORD-1"}));
        let event = event.unwrap();
        assert_eq!(event.action_id, "1000.4636.158133");
        assert_eq!(event.payout, Some("10.5".parse().unwrap()));
        assert_eq!(event.status, Some(ActionStatus::Approved));
        assert_eq!(event.details.campaign_id.as_deref(), Some("9876"));
        assert_eq!(event.details.order_id.as_deref(), Some("ORD-1"));
    }

    #[test]
    fn empty_null_and_unreplaced_placeholders_mean_absent() {
        let (event, _) = map(
            json!({"ActionId": "A1", "Payout": "{Payout}", "DeltaPayout": "",
            "Amount": null, "Oid": " "}),
        );
        let event = event.unwrap();
        assert_eq!(event.payout, None);
        assert_eq!(event.delta_payout, None);
        assert_eq!(event.amount, None);
        assert_eq!(event.details.order_id, None);
    }

    #[test]
    fn a_missing_action_id_or_bad_money_is_quarantined() {
        assert_eq!(
            map(json!({"Payout": "1"})).0,
            Err(Quarantine::NoActionId("ActionId".into()))
        );
        assert_eq!(
            map(json!({"ActionId": "{ActionId}"})).0,
            Err(Quarantine::NoActionId("ActionId".into()))
        );
        assert!(matches!(map(json!({"ActionId": "A", "Payout": "ten"})).0,
            Err(Quarantine::UnparseableMoney { field, .. }) if field == "Payout"));
    }

    #[test]
    fn an_unknown_status_is_kept_raw_and_warned() {
        let (event, warnings) = map(json!({"ActionId": "A", "Status": "ON_HOLD"}));
        let event = event.unwrap();
        assert!(event.has_unknown_status());
        assert_eq!(event.status_raw.as_deref(), Some("ON_HOLD"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn partner_keys_and_status_words_come_from_the_configuration() {
        let mapping = Mapping::configured(
            SourceKind::ActionLifecycle,
            &[
                ("action_id".into(), "id".into()),
                ("payout".into(), "amt".into()),
            ]
            .into(),
            &[("ON_HOLD".into(), "pending".into())].into(),
        )
        .unwrap();
        let mut warnings = Vec::new();
        let event = map_action(
            &fields(json!({"ID": "x", "amt": 3, "Status": "on_hold", "ActionId": "ignored"})),
            &mapping,
            &mut warnings,
        )
        .unwrap();
        assert_eq!(event.action_id, "x");
        assert_eq!(event.payout, Some("3".parse().unwrap()));
        assert_eq!(event.status, Some(ActionStatus::Pending));
        assert_eq!(
            event.extra.get("ActionId").map(String::as_str),
            Some("ignored")
        );
        assert!(
            Mapping::configured(
                SourceKind::ActionLifecycle,
                &[("payot".into(), "x".into())].into(),
                &BTreeMap::new()
            )
            .is_err()
        );
        assert!(
            Mapping::configured(
                SourceKind::ActionLifecycle,
                &BTreeMap::new(),
                &[("X".into(), "paid".into())].into()
            )
            .is_err()
        );
    }

    #[test]
    fn items_are_read_from_an_array_or_from_its_json_text() {
        // Parsed from text so the numbers keep their exact digits, as a real body's do.
        let item: Value = serde_json::from_str(
            r#"{"sku": "S1", "item_price": 10.00, "category": "Shoes", "quantity": 2,
                "cartamt": 20.00, "rbt": "0", "name": "Runner"}"#,
        )
        .unwrap();
        let (event, _) = map(json!({"ActionId": "A", "items": [item.clone()]}));
        let from_array = event.unwrap().items;
        let (event, _) =
            map(json!({"ActionId": "A", "items": Value::Array(vec![item]).to_string()}));
        assert_eq!(event.unwrap().items, from_array);
        assert_eq!(from_array[0].price.as_deref(), Some("10.00"));
        assert_eq!(from_array[0].quantity.as_deref(), Some("2"));
    }

    #[test]
    fn unmapped_keys_are_kept_as_extra() {
        let (event, _) = map(json!({"ActionId": "A", "MyParam": "social_post_01", "Note": null}));
        let extra = event.unwrap().extra;
        assert_eq!(
            extra.get("MyParam").map(String::as_str),
            Some("social_post_01")
        );
        assert!(extra.contains_key("Note"));
    }

    #[test]
    fn of_keys_differing_only_in_case_the_last_is_read_and_the_rest_are_not_kept() {
        let (event, _) = map(json!({
            "ActionId": "A", "payout": "1.00", "Payout": "2.00", "Tag": "a", "TAG": "b"
        }));
        let event = event.unwrap();
        assert_eq!(event.payout, Some("2.00".parse().unwrap()));
        let extra: Vec<(&str, &str)> = event
            .extra
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        assert_eq!(extra, [("TAG", "b")]);
    }
}
