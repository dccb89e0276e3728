//! The HostUp client handle: what every call of a process shares.
//!
//! Exists so that one object owns the connection pool, the API key, the retry and poll
//! settings, the cancellation tokens and the process-wide rate limiter and per-VPS locks,
//! while the rooms that use them stay apart: [`super::transport`] sends requests,
//! [`super::endpoints`] names HostUp's endpoints, and [`super::jobs`] waits on jobs. Those rooms
//! add their methods to [`Client`] in their own files; this one builds it and holds the per-VPS
//! lock methods.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::config::{is_loopback, ClientConfig, ConfigError, RetryPolicy, Timeouts};
use super::endpoints::check_id;
use super::error::{Error, RequestInfo};
use super::jobs::PollSchedule;
use super::locks::{VpsLockGuard, VpsLocks};
use super::ratelimit::{self, RateLimiter};
use super::secret::ApiKey;
use super::USER_AGENT_PRODUCT;

/// What the clones of one [`Client`] share.
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) origin: Url,
    pub(super) api_key: ApiKey,
    pub(super) auth: HeaderValue,
    pub(super) retry: RetryPolicy,
    pub(super) timeouts: Timeouts,
    pub(super) poll: PollSchedule,
    pub(super) limiter: Arc<RateLimiter>,
    pub(super) cancel: CancellationToken,
    pub(super) locks: Arc<VpsLocks>,
}

/// The HostUp API client. Cheap to clone; clones share the connection pool and the
/// client-wide cancellation token. The rate limiter (per origin and key) and the per-VPS
/// locks (per origin) are shared by every client of the process.
///
/// Exists so the provider has one object that talks to HostUp correctly: see the module
/// docs of [`crate::hostup`] for the rules it enforces.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
    pub(super) call_cancel: Option<CancellationToken>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.inner.origin.as_str())
            .field("api_key", &self.inner.api_key)
            .finish_non_exhaustive()
    }
}

/// Cancellation sources of one call: the client's, the handle's and the call's own.
pub(super) struct Cancel<'a> {
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
    /// Resolves when any of the sources fires.
    pub(super) async fn cancelled(&self) {
        tokio::select! {
            _ = self.client.cancelled() => {}
            _ = maybe_cancelled(self.handle) => {}
            _ = maybe_cancelled(self.call) => {}
        }
    }

    /// Whether any of the sources has fired.
    pub(super) fn is_cancelled(&self) -> bool {
        self.client.is_cancelled()
            || self.handle.is_some_and(CancellationToken::is_cancelled)
            || self.call.is_some_and(CancellationToken::is_cancelled)
    }
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

    /// The cancellation sources of one call: the client's, this handle's and `call`.
    pub(super) fn cancel<'a>(&'a self, call: Option<&'a CancellationToken>) -> Cancel<'a> {
        Cancel {
            client: &self.inner.cancel,
            handle: self.call_cancel.as_ref(),
            call,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let c =
            Client::new(ClientConfig::new("https://cloud.hostup.se", "k-123456").unwrap()).unwrap();
        assert!(!format!("{c:?}").contains("k-123456"));
    }
}
