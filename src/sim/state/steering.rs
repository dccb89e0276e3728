//! What the admin API does to the account beyond what HostUp's endpoints do: forcing a job to
//! its end, forgetting a job, changing a VPS's service status or power state (for a while),
//! terminating or removing a VPS, expiring a snapshot.
//!
//! A room of its own so the account's HostUp behaviour (`endpoints`) stays apart from the
//! levers tests pull to reach states HostUp would take hours or an operator to reach.

use super::model::PowerRevert;
use super::State;
use crate::sim::problem::ApiError;

impl State {
    /// Forces a job to its end now (admin API).
    pub fn force(
        &mut self,
        id: &str,
        fail: Option<String>,
        now: i64,
        ttl_ms: i64,
    ) -> Result<(), ApiError> {
        let job = self.jobs.get(id).ok_or_else(ApiError::job_not_found)?;
        if job.finished.is_some() {
            return Err(ApiError::conflict(
                "job_already_finished",
                format!("Job {id} has already finished."),
            ));
        }
        let (_, progress) = job.status(now);
        let failed = fail.map(|m| {
            if m.is_empty() {
                job.job_type.default_failure().to_string()
            } else {
                m
            }
        });
        let progress = if failed.is_some() { progress } else { 100 };
        self.finish(id, now, failed, progress, ttl_ms);
        Ok(())
    }

    /// Forgets a job (admin API), as HostUp does once a job has expired: polls answer 404 from
    /// now on, an unfinished job's effect never applies, and its VPS is free again.
    pub fn forget_job(&mut self, id: &str) -> Result<(), ApiError> {
        self.jobs.remove(id).ok_or_else(ApiError::job_not_found)?;
        self.active.remove(id);
        Ok(())
    }

    /// Fails every unfinished job on `vps_id` now with `message` (the VPS went away).
    fn fail_jobs_of(&mut self, vps_id: &str, message: &str, now: i64, ttl_ms: i64) {
        let ids: Vec<String> = self
            .active
            .iter()
            .filter(|id| self.jobs.get(*id).is_some_and(|j| j.vps_id == vps_id))
            .cloned()
            .collect();
        for id in ids {
            let progress = self.jobs.get(&id).map(|j| j.status(now).1).unwrap_or(0);
            self.finish(&id, now, Some(message.to_string()), progress, ttl_ms);
        }
    }

    /// Sets a VPS's service status and/or power state (admin API); `revert_after_ms` makes a
    /// power state temporary. Terminating fails the VPS's unfinished jobs.
    pub fn set_vps(
        &mut self,
        id: &str,
        service_status: Option<String>,
        power_state: Option<Option<String>>,
        revert_after_ms: Option<i64>,
        now: i64,
        ttl_ms: i64,
    ) -> Result<(), ApiError> {
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        if let Some(p) = power_state {
            let before = v
                .power_revert
                .take()
                .map_or(v.power_state.clone(), |r| r.to);
            v.power_state = p;
            v.power_revert = revert_after_ms.map(|ms| PowerRevert {
                at: now + ms,
                to: before,
            });
        }
        let terminated = service_status.as_deref() == Some("terminated");
        if let Some(s) = service_status {
            v.service_status = s;
        }
        if terminated {
            self.fail_jobs_of(id, "The VPS was terminated.", now, ttl_ms);
        }
        Ok(())
    }

    /// Terminates a VPS (admin API): `serviceStatus: terminated`, `powerState: stopped`, its
    /// unfinished jobs fail; it stays in the inventory but its snapshots and backups answer 404.
    pub fn terminate(&mut self, id: &str, now: i64, ttl_ms: i64) -> Result<(), ApiError> {
        self.set_vps(
            id,
            Some("terminated".into()),
            Some(Some("stopped".into())),
            None,
            now,
            ttl_ms,
        )
    }

    /// Removes a VPS from the account (admin API): every endpoint answers 404 `vps_not_found`
    /// for it; its unfinished jobs fail.
    pub fn remove_vps(&mut self, id: &str, now: i64, ttl_ms: i64) -> Result<(), ApiError> {
        self.vps(id)?;
        self.fail_jobs_of(id, "The VPS no longer exists.", now, ttl_ms);
        self.vps.remove(id);
        Ok(())
    }

