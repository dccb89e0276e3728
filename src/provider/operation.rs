//! The job-operation engine every resource that queues a HostUp job runs through: the preamble
//! (timeout, per-VPS lock, gate re-check, wait for a busy VPS), the job-creating request sent
//! again while HostUp refuses it as busy, and the wait for the job.
//!
//! Written once so the rules that must hold everywhere (Stop ends waits, the job id is in
//! state before waiting ends, operations on one VPS are serialised; docs/ARCHITECTURE.md,
//! "Contracts") cannot be skipped by one resource.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hostup::{
    Client, Error, Gate, JobOutcome, JobRef, JobSnapshot, TerminalState, VpsLockGuard, WaitOptions,
};
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::{timeouts, Ctx, ObjectValue, Progress};

use super::config::Sources;
use super::data::HostupData;
use super::errors::{self, Limit, Paths, Subject};
use super::values::now_rfc3339;

/// What a job-creating operation holds between its preamble and the end of its wait: the
/// client (cancelled by Stop), its context, whose deadline is `timeouts.<op>`, and the VPS
/// lock.
pub struct Prepared {
    /// The client for the POST and the wait.
    pub client: Client,
    /// The operation's `timeouts.<op>`, as configured (for messages).
    pub timeout: Duration,
    /// The operation's context: Stop, and the deadline `timeouts.<op>` sets, counted from when
    /// the VPS lock was taken (so a wait for another job on the VPS uses it up too).
    pub ctx: Ctx,
    /// Where the endpoint and key came from (for the advice of messages).
    pub sources: Sources,
    /// When the deadline started (the VPS lock taken).
    started: Instant,
    /// Whether another job kept the VPS busy before the request (gate or refusal).
    busy: AtomicBool,
    /// Held until this value drops, i.e. until the operation's wait is over.
    _lock: VpsLockGuard,
}

/// What a gate check found.
#[derive(Debug, Default)]
pub struct GateCheck {
    /// What ends the operation: a gate closed for a lasting reason (quota, plan, service), a
    /// missing or clashing snapshot, or a failed read.
    pub problems: Vec<Diagnostic>,
    /// Set when a gate is closed only because another job is running on the VPS (HostUp's
    /// `job_in_progress`). That passes by itself: plan warns about it (unless the job may be
    /// this run's own), apply waits for it within the operation's timeout.
    pub busy: Option<Busy>,
}

/// A gate closed because another job is running on the VPS.
#[derive(Debug)]
pub struct Busy {
    /// HostUp's name for the gate, e.g. `canCreateBackup`.
    pub gate_name: &'static str,
    /// The gate as HostUp reported it.
    pub gate: Gate,
    /// The attribute diagnostics about it point at.
    pub path: AttributePath,
}

impl GateCheck {
    /// Takes in one of HostUp's gates: nothing when it is open or not reported, [`Busy`] when
    /// only another job keeps it closed, otherwise the closed-gate error.
    pub fn gate(
        &mut self,
        subject: &Subject,
        gate_name: &'static str,
        gate: Option<&Gate>,
        path: AttributePath,
        at_apply: bool,
    ) {
        match gate {
            Some(g) if g.is_busy() => {
                self.busy = Some(Busy {
                    gate_name,
                    gate: g.clone(),
                    path,
                });
            }
            Some(g) if !g.allowed => {
                let d = errors::gate_closed(subject, gate_name, g, path, at_apply);
                self.problems.push(d);
            }
            _ => {}
        }
    }

    /// Plan's use of the check: the problems as they are, and a warning when another job is
    /// running on the VPS, unless an operation of this process holds the VPS (during apply,
    /// Terraform plans each instance again right before applying it, while a sibling's job on
    /// the same VPS may be running: the operations queue behind each other, nothing to warn).
    /// Problems are shown as the provider's `plan_checks` mode says (see
    /// [`super::plan_checks`]).
    pub fn into_plan_diagnostics(self, data: &HostupData, subject: &Subject) -> Vec<Diagnostic> {
        let mode = data.config.plan_checks;
        let mut out: Vec<Diagnostic> = self.problems.into_iter().map(|d| mode.show(d)).collect();
        if let Some(b) = self.busy {
            if !data.client.vps_lock_in_use(&subject.vps_id) {
                out.push(errors::busy_warning(subject, b.gate_name, &b.gate, b.path));
            }
        }
        out
    }
}

/// The first pause while another job keeps the VPS busy before the POST; it doubles up to
/// [`BUSY_MAX_DELAY`]. HostUp's jobs take seconds to an hour, so this stays close to the job
/// waiter's own schedule.
const BUSY_FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest pause between two gate reads while the VPS is busy.
const BUSY_MAX_DELAY: Duration = Duration::from_secs(30);

