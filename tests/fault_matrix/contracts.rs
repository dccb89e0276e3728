//! The contract each cell checks for its fault (docs/ARCHITECTURE.md, "Contracts").

use std::time::Duration;

use serde_json::Value;

use crate::faults::{Fault, Kind, Target, BACKUP_HOUR, BACKUP_KEEP, BACKUP_LIMIT, SCHEDULE_HOURS};
use crate::support::{Sim, Tf, TfOutput, KEY};
use crate::terraform_output::{flat, redact_job_ids};
use crate::{FAIL_MESSAGE, REQUEST_TIMEOUT, SIGINT_LIMIT, SLOW_MS, STUCK_TIMEOUT};

/// After SIGINT: terraform exits with an error within [`SIGINT_LIMIT`].
pub(crate) fn check_interrupted(
    out: &TfOutput,
    after_sigint: Option<Duration>,
    violations: &mut Vec<String>,
) {
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

/// Persistent read faults: retries run out, and the error says what HostUp sent instead of JSON
/// (docs/ARCHITECTURE.md, "Contracts": never a panic, never a bare "expected value at line 1").
pub(crate) fn check_fails_naming_the_body(
    fault: Fault,
    out: &TfOutput,
    violations: &mut Vec<String>,
) {
    let text = flat(&out.all());
    if out.code == Some(0) || out.code.is_none() {
        violations.push(format!("apply did not fail cleanly (exit {:?})", out.code));
    }
    // Said in our words (docs/MESSAGES.md): the page's title, or that the body was cut off;
    // the raw body is for the debug log.
    let named = match fault {
        Fault::PersistentHtml502 => {
            text.contains("HTTP 502") && text.contains("HTML page") && !text.contains("<html")
        }
        _ => text.contains("cut off") && !text.contains("EOF while"),
    };
    if !named {
        violations.push("the error does not say what came instead of JSON".into());
    }
}

/// The slow cell passes only if the client gave up on the slow answer and asked again: the
/// delayed request (the first on its route) must not be the first one on its route to be
/// answered. Had the client waited (no working request timeout), it would be.
pub(crate) fn check_gave_up_on_slow_answer(
    target: Target,
    requests: &[Value],
    violations: &mut Vec<String>,
) {
    let route = target.read_route_template().unwrap_or_default();
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

/// What one cell's run left behind, for its contract to judge.
pub(crate) struct Outcome<'a> {
    pub(crate) fault: Fault,
    pub(crate) target: Target,
    pub(crate) tf: &'a Tf,
    /// The requests the sim saw.
    pub(crate) requests: &'a [Value],
    /// The jobs the sim knew of, including any it was made to forget.
    pub(crate) jobs: &'a [Value],
    pub(crate) out: &'a TfOutput,
    /// How long terraform took to exit after SIGINT, when the cell sent one.
    pub(crate) after_sigint: Option<Duration>,
    /// POSTs that arrived at the sim, counted by the probe rule (PostSlow only).
    pub(crate) post_arrivals: Option<u64>,
    /// The simulator, to read what HostUp holds afterwards.
    pub(crate) sim: &'a Sim,
}

impl Outcome<'_> {
    /// Checks the contract of the cell's target; returns the table's state and POSTs columns.
    pub(crate) fn check(&self, violations: &mut Vec<String>) -> (String, String) {
        match self.target.kind() {
            Kind::Data => self.check_data_source(violations),
            Kind::Job => self.check_resource(violations),
            Kind::Write => self.check_write(violations),
        }
    }

    /// Contract of the data source cells: every fault here is transient, so the read is retried
    /// and apply succeeds with the right values, without any mutating request.
    fn check_data_source(&self, violations: &mut Vec<String>) -> (String, String) {
        let Outcome {
            fault,
            tf,
            requests,
            out,
            after_sigint,
            ..
        } = *self;
        if fault == Fault::SigintInRequest {
            check_interrupted(out, after_sigint, violations);
        } else if fault.is_persistent() {
            check_fails_naming_the_body(fault, out, violations);
        } else if out.code != Some(0) {
            violations.push(format!(
                "apply failed (exit {:?}) on a transient read fault",
                out.code
            ));
        }
        let state: Value = serde_json::from_str(&tf.state_file()).unwrap_or(Value::Null);
        let Some((ty, [(total_label, want_total), (names_label, want_names)])) =
            self.target.data_expect()
        else {
            violations.push("the data source has no expected values".into());
            return (String::new(), String::new());
        };
        let total = &state["outputs"]["total"]["value"];
        let names = &state["outputs"]["names"]["value"];
        let in_state = state["resources"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["mode"] == "data" && r["type"] == ty));
        if out.code == Some(0) && !fault.is_persistent() && fault != Fault::SigintInRequest {
            if *total != want_total {
                violations.push(format!("{total_label} is {total}, expected {want_total}"));
            }
            if *names != want_names {
                violations.push(format!("{names_label} are {names}, expected {want_names}"));
            }
        }
        let mutations = requests.iter().filter(|r| r["method"] != "GET").count();
        if mutations != 0 {
            violations.push(format!(
                "{mutations} mutating request(s) from a data source"
            ));
        }
        let st = if in_state {
            format!("read into state; {total_label} = {total}, {names_label} = {names}")
        } else {
            "not in state".into()
        };
        (st, format!("{mutations} (reads only)"))
    }

    /// Contract of the resource cells (docs/ARCHITECTURE.md, "Contracts").
    fn check_resource(&self, violations: &mut Vec<String>) -> (String, String) {
        let Outcome {
            fault,
            target,
            tf,
            requests,
            jobs,
            out,
            after_sigint,
            post_arrivals,
            ..
        } = *self;
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
            must(
                has(target.vps()),
                "the error does not name the VPS",
                violations,
            );
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
            // Retries run out at plan time: a clean error naming what came, nothing queued.
            check_fails_naming_the_body(fault, out, violations);
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
            must(
                has(target.vps()),
                "the error does not name the VPS",
                violations,
            );
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
}

