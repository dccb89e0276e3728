//! The workflows (the table's rows) and what each expects of each resource type
//! (docs/ARCHITECTURE.md, "Contracts" "Terraform lifecycle"). Every workflow starts from a fresh
//! simulator and working directory.

use crate::cell::{Cell, PlanWant, Step};
use crate::kinds::{Kind, Res};

mod adopt;
mod change;
mod destroy;
mod recover;

use adopt::{import_block, import_cli, moved, removed};
use change::{change, create, empty_replan, replace, taint, timeouts_only};
use destroy::{destroy, destroy_blocked};
use recover::{
    ctrl_c, drift_changed, drift_deleted, drift_expired, drift_vps_gone, untaint_refresh,
};

pub const CREATE: &[&str] = &["create"];
pub const REPLACE: &[&str] = &["delete", "create"];
pub const UPDATE: &[&str] = &["update"];
pub const NOOP: &[&str] = &["no-op"];
pub const DELETE: &[&str] = &["delete"];
pub const FORGET: &[&str] = &["forget"];

/// The restore's plan-time warning (docs/ARCHITECTURE.md, "Resources": restore is destructive).
const DISK_WARNING: &str = "replaces the disk of VPS";

/// A row of the table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Workflow {
    Create,
    EmptyReplan,
    ChangeMain,
    ChangeExtra,
    ChangeVps,
    TimeoutsOnly,
    Replace,
    Taint,
    UntaintRefresh,
    DriftExpired,
    DriftDeleted,
    DriftChanged,
    DriftVpsGone,
    ImportCli,
    ImportBlock,
    Moved,
    Removed,
    CtrlC,
    Destroy,
    DestroyBlocked,
    DestroyBlockedWarn,
    DestroyBlockedNoRefresh,
}

