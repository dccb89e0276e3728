//! The HostUp client: one shared HTTP connection pool, the retry loop, endpoint methods and
//! the job waiter.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::config::{is_loopback, ClientConfig, ConfigError, RetryPolicy, Timeouts};
use super::error::{snippet, Error, Problem, RequestInfo};
use super::jobs::{
    JobOutcome, JobRef, JobSnapshot, JobState, PollPlanner, PollSchedule, TerminalState, WaitError,
    WaitOptions,
};
use super::locks::{VpsLockGuard, VpsLocks};
use super::models::{
    BackupList, CreateBackup, CreateSnapshot, Operation, SnapshotList, Vps, VpsPage,
};
use super::ratelimit::{self, RateLimiter};
use super::retry::{self, AttemptFailure, Idempotency, RateHeaders};
use super::secret::ApiKey;
use super::USER_AGENT_PRODUCT;

/// Bodies larger than this are cut (nothing HostUp sends us is near it).
const MAX_BODY: usize = 8 * 1024 * 1024;
/// How long the last poll may run past a wait's deadline.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);
/// 404s on a job before it is declared unknown.
const JOB_NOT_FOUND_LIMIT: u32 = 3;
/// Consecutive failed polls (after each poll's own retries) before a wait gives up.
const POLL_FAILURE_LIMIT: u32 = 5;
/// Pages walked at most when listing VPSs (100 per page).
const MAX_PAGES: usize = 1000;

const SCOPE_READ: &str = "read:vm";
const SCOPE_BACKUP: &str = "backup:vm";

struct Inner {
    http: reqwest::Client,
    origin: Url,
    api_key: ApiKey,
    auth: HeaderValue,
    retry: RetryPolicy,
    timeouts: Timeouts,
    poll: PollSchedule,
    limiter: Arc<RateLimiter>,
    cancel: CancellationToken,
    locks: Arc<VpsLocks>,
}

/// The HostUp API client. Cheap to clone; clones share the connection pool and the
/// client-wide cancellation token. The rate limiter (per origin and key) and the per-VPS
/// locks (per origin) are shared by every client of the process.
///
/// Exists so the provider has one object that talks to HostUp correctly: see the module
/// docs of [`crate::hostup`] for the rules it enforces.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    call_cancel: Option<CancellationToken>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.inner.origin.as_str())
            .field("api_key", &self.inner.api_key)
            .finish_non_exhaustive()
    }
}

/// Query of `GET /api/v2/vps`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpsListQuery {
    /// Page size, 1–100.
    pub limit: Option<u32>,
    /// Cursor from a previous page's `nextCursor`.
    pub cursor: Option<String>,
    /// Exact display name (case-insensitive).
    pub name: Option<String>,
    /// Exact primary IP.
    pub primary_ip: Option<String>,
}

/// Cancellation sources of one call: the client's, the handle's and the call's own.
struct Cancel<'a> {
    client: &'a CancellationToken,
    handle: Option<&'a CancellationToken>,
    call: Option<&'a CancellationToken>,
}

async fn maybe_cancelled(t: Option<&CancellationToken>) {
    match t {
        Some(t) => t.cancelled().await,
        None => std::future::pending().await,
    }
}

impl Cancel<'_> {
    async fn cancelled(&self) {
        tokio::select! {
            _ = self.client.cancelled() => {}
            _ = maybe_cancelled(self.handle) => {}
            _ = maybe_cancelled(self.call) => {}
        }
    }

    fn is_cancelled(&self) -> bool {
        self.client.is_cancelled()
            || self.handle.is_some_and(CancellationToken::is_cancelled)
            || self.call.is_some_and(CancellationToken::is_cancelled)
    }
}

/// One request to make (possibly several times).
struct Call {
    method: Method,
    url: Url,
    body: Option<Bytes>,
    info: RequestInfo,
    idem: Idempotency,
}

/// A final HTTP answer (any status).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    request_id: Option<String>,
    rate: RateHeaders,
    attempts: u32,
}

/// Why one attempt got no answer.
enum AttemptError {
    Failed {
        failure: AttemptFailure,
        message: String,
    },
    Cancelled {
        in_flight: bool,
    },
}

