//! What `send-test` sends: the partner's templates (as written in impact.com, placeholders in
//! braces) and the values impact.com fills in, shaped like the seed payloads
//! (`brand-event-notification-payloads.md`). Every template and value lives here.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::event::MarkerField;

/// A GET URL query template, as a partner pastes it after `?`.
const ACTION_GET: &str = "CampaignId={CampaignId}&CampaignName={CampaignName}\
&ActionTrackerId={ActionTrackerId}&ActionTrackerName={ActionTrackerName}\
&MediaPartnerId={MediaPartnerId}&ActionId={ActionId}&Status={Status}&Payout={Payout}\
&DeltaPayout={DeltaPayout}&Amount={Amount}&DeltaAmount={DeltaAmount}&Currency={Currency}\
&Oid={Oid}&EventDate={EventDate}&CreationDate={CreationDate}&LockingDate={LockingDate}\
&RefClickId={RefClickId}&SharedId={SharedId}&SubId1={SubId1}&SubId2={SubId2}&SubId3={SubId3}\
&PromoCode={PromoCode}";

/// A POST JSON body template: numbers unquoted, as impact.com's own example writes them.
const ACTION_POST: &str = r#"{
  "CampaignId": {CampaignId},
  "CampaignName": "{CampaignName}",
  "ActionTrackerId": {ActionTrackerId},
  "ActionTrackerName": "{ActionTrackerName}",
  "MediaPartnerId": {MediaPartnerId},
  "ActionId": "{ActionId}",
  "Status": "{Status}",
  "Payout": {Payout},
  "DeltaPayout": {DeltaPayout},
  "Amount": {Amount},
  "DeltaAmount": {DeltaAmount},
  "Currency": "{Currency}",
  "Oid": "{Oid}",
  "EventDate": "{EventDate}",
  "CreationDate": "{CreationDate}",
  "LockingDate": "{LockingDate}",
  "RefClickId": "{RefClickId}",
  "SharedId": "{SharedId}",
  "SubId1": "{SubId1}",
  "SubId2": "{SubId2}",
  "SubId3": "{SubId3}",
  "PromoCode": "{PromoCode}"
}"#;

const INQUIRY_GET: &str = "Id={Id}&MediaPartnerId={MediaPartnerId}&CampaignId={CampaignId}\
&CampaignName={CampaignName}&OrderId={OrderId}&TransactionDate={TransactionDate}\
&TransactionAmount={TransactionAmount}&InquiryType={InquiryType}&ExpectedPayout={ExpectedPayout}\
&ActionId={ActionId}&ResolutionStatus={ResolutionStatus}&RejectReason={RejectReason}\
&FinalPayout={FinalPayout}&ResolutionDate={ResolutionDate}&CreationDate={CreationDate}\
&InquiryNotes={InquiryNotes}";

const INQUIRY_POST: &str = r#"{
  "Id": "{Id}",
  "MediaPartnerId": {MediaPartnerId},
  "CampaignId": {CampaignId},
  "CampaignName": "{CampaignName}",
  "OrderId": "{OrderId}",
  "TransactionDate": "{TransactionDate}",
  "TransactionAmount": {TransactionAmount},
  "InquiryType": "{InquiryType}",
  "ExpectedPayout": {ExpectedPayout},
  "ActionId": "{ActionId}",
  "ResolutionStatus": "{ResolutionStatus}",
  "RejectReason": "{RejectReason}",
  "FinalPayout": {FinalPayout},
  "ResolutionDate": "{ResolutionDate}",
  "CreationDate": "{CreationDate}",
  "InquiryNotes": "{InquiryNotes}"
}"#;

const CLEARING_GET: &str = "ActionTrackerId={ActionTrackerId}&CampaignId={CampaignId}\
&CampaignName={CampaignName}&MediaPartnerId={MediaPartnerId}&OrderIds={OrderIds}\
&ActionIds={ActionIds}&ClearedDate={ClearedDate}&LedgerDate={LedgerDate}";

const CLEARING_POST: &str = r#"{
  "ActionTrackerId": {ActionTrackerId},
  "CampaignId": {CampaignId},
  "CampaignName": "{CampaignName}",
  "MediaPartnerId": {MediaPartnerId},
  "OrderIds": "{OrderIds}",
  "ActionIds": "{ActionIds}",
  "ClearedDate": "{ClearedDate}",
  "LedgerDate": "{LedgerDate}"
}"#;

/// Which kind of event a step is, choosing its templates and its default source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Action,
    Inquiry,
    Clearing,
}

