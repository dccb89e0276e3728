//! The one place that turns HostUp client errors, job waits and closed gates into Terraform
//! diagnostics.
//!
//! Exists so every resource says the same things the same way (docs/ARCHITECTURE.md, "Errors"): the
//! summary says what failed in user terms, the detail carries HostUp's `detail`, `code` and
//! `requestId` plus what to do next, and the diagnostic points at the attribute it is about.
//! The next step is the client's hint (what HostUp's answer means, in HostUp's terms) with the
//! Terraform-level part added here ([`api_hint`]): the provider's arguments, environment
//! variables and Terraform's flags, which the client does not know.
//! Wait failures always name the VPS, the job, its last status and progress, and say that the
//! job may still be running on HostUp. Nothing here ever sees the API key (the client's errors
//! are scrubbed and never carry it).

use std::time::Duration;

use super::config::{Source, Sources, DEFAULT_ENDPOINT, ENV_API_KEY, ENV_ENDPOINT};
use crate::hostup::{Error, Gate, Hint, JobOutcome, JobSnapshot, Remedy, WaitError};
use crate::plugin::diag::{AttributePath, Diagnostic};

/// What an operation is about, so every diagnostic can name it.
///
/// `action` is the user-terms name of the operation ("the backup", "the restore of snapshot
/// \"before-upgrade\""), `address` the resource type the user wrote.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The VPS the operation runs on.
    pub vps_id: String,
    /// E.g. `backup`, `restore of snapshot "before-upgrade"`.
    pub action: String,
    /// The Terraform type, e.g. `hostup_vps_backup`.
    pub type_name: &'static str,
    /// The `timeouts` attribute that bounds the wait (`create`, or `delete`).
    pub timeout_attr: &'static str,
    /// What the next apply does with a resource whose wait failed.
    pub after_failure: AfterFailure,
    /// Whether the operation replaces data on the VPS (a restore): an interruption then says
    /// that the job may still finish.
    pub destructive: bool,
}

/// What the next apply does with a resource whose job wait ended in failure, for the next
/// step that wait errors name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// An action resource: tainted; the replacement adopts the job unless it failed.
    Adopts,
    /// A snapshot: tainted; the replacement deletes it (once its job ended) and takes it again.
    Retakes,
    /// A delete: the resource stays in state, and the next destroy or apply deletes again.
    Stays,
    /// A Terraform action: nothing is in state; it runs again only when invoked again.
    Invoked,
}

/// What runs an operation, where a text differs: a resource's apply or an action's invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunBy {
    /// `terraform apply` of the resource.
    Apply,
    /// An invocation of the action (Terraform 1.14 and later).
    Invoke,
}

impl Subject {
    /// Builds a subject.
    pub fn new(type_name: &'static str, vps_id: &str, action: impl Into<String>) -> Self {
        Subject {
            vps_id: vps_id.to_owned(),
            action: action.into(),
            type_name,
            timeout_attr: "create",
            after_failure: AfterFailure::Adopts,
            destructive: false,
        }
    }

    /// The same subject, for an operation that replaces the VPS disk (builder).
    pub fn destructive(mut self) -> Self {
        self.destructive = true;
        self
    }

    /// The same subject, its waits bounded by `timeouts.<attr>` (builder); a delete leaves the
    /// resource in state when it fails.
    pub fn bounded_by(mut self, attr: &'static str) -> Self {
        self.timeout_attr = attr;
        if attr == "delete" {
            self.after_failure = AfterFailure::Stays;
        }
        self
    }

    /// The same subject, for a create whose failure the next apply retakes (builder).
    pub fn retaken(mut self) -> Self {
        self.after_failure = AfterFailure::Retakes;
        self
    }

    /// The same subject, for a Terraform action (builder): its wait is bounded by its
    /// `timeout` argument and nothing of it is kept in state.
    pub fn invoked(mut self) -> Self {
        self.after_failure = AfterFailure::Invoked;
        self
    }

