//! The schedule endpoints of the HostUp API: reading their bodies and choosing their answers
//! (what the account does with them is in `state::snapshot_schedule` and
//! `state::backup_schedules`).
//!
//! A room of its own so `api` only routes to it; the choices for undocumented answers are in
//! docs/hostup-sim.md §3.9 and §3.10.

use http::Method;
use serde_json::{json, Map, Value};

use super::body::{
    check, missing, opt_bool, opt_string, opt_whole, parse_object, req_bool, req_number, req_whole,
};
use super::config::SnapshotScheduleDelete;
use super::http::{Reply, Req};
use super::problem::{ApiError, FieldError};
use super::shared::Runtime;
use super::state::backup_schedules::{Frequency, ScheduleSpec};
use super::state::snapshot_schedule::clamp_interval;
use super::state::State;

/// `GET|POST|DELETE /api/v2/vps/{id}/snapshot-schedules`.
pub(crate) fn snapshot_schedules(
    state: &mut State,
    id: &str,
    req: &Req,
    rt: &Runtime,
    now: i64,
) -> Result<Reply, ApiError> {
    let shape = rt.snapshot_schedule_shape;
    let body = |state: &State| state.snapshot_schedule_body(id, shape, rt.gate_code_key);
    match req.method {
        Method::GET => Ok(Reply::json(200, &body(state)?)),
        Method::POST => {
            state.require_vps(id)?;
            let m = parse_object(&req.body, false)?;
            let mut errors = Vec::new();
            let enabled = req_bool(&m, "enabled", &mut errors);
            let hours = req_number(&m, "intervalHours", &mut errors);
            check(errors)?;
            let (Some(enabled), Some(hours)) = (enabled, hours) else {
                return Err(ApiError::invalid_request(Vec::new()));
            };
            state.set_snapshot_schedule(id, enabled, clamp_interval(hours), now)?;
            Ok(Reply::json(200, &body(state)?))
        }
        _ => {
            state.delete_snapshot_schedule(id)?;
            Ok(match rt.snapshot_schedule_delete {
                SnapshotScheduleDelete::Empty => Reply::empty(204),
                SnapshotScheduleDelete::Body => Reply::json(200, &body(state)?),
            })
        }
    }
}

/// `GET|POST|PATCH /api/v2/vps/{id}/backup-schedules`.
pub(crate) fn backup_schedules(
    state: &mut State,
    id: &str,
    req: &Req,
    rt: &Runtime,
    now: i64,
) -> Result<Reply, ApiError> {
    let days = rt.day_specifier;
    match req.method {
        Method::GET => Ok(Reply::json(
            200,
            &state.backup_schedules_body(id, days, rt.gate_code_key)?,
        )),
        Method::POST => {
            state.require_vps(id)?;
            let m = parse_object(&req.body, false)?;
            let spec = schedule_spec(&m)?;
            let (schedule, created) = state.put_backup_schedule(id, spec, now, days)?;
            let status = if created { 201 } else { 200 };
            Ok(Reply::json(status, &json!({ "schedule": schedule })))
        }
        _ => {
            let plan_limit = state.plan_backup_limit(id)?;
            let m = parse_object(&req.body, false)?;
            let mut errors = Vec::new();
            let max = plan_limit.map_or(MAX_COUNT, |l| i64::from(l.max(1)));
            let total = opt_whole(&m, "maxTotalBackups", 1, max, &mut errors);
            let auto = opt_bool(&m, "autoDeleteOldest", &mut errors);
            check(errors)?;
            if total.is_none() && auto.is_none() {
                return Err(ApiError::invalid_request(vec![FieldError::new(
                    "",
                    "At least one of `maxTotalBackups` and `autoDeleteOldest` is required.",
                    "missing_required",
                )]));
            }
            let total = total.map(|t| t as u32);
            Ok(Reply::json(
                200,
                &state.patch_backup_settings(id, total, auto)?,
            ))
        }
    }
}

/// `DELETE /api/v2/vps/{id}/backup-schedules/{scheduleId}` → 204.
pub(crate) fn backup_schedule(
    state: &mut State,
    id: &str,
    schedule_id: &str,
) -> Result<Reply, ApiError> {
    state.delete_backup_schedule(id, schedule_id)?;
    Ok(Reply::empty(204))
}

/// A bound for counts that have no documented maximum (keeps numbers in `u32`).
const MAX_COUNT: i64 = 1_000_000;

/// Reads a backup schedule body: `frequency`, `hour`, `dayOfWeek` (weekly only), `dayOfMonth`
/// (monthly only), `retentionCount`, `enabled`, `name?`.
fn schedule_spec(m: &Map<String, Value>) -> Result<ScheduleSpec, ApiError> {
    let mut errors = Vec::new();
    let frequency = match m.get("frequency") {
        None | Some(Value::Null) => {
            errors.push(missing("frequency"));
            None
        }
        Some(Value::String(f)) => {
            let parsed = Frequency::parse(f);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "/frequency",
                    format!(
                        "`frequency` must be one of {}.",
                        Frequency::NAMES.join(", ")
                    ),
                    "invalid_enum",
                ));
            }
            parsed
        }
        Some(_) => {
            errors.push(FieldError::new(
                "/frequency",
                "`frequency` must be a string.",
                "invalid_type",
            ));
            None
        }
    };
    let hour = req_whole(m, "hour", 0, 23, &mut errors);
    let mut day = |field: &str, wanted: Option<Frequency>, min: i64, max: i64| {
        let needed = wanted.is_some() && frequency == wanted;
        let given = !matches!(m.get(field), None | Some(Value::Null));
        match (needed, given) {
            (true, _) => req_whole(m, field, min, max, &mut errors),
            (false, true) if frequency.is_some() => {
                errors.push(FieldError::new(
                    &format!("/{field}"),
                    format!(
                        "`{field}` is only allowed for {} schedules.",
                        wanted.map_or("", Frequency::as_str)
                    ),
                    "not_allowed",
                ));
                None
            }
            _ => None,
        }
    };
    let day_of_week = day("dayOfWeek", Some(Frequency::Weekly), 0, 6);
    let day_of_month = day("dayOfMonth", Some(Frequency::Monthly), 1, 31);
    let retention = req_whole(m, "retentionCount", 1, MAX_COUNT, &mut errors);
    let enabled = req_bool(m, "enabled", &mut errors);
    let name = opt_string(m, "name", 100, &mut errors);
    check(errors)?;
    match (frequency, hour, retention, enabled) {
        (Some(frequency), Some(hour), Some(retention), Some(enabled)) => Ok(ScheduleSpec {
            frequency,
            hour: hour as u8,
            day_of_week: day_of_week.map(|d| d as u8),
            day_of_month: day_of_month.map(|d| d as u8),
            retention_count: retention as u32,
            enabled,
            name,
        }),
        _ => Err(ApiError::invalid_request(Vec::new())),
    }
}
