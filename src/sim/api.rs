//! The HostUp API proper: route table, rate limit, authentication, scopes, and the handlers.
//!
//! Written from HostUp's public API reference; every choice for an undocumented detail is listed
//! in docs/hostup-sim.md ("Choices for undocumented behaviour").

use http::{HeaderMap, Method};
use serde_json::{json, Value};

use super::body::{opt_string, parse_object};
use super::clock::{iso, now_ms};
use super::config::{JobInitialStatus, JobShape, JobTypes, SnapshotDeleteMode, VmIdForm};
use super::http::{Reply, Req};
use super::keys::has_scope;
use super::problem::{ApiError, FieldError};
use super::restores;
use super::schedules;
use super::shared::{Inner, Runtime, Shared};
use super::state::endpoints::{decode_cursor, ListQuery, View};
use super::state::gates::Gate;
use super::state::job::{Job, JobType, Status};
use super::state::model::{valid_snapshot_name, vmid_for};
use super::state::Created;

/// Which endpoint a path names, with its path parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Endpoint {
    ListVps,
    Vps(String),
    Snapshots(String),
    Snapshot(String, String),
    SnapshotRestore(String, String),
    Backups(String),
    Backup(String, String),
    BackupRestore(String, String),
    RestoreFromVps(String),
    RestoreSources(String),
    SnapshotSchedules(String),
    BackupSchedules(String),
    BackupSchedule(String, String),
    Job(String),
}

/// A classified path: endpoint plus the route template used by counters and fault patterns.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub endpoint: Endpoint,
    pub template: &'static str,
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Maps a path to an endpoint; `None` for paths the API does not have.
pub(crate) fn classify(path: &str) -> Option<Route> {
    let segs: Vec<String> = path.strip_prefix('/')?.split('/').map(pct_decode).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if s.iter().any(|x| x.is_empty()) {
        return None;
    }
    let r = |endpoint, template| Some(Route { endpoint, template });
    match s.as_slice() {
        ["api", "jobs", j] => r(Endpoint::Job(j.to_string()), "/api/jobs/{jobId}"),
        ["api", "v2", "vps"] => r(Endpoint::ListVps, "/api/v2/vps"),
        ["api", "v2", "vps", id] => r(Endpoint::Vps(id.to_string()), "/api/v2/vps/{id}"),
        ["api", "v2", "vps", id, "snapshots"] => r(
            Endpoint::Snapshots(id.to_string()),
            "/api/v2/vps/{id}/snapshots",
        ),
        ["api", "v2", "vps", id, "snapshots", n] => r(
            Endpoint::Snapshot(id.to_string(), n.to_string()),
            "/api/v2/vps/{id}/snapshots/{snapshotId}",
        ),
        ["api", "v2", "vps", id, "snapshots", n, "actions", "restore"] => r(
            Endpoint::SnapshotRestore(id.to_string(), n.to_string()),
            "/api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore",
        ),
        ["api", "v2", "vps", id, "snapshot-schedules"] => r(
            Endpoint::SnapshotSchedules(id.to_string()),
            "/api/v2/vps/{id}/snapshot-schedules",
        ),
        ["api", "v2", "vps", id, "backup-schedules"] => r(
            Endpoint::BackupSchedules(id.to_string()),
            "/api/v2/vps/{id}/backup-schedules",
        ),
        ["api", "v2", "vps", id, "backup-schedules", s] => r(
            Endpoint::BackupSchedule(id.to_string(), s.to_string()),
            "/api/v2/vps/{id}/backup-schedules/{scheduleId}",
        ),
        ["api", "v2", "vps", id, "backups"] => r(
            Endpoint::Backups(id.to_string()),
            "/api/v2/vps/{id}/backups",
        ),
        ["api", "v2", "vps", id, "backups", "restore-sources"] => r(
            Endpoint::RestoreSources(id.to_string()),
            "/api/v2/vps/{id}/backups/restore-sources",
        ),
        ["api", "v2", "vps", id, "backups", "actions", "restore-from-vps"] => r(
            Endpoint::RestoreFromVps(id.to_string()),
            "/api/v2/vps/{id}/backups/actions/restore-from-vps",
        ),
        ["api", "v2", "vps", id, "backups", b] => r(
            Endpoint::Backup(id.to_string(), b.to_string()),
            "/api/v2/vps/{id}/backups/{backupId}",
        ),
        ["api", "v2", "vps", id, "backups", b, "actions", "restore"] => r(
            Endpoint::BackupRestore(id.to_string(), b.to_string()),
            "/api/v2/vps/{id}/backups/{backupId}/actions/restore",
        ),
        _ => None,
    }
}

