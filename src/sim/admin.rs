//! The admin API under `/_sim/`: what tests use to look inside the simulator and steer it
//! (request log, counters, faults, run-time config, reset, state dump, forcing jobs, expiring
//! snapshots). It needs no key, and is never logged, counted, rate limited or faulted, so that
//! observing a test never changes what it observes.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::api::{job_body, JobView};
use super::clock::now_ms;
use super::config::{
    DaySpecifier, GateCodeKey, JobInitialStatus, JobShape, JobTypes, SnapshotDeleteMode,
    SnapshotScheduleDelete, SnapshotScheduleShape, SnapshotVisibility, VmIdForm,
};
use super::faults::{FaultEngine, Faults};
use super::http::{ok, Reply, Req};
use super::problem::{ApiError, FieldError};
use super::shared::{Inner, LogEntry, Shared};
use super::state::model::{POWER_STATES, SERVICE_STATUSES};

/// The VPS's entry of the state dump (what `PATCH /_sim/vps/{id}` and terminate answer).
fn vps_dump(inner: &Inner, id: &str) -> Reply {
    let dump = inner.state.dump(now_ms());
    let entry = dump["vps"]
        .as_array()
        .and_then(|l| l.iter().find(|v| v["id"] == id))
        .cloned()
        .unwrap_or_default();
    Reply::json(200, &entry)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigPatch {
    job_duration_ms: Option<i64>,
    snapshot_ttl_ms: Option<i64>,
    job_shape: Option<JobShape>,
    snapshot_delete: Option<SnapshotDeleteMode>,
    rate_limit: Option<u32>,
    rate_window_ms: Option<i64>,
    job_initial_status: Option<JobInitialStatus>,
    gate_code_key: Option<GateCodeKey>,
    snapshot_visibility: Option<SnapshotVisibility>,
    job_types: Option<JobTypes>,
    vm_id: Option<VmIdForm>,
    has_more: Option<bool>,
    snapshot_schedule_shape: Option<SnapshotScheduleShape>,
    snapshot_schedule_delete: Option<SnapshotScheduleDelete>,
    day_specifier: Option<DaySpecifier>,
}

/// Body of `PATCH /_sim/vps/{id}`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VpsPatch {
    service_status: Option<String>,
    /// Absent = unchanged; `null` = no power state.
    #[serde(default, deserialize_with = "present")]
    power_state: Option<Option<String>>,
    revert_after_ms: Option<i64>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FailBody {
    message: Option<String>,
}

fn bad_body(detail: String) -> ApiError {
    ApiError::invalid_request(vec![FieldError::new("", detail, "invalid_request")])
}

fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| bad_body(format!("Invalid body: {e}.")))
}

/// Handles one admin request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Reply {
    match route(shared, req) {
        Ok(r) => r,
        Err(e) => Reply::problem(&e, &req.path, &req.request_id),
    }
}

