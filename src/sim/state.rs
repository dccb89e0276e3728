//! The simulated account: VPSs with their snapshots and backups, and the jobs acting on them.
//!
//! Everything time-dependent (job progress, completion, snapshot expiry) is computed from
//! wall-clock milliseconds on access, via [`State::advance`], so no background task is needed and
//! a job's timeline does not depend on how often it is polled.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::clock::{iso, parse_iso, storage_stamp};
use super::config::{GateCodeKey, JobTypes, SnapshotVisibility};
use super::faults::JobFate;
use super::fixture::{Fixture, FixtureVps, Plan};
use super::ids::{is_public_id, new_id};
use super::problem::ApiError;

/// A VPS with everything the simulator tracks about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Vps {
    pub id: String,
    pub name: String,
    pub primary_ip: Option<String>,
    pub service_status: String,
    pub power_state: Option<String>,
    pub operating_system: Value,
    pub billing: Value,
    pub resources: Value,
    pub plan: Plan,
    pub snapshots: Vec<Snapshot>,
    pub backups: Vec<Backup>,
    /// Proxmox-like numeric id used in backup storage keys.
    pub vmid: u32,
    /// The last restore applied (shown in the state dump only).
    #[serde(default)]
    pub last_restore: Option<Value>,
    /// A power state set through the admin API for a while: at `at` it goes back to `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_revert: Option<PowerRevert>,
}

/// A temporary power state's end (`PATCH /_sim/vps/{id}` with `revertAfterMs`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PowerRevert {
    pub at: i64,
    pub to: Option<String>,
}

