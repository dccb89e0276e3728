//! The backup and snapshot policy endpoints: the snapshot schedule of a VPS, its backup
//! schedules and its backup settings, with their models.
//!
//! A room of its own because these are settings, not jobs: every call here is a read or a
//! synchronous write (HostUp acts before it answers), none queues a job. HostUp documents the
//! requests but not all of the answers (docs/hostup-sim.md lists what the simulator chose), so
//! the models accept every plausible form: camelCase and the legacy API's snake_case, the
//! object bare or under `data`, numbers as strings, and a write answered with a body of any
//! shape or with 204.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Client;
use super::endpoints::{check_id, SCOPE_READ, SCOPE_WRITE};
use super::error::Error;
use super::models::{lenient_int, null_default, Gate, SnapshotLimits};
use super::transport::json_body;

/// A VPS's snapshot schedule, as `GET /api/v2/vps/{id}/snapshot-schedules` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotScheduleInfo {
    /// The schedule, or `None` when the VPS has none.
    #[serde(alias = "data")]
    pub schedule: Option<SnapshotSchedule>,
    /// Snapshot capacity (scheduled snapshots use the same slots as manual ones).
    pub limits: Option<SnapshotLimits>,
    /// Whether the VPS can have a schedule (it has at least one snapshot slot).
    pub available: Option<bool>,
    /// Why not.
    pub reason: Option<String>,
    /// Gates.
    pub actions: Option<SnapshotScheduleActions>,
}

impl SnapshotScheduleInfo {
    /// Total snapshot slots, if known.
    pub fn total_snapshots(&self) -> Option<i64> {
        self.limits.as_ref().and_then(|l| l.total_snapshots)
    }

    /// The `canEnable` gate, if HostUp sent it.
    pub fn can_enable(&self) -> Option<&Gate> {
        self.actions.as_ref().and_then(|a| a.can_enable.as_ref())
    }
}

/// The snapshot schedule's gates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotScheduleActions {
    /// May a schedule be enabled now.
    #[serde(alias = "can_enable")]
    pub can_enable: Option<Gate>,
}

/// One snapshot schedule (a VPS has at most one). Its v2 fields are not documented; these are
/// the v2 names by analogy, with the legacy API's snake_case accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotSchedule {
    /// Whether it takes snapshots.
    #[serde(alias = "is_enabled", alias = "isEnabled")]
    pub enabled: Option<bool>,
    /// Hours between snapshots (HostUp keeps 4–24).
    #[serde(alias = "interval_hours", deserialize_with = "lenient_int")]
    pub interval_hours: Option<i64>,
    /// When it last took a snapshot.
    #[serde(alias = "last_run")]
    pub last_run: Option<String>,
    /// When it takes the next one.
    #[serde(alias = "next_run")]
    pub next_run: Option<String>,
}

/// Body of `POST /api/v2/vps/{id}/snapshot-schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSnapshotSchedule {
    /// Whether it takes snapshots.
    pub enabled: bool,
    /// Hours between snapshots: HostUp floors and clamps to 4–24, so send a value in range.
    pub interval_hours: i64,
}

open_enum! {
    /// How often a backup schedule runs.
    BackupFrequency {
        /// Every day at `hour`.
        Daily = "daily",
        /// Every week on `day_of_week` at `hour`.
        Weekly = "weekly",
        /// Every month on `day_of_month` at `hour`.
        Monthly = "monthly",
    }
}

/// `GET /api/v2/vps/{id}/backup-schedules`: the schedules (one active), settings and gates.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSchedules {
    /// The schedules.
    #[serde(alias = "data", deserialize_with = "null_default")]
    pub schedules: Vec<BackupSchedule>,
    /// The backup settings.
    pub settings: Option<BackupSettings>,
    /// Gates, as HostUp names them (kept as they come: their names are not documented).
    pub actions: Option<std::collections::BTreeMap<String, Gate>>,
}

impl BackupSchedules {
    /// The schedule with that id.
    pub fn find(&self, id: &str) -> Option<&BackupSchedule> {
        self.schedules.iter().find(|s| s.id == id)
    }
}