    /// How the configuration names the limit of the wait: `timeouts.create`, or an action's
    /// `timeout`.
    fn timeout_name(&self) -> String {
        match self.after_failure {
            AfterFailure::Invoked => "timeout".to_owned(),
            _ => format!("timeouts.{}", self.timeout_attr),
        }
    }

    /// The same, written with a longer limit, as the user would change it.
    fn timeout_example(&self) -> String {
        match self.after_failure {
            AfterFailure::Invoked => "timeout = \"2h\"".to_owned(),
            _ => format!("timeouts {{ {} = \"2h\" }}", self.timeout_attr),
        }
    }
}

/// Where an API error should point in the configuration.
///
/// Exists because HostUp reports problems by JSON Pointer into its request body (`/name`) and
/// by code (`vps_not_found`), while Terraform wants attribute paths.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// The attribute holding the VPS id (404 `vps_not_found`, 403, gate codes).
    pub vps_id: Option<&'static str>,
    /// The attribute holding the target name (snapshot name) for `snapshot_*` codes.
    pub target: Option<&'static str>,
    /// JSON Pointer → attribute, for `errors[].pointer`.
    pub pointers: &'static [(&'static str, &'static str)],
}

impl Paths {
    /// Errors about the VPS point at `vps_id`.
    pub fn vps() -> Self {
        Paths {
            vps_id: Some("vps_id"),
            ..Paths::default()
        }
    }

    /// Like [`Paths::vps`], plus snapshot codes pointing at `attr`.
    pub fn vps_and_target(attr: &'static str) -> Self {
        Paths {
            vps_id: Some("vps_id"),
            target: Some(attr),
            pointers: &[],
        }
    }

    /// Adds the pointer map (builder).
    pub fn with_pointers(mut self, pointers: &'static [(&'static str, &'static str)]) -> Self {
        self.pointers = pointers;
        self
    }

    fn for_error(&self, err: &Error) -> Option<AttributePath> {
        for fe in err.field_errors() {
            if let Some(p) = fe.pointer.as_deref() {
                if let Some((_, attr)) = self.pointers.iter().find(|(ptr, _)| *ptr == p) {
                    return Some(AttributePath::root(*attr));
                }
            }
        }
        let code = err.code().unwrap_or("");
        if code.starts_with("snapshot") {
            if let Some(t) = self.target {
                return Some(AttributePath::root(t));
            }
        }
        match err.status() {
            Some(403) | Some(404) | Some(409) => self.vps_id.map(AttributePath::root),
            _ => None,
        }
    }
}

/// The scope a 403 is about: the one HostUp named, else the one the endpoint needs.
pub fn missing_scope(err: &Error) -> Option<String> {
    if err.status() != Some(403) {
        return None;
    }
    err.problem().and_then(|p| p.named_scope()).or_else(|| {
        err.request()
            .and_then(|r| r.required_scope)
            .map(str::to_owned)
    })
}

/// What to do about an API error: the client's step, then where to change the setting it
/// names ([`Remedy`]) in Terraform's terms, then the client's notes (whether HostUp may have
/// acted anyway, the request id for support).
pub fn api_hint(err: &Error, sources: &Sources) -> String {
    let Hint {
        step,
        remedy,
        notes,
    } = err.hint_parts();
    match remedy.map(|r| terraform_step(r, sources)) {
        Some(t) => format!("{step} {t}{notes}"),
        None => format!("{step}{notes}"),
    }
}

