//! The simulated account: VPSs with their snapshots and backups, and the jobs acting on them.
//!
//! Everything time-dependent (job progress, completion, snapshot expiry) is computed from
//! wall-clock milliseconds on access, via [`State::advance`], so no background task is needed and
//! a job's timeline does not depend on how often it is polled.
//!
//! This file holds the account itself: loading it, bringing it up to now, finding its VPSs, and
//! the bookkeeping of its jobs. Its rooms: `model` (VPSs, snapshots, backups) and `job` (jobs,
//! their timeline and effect) know nothing of the account; `gates`, `endpoints` (what HostUp's
//! endpoints do), `steering` (what the admin API does) and `dump` (the admin state dump) add to
//! it, and this file imports none of them.

pub(crate) mod backup_schedules;
mod dump;
pub(crate) mod endpoints;
pub(crate) mod gates;
pub(crate) mod job;
pub(crate) mod model;
mod restores;
pub(crate) mod snapshot_schedule;
mod steering;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sim::faults::JobFate;
use crate::sim::fixture::Fixture;
use crate::sim::problem::ApiError;
use job::{apply_effect, Finished, Job, JobType, Status};
use model::{vps_from_fixture, Vps};

/// The whole simulated account.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    pub vps: BTreeMap<String, Vps>,
    pub jobs: BTreeMap<String, Job>,
    /// Unfinished job ids (rebuilt on load).
    #[serde(skip)]
    active: BTreeSet<String>,
    /// Whether jobs created from now on start `pending` (the run-time `jobInitialStatus`, set
    /// before each request).
    #[serde(skip)]
    pub jobs_start_pending: bool,
}

/// What a job-creating request produced.
pub(crate) struct Created {
    pub job_id: String,
    /// The status the 202 shows (`queued` or `pending`).
    pub status: &'static str,
}

impl State {
    /// Builds the account from a fixture at time `now`.
    pub fn from_fixture(fixture: &Fixture, now: i64, ttl_ms: i64) -> Result<Self, String> {
        let mut state = State::default();
        for fv in &fixture.vps {
            let v = vps_from_fixture(fv, now, ttl_ms)?;
            if state.vps.insert(v.id.clone(), v).is_some() {
                return Err(format!("duplicate VPS id {:?} in fixture", fv.id));
            }
        }
        Ok(state)
    }

    /// Rebuilds derived indexes after deserialisation.
    pub fn reindex(&mut self) {
        self.active = self
            .jobs
            .values()
            .filter(|j| j.finished.is_none())
            .map(|j| j.id.clone())
            .collect();
    }

    /// Brings the account up to `now`: finishes due jobs (applying their effects in order) and
    /// drops expired snapshots. Returns whether anything changed.
    pub fn advance(&mut self, now: i64, ttl_ms: i64) -> bool {
        let mut due: Vec<(i64, String, Option<String>, u8)> = self
            .active
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .filter_map(|j| {
                j.due()
                    .filter(|(at, _, _)| *at <= now)
                    .map(|(at, f, p)| (at, j.id.clone(), f, p))
            })
            .collect();
        due.sort();
        let mut changed = !due.is_empty();
        for (at, id, failed, progress) in due {
            self.finish(&id, at, failed, progress, ttl_ms);
        }
        for v in self.vps.values_mut() {
            if let Some(r) = v.power_revert.take_if(|r| r.at <= now) {
                v.power_state = r.to;
                changed = true;
            }
            let before = v.snapshots.len();
            v.snapshots.retain(|s| s.expires_at > now);
            changed |= v.snapshots.len() != before;
        }
        changed
    }

    /// Ends a job at `at`; on success applies its effect.
    fn finish(&mut self, id: &str, at: i64, failed: Option<String>, progress: u8, ttl_ms: i64) {
        let Some(job) = self.jobs.get(id).cloned() else {
            return;
        };
        self.active.remove(id);
        let result = match &failed {
            Some(msg) => json!({"success": false, "type": job.job_type.as_str(), "error": msg}),
            None => apply_effect(&job, self.vps.get_mut(&job.vps_id), at, ttl_ms),
        };
        if let Some(j) = self.jobs.get_mut(id) {
            j.finished = Some(Finished {
                at,
                failed,
                progress,
            });
            j.result = Some(result);
        }
    }

    /// The unfinished job on `vps_id`, if any.
    fn busy_job(&self, vps_id: &str) -> Option<&str> {
        self.active
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .find(|j| j.vps_id == vps_id)
            .map(|j| j.id.as_str())
    }

