//! A delivery: one authenticated request, understood (or not) and ready to store, and how it ended.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::event::{Postback, Quarantine, SourceKind};
use crate::intake::auth::AuthConfig;
use crate::intake::decode::{self, Fields, Limits, field_text};
use crate::intake::mapping::{self, Mapping};
use crate::intake::redact::Redactor;

/// One source, ready to serve.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// How it reads its keys and status words.
    pub mapping: Mapping,
    pub auth: AuthConfig,
    /// The secrets of every source (not only this one's), masked in what is stored of its
    /// deliveries: the same rule for all, shared.
    pub redactor: Arc<Redactor>,
}

/// Everything the store needs about one request. Credentials are already removed.
#[derive(Debug, Clone)]
pub struct IncomingDelivery {
    pub source: String,
    pub kind: SourceKind,
    pub received_at: DateTime<Utc>,
    pub method: String,
    pub content_type: Option<String>,
    /// The query string with the secret parameter removed and every secret masked.
    pub query: String,
    /// The raw body with every secret masked, otherwise byte for byte (NUL included).
    pub body: Vec<u8>,
    pub client_addr: Option<String>,
    /// SHA-256 over the source and the canonical payload.
    pub dedup_key: String,
    /// The key this payload had before money values were normalised (only when it differs):
    /// a delivery stored then and sent again is still recognised by it.
    pub legacy_key: Option<String>,
    pub understood: Result<Postback, Quarantine>,
    pub warnings: Vec<String>,
    /// The event carries the configured test marker (set by the route, which knows the config).
    pub is_test: bool,
}

impl IncomingDelivery {
    /// An empty postback (see `mapping::is_empty`) whose request carries no value at all:
    /// nothing tells it from the next one, so by its dedup key alone every later empty postback
    /// would be a `duplicate` of the first and the events they stand for would go uncounted.
    pub fn carries_no_value(&self) -> bool {
        if self.understood != Err(Quarantine::EmptyPostback) {
            return false;
        }
        match decode::decode(
            &self.query,
            self.content_type.as_deref(),
            &self.body,
            &Limits::default(),
        ) {
            Ok(decoded) => !decoded.fields.values().any(mapping::has_value),
            Err(_) => false,
        }
    }

    /// Gives the delivery a dedup key of its own: `nonce` must differ for each delivery.
    pub fn make_distinct(&mut self, nonce: &str) {
        let mut hasher = Sha256::new();
        hasher.update(self.dedup_key.as_bytes());
        hasher.update(b"\0distinct\0");
        hasher.update(nonce.as_bytes());
        self.dedup_key = hex::encode(hasher.finalize());
    }
}

/// The request as the route saw it, credentials already stripped.
pub struct RawRequest<'a> {
    pub method: &'a str,
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    pub client_addr: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Decodes and maps a request for a source. Never fails: what is not understood is quarantined.
/// Secrets are masked (see [`crate::intake::redact`]) before anything is read or kept.
pub fn understand(source: &Source, request: RawRequest<'_>) -> IncomingDelivery {
    let query = source.redactor.query(request.query);
    let body = source.redactor.bytes(request.body);
    let Reading {
        understood,
        warnings,
        dedup_key,
        masked,
        legacy_key,
    } = read(source, &query, request.content_type, &body);
    let (query, body) = if masked.is_empty() {
        (query, body.into_owned())
    } else {
        source.redactor.request(&query, &body, &masked)
    };
    IncomingDelivery {
        source: source.name.clone(),
        kind: source.kind,
        received_at: request.received_at,
        method: request.method.to_owned(),
        content_type: request.content_type.map(str::to_owned),
        query,
        body,
        client_addr: request.client_addr,
        dedup_key,
        legacy_key,
        understood,
        warnings,
        is_test: false,
    }
}

/// What a request's query and body say to a source: the same for a new request and for a
/// stored one re-read by `reprocess` through the current configuration.
pub struct Reading {
    pub understood: Result<Postback, Quarantine>,
    pub warnings: Vec<String>,
    /// SHA-256 over the source and the canonical payload (the raw query and body when they
    /// cannot be decoded).
    pub dedup_key: String,
    /// Whole field values that were secrets (masked in the fields), to mask in the raw request.
    pub masked: Vec<String>,
    /// The key before money values were normalised, when it differs (see `IncomingDelivery`).
    pub legacy_key: Option<String>,
}

/// The canonical fields of each kind that hold money: their values are compared as amounts.
const MONEY_FIELDS: &[&str] = &[
    "payout",
    "delta_payout",
    "amount",
    "delta_amount",
    "expected_payout",
    "final_payout",
    "transaction_amount",
    "price",
];

