//! The snapshot schedule: HostUp's singleton per VPS (no id of its own) that takes a snapshot
//! every `intervalHours`, into the same slots as manual snapshots (reference §4.5).
//!
//! A room of its own because the schedule is configuration, not a job: it has its own gate
//! (`canEnable`, closed by the service and the plan but never by a job in flight), its own
//! undocumented object shape (docs/hostup-sim.md §3.9) and an admin lever that runs it now.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::gates::{Gate, NO_SNAPSHOTS};
use super::job::JobType;
use super::model::{snapshot_json, Snapshot, Vps};
use super::State;
use crate::sim::clock::{iso, parse_iso, storage_stamp};
use crate::sim::config::{GateCodeKey, SnapshotScheduleShape};
use crate::sim::fixture::FixtureSnapshotSchedule;
use crate::sim::problem::ApiError;

/// The interval bounds HostUp clamps `intervalHours` to.
pub(crate) const MIN_INTERVAL_HOURS: u32 = 4;
pub(crate) const MAX_INTERVAL_HOURS: u32 = 24;
const HOUR_MS: i64 = 3_600_000;

/// A VPS's snapshot schedule.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnapshotSchedule {
    pub enabled: bool,
    pub interval_hours: u32,
    pub created_at: i64,
    /// When it was last set (the next run counts from here or from the last run, the later).
    pub updated_at: i64,
    pub last_run: Option<i64>,
}

/// `intervalHours` as HostUp takes it: floored, then clamped to 4–24.
pub(crate) fn clamp_interval(hours: f64) -> u32 {
    if hours.is_nan() {
        return MIN_INTERVAL_HOURS;
    }
    hours
        .floor()
        .clamp(MIN_INTERVAL_HOURS as f64, MAX_INTERVAL_HOURS as f64) as u32
}

impl SnapshotSchedule {
    /// A fixture's schedule, set at `now`.
    pub(super) fn from_fixture(f: &FixtureSnapshotSchedule, now: i64) -> Result<Self, String> {
        Ok(Self {
            enabled: f.enabled,
            interval_hours: clamp_interval(f.interval_hours as f64),
            created_at: now,
            updated_at: now,
            last_run: f.last_run.as_deref().map(parse_iso).transpose()?,
        })
    }

    /// When it runs next: one interval after it was set or last ran (the later); null while
    /// disabled.
    pub fn next_run(&self) -> Option<i64> {
        let from = self
            .last_run
            .map_or(self.updated_at, |l| l.max(self.updated_at));
        self.enabled
            .then(|| from + self.interval_hours as i64 * HOUR_MS)
    }

    /// The schedule object in the chosen shape (docs/hostup-sim.md §3.9).
    pub fn json(&self, v: &Vps, shape: SnapshotScheduleShape) -> Value {
        let t = |ms: Option<i64>| ms.map(iso);
        match shape {
            SnapshotScheduleShape::V2 => json!({
                "enabled": self.enabled,
                "intervalHours": self.interval_hours,
                "lastRun": t(self.last_run),
                "nextRun": t(self.next_run()),
                "createdAt": iso(self.created_at),
            }),
            SnapshotScheduleShape::Legacy => json!({
                "id": v.vmid * 10 + 1,
                "vm_id": v.vmid,
                "enabled": self.enabled,
                "interval_hours": self.interval_hours,
                "retention_days": 1,
                "last_run": t(self.last_run),
                "next_run": t(self.next_run()),
                "created_at": iso(self.created_at),
            }),
        }
    }
}

impl State {
    /// `canEnable`: closed by the service status and by a plan without snapshot slots; a job
    /// in flight or a VPS that is not ready does not close it (a schedule is configuration).
    fn can_enable_gate(v: &Vps) -> Gate {
        Self::service_gate(v)
            .or_else(|| {
                (v.plan.snapshot_slots == 0)
                    .then(|| Gate::closed("feature_not_in_plan", NO_SNAPSHOTS.into()))
            })
            .unwrap_or_else(Gate::open)
    }

