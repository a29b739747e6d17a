//! What to paste into impact.com for one source: the GET URL template, the POST body template,
//! the header and the response texts. They are written from the field table the source's
//! mapping reads (with its configured keys), so a template and the mapping cannot disagree.

use crate::domain::event::SourceKind;
use crate::intake::auth::AuthConfig;
use crate::intake::delivery::Source;
use crate::intake::mapping::Mapping;
use crate::intake::mapping::fields::{RESULT_URL_KEYS, fields_of, numbers_of};

/// impact.com's `items` collection as its help pages write it in a JSON body template: the
/// `join` expands to one JSON object per item.
pub const ITEMS_TEMPLATE: &str = r#"[{join(items, i, "\{\"sku\":\"{i.sku}\",\"item_price\":{i.amt},\"category\":\"{i.cat}\",\"quantity\":{i.qty},\"cartamt\":{i.cartamt},\"rbt\":\"{i.rbt}\",\"name\":\"{i.name}\"\}")}]"#;

/// Where a secret is that the configuration keeps only as its SHA-256 (it cannot be shown).
pub const HIDDEN_SECRET: &str = "<your secret>";

/// One key of a template and the impact.com value it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The partner's key, as configured (impact.com's own name by default).
    pub key: String,
    /// impact.com's name of the value: the template carries `{name}`.
    pub name: &'static str,
    /// impact.com sends it as a JSON number: unquoted in a body template.
    pub number: bool,
    /// The `items` collection (a JSON body only: a URL cannot carry its `join`).
    pub items: bool,
}

/// Every useful placeholder of the source's kind, each key once, in the table's order.
pub fn placeholders(mapping: &Mapping) -> Vec<Placeholder> {
    let kind = mapping.kind();
    let numbers = numbers_of(kind);
    let mut found: Vec<Placeholder> = Vec::new();
    let push = |found: &mut Vec<Placeholder>, placeholder: Placeholder| {
        if !placeholder.key.is_empty()
            && !found
                .iter()
                .any(|known| known.key.eq_ignore_ascii_case(&placeholder.key))
        {
            found.push(placeholder);
        }
    };
    for (canonical, impact_key) in fields_of(kind) {
        let placeholder = Placeholder {
            key: mapping.written_key(canonical).to_owned(),
            name: impact_key,
            number: numbers.contains(canonical),
            items: *canonical == "items",
        };
        push(&mut found, placeholder);
    }
    if kind == SourceKind::CompletedJob {
        for key in RESULT_URL_KEYS {
            let placeholder = Placeholder {
                key: (*key).to_owned(),
                name: key,
                number: false,
                items: false,
            };
            push(&mut found, placeholder);
        }
    }
    found
}

fn url_encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The query of a GET template: `ActionId={ActionId}&Payout={Payout}&…` (braces as impact.com
/// wants them written).
pub fn get_query(mapping: &Mapping) -> String {
    placeholders(mapping)
        .iter()
        .filter(|placeholder| !placeholder.items)
        .map(|placeholder| format!("{}={{{}}}", url_encoded(&placeholder.key), placeholder.name))
        .collect::<Vec<_>>()
        .join("&")
}

/// A JSON body template: texts quoted, numbers bare as impact.com sends them, `items` as its
/// `join`. Once impact.com fills in the values it is a JSON object (an empty number, `"Payout": ,`,
/// is repaired on receipt).
pub fn post_body(mapping: &Mapping) -> String {
    let lines: Vec<String> = placeholders(mapping)
        .iter()
        .map(|placeholder| {
            let key = serde_json::to_string(&placeholder.key).expect("a string serializes");
            let value = if placeholder.items {
                ITEMS_TEMPLATE.to_owned()
            } else if placeholder.number {
                format!("{{{}}}", placeholder.name)
            } else {
                format!("\"{{{}}}\"", placeholder.name)
            };
            format!("  {key}: {value}")
        })
        .collect();
    format!("{{\n{}\n}}", lines.join(",\n"))
}

/// impact.com's name of the event notification a kind answers (Settings → Technical → Event
/// Notifications).
pub fn event_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::ActionLifecycle => "Action Life Cycle Events",
        SourceKind::ActionInquiry => "Action Inquiry Events",
        SourceKind::ActionClearing => "Action Clearing Events",
        SourceKind::ProductDataChange => "Product Data Change Events",
        SourceKind::CompletedJob => "Completed Job Events",
        SourceKind::TrackingValueRequest => "Tracking Value Request Events",
        // Filled in by a reconciliation run, never sent: no notification to set up.
        SourceKind::NetworkRecord => "the network's own records",
    }
}

