//! The job wait loop: [`Client::wait_for_job`], and what a wait takes ([`WaitOptions`]) and
//! ends with ([`JobOutcome`], [`WaitError`]).
//!
//! Exists so that the provider waits on every HostUp job in one way: polls planned by
//! [`PollPlanner`], `Retry-After` honoured, transient poll failures survived, and an end that is
//! prompt on the deadline and on cancellation and always says where the job was last seen.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::poll::{PollPlanner, PollSchedule};
use super::{JobRef, JobSnapshot, JobState, TerminalState};
use crate::hostup::client::Client;
use crate::hostup::error::{Error, ErrorKind};

/// How long the last poll may run past a wait's deadline.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);
/// 404s in a row on a job never seen before it is declared unknown (a job just created may
/// not be visible to every HostUp node yet).
const JOB_NOT_FOUND_LIMIT: u32 = 3;
/// 404s in a row on a job that answered before: HostUp forgot it (it expired or was removed).
/// One more look, [`FORGOTTEN_RECHECK`] later, rules out a node that lagged behind.
const JOB_FORGOTTEN_LIMIT: u32 = 2;
/// The pause before that look: short, since the poll backoff of a long job is not a reason
/// to keep waiting on one that is gone.
const FORGOTTEN_RECHECK: Duration = Duration::from_secs(1);
/// Consecutive failed polls (after each poll's own retries) before a wait gives up.
const POLL_FAILURE_LIMIT: u32 = 5;

/// Called with each new observation (state, progress or message changed).
pub type ProgressCallback = Arc<dyn Fn(&JobSnapshot) + Send + Sync>;

/// Options of one wait.
///
/// Exists so the caller (the provider) brings its own deadline (`timeouts.create`), its own
/// Stop token, and a way to report progress, without the client knowing about Terraform.
#[derive(Clone, Default)]
pub struct WaitOptions {
    /// When to give up (the job keeps running on HostUp).
    pub deadline: Option<std::time::Instant>,
    /// Cancels the wait (in addition to the client's tokens).
    pub cancel: Option<CancellationToken>,
    /// Progress reports.
    pub on_progress: Option<ProgressCallback>,
    /// Overrides the client's poll schedule.
    pub schedule: Option<PollSchedule>,
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("deadline", &self.deadline)
            .field("cancel", &self.cancel.as_ref().map(|c| c.is_cancelled()))
            .field("on_progress", &self.on_progress.is_some())
            .field("schedule", &self.schedule)
            .finish()
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// The job.
    pub job_id: String,
    /// Completed or failed.
    pub terminal: TerminalState,
    /// The last observation (status, progress, result, finishedAt).
    pub last: JobSnapshot,
    /// Polls made.
    pub polls: u32,
    /// Time waited.
    pub waited: Duration,
}

impl JobOutcome {
    /// Whether the job completed successfully.
    pub fn is_success(&self) -> bool {
        self.terminal == TerminalState::Completed
    }

    /// HostUp's failure message, when it failed.
    pub fn failure_message(&self) -> Option<&str> {
        self.last.failure_message.as_deref()
    }

    /// `finishedAt`.
    pub fn finished_at(&self) -> Option<&str> {
        self.last.finished_at.as_deref()
    }

    /// Status as HostUp spelled it (`completed`, `failed`, …).
    pub fn status(&self) -> String {
        self.last
            .status
            .clone()
            .or_else(|| self.last.raw_state.clone())
            .unwrap_or_else(|| match self.terminal {
                TerminalState::Completed => "completed".into(),
                TerminalState::Failed => "failed".into(),
            })
    }
}

