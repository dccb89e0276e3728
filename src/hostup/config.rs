//! Client configuration and endpoint normalisation.

use std::net::IpAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::{Host, Url};

use super::jobs::PollSchedule;
use super::secret::ApiKey;

/// The default HostUp origin (docs/ARCHITECTURE.md, "Resources": `endpoint` defaults to it).
pub const DEFAULT_ENDPOINT: &str = "https://cloud.hostup.se";

/// Everything needed to build a [`super::Client`]; exists so that the caller (the provider)
/// decides endpoint, key and tuning in one value, and tests can shorten the timings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The HostUp origin, e.g. `https://cloud.hostup.se`. See [`normalize_endpoint`] for the
    /// accepted spellings (trailing slash, `/api`, `/api/v2` suffixes are all normalised away).
    pub endpoint: Url,
    /// The API key, sent as `Authorization: Bearer <key>`.
    pub api_key: ApiKey,
    /// Appended to the User-Agent after a space, e.g. `terraform/1.11.4`.
    pub user_agent_suffix: Option<String>,
    /// Per-attempt request and connect timeouts.
    pub timeouts: Timeouts,
    /// When and how often failed requests are retried.
    pub retry: RetryPolicy,
    /// Client-side pacing on top of what HostUp's headers say.
    pub rate_limit: RateLimitConfig,
    /// Default job poll schedule for [`super::Client::wait_for_job`].
    pub poll: PollSchedule,
    /// A client-wide cancellation token: cancelling it ends every request and wait of this
    /// client (and its clones) within a second. Per-call tokens: [`super::Client::with_cancel`].
    pub cancel: CancellationToken,
}

impl ClientConfig {
    /// A configuration with the documented defaults; fails on an endpoint that is not an
    /// https origin (or http on a loopback host) and on an empty key.
    pub fn new(endpoint: &str, api_key: impl Into<ApiKey>) -> Result<Self, ConfigError> {
        let api_key = api_key.into();
        if api_key.is_empty() {
            return Err(ConfigError::MissingApiKey);
        }
        Ok(ClientConfig {
            endpoint: normalize_endpoint(endpoint)?,
            api_key,
            user_agent_suffix: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            rate_limit: RateLimitConfig::default(),
            poll: PollSchedule::default(),
            cancel: CancellationToken::new(),
        })
    }

    /// Adds ` terraform/<version>` to the User-Agent, as HostUp support would want to see it.
    pub fn with_terraform_version(mut self, version: &str) -> Self {
        let v = version.trim();
        if !v.is_empty() {
            self.user_agent_suffix = Some(format!("terraform/{v}"));
        }
        self
    }
}

/// Timeouts of one HTTP attempt. Exists because a hung connection must never hang `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Whole attempt (connect + send + full body), default 30 s.
    pub request: Duration,
    /// TCP + TLS connect, default 10 s.
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(30),
            connect: Duration::from_secs(10),
        }
    }
}

/// Retry bounds. Exists so retries are always bounded in count and time, and tests can make
/// the backoff short.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts for a GET that meets 5xx / network errors / timeouts (default 5, i.e. 4 retries).
    pub max_attempts: u32,
    /// Attempts for any request answered 429 (default 8); each waits what HostUp asked for.
    pub max_rate_limited_attempts: u32,
    /// First backoff delay (default 500 ms), doubled per retry, jittered.
    pub base_delay: Duration,
    /// Largest single backoff delay (default 10 s).
    pub max_delay: Duration,
    /// Largest single wait after a 429 (default 60 s); a longer `Retry-After` ends retrying.
    pub max_rate_limit_wait: Duration,
    /// Total time one call may spend retrying (default 3 min).
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_rate_limited_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_rate_limit_wait: Duration::from_secs(60),
            max_total: Duration::from_secs(180),
        }
    }
}

/// Client-side pacing. Exists for APIs (or proxies) that do not send `X-RateLimit-*`:
/// HostUp's headers alone already drive the shared limiter.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimitConfig {
    /// At most this many requests per second from this process to this origin (None = no
    /// client-side cap; HostUp's headers still apply).
    pub requests_per_second: Option<f64>,
}

