//! Dashboard sessions and CSRF tokens. Pure: no HTTP, no database.
//!
//! A login gets a random session id: the cookie holds it, the `sessions` table its SHA-256, so
//! logging out (the row is deleted) or changing the password (the row names another login) ends
//! it, and a copy of the database opens no session. Forms carry a CSRF token, the HMAC of the
//! cookie they are bound to under the key the database keeps; the login form's own cookie is a
//! nonce that names when it was issued, and is accepted once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a login lasts.
pub const LIFETIME_SECONDS: i64 = 12 * 3600;
pub const COOKIE: &str = "postback_ledger_session";
/// How long a login form may be filled in.
pub const LOGIN_FORM_SECONDS: i64 = 30 * 60;

/// The server-side key that signs CSRF tokens; kept in the database so every instance shares it.
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

    /// The token a form must carry: bound to the cookie (session or nonce) it was shown with.
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

/// A new session id: 32 random bytes, URL-safe base64 (the cookie's value).
pub fn new_session_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the `sessions` table keeps of a session id: its SHA-256, hex.
pub fn id_digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Names a login (the username and the password hash) without revealing either: a session
/// opened with another login is refused.
pub fn login_fingerprint(username: &str, password_hash: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"postback-ledger login\0");
    hasher.update(username.as_bytes());
    hasher.update([0]);
    hasher.update(password_hash.as_bytes());
    hex::encode(hasher.finalize())
}

/// A login form's nonce: when it was issued, then 24 random bytes.
pub fn new_login_nonce(now_unix: i64) -> String {
    format!(
        "{now_unix}.{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
    )
}

/// Whether a login nonce was issued within [`LOGIN_FORM_SECONDS`] of `now_unix` (and not in the
/// future, give or take a minute of clock difference between instances).
pub fn login_nonce_is_fresh(nonce: &str, now_unix: i64) -> bool {
    let Some((issued, random)) = nonce.split_once('.') else {
        return false;
    };
    let Ok(issued) = issued.parse::<i64>() else {
        return false;
    };
    !random.is_empty() && issued <= now_unix + 60 && now_unix - issued <= LOGIN_FORM_SECONDS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn session_ids_are_random_and_only_their_digest_is_kept() {
        let first = new_session_id();
        let second = new_session_id();
        assert_ne!(first, second);
        assert_eq!(URL_SAFE_NO_PAD.decode(&first).unwrap().len(), 32);
        assert_eq!(id_digest(&first).len(), 64);
        assert!(!id_digest(&first).contains(&first));
        assert_ne!(id_digest(&first), id_digest(&second));
    }

    #[test]
    fn a_login_fingerprint_changes_with_the_password_hash_or_the_username() {
        let base = login_fingerprint("finance", "$argon2id$a");
        assert_eq!(base, login_fingerprint("finance", "$argon2id$a"));
        assert_ne!(base, login_fingerprint("finance", "$argon2id$b"));
        assert_ne!(base, login_fingerprint("finance2", "$argon2id$a"));
        assert!(!base.contains("argon2"));
    }

    #[test]
    fn a_csrf_token_is_bound_to_its_cookie() {
        let first = new_session_id();
        let second = new_session_id();
        let token = key().csrf_token(&first);
        assert!(key().csrf_matches(&first, &token));
        assert!(!key().csrf_matches(&second, &token));
        assert!(!key().csrf_matches(&first, "not-base64!"));
    }

    #[test]
    fn a_login_nonce_is_fresh_for_half_an_hour() {
        let nonce = new_login_nonce(1_000_000);
        assert!(login_nonce_is_fresh(&nonce, 1_000_000));
        assert!(login_nonce_is_fresh(&nonce, 1_000_000 + LOGIN_FORM_SECONDS));
        assert!(!login_nonce_is_fresh(
            &nonce,
            1_000_001 + LOGIN_FORM_SECONDS
        ));
        assert!(!login_nonce_is_fresh(&nonce, 1_000_000 - 120));
        assert!(!login_nonce_is_fresh("garbage", 1_000_000));
        assert!(!login_nonce_is_fresh("1000000.", 1_000_000));
        assert_ne!(new_login_nonce(1), new_login_nonce(1));
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key()), "SessionKey(<redacted>)");
    }
}
