//! Shared helpers of the `client_*` tests: an in-process hostup-sim on 127.0.0.1:0, a client
//! with test-sized timings, and the sim's admin API (counters, faults, state, config).
//!
//! It exists so each client test states only what it checks; everything goes over real HTTP.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::time::Duration;

use hostup_provider::hostup::{Client, ClientConfig, PollSchedule, RetryPolicy};
use hostup_provider::sim::{self, SimConfig, SimHandle};
use serde_json::{json, Value};

pub use hostup_provider::sim::fixture::{
    BACKUP_APP, KEY_ADMIN, KEY_BACKUP_ONLY, KEY_READ_ONLY, KEY_TEST, SNAPSHOT_APP, VPS_APP,
    VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PAYG, VPS_PENDING,
};

/// A running sim plus an admin HTTP client.
pub struct TestSim {
    pub handle: SimHandle,
    pub admin: reqwest::Client,
}

/// Starts a sim with `cfg` (port 0).
pub async fn start(cfg: SimConfig) -> TestSim {
    let handle = sim::start(cfg.with_port(0))
        .await
        .expect("start hostup-sim");
    TestSim {
        handle,
        admin: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("admin client"),
    }
}

/// Retry timings short enough for tests, same rules as production.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_rate_limited_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_rate_limit_wait: Duration::from_secs(5),
        max_total: Duration::from_secs(30),
    }
}

/// A poll schedule for sub-second sim jobs.
pub fn fast_poll() -> PollSchedule {
    PollSchedule {
        floor: Duration::from_millis(50),
        cap: Duration::from_millis(400),
        eta_margin: Duration::from_millis(20),
        ..PollSchedule::default()
    }
}

impl TestSim {
    /// The origin, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.handle.base_url()
    }

    /// A config for this sim with `key` and test timings.
    pub fn config(&self, key: &str) -> ClientConfig {
        let mut c = ClientConfig::new(&self.url(), key).expect("client config");
        c.retry = fast_retry();
        c.poll = fast_poll();
        c
    }

    /// A client with `key` and test timings.
    pub fn client(&self, key: &str) -> Client {
        Client::new(self.config(key)).expect("client")
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .admin
            .request(method, format!("{}/_sim/{path}", self.url()));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("admin request");
        let status = resp.status();
        let text = resp.text().await.expect("admin body");
        assert!(status.is_success(), "admin {path}: {status} {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("admin json")
        }
    }

    /// Requests per `METHOD /route/template`.
    pub async fn counters(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.admin(reqwest::Method::GET, "counters", None).await)
            .expect("counters")
    }

    /// Count of one `METHOD /route/template`.
    pub async fn count(&self, key: &str) -> u64 {
        self.counters().await.get(key).copied().unwrap_or(0)
    }

    /// The request log.
    pub async fn requests(&self) -> Vec<Value> {
        let v = self.admin(reqwest::Method::GET, "requests", None).await;
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Replaces the fault set.
    pub async fn faults(&self, faults: Value) {
        self.admin(reqwest::Method::POST, "faults", Some(faults))
            .await;
    }

    /// Clears the request log and counters.
    pub async fn clear_log(&self) {
        self.admin(reqwest::Method::DELETE, "requests", None).await;
    }

    /// Back to the fixture.
    pub async fn reset(&self) {
        self.admin(reqwest::Method::POST, "reset", None).await;
    }

    /// Patches the run-time config (`jobDurationMs`, `jobShape`, `rateLimit`, …).
    pub async fn set_config(&self, patch: Value) {
        self.admin(reqwest::Method::PATCH, "config", Some(patch))
            .await;
    }

    /// The state dump.
    pub async fn state(&self) -> Value {
        self.admin(reqwest::Method::GET, "state", None).await
    }

    /// Jobs the sim has created.
    pub async fn job_count(&self) -> usize {
        self.state().await["jobs"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    /// Forces a job to complete.
    pub async fn complete_job(&self, job_id: &str) {
        self.admin(
            reqwest::Method::POST,
            &format!("jobs/{job_id}/complete"),
            Some(json!({})),
        )
        .await;
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 time from the sim's request log.
pub fn log_time_ms(v: &Value) -> i128 {
    let s = v["time"].as_str().expect("log time");
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .expect("rfc3339 log time");
    t.unix_timestamp_nanos() / 1_000_000
}
