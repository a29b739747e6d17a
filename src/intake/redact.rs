//! Masking secrets wherever a delivery is stored, shown or logged: one rule, in one place.
//!
//! The rule: every secret value the receiver is configured with (every source's query values,
//! header values, HMAC secrets and Standard Webhooks secrets, the generated postback secret, the
//! `/metrics` bearer tokens) is replaced by [`MASK`] wherever it appears, in the query string, in
//! the raw body, in the decoded fields (so in the stored extras) and in the debug log:
//!
//! - a secret of at least [`MIN_SUBSTRING_LEN`] bytes is masked wherever it appears inside any
//!   text, as written and as JSON, XML and form encoding would write it; a `Bearer <token>`
//!   value also masks the token alone, a `whsec_<base64>` secret its base64;
//! - a shorter secret (it could be any short word of a payload), a value configured only as a
//!   `sha256:` digest, and the value of a credential's name (any source's `query_param` or
//!   `header`, or one of [`CREDENTIAL_NAMES`]) are masked where they are a whole value: a query
//!   pair's, or a decoded field's at any depth; such a value found in the fields is then masked
//!   in that delivery's raw body as well when it is long enough.
//!
//! `Debug` prints only how many values there are.

use std::borrow::Cow;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::intake::auth::AuthConfig;
use crate::intake::decode::{Fields, field_text};

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// Secrets at least this long are masked inside any text; shorter ones only as whole values.
pub const MIN_SUBSTRING_LEN: usize = 8;

/// Names whose values are credentials whatever they hold (compared lowercase, `-` read as `_`).
pub const CREDENTIAL_NAMES: &[&str] = &[
    "authorization",
    "proxy_authorization",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "api_key",
    "apikey",
    "client_secret",
    "secret",
    "password",
    "passwd",
];

#[derive(Clone, Default)]
pub struct Redactor {
    /// Byte strings masked wherever they appear, longest first.
    literals: Vec<Vec<u8>>,
    /// Plaintext secrets too short to mask inside text: masked as whole values only.
    whole_values: Vec<String>,
    /// Digests of the values configured as `sha256:<hex>`: masked as whole values.
    digests: Vec<[u8; 32]>,
    /// Names whose values are masked, lowercase with `-` as `_`.
    names: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Redactor({} literals, {} short values, {} digests, {} names)",
            self.literals.len(),
            self.whole_values.len(),
            self.digests.len(),
            self.names.len()
        )
    }
}

