//! Recovering from what happens outside a clean apply: a failed wait then `untaint`, drift on
//! HostUp, and Ctrl-C.

use std::time::Duration;

use serde_json::json;

use super::{
    check_created, disk_warning, plan_change, plan_empty, set_up, state_job, CREATE, REPLACE,
    UPDATE,
};
use crate::cell::{clip, flat, Cell, PlanWant, Step, JOB_DURATION_MS, SIM_DEADLINE};
use crate::kinds::{Kind, BKP_FIRST, RETENTION, SNAP_BEFORE, SNAP_NEW, VPS_A};
use crate::support::{finish_within, wait_until};

/// Job duration of the Ctrl-C rows' interrupted job: it still runs when the next apply starts.
const LONG_JOB_MS: u64 = 6000;
/// After SIGINT terraform must be gone within this (the cell fails otherwise).
const AFTER_SIGINT: Duration = Duration::from_secs(30);

/// The create's job never ends by itself (`--stuck-next-jobs 1`) and `timeouts.create` is
/// 1s: apply fails and Terraform taints the resource, which holds the job id. After
/// `untaint` and the job completing on HostUp, a refresh-only apply must bring the state up to
/// date without re-running anything.
pub fn untaint_refresh(c: &mut Cell) -> Step {
    let mut r = c.kind.base();
    r.create_timeout = Some("1s".into());
    let addr = r.addr();
    c.set_config(std::slice::from_ref(&r), "");
    c.cmd(
        "apply (wait times out)",
        &["apply", "-auto-approve"],
        &[],
        1,
        &c.kind.create_requests(),
    )?;
    let jobs = c.job_ids();
    let inst = c.instance(&addr);
    c.need(
        inst["status"] == "tainted" && jobs.len() == 1 && state_job(c, &addr) == jobs[0],
        "timed-out apply: not tainted with the job id",
        format!("sim jobs {jobs:?}; state: {inst}"),
    )?;
    c.cmd("untaint", &["untaint", &addr], &[], 0, &[])?;
    c.complete_job(&jobs[0]);
    c.cmd(
        "apply -refresh-only",
        &["apply", "-refresh-only", "-auto-approve"],
        &[],
        0,
        &[],
    )?;
    let inst = c.instance(&addr);
    let a = &inst["attributes"];
    if c.kind.is_action() {
        c.expect(
            a["status"] == "completed" && a["completed_at"].is_string(),
            format!(
                "refresh: status {}, completed_at {}",
                a["status"],
                if a["completed_at"].is_string() {
                    "set"
                } else {
                    "null"
                }
            ),
            format!("refresh must record the completed job: {inst}"),
        );
    } else {
        c.expect(
            a["created_at"].is_string(),
            "refresh: snapshot not read back",
            format!("refresh must read the snapshot the job made: {inst}"),
        );
    }
    c.expect(
        !inst.is_null() && inst["status"] != "tainted",
        "refresh: not in state untainted",
        format!("{inst}"),
    );
    plan_empty(c, "plan after refresh", &[addr])
}

pub fn drift_expired(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    if c.kind == Kind::Snapshot {
        c.sim.admin_post(
            &format!("/_sim/vps/{VPS_A}/snapshots/{SNAP_NEW}/expire"),
            json!({}),
        );
        plan_change(c, "plan", &[], &r.addr(), CREATE)
    } else {
        // HostUp forgets jobs some time after they end: polls then answer 404.
        let job = state_job(c, &r.addr());
        c.sim.admin_delete(&format!("/_sim/jobs/{job}"));
        plan_empty(c, "plan", &[r.addr()])
    }
}

