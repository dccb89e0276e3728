//! The two axes of the matrix: the faults hostup-sim injects and the targets they hit.

use hostup_provider::sim::fixture::{
    BACKUP_APP, BACKUP_SCHEDULE_DB, SNAPSHOT_APP, VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PAYG,
};

use serde_json::{json, Value};

use crate::support::{provider_block, KEY};

/// The faults of the matrix, in table order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fault {
    Get5xx,
    Html502,
    Truncated,
    Reset,
    RateLimit,
    Slow,
    JobFailed,
    JobStuck,
    JobUnknown,
    Sigint,
    // Beyond issue 5's list: the error paths of the same faults.
    PersistentHtml502,
    PersistentTruncated,
    PostResetAfter,
    Post502After,
    PostSlow,
    SigintInRequest,
}

impl Fault {
    pub(crate) const ALL: [Fault; 16] = [
        Fault::Get5xx,
        Fault::Html502,
        Fault::Truncated,
        Fault::Reset,
        Fault::RateLimit,
        Fault::Slow,
        Fault::JobFailed,
        Fault::JobStuck,
        Fault::JobUnknown,
        Fault::Sigint,
        Fault::PersistentHtml502,
        Fault::PersistentTruncated,
        Fault::PostResetAfter,
        Fault::Post502After,
        Fault::PostSlow,
        Fault::SigintInRequest,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Fault::Get5xx => "5xx on GET",
            Fault::Html502 => "HTML 502 body",
            Fault::Truncated => "truncated JSON",
            Fault::Reset => "connection reset",
            Fault::RateLimit => "429 burst",
            Fault::Slow => "response slower than the request timeout",
            Fault::JobFailed => "job failed",
            Fault::JobStuck => "job stuck past the deadline",
            Fault::JobUnknown => "job id unknown (404)",
            Fault::Sigint => "SIGINT mid-wait",
            Fault::PersistentHtml502 => "HTML 502 body on every GET (persistent)",
            Fault::PersistentTruncated => "truncated JSON on every GET (persistent)",
            Fault::PostResetAfter => "connection reset after HostUp handled the write",
            Fault::Post502After => "502 after HostUp handled the write",
            Fault::PostSlow => "write answer slower than the request timeout",
            Fault::SigintInRequest => "SIGINT while a GET hangs in flight",
        }
    }

    /// Faults that hit the write (the job-creating POST, or the target's synchronous write):
    /// its answer is lost, HostUp may have acted.
    pub(crate) fn is_post_fault(self) -> bool {
        matches!(
            self,
            Fault::PostResetAfter | Fault::Post502After | Fault::PostSlow
        )
    }

    /// Read faults that go away: retried, and the run succeeds.
    pub(crate) fn is_transient_read(self) -> bool {
        matches!(
            self,
            Fault::Get5xx
                | Fault::Html502
                | Fault::Truncated
                | Fault::Reset
                | Fault::RateLimit
                | Fault::Slow
        )
    }

    /// Read faults that do not go away: retries run out and the run must fail cleanly.
    pub(crate) fn is_persistent(self) -> bool {
        matches!(self, Fault::PersistentHtml502 | Fault::PersistentTruncated)
    }

    /// Faults of the job rather than of one HTTP answer: they need a job to wait on.
    pub(crate) fn is_job_fault(self) -> bool {
        matches!(
            self,
            Fault::JobFailed | Fault::JobStuck | Fault::JobUnknown | Fault::Sigint
        )
    }

    /// Not in issue 5's list: the error paths of the same faults, and the POST's answer lost.
    pub(crate) fn is_extra(self) -> bool {
        self.is_post_fault() || self.is_persistent() || self == Fault::SigintInRequest
    }

    /// Rough cost, to start the slowest cells first.
    pub(crate) fn cost(self) -> u32 {
        match self {
            Fault::Slow | Fault::RateLimit | Fault::PostSlow => 3,
            Fault::PersistentHtml502 | Fault::PersistentTruncated => 4,
            Fault::JobStuck | Fault::JobUnknown | Fault::Sigint | Fault::SigintInRequest => 2,
            _ => 1,
        }
    }
}

