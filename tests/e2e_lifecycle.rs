//! Terraform workflows around the provider's distinctive parts (plan-time checks, action-style
//! resources, named snapshots), end to end: the real `terraform` CLI, the provider binary
//! cargo built and `hostup-sim` on 127.0.0.1. Each test names the bug of issue 10 it holds
//! down; the workflow × resource grid itself is tests/lifecycle_matrix.rs.

mod support;

use std::time::Duration;

use hostup_provider::sim::fixture::{SNAPSHOT_APP, VPS_APP, VPS_FULL, VPS_PAYG};
use serde_json::{json, Value};
use support::{finish, provider_block, wait_until, Sim, Tf, KEY};

/// `METHOD route` of every request the sim answered, in order, without the reads.
fn mutations(sim: &Sim) -> Vec<String> {
    sim.requests()
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| {
            format!(
                "{} {} {}",
                r["method"].as_str().unwrap_or(""),
                r["route"].as_str().unwrap_or(""),
                r["status"]
            )
        })
        .collect()
}

/// Starts a job from outside Terraform (as the dashboard would) and waits until the sim
/// reports it completed; returns its id.
fn outside_job(sim: &Sim, path: &str, body: Value) -> String {
    let op = sim.api_post(path, KEY, body);
    let id = op["operation"]["jobId"]
        .as_str()
        .expect("job id")
        .to_owned();
    let done = wait_until(Duration::from_secs(30), || {
        sim.jobs()
            .iter()
            .any(|j| j["jobId"] == id.as_str() && j["status"] == "completed")
    });
    assert!(done, "job {id} did not complete: {:?}", sim.jobs());
    id
}

/// Bug 1: a resource whose plan-time check fails blocks plain `terraform destroy` (its
/// pre-destroy refresh is a normal plan). The plan error stays, says the way out, and both
/// ways out work; `plan_checks = "warn"` makes the plan pass with a warning.
#[test]
fn a_closed_gate_fails_plan_and_destroy_names_the_way_out() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let base = format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    );
    let mut tf = Tf::new(&base);
    tf.ok(&["apply", "-auto-approve"]);
    // Add a snapshot on a VPS whose slots are all used: it cannot be built.
    let full = format!(
        "{base}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_FULL}\"\n  name = \"extra\"\n}}\n"
    );
    tf.write_config(&full);
    let plan = tf.fails(&["plan", "-no-color"]).all();
    assert!(plan.contains("terraform destroy -refresh=false"), "{plan}");
    let destroy = tf.fails(&["destroy", "-auto-approve", "-no-color"]).all();
    assert!(
        destroy.contains("terraform destroy -refresh=false"),
        "{destroy}"
    );
    assert!(destroy.contains("plan_checks = \"warn\""), "{destroy}");
    assert!(!tf.instance("hostup_vps_backup", "b").is_null());

    tf.env("HOSTUP_PLAN_CHECKS", "warn");
    let plan = tf.ok(&["plan", "-no-color"]).all();
    assert!(plan.contains("Shown as a warning"), "{plan}");
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(tf.instance("hostup_vps_backup", "b").is_null());
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots"), 0);

    // `-refresh=false` skips that plan (context_plan.go, destroyPlan: `!opts.SkipRefresh`).
    let tf = Tf::new(&base);
    tf.ok(&["apply", "-auto-approve"]);
    tf.write_config(&full);
    tf.ok(&["destroy", "-refresh=false", "-auto-approve"]);
    assert!(tf.instance("hostup_vps_backup", "b").is_null());

    // The provider argument does what the variable does.
    let warn = full.replace(
        "provider \"hostup\" {",
        "provider \"hostup\" {\n  plan_checks = \"warn\"",
    );
    let tf = Tf::new(&warn);
    let plan = tf.ok(&["plan", "-no-color"]).all();
    assert!(plan.contains("Shown as a warning"), "{plan}");
    let apply = tf.fails(&["apply", "-auto-approve", "-no-color"]).all();
    assert!(apply.contains("snapshot_limit_reached"), "{apply}");
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots"), 0);
}

