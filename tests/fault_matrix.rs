//! The fault matrix (issue 5): every fault hostup-sim can inject, crossed with every target
//! (`hostup_vps_backup`, `hostup_vps_snapshot_restore`, the `hostup_vps_snapshots` data
//! source), driven through the real `terraform` CLI against the real `hostup-sim` binary.
//!
//! Each cell gets its own simulator (port 0) and its own terraform working directory, runs one
//! `terraform apply`, and records terraform's exit status, the first error summary, the state
//! afterwards and the POSTs the simulator saw. The cell then checks the docs/ARCHITECTURE.md, "Contracts" contract for
//! its fault. The table is written to docs/RELIABILITY.md (between the `fault-matrix` markers)
//! before the test fails on any broken contract, so the document always shows the last run.
//!
//! Cells run in parallel threads; nothing sleeps for synchronisation (conditions are polled
//! with deadlines), and every terraform run is killed if it outlives its deadline.

mod support;

use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hostup_provider::sim::fixture::{SNAPSHOT_APP, VPS_APP};
use serde_json::Value;
use support::{finish_within, provider_block, wait_until, Sim, Tf, TfOutput, KEY};

/// Bound for one `terraform apply` (a hang fails the cell instead of blocking the suite).
const TF_DEADLINE: Duration = Duration::from_secs(120);
/// Job duration of every simulator: short, but long enough for a few polls.
const JOB_DURATION: &str = "300ms";
/// Job duration of the cells that interrupt or lose a job that never finishes: its `queued`
/// phase (the first 10 %) then outlasts the cell, so the status in the table does not depend
/// on timing.
const STUCK_JOB_DURATION: &str = "60s";
/// HostUp's failure message in the job-failed cells.
const FAIL_MESSAGE: &str = "Disk array degraded (fault matrix)";
/// `timeouts.create` of the stuck-job cells.
const STUCK_TIMEOUT: &str = "3s";
/// `HOSTUP_REQUEST_TIMEOUT` of the slow-response cells.
const REQUEST_TIMEOUT: &str = "2s";
/// Latency of the slow answer: well past [`REQUEST_TIMEOUT`].
const SLOW_MS: u64 = 5000;
/// docs/ARCHITECTURE.md, "Contracts": after Ctrl-C terraform must be gone within this (the contract says the
/// provider's waits end within a second; terraform then saves state and exits).
const SIGINT_LIMIT: Duration = Duration::from_secs(5);
/// After SIGINT, terraform is killed (and the cell fails) if it is still running after this.
const AFTER_SIGINT_DEADLINE: Duration = Duration::from_secs(30);
/// A GET that hangs this long can only end by cancellation (SIGINT cells).
const HANG_MS: u64 = 600_000;
/// The file the table is written into, and its markers.
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/RELIABILITY.md");
const BEGIN: &str = "<!-- fault-matrix:begin -->";
const END: &str = "<!-- fault-matrix:end -->";

/// The faults of the matrix, in table order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    Get5xx,
    Html502,
    Truncated,
    Reset,
    RateLimit,
    Slow,
    JobFailed,
    JobStuck,
    JobUnknown,
    Sigint,
    // Beyond issue 5's list: the error paths of the same faults.
    PersistentHtml502,
    PersistentTruncated,
    PostResetAfter,
    Post502After,
    PostSlow,
    SigintInRequest,
}

impl Fault {
    const ALL: [Fault; 16] = [
        Fault::Get5xx,
        Fault::Html502,
        Fault::Truncated,
        Fault::Reset,
        Fault::RateLimit,
        Fault::Slow,
        Fault::JobFailed,
        Fault::JobStuck,
        Fault::JobUnknown,
        Fault::Sigint,
        Fault::PersistentHtml502,
        Fault::PersistentTruncated,
        Fault::PostResetAfter,
        Fault::Post502After,
        Fault::PostSlow,
        Fault::SigintInRequest,
    ];