fn normal_name(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// The value without a leading `Bearer ` (in any case), when it has one.
fn bearer_token(value: &str) -> Option<&str> {
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case("bearer ")
        .then(|| value[7..].trim())
        .filter(|token| !token.is_empty())
}

/// The hex digest of a value written `sha256:<hex>` (prefix in any case).
fn configured_digest(value: &str) -> Option<[u8; 32]> {
    let prefix = value.get(..7)?;
    if !prefix.eq_ignore_ascii_case("sha256:") {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&value[7..], &mut digest).ok()?;
    Some(digest)
}

/// How a text may be written in a query, a form body, JSON or XML.
fn spellings(text: &str) -> Vec<String> {
    let mut out = vec![text.to_owned()];
    out.push(form_urlencoded::byte_serialize(text.as_bytes()).collect());
    // Percent-encoding that keeps a space as %20 (what URL builders other than forms write).
    out.push(
        form_urlencoded::byte_serialize(text.as_bytes())
            .collect::<String>()
            .replace('+', "%20"),
    );
    if let Ok(json) = serde_json::to_string(text) {
        out.push(json[1..json.len() - 1].to_owned());
    }
    out.push(
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;"),
    );
    out.sort();
    out.dedup();
    out
}

impl Redactor {
    /// The rule for these sources' credentials and these other tokens (the `/metrics` bearer
    /// tokens, plaintext or `sha256:<hex>`).
    pub fn new<'a>(
        sources: impl IntoIterator<Item = &'a AuthConfig>,
        tokens: &[String],
    ) -> Redactor {
        let mut redactor = Redactor::default();
        for name in CREDENTIAL_NAMES {
            redactor.add_name(name);
        }
        for auth in sources {
            if let Some(param) = &auth.query_param {
                redactor.add_name(param);
            }
            if let Some(header) = &auth.header {
                redactor.add_name(header);
            }
            for value in auth
                .query_values
                .iter()
                .chain(&auth.header_values)
                .chain(&auth.hmac_secrets)
            {
                redactor.add_secret(value);
            }
            for secret in &auth.standard_webhooks_secrets {
                redactor.add_secret(secret);
                if let Some(key) = secret.strip_prefix("whsec_") {
                    redactor.add_secret(key);
                }
            }
        }
        for token in tokens {
            redactor.add_secret(token);
        }
        redactor.finish();
        redactor
    }

    fn add_name(&mut self, name: &str) {
        let name = normal_name(name);
        if !name.is_empty() && !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    fn add_secret(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        if let Some(digest) = configured_digest(value) {
            self.digests.push(digest);
            return;
        }
        let mut plain = vec![value];
        plain.extend(bearer_token(value));
        for secret in plain {
            if secret.len() < MIN_SUBSTRING_LEN {
                self.whole_values.push(secret.to_owned());
                continue;
            }
            for spelling in spellings(secret) {
                self.literals.push(spelling.into_bytes());
            }
        }
    }

    fn finish(&mut self) {
        self.literals
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        self.literals.dedup();
        self.whole_values.sort();
        self.whole_values.dedup();
        self.digests.sort();
        self.digests.dedup();
    }

    /// This rule plus `values` masked as literals (values found secret in one delivery's fields,
    /// to mask in its raw body too).
    fn with_literals(&self, values: &[String]) -> Redactor {
        let mut more = self.clone();
        for value in values {
            if value.len() >= MIN_SUBSTRING_LEN {
                for spelling in spellings(value) {
                    more.literals.push(spelling.into_bytes());
                }
            }
        }
        more.finish();
        more
    }

    /// A name whose value is a credential whatever it holds.
    pub fn is_secret_name(&self, name: &str) -> bool {
        let name = normal_name(name);
        self.names.contains(&name)
    }

    /// A whole value that is a configured secret (any length, plaintext or digest, with or
    /// without a `Bearer ` scheme), or that holds a long secret.
    pub fn is_secret_value(&self, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        let candidates = [Some(value), bearer_token(value), Some(value.trim())];
        for candidate in candidates.into_iter().flatten() {
            if self.whole_values.iter().any(|secret| secret == candidate) {
                return true;
            }
            if !self.digests.is_empty() {
                let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
                if self.digests.contains(&digest) {
                    return true;
                }
            }
        }
        self.holds_literal(value.as_bytes())
    }

    fn holds_literal(&self, bytes: &[u8]) -> bool {
        self.literals
            .iter()
            .any(|literal| find(bytes, literal, 0).is_some())
    }

    /// Text with every long secret masked inside it.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Literals and the mask are whole UTF-8 strings: replacing them keeps UTF-8.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Raw bytes (a body) with every long secret masked inside them; other bytes untouched.
    pub fn bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let mut out: Cow<'b, [u8]> = Cow::Borrowed(bytes);
        for literal in &self.literals {
            if find(&out, literal, 0).is_some() {
                out = Cow::Owned(replace_all(&out, literal, MASK.as_bytes()));
            }
        }
        out
    }

    /// A raw query string with the value of every pair that is a credential (by its name or its
    /// whole value) masked, then every long secret masked inside the rest; pairs keep their
    /// order and their bytes otherwise.
    pub fn query(&self, query: &str) -> String {
        let pairs: Vec<Cow<'_, str>> = query
            .split('&')
            .map(|pair| {
                let Some((name, value)) = form_urlencoded::parse(pair.as_bytes()).next() else {
                    return Cow::Borrowed(pair);
                };
                if !value.is_empty() && (self.is_secret_name(&name) || self.is_secret_value(&value))
                {
                    let raw_name = pair.split_once('=').map_or(pair, |(name, _)| name);
                    Cow::Owned(format!("{raw_name}={MASK}"))
                } else {
                    Cow::Borrowed(pair)
                }
            })
            .collect();
        self.text(&pairs.join("&")).into_owned()
    }

    /// Masks the decoded fields in place, at any depth: a credential's name or a secret whole
    /// value becomes [`MASK`], a long secret inside a text is masked there. Returns the whole
    /// values masked, to mask in the raw request as well.
    pub fn fields(&self, fields: &mut Fields) -> Vec<String> {
        let mut masked = Vec::new();
        for (name, value) in fields.iter_mut() {
            self.value(Some(name), value, &mut masked);
        }
        masked
    }

    fn value(&self, name: Option<&str>, value: &mut Value, masked: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (name, value) in map.iter_mut() {
                    self.value(Some(name), value, masked);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.value(name, item, masked);
                }
            }
            Value::Null => {}
            scalar => {
                let Some(text) = field_text(scalar) else {
                    return;
                };
                if text.is_empty() || text == MASK {
                    return;
                }
                if name.is_some_and(|name| self.is_secret_name(name)) || self.is_secret_value(text)
                {
                    masked.push(text.to_owned());
                    // The literal inside it is masked with the rest of the request.
                    *scalar = Value::String(MASK.to_owned());
                }
            }
        }
    }

    /// A stored request as it may be kept: the query and the body masked by this rule, and by the
    /// whole values `masked` found in its fields.
    pub fn request(&self, query: &str, body: &[u8], masked: &[String]) -> (String, Vec<u8>) {
        if masked.is_empty() {
            return (self.query(query), self.bytes(body).into_owned());
        }
        let more = self.with_literals(masked);
        (more.query(query), more.bytes(body).into_owned())
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut at = from;
    while at <= last_start {
        let offset = haystack[at..=last_start].iter().position(|&b| b == first)?;
        at += offset;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        at += 1;
    }
    None
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut from = 0;
    while let Some(at) = find(haystack, needle, from) {
        out.extend_from_slice(&haystack[from..at]);
        out.extend_from_slice(with);
        from = at + needle.len();
    }
    out.extend_from_slice(&haystack[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY_SECRET: &str = "qsecret-4411-abcd";
    const HEADER_TOKEN: &str = "htoken-7781/x+y";
    const HMAC_SECRET: &str = "hmac-secret-9021";
    const WEBHOOK_B64: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const METRICS_TOKEN: &str = "scrape-token-5512";
    const HASHED: &str = "hashed-secret-3309";
    const SHORT: &str = "k1";

    fn redactor() -> Redactor {
        let one = AuthConfig {
            query_param: Some("secure".into()),
            query_values: vec![QUERY_SECRET.into()],
            header: Some("X-Postback-Token".into()),
            header_values: vec![format!("Bearer {HEADER_TOKEN}")],
            ..AuthConfig::default()
        };
        let two = AuthConfig {
            hmac_header: Some("X-Signature".into()),
            hmac_secrets: vec![HMAC_SECRET.into(), SHORT.into()],
            standard_webhooks_secrets: vec![format!("whsec_{WEBHOOK_B64}")],
            query_param: Some("key".into()),
            query_values: vec![format!(
                "sha256:{}",
                hex::encode(Sha256::digest(HASHED.as_bytes()))
            )],
            ..AuthConfig::default()
        };
        Redactor::new([&one, &two], &[METRICS_TOKEN.into()])
    }

    const LONG_SECRETS: [&str; 5] = [
        QUERY_SECRET,
        HEADER_TOKEN,
        HMAC_SECRET,
        WEBHOOK_B64,
        METRICS_TOKEN,
    ];

    fn assert_clean(text: &str) {
        for secret in LONG_SECRETS.iter().chain(&[HASHED]) {
            assert!(!text.contains(secret), "`{secret}` in {text}");
        }
        let encoded: String = form_urlencoded::byte_serialize(HEADER_TOKEN.as_bytes()).collect();
        assert!(!text.contains(&encoded), "{text}");
    }

    #[test]
    fn every_long_secret_is_masked_inside_any_text_however_it_is_spelled() {
        let redactor = redactor();
        for secret in LONG_SECRETS {
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let json = serde_json::to_string(secret).unwrap();
            for text in [
                format!("before {secret} after"),
                format!("x={encoded}&y=1"),
                format!("{{\"note\": {json}}}"),
                format!("<a>{secret}</a>"),
                format!("Bearer {secret}"),
            ] {
                let shown = redactor.text(&text);
                assert_clean(&shown);
                assert!(shown.contains(MASK), "{shown}");
            }
        }
        assert_eq!(redactor.text("nothing secret"), "nothing secret");
        assert!(matches!(redactor.text("nothing"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_and_hashed_secrets_and_credential_names_are_masked_as_whole_values() {
        let redactor = redactor();
        let query = format!(
            "a={SHORT}&b=k12&secure=anything&Key={HASHED}&access-token=t&Authorization=Bearer+{HASHED}&c=1&flag&%zz"
        );
        assert_eq!(
            redactor.query(&query),
            format!(
                "a={MASK}&b=k12&secure={MASK}&Key={MASK}&access-token={MASK}&Authorization={MASK}&c=1&flag&%zz"
            )
        );
        // The same in decoded fields, at any depth, and their extras.
        let mut fields: Fields = serde_json::from_str(&format!(
            r#"{{"Payout": "1.00", "Note": "{SHORT}", "headers": {{"X-Postback-Token": "whatever-long-value"}},
                "list": ["{HASHED}", "plain"], "Extra": "tail {QUERY_SECRET} tail", "N": 5}}"#
        ))
        .unwrap();
        let masked = redactor.fields(&mut fields);
        assert_eq!(fields["Payout"], "1.00");
        assert_eq!(fields["Note"], MASK);
        assert_eq!(fields["headers"]["X-Postback-Token"], MASK);
        assert_eq!(fields["list"][0], MASK);
        assert_eq!(fields["list"][1], "plain");
        assert_eq!(fields["Extra"], MASK);
        assert_eq!(fields["N"], 5);
        assert!(
            masked.contains(&"whatever-long-value".to_owned()),
            "{masked:?}"
        );
        // What the fields revealed is masked in the raw body as well.
        let body = format!(
            r#"{{"headers": {{"X-Postback-Token": "whatever-long-value"}}, "list": ["{HASHED}"]}}"#
        );
        let (_, stored) = redactor.request("", body.as_bytes(), &masked);
        let stored = String::from_utf8(stored).unwrap();
        assert!(
            !stored.contains("whatever-long-value") && !stored.contains(HASHED),
            "{stored}"
        );
    }

    #[test]
    fn a_short_secret_inside_other_text_is_left_alone() {
        let redactor = redactor();
        assert_eq!(redactor.text("k1k1 Bk1"), "k1k1 Bk1");
        assert_eq!(redactor.query("a=xk1"), "a=xk1");
    }

    #[test]
    fn raw_bytes_that_are_not_utf8_are_masked_and_kept_otherwise() {
        let redactor = redactor();
        let mut body = vec![0xff, 0x00];
        body.extend_from_slice(HMAC_SECRET.as_bytes());
        body.push(0xfe);
        let stored = redactor.bytes(&body);
        let mut expected = vec![0xff, 0x00];
        expected.extend_from_slice(MASK.as_bytes());
        expected.push(0xfe);
        assert_eq!(stored.as_ref(), expected.as_slice());
    }

    #[test]
    fn debug_shows_counts_only() {
        let shown = format!("{:?}", redactor());
        assert_clean(&shown);
        assert!(shown.starts_with("Redactor("), "{shown}");
    }
}
