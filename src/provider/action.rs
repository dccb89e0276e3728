//! What every action-style resource (`hostup_vps_backup`, `hostup_vps_snapshot_restore`)
//! shares: the job id in state before the wait, adopting a job an earlier apply stopped
//! waiting for, refreshing the status of a job that was not finished, importing a job.
//!
//! Adopting: when a create's wait ends before its job (timeout, Ctrl-C), Terraform keeps the
//! resource tainted and the next apply replaces it: its destroy half runs first (and only
//! forgets), then the create half, planned again with no prior state. The destroy half tells
//! [`super::this_run`] the unfinished job; the create half, recognised by the same arguments,
//! adopts it instead of queuing a second backup or rolling the disk back twice.
//!
//! An action-style resource stands for one run of an operation. Creating it runs the operation and
//! waits for its job; nothing else ever runs it again: refresh only reads the job, and destroy only
//! forgets the resource (docs/ARCHITECTURE.md, "Resources"). The rules that keep that promise are
//! here so both resources keep it the same way.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::hostup::{JobKind, JobOutcome, JobRef, JobSnapshot, JobState};
use crate::plugin::diag::{AttributePath, Diagnostic};
use crate::plugin::framework::{
    CreateResponse, Ctx, Field, ImportResponse, ObjectValue, PlanRequest, PlanResponse, Private,
    ReadRequest, ReadResponse,
};

use crate::plugin::schema::{Attribute, Block};

use super::data::HostupData;
use super::errors::{self, Paths, Subject};
use super::values::{now_rfc3339, split_import_id};

// What an action-style resource is built from besides this room's own rules: the job-operation
// engine, the schema fragments and the value helpers. They live in rooms of their own (other
// types use them too); an action-style resource file takes them from here, so it names three
// rooms (this one, the provider's data, the error texts) and holds only what is its own.
pub use super::operation::{
    no_gate, prepare, read_for_gate, read_then_check, GateCheck, GateFuture, OpTimeout, Prepared,
    SendFuture,
};
pub use super::schema_parts::{timeouts_block, triggers_argument, vps_id_argument};
pub use super::this_run::JobKey;
pub use super::values::{known, required, validate_snapshot_name, validate_vps_id, Triggers};

/// The attributes of [`job_attributes`] as an action-style resource reads them from its
/// state: which job it stands for and what was last seen of it.
#[derive(Debug, Deserialize)]
struct JobModel {
    vps_id: Field<String>,
    job_id: Field<String>,
    status: Field<String>,
}

/// What an action-style resource records of its job as soon as HostUp accepted it.
#[derive(Serialize)]
struct JobStarted<'a> {
    id: &'a str,
    job_id: &'a str,
    status: &'a str,
}

/// What it records of the job's end (or of the last look at it).
#[derive(Serialize)]
struct JobSeen<'a> {
    status: &'a str,
    completed_at: Option<&'a str>,
}

/// The computed attributes every action-style resource has (`id`, `job_id`, `status`,
/// `completed_at`), added to its block; `what` names the operation ("backup", "restore").
pub fn job_attributes(block: Block, what: &str) -> Block {
    block
        .attribute(
            Attribute::string("id")
                .computed()
                .use_state_for_unknown()
                .description(format!("The {what} job id (same as `job_id`).")),
        )
        .attribute(
            Attribute::string("job_id")
                .computed()
                .use_state_for_unknown()
                .description(format!(
                    "Id of the HostUp job that ran the {what} (`job_…`). Saved in state as \
                     soon as HostUp accepted the {what}, before waiting."
                )),
        )
        .attribute(
            Attribute::string("status")
                .computed()
                .use_state_for_unknown()
                .description(
                    "Last known status of the job: `completed` after a successful apply; \
                     `failed`, or the status seen last (e.g. `in_progress`), on a tainted \
                     resource whose wait failed.",
                ),
        )
        .attribute(
            Attribute::string("completed_at")
                .computed()
                .use_state_for_unknown()
                .description("When HostUp finished the job (RFC 3339), or null when it has not."),
        )
}