/// The fields with each money value written in one form (`10.0`, `10.00`, `"10.00"` and `10`
/// all become `10.00`), so a retry that formats a number differently is still a duplicate.
/// A value that is not an amount is left as sent (it is quarantined anyway).
fn money_normalised(fields: &Fields, mapping: &Mapping) -> Option<Fields> {
    let keys: Vec<&str> = MONEY_FIELDS
        .iter()
        .map(|field| mapping.key_of(field))
        .filter(|key| !key.is_empty())
        .collect();
    let mut normalised: Option<Fields> = None;
    for (key, value) in fields {
        if !keys.iter().any(|money| money.eq_ignore_ascii_case(key)) {
            continue;
        }
        let Some(text) = field_text(value) else {
            continue;
        };
        let Ok(money) = text.trim().parse::<crate::domain::money::Money>() else {
            continue;
        };
        let canonical = money.to_string();
        if canonical != text {
            normalised
                .get_or_insert_with(|| fields.clone())
                .insert(key.clone(), serde_json::Value::String(canonical));
        }
    }
    normalised
}

/// Reads a request's query and body as the source's event. The query string's pairs are read as
/// fields only when the source's signature (if any) covers them
/// ([`AuthConfig::reads_query_fields`]); field values that are secrets are masked first.
pub fn read(source: &Source, query: &str, content_type: Option<&str>, body: &[u8]) -> Reading {
    let fields_query = if source.auth.reads_query_fields() {
        query
    } else {
        ""
    };
    match decode::decode(fields_query, content_type, body, &Limits::default()) {
        Ok(mut decoded) => {
            let masked = source.redactor.fields(&mut decoded.fields);
            let mut warnings = decoded.warnings;
            if fields_query.is_empty() && !query.is_empty() {
                warnings.push(
                    "the query string was not read: this source's signature covers only the body"
                        .to_owned(),
                );
            }
            let understood = mapping::map(&decoded.fields, &source.mapping, &mut warnings);
            let payload = canonical_json(&decoded.fields);
            let sent_as = dedup_key(&source.name, Some(&payload), fields_query, body);
            match money_normalised(&decoded.fields, &source.mapping) {
                None => Reading {
                    understood,
                    warnings,
                    dedup_key: sent_as,
                    masked,
                    legacy_key: None,
                },
                Some(normalised) => Reading {
                    understood,
                    warnings,
                    dedup_key: dedup_key(
                        &source.name,
                        Some(&canonical_json(&normalised)),
                        fields_query,
                        body,
                    ),
                    masked,
                    legacy_key: Some(sent_as),
                },
            }
        }
        Err(error) => Reading {
            understood: Err(Quarantine::UnparseableBody(error.to_string())),
            warnings: Vec::new(),
            dedup_key: dedup_key(&source.name, None, fields_query, body),
            masked: Vec::new(),
            legacy_key: None,
        },
    }
}