/// The credential schemes a source checks, in words (for `serve`'s list and the setup page).
pub fn schemes(auth: &AuthConfig) -> Vec<String> {
    let mut schemes = Vec::new();
    if let Some(param) = &auth.query_param {
        schemes.push(format!("query secret `{param}`"));
    }
    if let Some(header) = &auth.header {
        schemes.push(format!("header `{header}`"));
    }
    if let Some(header) = &auth.hmac_header {
        schemes.push(format!("HMAC signature `{header}`"));
    }
    if !auth.standard_webhooks_secrets.is_empty() {
        schemes.push("Standard Webhooks signature".to_owned());
    }
    if !auth.ip_allowlist.is_empty() {
        schemes.push(format!(
            "IP allowlist ({} entr{})",
            auth.ip_allowlist.len(),
            if auth.ip_allowlist.len() == 1 {
                "y"
            } else {
                "ies"
            }
        ));
    }
    if schemes.is_empty() {
        schemes.push("none (allow_unauthenticated)".to_owned());
    }
    schemes
}

/// The first value that can be shown (a `sha256:` value is only a digest of the secret).
fn shown_value(values: &[String]) -> Option<&str> {
    values
        .iter()
        .map(String::as_str)
        .find(|value| !value.starts_with("sha256:"))
}

/// Everything to type into impact.com for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub source: String,
    pub kind: SourceKind,
    /// impact.com's name of the event notification to edit.
    pub event: &'static str,
    /// The credential schemes, in words.
    pub schemes: Vec<String>,
    /// The URL to paste with HTTP method GET: the secret and every placeholder.
    pub get_url: String,
    /// The URL to paste with HTTP method POST (Body Format JSON).
    pub post_url: String,
    pub post_body: String,
    /// The HTTP Header line, when the source checks a header.
    pub header: Option<String>,
    /// What the partner must know: a secret that cannot be shown, a check impact.com cannot pass.
    pub notes: Vec<String>,
    pub success: String,
    pub error: String,
}

