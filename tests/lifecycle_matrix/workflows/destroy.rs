//! Destroy, with and without a resource whose plan-time check fails.

use super::{scalar, set_up, Workflow, DELETE};
use crate::cell::{flat, Cell, PlanWant, Step};
use crate::kinds::{Kind, VPS_A};

pub fn destroy(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    // Terraform asks the provider to plan a destroy only with ServerCapabilities.plan_destroy,
    // which Terraform 1.3 introduced.
    let warn = if c.bin.at_least(1, 3) {
        vec![c.kind.destroy_warning()]
    } else {
        vec![]
    };
    c.plan(
        "plan -destroy",
        &["-destroy"],
        PlanWant {
            exit: 2,
            actions: vec![(r.addr(), DELETE)],
            warn,
            ..PlanWant::default()
        },
    )?;
    c.apply_plan("apply", &c.kind.destroy_requests())?;
    c.check_state_holds("apply", &[]);
    if c.kind == Kind::Snapshot {
        let left = c.snapshots(VPS_A).contains(&r.main);
        c.expect(
            !left,
            "apply: the snapshot is still on the sim",
            "destroy must delete it",
        );
    }
    if c.kind.is_policy() {
        let v = c.vps(VPS_A);
        let (ok, what) = match c.kind {
            Kind::SnapshotSchedule => (v["snapshotSchedule"].is_null(), "the schedule is kept"),
            Kind::BackupSchedule => (
                v["backupSchedules"]
                    .as_array()
                    .is_some_and(|l| l.is_empty()),
                "the schedule is kept",
            ),
            _ => (
                scalar(&v["backupSettings"]["maxTotalBackups"]) == r.main,
                "the settings changed",
            ),
        };
        c.expect(ok, format!("apply: {what} on the sim"), format!("{v}"));
    }
    Ok(())
}

/// A created resource plus one that cannot be created (its plan-time gate is closed): the
/// refresh plan `terraform destroy` runs first fails on it, unless checks only warn
/// (HOSTUP_PLAN_CHECKS=warn) or there is no refresh plan (`-refresh=false`).
pub fn destroy_blocked(c: &mut Cell, w: Workflow) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    let Some(blocked) = c.kind.unbuildable() else {
        unreachable!("Workflow::na makes this row n/a for {:?}", c.kind)
    };
    c.set_config(&[r.clone(), blocked], "");
    match w {
        Workflow::DestroyBlocked => {
            let out = c.cmd("destroy", &["destroy", "-auto-approve"], &[], 1, &[])?;
            let text = flat(&out.all());
            for needle in ["terraform destroy -refresh=false", "plan_checks = \"warn\""] {
                c.expect(
                    text.contains(needle),
                    format!("destroy: error does not name `{needle}`"),
                    format!("destroy's error must name {needle:?}:\n{}", out.all()),
                );
            }
            c.check_state_holds("destroy", &[r.addr()]);
        }
        Workflow::DestroyBlockedWarn => {
            let env = [("HOSTUP_PLAN_CHECKS", "warn")];
            let reqs = c.kind.destroy_requests();
            c.cmd("destroy", &["destroy", "-auto-approve"], &env, 0, &reqs)?;
            c.check_state_holds("destroy", &[]);
        }
        _ => {
            let reqs = c.kind.destroy_requests();
            let args = ["destroy", "-refresh=false", "-auto-approve"];
            c.cmd("destroy -refresh=false", &args, &[], 0, &reqs)?;
            c.check_state_holds("destroy -refresh=false", &[]);
        }
    }
    Ok(())
}
