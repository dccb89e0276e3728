//! Create, re-plan, and the changes that replace or update a resource: argument changes,
//! `timeouts`, `-replace`, `taint`.

use super::{
    check_created, plan_change, plan_empty, scalar, set_up, Workflow, CREATE, REPLACE, UPDATE,
};
use crate::cell::{Cell, PlanWant, Step};
use crate::kinds::{Kind, VPS_B};

pub fn create(c: &mut Cell) -> Step {
    let r = c.kind.base();
    c.set_config(std::slice::from_ref(&r), "");
    plan_change(c, "plan", &[], &r.addr(), CREATE)?;
    c.apply_plan("apply", &r.create_requests())?;
    check_created(c, "apply", &r);
    Ok(())
}

pub fn empty_replan(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    plan_empty(c, "re-plan", &[r.addr()])
}

/// An argument change: a replacement, or for a policy's in-place arguments an update that
/// sends its one request and keeps its id.
pub fn change(c: &mut Cell, w: Workflow) -> Step {
    let old = c.kind.base();
    set_up(c, &old)?;
    let old_id = c.instance(&old.addr())["attributes"]["id"].clone();
    let mut new = old.clone();
    match w {
        Workflow::ChangeMain => new.main = c.kind.changed_main().into(),
        Workflow::ChangeExtra => new.extra = Some(c.kind.changed_extra().into()),
        _ => {
            new.vps_id = VPS_B.into();
            if c.kind == Kind::BackupRestore {
                // Backups belong to one VPS: the same backup onto VPS_B is a restore from
                // another VPS (`POST …/backups/actions/restore-from-vps`).
                new.source_vps_id = Some(old.vps_id.clone());
            }
        }
    }
    let in_place = w != Workflow::ChangeVps && c.kind.in_place(w == Workflow::ChangeMain);
    let (actions, requests) = if in_place {
        (UPDATE, c.kind.update_requests())
    } else {
        (REPLACE, new.replace_requests())
    };
    c.set_config(std::slice::from_ref(&new), "");
    plan_change(c, "plan", &[], &new.addr(), actions)?;
    c.apply_plan("apply", &requests)?;
    check_created(c, "apply", &new);
    if in_place {
        let id = c.instance(&new.addr())["attributes"]["id"].clone();
        c.expect(
            id == old_id,
            "apply: the update changed the id",
            format!("id {old_id} before, {id} after"),
        );
    }
    if c.kind.is_policy() && old.vps_id != new.vps_id {
        // The old VPS's schedule was deleted; its settings stay as they were (destroy keeps
        // them).
        let v = c.vps(&old.vps_id);
        let (ok, what) = match c.kind {
            Kind::SnapshotSchedule => (v["snapshotSchedule"].is_null(), "schedule kept"),
            Kind::BackupSchedule => (
                v["backupSchedules"]
                    .as_array()
                    .is_some_and(|l| l.is_empty()),
                "schedule kept",
            ),
            _ => (
                scalar(&v["backupSettings"]["maxTotalBackups"]) == old.main,
                "settings changed",
            ),
        };
        c.expect(
            ok,
            format!("apply: the old VPS's {what}"),
            format!("{}: {v}", old.vps_id),
        );
    }
    if c.kind == Kind::Snapshot && (old.vps_id != new.vps_id || old.main != new.main) {
        let left = c.snapshots(&old.vps_id).contains(&old.main);
        c.expect(
            !left,
            "apply: the old snapshot is still on the sim",
            format!("{:?} still on {}", old.main, old.vps_id),
        );
    }
    Ok(())
}

pub fn timeouts_only(c: &mut Cell) -> Step {
    let mut r = c.kind.base();
    r.create_timeout = Some("10m".into());
    set_up(c, &r)?;
    r.create_timeout = Some("20m".into());
    c.set_config(std::slice::from_ref(&r), "");
    plan_change(c, "plan", &[], &r.addr(), UPDATE)?;
    c.apply_plan("apply", &[])?;
    let t = c.instance(&r.addr())["attributes"]["timeouts"]["create"].clone();
    c.expect(
        t == "20m",
        format!("apply: timeouts.create is {t} in state"),
        format!("expected 20m: {}", c.tf.state_file()),
    );
    Ok(())
}

pub fn replace(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    let flag = format!("-replace={}", r.addr());
    // No disk warning is asked of a restore here: `-replace` reaches the provider as a plain
    // update plan (node_resource_abstract_instance.go, `plan`: the forced replace is decided
    // in `getAction` after the first PlanResourceChange), and the warnings of the second call,
    // the only one that knows, are dropped. The restore's docs say so.
    let want = PlanWant {
        exit: 2,
        actions: vec![(r.addr(), REPLACE)],
        ..PlanWant::default()
    };
    c.plan("plan -replace", &[&flag], want)?;
    c.apply_plan("apply", &c.kind.replace_requests())?;
    check_created(c, "apply", &r);
    Ok(())
}

pub fn taint(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    c.cmd("taint", &["taint", &r.addr()], &[], 0, &[])?;
    let st = c.instance(&r.addr())["status"].clone();
    c.need(
        st == "tainted",
        "taint: not tainted in state",
        format!("{st}"),
    )?;
    plan_change(c, "plan", &[], &r.addr(), REPLACE)?;
    c.apply_plan("apply", &c.kind.replace_requests())?;
    check_created(c, "apply", &r);
    Ok(())
}