/// A configuration the client refuses to use. Exists so the provider can point at the
/// offending argument (`endpoint` or `api_key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The endpoint is not a URL.
    #[error("endpoint {endpoint:?} is not a valid URL: {reason}")]
    InvalidEndpoint {
        /// What was given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },
    /// Plain http to a host that is not loopback would send the API key in clear text.
    #[error(
        "endpoint {endpoint:?} uses plain http; only https is allowed, except for loopback \
         hosts such as 127.0.0.1 (a local hostup-sim)"
    )]
    InsecureEndpoint {
        /// What was given.
        endpoint: String,
    },
    /// No API key.
    #[error("no HostUp API key was given")]
    MissingApiKey,
    /// The key cannot be sent in an HTTP header (control characters).
    #[error("the HostUp API key contains characters that cannot be sent in an HTTP header")]
    InvalidApiKey,
    /// The User-Agent suffix cannot be sent in a header.
    #[error("the User-Agent suffix contains characters that cannot be sent in an HTTP header")]
    InvalidUserAgent,
    /// The HTTP stack could not be built (TLS roots, resolver).
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

/// Normalises an endpoint to its origin URL (`scheme://host[:port]/`).
///
/// Accepted: `https://cloud.hostup.se`, with or without a trailing slash, and with an `/api` or
/// `/api/v2` suffix (users copy the base from HostUp's docs). Refused: other paths (`pollUrl` is
/// host-rooted, so a path prefix could not be honoured), query strings, fragments, user info
/// (credentials in URLs end up in logs), schemes other than https, and http unless the host
/// is loopback (`localhost`, `127.0.0.0/8`, `::1`).
pub fn normalize_endpoint(endpoint: &str) -> Result<Url, ConfigError> {
    let raw = endpoint.trim();
    let invalid = |reason: &str| ConfigError::InvalidEndpoint {
        endpoint: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not contain a query string or fragment"));
    }
    let host = url.host().ok_or_else(|| invalid("it has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&host) {
                return Err(ConfigError::InsecureEndpoint {
                    endpoint: raw.to_string(),
                });
            }
        }
        other => return Err(invalid(&format!("scheme {other:?} is not https"))),
    }
    let path = url.path().trim_end_matches('/');
    if !matches!(path, "" | "/api" | "/api/v2") {
        return Err(invalid(
            "it must be an origin such as https://cloud.hostup.se (optionally ending in /api/v2)",
        ));
    }
    let mut origin = url.clone();
    origin.set_path("/");
    Ok(origin)
}

/// Whether a host is a loopback address, the only place plain http is allowed.
pub(crate) fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_spellings_normalise_to_origin() {
        for e in [
            "https://cloud.hostup.se",
            "https://cloud.hostup.se/",
            "https://cloud.hostup.se/api/v2",
            "https://cloud.hostup.se/api/v2/",
            "https://cloud.hostup.se/api",
            " https://cloud.hostup.se ",
        ] {
            assert_eq!(
                normalize_endpoint(e).unwrap().as_str(),
                "https://cloud.hostup.se/",
                "{e}"
            );
        }
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:8080/api/v2")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(normalize_endpoint("http://localhost:1").is_ok());
        assert!(normalize_endpoint("http://[::1]:1").is_ok());
    }

    #[test]
    fn endpoint_refusals() {
        assert!(matches!(
            normalize_endpoint("http://cloud.hostup.se"),
            Err(ConfigError::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            normalize_endpoint("http://10.0.0.1"),
            Err(ConfigError::InsecureEndpoint { .. })
        ));
        for bad in [
            "cloud.hostup.se",
            "ftp://cloud.hostup.se",
            "https://cloud.hostup.se/other",
            "https://user:pw@cloud.hostup.se",
            "https://cloud.hostup.se/?a=b",
            "",
        ] {
            assert!(
                matches!(
                    normalize_endpoint(bad),
                    Err(ConfigError::InvalidEndpoint { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_key_refused() {
        assert_eq!(
            ClientConfig::new(DEFAULT_ENDPOINT, "  ").unwrap_err(),
            ConfigError::MissingApiKey
        );
        let c = ClientConfig::new(DEFAULT_ENDPOINT, "k")
            .unwrap()
            .with_terraform_version("1.11.4");
        assert_eq!(c.user_agent_suffix.as_deref(), Some("terraform/1.11.4"));
        assert!(!format!("{c:?}").contains("\"k\""));
    }
}
