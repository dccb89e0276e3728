//! Create, re-plan, and the changes that replace or update a resource: argument changes,
//! `timeouts`, `-replace`, `taint`.

use super::{check_created, plan_change, plan_empty, set_up, Workflow, CREATE, REPLACE, UPDATE};
use crate::cell::{Cell, PlanWant, Step};
use crate::kinds::{Kind, VPS_B};

pub fn create(c: &mut Cell) -> Step {
    let r = c.kind.base();
    c.set_config(std::slice::from_ref(&r), "");
    plan_change(c, "plan", &[], &r.addr(), CREATE)?;
    c.apply_plan("apply", &c.kind.create_requests())?;
    check_created(c, "apply", &r);
    Ok(())
}

pub fn empty_replan(c: &mut Cell) -> Step {
    let r = c.kind.base();
    set_up(c, &r)?;
    plan_empty(c, "re-plan", &[r.addr()])
}

pub fn change(c: &mut Cell, w: Workflow) -> Step {
    let old = c.kind.base();
    set_up(c, &old)?;
    let mut new = old.clone();
    match w {
        Workflow::ChangeMain => new.main = c.kind.changed_main().into(),
        Workflow::ChangeExtra => {
            new.extra = Some(if c.kind.is_action() { "2" } else { "changed" }.into())
        }
        _ => new.vps_id = VPS_B.into(),
    }
    c.set_config(std::slice::from_ref(&new), "");
    plan_change(c, "plan", &[], &new.addr(), REPLACE)?;
    c.apply_plan("apply", &c.kind.replace_requests())?;
    check_created(c, "apply", &new);
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
