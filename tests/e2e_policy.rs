//! The backup and snapshot policy resources end to end: the real `terraform` CLI, the provider
//! binary and `hostup-sim` on 127.0.0.1. Each test walks one resource through create, empty
//! re-plan, update in place, drift from outside Terraform, import and destroy, and checks the
//! requests HostUp received.

mod support;

use hostup_provider::sim::fixture::{VPS_APP, VPS_NO_SNAPSHOTS, VPS_PAYG};
use serde_json::{json, Value};
use support::{flat, provider_block, validate_refuses, Sim, Tf, KEY};

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
            "Scheduled snapshots of VPS {VPS_APP} keep up to 3 of its 3 snapshot slots"
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

    validate_refuses(
        &sim,
        &[
            (
                schedule_config(&sim, VPS_APP, "  interval_hours = 3\n"),
                "Invalid interval_hours",
            ),
            (
                schedule_config(&sim, VPS_APP, "  interval_hours = 6.5\n"),
                "not a whole number of hours",
            ),
        ],
    );
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

fn backup_schedules(sim: &Sim, vps: &str) -> Value {
    sim.api_get(&format!("/api/v2/vps/{vps}/backup-schedules"), KEY)
}

fn backup_schedule_config(sim: &Sim, vps: &str, body: &str) -> String {
    format!(
        "{}\nresource \"hostup_vps_backup_schedule\" \"b\" {{\n  vps_id = \"{vps}\"\n{body}}}\n",
        provider_block(&sim.url, KEY)
    )
}

const WEEKLY: &str =
    "  frequency = \"weekly\"\n  day_of_week = 0\n  hour = 3\n  retention_count = 2\n";