impl Workflow {
    pub const ALL: [Workflow; 22] = [
        Workflow::Create,
        Workflow::EmptyReplan,
        Workflow::ChangeMain,
        Workflow::ChangeExtra,
        Workflow::ChangeVps,
        Workflow::TimeoutsOnly,
        Workflow::Replace,
        Workflow::Taint,
        Workflow::UntaintRefresh,
        Workflow::DriftExpired,
        Workflow::DriftDeleted,
        Workflow::DriftChanged,
        Workflow::DriftVpsGone,
        Workflow::ImportCli,
        Workflow::ImportBlock,
        Workflow::Moved,
        Workflow::Removed,
        Workflow::CtrlC,
        Workflow::Destroy,
        Workflow::DestroyBlocked,
        Workflow::DestroyBlockedWarn,
        Workflow::DestroyBlockedNoRefresh,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Workflow::Create => "create",
            Workflow::EmptyReplan => "empty re-plan after create",
            Workflow::ChangeMain => {
                "change `note` / `snapshot_name` / `name` / `interval_hours` / `hour` / \
                 `max_total_backups` / `backup_id`"
            }
            Workflow::ChangeExtra => {
                "change `triggers` / `triggers` / `description` / `enabled` / `frequency` / \
                 `auto_delete_oldest` / `triggers`"
            }
            Workflow::ChangeVps => {
                "change `vps_id` (a backup restore's to another VPS, with `source_vps_id`)"
            }
            Workflow::TimeoutsOnly => "change `timeouts` only (in place)",
            Workflow::Replace => "`-replace=ADDR`",
            Workflow::Taint => "`taint`, then apply",
            Workflow::UntaintRefresh => {
                "create wait times out, `untaint`, job completes, `apply -refresh-only`"
            }
            Workflow::DriftExpired => {
                "drift: expired on HostUp (a backup's or restore's job forgotten, the snapshot \
                 expired)"
            }
            Workflow::DriftDeleted => {
                "drift: deleted outside Terraform (the backup / the restored snapshot / the \
                 snapshot / the schedule / the schedule / the restored backup)"
            }
            Workflow::DriftChanged => "drift: changed outside Terraform",
            Workflow::DriftVpsGone => "drift: VPS gone",
            Workflow::ImportCli => "`terraform import`, then plan",
            Workflow::ImportBlock => "`import {}` + `plan -generate-config-out`, apply, plan",
            Workflow::Moved => "`moved {}`",
            Workflow::Removed => "`removed {}` with `destroy = false`",
            Workflow::CtrlC => "Ctrl-C while apply waits for the job, then apply again",
            Workflow::Destroy => "destroy",
            Workflow::DestroyBlocked => {
                "`destroy` with an unbuildable resource in the config: fails, naming the way out"
            }
            Workflow::DestroyBlockedWarn => {
                "`destroy` with an unbuildable resource, `HOSTUP_PLAN_CHECKS=warn`"
            }
            Workflow::DestroyBlockedNoRefresh => {
                "`destroy -refresh=false` with an unbuildable resource"
            }
        }
    }

    /// The oldest Terraform that has the feature, when it is newer than 1.0.
    pub fn needs(self) -> Option<(u32, u32)> {
        match self {
            Workflow::ImportBlock => Some((1, 5)),
            Workflow::Moved => Some((1, 1)),
            Workflow::Removed => Some((1, 7)),
            _ => None,
        }
    }

    /// Why the workflow does not apply to `kind`, if it does not (the cell is "n/a").
    pub fn na(self, kind: Kind) -> Option<&'static str> {
        let policy = kind.is_policy();
        match self {
            Workflow::TimeoutsOnly if policy => {
                Some("no `timeouts`: set by one synchronous request")
            }
            Workflow::UntaintRefresh | Workflow::CtrlC if policy => {
                Some("no job to wait for: set by one synchronous request")
            }
            Workflow::DriftExpired if policy => Some("HostUp never expires it"),
            Workflow::DriftDeleted if kind == Kind::BackupSettings => {
                Some("HostUp always has settings: nothing to delete")
            }
            Workflow::DriftChanged if !policy => Some("HostUp has no request that changes it"),
            Workflow::DestroyBlocked
            | Workflow::DestroyBlockedWarn
            | Workflow::DestroyBlockedNoRefresh
                if kind.unbuildable().is_none() =>
            {
                Some("its plan checks nothing on HostUp: nothing can block it")
            }
            _ => None,
        }
    }

    /// Rough cost, so the slowest cells start first.
    pub fn cost(self) -> u32 {
        match self {
            Workflow::CtrlC => 5,
            Workflow::UntaintRefresh | Workflow::DriftVpsGone => 3,
            Workflow::ImportBlock | Workflow::Moved | Workflow::Taint => 2,
            _ => 1,
        }
    }

    /// Extra hostup-sim arguments of the cell.
    fn sim_args(self) -> &'static [&'static str] {
        match self {
            Workflow::UntaintRefresh => &["--stuck-next-jobs", "1"],
            _ => &[],
        }
    }

    /// Runs the workflow in a fresh cell; its misses.
    pub fn run(self, kind: Kind, bin: &crate::cell::TfBin) -> Vec<crate::cell::Miss> {
        let mut c = Cell::new(kind, bin, self.sim_args());
        let _ = match self {
            Workflow::Create => create(&mut c),
            Workflow::EmptyReplan => empty_replan(&mut c),
            Workflow::ChangeMain | Workflow::ChangeExtra | Workflow::ChangeVps => {
                change(&mut c, self)
            }
            Workflow::TimeoutsOnly => timeouts_only(&mut c),
            Workflow::Replace => replace(&mut c),
            Workflow::Taint => taint(&mut c),
            Workflow::UntaintRefresh => untaint_refresh(&mut c),
            Workflow::DriftExpired => drift_expired(&mut c),
            Workflow::DriftDeleted => drift_deleted(&mut c),
            Workflow::DriftChanged => drift_changed(&mut c),
            Workflow::DriftVpsGone => drift_vps_gone(&mut c),
            Workflow::ImportCli => import_cli(&mut c),
            Workflow::ImportBlock => import_block(&mut c),
            Workflow::Moved => moved(&mut c),
            Workflow::Removed => removed(&mut c),
            Workflow::CtrlC => ctrl_c(&mut c),
            Workflow::Destroy => destroy(&mut c),
            Workflow::DestroyBlocked
            | Workflow::DestroyBlockedWarn
            | Workflow::DestroyBlockedNoRefresh => destroy_blocked(&mut c, self),
        };
        c.misses
    }
}

// -------------------------------------------------------------------------- shared steps

/// The restore's disk warning, for a plan that runs a restore.
pub fn disk_warning(c: &Cell) -> Vec<&'static str> {
    if c.kind.is_restore() {
        vec![DISK_WARNING]
    } else {
        vec![]
    }
}

/// A plan that must run `actions` on `addr` (exit 2), warning of a restore when it runs one.
pub fn plan_change(
    c: &mut Cell,
    what: &str,
    args: &[&str],
    addr: &str,
    actions: &'static [&'static str],
) -> Step {
    let runs_op = actions.contains(&"create");
    let (warn, no_warn) = if runs_op {
        (disk_warning(c), vec![])
    } else {
        (vec![], disk_warning(c))
    };
    c.plan(
        what,
        args,
        PlanWant {
            exit: 2,
            actions: vec![(addr.to_owned(), actions)],
            warn,
            no_warn,
            ..PlanWant::default()
        },
    )
    .map(|_| ())
}

/// A plan that must find nothing to do (exit 0) and warn of no restore.
pub fn plan_empty(c: &mut Cell, what: &str, addrs: &[String]) -> Step {
    let no_warn = disk_warning(c);
    c.plan(
        what,
        &[],
        PlanWant {
            exit: 0,
            actions: addrs.iter().map(|a| (a.clone(), NOOP)).collect(),
            no_warn,
            ..PlanWant::default()
        },
    )
    .map(|_| ())
}

/// Set-up: writes `r` as the config and applies it.
pub fn set_up(c: &mut Cell, r: &Res) -> Step {
    c.set_config(std::slice::from_ref(r), "");
    c.cmd(
        "create",
        &["apply", "-auto-approve"],
        &[],
        0,
        &r.create_requests(),
    )?;
    check_created(c, "create", r);
    Ok(())
}