/// The preamble of every operation that queues a HostUp job, in one place so that none of them
/// can skip a step: read the timeout (a bad one fails before anything else), take the per-VPS
/// lock (two operations on one VPS from one run queue instead of being refused by HostUp's
/// "another job is running" gate), and only then check the gate again (the plan may be old).
/// `gate` gets the client and says what it finds: problems end the operation before the POST;
/// a gate closed only by another job on the VPS (one from outside this run) is read again with
/// a doubling pause until it opens, the timeout passes, or Terraform sends Stop. `None` means
/// the diagnostics already say why.
pub async fn prepare<'g>(
    data: &HostupData,
    ctx: &Ctx,
    subject: &Subject,
    obj: &ObjectValue,
    op: OpTimeout,
    diags: &mut Diagnostics,
    gate: impl Fn(Client) -> GateFuture<'g>,
) -> Option<Prepared> {
    let timeout = op.of(obj, diags)?;
    prepare_within(data, ctx, subject, timeout, diags, gate, None).await
}

/// [`prepare`] with the timeout given directly (an action's `timeout` argument); `progress`
/// is told when another job keeps the VPS busy (an action's progress events).
pub async fn prepare_within<'g>(
    data: &HostupData,
    ctx: &Ctx,
    subject: &Subject,
    timeout: Duration,
    diags: &mut Diagnostics,
    gate: impl Fn(Client) -> GateFuture<'g>,
    progress: Option<&Progress>,
) -> Option<Prepared> {
    let client = data.client(ctx);
    let lock = match client.vps_lock(&subject.vps_id).await {
        Ok(g) => g,
        Err(e) => {
            diags.push(errors::api_error(
                format!(
                    "Could not start the {} of VPS {}",
                    subject.action, subject.vps_id
                ),
                &e,
                &Paths::vps(),
                &data.config.sources,
            ));
            return None;
        }
    };
    // The timeout bounds this operation's own time: not the queue behind the lock (ten backups
    // of one VPS in one run each get their full timeout), but the wait for a foreign job does.
    let started = Instant::now();
    let ctx = ctx.with_timeout(timeout);
    let mut pauses = BusyPauses::new();
    let mut busy_seen = false;
    loop {
        let check = gate(client.clone()).await;
        if !check.problems.is_empty() {
            diags.extend(check.problems);
            return None;
        }
        let Some(busy) = check.busy else { break };
        busy_seen = true;
        tracing::info!(vps_id = %subject.vps_id, gate = busy.gate_name,
            reason = busy.gate.reason.as_deref().unwrap_or(""),
            "another job is running on the VPS; waiting for it before queuing");
        if let (Some(p), true) = (progress, pauses.is_first()) {
            p.send(errors::busy_progress(subject, &busy.gate));
        }
        if let Err(stopped) = pauses.pause(&ctx).await {
            let Busy {
                gate_name,
                gate,
                path,
            } = busy;
            let waited = started.elapsed();
            let d = errors::busy_gave_up(subject, gate_name, &gate, path, waited, stopped);
            diags.push(d);
            return None;
        }
    }
    Some(Prepared {
        client,
        timeout,
        ctx,
        sources: data.config.sources,
        started,
        busy: AtomicBool::new(busy_seen),
        _lock: lock,
    })
}

/// The pauses between two tries while another job keeps the VPS busy: doubling from
/// [`BUSY_FIRST_DELAY`] to [`BUSY_MAX_DELAY`], never past the operation's deadline.
struct BusyPauses {
    next: Duration,
}

impl BusyPauses {
    fn new() -> Self {
        Self {
            next: BUSY_FIRST_DELAY,
        }
    }

    /// Whether no pause has been taken yet.
    fn is_first(&self) -> bool {
        self.next == BUSY_FIRST_DELAY
    }

    /// Sleeps before the next try, never past the deadline of `ctx`. `Err(true)`: Terraform
    /// sent Stop; `Err(false)`: the deadline has passed (the last try was at the deadline).
    async fn pause(&mut self, ctx: &Ctx) -> Result<(), bool> {
        let left = ctx.deadline().map_or(self.next, |d| {
            d.saturating_duration_since(tokio::time::Instant::now())
        });
        if left.is_zero() {
            return Err(false);
        }
        let pause = self.next.min(left);
        self.next = (self.next * 2).min(BUSY_MAX_DELAY);
        tokio::select! {
            biased;
            () = ctx.token().cancelled() => Err(true),
            () = tokio::time::sleep(pause) => Ok(()),
        }
    }
}

/// A job-creating request in flight, as [`Prepared::send`] takes it (boxed for the same reason
/// as [`GateFuture`]).
pub type SendFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send + 'a>>;