/// Bug 4: "snapshot, then roll back to it" in one configuration: the restore's plan accepts a
/// snapshot that the same run creates, and Terraform restores only once it exists.
#[test]
fn a_restore_of_a_snapshot_taken_in_the_same_config_applies() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot\" \"pre\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"pre-change\"\n}}\n\
         resource \"hostup_vps_snapshot_restore\" \"back\" {{\n  vps_id = hostup_vps_snapshot.pre.vps_id\n  snapshot_name = hostup_vps_snapshot.pre.name\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    let plan = tf.ok(&["plan", "-no-color"]).all();
    assert!(plan.contains("replaces the disk of VPS"), "{plan}");
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(
        mutations(&sim),
        [
            "POST /api/v2/vps/{id}/snapshots 202",
            "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore 202"
        ]
    );
}

/// Bug 6: a job of another VPS (HostUp's `vmId` says so) is refused at import.
#[test]
fn import_refuses_a_job_of_another_vps() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let job = outside_job(&sim, &format!("/api/v2/vps/{VPS_PAYG}/backups"), json!({}));
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    let out = tf
        .fails(&["import", "hostup_vps_backup.b", &format!("{VPS_APP}/{job}")])
        .all();
    assert!(
        out.contains(&format!("not a job of VPS {VPS_APP}")),
        "{out}"
    );
    assert!(out.contains(VPS_PAYG), "{out}");
    assert!(tf.instance("hostup_vps_backup", "b").is_null());
    // Its own VPS takes it.
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_PAYG}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    tf.ok(&[
        "import",
        "hostup_vps_backup.b",
        &format!("{VPS_PAYG}/{job}"),
    ]);
    let inst = tf.instance("hostup_vps_backup", "b");
    assert!(
        inst["attributes"]["backup_id"]
            .as_str()
            .is_some_and(|b| b.starts_with("bkp_")),
        "{inst}"
    );
}

/// Bug 7: HostUp's legacy job types (`snapshot_rollback`) are a restore; the import plans no
/// change (and so no second restore). A job whose `vmId` is a legacy number is not refused.
#[test]
fn import_takes_a_snapshot_rollback_job() {
    let sim = Sim::start(&[
        "--job-duration",
        "0s",
        "--job-types",
        "legacy",
        "--vm-id",
        "numeric",
    ]);
    let path = format!("/api/v2/vps/{VPS_APP}/snapshots/{SNAPSHOT_APP}/actions/restore");
    let job = outside_job(&sim, &path, json!({}));
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot_restore\" \"r\" {{\n  vps_id = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    tf.ok(&[
        "import",
        "hostup_vps_snapshot_restore.r",
        &format!("{VPS_APP}/{job}"),
    ]);
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(
        sim.count("POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore"),
        1
    );
}

/// Conflicts inside one configuration fail at plan, before anything is sent.
#[test]
fn snapshot_conflicts_in_one_config_fail_at_plan() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let snap = |n: &str, name: &str| {
        format!("resource \"hostup_vps_snapshot\" \"{n}\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"{name}\"\n}}\n")
    };
    let p = provider_block(&sim.url, KEY);
    let twice = Tf::new(&format!("{p}\n{}{}", snap("a", "same"), snap("b", "same")));
    let out = twice.fails(&["plan", "-no-color"]).all();
    assert!(
        out.contains("Two snapshots of this plan are named \"same\""),
        "{out}"
    );
    // VPS_APP has 3 slots, one used: three new snapshots do not fit.
    let three = Tf::new(&format!(
        "{p}\n{}{}{}",
        snap("a", "one"),
        snap("b", "two"),
        snap("c", "three")
    ));
    let out = three.fails(&["plan", "-no-color"]).all();
    assert!(out.contains("Not enough snapshot slots"), "{out}");
    assert!(out.contains("3 new snapshots"), "{out}");
    assert!(mutations(&sim).is_empty(), "{:?}", mutations(&sim));
    // Two fit.
    let two = Tf::new(&format!("{p}\n{}{}", snap("a", "one"), snap("b", "two")));
    two.ok(&["apply", "-auto-approve"]);
}

