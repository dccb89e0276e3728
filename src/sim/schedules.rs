//! The schedule endpoints of the HostUp API: reading their bodies and choosing their answers
//! (what the account does with them is in `state::snapshot_schedule`).
//!
//! A room of its own so `api` only routes to it; the choices for undocumented answers are in
//! docs/hostup-sim.md §3.9.

use http::Method;

use super::body::{check, parse_object, req_bool, req_number};
use super::config::SnapshotScheduleDelete;
use super::http::{Reply, Req};
use super::problem::ApiError;
use super::shared::Runtime;
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
