//! `hostup_vps_backup_restore` and `hostup_vps_restore_sources` end to end: the real
//! `terraform` CLI, the provider binary and `hostup-sim` on 127.0.0.1. A restore replaces a VPS
//! disk, so every plan that runs one must say so, and a plan that cannot run must fail before
//! any request that changes something.

mod support;

use hostup_provider::sim::fixture::{BACKUP_APP, VPS_APP, VPS_PAYG};
use support::{flat, provider_block, validate_refuses, Sim, Tf, KEY};

fn restore_config(sim: &Sim, vps: &str, backup: &str, extra: &str) -> String {
    format!(
        "{}\nresource \"hostup_vps_backup_restore\" \"r\" {{\n  vps_id    = \"{vps}\"\n  backup_id = \"{backup}\"\n{extra}}}\n",
        provider_block(&sim.url, KEY)
    )
}

const IN_PLACE: &str = "POST /api/v2/vps/{id}/backups/{backupId}/actions/restore";
const FROM_VPS: &str = "POST /api/v2/vps/{id}/backups/actions/restore-from-vps";

#[test]
fn a_backup_is_restored_in_place_once_with_the_warning_at_plan() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let tf = Tf::new(&restore_config(&sim, VPS_APP, BACKUP_APP, ""));
    let plan = flat(&tf.ok(&["plan"]).all());
    assert!(
        plan.contains(&format!(
            "Applying this replaces the disk of VPS {VPS_APP} with backup {BACKUP_APP}"
        )),
        "{plan}"
    );
    assert_eq!(sim.mutations(), 0);
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.count(IN_PLACE), 1);
    let inst = tf.instance("hostup_vps_backup_restore", "r");
    assert_eq!(inst["attributes"]["status"], "completed", "{inst}");
    assert!(inst["attributes"]["job_id"]
        .as_str()
        .is_some_and(|j| j.starts_with("job_")));
    let again = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(
        again.code,
        Some(0),
        "nothing runs the restore again: {}",
        again.all()
    );
    let destroy = flat(&tf.ok(&["destroy", "-auto-approve"]).all());
    assert!(
        destroy.contains("Destroying does not undo the backup restore"),
        "{destroy}"
    );
    assert_eq!(sim.count(IN_PLACE), 1);
}

#[test]
fn a_backup_of_another_vps_is_restored_from_the_sources_hostup_offers() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let source = format!("  source_vps_id = \"{VPS_APP}\"\n");
    let data = format!(
        "{}\ndata \"hostup_vps_restore_sources\" \"x\" {{\n  vps_id = \"{VPS_PAYG}\"\n}}\n\
         output \"sources\" {{\n  value = {{ for s in data.hostup_vps_restore_sources.x.sources : s.id => [for b in s.backups : b.id] }}\n}}\n",
        provider_block(&sim.url, KEY)
    );
    let look = Tf::new(&data);
    look.ok(&["apply", "-auto-approve"]);
    let out = look.ok(&["output", "-json", "sources"]).stdout;
    let sources: serde_json::Value = serde_json::from_str(&out).expect("json output");
    assert!(
        sources[VPS_APP]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == BACKUP_APP)),
        "{sources}"
    );

    let tf = Tf::new(&restore_config(&sim, VPS_PAYG, BACKUP_APP, &source));
    let plan = flat(&tf.ok(&["plan"]).all());
    assert!(
        plan.contains(&format!("with backup {BACKUP_APP} of VPS {VPS_APP}")),
        "{plan}"
    );
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!((sim.count(FROM_VPS), sim.count(IN_PLACE)), (1, 0));
}

#[test]
fn a_restore_that_cannot_run_fails_before_anything_is_sent() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let source = format!("  source_vps_id = \"{VPS_APP}\"\n");
    validate_refuses(
        &sim,
        &[
            (
                restore_config(&sim, VPS_APP, BACKUP_APP, &source),
                "source_vps_id is the VPS itself",
            ),
            (
                restore_config(&sim, VPS_APP, "vzdump-qemu-101.vma.zst", ""),
                "backup_id is not a HostUp backup id",
            ),
        ],
    );

    let missing = Tf::new(&restore_config(
        &sim,
        VPS_APP,
        "bkp_01hxa3b4c5d6e7f8g9h0j1k2zz",
        "",
    ));
    let out = flat(&missing.fails(&["plan"]).all());
    assert!(
        out.contains(&format!(
            "VPS {VPS_APP} has no backup bkp_01hxa3b4c5d6e7f8g9h0j1k2zz"
        )),
        "{out}"
    );
    assert!(
        out.contains(BACKUP_APP),
        "the backups that exist are listed: {out}"
    );

    let stranger = "vps_01hxa3b4c5d6e7f8g9h0j1k2zz";
    let extra = format!("  source_vps_id = \"{stranger}\"\n");
    let foreign = Tf::new(&restore_config(&sim, VPS_PAYG, BACKUP_APP, &extra));
    let out = flat(&foreign.fails(&["plan"]).all());
    assert!(
        out.contains(&format!("cannot restore backups of VPS {stranger}")),
        "{out}"
    );
    assert!(
        out.contains(VPS_APP),
        "the sources HostUp offers are listed: {out}"
    );
    assert_eq!(sim.mutations(), 0);
}

/// examples/restore-backup: plans nothing by default; with `restore=true` restores the newest
/// scheduled backup of the VPS.
#[test]
fn the_restore_backup_example_restores_last_nights_backup_only_when_asked() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let vps = hostup_provider::sim::fixture::VPS_FULL;
    let mut tf = Tf::new("");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/restore-backup");
    for f in ["main.tf", "versions.tf"] {
        std::fs::copy(dir.join(f), tf.work().join(f)).expect("copy example");
    }
    tf.env("HOSTUP_API_KEY", KEY)
        .env("HOSTUP_ENDPOINT", &sim.url);
    let var = format!("vps_id={vps}");
    tf.ok(&["apply", "-auto-approve", "-var", &var]);
    assert_eq!(sim.count(IN_PLACE), 0, "the default restores nothing");
    let list = sim.api_get(&format!("/api/v2/vps/{vps}/backups"), KEY);
    let newest = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["backupType"] == "scheduled")
        .max_by_key(|b| b["createdAt"].as_str().unwrap_or("").to_owned())
        .expect("a scheduled backup")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let apply = flat(
        &tf.ok(&[
            "apply",
            "-auto-approve",
            "-var",
            &var,
            "-var",
            "restore=true",
        ])
        .all(),
    );
    assert!(apply.contains(&format!("with backup {newest}")), "{apply}");
    assert_eq!(sim.count(IN_PLACE), 1);
    let inst = tf.instance("hostup_vps_backup_restore", "last_night");
    assert_eq!(inst["attributes"]["backup_id"], newest.as_str(), "{inst}");
}

/// A VPS whose restore gate is closed (staging-01: its order is pending) fails the plan with
/// HostUp's reason, before any request that changes something.
#[test]
fn a_closed_restore_gate_fails_the_plan() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let vps = hostup_provider::sim::fixture::VPS_PENDING;
    let tf = Tf::new(&restore_config(&sim, vps, BACKUP_APP, ""));
    let out = flat(&tf.fails(&["plan"]).all());
    assert!(
        out.contains(&format!(
            "HostUp does not allow the restore of backup {BACKUP_APP} on VPS {vps} now"
        )),
        "{out}"
    );
    assert!(out.contains("pending_order"), "{out}");
    assert_eq!(sim.mutations(), 0);
}
