//! HTTP side of the simulator: start-up, the shared runtime state, and the request pipeline
//! (faults → rate limit → auth → handler → answer rewriting → log and counters).
//!
//! Routing is done by hand in one fallback handler rather than with axum's router, because every
//! request, known route or not, must pass through the same pipeline: counted under its route
//! template, matched against fault patterns, logged, and answered with Problem Details.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::response::Response;
use axum::Router;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::api;
use super::clock::{iso, now_ms};
use super::config::{
    FixtureSource, GateCodeKey, JobInitialStatus, JobShape, JobTypes, SimConfig,
    SnapshotDeleteMode, SnapshotVisibility, VmIdForm,
};
use super::faults::{Answer, FaultEngine};
use super::fixture::{self, Fixture};
use super::ids::new_id;
use super::keys::ApiKey;
use super::net::{Conn, SimListener};
use super::problem::ApiError;
use super::state::{busy_reason, Gate, State};

/// Largest request body accepted (the API's bodies are tiny).
const MAX_BODY: usize = 1 << 20;
/// Request log entries kept (oldest dropped first).
const MAX_LOG: usize = 20_000;

/// Settings that can change at run time (`PATCH /_sim/config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Runtime {
    pub job_duration_ms: i64,
    pub snapshot_ttl_ms: i64,
    pub job_shape: JobShape,
    pub snapshot_delete: SnapshotDeleteMode,
    pub rate_limit: u32,
    pub rate_window_ms: i64,
    pub job_initial_status: JobInitialStatus,
    pub gate_code_key: GateCodeKey,
    pub snapshot_visibility: SnapshotVisibility,
    pub job_types: JobTypes,
    pub vm_id: VmIdForm,
    pub has_more: bool,
}

impl Runtime {
    fn from_config(c: &SimConfig) -> Self {
        Self {
            job_duration_ms: c.job_duration.as_millis().min(i64::MAX as u128) as i64,
            snapshot_ttl_ms: c.snapshot_ttl.as_millis().min(i64::MAX as u128) as i64,
            job_shape: c.job_shape,
            snapshot_delete: c.snapshot_delete,
            rate_limit: c.rate_limit,
            rate_window_ms: (c.rate_window.as_millis().min(i64::MAX as u128) as i64).max(1),
            job_initial_status: c.job_initial_status,
            gate_code_key: c.gate_code_key,
            snapshot_visibility: c.snapshot_visibility,
            job_types: c.job_types,
            vm_id: c.vm_id,
            has_more: c.has_more,
        }
    }
}

/// One entry of the request log.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEntry {
    pub seq: u64,
    pub time: String,
    pub method: String,
    pub path: String,
    pub route: String,
    pub status: u16,
    pub duration_ms: u64,
    pub request_id: String,
    pub key: Option<String>,
    pub fault: Option<String>,
}

/// Everything that changes while the simulator runs.
pub(crate) struct Inner {
    pub state: State,
    pub rt: Runtime,
    pub faults: FaultEngine,
    pub log: VecDeque<LogEntry>,
    pub next_seq: u64,
    pub counters: BTreeMap<String, u64>,
    /// Rate-limit windows per presented key: (window start ms, requests in it).
    pub windows: HashMap<String, (i64, u32)>,
}

/// The simulator shared by all connections.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Start-up configuration, for `POST /_sim/reset`.
    pub config: SimConfig,
    /// The loaded fixture (after `--extra-vps`), for reset.
    pub fixture: Fixture,
    /// Accepted keys by secret.
    pub keys: HashMap<String, ApiKey>,
}

impl Shared {
    /// Locks the runtime state; a poisoned lock (a panic elsewhere) is recovered, since the
    /// state is plain data and a test server must keep answering.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings state up to now; saves the state file when something changed.
    pub fn advance(&self, inner: &mut Inner) {
        let ttl = inner.rt.snapshot_ttl_ms;
        if inner.state.advance(now_ms(), ttl) {
            self.save(inner);
        }
    }

    /// Writes the state file, if one is configured (errors go to stderr: losing a demo's
    /// state must not take the API down).
    pub fn save(&self, inner: &Inner) {
        if let Some(path) = &self.config.state_file {
            if let Err(e) = save_state(path, &inner.state) {
                eprintln!("hostup-sim: cannot save state to {}: {e}", path.display());
            }
        }
    }

