//! Start-up configuration of the simulator, shared by the in-process API and the CLI.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::Faults;
use super::fixture::Fixture;
use super::keys::ApiKey;

/// Which body `GET /api/jobs/{jobId}` answers with.
///
/// The reference documents a legacy envelope but v2 endpoints hand out operation envelopes, and
/// the real shape of a v2 job poll is unknown; clients must be testable against each variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobShape {
    /// `{success, timestamp, requestId, data:{…}}` as on the documented legacy page.
    #[default]
    Legacy,
    /// `{operation:{status, jobId, pollUrl, result, progress}}` like the 202 answers.
    Operation,
    /// The `data` object of the legacy envelope, unwrapped.
    Bare,
}

impl FromStr for JobShape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "legacy" => Ok(Self::Legacy),
            "operation" => Ok(Self::Operation),
            "bare" => Ok(Self::Bare),
            other => Err(format!(
                "unknown job shape {other:?} (legacy|operation|bare)"
            )),
        }
    }
}

/// How `DELETE /api/v2/vps/{id}/snapshots/{name}` answers.
///
/// The reference could not retrieve that page; the legacy delete is asynchronous, so `Async` is
/// the default, and `Sync` lets a client be tested against the other plausible answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotDeleteMode {
    /// 202 with an operation envelope; the snapshot disappears when the job completes.
    #[default]
    Async,
    /// 204 No Content; the snapshot is gone at once.
    Sync,
}

impl FromStr for SnapshotDeleteMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "async" => Ok(Self::Async),
            "sync" => Ok(Self::Sync),
            other => Err(format!(
                "unknown snapshot delete mode {other:?} (async|sync)"
            )),
        }
    }
}

/// Declares a run-time option enum with its lowercase serde/CLI names, so each option has one
/// spelling across `SimConfig`, `PATCH /_sim/config` and the CLI.
macro_rules! option_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(
                $(#[$vm])*
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every accepted spelling, for error messages and docs.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// The spelling used in JSON and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.to_ascii_lowercase().replace('_', "-");
                $(if s == $text { return Ok(Self::$variant); })+
                Err(format!(
                    "unknown {} {s:?} ({})",
                    stringify!($name),
                    Self::NAMES.join("|")
                ))
            }
        }
    };
}

option_enum! {
    /// The status a new job starts in (reference §1.9: `operation.status` is
    /// `pending|queued|in_progress|completed|failed`; which of the first two a new job shows is
    /// undocumented).
    JobInitialStatus {
        /// The 202 says `queued`; the job is `queued` for the first 10 % of its duration.
        #[default]
        Queued = "queued",
        /// The 202 says `pending`; the job is `pending` for the first 5 %, then `queued` until
        /// 10 %.
        Pending = "pending",
    }
}

option_enum! {
    /// How a gate without a code shows its `code` (reference §4.1/§5.1: `code` is optional).
    GateCodeKey {
        /// `"code": null`.
        #[default]
        Null = "null",
        /// No `code` key at all.
        Omit = "omit",
    }
}

option_enum! {
    /// When a snapshot being created shows in the snapshot list (reference §8.18: unknown).
    SnapshotVisibility {
        /// Only once its create job has completed.
        #[default]
        Completed = "completed",
        /// At once, with `createdAt` and `expiresAt` null until its job completes.
        Immediate = "immediate",
    }
}

option_enum! {
    /// The vocabulary of job `type` / `jobName` (reference §2: undocumented; legacy ids show
    /// `snapshot_rollback`).
    JobTypes {
        /// `snapshot_create`, `snapshot_delete`, `snapshot_restore`, `backup_create`,
        /// `backup_restore`.
        #[default]
        Current = "current",
        /// As the legacy API names them: `snapshot_create`, `snapshot_delete`,
        /// `snapshot_rollback`, `backup_create`, `backup_restore`.
        Legacy = "legacy",
        /// Proxmox task names: `qmsnapshot`, `qmdelsnapshot`, `qmrollback`, `vzdump`,
        /// `qmrestore`.
        Proxmox = "proxmox",
    }
}