    fn vps(&self, id: &str) -> Result<&Vps, ApiError> {
        self.vps.get(id).ok_or_else(ApiError::vps_not_found)
    }

    /// The VPS for its sub-resources (snapshots, backups and their actions): a terminated VPS
    /// is still in the inventory, but has none (404 `vps_not_found`, docs/hostup-sim.md §3.7).
    fn live_vps(&self, id: &str) -> Result<&Vps, ApiError> {
        self.vps(id).and_then(|v| match v.service_status.as_str() {
            "terminated" => Err(ApiError::vps_not_found()),
            _ => Ok(v),
        })
    }

    /// A new job on `vps_id`, starting `pending` when the run-time setting says so.
    fn new_job(
        &mut self,
        job_type: JobType,
        vps_id: &str,
        now: i64,
        duration_ms: i64,
        fate: JobFate,
    ) -> Job {
        Job::new(
            job_type,
            vps_id,
            now,
            duration_ms,
            fate,
            self.jobs_start_pending,
        )
    }

    /// Adds a new job to the account (unfinished) and says what its 202 shows.
    fn insert_job(&mut self, job: Job) -> Created {
        let id = job.id.clone();
        let status = if job.starts_pending {
            Status::Pending
        } else {
            Status::Queued
        };
        self.active.insert(id.clone());
        self.jobs.insert(id.clone(), job);
        Created {
            job_id: id,
            status: status.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::{default_fixture, VPS_APP};

    pub(super) fn state(now: i64) -> State {
        State::from_fixture(&default_fixture(), now, 86_400_000).unwrap()
    }

    #[test]
    fn job_timeline_and_effect() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let c = s
            .create_backup(VPS_APP, Some("n".into()), t0, 1000, |_| JobFate::Normal)
            .unwrap();
        let job = s.jobs[&c.job_id].clone();
        assert_eq!(job.status(t0), (Status::Queued, 0));
        assert_eq!(job.status(t0 + 500), (Status::InProgress, 50));
        // gate closed while in flight
        let err = s
            .create_backup(VPS_APP, None, t0 + 1, 1000, |_| JobFate::Normal)
            .err()
            .unwrap();
        assert_eq!(err.code, "job_in_progress");
        s.advance(t0 + 999, 1000);
        assert_eq!(s.jobs[&c.job_id].status(t0 + 999).0, Status::InProgress);
        assert!(s.advance(t0 + 1000, 1000));
        assert_eq!(
            s.jobs[&c.job_id].status(t0 + 1000),
            (Status::Completed, 100)
        );
        assert_eq!(s.vps[VPS_APP].backups.len(), 2);
    }

    #[test]
    fn failing_and_stuck_jobs() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let c = s
            .create_snapshot(VPS_APP, "x", None, t0, 1000, |_| JobFate::Fail(None))
            .unwrap();
        s.advance(t0 + 500, 1000);
        let j = &s.jobs[&c.job_id];
        assert_eq!(j.status(t0 + 500).0, Status::Failed);
        assert_eq!(
            j.message(Status::Failed),
            "Snapshot creation failed: storage pool is busy"
        );
        assert_eq!(s.vps[VPS_APP].snapshots.len(), 1);
        let c = s
            .create_snapshot(VPS_APP, "y", None, t0, 1000, |_| JobFate::Stuck)
            .unwrap();
        s.advance(t0 + 100_000, 100_000_000);
        assert_eq!(
            s.jobs[&c.job_id].status(t0 + 100_000),
            (Status::InProgress, 50)
        );
        s.force(&c.job_id, None, t0 + 100_001, 86_400_000).unwrap();
        assert_eq!(s.vps[VPS_APP].snapshots.len(), 2);
        assert_eq!(
            s.vps[VPS_APP].snapshots[1].parent_name.as_deref(),
            Some("before-upgrade")
        );
    }

    #[test]
    fn snapshots_expire() {
        let t0 = 1_000_000;
        let mut s = State::from_fixture(&default_fixture(), t0, 2000).unwrap();
        assert_eq!(s.vps[VPS_APP].snapshots.len(), 1);
        s.advance(t0 + 1999, 2000);
        assert_eq!(s.vps[VPS_APP].snapshots.len(), 1);
        s.advance(t0 + 2000, 2000);
        assert_eq!(s.vps[VPS_APP].snapshots.len(), 0);
    }
}
