//! Typed models of the HostUp v2 resources the provider uses.
//!
//! Forward compatible on purpose (HostUp's docs were only partly readable, see docs/hostup-sim.md
//! records what is known of it): unknown fields are ignored, unknown enum values are kept as
//! `Other(String)`, and every field the reference marks `|null`, optional or unsure is an `Option`
//! with a default, so a new or missing field never breaks a plan.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Declares a string enum that keeps unknown values, so a new HostUp status never becomes a
/// decode error.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this client version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

open_enum!(
    /// A VPS's service (billing) status.
    ServiceStatus {
        /// Running service.
        Active = "active",
        /// Suspended (e.g. unpaid).
        Suspended = "suspended",
        /// Terminated.
        Terminated = "terminated",
        /// Ordered, not yet provisioned.
        Pending = "pending",
        /// Cancelled.
        Cancelled = "cancelled",
        /// Expired.
        Expired = "expired",
        /// Flagged as fraud.
        Fraud = "fraud",
        /// HostUp does not know.
        Unknown = "unknown",
    }
);

open_enum!(
    /// A VPS's power state.
    PowerState {
        /// Running.
        Running = "running",
        /// Stopped.
        Stopped = "stopped",
        /// Starting.
        Starting = "starting",
        /// Stopping.
        Stopping = "stopping",
        /// Paused.
        Paused = "paused",
        /// Being provisioned.
        Provisioning = "provisioning",
        /// In error.
        Error = "error",
        /// HostUp does not know.
        Unknown = "unknown",
    }
);

open_enum!(
    /// Status in a v2 operation envelope.
    OperationStatus {
        /// Accepted, not queued yet.
        Pending = "pending",
        /// Queued.
        Queued = "queued",
        /// Running.
        InProgress = "in_progress",
        /// Done.
        Completed = "completed",
        /// Failed.
        Failed = "failed",
    }
);

/// Reads `null` as the type's default, for fields the reference calls required that a
/// future HostUp might still send as null: one odd item must not fail a whole list.
pub(super) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Accepts an integer written as a JSON integer, a float with no fraction, or null.
pub(super) fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                Ok(Some(f as i64))
            } else {
                Err(serde::de::Error::custom(format!(
                    "expected an integer, got {n}"
                )))
            }
        }
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, got {s:?}"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

/// A VPS as listed by `GET /api/v2/vps` and `GET /api/v2/vps/{id}`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Vps {
    /// Public id, `vps_…`: the only valid `{id}` in VPS paths.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Primary IPv4.
    pub primary_ip: Option<String>,
    /// Service status.
    pub service_status: Option<ServiceStatus>,
    /// Power state (nullable).
    pub power_state: Option<PowerState>,
    /// Operating system.
    pub operating_system: Option<OperatingSystem>,
    /// Billing.
    pub billing: Option<Billing>,
    /// Sizing.
    pub resources: Option<Resources>,
}

/// Operating system of a VPS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OperatingSystem {
    /// E.g. `Ubuntu 24.04`.
    pub display_name: Option<String>,
    /// E.g. `ubuntu`.
    pub family: Option<String>,
    /// E.g. `24.04`.
    pub version: Option<String>,
    /// Variant.
    pub variant: Option<String>,
}

/// Billing of a VPS.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Billing {
    /// Price.
    pub amount: Option<f64>,
    /// E.g. `SEK`.
    pub currency_code: Option<String>,
    /// E.g. `monthly` (kept as text: the enum differs between pages).
    pub billing_cycle: Option<String>,
    /// PAYG Cloud VPS.
    pub is_payg: Option<bool>,
    /// Years of the period.
    #[serde(deserialize_with = "lenient_int")]
    pub period_years: Option<i64>,
}

/// Sizing of a VPS.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resources {
    /// vCPUs.
    pub cpu_cores: Option<f64>,
    /// RAM.
    pub memory_gb: Option<f64>,
    /// Disk.
    pub storage_gb: Option<f64>,
}