/// The methods an endpoint answers.
fn allowed(e: &Endpoint) -> &'static [Method] {
    match e {
        Endpoint::ListVps | Endpoint::Vps(_) | Endpoint::Job(_) => &[Method::GET],
        Endpoint::Snapshots(_) | Endpoint::Backups(_) => &[Method::GET, Method::POST],
        Endpoint::Snapshot(..) | Endpoint::Backup(..) => &[Method::DELETE],
        Endpoint::SnapshotRestore(..)
        | Endpoint::BackupRestore(..)
        | Endpoint::RestoreFromVps(_) => &[Method::POST],
        Endpoint::RestoreSources(_) => &[Method::GET],
        Endpoint::SnapshotSchedules(_) => &[Method::GET, Method::POST, Method::DELETE],
        Endpoint::BackupSchedules(_) => &[Method::GET, Method::POST, Method::PATCH],
        Endpoint::BackupSchedule(..) => &[Method::DELETE],
    }
}

/// The scope an endpoint needs (`None` = any valid key): reads `read:vm`, schedule changes
/// `write:vm`, snapshot and backup actions `backup:vm` (docs/hostup-sim.md §2).
fn scope_for(e: &Endpoint, m: &Method) -> Option<&'static str> {
    match e {
        Endpoint::Job(_) => None,
        Endpoint::RestoreSources(_) => Some("backup:vm"),
        _ if *m == Method::GET => Some("read:vm"),
        Endpoint::SnapshotSchedules(_)
        | Endpoint::BackupSchedules(_)
        | Endpoint::BackupSchedule(..) => Some("write:vm"),
        _ => Some("backup:vm"),
    }
}

/// The key a request presents: `Authorization: Bearer …` or `X-API-Key`.
pub(crate) fn presented_key(h: &HeaderMap) -> Option<String> {
    if let Some(v) = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or("");
        return Some(token.to_string());
    }
    h.get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// Rate-limit bookkeeping for one request: `Err` = 429 answer. Returns the headers to add.
fn rate_limit(
    inner: &mut Inner,
    bucket: &str,
    now: i64,
) -> Result<Vec<(&'static str, String)>, (u64, i64)> {
    let limit = inner.rt.rate_limit;
    if limit == 0 {
        return Ok(Vec::new());
    }
    // A fixed window per key that opens with the key's first request, so a window never splits
    // a burst at an arbitrary wall-clock boundary.
    let window = inner.rt.rate_window_ms.max(1);
    let entry = inner.windows.entry(bucket.to_string()).or_insert((now, 0));
    if now >= entry.0 + window {
        *entry = (now, 0);
    }
    let reset = entry.0 + window;
    if entry.1 >= limit {
        let secs = ((reset - now).max(0) as u64).div_ceil(1000).max(1);
        return Err((secs, reset));
    }
    entry.1 += 1;
    Ok(vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", (limit - entry.1).to_string()),
        ("x-ratelimit-reset", iso(reset)),
    ])
}

/// Whether a route is a gate read (a list that carries action gates).
pub(crate) fn is_gate_read(route: Option<&Route>, method: &Method) -> bool {
    *method == Method::GET
        && route
            .is_some_and(|r| matches!(r.endpoint, Endpoint::Snapshots(_) | Endpoint::Backups(_)))
}

