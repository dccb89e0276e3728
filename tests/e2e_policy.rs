//! The backup and snapshot policy resources end to end: the real `terraform` CLI, the provider
//! binary and `hostup-sim` on 127.0.0.1. Each test walks one resource through create, empty
//! re-plan, update in place, drift from outside Terraform, import and destroy, and checks the
//! requests HostUp received.

mod support;

use hostup_provider::sim::fixture::{VPS_APP, VPS_NO_SNAPSHOTS, VPS_PAYG};
use serde_json::{json, Value};
use support::{provider_block, Sim, Tf, KEY};

/// Terraform wraps details to its width: compare with the breaks undone.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn snapshot_schedule(sim: &Sim, vps: &str) -> Value {
    sim.api_get(&format!("/api/v2/vps/{vps}/snapshot-schedules"), KEY)["schedule"].clone()
}

fn schedule_config(sim: &Sim, vps: &str, extra: &str) -> String {
    format!(
        "{}\nresource \"hostup_vps_snapshot_schedule\" \"s\" {{\n  vps_id = \"{vps}\"\n{extra}}}\n",
        provider_block(&sim.url, KEY)
    )
}

const POST_SCHEDULE: &str = "POST /api/v2/vps/{id}/snapshot-schedules";

#[test]
fn a_snapshot_schedule_is_created_updated_refreshed_and_destroyed() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let tf = Tf::new(&schedule_config(&sim, VPS_APP, "  interval_hours = 6\n"));
    let plan = flat(&tf.ok(&["plan"]).all());
    // app-01 has 3 slots: one every 6 hours, kept about 24 hours, keeps up to 4.
    assert!(
        plan.contains(&format!(
            "Scheduled snapshots of VPS {VPS_APP} use its 3 snapshot slots"
        )),
        "{plan}"
    );
    assert!(
        plan.contains("keeps up to 4 at a time: that is every slot"),
        "{plan}"
    );
    assert_eq!(sim.mutations(), 0, "a plan sent a change");

    let apply = flat(&tf.ok(&["apply", "-auto-approve"]).all());
    assert!(apply.contains("1 added"), "{apply}");
    assert_eq!(sim.count(POST_SCHEDULE), 1);
    let s = snapshot_schedule(&sim, VPS_APP);
    assert_eq!(
        (s["enabled"].clone(), s["intervalHours"].clone()),
        (json!(true), json!(6)),
        "{s}"
    );
    let inst = tf.instance("hostup_vps_snapshot_schedule", "s");
    assert_eq!(inst["attributes"]["id"], VPS_APP);
    assert_eq!(inst["attributes"]["enabled"], true);

    let again = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{}", again.all());

    // Update in place.
    tf.write_config(&schedule_config(
        &sim,
        VPS_APP,
        "  interval_hours = 8\n  enabled = false\n",
    ));
    let plan = tf.run(&["plan", "-detailed-exitcode"]).all();
    assert!(plan.contains("updated in-place"), "{plan}");
    tf.ok(&["apply", "-auto-approve"]);
    let s = snapshot_schedule(&sim, VPS_APP);
    assert_eq!(
        (s["enabled"].clone(), s["intervalHours"].clone()),
        (json!(false), json!(8)),
        "{s}"
    );
    assert_eq!(sim.count(POST_SCHEDULE), 2);

    // Drift: changed in the dashboard.
    let body = json!({"enabled": false, "intervalHours": 12});
    sim.api_post(
        &format!("/api/v2/vps/{VPS_APP}/snapshot-schedules"),
        KEY,
        body,
    );
    let drift = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, Some(2), "{}", drift.all());
    assert!(
        flat(&drift.all()).contains("interval_hours = 12 -> 8"),
        "{}",
        drift.all()
    );

    // Deleted in the dashboard: refresh says so and the plan creates it again.
    sim.api_delete(&format!("/api/v2/vps/{VPS_APP}/snapshot-schedules"), KEY);
    let gone = flat(&tf.run(&["plan", "-detailed-exitcode"]).all());
    assert!(
        gone.contains(&format!("The snapshot schedule of VPS {VPS_APP} is gone")),
        "{gone}"
    );
    assert!(gone.contains("will be created"), "{gone}");
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(snapshot_schedule(&sim, VPS_APP)["intervalHours"], 8);

    let destroy = flat(&tf.ok(&["destroy", "-auto-approve"]).all());
    assert!(
        destroy.contains("Destroying deletes the snapshot schedule"),
        "{destroy}"
    );
    assert!(snapshot_schedule(&sim, VPS_APP).is_null());
}

#[test]
fn a_snapshot_schedule_is_imported_and_checked_before_anything_is_sent() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    // cloud-01's schedule (every 12 h) imported by the VPS id: the config then plans nothing.
    let tf = Tf::new(&schedule_config(&sim, VPS_PAYG, "  interval_hours = 12\n"));
    tf.ok(&["import", "hostup_vps_snapshot_schedule.s", VPS_PAYG]);
    let inst = tf.instance("hostup_vps_snapshot_schedule", "s");
    assert_eq!(inst["attributes"]["interval_hours"], 12, "{inst}");
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
    // The schedule's v2 fields are not documented: the legacy API's snake_case object, and a
    // DELETE answered with a body, work the same (docs/hostup-sim.md §3.9).
    sim.admin_patch(
        "/_sim/config",
        json!({"snapshotScheduleShape": "legacy", "snapshotScheduleDelete": "body"}),
    );
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "legacy shape: {}", plan.all());
    sim.admin_patch(
        "/_sim/config",
        json!({"snapshotScheduleShape": "v2", "snapshotScheduleDelete": "empty"}),
    );
    // Creating one over it says that it replaces the dashboard's.
    let other = Tf::new(&schedule_config(&sim, VPS_PAYG, "  interval_hours = 6\n"));
    let plan = flat(&other.ok(&["plan"]).all());
    assert!(
        plan.contains(&format!("VPS {VPS_PAYG} already has a snapshot schedule")),
        "{plan}"
    );
    assert!(plan.contains("every 12 hours"), "{plan}");

    let before = sim.requests().len();
    for (extra, says) in [
        ("  interval_hours = 3\n", "Invalid interval_hours"),
        ("  interval_hours = 6.5\n", "not a whole number of hours"),
    ] {
        let bad = Tf::new(&schedule_config(&sim, VPS_APP, extra));
        let out = flat(&bad.fails(&["validate"]).all());
        assert!(out.contains(says), "{out}");
    }
    assert_eq!(sim.requests().len(), before, "validate reached HostUp");
    // web-01 has no snapshot slots: the plan fails, nothing is sent.
    let none = Tf::new(&schedule_config(
        &sim,
        VPS_NO_SNAPSHOTS,
        "  interval_hours = 6\n",
    ));
    let out = flat(&none.fails(&["plan"]).all());
    assert!(
        out.contains("has no snapshot slots for a schedule"),
        "{out}"
    );
    let missing = Tf::new(&schedule_config(&sim, VPS_APP, "  interval_hours = 6\n"));
    let out = flat(
        &missing
            .fails(&["import", "hostup_vps_snapshot_schedule.s", VPS_APP])
            .all(),
    );
    assert!(
        out.contains(&format!("VPS {VPS_APP} has no snapshot schedule")),
        "{out}"
    );
    assert_eq!(sim.mutations(), 0);
}