    fn label(self) -> &'static str {
        match self {
            Fault::Get5xx => "5xx on GET",
            Fault::Html502 => "HTML 502 body",
            Fault::Truncated => "truncated JSON",
            Fault::Reset => "connection reset",
            Fault::RateLimit => "429 burst",
            Fault::Slow => "response slower than the request timeout",
            Fault::JobFailed => "job failed",
            Fault::JobStuck => "job stuck past the deadline",
            Fault::JobUnknown => "job id unknown (404)",
            Fault::Sigint => "SIGINT mid-wait",
            Fault::PersistentHtml502 => "HTML 502 body on every GET (persistent)",
            Fault::PersistentTruncated => "truncated JSON on every GET (persistent)",
            Fault::PostResetAfter => "connection reset after HostUp handled the POST",
            Fault::Post502After => "502 after HostUp handled the POST",
            Fault::PostSlow => "POST answer slower than the request timeout",
            Fault::SigintInRequest => "SIGINT while a GET hangs in flight",
        }
    }

    /// Faults that hit the job-creating POST: the answer is lost, the job may exist.
    fn is_post_fault(self) -> bool {
        matches!(
            self,
            Fault::PostResetAfter | Fault::Post502After | Fault::PostSlow
        )
    }

    /// Read faults that do not go away: retries run out and the run must fail cleanly.
    fn is_persistent(self) -> bool {
        matches!(self, Fault::PersistentHtml502 | Fault::PersistentTruncated)
    }

    /// Faults of the job rather than of one HTTP answer: they need a job to wait on.
    fn is_job_fault(self) -> bool {
        matches!(
            self,
            Fault::JobFailed | Fault::JobStuck | Fault::JobUnknown | Fault::Sigint
        )
    }

    /// Not in issue 5's list: the error paths of the same faults, and the POST's answer lost.
    fn is_extra(self) -> bool {
        self.is_post_fault() || self.is_persistent() || self == Fault::SigintInRequest
    }

    /// Rough cost, to start the slowest cells first.
    fn cost(self) -> u32 {
        match self {
            Fault::Slow | Fault::RateLimit | Fault::PostSlow => 3,
            Fault::PersistentHtml502 | Fault::PersistentTruncated => 4,
            Fault::JobStuck | Fault::JobUnknown | Fault::Sigint | Fault::SigintInRequest => 2,
            _ => 1,
        }
    }
}

/// The targets of the matrix, in table order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Backup,
    Restore,
    Snapshots,
}

impl Target {
    const ALL: [Target; 3] = [Target::Backup, Target::Restore, Target::Snapshots];

    fn label(self) -> &'static str {
        match self {
            Target::Backup => "hostup_vps_backup",
            Target::Restore => "hostup_vps_snapshot_restore",
            Target::Snapshots => "data.hostup_vps_snapshots",
        }
    }

    /// The resource type in state (None for the data source).
    fn resource_type(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("hostup_vps_backup"),
            Target::Restore => Some("hostup_vps_snapshot_restore"),
            Target::Snapshots => None,
        }
    }

    /// Route template of the job-creating POST.
    fn post_route(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("/api/v2/vps/{id}/backups"),
            Target::Restore => Some("/api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore"),
            Target::Snapshots => None,
        }
    }

    fn job_type(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("backup_create"),
            Target::Restore => Some("snapshot_restore"),
            Target::Snapshots => None,
        }
    }

    /// Where read faults are injected: mid-wait on the job poll for the resources, on the
    /// snapshot list for the data source.
    fn read_route(self) -> &'static str {
        match self {
            Target::Backup | Target::Restore => "/api/jobs/*",
            Target::Snapshots => "/api/v2/vps/{id}/snapshots",
        }
    }

    fn config(self, url: &str, create_timeout: Option<&str>) -> String {
        let timeouts = create_timeout
            .map(|t| format!("  timeouts {{\n    create = \"{t}\"\n  }}\n"))
            .unwrap_or_default();
        let body = match self {
            Target::Backup => format!(
                "resource \"hostup_vps_backup\" \"t\" {{\n  vps_id = \"{VPS_APP}\"\n  note   = \"fault matrix\"\n{timeouts}}}\n"
            ),
            Target::Restore => format!(
                "resource \"hostup_vps_snapshot_restore\" \"t\" {{\n  vps_id        = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n{timeouts}}}\n"
            ),
            Target::Snapshots => format!(
                "data \"hostup_vps_snapshots\" \"t\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n\noutput \"total\" {{\n  value = data.hostup_vps_snapshots.t.total_snapshots\n}}\n\noutput \"names\" {{\n  value = [for s in data.hostup_vps_snapshots.t.snapshots : s.name]\n}}\n"
            ),
        };
        format!("{}\n{body}", provider_block(url, KEY))
    }
}

/// How a cell's fault is set up.
struct Spec {
    /// Extra hostup-sim arguments.
    args: Vec<String>,
    /// Extra environment for terraform (and so for the provider).
    env: Vec<(String, String)>,
    /// For the table: how the fault was injected.
    injected: String,
    /// `timeouts.create` in the configuration, if any.
    create_timeout: Option<&'static str>,
    /// The terraform command the cell runs (`apply -auto-approve` unless said otherwise).
    command: &'static [&'static str],
}

