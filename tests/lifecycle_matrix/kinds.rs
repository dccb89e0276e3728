//! The resource types of the matrix: their configuration, the HostUp requests their operations
//! send, and the simulator fixture every cell starts from.

use serde_json::{json, Value};

/// The VPS every cell works on: 5 snapshot slots (three used), unlimited backups.
pub const VPS_A: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// The VPS a `vps_id` change moves to: its own `before-upgrade`, free slots, unlimited backups.
pub const VPS_B: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
/// Every snapshot slot and the whole backup quota used: the closed gates of the "unbuildable"
/// resources in the destroy rows.
pub const VPS_FULL: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m5";
/// No snapshot slots and no backups in its plan: the closed gates (`canEnable`,
/// `canCreateSchedule`: `feature_not_in_plan`) of the unbuildable schedules in the destroy rows.
pub const VPS_NONE: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m4";
/// A well-formed VPS id HostUp does not know: what the settings' wrong import id names.
pub const VPS_UNKNOWN: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2zz";
/// Backups of [`VPS_A`]: what the backup restores restore (the second one after a
/// `backup_id` change), in place or, from [`VPS_B`], from another VPS.
pub const BKP_FIRST: &str = "bkp_01hxa3b4c5d6e7f8g9h0j1k2p1";
pub const BKP_SECOND: &str = "bkp_01hxa3b4c5d6e7f8g9h0j1k2p2";
/// A well-formed backup id HostUp does not know: the unbuildable backup restore.
pub const BKP_UNKNOWN: &str = "bkp_01hxa3b4c5d6e7f8g9h0j1k2zz";
/// A snapshot on both [`VPS_A`] and [`VPS_B`]: what the restores roll back to.
pub const SNAP_BEFORE: &str = "before-upgrade";
/// A second snapshot on [`VPS_A`]: what a `snapshot_name` change rolls back to.
pub const SNAP_AFTER: &str = "after-upgrade";
/// A snapshot of [`VPS_A`] without a description: what the snapshot import rows adopt.
pub const SNAP_PLAIN: &str = "plain";
/// The name of the snapshot the snapshot cells create.
pub const SNAP_NEW: &str = "lc-snap";

/// The simulator's fixture (docs/hostup-sim.md §5.2).
pub fn fixture() -> Value {
    let plan = json!({"snapshotSlots": 5, "backupLimit": null});
    json!({"vps": [
        {"id": VPS_A, "name": "app-01", "plan": plan, "snapshots": [
            {"name": SNAP_BEFORE, "description": "Before upgrade"},
            {"name": SNAP_AFTER, "description": "After upgrade"},
            {"name": SNAP_PLAIN}
        ], "backups": [
            {"id": BKP_FIRST, "createdAt": "2026-11-19T02:00:00.000Z", "backupType": "scheduled"},
            {"id": BKP_SECOND, "createdAt": "2026-11-20T02:00:00.000Z", "backupType": "manual",
             "note": "second"}
        ]},
        {"id": VPS_B, "name": "cloud-01", "plan": plan, "snapshots": [
            {"name": SNAP_BEFORE, "description": "Before upgrade"}
        ]},
        {"id": VPS_FULL, "name": "db-01", "plan": {"snapshotSlots": 1, "backupLimit": 1},
         "snapshots": [{"name": "nightly", "description": "Nightly"}],
         "backups": [{"id": "bkp_01hxa3b4c5d6e7f8g9h0j1k2n1",
                      "createdAt": "2026-11-20T02:00:00.000Z", "backupType": "scheduled"}]},
        {"id": VPS_NONE, "name": "web-01", "plan": {"snapshotSlots": 0, "backupLimit": 0}}
    ]})
}

/// A resource type of the matrix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Backup,
    Restore,
    Snapshot,
    SnapshotSchedule,
    BackupSchedule,
    BackupSettings,
    BackupRestore,
}