/// Why a wait ended without a terminal state. Every variant carries the last observation
/// so the caller can say where the job was and that it may still be running on HostUp.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed.
    #[error("job {job_id}{} was {} when the deadline passed after {}; it may still be running on HostUp", on(.vps_id), at(.last), secs(*.waited))]
    Deadline {
        /// The job.
        job_id: String,
        /// The VPS it works on, if known.
        vps_id: Option<String>,
        /// Last observation.
        last: Option<JobSnapshot>,
        /// Time waited.
        waited: Duration,
    },
    /// Cancelled (Ctrl-C / Stop).
    #[error("stopped waiting for job {job_id}{}, which was {}; it may still be running on HostUp", on(.vps_id), at(.last))]
    Cancelled {
        /// The job.
        job_id: String,
        /// The VPS it works on, if known.
        vps_id: Option<String>,
        /// Last observation.
        last: Option<JobSnapshot>,
        /// Time waited.
        waited: Duration,
    },
    /// HostUp does not know the job (404 several times): wrong id or expired.
    #[error("HostUp does not know job {job_id}{} (unknown or expired); it was {} when last seen", on(.vps_id), at(.last))]
    JobNotFound {
        /// The job.
        job_id: String,
        /// The VPS it works on, if known.
        vps_id: Option<String>,
        /// Last observation.
        last: Option<JobSnapshot>,
        /// The last 404.
        #[source]
        source: Error,
    },
    /// Polling failed for good (auth, repeated server errors).
    #[error("could not poll job {job_id}{} (it was {}): {source}", on(.vps_id), at(.last))]
    Api {
        /// The job.
        job_id: String,
        /// The VPS it works on, if known.
        vps_id: Option<String>,
        /// Last observation.
        last: Option<JobSnapshot>,
        /// The last error.
        #[source]
        source: Error,
    },
}

fn on(vps: &Option<String>) -> String {
    vps.as_deref()
        .map(|v| format!(" on VPS {v}"))
        .unwrap_or_default()
}