/// Where a [`Remedy`] is set, for a Terraform user: where this run's setting came from, and
/// only that.
fn terraform_step(remedy: Remedy, sources: &Sources) -> String {
    match remedy {
        Remedy::ApiKey => {
            match sources.api_key {
                Source::Environment => {
                    format!("Set the {ENV_API_KEY} environment variable (where this key came from) to it.")
                }
                Source::Block | Source::Default => "Set the provider's `api_key` to it.".to_owned(),
            }
        }
        Remedy::Endpoint => match sources.endpoint {
            Source::Block => "The endpoint is the provider's `endpoint` argument.".to_owned(),
            Source::Environment => {
                format!("The endpoint comes from the {ENV_ENDPOINT} environment variable.")
            }
            Source::Default => format!(
                "The provider uses HostUp's endpoint {DEFAULT_ENDPOINT}; set `endpoint` in the \
                 provider block to use another."
            ),
        },
        Remedy::FewerRequests => {
            "To send fewer requests at once, lower terraform -parallelism.".to_owned()
        }
        Remedy::NewerClient => {
            "The client is built into the provider: upgrading the provider upgrades it.".to_owned()
        }
    }
}

/// An API call failed. `summary` says what we tried in user terms ("Could not list the
/// snapshots of VPS vps_…"); the detail carries HostUp's answer and the hint.
pub fn api_error(
    summary: impl Into<String>,
    err: &Error,
    paths: &Paths,
    sources: &Sources,
) -> Diagnostic {
    let mut summary = summary.into();
    if let Some(scope) = missing_scope(err) {
        summary = format!("{summary}: the API key lacks the scope {scope}");
    } else if err.status() == Some(401) {
        summary = format!("{summary}: HostUp rejected the API key");
    } else if err.is_cancelled() {
        summary = format!("{summary}: cancelled");
    }
    let mut detail = err.to_string();
    if !detail.ends_with('.') {
        detail.push('.');
    }
    if let Some(code) = err.code() {
        if !detail.contains(code) {
            detail.push_str(&format!(" Code: {code}."));
        }
    }
    // HostUp's field errors, each once, by the attribute the user wrote where one is known.
    let fields: Vec<(String, String)> = err
        .field_errors()
        .iter()
        .map(|fe| {
            let pointer = fe.pointer.as_deref().unwrap_or("");
            let name = match paths.pointers.iter().find(|(ptr, _)| *ptr == pointer) {
                Some((_, attr)) => format!("`{attr}`"),
                None if pointer.is_empty() => "the request".to_owned(),
                None => pointer.to_owned(),
            };
            let why = fe
                .detail
                .as_deref()
                .or(fe.code.as_deref())
                .unwrap_or("invalid");
            (name, why.trim().trim_end_matches('.').to_owned())
        })
        .collect();
    let hint = if fields.is_empty() || !matches!(err.status(), Some(400 | 422)) {
        api_hint(err, sources)
    } else {
        // The client's step repeats the field errors in API terms; say what to change instead.
        let mut names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        names.dedup();
        format!(
            "Change {}, then run `terraform apply` again.{}",
            names.join(", "),
            err.hint_parts().notes
        )
    };
    // The request id once: the hint's note for HostUp support carries it when it has one.
    if let Some(rid) = err.request_id() {
        if !detail.contains(rid) && !hint.contains(rid) {
            detail.push_str(&format!(" Request id: {rid}."));
        }
    }
    for (name, why) in &fields {
        detail.push_str(&format!("\n- {name}: {why}."));
    }
    detail.push_str("\n\n");
    detail.push_str(&hint);
    let d = Diagnostic::error(summary, detail);
    match paths.for_error(err) {
        Some(p) => d.with_path(p),
        None => d,
    }
}

/// HostUp's code of a gate, as ` (code …)`; nothing when the gate has none.
fn code_note(gate: &Gate) -> String {
    gate.code
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| format!(" (code {c})"))
        .unwrap_or_default()
}