/// Route templates of the sim's request log.
pub const POST_BACKUP: &str = "POST /api/v2/vps/{id}/backups";
pub const POST_RESTORE: &str = "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore";
pub const POST_SNAPSHOT: &str = "POST /api/v2/vps/{id}/snapshots";
pub const DELETE_SNAPSHOT: &str = "DELETE /api/v2/vps/{id}/snapshots/{snapshotId}";
pub const POST_BACKUP_RESTORE: &str = "POST /api/v2/vps/{id}/backups/{backupId}/actions/restore";
pub const POST_RESTORE_FROM_VPS: &str = "POST /api/v2/vps/{id}/backups/actions/restore-from-vps";
pub const POST_SNAPSHOT_SCHEDULE: &str = "POST /api/v2/vps/{id}/snapshot-schedules";
pub const DELETE_SNAPSHOT_SCHEDULE: &str = "DELETE /api/v2/vps/{id}/snapshot-schedules";
pub const POST_BACKUP_SCHEDULE: &str = "POST /api/v2/vps/{id}/backup-schedules";
pub const PATCH_BACKUP_SETTINGS: &str = "PATCH /api/v2/vps/{id}/backup-schedules";
pub const DELETE_BACKUP_SCHEDULE: &str = "DELETE /api/v2/vps/{id}/backup-schedules/{scheduleId}";