/// The set-up of a cell, or why the cell does not apply.
fn spec(fault: Fault, target: Target) -> Result<Spec, &'static str> {
    if fault.is_post_fault() && target == Target::Snapshots {
        return Err("a data source read sends no POST");
    }
    if fault.is_job_fault() && target == Target::Snapshots {
        return Err(match fault {
            Fault::Sigint => "a data source read queues no job, so there is no wait to interrupt",
            _ => "a data source read queues no job",
        });
    }
    let route = target.read_route();
    let rule = |r: String| {
        (
            vec!["--fault".to_string(), r.clone()],
            format!("`--fault {r}`"),
        )
    };
    let mut env = Vec::new();
    let mut create_timeout = None;
    let command: &'static [&'static str] = &["apply", "-auto-approve"];
    let (args, injected) = match fault {
        Fault::Get5xx => rule(format!("error:500,count=2,method=GET,route={route}")),
        Fault::Html502 => rule(format!("html502,count=2,method=GET,route={route}")),
        Fault::Truncated => rule(format!("truncate,count=2,method=GET,route={route}")),
        Fault::Reset => rule(format!("reset,count=2,method=GET,route={route}")),
        Fault::RateLimit => match target {
            Target::Snapshots => rule(format!("rate-limit:1,count=3,route={route}")),
            _ => {
                let a = "rate-limit:1,count=2,method=POST".to_string();
                let b = format!("rate-limit:1,count=2,route={route}");
                (
                    vec!["--fault".into(), a.clone(), "--fault".into(), b.clone()],
                    format!("`--fault {a}` `--fault {b}`"),
                )
            }
        },
        Fault::Slow => {
            env.push((
                "HOSTUP_REQUEST_TIMEOUT".to_string(),
                REQUEST_TIMEOUT.to_string(),
            ));
            let (a, i) = rule(format!(
                "latency:{SLOW_MS},count=1,method=GET,route={route}"
            ));
            (a, format!("`HOSTUP_REQUEST_TIMEOUT={REQUEST_TIMEOUT}` {i}"))
        }
        Fault::JobFailed => (
            vec![
                "--fail-next-jobs".into(),
                "1".into(),
                "--fail-message".into(),
                FAIL_MESSAGE.into(),
            ],
            format!("`--fail-next-jobs 1 --fail-message \"{FAIL_MESSAGE}\"`"),
        ),
        Fault::JobStuck => {
            create_timeout = Some(STUCK_TIMEOUT);
            (
                vec!["--stuck-next-jobs".into(), "1".into()],
                format!("`--stuck-next-jobs 1`, `timeouts {{ create = \"{STUCK_TIMEOUT}\" }}`"),
            )
        }
        Fault::JobUnknown => (
            vec!["--stuck-next-jobs".into(), "1".into()],
            "`--stuck-next-jobs 1`, then `DELETE /_sim/jobs/{id}` once the job is polled (the \
             sim forgets the job, as HostUp does once a job has expired)"
                .to_string(),
        ),
        Fault::Sigint => (
            vec!["--stuck-next-jobs".into(), "1".into()],
            "`--stuck-next-jobs 1`, SIGINT to terraform once the job is polled".to_string(),
        ),
        Fault::SigintInRequest => {
            // The hang is far longer than the whole test may take: only cancellation ends it.
            let hang = format!("latency:{HANG_MS},count=1,method=GET,route={route}");
            let mut args = vec!["--fault".to_string(), hang.clone()];
            let mut injected = format!("`--fault {hang}`");
            if target != Target::Snapshots {
                args.extend(["--stuck-next-jobs".to_string(), "1".to_string()]);
                injected.push_str(" `--stuck-next-jobs 1`");
            }
            env.push(("HOSTUP_REQUEST_TIMEOUT".to_string(), "10m".to_string()));
            // SIGINT to terraform's whole process group, as Ctrl-C in a terminal sends it. For
            // the data source the GET hangs while `terraform apply` plans, where Terraform sends
            // no Stop (see docs/RELIABILITY.md): the provider's own SIGINT must end it.
            injected.push_str(
                " `HOSTUP_REQUEST_TIMEOUT=10m`, SIGINT to terraform's process group (a terminal's \
                 Ctrl-C) once the GET reached the sim",
            );
            (args, injected)
        }
        Fault::PersistentHtml502 => rule("html502,method=GET".to_string()),
        Fault::PersistentTruncated => rule("truncate,method=GET".to_string()),
        Fault::PostResetAfter => rule("reset,count=1,method=POST,after".to_string()),
        Fault::Post502After => rule("error:502,count=1,method=POST,after".to_string()),
        Fault::PostSlow => {
            env.push((
                "HOSTUP_REQUEST_TIMEOUT".to_string(),
                REQUEST_TIMEOUT.to_string(),
            ));
            // The second rule only counts POSTs as they arrive (a request the client gave up
            // on may never be logged: the sim logs answers).
            let slow = format!("latency:{SLOW_MS},count=1,method=POST");
            let probe = "latency:0,method=POST".to_string();
            (
                vec![
                    "--fault".into(),
                    slow.clone(),
                    "--fault".into(),
                    probe.clone(),
                ],
                format!(
                    "`HOSTUP_REQUEST_TIMEOUT={REQUEST_TIMEOUT}` `--fault {slow}` (and `--fault \
                     {probe}` to count arrivals)"
                ),
            )
        }
    };
    Ok(Spec {
        args,
        env,
        injected,
        create_timeout,
        command,
    })
}