fn route(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let segs: Vec<&str> = req
        .path
        .trim_start_matches("/_sim")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let m = &req.method;
    let mut inner = shared.lock();
    shared.advance(&mut inner);
    let reply = match (m, segs.as_slice()) {
        (&Method::GET, ["health"]) => ok(),
        (&Method::GET, ["requests"]) => {
            let since: u64 =
                url::form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "since")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
            let list: Vec<&LogEntry> = inner.log.iter().filter(|e| e.seq > since).collect();
            Reply::json(200, &json!({"requests": list}))
        }
        (&Method::DELETE, ["requests"]) => {
            inner.log.clear();
            inner.counters.clear();
            ok()
        }
        (&Method::GET, ["counters"]) => Reply::json(200, &json!(inner.counters)),
        (&Method::GET, ["faults"]) => Reply::json(200, &json!(inner.faults.faults)),
        (&Method::POST | &Method::PUT, ["faults"]) => {
            let f: Faults = parse(&req.body)?;
            f.validate().map_err(bad_body)?;
            inner.faults = FaultEngine::new(f);
            Reply::json(200, &json!(inner.faults.faults))
        }
        (&Method::DELETE, ["faults"]) => {
            inner.faults = FaultEngine::new(Faults::default());
            ok()
        }
        (&Method::GET, ["config"]) => Reply::json(200, &json!(inner.rt)),
        (&Method::PATCH | &Method::POST, ["config"]) => {
            let p: ConfigPatch = parse(&req.body)?;
            let neg = |v: Option<i64>, name: &str| match v {
                Some(x) if x < 0 => Err(bad_body(format!("`{name}` must not be negative."))),
                _ => Ok(()),
            };
            neg(p.job_duration_ms, "jobDurationMs")?;
            neg(p.snapshot_ttl_ms, "snapshotTtlMs")?;
            neg(p.rate_window_ms, "rateWindowMs")?;
            let rt = &mut inner.rt;
            if let Some(v) = p.job_duration_ms {
                rt.job_duration_ms = v;
            }
            if let Some(v) = p.snapshot_ttl_ms {
                rt.snapshot_ttl_ms = v;
            }
            if let Some(v) = p.job_shape {
                rt.job_shape = v;
            }
            if let Some(v) = p.snapshot_delete {
                rt.snapshot_delete = v;
            }
            if let Some(v) = p.rate_limit {
                rt.rate_limit = v;
            }
            if let Some(v) = p.rate_window_ms {
                rt.rate_window_ms = v.max(1);
            }
            if let Some(v) = p.job_initial_status {
                rt.job_initial_status = v;
            }
            if let Some(v) = p.gate_code_key {
                rt.gate_code_key = v;
            }
            if let Some(v) = p.snapshot_visibility {
                rt.snapshot_visibility = v;
            }
            if let Some(v) = p.job_types {
                rt.job_types = v;
            }
            if let Some(v) = p.vm_id {
                rt.vm_id = v;
            }
            if let Some(v) = p.has_more {
                rt.has_more = v;
            }
            if let Some(v) = p.snapshot_schedule_shape {
                rt.snapshot_schedule_shape = v;
            }
            if let Some(v) = p.snapshot_schedule_delete {
                rt.snapshot_schedule_delete = v;
            }
            if let Some(v) = p.day_specifier {
                rt.day_specifier = v;
            }
            inner.windows.clear();
            Reply::json(200, &json!(inner.rt))
        }
        (&Method::POST, ["reset"]) => {
            *inner = shared
                .fresh_inner()
                .map_err(|e| ApiError::new(500, "internal_error", "Internal server error", e))?;
            shared.save(&inner);
            ok()
        }
        (&Method::GET, ["state"]) => Reply::json(200, &inner.state.dump(now_ms())),
        (&Method::POST, ["jobs", id, action @ ("complete" | "fail")]) => {
            let fail = if *action == "fail" {
                let b: FailBody = parse(&req.body)?;
                Some(b.message.unwrap_or_default())
            } else {
                None
            };
            let ttl = inner.rt.snapshot_ttl_ms;
            inner.state.force(id, fail, now_ms(), ttl)?;
            shared.save(&inner);
            let job = inner
                .state
                .jobs
                .get(*id)
                .ok_or_else(ApiError::job_not_found)?;
            let view = JobView {
                shape: JobShape::Bare,
                ..JobView::of(&inner.rt)
            };
            Reply::json(200, &job_body(job, now_ms(), &view, &req.request_id))
        }
        (&Method::DELETE, ["jobs", id]) => {
            inner.state.forget_job(id)?;
            shared.save(&inner);
            ok()
        }
        (&Method::PATCH, ["vps", id]) => {
            let p: VpsPatch = parse(&req.body)?;
            if let Some(s) = &p.service_status {
                if !SERVICE_STATUSES.contains(&s.as_str()) {
                    return Err(bad_body(format!(
                        "`serviceStatus` must be one of {}.",
                        SERVICE_STATUSES.join(", ")
                    )));
                }
            }
            if let Some(Some(s)) = &p.power_state {
                if !POWER_STATES.contains(&s.as_str()) {
                    return Err(bad_body(format!(
                        "`powerState` must be null or one of {}.",
                        POWER_STATES.join(", ")
                    )));
                }
            }
            match p.revert_after_ms {
                Some(ms) if ms < 0 => {
                    return Err(bad_body("`revertAfterMs` must not be negative.".into()))
                }
                Some(_) if p.power_state.is_none() => {
                    return Err(bad_body("`revertAfterMs` needs `powerState`.".into()))
                }
                _ => {}
            }
            let ttl = inner.rt.snapshot_ttl_ms;
            inner.state.set_vps(
                id,
                p.service_status,
                p.power_state,
                p.revert_after_ms,
                now_ms(),
                ttl,
            )?;
            shared.save(&inner);
            vps_dump(&inner, id)
        }
        (&Method::POST, ["vps", id, "terminate"]) => {
            let ttl = inner.rt.snapshot_ttl_ms;
            inner.state.terminate(id, now_ms(), ttl)?;
            shared.save(&inner);
            vps_dump(&inner, id)
        }
        (&Method::DELETE, ["vps", id]) => {
            let ttl = inner.rt.snapshot_ttl_ms;
            inner.state.remove_vps(id, now_ms(), ttl)?;
            shared.save(&inner);
            ok()
        }
        (_, ["vps", _]) | (_, ["vps", _, "terminate"]) => {
            return Err(ApiError::method_not_allowed())
        }
        (&Method::POST, ["vps", id, "snapshot-schedule", "run"]) => {
            let (ttl, shape) = (inner.rt.snapshot_ttl_ms, inner.rt.snapshot_schedule_shape);
            let ran = inner
                .state
                .run_snapshot_schedule(id, now_ms(), ttl, shape)?;
            shared.save(&inner);
            Reply::json(200, &ran)
        }
        (&Method::POST, ["vps", id, "backup-schedules", sid, "run"]) => {
            let days = inner.rt.day_specifier;
            let ran = inner.state.run_backup_schedule(id, sid, now_ms(), days)?;
            shared.save(&inner);
            Reply::json(200, &ran)
        }
        (&Method::POST, ["vps", id, "snapshots", name, "expire"]) => {
            inner.state.expire_snapshot(id, name)?;
            shared.save(&inner);
            ok()
        }
        (_, ["health" | "requests" | "counters" | "faults" | "config" | "reset" | "state"]) => {
            return Err(ApiError::method_not_allowed())
        }
        _ => return Err(ApiError::not_found()),
    };
    Ok(reply)
}