/// The backup schedule cells' `retention_count` and `name`.
pub const RETENTION: u64 = 3;
pub const SCHEDULE_NAME: &str = "lc nightly";

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Backup,
        Kind::Restore,
        Kind::Snapshot,
        Kind::SnapshotSchedule,
        Kind::BackupSchedule,
        Kind::BackupSettings,
        Kind::BackupRestore,
    ];

    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Backup => "hostup_vps_backup",
            Kind::Restore => "hostup_vps_snapshot_restore",
            Kind::Snapshot => "hostup_vps_snapshot",
            Kind::SnapshotSchedule => "hostup_vps_snapshot_schedule",
            Kind::BackupSchedule => "hostup_vps_backup_schedule",
            Kind::BackupSettings => "hostup_vps_backup_settings",
            Kind::BackupRestore => "hostup_vps_backup_restore",
        }
    }

    /// Whether it is an action-style resource (a job; destroy only forgets it).
    pub fn is_action(self) -> bool {
        matches!(self, Kind::Backup | Kind::Restore | Kind::BackupRestore)
    }

    /// Whether it is a restore (its plan warns that it replaces the disk).
    pub fn is_restore(self) -> bool {
        matches!(self, Kind::Restore | Kind::BackupRestore)
    }

    /// Whether it is a policy of the VPS (a schedule or the settings): set by one synchronous
    /// request, changed in place, no job and no `timeouts`.
    pub fn is_policy(self) -> bool {
        matches!(
            self,
            Kind::SnapshotSchedule | Kind::BackupSchedule | Kind::BackupSettings
        )
    }

    /// Address of the resource named `name`.
    pub fn addr(self, name: &str) -> String {
        format!("{}.{name}", self.type_name())
    }

    /// Job type of the job its create runs (the sim's `type`).
    pub fn job_type(self) -> &'static str {
        match self {
            Kind::Backup => "backup_create",
            Kind::Restore => "snapshot_restore",
            Kind::Snapshot => "snapshot_create",
            Kind::BackupRestore => "backup_restore",
            // No job: the policy types are set by one synchronous request.
            _ => "",
        }
    }

    /// The mutating requests a create sends.
    pub fn create_requests(self) -> Vec<(&'static str, u64)> {
        match self {
            Kind::Backup => vec![(POST_BACKUP, 1)],
            Kind::Restore => vec![(POST_RESTORE, 1)],
            Kind::Snapshot => vec![(POST_SNAPSHOT, 1)],
            Kind::SnapshotSchedule => vec![(POST_SNAPSHOT_SCHEDULE, 1)],
            Kind::BackupSchedule => vec![(POST_BACKUP_SCHEDULE, 1)],
            Kind::BackupSettings => vec![(PATCH_BACKUP_SETTINGS, 1)],
            Kind::BackupRestore => vec![(POST_BACKUP_RESTORE, 1)],
        }
    }

    /// The mutating requests an in-place update of a policy sends: the create's request (a
    /// schedule's POST creates or replaces it, the settings' PATCH sets them).
    pub fn update_requests(self) -> Vec<(&'static str, u64)> {
        self.create_requests()
    }

    /// The mutating requests a destroy sends (docs/ARCHITECTURE.md, "Resources": backups and
    /// restores are forgotten, and so are the backup settings).
    pub fn destroy_requests(self) -> Vec<(&'static str, u64)> {
        match self {
            Kind::Snapshot => vec![(DELETE_SNAPSHOT, 1)],
            Kind::SnapshotSchedule => vec![(DELETE_SNAPSHOT_SCHEDULE, 1)],
            Kind::BackupSchedule => vec![(DELETE_BACKUP_SCHEDULE, 1)],
            _ => vec![],
        }
    }

    /// The mutating requests a replacement (destroy, then create) sends.
    pub fn replace_requests(self) -> Vec<(&'static str, u64)> {
        let mut r = self.destroy_requests();
        r.extend(self.create_requests());
        r
    }

    /// What the destroy plan must warn about (Terraform >= 1.3, ServerCapabilities.plan_destroy):
    /// the backup is kept ("keeps"), the snapshot deleted, the restore not undone, a schedule
    /// deleted, the settings kept.
    pub fn destroy_warning(self) -> &'static str {
        match self {
            Kind::Backup => "keeps",
            Kind::Restore => "undo",
            Kind::Snapshot => "delete",
            Kind::SnapshotSchedule => "deletes the snapshot schedule",
            Kind::BackupSchedule => "deletes backup schedule",
            Kind::BackupSettings => "keeps the backup settings",
            Kind::BackupRestore => "does not undo",
        }
    }

    /// The resource as the cells first create it.
    pub fn base(self) -> Res {
        let (main, extra) = match self {
            Kind::Backup => ("before upgrade", "1"),
            Kind::Restore => (SNAP_BEFORE, "1"),
            Kind::Snapshot => (SNAP_NEW, "lifecycle matrix"),
            Kind::SnapshotSchedule => ("6", "true"),
            Kind::BackupSchedule => ("2", "daily"),
            Kind::BackupSettings => ("5", "true"),
            Kind::BackupRestore => (BKP_FIRST, "1"),
        };
        Res {
            kind: self,
            name: "t",
            vps_id: VPS_A.into(),
            main: main.into(),
            extra: Some(extra.into()),
            create_timeout: None,
            source_vps_id: None,
        }
    }

    /// A resource of this type whose plan-time gate is closed: a backup or snapshot of a VPS
    /// whose quota or slots are used up, a restore of a snapshot that does not exist, a
    /// schedule of a VPS whose plan has no snapshots or backups. None: the type checks nothing
    /// on HostUp at plan time (the backup settings).
    pub fn unbuildable(self) -> Option<Res> {
        let mut r = self.base();
        r.name = "blocked";
        match self {
            Kind::Restore => r.main = "does-not-exist".into(),
            Kind::BackupRestore => r.main = BKP_UNKNOWN.into(),
            Kind::Snapshot => {
                r.vps_id = VPS_FULL.into();
                r.main = "blocked".into();
            }
            Kind::Backup => r.vps_id = VPS_FULL.into(),
            Kind::SnapshotSchedule | Kind::BackupSchedule => r.vps_id = VPS_NONE.into(),
            Kind::BackupSettings => return None,
        }
        Some(r)
    }

    /// Names of the arguments that force replacement, as the table rows name them:
    /// (main argument, second argument).
    pub fn arg_names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Backup => ("note", "triggers"),
            Kind::Restore => ("snapshot_name", "triggers"),
            Kind::Snapshot => ("name", "description"),
            Kind::SnapshotSchedule => ("interval_hours", "enabled"),
            Kind::BackupSchedule => ("hour", "frequency"),
            Kind::BackupSettings => ("max_total_backups", "auto_delete_oldest"),
            Kind::BackupRestore => ("backup_id", "triggers"),
        }
    }

    /// The main argument's changed value.
    pub fn changed_main(self) -> &'static str {
        match self {
            Kind::Backup => "after upgrade",
            Kind::Restore => SNAP_AFTER,
            Kind::Snapshot => "lc-snap-2",
            Kind::SnapshotSchedule => "8",
            Kind::BackupSchedule => "4",
            Kind::BackupSettings => "7",
            Kind::BackupRestore => BKP_SECOND,
        }
    }

    /// The second argument's changed value.
    pub fn changed_extra(self) -> &'static str {
        match self {
            Kind::Backup | Kind::Restore | Kind::BackupRestore => "2",
            Kind::Snapshot => "changed",
            Kind::SnapshotSchedule | Kind::BackupSettings => "false",
            Kind::BackupSchedule => "weekly",
        }
    }

    /// Whether a change of the main / second argument is applied in place (else it replaces).
    pub fn in_place(self, main: bool) -> bool {
        // A backup schedule's `frequency` (the second argument) replaces it.
        self.is_policy() && (main || self != Kind::BackupSchedule)
    }
}