/// Rate limit → auth → scope → endpoint, with the rate-limit headers on every answer.
/// `forced` closes the gates of a gate read (a `busy` fault with `gates`).
pub(crate) fn serve(
    shared: &Shared,
    route: Option<&Route>,
    req: &Req,
    key: Option<&str>,
    forced: Option<Gate>,
) -> Reply {
    let now = now_ms();
    let mut inner = shared.lock();
    shared.advance(&mut inner);
    let problem = |e: &ApiError| Reply::problem(e, &req.path, &req.request_id);

    let rl_headers = match rate_limit(&mut inner, key.unwrap_or(""), now) {
        Ok(h) => h,
        Err((retry, reset)) => {
            let limit = inner.rt.rate_limit;
            return problem(&ApiError::rate_limited(format!(
                "Rate limit of {limit} requests per window exceeded. Retry after {retry} seconds."
            )))
            .header("retry-after", retry.to_string())
            .header("x-ratelimit-limit", limit.to_string())
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", iso(reset));
        }
    };
    let mut reply = match route {
        None => problem(&ApiError::not_found()),
        Some(route) => {
            if !allowed(&route.endpoint).contains(&req.method) {
                let allow: Vec<&str> = allowed(&route.endpoint)
                    .iter()
                    .map(Method::as_str)
                    .collect();
                problem(&ApiError::method_not_allowed()).header("allow", allow.join(", "))
            } else {
                match authorize(shared, &route.endpoint, &req.method, key) {
                    Err(e) => problem(&e),
                    Ok(()) => match endpoint(shared, &mut inner, &route.endpoint, req, now, forced)
                    {
                        Ok(r) => r,
                        Err(e) => problem(&e),
                    },
                }
            }
        }
    };
    for (k, v) in rl_headers {
        reply = reply.header(k, v);
    }
    reply
}

fn authorize(shared: &Shared, e: &Endpoint, m: &Method, key: Option<&str>) -> Result<(), ApiError> {
    let key = match key {
        None | Some("") => return Err(ApiError::unauthorized("Authentication required.")),
        Some(k) => k,
    };
    let Some(k) = shared.keys.get(key) else {
        return Err(ApiError::unauthorized(
            "The API key is invalid or has been revoked.",
        ));
    };
    match scope_for(e, m) {
        Some(scope) if !has_scope(&k.scopes, scope) => Err(ApiError::forbidden_scope(scope)),
        _ => Ok(()),
    }
}

pub(crate) fn accepted(c: Created) -> Reply {
    Reply::json(
        202,
        &json!({"operation": {
            "status": c.status,
            "jobId": c.job_id,
            "pollUrl": format!("/api/jobs/{}", c.job_id),
            "result": null,
        }}),
    )
}

fn list_query(query: Option<&str>) -> Result<(ListQuery, bool), ApiError> {
    let mut q = ListQuery {
        limit: 20,
        after: None,
        name: None,
        primary_ip: None,
    };
    let mut include = false;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => q.limit = n,
                _ => {
                    return Err(ApiError::invalid_request(vec![FieldError::new(
                        "/limit",
                        "`limit` must be an integer between 1 and 100.",
                        "out_of_range",
                    )]))
                }
            },
            "cursor" => match decode_cursor(&v) {
                Some(id) => q.after = Some(id),
                None => return Err(ApiError::invalid_cursor()),
            },
            "name" => q.name = Some(v.into_owned()),
            "primaryIp" => q.primary_ip = Some(v.into_owned()),
            "include" | "include[]" => {
                for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    if part == "pendingMaintenance" {
                        include = true;
                    } else {
                        return Err(ApiError::invalid_request(vec![FieldError::new(
                            "/include",
                            "`include` only accepts `pendingMaintenance`.",
                            "invalid_enum",
                        )]));
                    }
                }
            }
            _ => {}
        }
    }
    Ok((q, include))
}