/// Power states during which HostUp would refuse actions with `vps_not_ready` (reference
/// §3.2 enum; which of them block actions is undocumented, docs/hostup-sim.md §3.7).
pub(crate) const NOT_READY_POWER_STATES: &[&str] = &["provisioning", "starting", "stopping"];
/// `serviceStatus` values of reference §3.2.
pub(crate) const SERVICE_STATUSES: &[&str] = &[
    "active",
    "suspended",
    "terminated",
    "pending",
    "cancelled",
    "expired",
    "fraud",
    "unknown",
];
/// `powerState` values of reference §3.2 (null is also allowed).
pub(crate) const POWER_STATES: &[&str] = &[
    "running",
    "stopped",
    "starting",
    "stopping",
    "paused",
    "provisioning",
    "error",
    "unknown",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Snapshot {
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub includes_memory_state: bool,
    pub parent_name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Backup {
    pub id: String,
    pub display_id: String,
    pub storage_key: String,
    pub created_at: i64,
    pub size_gb: f64,
    pub backup_type: String,
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobType {
    SnapshotCreate,
    SnapshotDelete,
    SnapshotRestore,
    BackupCreate,
    BackupRestore,
}

impl JobType {
    /// The internal (and default, `current`) name; the admin API always uses it.
    pub fn as_str(self) -> &'static str {
        self.name(JobTypes::Current)
    }

    /// The name the API shows in the given vocabulary (docs/hostup-sim.md §3.6).
    pub fn name(self, vocab: JobTypes) -> &'static str {
        match (vocab, self) {
            (JobTypes::Current, JobType::SnapshotCreate) => "snapshot_create",
            (JobTypes::Current, JobType::SnapshotDelete) => "snapshot_delete",
            (JobTypes::Current, JobType::SnapshotRestore) => "snapshot_restore",
            (JobTypes::Current, JobType::BackupCreate) => "backup_create",
            (JobTypes::Current, JobType::BackupRestore) => "backup_restore",
            (JobTypes::Legacy, JobType::SnapshotCreate) => "snapshot_create",
            (JobTypes::Legacy, JobType::SnapshotDelete) => "snapshot_delete",
            (JobTypes::Legacy, JobType::SnapshotRestore) => "snapshot_rollback",
            (JobTypes::Legacy, JobType::BackupCreate) => "backup_create",
            (JobTypes::Legacy, JobType::BackupRestore) => "backup_restore",
            (JobTypes::Proxmox, JobType::SnapshotCreate) => "qmsnapshot",
            (JobTypes::Proxmox, JobType::SnapshotDelete) => "qmdelsnapshot",
            (JobTypes::Proxmox, JobType::SnapshotRestore) => "qmrollback",
            (JobTypes::Proxmox, JobType::BackupCreate) => "vzdump",
            (JobTypes::Proxmox, JobType::BackupRestore) => "qmrestore",
        }
    }

    /// Its names in every vocabulary (what a job-fault `type` filter may use).
    pub fn names(self) -> [&'static str; 3] {
        [
            self.name(JobTypes::Current),
            self.name(JobTypes::Legacy),
            self.name(JobTypes::Proxmox),
        ]
    }

    fn default_failure(self) -> &'static str {
        match self {
            JobType::BackupCreate | JobType::BackupRestore => "Backup storage unavailable",
            JobType::SnapshotCreate => "Snapshot creation failed: storage pool is busy",
            JobType::SnapshotDelete => "Snapshot deletion failed: storage pool is busy",
            JobType::SnapshotRestore => "Snapshot rollback failed: storage pool is busy",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Fate {
    Normal,
    Fail { message: String },
    Stuck,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Finished {
    pub at: i64,
    pub failed: Option<String>,
    pub progress: u8,
}

/// A job and its timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Job {
    pub id: String,
    pub job_type: JobType,
    pub vps_id: String,
    pub created_at: i64,
    pub duration_ms: i64,
    pub fate: Fate,
    #[serde(default)]
    pub snapshot_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub backup_id: Option<String>,
    #[serde(default)]
    pub finished: Option<Finished>,
    #[serde(default)]
    pub result: Option<Value>,
    /// Whether the job starts `pending` (before `queued`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub starts_pending: bool,
}

/// A job's status vocabulary (the operation-envelope one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Queued,
    InProgress,
    Completed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Queued => "queued",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }
    /// BullMQ-like `state`.
    pub fn state(self) -> &'static str {
        match self {
            Status::Pending | Status::Queued => "waiting",
            Status::InProgress => "active",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }
}

impl Job {
    fn progress_at(&self, elapsed: i64) -> (Status, u8) {
        let d = self.duration_ms;
        if self.starts_pending && elapsed < d / 20 {
            return (Status::Pending, 0);
        }
        if elapsed < d / 10 {
            return (Status::Queued, 0);
        }
        let p = if d <= 0 {
            99
        } else {
            ((elapsed.max(0) as i128 * 100) / d as i128).clamp(0, 99) as u8
        };
        (Status::InProgress, p)
    }

    /// When and how the job ends on its own, if it does.
    fn due(&self) -> Option<(i64, Option<String>, u8)> {
        if self.finished.is_some() {
            return None;
        }
        match &self.fate {
            Fate::Normal => Some((self.created_at + self.duration_ms, None, 100)),
            Fate::Fail { message } => {
                let at = self.duration_ms / 2;
                let (_, p) = self.progress_at(at);
                Some((self.created_at + at, Some(message.clone()), p))
            }
            Fate::Stuck => None,
        }
    }

    /// Status and progress at `now` (after [`State::advance`]).
    pub fn status(&self, now: i64) -> (Status, u8) {
        if let Some(f) = &self.finished {
            return if f.failed.is_some() {
                (Status::Failed, f.progress)
            } else {
                (Status::Completed, 100)
            };
        }
        let (s, p) = self.progress_at(now - self.created_at);
        match self.fate {
            Fate::Stuck => (s, p.min(50)),
            _ => (s, p),
        }
    }

    fn subject(&self) -> String {
        self.snapshot_name
            .clone()
            .or_else(|| self.backup_id.clone())
            .unwrap_or_default()
    }

    /// Human progress message.
    pub fn message(&self, status: Status) -> String {
        let s = self.subject();
        match (status, self.job_type) {
            (Status::Pending, _) => "Pending".into(),
            (Status::Queued, _) => "Waiting in queue".into(),
            (Status::Failed, _) => self
                .finished
                .as_ref()
                .and_then(|f| f.failed.clone())
                .unwrap_or_default(),
            (Status::InProgress, JobType::SnapshotCreate) => format!("Creating snapshot {s}"),
            (Status::InProgress, JobType::SnapshotDelete) => format!("Deleting snapshot {s}"),
            (Status::InProgress, JobType::SnapshotRestore) => format!("Restoring snapshot {s}"),
            (Status::InProgress, JobType::BackupCreate) => "Creating backup".into(),
            (Status::InProgress, JobType::BackupRestore) => format!("Restoring backup {s}"),
            (Status::Completed, JobType::SnapshotCreate) => format!("Snapshot {s} created"),
            (Status::Completed, JobType::SnapshotDelete) => format!("Snapshot {s} deleted"),
            (Status::Completed, JobType::SnapshotRestore) => {
                format!("VPS restored to snapshot {s}")
            }
            (Status::Completed, JobType::BackupCreate) => "Backup completed".into(),
            (Status::Completed, JobType::BackupRestore) => format!("Backup {s} restored"),
        }
    }
}

/// An action gate as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Gate {
    pub allowed: bool,
    pub reason: Option<String>,
    pub code: Option<String>,
}

