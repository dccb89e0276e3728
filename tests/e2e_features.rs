//! The provider's features end to end: the real `terraform` CLI, the provider binary cargo
//! built (through dev_overrides) and the `hostup-sim` binary on 127.0.0.1 (issue 4's "Done
//! when" list).
//!
//! Every terraform run has a bounded deadline and is killed when it passes it, so a hang fails
//! the test instead of blocking the suite.

mod support;

use std::time::{Duration, Instant};

use hostup_provider::sim::fixture::{
    KEY_READ_ONLY, SNAPSHOT_APP, VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PAYG,
};
use serde_json::Value;
use support::{finish, provider_block, wait_until, Sim, Tf, KEY};

/// Jobs of `job_type` the sim ran, oldest first, as `(id, status)`.
fn sim_jobs(sim: &Sim, job_type: &str) -> Vec<(String, String)> {
    let st = sim.admin_get("/_sim/state");
    st["jobs"]
        .as_array()
        .map(|js| {
            js.iter()
                .filter(|j| j["type"] == job_type)
                .map(|j| {
                    let id = j["jobId"]
                        .as_str()
                        .or_else(|| j["id"].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let status = j["status"].as_str().unwrap_or_default().to_owned();
                    (id, status)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn backup_post(sim: &Sim) -> u64 {
    sim.count("POST /api/v2/vps/{id}/backups")
}

fn restore_post(sim: &Sim) -> u64 {
    sim.count("POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore")
}

fn backup_config(sim: &Sim, vps: &str, extra: &str) -> String {
    format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{vps}\"\n  note   = \"Before upgrade\"\n{extra}}}\n",
        provider_block(&sim.url, KEY)
    )
}

/// The quickstart's shape: look a VPS up by name, list its snapshots, back up, restore.
fn quickstart(sim: &Sim) -> String {
    format!(
        r#"{}
data "hostup_vps" "app" {{
  name = "app-01"
}}

data "hostup_vps_snapshots" "app" {{
  vps_id = data.hostup_vps.app.id
}}

resource "hostup_vps_backup" "before_upgrade" {{
  vps_id   = data.hostup_vps.app.id
  note     = "Before upgrade"
  triggers = {{ release = "1.2.3" }}
  timeouts {{
    create = "10m"
  }}
}}

resource "hostup_vps_snapshot_restore" "rollback" {{
  vps_id        = data.hostup_vps.app.id
  snapshot_name = "{SNAPSHOT_APP}"
  depends_on    = [hostup_vps_backup.before_upgrade]
}}

output "vps_id" {{
  value = data.hostup_vps.app.id
}}
output "snapshots" {{
  value = [for s in data.hostup_vps_snapshots.app.snapshots : s.name]
}}
output "total_snapshots" {{
  value = data.hostup_vps_snapshots.app.total_snapshots
}}
output "used_snapshots" {{
  value = data.hostup_vps_snapshots.app.used_snapshots
}}
output "can_restore" {{
  value = data.hostup_vps_snapshots.app.can_restore
}}
output "backup_job_id" {{
  value = hostup_vps_backup.before_upgrade.job_id
}}
"#,
        provider_block(&sim.url, KEY)
    )
}

/// Extra terraform binaries to run the quickstart with (e.g. 1.0.3), from
/// HOSTUP_EXTRA_TERRAFORM (a PATH-style list of binaries), as the examples test does.
fn extra_terraforms() -> Vec<std::path::PathBuf> {
    std::env::var_os("HOSTUP_EXTRA_TERRAFORM")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn quickstart_applies_waits_and_is_stable() {
    quickstart_with(None);
}

#[test]
fn quickstart_with_extra_terraform_versions() {
    let extra = extra_terraforms();
    // CI fetches Terraform 1.0.3 (scripts/fetch-terraform-compat); a CI run without it would
    // silently drop the compatibility check.
    if extra.is_empty() && std::env::var_os("CI").is_some() {
        panic!("CI must set HOSTUP_EXTRA_TERRAFORM (see .ci/run)");
    }
    for bin in extra {
        quickstart_with(Some(&bin));
    }
}

fn quickstart_with(terraform: Option<&std::path::Path>) {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let mut tf = Tf::new(&quickstart(&sim));
    if let Some(bin) = terraform {
        // Put a directory holding only this binary (as `terraform`) first on the PATH.
        let dir = tf.dir.path().join("tfbin");
        std::fs::create_dir_all(&dir).expect("tfbin dir");
        let abs = std::fs::canonicalize(bin).expect("extra terraform exists");
        std::os::unix::fs::symlink(&abs, dir.join("terraform")).expect("symlink terraform");
        let path = std::env::var("PATH").unwrap_or_default();
        tf.env("PATH", &format!("{}:{path}", dir.display()));
        let v = tf.ok(&["version"]);
        eprintln!("quickstart with {}", v.stdout.lines().next().unwrap_or(""));
    }
    tf.ok(&["validate"]);
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(
        plan.code,
        Some(2),
        "first plan should propose changes:\n{}",
        plan.all()
    );
    assert_eq!(sim.mutations(), 0, "plan sent a mutating request");
    tf.ok(&["apply", "-auto-approve"]);

    let out: Value =
        serde_json::from_str(&tf.ok(&["output", "-json"]).stdout).expect("output -json");
    assert_eq!(out["vps_id"]["value"], VPS_APP);
    assert_eq!(out["snapshots"]["value"], serde_json::json!([SNAPSHOT_APP]));
    assert_eq!(out["total_snapshots"]["value"], 3);
    assert_eq!(out["used_snapshots"]["value"], 1);
    assert_eq!(out["can_restore"]["value"]["allowed"], true);

    // The backup waited for its job: completed, and the job in state is the one the sim ran.
    let backup = tf.instance("hostup_vps_backup", "before_upgrade");
    let attrs = &backup["attributes"];
    assert_eq!(attrs["status"], "completed", "{backup}");
    assert!(attrs["completed_at"].is_string(), "{backup}");
    let jobs = sim_jobs(&sim, "backup_create");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(attrs["job_id"], jobs[0].0.as_str());
    assert_eq!(attrs["id"], jobs[0].0.as_str());
    assert_eq!(jobs[0].1, "completed");
    assert_eq!(out["backup_job_id"]["value"], jobs[0].0.as_str());

    let restore = tf.instance("hostup_vps_snapshot_restore", "rollback");
    assert_eq!(restore["attributes"]["status"], "completed", "{restore}");
    let rjobs = sim_jobs(&sim, "snapshot_restore");
    assert_eq!(rjobs.len(), 1, "{rjobs:?}");
    assert_eq!(restore["attributes"]["job_id"], rjobs[0].0.as_str());

    // Exactly one POST per operation.
    assert_eq!(backup_post(&sim), 1);
    assert_eq!(restore_post(&sim), 1);

    // Nothing left to do.
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "second plan not empty:\n{}", plan.all());

    // Destroy only forgets: no mutating request.
    let before = sim.mutations();
    tf.ok(&["destroy", "-auto-approve"]);
    assert_eq!(sim.mutations(), before, "destroy sent a mutating request");
    assert_eq!(backup_post(&sim), 1);
    assert_eq!(restore_post(&sim), 1);
}

#[test]
fn plan_time_gates_fail_plan_without_any_post() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let restore = |vps: &str, name: &str| {
        format!(
            "{}\nresource \"hostup_vps_snapshot_restore\" \"r\" {{\n  vps_id        = \"{vps}\"\n  snapshot_name = \"{name}\"\n}}\n",
            provider_block(&sim.url, KEY)
        )
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown snapshot name",
            restore(VPS_APP, "no-such-snapshot"),
            vec!["no-such-snapshot", "\"before-upgrade\"", "snapshot_name"],
        ),
        (
            "snapshots not on the plan",
            restore(VPS_NO_SNAPSHOTS, "anything"),
            vec!["feature_not_in_plan", "not included", "snapshot_name"],
        ),
        (
            "backup gate closed",
            backup_config(&sim, VPS_FULL, ""),
            vec![
                "backup_quota_exceeded",
                "does not allow the backup",
                "vps_id",
            ],
        ),
        (
            "unknown VPS",
            backup_config(&sim, "vps_01hxa3b4c5d6e7f8g9h0j1kzzz", ""),
            vec![
                "vps_not_found",
                "vps_01hxa3b4c5d6e7f8g9h0j1kzzz",
                "lists no VPS",
            ],
        ),
    ];
    for (what, config, needles) in cases {
        let tf = Tf::new(&config);
        let out = tf.fails(&["plan"]);
        let text = out.all();
        for n in needles {
            assert!(text.contains(n), "{what}: {n:?} missing in:\n{text}");
        }
    }
    assert_eq!(sim.mutations(), 0, "a plan sent a mutating request");
}

#[test]
fn restore_plan_warns_that_the_disk_is_replaced() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let tf = Tf::new(&format!(
        "{}\nresource \"hostup_vps_snapshot_restore\" \"r\" {{\n  vps_id        = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n}}\n",
        provider_block(&sim.url, KEY)
    ));
    let out = tf.ok(&["plan"]);
    let text = out.all();
    assert!(text.contains("Warning"), "{text}");
    assert!(text.contains("replaces the disk"), "{text}");
    assert_eq!(sim.mutations(), 0);
}

/// Terraform shows the warnings of every walk of a command: the apply walk plans each instance
/// again and keeps that plan's warnings (v1.11.4 internal/terraform/node_resource_apply_instance.go
/// l.268-269), so without the provider's memory of shown warnings the restore's warning came
/// twice, or folded into "(and one more similar warning elsewhere)" under -auto-approve. Each
/// command still shows it once: a new command is a new run.
#[test]
fn a_plan_time_warning_is_shown_once_per_command() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let config = |release: &str| {
        format!(
            "{}\nresource \"hostup_vps_snapshot_restore\" \"r\" {{\n  vps_id        = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n  triggers      = {{ release = \"{release}\" }}\n}}\n",
            provider_block(&sim.url, KEY)
        )
    };
    let warning = format!("Applying this replaces the disk of VPS {VPS_APP}");
    let tf = Tf::new(&config("1"));
    let plan = tf.ok(&["plan"]).all();
    assert_eq!(plan.matches(&warning).count(), 1, "{plan}");
    let apply = tf.ok(&["apply", "-auto-approve"]).all();
    assert_eq!(apply.matches(&warning).count(), 1, "{apply}");
    assert!(!apply.contains("similar warning"), "{apply}");
    assert_eq!(restore_post(&sim), 1);

    // Interactive: the warning comes with the plan, before the prompt, and not again after.
    tf.write_config(&config("2"));
    let mut cmd = tf.command(&["apply", "-no-color"]);
    cmd.env("TF_INPUT", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("terraform on PATH");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin piped");
        stdin.write_all(b"yes\n").expect("answer the prompt");
    }
    let out = finish(child, support::TF_DEADLINE);
    let text = out.all();
    assert_eq!(out.code, Some(0), "{text}");
    assert_eq!(text.matches(&warning).count(), 1, "{text}");
    let prompt = text.find("Enter a value").expect("the approval prompt");
    assert!(text.find(&warning).unwrap() < prompt, "{text}");
    assert_eq!(restore_post(&sim), 2);

    // `terraform destroy` first runs a normal plan whose warnings Terraform drops; with the
    // restore gone from the configuration, that plan plans its destroy with the same warning
    // as the destroy plan, which must still show it.
    tf.write_config(&provider_block(&sim.url, KEY));
    let destroy = tf.ok(&["destroy", "-auto-approve"]).all();
    let undo = format!("Destroying does not undo the restore of VPS {VPS_APP}");
    assert_eq!(destroy.matches(&undo).count(), 1, "{destroy}");

    // The memory is private to this user.
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata(tf.work()).unwrap().uid();
    let memory = tf
        .dir
        .path()
        .join(format!("terraform-provider-hostup-{uid}"));
    let mode = std::fs::metadata(&memory).expect("memory directory").mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn failed_job_taints_with_job_id_and_next_plan_replaces() {
    let sim = Sim::start(&[
        "--job-duration",
        "1s",
        "--fail-next-jobs",
        "1",
        "--fail-message",
        "Backup storage unavailable",
    ]);
    let tf = Tf::new(&backup_config(&sim, VPS_APP, ""));
    let out = tf.fails(&["apply", "-auto-approve"]);
    let text = out.all();
    let jobs = sim_jobs(&sim, "backup_create");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0].0;
    assert!(text.contains(job.as_str()), "job id missing:\n{text}");
    assert!(text.contains("Backup storage unavailable"), "{text}");
    assert!(text.contains(VPS_APP), "{text}");

    let inst = tf.instance("hostup_vps_backup", "b");
    assert_eq!(inst["status"], "tainted", "{inst}");
    assert_eq!(inst["attributes"]["job_id"], job.as_str());
    assert_eq!(inst["attributes"]["status"], "failed");

    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(2), "{}", plan.all());
    assert!(plan.all().contains("tainted"), "{}", plan.all());
    assert!(plan.all().contains("must be replaced"), "{}", plan.all());
    assert_eq!(backup_post(&sim), 1);
}