/// Why a gate is closed, as a sentence without its full stop: HostUp's reason quoted, or (when
/// it gave none) what its code means in our words, or that it gave no reason; its code once.
fn gate_why(gate: &Gate) -> String {
    if let Some(r) = gate.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        return format!(
            "HostUp says: {}{}",
            r.trim().trim_end_matches('.'),
            code_note(gate)
        );
    }
    let meaning = match gate.code.as_deref() {
        Some("job_in_progress") => "Another job is running on this VPS",
        Some("pending_order") => "The VPS order is not complete yet",
        Some("feature_not_in_plan") => "The VPS plan does not include this feature",
        Some("snapshot_limit_reached") => "All snapshot slots are used",
        Some("backup_quota_exceeded") => "The backup quota is used up",
        Some("service_suspended") | Some("service_inactive") => "The VPS service is not active",
        _ => "HostUp gave no reason",
    };
    format!("{meaning}{}", code_note(gate))
}

/// A gate HostUp reports as closed (plan time or just before the POST).
///
/// `gate_name` is the API's name (`canRestore`), for the logs; the text says what it gates in
/// the user's words. HostUp's reason is quoted once (it often says what to do already), then
/// one next step in Terraform's terms.
pub fn gate_closed(
    subject: &Subject,
    gate_name: &str,
    gate: &Gate,
    path: AttributePath,
    at_apply: bool,
) -> Diagnostic {
    tracing::debug!(
        gate = gate_name,
        code = gate.code.as_deref().unwrap_or(""),
        "gate closed"
    );
    let when = if at_apply {
        "Checked again just before queuing: nothing was queued."
    } else {
        "Nothing was sent to HostUp."
    };
    let next = match gate.code.as_deref() {
        Some("job_in_progress") => "Wait for that job to finish, then run `terraform apply` again.",
        _ => "Once that is resolved on HostUp, run `terraform apply` again.",
    };
    Diagnostic::error(
        format!(
            "HostUp does not allow the {} on VPS {} now",
            subject.action, subject.vps_id
        ),
        format!("{}. {when}\n\n{next}", gate_why(gate)),
    )
    .with_path(path)
}

/// Plan's warning when another job (not one of this run) is running on the VPS.
pub fn busy_warning(
    subject: &Subject,
    gate_name: &str,
    gate: &Gate,
    path: AttributePath,
) -> Diagnostic {
    tracing::debug!(gate = gate_name, "gate busy");
    Diagnostic::warning(
        format!("VPS {} is busy with another job", subject.vps_id),
        format!(
            "{}. Apply will wait for that job to finish, within `{}`, before it queues \
             the {}.",
            gate_why(gate),
            subject.timeout_name(),
            subject.action
        ),
    )
    .with_path(path)
}

/// An action's progress line when another job keeps the VPS busy before its request.
pub fn busy_progress(subject: &Subject, gate: &Gate) -> String {
    format!(
        "{}. Waiting for it, within `{}`, before queuing the {} on VPS {}",
        gate_why(gate),
        subject.timeout_name(),
        subject.action,
        subject.vps_id
    )
}

/// Apply's error when the VPS stayed busy with another job until the operation's deadline, or
/// Terraform stopped the wait.
pub fn busy_gave_up(
    subject: &Subject,
    gate_name: &str,
    gate: &Gate,
    path: AttributePath,
    waited: Duration,
    stopped: bool,
) -> Diagnostic {
    tracing::debug!(gate = gate_name, "gate stayed busy");
    stayed_busy(subject, &gate_why(gate), waited, stopped).with_path(path)
}

/// Apply's error when HostUp kept refusing the operation's request itself as busy (a snapshot
/// delete has no gate to read first; a job from outside started after the gate check) until
/// the operation's deadline, or Terraform stopped the wait. `err` is HostUp's last refusal.
pub fn busy_refused(
    subject: &Subject,
    err: &Error,
    paths: &Paths,
    waited: Duration,
    stopped: bool,
) -> Diagnostic {
    let words = err
        .detail()
        .or(err.title())
        .map(|w| w.trim().trim_end_matches('.'))
        .filter(|w| !w.is_empty());
    let code = err
        .code()
        .map(|c| format!(" (code {c})"))
        .unwrap_or_default();
    let why = match words {
        Some(w) => format!("HostUp says: {w}{code}"),
        None => format!("HostUp refused the request as busy{code}"),
    };
    let d = stayed_busy(subject, &why, waited, stopped);
    match paths.for_error(err) {
        Some(p) => d.with_path(p),
        None => d,
    }
}

