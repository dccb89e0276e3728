//! What each HostUp endpoint reads from or does to the account: the VPS list and its cursors,
//! a VPS, the snapshot and backup lists, and the snapshot and backup actions (checking gates,
//! then creating jobs).
//!
//! Bodies are validated by the API layer (`api`) before these run; here is only what the
//! account answers, so it can be tested without HTTP.

use serde_json::{json, Value};

use super::gates::{Gate, NO_SNAPSHOTS};
use super::job::{Job, JobType};
use super::model::{backup_json, snapshot_json, vps_json, Backup, Snapshot, Vps};
use super::{Created, State};
use crate::sim::config::{GateCodeKey, SnapshotVisibility};
use crate::sim::faults::JobFate;
use crate::sim::ids::is_public_id;
use crate::sim::problem::ApiError;

/// Run-time choices that shape what list reads show (docs/hostup-sim.md, "Choices").
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    pub gate_code: GateCodeKey,
    pub visibility: SnapshotVisibility,
    pub has_more: bool,
    /// A gate forced closed by a `busy` fault with `gates` (stands where `job_in_progress`
    /// would).
    pub forced: Option<Gate>,
}

/// Parameters of a VPS list request.
pub(crate) struct ListQuery {
    pub limit: usize,
    pub after: Option<String>,
    pub name: Option<String>,
    pub primary_ip: Option<String>,
}