#[test]
fn stuck_job_hits_timeouts_create_naming_the_job() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
    let tf = Tf::new(&backup_config(
        &sim,
        VPS_APP,
        "  timeouts {\n    create = \"3s\"\n  }\n",
    ));
    let out = tf.fails(&["apply", "-auto-approve"]);
    let text = out.all();
    let jobs = sim_jobs(&sim, "backup_create");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(text.contains("Timed out"), "{text}");
    assert!(text.contains(jobs[0].0.as_str()), "{text}");
    assert!(text.contains("3s"), "{text}");
    let inst = tf.instance("hostup_vps_backup", "b");
    assert_eq!(inst["status"], "tainted", "{inst}");
    assert_eq!(inst["attributes"]["job_id"], jobs[0].0.as_str());
}

#[test]
fn sigint_during_wait_exits_fast_tainted_with_job_id() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
    let tf = Tf::new(&backup_config(&sim, VPS_APP, ""));
    let child = tf.spawn(&["apply", "-auto-approve"]);
    // Wait until the provider is polling the job.
    let polling = wait_until(Duration::from_secs(120), || {
        sim.count("GET /api/jobs/{jobId}") >= 1
    });
    let pid = child.id() as libc::pid_t;
    if !polling {
        // SAFETY: kill(2) on the pid of a child we spawned and still own.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("the provider never polled the job");
    }
    let t0 = Instant::now();
    // SAFETY: kill(2) on the pid of a child we spawned and still own (not yet reaped).
    let rc = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(rc, 0, "kill(SIGINT) failed");
    let out = finish(child, Duration::from_secs(30));
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "terraform took {took:?} to exit after SIGINT:\n{}",
        out.all()
    );
    assert_ne!(out.code, Some(0), "{}", out.all());
    let text = out.all();
    assert!(text.contains("may still be running on HostUp"), "{text}");
    let jobs = sim_jobs(&sim, "backup_create");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let inst = tf.instance("hostup_vps_backup", "b");
    assert_eq!(inst["status"], "tainted", "{inst}");
    assert_eq!(inst["attributes"]["job_id"], jobs[0].0.as_str());
}

