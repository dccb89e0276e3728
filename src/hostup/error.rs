//! Errors of the HostUp client: Problem Details, non-JSON bodies, network failures, timeouts,
//! cancellation and undecodable bodies, each with accessors and an actionable hint.
//!
//! Exists so that what HostUp's answers mean is said once, in HostUp's terms: codes, ids,
//! scopes, jobs, what to check on HostUp. Where the fix is a setting of the caller's (the API
//! key, the endpoint, how many requests it sends), the hint names it as a [`Remedy`] and the
//! caller says where that is set: the provider's `errors.rs` adds its arguments, environment
//! variables and Terraform's flags (docs/ARCHITECTURE.md, "Layers and walls").

use std::fmt;
use std::time::Duration;

use http::Method;
use serde_json::{Map, Value};

/// How many bytes of an unexpected body an error quotes.
pub(crate) const SNIPPET_BYTES: usize = 200;

/// What the failed call was, so errors and hints can name it in user terms.
///
/// Exists because a bare "HTTP 404" is useless: the hint needs to know which VPS id, which
/// scope the endpoint needs and whether the request could have created a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// HTTP method.
    pub method: Method,
    /// Request path (no query string, never any secret).
    pub path: String,
    /// Short user-terms name of the operation, e.g. `create a backup`.
    pub operation: &'static str,
    /// The scope HostUp requires for this endpoint (`read:vm`, `backup:vm`), if known.
    pub required_scope: Option<&'static str>,
    /// The VPS id the call was about, if any.
    pub vps_id: Option<String>,
    /// The snapshot name, backup id or job id the call was about, if any.
    pub target: Option<String>,
    /// Whether the request creates a job (never blindly retried).
    pub job_creating: bool,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

impl RequestInfo {
    pub(crate) fn new(method: Method, path: String, operation: &'static str) -> Self {
        RequestInfo {
            method,
            path,
            operation,
            required_scope: None,
            vps_id: None,
            target: None,
            job_creating: false,
            attempts: 0,
        }
    }
}

/// One entry of a problem's `errors[]` (validation failures).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldError {
    /// JSON Pointer into the request body, e.g. `/name`; maps onto an attribute path.
    pub pointer: Option<String>,
    /// Human text.
    pub detail: Option<String>,
    /// Machine code, e.g. `missing_required`.
    pub code: Option<String>,
}

/// An RFC 7807 Problem Details document (or HostUp's legacy `{error, message, code}`
/// envelope), parsed tolerantly: every member may be missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Problem {
    /// The HTTP status of the response (authoritative over the body's `status`).
    pub status: u16,
    /// `type` URL.
    pub type_url: Option<String>,
    /// Stable machine code (`vps_not_found`, …): branch on this.
    pub code: Option<String>,
    /// Short summary.
    pub title: Option<String>,
    /// Human-readable explanation.
    pub detail: Option<String>,
    /// Request path as HostUp saw it.
    pub instance: Option<String>,
    /// HostUp's request id (from the body, else the `X-Request-Id` header).
    pub request_id: Option<String>,
    /// When HostUp produced it.
    pub timestamp: Option<String>,
    /// Field-level validation errors.
    pub errors: Vec<FieldError>,
    /// `extensions` and any other members not listed above.
    pub extra: Map<String, Value>,
    /// Whether it came in the legacy `{error, message, code}` envelope.
    pub legacy: bool,
    /// How long HostUp asked us to wait (`Retry-After`, `X-RateLimit-Reset` or legacy
    /// `retryAfter`), for 429/503.
    pub retry_after: Option<Duration>,
}

