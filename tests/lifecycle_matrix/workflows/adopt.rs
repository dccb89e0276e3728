//! Adopting and letting go: `terraform import`, `import {}` with generated config, `moved {}`,
//! `removed {}`.

use serde_json::json;

use super::{disk_warning, plan_empty, policy_on_sim, set_up, FORGET, NOOP};
use crate::cell::{Cell, PlanWant, Step};
use crate::kinds::{
    Kind, Res, BKP_FIRST, RETENTION, SCHEDULE_NAME, SNAP_BEFORE, SNAP_PLAIN, VPS_A, VPS_B,
    VPS_UNKNOWN,
};

/// An object made outside Terraform, the resource that adopts it, its import id, and an id of
/// the same form that must not import (the object under another VPS, or a VPS HostUp does not
/// know for the settings, which every VPS has).
pub fn importable(c: &mut Cell) -> Step<(Res, String, String)> {
    let mut r = c.kind.base();
    if c.kind.is_policy() {
        let (method, path, body) = match c.kind {
            Kind::SnapshotSchedule => (
                "POST",
                "snapshot-schedules",
                json!({"enabled": true, "intervalHours": 6}),
            ),
            Kind::BackupSchedule => (
                "POST",
                "backup-schedules",
                json!({"frequency": "daily", "hour": 2, "retentionCount": RETENTION,
                       "enabled": true, "name": SCHEDULE_NAME}),
            ),
            _ => (
                "PATCH",
                "backup-schedules",
                json!({"maxTotalBackups": 5, "autoDeleteOldest": true}),
            ),
        };
        let answer = c.api(method, &format!("/api/v2/vps/{VPS_A}/{path}"), Some(body))?;
        let (id, wrong) = match c.kind {
            Kind::BackupSchedule => {
                let bks = answer["schedule"]["id"].as_str().unwrap_or("").to_owned();
                (format!("{VPS_A}/{bks}"), format!("{VPS_B}/{bks}"))
            }
            // The matrix's VPS_B has no snapshot schedule.
            Kind::SnapshotSchedule => (VPS_A.to_owned(), VPS_B.to_owned()),
            _ => (VPS_A.to_owned(), VPS_UNKNOWN.to_owned()),
        };
        return Ok((r, id, wrong));
    }
    // Import cannot know `triggers` (the config's value would be adopted in place).
    r.extra = None;
    let id = match c.kind {
        Kind::Backup => {
            let body = json!({"note": r.main});
            c.api_job(&format!("/api/v2/vps/{VPS_A}/backups"), Some(body))?
        }
        Kind::Restore => c.api_job(
            &format!("/api/v2/vps/{VPS_A}/snapshots/{SNAP_BEFORE}/actions/restore"),
            None,
        )?,
        Kind::BackupRestore => c.api_job(
            &format!("/api/v2/vps/{VPS_A}/backups/{BKP_FIRST}/actions/restore"),
            None,
        )?,
        Kind::Snapshot => {
            r.main = SNAP_PLAIN.into();
            SNAP_PLAIN.to_owned()
        }
        _ => unreachable!("policies are handled above"),
    };
    Ok((r, format!("{VPS_A}/{id}"), format!("{VPS_B}/{id}")))
}

pub fn import_cli(c: &mut Cell) -> Step {
    let (r, import_id, wrong) = importable(c)?;
    let id = import_id.rsplit('/').next().unwrap_or("").to_owned();
    let addr = r.addr();
    c.set_config(std::slice::from_ref(&r), "");
    c.cmd("import", &["import", &addr, &import_id], &[], 0, &[])?;
    let a = c.instance(&addr)["attributes"].clone();
    let ok = if c.kind.is_policy() {
        a["id"] == id.as_str() && a["vps_id"] == VPS_A
    } else if c.kind.is_action() {
        a["job_id"] == id.as_str() && a["status"] == "completed" && a["vps_id"] == VPS_A
    } else {
        a["id"] == format!("{VPS_A}/{id}")
    };
    c.expect(ok, "import: state does not hold the object", format!("{a}"));
    plan_empty(c, "plan after import", std::slice::from_ref(&addr))?;
    // The same job (or name) under another VPS is not that VPS's.
    let mut other = r.clone();
    other.name = "other";
    other.vps_id = wrong.split('/').next().unwrap_or("").to_owned();
    c.set_config(&[r.clone(), other.clone()], "");
    c.cmd(
        "import with another VPS's id",
        &["import", &other.addr(), &wrong],
        &[],
        1,
        &[],
    )?;
    c.check_state_holds("import with another VPS's id", &[addr]);
    Ok(())
}

pub fn import_block(c: &mut Cell) -> Step {
    let (r, import_id, _) = importable(c)?;
    let addr = r.addr();
    let block = format!("import {{\n  to = {addr}\n  id = \"{import_id}\"\n}}\n");
    c.set_config(&[], &block);
    let changes = c.plan(
        "plan -generate-config-out",
        &["-generate-config-out=gen.tf"],
        PlanWant {
            exit: 2,
            actions: vec![(addr.clone(), NOOP)],
            ..PlanWant::default()
        },
    )?;
    c.expect(
        changes.iter().any(|ch| ch.importing),
        "plan: no import planned",
        format!("{changes:?}"),
    );
    let gen = std::fs::read_to_string(c.tf.work().join("gen.tf")).unwrap_or_default();
    let header = format!("resource \"{}\" \"{}\"", c.kind.type_name(), r.name);
    c.expect(
        gen.contains(&header),
        "plan: no config generated",
        format!("gen.tf:\n{gen}"),
    );
    c.apply_plan("apply", &[])?;
    c.check_state_holds("apply", std::slice::from_ref(&addr));
    plan_empty(c, "re-plan", &[addr])
}

pub fn moved(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    let mut to = r.clone();
    to.name = "moved";
    let block = format!(
        "moved {{\n  from = {}\n  to   = {}\n}}\n",
        r.addr(),
        to.addr()
    );
    c.set_config(&[to.clone()], &block);
    let no_warn = disk_warning(c);
    let changes = c.plan(
        "plan",
        &[],
        PlanWant {
            exit: 2,
            actions: vec![(to.addr(), NOOP)],
            no_warn,
            ..PlanWant::default()
        },
    )?;
    c.expect(
        changes
            .iter()
            .any(|ch| ch.previous_address.as_deref() == Some(&r.addr())),
        "plan: the move is not planned",
        format!("{changes:?}"),
    );
    c.apply_plan("apply", &[])?;
    c.check_state_holds("apply", &[to.addr()]);
    plan_empty(c, "re-plan", &[to.addr()])
}

pub fn removed(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    let block = format!(
        "removed {{\n  from = {}\n  lifecycle {{\n    destroy = false\n  }}\n}}\n",
        r.addr()
    );
    c.set_config(&[], &block);
    c.plan(
        "plan",
        &[],
        PlanWant {
            exit: 2,
            actions: vec![(r.addr(), FORGET)],
            ..PlanWant::default()
        },
    )?;
    c.apply_plan("apply", &[])?;
    c.check_state_holds("apply", &[]);
    if c.kind == Kind::Snapshot {
        let kept = c.snapshots(VPS_A).contains(&r.main);
        c.expect(
            kept,
            "apply: the snapshot is gone from the sim",
            "removed must keep it",
        );
    }
    if c.kind.is_policy() {
        let (kept, vps) = policy_on_sim(c, &r, None);
        c.expect(
            kept,
            "apply: HostUp no longer holds it",
            format!("removed must keep it: {vps}"),
        );
    }
    Ok(())
}