#[test]
fn key_without_backup_scope_names_the_scope() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let config = format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        provider_block(&sim.url, KEY_READ_ONLY)
    );
    let tf = Tf::new(&config);
    let out = tf.fails(&["apply", "-auto-approve"]);
    let text = out.all();
    assert!(text.contains("backup:vm"), "{text}");
    assert!(text.contains("lacks the scope"), "{text}");
    assert_eq!(sim_jobs(&sim, "backup_create").len(), 0);
}

#[test]
fn api_key_appears_nowhere_and_provider_logs_under_its_name() {
    const SECRET: &str = "hk_e2e_features_7c1d9e0b3a";
    let sim = Sim::start(&[
        "--job-duration",
        "1s",
        "--key",
        &format!("{SECRET}=read:vm,backup:vm"),
    ]);
    // The key comes from the environment: a literal in main.tf would be part of the plan file.
    let config = format!(
        "terraform {{\n  required_providers {{\n    hostup = {{ source = \"hostup/hostup\" }}\n  }}\n}}\n\nprovider \"hostup\" {{\n  endpoint = \"{}\"\n}}\n\ndata \"hostup_vps_snapshots\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        sim.url
    );
    let mut tf = Tf::new(&config);
    let log = tf.dir.path().join("trace.log");
    tf.env("HOSTUP_API_KEY", SECRET)
        .env("TF_LOG", "trace")
        .env("TF_LOG_PATH", &log.display().to_string());
    let mut texts = Vec::new();
    let plan = tf.ok(&["plan", "-out=tfplan"]);
    texts.push(("plan output", plan.all()));
    let shown = tf.ok(&["show", "-json", "tfplan"]);
    texts.push(("plan json", shown.all()));
    let plan_bytes = std::fs::read(tf.work().join("tfplan")).unwrap_or_default();
    texts.push((
        "plan file",
        String::from_utf8_lossy(&plan_bytes).into_owned(),
    ));
    let apply = tf.ok(&["apply", "-auto-approve", "tfplan"]);
    texts.push(("apply output", apply.all()));
    texts.push(("state", tf.state_file()));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    texts.push(("TF_LOG file", log_text.clone()));
    for (what, text) in &texts {
        assert!(!text.contains(SECRET), "the API key leaked into the {what}");
    }
    assert!(backup_post(&sim) == 1);
    // The provider's own lines, under its name.
    let own: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("provider.terraform-provider-hostup"))
        .collect();
    assert!(
        own.iter().any(|l| l.contains("HostUp backup queued")),
        "no provider line about the queued backup in the log ({} provider lines)",
        own.len()
    );
    assert!(
        own.iter().any(|l| l.contains("HostUp job completed")),
        "no provider line about the completed job"
    );
}