/// One row of the table.
struct Row {
    fault: Fault,
    target: Target,
    injected: String,
    exit: String,
    diag: String,
    state: String,
    posts: String,
    /// None = n/a (with the reason in `na`).
    violations: Option<Vec<String>>,
    na: &'static str,
}

impl Row {
    fn na(fault: Fault, target: Target, reason: &'static str) -> Row {
        Row {
            fault,
            target,
            injected: "—".into(),
            exit: "—".into(),
            diag: "—".into(),
            state: "—".into(),
            posts: "—".into(),
            violations: None,
            na: reason,
        }
    }

    fn verdict(&self) -> String {
        match &self.violations {
            None => format!("n/a: {}", self.na),
            Some(v) if v.is_empty() => "✅ pass".into(),
            Some(v) => format!("❌ FAIL: {}", v.join("; ")),
        }
    }
}

/// Runs one cell; a panic in the harness becomes a violation of that cell.
fn cell(fault: Fault, target: Target) -> Row {
    match catch_unwind(AssertUnwindSafe(|| run_cell(fault, target))) {
        Ok(row) => row,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let mut row = Row::na(fault, target, "");
            row.violations = Some(vec![format!("test harness panicked: {msg}")]);
            row
        }
    }
}

/// Sends `sig` to a pid, or to a process group when `target` is negative.
fn send_signal(target: i64, sig: libc::c_int) -> bool {
    let Ok(target) = libc::pid_t::try_from(target) else {
        return false;
    };
    // SAFETY: kill(2) on the pid (or process group) of a child this cell spawned and has not
    // reaped yet.
    unsafe { libc::kill(target, sig) == 0 }
}