impl Gate {
    fn open() -> Self {
        Self {
            allowed: true,
            reason: None,
            code: None,
        }
    }
    pub fn closed(code: &str, reason: String) -> Self {
        Self {
            allowed: false,
            reason: Some(reason),
            code: Some(code.to_string()),
        }
    }
    /// The gate as the API shows it; a gate without a code shows `"code": null` or no `code`
    /// key, as `mode` says.
    pub fn json(&self, mode: GateCodeKey) -> Value {
        match (&self.code, mode) {
            (None, GateCodeKey::Omit) => json!({"allowed": self.allowed, "reason": self.reason}),
            _ => json!({"allowed": self.allowed, "reason": self.reason, "code": self.code}),
        }
    }
    /// 409 with the gate's code when closed.
    pub fn check(&self) -> Result<(), ApiError> {
        match (self.allowed, &self.code) {
            (true, _) => Ok(()),
            (false, code) => Err(ApiError::conflict(
                code.as_deref().unwrap_or("conflict"),
                self.reason.clone().unwrap_or_default(),
            )),
        }
    }
}

/// Detail/reason text of a VPS-busy signal with `code` (busy faults, docs/hostup-sim.md §4.1).
pub(crate) fn busy_reason(code: &str) -> String {
    match code {
        "job_in_progress" => {
            "Another operation is in progress on this VPS (started elsewhere).".into()
        }
        "vps_not_ready" => {
            "The VPS is not ready: provisioning or a power operation is in progress.".into()
        }
        other => format!("The VPS is busy ({other})."),
    }
}

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

const NO_SNAPSHOTS: &str =
    "Snapshots are not included in this VPS plan. Add snapshot slots to enable snapshots.";
const NO_BACKUPS: &str = "Backups are not included in this VPS plan.";

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

/// Parameters of a VPS list request.
pub(crate) struct ListQuery {
    pub limit: usize,
    pub after: Option<String>,
    pub name: Option<String>,
    pub primary_ip: Option<String>,
}

/// The Proxmox-like numeric id of a VPS (in its backup storage keys, and a job's numeric
/// `vmId`).
pub(crate) fn vmid_for(id: &str) -> u32 {
    let h = id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    100 + h % 900
}

fn storage_key(vmid: u32, at: i64) -> String {
    format!("vzdump-qemu-{vmid}-{}.vma.zst", storage_stamp(at))
}