/// One page of `GET /api/v2/vps`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VpsPage {
    /// The VPSs on this page.
    #[serde(deserialize_with = "null_default")]
    pub data: Vec<Vps>,
    /// Cursor of the next page; None on the last one.
    pub next_cursor: Option<String>,
}

/// An action gate: whether HostUp would accept an operation now, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Gate {
    /// Whether the operation is allowed now.
    #[serde(deserialize_with = "null_default")]
    pub allowed: bool,
    /// Why not (human text).
    pub reason: Option<String>,
    /// Machine code, e.g. `pending_order`, `job_in_progress`.
    pub code: Option<String>,
}

impl Gate {
    /// Whether the gate is closed only because the VPS is busy (another job runs, or the VPS
    /// is not ready yet): it reopens by itself. See [`is_busy_code`].
    pub fn is_busy(&self) -> bool {
        !self.allowed && self.code.as_deref().is_some_and(is_busy_code)
    }
}

/// Whether HostUp's `code` says the VPS is busy for now rather than refused for good:
/// `job_in_progress` (documented on the backup gate), `vps_not_ready`, and the other
/// "in progress / not ready / busy" codes HostUp may use for the same condition (its catalogue
/// of 409 codes is not public, so the words decide, not a fixed list). "Locked" is not among
/// them: an account or service lock does not lift by itself.
pub fn is_busy_code(code: &str) -> bool {
    let c = code
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' ', '.'], "_");
    [
        "in_progress",
        "not_ready",
        "busy",
        "locked",
        "already_running",
        "job_running",
    ]
    .iter()
    .any(|w| c.contains(w))
}

/// A snapshot (its `name` is its id in paths).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Snapshot {
    /// Display id.
    pub display_id: Option<String>,
    /// Name, the `{snapshotId}` of restore/delete.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time (ISO).
    pub created_at: Option<String>,
    /// Expiry time (ISO, ≈ created + 24 h).
    pub expires_at: Option<String>,
    /// Whether RAM state is included.
    pub includes_memory_state: Option<bool>,
    /// Parent snapshot name.
    pub parent_name: Option<String>,
}

/// Snapshot capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotLimits {
    /// Slots in the plan.
    #[serde(deserialize_with = "lenient_int")]
    pub total_snapshots: Option<i64>,
    /// Slots used, if HostUp says (else count the list).
    #[serde(deserialize_with = "lenient_int")]
    pub used_snapshots: Option<i64>,
}

/// Snapshot gates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotActions {
    /// May a snapshot be created now.
    pub can_create: Option<Gate>,
    /// May a snapshot be restored now.
    pub can_restore: Option<Gate>,
}

/// `GET /api/v2/vps/{id}/snapshots`: snapshots with quota and gates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotList {
    /// The snapshots.
    #[serde(deserialize_with = "null_default")]
    pub data: Vec<Snapshot>,
    /// Whether snapshots are part of the plan.
    pub available: Option<bool>,
    /// Why not.
    pub reason: Option<String>,
    /// Capacity.
    pub limits: Option<SnapshotLimits>,
    /// Gates.
    pub actions: Option<SnapshotActions>,
}

impl SnapshotList {
    /// Slots in use: HostUp's count if given, else the number of listed snapshots.
    pub fn used_snapshots(&self) -> i64 {
        self.limits
            .as_ref()
            .and_then(|l| l.used_snapshots)
            .unwrap_or(self.data.len() as i64)
    }

    /// Total slots, if known.
    pub fn total_snapshots(&self) -> Option<i64> {
        self.limits.as_ref().and_then(|l| l.total_snapshots)
    }

    /// The snapshot of that name.
    pub fn find(&self, name: &str) -> Option<&Snapshot> {
        self.data.iter().find(|s| s.name == name)
    }
}

/// An offsite backup.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Backup {
    /// `bkp_…` id.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Display id.
    pub display_id: Option<String>,
    /// Storage key.
    pub storage_key: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Size.
    pub size_gb: Option<f64>,
    /// `manual` or `scheduled` (kept as text).
    pub backup_type: Option<String>,
    /// Note given at creation.
    pub note: Option<String>,
}

