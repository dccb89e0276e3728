//! Action gates: whether the VPS allows taking or restoring a snapshot or backup now, and why
//! not, as the snapshot and backup lists show them and as the actions refuse with 409.
//!
//! A room of its own because the lists, the actions and the request pipeline's busy faults must
//! all give the same answer, in the same order of reasons (service, plan, readiness, a job in
//! flight, slots and quota).

use serde_json::{json, Value};

use super::model::{Vps, NOT_READY_POWER_STATES};
use super::State;
use crate::sim::config::GateCodeKey;
use crate::sim::problem::ApiError;

/// An action gate as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Gate {
    pub allowed: bool,
    pub reason: Option<String>,
    pub code: Option<String>,
}

impl Gate {
    pub fn open() -> Self {
        Self {
            allowed: true,
            reason: None,
            code: None,
        }
    }
    pub fn closed(code: &str, reason: String) -> Self {
        Self {
            allowed: false,
            reason: Some(reason),
            code: Some(code.to_string()),
        }
    }
    /// The gate as the API shows it; a gate without a code shows `"code": null` or no `code`
    /// key, as `mode` says.
    pub fn json(&self, mode: GateCodeKey) -> Value {
        match (&self.code, mode) {
            (None, GateCodeKey::Omit) => json!({"allowed": self.allowed, "reason": self.reason}),
            _ => json!({"allowed": self.allowed, "reason": self.reason, "code": self.code}),
        }
    }
    /// 409 with the gate's code when closed.
    pub fn check(&self) -> Result<(), ApiError> {
        match (self.allowed, &self.code) {
            (true, _) => Ok(()),
            (false, code) => Err(ApiError::conflict(
                code.as_deref().unwrap_or("conflict"),
                self.reason.clone().unwrap_or_default(),
            )),
        }
    }
}

/// Detail/reason text of a VPS-busy signal with `code` (busy faults, docs/hostup-sim.md §4.1).
pub(crate) fn busy_reason(code: &str) -> String {
    match code {
        "job_in_progress" => {
            "Another operation is in progress on this VPS (started elsewhere).".into()
        }
        "vps_not_ready" => {
            "The VPS is not ready: provisioning or a power operation is in progress.".into()
        }
        other => format!("The VPS is busy ({other})."),
    }
}

pub(super) const NO_SNAPSHOTS: &str =
    "Snapshots are not included in this VPS plan. Add snapshot slots to enable snapshots.";
const NO_BACKUPS: &str = "Backups are not included in this VPS plan.";

impl State {
    fn not_ready_gate(v: &Vps) -> Option<Gate> {
        let p = v.power_state.as_deref()?;
        NOT_READY_POWER_STATES.contains(&p).then(|| {
            Gate::closed(
                "vps_not_ready",
                format!("The VPS is not ready (power state: {p}). Try again once it has settled."),
            )
        })
    }

    /// The gate every action shares once service and plan allow it: not ready, a forced busy
    /// gate (fault), or a job in flight.
    pub(super) fn readiness_gate(&self, v: &Vps, forced: Option<&Gate>) -> Option<Gate> {
        Self::not_ready_gate(v)
            .or_else(|| forced.cloned())
            .or_else(|| self.busy_gate(v))
    }

    pub(super) fn service_gate(v: &Vps) -> Option<Gate> {
        match v.service_status.as_str() {
            "active" => None,
            "pending" => Some(Gate::closed(
                "pending_order",
                "The service has a pending order. Actions become available once it is active."
                    .into(),
            )),
            "suspended" => Some(Gate::closed(
                "service_suspended",
                "The service is suspended.".into(),
            )),
            other => Some(Gate::closed(
                "service_inactive",
                format!("The service is not active (status: {other})."),
            )),
        }
    }

    fn busy_gate(&self, v: &Vps) -> Option<Gate> {
        self.busy_job(&v.id).map(|j| {
            Gate::closed(
                "job_in_progress",
                format!("Another operation is in progress on this VPS (job {j})."),
            )
        })
    }

    /// `(canCreate, canRestore)` of the snapshot list.
    pub fn snapshot_gates(&self, v: &Vps, forced: Option<&Gate>) -> (Gate, Gate) {
        let base = Self::service_gate(v)
            .or_else(|| {
                (v.plan.snapshot_slots == 0)
                    .then(|| Gate::closed("feature_not_in_plan", NO_SNAPSHOTS.into()))
            })
            .or_else(|| self.readiness_gate(v, forced));
        if let Some(g) = base {
            return (g.clone(), g);
        }
        let used = v.snapshots.len() as u32;
        let create = if used >= v.plan.snapshot_slots {
            Gate::closed(
                "snapshot_limit_reached",
                format!(
                    "All {} snapshot slots are in use. Delete a snapshot or add snapshot slots.",
                    v.plan.snapshot_slots
                ),
            )
        } else {
            Gate::open()
        };
        (create, Gate::open())
    }

    /// `(canCreateBackup, canRestore)` of the backup list.
    pub fn backup_gates(&self, v: &Vps, forced: Option<&Gate>) -> (Gate, Gate) {
        let base = Self::service_gate(v)
            .or_else(|| {
                (v.plan.backup_limit == Some(0))
                    .then(|| Gate::closed("feature_not_in_plan", NO_BACKUPS.into()))
            })
            .or_else(|| self.readiness_gate(v, forced));
        if let Some(g) = base {
            return (g.clone(), g);
        }
        let create = match v.backup_limit() {
            Some(limit) if v.backups.len() as u32 >= limit => Gate::closed(
                "backup_quota_exceeded",
                format!("The backup quota of {limit} is used up. Delete a backup to free quota."),
            ),
            _ => Gate::open(),
        };
        (create, Gate::open())
    }

    /// `canRestoreFromAnotherVps` of the backup list: closed while the service is not active,
    /// the VPS is not ready or a job runs on it; this VPS's own backup plan and quota do not
    /// matter (the backup is another VPS's).
    pub fn restore_from_another_gate(&self, v: &Vps, forced: Option<&Gate>) -> Gate {
        Self::service_gate(v)
            .or_else(|| self.readiness_gate(v, forced))
            .unwrap_or_else(Gate::open)
    }
}