impl Problem {
    /// Parses a JSON error body; `None` when the body is not a JSON object.
    pub(crate) fn from_json(status: u16, body: &Value, header_request_id: Option<&str>) -> Self {
        let mut p = Problem {
            status,
            ..Problem::default()
        };
        let Some(obj) = body.as_object() else {
            p.detail = Some(body.to_string());
            p.request_id = header_request_id.map(str::to_string);
            return p;
        };
        let s = |k: &str| obj.get(k).and_then(value_text);
        let is_legacy = !obj.contains_key("title")
            && !obj.contains_key("detail")
            && (obj.contains_key("error") || obj.contains_key("message"));
        p.legacy = is_legacy;
        p.type_url = s("type");
        p.code = s("code");
        p.instance = s("instance");
        p.request_id = s("requestId").or_else(|| s("request_id"));
        p.timestamp = s("timestamp");
        if is_legacy {
            p.title = s("error");
            p.detail = s("message");
        } else {
            p.title = s("title");
            p.detail = s("detail").or_else(|| s("message"));
        }
        if let Some(Value::Array(errs)) = obj.get("errors") {
            p.errors = errs
                .iter()
                .map(|e| match e {
                    Value::Object(m) => FieldError {
                        pointer: m
                            .get("pointer")
                            .or_else(|| m.get("field"))
                            .and_then(value_text),
                        detail: m
                            .get("detail")
                            .or_else(|| m.get("message"))
                            .and_then(value_text),
                        code: m.get("code").and_then(value_text),
                    },
                    other => FieldError {
                        detail: value_text(other),
                        ..FieldError::default()
                    },
                })
                .collect();
        }
        if let Some(secs) = obj.get("retryAfter").and_then(Value::as_f64) {
            if secs.is_finite() && secs >= 0.0 {
                p.retry_after = Some(Duration::from_secs_f64(secs.min(86_400.0)));
            }
        }
        const KNOWN: [&str; 11] = [
            "type",
            "code",
            "title",
            "detail",
            "instance",
            "requestId",
            "timestamp",
            "errors",
            "status",
            "error",
            "message",
        ];
        for (k, v) in obj {
            if !KNOWN.contains(&k.as_str()) {
                p.extra.insert(k.clone(), v.clone());
            }
        }
        if p.request_id.is_none() {
            p.request_id = header_request_id.map(str::to_string);
        }
        p
    }

    /// The scope named by the problem (detail, title or extensions), if any.
    pub fn named_scope(&self) -> Option<String> {
        for key in ["requiredScope", "missingScope", "scope"] {
            let found = self
                .extra
                .get(key)
                .or_else(|| self.extra.get("extensions").and_then(|e| e.get(key)));
            if let Some(v) = found.and_then(value_text) {
                if looks_like_scope(&v) {
                    return Some(v);
                }
            }
        }
        [self.detail.as_deref(), self.title.as_deref()]
            .into_iter()
            .flatten()
            .flat_map(|t| t.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '_')))
            .find(|w| looks_like_scope(w))
            .map(str::to_string)
    }
}

fn looks_like_scope(w: &str) -> bool {
    let mut parts = w.split(':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(a), Some(b), None)
            if !a.is_empty() && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_lowercase())
                && b.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    )
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The kind of an [`Error`], for callers that only branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// HostUp answered with an HTTP error and a JSON body.
    Problem,
    /// A body that is not JSON (HTML 502 page, empty or cut body on an error status).
    NonJson,
    /// Connection-level failure.
    Network,
    /// No answer within the request timeout.
    Timeout,
    /// Cancelled by the caller (Ctrl-C / Stop / deadline token).
    Cancelled,
    /// A success body that does not match the expected model.
    Decode,
    /// The caller passed something unusable (empty id, foreign pollUrl).
    InvalidInput,
}

