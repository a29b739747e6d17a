//! Signed session cookies and CSRF tokens for the dashboard and API login. Pure: no HTTP.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long a login lasts.
pub const LIFETIME_SECONDS: i64 = 12 * 3600;
pub const COOKIE: &str = "postback_ledger_session";

/// The server-side key that signs sessions; kept in the database so every instance shares it.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl SessionKey {
    pub fn new(bytes: Vec<u8>) -> SessionKey {
        SessionKey(bytes)
    }

    fn mac(&self, purpose: &str, message: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// `v1.<user>.<expires>.<mac>`, the user base64url-encoded.
    pub fn issue(&self, username: &str, now_unix: i64) -> String {
        let body = format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(username),
            now_unix + LIFETIME_SECONDS
        );
        let mac = URL_SAFE_NO_PAD.encode(self.mac("session", &body));
        format!("{body}.{mac}")
    }

    /// The user of a valid, unexpired session cookie.
    pub fn verify(&self, cookie: &str, now_unix: i64) -> Option<String> {
        let (body, mac) = cookie.rsplit_once('.')?;
        let presented = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if !bool::from(self.mac("session", body).ct_eq(&presented)) {
            return None;
        }
        let mut parts = body.split('.');
        let (Some("v1"), Some(user), Some(expires), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if expires.parse::<i64>().ok()? <= now_unix {
            return None;
        }
        String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()
    }

    /// The token a form must carry: bound to the session it was shown in.
    pub fn csrf_token(&self, cookie: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("csrf", cookie))
    }

    pub fn csrf_matches(&self, cookie: &str, token: &str) -> bool {
        let Ok(presented) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        bool::from(self.mac("csrf", cookie).ct_eq(&presented))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn a_session_verifies_until_it_expires_and_not_after_tampering() {
        let cookie = key().issue("finance", 1_000);
        assert_eq!(key().verify(&cookie, 1_001).as_deref(), Some("finance"));
        assert_eq!(key().verify(&cookie, 1_000 + LIFETIME_SECONDS), None);
        let tampered = cookie.replacen("v1.", "v1.x", 1);
        assert_eq!(key().verify(&tampered, 1_001), None);
        let other = SessionKey::new(b"another key of thirty-two bytes!".to_vec());
        assert_eq!(other.verify(&cookie, 1_001), None);
        assert_eq!(key().verify("garbage", 1_001), None);
    }

    #[test]
    fn a_csrf_token_is_bound_to_its_session() {
        let first = key().issue("a", 0);
        let second = key().issue("b", 0);
        let token = key().csrf_token(&first);
        assert!(key().csrf_matches(&first, &token));
        assert!(!key().csrf_matches(&second, &token));
        assert!(!key().csrf_matches(&first, "not-base64!"));
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key()), "SessionKey(<redacted>)");
    }
}