pub fn drift_deleted(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    match c.kind {
        Kind::SnapshotSchedule | Kind::BackupSchedule => {
            let path = if c.kind == Kind::SnapshotSchedule {
                format!("/api/v2/vps/{VPS_A}/snapshot-schedules")
            } else {
                let id = c.instance(&r.addr())["attributes"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                format!("/api/v2/vps/{VPS_A}/backup-schedules/{id}")
            };
            c.api("DELETE", &path, None)?;
            // Refresh drops it (ReadResource answers null) and says so; the plan creates it
            // again, and the apply does.
            let want = PlanWant {
                exit: 2,
                actions: vec![(r.addr(), CREATE)],
                warn: vec!["is gone"],
                ..PlanWant::default()
            };
            c.plan("plan", &[], want)?;
            c.apply_plan("apply", &c.kind.create_requests())?;
            check_created(c, "apply", &r);
            Ok(())
        }
        Kind::BackupRestore => {
            // The backup it restored is gone: the restore happened all the same.
            c.api(
                "DELETE",
                &format!("/api/v2/vps/{VPS_A}/backups/{BKP_FIRST}"),
                None,
            )?;
            plan_empty(c, "plan", &[r.addr()])
        }
        Kind::BackupSettings => unreachable!("Workflow::na makes this row n/a for settings"),
        Kind::Snapshot => {
            c.api(
                "DELETE",
                &format!("/api/v2/vps/{VPS_A}/snapshots/{SNAP_NEW}"),
                None,
            )?;
            c.wait_idle("delete outside Terraform")?;
            plan_change(c, "plan", &[], &r.addr(), CREATE)
        }
        Kind::Backup => {
            let backups = c.vps(VPS_A)["backups"].clone();
            let id = backups
                .as_array()
                .and_then(|bs| bs.iter().find(|b| b["note"] == r.main.as_str()))
                .and_then(|b| b["id"].as_str())
                .unwrap_or("")
                .to_owned();
            c.need(
                !id.is_empty(),
                "set-up: the backup is not on the sim",
                format!("backups of {VPS_A}: {backups}"),
            )?;
            c.api("DELETE", &format!("/api/v2/vps/{VPS_A}/backups/{id}"), None)?;
            plan_empty(c, "plan", &[r.addr()])
        }
        Kind::Restore => {
            c.api(
                "DELETE",
                &format!("/api/v2/vps/{VPS_A}/snapshots/{SNAP_BEFORE}"),
                None,
            )?;
            c.wait_idle("delete outside Terraform")?;
            plan_empty(c, "plan", &[r.addr()])
        }
    }
}

/// A policy changed outside Terraform (as in the dashboard): refresh reads the new values,
/// the plan updates them back in place, the apply sends the one request, the re-plan is empty.
pub fn drift_changed(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    let (method, path, body) = match c.kind {
        Kind::SnapshotSchedule => (
            "POST",
            format!("/api/v2/vps/{VPS_A}/snapshot-schedules"),
            json!({"enabled": true, "intervalHours": 12}),
        ),
        Kind::BackupSchedule => (
            "POST",
            format!("/api/v2/vps/{VPS_A}/backup-schedules"),
            json!({"frequency": "daily", "hour": 5, "retentionCount": RETENTION,
                   "enabled": true}),
        ),
        _ => (
            "PATCH",
            format!("/api/v2/vps/{VPS_A}/backup-schedules"),
            json!({"maxTotalBackups": 9}),
        ),
    };
    c.api(method, &path, Some(body))?;
    plan_change(c, "plan", &[], &r.addr(), UPDATE)?;
    c.apply_plan("apply", &c.kind.update_requests())?;
    check_created(c, "apply", &r);
    plan_empty(c, "re-plan", &[r.addr()])
}

/// The VPS is terminated: a snapshot or schedule is dropped from state by refresh (never an
/// error), so the plan fails only because it cannot be created on a missing VPS (the settings
/// plan `["create"]`: their plan checks nothing on HostUp); the action-style resources plan
/// nothing. `apply -refresh-only` drops it.
pub fn drift_vps_gone(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    c.remove_vps(VPS_A)?;
    if c.kind.is_action() {
        return plan_empty(c, "plan", &[r.addr()]);
    }
    if c.kind == Kind::BackupSettings {
        // Dropped by refresh; the settings' plan reads nothing on HostUp, so only the apply
        // would find the VPS missing.
        plan_change(c, "plan", &[], &r.addr(), CREATE)?;
    } else {
        let want = PlanWant {
            exit: 1,
            error: vec![VPS_A],
            no_error: vec!["could not refresh"],
            ..PlanWant::default()
        };
        c.plan("plan", &[], want)?;
    }
    c.cmd(
        "apply -refresh-only",
        &["apply", "-refresh-only", "-auto-approve"],
        &[],
        0,
        &[],
    )?;
    c.check_state_holds("apply -refresh-only", &[]);
    Ok(())
}

/// SIGINT to terraform's process group (a terminal's Ctrl-C) while apply waits for a job that
/// runs 6 s; then plan and apply again while that job may still run.
pub fn ctrl_c(c: &mut Cell) -> Step {
    let r = c.kind.base();
    let addr = r.addr();
    c.set_config(std::slice::from_ref(&r), "");
    c.sim_config(json!({"jobDurationMs": LONG_JOB_MS}));
    c.begin();
    let child = c.spawn_env(&["apply", "-auto-approve"], &[]);
    let pgid = child.id() as libc::pid_t;
    let sim = &c.sim;
    let polling = wait_until(SIM_DEADLINE, || sim.count("GET /api/jobs/{jobId}") >= 1);
    c.sim_config(json!({"jobDurationMs": JOB_DURATION_MS}));
    let sig = if polling { libc::SIGINT } else { libc::SIGKILL };
    // SAFETY: kill(2) on the process group this cell created for terraform.
    unsafe { libc::kill(-pgid, sig) };
    let (out, done) = finish_within(child, AFTER_SIGINT);
    if !done {
        // SAFETY: as above; the group outlives its killed leader while a provider is left.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    c.need(
        polling,
        "apply never polled the job",
        format!("no job poll within {SIM_DEADLINE:?}:\n{}", out.all()),
    )?;
    c.need(
        done,
        "terraform did not exit after SIGINT",
        format!(
            "still running {AFTER_SIGINT:?} after SIGINT:\n{}",
            out.all()
        ),
    )?;
    c.need(
        out.code.is_some_and(|code| code != 0),
        format!("interrupted apply: exit {:?}", out.code),
        out.all(),
    )?;
    c.check_requests("interrupted apply", &c.kind.create_requests());
    let jobs = c.job_ids();
    let inst = c.instance(&addr);
    c.need(
        inst["status"] == "tainted" && jobs.len() == 1 && state_job(c, &addr) == jobs[0],
        "interrupted apply: not tainted with the job id",
        format!(
            "sim jobs {jobs:?}; state: {inst}; output: {}",
            clip(&flat(&out.all()), 2000)
        ),
    )?;
    // The next apply finds the VPS busy with that job and waits: 409s are expected.
    c.tolerate_busy = true;
    if c.kind.is_action() {
        // The replacement adopts the interrupted job instead of running the operation again.
        let mut warn = disk_warning(c);
        warn.push("adopts the unfinished");
        let want = PlanWant {
            exit: 2,
            actions: vec![(addr.clone(), REPLACE)],
            warn,
            ..PlanWant::default()
        };
        c.plan("plan after Ctrl-C", &[], want)?;
        c.apply_plan("apply again", &[])?;
        let inst = c.instance(&addr);
        c.expect(
            state_job(c, &addr) == jobs[0] && inst["attributes"]["status"] == "completed",
            "apply again: the interrupted job was not adopted",
            format!("sim jobs {jobs:?}; state: {inst}"),
        );
    } else {
        plan_change(c, "plan after Ctrl-C", &[], &addr, REPLACE)?;
        c.apply_plan("apply again", &c.kind.replace_requests())?;
        check_created(c, "apply again", &r);
    }
    if c.kind == Kind::Snapshot {
        let n = c.snapshots(VPS_A).iter().filter(|s| *s == SNAP_NEW).count();
        c.expect(
            n == 1,
            format!("apply again: {n} snapshots named {SNAP_NEW}"),
            format!("{:?}", c.snapshots(VPS_A)),
        );
    }
    Ok(())
}