    /// A fresh runtime from the start-up configuration and fixture.
    pub fn fresh_inner(&self) -> Result<Inner, String> {
        let rt = Runtime::from_config(&self.config);
        let state = State::from_fixture(&self.fixture, now_ms(), rt.snapshot_ttl_ms)?;
        Ok(Inner {
            state,
            rt,
            faults: FaultEngine::new(self.config.faults.clone()),
            log: VecDeque::new(),
            next_seq: 1,
            counters: BTreeMap::new(),
            windows: HashMap::new(),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile {
    version: u32,
    saved_at: String,
    state: State,
}

fn save_state(path: &Path, state: &State) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(&StateFile {
        version: 1,
        saved_at: iso(now_ms()),
        state: state.clone(),
    })
    .map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

fn load_state(path: &Path) -> Result<Option<State>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read state file {}: {e}", path.display())),
    };
    let file: StateFile = serde_json::from_str(&text)
        .map_err(|e| format!("state file {} is not valid: {e}", path.display()))?;
    if file.version != 1 {
        return Err(format!(
            "state file {} has unsupported version {}",
            path.display(),
            file.version
        ));
    }
    let mut state = file.state;
    state.reindex();
    Ok(Some(state))
}

fn load_fixture(config: &SimConfig) -> Result<Fixture, String> {
    let mut f = match &config.fixture {
        FixtureSource::Default => fixture::default_fixture(),
        FixtureSource::Inline(f) => (**f).clone(),
        FixtureSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read fixture {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("fixture {} is not valid: {e}", path.display()))?
        }
    };
    for n in 1..=config.extra_vps {
        f.vps.push(fixture::extra_vps(n));
    }
    Ok(f)
}

fn collect_keys(config: &SimConfig, fixture: &Fixture) -> HashMap<String, ApiKey> {
    let mut list = Vec::new();
    if config.default_keys {
        list.extend(fixture::default_keys());
    }
    list.extend(fixture.keys.iter().cloned());
    list.extend(config.keys.iter().cloned());
    let mut keys = HashMap::new();
    for (i, mut k) in list.into_iter().enumerate() {
        if k.label.is_none() {
            k.label = Some(format!("key-{}", i + 1));
        }
        keys.insert(k.key.clone(), k);
    }
    keys
}

/// A running server: its address, the stop signal, and the task serving it.
pub(crate) struct Running {
    pub addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Graceful stop: stop accepting, give in-flight answers up to 2 s, then save state.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let inner = self.shared.lock();
        self.shared.save(&inner);
    }

    /// Immediate stop (used by `Drop`).
    pub fn abort(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Loads fixture/state, binds, and starts serving.
pub(crate) async fn start(config: SimConfig) -> std::io::Result<Running> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    config.faults.validate().map_err(invalid)?;
    let fixture = load_fixture(&config).map_err(invalid)?;
    let keys = collect_keys(&config, &fixture);
    let mut shared = Shared {
        inner: Mutex::new(Inner {
            state: State::default(),
            rt: Runtime::from_config(&config),
            faults: FaultEngine::new(Default::default()),
            log: VecDeque::new(),
            next_seq: 1,
            counters: BTreeMap::new(),
            windows: HashMap::new(),
        }),
        config,
        fixture,
        keys,
    };
    let mut inner = shared.fresh_inner().map_err(invalid)?;
    if let Some(path) = &shared.config.state_file {
        if let Some(state) = load_state(path).map_err(invalid)? {
            inner.state = state;
        }
    }
    shared.inner = Mutex::new(inner);
    let shared = Arc::new(shared);

    let listener = tokio::net::TcpListener::bind((shared.config.host, shared.config.port)).await?;
    let addr = listener.local_addr()?;
    let (stop, rx) = oneshot::channel::<()>();
    let app = Router::new()
        .fallback(handle)
        .with_state(shared.clone())
        .into_make_service_with_connect_info::<Conn>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(SimListener(listener), app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

/// An answer before it becomes an HTTP response (so faults can cut or replace it).
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: Option<&'static str>,
    pub body: Bytes,
    pub headers: Vec<(HeaderName, String)>,
}

impl Reply {
    /// A JSON success answer.
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            content_type: Some("application/json"),
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            headers: Vec::new(),
        }
    }

    /// An answer without a body (204).
    pub fn empty(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT),
            content_type: None,
            body: Bytes::new(),
            headers: Vec::new(),
        }
    }

    /// A Problem Details answer for `e` at `instance`.
    pub fn problem(e: &ApiError, instance: &str, request_id: &str) -> Self {
        Self {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type: Some("application/problem+json"),
            body: Bytes::from(
                serde_json::to_vec(&e.body(instance, request_id)).unwrap_or_default(),
            ),
            headers: Vec::new(),
        }
    }

    /// The HTML page a proxy in front of the API answers when the API is down.
    fn html502() -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            content_type: Some("text/html"),
            body: Bytes::from_static(
                b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
            ),
            headers: Vec::new(),
        }
    }

    /// Adds a header (lowercase name).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }

    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        if let Some(ct) = self.content_type {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        resp
    }
}

/// The request as handlers see it.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
}

