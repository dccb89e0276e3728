//! What the account is made of: VPSs with their plans, snapshots and backups, the values their
//! statuses take, how a fixture's VPS becomes one, and how the API renders each.
//!
//! A room of its own because jobs, gates, the endpoints and the state dump all work on these
//! objects, while the objects know nothing of jobs or requests.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sim::clock::{iso, parse_iso, storage_stamp};
use crate::sim::fixture::{FixtureVps, Plan};
use crate::sim::ids::{is_public_id, new_id};

use super::backup_schedules::schedules_from_fixture;
pub(crate) use super::backup_schedules::{BackupSchedule, BackupSettings};
pub(crate) use super::snapshot_schedule::SnapshotSchedule;

/// A VPS with everything the simulator tracks about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Vps {
    pub id: String,
    pub name: String,
    pub primary_ip: Option<String>,
    pub service_status: String,
    pub power_state: Option<String>,
    pub operating_system: Value,
    pub billing: Value,
    pub resources: Value,
    pub plan: Plan,
    pub snapshots: Vec<Snapshot>,
    pub backups: Vec<Backup>,
    /// Proxmox-like numeric id used in backup storage keys.
    pub vmid: u32,
    /// The last restore applied (shown in the state dump only).
    #[serde(default)]
    pub last_restore: Option<Value>,
    /// A power state set through the admin API for a while: at `at` it goes back to `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_revert: Option<PowerRevert>,
    /// The snapshot schedule (a singleton per VPS), if one is set.
    #[serde(default)]
    pub snapshot_schedule: Option<SnapshotSchedule>,
    /// Backup schedules (at most one enabled).
    #[serde(default)]
    pub backup_schedules: Vec<BackupSchedule>,
    /// Backup settings (`PATCH …/backup-schedules`).
    #[serde(default)]
    pub backup_settings: BackupSettings,
}

/// A temporary power state's end (`PATCH /_sim/vps/{id}` with `revertAfterMs`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PowerRevert {
    pub at: i64,
    pub to: Option<String>,
}