impl Outcome<'_> {
    /// What HostUp holds of the target afterwards, as the table shows it, and whether that is
    /// what the configuration asks for (`done`: the apply or destroy took effect) or what
    /// was there before (`!done`).
    fn hostup_holds(&self, done: bool) -> (String, bool) {
        let target = self.target;
        let vps = target.vps();
        match target {
            Target::SnapshotSchedule | Target::SnapshotScheduleDestroy => {
                let path = format!("/api/v2/vps/{vps}/snapshot-schedules");
                let s = self.sim.api_get(&path, KEY)["schedule"].clone();
                let text = if s.is_null() {
                    "no schedule".to_string()
                } else {
                    format!("every {} h", s["intervalHours"])
                };
                let right = match (target, done) {
                    (Target::SnapshotSchedule, true) => {
                        s["intervalHours"] == SCHEDULE_HOURS && s["enabled"] == true
                    }
                    (Target::SnapshotSchedule, false) => s.is_null(),
                    (_, true) => s.is_null(),
                    (_, false) => s["intervalHours"] == 12,
                };
                (text, right)
            }
            Target::BackupSchedule | Target::BackupScheduleDestroy | Target::BackupSettings => {
                let path = format!("/api/v2/vps/{vps}/backup-schedules");
                let list = self.sim.api_get(&path, KEY);
                let schedules = list["schedules"].as_array().cloned().unwrap_or_default();
                let settings = &list["settings"];
                if target == Target::BackupSettings {
                    let text = format!(
                        "limit {}, autoDeleteOldest {}",
                        settings["totalBackupLimit"], settings["autoDeleteOldest"]
                    );
                    let set = settings["totalBackupLimit"] == BACKUP_LIMIT
                        && settings["autoDeleteOldest"] == true;
                    let before =
                        settings["totalBackupLimit"] == 3 && settings["autoDeleteOldest"] == false;
                    return (text, if done { set } else { before });
                }
                let text = if schedules.is_empty() {
                    "no schedule".to_string()
                } else {
                    schedules
                        .iter()
                        .map(|s| {
                            format!(
                                "{} at {} keeping {}",
                                s["frequency"].as_str().unwrap_or("?"),
                                s["time"].as_str().unwrap_or("?"),
                                s["retentionCount"]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let one = |time: &str, keep: u64| {
                    schedules.len() == 1
                        && schedules[0]["frequency"] == "daily"
                        && schedules[0]["time"] == time
                        && schedules[0]["retentionCount"] == keep
                };
                let right = match (target, done) {
                    (Target::BackupSchedule, true) => {
                        one(&format!("{BACKUP_HOUR:02}:00"), BACKUP_KEEP)
                    }
                    (Target::BackupSchedule, false) => schedules.is_empty(),
                    (_, true) => schedules.is_empty(),
                    (_, false) => one("02:00", 2),
                };
                (text, right)
            }
            _ => (String::new(), true),
        }
    }

    /// Contract of the synchronous writes (docs/ARCHITECTURE.md, "Contracts"): reads are
    /// retried; a POST is sent once unless HostUp certainly did not act (a 429); a DELETE or
    /// PATCH is repeated only while no answer began; a lost answer is a clear error and
    /// nothing is lost (a second run converges).
    fn check_write(&self, violations: &mut Vec<String>) -> (String, String) {
        let Outcome {
            fault,
            target,
            tf,
            requests,
            out,
            after_sigint,
            post_arrivals,
            ..
        } = *self;
        // The faults are done with (run.rs read what fired): HostUp is read as it is.
        self.sim.admin_delete("/_sim/faults");
        let text = flat(&out.all());
        let (method, route) = target.write().unwrap_or_default();
        let idempotent = target.write_is_idempotent();
        let destroy = target.command()[0] == "destroy";
        let writes: Vec<&Value> = requests
            .iter()
            .filter(|r| r["method"] == method && r["route"] == route)
            .collect();
        let answered = writes.iter().filter(|r| r["fault"].is_null()).count();
        let faulted: Vec<String> = writes
            .iter()
            .filter_map(|r| r["fault"].as_str().map(str::to_owned))
            .collect();
        let others = requests
            .iter()
            .filter(|r| r["method"] != "GET" && !(r["method"] == method && r["route"] == route))
            .count();
        if others != 0 {
            violations.push(format!("{others} unexpected mutating request(s)"));
        }
        let sent = post_arrivals.unwrap_or(writes.len() as u64);
        // How often the write may reach HostUp.
        let lost_answer = fault.is_post_fault();
        let answer_began = fault == Fault::Post502After;
        if lost_answer && (!idempotent || answer_began) && sent != 1 {
            violations.push(format!(
                "the {method} whose answer was lost was sent {sent} times (must be exactly once: \
                 {})",
                if idempotent {
                    "HostUp's answer had begun"
                } else {
                    "HostUp may have acted"
                }
            ));
        }
        if !lost_answer && faulted.iter().any(|f| f != "rateLimit") {
            violations.push(format!(
                "a {method} was answered by a non-429 fault ({faulted:?})"
            ));
        }
        if !lost_answer && answered > 1 {
            violations.push(format!("the {method} reached HostUp {answered} times"));
        }

        // What the run should have left: done (the write took effect and Terraform knows),
        // failed cleanly with nothing changed, or failed with HostUp's change unknown.
        let must = |ok: bool, what: &str, violations: &mut Vec<String>| {
            if !ok {
                violations.push(what.to_string());
            }
        };
        let has = |s: &str| text.contains(s);
        let ty = target.resource_type().unwrap_or_default();
        let inst = tf.instance(ty, "t");
        let present = !inst.is_null();
        let tainted = inst["status"] == "tainted";
        let retried = lost_answer && idempotent && !answer_began;
        let (holds, right_if_done) = self.hostup_holds(true);
        let (_, right_if_not) = self.hostup_holds(false);
        if fault.is_transient_read() || retried {
            must(
                out.code == Some(0),
                "the run failed on a transient fault",
                violations,
            );
            must(
                right_if_done,
                "HostUp does not hold what the configuration says",
                violations,
            );
            if destroy {
                must(
                    !present,
                    "the resource is still in state after the destroy",
                    violations,
                );
            } else {
                must(
                    present && !tainted,
                    "the resource is not cleanly in state",
                    violations,
                );
            }
        } else if fault.is_persistent() || fault == Fault::SigintInRequest {
            if fault == Fault::SigintInRequest {
                check_interrupted(out, after_sigint, violations);
            } else {
                check_fails_naming_the_body(fault, out, violations);
            }
            must(
                writes.is_empty(),
                "a write was sent although the read failed",
                violations,
            );
            must(
                right_if_not,
                "HostUp's setting changed although nothing was sent",
                violations,
            );
            must(
                present == destroy,
                if destroy {
                    "the resource left the state although it was not destroyed"
                } else {
                    "a resource is in state although nothing was set"
                },
                violations,
            );
        } else if lost_answer {
            must(
                out.code.is_some_and(|c| c != 0),
                "the run did not fail",
                violations,
            );
            must(
                has(target.vps()),
                "the error does not name the VPS",
                violations,
            );
            if !idempotent {
                must(
                    has("may have carried it out"),
                    "the error does not say HostUp may have made the change",
                    violations,
                );
            }
            if destroy {
                must(
                    present,
                    "the resource left the state although its destroy failed",
                    violations,
                );
            }
        }
        // Nothing lost: with the faults gone, a second run converges (the lost POST or DELETE
        // is sent again, and finds or makes what the configuration says).
        let mut converged = String::new();
        if out.code != Some(0) && fault != Fault::SigintInRequest {
            let mut args: Vec<&str> = target.command().to_vec();
            args.push("-no-color");
            let again = tf.run(&args);
            let (now, right) = self.hostup_holds(true);
            must(
                again.code == Some(0) && right,
                &format!(
                    "a second `terraform {}` did not converge (exit {:?}, HostUp holds {now})",
                    args[0], again.code
                ),
                violations,
            );
            converged = format!("; a second `terraform {}` converges: {now}", args[0]);
        }
        let state = if !present {
            "absent".to_string()
        } else if tainted {
            "**tainted**".to_string()
        } else {
            // A new backup schedule's id changes on every run; the fixture's is shown.
            let id = inst["attributes"]["id"].as_str().unwrap_or("");
            let id = match id.strip_prefix("bks_") {
                Some(_) if !destroy => "bks_…",
                _ => id,
            };
            format!("present; id `{id}`")
        };
        let mut w = format!("{answered} {method}");
        if !faulted.is_empty() {
            w.push_str(&format!(
                " (+{} answered by `{}`)",
                faulted.len(),
                faulted.join("`, `")
            ));
        }
        if let Some(n) = post_arrivals {
            w = format!("{n} {method} arrived, {answered} answered");
        }
        (state, format!("{w} → HostUp: {holds}{converged}"))
    }
}
