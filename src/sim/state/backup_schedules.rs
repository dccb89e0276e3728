//! Backup schedules and backup settings (reference §5.5): schedules of one VPS (`bks_…`, one
//! active at a time) that take `scheduled` backups within the VPS's backup limit, and the
//! settings (`maxTotalBackups`, `autoDeleteOldest`) that bound them.
//!
//! A room of its own because schedules are configuration with their own gate
//! (`canCreateSchedule`), their own rendering of days and hours, and an admin lever that runs one
//! now; the choices for what the reference leaves open are in docs/hostup-sim.md §3.10.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::gates::Gate;
use super::model::{backup_json, new_backup, Vps};
use super::State;
use crate::sim::clock::{iso, parse_iso};
use crate::sim::config::{DaySpecifier, GateCodeKey};
use crate::sim::fixture::FixtureBackupSchedule;
use crate::sim::ids::{is_public_id, new_id};
use crate::sim::problem::ApiError;

/// How often a backup schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

impl Frequency {
    pub const NAMES: &'static [&'static str] = &["daily", "weekly", "monthly"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    fn default_name(self) -> &'static str {
        match self {
            Self::Daily => "Daily backup",
            Self::Weekly => "Weekly backup",
            Self::Monthly => "Monthly backup",
        }
    }
}

const DAY_NAMES: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// What a schedule is asked to be (a POST body, or a fixture's schedule).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScheduleSpec {
    pub frequency: Frequency,
    pub hour: u8,
    /// 0–6, 0 = Sunday; weekly only.
    pub day_of_week: Option<u8>,
    /// 1–31; monthly only.
    pub day_of_month: Option<u8>,
    pub retention_count: u32,
    pub enabled: bool,
    pub name: Option<String>,
}

/// A backup schedule of a VPS.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackupSchedule {
    pub id: String,
    pub name: String,
    pub frequency: Frequency,
    pub hour: u8,
    pub day_of_week: Option<u8>,
    pub day_of_month: Option<u8>,
    pub retention_count: u32,
    pub enabled: bool,
    pub created_at: i64,
    pub last_run: Option<i64>,
}

/// A VPS's backup settings (`PATCH …/backup-schedules`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackupSettings {
    /// The total backup limit chosen by the customer (at most the plan's); none = the plan's.
    pub max_total_backups: Option<u32>,
    pub auto_delete_oldest: bool,
}

impl BackupSchedule {
    /// The schedule as the API shows it (docs/hostup-sim.md §3.10).
    pub fn json(&self, days: DaySpecifier) -> Value {
        let day = match (self.frequency, self.day_of_week, self.day_of_month) {
            (Frequency::Weekly, Some(d), _) => Some(match days {
                DaySpecifier::Name => DAY_NAMES[(d as usize) % 7].to_string(),
                DaySpecifier::Number => d.to_string(),
            }),
            (Frequency::Monthly, _, Some(d)) => Some(d.to_string()),
            _ => None,
        };
        json!({
            "id": self.id,
            "name": self.name,
            "frequency": self.frequency.as_str(),
            "time": format!("{:02}:00", self.hour),
            "daySpecifier": day,
            "retentionCount": self.retention_count,
            "enabled": self.enabled,
            "lastRun": self.last_run.map(iso),
        })
    }

    fn set(&mut self, spec: ScheduleSpec) {
        self.frequency = spec.frequency;
        self.hour = spec.hour;
        self.day_of_week = spec.day_of_week;
        self.day_of_month = spec.day_of_month;
        self.retention_count = spec.retention_count;
        self.enabled = spec.enabled;
        if let Some(n) = spec.name {
            self.name = n;
        }
    }
}

/// Whether a spec's days fit its frequency and every number is in range.
fn spec_error(s: &ScheduleSpec) -> Option<&'static str> {
    let days_fit = match s.frequency {
        Frequency::Daily => s.day_of_week.is_none() && s.day_of_month.is_none(),
        Frequency::Weekly => s.day_of_week.is_some_and(|d| d <= 6) && s.day_of_month.is_none(),
        Frequency::Monthly => {
            s.day_of_week.is_none() && s.day_of_month.is_some_and(|d| (1..=31).contains(&d))
        }
    };
    if s.hour > 23 {
        Some("hour must be 0-23")
    } else if !days_fit {
        Some("dayOfWeek is for weekly schedules (0-6), dayOfMonth for monthly ones (1-31)")
    } else if s.retention_count == 0 {
        Some("retentionCount must be at least 1")
    } else {
        None
    }
}