/// Power states during which HostUp would refuse actions with `vps_not_ready` (reference
/// §3.2 enum; which of them block actions is undocumented, docs/hostup-sim.md §3.7).
pub(crate) const NOT_READY_POWER_STATES: &[&str] = &["provisioning", "starting", "stopping"];
/// `serviceStatus` values of reference §3.2.
pub(crate) const SERVICE_STATUSES: &[&str] = &[
    "active",
    "suspended",
    "terminated",
    "pending",
    "cancelled",
    "expired",
    "fraud",
    "unknown",
];
/// `powerState` values of reference §3.2 (null is also allowed).
pub(crate) const POWER_STATES: &[&str] = &[
    "running",
    "stopped",
    "starting",
    "stopping",
    "paused",
    "provisioning",
    "error",
    "unknown",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Snapshot {
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub includes_memory_state: bool,
    pub parent_name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Backup {
    pub id: String,
    pub display_id: String,
    pub storage_key: String,
    pub created_at: i64,
    pub size_gb: f64,
    pub backup_type: String,
    pub note: Option<String>,
}

/// The Proxmox-like numeric id of a VPS (in its backup storage keys, and a job's numeric
/// `vmId`).
pub(crate) fn vmid_for(id: &str) -> u32 {
    let h = id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    100 + h % 900
}

/// A backup's storage key, named as Proxmox's vzdump names its archives.
pub(super) fn storage_key(vmid: u32, at: i64) -> String {
    format!("vzdump-qemu-{vmid}-{}.vma.zst", storage_stamp(at))
}

/// A new backup of `v` taken at `at` (`backupType` `kind`), sized from its disk.
pub(super) fn new_backup(v: &Vps, at: i64, kind: &str, note: Option<String>) -> Backup {
    let key = storage_key(v.vmid, at);
    let storage = v
        .resources
        .get("storageGb")
        .and_then(Value::as_f64)
        .unwrap_or(80.0);
    Backup {
        id: new_id("bkp_"),
        display_id: format!("{} ({key})", iso(at)),
        storage_key: key,
        created_at: at,
        size_gb: (storage * 1.55).round() / 10.0,
        backup_type: kind.into(),
        note,
    }
}

/// The snapshot name rule of the reference (`^[A-Za-z0-9_-]{1,40}$`).
pub(crate) fn valid_snapshot_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A fixture's VPS as the account holds it at time `now`; fails on an id or snapshot name the
/// reference does not allow.
pub(super) fn vps_from_fixture(fv: &FixtureVps, now: i64, ttl_ms: i64) -> Result<Vps, String> {
    if !is_public_id("vps_", &fv.id) {
        return Err(format!(
            "fixture VPS id {:?} is not vps_ + 26 lowercase base32 characters",
            fv.id
        ));
    }
    let vmid = vmid_for(&fv.id);
    let mut snapshots = Vec::new();
    let n = fv.snapshots.len() as i64;
    for (i, s) in fv.snapshots.iter().enumerate() {
        if !valid_snapshot_name(&s.name) {
            return Err(format!("fixture snapshot name {:?} is invalid", s.name));
        }
        let created = match &s.created_at {
            Some(t) => parse_iso(t)?,
            // One second apart in fixture order, the last one at load time, so the list
            // order (by creation) is the fixture order.
            None => now - (n - 1 - i as i64) * 1000,
        };
        snapshots.push(Snapshot {
            name: s.name.clone(),
            description: s.description.clone(),
            created_at: created,
            expires_at: created + ttl_ms,
            includes_memory_state: s.includes_memory_state,
            parent_name: s.parent_name.clone(),
        });
    }
    let mut backups = Vec::new();
    for b in &fv.backups {
        if !is_public_id("bkp_", &b.id) {
            return Err(format!(
                "fixture backup id {:?} is not bkp_ + 26 lowercase base32 characters",
                b.id
            ));
        }
        let at = parse_iso(&b.created_at)?;
        let key = b
            .storage_key
            .clone()
            .unwrap_or_else(|| storage_key(vmid, at));
        backups.push(Backup {
            id: b.id.clone(),
            display_id: format!("{} ({key})", iso(at)),
            storage_key: key,
            created_at: at,
            size_gb: b.size_gb,
            backup_type: b.backup_type.clone(),
            note: b.note.clone(),
        });
    }
    Ok(Vps {
        id: fv.id.clone(),
        name: fv.name.clone(),
        primary_ip: fv.primary_ip.clone(),
        service_status: fv.service_status.clone(),
        power_state: fv.power_state.clone(),
        operating_system: fv.operating_system.clone(),
        billing: fv.billing.clone(),
        resources: fv.resources.clone(),
        plan: fv.plan.clone(),
        snapshots,
        backups,
        vmid,
        last_restore: None,
        power_revert: None,
        snapshot_schedule: fv
            .snapshot_schedule
            .as_ref()
            .map(|s| SnapshotSchedule::from_fixture(s, now))
            .transpose()?,
        backup_schedules: schedules_from_fixture(&fv.backup_schedules)?,
        backup_settings: BackupSettings {
            max_total_backups: fv.backup_settings.max_total_backups,
            auto_delete_oldest: fv.backup_settings.auto_delete_oldest,
        },
    })
}

/// A VPS as the API shows it.
pub(super) fn vps_json(v: &Vps) -> Value {
    json!({
        "id": v.id,
        "name": v.name,
        "primaryIp": v.primary_ip,
        "serviceStatus": v.service_status,
        "powerState": v.power_state,
        "operatingSystem": v.operating_system,
        "billing": v.billing,
        "resources": v.resources,
    })
}

/// A snapshot as the API shows it.
pub(super) fn snapshot_json(s: &Snapshot) -> Value {
    json!({
        "displayId": s.name,
        "name": s.name,
        "description": s.description,
        "createdAt": iso(s.created_at),
        "expiresAt": iso(s.expires_at),
        "includesMemoryState": s.includes_memory_state,
        "parentName": s.parent_name,
    })
}

/// A backup as the API shows it.
pub(super) fn backup_json(b: &Backup) -> Value {
    json!({
        "id": b.id,
        "displayId": b.display_id,
        "storageKey": b.storage_key,
        "createdAt": iso(b.created_at),
        "sizeGb": b.size_gb,
        "backupType": b.backup_type,
        "note": b.note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_snapshot_name("before-upgrade_2"));
        assert!(valid_snapshot_name(&"a".repeat(40)));
        assert!(!valid_snapshot_name(&"a".repeat(41)));
        assert!(!valid_snapshot_name(""));
        assert!(!valid_snapshot_name("has space"));
        assert!(!valid_snapshot_name("ümlaut"));
    }
}
