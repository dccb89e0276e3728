//! HTTP side of the simulator: start-up (fixture, keys, binding, shutdown) and the request
//! pipeline (faults → rate limit → auth → handler → answer rewriting → log and counters).
//!
//! Routing is done by hand in one fallback handler rather than with axum's router, because every
//! request, known route or not, must pass through the same pipeline: counted under its route
//! template, matched against fault patterns, logged, and answered with Problem Details.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::response::Response;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::admin;
use super::api;
use super::clock::{iso, now_ms};
use super::config::{FixtureSource, SimConfig};
use super::faults::Answer;
use super::fixture::{self, Fixture};
use super::http::{Reply, Req};
use super::ids::new_id;
use super::keys::ApiKey;
use super::net::{Conn, SimListener};
use super::problem::ApiError;
use super::shared::{LogEntry, Shared};
use super::state::gates::{busy_reason, Gate};

/// Largest request body accepted (the API's bodies are tiny).
const MAX_BODY: usize = 1 << 20;
/// Request log entries kept (oldest dropped first).
const MAX_LOG: usize = 20_000;

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
    let shared = Arc::new(Shared::new(config, fixture, keys).map_err(invalid)?);

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
        return admin::handle(&shared, &req).into_response();
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
