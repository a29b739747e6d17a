//! Sign-in backoff: after a few failures from one address, or against the configured user, each
//! further attempt must wait, twice as long after each failure up to a ceiling; and each login
//! form is accepted once. In memory, bounded: a flood of addresses cannot grow it without end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How failures turn into waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before any waiting.
    pub free: u32,
    /// The wait after the first failure beyond `free`; it doubles with each further one.
    pub first: Duration,
    pub ceiling: Duration,
}

impl Backoff {
    /// How long to wait after `failures` failures in a row.
    pub fn wait_after(&self, failures: u32) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free - 1).min(30);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.ceiling)
    }
}

/// Per address (an IPv6 address counts as its /64): a few tries, then up to 15 minutes.
pub const PER_ADDRESS: Backoff = Backoff {
    free: 3,
    first: Duration::from_secs(1),
    ceiling: Duration::from_secs(15 * 60),
};

/// Per user: more tries (its owner may mistype from several places), and a ceiling of a
/// minute, so that someone else's failures can delay the owner but not lock them out.
pub const PER_USER: Backoff = Backoff {
    free: 5,
    first: Duration::from_secs(1),
    ceiling: Duration::from_secs(60),
};

/// Entries kept before idle ones are forgotten.
const MAX_ENTRIES: usize = 10_000;
/// Used login forms remembered at most (each for the life of a login form).
const MAX_USED_FORMS: usize = 100_000;
/// An entry is forgotten this long after its wait ended without a new failure.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    until: Instant,
}

#[derive(Default)]
struct State {
    addresses: HashMap<IpAddr, Failures>,
    users: HashMap<String, Failures>,
    used_forms: HashMap<String, Instant>,
}

#[derive(Default)]
pub struct Throttle {
    state: Mutex<State>,
}

/// The part of an address a client controls as one: an IPv6 client has a /64 to itself.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
        v4 => v4,
    }
}

fn remaining(entry: Option<&Failures>, now: Instant) -> Duration {
    entry.map_or(Duration::ZERO, |failures| {
        failures.until.saturating_duration_since(now)
    })
}

fn forget_idle<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Failures>, now: Instant) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, failures| failures.until + FORGET_AFTER > now);
    if map.len() >= MAX_ENTRIES {
        // Still full of recent failures: the oldest waits go first.
        let mut untils: Vec<Instant> = map.values().map(|f| f.until).collect();
        untils.sort_unstable();
        let cut = untils[untils.len() / 2];
        map.retain(|_, failures| failures.until > cut);
    }
}

fn fail<K: Clone + Eq + std::hash::Hash>(
    map: &mut HashMap<K, Failures>,
    key: K,
    backoff: &Backoff,
    now: Instant,
) {
    forget_idle(map, now);
    let entry = map.entry(key).or_insert(Failures {
        count: 0,
        until: now,
    });
    // A long quiet spell starts the count again.
    if entry.until + FORGET_AFTER <= now {
        entry.count = 0;
    }
    entry.count = entry.count.saturating_add(1);
    entry.until = now + backoff.wait_after(entry.count);
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long this address (and this user, when the attempt names the configured one) must
    /// still wait; zero when it may try now.
    pub fn wait(&self, address: IpAddr, user: Option<&str>, now: Instant) -> Duration {
        let state = self.lock();
        let by_address = remaining(state.addresses.get(&address_key(address)), now);
        let by_user = user.map_or(Duration::ZERO, |user| remaining(state.users.get(user), now));
        by_address.max(by_user)
    }

    /// Counts a failed attempt.
    pub fn failed(&self, address: IpAddr, user: Option<&str>, now: Instant) {
        let mut state = self.lock();
        fail(
            &mut state.addresses,
            address_key(address),
            &PER_ADDRESS,
            now,
        );
        if let Some(user) = user {
            fail(&mut state.users, user.to_owned(), &PER_USER, now);
        }
    }

    /// A successful sign-in clears the address's and the user's failures.
    pub fn succeeded(&self, address: IpAddr, user: &str) {
        let mut state = self.lock();
        state.addresses.remove(&address_key(address));
        state.users.remove(user);
    }

    /// Marks a login form's nonce used; false when it was used before (or when so many forms
    /// were used lately that no more can be remembered: the visitor is asked to try again).
    pub fn use_form(&self, nonce: &str, valid_for: Duration, now: Instant) -> bool {
        let mut state = self.lock();
        if state.used_forms.len() >= MAX_USED_FORMS {
            state.used_forms.retain(|_, until| *until > now);
            if state.used_forms.len() >= MAX_USED_FORMS {
                return false;
            }
        }
        if state.used_forms.contains_key(nonce) {
            return false;
        }
        state.used_forms.insert(nonce.to_owned(), now + valid_for);
        true
    }
}