/// What to paste for `source`, served under `base` (the public URL, no trailing slash).
pub fn for_source(source: &Source, base: &str, success: &str, error: &str) -> Setup {
    let auth = &source.auth;
    let mut notes = Vec::new();
    let url = format!("{base}/postbacks/{}", source.name);
    let secret = auth.query_param.as_ref().map(|param| {
        let value = match shown_value(&auth.query_values) {
            Some(value) => url_encoded(value),
            None => {
                notes.push(format!(
                    "The configuration keeps `{param}` only as its SHA-256: put the secret itself in place of {HIDDEN_SECRET}."
                ));
                HIDDEN_SECRET.to_owned()
            }
        };
        format!("{}={value}", url_encoded(param))
    });
    let query = get_query(&source.mapping);
    let get_url = match &secret {
        Some(secret) => format!("{url}?{secret}&{query}"),
        None => format!("{url}?{query}"),
    };
    let post_url = match &secret {
        Some(secret) => format!("{url}?{secret}"),
        None => url,
    };
    let header = auth.header.as_ref().map(|name| {
        let value = shown_value(&auth.header_values).unwrap_or_else(|| {
            notes.push(format!(
                "The configuration keeps `{name}` only as its SHA-256: put the header's value itself in place of {HIDDEN_SECRET}."
            ));
            HIDDEN_SECRET
        });
        format!("{name}: {value}")
    });
    if header.is_some() && source.kind == SourceKind::ActionLifecycle {
        notes.push(
            "impact.com adds a header to action lifecycle postbacks only on request: ask your account manager or support to add the HTTP Header line."
                .to_owned(),
        );
    }
    if auth.hmac_header.is_some() || !auth.standard_webhooks_secrets.is_empty() {
        notes.push(
            "This source checks a signature, and impact.com does not sign postbacks: it suits a relay that signs, not impact.com itself."
                .to_owned(),
        );
    }
    if !auth.ip_allowlist.is_empty() {
        notes.push(
            "Only the allowlisted addresses are accepted: impact.com's servers must be among them."
                .to_owned(),
        );
    }
    Setup {
        source: source.name.clone(),
        kind: source.kind,
        event: event_name(source.kind),
        schemes: schemes(auth),
        get_url,
        post_url,
        post_body: post_body(&source.mapping),
        header,
        notes,
        success: success.to_owned(),
        error: error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::intake::decode::{Limits, decode};

    fn source(kind: SourceKind, fields: &[(&str, &str)], auth: AuthConfig) -> Source {
        let fields: BTreeMap<String, String> = fields
            .iter()
            .map(|(canonical, key)| (canonical.to_string(), key.to_string()))
            .collect();
        Source {
            name: "s".into(),
            kind,
            mapping: Mapping::configured(kind, &fields, &BTreeMap::new()).unwrap(),
            auth,
            redactor: Default::default(),
        }
    }

    fn query_secret(value: &str) -> AuthConfig {
        AuthConfig {
            query_param: Some("secure".into()),
            query_values: vec![value.into()],
            ..AuthConfig::default()
        }
    }

    /// Every `{Name}` replaced by `1` (numbers and texts alike), `items` by one item.
    fn filled(template: &str) -> String {
        let template = template.replace(ITEMS_TEMPLATE, r#"[{"sku":"S"}]"#);
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            match rest[open..].find('}') {
                Some(close)
                    if rest[open + 1..open + close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric()) =>
                {
                    out.push_str(&rest[..open]);
                    out.push('1');
                    rest = &rest[open + close + 1..];
                }
                _ => {
                    out.push_str(&rest[..=open]);
                    rest = &rest[open + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn the_get_template_carries_the_secret_and_every_placeholder_but_items() {
        let setup = for_source(
            &source(SourceKind::ActionLifecycle, &[], query_secret("ed7e46f")),
            "https://pb.example.com",
            "OK",
            "ERROR",
        );
        assert!(
            setup
                .get_url
                .starts_with("https://pb.example.com/postbacks/s?secure=ed7e46f&ActionId={ActionId}&Status={Status}&Payout={Payout}"),
            "{}",
            setup.get_url
        );
        assert!(setup.get_url.contains("&Oid={Oid}&SharedId={SharedId}"));
        assert_eq!(
            setup.get_url.matches("Currency=").count(),
            1,
            "one key once"
        );
        assert!(!setup.get_url.contains("items"));
        assert_eq!(
            setup.post_url,
            "https://pb.example.com/postbacks/s?secure=ed7e46f"
        );
        assert_eq!(setup.header, None);
        assert_eq!(setup.schemes, ["query secret `secure`"]);
    }

    #[test]
    fn every_body_template_is_a_json_object_once_filled_with_numbers_bare() {
        for kind in SourceKind::ALL {
            let body = post_body(&Mapping::defaults(*kind));
            let fields = decode(
                "",
                Some("application/json"),
                filled(&body).as_bytes(),
                &Limits::default(),
            )
            .unwrap_or_else(|error| panic!("{kind}: {error}\n{body}"))
            .fields;
            for placeholder in placeholders(&Mapping::defaults(*kind)) {
                assert!(
                    fields.contains_key(&placeholder.key),
                    "{kind}: {}",
                    placeholder.key
                );
            }
        }
        let body = post_body(&Mapping::defaults(SourceKind::ActionLifecycle));
        assert!(body.contains("\"Payout\": {Payout},"), "{body}");
        assert!(body.contains("\"ActionId\": \"{ActionId}\","), "{body}");
        assert!(
            body.contains(&format!("\"items\": {ITEMS_TEMPLATE}")),
            "{body}"
        );
        let jobs = post_body(&Mapping::defaults(SourceKind::CompletedJob));
        assert!(jobs.contains("\"ResultDownloadUrlExp15\": \"{ResultDownloadUrlExp15}\""));
    }

    #[test]
    fn a_source_with_its_own_keys_gets_them_in_its_templates() {
        let setup = for_source(
            &source(
                SourceKind::ActionLifecycle,
                &[("order_id", "OrderId"), ("payout", "Commission")],
                query_secret("x"),
            ),
            "http://h",
            "OK",
            "ERROR",
        );
        assert!(
            setup.get_url.contains("&OrderId={Oid}&"),
            "{}",
            setup.get_url
        );
        assert!(
            setup.get_url.contains("&Commission={Payout}&"),
            "{}",
            setup.get_url
        );
        assert!(!setup.get_url.contains("Oid={Oid}"));
        assert!(setup.post_body.contains("\"Commission\": {Payout}"));
    }

    #[test]
    fn header_auth_gives_a_header_line_and_no_query_secret() {
        let auth = AuthConfig {
            header: Some("Authorization".into()),
            header_values: vec!["Bearer s3cret".into()],
            ..AuthConfig::default()
        };
        let setup = for_source(
            &source(SourceKind::ActionInquiry, &[], auth),
            "http://h",
            "OK",
            "ERR",
        );
        assert_eq!(
            setup.header.as_deref(),
            Some("Authorization: Bearer s3cret")
        );
        assert!(
            setup.get_url.starts_with("http://h/postbacks/s?Id={Id}&"),
            "{}",
            setup.get_url
        );
        assert!(!setup.get_url.contains("secure"));
        assert_eq!(setup.post_url, "http://h/postbacks/s");
        assert_eq!(setup.error, "ERR");
    }

    #[test]
    fn a_hashed_secret_is_never_shown_and_says_where_it_goes() {
        let hashed = format!("sha256:{}", "a".repeat(64));
        let setup = for_source(
            &source(SourceKind::ActionClearing, &[], query_secret(&hashed)),
            "http://h",
            "OK",
            "ERROR",
        );
        assert!(setup.get_url.contains(&format!("secure={HIDDEN_SECRET}&")));
        assert!(!setup.get_url.contains("aaaa"));
        assert_eq!(setup.notes.len(), 1);
    }
}