async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError::new(
                413,
                "payload_too_large",
                "Payload too large",
                "The request body is too large.",
            );
            return Reply::problem(&e, &path, &new_id("req_")).into_response();
        }
    };
    let req = Req {
        method: parts.method,
        query: parts.uri.query().map(str::to_string),
        path,
        headers: parts.headers,
        body,
        request_id: new_id("req_"),
    };
    if req.path == "/_sim" || req.path.starts_with("/_sim/") {
        return super::admin::handle(&shared, &req).into_response();
    }
    api(&shared, &conn, req, started).await
}

/// The API pipeline for one request.
async fn api(shared: &Shared, conn: &Conn, req: Req, started: Instant) -> Response {
    let route = api::classify(&req.path);
    let template = route
        .as_ref()
        .map(|r| r.template.to_string())
        .unwrap_or_else(|| req.path.clone());
    let decision = shared
        .lock()
        .faults
        .decide(req.method.as_str(), &req.path, &template);
    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }
    let presented = api::presented_key(&req.headers);
    let key_label = presented.as_ref().map(|k| {
        shared
            .keys
            .get(k)
            .and_then(|k| k.label.clone())
            .unwrap_or_else(|| "unknown".into())
    });

    let mut reset = false;
    let mut reply = match &decision.answer {
        Some(Answer::Error {
            status,
            after: false,
        }) => Reply::problem(&ApiError::injected(*status), &req.path, &req.request_id),
        Some(Answer::Html502 { after: false }) => Reply::html502(),
        Some(Answer::Busy { code, gates })
            if !(*gates && api::is_gate_read(route.as_ref(), &req.method)) =>
        {
            Reply::problem(
                &ApiError::conflict(code, busy_reason(code)),
                &req.path,
                &req.request_id,
            )
        }
        Some(Answer::Reset { after: false }) => {
            reset = true;
            Reply::empty(500)
        }
        Some(Answer::RateLimit { retry_after }) => {
            let rl = shared.lock().rt.rate_limit;
            let retry = (*retry_after).max(1);
            let mut r = Reply::problem(
                &ApiError::rate_limited(format!("Too many requests. Retry after {retry} seconds.")),
                &req.path,
                &req.request_id,
            )
            .header("retry-after", retry.to_string())
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", iso(now_ms() + retry as i64 * 1000));
            if rl > 0 {
                r = r.header("x-ratelimit-limit", rl.to_string());
            }
            r
        }
        _ => {
            // A busy fault with `gates` on a gate read: answered, with the gates closed.
            let forced = match &decision.answer {
                Some(Answer::Busy { code, .. }) => Some(Gate::closed(code, busy_reason(code))),
                _ => None,
            };
            let r = api::serve(shared, route.as_ref(), &req, presented.as_deref(), forced);
            match &decision.answer {
                Some(Answer::Error {
                    status,
                    after: true,
                }) => Reply::problem(&ApiError::injected(*status), &req.path, &req.request_id),
                Some(Answer::Html502 { after: true }) => Reply::html502(),
                Some(Answer::Reset { after: true }) => {
                    reset = true;
                    r
                }
                _ => r,
            }
        }
    };
    if matches!(decision.answer, Some(Answer::Truncate)) {
        let cut = reply.body.len() / 2;
        reply.body = reply.body.slice(..cut);
    }
    reply = reply.header("x-request-id", req.request_id.clone());

    let status = if reset { 0 } else { reply.status.as_u16() };
    let entry = LogEntry {
        seq: 0,
        time: iso(now_ms()),
        method: req.method.to_string(),
        path: req.path.clone(),
        route: template.clone(),
        status,
        duration_ms: started.elapsed().as_millis() as u64,
        request_id: req.request_id.clone(),
        key: key_label,
        fault: decision.answer.as_ref().map(|a| a.label().to_string()),
    };
    if shared.config.log_requests {
        eprintln!(
            "hostup-sim: {} {} -> {} ({} ms){}",
            entry.method,
            entry.path,
            entry.status,
            entry.duration_ms,
            entry
                .fault
                .as_ref()
                .map(|f| format!(" fault={f}"))
                .unwrap_or_default()
        );
    }
    {
        let mut inner = shared.lock();
        *inner
            .counters
            .entry(format!("{} {}", req.method, template))
            .or_insert(0) += 1;
        let mut entry = entry;
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.log.len() >= MAX_LOG {
            inner.log.pop_front();
        }
        inner.log.push_back(entry);
    }
    if reset {
        conn.reset();
    }
    reply.into_response()
}

/// The shape of a JSON value for error messages.
pub(crate) fn json_error_detail(e: &serde_json::Error) -> String {
    format!("The request body is not valid JSON: {e}.")
}

/// Renders `{"ok": true}`-style admin answers.
pub(crate) fn ok() -> Reply {
    Reply::json(200, &json!({"ok": true}))
}