impl Kind {
    fn templates(self) -> (&'static str, &'static str) {
        match self {
            Kind::Action => (ACTION_GET, ACTION_POST),
            Kind::Inquiry => (INQUIRY_GET, INQUIRY_POST),
            Kind::Clearing => (CLEARING_GET, CLEARING_POST),
        }
    }

    /// The source our receiver serves this kind at by default.
    pub fn default_source(self) -> &'static str {
        match self {
            Kind::Action => "actions",
            Kind::Inquiry => "inquiries",
            Kind::Clearing => "clearing",
        }
    }
}

/// One event to send: what it is, and impact.com's values for its placeholders.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: Kind,
    pub label: String,
    pub values: BTreeMap<&'static str, String>,
}

impl Step {
    /// The GET query string: the template with each placeholder replaced by its URL-encoded value.
    pub fn query(&self) -> String {
        fill_values(self.kind.templates().0, &self.values, true)
    }

    /// The POST body: the JSON template with each placeholder replaced by its JSON-escaped value.
    pub fn json_body(&self) -> String {
        fill_values(self.kind.templates().1, &self.values, false)
    }
}

/// Replaces `{Name}` with the value (encoded for where it goes); a placeholder without a value
/// becomes empty, as impact.com sends it.
fn fill_values(template: &str, values: &BTreeMap<&'static str, String>, url: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|close| open + close) else {
            break;
        };
        let name = &rest[open + 1..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            // JSON's own braces: copy through.
            out.push_str(&rest[..=open]);
            rest = &rest[open + 1..];
            continue;
        }
        out.push_str(&rest[..open]);
        let value = values.get(name).map(String::as_str).unwrap_or("");
        if url {
            out.push_str(&url_encode(value));
        } else {
            let quoted = serde_json::to_string(value).unwrap_or_default();
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn url_encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .map(|pair| pair[2..].to_owned())
        .unwrap_or_default()
}

/// Impact.com's key for a canonical marker field (the field map's defaults).
pub fn marker_key(field: MarkerField) -> &'static str {
    match field {
        MarkerField::SubId1 => "SubId1",
        MarkerField::SubId2 => "SubId2",
        MarkerField::SubId3 => "SubId3",
        MarkerField::OrderId => "Oid",
        MarkerField::ClickId => "RefClickId",
        MarkerField::PromoCode => "PromoCode",
        MarkerField::SharedId => "SharedId",
    }
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Values every action event of one test conversion shares (the seed's example action).
fn action_values(
    action_id: &str,
    marker: (&'static str, &str),
    now: DateTime<Utc>,
) -> BTreeMap<&'static str, String> {
    let mut values: BTreeMap<&'static str, String> = [
        ("CampaignId", "9876"),
        ("CampaignName", "Spring Global Promotion"),
        ("ActionTrackerId", "12345"),
        ("ActionTrackerName", "Standard Sale Tracker"),
        ("MediaPartnerId", "555"),
        ("Currency", "USD"),
        ("RefClickId", "CLK9988776655"),
        ("SharedId", "social_post_01"),
        ("SubId1", "send-test"),
        ("PromoCode", "SAVE20"),
    ]
    .into_iter()
    .map(|(key, value)| (key, value.to_owned()))
    .collect();
    values.insert("ActionId", action_id.to_owned());
    values.insert("Oid", format!("ORD-{action_id}"));
    values.insert("EventDate", iso(now - chrono::Duration::minutes(5)));
    values.insert("CreationDate", iso(now));
    values.insert("LockingDate", iso(now + chrono::Duration::days(30)));
    values.insert(marker.0, marker.1.to_owned());
    values
}

/// One lifecycle event: (label, Status, Payout, DeltaPayout, Amount, DeltaAmount), the seed
/// example's numbers: tracked at 15.50, modified down by 5.00, reversed.
pub const LIFECYCLE: [(&str, &str, &str, &str, &str, &str); 3] = [
    ("tracked", "PENDING", "15.50", "15.50", "150.00", "150.00"),
    ("modified", "MODIFIED", "10.50", "-5.00", "100.00", "-50.00"),
    ("reversed", "REVERSED", "0.00", "-10.50", "0.00", "-100.00"),
];