/// `GET /api/v2/vps/{id}/backups/restore-sources`: the VPSs (and retained backups of
/// terminated ones) whose backups can be restored onto this VPS.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestoreSources {
    /// The sources (`sources[]`; `data[]` accepted too).
    #[serde(alias = "data", deserialize_with = "null_default")]
    pub sources: Vec<RestoreSource>,
}

/// One restore source: a VPS of the account, or a terminated one's retained backups.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestoreSource {
    /// The source VPS's id.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Its display name.
    pub name: Option<String>,
    /// Its service status (kept as text).
    pub service_status: Option<String>,
    /// `server` or `retained` (kept as text).
    pub source_type: Option<String>,
    /// Its backups.
    #[serde(deserialize_with = "null_default")]
    pub backups: Vec<Backup>,
}

/// Body of `POST /api/v2/vps/{id}/backups/actions/restore-from-vps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreFromVps {
    /// The VPS whose backup is restored.
    pub source_vps_id: String,
    /// The backup (`bkp_…`).
    pub backup_id: String,
}

/// Backup quota.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuotaInfo {
    /// Backups used.
    #[serde(deserialize_with = "lenient_int")]
    pub used: Option<i64>,
    /// Limit (None = unlimited).
    #[serde(deserialize_with = "lenient_int")]
    pub limit: Option<i64>,
    /// Remaining (None = unlimited).
    #[serde(deserialize_with = "lenient_int")]
    pub remaining: Option<i64>,
}

/// Backup gates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupActions {
    /// May a backup be created now.
    pub can_create_backup: Option<Gate>,
    /// May a backup be restored now.
    pub can_restore: Option<Gate>,
    /// May a backup of another VPS be restored here.
    pub can_restore_from_another_vps: Option<Gate>,
}

/// `GET /api/v2/vps/{id}/backups`: backups with quota and gates.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupList {
    /// The backups (`backups[]`; `data[]` accepted too, the docs disagree).
    #[serde(alias = "data")]
    #[serde(deserialize_with = "null_default")]
    pub backups: Vec<Backup>,
    /// Quota.
    pub quota_info: Option<QuotaInfo>,
    /// Gates.
    pub actions: Option<BackupActions>,
}

/// Body of `POST /api/v2/vps/{id}/snapshots`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSnapshot {
    /// `^[A-Za-z0-9_-]{1,40}$`.
    pub name: String,
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Body of `POST /api/v2/vps/{id}/backups`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBackup {
    /// Optional note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A queued job as returned (202) by job-creating endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Status at queue time.
    pub status: Option<OperationStatus>,
    /// `job_…` id: save it before waiting.
    pub job_id: String,
    /// Host-rooted poll URL (`/api/jobs/…`).
    pub poll_url: Option<String>,
    /// Result, if already known.
    pub result: Option<Value>,
    /// The VPS the request was about (set by the client, not read from the body).
    pub vps_id: Option<String>,
}

/// Reads any shape [`Operation::from_value`] accepts; a body without a job id is an error.
impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Operation::from_value(&v)
            .ok_or_else(|| serde::de::Error::custom("no operation.jobId in the answer"))
    }
}

