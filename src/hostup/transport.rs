//! Transport: the one path every HostUp request takes, and the retry rules it applies.
//!
//! Exists so that how a request may be repeated is decided in one place, by what the request
//! does to HostUp (docs/ARCHITECTURE.md, "Contracts"), not by each endpoint. A [`Request`] is
//! a read ([`Request::read`]), retried on 5xx, network errors, timeouts, cut bodies and 429, or
//! a job-creating write ([`Request::job`]): a POST or DELETE that queues a job, sent again only
//! when HostUp certainly did not act (429, or nothing was sent).
//!
//! [`Client::send`] waits for the shared rate limiter, makes the attempts and returns the final
//! answer as a [`Reply`]; the readers here turn a reply into a model or an [`Error`] that quotes
//! what came back (key scrubbed). The pure rules live in [`super::retry`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::client::{Cancel, Client};
use super::error::{snippet, Error, Problem, RequestInfo};
use super::models::Operation;
use super::retry::{self, AttemptFailure, Idempotency, RateHeaders};

/// Bodies larger than this are cut (nothing HostUp sends us is near it).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One request to HostUp and its class (see the module docs).
pub(super) struct Request {
    method: Method,
    url: Url,
    body: Option<Bytes>,
    info: RequestInfo,
    idem: Idempotency,
}

impl Request {
    /// A read (GET).
    pub(super) fn read(url: Url, info: RequestInfo) -> Request {
        Request {
            method: Method::GET,
            url,
            body: None,
            info,
            idem: Idempotency::Safe,
        }
    }

    /// A write that queues a job: marked job-creating, so its errors can say whether HostUp
    /// may have acted anyway ([`Error::may_have_been_applied`]).
    pub(super) fn job(
        method: Method,
        url: Url,
        body: Option<Bytes>,
        mut info: RequestInfo,
    ) -> Request {
        info.job_creating = true;
        Request {
            method,
            url,
            body,
            info,
            idem: Idempotency::JobCreating,
        }
    }
}

/// A final HTTP answer (any status).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    request_id: Option<String>,
    rate: RateHeaders,
}

/// The final answer to a [`Request`] (any status), with the call it answers (attempts
/// counted).
pub(super) struct Reply {
    answer: Answer,
    info: RequestInfo,
}

impl Reply {
    /// How long HostUp asked to wait before the next request (`Retry-After`).
    pub(super) fn retry_after(&self) -> Option<Duration> {
        self.answer.rate.retry_after
    }
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
    /// Sends `request` with the retry rules of its class and returns the final answer (any
    /// status), or the error of the last attempt. A write counts as a change of its VPS
    /// ([`Client::vps_changes`]) before it is sent. Cancelled by the client's and the handle's
    /// tokens and by `call_cancel`.
    pub(super) async fn send(
        &self,
        request: Request,
        call_cancel: Option<&CancellationToken>,
    ) -> Result<Reply, Error> {
        if request.idem != Idempotency::Safe {
            if let Some(v) = request.info.vps_id.as_deref() {
                self.inner.locks.changed(v);
            }
        }
        let cancel = self.cancel(call_cancel);
        let mut info = request.info.clone();
        let (answer, attempts) = self.execute(request, &cancel).await?;
        info.attempts = attempts;
        Ok(Reply { answer, info })
    }

    /// A read of JSON: `GET url` decoded into `T`.
    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        info: RequestInfo,
    ) -> Result<T, Error> {
        let reply = self.send(Request::read(url, info), None).await?;
        self.json(&reply)
    }

    /// A job-creating write: the operation envelope HostUp answered (`None` on 204), naming
    /// the request's VPS.
    pub(super) async fn send_job(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        info: RequestInfo,
    ) -> Result<Option<Operation>, Error> {
        let vps_id = info.vps_id.clone();
        let reply = self
            .send(Request::job(method, url, body, info), None)
            .await?;
        let op: Option<Operation> = self.json_or_nothing(&reply)?;
        Ok(op.map(|op| Operation { vps_id, ..op }))
    }

    // ---------------------------------------------------------------- reading replies

    /// Decodes a 2xx JSON reply into `T`, or maps the reply to an error.
    pub(super) fn json<T: DeserializeOwned>(&self, reply: &Reply) -> Result<T, Error> {
        let (answer, info) = (&reply.answer, &reply.info);
        if !(200..300).contains(&answer.status) {
            return Err(self.answer_error(reply));
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
                request: Box::new(info.clone()),
                status: answer.status,
                content_type,
                snippet: self.inner.api_key.scrub(&snippet(&answer.body)),
                request_id: answer.request_id.clone(),
                location: None,
            });
        }
        serde_json::from_slice::<T>(&answer.body)
            .map_err(|e| self.shape_error(reply, e.to_string()))
    }

    /// Like [`Client::json`], but a 204 is `None`.
    pub(super) fn json_or_nothing<T: DeserializeOwned>(
        &self,
        reply: &Reply,
    ) -> Result<Option<T>, Error> {
        if reply.answer.status == 204 {
            return Ok(None);
        }
        self.json(reply).map(Some)
    }

    /// A success body that does not match what was expected: quoted, key scrubbed.
    pub(super) fn shape_error(&self, reply: &Reply, message: String) -> Error {
        Error::Decode {
            request: Box::new(reply.info.clone()),
            status: reply.answer.status,
            message,
            snippet: self.inner.api_key.scrub(&snippet(&reply.answer.body)),
            request_id: reply.answer.request_id.clone(),
        }
    }

    /// Turns a final non-2xx reply into an error.
    fn answer_error(&self, reply: &Reply) -> Error {
        let answer = &reply.answer;
        let info = reply.info.clone();
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

    // ---------------------------------------------------------------- attempts and retries

    async fn attempt(&self, call: &Request, cancel: &Cancel<'_>) -> Result<Answer, AttemptError> {
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
                })
            }
        }
    }

    /// Sends `call` with the retry rules of docs/ARCHITECTURE.md, "Contracts" and returns the
    /// final answer (any status) and the attempts made, or a transport error.
    async fn execute(
        &self,
        mut call: Request,
        cancel: &Cancel<'_>,
    ) -> Result<(Answer, u32), Error> {
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
            let attempts = call.info.attempts;
            let t0 = Instant::now();
            let result = self.attempt(&call, cancel).await;
            let took = t0.elapsed();
            self.inner.limiter.settle(result.is_ok());
            // (what went wrong, a server-requested minimum wait, what to return if no retry)
            let (failure, wait_hint, fallback): (
                AttemptFailure,
                Option<Duration>,
                Result<(Answer, u32), Error>,
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
                        attempt = attempts, duration_ms = took.as_millis() as u64,
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
                        attempt = attempts, duration_ms = took.as_millis() as u64,
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
                        return Ok((answer, attempts));
                    }
                    if answer.status >= 500 && call.idem == Idempotency::Safe {
                        (
                            AttemptFailure::ServerError,
                            answer.rate.retry_after,
                            Ok((answer, attempts)),
                        )
                    } else if call.idem == Idempotency::Safe && is_cut_success(&answer) {
                        // A 2xx read whose body is not whole JSON (cut by a proxy or a
                        // dropped connection): reading again is safe.
                        (AttemptFailure::AfterSend, None, Ok((answer, attempts)))
                    } else {
                        return Ok((answer, attempts));
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

/// A request body as JSON.
pub(super) fn json_body<T: serde::Serialize>(v: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| Error::InvalidInput {
            message: format!("could not encode the request: {e}"),
        })
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
        parts.push(without_url(e));
    }
    parts.join(": ")
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" ({u})"), "").replace(u.as_str(), "");
    }
    s
}
