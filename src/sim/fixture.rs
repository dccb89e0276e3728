//! The initial VPS set: the built-in default fixture, the JSON fixture format, and generated
//! load-test VPSs.
//!
//! Ids are fixed so that tests, examples and the README demo can hard-code them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ids::base32_fixed;
use super::keys::ApiKey;

/// `app-01`: 3 snapshot slots holding `before-upgrade`, backup limit 3 with one backup.
pub const VPS_APP: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// `web-01`: a plan without snapshots (`available: false`, `totalSnapshots: 0`).
pub const VPS_NO_SNAPSHOTS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m4";
/// `db-01`: every snapshot slot and the whole backup quota in use; a daily backup schedule
/// ([`BACKUP_SCHEDULE_DB`]) and `autoDeleteOldest` on.
pub const VPS_FULL: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m5";
/// `staging-01`: service pending, every gate closed with `pending_order`.
pub const VPS_PENDING: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m6";
/// `cloud-01`: PAYG, 5 empty snapshot slots, unlimited backups, a snapshot schedule every 12 h.
pub const VPS_PAYG: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
/// The pre-existing snapshot on [`VPS_APP`].
pub const SNAPSHOT_APP: &str = "before-upgrade";
/// The pre-existing backup on [`VPS_APP`].
pub const BACKUP_APP: &str = "bkp_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// The enabled daily backup schedule of [`VPS_FULL`] (02:00, keeps 2).
pub const BACKUP_SCHEDULE_DB: &str = "bks_01hxa3b4c5d6e7f8g9h0j1k2n1";
/// Built-in key with `read:vm`, `backup:vm` and `write:vm`.
pub const KEY_TEST: &str = "test-key";
/// Built-in key with `read:vm` only.
pub const KEY_READ_ONLY: &str = "read-only-key";
/// Built-in key with `backup:vm` only.
pub const KEY_BACKUP_ONLY: &str = "backup-only-key";
/// Built-in key with `read:all` and `write:all`.
pub const KEY_ADMIN: &str = "admin-key";

/// Id of the n-th (1-based) generated load-test VPS (`--extra-vps`).
pub fn extra_vps_id(n: usize) -> String {
    format!("vps_01hxextra{}", base32_fixed(n as u128, 17))
}

/// Name of the n-th (1-based) generated load-test VPS.
pub fn extra_vps_name(n: usize) -> String {
    format!("load-{n:03}")
}

/// A fixture: VPSs with their plans, snapshots and backups, plus optional keys.
///
/// A data format rather than code so that demos and special tests can bring their own set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Fixture {
    /// The VPSs, in any order (the API lists them ordered by id).
    pub vps: Vec<FixtureVps>,
    /// Extra API keys.
    pub keys: Vec<ApiKey>,
}

/// One VPS of a fixture; omitted fields take the values of `app-01`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureVps {
    /// `vps_` + 26 lowercase base32 characters.
    pub id: String,
    /// Display name (the `name` filter matches it case-insensitively).
    pub name: String,
    /// Primary IPv4/IPv6 address.
    #[serde(default)]
    pub primary_ip: Option<String>,
    /// `active`, `pending`, `suspended`, … (gates close unless `active`).
    #[serde(default = "default_service_status")]
    pub service_status: String,
    /// `running`, `stopped`, … or null.
    #[serde(default = "default_power_state")]
    pub power_state: Option<String>,
    /// Operating system object as the API shows it.
    #[serde(default = "default_os")]
    pub operating_system: Value,
    /// Billing object as the API shows it.
    #[serde(default = "default_billing")]
    pub billing: Value,
    /// Resources object as the API shows it.
    #[serde(default = "default_resources")]
    pub resources: Value,
    /// Snapshot slots and backup limit.
    #[serde(default)]
    pub plan: Plan,
    /// Snapshots present at start.
    #[serde(default)]
    pub snapshots: Vec<FixtureSnapshot>,
    /// Backups present at start.
    #[serde(default)]
    pub backups: Vec<FixtureBackup>,
    /// The snapshot schedule at start (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_schedule: Option<FixtureSnapshotSchedule>,
    /// Backup schedules at start (at most one enabled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup_schedules: Vec<FixtureBackupSchedule>,
    /// Backup settings at start.
    #[serde(default)]
    pub backup_settings: FixtureBackupSettings,
}

/// A backup schedule present at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBackupSchedule {
    /// `bks_` + 26 lowercase base32 characters.
    pub id: String,
    /// Display name; null = `Daily backup` / `Weekly backup` / `Monthly backup`.
    #[serde(default)]
    pub name: Option<String>,
    /// `daily`, `weekly` or `monthly`.
    pub frequency: String,
    /// Hour of the day, 0–23.
    pub hour: u8,
    /// 0–6 (0 = Sunday); weekly only.
    #[serde(default)]
    pub day_of_week: Option<u8>,
    /// 1–31; monthly only.
    #[serde(default)]
    pub day_of_month: Option<u8>,
    /// Scheduled backups kept (≥ 1).
    pub retention_count: u32,
    /// Whether it runs.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// ISO time of its last run, or null.
    #[serde(default)]
    pub last_run: Option<String>,
}