/// An error from the HostUp client.
///
/// Exists so that the single diagnostic mapper in the provider gets everything from
/// accessors ([`Error::status`], [`Error::code`], [`Error::request_id`], [`Error::hint`],
/// [`Error::field_errors`], [`Error::may_have_been_applied`]) and never parses text.
/// `Display` is one line in user terms and never contains the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// HostUp answered with an error status and a (possibly legacy) problem body.
    Problem {
        /// The call.
        request: Box<RequestInfo>,
        /// The parsed body.
        problem: Box<Problem>,
    },
    /// An answer whose body is not JSON where JSON was needed.
    NonJson {
        /// The call.
        request: Box<RequestInfo>,
        /// HTTP status.
        status: u16,
        /// `Content-Type` header.
        content_type: Option<String>,
        /// The first bytes of the body, cut at a char boundary, key scrubbed.
        snippet: String,
        /// `X-Request-Id` header.
        request_id: Option<String>,
        /// `Location` header of a redirect.
        location: Option<String>,
    },
    /// Connection failure.
    Network {
        /// The call.
        request: Box<RequestInfo>,
        /// True when the request certainly never reached HostUp (connect refused, DNS,
        /// TLS handshake): only then may a job-creating request be sent again.
        not_sent: bool,
        /// What failed (no URL credentials, no key).
        message: String,
    },
    /// No complete answer within the request timeout, on the last attempt.
    Timeout {
        /// The call (its `attempts` says how many were made).
        request: Box<RequestInfo>,
        /// The per-attempt timeout that expired.
        after: Duration,
        /// From the first attempt to giving up, pauses between attempts included.
        elapsed: Duration,
    },
    /// The caller cancelled.
    Cancelled {
        /// The call.
        request: Box<RequestInfo>,
        /// Whether the request was on the wire when cancelled (so a job may exist).
        in_flight: bool,
    },
    /// A success body that does not match the model.
    Decode {
        /// The call.
        request: Box<RequestInfo>,
        /// HTTP status.
        status: u16,
        /// The deserializer's complaint.
        message: String,
        /// The first bytes of the body.
        snippet: String,
        /// `X-Request-Id` header.
        request_id: Option<String>,
    },
    /// Unusable input from the caller.
    InvalidInput {
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The kind, for branching.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Problem { .. } => ErrorKind::Problem,
            Error::NonJson { .. } => ErrorKind::NonJson,
            Error::Network { .. } => ErrorKind::Network,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
        }
    }

    /// The call that failed (None for invalid input).
    pub fn request(&self) -> Option<&RequestInfo> {
        match self {
            Error::Problem { request, .. }
            | Error::NonJson { request, .. }
            | Error::Network { request, .. }
            | Error::Timeout { request, .. }
            | Error::Cancelled { request, .. }
            | Error::Decode { request, .. } => Some(request),
            Error::InvalidInput { .. } => None,
        }
    }

    /// HTTP status, when HostUp answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Problem { problem, .. } => Some(problem.status),
            Error::NonJson { status, .. } | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// HostUp's machine code (`vps_not_found`, `job_in_progress`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Problem { problem, .. } => problem.code.as_deref(),
            _ => None,
        }
    }

    /// HostUp's request id, to quote to HostUp support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Problem { problem, .. } => problem.request_id.as_deref(),
            Error::NonJson { request_id, .. } | Error::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// The problem document, if HostUp sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// Problem `title`.
    pub fn title(&self) -> Option<&str> {
        self.problem().and_then(|p| p.title.as_deref())
    }

    /// Problem `detail`.
    pub fn detail(&self) -> Option<&str> {
        self.problem().and_then(|p| p.detail.as_deref())
    }

    /// Validation errors (`errors[]`), for mapping `pointer` onto attribute paths.
    pub fn field_errors(&self) -> &[FieldError] {
        self.problem().map(|p| p.errors.as_slice()).unwrap_or(&[])
    }

    /// How long HostUp asked to wait (429), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.problem().and_then(|p| p.retry_after)
    }

    /// Whether this is a "not found" answer (404, or a `*_not_found` code).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.code().is_some_and(|c| c.ends_with("not_found"))
    }

    /// Whether HostUp refused because the VPS is busy (another job runs, or it is not ready):
    /// a 409 (or any answer) whose code is one of the busy codes of [`super::is_busy_code`].
    /// HostUp did not act on such a request, so it may be sent again once the VPS is free.
    pub fn is_busy(&self) -> bool {
        self.code().is_some_and(super::is_busy_code)
    }

    /// Whether HostUp says the VPS does not exist (any more): 404 `vps_not_found`, or a 404
    /// without a code on a VPS's own path.
    pub fn is_vps_gone(&self) -> bool {
        match self.code() {
            Some(c) => c == "vps_not_found",
            None => self.status() == Some(404),
        }
    }

    /// Whether HostUp refused because of rate limiting (after our retries).
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// Whether this was the caller's cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled { .. })
    }

    /// For a request that is never sent twice blindly (a job-creating request, or a
    /// synchronous POST): whether HostUp may have acted on it although we got no usable
    /// answer (5xx, timeout, reset after sending, cut body). Then a job may be running (or the
    /// POST's change be made) and the caller must not blindly send the request again. Reads
    /// and idempotent writes (a synchronous DELETE or PATCH) may be repeated: false.
    pub fn may_have_been_applied(&self) -> bool {
        let Some(req) = self.request() else {
            return false;
        };
        if !req.job_creating && req.method != Method::POST {
            return false;
        }
        match self {
            Error::Problem { problem, .. } => problem.status >= 500,
            Error::NonJson { status, .. } => *status >= 500 || (200..300).contains(status),
            Error::Network { not_sent, .. } => !not_sent,
            Error::Timeout { .. } => true,
            Error::Cancelled { in_flight, .. } => *in_flight,
            Error::Decode { .. } => true,
            Error::InvalidInput { .. } => false,
        }
    }

    /// What the user can do about it, in one or two sentences: [`Error::hint_parts`] read
    /// as one text.
    pub fn hint(&self) -> String {
        self.hint_parts().to_string()
    }

    /// What the user can do about it, in HostUp's terms, in parts: the step, the setting of
    /// the caller's to change if it is one ([`Remedy`]), and the notes. A caller that has its
    /// own words for where that setting lives (the provider: its arguments, environment
    /// variables and Terraform's flags) puts them between the step and the notes.
    pub fn hint_parts(&self) -> Hint {
        let applied = match self.request() {
            _ if !self.may_have_been_applied() => "",
            Some(r) if r.job_creating => {
                " HostUp may have queued the operation anyway: check the VPS's snapshots/backups \
                 (or jobs) before running it again."
            }
            _ => " HostUp may have carried it out anyway: check before running it again.",
        };
        let support = |rid: Option<&str>| match rid {
            Some(r) => format!(" If it persists, give HostUp support the request id {r}."),
            None => String::new(),
        };
        let (step, remedy, notes) = match self {
            Error::Problem { request, problem } => {
                let remedy = match problem.status {
                    401 => Some(Remedy::ApiKey),
                    429 => Some(Remedy::FewerRequests),
                    _ => None,
                };
                (
                    problem_hint(request, problem),
                    remedy,
                    format!("{applied}{}", support(problem.request_id.as_deref())),
                )
            }
            Error::NonJson {
                request,
                status,
                location,
                request_id,
                ..
            } => {
                if (300..400).contains(status) {
                    let step = format!(
                        "HostUp redirected {} {} to {}; set the endpoint to the final origin \
                         (e.g. https://cloud.hostup.se).",
                        request.method,
                        request.path,
                        location.as_deref().unwrap_or("another location")
                    );
                    (step, None, String::new())
                } else if *status >= 500 {
                    (
                        "HostUp or a proxy in front of it answered with an error page instead \
                         of JSON; this is usually temporary, retry later."
                            .to_string(),
                        None,
                        format!("{applied}{}", support(request_id.as_deref())),
                    )
                } else {
                    (
                        "The endpoint answered with something that is not the HostUp API; check \
                         the endpoint and any proxy in between."
                            .to_string(),
                        Some(Remedy::Endpoint),
                        applied.to_string(),
                    )
                }
            }
            Error::Network { not_sent: true, .. } => (
                "Could not connect to HostUp: check the endpoint, DNS, firewall and proxy \
                 settings (HTTPS_PROXY); nothing was sent."
                    .to_string(),
                Some(Remedy::Endpoint),
                String::new(),
            ),
            Error::Network { .. } => (
                "The connection to HostUp broke after the request was sent; retry later."
                    .to_string(),
                None,
                applied.to_string(),
            ),
            Error::Timeout { .. } => (
                "HostUp may be slow or unreachable; retry later.".to_string(),
                None,
                applied.to_string(),
            ),
            Error::Cancelled { .. } => (
                format!(
                    "The operation was cancelled before HostUp answered.{}",
                    if self.may_have_been_applied() {
                        " The request had been sent, so a job may still be running on HostUp."
                    } else {
                        ""
                    }
                ),
                None,
                String::new(),
            ),
            Error::Decode {
                request_id,
                message,
                ..
            } if message.starts_with("EOF while") => (
                "HostUp's answer was cut off before its end (a proxy or a dropped connection); \
                 retry later."
                    .to_string(),
                None,
                format!("{applied}{}", support(request_id.as_deref())),
            ),
            Error::Decode { request_id, .. } => (
                "HostUp answered in a shape this version of the client does not understand; \
                 upgrade the client or report it with the quoted body."
                    .to_string(),
                Some(Remedy::NewerClient),
                format!("{applied}{}", support(request_id.as_deref())),
            ),
            Error::InvalidInput { .. } => (
                "Fix the value and try again.".to_string(),
                None,
                String::new(),
            ),
        };
        Hint {
            step,
            remedy,
            notes,
        }
    }
}