#[test]
fn backup_import_adopts_the_job() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    // Run a backup in one working directory...
    let first = Tf::new(&backup_config(&sim, VPS_PAYG, ""));
    first.ok(&["apply", "-auto-approve"]);
    let job = first.instance("hostup_vps_backup", "b")["attributes"]["job_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(job.starts_with("job_"), "{job}");

    // ...and import it into another.
    let second = Tf::new(&backup_config(&sim, VPS_PAYG, ""));
    let id = format!("{VPS_PAYG}/{job}");
    second.ok(&["import", "hostup_vps_backup.b", &id]);
    let inst = second.instance("hostup_vps_backup", "b");
    assert_eq!(inst["attributes"]["job_id"], job.as_str(), "{inst}");
    assert_eq!(inst["attributes"]["vps_id"], VPS_PAYG);
    assert_eq!(inst["attributes"]["status"], "completed");
    assert_eq!(inst["attributes"]["note"], "Before upgrade");
    let plan = second.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());

    // Triggers the import could not know are adopted in place, not by a new backup.
    second.write_config(&backup_config(
        &sim,
        VPS_PAYG,
        "  triggers = { release = \"1\" }\n",
    ));
    let plan = second.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(2), "{}", plan.all());
    assert!(plan.all().contains("updated in-place"), "{}", plan.all());
    assert!(!plan.all().contains("must be replaced"), "{}", plan.all());
    second.ok(&["apply", "-auto-approve"]);
    assert_eq!(backup_post(&sim), 1, "import or adoption queued a backup");
    // From now on a triggers change runs a new backup.
    second.write_config(&backup_config(
        &sim,
        VPS_PAYG,
        "  triggers = { release = \"2\" }\n",
    ));
    let plan = second.run(&["plan"]);
    assert!(plan.all().contains("must be replaced"), "{}", plan.all());

    let bad = Tf::new(&backup_config(&sim, VPS_PAYG, ""));
    let out = bad.fails(&["import", "hostup_vps_backup.b", "not-an-id"]);
    assert!(out.all().contains("<vps_id>/<job_id>"), "{}", out.all());
    // The VPS part is held to vps_id's rule: a name or an IP is refused before any request.
    let before = sim.requests().len();
    for (id, says) in [
        ("app-01/job_01m8ymdmecn50fdf56zdentxbx", "looks like a name"),
        (
            "192.0.2.10/job_01m8ymdmecn50fdf56zdentxbx",
            "never by its IP",
        ),
    ] {
        let out = bad.fails(&["import", "hostup_vps_backup.b", id]).all();
        assert!(
            out.contains("Invalid import id") && out.contains(says),
            "{out}"
        );
    }
    assert_eq!(
        sim.requests().len(),
        before,
        "an invalid import id reached HostUp"
    );
}