/// Private-state key marking a freshly imported action resource, whose null arguments adopt
/// the configuration's values without running the action again.
pub const IMPORTED_KEY: &str = "imported";

/// The first plan call of an action resource (the one with a prior state): after an import,
/// lets the null `adoptable` arguments take the configuration's values without a replacement
/// (import cannot recover them; the configuration supplies them).
pub fn plan_prior<D>(req: &PlanRequest<D>, adoptable: &[&str], resp: &mut PlanResponse) {
    let Some(prior) = &req.prior_state else {
        return;
    };
    if req.prior_private.get::<bool>(IMPORTED_KEY) == Some(true) {
        for a in adoptable {
            if prior.attr(a).is_null() {
                let p = AttributePath::root(*a);
                resp.requires_replace.retain(|x| x != &p);
            }
        }
    }
}

/// The private state an update stores: the import settled.
pub fn settle_private(private: &mut Private) {
    private.remove(IMPORTED_KEY);
}

/// What pairs an action resource in state with the create that replaces it: its type, VPS and
/// `run_args` (the arguments besides `vps_id` and `timeouts`, from its typed model), as
/// [`super::this_run`] keys them. A prior state, a config and a plan of the same arguments
/// give the same key; an argument still unknown gives another.
pub fn job_key(type_name: &str, vps_id: &Field<String>, run_args: &impl Debug) -> Option<JobKey> {
    let vps_id = vps_id.get()?;
    Some((
        type_name.to_owned(),
        vps_id.clone(),
        format!("{run_args:?}"),
    ))
}

/// Private-state key of the plan of a create that adopts an unfinished job: the job id. The
/// plan walk's refresh saw the job; the apply walk has no refresh, and Terraform hands that
/// planned private state to the destroy half of the replacement (plans/changes.go, the
/// replace change's `Private`), which passes it on to the create half through
/// [`super::this_run`].
const ADOPT_KEY: &str = "adopt_job";

/// The job of a state whose last seen status was not final.
fn unfinished_in(state: &ObjectValue) -> Option<String> {
    let m: JobModel = state.decode().ok()?;
    let terminal = m
        .status
        .as_deref()
        .is_some_and(|s| JobState::of_word(s).is_terminal());
    m.job_id.into_option().filter(|_| !terminal)
}

/// Destroy of an action resource only forgets it; when its job had not finished (a tainted
/// create being replaced), this run remembers the job so the replacement can adopt it.
pub fn forget(
    data: Option<&HostupData>,
    key: Option<JobKey>,
    prior: &ObjectValue,
    private: &Private,
) {
    let (Some(data), Some(key)) = (data, key) else {
        return;
    };
    let job = private
        .get::<String>(ADOPT_KEY)
        .or_else(|| unfinished_in(prior));
    if let Some(job_id) = job {
        data.run.saw_unfinished_job(key, &job_id);
    }
}

/// Puts the job into the state *before* waiting, so a failed, timed-out or interrupted wait
/// leaves a tainted resource that still names its job; then waits and records its end status,
/// finish time and diagnostic. Returns the job's end when it completed.
pub async fn record_and_wait(
    job: &Prepared,
    job_ref: &JobRef,
    status: &str,
    subject: &Subject,
    planned: &ObjectValue,
    resp: &mut CreateResponse,
) -> Option<JobOutcome> {
    let mut state = planned.clone();
    let id = job_ref.job_id.as_str();
    state.set_fields(&JobStarted {
        id,
        job_id: id,
        status,
    });
    resp.state = state;
    let end = job.wait(job_ref, subject).await;
    resp.state.set_fields(&JobSeen {
        status: end.status.as_ref().map_or(status, |s| s.as_str()),
        completed_at: end.completed_at.as_deref(),
    });
    match end.error {
        Some(e) => {
            resp.diagnostics.push(e);
            None
        }
        None => end.outcome,
    }
}

/// What [`adopt_unfinished`] did.
pub enum Adoption {
    /// Nothing to adopt: run the operation.
    None,
    /// The earlier job was adopted and waited for (the response says how it ended); its end,
    /// if it completed.
    Adopted(Option<Box<JobOutcome>>),
}