    /// Expires a snapshot now (admin API).
    pub fn expire_snapshot(&mut self, vps_id: &str, name: &str) -> Result<(), ApiError> {
        let v = self
            .vps
            .get_mut(vps_id)
            .ok_or_else(ApiError::vps_not_found)?;
        let before = v.snapshots.len();
        v.snapshots.retain(|s| s.name != name);
        if v.snapshots.len() == before {
            return Err(ApiError::snapshot_not_found(name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::faults::JobFate;
    use crate::sim::fixture::{VPS_APP, VPS_PAYG};
    use crate::sim::state::endpoints::View;
    use crate::sim::state::job::Status;
    use crate::sim::state::tests::state;

    #[test]
    fn a_forgotten_job_is_unknown_frees_its_vps_and_has_no_effect() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let c = s
            .create_backup(VPS_APP, Some("n".into()), t0, 1000, |_| JobFate::Normal)
            .unwrap();
        s.forget_job(&c.job_id).unwrap();
        assert!(!s.jobs.contains_key(&c.job_id));
        assert_eq!(s.forget_job(&c.job_id).unwrap_err().code, "job_not_found");
        // The VPS takes a new job at once, and the forgotten one never adds its backup.
        let before = s.vps[VPS_APP].backups.len();
        let again = s.create_backup(VPS_APP, None, t0 + 1, 1000, |_| JobFate::Normal);
        assert!(again.is_ok(), "{:?}", again.err().map(|e| e.code));
        s.advance(t0 + 5000, 1000);
        assert_eq!(s.vps[VPS_APP].backups.len(), before + 1);
    }

    #[test]
    fn pending_jobs_and_a_vps_going_away() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        s.jobs_start_pending = true;
        let c = s
            .create_backup(VPS_APP, None, t0, 1000, |_| JobFate::Normal)
            .unwrap();
        assert_eq!(c.status, "pending");
        let j = s.jobs[&c.job_id].clone();
        assert_eq!(j.status(t0 + 49), (Status::Pending, 0));
        assert_eq!(j.status(t0 + 50), (Status::Queued, 0));
        assert_eq!(j.status(t0 + 100).0, Status::InProgress);
        s.terminate(VPS_APP, t0 + 200, 1000).unwrap();
        assert_eq!(s.jobs[&c.job_id].status(t0 + 200).0, Status::Failed);
        assert_eq!(
            s.list_snapshots(VPS_APP, &View::default())
                .unwrap_err()
                .code,
            "vps_not_found"
        );
        assert!(s.get_vps(VPS_APP).is_ok());
        s.advance(t0 + 5000, 1000);
        assert_eq!(
            s.vps[VPS_APP].backups.len(),
            1,
            "no effect after termination"
        );

        s.jobs_start_pending = false;
        let c = s
            .create_backup(VPS_PAYG, None, t0, 1000, |_| JobFate::Normal)
            .unwrap();
        assert_eq!(c.status, "queued");
        s.remove_vps(VPS_PAYG, t0 + 10, 1000).unwrap();
        assert_eq!(s.jobs[&c.job_id].status(t0 + 10).0, Status::Failed);
        assert_eq!(s.get_vps(VPS_PAYG).unwrap_err().code, "vps_not_found");
    }

    #[test]
    fn a_temporary_power_state_reverts() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        s.set_vps(
            VPS_APP,
            None,
            Some(Some("stopping".into())),
            Some(500),
            t0,
            1000,
        )
        .unwrap();
        let v = &s.vps[VPS_APP];
        assert_eq!(
            s.snapshot_gates(v, None).0.code.as_deref(),
            Some("vps_not_ready")
        );
        // A second temporary state still goes back to the first's original.
        s.set_vps(
            VPS_APP,
            None,
            Some(Some("starting".into())),
            Some(500),
            t0 + 100,
            1000,
        )
        .unwrap();
        assert!(!s.advance(t0 + 599, 1000));
        assert!(s.advance(t0 + 600, 1000));
        assert_eq!(s.vps[VPS_APP].power_state.as_deref(), Some("running"));
        let v = &s.vps[VPS_APP];
        assert!(s.snapshot_gates(v, None).0.allowed);
    }
}