/// Tracked, modified, reversed for one fresh action.
pub fn lifecycle(action_id: &str, marker: (&'static str, &str), now: DateTime<Utc>) -> Vec<Step> {
    LIFECYCLE
        .iter()
        .map(|(label, status, payout, delta, amount, delta_amount)| {
            let mut values = action_values(action_id, marker, now);
            values.insert("Status", (*status).to_owned());
            values.insert("Payout", (*payout).to_owned());
            values.insert("DeltaPayout", (*delta).to_owned());
            values.insert("Amount", (*amount).to_owned());
            values.insert("DeltaAmount", (*delta_amount).to_owned());
            Step {
                kind: Kind::Action,
                label: format!("{label} {action_id}"),
                values,
            }
        })
        .collect()
}

/// One tracking event for an action (the first step of the lifecycle).
pub fn tracked(action_id: &str, marker: (&'static str, &str), now: DateTime<Utc>) -> Step {
    lifecycle(action_id, marker, now).remove(0)
}

/// Two inquiries: created then declined, created then approved.
pub fn inquiry(inquiry_base: &str, now: DateTime<Utc>) -> Vec<Step> {
    let mut steps = Vec::new();
    for (n, resolution, final_payout, reason) in [
        (1, "DECLINED", "0.00", "No matching order found"),
        (2, "APPROVED", "25.00", ""),
    ] {
        let id = format!("{inquiry_base}{n}");
        let mut created: BTreeMap<&'static str, String> = [
            ("MediaPartnerId", "555"),
            ("CampaignId", "9876"),
            ("CampaignName", "Spring Global Promotion"),
            ("TransactionAmount", "250.00"),
            ("InquiryType", "MISSING_ACTION"),
            ("ExpectedPayout", "25.00"),
            ("ResolutionStatus", "PENDING"),
            ("FinalPayout", "0.00"),
            (
                "InquiryNotes",
                "Customer claims they clicked the link but no credit was shown.",
            ),
        ]
        .into_iter()
        .map(|(key, value)| (key, value.to_owned()))
        .collect();
        created.insert("Id", id.clone());
        created.insert("OrderId", format!("ORD-INQ-{id}"));
        created.insert("TransactionDate", iso(now - chrono::Duration::days(7)));
        created.insert("CreationDate", iso(now - chrono::Duration::minutes(10)));
        let mut resolved = created.clone();
        resolved.insert("ResolutionStatus", resolution.to_owned());
        resolved.insert("FinalPayout", final_payout.to_owned());
        resolved.insert("RejectReason", reason.to_owned());
        resolved.insert("ResolutionDate", iso(now));
        steps.push(Step {
            kind: Kind::Inquiry,
            label: format!("inquiry {id} created"),
            values: created,
        });
        steps.push(Step {
            kind: Kind::Inquiry,
            label: format!("inquiry {id} {}", resolution.to_lowercase()),
            values: resolved,
        });
    }
    steps
}

/// One clearing event for the given actions.
pub fn clearing(action_ids: &[String], now: DateTime<Utc>) -> Step {
    let mut values: BTreeMap<&'static str, String> = [
        ("ActionTrackerId", "12345"),
        ("CampaignId", "9876"),
        ("CampaignName", "Spring Global Promotion"),
        ("MediaPartnerId", "555"),
    ]
    .into_iter()
    .map(|(key, value)| (key, value.to_owned()))
    .collect();
    values.insert("ActionIds", action_ids.join(","));
    values.insert(
        "OrderIds",
        action_ids
            .iter()
            .map(|id| format!("ORD-{id}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    values.insert("ClearedDate", iso(now));
    values.insert("LedgerDate", iso(now));
    Step {
        kind: Kind::Clearing,
        label: format!("clearing {}", action_ids.join(",")),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_to_a_query_and_valid_json() {
        let now = Utc::now();
        let step = tracked("TEST-1", ("SharedId", "postback-ledger-test"), now);
        let query = step.query();
        assert!(
            query.contains("ActionId=TEST-1&Status=PENDING&Payout=15.50"),
            "{query}"
        );
        assert!(
            query.contains("CampaignName=Spring+Global+Promotion"),
            "{query}"
        );
        assert!(query.contains("SharedId=postback-ledger-test"), "{query}");
        assert!(!query.contains('{'), "{query}");
        let body: serde_json::Value = serde_json::from_str(&step.json_body()).unwrap();
        assert_eq!(body["ActionId"], "TEST-1");
        assert_eq!(body["SharedId"], "postback-ledger-test");
        for step in inquiry("9", now)
            .into_iter()
            .chain([clearing(&["A".into(), "B".into()], now)])
        {
            serde_json::from_str::<serde_json::Value>(&step.json_body()).unwrap();
            assert!(!step.query().contains('{'));
        }
    }
}