/// A stored request's fields as its source's current mapping reads them, for the delivery
/// page: decoded as `read` decodes (the query only when the signature covers it), secrets
/// masked. An error says why the request cannot be decoded.
pub fn fields_read(
    source: &Source,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<
    (
        Vec<mapping::FieldRead>,
        std::collections::BTreeMap<String, String>,
    ),
    String,
> {
    let fields_query = if source.auth.reads_query_fields() {
        query
    } else {
        ""
    };
    let mut decoded = decode::decode(fields_query, content_type, body, &Limits::default())
        .map_err(|error| error.to_string())?;
    source.redactor.fields(&mut decoded.fields);
    Ok(mapping::fields_read(&decoded.fields, &source.mapping))
}

/// Keys sorted at every level and scalars as their text, so the same values sent as GET, form
/// or JSON (`"10.50"` or `10.50`) make the same payload. Written straight from the fields
/// rather than through a cloned, re-sorted map, which cost the handlers noticeably.
fn canonical_json(fields: &Fields) -> String {
    use serde::ser::{SerializeMap, Serializer};
    use serde_json::Value;

    struct Canonical<'a>(&'a Value);

    fn sorted_map<S: Serializer>(
        map: &serde_json::Map<String, Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            out.serialize_entry(key, &Canonical(value))?;
        }
        out.end()
    }

    impl Serialize for Canonical<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                Value::Object(map) => sorted_map(map, serializer),
                Value::Array(items) => serializer.collect_seq(items.iter().map(Canonical)),
                Value::Null => serializer.serialize_unit(),
                scalar => serializer.serialize_str(field_text(scalar).unwrap_or_default()),
            }
        }
    }

    let mut out = Vec::with_capacity(4_096);
    sorted_map(fields, &mut serde_json::Serializer::new(&mut out))
        .expect("serializing JSON into memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn dedup_key(source: &str, payload: Option<&str>, query: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0]);
    match payload {
        Some(payload) => hasher.update(payload.as_bytes()),
        // Not decodable: the raw bytes are all there is to compare.
        None => {
            hasher.update(query.as_bytes());
            hasher.update([0]);
            hasher.update(body);
        }
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions() -> Source {
        Source {
            name: "actions".into(),
            kind: SourceKind::ActionLifecycle,
            mapping: Mapping::defaults(SourceKind::ActionLifecycle),
            auth: AuthConfig::default(),
            redactor: Arc::new(Redactor::new([], &[])),
        }
    }

    fn request<'a>(
        method: &'a str,
        query: &'a str,
        content_type: Option<&'a str>,
        body: &'a [u8],
    ) -> RawRequest<'a> {
        RawRequest {
            method,
            query,
            content_type,
            body,
            client_addr: None,
            received_at: Utc::now(),
        }
    }

    #[test]
    fn the_same_values_by_get_form_or_json_share_one_dedup_key() {
        let source = actions();
        let get = understand(
            &source,
            request("GET", "ActionId=A1&Payout=10.50&Status=PENDING", None, b""),
        );
        let form = understand(
            &source,
            request(
                "POST",
                "",
                Some("application/x-www-form-urlencoded"),
                b"Status=PENDING&Payout=10.50&ActionId=A1",
            ),
        );
        let json = understand(
            &source,
            request(
                "POST",
                "",
                Some("application/json"),
                br#"{"ActionId":"A1","Payout":10.50,"Status":"PENDING"}"#,
            ),
        );
        assert_eq!(get.dedup_key, form.dedup_key);
        assert_eq!(get.dedup_key, json.dedup_key);
        let other = understand(
            &source,
            request("GET", "ActionId=A1&Payout=10.51&Status=PENDING", None, b""),
        );
        assert_ne!(get.dedup_key, other.dedup_key);
    }

    #[test]
    fn money_equal_in_value_is_one_dedup_key_and_the_old_key_is_kept() {
        let source = actions();
        let sent = |query| understand(&source, request("GET", query, None, b""));
        let two = sent("ActionId=A1&Payout=10.00&DeltaPayout=10.00");
        let one = sent("ActionId=A1&Payout=10.0&DeltaPayout=10.0");
        let json = understand(
            &source,
            request(
                "POST",
                "",
                Some("application/json"),
                br#"{"ActionId":"A1","Payout":10,"DeltaPayout":"10.00"}"#,
            ),
        );
        assert_eq!(one.dedup_key, two.dedup_key);
        assert_eq!(json.dedup_key, two.dedup_key);
        assert_eq!(two.legacy_key, None, "already in the normal form: one key");
        assert!(
            one.legacy_key.is_some(),
            "stored before, it was keyed as sent"
        );
        assert_ne!(one.legacy_key, Some(one.dedup_key.clone()));
        // Ids are never normalised: `0012` and `12` are different orders.
        assert_ne!(
            sent("ActionId=A1&Payout=1.00&Oid=0012").dedup_key,
            sent("ActionId=A1&Payout=1.00&Oid=12").dedup_key
        );
    }

    #[test]
    fn what_cannot_be_decoded_is_quarantined_with_its_reason() {
        let delivery = understand(
            &actions(),
            request("POST", "", Some("application/json"), b"{\"ActionId\": tru"),
        );
        assert!(matches!(
            delivery.understood,
            Err(Quarantine::UnparseableBody(_))
        ));
        assert_eq!(delivery.dedup_key.len(), 64);
    }

    #[test]
    fn an_empty_postback_is_a_setup_error_and_only_a_valueless_one_is_made_distinct() {
        let source = actions();
        for (query, content_type, body) in [
            ("", None, &b""[..]),
            ("ActionId={ActionId}&Payout={Payout}", None, b""),
            ("ActionId=&Status=", None, b""),
            (
                "",
                Some("application/json"),
                br#"{"ActionId": "{ActionId}", "Payout": }"#,
            ),
        ] {
            let delivery = understand(&source, request("GET", query, content_type, body));
            assert_eq!(
                delivery.understood,
                Err(Quarantine::EmptyPostback),
                "{query}"
            );
            assert!(delivery.carries_no_value(), "{query}");
            let mut distinct = delivery.clone();
            distinct.make_distinct("1");
            assert_ne!(distinct.dedup_key, delivery.dedup_key);
        }
        // Values under keys the source does not map: empty for the mapping, but the values
        // tell one postback from another, so a repeat stays a duplicate.
        let unmapped = understand(&source, request("GET", "MyParam=social_post_01", None, b""));
        assert_eq!(unmapped.understood, Err(Quarantine::EmptyPostback));
        assert!(!unmapped.carries_no_value());
        // A mapped field with a value but no id is the old reason.
        let no_id = understand(&source, request("GET", "Payout=10.00", None, b""));
        assert!(matches!(no_id.understood, Err(Quarantine::NoActionId(_))));
        assert!(!no_id.carries_no_value());
    }

    /// A test vector: dedup keys of stored deliveries depend on this exact text, so it must not
    /// change between versions (nested objects and arrays, numbers and booleans as text, keys in
    /// byte order).
    #[test]
    fn the_canonical_payload_text_is_stable() {
        let fields: Fields = serde_json::from_str(
            r#"{"b":1.50,"a":{"z":[1,{"y":true,"x":null}],"c":"é\"\n"},"Ä":false,"A":"10"}"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&fields),
            r#"{"A":"10","a":{"c":"é\"\n","z":["1",{"x":null,"y":"true"}]},"b":"1.50","Ä":"false"}"#
        );
    }
}