/// One backup schedule. Its fields are documented for the list; the hour and day come as
/// `time` (`"02:00"`) and `daySpecifier` (a weekday or a day of the month), or as the request's
/// own `hour`, `dayOfWeek` and `dayOfMonth` where HostUp sends those.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSchedule {
    /// `bks_…`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// daily, weekly or monthly.
    pub frequency: Option<BackupFrequency>,
    /// `"HH:MM"`.
    pub time: Option<String>,
    /// The hour, where HostUp sends it as a number.
    #[serde(deserialize_with = "lenient_int")]
    pub hour: Option<i64>,
    /// The weekday or day of the month as text (`"monday"`, `"1"`, `"15th"`).
    #[serde(alias = "day_specifier")]
    pub day_specifier: Option<String>,
    /// The weekday (0 = Sunday), where HostUp sends it as a number.
    #[serde(alias = "day_of_week", deserialize_with = "lenient_int")]
    pub day_of_week: Option<i64>,
    /// The day of the month, where HostUp sends it as a number.
    #[serde(alias = "day_of_month", deserialize_with = "lenient_int")]
    pub day_of_month: Option<i64>,
    /// How many backups it keeps.
    #[serde(alias = "retention_count", deserialize_with = "lenient_int")]
    pub retention_count: Option<i64>,
    /// Whether it runs.
    pub enabled: Option<bool>,
    /// When it last ran.
    #[serde(alias = "last_run")]
    pub last_run: Option<String>,
}

impl BackupSchedule {
    /// The hour it runs at: `hour`, else the hour of `time`.
    pub fn run_hour(&self) -> Option<i64> {
        self.hour.or_else(|| {
            let t = self.time.as_deref()?.trim();
            let h = t.split(':').next()?.trim().parse::<i64>().ok()?;
            (0..24).contains(&h).then_some(h)
        })
    }

    /// The weekday of a weekly schedule, 0 = Sunday: `dayOfWeek`, else `daySpecifier` as a
    /// number (7 is Sunday too) or an English weekday name, whole or cut to three letters.
    pub fn weekday(&self) -> Option<i64> {
        if let Some(d) = self.day_of_week {
            return Some(d.rem_euclid(7));
        }
        let spec = self.day_specifier.as_deref()?.trim().to_ascii_lowercase();
        if let Ok(n) = spec.parse::<i64>() {
            return (0..=7).contains(&n).then_some(n % 7);
        }
        const DAYS: [&str; 7] = [
            "sunday",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
        ];
        DAYS.iter()
            .position(|d| spec.len() >= 3 && d.starts_with(spec.as_str()))
            .map(|i| i as i64)
    }

    /// The day of a monthly schedule: `dayOfMonth`, else the number `daySpecifier` starts with
    /// (`"15"`, `"15th"`).
    pub fn month_day(&self) -> Option<i64> {
        if let Some(d) = self.day_of_month {
            return Some(d);
        }
        let spec = self.day_specifier.as_deref()?.trim();
        let digits: String = spec.chars().take_while(char::is_ascii_digit).collect();
        let n = digits.parse::<i64>().ok()?;
        (1..=31).contains(&n).then_some(n)
    }
}

/// The backup settings of a VPS (`PATCH /api/v2/vps/{id}/backup-schedules` answers them).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSettings {
    /// How many backups the VPS keeps in all.
    #[serde(
        alias = "total_backup_limit",
        alias = "maxTotalBackups",
        deserialize_with = "lenient_int"
    )]
    pub total_backup_limit: Option<i64>,
    /// Manual backups kept now.
    #[serde(alias = "manual_backups_active", deserialize_with = "lenient_int")]
    pub manual_backups_active: Option<i64>,
    /// Scheduled backups kept now.
    #[serde(alias = "scheduled_backups_active", deserialize_with = "lenient_int")]
    pub scheduled_backups_active: Option<i64>,
    /// Slots left for scheduled backups.
    #[serde(alias = "available_scheduled_slots", deserialize_with = "lenient_int")]
    pub available_scheduled_slots: Option<i64>,
    /// Whether HostUp deletes the oldest backup to make room.
    #[serde(alias = "auto_delete_oldest")]
    pub auto_delete_oldest: Option<bool>,
}

