//! The state dump (`GET /_sim/state`, and the VPS entries `PATCH /_sim/vps/{id}` answers):
//! everything the account holds, including what the API never shows (plans, the last restore,
//! the job a VPS is busy with, every job's fate).
//!
//! A room of its own because it is the admin API's view of the account, kept apart from the
//! HostUp API's views so neither changes when the other does.

use serde_json::{json, Value};

use super::job::Job;
use super::model::{backup_json, snapshot_json, vps_json};
use super::State;
use crate::sim::clock::iso;

impl State {
    /// Admin dump.
    pub fn dump(&self, now: i64) -> Value {
        let vps: Vec<Value> = self
            .vps
            .values()
            .map(|v| {
                let mut j = vps_json(v);
                j["plan"] = json!(v.plan);
                j["snapshots"] = json!(v.snapshots.iter().map(snapshot_json).collect::<Vec<_>>());
                j["backups"] = json!(v.backups.iter().map(backup_json).collect::<Vec<_>>());
                j["lastRestore"] = v.last_restore.clone().unwrap_or(Value::Null);
                j["busyJob"] = json!(self.busy_job(&v.id));
                j["snapshotSchedule"] = json!(v.snapshot_schedule);
                j["backupSchedules"] = json!(v.backup_schedules);
                j["backupSettings"] = json!(v.backup_settings);
                j["powerRevert"] = json!(v
                    .power_revert
                    .as_ref()
                    .map(|r| json!({"at": iso(r.at), "to": r.to})));
                j
            })
            .collect();
        let jobs: Vec<Value> = self.jobs.values().map(|j| job_summary(j, now)).collect();
        json!({"vps": vps, "jobs": jobs})
    }
}

fn job_summary(j: &Job, now: i64) -> Value {
    let (status, progress) = j.status(now);
    json!({
        "jobId": j.id,
        "type": j.job_type.as_str(),
        "vpsId": j.vps_id,
        "status": status.as_str(),
        "progress": progress,
        "fate": j.fate,
        "createdAt": iso(j.created_at),
        "finishedAt": j.finished.as_ref().map(|f| iso(f.at)),
        "durationMs": j.duration_ms,
        "result": j.result,
    })
}