/// The plan of a create that will adopt an unfinished job (see [`adopt_unfinished`]): notes
/// the job in the planned private state and says so, in place of the gate check, whose gate
/// that very job may keep closed. `None` when there is nothing to adopt.
pub fn adoption_notice(
    data: &HostupData,
    key: Option<&JobKey>,
    what: &str,
    resp: &mut PlanResponse,
) -> Option<Diagnostic> {
    let job_id = data.run.unfinished_job(key?)?;
    resp.planned_private.set(ADOPT_KEY, &job_id);
    Some(Diagnostic::warning(
        format!("Apply adopts the unfinished {what} job {job_id}"),
        format!(
            "An earlier apply stopped waiting for job {job_id} before it ended, so Terraform \
             replaces the tainted resource. Apply waits for that job instead of queuing \
             another {what}, and queues a new one only if that job failed."
        ),
    ))
}

/// The create of a replacement that follows a create whose wait ended before its job did (the
/// taint Terraform puts on it): when that job is still queued or running, or has completed,
/// it is this resource's job, waited for and recorded without queuing another (a second
/// backup, or the disk rolled back twice). A job that failed, or that HostUp no longer knows,
/// is not adopted: the operation runs again.
pub async fn adopt_unfinished(
    data: &HostupData,
    ctx: &Ctx,
    subject: &Subject,
    planned: &ObjectValue,
    key: Option<&JobKey>,
    timeout: OpTimeout,
    resp: &mut CreateResponse,
) -> Adoption {
    let Some(job_id) = key.and_then(|k| data.run.unfinished_job(k)) else {
        return Adoption::None;
    };
    let job_ref = JobRef::new(job_id.as_str()).on_vps(subject.vps_id.as_str());
    let snap = match data.client(ctx).get_job(&job_ref).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(job_id = %job_id, error = %e,
                "the earlier job cannot be read; running the operation again");
            return Adoption::None;
        }
    };
    if snap.job_state() == JobState::Failed {
        tracing::info!(job_id = %job_id, "the earlier job failed; running the operation again");
        return Adoption::None;
    }
    tracing::info!(job_id = %job_id, status = %snap.describe(),
        "adopting the job of the earlier, interrupted apply instead of queuing another");
    let diags = &mut resp.diagnostics;
    let Some(job) = prepare(data, ctx, subject, planned, timeout, diags, no_gate).await else {
        return Adoption::Adopted(None);
    };
    let status = status_of(&snap);
    let end = record_and_wait(&job, &job_ref, &status, subject, planned, resp).await;
    Adoption::Adopted(end.map(Box::new))
}

/// A job's status word for the state.
fn status_of(snap: &JobSnapshot) -> String {
    snap.status
        .clone()
        .or_else(|| snap.raw_state.clone())
        .unwrap_or_else(|| format!("{:?}", snap.job_state()).to_ascii_lowercase())
}

/// Refresh of an action resource: never runs anything, never drops the resource (the job
/// happened, or the resource is tainted), but when the job was not finished in state, reads it
/// once and records its `status` and `completed_at`. Returns the job when it was read.
pub async fn refresh_job(
    data: &HostupData,
    ctx: &Ctx,
    req: &ReadRequest<HostupData>,
    key: Option<JobKey>,
    resp: &mut ReadResponse,
) -> Option<JobSnapshot> {
    let cur = &req.current_state;
    let job_id = unfinished_in(cur)?;
    let job_id = job_id.as_str();
    let mut job_ref = JobRef::new(job_id);
    if let Ok(JobModel {
        vps_id: Field::Value(v),
        ..
    }) = cur.decode()
    {
        job_ref = job_ref.on_vps(v);
    }
    match data.client(ctx).get_job(&job_ref).await {
        Ok(snap) => {
            // Unfinished when last seen, and not failed: a replacement of this (tainted)
            // resource adopts it, whether it still runs or has completed meanwhile.
            if let Some(k) = key.filter(|_| snap.job_state() != JobState::Failed) {
                data.run.saw_unfinished_job(k, job_id);
            }
            if let Some(st) = resp.state.as_mut() {
                let finished = match snap.job_state() {
                    JobState::Completed => {
                        Some(snap.finished_at.clone().unwrap_or_else(now_rfc3339))
                    }
                    JobState::Failed => snap.finished_at.clone(),
                    _ => None,
                };
                st.set_fields(&JobSeen {
                    status: &status_of(&snap),
                    completed_at: finished.as_deref(),
                });
            }
            Some(snap)
        }
        Err(e) => {
            // The resource stands whatever the job's fate; a status that cannot be read now is
            // read again at the next refresh.
            tracing::info!(job_id = %job_id, error = %e, "could not refresh the job's status");
            None
        }
    }
}