fn run_cell(fault: Fault, target: Target) -> Row {
    let spec = match spec(fault, target) {
        Ok(s) => s,
        Err(reason) => return Row::na(fault, target, reason),
    };
    // The stuck-job cell keeps the short duration: its last poll, 3 s in, sees `in_progress`.
    let stuck = fault != Fault::JobStuck && spec.args.iter().any(|a| a == "--stuck-next-jobs");
    let duration = if stuck {
        STUCK_JOB_DURATION
    } else {
        JOB_DURATION
    };
    let mut args: Vec<String> = vec!["--job-duration".into(), duration.into()];
    args.extend(spec.args.iter().cloned());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let sim = Sim::start(&arg_refs);
    let mut tf = Tf::new(&target.config(&sim.url, spec.create_timeout));
    for (k, v) in &spec.env {
        tf.env(k, v);
    }
    let mut violations: Vec<String> = Vec::new();
    let mut tf_args: Vec<&str> = spec.command.to_vec();
    tf_args.push("-no-color");
    // Its own process group, so that a terraform killed at a deadline takes its provider
    // processes with it instead of leaving them behind.
    let child = tf
        .command(&tf_args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn terraform");
    let pid = child.id();

    // The jobs the sim forgot (the 404 cell), so no job goes uncounted.
    let mut forgotten: Vec<Value> = Vec::new();
    let mut after_sigint: Option<Duration> = None;
    // A terminal's Ctrl-C reaches the whole process group; a CI runner signals terraform only.
    let sigint_target = if fault == Fault::SigintInRequest {
        -(pid as i64)
    } else {
        i64::from(pid)
    };
    let interrupt = |child: std::process::Child, violations: &mut Vec<String>| {
        let t0 = Instant::now();
        if !send_signal(sigint_target, libc::SIGINT) {
            violations.push("kill(SIGINT) failed".into());
        }
        let r = finish_within(child, AFTER_SIGINT_DEADLINE);
        (r, t0.elapsed())
    };
    let (out, finished) = match fault {
        Fault::SigintInRequest => {
            // The hanging rule counts a request as matched when it arrives, before the hang.
            let in_flight = wait_until(TF_DEADLINE, || {
                sim.admin_get("/_sim/faults")["rules"][0]["matched"]
                    .as_u64()
                    .unwrap_or(0)
                    >= 1
            });
            if in_flight {
                let (r, took) = interrupt(child, &mut violations);
                after_sigint = Some(took);
                r
            } else {
                send_signal(pid.into(), libc::SIGKILL);
                violations.push("the hanging GET never reached the sim".into());
                finish_within(child, Duration::from_secs(30))
            }
        }
        Fault::Sigint | Fault::JobUnknown => {
            let polling = wait_until(TF_DEADLINE, || sim.count("GET /api/jobs/{jobId}") >= 1);
            if !polling {
                send_signal(pid.into(), libc::SIGKILL);
                violations.push("the provider never polled the job".into());
                finish_within(child, Duration::from_secs(30))
            } else if fault == Fault::Sigint {
                let (r, took) = interrupt(child, &mut violations);
                after_sigint = Some(took);
                r
            } else {
                forgotten = sim.jobs();
                for job in &forgotten {
                    let id = job["jobId"].as_str().unwrap_or_default();
                    sim.admin_delete(&format!("/_sim/jobs/{id}"));
                }
                finish_within(child, TF_DEADLINE)
            }
        }
        _ => finish_within(child, TF_DEADLINE),
    };
    if !finished {
        // The group outlives its killed leader while a provider process is left in it.
        // SAFETY: kill(2) on the process group this cell created for terraform.
        unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
    }
    let text = out.all();
    if let Some(dir) = std::env::var_os("FAULT_MATRIX_LOG_DIR") {
        // For a human reading why a cell failed: terraform's full output per cell.
        let name = format!("{:?}-{:?}.txt", fault, target);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(std::path::Path::new(&dir).join(name), &text);
    }
    if !finished {
        let limit = if after_sigint.is_some() {
            AFTER_SIGINT_DEADLINE
        } else {
            TF_DEADLINE
        };
        violations.push(format!("terraform did not exit within {limit:?} (killed)"));
    }
    let lower = text.to_ascii_lowercase();
    for bad in ["panic:", "plugin did not respond", "stack trace from the"] {
        if lower.contains(bad) {
            violations.push(format!("output contains {bad:?}"));
        }
    }

    // What the sim saw.
    let requests = sim.requests();
    let mut jobs = forgotten;
    jobs.extend(sim.jobs());
    let rules: Vec<Value> = sim.admin_get("/_sim/faults")["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fired: Vec<u64> = rules
        .iter()
        .map(|r| r["fired"].as_u64().unwrap_or(0))
        .collect();
    // POSTs that arrived at the sim, counted by the probe rule (PostSlow only).
    let post_arrivals = (fault == Fault::PostSlow)
        .then(|| rules.last().and_then(|r| r["matched"].as_u64()))
        .flatten();
    if fired.contains(&0) {
        violations.push("an injected fault never fired (the cell tested nothing)".into());
    }
    if fault == Fault::Slow {
        check_gave_up_on_slow_answer(target, &requests, &mut violations);
    }

    let exit = match (out.code, after_sigint) {
        (Some(c), Some(t)) if t <= SIGINT_LIMIT => {
            format!("{c} (< {}s after SIGINT)", SIGINT_LIMIT.as_secs())
        }
        (Some(c), Some(t)) => format!("{c} ({:.1}s after SIGINT)", t.as_secs_f64()),
        (Some(c), None) => c.to_string(),
        (None, _) => "killed".into(),
    };
    let diag_line = first_error(&out);

    let (state, posts) = match target {
        Target::Snapshots => {
            check_data_source(fault, &tf, &requests, &out, after_sigint, &mut violations)
        }
        _ => check_resource(
            fault,
            target,
            &tf,
            &requests,
            &jobs,
            &out,
            after_sigint,
            post_arrivals,
            &mut violations,
        ),
    };
    Row {
        fault,
        target,
        injected: spec.injected,
        exit,
        diag: diag_line
            .map(|d| redact_job_ids(&d))
            .unwrap_or_else(|| "— (apply succeeded)".into()),
        state,
        posts,
        violations: Some(violations),
        na: "",
    }
}

/// After SIGINT: terraform exits with an error within [`SIGINT_LIMIT`].
fn check_interrupted(out: &TfOutput, after_sigint: Option<Duration>, violations: &mut Vec<String>) {
    if after_sigint.is_none_or(|t| t > SIGINT_LIMIT) {
        violations.push(format!(
            "terraform did not exit within {}s of SIGINT",
            SIGINT_LIMIT.as_secs()
        ));
    }
    if out.code == Some(0) {
        violations.push("apply succeeded although it was interrupted".into());
    }
}

/// Persistent read faults: retries run out, and the error quotes the start of the body HostUp
/// sent (docs/ARCHITECTURE.md, "Contracts": never a panic, never a bare "expected value at line 1").
fn check_fails_quoting_body(fault: Fault, out: &TfOutput, violations: &mut Vec<String>) {
    let text = flat(&out.all());
    if out.code == Some(0) || out.code.is_none() {
        violations.push(format!("apply did not fail cleanly (exit {:?})", out.code));
    }
    let quoted = match fault {
        Fault::PersistentHtml502 => text.contains("HTTP 502") && text.contains("\"<html>"),
        // The cut body starts like HostUp's JSON: its first key is quoted back.
        _ => text.contains("{\"") || text.contains("{\\\""),
    };
    if !quoted {
        violations.push("the error does not quote the start of the body".into());
    }
}

/// The slow cell passes only if the client gave up on the slow answer and asked again: the
/// delayed request (the first on its route) must not be the first one on its route to be
/// answered. Had the client waited (no working request timeout), it would be.
fn check_gave_up_on_slow_answer(target: Target, requests: &[Value], violations: &mut Vec<String>) {
    let route = match target {
        Target::Snapshots => "/api/v2/vps/{id}/snapshots",
        _ => "/api/jobs/{jobId}",
    };
    let on_route: Vec<&Value> = requests
        .iter()
        .filter(|r| r["method"] == "GET" && r["route"] == route)
        .collect();
    let slow = on_route
        .iter()
        .position(|r| r["durationMs"].as_u64().unwrap_or(0) >= SLOW_MS);
    if on_route.is_empty() || slow == Some(0) {
        violations.push(format!(
            "the client waited for the {SLOW_MS} ms answer instead of timing out after \
             {REQUEST_TIMEOUT} and retrying"
        ));
    }
}

/// Contract of the data source cells: every fault here is transient, so the read is retried
/// and apply succeeds with the right values, without any mutating request.
fn check_data_source(
    fault: Fault,
    tf: &Tf,
    requests: &[Value],
    out: &TfOutput,
    after_sigint: Option<Duration>,
    violations: &mut Vec<String>,
) -> (String, String) {
    if fault == Fault::SigintInRequest {
        check_interrupted(out, after_sigint, violations);
    } else if fault.is_persistent() {
        check_fails_quoting_body(fault, out, violations);
    } else if out.code != Some(0) {
        violations.push(format!(
            "apply failed (exit {:?}) on a transient read fault",
            out.code
        ));
    }
    let state: Value = serde_json::from_str(&tf.state_file()).unwrap_or(Value::Null);
    let total = &state["outputs"]["total"]["value"];
    let names = &state["outputs"]["names"]["value"];
    let in_state = state["resources"].as_array().is_some_and(|rs| {
        rs.iter()
            .any(|r| r["mode"] == "data" && r["type"] == "hostup_vps_snapshots")
    });
    if out.code == Some(0) && !fault.is_persistent() && fault != Fault::SigintInRequest {
        if *total != serde_json::json!(3) {
            violations.push(format!("total_snapshots is {total}, expected 3"));
        }
        if *names != serde_json::json!([SNAPSHOT_APP]) {
            violations.push(format!(
                "snapshot names are {names}, expected [{SNAPSHOT_APP:?}]"
            ));
        }
    }
    let mutations = requests.iter().filter(|r| r["method"] != "GET").count();
    if mutations != 0 {
        violations.push(format!(
            "{mutations} mutating request(s) from a data source"
        ));
    }
    let st = if in_state {
        format!("read into state; total_snapshots = {total}, snapshots = {names}")
    } else {
        "not in state".into()
    };
    (st, format!("{mutations} (reads only)"))
}

/// Contract of the resource cells (docs/ARCHITECTURE.md, "Contracts").
#[allow(clippy::too_many_arguments)]
fn check_resource(
    fault: Fault,
    target: Target,
    tf: &Tf,
    requests: &[Value],
    jobs: &[Value],
    out: &TfOutput,
    after_sigint: Option<Duration>,
    post_arrivals: Option<u64>,
    violations: &mut Vec<String>,
) -> (String, String) {
    let text = flat(&out.all());
    let post_route = target.post_route().unwrap_or_default();
    let job_type = target.job_type().unwrap_or_default();
    let posts: Vec<&Value> = requests
        .iter()
        .filter(|r| r["method"] == "POST" && r["route"] == post_route)
        .collect();
    let answered = posts.iter().filter(|r| r["fault"].is_null()).count();
    let faulted: Vec<String> = posts
        .iter()
        .filter_map(|r| r["fault"].as_str().map(str::to_owned))
        .collect();
    let op_jobs: Vec<&Value> = jobs.iter().filter(|j| j["type"] == job_type).collect();
    let job_id = op_jobs
        .first()
        .and_then(|j| j["jobId"].as_str())
        .unwrap_or("")
        .to_owned();
    let other_posts = requests
        .iter()
        .filter(|r| r["method"] != "GET" && r["route"] != post_route)
        .count();

    // Never more than one POST per operation (a 429'd one never reached the API).
    if answered > 1 || op_jobs.len() > 1 {
        violations.push(format!(
            "{answered} POSTs reached HostUp and {} jobs were created (at most one allowed)",
            op_jobs.len()
        ));
    }
    if !fault.is_post_fault() && faulted.iter().any(|f| f != "rateLimit") {
        violations.push(format!(
            "a POST was answered by a non-429 fault ({faulted:?}) and may have been re-sent"
        ));
    }
    if other_posts != 0 {
        violations.push(format!("{other_posts} unexpected mutating request(s)"));
    }
    let expected_jobs = if fault.is_persistent() { 0 } else { 1 };
    // A POST slower than the timeout may or may not have reached the handler.
    let jobs_ok =
        op_jobs.len() == expected_jobs || (fault == Fault::PostSlow && op_jobs.len() <= 1);
    if !jobs_ok {
        violations.push(format!(
            "expected {expected_jobs} {job_type} job(s), got {}",
            op_jobs.len()
        ));
    }
    let sent = post_arrivals.unwrap_or(posts.len() as u64);
    if fault.is_post_fault() && sent != 1 {
        violations.push(format!(
            "the POST whose answer was lost was sent {sent} times (must be exactly once)"
        ));
    }

    // The state afterwards.
    let state: Value = serde_json::from_str(&tf.state_file()).unwrap_or(Value::Null);
    let ty = target.resource_type().unwrap_or_default();
    let inst = state["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["mode"] == "managed" && r["type"] == ty && r["name"] == "t")
        })
        .and_then(|r| r["instances"].get(0).cloned())
        .unwrap_or(Value::Null);
    let present = !inst.is_null();
    let tainted = inst["status"] == "tainted";
    let st_job = inst["attributes"]["job_id"].as_str().unwrap_or("");
    let st_status = inst["attributes"]["status"].as_str().unwrap_or("null");
    let job_matches = !job_id.is_empty() && st_job == job_id;
    let state_text = if !present {
        "absent".to_string()
    } else {
        format!(
            "{}; job_id {}; status `{st_status}`",
            if tainted { "**tainted**" } else { "present" },
            if job_matches {
                "= the sim's job".to_string()
            } else if st_job.is_empty() {
                "missing".to_string()
            } else {
                format!("`{}` ≠ the sim's job", redact_job_ids(st_job))
            }
        )
    };
    let posts_text = {
        let mut s = format!("{answered}");
        if !faulted.is_empty() {
            s.push_str(&format!(
                " (+{} answered by `{}`)",
                faulted.len(),
                faulted.join("`, `")
            ));
        }
        if let Some(n) = post_arrivals {
            s = format!("{n} arrived, {answered} answered");
        }
        let n = op_jobs.len();
        format!("{s} → {n} job{}", if n == 1 { "" } else { "s" })
    };

    let must = |ok: bool, what: &str, violations: &mut Vec<String>| {
        if !ok {
            violations.push(what.to_string());
        }
    };
    let has = |s: &str| text.contains(s);
    if fault.is_job_fault() || fault == Fault::SigintInRequest {
        // The wait failed: an error, and a tainted resource holding the job id.
        must(
            out.code.is_some_and(|c| c != 0),
            "apply did not fail",
            violations,
        );
        must(present, "the resource is not in state", violations);
        must(tainted, "the resource is not tainted", violations);
        must(
            job_matches,
            "state does not hold the sim's job id",
            violations,
        );
        must(
            !job_id.is_empty() && has(&job_id),
            "the error does not name the job",
            violations,
        );
        must(has(VPS_APP), "the error does not name the VPS", violations);
        match fault {
            Fault::JobFailed => {
                must(
                    has(FAIL_MESSAGE),
                    "the error lacks HostUp's failure message",
                    violations,
                );
                must(
                    st_status == "failed",
                    "status in state is not `failed`",
                    violations,
                );
            }
            Fault::JobStuck => {
                must(
                    has("Timed out"),
                    "the error does not say it timed out",
                    violations,
                );
                must(
                    has("timeouts.create") && has(STUCK_TIMEOUT),
                    "the error does not name timeouts.create and its value",
                    violations,
                );
            }
            Fault::JobUnknown => {
                must(
                    has("no longer knows") || has("job_not_found"),
                    "the error does not say HostUp does not know the job",
                    violations,
                );
            }
            Fault::Sigint | Fault::SigintInRequest => {
                check_interrupted(out, after_sigint, violations);
                must(
                    has("may still be running"),
                    "the error does not say the job may still be running",
                    violations,
                );
            }
            _ => {}
        }
    } else if fault.is_persistent() {
        // Retries run out at plan time: a clean error quoting the body, nothing queued.
        check_fails_quoting_body(fault, out, violations);
        must(
            !present,
            "a resource is in state although nothing was queued",
            violations,
        );
    } else if fault.is_post_fault() {
        // The answer to the POST was lost: never re-sent, and the error says a job may exist.
        must(
            out.code.is_some_and(|c| c != 0),
            "apply did not fail",
            violations,
        );
        must(
            has("may have been queued") && has("import"),
            "the error does not say the operation may have been queued (and how to adopt it)",
            violations,
        );
        must(has(VPS_APP), "the error does not name the VPS", violations);
    } else {
        // Transient read faults are retried: apply succeeds, the job completed.
        must(
            out.code == Some(0),
            "apply failed on a transient fault",
            violations,
        );
        must(
            present && !tainted,
            "the resource is not cleanly in state",
            violations,
        );
        must(
            job_matches,
            "state does not hold the sim's job id",
            violations,
        );
        must(
            st_status == "completed",
            "status in state is not `completed`",
            violations,
        );
    }
    (state_text, posts_text)
}

/// Terraform wraps diagnostics at 78 columns wherever a line happens to break: phrases are
/// matched on the text with every run of whitespace made one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `Error: …` summaries terraform printed, without the box-drawing prefix, joined.
/// Terraform's own "execution halted" after an interrupt is left out: whether it prints it
/// depends on timing, and the table should change only when the provider's behaviour does.
fn first_error(out: &TfOutput) -> Option<String> {
    let mut all: Vec<String> = format!("{}\n{}", out.stderr, out.stdout)
        .lines()
        .map(|l| l.trim_start_matches(['│', '╷', ' ']).trim())
        .filter_map(|l| l.strip_prefix("Error: ").map(str::to_owned))
        .filter(|e| e != "execution halted")
        .collect();
    all.dedup();
    (!all.is_empty()).then(|| all.join("; then: "))
}

/// Job ids differ on every run; the table shows `job_…` so the document only changes when
/// behaviour does.
fn redact_job_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("job_") {
        out.push_str(&rest[..i + 4]);
        let tail = &rest[i + 4..];
        let n = tail
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tail.len());
        if n > 0 {
            out.push('…');
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The markdown written between the markers.
fn render(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "_Generated by `cargo test --test fault_matrix` (tests/fault_matrix.rs); do not edit \
         by hand. Job ids are shown as `job_…`._\n\n",
    );
    s.push_str("### Summary\n\n| Fault |");
    for t in Target::ALL {
        s.push_str(&format!(" `{}` |", t.label()));
    }
    s.push_str("\n|---|");
    for _ in Target::ALL {
        s.push_str("---|");
    }
    s.push('\n');
    let mut extras_started = false;
    for f in Fault::ALL {
        if f.is_extra() && !extras_started {
            extras_started = true;
            s.push_str("| _beyond issue 5's list:_ |");
            for _ in Target::ALL {
                s.push_str(" |");
            }
            s.push('\n');
        }
        s.push_str(&format!("| {} |", f.label()));
        for t in Target::ALL {
            let mark = rows
                .iter()
                .find(|r| r.fault == f && r.target == t)
                .map(|r| match &r.violations {
                    None => "n/a",
                    Some(v) if v.is_empty() => "✅",
                    Some(_) => "❌",
                })
                .unwrap_or("?");
            s.push_str(&format!(" {mark} |"));
        }
        s.push('\n');
    }
    s.push_str(
        "\n### Cells\n\n| Fault | Target | Injected as | Exit | Error summaries (in order) \
         | State afterwards | POSTs reaching HostUp → jobs | Contract |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
            md(r.fault.label()),
            r.target.label(),
            md(&r.injected),
            md(&r.exit),
            md(&r.diag),
            md(&r.state),
            md(&r.posts),
            md(&r.verdict()),
        ));
    }
    s
}