impl Prepared {
    /// Sends the operation's job-creating request (POST, or a snapshot's DELETE). When HostUp
    /// refuses it with `job_in_progress` (a job from outside this run started on the VPS after
    /// the gate check, or a delete, which has no gate; HostUp did not act on the request), it
    /// is sent again after the same doubling pauses as the gate wait, within the deadline and
    /// until Stop. Any other answer, or the last refusal, is returned as it is.
    pub async fn send<'a, T>(
        &self,
        subject: &Subject,
        request: impl Fn(Client) -> SendFuture<'a, T>,
    ) -> Result<T, Refusal> {
        let mut pauses = BusyPauses::new();
        let mut first_busy = None;
        loop {
            match request(self.client.clone()).await {
                Err(e) if e.is_busy() => {
                    self.busy.store(true, Ordering::Relaxed);
                    tracing::info!(vps_id = %subject.vps_id, error = %e,
                        "HostUp refused the request while another job runs on the VPS; \
                         sending it again once that job is done");
                    let since = *first_busy.get_or_insert_with(Instant::now);
                    if let Err(stopped) = pauses.pause(&self.ctx).await {
                        return Err(Refusal {
                            error: e,
                            stayed_busy: Some((since.elapsed(), stopped)),
                        });
                    }
                }
                Ok(v) => return Ok(v),
                Err(e) => {
                    return Err(Refusal {
                        error: e,
                        stayed_busy: None,
                    })
                }
            }
        }
    }

    /// Waits for the operation's job until it is terminal, the operation's deadline passes or
    /// Terraform sends Stop (see [`wait_job`]).
    pub async fn wait(&self, job: &JobRef, subject: &Subject) -> JobEnd {
        self.wait_watched(job, subject, None).await
    }

    /// [`Prepared::wait`], also telling `watch` each new observation of the job (an action's
    /// progress events).
    pub async fn wait_watched(
        &self,
        job: &JobRef,
        subject: &Subject,
        watch: Option<JobWatch>,
    ) -> JobEnd {
        let limit = Limit {
            timeout: self.timeout,
            used_before: self.started.elapsed(),
            busy: self.busy.load(Ordering::Relaxed),
        };
        wait_job(
            &self.client,
            &self.ctx,
            job,
            subject,
            limit,
            &self.sources,
            watch,
        )
        .await
    }
}

/// A gate check in flight, as [`prepare`] takes it: boxed, because a generic async closure that
/// borrows the resource's arguments is not provably `Send` across [`prepare`]'s retries (a
/// known limit of higher-ranked async closures), and `Resource` futures must be `Send`.
pub type GateFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = GateCheck> + Send + 'a>>;

/// No gate to re-check (deletes): for [`prepare`].
pub fn no_gate(_: Client) -> GateFuture<'static> {
    Box::pin(async { GateCheck::default() })
}

/// Reads a VPS's list for a gate check. At plan (`at_apply` false) the list is kept in `reads`;
/// the check just before the same operation's POST (`at_apply`) takes it instead of reading
/// again when this process has not changed the VPS since (see [`super::this_run::GateReads`]):
/// in one `terraform apply`, a created backup then costs two gate reads (the plan walk's and
/// the apply walk's re-plan), not three.
pub async fn read_for_gate<T: Clone>(
    reads: &super::this_run::GateReads<T>,
    client: &Client,
    vps_id: &str,
    at_apply: bool,
    read: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let changes = client.vps_changes(vps_id);
    if at_apply {
        if let Some(list) = reads.take(vps_id, changes) {
            return Ok(list);
        }
    }
    let list = read.await;
    if let (false, Ok(l)) = (at_apply, &list) {
        reads.keep(vps_id, changes, l.clone());
    }
    list
}

/// A gate check that first had to read something from HostUp: the check's own findings, or
/// the failed read as the one problem (`what` names what was being checked).
pub fn read_then_check<T>(
    read: Result<T, Error>,
    check: impl FnOnce(&T) -> GateCheck,
    what: impl FnOnce() -> String,
    paths: &Paths,
    sources: &Sources,
) -> GateCheck {
    match read {
        Ok(v) => check(&v),
        Err(e) => GateCheck {
            problems: vec![errors::api_error(what(), &e, paths, sources)],
            busy: None,
        },
    }
}

/// How a job ended, for the state: status, progress, finish time, and the diagnostic when it
/// did not complete.
#[derive(Debug)]
pub struct JobEnd {
    /// `completed`, `failed`, or the last observed status when the wait ended early.
    pub status: Option<String>,
    /// When HostUp finished it (or now, for a completed job without a finish time).
    pub completed_at: Option<String>,
    /// The terminal observation, when there is one.
    pub outcome: Option<JobOutcome>,
    /// Why the operation failed, if it did.
    pub error: Option<Diagnostic>,
}

/// Told each new observation of a job while [`wait_job`] waits for it.
pub type JobWatch = Arc<dyn Fn(&JobSnapshot) + Send + Sync>;