impl State {
    /// Builds the account from a fixture at time `now`.
    pub fn from_fixture(fixture: &Fixture, now: i64, ttl_ms: i64) -> Result<Self, String> {
        let mut state = State::default();
        for fv in &fixture.vps {
            let v = Self::vps_from_fixture(fv, now, ttl_ms)?;
            if state.vps.insert(v.id.clone(), v).is_some() {
                return Err(format!("duplicate VPS id {:?} in fixture", fv.id));
            }
        }
        Ok(state)
    }

    fn vps_from_fixture(fv: &FixtureVps, now: i64, ttl_ms: i64) -> Result<Vps, String> {
        if !is_public_id("vps_", &fv.id) {
            return Err(format!(
                "fixture VPS id {:?} is not vps_ + 26 lowercase base32 characters",
                fv.id
            ));
        }
        let vmid = vmid_for(&fv.id);
        let mut snapshots = Vec::new();
        let n = fv.snapshots.len() as i64;
        for (i, s) in fv.snapshots.iter().enumerate() {
            if !valid_snapshot_name(&s.name) {
                return Err(format!("fixture snapshot name {:?} is invalid", s.name));
            }
            let created = match &s.created_at {
                Some(t) => parse_iso(t)?,
                // One second apart in fixture order, the last one at load time, so the list
                // order (by creation) is the fixture order.
                None => now - (n - 1 - i as i64) * 1000,
            };
            snapshots.push(Snapshot {
                name: s.name.clone(),
                description: s.description.clone(),
                created_at: created,
                expires_at: created + ttl_ms,
                includes_memory_state: s.includes_memory_state,
                parent_name: s.parent_name.clone(),
            });
        }
        let mut backups = Vec::new();
        for b in &fv.backups {
            if !is_public_id("bkp_", &b.id) {
                return Err(format!(
                    "fixture backup id {:?} is not bkp_ + 26 lowercase base32 characters",
                    b.id
                ));
            }
            let at = parse_iso(&b.created_at)?;
            let key = b
                .storage_key
                .clone()
                .unwrap_or_else(|| storage_key(vmid, at));
            backups.push(Backup {
                id: b.id.clone(),
                display_id: format!("{} ({key})", iso(at)),
                storage_key: key,
                created_at: at,
                size_gb: b.size_gb,
                backup_type: b.backup_type.clone(),
                note: b.note.clone(),
            });
        }
        Ok(Vps {
            id: fv.id.clone(),
            name: fv.name.clone(),
            primary_ip: fv.primary_ip.clone(),
            service_status: fv.service_status.clone(),
            power_state: fv.power_state.clone(),
            operating_system: fv.operating_system.clone(),
            billing: fv.billing.clone(),
            resources: fv.resources.clone(),
            plan: fv.plan.clone(),
            snapshots,
            backups,
            vmid,
            last_restore: None,
            power_revert: None,
        })
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
            None => self.apply(&job, at, ttl_ms),
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

    fn apply(&mut self, job: &Job, at: i64, ttl_ms: i64) -> Value {
        let ty = job.job_type.as_str();
        let Some(v) = self.vps.get_mut(&job.vps_id) else {
            return json!({"success": false, "type": ty, "error": "VPS no longer exists"});
        };
        let name = job.snapshot_name.clone().unwrap_or_default();
        match job.job_type {
            JobType::SnapshotCreate => {
                let parent = v
                    .snapshots
                    .iter()
                    .max_by_key(|s| s.created_at)
                    .map(|s| s.name.clone());
                v.snapshots.retain(|s| s.name != name);
                let s = Snapshot {
                    name: name.clone(),
                    description: job.description.clone(),
                    created_at: at,
                    expires_at: at + ttl_ms,
                    includes_memory_state: false,
                    parent_name: parent,
                };
                let rendered = snapshot_json(&s);
                v.snapshots.push(s);
                json!({"success": true, "type": ty, "snapshot": rendered})
            }
            JobType::SnapshotDelete => {
                v.snapshots.retain(|s| s.name != name);
                json!({"success": true, "type": ty, "snapshotName": name})
            }
            JobType::SnapshotRestore => {
                v.last_restore =
                    Some(json!({"snapshotName": name, "at": iso(at), "jobId": job.id}));
                json!({"success": true, "type": ty, "snapshotName": name})
            }
            JobType::BackupCreate => {
                let key = storage_key(v.vmid, at);
                let storage = v
                    .resources
                    .get("storageGb")
                    .and_then(Value::as_f64)
                    .unwrap_or(80.0);
                let b = Backup {
                    id: new_id("bkp_"),
                    display_id: format!("{} ({key})", iso(at)),
                    storage_key: key,
                    created_at: at,
                    size_gb: (storage * 1.55).round() / 10.0,
                    backup_type: "manual".into(),
                    note: job.note.clone(),
                };
                let rendered = backup_json(&b);
                let backup_id = b.id.clone();
                v.backups.push(b);
                json!({"success": true, "type": ty, "backupId": backup_id, "backup": rendered})
            }
            JobType::BackupRestore => {
                let bid = job.backup_id.clone().unwrap_or_default();
                v.last_restore = Some(json!({"backupId": bid, "at": iso(at), "jobId": job.id}));
                json!({"success": true, "type": ty, "backupId": bid})
            }
        }
    }

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

    fn not_ready_gate(v: &Vps) -> Option<Gate> {
        let p = v.power_state.as_deref()?;
        NOT_READY_POWER_STATES.contains(&p).then(|| {
            Gate::closed(
                "vps_not_ready",
                format!("The VPS is not ready (power state: {p}). Try again once it has settled."),
            )
        })
    }

    /// The gate every action shares once service and plan allow it: not ready, a forced busy
    /// gate (fault), or a job in flight.
    fn readiness_gate(&self, v: &Vps, forced: Option<&Gate>) -> Option<Gate> {
        Self::not_ready_gate(v)
            .or_else(|| forced.cloned())
            .or_else(|| self.busy_gate(v))
    }

    fn service_gate(v: &Vps) -> Option<Gate> {
        match v.service_status.as_str() {
            "active" => None,
            "pending" => Some(Gate::closed(
                "pending_order",
                "The service has a pending order. Actions become available once it is active."
                    .into(),
            )),
            "suspended" => Some(Gate::closed(
                "service_suspended",
                "The service is suspended.".into(),
            )),
            other => Some(Gate::closed(
                "service_inactive",
                format!("The service is not active (status: {other})."),
            )),
        }
    }

    fn busy_gate(&self, v: &Vps) -> Option<Gate> {
        self.busy_job(&v.id).map(|j| {
            Gate::closed(
                "job_in_progress",
                format!("Another operation is in progress on this VPS (job {j})."),
            )
        })
    }

    /// `(canCreate, canRestore)` of the snapshot list.
    pub fn snapshot_gates(&self, v: &Vps, forced: Option<&Gate>) -> (Gate, Gate) {
        let base = Self::service_gate(v)
            .or_else(|| {
                (v.plan.snapshot_slots == 0)
                    .then(|| Gate::closed("feature_not_in_plan", NO_SNAPSHOTS.into()))
            })
            .or_else(|| self.readiness_gate(v, forced));
        if let Some(g) = base {
            return (g.clone(), g);
        }
        let used = v.snapshots.len() as u32;
        let create = if used >= v.plan.snapshot_slots {
            Gate::closed(
                "snapshot_limit_reached",
                format!(
                    "All {} snapshot slots are in use. Delete a snapshot or add snapshot slots.",
                    v.plan.snapshot_slots
                ),
            )
        } else {
            Gate::open()
        };
        (create, Gate::open())
    }

    /// `(canCreateBackup, canRestore)` of the backup list.
    pub fn backup_gates(&self, v: &Vps, forced: Option<&Gate>) -> (Gate, Gate) {
        let base = Self::service_gate(v)
            .or_else(|| {
                (v.plan.backup_limit == Some(0))
                    .then(|| Gate::closed("feature_not_in_plan", NO_BACKUPS.into()))
            })
            .or_else(|| self.readiness_gate(v, forced));
        if let Some(g) = base {
            return (g.clone(), g);
        }
        let create = match v.plan.backup_limit {
            Some(limit) if v.backups.len() as u32 >= limit => Gate::closed(
                "backup_quota_exceeded",
                format!("The backup quota of {limit} is used up. Delete a backup to free quota."),
            ),
            _ => Gate::open(),
        };
        (create, Gate::open())
    }

    /// `canRestoreFromAnotherVps` of the backup list: closed while the service is not active,
    /// the VPS is not ready or a job runs on it; this VPS's own backup plan and quota do not
    /// matter (the backup is another VPS's).
    pub fn restore_from_another_gate(&self, v: &Vps, forced: Option<&Gate>) -> Gate {
        Self::service_gate(v)
            .or_else(|| self.readiness_gate(v, forced))
            .unwrap_or_else(Gate::open)
    }

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
                "limit": v.plan.backup_limit,
                "remaining": v.plan.backup_limit.map(|l| l.saturating_sub(used)),
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

    fn new_job(
        &mut self,
        job_type: JobType,
        vps_id: &str,
        now: i64,
        duration_ms: i64,
        fate: JobFate,
    ) -> Job {
        let fate = match fate {
            JobFate::Normal => Fate::Normal,
            JobFate::Stuck => Fate::Stuck,
            JobFate::Fail(m) => Fate::Fail {
                message: m
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| job_type.default_failure().to_string()),
            },
        };
        Job {
            id: new_id("job_"),
            job_type,
            vps_id: vps_id.to_string(),
            created_at: now,
            duration_ms,
            fate,
            snapshot_name: None,
            description: None,
            note: None,
            backup_id: None,
            finished: None,
            result: None,
            starts_pending: self.jobs_start_pending,
        }
    }

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

/// The snapshot name rule of the reference (`^[A-Za-z0-9_-]{1,40}$`).
pub(crate) fn valid_snapshot_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

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

fn vps_json(v: &Vps) -> Value {
    json!({
        "id": v.id,
        "name": v.name,
        "primaryIp": v.primary_ip,
        "serviceStatus": v.service_status,
        "powerState": v.power_state,
        "operatingSystem": v.operating_system,
        "billing": v.billing,
        "resources": v.resources,
    })
}

fn snapshot_json(s: &Snapshot) -> Value {
    json!({
        "displayId": s.name,
        "name": s.name,
        "description": s.description,
        "createdAt": iso(s.created_at),
        "expiresAt": iso(s.expires_at),
        "includesMemoryState": s.includes_memory_state,
        "parentName": s.parent_name,
    })
}

fn backup_json(b: &Backup) -> Value {
    json!({
        "id": b.id,
        "displayId": b.display_id,
        "storageKey": b.storage_key,
        "createdAt": iso(b.created_at),
        "sizeGb": b.size_gb,
        "backupType": b.backup_type,
        "note": b.note,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::{default_fixture, VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PAYG};

    fn state(now: i64) -> State {
        State::from_fixture(&default_fixture(), now, 86_400_000).unwrap()
    }

    #[test]
    fn cursor_round_trip() {
        let c = encode_cursor(VPS_APP);
        assert_eq!(decode_cursor(&c).as_deref(), Some(VPS_APP));
        assert_eq!(decode_cursor("garbage!"), None);
        assert_eq!(decode_cursor(&encode_cursor("x")), None);
    }

    #[test]
    fn names() {
        assert!(valid_snapshot_name("before-upgrade_2"));
        assert!(valid_snapshot_name(&"a".repeat(40)));
        assert!(!valid_snapshot_name(&"a".repeat(41)));
        assert!(!valid_snapshot_name(""));
        assert!(!valid_snapshot_name("has space"));
        assert!(!valid_snapshot_name("ümlaut"));
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
