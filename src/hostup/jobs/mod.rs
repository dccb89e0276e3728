//! HostUp jobs: what a job is and how HostUp shows it, and the one place that waits on one
//! (docs/ARCHITECTURE.md, "Layers and walls").
//!
//! Exists so that every job HostUp queues is read, planned for and waited on the same way,
//! whatever shape or vocabulary HostUp answers in. Three rooms:
//! - this module, the job model: [`JobRef`] (what to wait for), [`JobSnapshot::from_value`]
//!   reading the three documented job shapes (the v2 operation envelope, the legacy
//!   `{success, data:{…}}` envelope and a bare object) and deciding "terminal" from any
//!   signal (flags, `status`, `state`), and [`JobKind`] from a job's type name;
//! - [`poll`]: the pure poll schedule, [`PollSchedule`] and [`PollPlanner`]: capped
//!   exponential backoff with jitter, pulled forward to the expected end when the job reports
//!   progress; [`simulate_wait`] replays it against a model job, for unit tests and benchmarks;
//! - [`wait`]: [`super::Client::wait_for_job`], which drives the planner over HTTP with
//!   deadline, cancellation and progress callbacks, and returns [`JobOutcome`] or a
//!   [`WaitError`] that carries the last observed status, so a caller can say "job X was at 40%
//!   (in_progress) when the deadline passed; it may still be running on HostUp".

use serde_json::Value;

pub mod poll;
pub mod wait;

pub use poll::{simulate_wait, PollPlanner, PollSchedule, ProgressTracker, SimulatedWait};
pub use wait::{JobOutcome, ProgressCallback, WaitError, WaitOptions};

/// A job to wait for: its id and (optionally) the `pollUrl` HostUp gave.
///
/// Exists separately from [`super::Operation`] so a caller can resume a wait from a job id
/// saved in state (the id is saved before waiting; docs/ARCHITECTURE.md, "Contracts").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// `job_…` id.
    pub job_id: String,
    /// Host-rooted poll URL (`/api/jobs/…`); when None, `/api/jobs/{job_id}` is used.
    pub poll_url: Option<String>,
    /// The status the 202 envelope reported, if any; a terminal one skips the first delay.
    pub initial_status: Option<String>,
    /// The VPS the job works on, if known, so wait errors can name it.
    pub vps_id: Option<String>,
}

impl JobRef {
    /// A reference from a saved job id.
    pub fn new(job_id: impl Into<String>) -> Self {
        JobRef {
            job_id: job_id.into(),
            poll_url: None,
            initial_status: None,
            vps_id: None,
        }
    }

    /// The same reference, naming the VPS the job works on (e.g. when resuming from state).
    pub fn on_vps(mut self, vps_id: impl Into<String>) -> Self {
        self.vps_id = Some(vps_id.into());
        self
    }
}

/// Where a job is, normalised over HostUp's vocabularies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Accepted, queued, waiting, delayed, scheduled.
    Pending,
    /// Running / active / in progress.
    Running,
    /// Done successfully (terminal).
    Completed,
    /// Failed or cancelled (terminal).
    Failed,
    /// No known signal: keep waiting.
    Unknown,
}

impl JobState {
    /// The state a `status` or `state` word names, in any of HostUp's vocabularies
    /// (`in_progress`, `active`, `completed`, …); [`JobState::Unknown`] for others.
    pub fn of_word(word: &str) -> JobState {
        vocab(word)
    }

    /// Whether the job will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
}

/// The terminal state of a finished job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminalState {
    /// Succeeded.
    Completed,
    /// Failed (the message is in [`JobOutcome::failure_message`]).
    Failed,
}

/// One observation of a job, whatever shape HostUp used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobSnapshot {
    /// Job id, if the body carried one.
    pub job_id: Option<String>,
    /// Normalised state.
    pub state: Option<JobState>,
    /// `status` as sent (e.g. `in_progress`).
    pub status: Option<String>,
    /// `state` as sent (e.g. `active`).
    pub raw_state: Option<String>,
    /// Job type (`backup_create`, …).
    pub job_type: Option<String>,
    /// Progress in percent, 0–100.
    pub progress: Option<f64>,
    /// Progress message (`progressMessage` / `progressDetails.message`).
    pub message: Option<String>,
    /// HostUp's failure text, when failed.
    pub failure_message: Option<String>,
    /// `result`, when present.
    pub result: Option<Value>,
    /// `createdAt`.
    pub created_at: Option<String>,
    /// `finishedAt` (or `completedAt`).
    pub finished_at: Option<String>,
    /// `vmId`: the VPS the job works on, in whatever form HostUp sent it (a `vps_…` id, or a
    /// legacy numeric id; the reference leaves the form open), as a string.
    pub vm_id: Option<String>,
}