/// Waits for `job` until it is terminal, the deadline of `ctx` passes or Terraform sends Stop,
/// and turns the result into a [`JobEnd`] (`timeout` is the configured limit the messages
/// name).
/// Progress is logged under the provider's name.
pub async fn wait_job(
    client: &Client,
    ctx: &Ctx,
    job: &JobRef,
    subject: &Subject,
    limit: Limit,
    sources: &Sources,
    watch: Option<JobWatch>,
) -> JobEnd {
    let deadline = ctx.deadline().map(tokio::time::Instant::into_std);
    let job_id = job.job_id.clone();
    let vps = subject.vps_id.clone();
    let on_progress: JobWatch = Arc::new(move |s| {
        tracing::info!(job_id = %job_id, vps_id = %vps, status = %s.describe(),
            message = s.message.as_deref().unwrap_or(""), "HostUp job progress");
        if let Some(watch) = &watch {
            watch(s);
        }
    });
    let opts = WaitOptions {
        deadline,
        cancel: Some(ctx.token().clone()),
        on_progress: Some(on_progress),
        schedule: None,
    };
    match client.wait_for_job(job, opts).await {
        Ok(outcome) => {
            let status = Some(outcome.status());
            match outcome.terminal {
                TerminalState::Completed => {
                    tracing::info!(job_id = %outcome.job_id, vps_id = %subject.vps_id,
                        polls = outcome.polls, "HostUp job completed");
                    JobEnd {
                        status,
                        completed_at: Some(
                            outcome
                                .finished_at()
                                .map(str::to_owned)
                                .unwrap_or_else(now_rfc3339),
                        ),
                        outcome: Some(outcome),
                        error: None,
                    }
                }
                TerminalState::Failed => {
                    tracing::warn!(job_id = %outcome.job_id, vps_id = %subject.vps_id,
                        "HostUp job failed");
                    JobEnd {
                        status,
                        completed_at: outcome.finished_at().map(str::to_owned),
                        error: Some(errors::job_failed(subject, &outcome)),
                        outcome: Some(outcome),
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(job_id = %e.job_id(), vps_id = %subject.vps_id, error = %e,
                "stopped waiting for a HostUp job");
            JobEnd {
                status: e
                    .last_observed()
                    .and_then(|s| s.status.clone().or_else(|| s.raw_state.clone())),
                completed_at: None,
                outcome: None,
                error: Some(errors::wait_error(subject, &e, limit, sources)),
            }
        }
    }
}

/// Why a job-creating request ([`Prepared::send`]) queued nothing: HostUp's last answer, and
/// how long HostUp kept refusing it as busy before the wait ended, when it did.
#[derive(Debug)]
pub struct Refusal {
    /// HostUp's answer (or the transport's failure).
    pub error: Error,
    /// How long HostUp refused the request as busy, and whether Stop ended the wait.
    stayed_busy: Option<(Duration, bool)>,
}

impl Refusal {
    /// The diagnostic: a VPS that stayed busy says how long it waited and that the timeout
    /// can be raised; a lost answer says the job may be queued; anything else is the ordinary
    /// API error, under `summary`.
    pub fn diagnostic(
        &self,
        subject: &Subject,
        summary: String,
        paths: &Paths,
        sources: &Sources,
    ) -> Diagnostic {
        let err = &self.error;
        if let Some((waited, stopped)) = self.stayed_busy {
            errors::busy_refused(subject, err, paths, waited, stopped)
        } else if err.may_have_been_applied() {
            errors::maybe_queued(subject, err)
        } else {
            errors::api_error(summary, err, paths, sources)
        }
    }
}

/// One operation's entry of the `timeouts` block: its name there and its default, stated
/// once (the schema's description shows the default from here). [`prepare`] applies it as the
/// deadline of the operation's context ([`Ctx::with_timeout`]), which the busy-VPS pauses and
/// the job wait read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpTimeout {
    /// The attribute in the `timeouts` block (`create`, `delete`).
    pub name: &'static str,
    /// Its default.
    pub default: Duration,
}

impl OpTimeout {
    /// `timeouts.<name>`, `default` when unset.
    pub const fn new(name: &'static str, default: Duration) -> Self {
        OpTimeout { name, default }
    }

    /// The default as a Go-style duration, the way users write it (`30m`, `90s`).
    pub fn default_text(&self) -> String {
        let secs = self.default.as_secs();
        if secs % 60 == 0 && secs > 0 {
            format!("{}m", secs / 60)
        } else {
            format!("{secs}s")
        }
    }

    /// The timeout in force in `obj` (plan or state), or an error diagnostic pointing at it.
    pub fn of(&self, obj: &ObjectValue, diags: &mut Diagnostics) -> Option<Duration> {
        match timeouts::get(obj, self.name, self.default) {
            Ok(t) => Some(t),
            Err(d) => {
                diags.push(d);
                None
            }
        }
    }
}