/// Backup settings at start (`PATCH …/backup-schedules` changes them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FixtureBackupSettings {
    /// Total backup limit chosen below the plan's; null = the plan's.
    pub max_total_backups: Option<u32>,
    /// Whether a scheduled backup deletes the oldest backup when the limit is reached.
    pub auto_delete_oldest: bool,
}

/// A snapshot schedule present at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureSnapshotSchedule {
    /// Whether it takes snapshots.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Hours between snapshots (4–24, as HostUp clamps them).
    pub interval_hours: u32,
    /// ISO time of the last scheduled snapshot, or null.
    #[serde(default)]
    pub last_run: Option<String>,
}

/// What the VPS's plan allows; drives `limits`, `quotaInfo` and the gates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Snapshot slots (0 = snapshots not in the plan).
    #[serde(default = "default_slots")]
    pub snapshot_slots: u32,
    /// Backup limit; null = unlimited, 0 = backups not in the plan.
    #[serde(default = "default_backup_limit")]
    pub backup_limit: Option<u32>,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            snapshot_slots: default_slots(),
            backup_limit: default_backup_limit(),
        }
    }
}

/// A snapshot present at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureSnapshot {
    /// Name (= `{snapshotId}`).
    pub name: String,
    /// Description or null.
    #[serde(default)]
    pub description: Option<String>,
    /// ISO time; null = the moment the fixture is loaded.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Whether RAM state was included.
    #[serde(default)]
    pub includes_memory_state: bool,
    /// Parent snapshot name or null.
    #[serde(default)]
    pub parent_name: Option<String>,
}

/// A backup present at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBackup {
    /// `bkp_` + 26 lowercase base32 characters.
    pub id: String,
    /// ISO time.
    pub created_at: String,
    /// Size in GB.
    #[serde(default = "default_size")]
    pub size_gb: f64,
    /// `manual` or `scheduled`.
    #[serde(default = "default_backup_type")]
    pub backup_type: String,
    /// Note or null.
    #[serde(default)]
    pub note: Option<String>,
    /// Storage key; derived from the time when absent.
    #[serde(default)]
    pub storage_key: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_service_status() -> String {
    "active".into()
}
fn default_power_state() -> Option<String> {
    Some("running".into())
}
fn default_os() -> Value {
    json!({"displayName": "Ubuntu 24.04", "family": "ubuntu", "version": "24.04", "variant": null})
}
fn default_billing() -> Value {
    json!({"amount": 199, "currencyCode": "SEK", "billingCycle": "monthly", "isPayg": false, "periodYears": null})
}
fn default_resources() -> Value {
    json!({"cpuCores": 2, "memoryGb": 4, "storageGb": 80})
}
fn default_slots() -> u32 {
    3
}
fn default_backup_limit() -> Option<u32> {
    Some(3)
}
fn default_size() -> f64 {
    12.4
}
fn default_backup_type() -> String {
    "manual".into()
}

fn vps(id: &str, name: &str, ip: &str) -> FixtureVps {
    FixtureVps {
        id: id.into(),
        name: name.into(),
        primary_ip: Some(ip.into()),
        service_status: default_service_status(),
        power_state: default_power_state(),
        operating_system: default_os(),
        billing: default_billing(),
        resources: default_resources(),
        plan: Plan::default(),
        snapshots: Vec::new(),
        backups: Vec::new(),
        snapshot_schedule: None,
        backup_schedules: Vec::new(),
        backup_settings: FixtureBackupSettings::default(),
    }
}

fn backup(id: &str, at: &str, size: f64, kind: &str, note: Option<&str>) -> FixtureBackup {
    FixtureBackup {
        id: id.into(),
        created_at: at.into(),
        size_gb: size,
        backup_type: kind.into(),
        note: note.map(str::to_string),
        storage_key: None,
    }
}

fn snapshot(name: &str, description: &str, parent: Option<&str>) -> FixtureSnapshot {
    FixtureSnapshot {
        name: name.into(),
        description: Some(description.into()),
        created_at: None,
        includes_memory_state: false,
        parent_name: parent.map(str::to_string),
    }
}

/// The built-in keys (docs/hostup-sim.md §2).
pub fn default_keys() -> Vec<ApiKey> {
    let mut keys = vec![
        ApiKey::new(KEY_TEST, &["read:vm", "backup:vm", "write:vm"]),
        ApiKey::new(KEY_READ_ONLY, &["read:vm"]),
        ApiKey::new(KEY_BACKUP_ONLY, &["backup:vm"]),
        ApiKey::new(KEY_ADMIN, &["read:all", "write:all"]),
    ];
    for k in keys.iter_mut() {
        k.label = Some(k.key.clone());
    }
    keys
}

