//! The simulator's clock: wall-clock milliseconds and their text forms (ISO-8601 times in
//! bodies, the time part of backup storage keys).
//!
//! Every time the simulator keeps is such a number, so its state can be saved and reloaded and a
//! job's timeline is the same however often it is looked at.

use std::time::{SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::OffsetDateTime;

/// Wall-clock milliseconds since the Unix epoch.
///
/// The simulator keeps all times as wall-clock milliseconds so its state can be persisted and
/// reloaded (an `Instant` cannot be).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// ISO-8601 UTC with milliseconds, e.g. `2026-04-27T12:34:56.000Z`, as in the reference.
pub(crate) fn iso(ms: i64) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

/// Parses an RFC 3339 time into wall-clock milliseconds.
pub(crate) fn parse_iso(s: &str) -> Result<i64, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| format!("invalid time {s:?}: {e}"))
}

/// `storageKey` time part, `2026_04_27-10_00_00`.
pub(crate) fn storage_stamp(ms: i64) -> String {
    let fmt = format_description!("[year]_[month]_[day]-[hour]_[minute]_[second]");
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let ms = 1_777_291_200_123;
        let s = iso(ms);
        assert_eq!(s, "2026-04-27T12:00:00.123Z");
        assert_eq!(parse_iso(&s), Ok(ms));
        assert_eq!(storage_stamp(ms), "2026_04_27-12_00_00");
    }
}
