//! The HostUp HTTP client: typed models, Problem Details errors with actionable hints, safe
//! retries, a process-wide rate limiter and the one place that waits on HostUp jobs.
//!
//! It exists so that the provider (and anything else) can talk to HostUp without knowing HTTP,
//! and so that the hard rules of docs/ARCHITECTURE.md, "Contracts" live in one tested place:
//! - a job-creating POST/DELETE is never sent twice unless HostUp certainly did not act on it
//!   (429, or the connection failed before the request was sent);
//! - GETs retry on 5xx / network errors / timeouts with jittered exponential backoff, and a
//!   synchronous DELETE or PATCH on network errors and timeouts until HostUp's answer begins;
//! - `Retry-After` and `X-RateLimit-*` are honoured by every concurrent request at once;
//! - every wait, backoff and request ends promptly on cancellation;
//! - the API key never reaches a log line, an error text or a `Debug` dump.
//!
//! This module knows nothing of Terraform: it never imports `crate::plugin`, `crate::provider`
//! or `crate::sim`.
//!
//! Entry points: [`ClientConfig`] → [`Client::new`]; endpoint methods on [`Client`];
//! [`Client::wait_for_job`] (see [`jobs`]); errors are [`Error`] and [`WaitError`].
//!
//! Rooms: `client` (the handle and what its clones share), `transport` (the one send path and
//! its retry classes, rules in `retry`), `endpoints` (one method per HostUp endpoint), `policy` (the schedule and backup-settings
//! endpoints, reads and synchronous writes, with their models), [`jobs`]
//! (the job model, the poll planner and the wait loop), `error` (errors and their API-level
//! hints), `models`, `config`, `ratelimit`, `locks`, `secret`, [`wire`].

mod client;
mod config;
mod endpoints;
mod error;
pub mod jobs;
mod locks;
#[macro_use]
mod models;
mod policy;
mod ratelimit;
mod retry;
mod secret;
mod transport;
pub mod wire;

pub use client::Client;
pub use config::{
    normalize_endpoint, ClientConfig, ConfigError, RateLimitConfig, RetryPolicy, Timeouts,
    DEFAULT_ENDPOINT,
};
pub use endpoints::VpsListQuery;
pub use error::{Error, ErrorKind, FieldError, Hint, Problem, Remedy, RequestInfo};
pub use jobs::{
    simulate_wait, JobKind, JobOutcome, JobRef, JobSnapshot, JobState, PollPlanner, PollSchedule,
    ProgressCallback, ProgressTracker, SimulatedWait, TerminalState, WaitError, WaitOptions,
};
pub use locks::VpsLockGuard;
pub use models::{
    is_busy_code, Backup, BackupActions, BackupList, Billing, CreateBackup, CreateSnapshot, Gate,
    OperatingSystem, Operation, OperationStatus, PowerState, QuotaInfo, Resources, RestoreFromVps,
    RestoreSource, RestoreSources, ServiceStatus, Snapshot, SnapshotActions, SnapshotLimits,
    SnapshotList, Vps, VpsPage,
};
pub use policy::{
    BackupFrequency, BackupSchedule, BackupSchedules, BackupSettings, SetBackupSchedule,
    SetBackupSettings, SetSnapshotSchedule, SnapshotSchedule, SnapshotScheduleActions,
    SnapshotScheduleInfo,
};
pub use secret::ApiKey;

/// The User-Agent product token of this client, so HostUp can tell our traffic apart (a
/// public script found HostUp rejecting generic user agents).
pub const USER_AGENT_PRODUCT: &str =
    concat!("terraform-provider-hostup/", env!("CARGO_PKG_VERSION"));