/// "3 seconds", "1 minute", "15 minutes": a wait as the page says it, rounded up.
pub fn describe_wait(wait: Duration) -> String {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    if seconds < 60 {
        return format!("{seconds} second{}", if seconds == 1 { "" } else { "s" });
    }
    let minutes = seconds.div_ceil(60);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn waits_double_after_the_free_tries_up_to_the_ceiling() {
        let waits: Vec<u64> = (1..=16)
            .map(|n| PER_ADDRESS.wait_after(n).as_secs())
            .collect();
        assert_eq!(
            waits,
            [
                0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900
            ]
        );
        assert_eq!(PER_USER.wait_after(5), Duration::ZERO);
        assert_eq!(PER_USER.wait_after(100), Duration::from_secs(60));
        assert_eq!(PER_USER.wait_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn an_address_waits_after_its_failures_and_a_success_clears_them() {
        let throttle = Throttle::default();
        let now = Instant::now();
        let attacker = ip("203.0.113.7");
        for _ in 0..4 {
            assert_eq!(throttle.wait(attacker, None, now), Duration::ZERO);
            throttle.failed(attacker, None, now);
        }
        assert_eq!(throttle.wait(attacker, None, now), Duration::from_secs(1));
        assert_eq!(
            throttle.wait(ip("203.0.113.8"), None, now),
            Duration::ZERO,
            "another address is not slowed"
        );
        let later = now + Duration::from_secs(1);
        assert_eq!(throttle.wait(attacker, None, later), Duration::ZERO);
        throttle.failed(attacker, None, later);
        assert_eq!(throttle.wait(attacker, None, later), Duration::from_secs(2));
        throttle.succeeded(attacker, "finance");
        assert_eq!(throttle.wait(attacker, None, later), Duration::ZERO);
    }

    #[test]
    fn the_user_is_slowed_whatever_address_the_failures_come_from() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for n in 0..7 {
            throttle.failed(ip(&format!("198.51.100.{n}")), Some("finance"), now);
        }
        assert_eq!(
            throttle.wait(ip("192.0.2.1"), Some("finance"), now),
            Duration::from_secs(2)
        );
        assert_eq!(
            throttle.wait(ip("192.0.2.1"), Some("other"), now),
            Duration::ZERO
        );
    }

    #[test]
    fn an_ipv6_client_counts_as_its_slash_64() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for n in 0..4 {
            throttle.failed(ip(&format!("2001:db8:1:2::{n}")), None, now);
        }
        assert!(throttle.wait(ip("2001:db8:1:2:ffff::1"), None, now) > Duration::ZERO);
        assert_eq!(
            throttle.wait(ip("2001:db8:1:3::1"), None, now),
            Duration::ZERO
        );
    }

    #[test]
    fn a_flood_of_addresses_stays_bounded() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for n in 0..(3 * MAX_ENTRIES as u32) {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            throttle.failed(addr, None, now);
        }
        assert!(throttle.lock().addresses.len() <= MAX_ENTRIES);
    }

    #[test]
    fn a_login_form_is_accepted_once() {
        let throttle = Throttle::default();
        let now = Instant::now();
        let valid = Duration::from_secs(1800);
        assert!(throttle.use_form("1.abc", valid, now));
        assert!(!throttle.use_form("1.abc", valid, now));
        assert!(throttle.use_form("1.abd", valid, now));
    }

    #[test]
    fn waits_are_said_in_whole_seconds_or_minutes() {
        assert_eq!(describe_wait(Duration::from_millis(200)), "1 second");
        assert_eq!(describe_wait(Duration::from_secs(8)), "8 seconds");
        assert_eq!(describe_wait(Duration::from_secs(61)), "2 minutes");
        assert_eq!(describe_wait(Duration::from_secs(900)), "15 minutes");
    }
}