/// The import of an action resource by `<vps_id>/<job_id>`: reads the job, refuses a job of
/// another VPS (when HostUp's `vmId` is a comparable `vps_…` id) or of another kind (when its
/// type names one; unknown and absent types are accepted, HostUp's names being undocumented),
/// and fills the attributes every action resource has and the import marker. Returns the job
/// for the resource's own attributes.
pub async fn import_job(
    data: &HostupData,
    ctx: &Ctx,
    id: &str,
    kind: &str,
    kinds: &[JobKind],
    resp: &mut ImportResponse,
) -> Option<JobSnapshot> {
    let (vps_id, job_id) = match split_import_id(id, "job_id") {
        Ok(p) => p,
        Err(d) => {
            resp.diagnostics.push(d);
            return None;
        }
    };
    let snap = match data.client(ctx).get_job(&JobRef::new(job_id)).await {
        Ok(s) => s,
        Err(e) => {
            resp.diagnostics.push(errors::api_error(
                format!("Could not import {kind} job {job_id} of VPS {vps_id}"),
                &e,
                &Paths::default(),
                &data.config.sources,
            ));
            return None;
        }
    };
    if snap.is_on_other_vps(vps_id) {
        resp.diagnostics.error(
            format!("Job {job_id} is not a job of VPS {vps_id}"),
            format!(
                "HostUp reports job {job_id} on VPS {}. Import it as `{}/{job_id}`, or check \
                 the job id.",
                snap.vm_id.as_deref().unwrap_or_default(),
                snap.vm_id.as_deref().unwrap_or_default(),
            ),
        );
        return None;
    }
    if let Some(k) = snap
        .kind()
        .filter(|k| *k != JobKind::Unknown && !kinds.contains(k))
    {
        let t = snap.job_type.as_deref().unwrap_or_default();
        resp.diagnostics.error(
            format!("Job {job_id} is not a {kind} job"),
            format!(
                "HostUp reports job {job_id} as {t:?} ({}), not a {kind}; import it into the \
                 resource type that matches.",
                kind_words(k)
            ),
        );
        return None;
    }
    /// What an import knows of every action resource: its VPS and its job.
    #[derive(Serialize)]
    struct Imported<'a> {
        vps_id: &'a str,
        #[serde(flatten)]
        started: JobStarted<'a>,
        completed_at: Option<&'a str>,
    }
    resp.state.set_fields(&Imported {
        vps_id,
        started: JobStarted {
            id: job_id,
            job_id,
            status: &status_of(&snap),
        },
        completed_at: snap.finished_at.as_deref(),
    });
    resp.private.set(IMPORTED_KEY, &true);
    Some(snap)
}

fn kind_words(k: JobKind) -> &'static str {
    match k {
        JobKind::BackupCreate => "a backup",
        JobKind::BackupRestore => "a backup restore",
        JobKind::BackupDelete => "a backup deletion",
        JobKind::SnapshotCreate => "a snapshot",
        JobKind::SnapshotRestore => "a snapshot restore",
        JobKind::SnapshotDelete => "a snapshot deletion",
        JobKind::Unknown => "another kind of job",
    }
}

/// A string from a job's `result` object (e.g. `backup.note`), when HostUp reported one.
pub fn job_result_str<'a>(snap: &'a JobSnapshot, path: &[&str]) -> Option<&'a str> {
    let mut v = snap.result.as_ref()?;
    for key in path {
        v = v.get(*key)?;
    }
    v.as_str()
}