option_enum! {
    /// The form of a job's `vmId` (reference §2: a string of unknown form).
    VmIdForm {
        /// The public `vps_…` id.
        #[default]
        Public = "public",
        /// A legacy numeric id as a string, e.g. `"412"` (the number in the VPS's backup
        /// storage keys).
        Numeric = "numeric",
    }
}

option_enum! {
    /// The shape of the `schedule` object of `…/snapshot-schedules` (undocumented for v2; the
    /// legacy API's was snake_case).
    SnapshotScheduleShape {
        /// camelCase: `{enabled, intervalHours, lastRun, nextRun, createdAt}`.
        #[default]
        V2 = "v2",
        /// The legacy API's snake_case: `{id, vm_id, enabled, interval_hours, retention_days,
        /// last_run, next_run, created_at}`.
        Legacy = "legacy",
    }
}

option_enum! {
    /// How `DELETE …/snapshot-schedules` answers (undocumented).
    SnapshotScheduleDelete {
        /// 204 No Content.
        #[default]
        Empty = "empty",
        /// 200 with the `GET …/snapshot-schedules` body (`schedule: null`).
        Body = "body",
    }
}

option_enum! {
    /// How a backup schedule's `daySpecifier` names its day (undocumented: a string or null).
    DaySpecifier {
        /// Weekly: the English day name in lowercase (`sunday` … `saturday`); monthly: the day
        /// of the month as a string (`"1"` … `"31"`).
        #[default]
        Name = "name",
        /// Weekly: the day number as a string (`"0"` = Sunday … `"6"`); monthly as `name`.
        Number = "number",
    }
}

/// Where the initial VPS set comes from.
///
/// Tests mostly want the built-in set (ids they can hard-code); demos and special cases bring
/// their own file or build one in code.
#[derive(Clone, Debug, Default)]
pub enum FixtureSource {
    /// The built-in set documented in docs/hostup-sim.md §5.1.
    #[default]
    Default,
    /// A JSON file in the fixture format.
    File(PathBuf),
    /// A fixture built in code.
    Inline(Box<Fixture>),
}

/// Everything that shapes a simulator run; the same knobs as the `hostup-sim` CLI.
///
/// One struct serves both the in-process API (tests) and the binary (terraform tests, demo,
/// benchmarks), so behaviour cannot drift between the two ways of running it.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to bind; loopback by default because the provider only talks plain HTTP to
    /// loopback.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Initial VPS set.
    pub fixture: FixtureSource,
    /// Keys added to (or redefining) the built-in ones.
    pub keys: Vec<ApiKey>,
    /// Whether the built-in keys (`test-key`, `read-only-key`, …) are accepted.
    pub default_keys: bool,
    /// Number of generated `load-NNN` VPSs appended to the fixture.
    pub extra_vps: usize,
    /// Snapshot lifetime (`expiresAt = createdAt + ttl`).
    pub snapshot_ttl: Duration,
    /// Time from job creation to completion; zero completes on first poll.
    pub job_duration: Duration,
    /// Body shape of job polls.
    pub job_shape: JobShape,
    /// Answer of snapshot deletes.
    pub snapshot_delete: SnapshotDeleteMode,
    /// Requests per window per key; 0 disables rate limiting and its headers.
    pub rate_limit: u32,
    /// Length of the fixed rate-limit window.
    pub rate_window: Duration,
    /// Faults active from the start (and restored by `POST /_sim/reset`).
    pub faults: Faults,
    /// File to load state from and persist it to.
    pub state_file: Option<PathBuf>,
    /// Log one line per API request to stderr.
    pub log_requests: bool,
    /// Status of a new job (`queued` or `pending`).
    pub job_initial_status: JobInitialStatus,
    /// `code` of gates without a code: `null` or omitted.
    pub gate_code_key: GateCodeKey,
    /// When a snapshot being created is listed.
    pub snapshot_visibility: SnapshotVisibility,
    /// Vocabulary of job types.
    pub job_types: JobTypes,
    /// Form of a job's `vmId`.
    pub vm_id: VmIdForm,
    /// Whether paginated lists carry `hasMore` beside `nextCursor`.
    pub has_more: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            fixture: FixtureSource::Default,
            keys: Vec::new(),
            default_keys: true,
            extra_vps: 0,
            snapshot_ttl: Duration::from_secs(24 * 3600),
            job_duration: Duration::from_secs(5),
            job_shape: JobShape::Legacy,
            snapshot_delete: SnapshotDeleteMode::Async,
            rate_limit: 1000,
            rate_window: Duration::from_secs(1),
            faults: Faults::default(),
            state_file: None,
            log_requests: false,
            job_initial_status: JobInitialStatus::Queued,
            gate_code_key: GateCodeKey::Null,
            snapshot_visibility: SnapshotVisibility::Completed,
            job_types: JobTypes::Current,
            vm_id: VmIdForm::Public,
            has_more: true,
        }
    }
}