/// What a target does to HostUp, which decides its contract.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// A resource whose create queues a job and waits for it.
    Job,
    /// A resource whose create or destroy is one synchronous write (HostUp acts, then answers).
    Write,
    /// A data source: reads only.
    Data,
}

/// The targets of the matrix, in table order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Target {
    Backup,
    Restore,
    Snapshots,
    SnapshotSchedule,
    SnapshotScheduleDestroy,
    BackupSchedule,
    BackupScheduleDestroy,
    BackupSettings,
    BackupRestore,
    BackupRestoreFromVps,
    RestoreSources,
}

/// The snapshot schedule the create cells set on app-01 (which has none).
pub(crate) const SCHEDULE_HOURS: u64 = 6;
/// The backup schedule the create cells set on app-01: daily at 03:00, keeping 2.
pub(crate) const BACKUP_HOUR: u64 = 3;
pub(crate) const BACKUP_KEEP: u64 = 2;
/// The total backup limit the settings cells set on app-01 (its plan allows 3).
pub(crate) const BACKUP_LIMIT: u64 = 2;

impl Target {
    pub(crate) const ALL: [Target; 11] = [
        Target::Backup,
        Target::Restore,
        Target::Snapshots,
        Target::SnapshotSchedule,
        Target::SnapshotScheduleDestroy,
        Target::BackupSchedule,
        Target::BackupScheduleDestroy,
        Target::BackupSettings,
        Target::BackupRestore,
        Target::BackupRestoreFromVps,
        Target::RestoreSources,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Target::Backup => "hostup_vps_backup",
            Target::Restore => "hostup_vps_snapshot_restore",
            Target::Snapshots => "data.hostup_vps_snapshots",
            Target::SnapshotSchedule => "hostup_vps_snapshot_schedule",
            Target::SnapshotScheduleDestroy => "hostup_vps_snapshot_schedule (destroy)",
            Target::BackupSchedule => "hostup_vps_backup_schedule",
            Target::BackupScheduleDestroy => "hostup_vps_backup_schedule (destroy)",
            Target::BackupSettings => "hostup_vps_backup_settings",
            Target::BackupRestore => "hostup_vps_backup_restore",
            Target::BackupRestoreFromVps => "hostup_vps_backup_restore (source_vps_id)",
            Target::RestoreSources => "data.hostup_vps_restore_sources",
        }
    }

    pub(crate) fn kind(self) -> Kind {
        match self {
            Target::Backup
            | Target::Restore
            | Target::BackupRestore
            | Target::BackupRestoreFromVps => Kind::Job,
            Target::Snapshots | Target::RestoreSources => Kind::Data,
            _ => Kind::Write,
        }
    }

    /// The resource type in state (None for the data source).
    pub(crate) fn resource_type(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("hostup_vps_backup"),
            Target::Restore => Some("hostup_vps_snapshot_restore"),
            Target::Snapshots | Target::RestoreSources => None,
            Target::BackupRestore | Target::BackupRestoreFromVps => {
                Some("hostup_vps_backup_restore")
            }
            Target::SnapshotSchedule | Target::SnapshotScheduleDestroy => {
                Some("hostup_vps_snapshot_schedule")
            }
            Target::BackupSchedule | Target::BackupScheduleDestroy => {
                Some("hostup_vps_backup_schedule")
            }
            Target::BackupSettings => Some("hostup_vps_backup_settings"),
        }
    }

    /// Route template of the job-creating POST.
    pub(crate) fn post_route(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("/api/v2/vps/{id}/backups"),
            Target::Restore => Some("/api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore"),
            Target::BackupRestore => Some("/api/v2/vps/{id}/backups/{backupId}/actions/restore"),
            Target::BackupRestoreFromVps => {
                Some("/api/v2/vps/{id}/backups/actions/restore-from-vps")
            }
            _ => None,
        }
    }

    pub(crate) fn job_type(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("backup_create"),
            Target::Restore => Some("snapshot_restore"),
            Target::BackupRestore | Target::BackupRestoreFromVps => Some("backup_restore"),
            _ => None,
        }
    }

    /// The synchronous write of a [`Kind::Write`] target: method and route template.
    pub(crate) fn write(self) -> Option<(&'static str, &'static str)> {
        match self {
            Target::SnapshotSchedule => Some(("POST", "/api/v2/vps/{id}/snapshot-schedules")),
            Target::SnapshotScheduleDestroy => {
                Some(("DELETE", "/api/v2/vps/{id}/snapshot-schedules"))
            }
            Target::BackupSchedule => Some(("POST", "/api/v2/vps/{id}/backup-schedules")),
            Target::BackupScheduleDestroy => {
                Some(("DELETE", "/api/v2/vps/{id}/backup-schedules/{scheduleId}"))
            }
            Target::BackupSettings => Some(("PATCH", "/api/v2/vps/{id}/backup-schedules")),
            _ => None,
        }
    }

    /// Whether the write may be repeated while no answer began (DELETE, PATCH) rather than
    /// being sent once unless HostUp certainly did not act (POST).
    pub(crate) fn write_is_idempotent(self) -> bool {
        matches!(self.write(), Some(("DELETE" | "PATCH", _)))
    }

    /// Where read faults are injected: mid-wait on the job poll for the job resources, on
    /// the list or setting the target reads otherwise (None: the target reads nothing).
    pub(crate) fn read_route(self) -> Option<&'static str> {
        match self {
            Target::Backup
            | Target::Restore
            | Target::BackupRestore
            | Target::BackupRestoreFromVps => Some("/api/jobs/*"),
            Target::Snapshots => Some("/api/v2/vps/{id}/snapshots"),
            Target::RestoreSources => Some("/api/v2/vps/{id}/backups/restore-sources"),
            Target::SnapshotSchedule | Target::SnapshotScheduleDestroy => {
                Some("/api/v2/vps/{id}/snapshot-schedules")
            }
            Target::BackupSchedule | Target::BackupScheduleDestroy => {
                Some("/api/v2/vps/{id}/backup-schedules")
            }
            // Creating the settings sends the PATCH and reads nothing.
            Target::BackupSettings => None,
        }
    }

    /// The route template of [`Target::read_route`] as the request log names it.
    pub(crate) fn read_route_template(self) -> Option<&'static str> {
        self.read_route().map(|r| {
            if r == "/api/jobs/*" {
                "/api/jobs/{jobId}"
            } else {
                r
            }
        })
    }

    /// For the destroy targets: the address and id `terraform import` takes before the
    /// faults are set (the fixture's schedules: cloud-01's snapshot schedule, db-01's
    /// nightly backup schedule).
    pub(crate) fn setup_import(self) -> Option<(&'static str, String)> {
        match self {
            Target::SnapshotScheduleDestroy => {
                Some(("hostup_vps_snapshot_schedule.t", VPS_PAYG.to_string()))
            }
            Target::BackupScheduleDestroy => Some((
                "hostup_vps_backup_schedule.t",
                format!("{VPS_FULL}/{BACKUP_SCHEDULE_DB}"),
            )),
            _ => None,
        }
    }

    /// A data source's type, and what its `total` and `names` outputs must be, with their
    /// labels for the table: the snapshots of app-01 (3 slots, one snapshot), the restore
    /// sources of app-01 (db-01 alone, with its 2 backups).
    pub(crate) fn data_expect(self) -> Option<(&'static str, [(&'static str, Value); 2])> {
        match self {
            Target::Snapshots => Some((
                "hostup_vps_snapshots",
                [
                    ("total_snapshots", json!(3)),
                    ("snapshots", json!([SNAPSHOT_APP])),
                ],
            )),
            Target::RestoreSources => Some((
                "hostup_vps_restore_sources",
                [("backups", json!(2)), ("sources", json!([VPS_FULL]))],
            )),
            _ => None,
        }
    }

    /// The terraform command of the cell.
    pub(crate) fn command(self) -> &'static [&'static str] {
        if self.setup_import().is_some() {
            &["destroy", "-auto-approve"]
        } else {
            &["apply", "-auto-approve"]
        }
    }

    /// The VPS the target acts on.
    pub(crate) fn vps(self) -> &'static str {
        match self {
            Target::SnapshotScheduleDestroy => VPS_PAYG,
            Target::BackupScheduleDestroy => VPS_FULL,
            Target::BackupRestoreFromVps => VPS_NO_SNAPSHOTS,
            _ => VPS_APP,
        }
    }

    pub(crate) fn config(self, url: &str, create_timeout: Option<&str>) -> String {
        let timeouts = create_timeout
            .map(|t| format!("  timeouts {{\n    create = \"{t}\"\n  }}\n"))
            .unwrap_or_default();
        let body = match self {
            Target::Backup => format!(
                "resource \"hostup_vps_backup\" \"t\" {{\n  vps_id = \"{VPS_APP}\"\n  note   = \"fault matrix\"\n{timeouts}}}\n"
            ),
            Target::Restore => format!(
                "resource \"hostup_vps_snapshot_restore\" \"t\" {{\n  vps_id        = \"{VPS_APP}\"\n  snapshot_name = \"{SNAPSHOT_APP}\"\n{timeouts}}}\n"
            ),
            Target::Snapshots => format!(
                "data \"hostup_vps_snapshots\" \"t\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n\noutput \"total\" {{\n  value = data.hostup_vps_snapshots.t.total_snapshots\n}}\n\noutput \"names\" {{\n  value = [for s in data.hostup_vps_snapshots.t.snapshots : s.name]\n}}\n"
            ),
            Target::SnapshotSchedule => format!(
                "resource \"hostup_vps_snapshot_schedule\" \"t\" {{\n  vps_id         = \"{VPS_APP}\"\n  interval_hours = {SCHEDULE_HOURS}\n}}\n"
            ),
            // The fixture's schedule as it is: the destroy's plan has nothing else to change.
            Target::SnapshotScheduleDestroy => format!(
                "resource \"hostup_vps_snapshot_schedule\" \"t\" {{\n  vps_id         = \"{VPS_PAYG}\"\n  interval_hours = 12\n}}\n"
            ),
            Target::BackupSchedule => format!(
                "resource \"hostup_vps_backup_schedule\" \"t\" {{\n  vps_id          = \"{VPS_APP}\"\n  frequency       = \"daily\"\n  hour            = {BACKUP_HOUR}\n  retention_count = {BACKUP_KEEP}\n}}\n"
            ),
            Target::BackupScheduleDestroy => format!(
                "resource \"hostup_vps_backup_schedule\" \"t\" {{\n  vps_id          = \"{VPS_FULL}\"\n  frequency       = \"daily\"\n  hour            = 2\n  retention_count = 2\n}}\n"
            ),
            Target::BackupRestore => format!(
                "resource \"hostup_vps_backup_restore\" \"t\" {{\n  vps_id    = \"{VPS_APP}\"\n  backup_id = \"{BACKUP_APP}\"\n{timeouts}}}\n"
            ),
            // web-01 (no backups of its own) restores app-01's backup.
            Target::BackupRestoreFromVps => format!(
                "resource \"hostup_vps_backup_restore\" \"t\" {{\n  vps_id        = \"{VPS_NO_SNAPSHOTS}\"\n  source_vps_id = \"{VPS_APP}\"\n  backup_id     = \"{BACKUP_APP}\"\n{timeouts}}}\n"
            ),
            Target::RestoreSources => format!(
                "data \"hostup_vps_restore_sources\" \"t\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n\noutput \"total\" {{\n  value = length(flatten([for s in data.hostup_vps_restore_sources.t.sources : s.backups]))\n}}\n\noutput \"names\" {{\n  value = [for s in data.hostup_vps_restore_sources.t.sources : s.id]\n}}\n"
            ),
            Target::BackupSettings => format!(
                "resource \"hostup_vps_backup_settings\" \"t\" {{\n  vps_id             = \"{VPS_APP}\"\n  max_total_backups  = {BACKUP_LIMIT}\n  auto_delete_oldest = true\n}}\n"
            ),
        };
        format!("{}\n{body}", provider_block(url, KEY))
    }
}