/// Busy-VPS signals beyond `job_in_progress`: a gate closed with `vps_not_ready` makes plan
/// warn and apply wait; a POST refused with it is sent again.
#[test]
fn vps_not_ready_is_busy_not_a_failure() {
    let sim = Sim::start(&[
        "--job-duration",
        "0s",
        "--fault",
        "busy:vps_not_ready,count=1,method=POST",
    ]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(
        mutations(&sim),
        [
            "POST /api/v2/vps/{id}/backups 409",
            "POST /api/v2/vps/{id}/backups 202"
        ]
    );

    let sim = Sim::start(&["--job-duration", "0s"]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    sim.admin_patch(
        &format!("/_sim/vps/{VPS_APP}"),
        json!({"powerState": "starting"}),
    );
    let plan = tf.ok(&["plan", "-no-color"]).all();
    assert!(plan.contains("is busy"), "{plan}");
    assert!(plan.contains("vps_not_ready"), "{plan}");
    // Apply waits while the VPS starts, and queues once it is running.
    let child = tf.spawn(&["apply", "-auto-approve", "-no-color"]);
    let waiting = wait_until(Duration::from_secs(60), || {
        sim.count("GET /api/v2/vps/{id}/backups") >= 3
    });
    assert!(waiting, "apply did not read the gate again");
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups"), 0);
    sim.admin_patch(
        &format!("/_sim/vps/{VPS_APP}"),
        json!({"powerState": "running"}),
    );
    let out = finish(child, support::TF_DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups"), 1);
}

/// `backup_id` names the backup the job made; `delete_on_destroy` changes in place and makes
/// destroy delete it; the destroy plan says what destroying does.
#[test]
fn backup_id_and_delete_on_destroy() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let config = |delete: &str| {
        format!(
            "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n  note = \"n\"\n{delete}}}\n",
            provider_block(&sim.url, KEY)
        )
    };
    let tf = Tf::new(&config(""));
    tf.ok(&["apply", "-auto-approve"]);
    let id = tf.instance("hostup_vps_backup", "b")["attributes"]["backup_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("bkp_"), "{id}");
    let listed = sim.api_get(&format!("/api/v2/vps/{VPS_APP}/backups"), KEY);
    assert!(listed.to_string().contains(&id), "{listed}");

    let keep = tf.ok(&["plan", "-destroy", "-no-color"]).all();
    assert!(
        keep.contains(&format!("Destroying keeps backup {id}")),
        "{keep}"
    );

    tf.write_config(&config("  delete_on_destroy = true\n"));
    let plan = tf.ok(&["plan", "-no-color"]).all();
    assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
    tf.ok(&["apply", "-auto-approve"]);
    let delete = tf.ok(&["plan", "-destroy", "-no-color"]).all();
    assert!(
        delete.contains(&format!("Destroying deletes backup {id}")),
        "{delete}"
    );
    tf.ok(&["destroy", "-auto-approve"]);
    assert_eq!(
        mutations(&sim),
        [
            "POST /api/v2/vps/{id}/backups 202",
            "DELETE /api/v2/vps/{id}/backups/{backupId} 204"
        ]
    );
    let listed = sim.api_get(&format!("/api/v2/vps/{VPS_APP}/backups"), KEY);
    assert!(!listed.to_string().contains(&id), "{listed}");
}

/// Ctrl-C while a backup's or restore's job runs leaves it tainted with its job id; the next
/// apply adopts that job, whether it still runs (apply waits for it) or completed meanwhile
/// (no second backup, and the disk is not rolled back twice).
#[test]
fn an_interrupted_job_is_adopted_by_the_next_apply() {
    let cases = [
        (
            "hostup_vps_backup",
            format!("  vps_id = \"{VPS_APP}\"\n"),
            "POST /api/v2/vps/{id}/backups",
        ),
        (
            "hostup_vps_snapshot_restore",
            format!("  vps_id = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n"),
            "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore",
        ),
    ];
    for (ty, body, post) in &cases {
        for completes_first in [false, true] {
            let case = format!("{ty}, job completed before the next apply: {completes_first}");
            let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
            let tf = Tf::new(&format!(
                "{}\nresource \"{ty}\" \"x\" {{\n{body}}}\n",
                provider_block(&sim.url, KEY)
            ));
            let child = tf.spawn(&["apply", "-auto-approve", "-no-color"]);
            let polling = wait_until(Duration::from_secs(120), || {
                sim.count("GET /api/jobs/{jobId}") >= 1
            });
            assert!(polling, "{case}: the provider never polled the job");
            // SAFETY: kill(2) on the pid of a child we spawned and still own (not yet reaped).
            let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            assert_eq!(rc, 0, "kill(SIGINT)");
            let out = finish(child, Duration::from_secs(60));
            assert_ne!(out.code, Some(0), "{}", out.all());
            let inst = tf.instance(ty, "x");
            assert_eq!(inst["status"], "tainted", "{case}: {inst}");
            let job = inst["attributes"]["job_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if completes_first {
                sim.admin_post(&format!("/_sim/jobs/{job}/complete"), json!({}));
            }
            let plan = tf.ok(&["plan", "-no-color"]).all();
            assert!(plan.contains("adopts the unfinished"), "{case}: {plan}");
            let polls = sim.count("GET /api/jobs/{jobId}");
            let child = tf.spawn(&["apply", "-auto-approve", "-no-color"]);
            if !completes_first {
                // The refresh reads the job once, the adoption once more: then it is waiting.
                let waiting = wait_until(Duration::from_secs(60), || {
                    sim.count("GET /api/jobs/{jobId}") >= polls + 2
                });
                assert!(waiting, "{case}: apply did not wait for the job");
                sim.admin_post(&format!("/_sim/jobs/{job}/complete"), json!({}));
            }
            let out = finish(child, support::TF_DEADLINE);
            assert_eq!(out.code, Some(0), "{case}: {}", out.all());
            assert_eq!(sim.count(post), 1, "{case}: {:?}", mutations(&sim));
            let inst = tf.instance(ty, "x");
            assert_eq!(inst["attributes"]["job_id"], job.as_str(), "{case}: {inst}");
            assert_eq!(inst["attributes"]["status"], "completed", "{case}: {inst}");
            assert!(inst["status"].is_null(), "{case}: still tainted: {inst}");
        }
    }
}

/// Bug 3 after an interrupt: a snapshot whose create was interrupted is replaced under its
/// own name once its job ends, and ends up managed (one snapshot of that name on HostUp).
#[test]
fn an_interrupted_snapshot_is_retaken_under_its_name() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"pre\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    let child = tf.spawn(&["apply", "-auto-approve", "-no-color"]);
    let polling = wait_until(Duration::from_secs(120), || {
        sim.count("GET /api/jobs/{jobId}") >= 1
    });
    assert!(polling, "the provider never polled the job");
    // SAFETY: kill(2) on the pid of a child we spawned and still own (not yet reaped).
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0, "kill(SIGINT)");
    let out = finish(child, Duration::from_secs(60));
    assert_ne!(out.code, Some(0), "{}", out.all());
    let job = tf.instance("hostup_vps_snapshot", "s")["attributes"]["job_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The job is still running: the next plan replaces the tainted snapshot, name and all.
    tf.ok(&["plan", "-no-color"]);
    sim.admin_post(&format!("/_sim/jobs/{job}/complete"), json!({}));
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(
        sim.snapshot_names(VPS_APP)
            .iter()
            .filter(|n| *n == "pre")
            .count(),
        1
    );
    let inst = tf.instance("hostup_vps_snapshot", "s");
    assert!(inst["status"].is_null(), "{inst}");
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
}

/// Bug 2: a replacement of a restore forced by an argument change warns at plan, before the
/// disk is replaced (the warning comes from the replacement's first plan call, whose warnings
/// Terraform keeps).
#[test]
fn a_restore_replaced_by_a_trigger_change_warns_at_plan() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let config = |release: &str| {
        format!(
            "{}\nresource \"hostup_vps_snapshot_restore\" \"r\" {{\n  vps_id = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n  triggers = {{ release = \"{release}\" }}\n}}\n",
            provider_block(&sim.url, KEY)
        )
    };
    let tf = Tf::new(&config("1"));
    tf.ok(&["apply", "-auto-approve"]);
    let quiet = tf.ok(&["plan", "-no-color"]).all();
    assert!(!quiet.contains("replaces the disk"), "{quiet}");
    tf.write_config(&config("2"));
    let plan = tf.ok(&["plan", "-no-color"]).all();
    assert!(plan.contains("must be replaced"), "{plan}");
    assert!(
        plan.contains(&format!("Applying this replaces the disk of VPS {VPS_APP}")),
        "{plan}"
    );
}

/// Bug 5: a VPS that no longer exists drops its snapshot from state at refresh (never an
/// error), and destroying the rest of the workspace works: plain `terraform destroy` names the
/// way out (its plan would create the snapshot again, on a VPS that is gone), and both ways out
/// destroy everything.
#[test]
fn a_terminated_vps_drops_its_snapshot_and_destroy_still_works() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let mut tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"pre\"\n}}\n\
         resource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_PAYG}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    tf.ok(&["apply", "-auto-approve"]);
    sim.admin_post(&format!("/_sim/vps/{VPS_APP}/terminate"), json!({}));
    tf.ok(&["apply", "-refresh-only", "-auto-approve"]);
    assert!(tf.instance("hostup_vps_snapshot", "s").is_null());
    assert!(!tf.instance("hostup_vps_backup", "b").is_null());
    let plan = tf.fails(&["plan", "-no-color"]).all();
    assert!(plan.contains("vps_not_found"), "{plan}");
    let destroy = tf.fails(&["destroy", "-auto-approve", "-no-color"]).all();
    assert!(
        destroy.contains("terraform destroy -refresh=false"),
        "{destroy}"
    );
    tf.env("HOSTUP_PLAN_CHECKS", "warn");
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(tf.instance("hostup_vps_backup", "b").is_null());
}

