//! Retry decisions and the parsing of HostUp's "wait" headers.
//!
//! Kept apart from the HTTP code so the rules (what may be retried, how long to wait) are
//! pure functions with unit tests.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::config::RetryPolicy;

/// Whether a request may be sent again, by what it does to HostUp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// A read: retried on 5xx, network errors, timeouts and 429.
    Safe,
    /// A synchronous write with the same effect however often it is applied (DELETE, and
    /// HostUp's PATCHes, which carry the values to set): retried on 429 and on network errors
    /// and timeouts before HostUp's answer began; never once HostUp answered (5xx, a body
    /// cut off), since HostUp then acted and a repeat may answer differently (a second
    /// DELETE finds nothing).
    Idempotent,
    /// Sent once unless HostUp certainly did not act: a job-creating request (POST, DELETE)
    /// or a synchronous POST. Retried only on 429 and when the connection failed before the
    /// request was sent.
    Once,
}

impl Idempotency {
    /// The class of a synchronous write by its method: DELETE, PATCH and PUT are
    /// [`Idempotency::Idempotent`], anything else (POST) [`Idempotency::Once`].
    pub(crate) fn of_write(method: &Method) -> Idempotency {
        if *method == Method::DELETE || *method == Method::PATCH || *method == Method::PUT {
            Idempotency::Idempotent
        } else {
            Idempotency::Once
        }
    }
}

/// What happened to one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptFailure {
    /// 429.
    RateLimited,
    /// 5xx answer.
    ServerError,
    /// Connection failed before anything was sent (refused, DNS, TLS handshake).
    NotSent,
    /// Failed after sending, before the answer began (reset).
    AfterSend,
    /// Per-attempt timeout before the answer began.
    Timeout,
    /// The answer began (its status came) but its body broke off, timed out or was not
    /// whole.
    AfterAnswer,
}

/// The retry rule of docs/ARCHITECTURE.md, "Contracts": a job-creating request is repeated
/// only when HostUp certainly did not act on it; an idempotent write as long as no answer
/// began.
pub(crate) fn may_retry(idem: Idempotency, failure: AttemptFailure) -> bool {
    match failure {
        AttemptFailure::RateLimited | AttemptFailure::NotSent => true,
        AttemptFailure::AfterSend | AttemptFailure::Timeout => idem != Idempotency::Once,
        AttemptFailure::ServerError | AttemptFailure::AfterAnswer => idem == Idempotency::Safe,
    }
}

/// Jittered exponential backoff before retry number `retry` (1-based): the nominal delay is
/// `base · 2^(retry-1)` capped at `max_delay`; the result lies in `[nominal/2, nominal]`
/// ("equal jitter"), so concurrent retries spread out but never wait much less than planned.
/// `jitter` is a sample in `[0, 1)`.
pub(crate) fn backoff_delay(policy: &RetryPolicy, retry: u32, jitter: f64) -> Duration {
    let exp = retry.saturating_sub(1).min(30) as i32;
    let nominal = (policy.base_delay.as_secs_f64() * 2f64.powi(exp))
        .min(policy.max_delay.as_secs_f64())
        .max(0.0);
    Duration::from_secs_f64(nominal * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
}

/// Parses `Retry-After`: delta seconds (integer or decimal) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the HTTP date form.
pub(crate) fn parse_http_date(v: &str) -> Option<SystemTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let dt = time::PrimitiveDateTime::parse(v.trim(), &fmt).ok()?;
    Some(dt.assume_utc().into())
}

/// Parses `X-RateLimit-Reset`: an ISO-8601 time per HostUp's docs; epoch seconds and
/// delta seconds are accepted too since other APIs use them. The result is never more than
/// [`MAX_RESET_AHEAD`] after `now`: the value comes from the network, and a reset in the year
/// 9999 (or 1e300 seconds) must neither overflow time arithmetic nor park every request.
pub(crate) fn parse_reset(value: &str, now: SystemTime) -> Option<SystemTime> {
    let v = value.trim();
    let at = if let Ok(dt) = OffsetDateTime::parse(v, &Rfc3339) {
        SystemTime::from(dt)
    } else {
        let n = v
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)?;
        if n > 1_000_000_000.0 {
            // Epoch seconds; anything past the cap is clamped below anyway.
            let secs = n.min(now_epoch_secs(now) + MAX_RESET_AHEAD.as_secs_f64());
            SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(secs).ok()?)?
        } else {
            now.checked_add(Duration::from_secs_f64(
                n.min(MAX_RESET_AHEAD.as_secs_f64()),
            ))?
        }
    };
    let latest = now.checked_add(MAX_RESET_AHEAD)?;
    Some(at.min(latest))
}

/// The furthest ahead a rate-limit reset is believed (HostUp's windows are a minute long).
pub(crate) const MAX_RESET_AHEAD: Duration = Duration::from_secs(86_400);