/// What a caller's user changes about an error when it is a setting of the caller's (how it
/// configured the client, or how many requests it sends), not something on HostUp. The client
/// knows what to change, the caller where that is set (docs/ARCHITECTURE.md, "Layers and
/// walls": the provider's texts speak Terraform, the client's do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Remedy {
    /// The API key: HostUp did not accept it (401).
    ApiKey,
    /// The endpoint: what answered is not HostUp's API, or nothing answered.
    Endpoint,
    /// Fewer requests at once: still rate-limited after the client's retries (429).
    FewerRequests,
    /// A newer client: HostUp answered in a shape this one does not understand.
    NewerClient,
}

/// [`Error::hint_parts`]: an error's next step in HostUp's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// What the answer means and what to do about it, one or two sentences.
    pub step: String,
    /// The setting of the caller's to change, if that is what the step asks for.
    pub remedy: Option<Remedy>,
    /// Whether HostUp may have acted anyway, and the request id for HostUp support: empty, or
    /// sentences each starting with a space.
    pub notes: String,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.step, self.notes)
    }
}

fn problem_hint(request: &RequestInfo, problem: &Problem) -> String {
    let code = problem.code.as_deref().unwrap_or("");
    let reason = problem.detail.as_deref().or(problem.title.as_deref());
    match problem.status {
        401 => "Check the API key: use a valid, unrevoked HostUp API key.".to_string(),
        403 => {
            let scope = problem
                .named_scope()
                .or_else(|| request.required_scope.map(str::to_string))
                .unwrap_or_else(|| {
                    if request.method == Method::GET {
                        "read:vm"
                    } else {
                        "backup:vm"
                    }
                    .to_string()
                });
            format!(
                "To {}, HostUp needs a key with the scope {scope}: create one in the HostUp \
                 dashboard (API keys) and use it.",
                request.operation
            )
        }
        404 => {
            let vps = request.vps_id.as_deref().unwrap_or("");
            let target = request.target.as_deref().unwrap_or("");
            match code {
                "snapshot_not_found" => format!(
                    "VPS {vps} has no snapshot named {target:?} (snapshots expire about 24 \
                     hours after they are taken); use the name of one it has."
                ),
                "backup_not_found" => {
                    format!("VPS {vps} has no backup {target:?}; use the id of one it has.")
                }
                "job_not_found" => format!(
                    "HostUp does not know job {target:?} (it may have expired); check the VPS's \
                     snapshots/backups to see whether the operation happened."
                ),
                "vps_not_found" | "" if !vps.is_empty() => format!(
                    "HostUp lists no VPS {vps:?} for this API key: use the VPS's id (like \
                     vps_01hxa3b4c5d6e7f8g9h0j1k2m3), not its name or IP address, and check \
                     that the key's account owns the VPS."
                ),
                _ => format!(
                    "HostUp does not know this resource{}; check the ids used.",
                    if code.is_empty() {
                        String::new()
                    } else {
                        format!(" ({code})")
                    }
                ),
            }
        }
        409 => "If another job is running on this VPS, wait for it to finish and try again; \
                 otherwise resolve what HostUp names first."
            .to_string(),
        429 => format!(
            "Still rate-limited by HostUp after {} attempts{}; send fewer requests at once, \
             stop other tools using the same API key, or retry later.",
            request.attempts.max(1),
            problem
                .retry_after
                .map(|d| format!(" (HostUp asked to wait {}s)", d.as_secs().max(1)))
                .unwrap_or_default()
        ),
        400 | 422 => {
            if problem.errors.is_empty() {
                format!(
                    "Fix the request{}.",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                )
            } else {
                let list: Vec<String> = problem
                    .errors
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.pointer.as_deref().unwrap_or("(body)"),
                            e.detail
                                .as_deref()
                                .or(e.code.as_deref())
                                .unwrap_or("invalid")
                        )
                    })
                    .collect();
                format!("Fix the request: {}.", list.join("; "))
            }
        }
        s if s >= 500 => "HostUp had a server-side failure; it is usually temporary, retry \
                          later."
            .to_string(),
        _ => format!(
            "HostUp refused the request{}.",
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        ),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Problem { request, problem } => {
                // A 5xx is HostUp failing, not HostUp refusing.
                let verb = if problem.status >= 500 {
                    "failed to"
                } else {
                    "refused to"
                };
                write!(
                    f,
                    "HostUp {verb} {} ({} {}): HTTP {}",
                    request.operation, request.method, request.path, problem.status
                )?;
                if let Some(c) = &problem.code {
                    write!(f, " {c}")?;
                }
                match (&problem.title, &problem.detail) {
                    // "Too many requests" + "Too many requests. Retry after 1 seconds.": once.
                    (Some(t), Some(d)) if !d.starts_with(t.trim_end_matches('.')) => {
                        write!(f, ": {t}: {d}")?
                    }
                    (_, Some(d)) => write!(f, ": {d}")?,
                    (Some(t), None) => write!(f, ": {t}")?,
                    (None, None) => {}
                }
                // The request id is the hint's, once (its note for HostUp support).
                Ok(())
            }
            Error::NonJson {
                request,
                status,
                content_type,
                snippet,
                ..
            } => {
                write!(
                    f,
                    "HostUp answered {} {} ({}) with HTTP {status} and ",
                    request.method, request.path, request.operation,
                )?;
                match html_title(snippet) {
                    Some(t) => write!(f, "an HTML page ({t:?}) instead of JSON"),
                    None if snippet.is_empty() => write!(f, "an empty body instead of JSON"),
                    None => write!(
                        f,
                        "a body that is not JSON (content-type {}): {:?}",
                        content_type.as_deref().unwrap_or("none"),
                        one_line(snippet)
                    ),
                }
            }
            Error::Network {
                request, message, ..
            } => write!(
                f,
                "Could not reach HostUp to {} ({} {}): {message}",
                request.operation, request.method, request.path,
            ),
            Error::Timeout {
                request,
                after,
                elapsed,
            } => {
                write!(
                    f,
                    "HostUp did not answer {} {} ({}) ",
                    request.method, request.path, request.operation
                )?;
                match request.attempts {
                    0 | 1 => write!(f, "within {}", seconds(*after)),
                    n => write!(
                        f,
                        "in {n} attempts of {} each ({} in all)",
                        seconds(*after),
                        seconds(*elapsed)
                    ),
                }
            }
            Error::Cancelled { request, in_flight } => write!(
                f,
                "cancelled while trying to {} ({} {}){}",
                request.operation,
                request.method,
                request.path,
                if *in_flight {
                    " with the request in flight"
                } else {
                    ""
                }
            ),
            // A cut body: what serde says of it (`EOF while parsing…`) is no news to a user.
            Error::Decode {
                request,
                status,
                message,
                ..
            } if message.starts_with("EOF while") => write!(
                f,
                "HostUp answered {} {} ({}) with HTTP {status} and a body cut off before its end",
                request.method, request.path, request.operation
            ),
            Error::Decode {
                request,
                status,
                message,
                snippet,
                ..
            } => write!(
                f,
                "HostUp answered {} {} ({}) with HTTP {status} and a body that does not match \
                 what was expected ({message}): {:?}",
                request.method,
                request.path,
                request.operation,
                one_line(snippet)
            ),
            Error::InvalidInput { message } => f.write_str(message),
        }
    }
}