/// The cursor that continues a VPS list after `id`.
pub(crate) fn encode_cursor(id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

/// Decodes a cursor into the id it continues after; `None` when malformed.
pub(crate) fn decode_cursor(cursor: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let id = s.strip_prefix("v1:")?;
    is_public_id("vps_", id).then(|| id.to_string())
}

impl State {
    /// `GET /api/v2/vps`.
    pub fn list_vps(&self, q: &ListQuery, include_maintenance: bool, view: &View) -> Value {
        let matching = self.vps.values().filter(|v| {
            q.name
                .as_ref()
                .is_none_or(|n| v.name.to_lowercase() == n.to_lowercase())
                && q.primary_ip
                    .as_ref()
                    .is_none_or(|ip| v.primary_ip.as_deref() == Some(ip.as_str()))
                && q.after.as_ref().is_none_or(|a| v.id.as_str() > a.as_str())
        });
        let mut page: Vec<&Vps> = matching.take(q.limit + 1).collect();
        let more = page.len() > q.limit;
        page.truncate(q.limit);
        let next = if more {
            page.last().map(|v| encode_cursor(&v.id))
        } else {
            None
        };
        let data: Vec<Value> = page
            .iter()
            .map(|v| {
                let mut j = vps_json(v);
                if include_maintenance {
                    j["pendingMaintenance"] = Value::Null;
                    j["pendingMaintenanceHasDeadline"] = json!(false);
                }
                j
            })
            .collect();
        let mut body = json!({"data": data, "nextCursor": next});
        if view.has_more {
            body["hasMore"] = json!(more);
        }
        body
    }

    /// `GET /api/v2/vps/{id}`.
    pub fn get_vps(&self, id: &str) -> Result<Value, ApiError> {
        Ok(vps_json(self.vps(id)?))
    }

    /// Snapshots being taken on `v` (unfinished create jobs), oldest first.
    fn snapshots_being_taken<'a>(&'a self, v: &'a Vps) -> impl Iterator<Item = &'a Job> + 'a {
        let mut jobs: Vec<&Job> = self
            .active
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .filter(|j| j.vps_id == v.id && j.job_type == JobType::SnapshotCreate)
            .collect();
        jobs.sort_by_key(|j| (j.created_at, j.id.clone()));
        jobs.into_iter()
    }

    /// `GET /api/v2/vps/{id}/snapshots`.
    pub fn list_snapshots(&self, id: &str, view: &View) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        let (create, restore) = self.snapshot_gates(v, view.forced.as_ref());
        let available = v.plan.snapshot_slots > 0;
        let mut snaps: Vec<&Snapshot> = v.snapshots.iter().collect();
        snaps.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
        let newest = snaps.last().map(|s| s.name.clone());
        let mut data: Vec<Value> = snaps.iter().map(|s| snapshot_json(s)).collect();
        if view.visibility == SnapshotVisibility::Immediate {
            // Listed while being taken, without times; the same item its job later completes
            // (parentName = the newest snapshot that exists now).
            for j in self.snapshots_being_taken(v) {
                let name = j.snapshot_name.clone().unwrap_or_default();
                data.push(json!({
                    "displayId": name,
                    "name": name,
                    "description": j.description,
                    "createdAt": null,
                    "expiresAt": null,
                    "includesMemoryState": false,
                    "parentName": newest,
                }));
            }
        }
        let used = data.len();
        Ok(json!({
            "data": data,
            "available": available,
            "reason": if available { Value::Null } else { json!(NO_SNAPSHOTS) },
            "limits": {"totalSnapshots": v.plan.snapshot_slots, "usedSnapshots": used},
            "actions": {
                "canCreate": create.json(view.gate_code),
                "canRestore": restore.json(view.gate_code),
            },
        }))
    }

    /// `GET /api/v2/vps/{id}/backups`.
    pub fn list_backups(&self, id: &str, view: &View) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        let (create, restore) = self.backup_gates(v, view.forced.as_ref());
        let other = self.restore_from_another_gate(v, view.forced.as_ref());
        let used = v.backups.len() as u32;
        let mut backups: Vec<&Backup> = v.backups.iter().collect();
        backups.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(json!({
            "backups": backups.iter().map(|b| backup_json(b)).collect::<Vec<_>>(),
            "quotaInfo": {
                "used": used,
                "limit": v.backup_limit(),
                "remaining": v.backup_limit().map(|l| l.saturating_sub(used)),
            },
            "actions": {
                "canCreateBackup": create.json(view.gate_code),
                "canRestore": restore.json(view.gate_code),
                "canRestoreFromAnotherVps": other.json(view.gate_code),
            },
        }))
    }

    /// Checks a VPS exists (and is not terminated); used before body validation so 404 wins
    /// over 400.
    pub fn require_vps(&self, id: &str) -> Result<(), ApiError> {
        self.live_vps(id).map(|_| ())
    }

    /// `POST /api/v2/vps/{id}/snapshots` after body validation. `fate` is asked only once the
    /// request is known to create a job, so a 409 does not use up a fault.
    pub fn create_snapshot(
        &mut self,
        id: &str,
        name: &str,
        description: Option<String>,
        now: i64,
        duration_ms: i64,
        fate: impl FnOnce(JobType) -> JobFate,
    ) -> Result<Created, ApiError> {
        let v = self.live_vps(id)?;
        let (create, _) = self.snapshot_gates(v, None);
        if let Some(code) = &create.code {
            if code != "snapshot_limit_reached" {
                create.check()?;
            }
        }
        if v.snapshots.iter().any(|s| s.name == name) {
            return Err(ApiError::conflict(
                "snapshot_exists",
                format!("A snapshot named {name:?} already exists on this VPS."),
            ));
        }
        create.check()?;
        let mut job = self.new_job(
            JobType::SnapshotCreate,
            id,
            now,
            duration_ms,
            fate(JobType::SnapshotCreate),
        );
        job.snapshot_name = Some(name.to_string());
        job.description = description;
        Ok(self.insert_job(job))
    }

    /// `DELETE /api/v2/vps/{id}/snapshots/{name}`; `Ok(None)` when deleted synchronously.
    #[allow(clippy::too_many_arguments)]
    pub fn delete_snapshot(
        &mut self,
        id: &str,
        name: &str,
        sync: bool,
        now: i64,
        duration_ms: i64,
        fate: impl FnOnce(JobType) -> JobFate,
    ) -> Result<Option<Created>, ApiError> {
        let v = self.live_vps(id)?;
        if let Some(g) = Self::service_gate(v).or_else(|| self.readiness_gate(v, None)) {
            g.check()?;
        }
        if !v.snapshots.iter().any(|s| s.name == name) {
            return Err(ApiError::snapshot_not_found(name));
        }
        if sync {
            if let Some(v) = self.vps.get_mut(id) {
                v.snapshots.retain(|s| s.name != name);
            }
            return Ok(None);
        }
        let mut job = self.new_job(
            JobType::SnapshotDelete,
            id,
            now,
            duration_ms,
            fate(JobType::SnapshotDelete),
        );
        job.snapshot_name = Some(name.to_string());
        Ok(Some(self.insert_job(job)))
    }

    /// `POST /api/v2/vps/{id}/snapshots/{name}/actions/restore`.
    pub fn restore_snapshot(
        &mut self,
        id: &str,
        name: &str,
        now: i64,
        duration_ms: i64,
        fate: impl FnOnce(JobType) -> JobFate,
    ) -> Result<Created, ApiError> {
        let v = self.live_vps(id)?;
        let (_, restore) = self.snapshot_gates(v, None);
        restore.check()?;
        if !v.snapshots.iter().any(|s| s.name == name) {
            return Err(ApiError::snapshot_not_found(name));
        }
        let mut job = self.new_job(
            JobType::SnapshotRestore,
            id,
            now,
            duration_ms,
            fate(JobType::SnapshotRestore),
        );
        job.snapshot_name = Some(name.to_string());
        Ok(self.insert_job(job))
    }

    /// `POST /api/v2/vps/{id}/backups`.
    pub fn create_backup(
        &mut self,
        id: &str,
        note: Option<String>,
        now: i64,
        duration_ms: i64,
        fate: impl FnOnce(JobType) -> JobFate,
    ) -> Result<Created, ApiError> {
        let v = self.live_vps(id)?;
        let (create, _) = self.backup_gates(v, None);
        create.check()?;
        let mut job = self.new_job(
            JobType::BackupCreate,
            id,
            now,
            duration_ms,
            fate(JobType::BackupCreate),
        );
        job.note = note;
        Ok(self.insert_job(job))
    }

    /// `DELETE /api/v2/vps/{id}/backups/{backupId}` (synchronous, 204).
    pub fn delete_backup(&mut self, id: &str, backup_id: &str) -> Result<(), ApiError> {
        let v = self.live_vps(id)?;
        if let Some(g) = Self::service_gate(v).or_else(|| self.readiness_gate(v, None)) {
            g.check()?;
        }
        if !v.backups.iter().any(|b| b.id == backup_id) {
            return Err(ApiError::backup_not_found());
        }
        if let Some(v) = self.vps.get_mut(id) {
            v.backups.retain(|b| b.id != backup_id);
        }
        Ok(())
    }

    /// `POST /api/v2/vps/{id}/backups/{backupId}/actions/restore`.
    pub fn restore_backup(
        &mut self,
        id: &str,
        backup_id: &str,
        now: i64,
        duration_ms: i64,
        fate: impl FnOnce(JobType) -> JobFate,
    ) -> Result<Created, ApiError> {
        let v = self.live_vps(id)?;
        let (_, restore) = self.backup_gates(v, None);
        restore.check()?;
        if !v.backups.iter().any(|b| b.id == backup_id) {
            return Err(ApiError::backup_not_found());
        }
        let mut job = self.new_job(
            JobType::BackupRestore,
            id,
            now,
            duration_ms,
            fate(JobType::BackupRestore),
        );
        job.backup_id = Some(backup_id.to_string());
        Ok(self.insert_job(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::{VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS};
    use crate::sim::state::tests::state;

    #[test]
    fn cursor_round_trip() {
        let c = encode_cursor(VPS_APP);
        assert_eq!(decode_cursor(&c).as_deref(), Some(VPS_APP));
        assert_eq!(decode_cursor("garbage!"), None);
        assert_eq!(decode_cursor(&encode_cursor("x")), None);
    }

    #[test]
    fn gates_and_conflicts() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let e = s
            .create_snapshot(VPS_NO_SNAPSHOTS, "a", None, t0, 0, |_| JobFate::Normal)
            .err()
            .unwrap();
        assert_eq!((e.status, e.code.as_str()), (409, "feature_not_in_plan"));
        let e = s
            .create_snapshot(VPS_FULL, "nightly-1", None, t0, 0, |_| JobFate::Normal)
            .err()
            .unwrap();
        assert_eq!(e.code, "snapshot_exists");
        let e = s
            .create_snapshot(VPS_FULL, "new", None, t0, 0, |_| JobFate::Normal)
            .err()
            .unwrap();
        assert_eq!(e.code, "snapshot_limit_reached");
        let e = s
            .create_backup(VPS_FULL, None, t0, 0, |_| JobFate::Normal)
            .err()
            .unwrap();
        assert_eq!(e.code, "backup_quota_exceeded");
        let e = s
            .restore_snapshot(VPS_APP, "nope", t0, 0, |_| JobFate::Normal)
            .err()
            .unwrap();
        assert_eq!((e.status, e.code.as_str()), (404, "snapshot_not_found"));
    }
}