/// The text of [`busy_gave_up`] and [`busy_refused`]: how long the VPS stayed busy, why the
/// wait ended, HostUp's words (`why`, without its full stop), and one next step.
fn stayed_busy(subject: &Subject, why: &str, waited: Duration, stopped: bool) -> Diagnostic {
    let waited = format_duration(waited);
    let again = match subject.after_failure {
        AfterFailure::Stays => "run `terraform destroy` (or apply) again",
        AfterFailure::Invoked => "invoke the action again",
        _ => "apply again",
    };
    let (end, next) = if stopped {
        (
            "Terraform was interrupted",
            format!("Once that job has finished, {again}."),
        )
    } else {
        (
            "the wait reached its limit",
            format!(
                "Wait for that job to finish (see the VPS in HostUp) and {again}, or raise \
                 `{}`.",
                subject.timeout_name()
            ),
        )
    };
    Diagnostic::error(
        format!(
            "The {} on VPS {} was not queued: another job kept the VPS busy",
            subject.action, subject.vps_id
        ),
        format!(
            "The VPS stayed busy for {waited}, then {end}. {why}. Nothing was queued.\n\n{next}"
        ),
    )
}

fn describe_last(last: Option<&JobSnapshot>) -> String {
    match last {
        Some(s) => {
            let mut t = format!("last seen {}", s.describe());
            if let Some(m) = s.message.as_deref().filter(|m| !m.is_empty()) {
                t.push_str(&format!(", \"{m}\""));
            }
            t
        }
        None => "not observed yet (no poll had answered)".to_owned(),
    }
}

/// The next step after a wait that ended without the job completing. `failed`: HostUp reports
/// the job failed (so nothing will complete later).
fn next_step(subject: &Subject, failed: bool) -> String {
    let t = subject.type_name;
    match (subject.after_failure, failed) {
        (AfterFailure::Adopts, true) => format!(
            "The resource is saved in state with this job id and marked tainted: the next \
             apply runs the {} again as a new job.",
            subject.action
        ),
        (AfterFailure::Adopts, false) => format!(
            "The resource is saved in state with this job id and marked tainted. The next \
             apply waits for this job (or takes its result if it completed) instead of \
             starting another {}; it runs a new one only if this job failed.",
            subject.action
        ),
        (AfterFailure::Retakes, true) => "The resource is saved in state and marked tainted: \
             the next apply deletes what the failed job left, if anything, and takes the \
             snapshot again."
            .to_owned(),
        (AfterFailure::Retakes, false) => format!(
            "The resource is saved in state and marked tainted: the next apply waits for \
             this job to end, deletes what it made and takes the snapshot again. To keep it \
             instead, run `terraform untaint` on the {t} resource once the job has completed."
        ),
        (AfterFailure::Stays, _) => format!(
            "The {t} resource stays in state; run the destroy (or apply) again once the job \
             has ended."
        ),
        (AfterFailure::Invoked, true) => format!(
            "Invoke the action again (`terraform apply -invoke=action.{t}.NAME`) to run a \
             new {}.",
            subject.action
        ),
        (AfterFailure::Invoked, false) => format!(
            "Invoke the action again only if this job ends without completing: each \
             invocation queues a new {}.",
            subject.action
        ),
    }
}

/// The limit a job's wait ran against, for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The `timeouts.create` (or delete, or an action's `timeout`) in force.
    pub timeout: Duration,
    /// How much of it had passed when HostUp accepted the job (the gate checks, and the waits
    /// while another job kept the VPS busy).
    pub used_before: Duration,
    /// Whether another job kept the VPS busy before the request.
    pub busy: bool,
}