impl SimConfig {
    /// Sets the port (0 = any).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Sets the fixture source.
    pub fn with_fixture(mut self, fixture: FixtureSource) -> Self {
        self.fixture = fixture;
        self
    }
    /// Adds an API key.
    pub fn with_key(mut self, key: ApiKey) -> Self {
        self.keys.push(key);
        self
    }
    /// Drops the built-in keys.
    pub fn without_default_keys(mut self) -> Self {
        self.default_keys = false;
        self
    }
    /// Adds N generated VPSs.
    pub fn with_extra_vps(mut self, n: usize) -> Self {
        self.extra_vps = n;
        self
    }
    /// Sets the snapshot TTL.
    pub fn with_snapshot_ttl(mut self, ttl: Duration) -> Self {
        self.snapshot_ttl = ttl;
        self
    }
    /// Sets the job duration.
    pub fn with_job_duration(mut self, d: Duration) -> Self {
        self.job_duration = d;
        self
    }
    /// Sets the job poll body shape.
    pub fn with_job_shape(mut self, shape: JobShape) -> Self {
        self.job_shape = shape;
        self
    }
    /// Sets the snapshot delete answer.
    pub fn with_snapshot_delete(mut self, mode: SnapshotDeleteMode) -> Self {
        self.snapshot_delete = mode;
        self
    }
    /// Sets the rate limit (requests per `rate_window`, 0 = off).
    pub fn with_rate_limit(mut self, n: u32) -> Self {
        self.rate_limit = n;
        self
    }
    /// Sets the rate-limit window (tests use a long one so a window never ends mid-test).
    pub fn with_rate_window(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self
    }
    /// Sets the start-up faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
    /// Sets the state file.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }
    /// Sets the status new jobs start in.
    pub fn with_job_initial_status(mut self, s: JobInitialStatus) -> Self {
        self.job_initial_status = s;
        self
    }
    /// Sets how gates without a code show `code`.
    pub fn with_gate_code_key(mut self, k: GateCodeKey) -> Self {
        self.gate_code_key = k;
        self
    }
    /// Sets when a snapshot being created is listed.
    pub fn with_snapshot_visibility(mut self, v: SnapshotVisibility) -> Self {
        self.snapshot_visibility = v;
        self
    }
    /// Sets the job type vocabulary.
    pub fn with_job_types(mut self, t: JobTypes) -> Self {
        self.job_types = t;
        self
    }
    /// Sets the form of a job's `vmId`.
    pub fn with_vm_id(mut self, f: VmIdForm) -> Self {
        self.vm_id = f;
        self
    }
    /// Sets whether paginated lists carry `hasMore`.
    pub fn with_has_more(mut self, on: bool) -> Self {
        self.has_more = on;
        self
    }
}

/// Parses a Go-style duration (`250ms`, `2s`, `1m30s`, `24h`; a bare number is seconds).
///
/// Exists so CLI flags and the docs use the same duration syntax as Terraform's `timeouts`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, s);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration {s:?} lacks a unit (ms, s, m, h)"))?;
        if num_end == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let value: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("invalid number in duration {s:?}"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        total += value * factor;
        rest = &rest[unit_end..];
    }
    secs_to_duration(total, s)
}

fn secs_to_duration(secs: f64, original: &str) -> Result<Duration, String> {
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration {original:?} out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
