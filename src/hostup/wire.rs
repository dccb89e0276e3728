//! The parsers of everything HostUp sends, as pure functions over bytes and header text.
//!
//! The client reaches these through HTTP; fuzz targets (fuzz/) and regression tests
//! (tests/fuzz_regressions.rs) call them here directly, without a network, so that every body
//! and header HostUp could send is exercised by the same code the client runs. Each function
//! returns `None` or an error for input it cannot read; none may panic.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::error::{snippet as cut_snippet, Problem};
use super::jobs::JobSnapshot;
use super::models::{BackupList, Operation, SnapshotList, Vps, VpsPage};
use super::retry::{parse_reset, parse_retry_after};

/// An error body (RFC 7807 Problem Details, or HostUp's legacy `{success:false, error}`) as the
/// client reads it for a non-2xx answer with status `status`; `None` when it is not JSON.
pub fn problem(status: u16, body: &[u8]) -> Option<Problem> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(Problem::from_json(status, &v, None))
}

/// The `operation` envelope (or a legacy/bare shape) of a job-creating answer.
pub fn operation(body: &[u8]) -> Option<Operation> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Operation::from_value(&v)
}

/// A `GET /api/jobs/{id}` body, in any of the documented shapes.
pub fn job(body: &[u8]) -> Result<JobSnapshot, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    JobSnapshot::from_value(&v)
}

/// A `GET /api/v2/vps/{id}/snapshots` body.
pub fn snapshot_list(body: &[u8]) -> Result<SnapshotList, serde_json::Error> {
    serde_json::from_slice(body)
}

/// A `GET /api/v2/vps/{id}/backups` body.
pub fn backup_list(body: &[u8]) -> Result<BackupList, serde_json::Error> {
    serde_json::from_slice(body)
}

/// A `GET /api/v2/vps` page.
pub fn vps_page(body: &[u8]) -> Result<VpsPage, serde_json::Error> {
    serde_json::from_slice(body)
}

/// A `GET /api/v2/vps/{id}` body.
pub fn vps(body: &[u8]) -> Result<Vps, serde_json::Error> {
    serde_json::from_slice(body)
}

/// A `Retry-After` header value (delta seconds or an HTTP date), relative to `now`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    parse_retry_after(value, now)
}

/// An `X-RateLimit-Reset` header value (ISO time, epoch or delta seconds), relative to `now`.
pub fn rate_limit_reset(value: &str, now: SystemTime) -> Option<SystemTime> {
    parse_reset(value, now)
}

/// The quoted start of a body that is not what was expected, as error messages show it.
pub fn snippet(body: &[u8]) -> String {
    cut_snippet(body)
}