impl Limit {
    /// A limit of which nothing was used before the job was accepted.
    pub fn whole(timeout: Duration) -> Self {
        Limit {
            timeout,
            used_before: Duration::ZERO,
            busy: false,
        }
    }

    /// "30m (timeouts.create)", and what of it passed before the job, when that is a second
    /// or more: the job itself had less than the whole limit.
    fn describe(&self, subject: &Subject) -> String {
        let mut text = format!(
            "{} ({})",
            format_duration(self.timeout),
            subject.timeout_name()
        );
        if self.used_before >= Duration::from_secs(1) {
            text.push_str(&format!(
                ", {} of which passed before HostUp accepted it{}",
                format_duration(self.used_before),
                if self.busy {
                    " while another job kept the VPS busy"
                } else {
                    ""
                }
            ));
        }
        text
    }
}

/// A wait that ended without a terminal status (deadline, Ctrl-C, job unknown, polling
/// failed), against `limit`.
pub fn wait_error(
    subject: &Subject,
    err: &WaitError,
    limit: Limit,
    sources: &Sources,
) -> Diagnostic {
    let job = err.job_id();
    let last = describe_last(err.last_observed());
    let next = next_step(subject, false);
    match err {
        WaitError::Deadline { .. } => Diagnostic::error(
            format!(
                "Timed out waiting for HostUp job {job} ({} of VPS {})",
                subject.action, subject.vps_id
            ),
            format!(
                "The job did not finish within {}; it was {last}. The job may still be \
                 running on HostUp.\n\nRaise the timeout (e.g. `{}`) if jobs of this size take \
                 longer. {next}",
                limit.describe(subject),
                subject.timeout_example(),
            ),
        ),
        WaitError::Cancelled { .. } => Diagnostic::error(
            format!(
                "Interrupted while waiting for HostUp job {job} ({} of VPS {})",
                subject.action, subject.vps_id
            ),
            format!(
                "Terraform asked the provider to stop (Ctrl-C) while the job was {last}. The \
                 job may still be running on HostUp{}{}\n\n{next}",
                if subject.destructive {
                    ", and if it finishes the VPS disk is replaced even so"
                } else {
                    ""
                },
                // An action's next step already says when to run it again.
                if subject.after_failure == AfterFailure::Invoked {
                    "."
                } else {
                    ": check the VPS in HostUp before running it again."
                }
            ),
        ),
        WaitError::JobNotFound { source, .. } => Diagnostic::error(
            format!(
                "HostUp no longer knows job {job} ({} of VPS {})",
                subject.action, subject.vps_id
            ),
            format!(
                "Polling the job answered \"not found\" repeatedly ({source}); it was {last}. \
                 The job may have run anyway: check the VPS in HostUp.\n\n{next}"
            ),
        ),
        WaitError::Api { source, .. } => Diagnostic::error(
            format!(
                "Could not follow HostUp job {job} ({} of VPS {})",
                subject.action, subject.vps_id
            ),
            format!(
                "Polling the job failed: {source}. The job was {last} and may still be \
                 running on HostUp.\n\n{}\n\n{next}",
                api_hint(source, sources)
            ),
        ),
    }
}

/// A job that reached the `failed` status.
pub fn job_failed(subject: &Subject, outcome: &JobOutcome) -> Diagnostic {
    let message = outcome
        .failure_message()
        .unwrap_or("HostUp gave no failure message");
    let progress = outcome
        .last
        .progress
        .map(|p| format!(" at {}%", (p * 10.0).round() / 10.0))
        .unwrap_or_default();
    Diagnostic::error(
        format!(
            "HostUp job {} failed ({} of VPS {}): {message}",
            outcome.job_id, subject.action, subject.vps_id
        ),
        // HostUp's message is in the summary; the detail adds where the job stopped.
        format!(
            "HostUp reports the job as {}{progress}.\n\n{}",
            outcome.status(),
            next_step(subject, true)
        ),
    )
}

