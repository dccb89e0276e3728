//! The restore-from-another-VPS endpoints of the HostUp API: reading the restore-from-vps body
//! (what the account does is in `state::restores`); docs/hostup-sim.md §3.11.

use serde_json::{Map, Value};

use super::api::accepted;
use super::body::{check, missing, parse_object};
use super::faults::JobFate;
use super::http::{Reply, Req};
use super::ids::is_public_id;
use super::problem::{ApiError, FieldError};
use super::state::job::JobType;
use super::state::State;

/// A required public id field (`prefix` + 26 base32 characters).
fn req_id(
    m: &Map<String, Value>,
    field: &str,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match m.get(field) {
        Some(Value::String(s)) if is_public_id(prefix, s) => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(
                &format!("/{field}"),
                format!("`{field}` must be a {prefix}… id."),
                "invalid_format",
            ));
            None
        }
        None | Some(Value::Null) => {
            errors.push(missing(field));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                &format!("/{field}"),
                format!("`{field}` must be a string."),
                "invalid_type",
            ));
            None
        }
    }
}

/// `POST /api/v2/vps/{id}/backups/actions/restore-from-vps`, body `{sourceVpsId, backupId}`.
pub(crate) fn restore_from_vps(
    state: &mut State,
    id: &str,
    req: &Req,
    now: i64,
    duration_ms: i64,
    fate: impl FnOnce(JobType) -> JobFate,
) -> Result<Reply, ApiError> {
    state.require_vps(id)?;
    let m = parse_object(&req.body, false)?;
    let mut errors = Vec::new();
    let source = req_id(&m, "sourceVpsId", "vps_", &mut errors);
    let backup = req_id(&m, "backupId", "bkp_", &mut errors);
    if source.as_deref() == Some(id) {
        errors.push(FieldError::new(
            "/sourceVpsId",
            "`sourceVpsId` must be another VPS than the one restored; restore a backup of this VPS with …/backups/{backupId}/actions/restore.",
            "same_as_target",
        ));
    }
    check(errors)?;
    let (Some(source), Some(backup)) = (source, backup) else {
        return Err(ApiError::invalid_request(Vec::new()));
    };
    let c = state.restore_from_vps(id, &source, &backup, now, duration_ms, fate)?;
    Ok(accepted(c))
}