/// The built-in default fixture (docs/hostup-sim.md §5.1).
pub fn default_fixture() -> Fixture {
    let mut app = vps(VPS_APP, "app-01", "192.0.2.10");
    app.snapshots
        .push(snapshot(SNAPSHOT_APP, "Before package upgrade", None));
    app.backups.push(backup(
        BACKUP_APP,
        "2026-11-20T02:00:00.000Z",
        12.4,
        "scheduled",
        None,
    ));

    let mut web = vps(VPS_NO_SNAPSHOTS, "web-01", "192.0.2.11");
    web.plan = Plan {
        snapshot_slots: 0,
        backup_limit: Some(2),
    };
    web.resources = json!({"cpuCores": 1, "memoryGb": 2, "storageGb": 40});
    web.billing = json!({"amount": 99, "currencyCode": "SEK", "billingCycle": "monthly", "isPayg": false, "periodYears": null});

    let mut db = vps(VPS_FULL, "db-01", "192.0.2.12");
    db.plan = Plan {
        snapshot_slots: 2,
        backup_limit: Some(2),
    };
    db.resources = json!({"cpuCores": 4, "memoryGb": 16, "storageGb": 320});
    db.operating_system =
        json!({"displayName": "Debian 12", "family": "debian", "version": "12", "variant": null});
    db.snapshots
        .push(snapshot("pre-migration", "Before schema migration", None));
    db.snapshots
        .push(snapshot("nightly-1", "Nightly", Some("pre-migration")));
    db.backups.push(backup(
        "bkp_01hxa3b4c5d6e7f8g9h0j1k2n1",
        "2026-11-18T02:00:00.000Z",
        48.0,
        "scheduled",
        None,
    ));
    db.backups.push(backup(
        "bkp_01hxa3b4c5d6e7f8g9h0j1k2n2",
        "2026-11-19T09:30:00.000Z",
        47.5,
        "manual",
        Some("Before upgrade"),
    ));

    db.backup_schedules.push(FixtureBackupSchedule {
        id: BACKUP_SCHEDULE_DB.into(),
        name: Some("Nightly backup".into()),
        frequency: "daily".into(),
        hour: 2,
        day_of_week: None,
        day_of_month: None,
        retention_count: 2,
        enabled: true,
        last_run: Some("2026-11-18T02:00:00.000Z".into()),
    });
    db.backup_settings.auto_delete_oldest = true;

    let mut staging = vps(VPS_PENDING, "staging-01", "192.0.2.13");
    staging.service_status = "pending".into();
    staging.power_state = Some("provisioning".into());
    staging.plan = Plan {
        snapshot_slots: 1,
        backup_limit: Some(1),
    };

    let mut cloud = vps(VPS_PAYG, "cloud-01", "192.0.2.14");
    cloud.billing = json!({"amount": 0.42, "currencyCode": "SEK", "billingCycle": "monthly", "isPayg": true, "periodYears": null});
    cloud.plan = Plan {
        snapshot_slots: 5,
        backup_limit: None,
    };
    cloud.snapshot_schedule = Some(FixtureSnapshotSchedule {
        enabled: true,
        interval_hours: 12,
        last_run: None,
    });

    Fixture {
        vps: vec![app, web, db, staging, cloud],
        keys: Vec::new(),
    }
}

/// The n-th (1-based) generated load-test VPS.
pub fn extra_vps(n: usize) -> FixtureVps {
    let ip = format!("10.20.{}.{}", (n / 256) % 256, n % 256);
    let mut v = vps(&extra_vps_id(n), &extra_vps_name(n), &ip);
    v.plan = Plan {
        snapshot_slots: 3,
        backup_limit: None,
    };
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ids::CROCKFORD;

    fn valid_id(prefix: &str, id: &str) -> bool {
        id.strip_prefix(prefix)
            .is_some_and(|rest| rest.len() == 26 && rest.bytes().all(|b| CROCKFORD.contains(&b)))
    }

    #[test]
    fn ids_are_well_formed() {
        for v in default_fixture().vps {
            assert!(valid_id("vps_", &v.id), "{}", v.id);
            for b in v.backups {
                assert!(valid_id("bkp_", &b.id), "{}", b.id);
            }
        }
        assert!(valid_id("vps_", &extra_vps_id(1)));
        assert!(valid_id("vps_", &extra_vps_id(100_000)));
        assert_eq!(extra_vps_id(1), "vps_01hxextra00000000000000001");
    }

    #[test]
    fn fixture_defaults_fill_in() {
        let f: Fixture = serde_json::from_str(
            r#"{"vps":[{"id":"vps_01hxa3b4c5d6e7f8g9h0j1k2m3","name":"x","plan":{"backupLimit":null}}]}"#,
        )
        .unwrap();
        assert_eq!(f.vps[0].plan.snapshot_slots, 3);
        assert_eq!(f.vps[0].plan.backup_limit, None);
        assert_eq!(f.vps[0].service_status, "active");
    }
}