/// What a job does, as far as its `type` (or `jobName`) tells.
///
/// HostUp does not document its job type names: the legacy API's job ids show
/// `snapshot_rollback` (`snapshot_rollback-18484-1769377616097`), and v2 names may read
/// `snapshot_restore`, `backup_create`, `createBackup`, `vps.backup.create`, …. Anything that
/// names neither a known operation nor an object is [`JobKind::Unknown`], so a caller can
/// refuse a job only when its type clearly says it is something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A backup being taken.
    BackupCreate,
    /// A backup being restored (in place or from another VPS).
    BackupRestore,
    /// A backup being deleted.
    BackupDelete,
    /// A snapshot being taken.
    SnapshotCreate,
    /// A VPS rolled back to a snapshot.
    SnapshotRestore,
    /// A snapshot being deleted.
    SnapshotDelete,
    /// Another kind of job (power, domains, …), or a type with no recognisable words.
    Unknown,
}

impl JobKind {
    /// Classifies a job type name by its words, whatever their case and separators
    /// (`snapshot_rollback`, `SnapshotRestore`, `vps.backup.create`, `backup-restore`).
    pub fn of_type(type_name: &str) -> JobKind {
        // Split camelCase as well as `_ - . :` and spaces into lowercase words.
        let mut words: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut prev_lower = false;
        for c in type_name.chars() {
            if c.is_ascii_alphanumeric() {
                if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
                cur.push(c.to_ascii_lowercase());
            } else {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                prev_lower = false;
            }
        }
        if !cur.is_empty() {
            words.push(cur);
        }
        let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
        let object_backup = has(&["backup", "backups", "vzdump"]);
        let object_snapshot = has(&["snapshot", "snapshots", "snap"]);
        let restore = has(&["restore", "rollback", "revert", "restores"]);
        let delete = has(&["delete", "remove", "destroy", "deletion", "removal"]);
        match (object_backup, object_snapshot) {
            (true, false) if restore => JobKind::BackupRestore,
            (true, false) if delete => JobKind::BackupDelete,
            (true, false) => JobKind::BackupCreate,
            (false, true) if restore => JobKind::SnapshotRestore,
            (false, true) if delete => JobKind::SnapshotDelete,
            (false, true) => JobKind::SnapshotCreate,
            _ => JobKind::Unknown,
        }
    }
}