/// Bug 8: refresh records the end of a job that was not finished in state (here after
/// `terraform untaint`, as the timeout message allows), and never queues anything.
#[test]
fn refresh_records_the_end_of_an_unfinished_job() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n  timeouts {{\n    create = \"2s\"\n  }}\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    tf.fails(&["apply", "-auto-approve"]);
    let inst = tf.instance("hostup_vps_backup", "b");
    let job = inst["attributes"]["job_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(inst["attributes"]["status"], "completed", "{inst}");
    tf.ok(&["untaint", "hostup_vps_backup.b"]);
    sim.admin_post(&format!("/_sim/jobs/{job}/complete"), json!({}));
    tf.ok(&["apply", "-refresh-only", "-auto-approve"]);
    let inst = tf.instance("hostup_vps_backup", "b");
    assert_eq!(inst["attributes"]["status"], "completed", "{inst}");
    assert!(inst["attributes"]["completed_at"].is_string(), "{inst}");
    assert!(
        inst["attributes"]["backup_id"]
            .as_str()
            .is_some_and(|b| b.starts_with("bkp_")),
        "{inst}"
    );
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups"), 1);
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
}

/// An imported snapshot whose configuration leaves `description` unset keeps HostUp's: no
/// replacement (which would delete the restore point).
#[test]
fn an_imported_snapshot_without_description_plans_no_change() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"{SNAPSHOT_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    tf.ok(&[
        "import",
        "hostup_vps_snapshot.s",
        &format!("{VPS_APP}/{SNAPSHOT_APP}"),
    ]);
    assert!(tf.instance("hostup_vps_snapshot", "s")["attributes"]["description"].is_string());
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
}