fn at(last: &Option<JobSnapshot>) -> String {
    match last {
        Some(s) => format!("at {}", s.describe()),
        None => "not yet observed".to_string(),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl WaitError {
    /// The job.
    pub fn job_id(&self) -> &str {
        match self {
            WaitError::Deadline { job_id, .. }
            | WaitError::Cancelled { job_id, .. }
            | WaitError::JobNotFound { job_id, .. }
            | WaitError::Api { job_id, .. } => job_id,
        }
    }

    /// The VPS the job works on, if known.
    pub fn vps_id(&self) -> Option<&str> {
        match self {
            WaitError::Deadline { vps_id, .. }
            | WaitError::Cancelled { vps_id, .. }
            | WaitError::JobNotFound { vps_id, .. }
            | WaitError::Api { vps_id, .. } => vps_id.as_deref(),
        }
    }

    /// The last observation of the job, if any.
    pub fn last_observed(&self) -> Option<&JobSnapshot> {
        match self {
            WaitError::Deadline { last, .. }
            | WaitError::Cancelled { last, .. }
            | WaitError::JobNotFound { last, .. }
            | WaitError::Api { last, .. } => last.as_ref(),
        }
    }

    /// The API error behind it, if any (for its status, code, request id and hint).
    pub fn api_error(&self) -> Option<&Error> {
        match self {
            WaitError::JobNotFound { source, .. } | WaitError::Api { source, .. } => Some(source),
            _ => None,
        }
    }

    /// What the user can do next.
    pub fn hint(&self) -> String {
        match self {
            WaitError::Deadline { .. } => "The job may still finish on HostUp. Give the wait a \
                 later deadline if jobs of this size take longer, and check the VPS's \
                 backups/snapshots before running the operation again."
                .to_string(),
            WaitError::Cancelled { .. } => "The wait was interrupted; the job may still be \
                 running on HostUp. Check the VPS's backups/snapshots before running the \
                 operation again."
                .to_string(),
            WaitError::JobNotFound { .. } => "HostUp no longer knows this job; check the \
                 VPS's backups/snapshots to see whether the operation happened."
                .to_string(),
            WaitError::Api { source, .. } => source.hint(),
        }
    }
}

impl Client {
    /// Waits until the job is terminal, the deadline passes, or a cancellation token fires.
    ///
    /// Polls per [`PollSchedule`] (the client's, or `opts.schedule`), honouring
    /// `Retry-After`; a transient poll failure is retried, 404 three times in a row ends in
    /// [`WaitError::JobNotFound`], 401/403 end at once. A failed job is an `Ok` outcome with
    /// [`TerminalState::Failed`] and HostUp's message. Unknown statuses keep it waiting (logged
    /// once at warn).
    pub async fn wait_for_job(
        &self,
        job: &JobRef,
        opts: WaitOptions,
    ) -> Result<JobOutcome, WaitError> {
        let start = Instant::now();
        let deadline = opts.deadline.map(Instant::from_std);
        let mut planner = PollPlanner::new(opts.schedule.unwrap_or(self.inner.poll));
        let cancel = self.cancel(opts.cancel.as_ref());
        let mut last: Option<JobSnapshot> = None;
        let mut failures = 0u32;
        let mut not_found = 0u32;
        // A 404 on a job that answered before: the next look comes soon (see FORGOTTEN_RECHECK).
        let mut forgotten = false;
        let mut warned: HashSet<String> = HashSet::new();
        let initial_terminal = job.initial_status.as_deref().is_some_and(|s| {
            JobSnapshot::from_value(&serde_json::json!({ "status": s }))
                .is_ok_and(|j| j.job_state().is_terminal())
        });
        let mut delay = if initial_terminal {
            Duration::ZERO
        } else {
            planner.next_delay(Duration::ZERO, None, rand::random())
        };
        let job_id = job.job_id.clone();
        loop {
            let mut wake = Instant::now() + delay;
            let mut final_look = false;
            if let Some(dl) = deadline {
                if wake >= dl {
                    wake = dl;
                    final_look = true;
                }
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return Err(WaitError::Cancelled { job_id, vps_id: job.vps_id.clone(), last, waited: start.elapsed() });
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            let poll = self.fetch_job(job, opts.cancel.as_ref());
            let result = match deadline {
                Some(dl) => tokio::select! {
                    r = poll => r,
                    _ = tokio::time::sleep_until(dl + DEADLINE_GRACE) => {
                        return Err(WaitError::Deadline { job_id, vps_id: job.vps_id.clone(), last, waited: start.elapsed() });
                    }
                },
                None => poll.await,
            };
            let now = start.elapsed();
            let mut retry_after = None;
            match result {
                Ok((snap, ra)) => {
                    failures = 0;
                    not_found = 0;
                    retry_after = ra;
                    let state = snap.job_state();
                    planner.record(now, snap.progress);
                    if state == JobState::Unknown {
                        let label = snap
                            .status
                            .clone()
                            .or_else(|| snap.raw_state.clone())
                            .unwrap_or_else(|| "(none)".into());
                        if warned.insert(label.clone()) {
                            tracing::warn!(job_id = %job_id, status = %label,
                                "HostUp reported a job status this client does not know; still waiting");
                        }
                    }
                    if let Some(cb) = &opts.on_progress {
                        if last.as_ref().is_none_or(|l| changed(l, &snap)) {
                            cb(&snap);
                        }
                    }
                    let terminal = match state {
                        JobState::Completed => Some(TerminalState::Completed),
                        JobState::Failed => Some(TerminalState::Failed),
                        _ => None,
                    };
                    if let Some(terminal) = terminal {
                        return Ok(JobOutcome {
                            job_id,
                            terminal,
                            last: snap,
                            polls: planner.polls(),
                            waited: start.elapsed(),
                        });
                    }
                    last = Some(snap);
                }
                Err(e) if e.is_cancelled() => {
                    return Err(WaitError::Cancelled {
                        job_id,
                        vps_id: job.vps_id.clone(),
                        last,
                        waited: start.elapsed(),
                    });
                }
                Err(e) if e.status() == Some(404) => {
                    planner.record_failure();
                    not_found += 1;
                    let limit = if last.is_some() {
                        forgotten = true;
                        JOB_FORGOTTEN_LIMIT
                    } else {
                        JOB_NOT_FOUND_LIMIT
                    };
                    if not_found >= limit {
                        return Err(WaitError::JobNotFound {
                            job_id,
                            vps_id: job.vps_id.clone(),
                            last,
                            source: e,
                        });
                    }
                }
                Err(e)
                    if matches!(e.status(), Some(400 | 401 | 403))
                        || e.kind() == ErrorKind::InvalidInput =>
                {
                    return Err(WaitError::Api {
                        job_id,
                        vps_id: job.vps_id.clone(),
                        last,
                        source: e,
                    });
                }
                Err(e) => {
                    planner.record_failure();
                    failures += 1;
                    tracing::debug!(job_id = %job_id, error = %e, "job poll failed; will retry");
                    if failures >= POLL_FAILURE_LIMIT {
                        return Err(WaitError::Api {
                            job_id,
                            vps_id: job.vps_id.clone(),
                            last,
                            source: e,
                        });
                    }
                }
            }
            if final_look || deadline.is_some_and(|dl| Instant::now() >= dl) {
                return Err(WaitError::Deadline {
                    job_id,
                    vps_id: job.vps_id.clone(),
                    last,
                    waited: start.elapsed(),
                });
            }
            delay = planner.next_delay(start.elapsed(), retry_after, rand::random());
            if std::mem::take(&mut forgotten) {
                delay = delay.min(FORGOTTEN_RECHECK);
            }
        }
    }
}

fn changed(a: &JobSnapshot, b: &JobSnapshot) -> bool {
    a.state != b.state || a.progress != b.progress || a.status != b.status || a.message != b.message
}