/// Body of `POST /api/v2/vps/{id}/backup-schedules` (creates, or updates the schedule of the
/// same frequency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetBackupSchedule {
    /// daily, weekly or monthly.
    pub frequency: BackupFrequency,
    /// 0–23.
    pub hour: i64,
    /// 0–6, 0 = Sunday; weekly only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_of_week: Option<i64>,
    /// 1–31; monthly only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<i64>,
    /// At least 1.
    pub retention_count: i64,
    /// Whether it runs.
    pub enabled: bool,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Body of `PATCH /api/v2/vps/{id}/backup-schedules` (at least one field).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetBackupSettings {
    /// At least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_backups: Option<i64>,
    /// Whether HostUp deletes the oldest backup to make room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_delete_oldest: Option<bool>,
}

/// The schedule in a POST's answer, whatever its shape: the schedule itself, under `schedule`
/// or `data`, or in a `schedules` list (the one of `frequency`).
fn schedule_in(answer: &Value, frequency: &BackupFrequency) -> Option<BackupSchedule> {
    let parse = |v: &Value| {
        serde_json::from_value::<BackupSchedule>(v.clone())
            .ok()
            .filter(|s| !s.id.is_empty())
    };
    for key in ["schedule", "data"] {
        if let Some(s) = answer.get(key).filter(|v| v.is_object()).and_then(parse) {
            return Some(s);
        }
    }
    if let Some(list) = answer
        .get("schedules")
        .or_else(|| answer.get("data"))
        .and_then(Value::as_array)
    {
        return list
            .iter()
            .filter_map(parse)
            .find(|s| s.frequency.as_ref() == Some(frequency));
    }
    parse(answer)
}

/// The settings in a PATCH's answer: under `settings` or `data`, or the settings themselves.
fn settings_in(answer: &Value) -> Option<BackupSettings> {
    let v = answer
        .get("settings")
        .or_else(|| answer.get("data"))
        .unwrap_or(answer);
    serde_json::from_value(v.clone()).ok()
}

impl Client {
    /// `GET /api/v2/vps/{id}/snapshot-schedules`: the schedule (or none), slots and gate.
    pub async fn snapshot_schedule(&self, vps_id: &str) -> Result<SnapshotScheduleInfo, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshot-schedules"])?;
        let info = self.info(
            Method::GET,
            &url,
            "read the VPS's snapshot schedule",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// `POST /api/v2/vps/{id}/snapshot-schedules`: creates or replaces the schedule. HostUp
    /// answers with the schedule as it now is; `None` when it answered 204 or a body without
    /// a schedule (the caller reads it back).
    pub async fn set_snapshot_schedule(
        &self,
        vps_id: &str,
        req: &SetSnapshotSchedule,
    ) -> Result<Option<SnapshotScheduleInfo>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshot-schedules"])?;
        let info = self.info(
            Method::POST,
            &url,
            "set the VPS's snapshot schedule",
            Some(SCOPE_WRITE),
            Some(id),
            None,
        );
        let body = json_body(req)?;
        let answer: Option<Value> = self.write(Method::POST, url, Some(body), info).await?;
        Ok(answer
            .and_then(|v| serde_json::from_value::<SnapshotScheduleInfo>(v).ok())
            .filter(|s| s.schedule.is_some()))
    }

