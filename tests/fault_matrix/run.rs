//! Running one cell: a sim, a terraform apply (interrupted or not), and what the sim saw.

use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hostup_provider::sim::FaultRule;
use serde_json::Value;

use crate::contracts::{check_gave_up_on_slow_answer, Outcome};
use crate::faults::{Fault, Target};
use crate::spec::spec;
use crate::support::{finish_within, wait_until, Sim, Tf};
use crate::table::Row;
use crate::terraform_output::{first_error, redact_job_ids};
use crate::{AFTER_SIGINT_DEADLINE, JOB_DURATION, SIGINT_LIMIT, STUCK_JOB_DURATION, TF_DEADLINE};

/// Runs one cell; a panic in the harness becomes a violation of that cell.
pub(crate) fn cell(fault: Fault, target: Target) -> Row {
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

/// Sets the faults of `args` (`--fault RULE` pairs, the CLI's compact form) at run time,
/// parsed by the simulator's own parser.
fn set_faults(sim: &Sim, args: &[String]) {
    let rules: Vec<Value> = args
        .chunks(2)
        .map(|pair| {
            assert_eq!(
                pair[0], "--fault",
                "only --fault rules can be set at run time"
            );
            let rule = FaultRule::from_str(&pair[1]).unwrap_or_else(|e| panic!("{}: {e}", pair[1]));
            serde_json::to_value(rule).expect("a rule as JSON")
        })
        .collect();
    sim.admin_post("/_sim/faults", serde_json::json!({ "rules": rules }));
}

/// Sends `sig` to a pid, or to a process group when `target` is negative.
pub(crate) fn send_signal(target: i64, sig: libc::c_int) -> bool {
    let Ok(target) = libc::pid_t::try_from(target) else {
        return false;
    };
    // SAFETY: kill(2) on the pid (or process group) of a child this cell spawned and has not
    // reaped yet.
    unsafe { libc::kill(target, sig) == 0 }
}

pub(crate) fn run_cell(fault: Fault, target: Target) -> Row {
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
    let setup = target.setup_import();
    if setup.is_none() {
        args.extend(spec.args.iter().cloned());
    }
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let sim = Sim::start(&arg_refs);
    let mut tf = Tf::new(&target.config(&sim.url, spec.create_timeout));
    if let Some((address, id)) = &setup {
        // The destroy cells: the resource is imported first, then the faults are set and the
        // log cleared, so that they hit the destroy alone.
        tf.ok(&["import", address, id]);
        set_faults(&sim, &spec.args);
        sim.admin_delete("/_sim/requests");
    }
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

    let (state, posts) = Outcome {
        fault,
        target,
        tf: &tf,
        requests: &requests,
        jobs: &jobs,
        out: &out,
        after_sigint,
        post_arrivals,
        sim: &sim,
    }
    .check(&mut violations);
    Row {
        fault,
        target,
        injected: spec.injected,
        exit,
        diag: diag_line
            .map(|d| redact_job_ids(&d))
            .unwrap_or_else(|| format!("— ({} succeeded)", spec.command[0])),
        state,
        posts,
        violations: Some(violations),
        na: "",
    }
}