impl Client {
    /// Builds the client: one connection pool (rustls, certificate verification on, proxy
    /// environment honoured except for loopback endpoints), and joins the process-wide rate
    /// limiter of this origin and key.
    pub fn new(config: ClientConfig) -> Result<Client, ConfigError> {
        // Re-validate: plain http only to loopback, whatever the caller checked.
        let origin = super::config::normalize_endpoint(config.endpoint.as_str())?;
        if config.api_key.is_empty() {
            return Err(ConfigError::MissingApiKey);
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.api_key.expose_secret()))
            .map_err(|_| ConfigError::InvalidApiKey)?;
        auth.set_sensitive(true);
        let ua = match config.user_agent_suffix.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => format!("{USER_AGENT_PRODUCT} {s}"),
            _ => USER_AGENT_PRODUCT.to_string(),
        };
        let ua = HeaderValue::from_str(&ua).map_err(|_| ConfigError::InvalidUserAgent)?;
        let loopback = origin.host().is_some_and(|h| is_loopback(&h));
        let mut builder = reqwest::Client::builder()
            .user_agent(ua)
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60));
        if loopback {
            // A proxy cannot reach our loopback, and must not see the sim's traffic.
            builder = builder.no_proxy();
        } else {
            builder = builder.https_only(true);
        }
        let http = builder
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let limiter = ratelimit::shared(
            origin.as_str(),
            config.api_key.expose_secret(),
            config.rate_limit.requests_per_second,
        );
        let locks = super::locks::shared(origin.as_str());
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                origin,
                api_key: config.api_key,
                auth,
                retry: config.retry,
                timeouts: config.timeouts,
                poll: config.poll,
                limiter,
                cancel: config.cancel,
                locks,
            }),
            call_cancel: None,
        })
    }

    /// A handle whose calls are also cancelled by `token` (e.g. the Terraform RPC's Stop
    /// token). Shares everything else with `self`.
    pub fn with_cancel(&self, token: CancellationToken) -> Client {
        Client {
            inner: self.inner.clone(),
            call_cancel: Some(token),
        }
    }

    /// The normalised origin, e.g. `https://cloud.hostup.se/`.
    pub fn origin(&self) -> &Url {
        &self.inner.origin
    }

    fn cancel<'a>(&'a self, call: Option<&'a CancellationToken>) -> Cancel<'a> {
        Cancel {
            client: &self.inner.cancel,
            handle: self.call_cancel.as_ref(),
            call,
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.inner.origin.clone();
        {
            let mut p = url.path_segments_mut().map_err(|_| Error::InvalidInput {
                message: "the endpoint cannot have a path".into(),
            })?;
            p.pop_if_empty();
            p.extend(segments);
        }
        Ok(url)
    }

    fn v2(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut all = vec!["api", "v2"];
        all.extend_from_slice(segments);
        self.url(&all)
    }

    fn info(
        &self,
        method: Method,
        url: &Url,
        operation: &'static str,
        scope: Option<&'static str>,
        vps_id: Option<&str>,
        target: Option<&str>,
    ) -> RequestInfo {
        let mut info = RequestInfo::new(method, url.path().to_string(), operation);
        info.required_scope = scope;
        info.vps_id = vps_id.map(str::to_string);
        info.target = target.map(str::to_string);
        info
    }

    // ---------------------------------------------------------------- transport

    async fn attempt(&self, call: &Call, cancel: &Cancel<'_>) -> Result<Answer, AttemptError> {
        let mut rb = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(b) = &call.body {
            rb = rb.header(CONTENT_TYPE, "application/json").body(b.clone());
        }
        let exchange = async {
            let mut resp = rb.send().await?;
            let status = resp.status().as_u16();
            let headers = std::mem::take(resp.headers_mut());
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    break;
                }
            }
            Ok::<_, reqwest::Error>((status, headers, Bytes::from(body)))
        };
        // Backstop in case the library's own timeout does not cover a stage.
        let backstop = self.inner.timeouts.request + Duration::from_secs(1);
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(AttemptError::Cancelled { in_flight: true }),
            r = tokio::time::timeout(backstop, exchange) => r,
        };
        match outcome {
            Err(_) => Err(AttemptError::Failed {
                failure: AttemptFailure::Timeout,
                message: "timed out".into(),
            }),
            Ok(Err(e)) => {
                let failure = if e.is_connect() {
                    AttemptFailure::NotSent
                } else if e.is_timeout() {
                    AttemptFailure::Timeout
                } else {
                    AttemptFailure::AfterSend
                };
                Err(AttemptError::Failed {
                    failure,
                    message: describe_reqwest(&e),
                })
            }
            Ok(Ok((status, headers, body))) => {
                let request_id = headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let rate = RateHeaders::from_headers(&headers, SystemTime::now());
                Ok(Answer {
                    status,
                    headers,
                    body,
                    request_id,
                    rate,
                    attempts: 0,
                })
            }
        }
    }

    /// Sends `call` with the retry rules of docs/ARCHITECTURE.md, "Contracts" and returns the final answer (any
    /// status) or a transport error.
    async fn execute(&self, mut call: Call, cancel: &Cancel<'_>) -> Result<Answer, Error> {
        let policy = self.inner.retry;
        let started = Instant::now();
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            // The shared limiter: wait for a permit (cancellable).
            while let Err(at) = self.inner.limiter.try_acquire(Instant::now()) {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {
                        return Err(Error::Cancelled { request: Box::new(call.info), in_flight: false });
                    }
                    _ = tokio::time::sleep_until(at) => {}
                }
            }
            if cancel.is_cancelled() {
                return Err(Error::Cancelled {
                    request: Box::new(call.info),
                    in_flight: false,
                });
            }
            call.info.attempts += 1;
            let t0 = Instant::now();
            let result = self.attempt(&call, cancel).await.map(|mut a| {
                a.attempts = call.info.attempts;
                a
            });
            let took = t0.elapsed();
            self.inner.limiter.settle(result.is_ok());
            // (what went wrong, a server-requested minimum wait, what to return if no retry)
            let (failure, wait_hint, fallback): (
                AttemptFailure,
                Option<Duration>,
                Result<Answer, Error>,
            ) = match result {
                Err(AttemptError::Cancelled { in_flight }) => {
                    return Err(Error::Cancelled {
                        request: Box::new(call.info),
                        in_flight,
                    });
                }
                Err(AttemptError::Failed { failure, message }) => {
                    tracing::debug!(
                        method = %call.method, path = %call.info.path,
                        attempt = call.info.attempts, duration_ms = took.as_millis() as u64,
                        error = %message, "HostUp request failed"
                    );
                    let err = match failure {
                        AttemptFailure::Timeout => Error::Timeout {
                            request: Box::new(call.info.clone()),
                            after: self.inner.timeouts.request,
                        },
                        f => Error::Network {
                            request: Box::new(call.info.clone()),
                            not_sent: f == AttemptFailure::NotSent,
                            message,
                        },
                    };
                    (failure, None, Err(err))
                }
                Ok(answer) => {
                    tracing::debug!(
                        method = %call.method, path = %call.info.path, status = answer.status,
                        attempt = call.info.attempts, duration_ms = took.as_millis() as u64,
                        request_id = answer.request_id.as_deref().unwrap_or(""),
                        "HostUp request"
                    );
                    self.inner
                        .limiter
                        .observe(&answer.rate, Instant::now(), SystemTime::now());
                    if answer.status == 429 {
                        let wait = rate_limit_wait(&answer).unwrap_or_else(|| {
                            retry::backoff_delay(&policy, rate_limited + 1, rand::random())
                        });
                        if retry::may_retry(call.idem, AttemptFailure::RateLimited)
                            && rate_limited + 1 < policy.max_rate_limited_attempts
                            && wait <= policy.max_rate_limit_wait
                            && started.elapsed() + wait <= policy.max_total
                        {
                            // Everyone waits, not just this request.
                            self.inner.limiter.pause_for(wait, Instant::now());
                            rate_limited += 1;
                            continue;
                        }
                        return Ok(answer);
                    }
                    if answer.status >= 500 && call.idem == Idempotency::Safe {
                        (
                            AttemptFailure::ServerError,
                            answer.rate.retry_after,
                            Ok(answer),
                        )
                    } else if call.idem == Idempotency::Safe && is_cut_success(&answer) {
                        // A 2xx read whose body is not whole JSON (cut by a proxy or a
                        // dropped connection): reading again is safe.
                        (AttemptFailure::AfterSend, None, Ok(answer))
                    } else {
                        return Ok(answer);
                    }
                }
            };
            failures += 1;
            let delay = retry::backoff_delay(&policy, failures, rand::random())
                .max(wait_hint.unwrap_or_default());
            let retry_ok = retry::may_retry(call.idem, failure)
                && failures < policy.max_attempts
                && started.elapsed() + delay <= policy.max_total;
            if !retry_ok {
                return fallback;
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return Err(Error::Cancelled { request: Box::new(call.info), in_flight: false });
                }
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Turns a final non-2xx answer into an error.
    fn answer_error(&self, answer: &Answer, mut info: RequestInfo) -> Error {
        info.attempts = answer.attempts;
        let content_type = header_text(&answer.headers, CONTENT_TYPE.as_str());
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(v) => {
                let mut p = Problem::from_json(answer.status, &v, answer.request_id.as_deref());
                p.detail = p.detail.map(|d| self.inner.api_key.scrub(&d));
                p.title = p.title.map(|t| self.inner.api_key.scrub(&t));
                if answer.status == 429 || answer.status == 503 {
                    p.retry_after = rate_limit_wait(answer).or(p.retry_after);
                }
                Error::Problem {
                    request: Box::new(info),
                    problem: Box::new(p),
                }
            }
            Err(_) => Error::NonJson {
                request: Box::new(info),
                status: answer.status,
                content_type,
                snippet: self.inner.api_key.scrub(&snippet(&answer.body)),
                request_id: answer.request_id.clone(),
                location: header_text(&answer.headers, LOCATION.as_str()),
            },
        }
    }

    /// Decodes a 2xx JSON answer into `T`, or maps the answer to an error.
    fn decode<T: DeserializeOwned>(
        &self,
        answer: Answer,
        mut info: RequestInfo,
    ) -> Result<T, Error> {
        info.attempts = answer.attempts;
        if !(200..300).contains(&answer.status) {
            return Err(self.answer_error(&answer, info));
        }
        let content_type = header_text(&answer.headers, CONTENT_TYPE.as_str());
        let first = answer
            .body
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace());
        let looks_json = content_type.as_deref().is_some_and(|c| c.contains("json"))
            || matches!(first, Some(b'{') | Some(b'['));
        if !looks_json {
            return Err(Error::NonJson {
                request: Box::new(info),
                status: answer.status,
                content_type,
                snippet: self.inner.api_key.scrub(&snippet(&answer.body)),
                request_id: answer.request_id.clone(),
                location: None,
            });
        }
        serde_json::from_slice::<T>(&answer.body).map_err(|e| Error::Decode {
            request: Box::new(info),
            status: answer.status,
            message: e.to_string(),
            snippet: self.inner.api_key.scrub(&snippet(&answer.body)),
            request_id: answer.request_id.clone(),
        })
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        info: RequestInfo,
        call_cancel: Option<&CancellationToken>,
    ) -> Result<T, Error> {
        let cancel = self.cancel(call_cancel);
        let call = Call {
            method: Method::GET,
            url,
            body: None,
            info: info.clone(),
            idem: Idempotency::Safe,
        };
        let answer = self.execute(call, &cancel).await?;
        self.decode(answer, info)
    }

    /// Sends a job-creating request and reads the operation envelope (None on 204).
    async fn send_job(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        mut info: RequestInfo,
    ) -> Result<Option<Operation>, Error> {
        info.job_creating = true;
        if let Some(v) = info.vps_id.as_deref() {
            self.inner.locks.changed(v);
        }
        let cancel = self.cancel(None);
        let call = Call {
            method,
            url,
            body,
            info: info.clone(),
            idem: Idempotency::JobCreating,
        };
        let answer = self.execute(call, &cancel).await?;
        if answer.status == 204 {
            return Ok(None);
        }
        let value: Value = self.decode(answer_clone(&answer), info.clone())?;
        match Operation::from_value(&value) {
            Some(mut op) => {
                op.vps_id = info.vps_id.clone();
                Ok(Some(op))
            }
            None => Err(Error::Decode {
                request: Box::new(info),
                status: answer.status,
                message: "no operation.jobId in the answer".into(),
                snippet: self.inner.api_key.scrub(&snippet(&answer.body)),
                request_id: answer.request_id.clone(),
            }),
        }
    }

    // ---------------------------------------------------------------- endpoints

    /// One page of `GET /api/v2/vps`.
    pub async fn list_vps_page(&self, query: &VpsListQuery) -> Result<VpsPage, Error> {
        let mut url = self.v2(&["vps"])?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(l) = query.limit {
                q.append_pair("limit", &l.clamp(1, 100).to_string());
            }
            if let Some(c) = &query.cursor {
                q.append_pair("cursor", c);
            }
            if let Some(n) = &query.name {
                q.append_pair("name", n);
            }
            if let Some(ip) = &query.primary_ip {
                q.append_pair("primaryIp", ip);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let info = self.info(Method::GET, &url, "list VPSs", Some(SCOPE_READ), None, None);
        self.get_json(url, info, None).await
    }

    /// Every VPS matching `query`, walking all pages (100 per page unless `query.limit`).
    pub async fn list_all_vps(&self, query: &VpsListQuery) -> Result<Vec<Vps>, Error> {
        let mut q = query.clone();
        q.limit = Some(q.limit.unwrap_or(100));
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.list_vps_page(&q).await?;
            all.extend(page.data);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                None => return Ok(all),
                Some(c) => {
                    if !seen.insert(c.clone()) {
                        return Err(Error::InvalidInput {
                            message: format!(
                                "HostUp returned the VPS list cursor {c:?} twice; stopped paging"
                            ),
                        });
                    }
                    q.cursor = Some(c);
                }
            }
        }
        Err(Error::InvalidInput {
            message: format!("the VPS list has more than {MAX_PAGES} pages"),
        })
    }

    /// The VPSs whose display name is `name` (case-insensitive), using HostUp's `name` filter
    /// and checking the names again (names are not unique: the caller decides on 0 or 2+).
    pub async fn find_vps_by_name(&self, name: &str) -> Result<Vec<Vps>, Error> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::InvalidInput {
                message: "the VPS name is empty".into(),
            });
        }
        let q = VpsListQuery {
            name: Some(name.to_string()),
            ..VpsListQuery::default()
        };
        let all = self.list_all_vps(&q).await?;
        Ok(all
            .into_iter()
            .filter(|v| {
                v.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .collect())
    }

    /// `GET /api/v2/vps/{id}`.
    pub async fn get_vps(&self, vps_id: &str) -> Result<Vps, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id])?;
        let info = self.info(
            Method::GET,
            &url,
            "read the VPS",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info, None).await
    }

    /// `GET /api/v2/vps/{id}/snapshots`: snapshots, slots and gates.
    pub async fn list_snapshots(&self, vps_id: &str) -> Result<SnapshotList, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshots"])?;
        let info = self.info(
            Method::GET,
            &url,
            "list the VPS's snapshots",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info, None).await
    }

    /// `POST /api/v2/vps/{id}/snapshots`: queues a snapshot.
    pub async fn create_snapshot(
        &self,
        vps_id: &str,
        req: &CreateSnapshot,
    ) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshots"])?;
        let info = self.info(
            Method::POST,
            &url,
            "create a snapshot",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(&req.name),
        );
        let body = json_body(req)?;
        self.send_job(Method::POST, url, Some(body), info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `DELETE /api/v2/vps/{id}/snapshots/{name}`: a job (202) or done at once (204 → None).
    pub async fn delete_snapshot(
        &self,
        vps_id: &str,
        name: &str,
    ) -> Result<Option<Operation>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let name = check_id("snapshot name", name)?;
        let url = self.v2(&["vps", id, "snapshots", name])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the snapshot",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(name),
        );
        self.send_job(Method::DELETE, url, None, info).await
    }

    /// `POST /api/v2/vps/{id}/snapshots/{name}/actions/restore`: queues a (destructive) rollback.
    pub async fn restore_snapshot(&self, vps_id: &str, name: &str) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let name = check_id("snapshot name", name)?;
        let url = self.v2(&["vps", id, "snapshots", name, "actions", "restore"])?;
        let info = self.info(
            Method::POST,
            &url,
            "restore the snapshot",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(name),
        );
        self.send_job(Method::POST, url, None, info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `GET /api/v2/vps/{id}/backups`: backups, quota and gates.
    pub async fn list_backups(&self, vps_id: &str) -> Result<BackupList, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backups"])?;
        let info = self.info(
            Method::GET,
            &url,
            "list the VPS's backups",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info, None).await
    }

    /// `POST /api/v2/vps/{id}/backups`: queues an offsite backup (no body without a note).
    pub async fn create_backup(
        &self,
        vps_id: &str,
        req: &CreateBackup,
    ) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backups"])?;
        let info = self.info(
            Method::POST,
            &url,
            "create a backup",
            Some(SCOPE_BACKUP),
            Some(id),
            None,
        );
        let body = if req.note.is_some() {
            Some(json_body(req)?)
        } else {
            None
        };
        self.send_job(Method::POST, url, body, info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `DELETE /api/v2/vps/{id}/backups/{backupId}`: deletes a backup; documented as 204 (done,
    /// `None`), a 202 job is accepted too.
    pub async fn delete_backup(
        &self,
        vps_id: &str,
        backup_id: &str,
    ) -> Result<Option<Operation>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let bid = check_id("backup id", backup_id)?;
        let url = self.v2(&["vps", id, "backups", bid])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the backup",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(bid),
        );
        self.send_job(Method::DELETE, url, None, info).await
    }

    /// Resolves a job's poll URL: `pollUrl` against the origin (it is host-rooted), falling
    /// back to `/api/jobs/{id}` when it is absent or points at another origin (the API key
    /// must never be sent elsewhere).
    pub fn job_url(&self, job: &JobRef) -> Result<Url, Error> {
        if let Some(p) = job
            .poll_url
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match self.inner.origin.join(p) {
                Ok(u) if u.origin() == self.inner.origin.origin() => return Ok(u),
                _ => tracing::warn!(
                    job_id = %job.job_id,
                    "ignoring a pollUrl outside the HostUp endpoint; polling /api/jobs/{{id}}"
                ),
            }
        }
        let id = check_id("job id", &job.job_id)?;
        self.url(&["api", "jobs", id])
    }

    /// `GET /api/jobs/{jobId}` once.
    pub async fn get_job(&self, job: &JobRef) -> Result<JobSnapshot, Error> {
        self.fetch_job(job, None).await.map(|(s, _)| s)
    }

    async fn fetch_job(
        &self,
        job: &JobRef,
        call_cancel: Option<&CancellationToken>,
    ) -> Result<(JobSnapshot, Option<Duration>), Error> {
        let url = self.job_url(job)?;
        let info = self.info(
            Method::GET,
            &url,
            "poll the job",
            None,
            None,
            Some(&job.job_id),
        );
        let cancel = self.cancel(call_cancel);
        let call = Call {
            method: Method::GET,
            url,
            body: None,
            info: info.clone(),
            idem: Idempotency::Safe,
        };
        let answer = self.execute(call, &cancel).await?;
        let retry_after = answer.rate.retry_after;
        let status = answer.status;
        let request_id = answer.request_id.clone();
        let body = answer.body.clone();
        let value: Value = self.decode(answer, info.clone())?;
        let snap = JobSnapshot::from_value(&value).map_err(|message| Error::Decode {
            request: Box::new(info),
            status,
            message,
            snippet: self.inner.api_key.scrub(&snippet(&body)),
            request_id,
        })?;
        Ok((snap, retry_after))
    }

    /// Waits until the job is terminal, the deadline passes, or a cancellation token fires.
    ///
    /// Polls per [`PollSchedule`] (the client's, or `opts.schedule`), honouring
    /// `Retry-After`; a transient poll failure is retried, 404 three times in a row ends in
    /// [`WaitError::JobNotFound`], 401/403 end at once. A failed job is an `Ok` outcome with
    /// [`TerminalState::Failed`] and HostUp's message. Unknown statuses keep it waiting (logged
    /// once at warn).
    pub async fn wait_for_job(
        &self,
        job: &JobRef,
        opts: WaitOptions,
    ) -> Result<JobOutcome, WaitError> {
        let start = Instant::now();
        let deadline = opts.deadline.map(Instant::from_std);
        let mut planner = PollPlanner::new(opts.schedule.unwrap_or(self.inner.poll));
        let cancel = self.cancel(opts.cancel.as_ref());
        let mut last: Option<JobSnapshot> = None;
        let mut failures = 0u32;
        let mut not_found = 0u32;
        let mut warned: HashSet<String> = HashSet::new();
        let initial_terminal = job.initial_status.as_deref().is_some_and(|s| {
            JobSnapshot::from_value(&serde_json::json!({ "status": s }))
                .is_ok_and(|j| j.job_state().is_terminal())
        });
        let mut delay = if initial_terminal {
            Duration::ZERO
        } else {
            planner.next_delay(Duration::ZERO, None, rand::random())
        };
        let job_id = job.job_id.clone();
        loop {
            let mut wake = Instant::now() + delay;
            let mut final_look = false;
            if let Some(dl) = deadline {
                if wake >= dl {
                    wake = dl;
                    final_look = true;
                }
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return Err(WaitError::Cancelled { job_id, vps_id: job.vps_id.clone(), last, waited: start.elapsed() });
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            let poll = self.fetch_job(job, opts.cancel.as_ref());
            let result = match deadline {
                Some(dl) => tokio::select! {
                    r = poll => r,
                    _ = tokio::time::sleep_until(dl + DEADLINE_GRACE) => {
                        return Err(WaitError::Deadline { job_id, vps_id: job.vps_id.clone(), last, waited: start.elapsed() });
                    }
                },
                None => poll.await,
            };
            let now = start.elapsed();
            let mut retry_after = None;
            match result {
                Ok((snap, ra)) => {
                    failures = 0;
                    not_found = 0;
                    retry_after = ra;
                    let state = snap.job_state();
                    planner.record(now, snap.progress);
                    if state == JobState::Unknown {
                        let label = snap
                            .status
                            .clone()
                            .or_else(|| snap.raw_state.clone())
                            .unwrap_or_else(|| "(none)".into());
                        if warned.insert(label.clone()) {
                            tracing::warn!(job_id = %job_id, status = %label,
                                "HostUp reported a job status this client does not know; still waiting");
                        }
                    }
                    if let Some(cb) = &opts.on_progress {
                        if last.as_ref().is_none_or(|l| changed(l, &snap)) {
                            cb(&snap);
                        }
                    }
                    let terminal = match state {
                        JobState::Completed => Some(TerminalState::Completed),
                        JobState::Failed => Some(TerminalState::Failed),
                        _ => None,
                    };
                    if let Some(terminal) = terminal {
                        return Ok(JobOutcome {
                            job_id,
                            terminal,
                            last: snap,
                            polls: planner.polls(),
                            waited: start.elapsed(),
                        });
                    }
                    last = Some(snap);
                }
                Err(e) if e.is_cancelled() => {
                    return Err(WaitError::Cancelled {
                        job_id,
                        vps_id: job.vps_id.clone(),
                        last,
                        waited: start.elapsed(),
                    });
                }
                Err(e) if e.status() == Some(404) => {
                    planner.record_failure();
                    not_found += 1;
                    if not_found >= JOB_NOT_FOUND_LIMIT {
                        return Err(WaitError::JobNotFound {
                            job_id,
                            vps_id: job.vps_id.clone(),
                            last,
                            source: e,
                        });
                    }
                }
                Err(e)
                    if matches!(e.status(), Some(400 | 401 | 403))
                        || e.kind() == super::ErrorKind::InvalidInput =>
                {
                    return Err(WaitError::Api {
                        job_id,
                        vps_id: job.vps_id.clone(),
                        last,
                        source: e,
                    });
                }
                Err(e) => {
                    planner.record_failure();
                    failures += 1;
                    tracing::debug!(job_id = %job_id, error = %e, "job poll failed; will retry");
                    if failures >= POLL_FAILURE_LIMIT {
                        return Err(WaitError::Api {
                            job_id,
                            vps_id: job.vps_id.clone(),
                            last,
                            source: e,
                        });
                    }
                }
            }
            if final_look || deadline.is_some_and(|dl| Instant::now() >= dl) {
                return Err(WaitError::Deadline {
                    job_id,
                    vps_id: job.vps_id.clone(),
                    last,
                    waited: start.elapsed(),
                });
            }
            delay = planner.next_delay(start.elapsed(), retry_after, rand::random());
        }
    }

    /// Whether an operation of this process holds or waits for [`Client::vps_lock`] of
    /// `vps_id`. A job HostUp reports on that VPS may then be this process's own, which is
    /// not worth a warning: the operations queue behind it anyway.
    pub fn vps_lock_in_use(&self, vps_id: &str) -> bool {
        self.inner.locks.in_use(vps_id)
    }

    /// How often this process has changed `vps_id` so far: the count grows with every
    /// mutating request sent for it and every [`Client::vps_lock`] released. A read of the
    /// VPS's lists taken at one count still holds at the same count, as far as this process
    /// can tell (something outside it may still change the VPS).
    pub fn vps_changes(&self, vps_id: &str) -> u64 {
        self.inner.locks.changes(vps_id)
    }

    /// Serialises operations on one VPS within this process (across every client of this
    /// origin): hold the guard across gate check, POST and wait. Cancellable by the
    /// client's/handle's tokens.
    pub async fn vps_lock(&self, vps_id: &str) -> Result<VpsLockGuard, Error> {
        let id = check_id("VPS id", vps_id)?;
        let cancel = self.cancel(None);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                let mut info = RequestInfo::new(Method::POST, format!("/api/v2/vps/{id}"),
                    "wait for another operation on the VPS");
                info.vps_id = Some(id.to_string());
                Err(Error::Cancelled { request: Box::new(info), in_flight: false })
            }
            g = self.inner.locks.lock(id) => Ok(g),
        }
    }
}