/// A fixture's backup schedules, checked as the API would check them.
pub(super) fn schedules_from_fixture(
    list: &[FixtureBackupSchedule],
) -> Result<Vec<BackupSchedule>, String> {
    let mut out: Vec<BackupSchedule> = Vec::new();
    for f in list {
        if !is_public_id("bks_", &f.id) {
            return Err(format!(
                "fixture backup schedule id {:?} is not bks_ + 26 lowercase base32 characters",
                f.id
            ));
        }
        let frequency = Frequency::parse(&f.frequency).ok_or_else(|| {
            format!(
                "fixture backup schedule {}: frequency must be one of {}",
                f.id,
                Frequency::NAMES.join(", ")
            )
        })?;
        let spec = ScheduleSpec {
            frequency,
            hour: f.hour,
            day_of_week: f.day_of_week,
            day_of_month: f.day_of_month,
            retention_count: f.retention_count,
            enabled: f.enabled,
            name: f.name.clone(),
        };
        if let Some(e) = spec_error(&spec) {
            return Err(format!("fixture backup schedule {}: {e}", f.id));
        }
        if spec.enabled && out.iter().any(|s| s.enabled) {
            return Err(format!(
                "fixture backup schedule {}: only one schedule per VPS may be enabled",
                f.id
            ));
        }
        let mut s = BackupSchedule {
            id: f.id.clone(),
            name: frequency.default_name().into(),
            frequency,
            hour: 0,
            day_of_week: None,
            day_of_month: None,
            retention_count: 1,
            enabled: false,
            created_at: 0,
            last_run: f.last_run.as_deref().map(parse_iso).transpose()?,
        };
        s.set(spec);
        out.push(s);
    }
    Ok(out)
}

impl Vps {
    /// The total backup limit in force: the settings' `maxTotalBackups` (never above the plan's
    /// limit), else the plan's; `None` = unlimited.
    pub(crate) fn backup_limit(&self) -> Option<u32> {
        match (
            self.plan.backup_limit,
            self.backup_settings.max_total_backups,
        ) {
            (Some(p), Some(m)) => Some(m.min(p)),
            (p, None) => p,
            (None, m) => m,
        }
    }

    fn count_backups(&self, kind: &str) -> u32 {
        self.backups
            .iter()
            .filter(|b| b.backup_type == kind)
            .count() as u32
    }

    /// The `settings` object of `…/backup-schedules`.
    pub(crate) fn backup_settings_json(&self) -> Value {
        let limit = self.backup_limit();
        let manual = self.count_backups("manual");
        json!({
            "totalBackupLimit": limit,
            "manualBackupsActive": manual,
            "scheduledBackupsActive": self.count_backups("scheduled"),
            "availableScheduledSlots": limit.map(|l| l.saturating_sub(manual)),
            "autoDeleteOldest": self.backup_settings.auto_delete_oldest,
        })
    }
}

impl State {
    /// `canCreateSchedule` (also checked by `PATCH`): closed by the service status and by a plan
    /// without backups; not by jobs or readiness (schedules are configuration).
    fn can_create_schedule_gate(v: &Vps) -> Gate {
        Self::service_gate(v)
            .or_else(|| {
                (v.plan.backup_limit == Some(0)).then(|| {
                    Gate::closed(
                        "feature_not_in_plan",
                        "Backups are not included in this VPS plan.".into(),
                    )
                })
            })
            .unwrap_or_else(Gate::open)
    }