fn endpoint(
    shared: &Shared,
    inner: &mut Inner,
    e: &Endpoint,
    req: &Req,
    now: i64,
    forced: Option<Gate>,
) -> Result<Reply, ApiError> {
    let rt = inner.rt.clone();
    let dur = rt.job_duration_ms;
    let sync = rt.snapshot_delete == SnapshotDeleteMode::Sync;
    let view = View {
        gate_code: rt.gate_code_key,
        visibility: rt.snapshot_visibility,
        has_more: rt.has_more,
        forced,
    };
    let Inner { state, faults, .. } = inner;
    state.jobs_start_pending = rt.job_initial_status == JobInitialStatus::Pending;
    let mut fate = |t: JobType| faults.job_fate(&t.names());
    let reply = match (e, &req.method) {
        (Endpoint::ListVps, _) => {
            let (q, include) = list_query(req.query.as_deref())?;
            Reply::json(200, &state.list_vps(&q, include, &view))
        }
        (Endpoint::Vps(id), _) => Reply::json(200, &state.get_vps(id)?),
        (Endpoint::Snapshots(id), &Method::GET) => {
            Reply::json(200, &state.list_snapshots(id, &view)?)
        }
        (Endpoint::Snapshots(id), _) => {
            state.require_vps(id)?;
            let body = parse_object(&req.body, false)?;
            let mut errors = Vec::new();
            let name = match body.get("name") {
                Some(Value::String(n)) if valid_snapshot_name(n) => Some(n.clone()),
                Some(Value::String(_)) => {
                    errors.push(FieldError::new(
                        "/name",
                        "`name` may only contain letters, digits, `_` and `-`, and be 1 to 40 characters long.",
                        "invalid_format",
                    ));
                    None
                }
                None | Some(Value::Null) => {
                    errors.push(FieldError::new(
                        "/name",
                        "`name` is required.",
                        "missing_required",
                    ));
                    None
                }
                Some(_) => {
                    errors.push(FieldError::new(
                        "/name",
                        "`name` must be a string.",
                        "invalid_type",
                    ));
                    None
                }
            };
            let description = opt_string(&body, "description", 255, &mut errors);
            match name {
                Some(name) if errors.is_empty() => {
                    let c = state.create_snapshot(id, &name, description, now, dur, &mut fate)?;
                    accepted(c)
                }
                _ => return Err(ApiError::invalid_request(errors)),
            }
        }
        (Endpoint::Snapshot(id, name), _) => {
            match state.delete_snapshot(id, name, sync, now, dur, &mut fate)? {
                Some(c) => accepted(c),
                None => Reply::empty(204),
            }
        }
        (Endpoint::SnapshotRestore(id, name), _) => {
            accepted(state.restore_snapshot(id, name, now, dur, &mut fate)?)
        }
        (Endpoint::Backups(id), &Method::GET) => Reply::json(200, &state.list_backups(id, &view)?),
        (Endpoint::Backups(id), _) => {
            state.require_vps(id)?;
            let body = parse_object(&req.body, true)?;
            let mut errors = Vec::new();
            let note = opt_string(&body, "note", 255, &mut errors);
            if !errors.is_empty() {
                return Err(ApiError::invalid_request(errors));
            }
            accepted(state.create_backup(id, note, now, dur, &mut fate)?)
        }
        (Endpoint::Backup(id, bid), _) => {
            state.delete_backup(id, bid)?;
            Reply::empty(204)
        }
        (Endpoint::BackupRestore(id, bid), _) => {
            accepted(state.restore_backup(id, bid, now, dur, &mut fate)?)
        }
        (Endpoint::RestoreSources(id), _) => Reply::json(200, &state.restore_sources(id)?),
        (Endpoint::RestoreFromVps(id), _) => {
            restores::restore_from_vps(state, id, req, now, dur, &mut fate)?
        }
        (Endpoint::SnapshotSchedules(id), _) => {
            schedules::snapshot_schedules(state, id, req, &rt, now)?
        }
        (Endpoint::BackupSchedules(id), _) => {
            schedules::backup_schedules(state, id, req, &rt, now)?
        }
        (Endpoint::BackupSchedule(id, sid), _) => schedules::backup_schedule(state, id, sid)?,
        (Endpoint::Job(jid), _) => {
            let job = state.jobs.get(jid).ok_or_else(ApiError::job_not_found)?;
            Reply::json(200, &job_body(job, now, &JobView::of(&rt), &req.request_id))
        }
    };
    let changed = !matches!(req.method, Method::GET);
    if changed {
        shared.save(inner);
    }
    Ok(reply)
}