#[test]
fn snapshot_create_expiry_refresh_and_destroy() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let config = format!(
        "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id      = \"{VPS_APP}\"\n  name        = \"pre-deploy\"\n  description = \"Before deploy\"\n}}\n",
        provider_block(&sim.url, KEY)
    );
    let tf = Tf::new(&config);
    tf.ok(&["apply", "-auto-approve"]);
    let inst = tf.instance("hostup_vps_snapshot", "s");
    assert_eq!(inst["attributes"]["id"], format!("{VPS_APP}/pre-deploy"));
    assert!(inst["attributes"]["expires_at"].is_string(), "{inst}");
    let has = |name: &str| sim.snapshot_names(VPS_APP).iter().any(|n| n == name);
    assert!(has("pre-deploy"));
    assert_eq!(tf.run(&["plan", "-detailed-exitcode"]).code, Some(0));

    // Expired on HostUp: refresh drops it and the plan creates it again.
    sim.admin_post(
        &format!("/_sim/vps/{VPS_APP}/snapshots/pre-deploy/expire"),
        serde_json::json!({}),
    );
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, Some(2), "{}", plan.all());
    assert!(plan.all().contains("will be created"), "{}", plan.all());
    // Not silently: the refresh's warning (shown by the terraform this test runs, although the
    // refreshed state is null) says the new one captures the disk as it is now.
    let text = plan.all().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Warning: Snapshot \"pre-deploy\"") && text.contains("as it is now"),
        "{text}"
    );
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots"), 2);
    assert!(has("pre-deploy"));

    // Destroy deletes it on HostUp.
    tf.ok(&["destroy", "-auto-approve"]);
    assert_eq!(
        sim.count("DELETE /api/v2/vps/{id}/snapshots/{snapshotId}"),
        1
    );
    assert!(
        wait_until(Duration::from_secs(10), || !has("pre-deploy")),
        "snapshot still on the sim after destroy"
    );
}

