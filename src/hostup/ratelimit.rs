//! The process-wide rate limiter shared by every request to one HostUp origin and key.
//!
//! Exists because hundreds of resources applied in parallel must not stampede the API (the
//! most common complaint about VM providers). It follows what HostUp says:
//! - `X-RateLimit-Limit/Remaining/Reset` describe a window; every request start takes one unit
//!   of a local estimate of `Remaining`, corrected downwards by each response, and when the
//!   estimate hits 0 everyone waits until `Reset`. When a window ends locally, a new one with
//!   `Limit` units is assumed until a response says otherwise.
//! - after a 429, everyone pauses for `Retry-After` (or until `Reset`).
//! - optionally, a client-side cap of requests per second.
//!
//! All decisions are made under a short std mutex; waiting happens outside it and is
//! cancellable.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::retry::RateHeaders;

/// Margin after a window's reset before sending again, so a request does not land in the old
/// window because of rounding of the reset time.
const RESET_MARGIN: Duration = Duration::from_millis(15);
/// Reset times closer than this are the same window.
const SAME_WINDOW: Duration = Duration::from_millis(50);
/// How often callers waiting behind the cold-start probe look again.
const PROBE_POLL: Duration = Duration::from_millis(5);
/// How long the cold-start probe may hold the others back.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The window length assumed until two windows have been seen.
const DEFAULT_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    limit: Option<u64>,
    /// Local end of the current window (known from a header, or assumed).
    window_end: Option<Instant>,
    /// The server's reset time of the newest window seen.
    server_reset: Option<SystemTime>,
    /// Whether `window_end` came from the server (false: assumed after a roll-over).
    window_known: bool,
    window_len: Duration,
    len_learned: bool,
    remaining: i64,
    pause_until: Option<Instant>,
    next_slot: Option<Instant>,
    /// Whether any answer has been seen (before that the limits are unknown).
    answered: bool,
    /// While no answer has been seen, one request probes alone until this time.
    probe_until: Option<Instant>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    state: Mutex<State>,
    spacing: Option<Duration>,
}

impl RateLimiter {
    /// A limiter with an optional client-side requests-per-second cap.
    pub(crate) fn new(requests_per_second: Option<f64>) -> Self {
        let spacing = requests_per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r.min(1.0e6)));
        RateLimiter {
            state: Mutex::new(State {
                limit: None,
                window_end: None,
                server_reset: None,
                window_known: false,
                window_len: DEFAULT_WINDOW,
                len_learned: false,
                remaining: 0,
                pause_until: None,
                next_slot: None,
                answered: false,
                probe_until: None,
            }),
            spacing,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the numbers unusable: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a permit now, or says when to try again.
    pub(crate) fn try_acquire(&self, now: Instant) -> Result<(), Instant> {
        let mut st = self.lock();
        if !st.answered {
            // Cold start: the limits are unknown until the first answer, so one request goes
            // alone instead of a burst of every concurrent caller.
            if let Some(p) = st.probe_until {
                if p > now {
                    return Err((now + PROBE_POLL).min(p));
                }
            }
            st.probe_until = Some(now + PROBE_TIMEOUT);
        }
        if let Some(p) = st.pause_until {
            if p > now {
                return Err(p);
            }
            st.pause_until = None;
        }
        if let Some(slot) = st.next_slot {
            if slot > now {
                return Err(slot);
            }
        }
        if let (Some(limit), Some(end)) = (st.limit, st.window_end) {
            if end <= now {
                // The window ended: assume a fresh one of the same length.
                let len = st.window_len.max(Duration::from_millis(10));
                let behind = now.duration_since(end);
                let k = (behind.as_secs_f64() / len.as_secs_f64()).floor() + 1.0;
                st.window_end = Some(end + len.mul_f64(k));
                st.window_known = false;
                st.remaining = limit as i64;
            }
            if st.remaining <= 0 {
                return Err(st.window_end.unwrap_or(now) + RESET_MARGIN);
            }
            st.remaining -= 1;
        }
        if let Some(sp) = self.spacing {
            let base = st.next_slot.filter(|s| *s > now).unwrap_or(now);
            st.next_slot = Some(base + sp);
        }
        Ok(())
    }

    /// Learns from a response's rate-limit headers.
    pub(crate) fn observe(&self, h: &RateHeaders, now: Instant, wall: SystemTime) {
        let mut st = self.lock();
        if let Some(l) = h.limit {
            st.limit = Some(l);
        }
        let (Some(reset), Some(rem)) = (h.reset, h.remaining) else {
            return;
        };
        if st.limit.is_none() {
            st.limit = Some(rem.max(1));
        }
        let rem = rem.min(i64::MAX as u64) as i64;
        let local_end = now + reset.duration_since(wall).unwrap_or(Duration::ZERO);
        match st.server_reset {
            Some(cur) if within(cur, reset, SAME_WINDOW) => {
                st.remaining = st.remaining.min(rem);
            }
            Some(cur) if reset < cur => {} // a late answer from an older window
            prev => {
                if let Some(len) = prev.and_then(|p| reset.duration_since(p).ok()) {
                    // Skipped windows make some differences multiples of the length: keep
                    // the smallest seen.
                    if len > SAME_WINDOW && len < Duration::from_secs(3600) {
                        st.window_len = if st.len_learned {
                            st.window_len.min(len)
                        } else {
                            len
                        };
                        st.len_learned = true;
                    }
                }
                st.remaining = if st.window_known {
                    rem
                } else {
                    st.remaining.min(rem)
                };
                if st.window_end.is_none() {
                    st.remaining = rem;
                }
                st.server_reset = Some(reset);
                st.window_end = Some(local_end);
                st.window_known = true;
            }
        }
    }

    /// Ends an attempt that held the cold-start probe: with an answer, the limits are now
    /// known (or known to be absent) and everyone may go; without one, the next caller probes.
    pub(crate) fn settle(&self, answered: bool) {
        let mut st = self.lock();
        st.answered |= answered;
        st.probe_until = None;
    }

    /// Makes everyone wait until `now + wait` (after a 429).
    pub(crate) fn pause_for(&self, wait: Duration, now: Instant) {
        let mut st = self.lock();
        let until = now + wait;
        if st.pause_until.is_none_or(|p| p < until) {
            st.pause_until = Some(until);
        }
    }
}

