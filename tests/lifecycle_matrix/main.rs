//! The lifecycle matrix (docs/ARCHITECTURE.md, "Testing"): every resource type
//! (`hostup_vps_backup`, `hostup_vps_snapshot_restore`, `hostup_vps_snapshot`, the VPS
//! policies `hostup_vps_snapshot_schedule`, `hostup_vps_backup_schedule`,
//! `hostup_vps_backup_settings`, and `hostup_vps_backup_restore`) × every Terraform workflow of docs/ARCHITECTURE.md, "Contracts" "Terraform lifecycle", driven through the real
//! `terraform` CLI (the one on PATH, plus each binary listed in HOSTUP_EXTRA_TERRAFORM, e.g. 1.0.3
//! from `scripts/fetch-terraform-compat`) against the real `hostup-sim` binary. The table it
//! produces is docs/LIFECYCLE.md.
//!
//! Each cell gets its own simulator (port 0, the fixture of `kinds.rs`, 200 ms jobs unless a
//! long job is the point) and its own working directory, runs its workflow's terraform
//! commands and asserts, step by step: the exit status; the planned actions (each plan is
//! `plan -json -detailed-exitcode -out=tfplan`, read back with `terraform show -json tfplan`:
//! `resource_changes[].change.actions`); the warnings and errors the plan carries; and the
//! exact mutating requests the simulator accepted during the step (method + route template,
//! from its request log; plans and refreshes must send none). Cells run on a pool of 4
//! threads (`LIFECYCLE_MATRIX_THREADS`); nothing sleeps for synchronisation: the simulator's
//! state is polled with deadlines, and every terraform run is killed with its process group
//! at its deadline. A cell whose feature the Terraform version lacks is "n/a", and so is a
//! workflow that does not apply to the type (`Workflow::na` says why, in the cell).
//!
//! The policies are set by one synchronous request, no job: a schedule's create and in-place
//! update are one `POST …/snapshot-schedules` or `POST …/backup-schedules` (HostUp creates or
//! replaces it), its destroy one `DELETE …/snapshot-schedules` or `DELETE
//! …/backup-schedules/{scheduleId}`; the settings' create and update are one `PATCH
//! …/backup-schedules` and their destroy sends nothing (there is nothing to delete; the VPS keeps
//! the values). So the rows about job waits (`timeouts`, untaint, Ctrl-C) and expiry are n/a for
//! them, as are the deletion of the settings (HostUp always has some) and the unbuildable
//! settings (their plan checks nothing on HostUp).
//!
//! The rows, and the Terraform behaviour each depends on (paths in hashicorp/terraform at
//! v1.11.4 unless said otherwise):
//!
//! - **create**: plan `["create"]` (a restore's plan warns that it replaces the disk), apply
//!   sends one job-creating POST and ends with the job completed in state (a backup restore's
//!   job is HostUp's last restore of the VPS, of that backup); a policy's apply
//!   sends its one POST or PATCH and HostUp then holds the configured values (`/_sim/state`),
//!   with the id in state (the VPS id; `bks_…` for a backup schedule).
//! - **empty re-plan**: `plan -detailed-exitcode` exits 0 with `["no-op"]`, no request.
//! - **argument changes** (backup `note`, `triggers`, `vps_id`; restore `snapshot_name`,
//!   `triggers`, `vps_id`; snapshot `name`, `description`, `vps_id`; backup restore
//!   `backup_id`, `triggers`, and `vps_id`, which moves the same backup onto VPS B with
//!   `source_vps_id`, so the create half is `POST …/backups/actions/restore-from-vps`):
//!   `["delete","create"]`.
//!   A replacement is planned in two PlanResourceChange calls, and Terraform drops the
//!   warnings of the second one, whose prior state is null
//!   (internal/terraform/node_resource_abstract_instance.go, `plan`: "only append these new
//!   diagnostics if there's at least one error inside"), so the restore's disk warning must
//!   come from the first call. Destroying a backup or restore sends nothing; a snapshot's
//!   sends `DELETE …/snapshots/{snapshotId}` before its POST.
//! - **policy argument changes** (`interval_hours`, `enabled`; `hour`; `max_total_backups`,
//!   `auto_delete_oldest`): `getAction` in node_resource_abstract_instance.go plans
//!   `["update"]` when the provider's PlanResourceChange names no RequiresReplace path; the
//!   apply sends the one POST or PATCH and keeps the id. `vps_id` (and a backup schedule's
//!   `frequency`, which HostUp updates in place only within a frequency) are RequiresReplace:
//!   `["delete","create"]`, in that order (`getAction`: `plans.DeleteThenCreate` without
//!   `create_before_destroy`), so a schedule's DELETE precedes its POST and the old VPS keeps no
//!   schedule; the settings' replacement sends only the new VPS's PATCH, and the old VPS keeps
//!   its values.
//! - **`timeouts` only**: `["update"]`, applied with no request (timeouts never force
//!   replacement; `getAction` in the same file plans an update).
//! - **`-replace=ADDR`** (`plan -replace=ADDR -out=tfplan`, then `apply tfplan`: `apply
//!   -replace=ADDR` in two steps, so the plan can be read): `getAction`
//!   (`matchedForceReplace`) forces the replacement without the provider's first call saying
//!   so, so the second call (null prior) is the provider's only sight of it: a snapshot keeping
//!   its name must not call its own name taken.
//! - **`taint`, then apply**: `internal/command/taint.go` `TaintCommand.Run` marks the
//!   object; `plan` in node_resource_abstract_instance.go then plans from a null prior (the
//!   provider sees a plain create) and turns it into `["delete","create"]`
//!   (`ResourceInstanceReplaceBecauseTainted`).
//! - **untaint, then refresh**: a create whose wait fails (a job that never ends, `timeouts {
//!   create = "1s" }`) returns its state with an error, which `maybeTainted`
//!   (node_resource_apply_instance.go) taints; `internal/command/untaint.go`
//!   `UntaintCommand.Run` clears it; once the job completed on HostUp, `apply -refresh-only`
//!   (`refreshOnlyPlan` in internal/terraform/context_plan.go, ReadResource through `refresh`
//!   in node_resource_abstract_instance.go) must record `status = "completed"` and
//!   `completed_at` (or read the snapshot back) and send no request; the next plan is empty.
//! - **drift** (expired on HostUp, deleted outside Terraform, VPS gone): `refresh` removes an
//!   object whose ReadResource answers null, and an error there aborts the plan. Backups and
//!   restores are actions that happened: a forgotten job, the backup, the restored snapshot or
//!   the restored backup deleted, or the VPS gone plan nothing and raise no error. A snapshot expired or
//!   deleted is dropped and planned `["create"]`; with its VPS gone the plan fails only at
//!   creating it again (the error names the VPS and is no refresh error), and `apply
//!   -refresh-only` succeeds and drops it. The VPS is removed by restarting hostup-sim from
//!   its state file without it (`Cell::remove_vps`).
//! - **policy drift**: a schedule deleted outside Terraform (through the API with the test key)
//!   is dropped by refresh, whose warning reaches the plan (`refresh` in
//!   node_resource_abstract_instance.go appends ReadResource's diagnostics and fails only on
//!   errors), and planned `["create"]`, which the apply performs. A policy changed outside
//!   Terraform (POST or PATCH with other values) is read back by refresh, so the plan compares
//!   config with HostUp's values (`getAction`: not equal, no RequiresReplace) and plans
//!   `["update"]` back; the apply sends one request and the re-plan is empty. With the VPS gone
//!   a schedule is dropped like a snapshot (the plan fails only at creating it again); the
//!   settings are dropped and planned `["create"]` (their plan reads nothing on HostUp).
//! - **`terraform import`**: `internal/command/import.go` `ImportCommand.Run` → `Import` in
//!   internal/terraform/context_import.go (ImportResourceState, then ReadResource); ids are
//!   `<vps_id>/<job_id>` (a job queued through the API outside Terraform) and
//!   `<vps_id>/<name>` (a snapshot without a description; a backup restore's job is one
//!   queued through the API as well), `<vps_id>` (a snapshot schedule or
//!   the settings, set through the API outside Terraform) and `<vps_id>/<bks_…>` (a backup
//!   schedule); the next plan is empty, and the same id under another VPS must fail (for the
//!   settings, which every VPS has, a VPS HostUp does not know).
//! - **`import {}` + `plan -generate-config-out`** (TF >= 1.5): `importState` and
//!   `generateHCLStringAttributes` in internal/terraform/node_resource_plan_instance.go
//!   (config from the imported state through internal/genconfig/generate_config.go
//!   `GenerateResourceContents`); planned `["no-op"]` with `importing`, applied with no
//!   request, then an empty plan.
//! - **`moved {}`** (TF >= 1.1): `prePlanFindAndApplyMoves` in context_plan.go →
//!   internal/refactoring/move_execute.go `ApplyMoves` moves the state only: `["no-op"]` at the
//!   new address with `previous_address`, nothing sent.
//! - **`removed {}` with `destroy = false`** (TF >= 1.7): `findForgetTargets` in
//!   context_plan.go and `planForget` in node_resource_abstract_instance.go: `["forget"]`,
//!   no provider call, the object stays on HostUp.
//! - **Ctrl-C**: SIGINT to terraform's process group (as a terminal sends it) while apply
//!   waits for a 6 s job; internal/backend/local/backend.go `opWait` calls `Context.Stop`
//!   (internal/terraform/context.go), which sends Stop to the provider; the create returns its
//!   state with an error and `maybeTainted` taints it (the policies have no job to wait for:
//!   n/a). The resource must be in state, tainted,
//!   with the job id; the next plan (the job may still run: refresh must keep it) is
//!   `["delete","create"]` and the apply after it succeeds, with exactly one snapshot of that
//!   name on HostUp afterwards (the tainted one deleted once its job ended, then taken again),
//!   or, for a backup or restore, the interrupted job adopted: the plan says so and the apply
//!   sends nothing, waits for that job and records it completed (no second backup, no second
//!   rollback of the disk). 409 answers are tolerated there (the VPS is busy with the
//!   interrupted job).
//! - **destroy**: `plan -destroy` is `["delete"]`; with ServerCapabilities.plan_destroy
//!   Terraform asks the provider to plan the destroy (`planDestroy` in
//!   node_resource_abstract_instance.go; internal/plugin/grpc_provider.go `PlanResourceChange`
//!   skips the call without it; TF >= 1.3), and the plan must say what destroying does: the
//!   backup is kept on HostUp ("keeps"), the restore is not undone ("undo"), the snapshot is
//!   deleted ("delete"), a schedule is deleted ("deletes"), the settings are kept ("keeps"). A
//!   backup's, restore's or the settings' destroy sends nothing; a snapshot's or schedule's
//!   sends one DELETE, and HostUp holds no schedule afterwards.
//! - **destroy with an unbuildable resource** (a not-yet-created backup or snapshot on a VPS
//!   whose quota or slots are used up, a restore of a snapshot that does not exist, or a
//!   schedule on a VPS whose plan has no snapshot slots or no backups, `canEnable` /
//!   `canCreateSchedule` closed with `feature_not_in_plan`):
//!   `destroyPlan` in context_plan.go runs a normal plan first (unless `-refresh=false`) and
//!   aborts on its errors, dropping its warnings (1.0.3: `destroyPlan` in
//!   internal/terraform/context.go, the same). Plain `terraform destroy -auto-approve` must
//!   fail with an error that names `terraform destroy -refresh=false` and `plan_checks =
//!   "warn"`; with `HOSTUP_PLAN_CHECKS=warn` it must succeed, as must `terraform
//!   destroy -refresh=false -auto-approve`.
//!
//! The table is compared with docs/LIFECYCLE.md (between its markers) and the test fails when
//! they differ; `UPDATE_DOCS=1` rewrites it (the convention of tests/docs.rs). The test fails on
//! any wrong cell, listing every miss with what was expected and what was seen.