/// After a create or replacement: `r` is in state, not tainted, and done on HostUp.
pub fn check_created(c: &mut Cell, what: &str, r: &Res) {
    let addr = r.addr();
    let inst = c.instance(&addr);
    let a = &inst["attributes"];
    if !c.expect(
        !inst.is_null(),
        format!("{what}: not in state"),
        format!("{what}: {addr} not in state:\n{}", c.tf.state_file()),
    ) {
        return;
    }
    c.expect(
        inst["status"] != "tainted",
        format!("{what}: tainted"),
        format!("{what}: {addr} tainted: {inst}"),
    );
    let (main, _) = r.kind.arg_names();
    c.expect(
        a["vps_id"] == r.vps_id.as_str() && scalar(&a[main]) == r.main,
        format!("{what}: state holds other arguments"),
        format!(
            "{what}: expected vps_id {} and {main} {}: {a}",
            r.vps_id, r.main
        ),
    );
    let job = a["job_id"].as_str().unwrap_or("").to_owned();
    if r.kind.is_policy() {
        let a = a.clone();
        check_policy(c, what, r, &a);
    } else if r.kind.is_action() {
        let sim_status = c.job(&job)["status"].clone();
        c.expect(
            a["status"] == "completed" && a["completed_at"].is_string(),
            format!("{what}: status {} in state", a["status"]),
            format!("{what}: expected status completed and completed_at: {a}"),
        );
        c.expect(
            sim_status == "completed",
            format!("{what}: state's job is {sim_status} on the sim"),
            format!("{what}: job {job:?} on the sim: {}", c.job(&job)),
        );
        if r.kind == Kind::BackupRestore {
            // HostUp's last restore of the VPS is this job's, of this backup, from this source.
            let last = c.vps(&r.vps_id)["lastRestore"].clone();
            let source = r.source_vps_id.as_deref();
            c.expect(
                last["jobId"] == job.as_str()
                    && last["backupId"] == r.main.as_str()
                    && last["sourceVpsId"].as_str() == source,
                format!("{what}: HostUp's last restore is another"),
                format!(
                    "{what}: expected job {job}, backup {}, source {source:?}: {last}",
                    r.main
                ),
            );
        }
    } else {
        let on_sim = c.snapshots(&r.vps_id).contains(&r.main);
        c.expect(
            on_sim,
            format!("{what}: snapshot not on the sim"),
            format!(
                "{what}: {:?} not among {:?}",
                r.main,
                c.snapshots(&r.vps_id)
            ),
        );
        c.expect(
            a["id"] == format!("{}/{}", r.vps_id, r.main) && a["created_at"].is_string(),
            format!("{what}: id or created_at wrong in state"),
            format!("{what}: {a}"),
        );
    }
}

/// The job id the state holds for `addr`.
pub fn state_job(c: &Cell, addr: &str) -> String {
    c.instance(addr)["attributes"]["job_id"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// A state or sim value as the config writes it: a string as is, a number or bool as JSON.
pub fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether HostUp holds the policy `r` with its values (`/_sim/state`), and the VPS as the
/// sim shows it. `id`: the backup schedule's id it must have (None: any).
pub fn policy_on_sim(c: &Cell, r: &Res, id: Option<&str>) -> (bool, serde_json::Value) {
    let vps = c.vps(&r.vps_id);
    let extra = r.extra.clone().unwrap_or_default();
    let ok = match r.kind {
        Kind::SnapshotSchedule => {
            let s = &vps["snapshotSchedule"];
            scalar(&s["intervalHours"]) == r.main && scalar(&s["enabled"]) == extra
        }
        Kind::BackupSchedule => {
            let list = vps["backupSchedules"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // Exactly this one: a replaced schedule must have been deleted, not kept.
            match list.as_slice() {
                [s] => {
                    id.is_none_or(|id| s["id"] == id)
                        && scalar(&s["hour"]) == r.main
                        && s["frequency"] == extra.as_str()
                        && s["enabled"] == true
                }
                _ => false,
            }
        }
        _ => {
            let s = &vps["backupSettings"];
            scalar(&s["maxTotalBackups"]) == r.main && scalar(&s["autoDeleteOldest"]) == extra
        }
    };
    (ok, vps)
}

/// A policy's id in state, and HostUp holding the values of `r`.
fn check_policy(c: &mut Cell, what: &str, r: &Res, a: &serde_json::Value) {
    let id = a["id"].as_str().unwrap_or("");
    let id_ok = if r.kind == Kind::BackupSchedule {
        id.starts_with("bks_")
    } else {
        id == r.vps_id
    };
    c.expect(
        id_ok,
        format!("{what}: id wrong in state"),
        format!("{what}: {a}"),
    );
    let (on_sim, vps) = policy_on_sim(c, r, Some(id));
    c.expect(
        on_sim,
        format!("{what}: HostUp holds other values"),
        format!("{what}: expected {r:?} on the sim; VPS: {vps}"),
    );
}
