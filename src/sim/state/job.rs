//! Jobs: their types and names in each vocabulary, their fates, their timeline (status and
//! progress at any moment, computed from the clock), their messages, and the effect a completed
//! job has on its VPS.
//!
//! A room of its own because a job is the API's unit of asynchronous work: the endpoints create
//! jobs, the account runs them, polls and the state dump show them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::{backup_json, new_backup, snapshot_json, Snapshot, Vps};
use crate::sim::clock::iso;
use crate::sim::config::JobTypes;
use crate::sim::faults::JobFate;
use crate::sim::ids::new_id;

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

    /// The failure message of a failing job of this type that was given none.
    pub(super) fn default_failure(self) -> &'static str {
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
    /// The VPS whose backup a restore-from-vps job restores (none: this VPS's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_vps_id: Option<String>,
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
    /// A new job of `job_type` on `vps_id`, created at `now`, lasting `duration_ms`, ending as
    /// `fate` says (a failure without a message gets its type's).
    pub(super) fn new(
        job_type: JobType,
        vps_id: &str,
        now: i64,
        duration_ms: i64,
        fate: JobFate,
        starts_pending: bool,
    ) -> Self {
        let fate = match fate {
            JobFate::Normal => Fate::Normal,
            JobFate::Stuck => Fate::Stuck,
            JobFate::Fail(m) => Fate::Fail {
                message: m
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| job_type.default_failure().to_string()),
            },
        };
        Self {
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
            source_vps_id: None,
            finished: None,
            result: None,
            starts_pending,
        }
    }

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
    pub(super) fn due(&self) -> Option<(i64, Option<String>, u8)> {
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

    /// Status and progress at `now` (after [`State::advance`](super::State::advance)).
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

/// Applies a completed job's effect to its VPS (`None`: the VPS is gone) at `at`, and returns
/// the job's `result`.
pub(super) fn apply_effect(job: &Job, vps: Option<&mut Vps>, at: i64, ttl_ms: i64) -> Value {
    let ty = job.job_type.as_str();
    let Some(v) = vps else {
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
            v.last_restore = Some(json!({"snapshotName": name, "at": iso(at), "jobId": job.id}));
            json!({"success": true, "type": ty, "snapshotName": name})
        }
        JobType::BackupCreate => {
            let b = new_backup(v, at, "manual", job.note.clone());
            let rendered = backup_json(&b);
            let backup_id = b.id.clone();
            v.backups.push(b);
            json!({"success": true, "type": ty, "backupId": backup_id, "backup": rendered})
        }
        JobType::BackupRestore => {
            let bid = job.backup_id.clone().unwrap_or_default();
            let mut restore = json!({"backupId": bid, "at": iso(at), "jobId": job.id});
            let mut result = json!({"success": true, "type": ty, "backupId": bid});
            if let Some(src) = &job.source_vps_id {
                restore["sourceVpsId"] = json!(src);
                result["sourceVpsId"] = json!(src);
            }
            v.last_restore = Some(restore);
            result
        }
    }
}