/// Two backups and a snapshot of one VPS with no dependency between them: Terraform applies
/// them in parallel, HostUp refuses a job while another runs, so the provider must queue them
/// (and its plan during apply must not fail or warn about its own jobs).
#[test]
fn operations_on_one_vps_in_one_apply_queue_behind_each_other() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let config = format!(
        r#"{}
resource "hostup_vps_backup" "first" {{
  vps_id = "{VPS_APP}"
  note   = "first"
}}
resource "hostup_vps_backup" "second" {{
  vps_id = "{VPS_APP}"
  note   = "second"
}}
resource "hostup_vps_snapshot" "pre" {{
  vps_id = "{VPS_APP}"
  name   = "pre-upgrade"
}}
"#,
        provider_block(&sim.url, KEY)
    );
    let tf = Tf::new(&config);
    let out = tf.ok(&["apply", "-auto-approve", "-no-color"]);
    let text = out.all();
    assert!(text.contains("Resources: 3 added"), "{text}");
    assert!(!text.contains("Another job is running"), "{text}");
    assert!(!text.contains("HostUp does not allow"), "{text}");
    let posts: Vec<u64> = sim
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST")
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert_eq!(posts, vec![202, 202, 202], "every POST accepted at once");
    assert_eq!(backup_post(&sim), 2);
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots"), 1);
    let done = sim
        .jobs()
        .iter()
        .filter(|j| j["status"] == "completed")
        .count();
    assert_eq!(done, 3);
}

/// Queues a backup of VPS_APP as a client outside Terraform would (the dashboard); its job id.
fn foreign_backup(sim: &Sim) -> String {
    let body = serde_json::json!({"note": "from the dashboard"});
    let op = sim.api_post(&format!("/api/v2/vps/{VPS_APP}/backups"), KEY, body);
    op["operation"]["jobId"]
        .as_str()
        .unwrap_or_else(|| panic!("no jobId in {op}"))
        .to_owned()
}