#[path = "../support/mod.rs"]
mod support;

mod cell;
mod kinds;
mod table;
mod workflows;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use cell::{Miss, TfBin};
use kinds::Kind;
use table::{CellResult, Outcome};
use workflows::Workflow;

/// Runs one cell; a panic in the harness becomes the cell's miss.
fn run_cell(w: Workflow, kind: Kind, bin: &TfBin) -> Outcome {
    if let Some(why) = w.na(kind) {
        return Outcome::Na(why.into());
    }
    if let Some((major, minor)) = w.needs() {
        if !bin.at_least(major, minor) {
            return Outcome::Na(format!("needs TF >= {major}.{minor}"));
        }
    }
    let misses = match catch_unwind(AssertUnwindSafe(|| w.run(kind, bin))) {
        Ok(m) => m,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            vec![Miss {
                short: "test harness panicked".into(),
                detail: msg,
            }]
        }
    };
    if misses.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Failed(misses)
    }
}

#[test]
fn lifecycle_matrix() {
    let bins = TfBin::discover();
    if bins.len() == 1 && std::env::var_os("CI").is_some() {
        panic!("CI must set HOSTUP_EXTRA_TERRAFORM (see .ci/run)");
    }
    let mut cells: Vec<(usize, Workflow, Kind)> = Vec::new();
    for (i, _) in bins.iter().enumerate() {
        for w in Workflow::ALL {
            for k in Kind::ALL {
                cells.push((i, w, k));
            }
        }
    }
    // Slowest first, so the long waits overlap with the quick cells.
    cells.sort_by_key(|(i, w, _)| (std::cmp::Reverse(w.cost()), *i));
    let threads = std::env::var("LIFECYCLE_MATRIX_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<CellResult>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(bin, workflow, kind)) = cells.get(n) else {
                    break;
                };
                let t0 = std::time::Instant::now();
                let outcome = run_cell(workflow, kind, &bins[bin]);
                eprintln!(
                    "lifecycle cell {:?} × {:?} × {}: {:.1?}",
                    workflow,
                    kind,
                    bins[bin].version,
                    t0.elapsed()
                );
                let r = CellResult {
                    workflow,
                    kind,
                    bin,
                    outcome,
                };
                results.lock().unwrap_or_else(|p| p.into_inner()).push(r);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    assert_eq!(results.len(), cells.len());

    let table = table::render(&results, &bins);
    eprintln!("{table}");
    let update = std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0");
    let doc_problem = table::write_or_check(&table, &bins, update);

    let mut wrong: Vec<String> = Vec::new();
    for w in Workflow::ALL {
        for (i, b) in bins.iter().enumerate() {
            for k in Kind::ALL {
                let Some(r) = results
                    .iter()
                    .find(|r| r.workflow == w && r.kind == k && r.bin == i)
                else {
                    continue;
                };
                if let Outcome::Failed(misses) = &r.outcome {
                    let list: Vec<String> = misses
                        .iter()
                        .map(|m| {
                            format!("    - {}\n      {}", m.short, cell::clip(&m.detail, 3000))
                        })
                        .collect();
                    wrong.push(format!(
                        "{} × {} (Terraform {}):\n{}",
                        w.label(),
                        k.type_name(),
                        b.version,
                        list.join("\n")
                    ));
                }
            }
        }
    }
    let mut report = String::new();
    if !wrong.is_empty() {
        report.push_str(&format!(
            "{} wrong cell(s):\n{}\n",
            wrong.len(),
            wrong.join("\n")
        ));
    }
    if let Some(p) = doc_problem {
        report.push_str(&p);
    }
    assert!(report.is_empty(), "{report}");
}