fn changed(a: &JobSnapshot, b: &JobSnapshot) -> bool {
    a.state != b.state || a.progress != b.progress || a.status != b.status || a.message != b.message
}

fn answer_clone(a: &Answer) -> Answer {
    Answer {
        status: a.status,
        headers: a.headers.clone(),
        body: a.body.clone(),
        request_id: a.request_id.clone(),
        rate: a.rate,
        attempts: a.attempts,
    }
}

/// Whether a 2xx answer with a body is not one whole JSON document.
fn is_cut_success(answer: &Answer) -> bool {
    (200..300).contains(&answer.status)
        && answer.status != 204
        && serde_json::from_slice::<serde::de::IgnoredAny>(&answer.body).is_err()
}

fn rate_limit_wait(answer: &Answer) -> Option<Duration> {
    answer.rate.wait_hint(SystemTime::now()).or_else(|| {
        serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v.get("retryAfter").and_then(Value::as_f64))
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
    })
}

fn header_text(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn check_id<'a>(what: &str, id: &'a str) -> Result<&'a str, Error> {
    let t = id.trim();
    if t.is_empty() || t == "." || t == ".." || t.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            message: format!("the {what} {id:?} is not valid"),
        });
    }
    Ok(t)
}

fn json_body<T: serde::Serialize>(v: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| Error::InvalidInput {
            message: format!("could not encode the request: {e}"),
        })
}