/// `create_before_destroy` with a fixed snapshot name: Terraform never tells the provider
/// about it (no RPC carries the lifecycle block), so plan cannot see it; apply stops before
/// the POST and says what to change, and the old snapshot stays.
#[test]
fn create_before_destroy_with_a_fixed_name_stops_before_queuing() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let config = |d: &str| {
        format!(
            "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"pre\"\n  description = \"{d}\"\n  lifecycle {{\n    create_before_destroy = true\n  }}\n}}\n",
            provider_block(&sim.url, KEY)
        )
    };
    let tf = Tf::new(&config("one"));
    tf.ok(&["apply", "-auto-approve"]);
    tf.write_config(&config("two"));
    let out = tf.fails(&["apply", "-auto-approve", "-no-color"]).all();
    assert!(out.contains("create_before_destroy"), "{out}");
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots"), 1);
    assert!(sim.snapshot_names(VPS_APP).contains(&"pre".to_owned()));
}

/// The simulator's other answers where the HostUp reference leaves a fact open (jobs that
/// start `pending`, open gates without a `code` key, a snapshot listed with null times while
/// it is taken, Proxmox job type names, a numeric `vmId`, the operation job shape): the
/// provider takes each, from plan to import to destroy.
#[test]
fn every_open_reference_choice_of_the_sim_works_end_to_end() {
    let sim = Sim::start(&[
        "--job-duration",
        "1s",
        "--job-initial-status",
        "pending",
        "--gate-code-key",
        "omit",
        "--snapshot-visibility",
        "immediate",
        "--job-types",
        "proxmox",
        "--vm-id",
        "numeric",
        "--job-shape",
        "operation",
    ]);
    let config = format!(
        "{}\nresource \"hostup_vps_snapshot\" \"pre\" {{\n  vps_id = \"{VPS_APP}\"\n  name = \"pre-change\"\n}}\n\
         resource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n  note = \"n\"\n  depends_on = [hostup_vps_snapshot.pre]\n}}\n\
         resource \"hostup_vps_snapshot_restore\" \"back\" {{\n  vps_id = hostup_vps_snapshot.pre.vps_id\n  snapshot_name = hostup_vps_snapshot.pre.name\n  depends_on = [hostup_vps_backup.b]\n}}\n",
        provider_block(&sim.url, KEY)
    );
    let tf = Tf::new(&config);
    tf.ok(&["apply", "-auto-approve"]);
    let snap = tf.instance("hostup_vps_snapshot", "pre");
    assert!(snap["attributes"]["created_at"].is_string(), "{snap}");
    let backup = tf.instance("hostup_vps_backup", "b");
    assert_eq!(backup["attributes"]["status"], "completed", "{backup}");
    assert!(
        backup["attributes"]["backup_id"]
            .as_str()
            .is_some_and(|b| b.starts_with("bkp_")),
        "{backup}"
    );
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.code, Some(0), "{}", out.all());

    // Import the restore job by its id, under the Proxmox name `qmrollback` and a numeric vmId.
    let job = tf.instance("hostup_vps_snapshot_restore", "back")["attributes"]["job_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let other = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot_restore\" \"r\" {{\n  vps_id = \"{VPS_APP}\"\n  snapshot_name = \"pre-change\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    other.ok(&[
        "import",
        "hostup_vps_snapshot_restore.r",
        &format!("{VPS_APP}/{job}"),
    ]);
    let out = other.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(!sim
        .snapshot_names(VPS_APP)
        .contains(&"pre-change".to_owned()));
}

/// A created backup costs two gate reads in one `terraform apply`: the plan walk's, and the
/// apply walk's re-plan, whose read the check just before the POST takes over (nothing in the
/// process changed the VPS between them). Counted from the simulator's log.
#[test]
fn a_created_backup_costs_two_gate_reads_in_one_apply() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let backup = |n: &str, vps: &str| {
        format!("resource \"hostup_vps_backup\" \"{n}\" {{\n  vps_id = \"{vps}\"\n}}\n")
    };
    let tf = Tf::new(&format!(
        "{}\n{}{}",
        provider_block(&sim.url, KEY),
        backup("a", VPS_APP),
        backup("b", VPS_PAYG)
    ));
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups"), 2);
    assert_eq!(sim.count("GET /api/v2/vps/{id}/backups"), 4);
}