fn now_epoch_secs(now: SystemTime) -> f64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The rate-limit facts one response carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RateHeaders {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`, as a local wall-clock time (skew-corrected).
    pub reset: Option<SystemTime>,
    /// `Retry-After`.
    pub retry_after: Option<Duration>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl RateHeaders {
    /// Reads the headers. When the server's `Date` is more than 2 s away from our clock, the
    /// reset time is shifted by that skew so "wait until reset" waits the right length.
    pub(crate) fn from_headers(h: &HeaderMap, now: SystemTime) -> Self {
        let int = |n: &str| header(h, n).and_then(|v| v.trim().parse::<u64>().ok());
        let mut reset = header(h, "x-ratelimit-reset").and_then(|v| parse_reset(v, now));
        if let (Some(r), Some(server_now)) = (reset, header(h, "date").and_then(parse_http_date)) {
            let skew_ahead = server_now.duration_since(now).ok();
            let skew_behind = now.duration_since(server_now).ok();
            if let Some(s) = skew_ahead.filter(|s| *s > Duration::from_secs(2)) {
                reset = Some(r.checked_sub(s).unwrap_or(r));
            } else if let Some(s) = skew_behind.filter(|s| *s > Duration::from_secs(2)) {
                reset = Some(r + s);
            }
        }
        RateHeaders {
            limit: int("x-ratelimit-limit"),
            remaining: int("x-ratelimit-remaining"),
            reset,
            retry_after: header(h, "retry-after").and_then(|v| parse_retry_after(v, now)),
        }
    }

    /// How long a 429 asks us to wait: `Retry-After`, else until `X-RateLimit-Reset`.
    pub(crate) fn wait_hint(&self, now: SystemTime) -> Option<Duration> {
        self.retry_after.or_else(|| {
            self.reset
                .map(|r| r.duration_since(now).unwrap_or(Duration::ZERO))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn retry_rules() {
        use AttemptFailure::*;
        for f in [
            RateLimited,
            ServerError,
            NotSent,
            AfterSend,
            Timeout,
            AfterAnswer,
        ] {
            assert!(may_retry(Idempotency::Safe, f));
        }
        // Job-creating requests (and synchronous POSTs).
        assert!(may_retry(Idempotency::Once, RateLimited));
        assert!(may_retry(Idempotency::Once, NotSent));
        assert!(!may_retry(Idempotency::Once, ServerError));
        assert!(!may_retry(Idempotency::Once, AfterSend));
        assert!(!may_retry(Idempotency::Once, Timeout));
        assert!(!may_retry(Idempotency::Once, AfterAnswer));
        // Idempotent writes: like a read until HostUp's answer begins.
        for f in [RateLimited, NotSent, AfterSend, Timeout] {
            assert!(may_retry(Idempotency::Idempotent, f), "{f:?}");
        }
        assert!(!may_retry(Idempotency::Idempotent, ServerError));
        assert!(!may_retry(Idempotency::Idempotent, AfterAnswer));
    }

    #[test]
    fn write_classes_follow_the_method() {
        assert_eq!(
            Idempotency::of_write(&Method::DELETE),
            Idempotency::Idempotent
        );
        assert_eq!(
            Idempotency::of_write(&Method::PATCH),
            Idempotency::Idempotent
        );
        assert_eq!(Idempotency::of_write(&Method::PUT), Idempotency::Idempotent);
        assert_eq!(Idempotency::of_write(&Method::POST), Idempotency::Once);
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let p = RetryPolicy::default();
        assert_eq!(backoff_delay(&p, 1, 1.0), Duration::from_millis(500));
        assert_eq!(backoff_delay(&p, 1, 0.0), Duration::from_millis(250));
        assert_eq!(backoff_delay(&p, 3, 1.0), Duration::from_secs(2));
        assert_eq!(backoff_delay(&p, 30, 1.0), p.max_delay);
        assert_eq!(
            backoff_delay(&p, u32::MAX, 0.99).max(p.max_delay),
            p.max_delay
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn reset_forms_and_skew() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let iso = parse_reset("2023-11-14T22:13:25.500Z", now).unwrap();
        assert_eq!(
            iso.duration_since(now).unwrap(),
            Duration::from_millis(5_500)
        );
        assert_eq!(
            parse_reset("1700000010", now)
                .unwrap()
                .duration_since(now)
                .unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(
            parse_reset("3", now).unwrap().duration_since(now).unwrap(),
            Duration::from_secs(3)
        );

        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2023-11-14T22:13:30Z"),
        );
        // Server clock 10 s ahead of ours: reset is 10 s earlier in our terms.
        h.insert(
            "date",
            HeaderValue::from_static("Tue, 14 Nov 2023 22:13:30 GMT"),
        );
        let r = RateHeaders::from_headers(&h, now);
        assert_eq!(r.limit, Some(10));
        assert_eq!(r.remaining, Some(0));
        assert_eq!(
            r.reset.unwrap().duration_since(now).unwrap(),
            Duration::ZERO
        );
        assert_eq!(r.wait_hint(now), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("3"));
        let r = RateHeaders::from_headers(&h, now);
        assert_eq!(r.wait_hint(now), Some(Duration::from_secs(3)));
    }
}