#[test]
fn a_backup_schedule_is_created_read_back_in_hostups_words_updated_and_replaced() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let tf = Tf::new(&backup_schedule_config(&sim, VPS_APP, WEEKLY));
    tf.ok(&["apply", "-auto-approve"]);
    let list = backup_schedules(&sim, VPS_APP);
    let s = &list["schedules"][0];
    // HostUp lists the hour and day as text; the provider reads them back as numbers.
    assert_eq!(
        (s["time"].clone(), s["daySpecifier"].clone()),
        (json!("03:00"), json!("sunday")),
        "{list}"
    );
    let id = s["id"].as_str().unwrap().to_owned();
    let inst = tf.instance("hostup_vps_backup_schedule", "b");
    assert_eq!(inst["attributes"]["id"], id.as_str());
    assert_eq!(
        inst["attributes"]["name"], "Weekly backup",
        "HostUp's default name"
    );
    let again = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{}", again.all());
    // The day as a number string reads the same.
    sim.admin_patch("/_sim/config", json!({"daySpecifier": "number"}));
    let again = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{}", again.all());

    // Update in place keeps the id.
    tf.write_config(&backup_schedule_config(
        &sim,
        VPS_APP,
        &WEEKLY.replace("retention_count = 2", "retention_count = 3"),
    ));
    let plan = tf.run(&["plan"]).all();
    assert!(plan.contains("updated in-place"), "{plan}");
    tf.ok(&["apply", "-auto-approve"]);
    let s = backup_schedules(&sim, VPS_APP)["schedules"][0].clone();
    assert_eq!(
        (s["id"].as_str(), s["retentionCount"].clone()),
        (Some(id.as_str()), json!(3)),
        "{s}"
    );

    // Drift from the dashboard shows in the plan.
    let body = json!({"frequency": "weekly", "hour": 5, "dayOfWeek": 0, "retentionCount": 3, "enabled": true});
    sim.api_post(
        &format!("/api/v2/vps/{VPS_APP}/backup-schedules"),
        KEY,
        body,
    );
    let drift = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, Some(2), "{}", drift.all());
    assert!(
        flat(&drift.all()).contains("hour = 5 -> 3"),
        "{}",
        drift.all()
    );

    // A frequency change replaces it: the old schedule is deleted, a new one made.
    let daily = "  frequency = \"daily\"\n  hour = 1\n  retention_count = 3\n";
    tf.write_config(&backup_schedule_config(&sim, VPS_APP, daily));
    let plan = tf.run(&["plan"]).all();
    assert!(plan.contains("must be replaced"), "{plan}");
    tf.ok(&["apply", "-auto-approve"]);
    let list = backup_schedules(&sim, VPS_APP);
    let all = list["schedules"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_ne!(all[0]["id"].as_str(), Some(id.as_str()));
    assert_eq!(all[0]["frequency"], "daily");

    tf.ok(&["destroy", "-auto-approve"]);
    assert!(backup_schedules(&sim, VPS_APP)["schedules"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_backup_schedule_is_validated_offline_warned_about_and_imported() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    validate_refuses(
        &sim,
        &[
            (backup_schedule_config(&sim, VPS_APP, "  frequency = \"weekly\"\n  hour = 3\n  retention_count = 2\n"), "Missing day_of_week"),
            (backup_schedule_config(&sim, VPS_APP, "  frequency = \"daily\"\n  day_of_month = 1\n  hour = 3\n  retention_count = 2\n"), "day_of_month does not go with frequency"),
            (backup_schedule_config(&sim, VPS_APP, "  frequency = \"hourly\"\n  hour = 3\n  retention_count = 2\n"), "Invalid frequency"),
            (backup_schedule_config(&sim, VPS_APP, "  frequency = \"daily\"\n  hour = 24\n  retention_count = 0\n"), "Invalid retention_count"),
        ],
    );

    // app-01 may keep 3 backups in all.
    let many = Tf::new(&backup_schedule_config(
        &sim,
        VPS_APP,
        &WEEKLY.replace("retention_count = 2", "retention_count = 5"),
    ));
    let plan = flat(&many.ok(&["plan"]).all());
    assert!(plan.contains("keeps more backups than VPS"), "{plan}");
    assert!(plan.contains("backup limit is 3"), "{plan}");

    // db-01's nightly schedule: a second daily schedule says it updates that one.
    let nightly =
        "  frequency = \"daily\"\n  hour = 2\n  retention_count = 2\n  name = \"Nightly backup\"\n";
    let over = Tf::new(&backup_schedule_config(
        &sim,
        hostup_provider::sim::fixture::VPS_FULL,
        nightly,
    ));
    let plan = flat(&over.ok(&["plan"]).all());
    assert!(
        plan.contains("already has a daily backup schedule"),
        "{plan}"
    );
    // Imported by VPS id alone (the active schedule) or with its id, it plans nothing.
    let vps = hostup_provider::sim::fixture::VPS_FULL;
    for id in [
        vps.to_owned(),
        format!("{vps}/bks_01hxa3b4c5d6e7f8g9h0j1k2n1"),
    ] {
        let tf = Tf::new(&backup_schedule_config(&sim, vps, nightly));
        tf.ok(&["import", "hostup_vps_backup_schedule.b", &id]);
        let plan = tf.run(&["plan", "-detailed-exitcode"]);
        assert_eq!(plan.code, Some(0), "{id}: {}", plan.all());
    }
    let tf = Tf::new(&backup_schedule_config(&sim, VPS_APP, WEEKLY));
    let out = flat(
        &tf.fails(&["import", "hostup_vps_backup_schedule.b", VPS_APP])
            .all(),
    );
    assert!(
        out.contains("has no an active backup schedule")
            || out.contains("has no active backup schedule")
            || out.contains("It has no backup schedules"),
        "{out}"
    );
    assert_eq!(sim.mutations(), 0);
}

fn settings(sim: &Sim, vps: &str) -> Value {
    backup_schedules(sim, vps)["settings"].clone()
}

#[test]
fn backup_settings_are_set_read_back_imported_and_kept_on_destroy() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let config = |body: &str| {
        format!(
            "{}\nresource \"hostup_vps_backup_settings\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n{body}}}\n",
            provider_block(&sim.url, KEY)
        )
    };
    let tf = Tf::new(&config(
        "  max_total_backups = 2\n  auto_delete_oldest = true\n",
    ));
    tf.ok(&["apply", "-auto-approve"]);
    let s = settings(&sim, VPS_APP);
    assert_eq!(
        (s["totalBackupLimit"].clone(), s["autoDeleteOldest"].clone()),
        (json!(2), json!(true)),
        "{s}"
    );
    let inst = tf.instance("hostup_vps_backup_settings", "s");
    for (attr, field) in [
        ("manual_backups_active", "manualBackupsActive"),
        ("scheduled_backups_active", "scheduledBackupsActive"),
        ("available_scheduled_slots", "availableScheduledSlots"),
    ] {
        assert_eq!(inst["attributes"][attr], s[field], "{attr}: {inst}");
    }
    let again = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{}", again.all());

    // Only the arguments given are sent: dropping auto_delete_oldest leaves it as it is.
    tf.write_config(&config("  max_total_backups = 3\n"));
    tf.ok(&["apply", "-auto-approve"]);
    let s = settings(&sim, VPS_APP);
    assert_eq!(
        (s["totalBackupLimit"].clone(), s["autoDeleteOldest"].clone()),
        (json!(3), json!(true)),
        "{s}"
    );

    let bad = Tf::new(&config(""));
    let out = flat(&bad.fails(&["validate"]).all());
    assert!(out.contains("No backup setting to set"), "{out}");

    let destroy = flat(&tf.ok(&["destroy", "-auto-approve"]).all());
    assert!(
        destroy.contains("Destroying keeps the backup settings"),
        "{destroy}"
    );
    assert_eq!(
        settings(&sim, VPS_APP)["totalBackupLimit"],
        3,
        "destroy only forgets"
    );

    let imported = Tf::new(&config(
        "  max_total_backups = 3\n  auto_delete_oldest = true\n",
    ));
    imported.ok(&["import", "hostup_vps_backup_settings.s", VPS_APP]);
    let plan = imported.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
}

/// A workspace holding examples/`name`, pointed at `sim` through the environment (as the
/// example's provider block expects).
fn example(sim: &Sim, name: &str) -> Tf {
    let mut tf = Tf::new("");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    for entry in std::fs::read_dir(&dir).expect("example dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            std::fs::copy(&path, tf.work().join(path.file_name().unwrap())).expect("copy");
        }
    }
    tf.env("HOSTUP_API_KEY", KEY)
        .env("HOSTUP_ENDPOINT", &sim.url);
    tf
}