impl Operation {
    /// Parses the operation envelope, tolerating the legacy `{success, data:{jobId}}` and a
    /// bare `{jobId, …}` object; None when no job id can be found.
    pub(crate) fn from_value(v: &Value) -> Option<Operation> {
        let obj = v
            .get("operation")
            .filter(|o| o.is_object())
            .or_else(|| v.get("data").filter(|d| d.get("jobId").is_some()))
            .unwrap_or(v);
        let job_id = obj
            .get("jobId")
            .or_else(|| obj.get("job_id"))
            // A bare `id` counts only when it is a job id, not e.g. a backup's `bkp_…`.
            .or_else(|| {
                obj.get("id")
                    .filter(|v| v.as_str().is_some_and(|s| s.starts_with("job_")))
            })
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())?
            .to_string();
        Some(Operation {
            status: obj
                .get("status")
                .and_then(Value::as_str)
                .map(OperationStatus::from),
            job_id,
            poll_url: obj
                .get("pollUrl")
                .and_then(Value::as_str)
                .map(str::to_string),
            result: obj.get("result").filter(|r| !r.is_null()).cloned(),
            vps_id: None,
        })
    }

    /// The reference to pass to [`super::Client::wait_for_job`].
    pub fn job_ref(&self) -> super::JobRef {
        super::JobRef {
            job_id: self.job_id.clone(),
            poll_url: self.poll_url.clone(),
            initial_status: self.status.as_ref().map(|s| s.as_str().to_string()),
            vps_id: self.vps_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_codes() {
        for c in [
            "job_in_progress",
            "vps_not_ready",
            "operation_in_progress",
            "vps_busy",
            "VPS-LOCKED",
        ] {
            assert!(is_busy_code(c), "{c}");
        }
        for c in [
            "pending_order",
            "snapshot_limit_reached",
            "feature_not_in_plan",
            "",
        ] {
            assert!(!is_busy_code(c), "{c}");
        }
    }
    use serde_json::json;

    #[test]
    fn open_enums_keep_unknown_values() {
        let v: Vps = serde_json::from_value(json!({
            "id":"vps_1","serviceStatus":"hibernating","powerState":null,"newField":{"x":1},
            "billing":{"amount":199,"currencyCode":"SEK","billingCycle":"monthly","isPayg":false,"periodYears":1.0}
        }))
        .unwrap();
        assert_eq!(
            v.service_status,
            Some(ServiceStatus::Other("hibernating".into()))
        );
        assert_eq!(v.power_state, None);
        assert_eq!(v.billing.unwrap().period_years, Some(1));
        assert_eq!(PowerState::from("running"), PowerState::Running);
        assert_eq!(PowerState::Running.to_string(), "running");
    }

    #[test]
    fn nulls_in_required_fields_are_tolerated() {
        let s: SnapshotList =
            serde_json::from_value(json!({"data":[{"name":null,"displayId":null}],
            "actions":{"canCreate":{"allowed":null,"reason":null}}}))
            .unwrap();
        assert_eq!(s.data[0].name, "");
        assert!(!s.actions.unwrap().can_create.unwrap().allowed);
        let p: VpsPage = serde_json::from_value(json!({"data":null,"nextCursor":null})).unwrap();
        assert!(p.data.is_empty());
        let b: BackupList = serde_json::from_value(json!({"backups":[{"id":null}]})).unwrap();
        assert_eq!(b.backups[0].id, "");
    }

    #[test]
    fn lists_tolerate_missing_parts() {
        let s: SnapshotList = serde_json::from_value(json!({"data":[{"name":"a"}]})).unwrap();
        assert_eq!(s.used_snapshots(), 1);
        assert_eq!(s.total_snapshots(), None);
        let b: BackupList = serde_json::from_value(json!({"data":[{"id":"bkp_1","sizeGb":12}],
            "quotaInfo":{"used":1,"limit":null,"remaining":null}}))
        .unwrap();
        assert_eq!(b.backups[0].size_gb, Some(12.0));
        assert_eq!(b.quota_info.unwrap().limit, None);
    }

    #[test]
    fn operation_shapes() {
        let op = Operation::from_value(&json!({"operation":{"status":"queued","jobId":"job_1","pollUrl":"/api/jobs/job_1","result":null}})).unwrap();
        assert_eq!(op.job_id, "job_1");
        assert_eq!(op.status, Some(OperationStatus::Queued));
        assert_eq!(op.result, None);
        let legacy = Operation::from_value(&json!({"success":true,"data":{"jobId":"j2"}})).unwrap();
        assert_eq!(legacy.job_id, "j2");
        let bare = Operation::from_value(&json!({"jobId":"j3","status":"weird"})).unwrap();
        assert_eq!(bare.status, Some(OperationStatus::Other("weird".into())));
        assert!(Operation::from_value(&json!({"operation":{"status":"queued"}})).is_none());
        assert!(Operation::from_value(&json!({"id":"bkp_1"})).is_none());
        assert_eq!(
            Operation::from_value(&json!({"id":"job_4"}))
                .unwrap()
                .job_id,
            "job_4"
        );
    }
}