fn no_operation(vps_id: &str) -> Error {
    Error::InvalidInput {
        message: format!(
            "HostUp answered 204 without a job for VPS {vps_id}, where a job was expected"
        ),
    }
}

/// A reqwest error's text without its URL (no secrets are in our URLs, but the sources are
/// more useful than the wrapper).
fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut parts = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.contains(&t) {
            parts.push(t);
        }
        src = s.source();
    }
    if parts.is_empty() {
        parts.push(e.without_url_ref_text());
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_ref_text(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref_text(&self) -> String {
        let mut s = self.to_string();
        if let Some(u) = self.url() {
            s = s.replace(&format!(" ({u})"), "").replace(u.as_str(), "");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: &str) -> Client {
        Client::new(ClientConfig::new(endpoint, "k-123456").unwrap()).unwrap()
    }

    fn job(id: &str, poll: Option<&str>) -> JobRef {
        JobRef {
            job_id: id.into(),
            poll_url: poll.map(str::to_string),
            initial_status: None,
            vps_id: None,
        }
    }

    #[test]
    fn poll_url_resolves_against_the_origin_not_api_v2() {
        let c = client("https://cloud.hostup.se/api/v2/");
        let url = |j: &JobRef| c.job_url(j).unwrap().to_string();
        assert_eq!(
            url(&job("job_1", Some("/api/jobs/job_1"))),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        // Relative without the leading slash, and absolute on the same origin.
        assert_eq!(
            url(&job("job_1", Some("api/jobs/job_1"))),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            url(&job(
                "job_1",
                Some("https://cloud.hostup.se/api/jobs/job_1?x=1")
            )),
            "https://cloud.hostup.se/api/jobs/job_1?x=1"
        );
        // Another origin (or scheme, or port) is never polled with our key.
        for foreign in [
            "https://evil.example/api/jobs/job_1",
            "http://cloud.hostup.se/api/jobs/job_1",
            "https://cloud.hostup.se:8443/api/jobs/job_1",
            "//evil.example/api/jobs/job_1",
        ] {
            assert_eq!(
                url(&job("job_1", Some(foreign))),
                "https://cloud.hostup.se/api/jobs/job_1",
                "{foreign}"
            );
        }
        // No pollUrl (a job id saved in state): /api/jobs/{id}, the id kept in one segment.
        assert_eq!(
            url(&job("job_1", None)),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            url(&job("job_1", Some("  "))),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            url(&job("a/b", None)),
            "https://cloud.hostup.se/api/jobs/a%2Fb"
        );
        assert!(c.job_url(&job("", None)).is_err());
    }

    #[test]
    fn endpoint_paths_keep_ids_in_one_segment() {
        let c = client("http://127.0.0.1:9/");
        let u = c.v2(&["vps", "vps_1", "snapshots", "a/b?c"]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/api/v2/vps/vps_1/snapshots/a%2Fb%3Fc"
        );
        assert!(check_id("VPS id", "..").is_err());
        assert_eq!(check_id("VPS id", " vps_1 ").unwrap(), "vps_1");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = client("https://cloud.hostup.se");
        assert!(!format!("{c:?}").contains("k-123456"));
    }
}
