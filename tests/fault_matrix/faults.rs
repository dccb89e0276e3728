//! The two axes of the matrix: the faults hostup-sim injects and the targets they hit.

use hostup_provider::sim::fixture::{SNAPSHOT_APP, VPS_APP};

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
            Fault::PostResetAfter => "connection reset after HostUp handled the POST",
            Fault::Post502After => "502 after HostUp handled the POST",
            Fault::PostSlow => "POST answer slower than the request timeout",
            Fault::SigintInRequest => "SIGINT while a GET hangs in flight",
        }
    }

    /// Faults that hit the job-creating POST: the answer is lost, the job may exist.
    pub(crate) fn is_post_fault(self) -> bool {
        matches!(
            self,
            Fault::PostResetAfter | Fault::Post502After | Fault::PostSlow
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

/// The targets of the matrix, in table order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Target {
    Backup,
    Restore,
    Snapshots,
}

impl Target {
    pub(crate) const ALL: [Target; 3] = [Target::Backup, Target::Restore, Target::Snapshots];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Target::Backup => "hostup_vps_backup",
            Target::Restore => "hostup_vps_snapshot_restore",
            Target::Snapshots => "data.hostup_vps_snapshots",
        }
    }

    /// The resource type in state (None for the data source).
    pub(crate) fn resource_type(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("hostup_vps_backup"),
            Target::Restore => Some("hostup_vps_snapshot_restore"),
            Target::Snapshots => None,
        }
    }

    /// Route template of the job-creating POST.
    pub(crate) fn post_route(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("/api/v2/vps/{id}/backups"),
            Target::Restore => Some("/api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore"),
            Target::Snapshots => None,
        }
    }

    pub(crate) fn job_type(self) -> Option<&'static str> {
        match self {
            Target::Backup => Some("backup_create"),
            Target::Restore => Some("snapshot_restore"),
            Target::Snapshots => None,
        }
    }

    /// Where read faults are injected: mid-wait on the job poll for the resources, on the
    /// snapshot list for the data source.
    pub(crate) fn read_route(self) -> &'static str {
        match self {
            Target::Backup | Target::Restore => "/api/jobs/*",
            Target::Snapshots => "/api/v2/vps/{id}/snapshots",
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
        };
        format!("{}\n{body}", provider_block(url, KEY))
    }
}
