//! Transport: the one path every HostUp request takes, and the retry rules it applies.
//!
//! Exists so that how a request may be repeated is decided in one place, by what the request
//! does to HostUp (docs/ARCHITECTURE.md, "Contracts"), not by each endpoint. A [`Request`] is
//! one of three classes:
//! - a read ([`Request::read`]): retried on 5xx, network errors, timeouts, cut bodies and 429;
//! - a synchronous write ([`Request::write`]): HostUp acts before it answers, with a JSON body
//!   or 204. A DELETE or PATCH has the same effect however often it is applied (HostUp's
//!   PATCHes carry the values to set), so it is retried like a read as long as no answer has
//!   begun (connection errors and timeouts before the response) and on 429; a POST only when
//!   HostUp certainly did not act (429, or nothing was sent);
//! - a job-creating write ([`Request::job`]): a POST or DELETE that queues a job, sent again
//!   only when HostUp certainly did not act.
//!
//! [`Client::send`] waits for the shared rate limiter, makes the attempts and returns the final
//! answer as a [`Reply`]; the readers here turn a reply into a model or an [`Error`] that quotes
//! what came back (key scrubbed). The pure rules live in [`super::retry`].

use std::sync::atomic::{AtomicBool, Ordering};
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

    /// A synchronous write (PATCH, POST, DELETE): its class follows from the method
    /// ([`Idempotency::of_write`]).
    pub(super) fn write(
        method: Method,
        url: Url,
        body: Option<Bytes>,
        info: RequestInfo,
    ) -> Request {
        let idem = Idempotency::of_write(&method);
        Request {
            method,
            url,
            body,
            info,
            idem,
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
            idem: Idempotency::Once,
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
        /// Whether the status line had come (the failure hit the body).
        answered: bool,
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

    /// A synchronous write: `None` when HostUp answered 204, else its JSON body as `T`.
    pub(super) async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        info: RequestInfo,
    ) -> Result<Option<T>, Error> {
        let reply = self
            .send(Request::write(method, url, body, info), None)
            .await?;
        self.json_or_nothing(&reply)
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
                snippet: self.quoted_body(&answer.body),
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

    /// The start of a body that was not what was expected, key scrubbed; logged at debug, since
    /// the texts a user reads say what came in words (docs/MESSAGES.md).
    fn quoted_body(&self, body: &[u8]) -> String {
        let quoted = self.inner.api_key.scrub(&snippet(body));
        tracing::debug!(body = %quoted, "HostUp answered with an unexpected body");
        quoted
    }

    /// A success body that does not match what was expected: quoted, key scrubbed.
    pub(super) fn shape_error(&self, reply: &Reply, message: String) -> Error {
        Error::Decode {
            request: Box::new(reply.info.clone()),
            status: reply.answer.status,
            message,
            snippet: self.quoted_body(&reply.answer.body),
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
                snippet: self.quoted_body(&answer.body),
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
        let answered = AtomicBool::new(false);
        let exchange = async {
            let mut resp = rb.send().await?;
            answered.store(true, Ordering::Relaxed);
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
        let answered = answered.load(Ordering::Relaxed);
        match outcome {
            Err(_) => Err(AttemptError::Failed {
                failure: AttemptFailure::Timeout,
                message: "timed out".into(),
                answered,
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
                    message: network_words(&e),
                    answered,
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
                Err(AttemptError::Failed {
                    failure,
                    message,
                    answered,
                }) => {
                    tracing::debug!(
                        method = %call.method, path = %call.info.path,
                        attempt = attempts, duration_ms = took.as_millis() as u64,
                        error = %message, "HostUp request failed"
                    );
                    let err = match failure {
                        AttemptFailure::Timeout => Error::Timeout {
                            request: Box::new(call.info.clone()),
                            after: self.inner.timeouts.request,
                            elapsed: started.elapsed(),
                        },
                        f => Error::Network {
                            request: Box::new(call.info.clone()),
                            not_sent: f == AttemptFailure::NotSent,
                            message,
                        },
                    };
                    // Once the answer has begun, HostUp has acted on the request.
                    let failure = if answered {
                        AttemptFailure::AfterAnswer
                    } else {
                        failure
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
                        (AttemptFailure::AfterAnswer, None, Ok((answer, attempts)))
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

/// What went wrong on the connection, in a sentence of our own: the library's error chain
/// (`client error (Connect): tcp connect error: Connection refused (os error 111)`) names its
/// internals, not what the user can check. The cases are the ones a HostUp user meets: nothing
/// listening, a name that does not resolve, TLS spoken to a plain-HTTP server (an `https://`
/// endpoint of a local simulator), a certificate not accepted, a connection reset or closed.
/// The rustls error in `e`: it travels inside io::Errors (one in another), whose `source()`
/// skips the error they carry.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// A TLS failure in a user's words.
fn tls_words(e: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    let cert = |why: &str| format!("the server's TLS certificate was not accepted: {why}");
    match e {
        rustls::Error::InvalidMessage(_) => NOT_TLS.to_owned(),
        rustls::Error::InvalidCertificate(c) => match c {
            Cert::UnknownIssuer => {
                cert("it is not signed by an authority this machine trusts (self-signed?)")
            }
            Cert::Expired | Cert::ExpiredContext { .. } => cert("it has expired"),
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => cert("it is not valid yet"),
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                cert("it is not valid for this host name")
            }
            Cert::Revoked => cert("it has been revoked"),
            _ => cert("it is not valid"),
        },
        _ => "the TLS handshake with the server failed".to_owned(),
    }
}

/// The words for TLS spoken to a server that answers in plain HTTP.
const NOT_TLS: &str =
    "the server does not speak TLS (an https:// endpoint pointed at a plain-HTTP server?)";

fn network_words(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    use std::io::ErrorKind as Io;
    let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        chain.push(s);
        src = s.source();
    }
    let texts: Vec<String> = chain.iter().map(|s| s.to_string()).collect();
    tracing::debug!(chain = %texts.join(": "), "HostUp connection error");
    let any = |needle: &str| texts.iter().any(|t| t.contains(needle));
    for s in &chain {
        if let Some(tls) = rustls_error(*s) {
            return tls_words(tls);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let words = match io.kind() {
                Io::ConnectionRefused => Some("the connection was refused: nothing listens there"),
                Io::ConnectionReset => Some("the connection was reset"),
                Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => {
                    Some("the server closed the connection")
                }
                Io::TimedOut => Some("connecting timed out"),
                Io::AddrNotAvailable | Io::NetworkUnreachable | Io::HostUnreachable => {
                    Some("the network or the host is unreachable")
                }
                _ => None,
            };
            if let Some(w) = words {
                return w.to_owned();
            }
        }
    }
    if any("dns error") || any("failed to lookup address") {
        return "the host name could not be resolved".to_owned();
    }
    if any("InvalidContentType") || any("corrupt message") {
        return NOT_TLS.to_owned();
    }
    if any("connection closed before message completed") || any("IncompleteMessage") {
        return "the server closed the connection before answering".to_owned();
    }
    if e.is_timeout() {
        return "no answer in time".to_owned();
    }
    if e.is_connect() {
        return "the connection could not be made".to_owned();
    }
    "the connection failed".to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::hostup::{ClientConfig, ErrorKind, RetryPolicy};

    /// What the test server does with one request.
    #[derive(Clone, Copy)]
    enum Step {
        /// Answers this raw status line and JSON body (empty: no body).
        Answer(u16, &'static str),
        /// Reads the request and closes the connection without an answer.
        Drop,
        /// Answers 200 with a `content-length` of 100 and a 10-byte body, then closes.
        CutBody,
    }

    /// A one-connection-per-request HTTP/1.1 server on 127.0.0.1 that plays `steps` in order
    /// (the last one again once they run out); returns its origin and the request count.
    async fn serve(steps: Vec<Step>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let step = steps[n.min(steps.len() - 1)];
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then as much body as content-length says.
                while let Ok(r @ 1..) = sock.read(&mut chunk).await {
                    buf.extend_from_slice(&chunk[..r]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let out = match step {
                    Step::Answer(status, body) => format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Step::Drop => String::new(),
                    Step::CutBody => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: 100\r\nconnection: close\r\n\r\n{\"a\":1,\"b\""
                        .to_string(),
                };
                let _ = sock.write_all(out.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (origin, count)
    }

    fn client(origin: &str) -> Client {
        let mut cfg = ClientConfig::new(origin, "k-transport-test").unwrap();
        cfg.retry = RetryPolicy {
            max_attempts: 4,
            max_rate_limited_attempts: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_rate_limit_wait: Duration::from_secs(2),
            max_total: Duration::from_secs(20),
        };
        Client::new(cfg).unwrap()
    }

    fn url(origin: &str, path: &str) -> Url {
        Url::parse(&format!("{origin}{path}")).unwrap()
    }

    fn info(method: Method, path: &str) -> RequestInfo {
        let mut info = RequestInfo::new(method, path.to_string(), "change the thing");
        info.vps_id = Some("vps_t".into());
        info
    }

    /// Sends one synchronous write to a server playing `steps`; returns the result and how
    /// many requests reached the server.
    async fn write(
        method: Method,
        steps: Vec<Step>,
    ) -> (Result<Option<Value>, Error>, usize, Client) {
        let (origin, count) = serve(steps).await;
        let c = client(&origin);
        let path = "/api/v2/vps/vps_t/backup-schedules";
        let body = Some(json_body(&serde_json::json!({"enabled": true})).unwrap());
        let r = c
            .write::<Value>(method.clone(), url(&origin, path), body, info(method, path))
            .await;
        (r, count.load(Ordering::SeqCst), c)
    }

    #[tokio::test]
    async fn a_synchronous_write_answers_json_or_nothing() {
        for method in [Method::PATCH, Method::POST, Method::DELETE] {
            let (r, n, c) = write(method.clone(), vec![Step::Answer(200, r#"{"a":1}"#)]).await;
            assert_eq!(r.unwrap(), Some(serde_json::json!({"a": 1})), "{method}");
            assert_eq!(n, 1, "{method}");
            // A write changes its VPS, as far as the gate reads of this process can tell.
            assert_eq!(c.vps_changes("vps_t"), 1, "{method}");
            let (r, _, _) = write(method.clone(), vec![Step::Answer(204, "")]).await;
            assert_eq!(r.unwrap(), None, "{method}");
        }
        // An error status is HostUp's problem, as for every request.
        let (r, n, _) = write(
            Method::PATCH,
            vec![Step::Answer(
                422,
                r#"{"title":"Invalid","errors":[{"pointer":"/enabled"}]}"#,
            )],
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!((e.status(), n), (Some(422), 1));
        assert_eq!(e.field_errors()[0].pointer.as_deref(), Some("/enabled"));
        assert!(!e.may_have_been_applied());
    }

    #[tokio::test]
    async fn an_idempotent_write_is_retried_until_an_answer_begins() {
        for method in [Method::DELETE, Method::PATCH] {
            // The connection broke before any answer: sent again, like a read.
            let (r, n, _) = write(
                method.clone(),
                vec![Step::Drop, Step::Drop, Step::Answer(204, "")],
            )
            .await;
            assert_eq!(r.unwrap(), None, "{method}");
            assert_eq!(n, 3, "{method}");
            // 429: sent again.
            let (r, n, _) = write(
                method.clone(),
                vec![
                    Step::Answer(429, r#"{"code":"rate_limit_exceeded","retryAfter":0}"#),
                    Step::Answer(204, ""),
                ],
            )
            .await;
            assert_eq!((r.unwrap(), n), (None, 2), "{method}");
            // HostUp answered: a 5xx or a cut body is not sent again (HostUp acted, and a
            // second DELETE would answer differently).
            let (r, n, _) = write(
                method.clone(),
                vec![Step::Answer(502, r#"{"code":"upstream_failed"}"#)],
            )
            .await;
            assert_eq!((r.unwrap_err().status(), n), (Some(502), 1), "{method}");
            let (r, n, _) = write(method.clone(), vec![Step::CutBody, Step::Answer(204, "")]).await;
            let e = r.unwrap_err();
            assert_eq!(n, 1, "{method}: {e}");
            assert_eq!(e.kind(), ErrorKind::Network, "{method}: {e}");
            // Repeating it is harmless: no "may have been applied" warning.
            assert!(!e.may_have_been_applied(), "{method}: {e}");
        }
    }

    #[tokio::test]
    async fn a_synchronous_post_goes_once_unless_hostup_certainly_did_not_act() {
        let (r, n, _) = write(Method::POST, vec![Step::Drop, Step::Answer(200, "{}")]).await;
        let e = r.unwrap_err();
        assert_eq!(n, 1, "{e}");
        assert!(
            matches!(
                e,
                Error::Network {
                    not_sent: false,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.may_have_been_applied(), "{e}");
        assert!(e.hint().contains("may have carried it out"), "{}", e.hint());
        let (r, n, _) = write(
            Method::POST,
            vec![Step::Answer(503, "{}"), Step::Answer(200, "{}")],
        )
        .await;
        assert_eq!((r.unwrap_err().status(), n), (Some(503), 1));
        let (r, n, _) = write(
            Method::POST,
            vec![
                Step::Answer(429, r#"{"retryAfter":0}"#),
                Step::Answer(200, "{}"),
            ],
        )
        .await;
        assert_eq!((r.unwrap(), n), (Some(serde_json::json!({})), 2));
    }

    #[tokio::test]
    async fn a_read_is_retried_on_a_cut_body_a_job_creating_write_is_not() {
        let (origin, count) = serve(vec![Step::CutBody, Step::Answer(200, r#"{"a":2}"#)]).await;
        let c = client(&origin);
        let v: Value = c
            .get_json(
                url(&origin, "/api/v2/vps"),
                info(Method::GET, "/api/v2/vps"),
            )
            .await
            .unwrap();
        assert_eq!(
            (v, count.load(Ordering::SeqCst)),
            (serde_json::json!({"a": 2}), 2)
        );

        let (origin, count) = serve(vec![Step::CutBody, Step::Answer(204, "")]).await;
        let c = client(&origin);
        let path = "/api/v2/vps/vps_t/backups";
        let e = c
            .send_job(
                Method::POST,
                url(&origin, path),
                None,
                info(Method::POST, path),
            )
            .await
            .unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), 1, "{e}");
        assert!(e.may_have_been_applied(), "{e}");
        assert!(e.hint().contains("may have queued"), "{}", e.hint());
    }

    #[tokio::test]
    async fn a_backup_delete_takes_204_or_a_202_operation() {
        let (origin, count) = serve(vec![Step::Answer(204, "")]).await;
        let c = client(&origin);
        assert_eq!(c.delete_backup("vps_t", "bkp_1").await.unwrap(), None);
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (origin, _) = serve(vec![Step::Answer(
            202,
            r#"{"operation":{"jobId":"job_d","status":"queued","pollUrl":"/api/jobs/job_d"}}"#,
        )])
        .await;
        let op = client(&origin)
            .delete_backup("vps_t", "bkp_1")
            .await
            .unwrap()
            .expect("the 202's operation");
        assert_eq!(op.job_id, "job_d");
        assert_eq!(op.vps_id.as_deref(), Some("vps_t"));
        assert_eq!(op.job_ref().vps_id.as_deref(), Some("vps_t"));

        // A 2xx body that names no job is quoted, as for every job-creating request.
        let (origin, _) = serve(vec![Step::Answer(200, r#"{"deleted":true}"#)]).await;
        let e = client(&origin)
            .delete_backup("vps_t", "bkp_1")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
        assert!(
            e.to_string().contains("no operation.jobId in the answer"),
            "{e}"
        );
        assert!(e.to_string().contains("deleted"), "{e}");
    }
}