    /// `GET /api/v2/vps/{id}/backup-schedules`.
    pub fn backup_schedules_body(
        &self,
        id: &str,
        days: DaySpecifier,
        gate_code: GateCodeKey,
    ) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        let schedules: Vec<Value> = v.backup_schedules.iter().map(|s| s.json(days)).collect();
        Ok(json!({
            "schedules": schedules,
            "settings": v.backup_settings_json(),
            "limits": {"maxActiveSchedules": 1, "minRetentionCount": 1},
            "actions": {"canCreateSchedule": Self::can_create_schedule_gate(v).json(gate_code)},
        }))
    }

    /// The plan's backup limit of a live VPS (bounds `maxTotalBackups`).
    pub fn plan_backup_limit(&self, id: &str) -> Result<Option<u32>, ApiError> {
        Ok(self.live_vps(id)?.plan.backup_limit)
    }

    /// `POST /api/v2/vps/{id}/backup-schedules` after body validation: the schedule of the same
    /// frequency is updated (`Ok((schedule, false))`), else a new one is made (`true`); when the
    /// result is enabled every other schedule is disabled (one active per VPS).
    pub fn put_backup_schedule(
        &mut self,
        id: &str,
        spec: ScheduleSpec,
        now: i64,
        days: DaySpecifier,
    ) -> Result<(Value, bool), ApiError> {
        let v = self.live_vps(id)?;
        Self::can_create_schedule_gate(v).check()?;
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        let frequency = spec.frequency;
        let enabled = spec.enabled;
        let created = !v.backup_schedules.iter().any(|s| s.frequency == frequency);
        if created {
            v.backup_schedules.push(BackupSchedule {
                id: new_id("bks_"),
                name: frequency.default_name().into(),
                frequency,
                hour: 0,
                day_of_week: None,
                day_of_month: None,
                retention_count: 1,
                enabled: false,
                created_at: now,
                last_run: None,
            });
        }
        let mut made = None;
        for s in v.backup_schedules.iter_mut() {
            if s.frequency == frequency {
                s.set(spec.clone());
                made = Some(s.json(days));
            } else if enabled {
                s.enabled = false;
            }
        }
        Ok((made.unwrap_or(Value::Null), created))
    }

    /// `DELETE /api/v2/vps/{id}/backup-schedules/{scheduleId}`.
    pub fn delete_backup_schedule(&mut self, id: &str, schedule_id: &str) -> Result<(), ApiError> {
        self.live_vps(id)?;
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        let before = v.backup_schedules.len();
        v.backup_schedules.retain(|s| s.id != schedule_id);
        if v.backup_schedules.len() == before {
            return Err(ApiError::backup_schedule_not_found());
        }
        Ok(())
    }

    /// `PATCH /api/v2/vps/{id}/backup-schedules` after body validation: answers `{settings}`.
    pub fn patch_backup_settings(
        &mut self,
        id: &str,
        max_total_backups: Option<u32>,
        auto_delete_oldest: Option<bool>,
    ) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        Self::can_create_schedule_gate(v).check()?;
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        if let Some(m) = max_total_backups {
            v.backup_settings.max_total_backups = Some(m);
        }
        if let Some(a) = auto_delete_oldest {
            v.backup_settings.auto_delete_oldest = a;
        }
        Ok(json!({"settings": v.backup_settings_json()}))
    }

    /// Runs a backup schedule now (admin API): a `scheduled` backup is added at once; with the
    /// limit reached the oldest backup makes room when `autoDeleteOldest` is on (else 409
    /// `backup_quota_exceeded`); scheduled backups beyond `retentionCount` go, oldest first.
    /// Answers the backup and the schedule.
    pub fn run_backup_schedule(
        &mut self,
        id: &str,
        schedule_id: &str,
        now: i64,
        days: DaySpecifier,
    ) -> Result<Value, ApiError> {
        let v = self.live_vps(id)?;
        let s = v
            .backup_schedules
            .iter()
            .find(|s| s.id == schedule_id)
            .ok_or_else(ApiError::backup_schedule_not_found)?;
        if !s.enabled {
            return Err(ApiError::conflict(
                "schedule_disabled",
                "The backup schedule is disabled.",
            ));
        }
        let retention = s.retention_count as usize;
        let full = v
            .backup_limit()
            .is_some_and(|l| v.backups.len() >= l as usize);
        if full && (!v.backup_settings.auto_delete_oldest || v.backups.is_empty()) {
            return Err(ApiError::conflict(
                "backup_quota_exceeded",
                "The backup limit is reached and autoDeleteOldest is off; the scheduled backup was not taken.",
            ));
        }
        let backup = new_backup(v, now, "scheduled", None);
        let rendered = backup_json(&backup);
        let v = self.vps.get_mut(id).ok_or_else(ApiError::vps_not_found)?;
        let oldest = |v: &Vps, kind: Option<&str>| {
            v.backups
                .iter()
                .filter(|b| kind.is_none_or(|k| b.backup_type == k))
                .min_by_key(|b| (b.created_at, b.id.clone()))
                .map(|b| b.id.clone())
        };
        if full {
            if let Some(old) = oldest(v, None) {
                v.backups.retain(|b| b.id != old);
            }
        }
        v.backups.push(backup);
        while v.count_backups("scheduled") as usize > retention {
            match oldest(v, Some("scheduled")) {
                Some(old) => v.backups.retain(|b| b.id != old),
                None => break,
            }
        }
        let s = v
            .backup_schedules
            .iter_mut()
            .find(|s| s.id == schedule_id)
            .ok_or_else(ApiError::backup_schedule_not_found)?;
        s.last_run = Some(now);
        Ok(json!({"backup": rendered, "schedule": s.json(days)}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::{BACKUP_APP, VPS_APP, VPS_FULL};
    use crate::sim::state::tests::state;

    fn spec(frequency: Frequency, enabled: bool) -> ScheduleSpec {
        ScheduleSpec {
            frequency,
            hour: 3,
            day_of_week: (frequency == Frequency::Weekly).then_some(1),
            day_of_month: (frequency == Frequency::Monthly).then_some(15),
            retention_count: 2,
            enabled,
            name: None,
        }
    }

    #[test]
    fn days_render_by_name_or_number() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let (w, created) = s
            .put_backup_schedule(
                VPS_APP,
                spec(Frequency::Weekly, true),
                t0,
                DaySpecifier::Name,
            )
            .unwrap();
        assert!(created);
        assert_eq!(w["daySpecifier"], "monday");
        assert_eq!(w["time"], "03:00");
        assert_eq!(w["name"], "Weekly backup");
        let n = s.vps[VPS_APP].backup_schedules[0].json(DaySpecifier::Number);
        assert_eq!(n["daySpecifier"], "1");
        let (m, _) = s
            .put_backup_schedule(
                VPS_APP,
                spec(Frequency::Monthly, false),
                t0,
                DaySpecifier::Name,
            )
            .unwrap();
        assert_eq!(m["daySpecifier"], "15");
        let (d, _) = s
            .put_backup_schedule(
                VPS_APP,
                spec(Frequency::Daily, false),
                t0,
                DaySpecifier::Name,
            )
            .unwrap();
        assert_eq!(d["daySpecifier"], Value::Null);
        // Disabled ones leave the active one alone.
        let active: Vec<_> = s.vps[VPS_APP]
            .backup_schedules
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.frequency)
            .collect();
        assert_eq!(active, [Frequency::Weekly]);
    }

    #[test]
    fn runs_keep_retention_and_the_limit() {
        let t0 = 1_800_000_000_000; // 2027, after the fixture backups
        let mut s = state(t0);
        let days = DaySpecifier::Name;
        // db-01: limit 2, both used, a daily schedule (retention 2), autoDeleteOldest on.
        let sid = s.vps[VPS_FULL].backup_schedules[0].id.clone();
        let ran = s.run_backup_schedule(VPS_FULL, &sid, t0, days).unwrap();
        assert_eq!(ran["backup"]["backupType"], "scheduled");
        let v = &s.vps[VPS_FULL];
        assert_eq!(v.backups.len(), 2, "the oldest made room");
        assert!(v
            .backups
            .iter()
            .any(|b| b.id == "bkp_01hxa3b4c5d6e7f8g9h0j1k2n2"));
        s.patch_backup_settings(VPS_FULL, None, Some(false))
            .unwrap();
        assert_eq!(
            s.run_backup_schedule(VPS_FULL, &sid, t0 + 1, days)
                .unwrap_err()
                .code,
            "backup_quota_exceeded"
        );
        // app-01: limit 3, one scheduled backup; retention 1 keeps only the newest.
        let (w, _) = s
            .put_backup_schedule(
                VPS_APP,
                ScheduleSpec {
                    retention_count: 1,
                    ..spec(Frequency::Daily, true)
                },
                t0,
                days,
            )
            .unwrap();
        let sid = w["id"].as_str().unwrap().to_string();
        let ran = s.run_backup_schedule(VPS_APP, &sid, t0 + 5, days).unwrap();
        let v = &s.vps[VPS_APP];
        assert_eq!(v.backups.len(), 1);
        assert!(v.backups.iter().all(|b| b.id != BACKUP_APP));
        assert_eq!(ran["schedule"]["lastRun"], iso(t0 + 5));
    }

    #[test]
    fn settings_bound_the_limit() {
        let t0 = 1_000_000;
        let mut s = state(t0);
        let v = &s.vps[VPS_APP];
        assert_eq!(v.backup_limit(), Some(3));
        let body = s.patch_backup_settings(VPS_APP, Some(1), None).unwrap();
        assert_eq!(
            body,
            json!({"settings": {"totalBackupLimit": 1, "manualBackupsActive": 0,
                "scheduledBackupsActive": 1, "availableScheduledSlots": 1, "autoDeleteOldest": false}})
        );
        let (create, _) = s.backup_gates(&s.vps[VPS_APP], None);
        assert_eq!(create.code.as_deref(), Some("backup_quota_exceeded"));
    }
}
