//! API errors and their RFC 7807 Problem Details rendering.

use serde::Serialize;
use serde_json::{json, Value};

use super::clock::{iso, now_ms};

/// One entry of a problem's `errors[]` (only for `invalid_request`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct FieldError {
    pub pointer: String,
    pub detail: String,
    pub code: String,
}

impl FieldError {
    pub fn new(pointer: &str, detail: impl Into<String>, code: &str) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
            code: code.into(),
        }
    }
}

/// An error answer before it is rendered: the request id and path are added at render time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub title: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            title: title.into(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid_request(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            400,
            "invalid_request",
            "Validation failed",
            "The request failed validation.",
        );
        e.errors = errors;
        e
    }

    pub fn invalid_cursor() -> Self {
        Self::new(
            400,
            "invalid_cursor",
            "Validation failed",
            "Cursor is invalid or malformed.",
        )
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(401, "unauthorized", "Unauthorized", detail)
    }

    pub fn forbidden_scope(scope: &str) -> Self {
        Self::new(
            403,
            "forbidden",
            "Forbidden",
            format!("This API key lacks the scope {scope}."),
        )
    }

    pub fn vps_not_found() -> Self {
        Self::new(
            404,
            "vps_not_found",
            "VPS not found",
            "No VPS matching the given ID was found.",
        )
    }

    pub fn snapshot_not_found(name: &str) -> Self {
        Self::new(
            404,
            "snapshot_not_found",
            "Snapshot not found",
            format!("No snapshot named {name:?} exists on this VPS."),
        )
    }

    pub fn backup_not_found() -> Self {
        Self::new(
            404,
            "backup_not_found",
            "Backup not found",
            "No backup matching the given ID was found on this VPS.",
        )
    }

    pub fn snapshot_schedule_not_found() -> Self {
        Self::new(
            404,
            "snapshot_schedule_not_found",
            "Snapshot schedule not found",
            "This VPS has no snapshot schedule.",
        )
    }

    pub fn backup_schedule_not_found() -> Self {
        Self::new(
            404,
            "backup_schedule_not_found",
            "Backup schedule not found",
            "No backup schedule matching the given ID was found on this VPS.",
        )
    }

    pub fn job_not_found() -> Self {
        Self::new(
            404,
            "job_not_found",
            "Job not found",
            "No job matching the given ID was found.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            404,
            "not_found",
            "Not found",
            "The requested resource does not exist.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "method_not_allowed",
            "Method not allowed",
            "This endpoint does not support the request method.",
        )
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        let title = match code {
            "snapshot_exists" => "Snapshot already exists",
            "snapshot_limit_reached" => "Snapshot limit reached",
            "backup_quota_exceeded" => "Backup quota exceeded",
            "job_in_progress" => "Job in progress",
            "vps_not_ready" => "VPS not ready",
            "feature_not_in_plan" => "Feature not in plan",
            "pending_order" => "Pending order",
            "service_suspended" => "Service suspended",
            "service_inactive" => "Service not active",
            "job_already_finished" => "Job already finished",
            "schedule_disabled" => "Schedule disabled",
            _ => "Conflict",
        };
        Self::new(409, code, title, detail)
    }

    pub fn rate_limited(detail: impl Into<String>) -> Self {
        Self::new(429, "rate_limit_exceeded", "Too many requests", detail)
    }

    pub fn injected(status: u16) -> Self {
        match status {
            500 => Self::new(
                500,
                "internal_error",
                "Internal server error",
                "An unexpected error occurred. Please try again later.",
            ),
            _ => Self::new(
                status,
                "upstream_failed",
                "Upstream failure",
                "An upstream service failed to respond. Please try again later.",
            ),
        }
    }

    /// The Problem Details body for this error at `instance` with `request_id`.
    pub fn body(&self, instance: &str, request_id: &str) -> Value {
        let mut v = json!({
            "type": format!("https://developer.hostup.se/errors/{}", self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "instance": instance,
            "requestId": request_id,
            "timestamp": iso(now_ms()),
        });
        if self.code == "invalid_request" {
            v["errors"] = json!(self.errors);
        }
        v
    }
}