    /// `DELETE /api/v2/vps/{id}/snapshot-schedules`: removes the schedule (any 2xx answer,
    /// with or without a body, means done).
    pub async fn delete_snapshot_schedule(&self, vps_id: &str) -> Result<(), Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshot-schedules"])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the VPS's snapshot schedule",
            Some(SCOPE_WRITE),
            Some(id),
            None,
        );
        let _: Option<Value> = self.write(Method::DELETE, url, None, info).await?;
        Ok(())
    }

    /// `GET /api/v2/vps/{id}/backup-schedules`: the schedules, settings and gates.
    pub async fn backup_schedules(&self, vps_id: &str) -> Result<BackupSchedules, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backup-schedules"])?;
        let info = self.info(
            Method::GET,
            &url,
            "read the VPS's backup schedules",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// `POST /api/v2/vps/{id}/backup-schedules`: creates the schedule, or updates the one of
    /// the same frequency. The schedule HostUp answered with, when its answer holds one
    /// (`None`: the caller reads the list back).
    pub async fn set_backup_schedule(
        &self,
        vps_id: &str,
        req: &SetBackupSchedule,
    ) -> Result<Option<BackupSchedule>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backup-schedules"])?;
        let info = self.info(
            Method::POST,
            &url,
            "set a backup schedule of the VPS",
            Some(SCOPE_WRITE),
            Some(id),
            None,
        );
        let body = json_body(req)?;
        let answer: Option<Value> = self.write(Method::POST, url, Some(body), info).await?;
        Ok(answer.and_then(|v| schedule_in(&v, &req.frequency)))
    }

    /// `DELETE /api/v2/vps/{id}/backup-schedules/{scheduleId}`.
    pub async fn delete_backup_schedule(
        &self,
        vps_id: &str,
        schedule_id: &str,
    ) -> Result<(), Error> {
        let id = check_id("VPS id", vps_id)?;
        let sid = check_id("backup schedule id", schedule_id)?;
        let url = self.v2(&["vps", id, "backup-schedules", sid])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the backup schedule",
            Some(SCOPE_WRITE),
            Some(id),
            Some(sid),
        );
        let _: Option<Value> = self.write(Method::DELETE, url, None, info).await?;
        Ok(())
    }

    /// `PATCH /api/v2/vps/{id}/backup-schedules`: sets the backup settings; the settings as
    /// HostUp answered them, when it did.
    pub async fn set_backup_settings(
        &self,
        vps_id: &str,
        req: &SetBackupSettings,
    ) -> Result<Option<BackupSettings>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backup-schedules"])?;
        let info = self.info(
            Method::PATCH,
            &url,
            "set the VPS's backup settings",
            Some(SCOPE_WRITE),
            Some(id),
            None,
        );
        let body = json_body(req)?;
        let answer: Option<Value> = self.write(Method::PATCH, url, Some(body), info).await?;
        Ok(answer.and_then(|v| settings_in(&v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> SnapshotScheduleInfo {
        serde_json::from_value(v).expect("decodes")
    }

    #[test]
    fn a_schedule_is_read_in_every_plausible_form() {
        let camel = decode(json!({
            "schedule": {"enabled": true, "intervalHours": 6, "lastRun": null,
                         "nextRun": "2026-12-03T12:00:00.000Z", "createdAt": "x"},
            "limits": {"totalSnapshots": 3}, "available": true, "reason": null,
            "actions": {"canEnable": {"allowed": true, "reason": null, "code": null}}
        }));
        let s = camel.schedule.as_ref().unwrap();
        assert_eq!((s.enabled, s.interval_hours), (Some(true), Some(6)));
        assert_eq!(s.next_run.as_deref(), Some("2026-12-03T12:00:00.000Z"));
        assert_eq!(camel.total_snapshots(), Some(3));
        assert!(camel.can_enable().unwrap().allowed);

        let legacy = decode(json!({
            "data": {"id": 7, "vm_id": 10000, "enabled": false, "interval_hours": "12",
                     "retention_days": 1, "last_run": "2026-12-01T00:00:00Z", "next_run": null},
            "limits": {"totalSnapshots": 2.0}
        }));
        let s = legacy.schedule.as_ref().unwrap();
        assert_eq!((s.enabled, s.interval_hours), (Some(false), Some(12)));
        assert_eq!(s.last_run.as_deref(), Some("2026-12-01T00:00:00Z"));
        assert_eq!(legacy.total_snapshots(), Some(2));

        let none = decode(json!({"schedule": null, "available": false,
                                 "reason": "Snapshots are not part of the plan",
                                 "limits": {"totalSnapshots": 0}}));
        assert!(none.schedule.is_none());
        assert_eq!(none.available, Some(false));
        assert!(decode(json!({})).schedule.is_none());
    }

    fn schedule(v: Value) -> BackupSchedule {
        serde_json::from_value(v).expect("decodes")
    }

    #[test]
    fn a_backup_schedule_gives_its_hour_and_day_in_every_plausible_form() {
        let s = schedule(
            json!({"id": "bks_1", "frequency": "weekly", "time": "02:00",
                                "daySpecifier": "Monday", "retentionCount": "7"}),
        );
        assert_eq!(
            (s.run_hour(), s.weekday(), s.retention_count),
            (Some(2), Some(1), Some(7))
        );
        for (spec, day) in [("0", 0), ("7", 0), ("sun", 0), ("SATURDAY", 6), ("3", 3)] {
            let s = schedule(json!({"id": "bks_1", "daySpecifier": spec}));
            assert_eq!(s.weekday(), Some(day), "{spec}");
        }
        for spec in ["8", "mo", "someday"] {
            assert_eq!(
                schedule(json!({"id": "b", "daySpecifier": spec})).weekday(),
                None
            );
        }
        for (spec, day) in [
            ("1", Some(1)),
            ("15th", Some(15)),
            ("31", Some(31)),
            ("32", None),
        ] {
            let s = schedule(json!({"id": "b", "daySpecifier": spec}));
            assert_eq!(s.month_day(), day, "{spec}");
        }
        let direct = schedule(
            json!({"id": "b", "hour": 23, "dayOfWeek": 6, "dayOfMonth": 28,
                                     "time": null}),
        );
        assert_eq!(
            (direct.run_hour(), direct.weekday(), direct.month_day()),
            (Some(23), Some(6), Some(28))
        );
        assert_eq!(
            schedule(json!({"id": "b", "time": "14:30:00"})).run_hour(),
            Some(14)
        );
        assert_eq!(
            schedule(json!({"id": "b", "time": "25:00"})).run_hour(),
            None
        );
        let other = schedule(json!({"id": "b", "frequency": "hourly"}));
        assert_eq!(
            other.frequency,
            Some(BackupFrequency::Other("hourly".into()))
        );
    }

    #[test]
    fn a_post_answer_holds_the_schedule_in_any_shape() {
        let item = json!({"id": "bks_2", "frequency": "daily", "retentionCount": 3});
        let daily = BackupFrequency::Daily;
        for answer in [
            item.clone(),
            json!({"schedule": item.clone()}),
            json!({"data": item.clone()}),
            json!({"schedules": [{"id": "bks_1", "frequency": "weekly"}, item.clone()]}),
        ] {
            let s = schedule_in(&answer, &daily).expect("found");
            assert_eq!(s.id, "bks_2", "{answer}");
        }
        assert!(schedule_in(&json!({"ok": true}), &daily).is_none());
        let settings = json!({"totalBackupLimit": 5, "autoDeleteOldest": true});
        for answer in [json!({"settings": settings.clone()}), settings.clone()] {
            let got = settings_in(&answer).expect("settings");
            assert_eq!(
                (got.total_backup_limit, got.auto_delete_oldest),
                (Some(5), Some(true))
            );
        }
        let body = serde_json::to_value(SetBackupSchedule {
            frequency: BackupFrequency::Weekly,
            hour: 2,
            day_of_week: Some(0),
            day_of_month: None,
            retention_count: 7,
            enabled: true,
            name: None,
        })
        .unwrap();
        assert_eq!(
            body,
            json!({"frequency": "weekly", "hour": 2, "dayOfWeek": 0,
                                "retentionCount": 7, "enabled": true})
        );
    }

    #[test]
    fn the_request_body_is_hostups() {
        let body = serde_json::to_value(SetSnapshotSchedule {
            enabled: true,
            interval_hours: 6,
        })
        .unwrap();
        assert_eq!(body, json!({"enabled": true, "intervalHours": 6}));
    }
}