/// Replaces the text between the markers of docs/RELIABILITY.md.
fn write_doc(table: &str) -> Result<(), String> {
    let doc = std::fs::read_to_string(DOC).map_err(|e| format!("read {DOC}: {e}"))?;
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!("{DOC} lacks the markers {BEGIN} / {END}"));
    };
    if e < b {
        return Err(format!("{DOC}: {END} comes before {BEGIN}"));
    }
    let new = format!("{}{BEGIN}\n{table}{}", &doc[..b], &doc[e..]);
    if new != doc {
        // A read-only checkout must not fail the contracts: the table is also on stderr.
        if let Err(e) = std::fs::write(DOC, new) {
            eprintln!("warning: could not update {DOC}: {e}");
        }
    }
    Ok(())
}

#[test]
fn fault_matrix() {
    let mut cells: Vec<(usize, Fault, Target)> = Vec::new();
    for f in Fault::ALL {
        for t in Target::ALL {
            cells.push((cells.len(), f, t));
        }
    }
    // Slowest first, so the long waits overlap with the quick cells.
    let mut order = cells.clone();
    order.sort_by_key(|(i, f, _)| (std::cmp::Reverse(f.cost()), *i));
    let threads = std::env::var("FAULT_MATRIX_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(8);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(i, f, t)) = order.get(k) else {
                    break;
                };
                let row = cell(f, t);
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, row));
            });
        }
    });
    let mut rows = results.into_inner().unwrap_or_else(|p| p.into_inner());
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    assert_eq!(rows.len(), Fault::ALL.len() * Target::ALL.len());

    let table = render(&rows);
    eprintln!("{table}");
    if let Err(e) = write_doc(&table) {
        panic!("{e}");
    }
    let broken: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.violations {
            Some(v) if !v.is_empty() => Some(format!(
                "{} × {}: {}",
                r.fault.label(),
                r.target.label(),
                v.join("; ")
            )),
            _ => None,
        })
        .collect();
    assert!(
        broken.is_empty(),
        "broken contracts:\n{}",
        broken.join("\n")
    );
}
