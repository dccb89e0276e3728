//! The three resource types of the matrix: their configuration, the HostUp requests their
//! operations send, and the simulator fixture every cell starts from.

use serde_json::{json, Value};

/// The VPS every cell works on: 5 snapshot slots (three used), unlimited backups.
pub const VPS_A: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// The VPS a `vps_id` change moves to: its own `before-upgrade`, free slots, unlimited backups.
pub const VPS_B: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
/// Every snapshot slot and the whole backup quota used: the closed gates of the "unbuildable"
/// resources in the destroy rows.
pub const VPS_FULL: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m5";
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
        ]},
        {"id": VPS_B, "name": "cloud-01", "plan": plan, "snapshots": [
            {"name": SNAP_BEFORE, "description": "Before upgrade"}
        ]},
        {"id": VPS_FULL, "name": "db-01", "plan": {"snapshotSlots": 1, "backupLimit": 1},
         "snapshots": [{"name": "nightly", "description": "Nightly"}],
         "backups": [{"id": "bkp_01hxa3b4c5d6e7f8g9h0j1k2n1",
                      "createdAt": "2026-11-20T02:00:00.000Z", "backupType": "scheduled"}]}
    ]})
}

/// A resource type of the matrix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Backup,
    Restore,
    Snapshot,
}

/// Route templates of the sim's request log.
pub const POST_BACKUP: &str = "POST /api/v2/vps/{id}/backups";
pub const POST_RESTORE: &str = "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore";
pub const POST_SNAPSHOT: &str = "POST /api/v2/vps/{id}/snapshots";
pub const DELETE_SNAPSHOT: &str = "DELETE /api/v2/vps/{id}/snapshots/{snapshotId}";

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Backup, Kind::Restore, Kind::Snapshot];

    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Backup => "hostup_vps_backup",
            Kind::Restore => "hostup_vps_snapshot_restore",
            Kind::Snapshot => "hostup_vps_snapshot",
        }
    }

    /// Whether it is an action-style resource (destroy only forgets it).
    pub fn is_action(self) -> bool {
        self != Kind::Snapshot
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
        }
    }

    /// The mutating requests a create sends.
    pub fn create_requests(self) -> Vec<(&'static str, u64)> {
        match self {
            Kind::Backup => vec![(POST_BACKUP, 1)],
            Kind::Restore => vec![(POST_RESTORE, 1)],
            Kind::Snapshot => vec![(POST_SNAPSHOT, 1)],
        }
    }

    /// The mutating requests a destroy sends (docs/ARCHITECTURE.md, "Resources": backups and
    /// restores are forgotten).
    pub fn destroy_requests(self) -> Vec<(&'static str, u64)> {
        match self {
            Kind::Snapshot => vec![(DELETE_SNAPSHOT, 1)],
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
    /// the backup is kept ("keeps"), the snapshot deleted, the restore not undone.
    pub fn destroy_warning(self) -> &'static str {
        match self {
            Kind::Backup => "keeps",
            Kind::Restore => "undo",
            Kind::Snapshot => "delete",
        }
    }

    /// The resource as the cells first create it.
    pub fn base(self) -> Res {
        let (main, extra) = match self {
            Kind::Backup => ("before upgrade", "1"),
            Kind::Restore => (SNAP_BEFORE, "1"),
            Kind::Snapshot => (SNAP_NEW, "lifecycle matrix"),
        };
        Res {
            kind: self,
            name: "t",
            vps_id: VPS_A.into(),
            main: main.into(),
            extra: Some(extra.into()),
            create_timeout: None,
        }
    }

    /// A resource of this type whose plan-time gate is closed: a backup or snapshot of a VPS
    /// whose quota or slots are used up, a restore of a snapshot that does not exist.
    pub fn unbuildable(self) -> Res {
        let mut r = self.base();
        r.name = "blocked";
        match self {
            Kind::Restore => r.main = "does-not-exist".into(),
            Kind::Snapshot => {
                r.vps_id = VPS_FULL.into();
                r.main = "blocked".into();
            }
            Kind::Backup => r.vps_id = VPS_FULL.into(),
        }
        r
    }

    /// Names of the arguments that force replacement, as the table rows name them:
    /// (main argument, second argument).
    pub fn arg_names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Backup => ("note", "triggers"),
            Kind::Restore => ("snapshot_name", "triggers"),
            Kind::Snapshot => ("name", "description"),
        }
    }

    /// The main argument's changed value.
    pub fn changed_main(self) -> &'static str {
        match self {
            Kind::Backup => "after upgrade",
            Kind::Restore => SNAP_AFTER,
            Kind::Snapshot => "lc-snap-2",
        }
    }
}

/// One resource block of a configuration.
#[derive(Clone, Debug)]
pub struct Res {
    pub kind: Kind,
    /// The resource name (`t` unless a cell renames or adds one).
    pub name: &'static str,
    pub vps_id: String,
    /// `note` (backup), `snapshot_name` (restore) or `name` (snapshot).
    pub main: String,
    /// `triggers = { release = … }` (backup, restore) or `description` (snapshot); None = unset.
    pub extra: Option<String>,
    /// `timeouts { create = … }`, if any.
    pub create_timeout: Option<String>,
}

impl Res {
    pub fn addr(&self) -> String {
        self.kind.addr(self.name)
    }

    /// The resource block in HCL.
    pub fn hcl(&self) -> String {
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
        if let Some(t) = &self.create_timeout {
            s.push_str(&format!("  timeouts {{\n    create = \"{t}\"\n  }}\n"));
        }
        s.push_str("}\n");
        s
    }
}