fn norm(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

fn vocab(s: &str) -> JobState {
    match norm(s).as_str() {
        "completed" | "complete" | "succeeded" | "success" | "successful" | "done" | "finished" => {
            JobState::Completed
        }
        "failed" | "failure" | "error" | "errored" | "cancelled" | "canceled" | "aborted"
        | "timed_out" => JobState::Failed,
        "in_progress" | "running" | "active" | "processing" | "started" | "progress" => {
            JobState::Running
        }
        "pending" | "queued" | "waiting" | "delayed" | "scheduled" | "created" | "accepted"
        | "prioritized" | "waiting_children" | "paused" => JobState::Pending,
        _ => JobState::Unknown,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Object(m) => m
            .get("message")
            .or_else(|| m.get("detail"))
            .or_else(|| m.get("error"))
            .and_then(|x| text(Some(x))),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').parse().ok(),
        Value::Object(m) => number(m.get("percentage").or_else(|| m.get("percent"))),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
    .map(|f| f.clamp(0.0, 100.0))
}

impl JobSnapshot {
    /// Reads any of the three documented shapes. Errors when the body is not a JSON object or
    /// is a legacy `{success:false}` answer.
    pub fn from_value(v: &Value) -> Result<JobSnapshot, String> {
        let top = v
            .as_object()
            .ok_or_else(|| "the job body is not a JSON object".to_string())?;
        let obj = if let Some(Value::Object(op)) = top.get("operation") {
            op
        } else if let Some(Value::Object(d)) = top.get("data") {
            d
        } else {
            if top.get("success") == Some(&Value::Bool(false)) {
                return Err(format!(
                    "the job endpoint answered success=false: {}",
                    text(top.get("message"))
                        .or_else(|| text(top.get("error")))
                        .unwrap_or_else(|| "no message".into())
                ));
            }
            top
        };
        let flag = |k: &str| obj.get(k).and_then(Value::as_bool);
        let status = obj
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string);
        let raw_state = obj.get("state").and_then(Value::as_str).map(str::to_string);
        let result = obj.get("result").filter(|r| !r.is_null()).cloned();

        let signals: Vec<JobState> = [status.as_deref(), raw_state.as_deref()]
            .into_iter()
            .flatten()
            .map(vocab)
            .collect();
        let result_failed = result
            .as_ref()
            .and_then(|r| r.get("success"))
            .and_then(Value::as_bool)
            == Some(false);
        let state = if flag("isFailed") == Some(true) || signals.contains(&JobState::Failed) {
            JobState::Failed
        } else if flag("isCompleted") == Some(true) || signals.contains(&JobState::Completed) {
            if result_failed {
                JobState::Failed
            } else {
                JobState::Completed
            }
        } else if flag("isRunning") == Some(true) || signals.contains(&JobState::Running) {
            JobState::Running
        } else if flag("isWaiting") == Some(true)
            || flag("isScheduled") == Some(true)
            || signals.contains(&JobState::Pending)
        {
            JobState::Pending
        } else {
            JobState::Unknown
        };

        let details = obj.get("progressDetails");
        let message = text(obj.get("progressMessage"))
            .or_else(|| details.and_then(|d| text(d.get("message"))));
        let failure_message = if state == JobState::Failed {
            result
                .as_ref()
                .and_then(|r| text(r.get("error")).or_else(|| text(r.get("message"))))
                .or_else(|| text(obj.get("failedReason")))
                .or_else(|| text(obj.get("error")))
                .or_else(|| message.clone())
                .or_else(|| text(obj.get("message")))
        } else {
            None
        };
        let mut progress = number(obj.get("progress")).or_else(|| number(details));
        if state == JobState::Completed && progress.is_none() {
            progress = Some(100.0);
        }
        Ok(JobSnapshot {
            job_id: obj.get("jobId").and_then(Value::as_str).map(str::to_string),
            state: Some(state),
            status,
            raw_state,
            job_type: obj
                .get("type")
                .or_else(|| obj.get("jobName"))
                .and_then(Value::as_str)
                .map(str::to_string),
            progress,
            message,
            failure_message,
            result,
            created_at: text(obj.get("createdAt")),
            finished_at: text(obj.get("finishedAt")).or_else(|| text(obj.get("completedAt"))),
            vm_id: match obj.get("vmId").or_else(|| obj.get("vpsId")) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
        })
    }

    /// What the job does, from its type; `None` when HostUp sent no type.
    pub fn kind(&self) -> Option<JobKind> {
        self.job_type.as_deref().map(JobKind::of_type)
    }

    /// Whether the job certainly works on another VPS than `vps_id`: only when HostUp gave
    /// `vmId` in the public `vps_…` form and it differs. A legacy numeric id cannot be
    /// compared with a `vps_…` id, so it never counts as "another VPS".
    pub fn is_on_other_vps(&self, vps_id: &str) -> bool {
        match self.vm_id.as_deref() {
            Some(v) if v.starts_with("vps_") => !v.eq_ignore_ascii_case(vps_id.trim()),
            _ => false,
        }
    }

    /// The normalised state (Unknown when absent).
    pub fn job_state(&self) -> JobState {
        self.state.unwrap_or(JobState::Unknown)
    }

    /// `40% (in_progress)`-style summary for messages.
    pub fn describe(&self) -> String {
        let label = self
            .status
            .clone()
            .or_else(|| self.raw_state.clone())
            .unwrap_or_else(|| format!("{:?}", self.job_state()).to_ascii_lowercase());
        match self.progress {
            Some(p) => format!("{}% ({label})", (p * 10.0).round() / 10.0),
            None => label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_kinds_from_any_spelling() {
        use JobKind::*;
        for (t, k) in [
            ("snapshot_rollback", SnapshotRestore),
            ("snapshot_restore", SnapshotRestore),
            ("SnapshotRestore", SnapshotRestore),
            ("vps.snapshot.rollback", SnapshotRestore),
            ("snapshot_create", SnapshotCreate),
            ("createSnapshot", SnapshotCreate),
            ("snapshot_delete", SnapshotDelete),
            ("backup_create", BackupCreate),
            ("vzdump", BackupCreate),
            ("backup-restore", BackupRestore),
            ("restoreFromVpsBackup", BackupRestore),
            ("deleteBackup", BackupDelete),
            ("qmrollback", Unknown),
            ("restart", Unknown),
            ("", Unknown),
        ] {
            assert_eq!(JobKind::of_type(t), k, "{t}");
        }
    }

    #[test]
    fn vm_id_in_any_form_and_the_other_vps_check() {
        let snap = |vm: Value| {
            JobSnapshot::from_value(&json!({"data": {"jobId": "job_1", "vmId": vm}})).expect("job")
        };
        let public = snap(json!("vps_b"));
        assert_eq!(public.vm_id.as_deref(), Some("vps_b"));
        assert!(public.is_on_other_vps("vps_a"));
        assert!(!public.is_on_other_vps("vps_b"));
        let numeric = snap(json!(412));
        assert_eq!(numeric.vm_id.as_deref(), Some("412"));
        assert!(
            !numeric.is_on_other_vps("vps_a"),
            "a legacy id cannot be compared"
        );
        assert!(!snap(Value::Null).is_on_other_vps("vps_a"));
    }

    #[test]
    fn reads_the_three_shapes() {
        let legacy = json!({"success":true,"data":{"jobId":"job_1","state":"active","status":"in_progress",
            "progress":40,"progressDetails":{"percentage":40,"message":"Creating backup"},
            "progressMessage":"Creating backup","isCompleted":false,"isFailed":false,"finishedAt":null}});
        let s = JobSnapshot::from_value(&legacy).unwrap();
        assert_eq!(s.job_state(), JobState::Running);
        assert_eq!(s.progress, Some(40.0));
        assert_eq!(s.message.as_deref(), Some("Creating backup"));
        assert_eq!(s.describe(), "40% (in_progress)");

        let op = json!({"operation":{"status":"completed","jobId":"job_1","pollUrl":"/api/jobs/job_1","result":{"success":true}}});
        let s = JobSnapshot::from_value(&op).unwrap();
        assert_eq!(s.job_state(), JobState::Completed);
        assert_eq!(s.progress, Some(100.0));

        let bare = json!({"jobId":"job_1","state":"failed","failedReason":"Backup storage unavailable","progress":"50%"});
        let s = JobSnapshot::from_value(&bare).unwrap();
        assert_eq!(s.job_state(), JobState::Failed);
        assert_eq!(
            s.failure_message.as_deref(),
            Some("Backup storage unavailable")
        );
        assert_eq!(s.progress, Some(50.0));
    }

    #[test]
    fn terminal_by_any_signal() {
        let st = |v: Value| JobSnapshot::from_value(&v).unwrap().job_state();
        assert_eq!(
            st(json!({"isCompleted":true,"status":"whatever"})),
            JobState::Completed
        );
        assert_eq!(st(json!({"state":"complete"})), JobState::Completed);
        assert_eq!(st(json!({"status":"Succeeded"})), JobState::Completed);
        assert_eq!(st(json!({"status":"success"})), JobState::Completed);
        assert_eq!(
            st(json!({"isFailed":true,"isCompleted":true})),
            JobState::Failed
        );
        assert_eq!(st(json!({"status":"error"})), JobState::Failed);
        assert_eq!(st(json!({"state":"cancelled"})), JobState::Failed);
        assert_eq!(
            st(json!({"status":"completed","result":{"success":false,"error":"x"}})),
            JobState::Failed
        );
        assert_eq!(st(json!({"status":"queued"})), JobState::Pending);
        assert_eq!(
            st(json!({"state":"waiting","isWaiting":true})),
            JobState::Pending
        );
        assert_eq!(st(json!({"status":"thinking"})), JobState::Unknown);
        assert_eq!(st(json!({})), JobState::Unknown);
        let failed = JobSnapshot::from_value(&json!({"status":"failed","progressMessage":"p",
            "result":{"error":{"message":"disk full"}}}))
        .unwrap();
        assert_eq!(failed.failure_message.as_deref(), Some("disk full"));
        assert!(JobSnapshot::from_value(&json!({"success":false,"message":"nope"})).is_err());
        assert!(JobSnapshot::from_value(&json!([1])).is_err());
    }
}