/// A job-creating request whose outcome is unknown (the answer was lost after sending).
pub fn maybe_queued(subject: &Subject, err: &Error) -> Diagnostic {
    let next = if subject.after_failure == AfterFailure::Invoked {
        "Check the VPS in HostUp before invoking the action again.".to_owned()
    } else if subject.after_failure == AfterFailure::Stays {
        // A delete: the resource stays in state, and a second delete of what is already gone
        // counts as done.
        "The resource stays in state: run `terraform destroy` (or apply) again once that job \
         has ended; what is already deleted counts as deleted."
            .to_owned()
    } else {
        format!(
            "Check the VPS in HostUp before running again (import the job with `terraform \
             import ADDRESS {}/<job_id>` to adopt it).",
            subject.vps_id
        )
    };
    Diagnostic::error(
        format!(
            "The {} on VPS {} may have been queued, but HostUp's answer was lost",
            subject.action, subject.vps_id
        ),
        format!(
            "The request reached HostUp, but no usable answer came back, so a job may be \
             running on the VPS now; the request was not sent again. What came back instead \
             of the job: {err}.\n\n{next}"
        ),
    )
}

/// `90m` → "1h30m", for messages: whole seconds, rounded (a wait of 1.98 s up to a 2 s
/// deadline is "2s", not "1s"); under a second, milliseconds.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let total = (d.as_millis() as u64 + 500) / 1000;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostup::{JobState, TerminalState};

    #[test]
    fn durations_read_like_go() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1980)), "2s");
        assert_eq!(format_duration(Duration::from_millis(3_599_600)), "1h");
    }

    fn subject() -> Subject {
        Subject::new("hostup_vps_backup", "vps_1", "backup")
    }

    #[test]
    fn a_gate_without_a_code_names_none() {
        let gate = Gate {
            allowed: false,
            reason: Some("Quota used up.".into()),
            code: None,
        };
        let d = gate_closed(
            &subject(),
            "canCreateBackup",
            &gate,
            AttributePath::root("vps_id"),
            false,
        );
        assert!(
            d.detail
                .contains("HostUp says: Quota used up. Nothing was sent"),
            "{}",
            d.detail
        );
        assert!(!d.detail.contains("code"), "{}", d.detail);
        let busy = busy_warning(
            &subject(),
            "canCreateBackup",
            &Gate {
                reason: None,
                ..gate.clone()
            },
            AttributePath::root("vps_id"),
        );
        assert!(
            !busy.detail.contains("code") && busy.detail.contains("HostUp gave no reason"),
            "{}",
            busy.detail
        );
        let coded = Gate {
            code: Some("backup_quota_exceeded".into()),
            ..gate
        };
        let d = gate_closed(
            &subject(),
            "canCreateBackup",
            &coded,
            AttributePath::root("vps_id"),
            true,
        );
        assert!(
            d.detail.contains("(code backup_quota_exceeded)"),
            "{}",
            d.detail
        );
    }

    fn snap(progress: f64) -> JobSnapshot {
        JobSnapshot {
            state: Some(JobState::Running),
            status: Some("in_progress".into()),
            progress: Some(progress),
            message: Some("Creating backup".into()),
            ..JobSnapshot::default()
        }
    }

    #[test]
    fn wait_errors_name_vps_job_status_and_next_step() {
        let e = WaitError::Deadline {
            job_id: "job_9".into(),
            vps_id: Some("vps_1".into()),
            last: Some(snap(40.0)),
            waited: Duration::from_secs(3),
        };
        let d = wait_error(
            &subject(),
            &e,
            Limit::whole(Duration::from_secs(3)),
            &Sources::default(),
        );
        let all = format!("{} {}", d.summary, d.detail);
        for needle in [
            "job_9",
            "vps_1",
            "40% (in_progress)",
            "Creating backup",
            "may still be running on HostUp",
            "tainted",
            "3s",
            "timeouts.create",
        ] {
            assert!(all.contains(needle), "{needle} missing in {all}");
        }
        let e = WaitError::Cancelled {
            job_id: "job_9".into(),
            vps_id: Some("vps_1".into()),
            last: None,
            waited: Duration::from_secs(1),
        };
        let d = wait_error(
            &subject(),
            &e,
            Limit::whole(Duration::from_secs(3)),
            &Sources::default(),
        );
        assert!(d.detail.contains("may still be running on HostUp"));
        assert!(d.summary.contains("Interrupted"));
    }

    fn problem(status: u16, request_id: Option<&str>) -> Error {
        let mut request =
            crate::hostup::RequestInfo::new(http::Method::GET, "/api/v2/vps".into(), "list VPSs");
        request.attempts = 2;
        Error::Problem {
            request: Box::new(request),
            problem: Box::new(crate::hostup::Problem {
                status,
                request_id: request_id.map(str::to_owned),
                ..crate::hostup::Problem::default()
            }),
        }
    }

    #[test]
    fn api_errors_add_where_terraform_sets_what_to_change() {
        let detail = |e: &Error| {
            api_error(
                "Could not list the VPSs",
                e,
                &Paths::vps(),
                &Sources::default(),
            )
            .detail
        };
        // The client's step, then the provider's, then the client's notes.
        let d = detail(&problem(401, Some("req_7")));
        let (key, note) = (
            d.find("`api_key`").expect(&d),
            d.find("support the request id req_7").expect(&d),
        );
        assert!(d.contains("valid, unrevoked HostUp API key") && d.contains("api_key"));
        assert!(key < note, "{d}");
        let d = detail(&problem(429, None));
        assert!(
            d.contains("after 2 attempts") && d.contains("terraform -parallelism"),
            "{d}"
        );
        let refused = Error::Network {
            request: Box::new(crate::hostup::RequestInfo::new(
                http::Method::GET,
                "/api/v2/vps".into(),
                "list VPSs",
            )),
            not_sent: true,
            message: "connection refused".into(),
        };
        let d = detail(&refused);
        assert!(
            d.contains("nothing was sent")
                && d.contains("the provider's `endpoint` argument")
                && !d.contains("HOSTUP_ENDPOINT"),
            "{d}"
        );
        // Errors whose fix is on HostUp's side get no Terraform step.
        let d = detail(&problem(502, None));
        assert!(!d.contains("provider's") && !d.contains("HOSTUP_"), "{d}");
        assert_eq!(
            api_hint(&problem(502, None), &Sources::default()),
            problem(502, None).hint()
        );
    }

    #[test]
    fn failed_job_quotes_hostup() {
        let o = JobOutcome {
            job_id: "job_f".into(),
            terminal: TerminalState::Failed,
            last: JobSnapshot {
                state: Some(JobState::Failed),
                status: Some("failed".into()),
                progress: Some(50.0),
                failure_message: Some("Backup storage unavailable".into()),
                ..JobSnapshot::default()
            },
            polls: 2,
            waited: Duration::from_secs(1),
        };
        let d = job_failed(&subject(), &o);
        assert!(d.summary.contains("job_f") && d.summary.contains("Backup storage unavailable"));
        assert!(d.detail.contains("failed at 50%"), "{}", d.detail);
    }

    #[test]
    fn gate_points_at_attribute_with_reason_and_code() {
        let g = Gate {
            allowed: false,
            reason: Some("Backup quota reached".into()),
            code: Some("backup_quota_exceeded".into()),
        };
        let d = gate_closed(
            &subject(),
            "canCreateBackup",
            &g,
            AttributePath::root("vps_id"),
            false,
        );
        assert_eq!(d.attribute, Some(AttributePath::root("vps_id")));
        assert!(d.detail.contains("Backup quota reached"));
        assert!(d.detail.contains("backup_quota_exceeded"));
        assert!(d.detail.contains("Nothing was sent"));
    }
}