/// A job started outside Terraform (the dashboard) keeps the VPS busy: plan warns, and apply
/// waits for it instead of failing or sending a POST that HostUp would refuse.
#[test]
fn a_foreign_job_on_the_vps_makes_plan_warn_and_apply_wait() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
    let foreign_id = foreign_backup(&sim);
    let tf = Tf::new(&backup_config(&sim, VPS_APP, ""));

    let plan = tf.ok(&["plan", "-no-color"]);
    // Terraform wraps the detail to the terminal's width: compare with the breaks undone.
    let text = plan.all().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(&format!("VPS {VPS_APP} is busy with another job")),
        "{text}"
    );
    assert!(
        text.contains(&foreign_id),
        "HostUp's reason names the job: {text}"
    );
    assert!(
        text.contains("Apply will wait for that job to finish"),
        "{text}"
    );

    let reads = || sim.count("GET /api/v2/vps/{id}/backups");
    let before = reads();
    let child = tf.spawn(&["apply", "-auto-approve"]);
    // Plan walk, apply's re-plan, the check before the POST, and one more check after a
    // pause: the provider is waiting for the foreign job.
    let waiting = wait_until(Duration::from_secs(120), || reads() >= before + 4);
    let posts_while_busy = backup_post(&sim);
    sim.admin_post(
        &format!("/_sim/jobs/{foreign_id}/complete"),
        serde_json::json!({}),
    );
    let out = finish(child, support::TF_DEADLINE);
    let text = out.all();
    assert!(waiting, "the provider never re-checked the gate:\n{text}");
    assert_eq!(
        posts_while_busy, 1,
        "no POST of ours while the VPS was busy"
    );
    assert_eq!(out.code, Some(0), "{text}");
    // The plan's warning once: the apply walk's re-plan, still seeing the job, does not print
    // it again after "Apply complete!".
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        flat.matches("is busy with another job").count(),
        1,
        "{text}"
    );
    assert!(!flat.contains("similar warning"), "{text}");
    assert_eq!(backup_post(&sim), 2);
    let ours = tf.instance("hostup_vps_backup", "b");
    assert_ne!(ours["attributes"]["job_id"], foreign_id.as_str());
    assert_eq!(ours["attributes"]["status"], "completed", "{ours}");
}

/// A foreign job that outlasts `timeouts.create`: nothing is queued and the error says why.
#[test]
fn a_foreign_job_outlasting_the_timeout_fails_apply_without_a_post() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]);
    let foreign_id = foreign_backup(&sim);
    let tf = Tf::new(&backup_config(
        &sim,
        VPS_APP,
        "  timeouts {\n    create = \"2s\"\n  }\n",
    ));
    let out = tf.fails(&["apply", "-auto-approve", "-no-color"]);
    let text = out.all();
    assert!(
        text.contains("was not queued: another job kept the VPS busy"),
        "{text}"
    );
    assert!(text.contains(&foreign_id), "{text}");
    assert!(text.contains("timeouts.create"), "{text}");
    assert_eq!(backup_post(&sim), 1, "only the foreign POST");
    assert_eq!(
        tf.instance("hostup_vps_backup", "b"),
        Value::Null,
        "nothing in state"
    );
}

/// The statuses the sim answered to requests of `method`, in order.
fn statuses(sim: &Sim, method: &str) -> Vec<u64> {
    sim.requests()
        .iter()
        .filter(|r| r["method"] == method)
        .filter_map(|r| r["status"].as_u64())
        .collect()
}

/// A job from elsewhere that starts between the gate check and the request: HostUp answers
/// 409 `job_in_progress` without acting, so the request is sent again once the VPS is free,
/// for a backup's POST and a snapshot's DELETE alike; the jobs are not duplicated.
#[test]
fn a_request_refused_as_busy_is_sent_again_once_the_vps_is_free() {
    let sim = Sim::start(&[
        "--job-duration",
        "1s",
        "--fault",
        "busy,count=2,method=POST",
        "--fault",
        "busy,count=1,method=DELETE",
    ]);
    let config = format!(
        "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  name   = \"pre-deploy\"\n}}\n",
        provider_block(&sim.url, KEY)
    );
    let tf = Tf::new(&config);
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(statuses(&sim, "POST"), vec![409, 409, 202]);
    let jobs = sim.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["status"], "completed");
    tf.ok(&["destroy", "-auto-approve"]);
    let deletes = statuses(&sim, "DELETE");
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert_eq!(deletes[0], 409);
    assert!(sim
        .snapshot_names(VPS_APP)
        .iter()
        .all(|n| n != "pre-deploy"));
}

