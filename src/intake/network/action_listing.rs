//! impact.com's Action Listing report as CSV (downloaded from the UI, or fetched through
//! `/Reports/mp_action_listing_fast`): its column names follow the report's attributes and may
//! differ by account, so each field is found by the names the report usually gives it, unless
//! `[networks.impact.columns]` names the column.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::intake::decode::Fields;
use crate::intake::mapping::fields::ACTION_FIELDS;

/// The fields a report must have: without them nothing can be compared.
pub const REQUIRED: &[&str] = &["action_id", "status", "payout"];

/// The names a report usually gives each field, compared without case, spaces, `_` or `-`.
const USUAL_NAMES: &[(&str, &[&str])] = &[
    ("action_id", &["action_id", "Action Id", "ActionId", "Id"]),
    (
        "status",
        &["status", "state", "action_status", "action_state"],
    ),
    (
        "payout",
        &[
            "payout",
            "action_earnings",
            "earnings",
            "commission",
            "payout_amount",
        ],
    ),
    ("delta_payout", &["delta_payout"]),
    (
        "amount",
        &["sale_amount", "amount", "action_amount", "revenue"],
    ),
    ("delta_amount", &["delta_amount"]),
    (
        "payout_currency",
        &["currency", "currency_code", "action_currency"],
    ),
    (
        "amount_currency",
        &["currency", "currency_code", "action_currency"],
    ),
    ("campaign_id", &["campaign_id", "program_id", "brand_id"]),
    (
        "campaign_name",
        &[
            "campaign",
            "campaign_name",
            "program",
            "program_name",
            "brand",
            "brand_name",
        ],
    ),
    ("action_tracker_id", &["action_tracker_id", "event_type_id"]),
    (
        "action_tracker_name",
        &[
            "action_tracker",
            "action_tracker_name",
            "event_type",
            "event_type_name",
        ],
    ),
    ("media_partner_id", &["media_partner_id", "partner_id"]),
    ("order_id", &["oid", "order_id"]),
    ("shared_id", &["shared_id"]),
    ("sub_id1", &["sub_id1", "subid1"]),
    ("sub_id2", &["sub_id2", "subid2"]),
    ("sub_id3", &["sub_id3", "subid3"]),
    ("click_id", &["click_id", "ref_click_id"]),
    ("promo_code", &["promo_code"]),
    ("event_date", &["event_date", "action_date"]),
    ("creation_date", &["creation_date", "created_date"]),
    ("locking_date", &["locking_date", "lock_date"]),
    ("cleared_date", &["cleared_date", "clearing_date"]),
];

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A report whose columns do not give what is needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    #[error(
        "the report has no column `{column}` for {field} (set in [networks.impact.columns]); its columns are: {found}"
    )]
    ConfiguredMissing {
        field: String,
        column: String,
        found: String,
    },
    #[error(
        "the report has no column for {field} (looked for {looked_for}); name it in [networks.impact.columns], for example {field} = \"…\"; its columns are: {found}"
    )]
    RequiredMissing {
        field: &'static str,
        looked_for: String,
        found: String,
    },
    #[error("the report has no header row")]
    NoHeader,
}

/// Which column gives each field: the configured name (which must be there), else the first
/// usual name found. A required field no column gives is an error naming the columns found.
pub fn resolve_columns(
    headers: &[String],
    configured: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ColumnError> {
    if headers.iter().all(|header| header.trim().is_empty()) {
        return Err(ColumnError::NoHeader);
    }
    let found = || headers.join(", ");
    let find = |name: &str| {
        let wanted = normalized(name);
        headers
            .iter()
            .find(|header| normalized(header) == wanted)
            .cloned()
    };
    let mut columns = BTreeMap::new();
    for (field, _) in ACTION_FIELDS.iter().filter(|(name, _)| *name != "items") {
        if let Some(column) = configured.get(*field) {
            let header = headers
                .iter()
                .find(|header| header.trim().eq_ignore_ascii_case(column.trim()))
                .ok_or_else(|| ColumnError::ConfiguredMissing {
                    field: field.to_string(),
                    column: column.clone(),
                    found: found(),
                })?;
            columns.insert(field.to_string(), header.clone());
            continue;
        }
        let usual = USUAL_NAMES
            .iter()
            .find(|(name, _)| name == field)
            .map_or(&[][..], |(_, names)| *names);
        match usual.iter().find_map(|name| find(name)) {
            Some(header) => {
                columns.insert(field.to_string(), header);
            }
            None if REQUIRED.contains(field) => {
                return Err(ColumnError::RequiredMissing {
                    field: REQUIRED[REQUIRED.iter().position(|name| name == field).unwrap_or(0)],
                    looked_for: usual.join(", "),
                    found: found(),
                });
            }
            // Not in the report: read from a key no column has, so never found.
            None => {
                columns.insert(field.to_string(), format!("(no column for {field})"));
            }
        }
    }
    Ok(columns)
}

/// One row as the fields of a record: column name = its text (an empty cell is absent).
pub fn row_fields(headers: &[String], row: &csv::StringRecord) -> Fields {
    let mut fields = Fields::new();
    for (header, cell) in headers.iter().zip(row.iter()) {
        let value = if cell.trim().is_empty() {
            Value::Null
        } else {
            Value::String(cell.to_owned())
        };
        fields.insert(header.clone(), value);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::network::RecordReader;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn the_usual_column_names_are_found_in_any_spelling() {
        let found = headers(&[
            "Action Id",
            "Status",
            "Action Earnings",
            "Sale Amount",
            "Currency",
            "Event Date",
            "Cleared Date",
        ]);
        let columns = resolve_columns(&found, &BTreeMap::new()).unwrap();
        assert_eq!(columns["action_id"], "Action Id");
        assert_eq!(columns["payout"], "Action Earnings");
        assert_eq!(columns["amount"], "Sale Amount");
        assert_eq!(columns["cleared_date"], "Cleared Date");
        let reader = RecordReader::new(columns, Vec::new()).unwrap();
        let row = csv::StringRecord::from(vec![
            "1000.2.3",
            "Approved",
            "$1,204.50",
            "12,045.00",
            "USD",
            "2026-04-08 09:00:00",
            "",
        ]);
        let record = reader.read(row_fields(&found, &row)).unwrap();
        assert_eq!(record.event.action_id, "1000.2.3");
        assert_eq!(record.event.payout, Some("1204.50".parse().unwrap()));
        assert_eq!(record.event.amount, Some("12045".parse().unwrap()));
        assert_eq!(record.cleared_at, None);
        assert!(
            record.raw.contains("$1,204.50"),
            "kept as sent: {}",
            record.raw
        );
    }

    #[test]
    fn a_missing_required_column_is_an_error_naming_the_columns_found() {
        let found = headers(&["Action Id", "Status", "Amount"]);
        let error = resolve_columns(&found, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("payout"), "{error}");
        assert!(error.contains("Action Id, Status, Amount"), "{error}");
        let configured = [("payout".to_owned(), "Earnings".to_owned())].into();
        let error = resolve_columns(&found, &configured)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`Earnings`") && error.contains("Action Id, Status, Amount"),
            "{error}"
        );
        let configured = [("payout".to_owned(), "amount".to_owned())].into();
        let columns = resolve_columns(&found, &configured).unwrap();
        assert_eq!(columns["payout"], "Amount");
    }
}