/// `30s`, `1.5s`, `2m36s`: a duration as messages write it.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        // Up to two decimals, trailing zeros dropped: 30s, 2.5s, 1.25s.
        let s = format!("{:.2}", ms as f64 / 1000.0);
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        let secs = d.as_secs();
        match secs % 60 {
            0 => format!("{}m", secs / 60),
            r => format!("{}m{r}s", secs / 60),
        }
    }
}

/// The `<title>` of an HTML body (an error page of HostUp's proxy), whitespace collapsed.
fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let t = one_line(body.get(start..end)?);
    (!t.is_empty()).then_some(t)
}

/// Text with every run of whitespace (`\r\n` of an error page) as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first [`SNIPPET_BYTES`] bytes of a body as text, cut at a char boundary (lossy for
/// invalid UTF-8), with `…` when cut.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(SNIPPET_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = text[..end].trim_end().to_string();
    if end < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(method: Method, path: &str, scope: Option<&'static str>) -> Box<RequestInfo> {
        let mut r = RequestInfo::new(method, path.to_string(), "create a backup");
        r.required_scope = scope;
        r.vps_id = Some("vps_x".into());
        r.attempts = 1;
        Box::new(r)
    }

    #[test]
    fn parses_rfc7807_and_legacy() {
        let p = Problem::from_json(
            404,
            &json!({"type":"https://developer.hostup.se/errors/vps_not_found","title":"VPS not found",
                    "status":404,"detail":"No VPS matching the given ID was found.","code":"vps_not_found",
                    "instance":"/api/v2/vps/x","requestId":"req_1","errors":[{"pointer":"/name","detail":"bad","code":"c"}, "plain"],
                    "extensions":{"a":1}}),
            Some("req_hdr"),
        );
        assert_eq!(p.code.as_deref(), Some("vps_not_found"));
        assert_eq!(p.request_id.as_deref(), Some("req_1"));
        assert_eq!(p.errors.len(), 2);
        assert_eq!(p.errors[0].pointer.as_deref(), Some("/name"));
        assert_eq!(p.errors[1].detail.as_deref(), Some("plain"));
        assert!(p.extra.contains_key("extensions"));
        assert!(!p.legacy);

        let l = Problem::from_json(
            429,
            &json!({"error":"Too Many Requests","message":"Slow down","code":"RATE_LIMIT","retryAfter":3}),
            Some("req_hdr"),
        );
        assert!(l.legacy);
        assert_eq!(l.title.as_deref(), Some("Too Many Requests"));
        assert_eq!(l.detail.as_deref(), Some("Slow down"));
        assert_eq!(l.request_id.as_deref(), Some("req_hdr"));
        assert_eq!(l.retry_after, Some(Duration::from_secs(3)));

        let empty = Problem::from_json(500, &json!({}), None);
        assert_eq!(empty.status, 500);
        let arr = Problem::from_json(500, &json!([1]), None);
        assert_eq!(arr.detail.as_deref(), Some("[1]"));
    }

    #[test]
    fn scope_from_detail_or_endpoint() {
        let p = Problem {
            status: 403,
            detail: Some("This API key lacks the scope backup:vm.".into()),
            ..Problem::default()
        };
        assert_eq!(p.named_scope().as_deref(), Some("backup:vm"));
        let e = Error::Problem {
            request: req(Method::POST, "/api/v2/vps/x/backups", Some("backup:vm")),
            problem: Box::new(Problem {
                status: 403,
                ..Problem::default()
            }),
        };
        assert!(e.hint().contains("backup:vm"), "{}", e.hint());
        let e = Error::Problem {
            request: req(Method::GET, "/api/v2/vps/x/backups", Some("read:vm")),
            problem: Box::new(Problem {
                status: 403,
                detail: Some("Forbidden for https://x (no `read:vm`)".into()),
                ..Problem::default()
            }),
        };
        assert!(e.hint().contains("read:vm"));
    }

    #[test]
    fn not_found_hints_follow_the_code() {
        let e = |code: Option<&str>| Error::Problem {
            request: req(Method::GET, "/api/v2/vps/vps_x/snapshots", Some("read:vm")),
            problem: Box::new(Problem {
                status: 404,
                code: code.map(str::to_string),
                ..Problem::default()
            }),
        };
        for c in [Some("vps_not_found"), None] {
            assert!(e(c).hint().contains("lists no VPS"), "{c:?}");
        }
        let generic = e(Some("not_found")).hint();
        assert!(
            !generic.contains("lists no VPS") && generic.contains("not_found"),
            "{generic}"
        );
    }

    /// docs/ARCHITECTURE.md, "Layers and walls": the client's hints speak HostUp, never
    /// Terraform; where a setting of the caller's is the fix, the hint names a [`Remedy`].
    #[test]
    fn hints_speak_hostup_not_terraform() {
        let problem = |status: u16| Error::Problem {
            request: req(Method::POST, "/api/v2/vps/vps_x/backups", Some("backup:vm")),
            problem: Box::new(Problem {
                status,
                request_id: Some("req_1".into()),
                retry_after: Some(Duration::from_secs(3)),
                ..Problem::default()
            }),
        };
        let non_json = |status: u16| Error::NonJson {
            request: req(Method::GET, "/api/v2/vps", None),
            status,
            content_type: Some("text/html".into()),
            snippet: "<html>".into(),
            request_id: None,
            location: Some("https://elsewhere.example/".into()),
        };
        let network = |not_sent: bool| Error::Network {
            request: req(Method::GET, "/api/v2/vps", None),
            not_sent,
            message: "refused".into(),
        };
        let decode = |message: &str| Error::Decode {
            request: req(Method::GET, "/api/v2/vps", None),
            status: 200,
            message: message.into(),
            snippet: "{".into(),
            request_id: None,
        };
        let cases = [
            (problem(401), Some(Remedy::ApiKey)),
            (problem(403), None),
            (problem(404), None),
            (problem(409), None),
            (problem(422), None),
            (problem(429), Some(Remedy::FewerRequests)),
            (problem(503), None),
            (non_json(302), None),
            (non_json(404), Some(Remedy::Endpoint)),
            (non_json(502), None),
            (network(true), Some(Remedy::Endpoint)),
            (network(false), None),
            (decode("EOF while parsing"), None),
            (decode("missing field `data`"), Some(Remedy::NewerClient)),
            (
                Error::Timeout {
                    request: req(Method::GET, "/api/v2/vps", None),
                    after: Duration::from_secs(30),
                    elapsed: Duration::from_secs(156),
                },
                None,
            ),
            (
                Error::InvalidInput {
                    message: "bad".into(),
                },
                None,
            ),
        ];
        for (e, remedy) in cases {
            let parts = e.hint_parts();
            assert_eq!(parts.remedy, remedy, "{e}");
            assert_eq!(e.hint(), format!("{}{}", parts.step, parts.notes));
            let hint = e.hint();
            for word in [
                "api_key",
                "HOSTUP_",
                "terraform",
                "Terraform",
                "timeouts.",
                "-parallelism",
                "provider",
            ] {
                assert!(!hint.contains(word), "{word:?} in the hint of {e}: {hint}");
            }
        }
        assert!(problem(401).hint().contains("API key"));
        assert!(problem(429).hint().contains("fewer requests at once"));
        assert!(problem(429).hint_parts().notes.contains("req_1"));
    }

    #[test]
    fn texts_say_each_fact_once_and_truly() {
        let mut r = req(Method::GET, "/api/v2/vps/vps_x/backups", Some("read:vm"));
        r.attempts = 5;
        let e = Error::Timeout {
            request: r,
            after: Duration::from_secs(30),
            elapsed: Duration::from_secs(156),
        };
        let text = format!("{e}. {}", e.hint());
        assert!(
            text.contains("in 5 attempts of 30s each (2m36s in all)"),
            "{text}"
        );
        assert_eq!(text.matches("30s").count(), 1, "{text}");
        let e = Error::Problem {
            request: req(Method::GET, "/api/v2/vps", None),
            problem: Box::new(Problem {
                status: 429,
                title: Some("Too many requests".into()),
                detail: Some("Too many requests. Retry after 1 seconds.".into()),
                request_id: Some("req_9".into()),
                ..Problem::default()
            }),
        };
        let text = format!("{e}. {}", e.hint());
        assert_eq!(text.matches("Too many requests").count(), 1, "{text}");
        assert_eq!(text.matches("req_9").count(), 1, "{text}");
        let e = Error::Problem {
            request: req(Method::POST, "/api/v2/vps/vps_x/backups", None),
            problem: Box::new(Problem {
                status: 502,
                ..Problem::default()
            }),
        };
        assert!(
            e.to_string()
                .starts_with("HostUp failed to create a backup"),
            "{e}"
        );
        let e = Error::NonJson {
            request: req(Method::GET, "/api/v2/vps", None),
            status: 502,
            content_type: Some("text/html".into()),
            snippet: "<html>\r\n<head><title>502 Bad\r\n Gateway</title></head>".into(),
            request_id: None,
            location: None,
        };
        assert!(
            e.to_string()
                .ends_with("an HTML page (\"502 Bad Gateway\") instead of JSON"),
            "{e}"
        );
        assert_eq!(seconds(Duration::from_millis(250)), "250ms");
        assert_eq!(seconds(Duration::from_millis(2531)), "2.53s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
        assert_eq!(seconds(Duration::from_secs(60)), "1m");
    }

    #[test]
    fn snippet_cuts_at_char_boundary() {
        let body = "é".repeat(150); // 300 bytes
        let s = snippet(body.as_bytes());
        assert!(s.ends_with('…'));
        assert!(s.len() <= SNIPPET_BYTES + '…'.len_utf8());
        assert_eq!(snippet(b"short"), "short");
        assert_eq!(snippet(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn applied_only_for_job_creating_after_send() {
        let mut r = req(Method::POST, "/p", Some("backup:vm"));
        r.job_creating = true;
        let e = Error::Network {
            request: r.clone(),
            not_sent: true,
            message: "refused".into(),
        };
        assert!(!e.may_have_been_applied());
        let e = Error::Network {
            request: r.clone(),
            not_sent: false,
            message: "reset".into(),
        };
        assert!(e.may_have_been_applied());
        let e = Error::Problem {
            request: r.clone(),
            problem: Box::new(Problem {
                status: 409,
                ..Problem::default()
            }),
        };
        assert!(!e.may_have_been_applied());
        let e = Error::Problem {
            request: r,
            problem: Box::new(Problem {
                status: 502,
                ..Problem::default()
            }),
        };
        assert!(e.may_have_been_applied());
        assert!(e.hint().contains("may have queued"));
    }
}