/// One resource block of a configuration.
#[derive(Clone, Debug)]
pub struct Res {
    pub kind: Kind,
    /// The resource name (`t` unless a cell renames or adds one).
    pub name: &'static str,
    pub vps_id: String,
    /// `note` (backup), `snapshot_name` (restore), `name` (snapshot), `interval_hours`
    /// (snapshot schedule), `hour` (backup schedule) or `max_total_backups` (settings).
    pub main: String,
    /// `triggers = { release = … }` (backup, restore), `description` (snapshot), `enabled`
    /// (snapshot schedule), `frequency` (backup schedule) or `auto_delete_oldest` (settings);
    /// None = unset.
    pub extra: Option<String>,
    /// `timeouts { create = … }`, if any.
    pub create_timeout: Option<String>,
    /// A backup restore's `source_vps_id` (a restore from another VPS), if any.
    pub source_vps_id: Option<String>,
}

impl Res {
    pub fn addr(&self) -> String {
        self.kind.addr(self.name)
    }

    /// The mutating requests its create sends: a backup restore from another VPS has its own
    /// endpoint.
    pub fn create_requests(&self) -> Vec<(&'static str, u64)> {
        if self.kind == Kind::BackupRestore && self.source_vps_id.is_some() {
            vec![(POST_RESTORE_FROM_VPS, 1)]
        } else {
            self.kind.create_requests()
        }
    }

    /// The mutating requests its replacement sends (destroy, then create).
    pub fn replace_requests(&self) -> Vec<(&'static str, u64)> {
        let mut r = self.kind.destroy_requests();
        r.extend(self.create_requests());
        r
    }

    /// The resource block in HCL.
    pub fn hcl(&self) -> String {
        if self.kind.is_policy() {
            return self.policy_hcl();
        }
        let (main, extra) = self.kind.arg_names();
        let mut s = format!(
            "resource \"{}\" \"{}\" {{\n  vps_id = \"{}\"\n  {main} = \"{}\"\n",
            self.kind.type_name(),
            self.name,
            self.vps_id,
            self.main
        );
        if let Some(v) = &self.extra {
            if self.kind.is_action() {
                s.push_str(&format!("  {extra} = {{ release = \"{v}\" }}\n"));
            } else {
                s.push_str(&format!("  {extra} = \"{v}\"\n"));
            }
        }
        if let Some(v) = &self.source_vps_id {
            s.push_str(&format!("  source_vps_id = \"{v}\"\n"));
        }
        if let Some(t) = &self.create_timeout {
            s.push_str(&format!("  timeouts {{\n    create = \"{t}\"\n  }}\n"));
        }
        s.push_str("}\n");
        s
    }
}

impl Res {
    /// A schedule's or the settings' block: numbers and booleans unquoted; a backup schedule
    /// has `retention_count` and `name`, and the day its frequency needs.
    fn policy_hcl(&self) -> String {
        let (main, extra) = self.kind.arg_names();
        let mut s = format!(
            "resource \"{}\" \"{}\" {{\n  vps_id = \"{}\"\n  {main} = {}\n",
            self.kind.type_name(),
            self.name,
            self.vps_id,
            self.main
        );
        if let Some(v) = &self.extra {
            if self.kind == Kind::BackupSchedule {
                s.push_str(&format!("  {extra} = \"{v}\"\n"));
                match v.as_str() {
                    "weekly" => s.push_str("  day_of_week = 1\n"),
                    "monthly" => s.push_str("  day_of_month = 1\n"),
                    _ => {}
                }
            } else {
                s.push_str(&format!("  {extra} = {v}\n"));
            }
        }
        if self.kind == Kind::BackupSchedule {
            s.push_str(&format!(
                "  retention_count = {RETENTION}\n  name = \"{SCHEDULE_NAME}\"\n"
            ));
        }
        s.push_str("}\n");
        s
    }
}