    /// `GET /api/v2/vps/{id}/snapshot-schedules` (also what POST and, in `body` mode, DELETE
    /// answer).
    pub fn snapshot_schedule_body(
        &self,
        id: &str,
        shape: SnapshotScheduleShape,
        gate_code: GateCodeKey,
    ) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        let available = v.plan.snapshot_slots > 0;
        Ok(json!({
            "schedule": v.snapshot_schedule.as_ref().map(|s| s.json(v, shape)),
            "limits": {"totalSnapshots": v.plan.snapshot_slots},
            "available": available,
            "reason": if available { Value::Null } else { json!(NO_SNAPSHOTS) },
            "actions": {"canEnable": Self::can_enable_gate(v).json(gate_code)},
        }))
    }

    /// `POST /api/v2/vps/{id}/snapshot-schedules` after body validation: creates or replaces
    /// the singleton; 409 with `canEnable`'s code when it is closed.
    pub fn set_snapshot_schedule(
        &mut self,
        id: &str,
        enabled: bool,
        interval_hours: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        let v = self.live_vps(id)?;
        Self::can_enable_gate(v).check()?;
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        let (created_at, last_run) = v
            .snapshot_schedule
            .as_ref()
            .map_or((now, None), |s| (s.created_at, s.last_run));
        v.snapshot_schedule = Some(SnapshotSchedule {
            enabled,
            interval_hours,
            created_at,
            updated_at: now,
            last_run,
        });
        Ok(())
    }

    /// `DELETE /api/v2/vps/{id}/snapshot-schedules`: 404 `snapshot_schedule_not_found` when
    /// there is none.
    pub fn delete_snapshot_schedule(&mut self, id: &str) -> Result<(), ApiError> {
        self.live_vps(id)?;
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        v.snapshot_schedule
            .take()
            .map(|_| ())
            .ok_or_else(ApiError::snapshot_schedule_not_found)
    }

    /// Runs the schedule now (admin API): takes `auto-<time>` into a free slot, as a scheduled
    /// snapshot would. Refused while disabled (409 `schedule_disabled`) or when every slot is
    /// held, counting snapshots being taken (409 `snapshot_limit_reached`). Answers the
    /// snapshot and the schedule.
    pub fn run_snapshot_schedule(
        &mut self,
        id: &str,
        now: i64,
        ttl_ms: i64,
        shape: SnapshotScheduleShape,
    ) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        let schedule = v
            .snapshot_schedule
            .as_ref()
            .ok_or_else(ApiError::snapshot_schedule_not_found)?;
        if !schedule.enabled {
            return Err(ApiError::conflict(
                "schedule_disabled",
                "The snapshot schedule is disabled.",
            ));
        }
        let being_taken = self
            .active
            .iter()
            .filter_map(|j| self.jobs.get(j))
            .filter(|j| j.vps_id == id && j.job_type == JobType::SnapshotCreate)
            .count();
        let slots = v.plan.snapshot_slots as usize;
        if v.snapshots.len() + being_taken >= slots {
            return Err(ApiError::conflict(
                "snapshot_limit_reached",
                format!(
                    "All {slots} snapshot slots are in use; the scheduled snapshot was not taken."
                ),
            ));
        }
        let base = format!("auto-{}", storage_stamp(now));
        let taken = |n: &str| v.snapshots.iter().any(|s| s.name == n);
        let name = (1..)
            .map(|i| match i {
                1 => base.clone(),
                i => format!("{base}-{i}"),
            })
            .find(|n| !taken(n))
            .unwrap_or(base);
        let parent = v
            .snapshots
            .iter()
            .max_by_key(|s| s.created_at)
            .map(|s| s.name.clone());
        let snapshot = Snapshot {
            name,
            description: Some("Scheduled snapshot".into()),
            created_at: now,
            expires_at: now + ttl_ms,
            includes_memory_state: false,
            parent_name: parent,
        };
        let rendered = snapshot_json(&snapshot);
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        v.snapshots.push(snapshot);
        if let Some(s) = v.snapshot_schedule.as_mut() {
            s.last_run = Some(now);
        }
        let v = &self.vps[id];
        let schedule = v.snapshot_schedule.as_ref().map(|s| s.json(v, shape));
        Ok(json!({"snapshot": rendered, "schedule": schedule}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::{VPS_APP, VPS_NO_SNAPSHOTS};
    use crate::sim::state::tests::state;

    #[test]
    fn intervals_are_floored_and_clamped() {
        for (given, taken) in [
            (3.0, 4),
            (25.0, 24),
            (6.7, 6),
            (4.0, 4),
            (24.9, 24),
            (-1.0, 4),
            (1e300, 24),
            (f64::NAN, 4),
        ] {
            assert_eq!(clamp_interval(given), taken, "{given}");
        }
    }

    #[test]
    fn next_run_counts_from_the_later_of_set_and_last_run() {
        let mut s = SnapshotSchedule {
            enabled: true,
            interval_hours: 6,
            created_at: 0,
            updated_at: 1000,
            last_run: None,
        };
        assert_eq!(s.next_run(), Some(1000 + 6 * HOUR_MS));
        s.last_run = Some(5000);
        assert_eq!(s.next_run(), Some(5000 + 6 * HOUR_MS));
        s.enabled = false;
        assert_eq!(s.next_run(), None);
    }

    #[test]
    fn a_run_takes_a_slot_and_stops_when_they_are_full() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let shape = SnapshotScheduleShape::V2;
        assert_eq!(
            s.run_snapshot_schedule(VPS_APP, t0, 1000, shape)
                .unwrap_err()
                .code,
            "snapshot_schedule_not_found"
        );
        assert_eq!(
            s.set_snapshot_schedule(VPS_NO_SNAPSHOTS, true, 4, t0)
                .unwrap_err()
                .code,
            "feature_not_in_plan"
        );
        s.set_snapshot_schedule(VPS_APP, true, 4, t0).unwrap();
        // app-01: 3 slots, 1 held; two runs in the same second get distinct names.
        let a = s
            .run_snapshot_schedule(VPS_APP, t0, 86_400_000, shape)
            .unwrap();
        let b = s
            .run_snapshot_schedule(VPS_APP, t0, 86_400_000, shape)
            .unwrap();
        assert_ne!(a["snapshot"]["name"], b["snapshot"]["name"]);
        assert_eq!(b["snapshot"]["parentName"], a["snapshot"]["name"]);
        assert_eq!(
            s.run_snapshot_schedule(VPS_APP, t0, 86_400_000, shape)
                .unwrap_err()
                .code,
            "snapshot_limit_reached"
        );
        assert_eq!(s.vps[VPS_APP].snapshots.len(), 3);
        s.set_snapshot_schedule(VPS_APP, false, 4, t0).unwrap();
        assert_eq!(
            s.run_snapshot_schedule(VPS_APP, t0, 1000, shape)
                .unwrap_err()
                .code,
            "schedule_disabled"
        );
        s.delete_snapshot_schedule(VPS_APP).unwrap();
        assert_eq!(
            s.delete_snapshot_schedule(VPS_APP).unwrap_err().code,
            "snapshot_schedule_not_found"
        );
    }
}
