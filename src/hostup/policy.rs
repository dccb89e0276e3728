//! The backup and snapshot policy endpoints: the snapshot schedule of a VPS, its backup
//! schedules and its backup settings, with their models.
//!
//! A room of its own because these are settings, not jobs: every call here is a read or a
//! synchronous write (HostUp acts before it answers), none queues a job. HostUp documents the
//! requests but not all of the answers (docs/hostup-sim.md lists what the simulator chose), so
//! the models accept every plausible form: camelCase and the legacy API's snake_case, the
//! object bare or under `data`, numbers as strings, and a write answered with a body of any
//! shape or with 204.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Client;
use super::endpoints::{check_id, SCOPE_READ, SCOPE_WRITE};
use super::error::Error;
use super::models::{lenient_int, Gate, SnapshotLimits};
use super::transport::json_body;

/// A VPS's snapshot schedule, as `GET /api/v2/vps/{id}/snapshot-schedules` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotScheduleInfo {
    /// The schedule, or `None` when the VPS has none.
    #[serde(alias = "data")]
    pub schedule: Option<SnapshotSchedule>,
    /// Snapshot capacity (scheduled snapshots use the same slots as manual ones).
    pub limits: Option<SnapshotLimits>,
    /// Whether the VPS can have a schedule (it has at least one snapshot slot).
    pub available: Option<bool>,
    /// Why not.
    pub reason: Option<String>,
    /// Gates.
    pub actions: Option<SnapshotScheduleActions>,
}

impl SnapshotScheduleInfo {
    /// Total snapshot slots, if known.
    pub fn total_snapshots(&self) -> Option<i64> {
        self.limits.as_ref().and_then(|l| l.total_snapshots)
    }

    /// The `canEnable` gate, if HostUp sent it.
    pub fn can_enable(&self) -> Option<&Gate> {
        self.actions.as_ref().and_then(|a| a.can_enable.as_ref())
    }
}

/// The snapshot schedule's gates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotScheduleActions {
    /// May a schedule be enabled now.
    #[serde(alias = "can_enable")]
    pub can_enable: Option<Gate>,
}

/// One snapshot schedule (a VPS has at most one). Its v2 fields are not documented; these are
/// the v2 names by analogy, with the legacy API's snake_case accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotSchedule {
    /// Whether it takes snapshots.
    #[serde(alias = "is_enabled", alias = "isEnabled")]
    pub enabled: Option<bool>,
    /// Hours between snapshots (HostUp keeps 4–24).
    #[serde(alias = "interval_hours", deserialize_with = "lenient_int")]
    pub interval_hours: Option<i64>,
    /// When it last took a snapshot.
    #[serde(alias = "last_run")]
    pub last_run: Option<String>,
    /// When it takes the next one.
    #[serde(alias = "next_run")]
    pub next_run: Option<String>,
}

/// Body of `POST /api/v2/vps/{id}/snapshot-schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSnapshotSchedule {
    /// Whether it takes snapshots.
    pub enabled: bool,
    /// Hours between snapshots: HostUp floors and clamps to 4–24, so send a value in range.
    pub interval_hours: i64,
}

impl Client {
    /// `GET /api/v2/vps/{id}/snapshot-schedules`: the schedule (or none), slots and gate.
    pub async fn snapshot_schedule(&self, vps_id: &str) -> Result<SnapshotScheduleInfo, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshot-schedules"])?;
        let info = self.info(
            Method::GET,
            &url,
            "read the VPS's snapshot schedule",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// `POST /api/v2/vps/{id}/snapshot-schedules`: creates or replaces the schedule. HostUp
    /// answers with the schedule as it now is; `None` when it answered 204 or a body without
    /// a schedule (the caller reads it back).
    pub async fn set_snapshot_schedule(
        &self,
        vps_id: &str,
        req: &SetSnapshotSchedule,
    ) -> Result<Option<SnapshotScheduleInfo>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshot-schedules"])?;
        let info = self.info(
            Method::POST,
            &url,
            "set the VPS's snapshot schedule",
            Some(SCOPE_WRITE),
            Some(id),
            None,
        );
        let body = json_body(req)?;
        let answer: Option<Value> = self.write(Method::POST, url, Some(body), info).await?;
        Ok(answer
            .and_then(|v| serde_json::from_value::<SnapshotScheduleInfo>(v).ok())
            .filter(|s| s.schedule.is_some()))
    }

    /// `DELETE /api/v2/vps/{id}/snapshot-schedules`: removes the schedule (any 2xx answer,
    /// with or without a body, means done).
    pub async fn delete_snapshot_schedule(&self, vps_id: &str) -> Result<(), Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshot-schedules"])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the VPS's snapshot schedule",
            Some(SCOPE_WRITE),
            Some(id),
            None,
        );
        let _: Option<Value> = self.write(Method::DELETE, url, None, info).await?;
        Ok(())
    }
}