/// A snapshot delete HostUp keeps refusing as busy (a job from elsewhere outlasts
/// `timeouts.delete`): destroy fails saying how long it waited and that the timeout can be
/// raised, and the snapshot stays in state and on HostUp.
#[test]
fn a_delete_refused_as_busy_until_the_timeout_says_it_waited() {
    let sim = Sim::start(&["--job-duration", "1s", "--fault", "busy,method=DELETE"]);
    let config = format!(
        "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id = \"{VPS_APP}\"\n  name   = \"pre-deploy\"\n  timeouts {{\n    delete = \"2s\"\n  }}\n}}\n",
        provider_block(&sim.url, KEY)
    );
    let tf = Tf::new(&config);
    tf.ok(&["apply", "-auto-approve"]);
    let out = tf.fails(&["destroy", "-auto-approve", "-no-color"]);
    let text = out.all();
    assert!(
        text.contains("was not queued: another job kept the VPS busy"),
        "{text}"
    );
    assert!(
        text.contains("The VPS stayed busy for")
            && text.contains("then the wait reached its limit"),
        "{text}"
    );
    assert!(text.contains("raise `timeouts.delete`"), "{text}");
    assert!(!text.contains("HTTP 409"), "no raw answer: {text}");
    let deletes = statuses(&sim, "DELETE");
    assert!(
        deletes.len() >= 2 && deletes.iter().all(|s| *s == 409),
        "{deletes:?}"
    );
    assert_ne!(
        tf.instance("hostup_vps_snapshot", "s"),
        Value::Null,
        "still in state"
    );
    assert!(sim
        .snapshot_names(VPS_APP)
        .iter()
        .any(|n| n == "pre-deploy"));
}

/// Writes `config` and applies it, which must replace the one resource.
fn replaced_by(tf: &Tf, config: &str) {
    tf.write_config(config);
    let out = tf.ok(&["apply", "-auto-approve"]);
    let text = out.all();
    assert!(text.contains("1 added, 0 changed, 1 destroyed"), "{text}");
}

/// A snapshot replacement destroys the old snapshot before creating the new one, so plan must
/// not call the old one a name clash (a description change keeps the name), nor count its slot
/// as taken (a rename on a VPS whose slots are all used).
#[test]
fn snapshot_replacements_plan_and_apply_with_the_name_or_slot_they_free() {
    let sim = Sim::start(&["--job-duration", "1s"]);
    let snapshot = |vps: &str, name: &str, description: &str| {
        format!(
            "{}\nresource \"hostup_vps_snapshot\" \"s\" {{\n  vps_id      = \"{vps}\"\n  name        = \"{name}\"\n  description = \"{description}\"\n}}\n",
            provider_block(&sim.url, KEY)
        )
    };

    // Same name, new description.
    let tf = Tf::new(&snapshot(VPS_APP, "pre-deploy", "one"));
    tf.ok(&["apply", "-auto-approve"]);
    replaced_by(&tf, &snapshot(VPS_APP, "pre-deploy", "two"));
    let inst = tf.instance("hostup_vps_snapshot", "s");
    assert_eq!(inst["attributes"]["description"], "two", "{inst}");
    assert!(sim
        .snapshot_names(VPS_APP)
        .contains(&"pre-deploy".to_owned()));

    // Every slot of VPS_FULL is used: renaming one of its snapshots frees the slot it needs.
    let existing = sim.snapshot_names(VPS_FULL);
    let old = existing.last().expect("VPS_FULL has snapshots").clone();
    let tf = Tf::new(&snapshot(VPS_FULL, &old, "Nightly"));
    tf.ok(&[
        "import",
        "hostup_vps_snapshot.s",
        &format!("{VPS_FULL}/{old}"),
    ]);
    replaced_by(&tf, &snapshot(VPS_FULL, "renamed", "Nightly"));
    let now = sim.snapshot_names(VPS_FULL);
    assert!(
        now.contains(&"renamed".to_owned()) && !now.contains(&old),
        "{now:?}"
    );
    assert_eq!(now.len(), existing.len());
}