/// The run-time choices that shape a job poll's body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobView {
    pub shape: JobShape,
    pub types: JobTypes,
    pub vm_id: VmIdForm,
}

impl JobView {
    pub fn of(rt: &Runtime) -> Self {
        Self {
            shape: rt.job_shape,
            types: rt.job_types,
            vm_id: rt.vm_id,
        }
    }
}

/// The body of `GET /api/jobs/{jobId}` in the configured shape (docs/hostup-sim.md §3.6).
pub(crate) fn job_body(job: &Job, now: i64, view: &JobView, request_id: &str) -> Value {
    let (status, progress) = job.status(now);
    let message = job.message(status);
    let failed = status == Status::Failed;
    let finished = job.finished.as_ref().map(|f| iso(f.at));
    let ty = job.job_type.name(view.types);
    let poll = format!("/api/jobs/{}", job.id);
    // The result names the job type in the same vocabulary as `type`.
    let result = job.result.clone().map(|mut r| {
        if r.get("type").is_some() {
            r["type"] = json!(ty);
        }
        r
    });
    let vm_id = match view.vm_id {
        VmIdForm::Public => job.vps_id.clone(),
        VmIdForm::Numeric => vmid_for(&job.vps_id).to_string(),
    };
    match view.shape {
        JobShape::Operation => json!({"operation": {
            "status": status.as_str(),
            "jobId": job.id,
            "pollUrl": poll,
            "result": result,
            "progress": progress,
        }}),
        JobShape::Legacy | JobShape::Bare => {
            let data = json!({
                "jobId": job.id,
                "queueType": "vps",
                "type": ty,
                "jobName": ty,
                "state": status.state(),
                "status": status.as_str(),
                "statusKey": format!("jobs.status.{}", status.as_str()),
                "progress": progress,
                "progressTextKey": format!("jobs.progress.{ty}"),
                "progressDetails": {"percentage": progress, "message": message, "current": progress, "total": 100},
                "progressMessage": message,
                "result": result,
                "failedReason": if failed { json!(message) } else { Value::Null },
                "isCompleted": status == Status::Completed,
                "isFailed": failed,
                "isRunning": status == Status::InProgress,
                "isWaiting": matches!(status, Status::Pending | Status::Queued),
                "isScheduled": false,
                "delay": null,
                "createdAt": iso(job.created_at),
                "finishedAt": finished,
                "vmId": vm_id,
                "hostbillAccountId": hostbill_id(&job.vps_id),
            });
            if view.shape == JobShape::Bare {
                data
            } else {
                json!({"success": true, "timestamp": iso(now), "requestId": request_id, "data": data})
            }
        }
    }
}

fn hostbill_id(vps_id: &str) -> String {
    let h = vps_id
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(33).wrapping_add(b as u32));
    (10_000 + h % 90_000).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = classify("/api/v2/vps/vps_x/snapshots/a%2Db/actions/restore").expect("route");
        assert_eq!(
            r.endpoint,
            Endpoint::SnapshotRestore("vps_x".into(), "a-b".into())
        );
        assert_eq!(
            r.template,
            "/api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore"
        );
        assert_eq!(
            classify("/api/jobs/job_1").map(|r| r.endpoint),
            Some(Endpoint::Job("job_1".into()))
        );
        assert!(classify("/api/v2/vps/").is_none());
        assert!(classify("/api/v2/vps/x/other").is_none());
        assert!(classify("/api/v2").is_none());
        assert_eq!(pct_decode("%zz%4"), "%zz%4");
        assert_eq!(pct_decode("%C3%A9"), "é");
    }

    #[test]
    fn keys_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "k1".parse().expect("value"));
        assert_eq!(presented_key(&h).as_deref(), Some("k1"));
        h.insert("authorization", "Bearer k2".parse().expect("value"));
        assert_eq!(presented_key(&h).as_deref(), Some("k2"));
        h.insert("authorization", "Basic abc".parse().expect("value"));
        assert_eq!(presented_key(&h).as_deref(), Some(""));
    }
}
