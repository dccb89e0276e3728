//! What every Terraform action of this provider shares (Terraform 1.14 and later:
//! `action "hostup_vps_backup" "x" { config { … } }`): the `timeout` argument, the plan-time
//! check and the run of one HostUp job with its progress streamed to Terraform.
//!
//! An action is the action-style resource of the same name without the state: the same gate
//! checks (from the resource's file) shown the same way at plan (`plan_checks` included:
//! `terraform destroy` first runs a normal plan, and that plan plans the actions its pending
//! creates and updates trigger: internal/terraform/context_plan.go of v1.15.9 l.561-588,
//! node_action_trigger_instance_plan.go l.161-190), the same per-VPS queueing, the same job
//! wait ([`super::operation`]) and the same error texts ([`super::errors`], worded for an
//! action: nothing is tainted, the next step is to invoke again).
//!
//! Terraform shows an `action_trigger`'s plan diagnostics and every invocation's as one
//! message, "Summary: Detail" each, without their attribute paths
//! (node_action_trigger_instance_plan.go l.167-182, node_action_trigger_instance_apply.go
//! l.244-263): so each text names what it is about itself. What an action adds is progress:
//! one event when HostUp accepts the job (so Terraform always shows the job id), then one per
//! change the job waiter sees.

use std::sync::Arc;
use std::time::Duration;

use crate::hostup::{Client, JobOutcome, JobSnapshot, Operation};
use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::framework::{timeouts, InvokeActionRequest, InvokeActionResponse, ObjectValue};
use crate::plugin::schema::Attribute;

use super::data::HostupData;
use super::errors::{Paths, Subject};
use super::operation::{prepare_within, GateFuture, JobWatch, OpTimeout, SendFuture};

/// The `timeout` argument: how long the action waits for its job, `op`'s default when unset.
pub fn timeout_argument(op: OpTimeout, what: &str) -> Attribute {
    Attribute::string("timeout").optional().description(format!(
        "How long to wait for the {what} job, as a duration such as `90m` or `2h` (default \
        `{}`). Waiting for a job started outside this run that keeps the VPS busy counts \
        towards it; waiting for this run's own jobs on the VPS does not. When it passes, the \
        action fails and the job may still be running on HostUp.",
        op.default_text()
    ))
}

/// Checks a known `timeout` (validate and plan).
pub fn validate_timeout(config: &ObjectValue, diags: &mut Diagnostics) {
    if let Some(text) = config.string("timeout") {
        parse_timeout(text, diags);
    }
}

/// The `timeout` in force: the argument, or `op`'s default.
pub fn timeout_of(
    config: &ObjectValue,
    op: OpTimeout,
    diags: &mut Diagnostics,
) -> Option<Duration> {
    match config.string("timeout") {
        Some(text) => parse_timeout(text, diags),
        None => Some(op.default),
    }
}

/// `text` as a duration, or an error at `timeout`.
fn parse_timeout(text: &str, diags: &mut Diagnostics) -> Option<Duration> {
    match timeouts::parse_duration(text) {
        Ok(t) => Some(t),
        Err(why) => {
            diags
                .error(
                    "Invalid timeout",
                    format!("{why}. Write a duration such as \"90m\" or \"2h\"."),
                )
                .at(AttributePath::root("timeout"));
            None
        }
    }
}

/// What every invocation reads first: the provider's data, the `timeout` in force and the
/// typed configuration `M`. `None` when the diagnostics say why.
pub fn begin<'r, M: serde::de::DeserializeOwned>(
    req: &'r InvokeActionRequest<HostupData>,
    op: OpTimeout,
    diags: &mut Diagnostics,
) -> Option<(&'r HostupData, Duration, M)> {
    let data = req.provider.require(diags)?;
    let timeout = timeout_of(&req.config, op, diags)?;
    let model = req.config.model::<M>(diags)?;
    Some((data, timeout, model))
}

/// How one action's job is started: the gate re-check before the request, the request, and
/// how a refusal is worded.
pub struct Run<'a, G, S> {
    /// What the action does, on which VPS (worded with [`Subject::invoked`]).
    pub subject: Subject,
    /// The wait's limit (the `timeout` argument).
    pub timeout: Duration,
    /// The gate check just before the request, as for the resource's apply.
    pub gate: G,
    /// The job-creating request.
    pub send: S,
    /// The summary of an error that queued nothing, e.g. "Could not queue the backup of VPS x".
    pub refused: String,
    /// Where HostUp's errors point in the action's configuration.
    pub paths: &'a Paths,
}

/// Runs one action's job: queue behind this process's other jobs on the VPS, check the gate,
/// send the request, report the job id as progress, wait for the job reporting each change,
/// and put any failure into `resp`. Returns the job's end when it completed.
pub async fn run<'g, 's, G, S>(
    data: &HostupData,
    ctx: &crate::plugin::framework::Ctx,
    run: Run<'_, G, S>,
    resp: &mut InvokeActionResponse,
) -> Option<JobOutcome>
where
    G: Fn(Client) -> GateFuture<'g>,
    S: Fn(Client) -> SendFuture<'s, Operation>,
{
    let Run {
        subject,
        timeout,
        gate,
        send,
        refused,
        paths,
    } = run;
    let progress = resp.progress_sender();
    if data.client.vps_lock_in_use(&subject.vps_id) {
        progress.send(format!(
            "Waiting for this run's other jobs on VPS {} before the {}",
            subject.vps_id, subject.action
        ));
    }
    let diags = &mut resp.diagnostics;
    let job = prepare_within(data, ctx, &subject, timeout, diags, gate, Some(&progress)).await?;
    let op = match job.send(&subject, send).await {
        Ok(op) => op,
        Err(e) => {
            diags.push(e.diagnostic(&subject, refused, paths, &data.config.sources));
            return None;
        }
    };
    tracing::info!(job_id = %op.job_id, vps_id = %subject.vps_id, action = %subject.action,
        "HostUp job queued by an action");
    progress.send(format!(
        "HostUp accepted the {} of VPS {}: job {}",
        subject.action, subject.vps_id, op.job_id
    ));
    let job_id = op.job_id.clone();
    let watch: JobWatch = Arc::new(move |s: &JobSnapshot| {
        progress.send(progress_text(&job_id, s));
    });
    let end = job.wait_watched(&op.job_ref(), &subject, Some(watch)).await;
    match end.error {
        Some(e) => {
            resp.diagnostics.push(e);
            None
        }
        None => end.outcome,
    }
}

/// One progress line: `job job_… is 40% (running): Copying disk`.
fn progress_text(job_id: &str, s: &JobSnapshot) -> String {
    let mut text = format!("job {job_id} is {}", s.describe());
    if let Some(m) = s.message.as_deref().filter(|m| !m.trim().is_empty()) {
        text.push_str(": ");
        text.push_str(m.trim());
    }
    text
}