#[test]
fn the_policy_example_applies_and_is_stable() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let tf = example(&sim, "policy");
    let var = format!("vps_id={VPS_PAYG}");
    let apply = flat(&tf.ok(&["apply", "-auto-approve", "-var", &var]).all());
    assert!(apply.contains("3 added"), "{apply}");
    // What the apply cost against HostUp: each schedule is read by the plan and by the apply
    // walk's plan (the check just before it is sent), then written once; the settings are only
    // written. Seven requests for three resources, all the VPS needs.
    for (route, n) in [
        ("GET /api/v2/vps/{id}/snapshot-schedules", 2),
        ("POST /api/v2/vps/{id}/snapshot-schedules", 1),
        ("GET /api/v2/vps/{id}/backup-schedules", 2),
        ("POST /api/v2/vps/{id}/backup-schedules", 1),
        ("PATCH /api/v2/vps/{id}/backup-schedules", 1),
    ] {
        assert_eq!(sim.count(route), n, "{route}");
    }
    assert_eq!(sim.requests().len(), 7, "{:?}", sim.requests());
    // cloud-01 had a 12 h snapshot schedule from the dashboard: the plan said it is replaced.
    assert!(apply.contains("already has a snapshot schedule"), "{apply}");
    let list = backup_schedules(&sim, VPS_PAYG);
    let s = &list["schedules"][0];
    assert_eq!(
        (
            s["frequency"].clone(),
            s["time"].clone(),
            s["retentionCount"].clone()
        ),
        (json!("daily"), json!("02:00"), json!(7)),
        "{list}"
    );
    assert_eq!(
        (
            list["settings"]["totalBackupLimit"].clone(),
            list["settings"]["autoDeleteOldest"].clone()
        ),
        (json!(10), json!(true)),
        "{list}"
    );
    assert_eq!(snapshot_schedule(&sim, VPS_PAYG)["intervalHours"], 6);
    let before = sim.requests().len();
    let again = tf.run(&["plan", "-detailed-exitcode", "-var", &var]);
    assert_eq!(again.code, Some(0), "{}", again.all());
    // The refresh reads each resource once; planning no change reads nothing more.
    assert_eq!(
        sim.requests().len() - before,
        3,
        "{:?}",
        &sim.requests()[before..]
    );
    tf.ok(&["destroy", "-auto-approve", "-var", &var]);
    assert!(backup_schedules(&sim, VPS_PAYG)["schedules"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(snapshot_schedule(&sim, VPS_PAYG).is_null());
}

/// A key without `write:vm` (read-only, or backup-only) cannot change a schedule or the
/// settings: the error names the scope, whatever the key may do otherwise.
#[test]
fn a_key_without_write_vm_gets_an_error_naming_it() {
    use hostup_provider::sim::fixture::{KEY_BACKUP_ONLY, KEY_READ_ONLY};
    let sim = Sim::start(&["--job-duration", "0s"]);
    for key in [KEY_READ_ONLY, KEY_BACKUP_ONLY] {
        let config = format!(
            "{}\nresource \"hostup_vps_backup_settings\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  auto_delete_oldest = true\n}}\n",
            provider_block(&sim.url, key)
        );
        let out = flat(&Tf::new(&config).fails(&["apply", "-auto-approve"]).all());
        assert!(out.contains("write:vm"), "{key}: {out}");
    }
    // Refused: the settings are as they were.
    assert_eq!(settings(&sim, VPS_APP)["autoDeleteOldest"], false);
}