fn within(a: SystemTime, b: SystemTime, tol: Duration) -> bool {
    let d = a
        .duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or(Duration::ZERO);
    d <= tol
}

type Registry = Mutex<HashMap<(String, u64), Weak<RateLimiter>>>;

fn registry() -> &'static (Registry, std::collections::hash_map::RandomState) {
    static R: OnceLock<(Registry, std::collections::hash_map::RandomState)> = OnceLock::new();
    R.get_or_init(|| {
        (
            Mutex::new(HashMap::new()),
            std::collections::hash_map::RandomState::new(),
        )
    })
}

/// The limiter shared by every client of this process talking to `origin` with this key
/// (HostUp limits per key). Only a salted hash of the key is kept. The first client's
/// `requests_per_second` wins.
pub(crate) fn shared(origin: &str, key: &str, rps: Option<f64>) -> Arc<RateLimiter> {
    let (reg, salt) = registry();
    let id = (origin.to_string(), salt.hash_one(key));
    let mut map = reg.lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(l) = map.get(&id).and_then(Weak::upgrade) {
        return l;
    }
    let l = Arc::new(RateLimiter::new(rps));
    map.insert(id, Arc::downgrade(&l));
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u64, remaining: u64, reset: SystemTime) -> RateHeaders {
        RateHeaders {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
            retry_after: None,
        }
    }

    #[test]
    fn no_headers_no_limit() {
        let l = RateLimiter::new(None);
        let now = Instant::now();
        l.settle(true);
        for _ in 0..1000 {
            assert!(l.try_acquire(now).is_ok());
        }
    }

    #[test]
    fn remaining_zero_waits_for_reset_then_allows_limit() {
        let l = RateLimiter::new(None);
        l.settle(true);
        let now = Instant::now();
        let wall = SystemTime::now();
        let reset = wall + Duration::from_millis(400);
        l.observe(&headers(3, 2, reset), now, wall);
        assert!(l.try_acquire(now).is_ok());
        assert!(l.try_acquire(now).is_ok());
        let wake = l.try_acquire(now).unwrap_err();
        assert!(wake >= now + Duration::from_millis(400));
        assert!(wake <= now + Duration::from_millis(400) + RESET_MARGIN);
        // A response from the same window saying 0 keeps everybody waiting.
        l.observe(&headers(3, 0, reset), now, wall);
        assert!(l.try_acquire(now + Duration::from_millis(100)).is_err());
        // After the reset a fresh window of `limit` units is assumed.
        let later = wake;
        for _ in 0..3 {
            assert!(l.try_acquire(later).is_ok());
        }
        assert!(l.try_acquire(later).is_err());
        // A response from the new window corrects the estimate downwards only.
        l.observe(
            &headers(3, 2, reset + Duration::from_secs(1)),
            later,
            wall + Duration::from_millis(415),
        );
        assert!(l.try_acquire(later).is_err());
    }

    #[test]
    fn stale_answers_are_ignored_and_pause_applies_to_all() {
        let l = RateLimiter::new(None);
        l.settle(true);
        let now = Instant::now();
        let wall = SystemTime::now();
        l.observe(&headers(5, 5, wall + Duration::from_secs(2)), now, wall);
        l.observe(&headers(5, 0, wall + Duration::from_secs(1)), now, wall);
        assert!(l.try_acquire(now).is_ok());
        l.pause_for(Duration::from_secs(1), now);
        assert_eq!(
            l.try_acquire(now).unwrap_err(),
            now + Duration::from_secs(1)
        );
        l.pause_for(Duration::from_millis(10), now); // a shorter pause never shortens it
        assert_eq!(
            l.try_acquire(now).unwrap_err(),
            now + Duration::from_secs(1)
        );
        assert!(l.try_acquire(now + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn cold_start_probes_alone() {
        let l = RateLimiter::new(None);
        let now = Instant::now();
        assert!(l.try_acquire(now).is_ok());
        assert_eq!(l.try_acquire(now).unwrap_err(), now + PROBE_POLL);
        // The probe failed without an answer: the next caller probes.
        l.settle(false);
        assert!(l.try_acquire(now).is_ok());
        assert!(l.try_acquire(now).is_err());
        // A probe that never settles holds the others back at most PROBE_TIMEOUT.
        assert!(l.try_acquire(now + PROBE_TIMEOUT).is_ok());
        l.settle(true);
        for _ in 0..100 {
            assert!(l.try_acquire(now).is_ok());
        }
    }

    #[test]
    fn client_side_spacing() {
        let l = RateLimiter::new(Some(10.0));
        let now = Instant::now();
        l.settle(true);
        assert!(l.try_acquire(now).is_ok());
        let next = l.try_acquire(now).unwrap_err();
        assert_eq!(next, now + Duration::from_millis(100));
        assert!(l.try_acquire(next).is_ok());
    }

    #[test]
    fn registry_shares_per_origin_and_key() {
        let a = shared("http://127.0.0.1:1/", "k1", None);
        let b = shared("http://127.0.0.1:1/", "k1", None);
        let c = shared("http://127.0.0.1:1/", "k2", None);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
