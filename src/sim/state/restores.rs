//! Restores from other VPSs (reference §5.5): the backups a VPS may be restored from
//! (`restore-sources`: the account's other VPSs with backups, and the retained backups of
//! terminated ones) and the restore-from-vps job.
//!
//! A room of its own because it is the one place where an action on one VPS reads another's
//! backups; the choices are in docs/hostup-sim.md §3.11.

use serde_json::{json, Value};

use super::job::JobType;
use super::model::{backup_json, Backup};
use super::{Created, State};
use crate::sim::faults::JobFate;
use crate::sim::problem::ApiError;

/// A backup as `restore-sources` lists it: as in the backup list, with `sizeGb` an integer.
fn source_backup_json(b: &Backup) -> Value {
    let mut j = backup_json(b);
    j["sizeGb"] = json!(b.size_gb.round() as i64);
    j
}

impl State {
    /// `GET /api/v2/vps/{id}/backups/restore-sources`: every other VPS of the account that
    /// holds backups, ordered by id; `sourceType` `retained` for a terminated VPS (its backups
    /// outlive it), `server` otherwise.
    pub fn restore_sources(&self, id: &str) -> Result<Value, ApiError> {
        self.live_vps(id)?;
        let sources: Vec<Value> = self
            .vps
            .values()
            .filter(|v| v.id != id && !v.backups.is_empty())
            .map(|v| {
                let mut backups: Vec<&Backup> = v.backups.iter().collect();
                backups.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                let kind = if v.service_status == "terminated" {
                    "retained"
                } else {
                    "server"
                };
                json!({
                    "id": v.id,
                    "name": v.name,
                    "serviceStatus": v.service_status,
                    "sourceType": kind,
                    "backups": backups.iter().map(|b| source_backup_json(b)).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(json!({ "sources": sources }))
    }

    /// `POST /api/v2/vps/{id}/backups/actions/restore-from-vps` after body validation (the
    /// source differs from the target): gate `canRestoreFromAnotherVps` of the target (409),
    /// then 404 `vps_not_found` for an unknown source and 404 `backup_not_found` for a backup
    /// that is not the source's. The job runs on (and holds) the target only.
    #[allow(clippy::too_many_arguments)]
    pub fn restore_from_vps(
        &mut self,
        id: &str,
        source_id: &str,
        backup_id: &str,
        now: i64,
        duration_ms: i64,
        fate: impl FnOnce(JobType) -> JobFate,
    ) -> Result<Created, ApiError> {
        let v = self.live_vps(id)?;
        self.restore_from_another_gate(v, None).check()?;
        let source = self.vps.get(source_id).ok_or_else(|| {
            let mut e = ApiError::vps_not_found();
            e.detail = "No source VPS matching `sourceVpsId` was found.".into();
            e
        })?;
        if !source.backups.iter().any(|b| b.id == backup_id) {
            let mut e = ApiError::backup_not_found();
            e.detail = "No backup matching `backupId` was found on the source VPS.".into();
            return Err(e);
        }
        let mut job = self.new_job(
            JobType::BackupRestore,
            id,
            now,
            duration_ms,
            fate(JobType::BackupRestore),
        );
        job.backup_id = Some(backup_id.to_string());
        job.source_vps_id = Some(source_id.to_string());
        Ok(self.insert_job(job))
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::faults::JobFate;
    use crate::sim::fixture::{BACKUP_APP, VPS_APP, VPS_FULL, VPS_PAYG};
    use crate::sim::state::tests::state;

    #[test]
    fn sources_are_the_other_vps_with_backups_and_retained_ones() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let ids = |s: &crate::sim::state::State| {
            s.restore_sources(VPS_PAYG).unwrap()["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["id"].as_str().unwrap().to_string(),
                        x["sourceType"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&s),
            [
                (VPS_APP.to_string(), serde_json::json!("server")),
                (VPS_FULL.to_string(), serde_json::json!("server"))
            ]
        );
        s.terminate(VPS_APP, t0, 1000).unwrap();
        assert_eq!(ids(&s)[0].1, "retained");
        // A retained backup can still be restored from.
        let c = s
            .restore_from_vps(VPS_PAYG, VPS_APP, BACKUP_APP, t0, 1000, |_| JobFate::Normal)
            .unwrap();
        s.advance(t0 + 1000, 1000);
        assert_eq!(
            s.jobs[&c.job_id].result.as_ref().unwrap()["sourceVpsId"],
            VPS_APP
        );
        assert_eq!(
            s.vps[VPS_PAYG].last_restore.as_ref().unwrap()["backupId"],
            BACKUP_APP
        );
        let e = s
            .restore_from_vps(VPS_PAYG, VPS_FULL, BACKUP_APP, t0 + 2000, 1000, |_| {
                JobFate::Normal
            })
            .err()
            .unwrap();
        assert_eq!((e.status, e.code.as_str()), (404, "backup_not_found"));
    }
}
